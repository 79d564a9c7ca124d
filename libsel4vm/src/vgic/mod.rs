//! Virtual GIC: distributor emulation (GICv2 and GICv3), GICv3
//! redistributors and SGI system-register traps, and the list-register
//! manager that turns pending virtual interrupts into list-register
//! injections.
//!
//! Pure and per VM: a [`Vgic`] owns all interrupt state of one VM and talks
//! to nothing. Every operation that can change what the guest should see
//! appends [`Effect`]s (inject into list register *n* of vCPU *v*; the guest
//! completed IRQ *i*) that the caller carries out through its backend. This
//! keeps the device model testable on the host and free of globals.
//!
//! Corresponds to libsel4vm's `arch/arm/vgic/` (`vgic.c`, `vdist.h`,
//! `vgicv2_defs.h`, `vgicv3_defs.h`) and libvmm's `vgic_v2.c`/`vgic_v3.c`.
//!
//! Model of one interrupt: a *latch* (edge pulse, `ISPENDR`, SGI), a *line*
//! level (for level-sensitive inputs), enable, group, priority, trigger
//! mode, and whether it sits in a list register or in the overflow queue of
//! its target vCPU. A pending, enabled interrupt of an enabled group goes to
//! a free list register of its target; if none is free it waits in a queue
//! that is drained highest-priority first (lowest value, then lowest id) as
//! list registers free up (maintenance interrupts on EOI). Once in a list
//! register the hardware owns the pending/active state until the guest's EOI.

mod dist;
mod redist;
pub mod regs;
mod sysreg;

pub use sysreg::SysRegOutcome;

use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use crate::arch::AccessSize;
use crate::backend::{VcpuId, VirqInjection};

/// Number of SGIs (INTIDs 0..16).
pub const NUM_SGIS: u32 = 16;
/// Number of banked private interrupts per vCPU (SGIs and PPIs, INTIDs 0..32).
pub const NUM_PRIVATE: u32 = 32;
/// Upper bound (exclusive) of SPI INTIDs; 1020..1023 are special.
pub const MAX_INTID: u32 = 1020;
/// Most list registers a GIC can have (`ICH_VTR_EL2.ListRegs`/`GICH_VTR` is 6 bits).
pub const MAX_LIST_REGISTERS: u8 = 64;
/// Most vCPUs a GICv2 can address (8-bit target lists).
pub const MAX_VCPUS_V2: u32 = 8;
/// Most vCPUs supported with GICv3 (Aff0 0..=255, one SGI target-list range each 16).
pub const MAX_VCPUS_V3: u32 = 256;
/// Priority bits implemented: the kernel's list-register interface takes 5.
pub const PRIORITY_MASK: u8 = 0xf8;

/// Which GIC architecture the guest sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GicVersion {
    /// GICv2: memory-mapped CPU interface, 8 CPUs, `GICD_SGIR`.
    V2,
    /// GICv3: affinity routing, redistributors, system-register CPU interface.
    V3,
}

/// Shape of one VM's vGIC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VgicConfig {
    /// Architecture presented to the guest.
    pub version: GicVersion,
    /// vCPUs (1..=8 for v2).
    pub num_vcpus: u32,
    /// Implemented INTIDs including the 32 private ones; rounded up to a
    /// multiple of 32, at most 1020 (`GICD_TYPER.ITLinesNumber`).
    pub num_irqs: u32,
    /// List registers per vCPU the kernel lets us use (the hardware count).
    pub num_list_registers: u8,
}

impl VgicConfig {
    /// A GICv2 with 256 INTIDs and 4 list registers (QEMU's and GIC-400's count).
    pub fn v2(num_vcpus: u32) -> Self {
        Self {
            version: GicVersion::V2,
            num_vcpus,
            num_irqs: 256,
            num_list_registers: 4,
        }
    }
    /// A GICv3 with 256 INTIDs and 4 list registers.
    pub fn v3(num_vcpus: u32) -> Self {
        Self {
            version: GicVersion::V3,
            num_vcpus,
            num_irqs: 256,
            num_list_registers: 4,
        }
    }
}

