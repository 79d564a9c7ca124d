//! Builders for synthetic test inputs: ELF64 files (independent of the
//! packer's own writer) and flattened device trees.

#![allow(clippy::unwrap_used)]

/// One PT_LOAD for [`ElfBuilder`].
pub struct Seg {
    pub vaddr: u64,
    pub paddr: u64,
    pub data: Vec<u8>,
    pub memsz: u64,
}

/// Writes a minimal ELF64 with PT_LOADs and optional named sections that
/// point into segment data.
pub struct ElfBuilder {
    pub class: u8,
    pub data_enc: u8,
    pub machine: u16,
    pub e_type: u16,
    pub entry: u64,
    pub segs: Vec<Seg>,
    /// (name, segment index, offset within that segment's data, size)
    pub sections: Vec<(String, usize, u64, u64)>,
}

impl ElfBuilder {
    pub fn new(entry: u64) -> Self {
        Self {
            class: 2,
            data_enc: 1,
            machine: 183,
            e_type: 2,
            entry,
            segs: Vec::new(),
            sections: Vec::new(),
        }
    }

    pub fn seg(mut self, vaddr: u64, paddr: u64, data: Vec<u8>, memsz: u64) -> Self {
        self.segs.push(Seg {
            vaddr,
            paddr,
            data,
            memsz,
        });
        self
    }

    pub fn section(mut self, name: &str, seg: usize, offset: u64, size: u64) -> Self {
        self.sections.push((name.to_string(), seg, offset, size));
        self
    }

