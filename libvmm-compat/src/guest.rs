//! One guest in libvmm terms: its VM plus what libvmm keeps in globals
//! (passthrough channels, boot parameters, images to reload on restart).

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use sel4vm::{Backend, UserContext, VcpuId, VcpuReg, Vm};

use crate::error::{GuestError, SetupError};
use crate::setup::{linux_setup_images, LinuxImages, Placement};

/// SPSR for the kernel entry: EL1h (`M = 0b0101`) with D, A, I and F masked,
/// as the arm64 boot protocol requires.
pub const SPSR_EL1H_DAIF_MASKED: u64 = 0x3c5;

/// First interrupt id a guest can register: SGIs (0-15) belong to the vGIC.
pub const FIRST_VIRQ: u32 = 16;
/// Last valid GIC interrupt id (1020-1023 are special).
pub const LAST_VIRQ: u32 = 1019;

/// A passthrough channel (libvmm's `microkit_channel`): a small number the
/// VMM uses to name one hardware interrupt source.
pub type Channel = u32;

/// Called when the guest has completed a passthrough IRQ, with its channel,
/// so the VMM can acknowledge the hardware interrupt (libvmm calls
/// `microkit_irq_ack`; on seL4 it is `seL4_IRQHandler_Ack`).
pub type PassthroughAck = Box<dyn FnMut(Channel)>;

/// Images `guest_restart` reloads. They must live outside guest RAM, which
/// the restart zeroes.
#[derive(Clone, Debug)]
pub struct RestartImages {
    /// 2 MiB aligned kernel base (see [`LinuxImages::ram_start`]).
    pub ram_start: u64,
    /// Kernel (`Image` or `vmlinux`).
    pub kernel: &'static [u8],
    /// Device tree.
    pub dtb: Vec<u8>,
    /// Where the DTB goes.
    pub dtb_dest: u64,
    /// Initrd (empty for none).
    pub initrd: &'static [u8],
    /// Where the initrd goes.
    pub initrd_dest: u64,
}

impl RestartImages {
    fn as_images(&self) -> LinuxImages<'_> {
        use crate::setup::ImageSrc::Bytes;
        LinuxImages {
            ram_start: self.ram_start,
            kernel: Bytes(self.kernel),
            dtb: Bytes(&self.dtb),
            dtb_dest: self.dtb_dest,
            initrd: Bytes(self.initrd),
            initrd_dest: self.initrd_dest,
        }
    }
}

/// Hook run by `virq_controller_init` (install the vGIC distributor,
/// register the virtual timer, ...) and by `guest_restart` (reset the vGIC).
/// The default only creates the core's list-register manager.
pub trait IrqPlatform<B: Backend> {
    /// Sets up interrupt delivery for `vm`, boot vCPU `boot`.
    fn init(&mut self, vm: &mut Vm<B>, boot: VcpuId) -> Result<(), GuestError>;
    /// Returns the interrupt controller to its power-on state (registrations kept).
    fn reset(&mut self, vm: &mut Vm<B>) -> Result<(), GuestError>;
}

/// [`IrqPlatform`] without a guest-visible distributor: the core's vGIC
/// with every interrupt pre-enabled (for tests and guests that never
/// program a GIC).
pub struct CoreIrqOnly;

impl<B: Backend> IrqPlatform<B> for CoreIrqOnly {
    fn init(&mut self, vm: &mut Vm<B>, _boot: VcpuId) -> Result<(), GuestError> {
        Ok(vm.create_default_irq_controller()?)
    }
    fn reset(&mut self, vm: &mut Vm<B>) -> Result<(), GuestError> {
        Ok(vm.reset_irq_controller()?)
    }
}

/// [`IrqPlatform`] with an emulated GIC the guest programs itself
/// (distributor, v3 redistributors, v2 CPU interface mapped from GICV).
///
/// Corresponds to libvmm's `vgic_init` as called by `virq_controller_init`.
pub struct EmulatedGic(pub sel4vm::irq::GicLayout);

impl<B: Backend> IrqPlatform<B> for EmulatedGic {
    fn init(&mut self, vm: &mut Vm<B>, _boot: VcpuId) -> Result<(), GuestError> {
        Ok(vm.create_vgic(self.0)?)
    }
    fn reset(&mut self, vm: &mut Vm<B>) -> Result<(), GuestError> {
        Ok(vm.reset_irq_controller()?)
    }
}

