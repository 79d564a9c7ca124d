//! The exported C functions, grouped by libsel4vm header. Each says which
//! libsel4vm function it is and how failure is reported.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::cell::{Cell, RefCell};
use core::ffi::{c_char, c_int, c_uint, c_void, CStr};
use core::ptr;
use core::sync::atomic::{AtomicU32, Ordering};

use core_vm::{
    badge, Action, FaultResult, FrameHandle, KernelObject, MapFrame, MapMode, MemFault, Rights,
    UserContext, VcpuId, VcpuReg, VmConfig,
};

use crate::state::*;
use crate::types::*;

static NEXT_VM_ID: AtomicU32 = AtomicU32::new(0);

// ---------------------------------------------------------------- helpers

/// Converts a C frame capability to a backend frame handle, and whether
/// the core owns (frees) that handle with its mapping: on seL4 it is the
/// backend's copy of the cap, on the host the caller's frame itself.
fn import_frame(b: &mut Be, cptr: seL4_CPtr) -> core_vm::Result<(FrameHandle, bool)> {
    crate::backend_frame(b, cptr)
}

/// `seL4_CapRights_t` -> stage-2 rights (execute follows read: seL4's ARM
/// rights have no execute bit).
fn rights_of(r: seL4_CapRights_t) -> Rights {
    let read = r.words[0] & 0b10 != 0;
    Rights {
        read,
        write: r.words[0] & 0b01 != 0,
        execute: read,
    }
}

fn fault_result_of(v: c_uint, func: &str) -> FaultResult {
    match v {
        fault_result::HANDLED => FaultResult::Handled,
        fault_result::UNHANDLED => FaultResult::Unhandled,
        fault_result::RESTART => FaultResult::Restart,
        fault_result::IGNORE => FaultResult::Ignore,
        fault_result::ERROR => FaultResult::Error,
        other => {
            cerr!("{func}: callback returned {other}, not a memory_fault_result_t; treating it as FAULT_ERROR");
            FaultResult::Error
        }
    }
}

/// Runs a C memory-fault callback for `f` with the fault published for the
/// `get_vcpu_fault_*` / `set_vcpu_fault_data` functions.
fn mem_fault_trampoline(
    vmc: *mut vm_t,
    core: &mut CVm,
    f: &mut MemFault,
    cb: unsafe extern "C" fn(*mut vm_t, *mut vm_vcpu_t, usize, usize, *mut c_void) -> c_uint,
    cookie: *mut c_void,
) -> FaultResult {
    // SAFETY: vmc is the vm_t the callback was registered on.
    let Some(p) = (unsafe { priv_of(vmc, "memory fault callback") }) else {
        return FaultResult::Error;
    };
    let vcpu = cvcpu(p, f.vcpu);
    let (addr, len) = (f.address() as usize, f.size());
    let prev = (
        p.fault.replace(f as *mut MemFault),
        p.fault_vcpu.replace(Some(f.vcpu.0)),
        p.request.replace(Request::None),
    );
    // SAFETY: calling the application's callback with its own cookie.
    let r = publish(p, core, || unsafe { cb(vmc, vcpu, addr, len, cookie) });
    let req = p.request.replace(prev.2);
    p.fault.set(prev.0);
    p.fault_vcpu.set(prev.1);
    match fault_result_of(r, "memory fault callback") {
        // libsel4vm callbacks call restart_vcpu_fault and return HANDLED.
        FaultResult::Handled if req == Request::Restart => FaultResult::Restart,
        other => other,
    }
}

fn bad<T>(func: &str, what: &str, ret: T) -> T {
    cerr!("{func}: {what}");
    ret
}

/// Enters the VM of `vm` or returns `$ret` from the enclosing function.
macro_rules! vm_or {
    ($vm:expr, $func:expr) => {{
        // SAFETY: the C caller passes NULL or a vm_t.
        let Some(p) = (unsafe { priv_of($vm, $func) }) else {
            return;
        };
        let Some(e) = enter(p, $func) else { return };
        (p, e)
    }};
    ($vm:expr, $func:expr, $ret:expr) => {{
        // SAFETY: the C caller passes NULL or a vm_t.
        let Some(p) = (unsafe { priv_of($vm, $func) }) else {
            return $ret;
        };
        let Some(e) = enter(p, $func) else {
            return $ret;
        };
        (p, e)
    }};
}

/// Resolves a vCPU and enters its VM, or returns `$ret`.
macro_rules! vcpu_or {
    ($vcpu:expr, $func:expr, $ret:expr) => {{
        // SAFETY: the C caller passes NULL or a vcpu from vm_create_vcpu.
        let Some((_vmc, p, id)) = (unsafe { vcpu_of($vcpu, $func) }) else {
            return $ret;
        };
        let Some(e) = enter(p, $func) else {
            return $ret;
        };
        (p, e, id)
    }};
}

/// Logs `Err` and maps the result to 0 / -1.
fn rc(func: &str, r: core_vm::Result<()>) -> c_int {
    match r {
        Ok(()) => 0,
        Err(e) => {
            cerr!("{func}: {e:?}");
            -1
        }
    }
}

// ---------------------------------------------------------------- boot.h

/// libsel4vm `vm_init`: creates the VM behind `vm`.
///
/// With `vka == NULL`, kernel objects come from the project's allocator
/// (host: host memory; seL4: the root task's `sel4-rt` allocator set up by
/// `sel4vm_root_main`'s runtime) and `host_simple`/`host_vspace` are not
/// called. With a non-NULL `vka`, the seL4 build takes every object and slot
/// from it, maps guest frames into the VMM through `host_vspace` and asks
/// `host_simple` (if non-NULL) for its TCB/CNode/ASID pool (see
/// [`crate::vka::VkaSource`]); the host build only checks that the structs
/// have the operations needed. `io_ops` is stored, never called.
/// `host_vspace` is copied to `vm->mem.vmm_vspace`. `host_endpoint` is stored
/// (host build) or replaced by the endpoint the seL4 backend creates.
/// Returns 0, or -1 on error (including a `vka_t`/`vspace_t` lacking a
/// needed operation).
#[no_mangle]
pub unsafe extern "C" fn vm_init(
    vm: *mut vm_t,
    vka: *mut vka_t,
    host_simple: *mut simple_prefix_t,
    host_vspace: vspace_t,
    io_ops: *mut Opaque,
    host_endpoint: seL4_CPtr,
    name: *const c_char,
) -> c_int {
    const F: &str = "vm_init";
    crate::init_logging();
    if vm.is_null() {
        return bad(F, "vm is NULL", -1);
    }
    if name.is_null() {
        return bad(F, "name is NULL", -1);
    }
    // SAFETY: vm is non-null and points to a vm_t (caller contract).
    if unsafe { (*vm).vm_initialised && (*vm).sel4vm_magic == SEL4VM_MAGIC } {
        return bad(F, "vm is already initialised", -1);
    }
    if !io_ops.is_null() {
        log::debug!(target: "sel4vm", "{F}: io_ops is kept in vm_t but not used (memory comes from the Rust heap)");
    }
    // SAFETY: NUL-terminated per the C contract.
    let mut name_bytes = unsafe { CStr::from_ptr(name) }.to_bytes().to_vec();
    let name_str = alloc::string::String::from_utf8_lossy(&name_bytes).into_owned();
    name_bytes.push(0);
    let backend = match crate::new_backend(vka, host_simple, host_vspace) {
        Ok(b) => b,
        Err(e) => return bad(F, &alloc::format!("backend: {e:?}"), -1),
    };
    let id = NEXT_VM_ID.fetch_add(1, Ordering::Relaxed);
    let config = VmConfig {
        name: name_str,
        id,
        max_vcpus: SEL4VM_MAX_VCPUS as u32,
        ..VmConfig::default()
    };
    let mut core = match CVm::new(backend, config) {
        Ok(v) => v,
        Err(e) => return bad(F, &alloc::format!("{e:?}"), -1),
    };
    // libsel4vm ends vm_run on a fault nothing handles; C code expects it.
    core.set_fault_policy(core_vm::FaultPolicy::StopGuest);
    let endpoint = crate::endpoint_of(&core).unwrap_or(host_endpoint);
    let owned = Box::into_raw(Box::new(core));
    let p = Box::into_raw(Box::new(Priv {
        owned,
        active: Cell::new(owned),
        fault: Cell::new(ptr::null_mut()),
        fault_vcpu: Cell::new(None),
        request: Cell::new(Request::None),
        callback_error: Cell::new(false),
        owner: vm,
        name: name_bytes,
        regions: RefCell::new(Vec::new()),
        vcpus: RefCell::new(Vec::new()),
        reservations: RefCell::new(Vec::new()),
    }));
    // SAFETY: p was just leaked and is valid.
    let name_ptr = unsafe { (*p).name.as_ptr() as *mut c_char };
    let c = vm_t {
        arch: vm_arch {
            vm_smc_handler: None,
        },
        num_vcpus: 0,
        vcpus: [ptr::null_mut(); SEL4VM_MAX_VCPUS],
        mem: vm_mem {
            vm_vspace: vspace_t::default(),
            vm_vspace_root: vka_object_t::default(),
            vmm_vspace: host_vspace,
            num_ram_regions: 0,
            ram_regions: ptr::null_mut(),
            reservation_cookie: ptr::null_mut(),
            unhandled_mem_fault_handler: None,
            unhandled_mem_fault_cookie: ptr::null_mut(),
            clean_cache: 0,
            map_one_to_one: 0,
        },
        run: vm_run {
            exit_reason: 0,
            notification_callback: None,
            notification_callback_cookie: ptr::null_mut(),
        },
        cspace: vm_cspace::default(),
        host_endpoint: endpoint,
        vka,
        io_ops,
        simple: host_simple,
        entry: 0,
        vm_name: name_ptr,
        vm_id: id,
        vm_initialised: true,
        sel4vm_magic: SEL4VM_MAGIC,
        sel4vm_impl: p as *mut c_void,
    };
    // SAFETY: vm is valid for writes (caller contract); the old contents
    // are plain data.
    unsafe { ptr::write(vm, c) };
    // SAFETY: p is valid; owned too.
    unsafe { sync(&*p, &*owned) };
    0
}

