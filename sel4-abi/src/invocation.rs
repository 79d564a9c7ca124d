//! Kernel object invocations.
//!
//! Each invocation is split in two: a pure `encode` step that builds an
//! [`Invocation`] (label, message registers, extra caps — laid out exactly as
//! libsel4's generated stubs lay them out) and is tested on the host, and a
//! thin `perform` step that puts the extra caps and MRs 4.. into the IPC
//! buffer, does `seL4_Call`, and turns the reply label into a `Result`.
//!
//! Parameter packing follows the interface XML: word-sized parameters take
//! one MR each, smaller ones (`seL4_Uint8`, `seL4_Bool`, ...) are packed into
//! the current MR at their natural alignment, and cap-typed parameters other
//! than the invoked cap go into the extra caps, in order.

use crate::arch::{IrqTrigger, SmcContext, UserContext, VcpuReg, VmAttributes};
use crate::cap::{CNode, CPtr, Frame, Notification, Tcb, Untyped, VSpace};
use crate::error::Error;
use crate::ipc_buffer::IpcBuffer;
use crate::labels::invocation as label;
use crate::message::{
    CNodeCapData, CapRights, MessageInfo, FAST_MESSAGE_REGISTERS, MSG_MAX_EXTRA_CAPS,
};
use crate::Word;

/// Most MRs any invocation here sends (`TCB_WriteRegisters`: 2 + 36).
pub const MAX_INVOCATION_MRS: usize = 2 + UserContext::WORDS;
/// Most MRs any invocation here receives (`TCB_ReadRegisters`: 36).
pub const MAX_REPLY_MRS: usize = UserContext::WORDS;

/// An encoded invocation: what goes into x1, x2..x5, the IPC buffer's
/// `msg[4..]` and `caps_or_badges`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Invocation {
    label: Word,
    mrs: [Word; MAX_INVOCATION_MRS],
    len: usize,
    caps: [CPtr; MSG_MAX_EXTRA_CAPS],
    ncaps: usize,
}

impl Invocation {
    /// An invocation with the given label and no arguments.
    pub const fn new(label: Word) -> Self {
        Self {
            label,
            mrs: [0; MAX_INVOCATION_MRS],
            len: 0,
            caps: [CPtr::NULL; MSG_MAX_EXTRA_CAPS],
            ncaps: 0,
        }
    }

    /// Appends a message register. Encoders never exceed the capacity; a push
    /// past it is ignored (and trips a debug assertion).
    fn mr(mut self, w: Word) -> Self {
        debug_assert!(self.len < MAX_INVOCATION_MRS);
        if self.len < MAX_INVOCATION_MRS {
            self.mrs[self.len] = w;
            self.len += 1;
        }
        self
    }

    /// Appends an extra cap (at most three; see [`Invocation::mr`]).
    fn cap(mut self, c: impl Into<CPtr>) -> Self {
        debug_assert!(self.ncaps < MSG_MAX_EXTRA_CAPS);
        if self.ncaps < MSG_MAX_EXTRA_CAPS {
            self.caps[self.ncaps] = c.into();
            self.ncaps += 1;
        }
        self
    }

    /// The invocation label.
    pub const fn label(&self) -> Word {
        self.label
    }
    /// The message tag to send.
    pub const fn info(&self) -> MessageInfo {
        MessageInfo::new(self.label, 0, self.ncaps as Word, self.len as Word)
    }
    /// The message registers, MR0 first.
    pub fn mrs(&self) -> &[Word] {
        &self.mrs[..self.len]
    }
    /// The extra caps.
    pub fn caps(&self) -> &[CPtr] {
        &self.caps[..self.ncaps]
    }

