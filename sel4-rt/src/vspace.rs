//! Mapping frames into the root task's own address space.
//!
//! On aarch64 seL4 a frame map fails with `seL4_FailedLookup` when a
//! translation table on the way is missing; mapping a page table at the same
//! address then installs the table at the first missing level (and fails with
//! `seL4_DeleteFirst` if nothing is missing there, e.g. because a larger page
//! already covers the address). Repeating "map frame, on FailedLookup map one
//! more table" therefore works whatever the number of levels (3 with a 40-bit
//! stage-2 input range, 4 with 44 bits as on QEMU's cortex-a57).

use alloc::vec::Vec;

use sel4_abi::CapRights;

use crate::objects::{
    AllocError, KernelError, Object, ObjectAllocator, ObjectKind, Slot, UntypedOps,
};

/// `seL4_ARM_Default_VMAttributes` (cacheable, parity enabled).
pub const VM_ATTRS_DEFAULT: u64 = 0x03;
/// `seL4_ARM_PageCacheable` missing: device (uncached) memory.
pub const VM_ATTRS_DEVICE: u64 = 0x00;
/// `seL4_ARM_ExecuteNever`.
pub const VM_ATTRS_EXECUTE_NEVER: u64 = 0x04;

/// Translation levels below the root: no frame needs more tables than this.
const MAX_TABLES_PER_MAP: usize = 3;

/// Kernel operations for mapping into one VSpace.
pub trait MapOps {
    /// `seL4_ARM_Page_Map(frame, vspace, vaddr, rights, attrs)`.
    fn map_frame(
        &mut self,
        frame: Slot,
        vaddr: u64,
        rights: CapRights,
        attrs: u64,
    ) -> Result<(), KernelError>;
    /// `seL4_ARM_PageTable_Map(pt, vspace, vaddr, attrs)`.
    fn map_page_table(&mut self, pt: Slot, vaddr: u64) -> Result<(), KernelError>;
    /// `seL4_ARM_Page_Unmap(frame)`.
    fn unmap_frame(&mut self, frame: Slot) -> Result<(), KernelError>;
}

/// Why a mapping failed.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum MapError {
    /// Allocating a page table failed.
    Alloc(AllocError),
    /// Something (probably a larger page) is already mapped at the address.
    AlreadyMapped {
        /// The requested virtual address.
        vaddr: u64,
    },
    /// The kernel refused the mapping.
    Kernel(KernelError),
    /// The virtual address range is exhausted or the request is malformed.
    NoVirtualSpace,
}

impl From<AllocError> for MapError {
    fn from(e: AllocError) -> Self {
        MapError::Alloc(e)
    }
}

impl core::fmt::Display for MapError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            MapError::Alloc(e) => write!(f, "page table allocation: {e}"),
            MapError::AlreadyMapped { vaddr } => write!(f, "{vaddr:#x} is already mapped"),
            MapError::Kernel(e) => write!(f, "kernel refused mapping: {e}"),
            MapError::NoVirtualSpace => f.write_str("virtual address range exhausted"),
        }
    }
}

/// Maps frames into one VSpace, creating translation tables on demand, and
/// hands out virtual address ranges from a window of it.
///
/// Corresponds to the root-task parts of libsel4vspace (`vspace_map_pages`,
/// `vspace_reserve_range`).
pub struct VSpaceMapper {
    tables: Vec<Object>,
    next: u64,
    end: u64,
}

/// Start of the default window for the root task's own mappings (64 GiB),
/// far above the root task image, its BootInfo and IPC buffer.
pub const DEFAULT_VA_START: u64 = 0x10_0000_0000;
/// End of the default window: the top of the 44-bit stage-2 input range.
pub const DEFAULT_VA_END: u64 = 0x1000_0000_0000;

impl Default for VSpaceMapper {
    fn default() -> Self {
        Self::new(DEFAULT_VA_START, DEFAULT_VA_END)
    }
}

impl VSpaceMapper {
    /// A mapper whose address-range allocator covers `[start, end)`.
    pub fn new(start: u64, end: u64) -> Self {
        Self {
            tables: Vec::new(),
            next: start,
            end,
        }
    }

    /// Page tables created so far (kept for the lifetime of the VSpace).
    pub fn page_tables(&self) -> &[Object] {
        &self.tables
    }

    /// Reserves `size` bytes of virtual address space aligned to `2^align_bits`
    /// (bump allocation; ranges are never reused).
    pub fn reserve(&mut self, size: u64, align_bits: u8) -> Result<u64, MapError> {
        if size == 0 || align_bits >= 48 {
            return Err(MapError::NoVirtualSpace);
        }
        let base = self.next.next_multiple_of(1u64 << align_bits);
        let end = base.checked_add(size).ok_or(MapError::NoVirtualSpace)?;
        if end > self.end {
            return Err(MapError::NoVirtualSpace);
        }
        self.next = end;
        Ok(base)
    }

