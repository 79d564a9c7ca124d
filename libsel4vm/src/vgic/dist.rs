//! Distributor (`GICD_*`) register front end for GICv2 and GICv3, and the
//! per-interrupt register helpers shared with the redistributor.

use alloc::vec::Vec;

use super::regs::*;
use super::{
    check_access, Effect, GicVersion, Vgic, VgicError, NUM_PRIVATE, NUM_SGIS, PRIORITY_MASK,
};
use crate::arch::AccessSize;
use crate::psci::MPIDR_AFF_MASK;

/// One-bit-per-interrupt registers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum BitReg {
    Group,
    SetEnable,
    ClearEnable,
    SetPending,
    ClearPending,
    SetActive,
    ClearActive,
}

impl BitReg {
    /// The register at `offset` (inside a 0x80..0x400 block) and its first byte offset.
    pub(super) fn at(offset: u64) -> Option<(BitReg, u64)> {
        let (kind, base) = match offset {
            0x080..=0x0ff => (BitReg::Group, GICD_IGROUPR),
            0x100..=0x17f => (BitReg::SetEnable, GICD_ISENABLER),
            0x180..=0x1ff => (BitReg::ClearEnable, GICD_ICENABLER),
            0x200..=0x27f => (BitReg::SetPending, GICD_ISPENDR),
            0x280..=0x2ff => (BitReg::ClearPending, GICD_ICPENDR),
            0x300..=0x37f => (BitReg::SetActive, GICD_ISACTIVER),
            0x380..=0x3ff => (BitReg::ClearActive, GICD_ICACTIVER),
            _ => return None,
        };
        Some((kind, base))
    }
}

/// Decoded distributor register.
#[derive(Clone, Copy, Debug)]
enum DistReg {
    Ctlr,
    Typer,
    Iidr,
    /// Read-only zero (v3 `GICD_TYPER2`).
    Zero,
    /// Architecturally RAZ/WI here (e.g. `NSACR` without security, v2-only
    /// registers under affinity routing).
    RazWi,
    /// Bit register; first INTID.
    Bits(BitReg, u32),
    /// `IPRIORITYR` byte for this INTID.
    Priority(u32),
    /// `ITARGETSR` byte for this INTID.
    Targets(u32),
    /// `ICFGR` word; first INTID.
    Config(u32),
    Sgir,
    /// `SPENDSGIR` (true) / `CPENDSGIR` byte for this SGI.
    SgiPend(bool, u32),
    /// `IROUTER` of this INTID; true for the upper word.
    Router(u32, bool),
    /// Identification register index.
    Id(u64),
    Reserved,
}

impl Vgic {
    fn decode_dist(&self, offset: u64) -> (DistReg, bool, bool) {
        let v3 = self.cfg.version == GicVersion::V3;
        let word = |r| (r, false, false);
        let byte = |r| (r, true, false);
        if offset >= self.dist_size() {
            return word(DistReg::Reserved);
        }
        let id_base = if v3 { GICD_ID_V3 } else { GICD_ID_V2 };
        if offset >= id_base && offset < id_base + 0x30 {
            return word(DistReg::Id((offset - id_base) / 4));
        }
        match offset {
            GICD_CTLR => word(DistReg::Ctlr),
            GICD_TYPER => word(DistReg::Typer),
            GICD_IIDR => word(DistReg::Iidr),
            GICD_TYPER2 if v3 => word(DistReg::Zero),
            GICD_STATUSR if v3 => word(DistReg::RazWi),
            0x080..=0x3ff => match BitReg::at(offset) {
                Some((k, base)) => word(DistReg::Bits(k, ((offset - base) * 8) as u32)),
                None => word(DistReg::Reserved),
            },
            0x400..=0x7fb => byte(DistReg::Priority((offset - GICD_IPRIORITYR) as u32)),
            0x800..=0xbfb => byte(DistReg::Targets((offset - GICD_ITARGETSR) as u32)),
            0xc00..=0xcff => word(DistReg::Config(((offset - GICD_ICFGR) * 4) as u32)),
            // No security extensions / single security state: group modifiers and
            // non-secure access control do not exist.
            0xd00..=0xd7f if v3 => word(DistReg::RazWi),
            0xe00..=0xeff => word(DistReg::RazWi),
            GICD_SGIR if v3 => word(DistReg::RazWi),
            GICD_SGIR => word(DistReg::Sgir),
            0xf10..=0xf2f if v3 => byte(DistReg::RazWi),
            0xf10..=0xf1f => byte(DistReg::SgiPend(false, (offset - GICD_CPENDSGIR) as u32)),
            0xf20..=0xf2f => byte(DistReg::SgiPend(true, (offset - GICD_SPENDSGIR) as u32)),
            0x6000..=0x7fdf if v3 => (
                DistReg::Router(((offset - GICD_IROUTER) / 8) as u32, offset & 4 != 0),
                false,
                true,
            ),
            _ => word(DistReg::Reserved),
        }
    }