/// vGIC errors. The MMIO and system-register entry points report guest
/// mistakes with these *after* applying the architected result (the access
/// was ignored / reads as zero); the caller logs them and lets the guest go on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum VgicError {
    /// Configuration outside the supported range.
    InvalidConfig,
    /// No such vCPU.
    InvalidVcpu(VcpuId),
    /// INTID not implemented (or not valid for the call).
    InvalidIrq(u32),
    /// List-register index out of range.
    InvalidListRegister(u32),
    /// Access not naturally aligned.
    Unaligned {
        /// Offset inside the frame.
        offset: u64,
        /// Access size.
        size: AccessSize,
    },
    /// Access width the register does not allow.
    BadWidth {
        /// Offset inside the frame.
        offset: u64,
        /// Access size.
        size: AccessSize,
    },
    /// Offset is not a register of this GIC (RAZ/WI).
    Reserved {
        /// Offset inside the frame.
        offset: u64,
    },
    /// Write to a read-only register (ignored).
    ReadOnly {
        /// Offset inside the frame.
        offset: u64,
    },
    /// Read of a write-only register (reads as zero).
    WriteOnly {
        /// Offset inside the frame.
        offset: u64,
    },
    /// The operation needs the other GIC version (e.g. redistributor on v2).
    WrongVersion,
}

impl fmt::Display for VgicError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::error::{message, Arg::*};
        use VgicError as E;
        let (what, arg) = match *self {
            E::InvalidConfig => ("invalid configuration", None),
            E::InvalidVcpu(v) => ("no vcpu", Dec(v.0.into())),
            E::InvalidIrq(i) => ("invalid INTID", Dec(i.into())),
            E::InvalidListRegister(i) => ("invalid list register", Dec(i.into())),
            E::Unaligned { offset, size } => {
                return write!(f, "unaligned {}-byte access at {offset:#x}", size.bytes())
            }
            E::BadWidth { offset, size } => {
                return write!(f, "bad {}-byte access at {offset:#x}", size.bytes())
            }
            E::Reserved { offset } => ("reserved register", Hex(offset)),
            E::ReadOnly { offset } => ("read-only register", Hex(offset)),
            E::WriteOnly { offset } => ("write-only register", Hex(offset)),
            E::WrongVersion => ("wrong GIC version", None),
        };
        message(f, what, arg)
    }
}

/// Size of the distributor range the vGIC emulates for `version` (what a
/// guest's device tree must give as its `reg` size).
pub fn dist_size(version: GicVersion) -> u64 {
    match version {
        GicVersion::V2 => regs::GICD_SIZE_V2,
        GicVersion::V3 => regs::GICD_SIZE_V3,
    }
}

/// Something the caller must do for the vGIC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Put `injection` into a list register of `vcpu` (`seL4_ARM_VCPU_InjectIRQ`)
    /// and wake `vcpu` if it waits in WFI. `injection.priority` is already the
    /// 5-bit list-register priority the kernel expects.
    Inject {
        /// Target vCPU.
        vcpu: VcpuId,
        /// What to inject where.
        injection: VirqInjection,
    },
    /// The guest completed `irq` on `vcpu` (it left list register): run the
    /// registered ack callback, e.g. ack the physical IRQ or the VPPI.
    Eoi {
        /// vCPU that completed it.
        vcpu: VcpuId,
        /// The INTID.
        irq: u32,
    },
}

/// Snapshot of one interrupt's state, for diagnostics and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IrqStatus {
    /// Forwarding enabled (`ISENABLER`).
    pub enabled: bool,
    /// Pending latch set (edge, `ISPENDR`, SGI) and not yet in a list register.
    pub latched: bool,
    /// Input line level (level-sensitive use).
    pub line: bool,
    /// Active bit as set through `ISACTIVER`.
    pub active: bool,
    /// Group 1 (else group 0).
    pub group1: bool,
    /// Priority (upper 5 bits significant).
    pub priority: u8,
    /// Edge-triggered (else level).
    pub edge: bool,
    /// In a list register.
    pub in_list_register: bool,
    /// Waiting in the overflow queue of this vCPU.
    pub queued_on: Option<VcpuId>,
}

#[derive(Clone, Copy, Debug, Default)]
struct Irq {
    enabled: bool,
    latch: bool,
    line: bool,
    active: bool,
    group1: bool,
    priority: u8,
    edge: bool,
    in_lr: bool,
    queued_on: Option<u32>,
    /// v2 SPI target CPU mask (`ITARGETSR`).
    targets: u8,
    /// v3 SPI route (`IROUTER` affinity fields).
    route: u64,
}