    /// Maps `frame` at `vaddr`, creating missing page tables from `objects`.
    ///
    /// Corresponds to `vspace_map_pages_at_vaddr` for one page.
    pub fn map_at<K: UntypedOps + MapOps>(
        &mut self,
        kernel: &mut K,
        objects: &mut ObjectAllocator,
        frame: Slot,
        vaddr: u64,
        rights: CapRights,
        attrs: u64,
    ) -> Result<(), MapError> {
        for _ in 0..=MAX_TABLES_PER_MAP {
            match kernel.map_frame(frame, vaddr, rights, attrs) {
                Ok(()) => return Ok(()),
                Err(KernelError::FailedLookup) => {}
                Err(e) => return Err(MapError::Kernel(e)),
            }
            let pt = objects.alloc(kernel, ObjectKind::PageTable)?;
            match kernel.map_page_table(pt.cap, vaddr) {
                Ok(()) => self.tables.push(pt),
                Err(e) => {
                    objects.free(kernel, pt)?;
                    return Err(match e {
                        KernelError::DeleteFirst => MapError::AlreadyMapped { vaddr },
                        e => MapError::Kernel(e),
                    });
                }
            }
        }
        Err(MapError::Kernel(KernelError::FailedLookup))
    }

    /// Reserves a fresh virtual range for the frame and maps it there.
    pub fn map<K: UntypedOps + MapOps>(
        &mut self,
        kernel: &mut K,
        objects: &mut ObjectAllocator,
        frame: &Object,
        rights: CapRights,
        attrs: u64,
    ) -> Result<u64, MapError> {
        let bits = frame.kind.size_bits();
        let vaddr = self.reserve(1 << bits, bits)?;
        self.map_at(kernel, objects, frame.cap, vaddr, rights, attrs)?;
        Ok(vaddr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objects::sim::SimKernel;
    use crate::objects::UntypedInfo;
    use alloc::collections::BTreeMap;

    /// The kernel model plus a 4-level translation tree (root = level 0), as
    /// seL4 builds it for a 44-bit stage-2 input range.
    struct SimVm {
        k: SimKernel,
        /// (level, table index prefix) -> table exists. Level 0 is the root.
        tables: BTreeMap<(u8, u64), Slot>,
        /// Leaf mappings: (vaddr, size_bits) -> frame.
        pages: BTreeMap<u64, (u8, Slot)>,
        levels: u8,
    }

    /// Bits translated below level `l`'s entries: 39, 30, 21, 12 for 4 levels.
    fn entry_bits(levels: u8, l: u8) -> u8 {
        12 + 9 * (levels - 1 - l)
    }

    impl SimVm {
        fn new(levels: u8) -> Self {
            let uts = [UntypedInfo {
                cap: 10,
                paddr: 0x4000_0000,
                size_bits: 20,
                is_device: false,
            }];
            Self {
                k: SimKernel::new(&uts, 4096),
                tables: BTreeMap::new(),
                pages: BTreeMap::new(),
                levels,
            }
        }

        /// The deepest level whose table covering `vaddr` exists, walking from the root.
        fn walk(&self, vaddr: u64) -> u8 {
            let mut l = 0;
            while l + 1 < self.levels {
                let key = (l + 1, vaddr >> entry_bits(self.levels, l));
                if !self.tables.contains_key(&key) {
                    break;
                }
                l += 1;
            }
            l
        }

        fn page_covering(&self, vaddr: u64) -> Option<(u64, u8)> {
            let (&va, &(bits, _)) = self.pages.range(..=vaddr).next_back()?;
            (vaddr < va + (1 << bits)).then_some((va, bits))
        }
    }

    impl UntypedOps for SimVm {
        fn retype(
            &mut self,
            u: Slot,
            kind: ObjectKind,
            dest: Slot,
            n: usize,
        ) -> Result<(), KernelError> {
            self.k.retype(u, kind, dest, n)
        }
        fn delete(&mut self, slot: Slot) -> Result<(), KernelError> {
            self.k.delete(slot)
        }
    }

    impl MapOps for SimVm {
        fn map_frame(
            &mut self,
            frame: Slot,
            vaddr: u64,
            _r: CapRights,
            _a: u64,
        ) -> Result<(), KernelError> {
            let bits = match self.k.cap(frame).map(|c| c.object) {
                Some(crate::objects::sim::SimObject::Object(k)) if k.is_frame() => k.size_bits(),
                _ => return Err(KernelError::InvalidCapability),
            };
            if vaddr & ((1 << bits) - 1) != 0 {
                return Err(KernelError::AlignmentError);
            }
            let l = self.walk(vaddr);
            if entry_bits(self.levels, l) != bits {
                return Err(KernelError::FailedLookup);
            }
            self.pages.insert(vaddr, (bits, frame));
            Ok(())
        }

        fn map_page_table(&mut self, pt: Slot, vaddr: u64) -> Result<(), KernelError> {
            match self.k.cap(pt).map(|c| c.object) {
                Some(crate::objects::sim::SimObject::Object(ObjectKind::PageTable)) => {}
                _ => return Err(KernelError::InvalidCapability),
            }
            let l = self.walk(vaddr);
            let bits = entry_bits(self.levels, l);
            if bits == 12 || self.page_covering(vaddr).is_some_and(|(_, b)| b == bits) {
                return Err(KernelError::DeleteFirst);
            }
            self.tables.insert((l + 1, vaddr >> bits), pt);
            Ok(())
        }

        fn unmap_frame(&mut self, frame: Slot) -> Result<(), KernelError> {
            self.pages.retain(|_, (_, f)| *f != frame);
            Ok(())
        }
    }

    fn objects(vm: &SimVm) -> ObjectAllocator {
        let uts: Vec<UntypedInfo> =
            vm.k.caps
                .iter()
                .map(|(&cap, c)| UntypedInfo {
                    cap,
                    paddr: c.paddr,
                    size_bits: c.size_bits,
                    is_device: false,
                })
                .collect();
        ObjectAllocator::new(uts, 100, 2000)
    }

    #[test]
    fn creates_tables_for_every_missing_level() {
        for levels in [3u8, 4] {
            let mut vm = SimVm::new(levels);
            let mut objs = objects(&vm);
            let mut m = VSpaceMapper::default();
            let f = objs.alloc(&mut vm, ObjectKind::SmallPage).unwrap();
            let va = m
                .map(
                    &mut vm,
                    &mut objs,
                    &f,
                    CapRights::READ_WRITE,
                    VM_ATTRS_DEFAULT,
                )
                .unwrap();
            assert_eq!(va, DEFAULT_VA_START);
            assert_eq!(m.page_tables().len(), levels as usize - 1);
            assert_eq!(vm.pages.get(&va), Some(&(12, f.cap)));
            // Neighbouring page shares all tables.
            let g = objs.alloc(&mut vm, ObjectKind::SmallPage).unwrap();
            let vb = m
                .map(
                    &mut vm,
                    &mut objs,
                    &g,
                    CapRights::READ_WRITE,
                    VM_ATTRS_DEFAULT,
                )
                .unwrap();
            assert_eq!(vb, va + 0x1000);
            assert_eq!(m.page_tables().len(), levels as usize - 1);
            // A large page needs one table fewer, aligned to 2 MiB.
            let lp = objs.alloc(&mut vm, ObjectKind::LargePage);
            if let Ok(lp) = lp {
                let vc = m
                    .map(
                        &mut vm,
                        &mut objs,
                        &lp,
                        CapRights::READ_WRITE,
                        VM_ATTRS_DEFAULT,
                    )
                    .unwrap();
                assert_eq!(vc % (1 << 21), 0);
            }
            vm.k.check_invariants().unwrap();
        }
    }

    #[test]
    fn mapping_under_a_large_page_is_reported() {
        let mut vm = SimVm::new(4);
        let mut objs = objects(&vm);
        let mut m = VSpaceMapper::default();
        let va = 0x20_0000_0000;
        let uts = [UntypedInfo {
            cap: 11,
            paddr: 0x8000_0000,
            size_bits: 21,
            is_device: false,
        }];
        vm.k.caps.insert(11, SimKernel::new(&uts, 4096).caps[&11]);
        let mut big = ObjectAllocator::new(uts, 3000, 3100);
        let lp = big.alloc(&mut vm, ObjectKind::LargePage).unwrap();
        m.map_at(&mut vm, &mut objs, lp.cap, va, CapRights::READ_WRITE, 3)
            .unwrap();
        let f = objs.alloc(&mut vm, ObjectKind::SmallPage).unwrap();
        let before = objs.stats();
        assert_eq!(
            m.map_at(
                &mut vm,
                &mut objs,
                f.cap,
                va + 0x1000,
                CapRights::READ_WRITE,
                3
            ),
            Err(MapError::AlreadyMapped { vaddr: va + 0x1000 })
        );
        assert_eq!(
            objs.stats().ram_free,
            before.ram_free,
            "failed table was freed"
        );
    }

    #[test]
    fn reserve_respects_alignment_and_end() {
        let mut m = VSpaceMapper::new(0x1000, 0x40_0000);
        assert_eq!(m.reserve(0x1000, 12), Ok(0x1000));
        assert_eq!(m.reserve(0x20_0000, 21), Ok(0x20_0000));
        assert_eq!(m.reserve(0x1000, 21), Err(MapError::NoVirtualSpace));
        assert_eq!(m.reserve(0, 12), Err(MapError::NoVirtualSpace));
        assert_eq!(m.reserve(u64::MAX, 12), Err(MapError::NoVirtualSpace));
    }
}