    /// Sends the invocation to `service` through `trap` (normally
    /// `crate::syscall::call_with_mrs`) using `ipc` for caps and MRs 4..,
    /// and collects the reply.
    pub fn perform_with(
        &self,
        service: CPtr,
        ipc: &mut IpcBuffer,
        trap: impl FnOnce(CPtr, MessageInfo, &mut [Word; FAST_MESSAGE_REGISTERS]) -> MessageInfo,
    ) -> Result<Reply, Error> {
        for (slot, c) in ipc.caps_or_badges.iter_mut().zip(self.caps()) {
            *slot = c.0;
        }
        let mrs = self.mrs();
        let mut fast = [0; FAST_MESSAGE_REGISTERS];
        let nfast = mrs.len().min(FAST_MESSAGE_REGISTERS);
        fast[..nfast].copy_from_slice(&mrs[..nfast]);
        if mrs.len() > FAST_MESSAGE_REGISTERS {
            ipc.msg[FAST_MESSAGE_REGISTERS..mrs.len()]
                .copy_from_slice(&mrs[FAST_MESSAGE_REGISTERS..]);
        }
        let info = trap(service, self.info(), &mut fast);
        Error::check(info.label())?;
        let mut reply = Reply {
            info,
            mrs: [0; MAX_REPLY_MRS],
            len: info.length().min(MAX_REPLY_MRS),
        };
        let n = reply.len;
        let nfast = n.min(FAST_MESSAGE_REGISTERS);
        reply.mrs[..nfast].copy_from_slice(&fast[..nfast]);
        if n > FAST_MESSAGE_REGISTERS {
            reply.mrs[FAST_MESSAGE_REGISTERS..n]
                .copy_from_slice(&ipc.msg[FAST_MESSAGE_REGISTERS..n]);
        }
        Ok(reply)
    }

    /// Performs the invocation on the calling thread's IPC buffer with `seL4_Call`.
    #[cfg(all(target_arch = "aarch64", target_os = "none"))]
    pub fn perform(&self, service: CPtr) -> Result<Reply, Error> {
        crate::ipc_buffer::with_ipc_buffer(|ipc| {
            self.perform_with(service, ipc, crate::syscall::call_with_mrs)
        })
    }
}

/// A successful reply: its tag and up to [`MAX_REPLY_MRS`] message registers.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Reply {
    /// The reply tag (label 0).
    pub info: MessageInfo,
    mrs: [Word; MAX_REPLY_MRS],
    len: usize,
}

impl Reply {
    /// The reply's message registers (as many as its length says, capped).
    pub fn mrs(&self) -> &[Word] {
        &self.mrs[..self.len]
    }
    /// MR `i`, or 0 if the reply is shorter (the kernel's outputs are fixed-size).
    pub fn mr(&self, i: usize) -> Word {
        self.mrs().get(i).copied().unwrap_or(0)
    }
}

/// The four cache maintenance operations on frames and VSpaces.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum CacheOp {
    /// `Clean_Data`: write back dirty lines.
    CleanData,
    /// `Invalidate_Data`: discard lines.
    InvalidateData,
    /// `CleanInvalidate_Data`: write back, then discard.
    CleanInvalidateData,
    /// `Unify_Instruction`: make the I-cache see data written through the D-cache.
    UnifyInstruction,
}

/// Pure encoders; argument names and order follow the libsel4 functions.
pub mod encode {
    use super::*;

    fn depth(d: u8) -> Word {
        d as Word
    }

    /// `seL4_Untyped_Retype`.
    pub fn untyped_retype(
        object_type: Word,
        size_bits: Word,
        root: CNode,
        node_index: Word,
        node_depth: Word,
        node_offset: Word,
        num_objects: Word,
    ) -> Invocation {
        Invocation::new(label::UntypedRetype)
            .cap(root)
            .mr(object_type)
            .mr(size_bits)
            .mr(node_index)
            .mr(node_depth)
            .mr(node_offset)
            .mr(num_objects)
    }

    /// `seL4_CNode_Revoke`.
    pub fn cnode_revoke(index: Word, d: u8) -> Invocation {
        Invocation::new(label::CNodeRevoke).mr(index).mr(depth(d))
    }

