//! Virtual IRQ delivery (`guest_irq_controller.h`).
//!
//! The default controller manages the GIC list registers of each vCPU:
//! registered virtual IRQs are placed in a free list register through the
//! backend, queued when all are busy, and their ack callback runs when the
//! guest completes them (vGIC maintenance event). Emulation of the GIC
//! distributor's MMIO interface is a separate device on top of this.

use alloc::boxed::Box;
use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec;
use alloc::vec::Vec;

use crate::backend::{Backend, VcpuId, VirqInjection};
use crate::error::{Error, Result};
use crate::run::Action;
use crate::vm::{VcpuState, Vm};

/// Called when the guest has completed (EOI'd) a virtual IRQ: `(vm, vcpu, irq)`.
///
/// Corresponds to `irq_ack_fn_t`.
pub type IrqAckHandler<B> = Box<dyn FnMut(&mut Vm<B>, VcpuId, u32)>;

struct IrqEntry<B: Backend> {
    ack: Option<IrqAckHandler<B>>,
    /// Line level for level-triggered use (`set_irq_level`).
    level: bool,
    /// In a list register or queued for one.
    inflight: bool,
}

struct CpuInterface {
    lrs: Vec<Option<u32>>,
    overflow: VecDeque<u32>,
}

/// Per-VM IRQ controller state.
pub(crate) struct IrqController<B: Backend> {
    num_lrs: u8,
    irqs: BTreeMap<(VcpuId, u32), IrqEntry<B>>,
    cpus: BTreeMap<VcpuId, CpuInterface>,
}

impl<B: Backend> Vm<B> {
    /// Creates the VM's IRQ controller (list-register manager).
    ///
    /// Corresponds to `vm_create_default_irq_controller`.
    pub fn create_default_irq_controller(&mut self) -> Result<()> {
        if self.irq.is_some() {
            return Err(Error::IrqControllerExists);
        }
        let num_lrs = self.config().num_list_registers.max(1);
        self.irq = Some(IrqController {
            num_lrs,
            irqs: BTreeMap::new(),
            cpus: BTreeMap::new(),
        });
        Ok(())
    }

    /// Registers virtual IRQ `irq` on `vcpu` with a callback run when the
    /// guest completes it (e.g. to ack the physical IRQ).
    ///
    /// Corresponds to `vm_register_irq`.
    pub fn register_irq(
        &mut self,
        vcpu: VcpuId,
        irq: u32,
        ack: impl FnMut(&mut Vm<B>, VcpuId, u32) + 'static,
    ) -> Result<()> {
        self.check_vcpu(vcpu)?;
        let ctl = self.irq.as_mut().ok_or(Error::NoIrqController)?;
        if ctl.irqs.contains_key(&(vcpu, irq)) {
            return Err(Error::IrqAlreadyRegistered(irq));
        }
        ctl.irqs.insert(
            (vcpu, irq),
            IrqEntry {
                ack: Some(Box::new(ack)),
                level: false,
                inflight: false,
            },
        );
        Ok(())
    }

    /// Makes `irq` pending on `vcpu` (edge); a no-op if it is already pending
    /// or active. Wakes the vCPU if it waits in WFI.
    ///
    /// Corresponds to `vm_inject_irq`.
    pub fn inject_irq(&mut self, vcpu: VcpuId, irq: u32) -> Result<()> {
        self.check_vcpu(vcpu)?;
        self.deliver(vcpu, irq)?;
        self.wake(vcpu)
    }

    /// Sets the line level of `irq` on `vcpu`: high makes it pending (and it
    /// is re-delivered after each ack while it stays high); low withdraws it
    /// if it has not reached a list register yet.
    ///
    /// Corresponds to `vm_set_irq_level`.
    pub fn set_irq_level(&mut self, vcpu: VcpuId, irq: u32, level: bool) -> Result<()> {
        self.check_vcpu(vcpu)?;
        let ctl = self.irq.as_mut().ok_or(Error::NoIrqController)?;
        let e = ctl
            .irqs
            .get_mut(&(vcpu, irq))
            .ok_or(Error::IrqNotRegistered(irq))?;
        e.level = level;
        if level {
            self.deliver(vcpu, irq)?;
            return self.wake(vcpu);
        }
        let inflight = &mut e.inflight;
        if let Some(cpu) = ctl.cpus.get_mut(&vcpu) {
            if let Some(pos) = cpu.overflow.iter().position(|&q| q == irq) {
                cpu.overflow.remove(pos);
                *inflight = false;
            }
        }
        Ok(())
    }

    /// IRQs currently in `vcpu`'s list registers (index = LR).
    pub fn list_registers(&self, vcpu: VcpuId) -> Vec<Option<u32>> {
        match &self.irq {
            Some(ctl) => match ctl.cpus.get(&vcpu) {
                Some(c) => c.lrs.clone(),
                None => vec![None; ctl.num_lrs as usize],
            },
            None => Vec::new(),
        }
    }