/// A guest driven through the libvmm functions. Nothing is global; the C
/// ABI keeps one default [`Guest`] (see [`crate::cabi`]).
pub struct Guest<B: Backend> {
    vm: Vm<B>,
    platform: Box<dyn IrqPlatform<B>>,
    irq_ready: bool,
    passthrough: BTreeMap<Channel, (VcpuId, u32)>,
    /// Banked registers of each vCPU as created, restored on restart.
    vcpu_reset: Vec<[u64; VcpuReg::COUNT as usize]>,
    restart: Option<RestartImages>,
    last: Option<Placement>,
    ram_views: Vec<RamView>,
}

/// Most guest RAM regions [`Guest::add_ram_view`] records (libvmm 0.2.0's
/// `GUEST_MAX_RAM_REGIONS`).
pub const MAX_RAM_VIEWS: usize = 3;

/// A guest RAM region and the VMM's mapping of it, laid out like libvmm
/// 0.2.0's `struct guest_ram_region` (`vmm_vaddr` is a pointer in C).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RamView {
    /// Guest-physical start.
    pub gpa_start: u64,
    /// Size in bytes.
    pub size: u64,
    /// Where the VMM sees `gpa_start`.
    pub vmm_vaddr: usize,
}

impl<B: Backend> Guest<B> {
    /// Wraps a VM whose vCPUs and RAM exist already. Records each vCPU's
    /// banked registers as its reset state.
    pub fn new(mut vm: Vm<B>, platform: Box<dyn IrqPlatform<B>>) -> Result<Self, GuestError> {
        let mut vcpu_reset = Vec::new();
        let ids: Vec<VcpuId> = vm.vcpus().iter().map(|v| v.id()).collect();
        for id in ids {
            let mut regs = [0; VcpuReg::COUNT as usize];
            for (i, r) in regs.iter_mut().enumerate() {
                if let Some(reg) = VcpuReg::from_index(i as u64) {
                    *r = vm.get_arm_vcpu_reg(id, reg)?;
                }
            }
            vcpu_reset.push(regs);
        }
        Ok(Self {
            vm,
            platform,
            irq_ready: false,
            passthrough: BTreeMap::new(),
            vcpu_reset,
            restart: None,
            last: None,
            ram_views: Vec::new(),
        })
    }

    /// The VM.
    pub fn vm(&self) -> &Vm<B> {
        &self.vm
    }
    /// The VM, mutably (to register devices, run it, ...).
    pub fn vm_mut(&mut self) -> &mut Vm<B> {
        &mut self.vm
    }
    /// Gives the VM back.
    pub fn into_vm(self) -> Vm<B> {
        self.vm
    }
    /// Where the last successful `linux_setup_images` put the images.
    pub fn placement(&self) -> Option<Placement> {
        self.last
    }

    /// Validates and places kernel, DTB and initrd; returns the entry point.
    ///
    /// Corresponds to `linux_setup_images` (see [`crate::setup::linux_setup_images`]).
    pub fn linux_setup_images(&mut self, imgs: &LinuxImages<'_>) -> Result<u64, SetupError> {
        let p = linux_setup_images(&mut self.vm, imgs)?;
        self.last = Some(p);
        Ok(p.entry)
    }

    /// Sets the images `guest_restart` reloads (kept outside guest RAM).
    pub fn set_restart_images(&mut self, images: RestartImages) {
        self.restart = Some(images);
    }

    /// Records a guest RAM region and the VMM's mapping of it, after checking
    /// it: non-empty, `vmm_vaddr` non-null, inside the VM's guest RAM,
    /// `vmm_vaddr` really is the VMM's view of it, no overlap with a
    /// recorded region, at most [`MAX_RAM_VIEWS`].
    ///
    /// Corresponds to libvmm 0.2.0's `guest_ram_add_region`.
    pub fn add_ram_view(&mut self, r: RamView) -> Result<(), GuestError> {
        let recorded = core::mem::take(&mut self.ram_views);
        let ok = self.check_ram_view(&r, &recorded);
        self.ram_views = recorded;
        ok?;
        self.ram_views.push(r);
        Ok(())
    }