/// libsel4vm `vm_create_vcpu`: creates a vCPU with scheduling `priority`
/// (0..=255). Returns NULL on error.
#[no_mangle]
pub unsafe extern "C" fn vm_create_vcpu(vm: *mut vm_t, priority: c_int) -> *mut vm_vcpu_t {
    const F: &str = "vm_create_vcpu";
    let (p, mut e) = vm_or!(vm, F, ptr::null_mut());
    let Ok(prio) = u8::try_from(priority) else {
        return bad(
            F,
            &alloc::format!("priority {priority} outside 0..=255"),
            ptr::null_mut(),
        );
    };
    let id = match e.vm().create_vcpu(prio) {
        Ok(id) => id,
        Err(err) => return bad(F, &alloc::format!("{err:?}"), ptr::null_mut()),
    };
    let v = Box::into_raw(Box::new(vm_vcpu_t {
        vm,
        vcpu: vka_object_t::default(),
        tcb: vm_tcb::default(),
        vcpu_id: id.0,
        target_cpu: -1,
        vcpu_online: false,
        vcpu_arch: vm_vcpu_arch {
            fault: ptr::null_mut(),
            unhandled_vcpu_callback: None,
            unhandled_vcpu_callback_cookie: ptr::null_mut(),
        },
    }));
    p.vcpus.borrow_mut().push(v);
    sync(p, e.vm());
    v
}

/// libsel4vm `vm_assign_vcpu_target`. Returns 0, or -1 (negative target,
/// target taken by another vCPU).
#[no_mangle]
pub unsafe extern "C" fn vm_assign_vcpu_target(vcpu: *mut vm_vcpu_t, target_cpu: c_int) -> c_int {
    const F: &str = "vm_assign_vcpu_target";
    let (p, mut e, id) = vcpu_or!(vcpu, F, -1);
    let Ok(t) = u32::try_from(target_cpu) else {
        return bad(F, "negative target_cpu", -1);
    };
    let r = rc(F, e.vm().assign_vcpu_target(id, t));
    sync(p, e.vm());
    r
}

// ---------------------------------------------------------------- guest_vm.h

/// libsel4vm `vm_run`: runs the event loop until the VM stops. Returns
/// `vm->run.exit_reason`: 0 when stopped (or, on the host, when no events
/// are left), `VM_GUEST_NOTIFICATION_EXIT` (2) for a notification nobody
/// handles, -1 (`VM_GUEST_ERROR_EXIT`) on errors, including callbacks that
/// reported one.
#[no_mangle]
pub unsafe extern "C" fn vm_run(vm: *mut vm_t) -> c_int {
    const F: &str = "vm_run";
    let (p, mut e) = vm_or!(vm, F, -1);
    p.callback_error.set(false);
    let reason = e.vm().run();
    sync(p, e.vm());
    let code = if p.callback_error.get() {
        -1
    } else {
        reason.code()
    };
    // SAFETY: vm was validated by vm_or!.
    unsafe { (*vm).run.exit_reason = code };
    code
}

/// libsel4vm `vcpu_start`. Returns 0 or -1.
#[no_mangle]
pub unsafe extern "C" fn vcpu_start(vcpu: *mut vm_vcpu_t) -> c_int {
    const F: &str = "vcpu_start";
    let (p, mut e, id) = vcpu_or!(vcpu, F, -1);
    let r = rc(F, e.vm().vcpu_start(id));
    sync(p, e.vm());
    r
}

/// libsel4vm `vm_register_unhandled_mem_fault_callback`: called for faults
/// outside every reservation (or left `FAULT_UNHANDLED` by one). Returns 0,
/// or -1 for a NULL vm or callback.
#[no_mangle]
pub unsafe extern "C" fn vm_register_unhandled_mem_fault_callback(
    vm: *mut vm_t,
    fault_handler: memory_fault_callback_fn,
    cookie: *mut c_void,
) -> c_int {
    const F: &str = "vm_register_unhandled_mem_fault_callback";
    let (_p, mut e) = vm_or!(vm, F, -1);
    let Some(cb) = fault_handler else {
        return bad(F, "callback is NULL", -1);
    };
    let ck = Cookie(cookie);
    e.vm()
        .register_unhandled_mem_fault_callback(move |core, f| {
            let ck = ck;
            mem_fault_trampoline(vm, core, f, cb, ck.0)
        });
    // SAFETY: validated by vm_or!.
    unsafe {
        (*vm).mem.unhandled_mem_fault_handler = fault_handler;
        (*vm).mem.unhandled_mem_fault_cookie = cookie;
    }
    0
}

/// libsel4vm `vm_register_notification_callback`. The callback gets the
/// badge bits the sender was minted with (this library's notification
/// marker bit 63 removed) and a zero `seL4_MessageInfo_t`; a non-zero
/// return stops `vm_run` with -1. Returns 0, or -1 for NULL arguments.
#[no_mangle]
pub unsafe extern "C" fn vm_register_notification_callback(
    vm: *mut vm_t,
    notification_callback: notification_callback_fn,
    cookie: *mut c_void,
) -> c_int {
    const F: &str = "vm_register_notification_callback";
    let (_p, mut e) = vm_or!(vm, F, -1);
    let Some(cb) = notification_callback else {
        return bad(F, "callback is NULL", -1);
    };
    let ck = Cookie(cookie);
    e.vm().register_notification_callback(move |core, b| {
        let ck = ck;
        // SAFETY: vm is the vm_t the callback was registered on.
        let Some(p) = (unsafe { priv_of(vm, "notification callback") }) else {
            return Err(core_vm::Error::Callback);
        };
        let bits = b & !badge::NOTIFICATION_BIT;
        // SAFETY: the application's callback with its cookie.
        let r = publish(p, core, || unsafe {
            cb(vm, bits, seL4_MessageInfo_t::default(), ck.0)
        });
        if r != 0 {
            cerr!("notification callback returned {r} for badge {bits:#x}");
            p.callback_error.set(true);
            return Err(core_vm::Error::Callback);
        }
        Ok(())
    });
    // SAFETY: validated by vm_or!.
    unsafe {
        (*vm).run.notification_callback = notification_callback;
        (*vm).run.notification_callback_cookie = cookie;
    }
    0
}