impl Irq {
    fn wants_delivery(&self, ctlr: u32) -> bool {
        let group_on =
            ctlr & if self.group1 {
                regs::CTLR_ENABLE_GRP1
            } else {
                regs::CTLR_ENABLE_GRP0
            } != 0;
        (self.latch || (self.line && !self.edge)) && self.enabled && group_on && !self.in_lr
    }
}

#[derive(Clone, Debug)]
struct Cpu {
    private: [Irq; NUM_PRIVATE as usize],
    /// v2: per SGI, the CPUs that sent it and are not delivered yet.
    sgi_sources: [u8; NUM_SGIS as usize],
    /// INTID held by each list register.
    lrs: Vec<Option<u32>>,
    /// Pending INTIDs waiting for a list register (unordered; drained by priority).
    queue: Vec<u32>,
    /// `GICR_WAKER.ProcessorSleep`.
    sleeping: bool,
}

impl Cpu {
    fn new(num_lrs: u8) -> Self {
        let mut private = [Irq::default(); NUM_PRIVATE as usize];
        for (i, p) in private.iter_mut().enumerate() {
            // SGIs are always edge-triggered; PPIs reset to level.
            p.edge = i < NUM_SGIS as usize;
        }
        Self {
            private,
            sgi_sources: [0; NUM_SGIS as usize],
            lrs: vec![None; num_lrs as usize],
            queue: Vec::new(),
            sleeping: true,
        }
    }
}

/// The virtual GIC of one VM.
///
/// Corresponds to libsel4vm's `struct vgic` plus its distributor
/// (`struct gic_dist_map`) and per-vCPU list-register shadow
/// (`struct vgic_vcpu`).
#[derive(Clone, Debug)]
pub struct Vgic {
    cfg: VgicConfig,
    ctlr: u32,
    spis: Vec<Irq>,
    cpus: Vec<Cpu>,
}

impl Vgic {
    /// Creates a vGIC in its reset state.
    pub fn new(cfg: VgicConfig) -> Result<Self, VgicError> {
        let max_vcpus = match cfg.version {
            GicVersion::V2 => MAX_VCPUS_V2,
            GicVersion::V3 => MAX_VCPUS_V3,
        };
        if cfg.num_vcpus == 0
            || cfg.num_vcpus > max_vcpus
            || cfg.num_list_registers == 0
            || cfg.num_list_registers > MAX_LIST_REGISTERS
            || cfg.num_irqs < NUM_PRIVATE
            || cfg.num_irqs > MAX_INTID
        {
            return Err(VgicError::InvalidConfig);
        }
        let mut cfg = cfg;
        cfg.num_irqs = cfg.num_irqs.div_ceil(32) * 32;
        cfg.num_irqs = cfg.num_irqs.min(MAX_INTID);
        let mut v = Self {
            cfg,
            ctlr: 0,
            spis: Vec::new(),
            cpus: Vec::new(),
        };
        v.reset();
        Ok(v)
    }

    /// Back to the reset state (everything disabled, nothing pending, empty
    /// list-register shadows). The kernel's list registers are not touched:
    /// a VMM restarting a guest should also recreate or quiesce its vCPUs.
    pub fn reset(&mut self) {
        self.ctlr = 0;
        self.spis = vec![Irq::default(); (self.cfg.num_irqs - NUM_PRIVATE) as usize];
        self.cpus = (0..self.cfg.num_vcpus)
            .map(|_| Cpu::new(self.cfg.num_list_registers))
            .collect();
    }

    /// The configuration (with `num_irqs` rounded as implemented).
    pub fn config(&self) -> &VgicConfig {
        &self.cfg
    }

    /// Size of the distributor frame to reserve in the guest address space.
    pub fn dist_size(&self) -> u64 {
        dist_size(self.cfg.version)
    }

    /// Size of the redistributor region (v3: one 128 KiB frame pair per vCPU; v2: 0).
    pub fn redist_size(&self) -> u64 {
        match self.cfg.version {
            GicVersion::V2 => 0,
            GicVersion::V3 => u64::from(self.cfg.num_vcpus) * regs::GICR_STRIDE,
        }
    }