    pub fn build(&self) -> Vec<u8> {
        let phoff = 64u64;
        let mut cursor = phoff + 56 * self.segs.len() as u64;
        let mut seg_offsets = Vec::new();
        for s in &self.segs {
            cursor = (cursor + 15) & !15;
            seg_offsets.push(cursor);
            cursor += s.data.len() as u64;
        }
        // shstrtab
        let mut shstr = vec![0u8];
        let mut name_offs = Vec::new();
        for (name, ..) in &self.sections {
            name_offs.push(shstr.len() as u32);
            shstr.extend_from_slice(name.as_bytes());
            shstr.push(0);
        }
        let shstr_name = shstr.len() as u32;
        shstr.extend_from_slice(b".shstrtab\0");
        let shstr_off = cursor;
        cursor += shstr.len() as u64;
        let shoff = (cursor + 7) & !7;
        let shnum = if self.sections.is_empty() {
            0
        } else {
            self.sections.len() + 2
        };
        let total = shoff + 64 * shnum as u64;
        let mut out = vec![0u8; total as usize];

        let mut h = Vec::new();
        h.extend_from_slice(b"\x7fELF");
        h.extend_from_slice(&[self.class, self.data_enc, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        h.extend_from_slice(&self.e_type.to_le_bytes());
        h.extend_from_slice(&self.machine.to_le_bytes());
        h.extend_from_slice(&1u32.to_le_bytes());
        h.extend_from_slice(&self.entry.to_le_bytes());
        h.extend_from_slice(&phoff.to_le_bytes());
        h.extend_from_slice(&(if shnum == 0 { 0 } else { shoff }).to_le_bytes());
        h.extend_from_slice(&0u32.to_le_bytes());
        h.extend_from_slice(&64u16.to_le_bytes());
        h.extend_from_slice(&56u16.to_le_bytes());
        h.extend_from_slice(&(self.segs.len() as u16).to_le_bytes());
        h.extend_from_slice(&64u16.to_le_bytes());
        h.extend_from_slice(&(shnum as u16).to_le_bytes());
        h.extend_from_slice(&(if shnum == 0 { 0 } else { shnum as u16 - 1 }).to_le_bytes());
        out[..64].copy_from_slice(&h);

        for (i, (s, off)) in self.segs.iter().zip(&seg_offsets).enumerate() {
            let mut p = Vec::new();
            p.extend_from_slice(&1u32.to_le_bytes());
            p.extend_from_slice(&7u32.to_le_bytes());
            p.extend_from_slice(&off.to_le_bytes());
            p.extend_from_slice(&s.vaddr.to_le_bytes());
            p.extend_from_slice(&s.paddr.to_le_bytes());
            p.extend_from_slice(&(s.data.len() as u64).to_le_bytes());
            p.extend_from_slice(&s.memsz.to_le_bytes());
            p.extend_from_slice(&0x1000u64.to_le_bytes());
            let at = 64 + 56 * i;
            out[at..at + 56].copy_from_slice(&p);
            out[*off as usize..*off as usize + s.data.len()].copy_from_slice(&s.data);
        }
        out[shstr_off as usize..shstr_off as usize + shstr.len()].copy_from_slice(&shstr);

        let mut sh = |index: usize, name: u32, sh_type: u32, addr: u64, offset: u64, size: u64| {
            let mut v = Vec::new();
            v.extend_from_slice(&name.to_le_bytes());
            v.extend_from_slice(&sh_type.to_le_bytes());
            v.extend_from_slice(&2u64.to_le_bytes()); // SHF_ALLOC
            v.extend_from_slice(&addr.to_le_bytes());
            v.extend_from_slice(&offset.to_le_bytes());
            v.extend_from_slice(&size.to_le_bytes());
            v.extend_from_slice(&[0u8; 24]);
            let at = (shoff as usize) + 64 * index;
            out[at..at + 64].copy_from_slice(&v);
        };
        if shnum != 0 {
            for (i, (_, seg, off, size)) in self.sections.iter().enumerate() {
                let s = &self.segs[*seg];
                sh(
                    i + 1,
                    name_offs[i],
                    1,
                    s.vaddr + off,
                    seg_offsets[*seg] + off,
                    *size,
                );
            }
            sh(shnum - 1, shstr_name, 3, 0, shstr_off, shstr.len() as u64);
        }
        out
    }
}

/// A device-tree node for [`build_dtb`].
pub struct Node {
    pub name: String,
    pub props: Vec<(String, Vec<u8>)>,
    pub children: Vec<Node>,
}

impl Node {
    pub fn new(name: &str) -> Self {
        Self {
            name: name.into(),
            props: Vec::new(),
            children: Vec::new(),
        }
    }
    pub fn prop(mut self, name: &str, value: Vec<u8>) -> Self {
        self.props.push((name.into(), value));
        self
    }
    pub fn str_prop(self, name: &str, value: &str) -> Self {
        let mut v = value.as_bytes().to_vec();
        v.push(0);
        self.prop(name, v)
    }
    pub fn u32_prop(self, name: &str, value: u32) -> Self {
        self.prop(name, value.to_be_bytes().to_vec())
    }
    /// `reg` with 2 address and 2 size cells.
    pub fn reg(self, pairs: &[(u64, u64)]) -> Self {
        let mut v = Vec::new();
        for (a, s) in pairs {
            v.extend_from_slice(&a.to_be_bytes());
            v.extend_from_slice(&s.to_be_bytes());
        }
        self.prop("reg", v)
    }
    pub fn child(mut self, node: Node) -> Self {
        self.children.push(node);
        self
    }
}

/// Serialises `root` (version 17) with the given `/memreserve/` entries.
pub fn build_dtb(root: &Node, memreserve: &[(u64, u64)]) -> Vec<u8> {
    fn emit(node: &Node, structs: &mut Vec<u8>, strings: &mut Vec<u8>) {
        structs.extend_from_slice(&1u32.to_be_bytes());
        structs.extend_from_slice(node.name.as_bytes());
        structs.push(0);
        while !structs.len().is_multiple_of(4) {
            structs.push(0);
        }
        for (name, value) in &node.props {
            let nameoff = match find(strings, name) {
                Some(o) => o,
                None => {
                    let o = strings.len();
                    strings.extend_from_slice(name.as_bytes());
                    strings.push(0);
                    o
                }
            };
            structs.extend_from_slice(&3u32.to_be_bytes());
            structs.extend_from_slice(&(value.len() as u32).to_be_bytes());
            structs.extend_from_slice(&(nameoff as u32).to_be_bytes());
            structs.extend_from_slice(value);
            while !structs.len().is_multiple_of(4) {
                structs.push(0);
            }
        }
        for c in &node.children {
            emit(c, structs, strings);
        }
        structs.extend_from_slice(&2u32.to_be_bytes());
    }
    fn find(strings: &[u8], name: &str) -> Option<usize> {
        let mut needle = name.as_bytes().to_vec();
        needle.push(0);
        strings
            .windows(needle.len())
            .position(|w| w == needle.as_slice())
    }
    let mut structs = Vec::new();
    let mut strings = Vec::new();
    emit(root, &mut structs, &mut strings);
    structs.extend_from_slice(&9u32.to_be_bytes());

    let mut rsv = Vec::new();
    for (a, s) in memreserve {
        rsv.extend_from_slice(&a.to_be_bytes());
        rsv.extend_from_slice(&s.to_be_bytes());
    }
    rsv.extend_from_slice(&[0u8; 16]);

    let off_rsv = 40u32;
    let off_struct = off_rsv + rsv.len() as u32;
    let off_strings = off_struct + structs.len() as u32;
    let total = off_strings + strings.len() as u32;
    let mut out = Vec::new();
    for w in [
        0xd00d_feedu32,
        total,
        off_struct,
        off_strings,
        off_rsv,
        17,
        16,
        0,
        strings.len() as u32,
        structs.len() as u32,
    ] {
        out.extend_from_slice(&w.to_be_bytes());
    }
    out.extend_from_slice(&rsv);
    out.extend_from_slice(&structs);
    out.extend_from_slice(&strings);
    out
}

/// A QEMU-virt-like DTB: 2 GiB RAM at 0x4000_0000, the first 512 MiB
/// reserved (as the hypervisor kernel build does), a PL011 at 0x0900_0000.
pub fn virt_dtb() -> Vec<u8> {
    let root = Node::new("")
        .u32_prop("#address-cells", 2)
        .u32_prop("#size-cells", 2)
        .str_prop("compatible", "linux,dummy-virt")
        .child(
            Node::new("memory@40000000")
                .str_prop("device_type", "memory")
                .reg(&[(0x4000_0000, 0x8000_0000)]),
        )
        .child(
            Node::new("reserved-memory")
                .u32_prop("#address-cells", 2)
                .u32_prop("#size-cells", 2)
                .prop("ranges", Vec::new())
                .child(
                    Node::new("vm-memory@40000000")
                        .reg(&[(0x4000_0000, 0x2000_0000)])
                        .prop("no-map", Vec::new()),
                ),
        )
        .child(
            Node::new("pl011@9000000")
                .prop("compatible", b"arm,pl011\0arm,primecell\0".to_vec())
                .reg(&[(0x0900_0000, 0x1000)]),
        )
        .child(Node::new("chosen").str_prop("stdout-path", "/pl011@9000000"));
    build_dtb(&root, &[])
}

/// Runs `qemu-system-aarch64 ... dumpdtb=` and returns the DTB; panics if
/// QEMU cannot (tests that call it are ignored without `cfg(has_qemu_aarch64)`).
pub fn qemu_dtb(extra_machine: &str, mem: &str) -> Vec<u8> {
    let dir = std::env::temp_dir().join(format!(
        "sel4vm-image-dtb-{}-{extra_machine}-{mem}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("virt.dtb");
    let out = std::process::Command::new("qemu-system-aarch64")
        .arg("-machine")
        .arg(format!(
            "virt,virtualization=on{extra_machine},dumpdtb={}",
            path.display()
        ))
        .args(["-cpu", "cortex-a57", "-m", mem, "-display", "none"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap_or_else(|e| panic!("run qemu-system-aarch64 (apt install qemu-system-arm): {e}"));
    assert!(
        out.status.success(),
        "qemu-system-aarch64 could not dump its DTB: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read(&path).unwrap()
}