// ---------------------------------------------------------------- guest_ram.h

/// libsel4vm `vm_guest_ram_read_callback`: a `ram_touch_callback_fn` that
/// copies the touched guest bytes to `buf + offset`. Returns 0 (-1 for NULL).
#[no_mangle]
pub unsafe extern "C" fn vm_guest_ram_read_callback(
    _vm: *mut vm_t,
    _guest_addr: usize,
    vaddr: *mut c_void,
    size: usize,
    offset: usize,
    buf: *mut c_void,
) -> c_int {
    if vaddr.is_null() || buf.is_null() {
        return bad("vm_guest_ram_read_callback", "NULL vaddr or buf", -1);
    }
    // SAFETY: vaddr has `size` bytes (from vm_ram_touch); buf is the
    // caller's buffer covering the whole touched range.
    unsafe { ptr::copy(vaddr as *const u8, (buf as *mut u8).add(offset), size) };
    0
}

/// libsel4vm `vm_guest_ram_write_callback`: copies `buf + offset` into the
/// touched guest bytes. Returns 0 (-1 for NULL).
#[no_mangle]
pub unsafe extern "C" fn vm_guest_ram_write_callback(
    _vm: *mut vm_t,
    _guest_addr: usize,
    vaddr: *mut c_void,
    size: usize,
    offset: usize,
    buf: *mut c_void,
) -> c_int {
    if vaddr.is_null() || buf.is_null() {
        return bad("vm_guest_ram_write_callback", "NULL vaddr or buf", -1);
    }
    // SAFETY: as for the read callback, in the other direction.
    unsafe { ptr::copy((buf as *const u8).add(offset), vaddr as *mut u8, size) };
    0
}

/// libsel4vm `vm_ram_touch`: calls `touch_callback` for each page-bounded
/// piece of `[addr, addr + size)`, which must be wholly guest RAM. Returns 0,
/// or -1 (not RAM, NULL arguments, or the callback returned non-zero: the
/// walk stops there). The VM cannot be used from inside the callback.
#[no_mangle]
pub unsafe extern "C" fn vm_ram_touch(
    vm: *mut vm_t,
    addr: usize,
    size: usize,
    touch_callback: ram_touch_callback_fn,
    cookie: *mut c_void,
) -> c_int {
    const F: &str = "vm_ram_touch";
    let (_p, mut e) = vm_or!(vm, F, -1);
    let Some(cb) = touch_callback else {
        return bad(F, "callback is NULL", -1);
    };
    let r = e.vm().ram_touch(addr as u64, size as u64, |a| {
        let len = a.bytes.len();
        // SAFETY: the application's callback; the bytes stay valid for the call.
        let r = unsafe {
            cb(
                vm,
                a.guest_addr as usize,
                a.bytes.as_mut_ptr() as *mut c_void,
                len,
                a.offset as usize,
                cookie,
            )
        };
        if r == 0 {
            Ok(())
        } else {
            Err(r)
        }
    });
    match r {
        Ok(()) => 0,
        Err(core_vm::TouchError::Vm(err)) => {
            bad(F, &alloc::format!("{addr:#x}+{size:#x}: {err:?}"), -1)
        }
        Err(core_vm::TouchError::Callback { guest_addr, error }) => bad(
            F,
            &alloc::format!("callback returned {error} at {guest_addr:#x}"),
            -1,
        ),
    }
}

/// libsel4vm `vm_ram_find_largest_free_region`. Returns 0 with `*addr`,
/// `*size` set, or -1 (no free RAM, NULL arguments).
#[no_mangle]
pub unsafe extern "C" fn vm_ram_find_largest_free_region(
    vm: *mut vm_t,
    addr: *mut usize,
    size: *mut usize,
) -> c_int {
    const F: &str = "vm_ram_find_largest_free_region";
    let (_p, mut e) = vm_or!(vm, F, -1);
    if addr.is_null() || size.is_null() {
        return bad(F, "addr or size is NULL", -1);
    }
    match e.vm().ram_find_largest_free_region() {
        Some((a, s)) => {
            // SAFETY: non-null out-pointers from the caller.
            unsafe {
                *addr = a as usize;
                *size = s as usize;
            }
            0
        }
        None => bad(F, "no free RAM", -1),
    }
}

/// libsel4vm `vm_ram_register`: registers `bytes` of RAM at an address taken
/// from the anonymous regions (`vm_memory_make_anon`). Returns the address,
/// or 0 on error.
#[no_mangle]
pub unsafe extern "C" fn vm_ram_register(vm: *mut vm_t, bytes: usize) -> usize {
    const F: &str = "vm_ram_register";
    let (p, mut e) = vm_or!(vm, F, 0);
    let r = e.vm().ram_register(bytes as u64);
    sync(p, e.vm());
    match r {
        Ok(a) => a as usize,
        Err(err) => bad(F, &alloc::format!("{bytes:#x} bytes: {err:?}"), 0),
    }
}

/// libsel4vm `vm_ram_register_at`: RAM at `[start, start + bytes)`; with
/// `untyped` each page is the frame at the same physical address.
/// Returns 0 or -1.
#[no_mangle]
pub unsafe extern "C" fn vm_ram_register_at(
    vm: *mut vm_t,
    start: usize,
    bytes: usize,
    untyped: bool,
) -> c_int {
    const F: &str = "vm_ram_register_at";
    let (p, mut e) = vm_or!(vm, F, -1);
    let r = rc(
        F,
        e.vm().ram_register_at(start as u64, bytes as u64, untyped),
    );
    sync(p, e.vm());
    r
}

/// Builds a core map iterator over a C `memory_map_iterator_fn`.
fn c_iterator(
    cb: unsafe extern "C" fn(usize, *mut c_void) -> vm_frame_t,
    cookie: *mut c_void,
) -> impl FnMut(&mut Be, u64) -> core_vm::Result<MapFrame> + 'static {
    let ck = Cookie(cookie);
    move |b, ipa| {
        let ck = ck;
        // SAFETY: the application's iterator with its cookie.
        let f = unsafe { cb(ipa as usize, ck.0) };
        if f.cptr == 0 {
            cerr!("map iterator returned seL4_CapNull for {ipa:#x}");
            return Err(core_vm::Error::BadFrame(ipa));
        }
        if f.size_bits != 12 {
            cerr!("map iterator returned a frame of size_bits {} for {ipa:#x}; only 4 KiB frames are supported", f.size_bits);
            return Err(core_vm::Error::BadFrame(ipa));
        }
        let (frame, owned) = import_frame(b, f.cptr)?;
        Ok(MapFrame {
            frame,
            rights: rights_of(f.rights),
            owned,
        })
    }
}

/// libsel4vm `vm_ram_register_at_custom_iterator`: RAM backed by frames from
/// `map_iterator` (4 KiB frames; host build: handles from
/// `sel4vm_host_alloc_frame`). Returns 0 or -1.
#[no_mangle]
pub unsafe extern "C" fn vm_ram_register_at_custom_iterator(
    vm: *mut vm_t,
    start: usize,
    bytes: usize,
    map_iterator: memory_map_iterator_fn,
    cookie: *mut c_void,
) -> c_int {
    const F: &str = "vm_ram_register_at_custom_iterator";
    let (p, mut e) = vm_or!(vm, F, -1);
    let Some(cb) = map_iterator else {
        return bad(F, "iterator is NULL", -1);
    };
    let r = rc(
        F,
        e.vm()
            .ram_register_at_custom_iterator(start as u64, bytes as u64, c_iterator(cb, cookie)),
    );
    sync(p, e.vm());
    r
}

