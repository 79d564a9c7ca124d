//! Host-side boot-image tooling for sel4vm-rs.
//!
//! * [`pack`] turns the `sel4vm-loader` binary, seL4's `kernel.elf`, a DTB and
//!   a root-task ELF into one ELF that `qemu-system-aarch64 -machine
//!   virt,virtualization=on -kernel IMAGE` boots. It does the job of seL4's
//!   elfloader build (archive + loader) for this project; libsel4vm/libvmm
//!   have no counterpart.
//! * [`KernelInstall`] opens an installed kernel (`SEL4_PREFIX`), checks that
//!   its configuration is the supported one and derives the QEMU arguments.

#[path = "../../loader/src/boot_header.rs"]
pub mod boot_header;
pub mod dtb;
pub mod elf;
pub mod install;
pub mod pack;
#[path = "../../sel4-abi/build_support/supported_config.rs"]
mod supported_config;

pub use boot_header::BootHeader;
pub use dtb::{DtbError, DtbInfo};
pub use elf::{ElfError, ImageRole};
pub use install::{ConfigError, KernelConfig, KernelInstall};
pub use pack::{pack, plan, Layout, PackError, PackInput, PhysAddrBits};

#[cfg(test)]
mod test_util;
#[cfg(test)]
mod tests;
