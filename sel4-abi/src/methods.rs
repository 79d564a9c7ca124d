//! Typed invocation methods on capabilities, e.g. `tcb.tcb_resume()`.
//!
//! Each method is `encode::*` + [`Invocation::perform`]; the names are the
//! libsel4 function names in snake case without the `seL4_`/`ARM_` prefix
//! (`seL4_ARM_Page_Map` → `Frame::frame_map`). Only built for the target.

use crate::arch::{IrqTrigger, SmcContext, UserContext, VcpuReg, VmAttributes};
use crate::cap::{
    AsidControl, AsidPool, CNode, CPtr, Frame, IrqControl, IrqHandler, Notification, PageTable,
};
use crate::cap::{Smc, Tcb, Untyped, VSpace, Vcpu};
use crate::error::Error;
use crate::invocation::{encode, CacheOp, Invocation};
use crate::message::{CNodeCapData, CapRights};
use crate::Word;

fn done(inv: Invocation, service: CPtr) -> Result<(), Error> {
    inv.perform(service).map(|_| ())
}

impl Untyped {
    /// `seL4_Untyped_Retype`: creates `num_objects` objects of `object_type`
    /// (see [`crate::labels::object_type`]) in slots
    /// `node_offset..node_offset+num_objects` of the CNode at
    /// (`root`, `node_index`, `node_depth`).
    #[allow(clippy::too_many_arguments)]
    pub fn untyped_retype(
        self,
        object_type: Word,
        size_bits: Word,
        root: CNode,
        node_index: Word,
        node_depth: Word,
        node_offset: Word,
        num_objects: Word,
    ) -> Result<(), Error> {
        done(
            encode::untyped_retype(
                object_type,
                size_bits,
                root,
                node_index,
                node_depth,
                node_offset,
                num_objects,
            ),
            self.cptr(),
        )
    }
}

impl CNode {
    /// `seL4_CNode_Revoke`.
    pub fn cnode_revoke(self, index: Word, depth: u8) -> Result<(), Error> {
        done(encode::cnode_revoke(index, depth), self.cptr())
    }
    /// `seL4_CNode_Delete`.
    pub fn cnode_delete(self, index: Word, depth: u8) -> Result<(), Error> {
        done(encode::cnode_delete(index, depth), self.cptr())
    }
    /// `seL4_CNode_CancelBadgedSends`.
    pub fn cnode_cancel_badged_sends(self, index: Word, depth: u8) -> Result<(), Error> {
        done(encode::cnode_cancel_badged_sends(index, depth), self.cptr())
    }
    /// `seL4_CNode_Copy`.
    pub fn cnode_copy(
        self,
        dest_index: Word,
        dest_depth: u8,
        src_root: CNode,
        src_index: Word,
        src_depth: u8,
        rights: CapRights,
    ) -> Result<(), Error> {
        done(
            encode::cnode_copy(
                dest_index, dest_depth, src_root, src_index, src_depth, rights,
            ),
            self.cptr(),
        )
    }
    /// `seL4_CNode_Mint`.
    #[allow(clippy::too_many_arguments)]
    pub fn cnode_mint(
        self,
        dest_index: Word,
        dest_depth: u8,
        src_root: CNode,
        src_index: Word,
        src_depth: u8,
        rights: CapRights,
        badge: Word,
    ) -> Result<(), Error> {
        done(
            encode::cnode_mint(
                dest_index, dest_depth, src_root, src_index, src_depth, rights, badge,
            ),
            self.cptr(),
        )
    }
    /// `seL4_CNode_Move`.
    pub fn cnode_move(
        self,
        dest_index: Word,
        dest_depth: u8,
        src_root: CNode,
        src_index: Word,
        src_depth: u8,
    ) -> Result<(), Error> {
        done(
            encode::cnode_move(dest_index, dest_depth, src_root, src_index, src_depth),
            self.cptr(),
        )
    }
    /// `seL4_CNode_Mutate`.
    pub fn cnode_mutate(
        self,
        dest_index: Word,
        dest_depth: u8,
        src_root: CNode,
        src_index: Word,
        src_depth: u8,
        badge: Word,
    ) -> Result<(), Error> {
        done(
            encode::cnode_mutate(
                dest_index, dest_depth, src_root, src_index, src_depth, badge,
            ),
            self.cptr(),
        )
    }
}

