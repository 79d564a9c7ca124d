//! The EL2 boot page tables: 4 KiB granule, 48-bit VA (level 0 root), 1 GiB
//! and 2 MiB block mappings only. They live in the loader's bss and are
//! abandoned once seL4 switches to its own tables.

const ENTRIES: usize = 512;
/// Tables the loader reserves: root, a few L1s and L2s.
pub const POOL: usize = 8;
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
    /// The table pool is used up.
    OutOfTables,
    /// Something is already mapped there.
    AlreadyMapped,
}

/// One 4 KiB translation table.
#[repr(C, align(4096))]
pub struct Table([u64; ENTRIES]);

impl Table {
    /// An empty (all-invalid) table.
    pub const EMPTY: Table = Table([0; ENTRIES]);
}

/// Builds tables inside a caller-provided pool; `pool[0]` is the root. The
/// descriptors hold the pool's own addresses, which are physical while the
/// loader runs with the MMU off (identity).
pub struct PageTables<'a> {
    pool: &'a mut [Table],
    used: usize,
}

impl<'a> PageTables<'a> {
    /// Starts with an empty root in `pool[0]`; `pool` must be non-empty.
    pub fn new(pool: &'a mut [Table]) -> Self {
        for t in pool.iter_mut() {
            *t = Table::EMPTY;
        }
        Self { pool, used: 1 }
    }

    fn addr(&self, index: usize) -> u64 {
        &self.pool[index] as *const Table as u64
    }

    /// Address of the root table, for TTBR0_EL2.
    pub fn root(&self) -> u64 {
        self.addr(0)
    }

    /// The pool index of the table behind entry `idx` of table `table`,
    /// creating it if the entry is empty.
    fn next(&mut self, table: usize, idx: usize) -> Result<usize, MapError> {
        let entry = self.pool[table].0[idx];
        if entry & VALID != 0 {
            if entry & TABLE == 0 {
                return Err(MapError::AlreadyMapped);
            }
            let target = entry & ADDR_MASK;
            return (0..self.used)
                .find(|&i| self.addr(i) == target)
                .ok_or(MapError::AlreadyMapped);
        }
        if self.used >= self.pool.len() {
            return Err(MapError::OutOfTables);
        }
        let new = self.used;
        self.used += 1;
        self.pool[table].0[idx] = self.addr(new) | TABLE | VALID;
        Ok(new)
    }

    /// Maps `[va, va + size)` to `pa` with 1 GiB blocks where alignment
    /// allows and 2 MiB blocks elsewhere.
    pub fn map(&mut self, mut va: u64, mut pa: u64, size: u64, kind: Kind) -> Result<(), MapError> {
        if !(va | pa | size).is_multiple_of(MIB2) {
            return Err(MapError::Misaligned);
        }
        let end = va.checked_add(size).ok_or(MapError::OutOfRange)?;
        if end > 1 << 48 || pa.checked_add(size).is_none_or(|e| e > 1 << 48) {
            return Err(MapError::OutOfRange);
        }
        let attrs = match kind {
            Kind::Normal => ATTR_NORMAL | SH_INNER | AF | VALID,
            Kind::Device => ATTR_DEVICE | AF | XN | VALID,
        };
        while va < end {
            let l1 = self.next(0, ((va >> 39) & 511) as usize)?;
            let l1_idx = ((va >> 30) & 511) as usize;
            let (table, idx, step) =
                if va.is_multiple_of(GIB) && pa.is_multiple_of(GIB) && end - va >= GIB {
                    (l1, l1_idx, GIB)
                } else {
                    (self.next(l1, l1_idx)?, ((va >> 21) & 511) as usize, MIB2)
                };
            let slot = &mut self.pool[table].0[idx];
            if *slot & VALID != 0 {
                return Err(MapError::AlreadyMapped);
            }
            *slot = pa | attrs;
            va += step;
            pa += step;
        }
        Ok(())
    }