/// libsel4vm `vm_ram_mark_allocated` (errors are logged: the C function
/// returns nothing).
#[no_mangle]
pub unsafe extern "C" fn vm_ram_mark_allocated(vm: *mut vm_t, start: usize, bytes: usize) {
    const F: &str = "vm_ram_mark_allocated";
    let (p, mut e) = vm_or!(vm, F);
    rc(F, e.vm().ram_mark_allocated(start as u64, bytes as u64));
    sync(p, e.vm());
}

/// libsel4vm `vm_ram_allocate`: first fit in registered RAM. Returns the
/// address, or 0 on error.
#[no_mangle]
pub unsafe extern "C" fn vm_ram_allocate(vm: *mut vm_t, bytes: usize) -> usize {
    const F: &str = "vm_ram_allocate";
    let (p, mut e) = vm_or!(vm, F, 0);
    let r = e.vm().ram_allocate(bytes as u64);
    sync(p, e.vm());
    match r {
        Ok(a) => a as usize,
        Err(err) => bad(F, &alloc::format!("{bytes:#x} bytes: {err:?}"), 0),
    }
}

/// libsel4vm `vm_ram_free`: really frees (libsel4vm's is a no-op); every
/// page must be allocated, otherwise nothing changes and the error is logged.
#[no_mangle]
pub unsafe extern "C" fn vm_ram_free(vm: *mut vm_t, start: usize, bytes: usize) {
    const F: &str = "vm_ram_free";
    let (p, mut e) = vm_or!(vm, F);
    rc(F, e.vm().ram_free(start as u64, bytes as u64));
    sync(p, e.vm());
}

// ---------------------------------------------------------------- guest_memory.h

fn new_handle(p: &Priv, res: core_vm::Reservation) -> *mut vm_memory_reservation_t {
    let h = Box::into_raw(Box::new(vm_memory_reservation_t { res }));
    p.reservations.borrow_mut().push(h);
    h
}

fn handle_res(
    p: &Priv,
    h: *mut vm_memory_reservation_t,
    func: &str,
) -> Option<core_vm::Reservation> {
    if h.is_null() {
        cerr!("{func}: reservation is NULL");
        return None;
    }
    if !p.reservations.borrow().contains(&h) {
        cerr!("{func}: {h:p} is not a live reservation of this VM");
        return None;
    }
    // SAFETY: a live handle from new_handle.
    Some(unsafe { (*h).res })
}

fn fault_closure(
    vm: *mut vm_t,
    cb: unsafe extern "C" fn(*mut vm_t, *mut vm_vcpu_t, usize, usize, *mut c_void) -> c_uint,
    cookie: *mut c_void,
) -> impl FnMut(&mut CVm, &mut MemFault) -> FaultResult + 'static {
    let ck = Cookie(cookie);
    move |core, f| {
        let ck = ck;
        mem_fault_trampoline(vm, core, f, cb, ck.0)
    }
}

/// libsel4vm `vm_reserve_memory_at`: reserves `[addr, addr + size)` (page
/// aligned) with a fault callback. Returns a handle, or NULL on error
/// (overlap, alignment, NULL callback).
#[no_mangle]
pub unsafe extern "C" fn vm_reserve_memory_at(
    vm: *mut vm_t,
    addr: usize,
    size: usize,
    fault_callback: memory_fault_callback_fn,
    cookie: *mut c_void,
) -> *mut vm_memory_reservation_t {
    const F: &str = "vm_reserve_memory_at";
    let (p, mut e) = vm_or!(vm, F, ptr::null_mut());
    let Some(cb) = fault_callback else {
        return bad(F, "callback is NULL", ptr::null_mut());
    };
    match e
        .vm()
        .reserve_memory_at(addr as u64, size as u64, fault_closure(vm, cb, cookie))
    {
        Ok(r) => new_handle(p, r),
        Err(err) => bad(
            F,
            &alloc::format!("{addr:#x}+{size:#x}: {err:?}"),
            ptr::null_mut(),
        ),
    }
}

/// libsel4vm `vm_reserve_anon_memory`: reserves `size` bytes at an
/// `align`-aligned address inside an anonymous region; the address goes to
/// `*addr`. Returns a handle, or NULL on error.
#[no_mangle]
pub unsafe extern "C" fn vm_reserve_anon_memory(
    vm: *mut vm_t,
    size: usize,
    align: usize,
    fault_callback: memory_fault_callback_fn,
    cookie: *mut c_void,
    addr: *mut usize,
) -> *mut vm_memory_reservation_t {
    const F: &str = "vm_reserve_anon_memory";
    let (p, mut e) = vm_or!(vm, F, ptr::null_mut());
    let Some(cb) = fault_callback else {
        return bad(F, "callback is NULL", ptr::null_mut());
    };
    if addr.is_null() {
        return bad(F, "addr is NULL", ptr::null_mut());
    }
    match e
        .vm()
        .reserve_anon_memory(size as u64, align as u64, fault_closure(vm, cb, cookie))
    {
        Ok(r) => {
            // SAFETY: non-null out-pointer.
            unsafe { *addr = r.start() as usize };
            new_handle(p, r)
        }
        Err(err) => bad(
            F,
            &alloc::format!("{size:#x} bytes: {err:?}"),
            ptr::null_mut(),
        ),
    }
}

/// libsel4vm `vm_memory_make_anon`. Returns 0 or -1.
#[no_mangle]
pub unsafe extern "C" fn vm_memory_make_anon(vm: *mut vm_t, addr: usize, size: usize) -> c_int {
    const F: &str = "vm_memory_make_anon";
    let (_p, mut e) = vm_or!(vm, F, -1);
    rc(F, e.vm().memory_make_anon(addr as u64, size as u64))
}

/// libsel4vm `vm_free_reserved_memory`: unmaps and forgets the reservation
/// (anonymous ones too); the handle is invalid afterwards. Returns 0 or -1.
#[no_mangle]
pub unsafe extern "C" fn vm_free_reserved_memory(
    vm: *mut vm_t,
    reservation: *mut vm_memory_reservation_t,
) -> c_int {
    const F: &str = "vm_free_reserved_memory";
    let (p, mut e) = vm_or!(vm, F, -1);
    let Some(r) = handle_res(p, reservation, F) else {
        return -1;
    };
    let res = rc(F, e.vm().free_reserved_memory(r));
    if res == 0 {
        p.reservations.borrow_mut().retain(|&h| h != reservation);
        // SAFETY: the handle was live and is no longer listed.
        drop(unsafe { Box::from_raw(reservation) });
    }
    sync(p, e.vm());
    res
}

/// libsel4vm `vm_map_reservation`: maps every page now with frames from
/// `map_iterator`. Returns 0 or -1 (nothing stays mapped on failure).
#[no_mangle]
pub unsafe extern "C" fn vm_map_reservation(
    vm: *mut vm_t,
    reservation: *mut vm_memory_reservation_t,
    map_iterator: memory_map_iterator_fn,
    cookie: *mut c_void,
) -> c_int {
    const F: &str = "vm_map_reservation";
    let (_p, mut e) = vm_or!(vm, F, -1);
    let Some(r) = handle_res(_p, reservation, F) else {
        return -1;
    };
    let Some(cb) = map_iterator else {
        return bad(F, "iterator is NULL", -1);
    };
    rc(
        F,
        e.vm()
            .map_reservation(r, c_iterator(cb, cookie), MapMode::Now),
    )
}

