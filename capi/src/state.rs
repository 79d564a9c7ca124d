//! The Rust side of a `vm_t`: the owned `Vm<Backend>`, the C mirrors of
//! its state, and the rules for reaching the `Vm` from a C call.
//!
//! Access rule: a C call obtains the `Vm` through [`enter`], which hands out
//! the one usable pointer and marks the VM busy until the call returns. While
//! the core runs a C callback, the trampoline publishes the `&mut Vm` the core
//! passed to it, so API calls made *from inside* fault/IRQ/notification
//! callbacks work on that borrow instead of aliasing the outer one. A call
//! from anywhere else while busy (e.g. from a `ram_touch` callback) is refused.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::cell::{Cell, RefCell};
use core::ffi::{c_int, c_uint, c_void};
use core::ptr;

use core_vm::{MemFault, VcpuId};

use crate::types::*;

#[cfg(not(all(target_arch = "aarch64", target_os = "none")))]
/// The backend behind `vm_t` in this build.
pub type Be = sel4vm_host::HostBackend;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
/// The backend behind `vm_t` in this build.
pub type Be = sel4vm_sel4::Sel4Backend;

/// The core VM type behind `vm_t`.
pub type CVm = core_vm::Vm<Be>;

/// How a callback asked for the current fault to be completed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Request {
    None,
    Advance,
    Restart,
}

/// Per-`vm_t` state, reached through `vm_t.sel4vm_impl`.
pub(crate) struct Priv {
    /// The owned VM (from `Box::into_raw`).
    pub owned: *mut CVm,
    /// The pointer a call may use now; null while busy outside a callback.
    pub active: Cell<*mut CVm>,
    /// The fault being handled by a memory-fault callback, if any.
    pub fault: Cell<*mut MemFault>,
    /// The vCPU of the callback in progress (fault or VCPU-fault callbacks).
    pub fault_vcpu: Cell<Option<u32>>,
    /// `advance_vcpu_fault` / `restart_vcpu_fault` called inside a callback.
    pub request: Cell<Request>,
    /// A callback reported an error (makes `vm_run` return -1).
    pub callback_error: Cell<bool>,
    /// The C struct this belongs to (detects copies of a `vm_t`).
    pub owner: *mut vm_t,
    /// NUL-terminated name, pointed to by `vm_t.vm_name`.
    pub name: Vec<u8>,
    /// Backing store of `vm_t.mem.ram_regions`.
    pub regions: RefCell<Vec<vm_ram_region>>,
    /// The `vm_vcpu_t`s handed out (from `Box::into_raw`).
    pub vcpus: RefCell<Vec<*mut vm_vcpu_t>>,
    /// Live reservation handles (from `Box::into_raw`).
    pub reservations: RefCell<Vec<*mut vm_memory_reservation_t>>,
}

/// Logs a C-API failure (the C API itself only returns -1/NULL).
macro_rules! cerr {
    ($($t:tt)*) => { log::error!(target: "sel4vm", $($t)*) };
}
pub(crate) use cerr;

/// The `Priv` of an initialised `vm_t`, or `None` (logged) for NULL,
/// uninitialised or copied structs.
///
/// # Safety
/// `vm` is NULL or points to readable memory of `vm_t` size.
pub(crate) unsafe fn priv_of<'a>(vm: *mut vm_t, func: &str) -> Option<&'a Priv> {
    if vm.is_null() {
        cerr!("{func}: vm is NULL");
        return None;
    }
    // SAFETY: non-null, caller guarantees it is a vm_t.
    let v = unsafe { &*vm };
    if !v.vm_initialised || v.sel4vm_magic != SEL4VM_MAGIC || v.sel4vm_impl.is_null() {
        cerr!("{func}: vm_t at {vm:p} is not initialised (call vm_init first)");
        return None;
    }
    // SAFETY: set by vm_init to a leaked Box<Priv>.
    let p = unsafe { &*(v.sel4vm_impl as *const Priv) };
    if p.owner != vm {
        cerr!("{func}: vm_t at {vm:p} is a copy of the one vm_init set up; pass the original");
        return None;
    }
    Some(p)
}

/// Resolves a `vm_vcpu_t *` to its VM and id, or `None` (logged).
///
/// # Safety
/// `vcpu` is NULL or a pointer the application got from this library.
pub(crate) unsafe fn vcpu_of<'a>(
    vcpu: *mut vm_vcpu_t,
    func: &str,
) -> Option<(*mut vm_t, &'a Priv, VcpuId)> {
    if vcpu.is_null() {
        cerr!("{func}: vcpu is NULL");
        return None;
    }
    // SAFETY: non-null; the caller passes a vcpu from vm_create_vcpu.
    let (vm, id) = unsafe { ((*vcpu).vm, (*vcpu).vcpu_id) };
    // SAFETY: vm is NULL or the parent set by vm_create_vcpu.
    let p = unsafe { priv_of(vm, func)? };
    if p.vcpus.borrow().get(id as usize).copied() != Some(vcpu) {
        cerr!("{func}: {vcpu:p} is not a vCPU of this VM");
        return None;
    }
    Some((vm, p, VcpuId(id)))
}