    /// Reads a distributor register as `vcpu` (banked registers are that
    /// vCPU's). On `Err` the guest should read 0 (RAZ); nothing changed.
    ///
    /// Corresponds to libsel4vm's `vgic_dist_read` (`handle_vgic_dist_read_fault`).
    pub fn dist_read(
        &mut self,
        vcpu: crate::VcpuId,
        offset: u64,
        size: AccessSize,
    ) -> Result<u64, VgicError> {
        let c = self.cpu_index(vcpu)?;
        let (reg, byte_ok, dword_ok) = self.decode_dist(offset);
        check_access(offset, size, byte_ok, dword_ok)?;
        let v3 = self.cfg.version == GicVersion::V3;
        let private_ok = !v3;
        let n = size.bytes() as u32;
        let value: u64 = match reg {
            DistReg::Ctlr => u64::from(if v3 {
                self.ctlr | CTLR_ARE | CTLR_DS
            } else {
                self.ctlr
            }),
            DistReg::Typer => u64::from(self.typer()),
            DistReg::Iidr => u64::from(IIDR),
            DistReg::Zero | DistReg::RazWi => 0,
            DistReg::Bits(k, first) => u64::from(self.read_bits(c, k, first, private_ok)),
            DistReg::Priority(first) => bytes(n, |b| {
                u64::from(self.read_priority(c, first + b, private_ok))
            }),
            DistReg::Targets(first) => bytes(n, |b| u64::from(self.read_target(c, first + b))),
            DistReg::Config(first) => u64::from(self.read_config(c, first, private_ok)),
            DistReg::Sgir => return Err(VgicError::WriteOnly { offset }),
            DistReg::SgiPend(_, first) => bytes(n, |b| {
                u64::from(
                    self.cpus[c]
                        .sgi_sources
                        .get((first + b) as usize)
                        .copied()
                        .unwrap_or(0),
                )
            }),
            DistReg::Router(irq, high) => {
                let r = self.spi_route(irq);
                match (size, high) {
                    (AccessSize::Double, _) => r,
                    (_, false) => r & 0xffff_ffff,
                    (_, true) => r >> 32,
                }
            }
            DistReg::Id(i) => u64::from(id_register(i, if v3 { 3 } else { 2 })),
            DistReg::Reserved => return Err(VgicError::Reserved { offset }),
        };
        Ok(value)
    }

    /// Writes a distributor register as `vcpu`. Effects (injections) go to
    /// `out`. On `Err` the write was ignored (WI) and nothing changed.
    ///
    /// Corresponds to libsel4vm's `vgic_dist_write` (`handle_vgic_dist_write_fault`).
    pub fn dist_write(
        &mut self,
        vcpu: crate::VcpuId,
        offset: u64,
        size: AccessSize,
        value: u64,
        out: &mut Vec<Effect>,
    ) -> Result<(), VgicError> {
        let c = self.cpu_index(vcpu)?;
        let (reg, byte_ok, dword_ok) = self.decode_dist(offset);
        check_access(offset, size, byte_ok, dword_ok)?;
        let value = value & size.mask();
        let private_ok = self.cfg.version == GicVersion::V2;
        let n = size.bytes() as u32;
        match reg {
            DistReg::Ctlr => {
                self.ctlr = value as u32 & (CTLR_ENABLE_GRP0 | CTLR_ENABLE_GRP1);
                self.update_all();
            }
            DistReg::Typer | DistReg::Iidr | DistReg::Zero | DistReg::Id(_) => {
                return Err(VgicError::ReadOnly { offset })
            }
            DistReg::RazWi => {}
            DistReg::Bits(k, first) => self.write_bits(c, k, first, value as u32, private_ok),
            DistReg::Priority(first) => {
                for b in 0..n {
                    self.write_priority(c, first + b, (value >> (8 * b)) as u8, private_ok);
                }
            }
            DistReg::Targets(first) => {
                for b in 0..n {
                    self.write_target(first + b, (value >> (8 * b)) as u8);
                }
            }
            DistReg::Config(first) => self.write_config(c, first, value as u32, private_ok),
            DistReg::Sgir => self.write_sgir(c, value as u32),
            DistReg::SgiPend(set, first) => {
                for b in 0..n {
                    self.write_sgi_pend(c, first + b, set, (value >> (8 * b)) as u8);
                }
            }
            DistReg::Router(irq, high) => self.write_route(irq, size, high, value),
            DistReg::Reserved => return Err(VgicError::Reserved { offset }),
        }
        self.flush_all(out);
        Ok(())
    }

