//! The libvmm 0.2.0 C ABI (aarch64), selected in C with
//! `-DLIBVMM_API_VERSION=2` (see `include/libvmm/api_version.h`).
//!
//! 0.2.0 reuses 0.1.0's function names with other arguments, so every
//! 0.2.0 function is exported as `libvmm2_<name>` and the 0.2.0 headers map
//! `<name>` to it with a `#define`. Both sets live in the same library; a
//! program picks one per translation unit. Two functions keep their one
//! symbol because their C signature did not change: `virq_handle_passthrough`
//! and `libvmm_set_passthrough_ack` (see [`crate::cabi`]).
//!
//! They act on the same default guest as the 0.1.0 functions
//! ([`crate::cabi::set_default_guest`]); the Rust side builds its VM (vCPUs,
//! RAM) and `guest_init` checks libvmm's `arch_guest_init_t` against it.
//! Differences from libvmm 0.2.0 are listed per function. Failures are
//! logged with their reason and return false / 0 / NULL.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::ffi::{c_int, c_void};
use core::sync::atomic::Ordering;

use crate::cabi::{report, u32_arg, with_default, PassthroughAckFn, PASSTHROUGH_ACK};
use crate::error::{Blob, GuestError, SetupError};
use crate::guest::{RamView, MAX_RAM_VIEWS};

/// libvmm 0.2.0's `GUEST_BOOT_VCPU_ID`: the vCPU `guest_start` starts.
pub const GUEST_BOOT_VCPU_ID: u32 = 0;

/// libvmm 0.2.0's `IRQ_TYPE_INVALID` (`enum irq_type`).
pub const IRQ_TYPE_INVALID: u32 = 0;
/// libvmm 0.2.0's `IRQ_TYPE_ARM_GIC`, the only route type accepted here.
pub const IRQ_TYPE_ARM_GIC: u32 = 1;
/// libvmm 0.2.0's `IRQ_TYPE_X86_IOAPIC` (refused: this layer is aarch64).
pub const IRQ_TYPE_X86_IOAPIC: u32 = 2;

/// libvmm 0.2.0's `struct arm_gic` (member of `irq_routing_info_t`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArmGicRoute {
    /// Target vCPU.
    pub vcpu_id: c_int,
    /// GIC interrupt id.
    pub intid: u32,
}

/// libvmm 0.2.0's `struct x86_ioapic` (member of `irq_routing_info_t`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct X86IoapicRoute {
    /// I/O APIC number.
    pub chip: u8,
    /// Pin.
    pub pin: u8,
}

/// The `hw` union of libvmm 0.2.0's `irq_routing_info_t`.
#[repr(C)]
#[derive(Clone, Copy)]
pub union IrqRoutingHw {
    /// Valid when the type is [`IRQ_TYPE_ARM_GIC`].
    pub arm_gic: ArmGicRoute,
    /// Valid when the type is [`IRQ_TYPE_X86_IOAPIC`].
    pub x86_ioapic: X86IoapicRoute,
}

/// libvmm 0.2.0's `irq_routing_info_t` (C builds it with `ARM_GIC_IRQ_ROUTE`).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct IrqRoutingInfo {
    /// `enum irq_type`.
    pub kind: u32,
    /// Type-specific part.
    pub hw: IrqRoutingHw,
}

impl IrqRoutingInfo {
    /// `ARM_GIC_IRQ_ROUTE(vcpu, intid)`.
    pub fn arm_gic(vcpu: u32, intid: u32) -> Self {
        IrqRoutingInfo {
            kind: IRQ_TYPE_ARM_GIC,
            hw: IrqRoutingHw {
                arm_gic: ArmGicRoute {
                    vcpu_id: vcpu as c_int,
                    intid,
                },
            },
        }
    }

    /// (vCPU, INTID) of an ARM GIC route; other types and negative vCPU ids
    /// are refused.
    pub fn to_arm(self) -> Result<(u32, u32), GuestError> {
        if self.kind != IRQ_TYPE_ARM_GIC {
            return Err(GuestError::NotArmGicRoute(self.kind));
        }
        // SAFETY: the type says the arm_gic member is the valid one; both
        // members are plain integers, so any bytes are a valid value.
        let r = unsafe { self.hw.arm_gic };
        let vcpu = u32::try_from(r.vcpu_id).map_err(|_| GuestError::BadArgument)?;
        Ok((vcpu, r.intid))
    }
}

