//! `cfg(sel4_prefix)` for crates whose tests need an installed kernel.
//!
//! Included by path from the build scripts of `sel4-abi`, `sel4vm-image` and
//! `sel4vm-capi`. Those tests are marked
//! `#[cfg_attr(not(sel4_prefix), ignore = "needs SEL4_PREFIX")]`, so without a
//! kernel libtest reports them as ignored rather than passed.

use std::path::PathBuf;

/// Emits the cfg (and rebuild trigger); returns the prefix when it is set.
pub fn emit() -> Option<PathBuf> {
    println!("cargo:rerun-if-env-changed=SEL4_PREFIX");
    println!("cargo:rustc-check-cfg=cfg(sel4_prefix)");
    let prefix = std::env::var_os("SEL4_PREFIX").filter(|p| !p.is_empty())?;
    println!("cargo:rustc-cfg=sel4_prefix");
    Some(PathBuf::from(prefix))
}
