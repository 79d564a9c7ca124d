//! Host build: `vm_t` runs on `sel4vm-host`'s `HostBackend`, and the
//! `sel4vm_host_*` functions of `<sel4vm/host_test.h>` let C tests play the
//! kernel (queue faults, notifications; read back replies and injections).

use core::ffi::{c_int, c_uint};
use std::io::Write;

use core_vm::{BackendError, Event, FrameHandle, VcpuId};
use sel4vm_host::{HostAction, HostBackend};

use crate::state::{cerr, enter, priv_of, CVm};
use crate::types::{seL4_CPtr, simple_prefix_t, vka_t, vm_t, vspace_t};

/// The host backend has no kernel objects to allocate: an application
/// `vka_t`/`vspace_t` is only checked for the operations the seL4 build
/// would call, so host tests catch incomplete structs.
pub(crate) fn new_backend(
    vka: *mut vka_t,
    simple: *mut simple_prefix_t,
    vspace: vspace_t,
) -> Result<HostBackend, BackendError> {
    if !vka.is_null() {
        // SAFETY: the C caller passes valid structs (vm_init's contract); the
        // check only reads which operations are present.
        let check = unsafe { crate::vka::VkaSource::new(vka, vspace, simple, |_| Ok(())) };
        if let Err(why) = check {
            cerr!("vm_init: {why}");
            return Err(BackendError::Unsupported);
        }
    }
    Ok(HostBackend::new())
}

/// On the host a frame "capability" is the backend's frame handle, as
/// returned by `sel4vm_host_alloc_frame`.
/// A caller's frame on the host is the host backend's own handle
/// (`sel4vm_host_alloc_frame`); it stays the caller's (`false`: the core
/// must not free it).
pub(crate) fn backend_frame(
    b: &mut HostBackend,
    cptr: seL4_CPtr,
) -> core_vm::Result<(FrameHandle, bool)> {
    let h = FrameHandle(cptr);
    match b.frame_bytes(h) {
        Some(_) => Ok((h, false)),
        None => Err(core_vm::Error::Backend(BackendError::InvalidFrame)),
    }
}

pub(crate) fn endpoint_of(_vm: &CVm) -> Option<seL4_CPtr> {
    None
}

pub(crate) fn puts(s: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{s}");
    let _ = out.flush();
}

struct StderrLogger;

impl log::Log for StderrLogger {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.level() <= log::max_level()
    }
    fn log(&self, r: &log::Record<'_>) {
        if self.enabled(r.metadata()) {
            eprintln!("[{} {}] {}", r.level(), r.target(), r.args());
        }
    }
    fn flush(&self) {}
}

static LOGGER: StderrLogger = StderrLogger;

/// Installs a stderr logger unless the process has one; level from
/// `SEL4VM_LOG` (error, warn, info, debug, trace; default warn).
pub(crate) fn init_logging() {
    if log::set_logger(&LOGGER).is_ok() {
        let level = std::env::var("SEL4VM_LOG")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(log::LevelFilter::Warn);
        log::set_max_level(level);
    }
}

fn with_backend<R>(vm: *mut vm_t, func: &str, f: impl FnOnce(&mut HostBackend) -> R) -> Option<R> {
    // SAFETY: NULL or a vm_t, per the C contract.
    let p = unsafe { priv_of(vm, func)? };
    let mut e = enter(p, func)?;
    Some(f(e.vm().backend_mut()))
}

fn push(vm: *mut vm_t, func: &str, ev: Event) -> c_int {
    with_backend(vm, func, |b| b.push_event(ev)).map_or(-1, |_| 0)
}

/// Queues a stage-2 fault (`seL4_Fault_VMFault`) of vCPU `vcpu_id`.
#[no_mangle]
pub unsafe extern "C" fn sel4vm_host_push_vm_fault(
    vm: *mut vm_t,
    vcpu_id: c_uint,
    ip: u64,
    addr: u64,
    fsr: u32,
    prefetch: bool,
) -> c_int {
    let ev = Event::VmFault {
        vcpu: VcpuId(vcpu_id),
        ip,
        addr,
        fsr,
        prefetch,
    };
    push(vm, "sel4vm_host_push_vm_fault", ev)
}

/// Queues a VCPU fault (trapped instruction) with syndrome `hsr`.
#[no_mangle]
pub unsafe extern "C" fn sel4vm_host_push_vcpu_fault(
    vm: *mut vm_t,
    vcpu_id: c_uint,
    hsr: u32,
) -> c_int {
    let ev = Event::VcpuFault {
        vcpu: VcpuId(vcpu_id),
        hsr,
    };
    push(vm, "sel4vm_host_push_vcpu_fault", ev)
}