/// libsel4vm `vm_map_reservation_frames`: maps the caller's frames, one per
/// page (`frame_size_bits` must be 12). Returns 0 or -1.
#[no_mangle]
pub unsafe extern "C" fn vm_map_reservation_frames(
    vm: *mut vm_t,
    reservation: *mut vm_memory_reservation_t,
    frames: *mut seL4_CPtr,
    num_frames: usize,
    frame_size_bits: usize,
) -> c_int {
    const F: &str = "vm_map_reservation_frames";
    let (p, mut e) = vm_or!(vm, F, -1);
    let Some(r) = handle_res(p, reservation, F) else {
        return -1;
    };
    if frames.is_null() {
        return bad(F, "frames is NULL", -1);
    }
    if frame_size_bits != 12 {
        return bad(
            F,
            "only 4 KiB frames (frame_size_bits 12) are supported",
            -1,
        );
    }
    // SAFETY: the caller passes num_frames caps.
    let caps: Vec<seL4_CPtr> = unsafe { core::slice::from_raw_parts(frames, num_frames) }.to_vec();
    let (start, size) = r.region();
    if caps.len() as u64 != size.div_ceil(4096) {
        return bad(
            F,
            &alloc::format!(
                "{} frames for a reservation of {} pages",
                caps.len(),
                size.div_ceil(4096)
            ),
            -1,
        );
    }
    // Each frame is imported as it is mapped, so a failure part-way undoes
    // exactly what was imported (the core frees owned handles).
    let it = move |b: &mut Be, ipa: u64| {
        let c = caps[((ipa - start) / 4096) as usize];
        match import_frame(b, c) {
            Ok((frame, owned)) => Ok(MapFrame {
                frame,
                rights: core_vm::Rights::ALL,
                owned,
            }),
            Err(err) => {
                cerr!("{F}: frame {c:#x}: {err:?}");
                Err(err)
            }
        }
    };
    rc(F, e.vm().map_reservation(r, it, MapMode::Now))
}

/// libsel4vm `vm_get_reservation_memory_region`: writes start and size of
/// the reservation (nothing for NULL arguments).
#[no_mangle]
pub unsafe extern "C" fn vm_get_reservation_memory_region(
    reservation: *mut vm_memory_reservation_t,
    addr: *mut usize,
    size: *mut usize,
) {
    if reservation.is_null() || addr.is_null() || size.is_null() {
        cerr!("vm_get_reservation_memory_region: NULL argument");
        return;
    }
    // SAFETY: a handle from this library and caller out-pointers.
    unsafe {
        let (a, s) = (*reservation).res.region();
        *addr = a as usize;
        *size = s as usize;
    }
}

/// libsel4vm `vm_memory_init`: memory management is set up by `vm_init`
/// already; returns 0 for an initialised VM, -1 otherwise.
#[no_mangle]
pub unsafe extern "C" fn vm_memory_init(vm: *mut vm_t) -> c_int {
    // SAFETY: NULL or a vm_t.
    match unsafe { priv_of(vm, "vm_memory_init") } {
        Some(_) => 0,
        None => -1,
    }
}

// ---------------------------------------------------------------- guest_memory_helpers.h

/// libsel4vm `default_error_fault_callback`: logs the fault and returns
/// `FAULT_ERROR`.
#[no_mangle]
pub unsafe extern "C" fn default_error_fault_callback(
    vm: *mut vm_t,
    vcpu: *mut vm_vcpu_t,
    fault_addr: usize,
    fault_length: usize,
    _cookie: *mut c_void,
) -> c_uint {
    let id = if vcpu.is_null() {
        -1
    } else {
        // SAFETY: non-null vcpu from this library.
        unsafe { (*vcpu).vcpu_id as i64 }
    };
    cerr!("vm {vm:p}: unexpected fault at {fault_addr:#x} ({fault_length} bytes) from vcpu {id}");
    fault_result::ERROR
}

// ---------------------------------------------------------------- guest_vcpu_fault.h

/// Runs `f` on the fault of `vcpu`: the one being handled by a callback, or
/// else the vCPU's most recent one.
fn with_fault<R>(
    vcpu: *mut vm_vcpu_t,
    func: &str,
    f: impl FnOnce(&mut MemFault) -> R,
) -> Option<R> {
    // SAFETY: NULL or a vcpu from this library.
    let (_vmc, p, id) = unsafe { vcpu_of(vcpu, func)? };
    let cur = p.fault.get();
    if !cur.is_null() && p.fault_vcpu.get() == Some(id.0) {
        // SAFETY: published by the trampoline for the duration of the callback.
        return Some(f(unsafe { &mut *cur }));
    }
    let mut e = enter(p, func)?;
    match e.vm().vcpu(id).ok().and_then(|v| v.last_fault().copied()) {
        Some(mut mf) => Some(f(&mut mf)),
        None => {
            cerr!("{func}: vcpu {} has had no memory fault", id.0);
            None
        }
    }
}

/// libsel4vm `get_vcpu_fault_address` (0 if none).
#[no_mangle]
pub unsafe extern "C" fn get_vcpu_fault_address(vcpu: *mut vm_vcpu_t) -> seL4_Word {
    with_fault(vcpu, "get_vcpu_fault_address", |f| f.address()).unwrap_or(0)
}

/// libsel4vm `get_vcpu_fault_ip` (0 if none).
#[no_mangle]
pub unsafe extern "C" fn get_vcpu_fault_ip(vcpu: *mut vm_vcpu_t) -> seL4_Word {
    with_fault(vcpu, "get_vcpu_fault_ip", |f| f.ip()).unwrap_or(0)
}

/// libsel4vm `get_vcpu_fault_data`: store data, or load data set so far (0 if none).
#[no_mangle]
pub unsafe extern "C" fn get_vcpu_fault_data(vcpu: *mut vm_vcpu_t) -> seL4_Word {
    with_fault(vcpu, "get_vcpu_fault_data", |f| f.data()).unwrap_or(0)
}

/// libsel4vm `get_vcpu_fault_data_mask` (0 if none).
#[no_mangle]
pub unsafe extern "C" fn get_vcpu_fault_data_mask(vcpu: *mut vm_vcpu_t) -> seL4_Word {
    with_fault(vcpu, "get_vcpu_fault_data_mask", |f| f.data_mask()).unwrap_or(0)
}

/// libsel4vm `get_vcpu_fault_size`: access size in bytes (0 if none).
#[no_mangle]
pub unsafe extern "C" fn get_vcpu_fault_size(vcpu: *mut vm_vcpu_t) -> usize {
    with_fault(vcpu, "get_vcpu_fault_size", |f| f.size()).unwrap_or(0)
}

/// libsel4vm `is_vcpu_read_fault` (false if none).
#[no_mangle]
pub unsafe extern "C" fn is_vcpu_read_fault(vcpu: *mut vm_vcpu_t) -> bool {
    with_fault(vcpu, "is_vcpu_read_fault", |f| f.is_read()).unwrap_or(false)
}

/// libsel4vm `set_vcpu_fault_data`: the value a load returns. Only inside a
/// memory-fault callback for this vCPU (-1 elsewhere).
#[no_mangle]
pub unsafe extern "C" fn set_vcpu_fault_data(vcpu: *mut vm_vcpu_t, data: seL4_Word) -> c_int {
    const F: &str = "set_vcpu_fault_data";
    // SAFETY: NULL or a vcpu from this library.
    let Some((_vmc, p, id)) = (unsafe { vcpu_of(vcpu, F) }) else {
        return -1;
    };
    let cur = p.fault.get();
    if cur.is_null() || p.fault_vcpu.get() != Some(id.0) {
        return bad(
            F,
            "only allowed inside a memory fault callback for this vcpu",
            -1,
        );
    }
    // SAFETY: published by the trampoline.
    unsafe { (*cur).set_data(data) };
    0
}

/// libsel4vm `emulate_vcpu_fault`: merges the access into `data` (a device
/// register's old value) and returns the result (`data` if there is no fault).
#[no_mangle]
pub unsafe extern "C" fn emulate_vcpu_fault(vcpu: *mut vm_vcpu_t, data: seL4_Word) -> seL4_Word {
    with_fault(vcpu, "emulate_vcpu_fault", |f| f.emulate(data)).unwrap_or(data)
}

fn complete_fault(vcpu: *mut vm_vcpu_t, func: &str, req: Request) {
    // SAFETY: NULL or a vcpu from this library.
    let Some((_vmc, p, id)) = (unsafe { vcpu_of(vcpu, func) }) else {
        return;
    };
    if p.fault_vcpu.get() == Some(id.0) {
        // Inside this vCPU's callback: the loop completes the fault after it returns.
        p.request.set(req);
        return;
    }
    let Some(mut e) = enter(p, func) else { return };
    let r = match req {
        Request::Restart => e.vm().restart_vcpu_fault(id),
        _ => e.vm().advance_vcpu_fault(id),
    };
    rc(func, r);
    sync(p, e.vm());
}