    /// Routes SPI `irq` to `vcpu` as a guest would (`ITARGETSR` on v2,
    /// `IROUTER` on v3). For VMMs that present no distributor to the guest
    /// and deliver each SPI to the vCPU they name.
    pub fn set_spi_target(
        &mut self,
        irq: u32,
        vcpu: crate::VcpuId,
        out: &mut Vec<Effect>,
    ) -> Result<(), VgicError> {
        let c = self.cpu_index(vcpu)?;
        if irq < NUM_PRIVATE || irq >= self.cfg.num_irqs {
            return Err(VgicError::InvalidIrq(irq));
        }
        let route = crate::psci::vcpu_mpidr(vcpu) & MPIDR_AFF_MASK;
        if let Some(i) = self.irq_mut(0, irq) {
            i.targets = 1 << (c % 8);
            i.route = route;
        }
        self.update(0, irq);
        self.flush_all(out);
        Ok(())
    }

    fn typer(&self) -> u32 {
        let lines = self.cfg.num_irqs / 32 - 1;
        let cpus = (self.cfg.num_vcpus.min(8) - 1) << 5;
        match self.cfg.version {
            GicVersion::V2 => lines | cpus,
            // IDbits = 10 bits of INTID, no LPIs/MBIs, no Aff3, no 1-of-N.
            GicVersion::V3 => lines | cpus | (9 << 19) | TYPER_NO1N,
        }
    }

    fn accessible(&self, irq: u32, private_ok: bool) -> bool {
        irq < self.cfg.num_irqs && (irq >= NUM_PRIVATE || private_ok)
    }

    pub(super) fn read_bits(&self, c: usize, kind: BitReg, first: u32, private_ok: bool) -> u32 {
        let mut v = 0;
        for b in 0..32 {
            let irq = first + b;
            if !self.accessible(irq, private_ok) {
                continue;
            }
            let Some(i) = self.irq(c, irq) else { continue };
            let bit = match kind {
                BitReg::Group => i.group1,
                BitReg::SetEnable | BitReg::ClearEnable => i.enabled,
                // In a list register the hardware holds it pending or active; report pending.
                BitReg::SetPending | BitReg::ClearPending => {
                    i.latch || (i.line && !i.edge) || i.in_lr
                }
                BitReg::SetActive | BitReg::ClearActive => i.active,
            };
            v |= u32::from(bit) << b;
        }
        v
    }

    pub(super) fn write_bits(
        &mut self,
        c: usize,
        kind: BitReg,
        first: u32,
        value: u32,
        private_ok: bool,
    ) {
        let v2 = self.cfg.version == GicVersion::V2;
        for b in 0..32 {
            let irq = first + b;
            let set = value & (1 << b) != 0;
            if !self.accessible(irq, private_ok) || (!set && kind != BitReg::Group) {
                continue;
            }
            // v2 SGI pending state is per source: only SPENDSGIR/CPENDSGIR change it.
            if v2 && irq < NUM_SGIS && matches!(kind, BitReg::SetPending | BitReg::ClearPending) {
                continue;
            }
            let Some(i) = self.irq_mut(c, irq) else {
                continue;
            };
            match kind {
                BitReg::Group => i.group1 = set,
                BitReg::SetEnable => i.enabled = true,
                BitReg::ClearEnable => i.enabled = false,
                BitReg::SetPending => i.latch = true,
                // Cannot take it back from a list register; a high level line stays pending.
                BitReg::ClearPending => i.latch = false,
                BitReg::SetActive => i.active = true,
                BitReg::ClearActive => i.active = false,
            }
            self.update(c, irq);
        }
    }

    pub(super) fn read_priority(&self, c: usize, irq: u32, private_ok: bool) -> u8 {
        if !self.accessible(irq, private_ok) {
            return 0;
        }
        self.irq(c, irq).map_or(0, |i| i.priority)
    }

