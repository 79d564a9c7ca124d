//! Virtual IRQ controller (`guest_irq_controller.h`) on top of the vGIC
//! device model ([`crate::vgic`]) and the virtual timer ([`crate::vtimer`]).
//!
//! Two ways to create it:
//! * [`Vm::create_default_irq_controller`]: no guest-visible distributor;
//!   every interrupt counts as enabled and SPIs go to the vCPU they are
//!   injected on. For guests without a GIC driver and for VMM tests.
//! * [`Vm::create_vgic`]: a GICv2 or GICv3 the guest programs itself —
//!   distributor (and v3 redistributors) emulated through MMIO reservations,
//!   the v2 virtual CPU interface mapped at the guest's GICC address, SGIs
//!   from `GICD_SGIR` or trapped `ICC_SGI1R_EL1`.
//!
//! Either way the vGIC decides what goes into which list register; this
//! module carries its [`Effect`]s out through the backend, wakes vCPUs
//! parked in WFI, runs the registered ack callbacks on EOI, and acknowledges
//! the virtual-timer VPPI once the guest completed PPI 27.

use alloc::boxed::Box;
use alloc::vec::Vec;

use crate::arch::syndrome::SysRegIss;
use crate::arch::AccessSize;
use crate::backend::{Backend, Rights, UserContext, VcpuId};
use crate::error::{Error, Result};
use crate::fault::MemFault;
use crate::reservation::{FaultResult, MapFrame, MapMode};
use crate::run::Action;
use crate::vgic::{regs, Effect, GicVersion, SysRegOutcome, Vgic, VgicConfig, NUM_PRIVATE};
use crate::vm::{VcpuState, Vm};
use crate::vtimer::{VTimer, VppiAction, VTIMER_PPI};

/// Called when the guest has completed (EOI'd) a virtual IRQ: `(vm, vcpu, irq)`.
///
/// Corresponds to `irq_ack_fn_t`.
pub type IrqAckHandler<B> = Box<dyn FnMut(&mut Vm<B>, VcpuId, u32)>;

/// Guest-physical layout of an emulated GIC.
///
/// Corresponds to libsel4vm's `GIC_DIST_PADDR`/`GIC_CPU_PADDR`/`GIC_VCPU_PADDR`
/// platform constants and libvmm's `GIC_DIST_PADDR`/`GIC_REDIST_PADDR`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GicLayout {
    /// Architecture presented to the guest.
    pub version: GicVersion,
    /// Guest address of the distributor (`GICD`).
    pub dist_base: u64,
    /// v2: guest address of the CPU interface (`GICC`), where the hardware's
    /// virtual CPU interface is mapped (8 KiB).
    pub cpu_interface: u64,
    /// v2: physical address of the hardware's virtual CPU interface (`GICV`).
    pub vcpu_interface_paddr: u64,
    /// v3: guest address of the redistributor region (128 KiB per vCPU).
    pub redist_base: u64,
    /// Implemented INTIDs including the 32 private ones.
    pub num_irqs: u32,
}

impl GicLayout {
    /// QEMU `virt` with `gic-version=2`, guest addresses equal to the physical ones.
    pub const fn qemu_virt_v2() -> Self {
        Self {
            version: GicVersion::V2,
            dist_base: 0x0800_0000,
            cpu_interface: 0x0801_0000,
            vcpu_interface_paddr: 0x0804_0000,
            redist_base: 0,
            num_irqs: 288,
        }
    }

    /// QEMU `virt` with `gic-version=3`.
    pub const fn qemu_virt_v3() -> Self {
        Self {
            version: GicVersion::V3,
            dist_base: 0x0800_0000,
            cpu_interface: 0,
            vcpu_interface_paddr: 0,
            redist_base: 0x080a_0000,
            num_irqs: 288,
        }
    }
}

/// Size of the GICv2 CPU interface frame (`GICC_DIR` is at 0x1000).
const GICC_SIZE: u64 = 0x2000;