/// Exclusive access to the VM for the duration of one C call; restores the
/// previous access state on drop.
pub(crate) struct Enter<'a> {
    p: &'a Priv,
    vm: *mut CVm,
}

impl Enter<'_> {
    /// The VM.
    pub fn vm(&mut self) -> &mut CVm {
        // SAFETY: `enter` took the only usable pointer; it stays valid (the
        // Box is only freed by sel4vm_destroy, which refuses while busy).
        unsafe { &mut *self.vm }
    }
}

impl Drop for Enter<'_> {
    fn drop(&mut self) {
        self.p.active.set(self.vm);
    }
}

/// Takes the VM for one call, or `None` (logged) when it is busy.
pub(crate) fn enter<'a>(p: &'a Priv, func: &str) -> Option<Enter<'a>> {
    let vm = p.active.replace(ptr::null_mut());
    if vm.is_null() {
        cerr!("{func}: VM is busy (called from a callback that cannot reach the VM, e.g. vm_ram_touch's)");
        return None;
    }
    Some(Enter { p, vm })
}

/// Runs `f` (a call into C) with `vm` published for nested API calls, then
/// re-syncs the C mirror.
pub(crate) fn publish<R>(p: &Priv, vm: &mut CVm, f: impl FnOnce() -> R) -> R {
    sync(p, vm);
    let prev = p.active.replace(vm as *mut CVm);
    let r = f();
    p.active.set(prev);
    sync(p, vm);
    r
}

/// Copies the core's state into the C-visible fields of `vm_t` and its
/// `vm_vcpu_t`s (see the header comment in guest_vm.h for the list).
pub(crate) fn sync(p: &Priv, vm: &CVm) {
    let c = p.owner;
    let vcpus = p.vcpus.borrow();
    for (i, v) in vm.vcpus().iter().enumerate() {
        let Some(&cv) = vcpus.get(i) else { break };
        let objs = v.objects();
        let tcb = v.tcb();
        // SAFETY: cv came from Box::into_raw in vm_create_vcpu and is live.
        unsafe {
            (*cv).vcpu.cptr = objs.vcpu.0;
            (*cv).tcb.tcb.cptr = tcb.tcb.0;
            (*cv).tcb.sc.cptr = tcb.sc.map_or(0, |s| s.0);
            (*cv).tcb.priority = c_int::from(tcb.priority);
            (*cv).vcpu_id = v.id().0;
            (*cv).target_cpu = v.target_cpu().map_or(-1, |t| t as c_int);
            (*cv).vcpu_online = v.is_online();
        }
    }
    let mut regions = p.regions.borrow_mut();
    regions.clear();
    regions.extend(vm.ram_regions().iter().map(|r| vm_ram_region {
        start: r.start as usize,
        size: r.size as usize,
        allocated: c_int::from(r.allocated),
    }));
    let cs = vm.cspace();
    // SAFETY: owner is the live vm_t this Priv belongs to.
    unsafe {
        (*c).num_vcpus = vcpus.len() as c_uint;
        for (i, slot) in (*c).vcpus.iter_mut().enumerate() {
            *slot = vcpus.get(i).copied().unwrap_or(ptr::null_mut());
        }
        (*c).mem.num_ram_regions = regions.len() as c_int;
        (*c).mem.ram_regions = if regions.is_empty() {
            ptr::null_mut()
        } else {
            regions.as_mut_ptr()
        };
        (*c).cspace.cspace_obj.cptr = cs.cspace.0;
        (*c).cspace.cspace_root_data = cs.root_data;
    }
}

/// The `vm_vcpu_t *` for a core vCPU id (NULL if unknown).
pub(crate) fn cvcpu(p: &Priv, id: VcpuId) -> *mut vm_vcpu_t {
    p.vcpus
        .borrow()
        .get(id.0 as usize)
        .copied()
        .unwrap_or(ptr::null_mut())
}

/// Frees everything owned by `p` (the `vm_t` fields are cleared by the caller).
///
/// # Safety
/// `p` came from `Box::into_raw` in vm_init and is not used afterwards.
pub(crate) unsafe fn free_priv(p: *mut Priv) {
    // SAFETY: per the contract.
    let p = unsafe { Box::from_raw(p) };
    // SAFETY: each pointer came from Box::into_raw and is dropped once.
    unsafe {
        for v in p.vcpus.borrow_mut().drain(..) {
            drop(Box::from_raw(v));
        }
        for r in p.reservations.borrow_mut().drain(..) {
            drop(Box::from_raw(r));
        }
        drop(Box::from_raw(p.owned));
    }
}

/// An application's `void *cookie`, as captured by the callback closures.
#[derive(Clone, Copy)]
pub(crate) struct Cookie(pub *mut c_void);