    pub(super) fn write_priority(&mut self, c: usize, irq: u32, prio: u8, private_ok: bool) {
        if !self.accessible(irq, private_ok) {
            return;
        }
        // The queue is ordered when drained, so no re-queueing is needed.
        if let Some(i) = self.irq_mut(c, irq) {
            i.priority = prio & PRIORITY_MASK;
        }
    }

    pub(super) fn read_config(&self, c: usize, first: u32, private_ok: bool) -> u32 {
        let mut v = 0;
        for k in 0..16 {
            let irq = first + k;
            if !self.accessible(irq, private_ok) {
                continue;
            }
            if self.irq(c, irq).is_some_and(|i| i.edge) {
                v |= 2 << (2 * k);
            }
        }
        v
    }

    pub(super) fn write_config(&mut self, c: usize, first: u32, value: u32, private_ok: bool) {
        for k in 0..16 {
            let irq = first + k;
            // SGIs are edge-triggered, fixed.
            if irq < NUM_SGIS || !self.accessible(irq, private_ok) {
                continue;
            }
            let edge = value & (2 << (2 * k)) != 0;
            if let Some(i) = self.irq_mut(c, irq) {
                i.edge = edge;
            }
            self.update(c, irq);
        }
    }

    fn read_target(&self, c: usize, irq: u32) -> u8 {
        if self.cfg.version == GicVersion::V3 || self.cfg.num_vcpus == 1 || irq >= self.cfg.num_irqs
        {
            return 0;
        }
        if irq < NUM_PRIVATE {
            // ITARGETSR0..7 read as the accessing CPU's own bit.
            return 1 << c;
        }
        self.irq(c, irq).map_or(0, |i| i.targets)
    }

    fn write_target(&mut self, irq: u32, mask: u8) {
        if self.cfg.version == GicVersion::V3 || self.cfg.num_vcpus == 1 || irq < NUM_PRIVATE {
            return;
        }
        let mask = mask & self.all_cpus_mask();
        if let Some(i) = self.irq_mut(0, irq) {
            i.targets = mask;
            self.update(0, irq);
        }
    }

    fn write_sgir(&mut self, c: usize, value: u32) {
        let sgi = value & 0xf;
        let list = (value >> 16) & 0xff;
        let all = u32::from(self.all_cpus_mask());
        let targets = match (value >> 24) & 3 {
            0 => list & all,
            1 => all & !(1 << c),
            2 => 1 << c,
            _ => {
                log::warn!("vgic: vcpu{c}: GICD_SGIR {value:#x} with reserved filter ignored");
                0
            }
        };
        self.send_sgi(c, sgi, (0..8).filter(|t| targets & (1 << t) != 0), false);
    }

    fn write_sgi_pend(&mut self, c: usize, sgi: u32, set: bool, value: u8) {
        if sgi >= NUM_SGIS {
            return;
        }
        let all = self.all_cpus_mask();
        let cpu = &mut self.cpus[c];
        let src = &mut cpu.sgi_sources[sgi as usize];
        if set {
            *src |= value & all;
        } else {
            *src &= !value;
        }
        cpu.private[sgi as usize].latch = *src != 0;
        self.update(c, sgi);
    }

    fn spi_route(&self, irq: u32) -> u64 {
        if irq < NUM_PRIVATE || irq >= self.cfg.num_irqs {
            return 0;
        }
        self.irq(0, irq).map_or(0, |i| i.route)
    }

    fn write_route(&mut self, irq: u32, size: AccessSize, high: bool, value: u64) {
        if irq < NUM_PRIVATE || irq >= self.cfg.num_irqs {
            return;
        }
        let Some(i) = self.irq_mut(0, irq) else {
            return;
        };
        // Interrupt_Routing_Mode (bit 31) is RAZ/WI: 1-of-N is not offered.
        let r = match (size, high) {
            (AccessSize::Double, _) => value,
            (_, false) => (i.route & !0xffff_ffff) | (value & 0xffff_ffff),
            (_, true) => (i.route & 0xffff_ffff) | (value << 32),
        };
        i.route = r & MPIDR_AFF_MASK;
        self.update(0, irq);
    }
}

/// Assembles `n` bytes from `f(byte_index)`, little-endian.
fn bytes(n: u32, f: impl Fn(u32) -> u64) -> u64 {
    (0..n).fold(0, |acc, b| acc | (f(b) & 0xff) << (8 * b))
}
