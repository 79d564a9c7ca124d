//! The event loop (`vm_run`): receive, decode once, dispatch to a handler
//! that returns an [`Action`], and perform that action in one internal function,
//! the only place that replies to the kernel.

use crate::abort::{external_abort, FaultPolicy};
use crate::arch::emulate;
use crate::arch::insn::{decode_load_store, Addressing, MemKind};
use crate::arch::stage1::{self, Stage1Regs, WalkError};
use crate::arch::syndrome::Syndrome;
use crate::backend::{Backend, Event, UserContext, VcpuId, VcpuReg};
use crate::error::{BackendError, Error, Result};
use crate::fault::{uses_sp_el1, FaultRegs, MemFault};
use crate::psci::Conduit;
use crate::reservation::FaultResult;
use crate::sleep::WfiOutcome;
use crate::vm::{VcpuState, Vm};

/// What to do with a vCPU after its fault was handled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Reply; the vCPU re-executes or continues at its current PC.
    Resume,
    /// Step over the faulting instruction (PC += 4), then reply.
    Advance,
    /// Do not reply now. For WFI the vCPU is woken (and stepped over the
    /// WFI) by the next IRQ injected into it; otherwise call
    /// [`Vm::advance_vcpu_fault`] or [`Vm::restart_vcpu_fault`] later.
    Stay,
    /// Suspend this vCPU; the rest of the VM keeps running.
    StopVcpu,
    /// End [`Vm::run`] with [`ExitReason::Stopped`].
    StopVm,
}

/// Why [`Vm::run`] returned.
///
/// Corresponds to `vm_run.exit_reason` (libsel4vm only records a code).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitReason {
    /// The VM has not run yet.
    None,
    /// A handler returned [`Action::StopVm`] or [`Vm::stop`] was called.
    Stopped,
    /// The backend reports that no further event can arrive.
    Idle,
    /// An event named a vCPU the VM does not have.
    UnknownVcpu {
        /// The bogus id.
        vcpu: VcpuId,
    },
    /// A memory fault nobody handled.
    UnhandledMemFault {
        /// Faulting vCPU.
        vcpu: VcpuId,
        /// Guest PC.
        ip: u64,
        /// Guest-physical address.
        addr: u64,
        /// Syndrome.
        fsr: u32,
    },
    /// A fault callback returned [`FaultResult::Error`].
    MemFaultError {
        /// Faulting vCPU.
        vcpu: VcpuId,
        /// Guest PC.
        ip: u64,
        /// Guest-physical address.
        addr: u64,
        /// Syndrome.
        fsr: u32,
    },
    /// A data abort that could not be decoded into a register access.
    UndecodableAbort {
        /// Faulting vCPU.
        vcpu: VcpuId,
        /// Guest PC.
        ip: u64,
        /// Guest-physical address.
        addr: u64,
        /// Syndrome.
        fsr: u32,
    },
    /// A VCPU fault (trapped instruction) nobody handled.
    UnhandledVcpuFault {
        /// Faulting vCPU.
        vcpu: VcpuId,
        /// Syndrome.
        hsr: u32,
    },
    /// A user callback failed.
    CallbackFailed {
        /// vCPU involved, if any.
        vcpu: Option<VcpuId>,
        /// The callback's error.
        error: Error,
    },
    /// `seL4_Fault_UnknownSyscall` from a vCPU. [`Vm::run`] no longer ends
    /// with this: on seL4 that fault is how a guest HVC arrives, and it is
    /// answered as an SMCCC call over HVC.
    UnknownSyscall {
        /// Faulting vCPU.
        vcpu: VcpuId,
        /// Guest PC.
        ip: u64,
        /// Syscall number.
        syscall: u64,
    },
    /// `seL4_Fault_UserException` from a vCPU.
    UserException {
        /// Faulting vCPU.
        vcpu: VcpuId,
        /// Guest PC.
        ip: u64,
        /// Exception number.
        number: u64,
        /// Exception code.
        code: u64,
    },
    /// A fault with a label nobody knows.
    UnknownFault {
        /// Faulting vCPU.
        vcpu: VcpuId,
        /// Message label.
        label: u64,
    },
    /// A notification arrived and no notification callback is registered.
    UnhandledNotification {
        /// Its badge.
        badge: u64,
    },
    /// The backend failed.
    Backend(BackendError),
    /// The guest powered the system off (PSCI `SYSTEM_OFF`, or `CPU_OFF` of
    /// the last vCPU that was on). All vCPUs are stopped.
    SystemOff {
        /// The vCPU that asked.
        vcpu: VcpuId,
    },
    /// The guest asked for a reset (PSCI `SYSTEM_RESET`). All vCPUs are
    /// stopped; the VMM restarts the VM (reload images,
    /// [`Vm::reset_irq_controller`], start the boot vCPU) and runs again.
    SystemReset {
        /// The vCPU that asked.
        vcpu: VcpuId,
    },
}

