//! libvmm's guest API over the `sel4vm` core: the nine functions
//! `linux_setup_images`, `virq_controller_init`, `virq_register`,
//! `virq_inject`, `virq_register_passthrough`, `virq_handle_passthrough`,
//! `guest_start`, `guest_stop` and `guest_restart`.
//!
//! In Rust they are methods of [`Guest`] (one per VM, nothing global). The
//! C ABI in [`cabi`] (header `include/libvmm/libvmm.h`) keeps libvmm's
//! names, argument order and return conventions and acts on one default
//! guest installed with [`cabi::set_default_guest`].

#![no_std]
#![warn(missing_docs)]

extern crate alloc;

pub mod cabi;
pub mod cabi2;
pub mod error;
mod fdt_check;
pub mod guest;
pub mod image;
pub mod setup;

pub use error::{Blob, GuestError, SetupError};
pub use guest::{
    handle_passthrough, Channel, CoreIrqOnly, EmulatedGic, Guest, IrqPlatform, RamView,
    RestartImages, MAX_RAM_VIEWS, SPSR_EL1H_DAIF_MASKED,
};
pub use image::{DtbInfo, KernelFormat, KernelInfo, KernelPageSize};
pub use setup::{
    is_vmm_view_of, linux_setup_images, validate_images, ImageSrc, LinuxImages, Placement,
};