/// Ack callbacks keyed by [`IrqController::key`], kept sorted. A sorted
/// `Vec` rather than a `BTreeMap`: entries are only added (at registration),
/// lookups are binary searches, and it is a fraction of the code.
struct AckTable<B: Backend>(Vec<AckEntry<B>>);

/// Key and callback (`None` while it runs).
type AckEntry<B> = ((u32, u32), Option<IrqAckHandler<B>>);

impl<B: Backend> AckTable<B> {
    fn find(&self, k: &(u32, u32)) -> core::result::Result<usize, usize> {
        self.0.binary_search_by_key(k, |e| e.0)
    }

    fn contains_key(&self, k: &(u32, u32)) -> bool {
        self.find(k).is_ok()
    }

    fn get_mut(&mut self, k: &(u32, u32)) -> Option<&mut Option<IrqAckHandler<B>>> {
        let i = self.find(k).ok()?;
        Some(&mut self.0[i].1)
    }

    /// Removes the entry for `k`; whether there was one.
    fn remove(&mut self, k: &(u32, u32)) -> bool {
        match self.find(k) {
            Ok(i) => {
                self.0.remove(i);
                true
            }
            Err(_) => false,
        }
    }

    /// Adds or replaces the entry for `k`.
    fn insert(&mut self, k: (u32, u32), v: Option<IrqAckHandler<B>>) {
        match self.find(&k) {
            Ok(i) => self.0[i].1 = v,
            Err(i) => self.0.insert(i, (k, v)),
        }
    }
}

/// Per-VM IRQ controller state.
pub(crate) struct IrqController<B: Backend> {
    pub(crate) vgic: Vgic,
    vtimer: VTimer,
    /// Ack callbacks by [`key`]; `None` while one runs.
    acks: AckTable<B>,
    /// `None`: no guest-visible distributor (everything pre-enabled).
    layout: Option<GicLayout>,
}

impl<B: Backend> IrqController<B> {
    /// Registration key: private INTIDs per vCPU; SPIs once per VM when the
    /// guest routes them, per vCPU when the VMM does (no distributor).
    fn key(&self, vcpu: VcpuId, irq: u32) -> (u32, u32) {
        if irq < NUM_PRIVATE || self.layout.is_none() {
            (vcpu.0, irq)
        } else {
            (u32::MAX, irq)
        }
    }
}

/// Programs a vGIC the way a guest that wants every interrupt would: both
/// groups on, everything enabled. Used when the guest sees no distributor.
fn preenable(vgic: &mut Vgic) -> core::result::Result<(), crate::vgic::VgicError> {
    let mut out = Vec::new();
    let all = u64::from(u32::MAX);
    vgic.dist_write(VcpuId(0), regs::GICD_CTLR, AccessSize::Word, 3, &mut out)?;
    for c in 0..vgic.config().num_vcpus {
        match vgic.config().version {
            GicVersion::V2 => vgic.dist_write(
                VcpuId(c),
                regs::GICD_ISENABLER,
                AccessSize::Word,
                all,
                &mut out,
            )?,
            GicVersion::V3 => {
                let off =
                    u64::from(c) * regs::GICR_STRIDE + regs::GICR_SGI_BASE + regs::GICD_ISENABLER;
                vgic.redist_write(VcpuId(c), off, AccessSize::Word, all, &mut out)?
            }
        }
    }
    for n in 1..vgic.config().num_irqs / 32 {
        let off = regs::GICD_ISENABLER + 4 * u64::from(n);
        vgic.dist_write(VcpuId(0), off, AccessSize::Word, all, &mut out)?;
    }
    debug_assert!(out.is_empty());
    Ok(())
}