    /// `seL4_CNode_Delete`.
    pub fn cnode_delete(index: Word, d: u8) -> Invocation {
        Invocation::new(label::CNodeDelete).mr(index).mr(depth(d))
    }

    /// `seL4_CNode_CancelBadgedSends`.
    pub fn cnode_cancel_badged_sends(index: Word, d: u8) -> Invocation {
        Invocation::new(label::CNodeCancelBadgedSends)
            .mr(index)
            .mr(depth(d))
    }

    /// `seL4_CNode_Copy`.
    pub fn cnode_copy(
        dest_index: Word,
        dest_depth: u8,
        src_root: CNode,
        src_index: Word,
        src_depth: u8,
        rights: CapRights,
    ) -> Invocation {
        Invocation::new(label::CNodeCopy)
            .cap(src_root)
            .mr(dest_index)
            .mr(depth(dest_depth))
            .mr(src_index)
            .mr(depth(src_depth))
            .mr(rights.into_word())
    }

    /// `seL4_CNode_Mint`.
    #[allow(clippy::too_many_arguments)]
    pub fn cnode_mint(
        dest_index: Word,
        dest_depth: u8,
        src_root: CNode,
        src_index: Word,
        src_depth: u8,
        rights: CapRights,
        badge: Word,
    ) -> Invocation {
        Invocation::new(label::CNodeMint)
            .cap(src_root)
            .mr(dest_index)
            .mr(depth(dest_depth))
            .mr(src_index)
            .mr(depth(src_depth))
            .mr(rights.into_word())
            .mr(badge)
    }

    /// `seL4_CNode_Move`.
    pub fn cnode_move(
        dest_index: Word,
        dest_depth: u8,
        src_root: CNode,
        src_index: Word,
        src_depth: u8,
    ) -> Invocation {
        Invocation::new(label::CNodeMove)
            .cap(src_root)
            .mr(dest_index)
            .mr(depth(dest_depth))
            .mr(src_index)
            .mr(depth(src_depth))
    }

    /// `seL4_CNode_Mutate`.
    pub fn cnode_mutate(
        dest_index: Word,
        dest_depth: u8,
        src_root: CNode,
        src_index: Word,
        src_depth: u8,
        badge: Word,
    ) -> Invocation {
        Invocation::new(label::CNodeMutate)
            .cap(src_root)
            .mr(dest_index)
            .mr(depth(dest_depth))
            .mr(src_index)
            .mr(depth(src_depth))
            .mr(badge)
    }

    /// `seL4_TCB_Configure` (non-MCS). `fault_ep` is a slot address looked up
    /// in the *target* thread's CSpace when a fault happens, not a cap transfer.
    pub fn tcb_configure(
        fault_ep: CPtr,
        cspace_root: CNode,
        cspace_root_data: CNodeCapData,
        vspace_root: VSpace,
        vspace_root_data: Word,
        buffer: Word,
        buffer_frame: CPtr,
    ) -> Invocation {
        Invocation::new(label::TCBConfigure)
            .cap(cspace_root)
            .cap(vspace_root)
            .cap(buffer_frame)
            .mr(fault_ep.0)
            .mr(cspace_root_data.into_word())
            .mr(vspace_root_data)
            .mr(buffer)
    }

    /// `seL4_TCB_SetSpace` (non-MCS).
    pub fn tcb_set_space(
        fault_ep: CPtr,
        cspace_root: CNode,
        cspace_root_data: CNodeCapData,
        vspace_root: VSpace,
        vspace_root_data: Word,
    ) -> Invocation {
        Invocation::new(label::TCBSetSpace)
            .cap(cspace_root)
            .cap(vspace_root)
            .mr(fault_ep.0)
            .mr(cspace_root_data.into_word())
            .mr(vspace_root_data)
    }

    /// `seL4_TCB_SetSchedParams` (non-MCS).
    pub fn tcb_set_sched_params(authority: Tcb, mcp: Word, priority: Word) -> Invocation {
        Invocation::new(label::TCBSetSchedParams)
            .cap(authority)
            .mr(mcp)
            .mr(priority)
    }

