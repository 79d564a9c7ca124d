//! WFI that sleeps.
//!
//! A vCPU that executes WFI with nothing pending is not replied to: it
//! sleeps until an interrupt is injected into it or its virtual timer's
//! deadline passes. seL4 stops a vCPU's virtual timer while its thread is
//! blocked, so the VMM keeps its own one-shot wake-up timer
//! ([`Backend::set_wakeup`]) armed at the earliest deadline of its
//! sleeping vCPUs, in physical-counter time (`CNTV_CVAL + CNTVOFF`).
//! When it fires, every vCPU whose deadline has come is stepped over its
//! WFI; the kernel then restores its virtual timer, which fires at once.
//!
//! The timer may be one the guest can reach (seL4's exported EL1
//! physical timer is also the guest's): an early fire only wakes vCPUs
//! early, which the architecture allows (WFI may return spuriously), and
//! the deadline is armed again after every event, so a guest that moves
//! it delays at most its own vCPUs until its next exit.
//!
//! The same timer ends a vCPU's quantum while two or more vCPUs are
//! runnable ([`crate::VmConfig::vcpu_quantum_ticks`]): the next runnable
//! vCPU is given the core, so that one spinning without a trap cannot keep
//! it for the kernel's whole time slice.
//!
//! libsel4vm parks a WFI until the next injected IRQ and has no timer
//! wake-up; libvmm steps over WFI at once (libvmm issue #115). Neither
//! has a quantum.

use crate::backend::{Backend, VcpuId, VcpuReg};
use crate::error::BackendError;
use crate::error::Result;
use crate::run::Action;
use crate::vm::{VcpuState, Vm};
use crate::vtimer::{CTL_ENABLE, CTL_IMASK};

/// A VMM callback on the wake-up timer ([`Vm::set_periodic`]).
pub(crate) struct Periodic<B: Backend> {
    next: u64,
    period: u64,
    f: Option<PeriodicFn<B>>,
}

type PeriodicFn<B> = alloc::boxed::Box<dyn FnMut(&mut Vm<B>, u64)>;

/// What a trapped WFI should do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WfiOutcome {
    /// Step over it now.
    Return,
    /// Leave the vCPU blocked.
    Sleep,
}

impl<B: Backend> Vm<B> {
    /// The physical-counter deadline of `vcpu`'s virtual timer, if it can
    /// raise its interrupt (enabled and not masked).
    fn vtimer_deadline(&mut self, vcpu: VcpuId) -> Result<Option<u64>> {
        let ctl = self.backend.read_vcpu_reg(vcpu, VcpuReg::CntvCtl)?;
        if ctl & (CTL_ENABLE | CTL_IMASK) != CTL_ENABLE {
            return Ok(None);
        }
        let cval = self.backend.read_vcpu_reg(vcpu, VcpuReg::CntvCval)?;
        let off = self.backend.read_vcpu_reg(vcpu, VcpuReg::Cntvoff)?;
        // Virtual count = physical count - CNTVOFF.
        Ok(Some(cval.saturating_add(off)))
    }

    /// A trapped WFI of `vcpu`.
    pub(crate) fn wfi(&mut self, vcpu: VcpuId) -> Result<WfiOutcome> {
        if self.has_inflight_irq(vcpu) {
            return Ok(WfiOutcome::Return);
        }
        let i = vcpu.0 as usize;
        let deadline = self.vtimer_deadline(vcpu)?;
        self.vcpus[i].state = VcpuState::WaitingForIrq;
        self.vcpus[i].wake_at = deadline;
        if deadline.is_none() {
            if let Some(s) = self.vcpu_stats(vcpu) {
                s.wfi_sleeps += 1;
            }
            return Ok(WfiOutcome::Sleep);
        }
        match self.rearm_wakeup(Some(vcpu)) {
            Ok(true) => {
                self.vcpus[i].state = VcpuState::Running;
                Ok(WfiOutcome::Return)
            }
            Ok(false) => {
                if let Some(s) = self.vcpu_stats(vcpu) {
                    s.wfi_sleeps += 1;
                }
                Ok(WfiOutcome::Sleep)
            }
            // No wake-up timer: it would never wake; let the guest poll.
            Err(crate::Error::Backend(BackendError::Unsupported)) => {
                self.vcpus[i].state = VcpuState::Running;
                self.vcpus[i].wake_at = None;
                Ok(WfiOutcome::Return)
            }
            Err(e) => Err(e),
        }
    }