impl ExitReason {
    /// libsel4vm's exit code for this reason (`vm_exit_codes_t`, -1 = error).
    pub fn code(&self) -> i32 {
        match self {
            ExitReason::None => 3, // VM_GUEST_UNKNOWN_EXIT
            ExitReason::Stopped
            | ExitReason::Idle
            | ExitReason::SystemOff { .. }
            | ExitReason::SystemReset { .. } => 0, // no error
            ExitReason::UnhandledNotification { .. } => 2, // VM_GUEST_NOTIFICATION_EXIT
            _ => -1,               // VM_GUEST_ERROR_EXIT
        }
    }
}

// Compact and hand-written (no derived `Debug` in the VMM); vCPU, PC and
// address stay in every message that has them.
impl core::fmt::Display for ExitReason {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let (what, vcpu, ip, addr, fsr): (_, _, u64, u64, u32) = match *self {
            ExitReason::None => return f.write_str("not run yet"),
            ExitReason::Stopped => return f.write_str("stopped"),
            ExitReason::Idle => return f.write_str("idle"),
            ExitReason::UnknownVcpu { vcpu } => return write!(f, "unknown {vcpu}"),
            ExitReason::UnhandledMemFault {
                vcpu,
                ip,
                addr,
                fsr,
            } => ("unhandled memory fault", vcpu, ip, addr, fsr),
            ExitReason::MemFaultError {
                vcpu,
                ip,
                addr,
                fsr,
            } => ("memory fault handler failed", vcpu, ip, addr, fsr),
            ExitReason::UndecodableAbort {
                vcpu,
                ip,
                addr,
                fsr,
            } => ("undecodable data abort", vcpu, ip, addr, fsr),
            ExitReason::UnhandledVcpuFault { vcpu, hsr } => {
                return write!(f, "unhandled vcpu fault: {vcpu} hsr {hsr:#x}")
            }
            ExitReason::CallbackFailed {
                vcpu: Some(v),
                error,
            } => return write!(f, "callback failed: {v}: {error}"),
            ExitReason::CallbackFailed { vcpu: None, error } => {
                return write!(f, "callback failed: {error}")
            }
            ExitReason::UnknownSyscall { vcpu, ip, syscall } => {
                return write!(f, "unknown syscall {syscall:#x}: {vcpu} ip {ip:#x}")
            }
            ExitReason::UserException {
                vcpu,
                ip,
                number,
                code,
            } => {
                return write!(
                    f,
                    "user exception {number:#x} code {code:#x}: {vcpu} ip {ip:#x}"
                )
            }
            ExitReason::UnknownFault { vcpu, label } => {
                return write!(f, "unknown fault label {label:#x}: {vcpu}")
            }
            ExitReason::UnhandledNotification { badge } => {
                return write!(f, "unhandled notification, badge {badge:#x}")
            }
            ExitReason::Backend(e) => return write!(f, "backend: {e}"),
            ExitReason::SystemOff { vcpu } => return write!(f, "system off by {vcpu}"),
            ExitReason::SystemReset { vcpu } => return write!(f, "system reset by {vcpu}"),
        };
        write!(f, "{what}: {vcpu} ip {ip:#x} addr {addr:#x} fsr {fsr:#x}")
    }
}

impl From<BackendError> for ExitReason {
    fn from(e: BackendError) -> Self {
        ExitReason::Backend(e)
    }
}