impl<B: Backend> Vm<B> {
    /// Creates the VM's IRQ controller without a guest-visible distributor:
    /// registered IRQs injected with [`Vm::inject_irq`] go straight to list
    /// registers of the vCPU named (queued by priority when all are busy).
    ///
    /// Corresponds to `vm_create_default_irq_controller`.
    pub fn create_default_irq_controller(&mut self) -> Result<()> {
        if self.irq.is_some() {
            return Err(Error::IrqControllerExists);
        }
        let n = self.config().max_vcpus;
        let version = if n <= crate::vgic::MAX_VCPUS_V2 {
            GicVersion::V2
        } else {
            GicVersion::V3
        };
        let cfg = VgicConfig {
            version,
            num_vcpus: n.min(crate::vgic::MAX_VCPUS_V3),
            num_irqs: 256,
            num_list_registers: self.config().num_list_registers.max(1),
        };
        let mut vgic = Vgic::new(cfg)?;
        preenable(&mut vgic)?;
        self.irq = Some(IrqController {
            vgic,
            vtimer: VTimer::new(n),
            acks: AckTable(Vec::new()),
            layout: None,
        });
        Ok(())
    }

    /// Creates an emulated GIC the guest programs itself: reserves the
    /// distributor (and v3 redistributor) range with an MMIO handler and, for
    /// v2, maps the hardware's virtual CPU interface at the guest's CPU
    /// interface address. vCPUs: the VM's `max_vcpus`.
    ///
    /// Corresponds to `vm_create_default_irq_controller` with libsel4vm's
    /// vGIC distributor device (`vm_install_vgic`), and libvmm's `vgic_init`.
    pub fn create_vgic(&mut self, layout: GicLayout) -> Result<()> {
        if self.irq.is_some() {
            return Err(Error::IrqControllerExists);
        }
        let n = self.config().max_vcpus;
        let cfg = VgicConfig {
            version: layout.version,
            num_vcpus: n,
            num_irqs: layout.num_irqs,
            num_list_registers: self.config().num_list_registers.max(1),
        };
        let vgic = Vgic::new(cfg)?;
        let dist_size = vgic.dist_size();
        let redist_size = vgic.redist_size();
        self.irq = Some(IrqController {
            vgic,
            vtimer: VTimer::new(n),
            acks: AckTable(Vec::new()),
            layout: Some(layout),
        });
        let res = self.install_gic_frames(layout, dist_size, redist_size);
        if res.is_err() {
            self.irq = None;
        }
        res
    }

    fn install_gic_frames(
        &mut self,
        layout: GicLayout,
        dist_size: u64,
        redist_size: u64,
    ) -> Result<()> {
        let dist = layout.dist_base;
        self.reserve_memory_at(dist, dist_size, move |vm, f| vm.gic_mmio(f, dist, false))?;
        match layout.version {
            GicVersion::V3 => {
                let rd = layout.redist_base;
                self.reserve_memory_at(rd, redist_size, move |vm, f| vm.gic_mmio(f, rd, true))?;
            }
            GicVersion::V2 => {
                // The guest talks to the virtual CPU interface directly; a fault
                // there means the mapping is missing, which nothing can fix.
                let gicc = layout.cpu_interface;
                let gicv = layout.vcpu_interface_paddr;
                let r = self.reserve_memory_at(gicc, GICC_SIZE, |vm, f| {
                    log::error!(
                        "{}: {} fault in the GIC CPU interface at {:#x}",
                        vm.name(),
                        f.vcpu,
                        f.addr
                    );
                    FaultResult::Error
                })?;
                let rights = Rights {
                    read: true,
                    write: true,
                    execute: false,
                };
                self.map_reservation(
                    r,
                    move |b: &mut B, ipa| {
                        let frame = b.alloc_frame(Some(gicv + (ipa - gicc)))?;
                        Ok(MapFrame {
                            frame,
                            rights,
                            owned: true,
                        })
                    },
                    MapMode::Now,
                )?;
            }
        }
        Ok(())
    }