/// libvmm 0.2.0's `virq_ack_fn_t`.
pub type VirqAckFn2 = extern "C" fn(route: IrqRoutingInfo, cookie: *mut c_void);

/// libvmm 0.2.0's `struct guest_pci_init`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GuestPciInit {
    /// ECAM window (guest-physical).
    pub ecam_gpa: u64,
    /// ECAM size; 0 (with `mmio_aperature_size` 0) means no PCI bus.
    pub ecam_size: u64,
    /// MMIO aperture (guest-physical); libvmm's spelling.
    pub mmio_aperature_gpa: u64,
    /// MMIO aperture size.
    pub mmio_aperature_size: u64,
}

/// libvmm 0.2.0's aarch64 `arch_guest_init_t`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ArchGuestInit {
    /// vCPUs the guest uses (1 up to the VM's vCPUs).
    pub num_vcpus: usize,
    /// Valid entries of `guest_ram_regions` (1 to 3).
    pub num_guest_ram_regions: usize,
    /// Guest RAM and where the VMM maps it.
    pub guest_ram_regions: [RamView; MAX_RAM_VIEWS],
    /// Virtual PCI bus (not offered: must be all zero sizes).
    pub pci_init: GuestPciInit,
}

fn arm(route: IrqRoutingInfo) -> Result<(u32, u32), GuestError> {
    route.to_arm()
}

/// C `guest_init` (0.2.0, `libvmm2_guest_init`): checks `num_vcpus` against
/// the VM's vCPUs and every RAM region (see [`crate::Guest::check_ram_view`]),
/// then initialises the interrupt controller (as `virq_controller_init`)
/// and records the regions. Nothing is recorded unless all checks pass.
/// A virtual PCI bus (`pci_init` sizes non-zero) is refused: not offered.
#[export_name = "libvmm2_guest_init"]
pub extern "C" fn guest_init(init: ArchGuestInit) -> bool {
    let r = with_default(|g| {
        let n = init.num_vcpus;
        if n == 0 || n > g.vcpu_count() as usize {
            log::error!(
                "guest_init: num_vcpus {n} not in 1..={} (the VM's vCPUs)",
                g.vcpu_count()
            );
            return Err(GuestError::BadArgument);
        }
        let k = init.num_guest_ram_regions;
        if k == 0 || k > MAX_RAM_VIEWS {
            return Err(GuestError::BadRamRegion(
                "num_guest_ram_regions must be 1 to 3",
            ));
        }
        if init.pci_init.ecam_size != 0 && init.pci_init.mmio_aperature_size != 0 {
            return Err(GuestError::Unsupported("virtual PCI bus (pci_init)"));
        }
        let mut all: Vec<RamView> = g.ram_views().to_vec();
        for r in &init.guest_ram_regions[..k] {
            g.check_ram_view(r, &all)?;
            all.push(*r);
        }
        g.controller_init(GUEST_BOOT_VCPU_ID)?;
        for r in &init.guest_ram_regions[..k] {
            g.add_ram_view(*r)?;
        }
        Ok(())
    });
    report("guest_init", r).is_some()
}

/// C `guest_start` (0.2.0, `libvmm2_guest_start`): starts boot vCPU 0 at
/// `kernel_pc` with `x0 = dtb` (as 0.1.0's `guest_start(0, ...)`).
#[export_name = "libvmm2_guest_start"]
pub extern "C" fn guest_start(kernel_pc: usize, dtb: usize, initrd: usize) -> bool {
    let r = with_default(|g| {
        g.start(
            GUEST_BOOT_VCPU_ID,
            kernel_pc as u64,
            dtb as u64,
            initrd as u64,
        )
    });
    report("guest_start", r).is_some()
}

/// C `guest_stop` (0.2.0, `libvmm2_guest_stop`): stops every vCPU (libvmm
/// stops the boot vCPU).
#[export_name = "libvmm2_guest_stop"]
pub extern "C" fn guest_stop() {
    report("guest_stop", with_default(|g| g.stop(GUEST_BOOT_VCPU_ID)));
}

