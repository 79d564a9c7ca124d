//! The EL2 boot page tables: 4 KiB granule, 48-bit VA (level 0 root), 1 GiB
//! and 2 MiB block mappings only. They live in the loader's bss and are
//! abandoned once seL4 switches to its own tables.

use core::ptr::addr_of_mut;

const ENTRIES: usize = 512;
const POOL: usize = 8;
const GIB: u64 = 1 << 30;
const MIB2: u64 = 1 << 21;

const VALID: u64 = 1;
const TABLE: u64 = 1 << 1;
const AF: u64 = 1 << 10;
const SH_INNER: u64 = 3 << 8;
const XN: u64 = 1 << 54;
const ADDR_MASK: u64 = 0x0000_ffff_ffff_f000;

/// MAIR_EL2 as seL4 expects it: its page tables use these indices
/// (0 device nGnRnE, 1 nGnRE, 2 GRE, 3 normal NC, 4 normal WB, 5 normal WT).
pub const MAIR_EL2: u64 = {
    let attrs: [u64; 6] = [0x00, 0x04, 0x0c, 0x44, 0xff, 0xaa];
    let mut v = 0;
    let mut i = 0;
    while i < attrs.len() {
        v |= attrs[i] << (8 * i);
        i += 1;
    }
    v
};
/// AttrIndx fields (bits 4:2) of block descriptors.
const ATTR_DEVICE: u64 = 0;
const ATTR_NORMAL: u64 = 4 << 2;

/// Memory type of a mapping.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Write-back cacheable RAM.
    Normal,
    /// Device-nGnRnE, never executable.
    Device,
}

/// Why a mapping could not be made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapError {
    /// Addresses or size not 2 MiB aligned.
    Misaligned,
    /// Beyond the 48-bit VA space.
    OutOfRange,
    /// The static table pool is used up.
    OutOfTables,
    /// Something is already mapped there.
    AlreadyMapped,
}

#[repr(C, align(4096))]
struct Table([u64; ENTRIES]);

static mut POOL_TABLES: [Table; POOL] = [const { Table([0; ENTRIES]) }; POOL];

/// Hands out tables from the static pool; table 0 is the root.
pub struct PageTables {
    used: usize,
}

impl PageTables {
    /// Takes the pool. Call once (the loader is single-threaded).
    pub fn new() -> Self {
        Self { used: 1 }
    }

    fn table(index: usize) -> *mut u64 {
        // SAFETY: index < POOL (checked by callers); single-threaded loader.
        unsafe { addr_of_mut!(POOL_TABLES[index]) as *mut u64 }
    }

    /// Physical address of the root table, for TTBR0_EL2.
    pub fn root(&self) -> u64 {
        Self::table(0) as u64
    }

    /// Returns the next-level table behind entry `idx` of `table`,
    /// creating it if empty.
    fn next(&mut self, table: *mut u64, idx: usize) -> Result<*mut u64, MapError> {
        // SAFETY: table is a pool table and idx < 512.
        let entry = unsafe { table.add(idx).read_volatile() };
        if entry & VALID != 0 {
            if entry & TABLE == 0 {
                return Err(MapError::AlreadyMapped);
            }
            return Ok((entry & ADDR_MASK) as *mut u64);
        }
        if self.used >= POOL {
            return Err(MapError::OutOfTables);
        }
        let new = Self::table(self.used);
        self.used += 1;
        // SAFETY: as above; pool tables start zeroed (bss).
        unsafe { table.add(idx).write_volatile(new as u64 | TABLE | VALID) };
        Ok(new)
    }

    /// Maps `[va, va + size)` to `pa` with 1 GiB blocks where alignment
    /// allows and 2 MiB blocks elsewhere.
    pub fn map(&mut self, mut va: u64, mut pa: u64, size: u64, kind: Kind) -> Result<(), MapError> {
        if !(va | pa | size).is_multiple_of(MIB2) {
            return Err(MapError::Misaligned);
        }
        let end = va.checked_add(size).ok_or(MapError::OutOfRange)?;
        if end > 1 << 48 {
            return Err(MapError::OutOfRange);
        }
        let attrs = match kind {
            Kind::Normal => ATTR_NORMAL | SH_INNER | AF | VALID,
            Kind::Device => ATTR_DEVICE | AF | XN | VALID,
        };
        while va < end {
            let l0 = Self::table(0);
            let l1 = self.next(l0, ((va >> 39) & 511) as usize)?;
            let l1_idx = ((va >> 30) & 511) as usize;
            let (slot, step) =
                if va.is_multiple_of(GIB) && pa.is_multiple_of(GIB) && end - va >= GIB {
                    // SAFETY: l1 is a pool table; index < 512.
                    (unsafe { l1.add(l1_idx) }, GIB)
                } else {
                    let l2 = self.next(l1, l1_idx)?;
                    // SAFETY: as above.
                    (unsafe { l2.add(((va >> 21) & 511) as usize) }, MIB2)
                };
            // SAFETY: slot points into a pool table.
            unsafe {
                if slot.read_volatile() & VALID != 0 {
                    return Err(MapError::AlreadyMapped);
                }
                slot.write_volatile(pa | attrs);
            }
            va += step;
            pa += step;
        }
        Ok(())
    }
}