impl<B: Backend> Vm<B> {
    /// Runs the event loop until the VM stops or an event cannot be
    /// handled. Unhandled events are logged with vCPU, PC and address and
    /// end the loop with a reason; nothing here panics on guest input.
    ///
    /// Corresponds to `vm_run`.
    pub fn run(&mut self) -> ExitReason {
        self.run.stop = false;
        // Kernel calls are counted from one receive to the next.
        let mut calls = self.backend.kernel_calls();
        self.run.in_loop = true;
        let reason = loop {
            let event = match self.backend.wait_event() {
                Ok(e) => e,
                Err(BackendError::NoEvent) => break ExitReason::Idle,
                Err(e) => break ExitReason::Backend(e),
            };
            let t0 = self.backend.counter();
            let res = self.dispatch(event);
            let res = res
                .and_then(|()| self.refresh_wakeup().map_err(|e| err_reason(None, e)))
                .and_then(|()| {
                    self.update_quantum(event.vcpu())
                        .map_err(|e| err_reason(None, e))
                })
                .and_then(|()| self.directed_yield(event.vcpu()));
            let now = self.backend.kernel_calls();
            self.count_event(&event, now.wrapping_sub(calls));
            if let (Some(a), Some(b)) = (t0, self.backend.counter()) {
                self.stats.busy_ticks += b.saturating_sub(a);
            }
            calls = now;
            if let Err(reason) = res {
                break reason;
            }
            if self.run.stop {
                break ExitReason::Stopped;
            }
        };
        self.run.in_loop = false;
        let reason = match self.backend.flush_replies() {
            Err(e) if matches!(reason, ExitReason::Stopped | ExitReason::Idle) => {
                ExitReason::Backend(e)
            }
            _ => reason,
        };
        if !matches!(
            reason,
            ExitReason::Stopped
                | ExitReason::Idle
                | ExitReason::SystemOff { .. }
                | ExitReason::SystemReset { .. }
        ) {
            log::error!("{}: stopping: {}", self.name(), reason);
        }
        self.run.exit_reason = reason;
        reason
    }

    /// Why the last [`Vm::run`] returned.
    ///
    /// Corresponds to `vm_run.exit_reason`.
    pub fn exit_reason(&self) -> ExitReason {
        self.run.exit_reason
    }

    /// Asks [`Vm::run`] to return after the current event.
    pub fn stop(&mut self) {
        self.run.stop = true;
    }

    /// Sets the callback for notifications on the VMM endpoint.
    ///
    /// Corresponds to `vm_register_notification_callback`.
    pub fn register_notification_callback(
        &mut self,
        callback: impl FnMut(&mut Vm<B>, u64) -> Result<()> + 'static,
    ) {
        self.run.notification = Some(alloc::boxed::Box::new(callback));
    }

    /// Completes a fault left pending by [`Action::Stay`]: step over the
    /// instruction and reply.
    ///
    /// Corresponds to `advance_vcpu_fault`.
    pub fn advance_vcpu_fault(&mut self, vcpu: VcpuId) -> Result<()> {
        self.check_pending(vcpu)?;
        self.complete(vcpu, Action::Advance, None)
    }

    /// Completes a fault left pending by [`Action::Stay`]: reply without
    /// stepping, so the instruction runs again.
    ///
    /// Corresponds to `restart_vcpu_fault`.
    pub fn restart_vcpu_fault(&mut self, vcpu: VcpuId) -> Result<()> {
        self.check_pending(vcpu)?;
        self.complete(vcpu, Action::Resume, None)
    }

    fn check_pending(&self, vcpu: VcpuId) -> Result<()> {
        match self.vcpu(vcpu)?.state {
            VcpuState::Pending | VcpuState::WaitingForIrq => Ok(()),
            _ => Err(Error::NoPendingFault(vcpu)),
        }
    }