    /// Calls `f` with the deadline about every `period` ticks of the
    /// physical counter, on the wake-up timer, from one period from now,
    /// whatever the guest does (statistics, backend timeouts). Fails with
    /// `Unsupported` without a wake-up timer.
    pub fn set_periodic(
        &mut self,
        period: u64,
        f: impl FnMut(&mut Vm<B>, u64) + 'static,
    ) -> Result<()> {
        let now = self
            .backend
            .counter()
            .ok_or(crate::Error::Backend(BackendError::Unsupported))?;
        self.run.periodic = Some(Periodic {
            next: now.saturating_add(period.max(1)),
            period: period.max(1),
            f: Some(alloc::boxed::Box::new(f)),
        });
        self.rearm_wakeup(None).map(|_| ())
    }

    /// A trapped WFE of `vcpu`: while another vCPU of the VM is runnable,
    /// park it briefly (or until an interrupt) so that the vCPU it waits
    /// for, most likely a lock owner, gets the core.
    pub(crate) fn wfe(&mut self, vcpu: VcpuId) -> Result<WfiOutcome> {
        let slice = self.config().wfe_yield_ticks;
        let others = self
            .vcpus
            .iter()
            .any(|v| v.id() != vcpu && v.state == VcpuState::Running);
        if slice == 0 || !others || self.has_inflight_irq(vcpu) {
            return Ok(WfiOutcome::Return);
        }
        let Some(now) = self.backend.counter() else {
            return Ok(WfiOutcome::Return);
        };
        let i = vcpu.0 as usize;
        self.vcpus[i].state = VcpuState::WaitingForIrq;
        self.vcpus[i].wake_at = Some(now.saturating_add(slice));
        match self.rearm_wakeup(Some(vcpu)) {
            Ok(false) => Ok(WfiOutcome::Sleep),
            Ok(true) => {
                self.vcpus[i].state = VcpuState::Running;
                Ok(WfiOutcome::Return)
            }
            Err(e) => {
                self.vcpus[i].state = VcpuState::Running;
                self.vcpus[i].wake_at = None;
                match e {
                    crate::Error::Backend(BackendError::Unsupported) => Ok(WfiOutcome::Return),
                    e => Err(e),
                }
            }
        }
    }

    /// The wake-up timer fired: wake every vCPU whose deadline has come.
    /// The event itself is not trusted to mean "the armed deadline": an
    /// interrupt can arrive late, after the deadline was moved, or early, if
    /// a guest moved it. With a readable counter, what is due is decided
    /// by the count; without one, by the armed deadline.
    pub(crate) fn wakeup_fired(&mut self) -> Result<()> {
        let armed = self.run.wakeup_at.take();
        let due = self.backend.counter().or(armed);
        if let Some(t) = due {
            for v in self.sleepers_due(t) {
                self.wake(v)?;
            }
            self.run_periodic(t);
            self.quantum_due(t);
        }
        self.rearm_wakeup(None).map(|_| ())
    }

    /// Runs the periodic callback if its deadline is at or before `t`.
    fn run_periodic(&mut self, t: u64) {
        if self.run.periodic.as_ref().is_none_or(|p| p.next > t) {
            return;
        }
        let now = self.backend.counter().unwrap_or(t).max(t);
        let Some(p) = self.run.periodic.as_mut() else {
            return;
        };
        let at = p.next;
        // Missed periods are skipped, not replayed.
        while p.next <= now {
            p.next = p.next.saturating_add(p.period);
        }
        let Some(mut f) = p.f.take() else { return };
        f(self, at);
        if let Some(p) = self.run.periodic.as_mut() {
            if p.f.is_none() {
                p.f = Some(f);
            }
        }
    }

    /// Arms the wake-up timer again at the earliest deadline (after every
    /// event, so that a guest that moved a shared timer cannot keep its
    /// vCPUs asleep). Cheap on seL4: two system-register writes.
    pub(crate) fn refresh_wakeup(&mut self) -> Result<()> {
        if self.run.wakeup_at.is_some() {
            self.rearm_wakeup(None)?;
        }
        Ok(())
    }

