//! C API for `sel4vm`: libsel4vm's functions under their C names, built as a
//! static library (`libsel4vm_capi.a`, installed as `libsel4vm.a`) for C VMMs
//! written against libsel4vm's `<sel4vm/...>` headers (in `include/`).
//!
//! `vm_t` is a C struct the application owns; `vm_init` hangs the Rust
//! `Vm<Backend>` off it and keeps the C-visible fields in sync (list in
//! `guest_vm.h`). The backend is the host backend (`sel4vm-host`) on hosts and
//! `sel4vm-sel4` on `aarch64-unknown-none`.
//!
//! Errors are returned as libsel4vm does (-1, NULL or 0 as documented per
//! function) and logged with the reason through the `log` crate. No function
//! dereferences a NULL pointer it is given.
//!
//! The libvmm-compat crate is linked in, so its `extern "C"` functions end up
//! in the same archive.
#![cfg_attr(all(target_arch = "aarch64", target_os = "none"), no_std)]
#![warn(missing_docs)]
#![allow(clippy::missing_safety_doc)]

extern crate alloc;

// Pull the libvmm C shims into this archive.
pub use libvmm_compat;

mod api;
#[cfg(not(all(target_arch = "aarch64", target_os = "none")))]
mod host;
pub mod layout;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
mod sel4;
mod state;
pub mod types;
pub mod vka;

#[cfg(all(target_arch = "aarch64", target_os = "none"))]
pub use sel4::set_resources;
pub use state::{Be, CVm};

#[cfg(not(all(target_arch = "aarch64", target_os = "none")))]
pub(crate) use host::{backend_frame, endpoint_of, init_logging, new_backend, puts};
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
pub(crate) use sel4::{backend_frame, endpoint_of, init_logging, new_backend, puts};

/// Returns the Rust `Vm` behind an initialised `vm_t`, for Rust code that
/// mixes the C API with the native one. `None` for NULL, uninitialised or
/// busy VMs.
///
/// # Safety
/// `vm` is NULL or points to a `vm_t`; the returned borrow must end before
/// the next C API call on the same VM.
pub unsafe fn vm_of<'a>(vm: *mut types::vm_t) -> Option<&'a mut CVm> {
    // SAFETY: forwarded contract.
    let p = unsafe { state::priv_of(vm, "sel4vm_capi::vm_of")? };
    let v = p.active.get();
    // SAFETY: `active` is the usable pointer while not busy.
    (!v.is_null()).then(|| unsafe { &mut *v })
}