    /// IRQs waiting for a free list register on `vcpu`, in order.
    pub fn queued_irqs(&self, vcpu: VcpuId) -> Vec<u32> {
        self.irq
            .as_ref()
            .and_then(|c| c.cpus.get(&vcpu))
            .map(|c| c.overflow.iter().copied().collect())
            .unwrap_or_default()
    }

    pub(crate) fn has_inflight_irq(&self, vcpu: VcpuId) -> bool {
        self.irq
            .as_ref()
            .and_then(|c| c.cpus.get(&vcpu))
            .is_some_and(|c| c.lrs.iter().any(Option::is_some) || !c.overflow.is_empty())
    }

    /// Puts `irq` in a free list register or the queue.
    fn deliver(&mut self, vcpu: VcpuId, irq: u32) -> Result<()> {
        let ctl = self.irq.as_mut().ok_or(Error::NoIrqController)?;
        let num_lrs = ctl.num_lrs as usize;
        let e = ctl
            .irqs
            .get_mut(&(vcpu, irq))
            .ok_or(Error::IrqNotRegistered(irq))?;
        if e.inflight {
            return Ok(());
        }
        let cpu = ctl.cpus.entry(vcpu).or_insert_with(|| CpuInterface {
            lrs: vec![None; num_lrs],
            overflow: VecDeque::new(),
        });
        match cpu.lrs.iter().position(Option::is_none) {
            Some(lr) => {
                self.backend.inject_irq(
                    vcpu,
                    VirqInjection {
                        irq,
                        priority: 0,
                        group: 0,
                        lr: lr as u8,
                    },
                )?;
                cpu.lrs[lr] = Some(irq);
            }
            None => cpu.overflow.push_back(irq),
        }
        e.inflight = true;
        Ok(())
    }

    /// Replies to a vCPU parked in WFI, stepping over the WFI.
    fn wake(&mut self, vcpu: VcpuId) -> Result<()> {
        if self.vcpus[vcpu.0 as usize].state == VcpuState::WaitingForIrq {
            self.complete(vcpu, Action::Advance, None)?;
        }
        Ok(())
    }

    /// A list register of `vcpu` became free: run the ack callback, re-deliver
    /// level-high IRQs, refill from the queue.
    pub(crate) fn irq_maintenance(&mut self, vcpu: VcpuId, lr: Option<u32>) -> Result<()> {
        let Some(lr) = lr else { return Ok(()) };
        let Some(ctl) = self.irq.as_mut() else {
            return Err(Error::NoIrqController);
        };
        let freed = ctl
            .cpus
            .get_mut(&vcpu)
            .and_then(|c| c.lrs.get_mut(lr as usize))
            .and_then(Option::take);
        if let Some(irq) = freed {
            let mut ack = None;
            if let Some(e) = ctl.irqs.get_mut(&(vcpu, irq)) {
                e.inflight = false;
                ack = e.ack.take();
            }
            if let Some(mut cb) = ack {
                cb(self, vcpu, irq);
                if let Some(e) = self.irq.as_mut().and_then(|c| c.irqs.get_mut(&(vcpu, irq))) {
                    if e.ack.is_none() {
                        e.ack = Some(cb);
                    }
                }
            }
            let level = self
                .irq
                .as_ref()
                .and_then(|c| c.irqs.get(&(vcpu, irq)))
                .is_some_and(|e| e.level);
            if level {
                self.deliver(vcpu, irq)?;
            }
        }
        self.refill(vcpu)
    }

    fn refill(&mut self, vcpu: VcpuId) -> Result<()> {
        let Some(ctl) = self.irq.as_mut() else {
            return Ok(());
        };
        let Some(cpu) = ctl.cpus.get_mut(&vcpu) else {
            return Ok(());
        };
        while let Some(lr) = cpu.lrs.iter().position(Option::is_none) {
            let Some(irq) = cpu.overflow.pop_front() else {
                break;
            };
            if let Err(e) = self.backend.inject_irq(
                vcpu,
                VirqInjection {
                    irq,
                    priority: 0,
                    group: 0,
                    lr: lr as u8,
                },
            ) {
                cpu.overflow.push_front(irq);
                return Err(e.into());
            }
            cpu.lrs[lr] = Some(irq);
        }
        Ok(())
    }

    /// A virtual PPI fired: deliver it if registered, else ack it so the
    /// kernel unmasks it (the guest never sees it).
    pub(crate) fn vppi_event(&mut self, vcpu: VcpuId, irq: u32) -> Result<()> {
        let registered = self
            .irq
            .as_ref()
            .is_some_and(|c| c.irqs.contains_key(&(vcpu, irq)));
        if registered {
            // The sender is this vCPU, so it is not parked in WFI: no wake needed.
            self.deliver(vcpu, irq)
        } else {
            log::warn!(
                "{}: VPPI {} on {} not registered, dropped",
                self.name(),
                irq,
                vcpu
            );
            Ok(self.backend.ack_vppi(vcpu, irq)?)
        }
    }
}
