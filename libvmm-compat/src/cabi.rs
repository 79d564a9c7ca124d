//! The C ABI: libvmm's nine functions with libvmm's names, argument order
//! and return conventions, acting on one default guest.
//!
//! Differences from libvmm, all forced by not assuming guest RAM is mapped
//! into the VMM at its guest-physical address:
//! - `ram_start`, `dtb_dest`, `initrd_dest` and `guest_ram_vaddr` are
//!   guest-physical addresses (libvmm's VMM addresses equal them in its
//!   usual set-up, so callers pass the same numbers).
//! - Sources (`kernel`, `dtb_src`, `initrd_src`) are VMM addresses. When a
//!   source already is the VMM's mapping of its destination it is
//!   validated in place and not copied.
//! - Passthrough IRQs are acknowledged through a hook set with
//!   `libvmm_set_passthrough_ack` (libvmm calls `microkit_irq_ack`).
//!
//! Failures are logged with their reason; the functions return -1 / false.
//! The VMM is single-threaded; the default guest must only be used from
//! the thread that installed it.

use alloc::boxed::Box;
use core::cell::UnsafeCell;
use core::ffi::c_void;
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use sel4vm::{Backend, VcpuId, Vm};

use crate::error::{GuestError, SetupError};
use crate::guest::{Channel, Guest, RamView, RestartImages};
use crate::image::ARM64_HEADER_SIZE;
use crate::setup::{is_vmm_view_of, ImageSrc, LinuxImages};

/// libvmm's `virq_ack_fn_t`.
pub type VirqAckFn = extern "C" fn(vcpu_id: usize, irq: i32, cookie: *mut c_void);
/// Hook acknowledging a passthrough IRQ's hardware line for a channel.
pub type PassthroughAckFn = extern "C" fn(channel: u32);

/// What the C functions need from a guest, whatever its backend.
pub trait DefaultGuest {
    /// `linux_setup_images` with C arguments.
    ///
    /// # Safety
    /// Each non-null source pointer must be readable for its size.
    #[allow(clippy::too_many_arguments)]
    unsafe fn setup_images(
        &mut self,
        ram_start: u64,
        kernel: *const u8,
        kernel_size: usize,
        dtb_src: *const u8,
        dtb_dest: u64,
        dtb_size: usize,
        initrd_src: *const u8,
        initrd_dest: u64,
        initrd_size: usize,
    ) -> Result<u64, GuestError>;
    /// `virq_controller_init`.
    fn controller_init(&mut self, boot_vcpu: u32) -> Result<(), GuestError>;
    /// `virq_register`.
    fn register(
        &mut self,
        vcpu: u32,
        irq: u32,
        ack: VirqAckFn,
        data: *mut c_void,
    ) -> Result<(), GuestError>;
    /// `virq_inject`.
    fn inject(&mut self, vcpu: u32, irq: u32) -> Result<(), GuestError>;
    /// `virq_register_passthrough`.
    fn register_passthrough(
        &mut self,
        vcpu: u32,
        irq: u32,
        ch: Channel,
        ack: PassthroughAckFn,
    ) -> Result<(), GuestError>;
    /// `virq_handle_passthrough`.
    fn handle_passthrough(&mut self, ch: Channel) -> Result<(), GuestError>;
    /// `guest_start`.
    fn start(&mut self, boot: u32, pc: u64, dtb: u64, initrd: u64) -> Result<(), GuestError>;
    /// `guest_stop`.
    fn stop(&mut self, boot: u32) -> Result<(), GuestError>;
    /// `guest_restart`.
    fn restart(&mut self, boot: u32, ram: u64, size: u64) -> Result<(), GuestError>;
    /// The concrete guest (a [`Guest`]), for the Rust side of the VMM (to
    /// run its event loop, for instance).
    fn as_any_mut(&mut self) -> &mut dyn core::any::Any;
    /// 0.2.0 `virq_register`: `ack(vcpu, irq)` runs when the guest completes it.
    fn register_boxed(
        &mut self,
        vcpu: u32,
        irq: u32,
        ack: Box<dyn FnMut(u32, u32)>,
    ) -> Result<(), GuestError>;
    /// 0.2.0 `virq_set_level` ([`Guest::virq_set_level`]).
    fn set_level(&mut self, vcpu: u32, irq: u32, level: bool) -> Result<(), GuestError>;
    /// 0.2.0 `virq_deregister` ([`Guest::virq_deregister`]).
    fn deregister(&mut self, vcpu: u32, irq: u32) -> Result<(), GuestError>;
    /// [`Guest::check_ram_view`].
    fn check_ram_view(&mut self, r: &RamView, recorded: &[RamView]) -> Result<(), GuestError>;
    /// 0.2.0 `guest_ram_add_region` ([`Guest::add_ram_view`]).
    fn add_ram_view(&mut self, r: RamView) -> Result<(), GuestError>;
    /// 0.2.0 `guest_ram_get_regions` ([`Guest::ram_views`]).
    fn ram_views(&self) -> &[RamView];
    /// 0.2.0 `gpa_to_hva` ([`Guest::gpa_to_vmm`]).
    fn gpa_to_vmm(&self, gpa: u64, size: u64) -> Option<usize>;
    /// [`Guest::vmm_to_gpa`].
    fn vmm_to_gpa(&self, vaddr: usize, size: u64) -> Option<u64>;
    /// How many vCPUs the VM has.
    fn vcpu_count(&self) -> u32;
    /// `vcpu_is_on` ([`Guest::vcpu_is_on`]).
    fn vcpu_is_on(&self, id: u32) -> bool;
}