/// Queues a notification whose sender was minted with `badge_bits`
/// (non-zero, bit 63 clear).
#[no_mangle]
pub unsafe extern "C" fn sel4vm_host_push_notification(vm: *mut vm_t, badge_bits: u64) -> c_int {
    match core_vm::badge::for_notification(badge_bits) {
        Ok(badge) => push(
            vm,
            "sel4vm_host_push_notification",
            Event::Notification { badge },
        ),
        Err(e) => {
            cerr!("sel4vm_host_push_notification: {e:?}");
            -1
        }
    }
}

/// Queues a vGIC maintenance event: list register `lr` of the vCPU emptied
/// (`lr` < 0: unknown which).
#[no_mangle]
pub unsafe extern "C" fn sel4vm_host_push_vgic_maintenance(
    vm: *mut vm_t,
    vcpu_id: c_uint,
    lr: c_int,
) -> c_int {
    let ev = Event::VgicMaintenance {
        vcpu: VcpuId(vcpu_id),
        lr: u32::try_from(lr).ok(),
    };
    push(vm, "sel4vm_host_push_vgic_maintenance", ev)
}

/// Number of queued events `vm_run` has not consumed yet (0 for bad VMs).
#[no_mangle]
pub unsafe extern "C" fn sel4vm_host_pending_events(vm: *mut vm_t) -> usize {
    with_backend(vm, "sel4vm_host_pending_events", |b| b.pending_events()).unwrap_or(0)
}

/// One recorded "kernel" action (`sel4vm_host_action_t`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct sel4vm_host_action_t {
    /// `SEL4VM_HOST_*` kind.
    pub kind: c_int,
    /// vCPU id.
    pub vcpu: c_uint,
    /// Reply: PC; inject: IRQ number; VPPI ack: PPI; else 0.
    pub value: u64,
}

/// Reply to a fault.
pub const SEL4VM_HOST_REPLY: c_int = 1;
/// Virtual IRQ put in a list register.
pub const SEL4VM_HOST_INJECT: c_int = 2;
/// VPPI acknowledged.
pub const SEL4VM_HOST_ACK_VPPI: c_int = 3;
/// vCPU thread resumed.
pub const SEL4VM_HOST_START: c_int = 4;
/// vCPU thread suspended.
pub const SEL4VM_HOST_STOP: c_int = 5;
/// `sel4vm_host_action_t.kind`: a runnable vCPU was made to run next.
pub const SEL4VM_HOST_YIELD_TO: c_int = 6;

/// Removes the recorded actions, copies up to `max` of them (oldest first)
/// to `out` and returns how many there were in total.
#[no_mangle]
pub unsafe extern "C" fn sel4vm_host_take_actions(
    vm: *mut vm_t,
    out: *mut sel4vm_host_action_t,
    max: usize,
) -> usize {
    let Some(actions) = with_backend(vm, "sel4vm_host_take_actions", |b| b.take_actions()) else {
        return 0;
    };
    if !out.is_null() {
        for (i, a) in actions.iter().take(max).enumerate() {
            let (kind, vcpu, value) = match *a {
                HostAction::Reply { vcpu, pc } => (SEL4VM_HOST_REPLY, vcpu, pc),
                HostAction::Inject { vcpu, irq } => (SEL4VM_HOST_INJECT, vcpu, u64::from(irq.irq)),
                HostAction::AckVppi { vcpu, irq } => (SEL4VM_HOST_ACK_VPPI, vcpu, u64::from(irq)),
                HostAction::Start(vcpu) => (SEL4VM_HOST_START, vcpu, 0),
                HostAction::Stop(vcpu) => (SEL4VM_HOST_STOP, vcpu, 0),
                HostAction::YieldTo(vcpu) => (SEL4VM_HOST_YIELD_TO, vcpu, 0),
            };
            // SAFETY: out has room for `max` entries (caller contract).
            unsafe {
                *out.add(i) = sel4vm_host_action_t {
                    kind,
                    vcpu: vcpu.0,
                    value,
                }
            };
        }
    }
    actions.len()
}

/// Allocates a 4 KiB host frame usable as a `vm_frame_t.cptr` /
/// `vm_map_reservation_frames` entry. Returns 0 and the handle in `*frame`,
/// or -1.
#[no_mangle]
pub unsafe extern "C" fn sel4vm_host_alloc_frame(vm: *mut vm_t, frame: *mut seL4_CPtr) -> c_int {
    const F: &str = "sel4vm_host_alloc_frame";
    if frame.is_null() {
        cerr!("{F}: frame is NULL");
        return -1;
    }
    match with_backend(vm, F, |b| core_vm::Backend::alloc_frame(b, None)) {
        Some(Ok(h)) if h.0 != 0 => {
            // SAFETY: non-null out-pointer.
            unsafe { *frame = h.0 };
            0
        }
        // Handle 0 would read as seL4_CapNull; take the next one.
        Some(Ok(_)) => with_backend(vm, F, |b| core_vm::Backend::alloc_frame(b, None))
            .and_then(Result::ok)
            .map_or(-1, |h| {
                // SAFETY: non-null out-pointer.
                unsafe { *frame = h.0 };
                0
            }),
        Some(Err(e)) => {
            cerr!("{F}: {e:?}");
            -1
        }
        None => -1,
    }
}

