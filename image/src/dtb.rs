//! Checking the kernel DTB and reading the few facts the packer needs from it
//! (RAM, reserved memory, the PL011 UART).
//!
//! The `fdt` crate panics on some malformed structure blocks, so the blob is
//! walked and checked here first; only a structurally sound blob reaches it.

use core::fmt;
use core::ops::Range;

/// The structural walk, shared with libvmm-compat (which checks the DTB
/// `linux_setup_images` is given the same way).
#[path = "../../libvmm-compat/src/fdt_check.rs"]
mod fdt_check;

const FDT_MAGIC: u32 = 0xd00d_feed;
const HEADER_LEN: usize = 40;

/// What is wrong with a DTB.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DtbError {
    /// Shorter than the 40-byte FDT header.
    TooShort(usize),
    /// First word is not 0xd00dfeed.
    BadMagic(u32),
    /// `totalsize` is smaller than the header or larger than the data.
    BadTotalSize {
        /// The header's `totalsize`.
        total_size: u32,
        /// Bytes actually supplied.
        len: usize,
    },
    /// `last_comp_version` newer than 17 or `version` older than 17.
    UnsupportedVersion(u32),
    /// Structure/strings blocks are inconsistent.
    Malformed(&'static str),
    /// No `device_type = "memory"` node with a `reg`.
    NoMemory,
}

impl fmt::Display for DtbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DtbError::TooShort(n) => write!(f, "DTB is {n} bytes, shorter than the FDT header"),
            DtbError::BadMagic(m) => {
                write!(f, "DTB magic is {m:#010x}, expected {FDT_MAGIC:#010x}")
            }
            DtbError::BadTotalSize { total_size, len } => {
                write!(
                    f,
                    "DTB totalsize {total_size} does not fit the {len} bytes supplied"
                )
            }
            DtbError::UnsupportedVersion(v) => {
                write!(f, "DTB version {v} is not supported (need 17)")
            }
            DtbError::Malformed(why) => write!(f, "malformed DTB: {why}"),
            DtbError::NoMemory => write!(f, "DTB has no memory node"),
        }
    }
}

impl std::error::Error for DtbError {}

/// Facts read from a DTB.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DtbInfo {
    /// The header's `totalsize` (what the kernel is told).
    pub total_size: usize,
    /// `reg` ranges of the memory node(s), sorted.
    pub memory: Vec<Range<u64>>,
    /// `/reserved-memory` children and `/memreserve/` entries, sorted.
    pub reserved: Vec<Range<u64>>,
    /// Base of the first enabled `arm,pl011` node.
    pub pl011: Option<u64>,
}

impl DtbInfo {
    /// Memory minus reserved ranges: where the kernel may find free RAM and
    /// therefore where boot payloads may go.
    pub fn usable_memory(&self) -> Vec<Range<u64>> {
        let mut out = Vec::new();
        for mem in &self.memory {
            let mut pieces = vec![mem.clone()];
            for res in &self.reserved {
                pieces = pieces
                    .into_iter()
                    .flat_map(|p| {
                        let mut keep = Vec::new();
                        if res.start > p.start {
                            keep.push(p.start..res.start.min(p.end));
                        }
                        if res.end < p.end {
                            keep.push(res.end.max(p.start)..p.end);
                        }
                        keep.into_iter().filter(|r| r.start < r.end)
                    })
                    .collect();
            }
            out.extend(pieces);
        }
        out.sort_by_key(|r| r.start);
        out
    }
}

fn be32(data: &[u8], off: usize) -> Option<u32> {
    let b = data.get(off..off.checked_add(4)?)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// Checks the header and walks the structure block. Returns `totalsize`.
pub(crate) fn validate(dtb: &[u8]) -> Result<usize, DtbError> {
    if dtb.len() < HEADER_LEN {
        return Err(DtbError::TooShort(dtb.len()));
    }
    let h = |i: usize| be32(dtb, i * 4).unwrap_or(0);
    let magic = h(0);
    if magic != FDT_MAGIC {
        return Err(DtbError::BadMagic(magic));
    }
    let total = h(1);
    let total_usize = total as usize;
    if total_usize < HEADER_LEN || total_usize > dtb.len() {
        return Err(DtbError::BadTotalSize {
            total_size: total,
            len: dtb.len(),
        });
    }
    let (off_struct, off_strings, off_rsv) = (h(2) as usize, h(3) as usize, h(4) as usize);
    let (version, last_comp) = (h(5), h(6));
    let (size_strings, size_struct) = (h(8) as usize, h(9) as usize);
    if version < 17 {
        return Err(DtbError::UnsupportedVersion(version));
    }
    if last_comp > 17 {
        return Err(DtbError::UnsupportedVersion(last_comp));
    }
    let blob = &dtb[..total_usize];
    let blocks = fdt_check::Blocks {
        off_struct,
        size_struct,
        off_strings,
        size_strings,
        off_rsv,
    };
    fdt_check::check_structure(blob, &blocks).map_err(DtbError::Malformed)?;
    Ok(total_usize)
}

fn reg_ranges(node: fdt::node::FdtNode<'_, '_>) -> Vec<Range<u64>> {
    let Some(regs) = node.reg() else {
        return Vec::new();
    };
    regs.filter_map(|r| {
        let start = r.starting_address as u64;
        let end = start.checked_add(r.size? as u64)?;
        (end > start).then_some(start..end)
    })
    .collect()
}

/// Validates `dtb` and extracts memory, reservations and the UART.
pub fn inspect(dtb: &[u8]) -> Result<DtbInfo, DtbError> {
    let total_size = validate(dtb)?;
    let blob = &dtb[..total_size];
    let fdt = fdt::Fdt::new(blob).map_err(|_| DtbError::Malformed("rejected by fdt parser"))?;
    let root = fdt
        .find_node("/")
        .ok_or(DtbError::Malformed("no root node"))?;

    let mut memory: Vec<Range<u64>> = root
        .children()
        .filter(|n| n.property("device_type").and_then(|p| p.as_str()) == Some("memory"))
        .flat_map(reg_ranges)
        .collect();
    if memory.is_empty() {
        return Err(DtbError::NoMemory);
    }
    memory.sort_by_key(|r| r.start);

    let mut reserved: Vec<Range<u64>> = fdt
        .memory_reservations()
        .filter_map(|r| {
            let start = r.address() as u64;
            let end = start.checked_add(r.size() as u64)?;
            (end > start).then_some(start..end)
        })
        .collect();
    if let Some(rm) = fdt.find_node("/reserved-memory") {
        reserved.extend(rm.children().flat_map(reg_ranges));
    }
    reserved.sort_by_key(|r| r.start);

    let pl011 = fdt
        .all_nodes()
        .filter(|n| {
            n.compatible()
                .is_some_and(|c| c.all().any(|s| s == "arm,pl011"))
        })
        .filter(|n| {
            n.property("status")
                .and_then(|p| p.as_str())
                .is_none_or(|s| s == "okay" || s == "ok")
        })
        .find_map(|n| reg_ranges(n).first().map(|r| r.start));

    Ok(DtbInfo {
        total_size,
        memory,
        reserved,
        pl011,
    })
}