impl Tcb {
    /// `seL4_TCB_Configure` (non-MCS).
    #[allow(clippy::too_many_arguments)]
    pub fn tcb_configure(
        self,
        fault_ep: CPtr,
        cspace_root: CNode,
        cspace_root_data: CNodeCapData,
        vspace_root: VSpace,
        vspace_root_data: Word,
        buffer: Word,
        buffer_frame: CPtr,
    ) -> Result<(), Error> {
        done(
            encode::tcb_configure(
                fault_ep,
                cspace_root,
                cspace_root_data,
                vspace_root,
                vspace_root_data,
                buffer,
                buffer_frame,
            ),
            self.cptr(),
        )
    }
    /// `seL4_TCB_SetSpace` (non-MCS).
    pub fn tcb_set_space(
        self,
        fault_ep: CPtr,
        cspace_root: CNode,
        cspace_root_data: CNodeCapData,
        vspace_root: VSpace,
        vspace_root_data: Word,
    ) -> Result<(), Error> {
        done(
            encode::tcb_set_space(
                fault_ep,
                cspace_root,
                cspace_root_data,
                vspace_root,
                vspace_root_data,
            ),
            self.cptr(),
        )
    }
    /// `seL4_TCB_SetSchedParams` (non-MCS).
    pub fn tcb_set_sched_params(
        self,
        authority: Tcb,
        mcp: Word,
        priority: Word,
    ) -> Result<(), Error> {
        done(
            encode::tcb_set_sched_params(authority, mcp, priority),
            self.cptr(),
        )
    }
    /// `seL4_TCB_SetPriority`.
    pub fn tcb_set_priority(self, authority: Tcb, priority: Word) -> Result<(), Error> {
        done(encode::tcb_set_priority(authority, priority), self.cptr())
    }
    /// `seL4_TCB_SetMCPriority`.
    pub fn tcb_set_mc_priority(self, authority: Tcb, mcp: Word) -> Result<(), Error> {
        done(encode::tcb_set_mc_priority(authority, mcp), self.cptr())
    }
    /// `seL4_TCB_SetIPCBuffer`.
    pub fn tcb_set_ipc_buffer(self, buffer: Word, buffer_frame: Frame) -> Result<(), Error> {
        done(
            encode::tcb_set_ipc_buffer(buffer, buffer_frame),
            self.cptr(),
        )
    }
    /// `seL4_TCB_SetTLSBase`.
    pub fn tcb_set_tls_base(self, tls_base: Word) -> Result<(), Error> {
        done(encode::tcb_set_tls_base(tls_base), self.cptr())
    }
    /// `seL4_TCB_ReadRegisters`: the first `count` registers (kernel order);
    /// the rest of the returned context is 0.
    pub fn tcb_read_registers(
        self,
        suspend_source: bool,
        count: usize,
    ) -> Result<UserContext, Error> {
        let r = encode::tcb_read_registers(suspend_source, 0, count).perform(self.cptr())?;
        Ok(UserContext::from_words(r.mrs()))
    }
    /// `seL4_TCB_WriteRegisters`: the first `count` registers of `regs`.
    /// To start a thread created by this crate's users, set
    /// `regs.tpidrro_el0` to its IPC buffer address (see [`crate::ipc_buffer`]).
    pub fn tcb_write_registers(
        self,
        resume_target: bool,
        count: usize,
        regs: &UserContext,
    ) -> Result<(), Error> {
        done(
            encode::tcb_write_registers(resume_target, 0, count, regs),
            self.cptr(),
        )
    }
    /// `seL4_TCB_Resume`.
    pub fn tcb_resume(self) -> Result<(), Error> {
        done(encode::tcb_resume(), self.cptr())
    }
    /// `seL4_TCB_Suspend`.
    pub fn tcb_suspend(self) -> Result<(), Error> {
        done(encode::tcb_suspend(), self.cptr())
    }
    /// `seL4_TCB_BindNotification`.
    pub fn tcb_bind_notification(self, notification: Notification) -> Result<(), Error> {
        done(encode::tcb_bind_notification(notification), self.cptr())
    }
    /// `seL4_TCB_UnbindNotification`.
    pub fn tcb_unbind_notification(self) -> Result<(), Error> {
        done(encode::tcb_unbind_notification(), self.cptr())
    }
    /// `seL4_DebugNameThread`.
    pub fn debug_name(self, name: &str) {
        crate::syscall::debug_name_thread(self.cptr(), name)
    }
}

impl Frame {
    /// `seL4_ARM_Page_Map`.
    pub fn frame_map(
        self,
        vspace: VSpace,
        vaddr: Word,
        rights: CapRights,
        attr: VmAttributes,
    ) -> Result<(), Error> {
        done(encode::page_map(vspace, vaddr, rights, attr), self.cptr())
    }
    /// `seL4_ARM_Page_Unmap`.
    pub fn frame_unmap(self) -> Result<(), Error> {
        done(encode::page_unmap(), self.cptr())
    }
    /// `seL4_ARM_Page_GetAddress`: the frame's physical address.
    pub fn frame_get_address(self) -> Result<Word, Error> {
        Ok(encode::page_get_address().perform(self.cptr())?.mr(0))
    }
    /// `seL4_ARM_Page_Clean_Data` and friends, over offsets within the frame.
    pub fn frame_cache_op(
        self,
        op: CacheOp,
        start_offset: Word,
        end_offset: Word,
    ) -> Result<(), Error> {
        done(
            encode::page_cache_op(op, start_offset, end_offset),
            self.cptr(),
        )
    }
}