/// A source pointer as an [`ImageSrc`]: in place if it is the VMM's view
/// of `dest`, else bytes.
///
/// # Safety
/// `ptr` must be readable for `len` bytes (or null with `len == 0`).
unsafe fn source<'a, B: Backend>(
    vm: &mut Vm<B>,
    ptr: *const u8,
    len: usize,
    dest: u64,
) -> Result<ImageSrc<'a>, GuestError> {
    if len == 0 {
        return Ok(ImageSrc::Bytes(&[]));
    }
    if ptr.is_null() {
        return Err(GuestError::BadArgument);
    }
    if is_vmm_view_of(vm, dest, len as u64, ptr) {
        return Ok(ImageSrc::Guest {
            addr: dest,
            size: len as u64,
        });
    }
    // SAFETY: the caller guarantees `ptr` is readable for `len` bytes.
    Ok(ImageSrc::Bytes(unsafe {
        core::slice::from_raw_parts(ptr, len)
    }))
}

impl<B: Backend> DefaultGuest for Guest<B> {
    unsafe fn setup_images(
        &mut self,
        ram_start: u64,
        kernel: *const u8,
        kernel_size: usize,
        dtb_src: *const u8,
        dtb_dest: u64,
        dtb_size: usize,
        initrd_src: *const u8,
        initrd_dest: u64,
        initrd_size: usize,
    ) -> Result<u64, GuestError> {
        if kernel.is_null() || dtb_src.is_null() {
            return Err(GuestError::BadArgument);
        }
        // The kernel's destination depends on text_offset from its header.
        let mut hdr = [0u8; ARM64_HEADER_SIZE];
        let n = kernel_size.min(hdr.len());
        // SAFETY: `kernel` is readable for `kernel_size >= n` bytes.
        unsafe { core::ptr::copy_nonoverlapping(kernel, hdr.as_mut_ptr(), n) };
        let text_offset = u64::from_le_bytes(hdr[8..16].try_into().unwrap_or([0; 8]));
        let kdest = ram_start.wrapping_add(text_offset);
        // SAFETY: forwarded caller guarantees.
        let (k, d, i) = unsafe {
            let vm = self.vm_mut();
            (
                source(vm, kernel, kernel_size, kdest)?,
                source(vm, dtb_src, dtb_size, dtb_dest)?,
                source(vm, initrd_src, initrd_size, initrd_dest)?,
            )
        };
        let imgs = LinuxImages {
            ram_start,
            kernel: k,
            dtb: d,
            dtb_dest,
            initrd: i,
            initrd_dest,
        };
        let entry = self.linux_setup_images(&imgs)?;
        // Keep the sources for guest_restart when they live outside guest RAM.
        if let (ImageSrc::Bytes(k), ImageSrc::Bytes(d), ImageSrc::Bytes(i)) = (k, d, i) {
            let dtb_len = self
                .placement()
                .map_or(d.len() as u64, |p| p.dtb.1 - p.dtb.0) as usize;
            self.set_restart_images(RestartImages {
                ram_start,
                // SAFETY: libvmm's contract: the images stay valid for the guest's lifetime.
                kernel: unsafe { core::slice::from_raw_parts(k.as_ptr(), k.len()) },
                dtb: d[..dtb_len].to_vec(),
                dtb_dest,
                // SAFETY: as above.
                initrd: unsafe { core::slice::from_raw_parts(i.as_ptr(), i.len()) },
                initrd_dest,
            });
        }
        Ok(entry)
    }
    fn controller_init(&mut self, boot_vcpu: u32) -> Result<(), GuestError> {
        self.virq_controller_init(boot_vcpu)
    }
    fn register(
        &mut self,
        vcpu: u32,
        irq: u32,
        ack: VirqAckFn,
        data: *mut c_void,
    ) -> Result<(), GuestError> {
        self.virq_register(vcpu, irq, move |_, v: VcpuId, irq| {
            ack(v.0 as usize, irq as i32, data)
        })
    }
    fn inject(&mut self, vcpu: u32, irq: u32) -> Result<(), GuestError> {
        self.virq_inject(vcpu, irq)
    }
    fn register_passthrough(
        &mut self,
        vcpu: u32,
        irq: u32,
        ch: Channel,
        ack: PassthroughAckFn,
    ) -> Result<(), GuestError> {
        self.virq_register_passthrough(vcpu, irq, ch, move |c| ack(c))
    }
    fn handle_passthrough(&mut self, ch: Channel) -> Result<(), GuestError> {
        self.virq_handle_passthrough(ch)
    }
    fn start(&mut self, boot: u32, pc: u64, dtb: u64, initrd: u64) -> Result<(), GuestError> {
        self.guest_start(boot, pc, dtb, initrd)
    }
    fn stop(&mut self, boot: u32) -> Result<(), GuestError> {
        self.guest_stop(boot)
    }
    fn restart(&mut self, boot: u32, ram: u64, size: u64) -> Result<(), GuestError> {
        if size != 0 && self.vm_mut().guest_memory().check_range(ram, size).is_err() {
            return Err(GuestError::Setup(SetupError::NotInRam {
                blob: crate::Blob::Kernel,
                addr: ram,
                size,
            }));
        }
        self.guest_restart(boot)
    }
    fn as_any_mut(&mut self) -> &mut dyn core::any::Any {
        self
    }
    fn register_boxed(
        &mut self,
        vcpu: u32,
        irq: u32,
        mut ack: Box<dyn FnMut(u32, u32)>,
    ) -> Result<(), GuestError> {
        self.virq_register(vcpu, irq, move |_, v: VcpuId, irq| ack(v.0, irq))
    }
    fn set_level(&mut self, vcpu: u32, irq: u32, level: bool) -> Result<(), GuestError> {
        self.virq_set_level(vcpu, irq, level)
    }
    fn deregister(&mut self, vcpu: u32, irq: u32) -> Result<(), GuestError> {
        self.virq_deregister(vcpu, irq)
    }
    fn check_ram_view(&mut self, r: &RamView, recorded: &[RamView]) -> Result<(), GuestError> {
        Guest::check_ram_view(self, r, recorded)
    }
    fn add_ram_view(&mut self, r: RamView) -> Result<(), GuestError> {
        Guest::add_ram_view(self, r)
    }
    fn ram_views(&self) -> &[RamView] {
        Guest::ram_views(self)
    }
    fn gpa_to_vmm(&self, gpa: u64, size: u64) -> Option<usize> {
        Guest::gpa_to_vmm(self, gpa, size)
    }
    fn vmm_to_gpa(&self, vaddr: usize, size: u64) -> Option<u64> {
        Guest::vmm_to_gpa(self, vaddr, size)
    }
    fn vcpu_count(&self) -> u32 {
        self.vm().vcpus().len() as u32
    }
    fn vcpu_is_on(&self, id: u32) -> bool {
        Guest::vcpu_is_on(self, id)
    }
}