    /// Checks `r` as [`Guest::add_ram_view`] would with `recorded` already there.
    pub fn check_ram_view(&mut self, r: &RamView, recorded: &[RamView]) -> Result<(), GuestError> {
        if recorded.len() >= MAX_RAM_VIEWS {
            return Err(GuestError::BadRamRegion("too many regions (at most 3)"));
        }
        if r.size == 0 {
            return Err(GuestError::BadRamRegion("size is 0"));
        }
        if r.vmm_vaddr == 0 {
            return Err(GuestError::BadRamRegion("vmm_vaddr is NULL"));
        }
        let end = r
            .gpa_start
            .checked_add(r.size)
            .ok_or(GuestError::BadRamRegion("gpa_start + size overflows"))?;
        if recorded
            .iter()
            .any(|o| r.gpa_start < o.gpa_start + o.size && o.gpa_start < end)
        {
            return Err(GuestError::BadRamRegion("overlaps a recorded region"));
        }
        if self
            .vm
            .guest_memory()
            .check_range(r.gpa_start, r.size)
            .is_err()
        {
            return Err(GuestError::BadRamRegion("not inside the VM's guest RAM"));
        }
        if !crate::setup::is_vmm_view_of(
            &mut self.vm,
            r.gpa_start,
            r.size,
            r.vmm_vaddr as *const u8,
        ) {
            return Err(GuestError::BadRamRegion(
                "vmm_vaddr is not the VMM's mapping of it",
            ));
        }
        Ok(())
    }

    /// The regions recorded by [`Guest::add_ram_view`].
    pub fn ram_views(&self) -> &[RamView] {
        &self.ram_views
    }

    /// Where the VMM sees `[gpa, gpa + size)`, if one recorded region holds
    /// all of it.
    ///
    /// Corresponds to libvmm 0.2.0's `gpa_to_hva`.
    pub fn gpa_to_vmm(&self, gpa: u64, size: u64) -> Option<usize> {
        self.ram_views.iter().find_map(|r| {
            let off = gpa.checked_sub(r.gpa_start)?;
            (off < r.size && size <= r.size - off).then(|| r.vmm_vaddr + off as usize)
        })
    }

    /// The guest-physical address of VMM range `[vaddr, vaddr + size)`, if
    /// one recorded region's mapping holds all of it.
    pub fn vmm_to_gpa(&self, vaddr: usize, size: u64) -> Option<u64> {
        self.ram_views.iter().find_map(|r| {
            let off = (vaddr as u64).checked_sub(r.vmm_vaddr as u64)?;
            (off < r.size && size <= r.size - off).then(|| r.gpa_start + off)
        })
    }

    /// Whether vCPU `id` exists and is running.
    ///
    /// Corresponds to libvmm's `vcpu_is_on`.
    pub fn vcpu_is_on(&self, id: u32) -> bool {
        self.vm.vcpu(VcpuId(id)).is_ok_and(|v| v.is_online())
    }

    /// Sets up the virtual interrupt controller; must precede `virq_register`.
    ///
    /// Corresponds to `virq_controller_init`.
    pub fn virq_controller_init(&mut self, boot_vcpu: u32) -> Result<(), GuestError> {
        let boot = self.check_vcpu(boot_vcpu)?;
        if self.irq_ready {
            return Err(GuestError::ControllerExists);
        }
        self.platform.init(&mut self.vm, boot)?;
        self.irq_ready = true;
        Ok(())
    }

    fn check_vcpu(&self, id: u32) -> Result<VcpuId, GuestError> {
        let v = VcpuId(id);
        self.vm
            .vcpu(v)
            .map(|_| v)
            .map_err(|_| GuestError::InvalidVcpu(id))
    }

    fn check_irq(&self, vcpu: u32, irq: u32) -> Result<VcpuId, GuestError> {
        let v = self.check_vcpu(vcpu)?;
        if !self.irq_ready {
            return Err(GuestError::NoController);
        }
        if !(FIRST_VIRQ..=LAST_VIRQ).contains(&irq) {
            return Err(GuestError::InvalidIrq(irq));
        }
        Ok(v)
    }