impl VSpace {
    /// `seL4_ARM_VSpace_Clean_Data` and friends, over virtual addresses.
    pub fn vspace_cache_op(self, op: CacheOp, start: Word, end: Word) -> Result<(), Error> {
        done(encode::vspace_cache_op(op, start, end), self.cptr())
    }
}

impl PageTable {
    /// `seL4_ARM_PageTable_Map`.
    pub fn page_table_map(
        self,
        vspace: VSpace,
        vaddr: Word,
        attr: VmAttributes,
    ) -> Result<(), Error> {
        done(encode::page_table_map(vspace, vaddr, attr), self.cptr())
    }
    /// `seL4_ARM_PageTable_Unmap`.
    pub fn page_table_unmap(self) -> Result<(), Error> {
        done(encode::page_table_unmap(), self.cptr())
    }
}

impl AsidPool {
    /// `seL4_ARM_ASIDPool_Assign`.
    pub fn asid_pool_assign(self, vspace: VSpace) -> Result<(), Error> {
        done(encode::asid_pool_assign(vspace), self.cptr())
    }
}

impl AsidControl {
    /// `seL4_ARM_ASIDControl_MakePool`.
    pub fn asid_control_make_pool(
        self,
        untyped: Untyped,
        root: CNode,
        index: Word,
        depth: u8,
    ) -> Result<(), Error> {
        done(
            encode::asid_control_make_pool(untyped, root, index, depth),
            self.cptr(),
        )
    }
}

impl Vcpu {
    /// `seL4_ARM_VCPU_SetTCB`.
    pub fn vcpu_set_tcb(self, tcb: Tcb) -> Result<(), Error> {
        done(encode::vcpu_set_tcb(tcb), self.cptr())
    }
    /// `seL4_ARM_VCPU_ReadRegs`.
    pub fn vcpu_read_reg(self, reg: VcpuReg) -> Result<Word, Error> {
        Ok(encode::vcpu_read_reg(reg).perform(self.cptr())?.mr(0))
    }
    /// `seL4_ARM_VCPU_WriteRegs`.
    pub fn vcpu_write_reg(self, reg: VcpuReg, value: Word) -> Result<(), Error> {
        done(encode::vcpu_write_reg(reg, value), self.cptr())
    }
    /// `seL4_ARM_VCPU_InjectIRQ`.
    pub fn vcpu_inject_irq(
        self,
        virq: u16,
        priority: u8,
        group: u8,
        index: u8,
    ) -> Result<(), Error> {
        done(
            encode::vcpu_inject_irq(virq, priority, group, index),
            self.cptr(),
        )
    }
    /// `seL4_ARM_VCPU_AckVPPI`.
    pub fn vcpu_ack_vppi(self, irq: Word) -> Result<(), Error> {
        done(encode::vcpu_ack_vppi(irq), self.cptr())
    }
}

impl IrqControl {
    /// `seL4_IRQControl_Get`.
    pub fn irq_control_get(
        self,
        irq: Word,
        root: CNode,
        index: Word,
        depth: u8,
    ) -> Result<(), Error> {
        done(
            encode::irq_control_get(irq, root, index, depth),
            self.cptr(),
        )
    }
    /// `seL4_IRQControl_GetTrigger`.
    pub fn irq_control_get_trigger(
        self,
        irq: Word,
        trigger: IrqTrigger,
        root: CNode,
        index: Word,
        depth: u8,
    ) -> Result<(), Error> {
        done(
            encode::irq_control_get_trigger(irq, trigger, root, index, depth),
            self.cptr(),
        )
    }
}

impl IrqHandler {
    /// `seL4_IRQHandler_Ack`.
    pub fn irq_handler_ack(self) -> Result<(), Error> {
        done(encode::irq_handler_ack(), self.cptr())
    }
    /// `seL4_IRQHandler_SetNotification`.
    pub fn irq_handler_set_notification(self, notification: Notification) -> Result<(), Error> {
        done(
            encode::irq_handler_set_notification(notification),
            self.cptr(),
        )
    }
    /// `seL4_IRQHandler_Clear`.
    pub fn irq_handler_clear(self) -> Result<(), Error> {
        done(encode::irq_handler_clear(), self.cptr())
    }
}

impl Smc {
    /// `seL4_ARM_SMC_Call`: forwards x0..x7 to the secure monitor and
    /// returns its x0..x7.
    pub fn smc_call(self, args: &SmcContext) -> Result<SmcContext, Error> {
        let r = encode::smc_call(args).perform(self.cptr())?;
        Ok(SmcContext::from_words(r.mrs()))
    }
}

impl Notification {
    /// `seL4_Signal`.
    pub fn signal(self) {
        crate::syscall::signal(self.cptr())
    }
    /// `seL4_Wait`: blocks until signalled; returns the accumulated badge bits.
    pub fn wait(self) -> crate::cap::Badge {
        crate::syscall::wait(self.cptr())
    }
    /// `seL4_Poll`: the pending badge bits, 0 if none.
    pub fn poll(self) -> crate::cap::Badge {
        crate::syscall::poll(self.cptr())
    }
}