    /// `seL4_TCB_SetPriority`.
    pub fn tcb_set_priority(authority: Tcb, priority: Word) -> Invocation {
        Invocation::new(label::TCBSetPriority)
            .cap(authority)
            .mr(priority)
    }

    /// `seL4_TCB_SetMCPriority`.
    pub fn tcb_set_mc_priority(authority: Tcb, mcp: Word) -> Invocation {
        Invocation::new(label::TCBSetMCPriority)
            .cap(authority)
            .mr(mcp)
    }

    /// `seL4_TCB_SetIPCBuffer`.
    pub fn tcb_set_ipc_buffer(buffer: Word, buffer_frame: Frame) -> Invocation {
        Invocation::new(label::TCBSetIPCBuffer)
            .cap(buffer_frame)
            .mr(buffer)
    }

    /// `seL4_TCB_SetTLSBase`.
    pub fn tcb_set_tls_base(tls_base: Word) -> Invocation {
        Invocation::new(label::TCBSetTLSBase).mr(tls_base)
    }

    /// `seL4_TCB_ReadRegisters`: `count` is clamped to the context size.
    pub fn tcb_read_registers(suspend_source: bool, arch_flags: u8, count: usize) -> Invocation {
        let count = count.min(UserContext::WORDS);
        Invocation::new(label::TCBReadRegisters)
            .mr(suspend_source as Word | (arch_flags as Word) << 8)
            .mr(count as Word)
    }

    /// `seL4_TCB_WriteRegisters`: sends the first `count` words of `regs`
    /// (kernel order; `count` is clamped to the context size).
    pub fn tcb_write_registers(
        resume_target: bool,
        arch_flags: u8,
        count: usize,
        regs: &UserContext,
    ) -> Invocation {
        let count = count.min(UserContext::WORDS);
        let mut inv = Invocation::new(label::TCBWriteRegisters)
            .mr(resume_target as Word | (arch_flags as Word) << 8)
            .mr(count as Word);
        for w in regs.as_words().iter().take(count) {
            inv = inv.mr(*w);
        }
        inv
    }

    /// `seL4_TCB_Resume`.
    pub fn tcb_resume() -> Invocation {
        Invocation::new(label::TCBResume)
    }

    /// `seL4_TCB_Suspend`.
    pub fn tcb_suspend() -> Invocation {
        Invocation::new(label::TCBSuspend)
    }

    /// `seL4_TCB_BindNotification`.
    pub fn tcb_bind_notification(notification: Notification) -> Invocation {
        Invocation::new(label::TCBBindNotification).cap(notification)
    }

    /// `seL4_TCB_UnbindNotification`.
    pub fn tcb_unbind_notification() -> Invocation {
        Invocation::new(label::TCBUnbindNotification)
    }

    /// `seL4_ARM_Page_Map`.
    pub fn page_map(
        vspace: VSpace,
        vaddr: Word,
        rights: CapRights,
        attr: VmAttributes,
    ) -> Invocation {
        Invocation::new(label::ARMPageMap)
            .cap(vspace)
            .mr(vaddr)
            .mr(rights.into_word())
            .mr(attr.into_word())
    }

    /// `seL4_ARM_Page_Unmap`.
    pub fn page_unmap() -> Invocation {
        Invocation::new(label::ARMPageUnmap)
    }

    /// `seL4_ARM_Page_GetAddress`; the reply's MR0 is the physical address.
    pub fn page_get_address() -> Invocation {
        Invocation::new(label::ARMPageGetAddress)
    }

    /// `seL4_ARM_Page_{Clean,Invalidate,CleanInvalidate}_Data` /
    /// `Unify_Instruction` over `[start_offset, end_offset)` of the frame.
    pub fn page_cache_op(op: CacheOp, start_offset: Word, end_offset: Word) -> Invocation {
        let l = match op {
            CacheOp::CleanData => label::ARMPageClean_Data,
            CacheOp::InvalidateData => label::ARMPageInvalidate_Data,
            CacheOp::CleanInvalidateData => label::ARMPageCleanInvalidate_Data,
            CacheOp::UnifyInstruction => label::ARMPageUnify_Instruction,
        };
        Invocation::new(l).mr(start_offset).mr(end_offset)
    }

