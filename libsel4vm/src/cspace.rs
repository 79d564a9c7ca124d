//! The vCPU threads' CSpace and VMM services installed in it
//! (libsel4vm's `VM_CSPACE_*` constants in `arch/guest_vm_arch.h`,
//! libsel4vmmplatsupport's `vmm_install_service`).
//!
//! seL4 runs a guest HVC as a system call (number in x7) made with the vCPU
//! thread's CSpace, so whatever that CSpace holds the guest can invoke.
//! libsel4vm gives the VM one CNode of `2^VM_CSPACE_SIZE_BITS` slots shared
//! by all vCPU threads: the fault endpoint(s) from [`VM_FAULT_EP_SLOT`] and
//! the CNode's own cap at `VM_CSPACE_SLOT`. Here each vCPU thread has a
//! CNode of its own with the same size and guard (a guest CPtr `n` names
//! slot `n`):
//!
//! | slot | libsel4vm | here |
//! |------|-----------|------|
//! | 0 | empty | empty |
//! | [`VM_FAULT_EP_SLOT`] (1) | fault endpoint | this vCPU's own badged fault endpoint |
//! | 2 ..= `VM_CSPACE_SLOT` - 1 | fault endpoints of further nodes | empty |
//! | [`Vm::cspace_slot`] | the CNode itself | empty: with it the guest could mint, move and delete the caps of its own CSpace (forge service badges) |
//! | above, < 16 | free for `vmm_install_service` | services from [`Vm::install_service`], in every vCPU's CNode |
//!
//! A CNode per vCPU means one vCPU cannot send faults badged as another,
//! and any number of vCPUs fits (libsel4vm's fault slots would run into
//! `VM_CSPACE_SLOT` with more vCPUs than kernel nodes).

use alloc::vec::Vec;

use crate::backend::{Backend, KernelObject};
use crate::error::{Error, Result};
use crate::vm::Vm;

/// log2 of the slot count of a vCPU thread's CNode; its guard makes the CNode
/// resolve all 64 bits of a CPtr.
///
/// Corresponds to `VM_CSPACE_SIZE_BITS`.
pub const VM_CSPACE_SIZE_BITS: u8 = 4;

/// Slot of the vCPU's fault endpoint in its CNode (the TCB's fault-endpoint
/// CPtr).
///
/// Corresponds to `VM_FAULT_EP_SLOT`.
pub const VM_FAULT_EP_SLOT: u64 = 1;

/// `cspace_root_data` of the vCPU CNodes: guard 0 of `64 -
/// VM_CSPACE_SIZE_BITS` bits (`seL4_CNode_CapData_new(0, 60)`), so CPtr `n`
/// resolves to slot `n`.
///
/// Corresponds to `vm.cspace.cspace_root_data`.
pub const VM_CSPACE_ROOT_DATA: u64 = 64 - VM_CSPACE_SIZE_BITS as u64;

/// `VM_CSPACE_SLOT` for a VM of `max_nodes` nodes: `VM_FAULT_EP_SLOT +
/// max_nodes` (where libsel4vm puts the CNode's own cap; left empty here).
///
/// Corresponds to `VM_CSPACE_SLOT` with `CONFIG_MAX_NUM_NODES = max_nodes`.
pub const fn vm_cspace_slot(max_nodes: u32) -> u64 {
    VM_FAULT_EP_SLOT + max_nodes as u64
}

/// A VMM service installed in the vCPUs' CSpaces ([`Vm::install_service`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Service {
    /// The VMM's cap the copies were minted from.
    pub cap: KernelObject,
    /// Slot in each vCPU's CNode (the guest's CPtr).
    pub index: u64,
    /// Badge of the copies.
    pub badge: u64,
}

impl<B: Backend> Vm<B> {
    /// `VM_CSPACE_SLOT` of this VM: [`vm_cspace_slot`] of
    /// [`crate::VmConfig::max_vcpus`] (this library's `CONFIG_MAX_NUM_NODES`).
    pub fn cspace_slot(&self) -> u64 {
        vm_cspace_slot(self.config().max_vcpus)
    }

    /// Mints a copy of `service` (a cap of the VMM, with all rights, badged
    /// `badge`) at `index` of every vCPU's CNode, and of every vCPU created
    /// later, so the guest can invoke it with an HVC whose x0 is `index`
    /// and x7 an seL4 syscall number. The copies go with the vCPUs.
    ///
    /// Refused ([`Error::ReservedServiceSlot`]): 0, [`VM_FAULT_EP_SLOT`]
    /// ..= [`Vm::cspace_slot`], 2^[`VM_CSPACE_SIZE_BITS`] and above;
    /// ([`Error::ServiceSlotTaken`]) an index installed already.
    ///
    /// Corresponds to libsel4vmmplatsupport's `vmm_install_service`, which
    /// mints into libsel4vm's one shared VM CNode.
    pub fn install_service(&mut self, service: KernelObject, index: u64, badge: u64) -> Result<()> {
        if index == 0
            || (VM_FAULT_EP_SLOT..=self.cspace_slot()).contains(&index)
            || index >> VM_CSPACE_SIZE_BITS != 0
        {
            return Err(Error::ReservedServiceSlot(index));
        }
        if self.services.iter().any(|s| s.index == index) {
            return Err(Error::ServiceSlotTaken(index));
        }
        self.backend.install_service(service, index, badge)?;
        self.services.push(Service {
            cap: service,
            index,
            badge,
        });
        Ok(())
    }

    /// The services installed with [`Vm::install_service`], in order.
    pub fn services(&self) -> &[Service] {
        &self.services
    }
}

/// The installed services (kept by the VM for the checks above).
pub(crate) type Services = Vec<Service>;