/// The default guest. Single-threaded by contract (see the module docs);
/// `BUSY` turns re-entrant use into an error instead of aliasing.
struct Slot(UnsafeCell<Option<Box<dyn DefaultGuest>>>);
// SAFETY: only touched through `with_default`, which refuses re-entry; the
// VMM using the C ABI is single-threaded.
unsafe impl Sync for Slot {}

static DEFAULT: Slot = Slot(UnsafeCell::new(None));
static BUSY: AtomicBool = AtomicBool::new(false);
pub(crate) static PASSTHROUGH_ACK: AtomicUsize = AtomicUsize::new(0);

/// Installs the guest the C functions act on, returning the previous one.
pub fn set_default_guest(
    guest: Option<Box<dyn DefaultGuest>>,
) -> Result<Option<Box<dyn DefaultGuest>>, GuestError> {
    if BUSY.swap(true, Ordering::Acquire) {
        return Err(GuestError::Reentrant);
    }
    // SAFETY: BUSY gives exclusive access.
    let old = unsafe { core::mem::replace(&mut *DEFAULT.0.get(), guest) };
    BUSY.store(false, Ordering::Release);
    Ok(old)
}

/// Runs `f` on the default guest.
pub fn with_default<R>(
    f: impl FnOnce(&mut dyn DefaultGuest) -> Result<R, GuestError>,
) -> Result<R, GuestError> {
    if BUSY.swap(true, Ordering::Acquire) {
        return Err(GuestError::Reentrant);
    }
    // SAFETY: BUSY gives exclusive access until it is cleared below.
    let slot = unsafe { &mut *DEFAULT.0.get() };
    let r = match slot.as_deref_mut() {
        Some(g) => f(g),
        None => Err(GuestError::NoDefaultGuest),
    };
    BUSY.store(false, Ordering::Release);
    r
}