    /// Performs `action` for `vcpu`: the single place that replies.
    /// `ctx`, if given, is the register state to install before replying.
    pub(crate) fn complete(
        &mut self,
        vcpu: VcpuId,
        action: Action,
        ctx: Option<UserContext>,
    ) -> Result<()> {
        let i = vcpu.0 as usize;
        match action {
            Action::Resume | Action::Advance => {
                let mut ctx = ctx;
                if action == Action::Advance {
                    let mut c = match ctx {
                        Some(c) => c,
                        None => self.backend.read_context(vcpu)?,
                    };
                    c.set_pc(c.pc().wrapping_add(4));
                    ctx = Some(c);
                }
                if let Some(c) = ctx {
                    self.backend.write_context(vcpu, &c)?;
                }
                if self.run.in_loop {
                    // Sent with the loop's next receive.
                    self.backend.reply_deferred(vcpu)?;
                } else {
                    self.backend.reply(vcpu)?;
                }
                self.vcpus[i].state = VcpuState::Running;
            }
            Action::Stay => {
                if let Some(c) = ctx {
                    self.backend.write_context(vcpu, &c)?;
                }
                if self.vcpus[i].state != VcpuState::WaitingForIrq {
                    self.vcpus[i].state = VcpuState::Pending;
                }
            }
            Action::StopVcpu => {
                self.backend.stop_vcpu(vcpu)?;
                self.vcpus[i].state = VcpuState::Offline;
            }
            Action::StopVm => self.run.stop = true,
        }
        Ok(())
    }

    fn dispatch(&mut self, event: Event) -> Result<(), ExitReason> {
        if let Some(vcpu) = event.vcpu() {
            if self.check_vcpu(vcpu).is_err() {
                return Err(ExitReason::UnknownVcpu { vcpu });
            }
            // A vCPU that sends a fault is running guest code, whatever we thought.
            let st = &mut self.vcpus[vcpu.0 as usize].state;
            if *st != VcpuState::Running {
                *st = VcpuState::Running;
            }
        }
        let (vcpu, action, ctx) = match event {
            Event::VmFault {
                vcpu,
                ip,
                addr,
                fsr,
                prefetch,
            } => {
                let (a, c) = self.handle_vm_fault(vcpu, ip, addr, fsr, prefetch)?;
                (vcpu, a, c)
            }
            Event::VcpuFault { vcpu, hsr } => {
                let (a, c) = self.handle_vcpu_fault(vcpu, hsr)?;
                (vcpu, a, c)
            }
            Event::VgicMaintenance { vcpu, lr } => {
                self.irq_maintenance(vcpu, lr)
                    .map_err(|e| err_reason(Some(vcpu), e))?;
                (vcpu, Action::Resume, None)
            }
            Event::VppiEvent { vcpu, irq } => {
                self.vppi_event(vcpu, irq)
                    .map_err(|e| err_reason(Some(vcpu), e))?;
                (vcpu, Action::Resume, None)
            }
            Event::UnknownSyscall { vcpu, ip, syscall } => {
                // seL4 takes a guest HVC into its system-call path, with x7
                // as the number; one outside the kernel's range comes here,
                // its fault address being the HVC itself. The immediate is
                // not reported: SMCCC calls use 0.
                log::trace!("{}: {vcpu} HVC at {ip:#x} (x7 = {syscall:#x})", self.name());
                let (a, c) = self.firmware_call(vcpu, Conduit::Hvc, 0, false)?;
                (vcpu, a, c)
            }
            Event::SyscallCapFault { vcpu, ip, cptr } => {
                // The kernel ran the guest's HVC as a seL4 call on a cap the
                // vCPU's CSpace does not hold; nothing happened besides the
                // fault. Answer it as the SMCCC call the guest meant.
                log::warn!(
                    "{}: {vcpu} HVC at {ip:#x} taken by seL4 as a system call on cap {cptr:#x} (x7 is a seL4 syscall number); answered as an SMCCC call",
                    self.name()
                );
                let (a, c) = self.firmware_call(vcpu, Conduit::Hvc, 0, false)?;
                (vcpu, a, c)
            }
            Event::UserException {
                vcpu,
                ip,
                number,
                code,
            } => {
                return Err(ExitReason::UserException {
                    vcpu,
                    ip,
                    number,
                    code,
                })
            }
            Event::UnknownFault { vcpu, label } => {
                // Not a fault the kernel sends: on seL4 a guest can forge such a
                // message with an HVC that calls its own fault endpoint. Stop the
                // VM without replying; the vCPU stays blocked.
                let ip = self.backend.read_context(vcpu).map_or(0, |c| c.pc());
                log::error!(
                    "{}: {vcpu} at {ip:#x} sent a message with label {label} that is no fault",
                    self.name()
                );
                return Err(ExitReason::UnknownFault { vcpu, label });
            }
            Event::Notification { badge } => return self.handle_notification(badge),
            Event::Wakeup => {
                return self.wakeup_fired().map_err(|e| err_reason(None, e));
            }
        };
        self.complete(vcpu, action, ctx)
            .map_err(|e| err_reason(Some(vcpu), e))
    }