/// C `guest_restart` (0.2.0, `libvmm2_guest_restart`). `guest_ram_vaddr` is
/// a VMM address, as in libvmm: `[guest_ram_vaddr, +guest_ram_size)` must
/// lie in a region `guest_init` recorded. Then as 0.1.0's: stop, reset
/// vCPUs and vGIC, zero guest RAM, reload the last images, start (libvmm
/// 0.2.0 only stops, zeroes and resets the boot vCPU).
#[export_name = "libvmm2_guest_restart"]
pub extern "C" fn guest_restart(guest_ram_vaddr: usize, guest_ram_size: usize) -> bool {
    let r = with_default(|g| {
        if g.ram_views().is_empty() {
            return Err(GuestError::NoGuestRam);
        }
        let gpa = g.vmm_to_gpa(guest_ram_vaddr, guest_ram_size as u64).ok_or(
            GuestError::BadRamRegion(
                "guest_ram_vaddr range is not inside a recorded region's mapping",
            ),
        )?;
        g.restart(GUEST_BOOT_VCPU_ID, gpa, guest_ram_size as u64)
    });
    report("guest_restart", r).is_some()
}

/// C `virq_controller_init` (0.2.0, `libvmm2_virq_controller_init`): as
/// 0.1.0's with boot vCPU 0. `guest_init` already calls it; a second call fails.
#[export_name = "libvmm2_virq_controller_init"]
pub extern "C" fn virq_controller_init() -> bool {
    report(
        "virq_controller_init",
        with_default(|g| g.controller_init(GUEST_BOOT_VCPU_ID)),
    )
    .is_some()
}

/// C `virq_register` (0.2.0, `libvmm2_virq_register`). `ack_fn` may be NULL
/// (no callback), as in libvmm 0.2.0; it gets the route back on completion.
#[export_name = "libvmm2_virq_register"]
pub extern "C" fn virq_register(
    route: IrqRoutingInfo,
    ack_fn: Option<VirqAckFn2>,
    ack_data: *mut c_void,
) -> bool {
    let r = with_default(|g| {
        let (vcpu, irq) = arm(route)?;
        g.register_boxed(
            vcpu,
            irq,
            Box::new(move |v, i| {
                if let Some(f) = ack_fn {
                    f(IrqRoutingInfo::arm_gic(v, i), ack_data)
                }
            }),
        )
    });
    report("virq_register", r).is_some()
}

/// C `virq_inject` (0.2.0, `libvmm2_virq_inject`): an edge on a registered IRQ.
#[export_name = "libvmm2_virq_inject"]
pub extern "C" fn virq_inject(route: IrqRoutingInfo) -> bool {
    let r = with_default(|g| {
        let (vcpu, irq) = arm(route)?;
        g.inject(vcpu, irq)
    });
    report("virq_inject", r).is_some()
}

/// C `virq_set_level` (0.2.0, `libvmm2_virq_set_level`): drives the line of
/// a registered IRQ through the vGIC (pending while high; lowering
/// withdraws it if not yet in a list register). libvmm 0.2.0 on aarch64
/// injects on high and ignores low.
#[export_name = "libvmm2_virq_set_level"]
pub extern "C" fn virq_set_level(route: IrqRoutingInfo, level: bool) -> bool {
    let r = with_default(|g| {
        let (vcpu, irq) = arm(route)?;
        g.set_level(vcpu, irq, level)
    });
    report("virq_set_level", r).is_some()
}

/// C `virq_deregister` (0.2.0, `libvmm2_virq_deregister`; x86-only in
/// libvmm 0.2.0, offered here for aarch64): removes the registration, so a
/// later inject fails and the IRQ can be registered again.
#[export_name = "libvmm2_virq_deregister"]
pub extern "C" fn virq_deregister(route: IrqRoutingInfo) -> bool {
    let r = with_default(|g| {
        let (vcpu, irq) = arm(route)?;
        g.deregister(vcpu, irq)
    });
    report("virq_deregister", r).is_some()
}