    /// MMIO handler of the distributor / redistributor reservations. Guest
    /// mistakes (bad width, reserved offset, read-only register) are logged
    /// and ignored: reads return 0, writes have no effect.
    fn gic_mmio(&mut self, f: &mut MemFault, base: u64, redist: bool) -> FaultResult {
        let name = self.name_owned();
        let Some(ctl) = self.irq.as_mut() else {
            return FaultResult::Error;
        };
        if f.access.is_none() {
            log::error!("{name}: {} executes from the GIC at {:#x}", f.vcpu, f.addr);
            return FaultResult::Error;
        }
        let offset = f.addr - base;
        let Some(size) = AccessSize::from_bytes(f.size()) else {
            log::warn!(
                "{name}: {} {}-byte GIC access at {:#x} ignored",
                f.vcpu,
                f.size(),
                f.addr
            );
            f.set_data(0);
            return FaultResult::Handled;
        };
        let mut out = Vec::new();
        let res = if f.is_read() {
            let r = if redist {
                ctl.vgic.redist_read(f.vcpu, offset, size)
            } else {
                ctl.vgic.dist_read(f.vcpu, offset, size)
            };
            f.set_data(r.unwrap_or(0));
            r.map(drop)
        } else if redist {
            ctl.vgic
                .redist_write(f.vcpu, offset, size, f.data(), &mut out)
        } else {
            ctl.vgic
                .dist_write(f.vcpu, offset, size, f.data(), &mut out)
        };
        if let Err(e) = res {
            let what = if redist { "GICR" } else { "GICD" };
            log::warn!(
                "{name}: {} {what}+{offset:#x} {}: {e}; ignored",
                f.vcpu,
                f.kind
            );
        }
        match self.apply_irq_effects(out) {
            Ok(()) => FaultResult::Handled,
            Err(e) => {
                log::error!("{name}: delivering vGIC effects failed: {e}");
                FaultResult::Error
            }
        }
    }

    fn name_owned(&self) -> alloc::string::String {
        alloc::string::String::from(self.name())
    }