    /// `seL4_ARM_VSpace_{Clean,Invalidate,CleanInvalidate}_Data` /
    /// `Unify_Instruction` over virtual addresses `[start, end)`.
    pub fn vspace_cache_op(op: CacheOp, start: Word, end: Word) -> Invocation {
        let l = match op {
            CacheOp::CleanData => label::ARMVSpaceClean_Data,
            CacheOp::InvalidateData => label::ARMVSpaceInvalidate_Data,
            CacheOp::CleanInvalidateData => label::ARMVSpaceCleanInvalidate_Data,
            CacheOp::UnifyInstruction => label::ARMVSpaceUnify_Instruction,
        };
        Invocation::new(l).mr(start).mr(end)
    }

    /// `seL4_ARM_PageTable_Map`.
    pub fn page_table_map(vspace: VSpace, vaddr: Word, attr: VmAttributes) -> Invocation {
        Invocation::new(label::ARMPageTableMap)
            .cap(vspace)
            .mr(vaddr)
            .mr(attr.into_word())
    }

    /// `seL4_ARM_PageTable_Unmap`.
    pub fn page_table_unmap() -> Invocation {
        Invocation::new(label::ARMPageTableUnmap)
    }

    /// `seL4_ARM_ASIDPool_Assign`.
    pub fn asid_pool_assign(vspace: VSpace) -> Invocation {
        Invocation::new(label::ARMASIDPoolAssign).cap(vspace)
    }

    /// `seL4_ARM_ASIDControl_MakePool`.
    pub fn asid_control_make_pool(untyped: Untyped, root: CNode, index: Word, d: u8) -> Invocation {
        Invocation::new(label::ARMASIDControlMakePool)
            .cap(untyped)
            .cap(root)
            .mr(index)
            .mr(depth(d))
    }

    /// `seL4_ARM_VCPU_SetTCB`.
    pub fn vcpu_set_tcb(tcb: Tcb) -> Invocation {
        Invocation::new(label::ARMVCPUSetTCB).cap(tcb)
    }

    /// `seL4_ARM_VCPU_ReadRegs`; the reply's MR0 is the value.
    pub fn vcpu_read_reg(reg: VcpuReg) -> Invocation {
        Invocation::new(label::ARMVCPUReadReg).mr(reg.raw())
    }

    /// `seL4_ARM_VCPU_WriteRegs`.
    pub fn vcpu_write_reg(reg: VcpuReg, value: Word) -> Invocation {
        Invocation::new(label::ARMVCPUWriteReg)
            .mr(reg.raw())
            .mr(value)
    }

    /// `seL4_ARM_VCPU_InjectIRQ`: all four fields share MR0
    /// (virq bits 0..16, priority 16..24, group 24..32, list-register index 32..40).
    pub fn vcpu_inject_irq(virq: u16, priority: u8, group: u8, index: u8) -> Invocation {
        Invocation::new(label::ARMVCPUInjectIRQ).mr(virq as Word
            | (priority as Word) << 16
            | (group as Word) << 24
            | (index as Word) << 32)
    }

    /// `seL4_ARM_VCPU_AckVPPI`.
    pub fn vcpu_ack_vppi(irq: Word) -> Invocation {
        Invocation::new(label::ARMVCPUAckVPPI).mr(irq)
    }

    /// `seL4_IRQControl_Get`.
    pub fn irq_control_get(irq: Word, root: CNode, index: Word, d: u8) -> Invocation {
        Invocation::new(label::IRQIssueIRQHandler)
            .cap(root)
            .mr(irq)
            .mr(index)
            .mr(depth(d))
    }