/// C `virq_register_passthrough` (0.2.0, `libvmm2_virq_register_passthrough`):
/// as 0.1.0's, with a route. Needs `libvmm_set_passthrough_ack` first.
#[export_name = "libvmm2_virq_register_passthrough"]
pub extern "C" fn virq_register_passthrough(route: IrqRoutingInfo, irq_ch: u32) -> bool {
    let r = with_default(|g| {
        let (vcpu, irq) = arm(route)?;
        let raw = PASSTHROUGH_ACK.load(Ordering::Acquire);
        if raw == 0 {
            return Err(GuestError::NoPassthroughAck);
        }
        // SAFETY: only ever stored from a `PassthroughAckFn`.
        let ack: PassthroughAckFn = unsafe { core::mem::transmute::<usize, PassthroughAckFn>(raw) };
        g.register_passthrough(vcpu, irq, irq_ch, ack)
    });
    report("virq_register_passthrough", r).is_some()
}

/// C `linux_setup_images` (0.2.0, `libvmm2_linux_setup_images`): the
/// destinations are guest-physical and must lie in regions `guest_init`
/// recorded (the kernel's range counted from `ram_start_gpa`); then as
/// 0.1.0's (Image or ELF kernel, DTB, initrd validated, in guest RAM, no
/// overlap, nothing written unless all checks pass). Returns the kernel
/// entry point, or 0 (libvmm 0.2.0's failure value; 0.1.0 returns -1).
///
/// # Safety
/// `kernel`, `dtb_src` and `initrd_src` must be readable for their sizes
/// and stay valid while the guest may be restarted.
#[export_name = "libvmm2_linux_setup_images"]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn linux_setup_images(
    ram_start_gpa: u64,
    kernel: usize,
    kernel_size: usize,
    dtb_src: usize,
    dtb_dest_gpa: u64,
    dtb_size: usize,
    initrd_src: usize,
    initrd_dest_gpa: u64,
    initrd_size: usize,
) -> u64 {
    let r = with_default(|g| {
        if g.ram_views().is_empty() {
            return Err(GuestError::NoGuestRam);
        }
        for (blob, addr, size) in [
            (Blob::Kernel, ram_start_gpa, kernel_size),
            (Blob::Dtb, dtb_dest_gpa, dtb_size),
            (Blob::Initrd, initrd_dest_gpa, initrd_size),
        ] {
            if size != 0 && g.gpa_to_vmm(addr, size as u64).is_none() {
                return Err(GuestError::Setup(SetupError::NotInRam {
                    blob,
                    addr,
                    size: size as u64,
                }));
            }
        }
        // SAFETY: forwarded caller guarantees.
        unsafe {
            g.setup_images(
                ram_start_gpa,
                kernel as *const u8,
                kernel_size,
                dtb_src as *const u8,
                dtb_dest_gpa,
                dtb_size,
                initrd_src as *const u8,
                initrd_dest_gpa,
                initrd_size,
            )
        }
    });
    report("linux_setup_images", r).unwrap_or(0)
}

/// C `guest_ram_add_region` (0.2.0, `libvmm2_guest_ram_add_region`): see
/// [`crate::Guest::add_ram_view`] for the checks (libvmm checks size,
/// NULL and overlap; the RAM and mapping checks are added here).
#[export_name = "libvmm2_guest_ram_add_region"]
pub extern "C" fn guest_ram_add_region(region: RamView) -> bool {
    report(
        "guest_ram_add_region",
        with_default(|g| g.add_ram_view(region)),
    )
    .is_some()
}

/// C `gpa_to_hva` (0.2.0, `libvmm2_gpa_to_hva`): the VMM address of
/// `[gpa, +size)` if one recorded region holds all of it, else NULL.
#[export_name = "libvmm2_gpa_to_hva"]
pub extern "C" fn gpa_to_hva(gpa: u64, size: usize) -> *mut c_void {
    let r = with_default(|g| {
        g.gpa_to_vmm(gpa, size as u64)
            .ok_or(GuestError::Setup(SetupError::NotInRam {
                blob: Blob::Kernel,
                addr: gpa,
                size: size as u64,
            }))
    });
    match r {
        Ok(p) => p as *mut c_void,
        Err(GuestError::Setup(_)) => core::ptr::null_mut(),
        Err(e) => {
            log::error!("gpa_to_hva: {e}");
            core::ptr::null_mut()
        }
    }
}

