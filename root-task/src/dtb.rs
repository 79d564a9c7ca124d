//! A small flattened-device-tree (DTB) writer for [`crate::devicetree`].
//!
//! Output layout (Devicetree Specification v0.4, chapter 5): 40-byte
//! header, an empty memory-reservation block, the structure block, the
//! strings block. Written here instead of with `vm-fdt`, whose hash maps
//! cost about 8 KB of root-task code for a tree of a dozen nodes; property
//! names are deduplicated with a linear search instead.

use alloc::vec::Vec;

const MAGIC: u32 = 0xd00d_feed;
const VERSION: u32 = 17;
const LAST_COMP_VERSION: u32 = 16;
const HEADER_SIZE: usize = 40;
/// Header plus the reservation block's terminating `(0, 0)` entry.
const STRUCT_OFFSET: usize = HEADER_SIZE + 16;

const FDT_BEGIN_NODE: u32 = 1;
const FDT_END_NODE: u32 = 2;
const FDT_PROP: u32 = 3;
const FDT_END: u32 = 9;

/// Builds a DTB node by node. Misuse (a NUL inside a name or string, an
/// empty name below the root, unbalanced nodes) is remembered and reported
/// by [`DtbWriter::finish`], so callers need not check every call.
pub(crate) struct DtbWriter {
    structure: Vec<u8>,
    strings: Vec<u8>,
    depth: usize,
    error: Option<&'static str>,
}

impl DtbWriter {
    pub(crate) fn new() -> Self {
        Self {
            structure: Vec::new(),
            strings: Vec::new(),
            depth: 0,
            error: None,
        }
    }

    fn fail(&mut self, why: &'static str) {
        self.error.get_or_insert(why);
    }

    fn word(&mut self, w: u32) {
        self.structure.extend_from_slice(&w.to_be_bytes());
    }

    fn pad(&mut self) {
        let n = self.structure.len().next_multiple_of(4);
        self.structure.resize(n, 0);
    }

    /// Opens a node; the root is named `""`, every other node needs a name.
    pub(crate) fn begin_node(&mut self, name: &str) {
        if name.contains('\0') || (name.is_empty() && self.depth > 0) {
            self.fail("bad node name");
        }
        if self.depth == 0 && !self.structure.is_empty() {
            self.fail("second root node");
        }
        self.word(FDT_BEGIN_NODE);
        self.structure.extend_from_slice(name.as_bytes());
        self.structure.push(0);
        self.pad();
        self.depth += 1;
    }

    /// Closes the innermost open node.
    pub(crate) fn end_node(&mut self) {
        if self.depth == 0 {
            self.fail("end_node without begin_node");
            return;
        }
        self.word(FDT_END_NODE);
        self.depth -= 1;
    }

    /// Offset of `name` in the strings block, appending it if new.
    fn name_offset(&mut self, name: &str) -> u32 {
        let mut off = 0;
        for s in self.strings.split(|&b| b == 0) {
            if s == name.as_bytes() && off < self.strings.len() {
                return off as u32;
            }
            off += s.len() + 1;
        }
        let off = self.strings.len();
        self.strings.extend_from_slice(name.as_bytes());
        self.strings.push(0);
        off as u32
    }

    /// A property with raw big-endian `value` bytes.
    pub(crate) fn property(&mut self, name: &str, value: &[u8]) {
        if name.is_empty() || name.contains('\0') {
            self.fail("bad property name");
        }
        if self.depth == 0 {
            self.fail("property outside a node");
        }
        let off = self.name_offset(name);
        self.word(FDT_PROP);
        self.word(value.len() as u32);
        self.word(off);
        self.structure.extend_from_slice(value);
        self.pad();
    }

    /// An empty (boolean) property.
    pub(crate) fn property_null(&mut self, name: &str) {
        self.property(name, &[]);
    }

    /// One 32-bit cell.
    pub(crate) fn property_u32(&mut self, name: &str, v: u32) {
        self.property_u32s(name, &[v]);
    }

    /// A 64-bit value as two cells.
    pub(crate) fn property_u64(&mut self, name: &str, v: u64) {
        self.property_u64s(name, &[v]);
    }

    /// 32-bit cells.
    pub(crate) fn property_u32s(&mut self, name: &str, v: &[u32]) {
        let b: Vec<u8> = v.iter().flat_map(|c| c.to_be_bytes()).collect();
        self.property(name, &b);
    }