pub(crate) fn report<R>(name: &str, r: Result<R, GuestError>) -> Option<R> {
    match r {
        Ok(v) => Some(v),
        Err(e) => {
            log::error!("{name}: {e}");
            None
        }
    }
}

pub(crate) fn u32_arg(v: usize) -> Result<u32, GuestError> {
    u32::try_from(v).map_err(|_| GuestError::BadArgument)
}

/// Sets the hook that acknowledges a passthrough IRQ's hardware line
/// (libvmm uses `microkit_irq_ack`). Needed before `virq_register_passthrough`.
#[no_mangle]
pub extern "C" fn libvmm_set_passthrough_ack(ack: Option<PassthroughAckFn>) {
    PASSTHROUGH_ACK.store(ack.map_or(0, |f| f as usize), Ordering::Release);
}

/// C `linux_setup_images`: the kernel entry point, or -1.
///
/// # Safety
/// `kernel`, `dtb_src` and `initrd_src` must be readable for their sizes
/// and stay valid while the guest may be restarted.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn linux_setup_images(
    ram_start: usize,
    kernel: usize,
    kernel_size: usize,
    dtb_src: usize,
    dtb_dest: usize,
    dtb_size: usize,
    initrd_src: usize,
    initrd_dest: usize,
    initrd_size: usize,
) -> usize {
    let r = with_default(|g| {
        // SAFETY: forwarded caller guarantees.
        unsafe {
            g.setup_images(
                ram_start as u64,
                kernel as *const u8,
                kernel_size,
                dtb_src as *const u8,
                dtb_dest as u64,
                dtb_size,
                initrd_src as *const u8,
                initrd_dest as u64,
                initrd_size,
            )
        }
    });
    report("linux_setup_images", r).map_or(usize::MAX, |e| e as usize)
}