/// C `guest_ram_get_regions` (0.2.0, `libvmm2_guest_ram_get_regions`): the
/// recorded regions (valid until the next region is added) and their count
/// in `*num_regions_ret` (if not NULL). NULL with count 0 if there is no
/// default guest.
///
/// # Safety
/// `num_regions_ret` is NULL or writable.
#[export_name = "libvmm2_guest_ram_get_regions"]
pub unsafe extern "C" fn guest_ram_get_regions(num_regions_ret: *mut c_int) -> *mut RamView {
    let r = with_default(|g| {
        let v = g.ram_views();
        Ok((v.as_ptr() as *mut RamView, v.len()))
    });
    let (p, n) = report("guest_ram_get_regions", r).unwrap_or((core::ptr::null_mut(), 0));
    if !num_regions_ret.is_null() {
        // SAFETY: caller guarantees it is writable.
        unsafe { *num_regions_ret = n as c_int };
    }
    p
}

/// C `vcpu_is_on` (0.2.0 `<libvmm/vcpu.h>`, `libvmm2_vcpu_is_on`): whether
/// the vCPU exists and runs; false for an invalid id.
#[export_name = "libvmm2_vcpu_is_on"]
pub extern "C" fn vcpu_is_on(vcpu_id: usize) -> bool {
    with_default(|g| Ok(u32_arg(vcpu_id).is_ok_and(|v| g.vcpu_is_on(v)))).unwrap_or(false)
}

const HSR_SYNDROME_VALID: u64 = 1 << 24;

/// C `fault_is_write` (0.2.0 `<libvmm/arch/aarch64/fault.h>`,
/// `libvmm2_fault_is_write`): the data abort's WnR bit (6).
#[export_name = "libvmm2_fault_is_write"]
pub extern "C" fn fault_is_write(fsr: u64) -> bool {
    fsr & (1 << 6) != 0
}

/// C `fault_is_read` (0.2.0, `libvmm2_fault_is_read`): not a write.
#[export_name = "libvmm2_fault_is_read"]
pub extern "C" fn fault_is_read(fsr: u64) -> bool {
    !fault_is_write(fsr)
}

/// C `fault_get_width_bytes` (0.2.0, `libvmm2_fault_get_width_bytes`): the
/// access size (1, 2, 4, 8) from a valid syndrome, else -1.
#[export_name = "libvmm2_fault_get_width_bytes"]
pub extern "C" fn fault_get_width_bytes(fsr: u64) -> c_int {
    if fsr & HSR_SYNDROME_VALID == 0 {
        log::error!("fault_get_width_bytes: syndrome not valid in FSR {fsr:#x}");
        return -1;
    }
    1 << ((fsr >> 22) & 3)
}

/// C `fault_get_data_mask` (0.2.0, `libvmm2_fault_get_data_mask`): the
/// access-size mask shifted to `addr`'s byte lane in its 32-bit word, or 0
/// for an invalid syndrome or a misaligned access (libvmm asserts).
#[export_name = "libvmm2_fault_get_data_mask"]
pub extern "C" fn fault_get_data_mask(addr: u64, fsr: u64) -> u64 {
    let w = fault_get_width_bytes(fsr);
    if w < 0 {
        return 0;
    }
    if w < 8 && !addr.is_multiple_of(w as u64) {
        log::error!("fault_get_data_mask: {w}-byte access at {addr:#x} is misaligned");
        return 0;
    }
    let mask = if w == 8 {
        u64::MAX
    } else {
        (1u64 << (8 * w)) - 1
    };
    mask << ((addr & 3) * 8)
}

/// The exported 0.2.0 symbols (each maps the C name after `libvmm2_`).
pub const EXPORTS: [&str; 19] = [
    "libvmm2_guest_init",
    "libvmm2_guest_start",
    "libvmm2_guest_stop",
    "libvmm2_guest_restart",
    "libvmm2_virq_controller_init",
    "libvmm2_virq_register",
    "libvmm2_virq_inject",
    "libvmm2_virq_set_level",
    "libvmm2_virq_deregister",
    "libvmm2_virq_register_passthrough",
    "libvmm2_linux_setup_images",
    "libvmm2_guest_ram_add_region",
    "libvmm2_gpa_to_hva",
    "libvmm2_guest_ram_get_regions",
    "libvmm2_vcpu_is_on",
    "libvmm2_fault_is_write",
    "libvmm2_fault_is_read",
    "libvmm2_fault_get_width_bytes",
    "libvmm2_fault_get_data_mask",
];