    /// After an event: a runnable vCPU that was given an interrupt (or the
    /// core at the end of a quantum) is put first among the vCPUs. It runs
    /// when the VMM next waits if the event needs no reply; after a vCPU's
    /// exit, seL4 resumes the replied-to vCPU first (docs/kernel.md).
    fn directed_yield(&mut self, current: Option<VcpuId>) -> Result<(), ExitReason> {
        let Some(v) = self.run.yield_to.take() else {
            return Ok(());
        };
        let runnable = |s: VcpuState| s == VcpuState::Running;
        if Some(v) == current
            || !runnable(self.vcpus[v.0 as usize].state)
            // Alone, it is first in line anyway.
            || !self.vcpus.iter().any(|o| o.id() != v && runnable(o.state))
        {
            return Ok(());
        }
        self.backend.yield_to(v).map_err(ExitReason::Backend)
    }

    fn handle_notification(&mut self, badge: u64) -> Result<(), ExitReason> {
        let bits = badge & !crate::backend::badge::NOTIFICATION_BIT;
        let left = self
            .route_bits(bits)
            .map_err(|error| ExitReason::CallbackFailed { vcpu: None, error })?;
        if left == 0 && bits != 0 {
            return Ok(());
        }
        // The callback sees the badge as received, less the routed bits.
        let badge = badge & !(bits & !left);
        let Some(mut cb) = self.run.notification.take() else {
            return Err(ExitReason::UnhandledNotification { badge });
        };
        let res = cb(self, badge);
        if self.run.notification.is_none() {
            self.run.notification = Some(cb);
        }
        res.map_err(|error| ExitReason::CallbackFailed { vcpu: None, error })
    }

    fn handle_vcpu_fault(
        &mut self,
        vcpu: VcpuId,
        hsr: u32,
    ) -> Result<(Action, Option<UserContext>), ExitReason> {
        let i = vcpu.0 as usize;
        if let Some(mut h) = self.vcpu_fault_handlers[i].take() {
            let res = h(self, vcpu, hsr);
            if self.vcpu_fault_handlers[i].is_none() {
                self.vcpu_fault_handlers[i] = Some(h);
            }
            if let Some(a) = res {
                return Ok((a, None));
            }
        }
        match Syndrome::decode(u64::from(hsr)) {
            Syndrome::Wfx(w) if w.is_wfi() => match self.wfi(vcpu) {
                Ok(WfiOutcome::Return) => Ok((Action::Advance, None)),
                Ok(WfiOutcome::Sleep) => Ok((Action::Stay, None)),
                Err(e) => Err(err_reason(Some(vcpu), e)),
            },
            Syndrome::Wfx(_) => match self.wfe(vcpu) {
                Ok(WfiOutcome::Return) => Ok((Action::Advance, None)),
                Ok(WfiOutcome::Sleep) => Ok((Action::Stay, None)),
                Err(e) => Err(err_reason(Some(vcpu), e)),
            },
            // A trapped SMC reports the SMC itself as the return address; HVC the next one.
            Syndrome::Smc64 { imm16 } => self.firmware_call(vcpu, Conduit::Smc, imm16, false),
            Syndrome::Hvc64 { imm16 } => self.firmware_call(vcpu, Conduit::Hvc, imm16, true),
            Syndrome::SysReg(iss) => match self.vgic_sysreg(vcpu, &iss) {
                Ok(Some((action, ctx))) => Ok((action, Some(ctx))),
                Ok(None) => Err(ExitReason::UnhandledVcpuFault { vcpu, hsr }),
                Err(e) => Err(err_reason(Some(vcpu), e)),
            },
            _ => Err(ExitReason::UnhandledVcpuFault { vcpu, hsr }),
        }
    }

