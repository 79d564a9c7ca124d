//! Where [`crate::Sel4Backend`] gets its kernel objects, CSpace slots and
//! VMM mappings from.
//!
//! libsel4vm takes these from the application's `vka_t` (objects, slots)
//! and `vspace_t` (mapping guest frames into the VMM). [`ObjectSource`] is
//! that pair as one trait: the root task's own `sel4-rt` allocator implements
//! it ([`crate::Resources`]), and the C API implements it on top of a C
//! `vka_t`/`vspace_t`. The backend performs every other kernel invocation
//! (retype is the source's business; copy, mint, map into the guest, delete
//! of copies are the backend's) through the CNode paths the source reports.

use sel4_rt::objects::{ObjectKind, Slot};
use sel4vm::BackendError;

/// A CSpace location as the kernel's CNode invocations address it:
/// `(root CNode, index, depth)` (libsel4vka's `cspacepath_t` without the
/// retype-destination part).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CapPath {
    /// CPtr of the CNode the index is resolved in.
    pub root: u64,
    /// Index (CPtr) of the slot.
    pub index: u64,
    /// Bits of `index` to resolve.
    pub depth: u8,
}

/// A kernel object a source created.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SourceObject {
    /// Slot holding the object's cap, in the VMM's CSpace.
    pub cap: Slot,
    /// What it is.
    pub kind: ObjectKind,
    /// Physical address, if the source knows it (needed for frames only).
    pub paddr: Option<u64>,
    /// Retyped from device memory, so the kernel did not zero it.
    pub device: bool,
    /// The source's own handle for the allocation (`vka_object_t.ut`).
    pub cookie: u64,
}

/// Capabilities of the VMM thread's own environment that the backend
/// invokes (libsel4vm gets them from `simple_t`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostCaps {
    /// The VMM's CSpace root, installed as the vCPU threads' CSpace so their
    /// fault endpoint resolves.
    pub cnode: u64,
    /// The VMM thread's TCB: authority for vCPU priorities and where the
    /// process-wide notification is bound.
    pub tcb: u64,
    /// ASID pool the guest VSpace is assigned to.
    pub asid_pool: u64,
}

impl HostCaps {
    /// The root task's initial caps (`seL4_CapInitThreadCNode`,
    /// `seL4_CapInitThreadTCB`, `seL4_CapInitThreadASIDPool`).
    pub const ROOT_TASK: HostCaps = HostCaps {
        cnode: 2,
        tcb: 1,
        asid_pool: 6,
    };
}

/// Kernel objects, CSpace slots and VMM address space for a backend.
///
/// Corresponds to the `vka_t` + `vspace_t` pair passed to libsel4vm's
/// `vm_init`. Errors are [`BackendError`]s; a failed call must leave nothing
/// allocated.
pub trait ObjectSource {
    /// Creates one object of `kind`, anywhere in RAM (`paddr == None`) or at
    /// exactly `paddr` (device frames, 1:1 guest RAM).
    fn alloc(&mut self, kind: ObjectKind, paddr: Option<u64>)
        -> Result<SourceObject, BackendError>;

    /// Deletes the object's cap (all copies must be gone) and returns its
    /// memory and slot.
    fn free(&mut self, obj: &SourceObject) -> Result<(), BackendError>;

    /// An empty slot for caps the backend creates itself (copies, mints,
    /// saved reply caps).
    fn alloc_slot(&mut self) -> Result<Slot, BackendError>;

    /// Returns an empty slot from [`ObjectSource::alloc_slot`].
    fn free_slot(&mut self, slot: Slot);

    /// Where `slot` is for CNode invocations.
    fn path(&self, slot: Slot) -> CapPath;

    /// The VMM thread's own caps.
    fn host_caps(&self) -> HostCaps {
        HostCaps::ROOT_TASK
    }

    /// Assigns the new guest VSpace `vspace` to an ASID pool itself
    /// (libsel4vm: `simple_ASIDPool_assign`). `None`: the backend invokes
    /// [`HostCaps::asid_pool`].
    fn assign_asid(&mut self, vspace: Slot) -> Option<Result<(), BackendError>> {
        let _ = vspace;
        None
    }

    /// Reserves `size` bytes of VMM virtual address space aligned to
    /// `2^align_bits`, never handed out again. Returns the base.
    fn reserve_vmm(&mut self, size: u64, align_bits: u8) -> Result<u64, BackendError>;

    /// Maps the frame cap in `frame` (a slot of this source) read-write,
    /// cacheable, non-executable at `vaddr` inside a range from
    /// [`ObjectSource::reserve_vmm`].
    fn map_vmm(&mut self, frame: Slot, vaddr: u64, size_bits: u8) -> Result<(), BackendError>;

    /// Forgets the mapping made by [`ObjectSource::map_vmm`] before the
    /// backend deletes the frame cap (which removes it from the page tables).
    fn unmap_vmm(&mut self, frame: Slot, vaddr: u64, size_bits: u8);

    /// The notification bound to the VMM thread by an earlier backend, kept
    /// here because a thread can have only one.
    fn bound_notification(&self) -> Option<SourceObject>;

    /// Records the bound notification.
    fn set_bound_notification(&mut self, n: SourceObject);

    /// Called when a backend is dropped: merges freed memory back (the
    /// `sel4-rt` allocator needs this to reuse slots). Default: nothing.
    fn coalesce(&mut self) {}
}

/// `size_bits` as libsel4vka passes it with an object type: the retype size
/// argument for untypeds and CNodes, the object's size otherwise
/// (`seL4_TCBBits`, `seL4_PageBits`, ...).
pub fn vka_size_bits(kind: ObjectKind) -> u64 {
    match kind {
        ObjectKind::Untyped { .. } | ObjectKind::CNode { .. } => kind.user_size_bits(),
        _ => u64::from(kind.size_bits()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The vCPU CNodes' root data as the backend builds it is the value the
    /// core reports in `vm.cspace.cspace_root_data`.
    #[test]
    fn vcpu_cnode_root_data() {
        let d = sel4_abi::CNodeCapData::new(0, 64 - u32::from(sel4vm::VM_CSPACE_SIZE_BITS));
        assert_eq!(d.into_word(), sel4vm::VM_CSPACE_ROOT_DATA);
    }

    #[test]
    fn vka_sizes() {
        assert_eq!(vka_size_bits(ObjectKind::Tcb), 11);
        assert_eq!(vka_size_bits(ObjectKind::Endpoint), 4);
        assert_eq!(vka_size_bits(ObjectKind::CNode { slot_bits: 8 }), 8);
        assert_eq!(vka_size_bits(ObjectKind::Untyped { size_bits: 20 }), 20);
        assert_eq!(vka_size_bits(ObjectKind::LargePage), 21);
        assert_eq!(vka_size_bits(ObjectKind::Vcpu), 12);
    }
}