    /// `seL4_IRQControl_GetTrigger`.
    pub fn irq_control_get_trigger(
        irq: Word,
        trigger: IrqTrigger,
        root: CNode,
        index: Word,
        d: u8,
    ) -> Invocation {
        Invocation::new(label::ARMIRQIssueIRQHandlerTrigger)
            .cap(root)
            .mr(irq)
            .mr(trigger as Word)
            .mr(index)
            .mr(depth(d))
    }

    /// `seL4_IRQHandler_Ack`.
    pub fn irq_handler_ack() -> Invocation {
        Invocation::new(label::IRQAckIRQ)
    }

    /// `seL4_IRQHandler_SetNotification`.
    pub fn irq_handler_set_notification(notification: Notification) -> Invocation {
        Invocation::new(label::IRQSetIRQHandler).cap(notification)
    }

    /// `seL4_IRQHandler_Clear`.
    pub fn irq_handler_clear() -> Invocation {
        Invocation::new(label::IRQClearIRQHandler)
    }

    /// `seL4_ARM_SMC_Call`; the reply's MR0..7 are the result registers.
    pub fn smc_call(args: &SmcContext) -> Invocation {
        let mut inv = Invocation::new(label::ARMSMCCall);
        for w in args.as_words() {
            inv = inv.mr(w);
        }
        inv
    }
}

#[cfg(test)]
mod tests {
    use super::encode::*;
    use super::*;
    use crate::cap::Cap;

    const ROOT: CNode = Cap::from_bits(2);
    const BADGE: Word = 0xbad;

    #[test]
    fn retype_layout() {
        let inv = untyped_retype(9, 0, ROOT, 0, 0, 0x90, 4);
        assert_eq!(inv.label(), 1);
        assert_eq!(inv.mrs(), &[9, 0, 0, 0, 0x90, 4]);
        assert_eq!(inv.caps(), &[CPtr(2)]);
        let info = inv.info();
        assert_eq!((info.label(), info.extra_caps(), info.length()), (1, 1, 6));
    }

    #[test]
    fn cnode_layouts_put_depths_in_own_words() {
        // A u8 after a word starts a new word (alignment), and the next word
        // parameter is word-aligned again, so each depth takes a whole MR.
        let inv = cnode_mint(0x50, 64, ROOT, 0x7, 64, CapRights::ALL, BADGE);
        assert_eq!(inv.label(), label::CNodeMint);
        assert_eq!(inv.mrs(), &[0x50, 64, 0x7, 64, 0xf, BADGE]);
        assert_eq!(inv.caps(), &[CPtr(2)]);
        let inv = cnode_copy(1, 12, ROOT, 2, 12, CapRights::READ);
        assert_eq!(inv.mrs(), &[1, 12, 2, 12, 0b10]);
        let inv = cnode_delete(0x33, 64);
        assert_eq!((inv.label(), inv.mrs()), (18, &[0x33, 64][..]));
        assert!(inv.caps().is_empty());
    }

    #[test]
    fn tcb_configure_layout() {
        let inv = tcb_configure(
            CPtr(0x20),
            ROOT,
            CNodeCapData::new(0, 52),
            Cap::from_bits(3),
            0,
            0x1000,
            CPtr(10),
        );
        assert_eq!(inv.label(), 5);
        assert_eq!(inv.mrs(), &[0x20, 52, 0, 0x1000]);
        assert_eq!(inv.caps(), &[CPtr(2), CPtr(3), CPtr(10)]);
        assert_eq!(inv.info().extra_caps(), 3);
    }

    #[test]
    fn register_flags_are_packed() {
        let inv = tcb_read_registers(true, 0x5a, 100);
        assert_eq!(inv.mrs(), &[1 | 0x5a << 8, 36]);
        let ctx = UserContext {
            pc: 0x40_0000,
            sp: 0x50_0000,
            tpidrro_el0: 0x60_0000,
            ..Default::default()
        };
        let inv = tcb_write_registers(false, 0, 36, &ctx);
        assert_eq!(inv.mrs().len(), 38);
        assert_eq!(&inv.mrs()[..4], &[0, 36, 0x40_0000, 0x50_0000]);
        assert_eq!(inv.mrs()[37], 0x60_0000);
        let inv = tcb_write_registers(true, 0, 2, &ctx);
        assert_eq!(inv.mrs(), &[1, 2, 0x40_0000, 0x50_0000]);
    }

