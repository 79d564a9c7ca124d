//! A structural walk of a flattened device tree: the memory reservation map
//! and the structure block, token by token. The `fdt` crate indexes
//! property values and names with the lengths and offsets the blob states,
//! and panics when they are out of bounds; a blob that passes this walk
//! stays in bounds. No dependencies and `no_std`, so the packer
//! (`image/src/dtb.rs`) includes this file too (`#[path]`): one copy.

const TOKEN_BEGIN_NODE: u32 = 1;
const TOKEN_END_NODE: u32 = 2;
const TOKEN_PROP: u32 = 3;
const TOKEN_NOP: u32 = 4;
const TOKEN_END: u32 = 9;
/// Deepest node nesting accepted (Linux's own FDT walkers stop at 64).
const MAX_DEPTH: usize = 63;

/// Where the blocks are, from the header.
#[derive(Clone, Copy, Debug)]
pub struct Blocks {
    /// `off_dt_struct`.
    pub off_struct: usize,
    /// `size_dt_struct` (version 17; for older blobs: up to `totalsize`).
    pub size_struct: usize,
    /// `off_dt_strings`.
    pub off_strings: usize,
    /// `size_dt_strings`.
    pub size_strings: usize,
    /// `off_mem_rsvmap`.
    pub off_rsv: usize,
}

fn be32(data: &[u8], off: usize) -> Option<u32> {
    let b = data.get(off..off.checked_add(4)?)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

fn align4(x: usize) -> Option<usize> {
    x.checked_add(3).map(|v| v & !3)
}

/// Returns the string at `off` in `block` if it is NUL-terminated UTF-8.
fn cstr(block: &[u8], off: usize) -> Option<&str> {
    let rest = block.get(off..)?;
    let nul = rest.iter().position(|&b| b == 0)?;
    core::str::from_utf8(&rest[..nul]).ok()
}

/// Checks that the blocks lie inside `blob` (the first `totalsize` bytes),
/// that the reservation map is terminated, and that the structure block is
/// one balanced root node of well-formed tokens whose names and values are
/// inside their blocks. The error says what is wrong.
pub fn check_structure(blob: &[u8], b: &Blocks) -> Result<(), &'static str> {
    let structs = b
        .off_struct
        .checked_add(b.size_struct)
        .and_then(|e| blob.get(b.off_struct..e))
        .ok_or("structure block outside totalsize")?;
    let strings = b
        .off_strings
        .checked_add(b.size_strings)
        .and_then(|e| blob.get(b.off_strings..e))
        .ok_or("strings block outside totalsize")?;
    if !b.off_struct.is_multiple_of(4) || !b.off_rsv.is_multiple_of(8) {
        return Err("misaligned block offset");
    }

    // Memory reservation map: pairs of u64 ending with (0, 0).
    let mut at = b.off_rsv;
    loop {
        let entry = at
            .checked_add(16)
            .and_then(|e| blob.get(at..e))
            .ok_or("unterminated memory reservation map")?;
        at += 16;
        if entry.iter().all(|&b| b == 0) {
            break;
        }
    }

    // Structure block: a single root node, balanced, well-formed tokens,
    // each node's properties before its children (the `fdt` crate asserts
    // that order), nested at most MAX_DEPTH deep (it recurses per level),
    // NOPs only where `fdt` skips them.
    let mut pos = 0usize;
    let mut depth = 0usize;
    let mut seen_root = false;
    // Bit d: the open node at depth d already has a child.
    let mut has_child = 0u64;
    // `fdt` skips FDT_NOP only before a node and before FDT_END_NODE; one
    // before a property or a child node trips its assertions.
    let mut after_nop = false;
    loop {
        let token = be32(structs, pos).ok_or("structure block ends without FDT_END")?;
        pos += 4;
        if after_nop
            && !matches!(token, TOKEN_NOP | TOKEN_END_NODE)
            && !(depth == 0 && matches!(token, TOKEN_BEGIN_NODE | TOKEN_END))
        {
            return Err("FDT_NOP before a property or child node");
        }
        after_nop = token == TOKEN_NOP;
        match token {
            TOKEN_BEGIN_NODE => {
                if depth == 0 && seen_root {
                    return Err("more than one root node");
                }
                if depth >= MAX_DEPTH {
                    return Err("nodes nested too deep");
                }
                has_child |= 1 << depth;
                seen_root = true;
                let name = structs.get(pos..).ok_or("truncated node name")?;
                let nul = name
                    .iter()
                    .position(|&b| b == 0)
                    .ok_or("unterminated node name")?;
                core::str::from_utf8(&name[..nul]).map_err(|_| "node name is not UTF-8")?;
                pos = align4(pos + nul + 1).ok_or("node name overflow")?;
                depth += 1;
                has_child &= !(1 << depth);
            }
            TOKEN_END_NODE => {
                depth = depth.checked_sub(1).ok_or("unbalanced FDT_END_NODE")?;
            }
            TOKEN_PROP => {
                if depth == 0 {
                    return Err("property outside any node");
                }
                if has_child & (1 << depth) != 0 {
                    return Err("property after a child node");
                }
                let len = be32(structs, pos).ok_or("truncated property")? as usize;
                let nameoff = be32(structs, pos + 4).ok_or("truncated property")? as usize;
                pos += 8;
                let name = cstr(strings, nameoff).ok_or("bad property name offset")?;
                if (name == "#address-cells" || name == "#size-cells") && len < 4 {
                    return Err("short #address-cells/#size-cells");
                }
                let end = pos.checked_add(len).ok_or("property length overflow")?;
                if end > structs.len() {
                    return Err("property value outside structure block");
                }
                pos = align4(end).ok_or("property length overflow")?;
            }
            TOKEN_NOP => {}
            TOKEN_END => {
                if depth != 0 || !seen_root {
                    return Err("FDT_END inside a node or without a root");
                }
                return Ok(());
            }
            _ => return Err("unknown structure token"),
        }
    }
}
