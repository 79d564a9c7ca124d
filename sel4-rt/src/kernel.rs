//! The real kernel behind [`UntypedOps`] and [`MapOps`]: invocations on the
//! root task's own CNode and VSpace. Target only.

use sel4_abi::arch::VmAttributes;
use sel4_abi::invocation::encode;
use sel4_abi::{init, CPtr, CapRights};

use crate::objects::{KernelError, ObjectKind, Slot, UntypedOps};
use crate::vspace::MapOps;

/// Depth that resolves a root-CNode slot index as a CPtr (guard + radix = 64 bits).
const ROOT_DEPTH: u8 = 64;

/// Kernel operations on the root task's CNode (`seL4_CapInitThreadCNode`) and
/// VSpace (`seL4_CapInitThreadVSpace`).
#[derive(Clone, Copy, Debug, Default)]
pub struct RootKernel;

impl UntypedOps for RootKernel {
    fn retype(
        &mut self,
        untyped: Slot,
        kind: ObjectKind,
        dest: Slot,
        count: usize,
    ) -> Result<(), KernelError> {
        // Depth 0: the destination CNode is the root CNode cap itself.
        encode::untyped_retype(
            kind.type_id(),
            kind.user_size_bits(),
            init::CNODE,
            0,
            0,
            dest,
            count as u64,
        )
        .perform(CPtr(untyped))
        .map(drop)
    }

    fn delete(&mut self, slot: Slot) -> Result<(), KernelError> {
        encode::cnode_delete(slot, ROOT_DEPTH)
            .perform(init::CNODE.cptr())
            .map(drop)
    }
}

impl MapOps for RootKernel {
    fn map_frame(
        &mut self,
        frame: Slot,
        vaddr: u64,
        rights: CapRights,
        attrs: u64,
    ) -> Result<(), KernelError> {
        encode::page_map(init::VSPACE, vaddr, rights, VmAttributes(attrs))
            .perform(CPtr(frame))
            .map(drop)
    }

    fn map_page_table(&mut self, pt: Slot, vaddr: u64) -> Result<(), KernelError> {
        encode::page_table_map(init::VSPACE, vaddr, VmAttributes::DEFAULT)
            .perform(CPtr(pt))
            .map(drop)
    }

    fn unmap_frame(&mut self, frame: Slot) -> Result<(), KernelError> {
        encode::page_unmap().perform(CPtr(frame)).map(drop)
    }
}

/// `seL4_TCB_Suspend`.
pub fn tcb_suspend(tcb: CPtr) -> Result<(), KernelError> {
    encode::tcb_suspend().perform(tcb).map(drop)
}