    /// The descriptor that translates `va` and its level (1 or 2), if any.
    #[cfg(test)]
    pub fn lookup(&self, va: u64) -> Option<(u64, u8)> {
        let find = |addr: u64| (0..self.used).find(|&i| self.addr(i) == addr);
        let l0 = self.pool[0].0[((va >> 39) & 511) as usize];
        if l0 & VALID == 0 {
            return None;
        }
        let l1 = self.pool[find(l0 & ADDR_MASK)?].0[((va >> 30) & 511) as usize];
        if l1 & VALID == 0 {
            return None;
        }
        if l1 & TABLE == 0 {
            return Some((l1, 1));
        }
        let l2 = self.pool[find(l1 & ADDR_MASK)?].0[((va >> 21) & 511) as usize];
        (l2 & VALID != 0).then_some((l2, 2))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool() -> Vec<Table> {
        (0..POOL).map(|_| Table::EMPTY).collect()
    }

    #[test]
    fn mair_matches_sel4_attribute_indices() {
        assert_eq!(MAIR_EL2, 0x0000_aaff_440c_0400);
    }

    #[test]
    fn maps_ram_with_gib_blocks_and_kernel_window_with_2mib_blocks() {
        let mut p = pool();
        let mut pt = PageTables::new(&mut p);
        pt.map(0x4000_0000, 0x4000_0000, 0x8000_0000, Kind::Normal)
            .unwrap();
        pt.map(0x80_6000_0000, 0x6000_0000, 0x40_0000, Kind::Normal)
            .unwrap();
        pt.map(
            0x0900_0000 & !(MIB2 - 1),
            0x0900_0000 & !(MIB2 - 1),
            MIB2,
            Kind::Device,
        )
        .unwrap();

        let (d, level) = pt.lookup(0x4000_0000).unwrap();
        assert_eq!((d & ADDR_MASK, level, d & 3), (0x4000_0000, 1, 1));
        assert_eq!(d & (7 << 2), ATTR_NORMAL);
        assert_ne!(d & AF, 0);
        let (d, level) = pt.lookup(0xB000_1234).unwrap();
        assert_eq!((d & ADDR_MASK, level), (0x8000_0000, 1));
        let (d, level) = pt.lookup(0x80_6020_0000).unwrap();
        assert_eq!((d & ADDR_MASK, level, d & 3), (0x6020_0000, 2, 1));
        assert!(pt.lookup(0x80_6040_0000).is_none());
        let (d, _) = pt.lookup(0x0900_0000).unwrap();
        assert_eq!(d & (7 << 2), ATTR_DEVICE);
        assert_ne!(d & XN, 0);
        assert!(pt.lookup(0x1_0000_0000).is_none());
    }

    #[test]
    fn rejects_misaligned_overlapping_and_out_of_range() {
        let mut p = pool();
        let mut pt = PageTables::new(&mut p);
        assert_eq!(
            pt.map(0x1000, 0x1000, MIB2, Kind::Normal),
            Err(MapError::Misaligned)
        );
        assert_eq!(
            pt.map(1 << 48, 0, MIB2, Kind::Normal),
            Err(MapError::OutOfRange)
        );
        pt.map(0x4000_0000, 0x4000_0000, 1 << 30, Kind::Normal)
            .unwrap();
        assert_eq!(
            pt.map(0x4020_0000, 0, MIB2, Kind::Normal),
            Err(MapError::AlreadyMapped)
        );
        pt.map(0x8000_0000, 0, MIB2, Kind::Normal).unwrap();
        assert_eq!(
            pt.map(0x8000_0000, 0, MIB2, Kind::Normal),
            Err(MapError::AlreadyMapped)
        );
    }

    #[test]
    fn runs_out_of_tables_instead_of_overflowing() {
        let mut p: Vec<Table> = (0..2).map(|_| Table::EMPTY).collect();
        let mut pt = PageTables::new(&mut p);
        // Needs root + L1 + L2: only two tables available.
        assert_eq!(
            pt.map(0x4000_0000, 0x4000_0000, MIB2, Kind::Normal),
            Err(MapError::OutOfTables)
        );
    }
}