/// libsel4vm `advance_vcpu_fault`. Inside a callback for this vCPU it marks
/// the fault to be stepped over when the callback returns; elsewhere it
/// completes a fault a VCPU-fault callback left pending (errors are logged).
#[no_mangle]
pub unsafe extern "C" fn advance_vcpu_fault(vcpu: *mut vm_vcpu_t) {
    complete_fault(vcpu, "advance_vcpu_fault", Request::Advance)
}

/// libsel4vm `restart_vcpu_fault`: like `advance_vcpu_fault`, but the
/// instruction runs again.
#[no_mangle]
pub unsafe extern "C" fn restart_vcpu_fault(vcpu: *mut vm_vcpu_t) {
    complete_fault(vcpu, "restart_vcpu_fault", Request::Restart)
}

// ---------------------------------------------------------------- guest_irq_controller.h

/// libsel4vm `vm_inject_irq`: edge-triggers `irq`. Returns 0 or -1.
#[no_mangle]
pub unsafe extern "C" fn vm_inject_irq(vcpu: *mut vm_vcpu_t, irq: c_int) -> c_int {
    const F: &str = "vm_inject_irq";
    let (p, mut e, id) = vcpu_or!(vcpu, F, -1);
    let Ok(irq) = u32::try_from(irq) else {
        return bad(F, "negative irq", -1);
    };
    let r = rc(F, e.vm().inject_irq(id, irq));
    sync(p, e.vm());
    r
}

/// libsel4vm `vm_set_irq_level`: non-zero `irq_level` raises the line.
/// Returns 0 or -1.
#[no_mangle]
pub unsafe extern "C" fn vm_set_irq_level(
    vcpu: *mut vm_vcpu_t,
    irq: c_int,
    irq_level: c_int,
) -> c_int {
    const F: &str = "vm_set_irq_level";
    let (p, mut e, id) = vcpu_or!(vcpu, F, -1);
    let Ok(irq) = u32::try_from(irq) else {
        return bad(F, "negative irq", -1);
    };
    let r = rc(F, e.vm().set_irq_level(id, irq, irq_level != 0));
    sync(p, e.vm());
    r
}

/// libsel4vm `vm_register_irq`: `ack_fn` (may be NULL) runs when the guest
/// completes the IRQ. Returns 0 or -1.
#[no_mangle]
pub unsafe extern "C" fn vm_register_irq(
    vcpu: *mut vm_vcpu_t,
    irq: c_int,
    ack_fn: irq_ack_fn_t,
    cookie: *mut c_void,
) -> c_int {
    const F: &str = "vm_register_irq";
    let (_p, mut e, id) = vcpu_or!(vcpu, F, -1);
    let Ok(irq) = u32::try_from(irq) else {
        return bad(F, "negative irq", -1);
    };
    // SAFETY: validated by vcpu_or!.
    let vm = unsafe { (*vcpu).vm };
    let ck = Cookie(cookie);
    let r = e.vm().register_irq(id, irq, move |core, v, n| {
        let ck = ck;
        let Some(cb) = ack_fn else { return };
        // SAFETY: the vm_t the IRQ was registered on.
        let Some(p) = (unsafe { priv_of(vm, "irq ack callback") }) else {
            return;
        };
        let cv = cvcpu(p, v);
        // SAFETY: the application's callback with its cookie.
        publish(p, core, || unsafe { cb(cv, n as c_int, ck.0) });
    });
    rc(F, r)
}

/// libsel4vm `vm_create_default_irq_controller`. Returns 0 or -1 (exists already).
#[no_mangle]
pub unsafe extern "C" fn vm_create_default_irq_controller(vm: *mut vm_t) -> c_int {
    const F: &str = "vm_create_default_irq_controller";
    let (_p, mut e) = vm_or!(vm, F, -1);
    rc(F, e.vm().create_default_irq_controller())
}

// ---------------------------------------------------------------- guest_vm_util.h
// libsel4vm has these as static inline functions reading vm_t; here they are
// real functions so that NULL and unknown ids are caught.

/// libsel4vm `vm_get_vcpu_tcb`: the vCPU's TCB cap (0 for NULL).
#[no_mangle]
pub unsafe extern "C" fn vm_get_vcpu_tcb(vcpu: *mut vm_vcpu_t) -> seL4_CPtr {
    let (_p, mut e, id) = vcpu_or!(vcpu, "vm_get_vcpu_tcb", 0);
    e.vm().vcpu_tcb(id).map_or(0, |t| t.0)
}

/// libsel4vm `vm_get_vcpu`: the VCPU object cap of vCPU `vcpu_id`
/// (`seL4_CapNull` for unknown ids).
#[no_mangle]
pub unsafe extern "C" fn vm_get_vcpu(vm: *mut vm_t, vcpu_id: c_int) -> seL4_CPtr {
    let (_p, mut e) = vm_or!(vm, "vm_get_vcpu", 0);
    let Ok(id) = u32::try_from(vcpu_id) else {
        return 0;
    };
    e.vm().vcpu_object(VcpuId(id)).map_or(0, |o| o.0)
}

/// libsel4vm `vm_vcpu_for_target_cpu` (NULL if none).
#[no_mangle]
pub unsafe extern "C" fn vm_vcpu_for_target_cpu(
    vm: *mut vm_t,
    target_cpu: c_int,
) -> *mut vm_vcpu_t {
    let (p, mut e) = vm_or!(vm, "vm_vcpu_for_target_cpu", ptr::null_mut());
    let Ok(t) = u32::try_from(target_cpu) else {
        return ptr::null_mut();
    };
    e.vm()
        .vcpu_for_target_cpu(t)
        .map_or(ptr::null_mut(), |id| cvcpu(p, id))
}

/// libsel4vm `vm_find_free_unassigned_vcpu` (NULL if none).
#[no_mangle]
pub unsafe extern "C" fn vm_find_free_unassigned_vcpu(vm: *mut vm_t) -> *mut vm_vcpu_t {
    let (p, mut e) = vm_or!(vm, "vm_find_free_unassigned_vcpu", ptr::null_mut());
    e.vm()
        .find_free_unassigned_vcpu()
        .map_or(ptr::null_mut(), |id| cvcpu(p, id))
}

/// libsel4vm `is_vcpu_online` (false for NULL).
#[no_mangle]
pub unsafe extern "C" fn is_vcpu_online(vcpu: *mut vm_vcpu_t) -> bool {
    let (_p, mut e, id) = vcpu_or!(vcpu, "is_vcpu_online", false);
    e.vm().is_vcpu_online(id)
}

/// libsel4vm `vm_get_vspace`: `&vm->mem.vm_vspace`, a zeroed placeholder
/// (the guest's stage 2 is managed by the backend, not a `vspace_t`).
#[no_mangle]
pub unsafe extern "C" fn vm_get_vspace(vm: *mut vm_t) -> *mut vspace_t {
    // SAFETY: NULL or a vm_t.
    match unsafe { priv_of(vm, "vm_get_vspace") } {
        // SAFETY: validated.
        Some(_) => unsafe { ptr::addr_of_mut!((*vm).mem.vm_vspace) },
        None => ptr::null_mut(),
    }
}

/// libsel4vm `vm_get_vmm_vspace`: `&vm->mem.vmm_vspace` (the vspace given to
/// `vm_init`; not used by the library).
#[no_mangle]
pub unsafe extern "C" fn vm_get_vmm_vspace(vm: *mut vm_t) -> *mut vspace_t {
    // SAFETY: NULL or a vm_t.
    match unsafe { priv_of(vm, "vm_get_vmm_vspace") } {
        // SAFETY: validated.
        Some(_) => unsafe { ptr::addr_of_mut!((*vm).mem.vmm_vspace) },
        None => ptr::null_mut(),
    }
}

// ---------------------------------------------------------------- guest_iospace.h