    /// Registers virtual IRQ `irq` with a callback run when the guest
    /// completes it (e.g. to ack the physical IRQ). Private INTIDs (< 32) are
    /// per vCPU; so are SPIs without a guest-visible distributor; with one
    /// ([`Vm::create_vgic`]) an SPI is registered once for the VM.
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
        if irq >= ctl.vgic.config().num_irqs {
            return Err(Error::Vgic(crate::vgic::VgicError::InvalidIrq(irq)));
        }
        let k = ctl.key(vcpu, irq);
        if ctl.acks.contains_key(&k) {
            return Err(Error::IrqAlreadyRegistered(irq));
        }
        ctl.acks.insert(k, Some(Box::new(ack)));
        Ok(())
    }

    /// Makes registered `irq` pending once (an edge). If it is in a list
    /// register already it is delivered again after the guest's EOI. Wakes a
    /// vCPU waiting in WFI when it gets a list register. Without a
    /// guest-visible distributor an SPI goes to `vcpu`; with one, where the
    /// guest routed it (and only once the guest enabled it).
    ///
    /// Corresponds to `vm_inject_irq`.
    pub fn inject_irq(&mut self, vcpu: VcpuId, irq: u32) -> Result<()> {
        self.check_vcpu(vcpu)?;
        let mut out = Vec::new();
        {
            let ctl = self.irq.as_mut().ok_or(Error::NoIrqController)?;
            if !ctl.acks.contains_key(&ctl.key(vcpu, irq)) {
                return Err(Error::IrqNotRegistered(irq));
            }
            if ctl.layout.is_none() && irq >= NUM_PRIVATE {
                ctl.vgic.set_spi_target(irq, vcpu, &mut out)?;
            }
            ctl.vgic.inject(vcpu, irq, &mut out)?;
        }
        self.apply_irq_effects(out)
    }

    /// Sets the line level of registered `irq`: while high a level-sensitive
    /// IRQ is pending (and re-delivered after each EOI); lowering it withdraws
    /// it if it has not reached a list register yet.
    ///
    /// Corresponds to `vm_set_irq_level`.
    pub fn set_irq_level(&mut self, vcpu: VcpuId, irq: u32, level: bool) -> Result<()> {
        self.check_vcpu(vcpu)?;
        let mut out = Vec::new();
        {
            let ctl = self.irq.as_mut().ok_or(Error::NoIrqController)?;
            if !ctl.acks.contains_key(&ctl.key(vcpu, irq)) {
                return Err(Error::IrqNotRegistered(irq));
            }
            if ctl.layout.is_none() && irq >= NUM_PRIVATE {
                ctl.vgic.set_spi_target(irq, vcpu, &mut out)?;
            }
            ctl.vgic.set_level(vcpu, irq, level, &mut out)?;
        }
        self.apply_irq_effects(out)
    }

    /// Undoes [`Vm::register_irq`]: lowers the IRQ's line (withdrawing it if
    /// it has not reached a list register) and drops its ack callback, so a
    /// later inject fails with [`Error::IrqNotRegistered`] and the IRQ can
    /// be registered again. An instance already in a list register still
    /// completes, without a callback.
    ///
    /// Corresponds to libvmm 0.2.0's `virq_deregister` (no libsel4vm equivalent).
    pub fn unregister_irq(&mut self, vcpu: VcpuId, irq: u32) -> Result<()> {
        self.check_vcpu(vcpu)?;
        let mut out = Vec::new();
        {
            let ctl = self.irq.as_mut().ok_or(Error::NoIrqController)?;
            let k = ctl.key(vcpu, irq);
            if !ctl.acks.contains_key(&k) {
                return Err(Error::IrqNotRegistered(irq));
            }
            if irq >= crate::vgic::NUM_SGIS {
                ctl.vgic.set_level(vcpu, irq, false, &mut out)?;
            }
            ctl.acks.remove(&k);
        }
        self.apply_irq_effects(out)
    }

    /// IRQs currently in `vcpu`'s list registers (index = LR).
    pub fn list_registers(&self, vcpu: VcpuId) -> Vec<Option<u32>> {
        match &self.irq {
            Some(ctl) => ctl.vgic.list_registers(vcpu).to_vec(),
            None => Vec::new(),
        }
    }

    /// IRQs waiting for a free list register on `vcpu`, in delivery
    /// (priority) order.
    pub fn queued_irqs(&self, vcpu: VcpuId) -> Vec<u32> {
        self.irq
            .as_ref()
            .map(|c| c.vgic.queued(vcpu))
            .unwrap_or_default()
    }

    /// The vGIC device model, for inspection.
    pub fn vgic(&self) -> Option<&Vgic> {
        self.irq.as_ref().map(|c| &c.vgic)
    }

    /// The guest-visible GIC layout, if [`Vm::create_vgic`] made one.
    pub fn gic_layout(&self) -> Option<GicLayout> {
        self.irq.as_ref().and_then(|c| c.layout)
    }

    /// Puts the IRQ controller back to its reset state (for a VM restart);
    /// registrations stay. The kernel's list registers are not cleared: a
    /// restarted guest may see an interrupt that was in flight.
    pub fn reset_irq_controller(&mut self) -> Result<()> {
        let ctl = self.irq.as_mut().ok_or(Error::NoIrqController)?;
        // A timer interrupt the old guest never completed leaves the
        // kernel's virtual timer masked (it waits for the VPPI ack): ack it
        // now, or the new guest gets no timer interrupts at all.
        let masked: alloc::vec::Vec<VcpuId> = ctl.vtimer.masked_vcpus().collect();
        ctl.vgic.reset();
        ctl.vtimer.reset();
        for v in masked {
            self.backend.ack_vppi(v, crate::vtimer::VTIMER_PPI)?;
        }
        let ctl = self.irq.as_mut().ok_or(Error::NoIrqController)?;
        if ctl.layout.is_none() {
            preenable(&mut ctl.vgic)?;
        }
        Ok(())
    }

    pub(crate) fn has_inflight_irq(&self, vcpu: VcpuId) -> bool {
        self.irq.as_ref().is_some_and(|c| c.vgic.has_inflight(vcpu))
    }

    /// Carries out vGIC effects: list-register injections (waking vCPUs in
    /// WFI), and for completed IRQs the VPPI ack and the ack callback.
    pub(crate) fn apply_irq_effects(&mut self, effects: Vec<Effect>) -> Result<()> {
        for e in effects {
            match e {
                Effect::Inject { vcpu, injection } => {
                    self.backend.inject_irq(vcpu, injection)?;
                    // Runnable or about to be woken: it should run next.
                    if self.vcpu(vcpu).is_ok_and(|v| {
                        matches!(v.state, VcpuState::Running | VcpuState::WaitingForIrq)
                    }) {
                        self.run.yield_to = Some(vcpu);
                    }
                    self.wake(vcpu)?;
                }
                Effect::Eoi { vcpu, irq } => self.irq_completed(vcpu, irq)?,
            }
        }
        Ok(())
    }

    fn irq_completed(&mut self, vcpu: VcpuId, irq: u32) -> Result<()> {
        let Some(ctl) = self.irq.as_mut() else {
            return Ok(());
        };
        let vppi = ctl.vtimer.eoi(vcpu, irq);
        // Take the callback out while it runs: it gets `&mut Vm`.
        let k = ctl.key(vcpu, irq);
        let cb = ctl.acks.get_mut(&k).and_then(Option::take);
        if let Some(p) = vppi {
            self.backend.ack_vppi(vcpu, p)?;
        }
        if let Some(mut cb) = cb {
            cb(self, vcpu, irq);
            if let Some(slot @ None) = self.irq.as_mut().and_then(|c| c.acks.get_mut(&k)) {
                *slot = Some(cb);
            }
        }
        Ok(())
    }

    /// A list register of `vcpu` became free (vGIC maintenance event).
    pub(crate) fn irq_maintenance(&mut self, vcpu: VcpuId, lr: Option<u32>) -> Result<()> {
        let mut out = Vec::new();
        let ctl = self.irq.as_mut().ok_or(Error::NoIrqController)?;
        if let Err(e) = ctl.vgic.maintenance(vcpu, lr, &mut out) {
            // A bogus index from the kernel is not worth stopping the guest for.
            log::warn!("{}: maintenance on {vcpu}: {e}", self.name());
        }
        self.apply_irq_effects(out)
    }

    /// A virtual PPI fired: the virtual timer (PPI 27) is injected and acked
    /// after the guest's EOI; other registered PPIs are injected (their ack
    /// callback must ack the VPPI); anything else is acked and dropped.
    pub(crate) fn vppi_event(&mut self, vcpu: VcpuId, irq: u32) -> Result<()> {
        let name = self.name_owned();
        let Some(ctl) = self.irq.as_mut() else {
            log::warn!("{name}: VPPI {irq} on {vcpu} without an IRQ controller; dropped");
            return Ok(self.backend.ack_vppi(vcpu, irq)?);
        };
        let inject = if irq == VTIMER_PPI {
            ctl.vtimer.vppi_event(vcpu, irq)
        } else if ctl.acks.contains_key(&ctl.key(vcpu, irq)) {
            VppiAction::Inject(irq)
        } else {
            log::warn!("{name}: VPPI {irq} on {vcpu} not registered; dropped");
            VppiAction::AckNow(irq)
        };
        match inject {
            VppiAction::Inject(p) => {
                let mut out = Vec::new();
                ctl.vgic.inject(vcpu, p, &mut out)?;
                self.apply_irq_effects(out)
            }
            VppiAction::AckNow(p) => Ok(self.backend.ack_vppi(vcpu, p)?),
        }
    }

    /// A trapped MSR/MRS: GICv3 SGI generation registers are handled here.
    /// Returns the action and registers to install, or `None` if the register
    /// is not the vGIC's.
    pub(crate) fn vgic_sysreg(
        &mut self,
        vcpu: VcpuId,
        iss: &SysRegIss,
    ) -> Result<Option<(Action, UserContext)>> {
        let Some(ctl) = self.irq.as_mut() else {
            return Ok(None);
        };
        let mut ctx = self.backend.read_context(vcpu)?;
        let value = ctx.data_reg(iss.rt);
        let mut out = Vec::new();
        match ctl.vgic.sysreg_access(vcpu, iss, value, &mut out)? {
            SysRegOutcome::NotMine => return Ok(None),
            SysRegOutcome::Handled => {}
            SysRegOutcome::Read(v) => ctx.set_data_reg(iss.rt, v),
        }
        self.apply_irq_effects(out)?;
        Ok(Some((Action::Advance, ctx)))
    }
}