// ---- libvmm C API host tests ------------------------------------------------
//
// The libvmm functions (both the 0.1.0 and the 0.2.0 set) act on the default
// guest the Rust VMM installs. On the host these `libvmm_host_*` functions
// let a C test install one and play the guest (see
// `capi/tests/c/libvmm/host.h`).

type LibvmmGuest = libvmm_compat::Guest<HostBackend>;

fn with_libvmm_guest<R>(f: impl FnOnce(&mut LibvmmGuest) -> R) -> Option<R> {
    libvmm_compat::cabi::with_default(|g| {
        g.as_any_mut()
            .downcast_mut::<LibvmmGuest>()
            .map(f)
            .ok_or(libvmm_compat::GuestError::NoDefaultGuest)
    })
    .ok()
}

/// Installs a libvmm default guest: a host VM with `num_vcpus` vCPUs and
/// RAM `[ram_gpa, +ram_size)`, core vGIC only. `*ram_vmm` (if not NULL)
/// gets the VMM address of the RAM, which is one contiguous mapping.
/// 0, or -1 with the reason logged.
///
/// # Safety
/// `ram_vmm` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn libvmm_host_create_guest(
    num_vcpus: c_uint,
    ram_gpa: u64,
    ram_size: u64,
    ram_vmm: *mut *mut core::ffi::c_void,
) -> c_int {
    init_logging();
    let r = (|| -> Result<(), String> {
        let cfg = core_vm::VmConfig {
            max_vcpus: num_vcpus,
            ..Default::default()
        };
        let mut vm = core_vm::Vm::new(HostBackend::new(), cfg).map_err(|e| e.to_string())?;
        for _ in 0..num_vcpus {
            vm.create_vcpu(100).map_err(|e| e.to_string())?;
        }
        vm.ram_register_at(ram_gpa, ram_size, false)
            .map_err(|e| e.to_string())?;
        let mut base = 0usize;
        vm.guest_memory()
            .touch_spans(ram_gpa, 1, |a| {
                base = a.bytes.as_ptr() as usize;
                Ok::<(), ()>(())
            })
            .map_err(|_| "RAM not mapped".to_string())?;
        if !libvmm_compat::is_vmm_view_of(&mut vm, ram_gpa, ram_size, base as *const u8) {
            return Err("host RAM is not one contiguous mapping".into());
        }
        let g = libvmm_compat::Guest::new(vm, Box::new(libvmm_compat::CoreIrqOnly))
            .map_err(|e| e.to_string())?;
        libvmm_compat::cabi::set_default_guest(Some(Box::new(g))).map_err(|e| e.to_string())?;
        if !ram_vmm.is_null() {
            // SAFETY: caller guarantees it is writable.
            unsafe { *ram_vmm = base as *mut core::ffi::c_void };
        }
        Ok(())
    })();
    match r {
        Ok(()) => 0,
        Err(e) => {
            cerr!("libvmm_host_create_guest: {e}");
            -1
        }
    }
}

/// Removes the libvmm default guest (0; -1 if called from inside a libvmm call).
#[no_mangle]
pub extern "C" fn libvmm_host_destroy_guest() -> c_int {
    libvmm_compat::cabi::set_default_guest(None).map_or(-1, |_| 0)
}

/// The guest completes the IRQ in list register `lr` of `vcpu` (a vGIC
/// maintenance event, then the VM runs until idle). 0, or -1.
#[no_mangle]
pub extern "C" fn libvmm_host_guest_eoi(vcpu: c_uint, lr: c_uint) -> c_int {
    with_libvmm_guest(|g| {
        g.vm_mut().backend_mut().push_event(Event::VgicMaintenance {
            vcpu: VcpuId(vcpu),
            lr: Some(lr),
        });
        g.vm_mut().run();
    })
    .map_or(-1, |_| 0)
}

/// The IRQ in list register `lr` of `vcpu`, or -1 (empty, no such LR, no guest).
#[no_mangle]
pub extern "C" fn libvmm_host_list_register(vcpu: c_uint, lr: c_uint) -> c_int {
    with_libvmm_guest(|g| {
        g.vm()
            .list_registers(VcpuId(vcpu))
            .get(lr as usize)
            .copied()
    })
    .flatten()
    .flatten()
    .map_or(-1, |i| i as c_int)
}

/// The PC of `vcpu`, or `u64::MAX`.
#[no_mangle]
pub extern "C" fn libvmm_host_vcpu_pc(vcpu: c_uint) -> u64 {
    with_libvmm_guest(|g| {
        g.vm_mut()
            .get_thread_context(VcpuId(vcpu))
            .ok()
            .map(|c| c.pc())
    })
    .flatten()
    .unwrap_or(u64::MAX)
}
