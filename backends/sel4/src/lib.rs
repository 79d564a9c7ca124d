//! seL4 kernel backend for `sel4vm`: [`Sel4Backend`] implements
//! [`sel4vm::Backend`] with real seL4 invocations (through `sel4-abi`) and the
//! root task's object allocator (`sel4-rt`).
//!
//! The backend itself only exists on the target (`aarch64-unknown-none`);
//! the pure translations in [`decode`] (fault messages to events, errors,
//! rights, the VMM window allocator) build and are tested on the host.
#![cfg_attr(not(test), no_std)]
#![warn(missing_docs)]

extern crate alloc;

pub mod decode;
pub mod source;

#[cfg(all(target_arch = "aarch64", target_os = "none"))]
mod backend;

#[cfg(all(target_arch = "aarch64", target_os = "none"))]
pub use backend::{CacheMaintenance, Resources, Sel4Backend, Sel4Config};
pub use source::{CapPath, HostCaps, ObjectSource, SourceObject};