    /// Registers virtual IRQ `irq` on `vcpu`; `ack` runs when the guest
    /// completes it.
    ///
    /// Corresponds to `virq_register`.
    pub fn virq_register(
        &mut self,
        vcpu: u32,
        irq: u32,
        ack: impl FnMut(&mut Vm<B>, VcpuId, u32) + 'static,
    ) -> Result<(), GuestError> {
        let v = self.check_irq(vcpu, irq)?;
        Ok(self.vm.register_irq(v, irq, ack)?)
    }

    /// Makes a registered IRQ pending on `vcpu`.
    ///
    /// Corresponds to `virq_inject`.
    pub fn virq_inject(&mut self, vcpu: u32, irq: u32) -> Result<(), GuestError> {
        let v = self.check_irq(vcpu, irq)?;
        Ok(self.vm.inject_irq(v, irq)?)
    }

    /// Sets the line level of registered IRQ `irq` on `vcpu` through the
    /// vGIC: while high it is pending (and delivered again after each EOI);
    /// lowering it withdraws it if it has not reached a list register yet.
    ///
    /// Corresponds to libvmm 0.2.0's `virq_set_level` (which on aarch64
    /// injects on a high level and ignores a low one).
    pub fn virq_set_level(&mut self, vcpu: u32, irq: u32, level: bool) -> Result<(), GuestError> {
        let v = self.check_irq(vcpu, irq)?;
        Ok(self.vm.set_irq_level(v, irq, level)?)
    }

    /// Removes the registration of `irq` on `vcpu` (and any passthrough
    /// channel bound to it): a later `virq_inject` fails, and the IRQ can be
    /// registered again.
    ///
    /// Corresponds to libvmm 0.2.0's `virq_deregister` (declared there for
    /// x86 only; offered here on aarch64 too).
    pub fn virq_deregister(&mut self, vcpu: u32, irq: u32) -> Result<(), GuestError> {
        let v = self.check_irq(vcpu, irq)?;
        self.vm.unregister_irq(v, irq)?;
        self.passthrough.retain(|_, &mut (pv, pi)| {
            !(pi == irq && (pv == v || irq >= sel4vm::vgic::NUM_PRIVATE))
        });
        Ok(())
    }

    /// Registers a hardware IRQ passed through to the guest as `irq`,
    /// signalled to the VMM on `channel`; `ack(channel)` runs when the guest
    /// has completed it, to re-enable the hardware line.
    ///
    /// Corresponds to `virq_register_passthrough`.
    pub fn virq_register_passthrough(
        &mut self,
        vcpu: u32,
        irq: u32,
        channel: Channel,
        mut ack: impl FnMut(Channel) + 'static,
    ) -> Result<(), GuestError> {
        let v = self.check_irq(vcpu, irq)?;
        if self.passthrough.contains_key(&channel) {
            return Err(GuestError::ChannelInUse(channel));
        }
        self.vm.register_irq(v, irq, move |_, _, _| ack(channel))?;
        self.passthrough.insert(channel, (v, irq));
        Ok(())
    }

    /// The (vCPU, IRQ) registered for `channel`.
    pub fn passthrough_irq(&self, channel: Channel) -> Option<(VcpuId, u32)> {
        self.passthrough.get(&channel).copied()
    }

    /// Injects the IRQ registered for `channel`.
    ///
    /// Corresponds to `virq_handle_passthrough`.
    pub fn virq_handle_passthrough(&mut self, channel: Channel) -> Result<(), GuestError> {
        handle_passthrough(&mut self.vm, &self.passthrough, channel)
    }

    /// A copy of the channel table, for notification callbacks that run
    /// inside `vm_run` (they get the VM, not the guest).
    pub fn passthrough_table(&self) -> BTreeMap<Channel, (VcpuId, u32)> {
        self.passthrough.clone()
    }