    /// vCPUs asleep in WFI with a deadline at or before `t`.
    fn sleepers_due(&self, t: u64) -> alloc::vec::Vec<VcpuId> {
        self.vcpus
            .iter()
            .filter(|v| v.state == VcpuState::WaitingForIrq && v.wake_at.is_some_and(|w| w <= t))
            .map(|v| v.id())
            .collect()
    }

    /// Arms the timer at the earliest deadline of the sleeping vCPUs and
    /// wakes those whose deadline has passed already, except `current`
    /// (the vCPU whose fault is being handled; the caller replies to it).
    /// Returns true if `current` was due.
    fn rearm_wakeup(&mut self, current: Option<VcpuId>) -> Result<bool> {
        let mut current_due = false;
        loop {
            let periodic = self.run.periodic.as_ref().map(|p| p.next);
            let next = self
                .vcpus
                .iter()
                .filter(|v| v.state == VcpuState::WaitingForIrq)
                .filter_map(|v| v.wake_at)
                .chain(periodic)
                .chain(self.run.quantum_at)
                .min();
            let past = self.backend.set_wakeup(next)?;
            self.run.wakeup_at = next;
            let Some(t) = next.filter(|_| past) else {
                return Ok(current_due);
            };
            for v in self.sleepers_due(t) {
                if Some(v) == current {
                    current_due = true;
                    self.vcpus[v.0 as usize].wake_at = None;
                } else {
                    self.wake(v)?;
                }
            }
            self.run_periodic(t);
            self.quantum_due(t);
            if current_due {
                // Keep `current` out of the next round.
                if let Some(c) = current {
                    self.vcpus[c.0 as usize].state = VcpuState::Pending;
                }
            }
        }
    }

    /// After an event: starts the quantum when a second vCPU became
    /// runnable, stops it when fewer than two are ([`VmConfig::vcpu_quantum_ticks`]).
    ///
    /// [`VmConfig::vcpu_quantum_ticks`]: crate::VmConfig::vcpu_quantum_ticks
    pub(crate) fn update_quantum(&mut self, from: Option<VcpuId>) -> Result<()> {
        let q = self.config().vcpu_quantum_ticks;
        if q == 0 {
            return Ok(());
        }
        if from.is_some() {
            self.run.last_ran = from;
        }
        let contended = self.runnable_vcpus() >= 2;
        match (contended, self.run.quantum_at) {
            (true, None) => {
                let Some(now) = self.backend.counter() else {
                    return Ok(());
                };
                self.run.quantum_at = Some(now.saturating_add(q));
                self.rearm_wakeup(None).map(|_| ())
            }
            (false, Some(_)) => {
                self.run.quantum_at = None;
                self.rearm_wakeup(None).map(|_| ())
            }
            _ => Ok(()),
        }
    }

    fn runnable_vcpus(&self) -> usize {
        self.vcpus
            .iter()
            .filter(|v| v.state == VcpuState::Running)
            .count()
    }

    /// The quantum ended at or before `t`: the runnable vCPU after the one
    /// that last ran gets the core next (seL4 keeps a preempted thread at
    /// the head of its queue, so without this it would resume).
    fn quantum_due(&mut self, t: u64) {
        if self.run.quantum_at.is_none_or(|q| q > t) {
            return;
        }
        let n = self.vcpus.len();
        let start = self.run.last_ran.map_or(0, |v| v.0 as usize + 1);
        let next = (0..n)
            .map(|k| (start + k) % n)
            .find(|&i| {
                self.vcpus[i].state == VcpuState::Running
                    && Some(self.vcpus[i].id()) != self.run.last_ran
            })
            .map(|i| self.vcpus[i].id());
        if let Some(v) = next {
            self.run.yield_to = Some(v);
            self.run.last_ran = Some(v);
            self.stats.quantum_turns += 1;
        }
        let q = self.config().vcpu_quantum_ticks;
        let now = self.backend.counter().unwrap_or(t).max(t);
        self.run.quantum_at = (self.runnable_vcpus() >= 2).then(|| now.saturating_add(q));
    }

    /// Replies to a vCPU parked in WFI, stepping over the WFI.
    pub(crate) fn wake(&mut self, vcpu: VcpuId) -> Result<()> {
        if self
            .vcpus
            .get(vcpu.0 as usize)
            .is_some_and(|v| v.state == VcpuState::WaitingForIrq)
        {
            self.complete(vcpu, Action::Advance, None)?;
        }
        Ok(())
    }
}