    /// A guest SMC or HVC: the registered SMC handler if there is one, else
    /// the built-in PSCI 1.1 / SMCCC 1.1 firmware interface. `past` says
    /// whether the vCPU's PC already points after the instruction.
    fn firmware_call(
        &mut self,
        vcpu: VcpuId,
        conduit: Conduit,
        imm16: u16,
        past: bool,
    ) -> Result<(Action, Option<UserContext>), ExitReason> {
        let step = if past {
            Action::Resume
        } else {
            Action::Advance
        };
        let Some(mut h) = self.smc_handler.take() else {
            return self.psci_trap(vcpu, conduit, imm16, step);
        };
        let mut ctx = match self.backend.read_context(vcpu) {
            Ok(c) => c,
            Err(e) => {
                self.smc_handler = Some(h);
                return Err(ExitReason::Backend(e));
            }
        };
        let res = h(self, vcpu, &mut ctx);
        if self.smc_handler.is_none() {
            self.smc_handler = Some(h);
        }
        res.map_err(|error| ExitReason::CallbackFailed {
            vcpu: Some(vcpu),
            error,
        })?;
        Ok((step, Some(ctx)))
    }

    /// Stage-2 fault: decode the access once, run the reservation or
    /// unhandled callback, then complete the access in the registers.
    ///
    /// For `ISV == 0` aborts the instruction is fetched from guest memory at
    /// the faulting PC, a guest *virtual* address, translated through the
    /// guest's own page tables when its MMU is on. A PC that does not
    /// translate, and an access that cannot be emulated (FP/SIMD, exclusive,
    /// atomic), is an unclaimed access: the fault policy decides, and by
    /// default the guest gets an external abort.
    fn handle_vm_fault(
        &mut self,
        vcpu: VcpuId,
        ip: u64,
        addr: u64,
        fsr: u32,
        prefetch: bool,
    ) -> Result<(Action, Option<UserContext>), ExitReason> {
        let i = vcpu.0 as usize;
        let undecodable = ExitReason::UndecodableAbort {
            vcpu,
            ip,
            addr,
            fsr,
        };
        let unhandled = ExitReason::UnhandledMemFault {
            vcpu,
            ip,
            addr,
            fsr,
        };
        let error = ExitReason::MemFaultError {
            vcpu,
            ip,
            addr,
            fsr,
        };
        if prefetch {
            let mut f = MemFault::new(vcpu, ip, addr, fsr, None, 0);
            let res = self.dispatch_mem_fault(&mut f);
            self.vcpus[i].last_fault = Some(f);
            return match res {
                FaultResult::Handled | FaultResult::Restart => Ok((Action::Resume, None)),
                FaultResult::Ignore => Ok((Action::Advance, None)),
                FaultResult::Unhandled => self.unclaimed(vcpu, ip, addr, true, false, unhandled),
                FaultResult::Error => Err(error),
            };
        }
        // WnR from the syndrome (valid even when ISV is not).
        let iss_write = fsr & (1 << 6) != 0;
        let iss = match Syndrome::decode(u64::from(fsr)) {
            Syndrome::DataAbort { iss, .. } => iss,
            _ => {
                self.note_undecodable(
                    vcpu,
                    ip,
                    addr,
                    &format_args!("syndrome {fsr:#x} is not a data abort"),
                );
                return self.unclaimed(vcpu, ip, addr, false, iss_write, undecodable);
            }
        };
        let access = match iss.mem_access() {
            Some(a) => a,
            None if iss.cache_maintenance || iss.s1ptw => {
                self.note_undecodable(vcpu, ip, addr, &"not a register access");
                return self.unclaimed(vcpu, ip, addr, false, iss_write, undecodable);
            }
            None => {
                let word = match self.fetch_insn(vcpu, ip)? {
                    Ok(w) => w,
                    Err(e) => {
                        self.note_undecodable(
                            vcpu,
                            ip,
                            addr,
                            &format_args!("cannot fetch the instruction: {e}"),
                        );
                        return self.unclaimed(vcpu, ip, addr, false, iss_write, undecodable);
                    }
                };
                match decode_load_store(word) {
                    Ok(a) => a,
                    Err(e) => {
                        self.note_undecodable(vcpu, ip, addr, &e);
                        return self.unclaimed(vcpu, ip, addr, false, iss_write, undecodable);
                    }
                }
            }
        };
        let ctx = self.backend.read_context(vcpu)?;
        let needs_sp = matches!(
            access.addressing,
            Addressing::PreIndex { base: 31, .. } | Addressing::PostIndex { base: 31, .. }
        );
        let sp_el1 = if needs_sp && uses_sp_el1(ctx.spsr()) {
            Some(self.backend.read_vcpu_reg(vcpu, VcpuReg::SpEl1)?)
        } else {
            None
        };
        let mut regs = FaultRegs { ctx, sp_el1 };
        let data = match access.kind {
            MemKind::Store => emulate::store_data(&regs, &access).unwrap_or(0),
            MemKind::Load => 0,
        };
        let mut f = MemFault::new(vcpu, ip, addr, fsr, Some(access), data);
        let res = self.dispatch_mem_fault(&mut f);
        self.vcpus[i].last_fault = Some(f);
        match res {
            FaultResult::Handled => {
                let done = match access.kind {
                    MemKind::Load => emulate::complete_load(&mut regs, &access, f.data_u128()),
                    MemKind::Store => emulate::complete_store(&mut regs, &access),
                };
                if done.is_err() {
                    return Err(undecodable);
                }
                if let Some(sp) = regs.sp_el1 {
                    self.backend.write_vcpu_reg(vcpu, VcpuReg::SpEl1, sp)?;
                }
                Ok((Action::Advance, Some(regs.ctx)))
            }
            FaultResult::Ignore => Ok((Action::Advance, Some(ctx))),
            FaultResult::Restart => Ok((Action::Resume, None)),
            FaultResult::Unhandled => self.unclaimed(
                vcpu,
                ip,
                addr,
                false,
                access.kind == MemKind::Store,
                unhandled,
            ),
            FaultResult::Error => Err(error),
        }
    }