    /// Starts the guest: boot vCPU registers zeroed except `x0 = dtb`,
    /// `PC = kernel_pc` and SPSR = EL1h with DAIF masked, then resumed.
    /// `initrd` is only reported; Linux finds it through the DTB.
    ///
    /// Corresponds to `guest_start`.
    pub fn guest_start(
        &mut self,
        boot_vcpu: u32,
        kernel_pc: u64,
        dtb: u64,
        initrd: u64,
    ) -> Result<(), GuestError> {
        let v = self.check_vcpu(boot_vcpu)?;
        let mut ctx = UserContext::default();
        ctx.set_pc(kernel_pc);
        ctx.set_x(0, dtb);
        ctx.set_spsr(SPSR_EL1H_DAIF_MASKED);
        self.vm.set_thread_context(v, &ctx)?;
        log::info!(
            "guest_start: {} at {:#x}, dtb {:#x}, initrd {:#x}",
            v,
            kernel_pc,
            dtb,
            initrd
        );
        Ok(self.vm.vcpu_start(v)?)
    }

    /// Stops every vCPU of the guest.
    ///
    /// Corresponds to `guest_stop` (which in libvmm stops only the boot vCPU).
    pub fn guest_stop(&mut self, boot_vcpu: u32) -> Result<(), GuestError> {
        self.check_vcpu(boot_vcpu)?;
        let online: Vec<VcpuId> = self
            .vm
            .vcpus()
            .iter()
            .filter(|v| v.is_online())
            .map(|v| v.id())
            .collect();
        for v in online {
            self.vm.vcpu_stop(v)?;
        }
        Ok(())
    }

    /// Restarts the guest from scratch with the images set by
    /// [`Guest::set_restart_images`].
    ///
    /// Corresponds to `guest_restart` (a stub in libvmm).
    pub fn guest_restart(&mut self, boot_vcpu: u32) -> Result<(), GuestError> {
        let images = self.restart.clone().ok_or(GuestError::NoImages)?;
        self.guest_restart_with(boot_vcpu, images)
    }

    /// Like [`Guest::guest_restart`], with other images (kept for later restarts).
    ///
    /// The images are validated before anything is stopped or erased, so
    /// bad images leave the running guest alone. Then: stop all vCPUs,
    /// restore their creation-time registers, reset the interrupt
    /// controller and the devices, zero all guest RAM, place the images,
    /// start the boot vCPU.
    pub fn guest_restart_with(
        &mut self,
        boot_vcpu: u32,
        images: RestartImages,
    ) -> Result<(), GuestError> {
        let boot = self.check_vcpu(boot_vcpu)?;
        crate::setup::validate_images(&mut self.vm, &images.as_images())?;
        self.guest_stop(boot_vcpu)?;
        for (i, regs) in self.vcpu_reset.iter().enumerate() {
            let v = VcpuId(i as u32);
            self.vm.set_thread_context(v, &UserContext::default())?;
            for (r, &val) in regs.iter().enumerate() {
                if let Some(reg) = VcpuReg::from_index(r as u64) {
                    self.vm.set_arm_vcpu_reg(v, reg, val)?;
                }
            }
        }
        if self.irq_ready {
            self.platform.reset(&mut self.vm)?;
        }
        // Devices drop the guest's queues before its RAM is erased.
        self.vm.reset_devices();
        self.zero_ram()?;
        let p = linux_setup_images(&mut self.vm, &images.as_images())?;
        self.last = Some(p);
        self.restart = Some(images);
        self.guest_start(boot.0, p.entry, p.dtb.0, p.initrd.map_or(0, |r| r.0))
    }

    fn zero_ram(&mut self) -> Result<(), GuestError> {
        let regions = self.vm.ram_regions();
        let mut mem = self.vm.guest_memory();
        for r in regions {
            mem.touch_spans(r.start, r.size, |a| {
                a.bytes.fill(0);
                Ok::<(), ()>(())
            })
            .map_err(|e| match e {
                sel4vm::TouchError::Vm(e) => GuestError::Vm(e),
                sel4vm::TouchError::Callback { .. } => GuestError::Vm(sel4vm::Error::Callback),
            })?;
        }
        Ok(())
    }
}

/// `virq_handle_passthrough` over a channel table (usable from inside
/// `vm_run` callbacks, which only get the VM).
pub fn handle_passthrough<B: Backend>(
    vm: &mut Vm<B>,
    table: &BTreeMap<Channel, (VcpuId, u32)>,
    channel: Channel,
) -> Result<(), GuestError> {
    let &(v, irq) = table
        .get(&channel)
        .ok_or(GuestError::UnknownChannel(channel))?;
    Ok(vm.inject_irq(v, irq)?)
}
