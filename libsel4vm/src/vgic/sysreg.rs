//! GICv3 CPU-interface system registers the kernel forwards as VCPU faults.
//!
//! The virtual CPU interface handles acknowledge/EOI/priority registers in
//! hardware. SGI generation cannot be virtualised by it: with
//! `HCR_EL2.IMO/FMO` set, EL1 writes to `ICC_SGI1R_EL1`, `ICC_ASGI1R_EL1` and
//! `ICC_SGI0R_EL1` trap to EL2 and arrive here.

use alloc::vec::Vec;

use super::regs::{ICC_ASGI1R_EL1, ICC_SGI0R_EL1, ICC_SGI1R_EL1};
use super::{Effect, GicVersion, Vgic, VgicError};
use crate::arch::syndrome::{sysreg_id, SysRegIss};
use crate::backend::VcpuId;
use crate::psci::vcpu_from_mpidr;

/// What became of a trapped system-register access.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SysRegOutcome {
    /// Handled; step over the instruction.
    Handled,
    /// A read: put this value in `Rt`, then step over the instruction.
    Read(u64),
    /// Not a register of the vGIC; someone else must handle it.
    NotMine,
}

const fn id(r: (u8, u8, u8, u8, u8)) -> u16 {
    sysreg_id(r.0, r.1, r.2, r.3, r.4)
}

impl Vgic {
    /// Handles a trapped MSR/MRS of `vcpu`. `value` is the content of `Rt`
    /// for a write (ignored for reads).
    ///
    /// Corresponds to libvmm's `handle_vcpu_sysreg` for `ICC_SGI1R_EL1`.
    pub fn sysreg_access(
        &mut self,
        vcpu: VcpuId,
        iss: &SysRegIss,
        value: u64,
        out: &mut Vec<Effect>,
    ) -> Result<SysRegOutcome, VgicError> {
        let c = self.cpu_index(vcpu)?;
        let reg = iss.id();
        let group0_only = if reg == id(ICC_SGI1R_EL1) || reg == id(ICC_ASGI1R_EL1) {
            false
        } else if reg == id(ICC_SGI0R_EL1) {
            true
        } else {
            return Ok(SysRegOutcome::NotMine);
        };
        if self.cfg.version != GicVersion::V3 {
            return Ok(SysRegOutcome::NotMine);
        }
        if iss.read {
            // Write-only registers: reads are UNDEFINED architecturally; give 0.
            log::warn!("vgic: {vcpu}: read of write-only SGI register {reg:#x}; returning 0");
            return Ok(SysRegOutcome::Read(0));
        }
        self.sgi_from_sysreg(c, value, group0_only);
        self.flush_all(out);
        Ok(SysRegOutcome::Handled)
    }

    /// Decodes an `ICC_SGI*R_EL1` value and pends the SGI on its targets.
    fn sgi_from_sysreg(&mut self, c: usize, value: u64, group0_only: bool) {
        let sgi = ((value >> 24) & 0xf) as u32;
        let n = self.cfg.num_vcpus;
        let mut targets: Vec<usize> = Vec::new();
        if value & (1 << 40) != 0 {
            // IRM: every PE but the sender.
            targets.extend((0..n as usize).filter(|&t| t != c));
        } else {
            let aff1 = (value >> 16) & 0xff;
            let aff2 = (value >> 32) & 0xff;
            let aff3 = (value >> 48) & 0xff;
            let rs = (value >> 44) & 0xf;
            for bit in 0..16u64 {
                if value & (1 << bit) == 0 {
                    continue;
                }
                let aff0 = rs * 16 + bit;
                let mpidr = (aff3 << 32) | (aff2 << 16) | (aff1 << 8) | aff0;
                // Affinities naming no vCPU are dropped, as for absent PEs.
                if let Some(t) = vcpu_from_mpidr(mpidr, n) {
                    targets.push(t.0 as usize);
                }
            }
        }
        self.send_sgi(c, sgi, targets.into_iter(), group0_only);
    }
}