    /// Makes `irq` pending once (an edge, or a software "inject"): SGIs/PPIs
    /// on `vcpu`, SPIs on whichever vCPU the distributor routes them to
    /// (`vcpu` is then only checked).
    ///
    /// Corresponds to `vm_inject_irq` / libvmm's `virq_inject`.
    pub fn inject(
        &mut self,
        vcpu: VcpuId,
        irq: u32,
        out: &mut Vec<Effect>,
    ) -> Result<(), VgicError> {
        let c = self.cpu_index(vcpu)?;
        if self.cfg.version == GicVersion::V2 && irq < NUM_SGIS {
            // A VMM-made SGI counts as sent by the target itself.
            self.cpus[c].sgi_sources[irq as usize] |= 1 << c;
        }
        let i = self.irq_mut(c, irq).ok_or(VgicError::InvalidIrq(irq))?;
        i.latch = true;
        self.update(c, irq);
        self.flush_all(out);
        Ok(())
    }

    /// Sets the input line of `irq`. For level-sensitive interrupts the
    /// interrupt is pending while the line is high (and is re-delivered after
    /// each EOI while it stays high); for edge-triggered ones a rising edge
    /// latches it pending. SGIs have no line.
    ///
    /// Corresponds to `vm_set_irq_level` / libvmm's level handling.
    pub fn set_level(
        &mut self,
        vcpu: VcpuId,
        irq: u32,
        level: bool,
        out: &mut Vec<Effect>,
    ) -> Result<(), VgicError> {
        let c = self.cpu_index(vcpu)?;
        if irq < NUM_SGIS {
            return Err(VgicError::InvalidIrq(irq));
        }
        let i = self.irq_mut(c, irq).ok_or(VgicError::InvalidIrq(irq))?;
        if i.edge && level && !i.line {
            i.latch = true;
        }
        i.line = level;
        self.update(c, irq);
        self.flush_all(out);
        Ok(())
    }

    /// A list register of `vcpu` was freed by the guest's EOI (a vGIC
    /// maintenance event; `lr` is `None` when the kernel did not know which).
    /// Reports the completed interrupt ([`Effect::Eoi`]), re-pends it if its
    /// line is still high or more SGI sources wait, and refills free list
    /// registers from the queue.
    ///
    /// Corresponds to libsel4vm's `handle_vgic_maintenance`.
    pub fn maintenance(
        &mut self,
        vcpu: VcpuId,
        lr: Option<u32>,
        out: &mut Vec<Effect>,
    ) -> Result<(), VgicError> {
        let c = self.cpu_index(vcpu)?;
        let mut result = Ok(());
        if let Some(lr) = lr {
            match self.cpus[c].lrs.get_mut(lr as usize) {
                Some(slot) => match slot.take() {
                    Some(irq) => {
                        if let Some(i) = self.irq_mut(c, irq) {
                            i.in_lr = false;
                        }
                        out.push(Effect::Eoi { vcpu, irq });
                        self.update(c, irq);
                    }
                    None => log::debug!("vgic: {vcpu}: maintenance for empty list register {lr}"),
                },
                None => result = Err(VgicError::InvalidListRegister(lr)),
            }
        }
        self.flush_all(out);
        result
    }

    /// INTIDs in `vcpu`'s list registers as the vGIC placed them (index = LR).
    pub fn list_registers(&self, vcpu: VcpuId) -> &[Option<u32>] {
        self.cpus
            .get(vcpu.0 as usize)
            .map(|c| c.lrs.as_slice())
            .unwrap_or(&[])
    }

    /// INTIDs waiting for a list register on `vcpu`, in delivery order.
    pub fn queued(&self, vcpu: VcpuId) -> Vec<u32> {
        let Some(cpu) = self.cpus.get(vcpu.0 as usize) else {
            return Vec::new();
        };
        let c = vcpu.0 as usize;
        let mut q = cpu.queue.clone();
        q.sort_by_key(|&irq| (self.irq(c, irq).map_or(u8::MAX, |i| i.priority), irq));
        q
    }

    /// True if `vcpu` has an interrupt in a list register or queued for one
    /// (a WFI should not block then).
    pub fn has_inflight(&self, vcpu: VcpuId) -> bool {
        self.cpus
            .get(vcpu.0 as usize)
            .is_some_and(|c| c.lrs.iter().any(Option::is_some) || !c.queue.is_empty())
    }

