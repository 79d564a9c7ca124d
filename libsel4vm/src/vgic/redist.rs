//! GICv3 redistributors: one RD_base + SGI_base frame pair per vCPU, laid
//! out back to back (vCPU *n* at `n * 0x20000`), the last one flagged with
//! `GICR_TYPER.Last`. LPIs are not implemented.

use alloc::vec::Vec;

use super::dist::BitReg;
use super::regs::*;
use super::{check_access, Effect, GicVersion, Vgic, VgicError};
use crate::arch::AccessSize;
use crate::backend::VcpuId;
use crate::psci::vcpu_mpidr;

#[derive(Clone, Copy, Debug)]
enum RedistReg {
    Ctlr,
    Iidr,
    /// `GICR_TYPER`; true for the upper word.
    Typer(bool),
    Waker,
    /// LPI-related or status registers without LPIs: RAZ/WI.
    RazWi,
    /// `GICR_SYNCR`: never busy.
    Zero,
    Bits(BitReg),
    /// `IPRIORITYR` byte for this INTID.
    Priority(u32),
    /// `ICFGR0` (SGIs) or `ICFGR1` (PPIs); first INTID.
    Config(u32),
    Id(u64),
    Reserved,
}

fn decode(off: u64) -> (RedistReg, bool, bool) {
    let word = |r| (r, false, false);
    if off < GICR_SGI_BASE {
        if (GICD_ID_V3..GICD_ID_V3 + 0x30).contains(&off) {
            return word(RedistReg::Id((off - GICD_ID_V3) / 4));
        }
        return match off {
            GICR_CTLR => word(RedistReg::Ctlr),
            GICR_IIDR => word(RedistReg::Iidr),
            GICR_TYPER | 0xc => (RedistReg::Typer(off == 0xc), false, true),
            GICR_STATUSR => word(RedistReg::RazWi),
            GICR_WAKER => word(RedistReg::Waker),
            GICR_PROPBASER | 0x74 | GICR_PENDBASER | 0x7c => (RedistReg::RazWi, false, true),
            GICR_SYNCR => word(RedistReg::Zero),
            _ => word(RedistReg::Reserved),
        };
    }
    let s = off - GICR_SGI_BASE;
    match s {
        0x080 | 0x100 | 0x180 | 0x200 | 0x280 | 0x300 | 0x380 => match BitReg::at(s) {
            Some((k, _)) => word(RedistReg::Bits(k)),
            None => word(RedistReg::Reserved),
        },
        0x400..=0x41f => (
            RedistReg::Priority((s - GICD_IPRIORITYR) as u32),
            true,
            false,
        ),
        0xc00 => word(RedistReg::Config(0)),
        0xc04 => word(RedistReg::Config(16)),
        // Single security state: no group modifiers, no NSACR.
        0xd00 | 0xe00 => word(RedistReg::RazWi),
        _ => word(RedistReg::Reserved),
    }
}

impl Vgic {
    /// Splits a redistributor-region offset into (owning vCPU index, offset in its frames).
    fn redist_frame(&self, offset: u64) -> Result<(usize, u64), VgicError> {
        if self.cfg.version != GicVersion::V3 {
            return Err(VgicError::WrongVersion);
        }
        let r = offset / GICR_STRIDE;
        if r >= u64::from(self.cfg.num_vcpus) {
            return Err(VgicError::Reserved { offset });
        }
        Ok((r as usize, offset % GICR_STRIDE))
    }

    /// Reads from the redistributor region (`offset` from its base, all
    /// vCPUs' frames back to back). Any vCPU may read any frame. On `Err`
    /// the guest should read 0.
    ///
    /// Corresponds to libvmm's `vgic_handle_fault_redist_read`.
    pub fn redist_read(
        &mut self,
        vcpu: VcpuId,
        offset: u64,
        size: AccessSize,
    ) -> Result<u64, VgicError> {
        self.cpu_index(vcpu)?;
        let (r, off) = self.redist_frame(offset)?;
        let (reg, byte_ok, dword_ok) = decode(off);
        check_access(off, size, byte_ok, dword_ok)?;
        let n = size.bytes() as u32;
        Ok(match reg {
            RedistReg::Ctlr | RedistReg::RazWi | RedistReg::Zero => 0,
            RedistReg::Iidr => u64::from(IIDR),
            RedistReg::Typer(high) => {
                let t = self.gicr_typer(r);
                match (size, high) {
                    (AccessSize::Double, _) => t,
                    (_, false) => t & 0xffff_ffff,
                    (_, true) => t >> 32,
                }
            }
            RedistReg::Waker => {
                if self.cpus[r].sleeping {
                    u64::from(WAKER_PROCESSOR_SLEEP | WAKER_CHILDREN_ASLEEP)
                } else {
                    0
                }
            }
            RedistReg::Bits(k) => u64::from(self.read_bits(r, k, 0, true)),
            RedistReg::Priority(first) => (0..n).fold(0, |acc, b| {
                acc | u64::from(self.read_priority(r, first + b, true)) << (8 * b)
            }),
            RedistReg::Config(first) => u64::from(self.read_config(r, first, true)),
            RedistReg::Id(i) => u64::from(id_register(i, 3)),
            RedistReg::Reserved => return Err(VgicError::Reserved { offset }),
        })
    }

    /// Writes to the redistributor region. On `Err` the write was ignored.
    ///
    /// Corresponds to libvmm's `vgic_handle_fault_redist_write`.
    pub fn redist_write(
        &mut self,
        vcpu: VcpuId,
        offset: u64,
        size: AccessSize,
        value: u64,
        out: &mut Vec<Effect>,
    ) -> Result<(), VgicError> {
        self.cpu_index(vcpu)?;
        let (r, off) = self.redist_frame(offset)?;
        let (reg, byte_ok, dword_ok) = decode(off);
        check_access(off, size, byte_ok, dword_ok)?;
        let value = value & size.mask();
        match reg {
            // EnableLPIs is RAZ/WI without LPIs; nothing else is writable.
            RedistReg::Ctlr | RedistReg::RazWi => {}
            RedistReg::Iidr | RedistReg::Typer(_) | RedistReg::Zero | RedistReg::Id(_) => {
                return Err(VgicError::ReadOnly { offset })
            }
            // ChildrenAsleep follows ProcessorSleep at once: there is nothing to quiesce.
            RedistReg::Waker => self.cpus[r].sleeping = value as u32 & WAKER_PROCESSOR_SLEEP != 0,
            RedistReg::Bits(k) => self.write_bits(r, k, 0, value as u32, true),
            RedistReg::Priority(first) => {
                for b in 0..size.bytes() as u32 {
                    self.write_priority(r, first + b, (value >> (8 * b)) as u8, true);
                }
            }
            RedistReg::Config(first) => self.write_config(r, first, value as u32, true),
            RedistReg::Reserved => return Err(VgicError::Reserved { offset }),
        }
        self.flush_all(out);
        Ok(())
    }

    /// `GICR_TYPER` of vCPU `r`: its affinity in bits 63:32, processor number, Last.
    fn gicr_typer(&self, r: usize) -> u64 {
        let mpidr = vcpu_mpidr(VcpuId(r as u32));
        let aff = (mpidr & 0xff_ffff) | ((mpidr >> 32) & 0xff) << 24;
        let last = if r + 1 == self.cpus.len() {
            GICR_TYPER_LAST
        } else {
            0
        };
        (aff << 32) | ((r as u64 & 0xffff) << 8) | last
    }
}