    /// Counts a data abort the VMM cannot fetch or emulate, and says why
    /// (rate-limited like injected aborts: a guest can repeat it at will).
    fn note_undecodable(&mut self, vcpu: VcpuId, ip: u64, addr: u64, why: &dyn core::fmt::Display) {
        self.stats.undecodable_aborts += 1;
        let n = self.stats.undecodable_aborts;
        if n <= 16 || n.is_power_of_two() {
            log::warn!(
                "{}: {vcpu} ip {ip:#x} addr {addr:#x}: {why} ({n} so far)",
                self.name()
            );
        }
    }

    /// Reads the A64 instruction at guest virtual address `pc`, walking the
    /// guest's stage-1 tables if its MMU is on.
    /// The outer error is the kernel's; the inner one is the guest's.
    fn fetch_insn(
        &mut self,
        vcpu: VcpuId,
        pc: u64,
    ) -> core::result::Result<core::result::Result<u32, FetchError>, BackendError> {
        let sctlr = self.backend.read_vcpu_reg(vcpu, VcpuReg::Sctlr)?;
        let ipa = if sctlr & stage1::SCTLR_M == 0 {
            pc
        } else {
            let regs = Stage1Regs {
                sctlr,
                tcr: self.backend.read_vcpu_reg(vcpu, VcpuReg::Tcr)?,
                ttbr0: self.backend.read_vcpu_reg(vcpu, VcpuReg::Ttbr0)?,
                ttbr1: self.backend.read_vcpu_reg(vcpu, VcpuReg::Ttbr1)?,
            };
            let mut mem = self.guest_memory();
            match stage1::translate(&regs, pc, |a| mem.read_u64(a).ok()) {
                Ok(ipa) => ipa,
                Err(e) => return Ok(Err(FetchError::Walk(e))),
            }
        };
        // Instruction fetches are little-endian whatever SCTLR_EL1.EE says.
        Ok(self
            .guest_memory()
            .read_u32(ipa)
            .map_err(|e| FetchError::Memory(ipa, e)))
    }