    /// 64-bit values, two cells each.
    pub(crate) fn property_u64s(&mut self, name: &str, v: &[u64]) {
        let b: Vec<u8> = v.iter().flat_map(|c| c.to_be_bytes()).collect();
        self.property(name, &b);
    }

    /// A NUL-terminated string.
    pub(crate) fn property_string(&mut self, name: &str, v: &str) {
        self.property_strings(name, &[v]);
    }

    /// A string list (each NUL-terminated).
    pub(crate) fn property_strings(&mut self, name: &str, v: &[&str]) {
        let mut b = Vec::new();
        for s in v {
            if s.contains('\0') {
                self.fail("NUL inside a string property");
            }
            b.extend_from_slice(s.as_bytes());
            b.push(0);
        }
        self.property(name, &b);
    }

    /// The finished blob, or what was wrong.
    pub(crate) fn finish(mut self) -> Result<Vec<u8>, &'static str> {
        if self.depth != 0 || self.structure.is_empty() {
            self.fail("unbalanced or missing root node");
        }
        if let Some(e) = self.error {
            return Err(e);
        }
        self.word(FDT_END);
        let strings_off = STRUCT_OFFSET + self.structure.len();
        let total = strings_off + self.strings.len();
        let mut out = Vec::with_capacity(total);
        for w in [
            MAGIC,
            total as u32,
            STRUCT_OFFSET as u32,
            strings_off as u32,
            HEADER_SIZE as u32, // memory reservation block
            VERSION,
            LAST_COMP_VERSION,
            0, // boot_cpuid_phys
            self.strings.len() as u32,
            self.structure.len() as u32,
        ] {
            out.extend_from_slice(&w.to_be_bytes());
        }
        out.resize(STRUCT_OFFSET, 0); // no reserved memory: just (0, 0)
        out.extend_from_slice(&self.structure);
        out.extend_from_slice(&self.strings);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_the_fdt_crate() {
        let mut w = DtbWriter::new();
        w.begin_node("");
        w.property_u32("#address-cells", 2);
        w.begin_node("node@10");
        w.property_u64s("reg", &[0x10, 0x1_0000_0000]);
        w.property_strings("compatible", &["a,b", "c"]);
        w.property_null("flag");
        w.property_u32("#address-cells", 1); // name reused from the root
        w.end_node();
        w.end_node();
        let d = w.finish().unwrap();
        let t = fdt::Fdt::new(&d).unwrap();
        assert_eq!(t.total_size(), d.len());
        let n = t.find_node("/node@10").unwrap();
        let reg = n.property("reg").unwrap().value;
        assert_eq!(reg, [0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0, 1, 0, 0, 0, 0]);
        let compat: Vec<&str> = n.compatible().unwrap().all().collect();
        assert_eq!(compat, ["a,b", "c"]);
        assert_eq!(n.property("flag").unwrap().value, [] as [u8; 0]);
        assert_eq!(n.property("#address-cells").unwrap().as_usize(), Some(1));
        assert_eq!(
            t.root().property("#address-cells").unwrap().as_usize(),
            Some(2)
        );
        // "#address-cells" is stored once.
        let strings = &d[be(&d, 3)..be(&d, 3) + be(&d, 8)];
        assert_eq!(strings, b"#address-cells\0reg\0compatible\0flag\0");
    }

    fn be(d: &[u8], word: usize) -> usize {
        u32::from_be_bytes(d[4 * word..4 * word + 4].try_into().unwrap()) as usize
    }

    #[test]
    fn misuse_is_reported() {
        type Misuse = fn(&mut DtbWriter);
        let cases: [(&str, Misuse); 6] = [
            ("unbalanced", |w| w.begin_node("")),
            ("empty child name", |w| {
                w.begin_node("");
                w.begin_node("");
                w.end_node();
                w.end_node();
            }),
            ("NUL in string", |w| {
                w.begin_node("");
                w.property_string("bootargs", "a\0b");
                w.end_node();
            }),
            ("property outside a node", |w| w.property_u32("x", 1)),
            ("extra end_node", |w| {
                w.begin_node("");
                w.end_node();
                w.end_node();
            }),
            ("nothing", |_| {}),
        ];
        for (what, f) in cases {
            let mut w = DtbWriter::new();
            f(&mut w);
            assert!(w.finish().is_err(), "{what} accepted");
        }
    }
}
