//! The guest's virtual timer (`CNTV_*_EL0`, PPI 27).
//!
//! The guest programs the timer directly in hardware; the kernel saves and
//! restores it with the VCPU object, so it survives vCPU switches. When it
//! fires while the guest runs, the kernel masks it and sends the VMM a VPPI
//! event. The VMM injects PPI 27 into that vCPU and, once the guest has
//! completed it (EOI → vGIC maintenance), acknowledges the VPPI
//! (`seL4_ARM_VCPU_AckVPPI`) so the kernel unmasks it; if the timer
//! condition still holds it fires again. Acknowledging earlier would make
//! a level-high timer interrupt storm the VMM.
//!
//! Corresponds to libsel4vm's `vppi_event` handling in `arch/arm/vgic/vgic.c`
//! (`vm_register_irq(..., PPI_VTIMER_IRQ, vppi_event_ack)`) and libvmm's
//! `vcpu_handle_vppi_event`.

use alloc::vec;
use alloc::vec::Vec;

use crate::backend::{VcpuId, VcpuReg};

/// INTID of the EL1 virtual timer (`CNTV`).
pub const VTIMER_PPI: u32 = 27;
/// INTID of the EL1 physical timer (`CNTP`).
pub const PTIMER_PPI: u32 = 30;

/// `CNTV_CTL_EL0.ENABLE`.
pub const CTL_ENABLE: u64 = 1 << 0;
/// `CNTV_CTL_EL0.IMASK`.
pub const CTL_IMASK: u64 = 1 << 1;
/// `CNTV_CTL_EL0.ISTATUS`.
pub const CTL_ISTATUS: u64 = 1 << 2;

/// True if an enabled timer with compare value `cval` has expired at virtual
/// count `count` (what `ISTATUS` reports).
pub fn condition_met(ctl: u64, cval: u64, count: u64) -> bool {
    ctl & CTL_ENABLE != 0 && count >= cval
}

/// True if the timer asserts its interrupt: expired and not masked.
pub fn asserted(ctl: u64, cval: u64, count: u64) -> bool {
    condition_met(ctl, cval, count) && ctl & CTL_IMASK == 0
}

/// Timer register values of a vCPU at reset (timer disabled), to write
/// through `write_vcpu_reg` when a VM restarts.
pub const RESET_REGISTERS: [(VcpuReg, u64); 2] = [(VcpuReg::CntvCtl, 0), (VcpuReg::CntvCval, 0)];

/// What to do with a VPPI event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VppiAction {
    /// Inject this PPI into the vCPU (through the vGIC); ack it on EOI.
    Inject(u32),
    /// Not a PPI the VMM forwards: acknowledge it at once so the kernel does
    /// not keep it masked, and drop it.
    AckNow(u32),
}

/// Per-VM virtual-timer bookkeeping: which vCPUs have a VPPI delivered and
/// not yet completed by the guest (the kernel keeps it masked until then).
#[derive(Clone, Debug)]
pub struct VTimer {
    awaiting_eoi: Vec<bool>,
    fired: Vec<u64>,
}

impl VTimer {
    /// Bookkeeping for `num_vcpus` vCPUs.
    pub fn new(num_vcpus: u32) -> Self {
        Self {
            awaiting_eoi: vec![false; num_vcpus as usize],
            fired: vec![0; num_vcpus as usize],
        }
    }

    /// Clears all state (VM restart).
    pub fn reset(&mut self) {
        self.awaiting_eoi.iter_mut().for_each(|a| *a = false);
    }

    /// vCPUs whose timer interrupt was delivered and not yet completed: the
    /// kernel keeps their virtual timer masked until the VMM acks the VPPI.
    pub fn masked_vcpus(&self) -> impl Iterator<Item = VcpuId> + '_ {
        self.awaiting_eoi
            .iter()
            .enumerate()
            .filter(|(_, a)| **a)
            .map(|(i, _)| VcpuId(i as u32))
    }

    /// A VPPI event for `irq` arrived from `vcpu`.
    pub fn vppi_event(&mut self, vcpu: VcpuId, irq: u32) -> VppiAction {
        match self.awaiting_eoi.get_mut(vcpu.0 as usize) {
            Some(a) if irq == VTIMER_PPI => {
                *a = true;
                self.fired[vcpu.0 as usize] += 1;
                VppiAction::Inject(irq)
            }
            _ => {
                log::warn!("vtimer: unexpected VPPI {irq} from {vcpu}; acknowledged and dropped");
                VppiAction::AckNow(irq)
            }
        }
    }

    /// The guest on `vcpu` completed `irq`; returns the PPI to acknowledge
    /// with `ack_vppi`, if it was a timer interrupt the kernel keeps masked.
    pub fn eoi(&mut self, vcpu: VcpuId, irq: u32) -> Option<u32> {
        let a = self.awaiting_eoi.get_mut(vcpu.0 as usize)?;
        if irq == VTIMER_PPI && *a {
            *a = false;
            Some(irq)
        } else {
            None
        }
    }

    /// True if `vcpu`'s timer interrupt was delivered and not completed.
    pub fn awaiting_eoi(&self, vcpu: VcpuId) -> bool {
        self.awaiting_eoi
            .get(vcpu.0 as usize)
            .copied()
            .unwrap_or(false)
    }

    /// Number of timer VPPIs seen for `vcpu` (diagnostics).
    pub fn fired(&self, vcpu: VcpuId) -> u64 {
        self.fired.get(vcpu.0 as usize).copied().unwrap_or(0)
    }
}