    /// An access nothing claims (or cannot decode): the fault policy for
    /// `addr` decides between an abort injected into the guest, a stopped
    /// vCPU, and ending the run with `reason`.
    fn unclaimed(
        &mut self,
        vcpu: VcpuId,
        ip: u64,
        addr: u64,
        fetch: bool,
        write: bool,
        reason: ExitReason,
    ) -> Result<(Action, Option<UserContext>), ExitReason> {
        match self.fault_policy_at(addr) {
            FaultPolicy::StopGuest => {
                log::error!("{}: {reason}", self.name());
                Err(reason)
            }
            FaultPolicy::StopVcpu => {
                log::error!("{}: {reason}; {vcpu} stopped", self.name());
                Ok((Action::StopVcpu, None))
            }
            FaultPolicy::InjectAbort => {
                let mut ctx = self.backend.read_context(vcpu)?;
                let vbar = self.backend.read_vcpu_reg(vcpu, VcpuReg::Vbar)?;
                let e = match external_abort(ctx.spsr(), ctx.pc(), vbar, fetch, write) {
                    Ok(e) => e,
                    Err(why) => {
                        log::error!("{}: {reason}; no abort injected: {why}", self.name());
                        return Err(reason);
                    }
                };
                self.backend.write_vcpu_reg(vcpu, VcpuReg::Esr, e.esr)?;
                self.backend.write_vcpu_reg(vcpu, VcpuReg::ElrEl1, e.elr)?;
                self.backend
                    .write_vcpu_reg(vcpu, VcpuReg::SpsrEl1, e.spsr)?;
                ctx.set_pc(e.pc);
                ctx.set_spsr(e.pstate);
                self.stats.injected_aborts += 1;
                let n = self.stats.injected_aborts;
                // Rate-limited: the first 16, then every power of two.
                if n <= 16 || n.is_power_of_two() {
                    log::warn!(
                        "{}: {vcpu}: {} abort injected for {} at {addr:#x}, pc {ip:#x} ({n} so far)",
                        self.name(),
                        if fetch { "instruction" } else { "data" },
                        if fetch {
                            "a fetch"
                        } else if write {
                            "a write"
                        } else {
                            "a read"
                        },
                    );
                }
                Ok((Action::Resume, Some(ctx)))
            }
        }
    }

    fn fault_policy_at(&self, addr: u64) -> FaultPolicy {
        self.mem
            .region_policies
            .iter()
            .rev()
            .find(|&&(s, e, _)| addr >= s && addr < e)
            .map_or(self.mem.fault_policy, |&(_, _, p)| p)
    }

    /// Sets what guest accesses no RAM, device or fault handler claims do,
    /// and data aborts the VMM cannot decode (the default:
    /// [`FaultPolicy::InjectAbort`], as hardware would raise a bus error).
    /// libsel4vm stops the VM on an unhandled fault:
    /// [`FaultPolicy::StopGuest`] is that behaviour.
    pub fn set_fault_policy(&mut self, policy: FaultPolicy) {
        self.mem.fault_policy = policy;
    }

    /// Sets the fault policy for guest-physical `[base, base + size)`,
    /// overriding [`Vm::set_fault_policy`] there (the latest setting wins
    /// where ranges overlap).
    pub fn set_region_fault_policy(
        &mut self,
        base: u64,
        size: u64,
        policy: FaultPolicy,
    ) -> Result<()> {
        let end = base.checked_add(size).ok_or(Error::Overflow)?;
        self.mem.region_policies.push((base, end, policy));
        Ok(())
    }

    fn dispatch_mem_fault(&mut self, f: &mut MemFault) -> FaultResult {
        match self.reservation_fault(f) {
            FaultResult::Unhandled => self.unhandled_mem_fault(f),
            r => r,
        }
    }
}

/// Why the instruction of an `ISV == 0` abort could not be fetched.
enum FetchError {
    /// The PC does not translate through the guest's page tables.
    Walk(WalkError),
    /// The PC translates to this IPA, which is not guest RAM.
    Memory(u64, Error),
}

impl core::fmt::Display for FetchError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            FetchError::Walk(e) => write!(f, "stage-1 walk: {e}"),
            FetchError::Memory(ipa, e) => write!(f, "at ipa {ipa:#x}: {e}"),
        }
    }
}

fn err_reason(vcpu: Option<VcpuId>, e: Error) -> ExitReason {
    match e {
        Error::Backend(b) => ExitReason::Backend(b),
        error => ExitReason::CallbackFailed { vcpu, error },
    }
}