/// libsel4vm `vm_guest_add_iospace` (`loader` is ignored). Returns 0, or -1
/// (the aarch64 backends have no IOMMU support).
#[no_mangle]
pub unsafe extern "C" fn vm_guest_add_iospace(
    vm: *mut vm_t,
    _loader: *mut vspace_t,
    iospace: seL4_CPtr,
) -> c_int {
    const F: &str = "vm_guest_add_iospace";
    let (_p, mut e) = vm_or!(vm, F, -1);
    rc(F, e.vm().guest_add_iospace(KernelObject(iospace)))
}

/// libsel4vmmplatsupport `vmm_install_service` (`<sel4vmmplatsupport/arch/service.h>`)
/// over `Vm::install_service`: the badged copy goes into every
/// vCPU's CNode, now and later. Returns 0, or -1 (index reserved, taken or
/// out of range, or a kernel error).
#[no_mangle]
pub unsafe extern "C" fn vmm_install_service(
    vm: *mut vm_t,
    service: seL4_CPtr,
    index: c_int,
    badge: u32,
) -> c_int {
    const F: &str = "vmm_install_service";
    let (_p, mut e) = vm_or!(vm, F, -1);
    let Ok(index) = u64::try_from(index) else {
        return rc(F, Err(core_vm::Error::ReservedServiceSlot(index as u64)));
    };
    rc(
        F,
        e.vm()
            .install_service(KernelObject(service), index, u64::from(badge)),
    )
}

// ---------------------------------------------------------------- arch/guest_arm_context.h

/// libsel4vm `vm_set_thread_context`. Returns 0 or -1.
#[no_mangle]
pub unsafe extern "C" fn vm_set_thread_context(
    vcpu: *mut vm_vcpu_t,
    context: seL4_UserContext,
) -> c_int {
    const F: &str = "vm_set_thread_context";
    let (_p, mut e, id) = vcpu_or!(vcpu, F, -1);
    rc(
        F,
        e.vm().set_thread_context(
            id,
            &UserContext {
                words: context.words,
            },
        ),
    )
}

/// libsel4vm `vm_set_thread_context_reg`: `reg` is a word index into
/// `seL4_UserContext`. Returns 0 or -1.
#[no_mangle]
pub unsafe extern "C" fn vm_set_thread_context_reg(
    vcpu: *mut vm_vcpu_t,
    reg: c_uint,
    value: usize,
) -> c_int {
    const F: &str = "vm_set_thread_context_reg";
    let (_p, mut e, id) = vcpu_or!(vcpu, F, -1);
    rc(F, e.vm().set_thread_context_reg(id, reg, value as u64))
}

/// libsel4vm `vm_get_thread_context`. Returns 0 or -1.
#[no_mangle]
pub unsafe extern "C" fn vm_get_thread_context(
    vcpu: *mut vm_vcpu_t,
    context: *mut seL4_UserContext,
) -> c_int {
    const F: &str = "vm_get_thread_context";
    let (_p, mut e, id) = vcpu_or!(vcpu, F, -1);
    if context.is_null() {
        return bad(F, "context is NULL", -1);
    }
    match e.vm().get_thread_context(id) {
        Ok(c) => {
            // SAFETY: non-null out-pointer.
            unsafe { (*context).words = c.words };
            0
        }
        Err(err) => bad(F, &alloc::format!("{err:?}"), -1),
    }
}

/// libsel4vm `vm_get_thread_context_reg`. Returns 0 or -1.
#[no_mangle]
pub unsafe extern "C" fn vm_get_thread_context_reg(
    vcpu: *mut vm_vcpu_t,
    reg: c_uint,
    value: *mut usize,
) -> c_int {
    const F: &str = "vm_get_thread_context_reg";
    let (_p, mut e, id) = vcpu_or!(vcpu, F, -1);
    if value.is_null() {
        return bad(F, "value is NULL", -1);
    }
    match e.vm().get_thread_context_reg(id, reg) {
        Ok(v) => {
            // SAFETY: non-null out-pointer.
            unsafe { *value = v as usize };
            0
        }
        Err(err) => bad(F, &alloc::format!("{err:?}"), -1),
    }
}

/// libsel4vm `vm_set_arm_vcpu_reg`: `reg` is a `seL4_VCPUReg`. Returns 0 or -1.
#[no_mangle]
pub unsafe extern "C" fn vm_set_arm_vcpu_reg(
    vcpu: *mut vm_vcpu_t,
    reg: seL4_Word,
    value: usize,
) -> c_int {
    const F: &str = "vm_set_arm_vcpu_reg";
    let (_p, mut e, id) = vcpu_or!(vcpu, F, -1);
    let Some(r) = VcpuReg::from_index(reg) else {
        return bad(F, &alloc::format!("no seL4_VCPUReg {reg}"), -1);
    };
    rc(F, e.vm().set_arm_vcpu_reg(id, r, value as u64))
}

/// libsel4vm `vm_get_arm_vcpu_reg`. Returns 0 or -1.
#[no_mangle]
pub unsafe extern "C" fn vm_get_arm_vcpu_reg(
    vcpu: *mut vm_vcpu_t,
    reg: seL4_Word,
    value: *mut usize,
) -> c_int {
    const F: &str = "vm_get_arm_vcpu_reg";
    let (_p, mut e, id) = vcpu_or!(vcpu, F, -1);
    if value.is_null() {
        return bad(F, "value is NULL", -1);
    }
    let Some(r) = VcpuReg::from_index(reg) else {
        return bad(F, &alloc::format!("no seL4_VCPUReg {reg}"), -1);
    };
    match e.vm().get_arm_vcpu_reg(id, r) {
        Ok(v) => {
            // SAFETY: non-null out-pointer.
            unsafe { *value = v as usize };
            0
        }
        Err(err) => bad(F, &alloc::format!("{err:?}"), -1),
    }
}

// ---------------------------------------------------------------- arch/guest_memory_arch.h

/// libsel4vm `vm_arm_ipa_to_pa`: physical address of `[ipa_base, +size)`,
/// 0 if unmapped or not physically contiguous.
#[no_mangle]
pub unsafe extern "C" fn vm_arm_ipa_to_pa(vm: *mut vm_t, ipa_base: usize, size: usize) -> usize {
    const F: &str = "vm_arm_ipa_to_pa";
    let (_p, mut e) = vm_or!(vm, F, 0);
    match e.vm().ipa_to_pa(ipa_base as u64, size as u64) {
        Ok(pa) => pa as usize,
        Err(err) => bad(F, &alloc::format!("{ipa_base:#x}+{size:#x}: {err:?}"), 0),
    }
}

// ---------------------------------------------------------------- arch/guest_vm_arch.h

/// ESR_EL2 exception classes the core handles itself before asking the
/// unhandled-VCPU-fault callback: WFI/WFE, and HVC/SMC when an SMC handler
/// is registered.
fn core_handles(hsr: u32, smc_registered: bool) -> bool {
    match hsr >> 26 {
        0x01 => true,
        0x16 | 0x17 => smc_registered,
        _ => false,
    }
}