    /// State of `irq` as seen from `vcpu` (private INTIDs are per vCPU).
    pub fn irq_status(&self, vcpu: VcpuId, irq: u32) -> Option<IrqStatus> {
        let c = vcpu.0 as usize;
        if c >= self.cpus.len() {
            return None;
        }
        let i = self.irq(c, irq)?;
        Some(IrqStatus {
            enabled: i.enabled,
            latched: i.latch,
            line: i.line,
            active: i.active,
            group1: i.group1,
            priority: i.priority,
            edge: i.edge,
            in_list_register: i.in_lr,
            queued_on: i.queued_on.map(VcpuId),
        })
    }

    /// Checks the internal consistency of the queues and list-register
    /// shadows (for tests and fuzzing): every queued INTID is recorded as
    /// queued on that CPU exactly once and is deliverable, every INTID in a
    /// list register is marked as such, and nothing is both.
    pub fn check_invariants(&self) -> Result<(), &'static str> {
        for (c, cpu) in self.cpus.iter().enumerate() {
            for (k, &irq) in cpu.queue.iter().enumerate() {
                if cpu.queue[..k].contains(&irq) {
                    return Err("INTID queued twice");
                }
                let i = self.irq(c, irq).ok_or("queued INTID does not exist")?;
                if i.queued_on != Some(c as u32) {
                    return Err("queued INTID not marked queued on this CPU");
                }
                if !i.wants_delivery(self.ctlr) {
                    return Err("undeliverable INTID in queue");
                }
            }
            if cpu.lrs.len() != self.cfg.num_list_registers as usize {
                return Err("list-register count changed");
            }
            for irq in cpu.lrs.iter().flatten() {
                let i = self
                    .irq(c, *irq)
                    .ok_or("INTID in list register does not exist")?;
                if !i.in_lr || i.queued_on.is_some() {
                    return Err("list-register INTID state mismatch");
                }
            }
            if !cpu.queue.is_empty() && cpu.lrs.iter().any(Option::is_none) {
                return Err("queue not drained into a free list register");
            }
        }
        Ok(())
    }

    /// The distributor's `GICD_CTLR` group-enable bits.
    pub fn distributor_enabled(&self) -> (bool, bool) {
        (
            self.ctlr & regs::CTLR_ENABLE_GRP0 != 0,
            self.ctlr & regs::CTLR_ENABLE_GRP1 != 0,
        )
    }

    // ---- internals shared by the register front ends ----

    fn cpu_index(&self, vcpu: VcpuId) -> Result<usize, VgicError> {
        let c = vcpu.0 as usize;
        if c < self.cpus.len() {
            Ok(c)
        } else {
            Err(VgicError::InvalidVcpu(vcpu))
        }
    }

    fn all_cpus_mask(&self) -> u8 {
        ((1u32 << self.cfg.num_vcpus.min(8)) - 1) as u8
    }

    /// Interrupt `irq` in the bank of CPU `c` (private) or the shared SPIs.
    fn irq(&self, c: usize, irq: u32) -> Option<&Irq> {
        if irq < NUM_PRIVATE {
            self.cpus.get(c).map(|cpu| &cpu.private[irq as usize])
        } else {
            self.spis.get((irq - NUM_PRIVATE) as usize)
        }
    }

    fn irq_mut(&mut self, c: usize, irq: u32) -> Option<&mut Irq> {
        if irq < NUM_PRIVATE {
            self.cpus
                .get_mut(c)
                .map(|cpu| &mut cpu.private[irq as usize])
        } else {
            self.spis.get_mut((irq - NUM_PRIVATE) as usize)
        }
    }

    /// The CPU an interrupt in bank `c` is forwarded to, if any.
    fn target_of(&self, c: usize, irq: u32) -> Option<usize> {
        if irq < NUM_PRIVATE {
            return Some(c);
        }
        let i = self.irq(c, irq)?;
        match self.cfg.version {
            // Uniprocessor GICv2: ITARGETSR is RAZ/WI and everything goes to CPU 0.
            GicVersion::V2 if self.cfg.num_vcpus == 1 => Some(0),
            GicVersion::V2 => {
                let m = i.targets & self.all_cpus_mask();
                (m != 0).then(|| m.trailing_zeros() as usize)
            }
            GicVersion::V3 => {
                crate::psci::vcpu_from_mpidr(i.route, self.cfg.num_vcpus).map(|v| v.0 as usize)
            }
        }
    }

    /// Re-evaluates whether `irq` (bank `c`) should wait for a list register
    /// and on which CPU; moves it between queues accordingly.
    fn update(&mut self, c: usize, irq: u32) {
        let target = self.target_of(c, irq);
        let ctlr = self.ctlr;
        let Some(i) = self.irq_mut(c, irq) else {
            return;
        };
        let want = if i.wants_delivery(ctlr) { target } else { None };
        let want = want.map(|t| t as u32);
        if i.queued_on == want {
            return;
        }
        let old = core::mem::replace(&mut i.queued_on, want);
        if let Some(o) = old {
            self.cpus[o as usize].queue.retain(|&q| q != irq);
        }
        if let Some(t) = want {
            self.cpus[t as usize].queue.push(irq);
        }
    }

    fn update_range(&mut self, c: usize, first: u32, count: u32) {
        for irq in first..first.saturating_add(count).min(self.cfg.num_irqs) {
            self.update(c, irq);
        }
    }

    fn update_all(&mut self) {
        for c in 0..self.cpus.len() {
            self.update_range(c, 0, NUM_PRIVATE);
        }
        self.update_range(0, NUM_PRIVATE, self.cfg.num_irqs - NUM_PRIVATE);
    }

    /// Moves queued interrupts into free list registers, best first.
    fn flush(&mut self, c: usize, out: &mut Vec<Effect>) {
        loop {
            let cpu = &self.cpus[c];
            let Some(lr) = cpu.lrs.iter().position(Option::is_none) else {
                return;
            };
            let best = cpu
                .queue
                .iter()
                .enumerate()
                .min_by_key(|&(_, &irq)| (self.irq(c, irq).map_or(u8::MAX, |i| i.priority), irq))
                .map(|(pos, _)| pos);
            let Some(pos) = best else { return };
            let irq = self.cpus[c].queue.swap_remove(pos);
            let v2_sgi = self.cfg.version == GicVersion::V2 && irq < NUM_SGIS;
            let cpu = &mut self.cpus[c];
            if v2_sgi {
                // One delivery per sending CPU: take the lowest source, keep the rest pending.
                let src = &mut cpu.sgi_sources[irq as usize];
                *src &= src.wrapping_sub(1);
                cpu.private[irq as usize].latch = *src != 0;
            }
            cpu.lrs[lr] = Some(irq);
            let Some(i) = self.irq_mut(c, irq) else {
                continue;
            };
            i.queued_on = None;
            i.in_lr = true;
            if !v2_sgi {
                i.latch = false;
            }
            let injection = VirqInjection {
                irq,
                priority: i.priority >> 3,
                group: u8::from(i.group1),
                lr: lr as u8,
            };
            out.push(Effect::Inject {
                vcpu: VcpuId(c as u32),
                injection,
            });
        }
    }

    fn flush_all(&mut self, out: &mut Vec<Effect>) {
        for c in 0..self.cpus.len() {
            self.flush(c, out);
        }
    }

    /// Sends SGI `sgi` to each CPU in `targets` (a CPU index list), the way
    /// `GICD_SGIR` and `ICC_SGI1R_EL1` do. `group0_only` (ICC_SGI0R_EL1)
    /// skips targets where the SGI is group 1.
    fn send_sgi(
        &mut self,
        from: usize,
        sgi: u32,
        targets: impl Iterator<Item = usize>,
        group0_only: bool,
    ) {
        for t in targets {
            if t >= self.cpus.len() {
                continue;
            }
            let cpu = &mut self.cpus[t];
            let i = &mut cpu.private[sgi as usize];
            if group0_only && i.group1 {
                continue;
            }
            i.latch = true;
            if self.cfg.version == GicVersion::V2 {
                cpu.sgi_sources[sgi as usize] |= 1 << from;
            }
            self.update(t, sgi);
        }
    }
}

/// Validates alignment and width: words always, bytes if `byte_ok`,
/// doublewords if `dword_ok`, halfwords never (no GIC register allows them).
fn check_access(
    offset: u64,
    size: AccessSize,
    byte_ok: bool,
    dword_ok: bool,
) -> Result<(), VgicError> {
    if !offset.is_multiple_of(size.bytes() as u64) {
        return Err(VgicError::Unaligned { offset, size });
    }
    let ok = match size {
        AccessSize::Word => true,
        AccessSize::Byte => byte_ok,
        AccessSize::Double => dword_ok,
        AccessSize::Half => false,
    };
    if ok {
        Ok(())
    } else {
        Err(VgicError::BadWidth { offset, size })
    }
}