/// C `virq_controller_init`.
#[no_mangle]
pub extern "C" fn virq_controller_init(boot_vcpu_id: usize) -> bool {
    report(
        "virq_controller_init",
        with_default(|g| g.controller_init(u32_arg(boot_vcpu_id)?)),
    )
    .is_some()
}

/// C `virq_register`.
#[no_mangle]
pub extern "C" fn virq_register(
    vcpu_id: usize,
    virq_num: usize,
    ack_fn: Option<VirqAckFn>,
    ack_data: *mut c_void,
) -> bool {
    let r = with_default(|g| {
        let ack = ack_fn.ok_or(GuestError::BadArgument)?;
        g.register(u32_arg(vcpu_id)?, u32_arg(virq_num)?, ack, ack_data)
    });
    report("virq_register", r).is_some()
}

/// C `virq_inject`.
#[no_mangle]
pub extern "C" fn virq_inject(vcpu_id: usize, irq: i32) -> bool {
    let r = with_default(|g| {
        g.inject(
            u32_arg(vcpu_id)?,
            u32::try_from(irq).map_err(|_| GuestError::BadArgument)?,
        )
    });
    report("virq_inject", r).is_some()
}

/// C `virq_register_passthrough`.
#[no_mangle]
pub extern "C" fn virq_register_passthrough(vcpu_id: usize, irq: usize, irq_ch: u32) -> bool {
    let r = with_default(|g| {
        let raw = PASSTHROUGH_ACK.load(Ordering::Acquire);
        if raw == 0 {
            return Err(GuestError::NoPassthroughAck);
        }
        // SAFETY: only ever stored from a `PassthroughAckFn`.
        let ack: PassthroughAckFn = unsafe { core::mem::transmute::<usize, PassthroughAckFn>(raw) };
        g.register_passthrough(u32_arg(vcpu_id)?, u32_arg(irq)?, irq_ch, ack)
    });
    report("virq_register_passthrough", r).is_some()
}

/// C `virq_handle_passthrough`.
#[no_mangle]
pub extern "C" fn virq_handle_passthrough(irq_ch: u32) -> bool {
    report(
        "virq_handle_passthrough",
        with_default(|g| g.handle_passthrough(irq_ch)),
    )
    .is_some()
}

/// C `guest_start`.
#[no_mangle]
pub extern "C" fn guest_start(
    boot_vcpu_id: usize,
    kernel_pc: usize,
    dtb: usize,
    initrd: usize,
) -> bool {
    let r = with_default(|g| {
        g.start(
            u32_arg(boot_vcpu_id)?,
            kernel_pc as u64,
            dtb as u64,
            initrd as u64,
        )
    });
    report("guest_start", r).is_some()
}

/// C `guest_stop`.
#[no_mangle]
pub extern "C" fn guest_stop(boot_vcpu_id: usize) {
    report(
        "guest_stop",
        with_default(|g| g.stop(u32_arg(boot_vcpu_id)?)),
    );
}

/// C `guest_restart`.
#[no_mangle]
pub extern "C" fn guest_restart(
    boot_vcpu_id: usize,
    guest_ram_vaddr: usize,
    guest_ram_size: usize,
) -> bool {
    let r = with_default(|g| {
        g.restart(
            u32_arg(boot_vcpu_id)?,
            guest_ram_vaddr as u64,
            guest_ram_size as u64,
        )
    });
    report("guest_restart", r).is_some()
}

/// The exported symbol names, for tests and the header check.
pub const EXPORTS: [&str; 10] = [
    "linux_setup_images",
    "virq_controller_init",
    "virq_register",
    "virq_inject",
    "virq_register_passthrough",
    "virq_handle_passthrough",
    "guest_start",
    "guest_stop",
    "guest_restart",
    "libvmm_set_passthrough_ack",
];