/// libsel4vm `vm_register_unhandled_vcpu_fault_callback`: for VCPU faults
/// the library does not handle itself. Return 0 after handling (call
/// `advance_vcpu_fault` / `restart_vcpu_fault` inside to complete the fault
/// at once, otherwise it stays pending until you call one of them), non-zero
/// to stop `vm_run` with -1. Returns 0 or -1.
#[no_mangle]
pub unsafe extern "C" fn vm_register_unhandled_vcpu_fault_callback(
    vcpu: *mut vm_vcpu_t,
    vcpu_fault_callback: unhandled_vcpu_fault_callback_fn,
    cookie: *mut c_void,
) -> c_int {
    const F: &str = "vm_register_unhandled_vcpu_fault_callback";
    let (_p, mut e, id) = vcpu_or!(vcpu, F, -1);
    let Some(cb) = vcpu_fault_callback else {
        return bad(F, "callback is NULL", -1);
    };
    // SAFETY: validated by vcpu_or!.
    let vm = unsafe { (*vcpu).vm };
    let ck = Cookie(cookie);
    let r = e
        .vm()
        .register_unhandled_vcpu_fault_callback(id, move |core, v, hsr| {
            let ck = ck;
            // SAFETY: the vm_t the callback was registered on.
            let p = unsafe { priv_of(vm, "vcpu fault callback") }?;
            // SAFETY: p.owner is that vm_t.
            let smc = unsafe { (*vm).arch.vm_smc_handler.is_some() };
            if core_handles(hsr, smc) {
                return None;
            }
            let cv = cvcpu(p, v);
            let prev = (
                p.fault_vcpu.replace(Some(v.0)),
                p.request.replace(Request::None),
                p.fault.replace(ptr::null_mut()),
            );
            // SAFETY: the application's callback with its cookie.
            let r = publish(p, core, || unsafe { cb(cv, hsr, ck.0) });
            let req = p.request.replace(prev.1);
            p.fault_vcpu.set(prev.0);
            p.fault.set(prev.2);
            if r != 0 {
                cerr!("vcpu fault callback returned {r} for hsr {hsr:#x}");
                p.callback_error.set(true);
                return Some(Action::StopVm);
            }
            Some(match req {
                Request::Advance => Action::Advance,
                Request::Restart => Action::Resume,
                Request::None => Action::Stay,
            })
        });
    if r.is_ok() {
        // SAFETY: validated by vcpu_or!.
        unsafe {
            (*vcpu).vcpu_arch.unhandled_vcpu_callback = vcpu_fault_callback;
            (*vcpu).vcpu_arch.unhandled_vcpu_callback_cookie = cookie;
        }
    }
    rc(F, r)
}

/// libsel4vm `vm_register_smc_handler_callback`: called for guest SMC and
/// HVC calls with the vCPU's registers, which are written back when it
/// returns 0; non-zero stops `vm_run` with -1. Returns 0 or -1.
#[no_mangle]
pub unsafe extern "C" fn vm_register_smc_handler_callback(
    vm: *mut vm_t,
    vm_smc_handler: smc_handler_callback_fn,
) -> c_int {
    const F: &str = "vm_register_smc_handler_callback";
    let (_p, mut e) = vm_or!(vm, F, -1);
    let Some(cb) = vm_smc_handler else {
        return bad(F, "callback is NULL", -1);
    };
    e.vm().register_smc_handler_callback(move |core, v, ctx| {
        // SAFETY: the vm_t the handler was registered on.
        let Some(p) = (unsafe { priv_of(vm, "smc handler") }) else {
            return Err(core_vm::Error::Callback);
        };
        let cv = cvcpu(p, v);
        let mut regs = seL4_UserContext { words: ctx.words };
        // SAFETY: the application's callback; regs lives across the call.
        let r = publish(p, core, || unsafe { cb(cv, &mut regs) });
        if r != 0 {
            cerr!("smc handler returned {r}");
            p.callback_error.set(true);
            return Err(core_vm::Error::Callback);
        }
        ctx.words = regs.words;
        Ok(())
    });
    // SAFETY: validated by vm_or!.
    unsafe { (*vm).arch.vm_smc_handler = vm_smc_handler };
    0
}

// ---------------------------------------------------------------- extensions (sel4vm/sel4vm_ext.h)

/// Frees the Rust state behind `vm` (vCPUs, reservations, guest RAM) and
/// clears the struct. Not in libsel4vm, which never tears a VM down.
/// Returns 0, or -1 (not initialised, or called from inside a callback).
#[no_mangle]
pub unsafe extern "C" fn sel4vm_destroy(vm: *mut vm_t) -> c_int {
    const F: &str = "sel4vm_destroy";
    // SAFETY: NULL or a vm_t.
    let Some(p) = (unsafe { priv_of(vm, F) }) else {
        return -1;
    };
    if p.active.get() != p.owned {
        return bad(F, "VM is in use (called from a callback?)", -1);
    }
    // SAFETY: validated; nothing else refers to the Priv now.
    unsafe {
        let pp = (*vm).sel4vm_impl as *mut Priv;
        (*vm).vm_initialised = false;
        (*vm).sel4vm_magic = 0;
        (*vm).sel4vm_impl = ptr::null_mut();
        (*vm).num_vcpus = 0;
        (*vm).vcpus = [ptr::null_mut(); SEL4VM_MAX_VCPUS];
        (*vm).mem.num_ram_regions = 0;
        (*vm).mem.ram_regions = ptr::null_mut();
        (*vm).vm_name = ptr::null_mut();
        free_priv(pp);
    }
    0
}

/// Makes `vm_run` return (with 0) after the event being handled; only
/// meaningful from inside a callback (`vm_run` clears the request when it
/// starts). Not in libsel4vm, whose `vm_run` only returns on errors.
/// Returns 0 or -1.
#[no_mangle]
pub unsafe extern "C" fn sel4vm_stop(vm: *mut vm_t) -> c_int {
    let (_p, mut e) = vm_or!(vm, "sel4vm_stop", -1);
    e.vm().stop();
    0
}

/// The C view of `sel4vm::VmStats` / `sel4vm::VcpuStats`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
#[allow(non_camel_case_types)]
pub struct sel4vm_exit_stats_t {
    /// Events from vCPUs.
    pub exits: u64,
    /// Stage-2 faults.
    pub mem_faults: u64,
    /// Trapped WFI/WFE.
    pub wfx: u64,
    /// WFIs that slept.
    pub wfi_sleeps: u64,
    /// HVC and SMC calls.
    pub hvc_smc: u64,
    /// VPPI events.
    pub vppi: u64,
    /// vGIC maintenance events.
    pub maintenance: u64,
    /// Notifications (VM only).
    pub notifications: u64,
    /// Wake-up timer events (VM only).
    pub wakeups: u64,
    /// Kernel calls made handling them.
    pub kernel_calls: u64,
}

fn c_stats(v: &core_vm::VcpuStats) -> sel4vm_exit_stats_t {
    sel4vm_exit_stats_t {
        exits: v.exits,
        mem_faults: v.mem_faults,
        wfx: v.vcpu_faults[0x01],
        wfi_sleeps: v.wfi_sleeps,
        hvc_smc: v.unknown_syscalls + v.vcpu_faults[0x16] + v.vcpu_faults[0x17],
        vppi: v.vppi,
        maintenance: v.maintenance,
        notifications: 0,
        wakeups: 0,
        kernel_calls: v.kernel_calls,
    }
}

/// Exit statistics of the VM (`vcpu_id < 0`) or of one vCPU. No libsel4vm
/// counterpart. Returns 0 or -1.
#[no_mangle]
pub unsafe extern "C" fn sel4vm_get_exit_stats(
    vm: *mut vm_t,
    vcpu_id: c_int,
    out: *mut sel4vm_exit_stats_t,
) -> c_int {
    if out.is_null() {
        return -1;
    }
    let (_p, mut e) = vm_or!(vm, "sel4vm_get_exit_stats", -1);
    let s = e.vm().stats();
    let r = if vcpu_id < 0 {
        let mut t = sel4vm_exit_stats_t::default();
        for v in &s.vcpus {
            let c = c_stats(v);
            t.exits += c.exits;
            t.mem_faults += c.mem_faults;
            t.wfx += c.wfx;
            t.wfi_sleeps += c.wfi_sleeps;
            t.hvc_smc += c.hvc_smc;
            t.vppi += c.vppi;
            t.maintenance += c.maintenance;
        }
        t.notifications = s.notifications;
        t.wakeups = s.wakeups;
        t.kernel_calls = s.kernel_calls();
        t
    } else {
        match s.vcpus.get(vcpu_id as usize) {
            Some(v) => c_stats(v),
            None => return -1,
        }
    };
    // SAFETY: non-null, and the caller passes a writable struct.
    unsafe { out.write(r) };
    0
}

/// Prints a line on the platform console (host: stdout; seL4: the kernel
/// debug console). For C VMMs without a libc.
#[no_mangle]
pub unsafe extern "C" fn sel4vm_puts(s: *const c_char) {
    if s.is_null() {
        return;
    }
    // SAFETY: NUL-terminated per the C contract.
    let b = unsafe { CStr::from_ptr(s) }.to_bytes();
    crate::puts(&alloc::string::String::from_utf8_lossy(b));
}
