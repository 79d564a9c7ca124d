//! The installed seL4 kernel (`SEL4_PREFIX`).

use crate::Result;
use std::path::PathBuf;

pub use sel4vm_image::KernelInstall;

/// What to tell a user who has no kernel installed.
pub const NEED_KERNEL: &str = "SEL4_PREFIX is not set.
This command needs an installed seL4 kernel (the tree a kernel build's `ninja install` writes:
bin/kernel.elf, libsel4/include/..., support/kernel.dtb) configured as:
  KernelPlatform=qemu-arm-virt  KernelSel4Arch=aarch64  KernelArmHypervisorSupport=ON
  KernelIsMCS=OFF  KernelMaxNumNodes=1  KernelDebugBuild=ON  KernelPrinting=ON
Install such a kernel and run again with SEL4_PREFIX=/path/to/install (see docs/kernel.md).";

pub fn prefix() -> Option<PathBuf> {
    std::env::var_os("SEL4_PREFIX")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// The kernel install, validated against the supported configuration.
pub fn require() -> Result<KernelInstall> {
    let p = prefix().ok_or_else(|| NEED_KERNEL.to_string())?;
    KernelInstall::open(&p).map_err(|e| format!("SEL4_PREFIX={}: {e}", p.display()))
}