    #[test]
    fn vcpu_and_page_layouts() {
        let inv = vcpu_inject_irq(27, 0xa0, 1, 3);
        assert_eq!(inv.label(), label::ARMVCPUInjectIRQ);
        assert_eq!(inv.mrs(), &[27 | 0xa0 << 16 | 1 << 24 | 3 << 32]);
        assert_eq!(vcpu_write_reg(VcpuReg::Cntvoff, 9).mrs(), &[22, 9]);
        let inv = page_map(
            Cap::from_bits(3),
            0x1000_0000,
            CapRights::READ_WRITE,
            VmAttributes::DEFAULT,
        );
        assert_eq!(
            (inv.label(), inv.mrs(), inv.caps()),
            (40, &[0x1000_0000, 3, 3][..], &[CPtr(3)][..])
        );
        assert_eq!(
            page_cache_op(CacheOp::UnifyInstruction, 0, 4096).label(),
            45
        );
        assert_eq!(vspace_cache_op(CacheOp::CleanData, 0, 4096).label(), 33);
        let inv = irq_control_get_trigger(33, IrqTrigger::Edge, ROOT, 0x99, 64);
        assert_eq!(inv.mrs(), &[33, 1, 0x99, 64]);
        assert_eq!(inv.caps(), &[CPtr(2)]);
        let inv = asid_control_make_pool(Cap::from_bits(0x40), ROOT, 0x41, 64);
        assert_eq!(inv.caps(), &[CPtr(0x40), CPtr(2)]);
        assert_eq!(inv.mrs(), &[0x41, 64]);
    }

    #[test]
    fn perform_marshals_through_ipc_buffer() {
        let mut ipc = IpcBuffer::default();
        let inv = cnode_mint(0x50, 64, ROOT, 0x7, 64, CapRights::ALL, BADGE);
        let reply = inv
            .perform_with(CPtr(2), &mut ipc, |svc, info, fast| {
                assert_eq!(svc, CPtr(2));
                assert_eq!(info, inv.info());
                assert_eq!(*fast, [0x50, 64, 0x7, 64]);
                MessageInfo::new(0, 0, 0, 0)
            })
            .unwrap();
        assert_eq!(reply.mrs().len(), 0);
        // MRs 4.. and the extra cap went to the IPC buffer.
        assert_eq!(&ipc.msg[4..6], &[0xf, BADGE]);
        assert_eq!(ipc.caps_or_badges[0], 2);
    }

    #[test]
    fn perform_reports_errors_and_reads_long_replies() {
        let mut ipc = IpcBuffer::default();
        let err = page_get_address()
            .perform_with(CPtr(5), &mut ipc, |_, _, _| MessageInfo::new(3, 0, 0, 0));
        assert_eq!(err, Err(Error::IllegalOperation));

        // The kernel leaves MRs 4.. of the reply in the IPC buffer; the
        // 2-word request does not touch them.
        for i in 4..36 {
            ipc.msg[i] = 100 + i as Word;
        }
        let reply = tcb_read_registers(false, 0, 36)
            .perform_with(CPtr(5), &mut ipc, |_, _, fast| {
                *fast = [10, 11, 12, 13];
                MessageInfo::new(0, 0, 0, 36)
            })
            .unwrap();
        assert_eq!(reply.mrs().len(), 36);
        let ctx = UserContext::from_words(reply.mrs());
        assert_eq!((ctx.pc, ctx.sp, ctx.spsr, ctx.x0), (10, 11, 12, 13));
        assert_eq!(ctx.x1, 104);
        assert_eq!(ctx.tpidrro_el0, 135);
        assert_eq!(reply.mr(40), 0);
    }
}
