//! `cfg(sel4_source_dir)` for tests that configure the seL4 kernel from its
//! source tree inside their own CMake build (no installed kernel).
//!
//! Included by path from `sel4vm-capi`'s build script. Such a test is marked
//! `#[cfg_attr(not(sel4_source_dir), ignore = "needs SEL4_SOURCE_DIR ...")]`;
//! `cargo xtask test` accepts that reason like a missing SEL4_PREFIX (see
//! `xtask/src/target.rs`).

use std::path::PathBuf;

/// Emits the cfg (and rebuild trigger); returns the source tree when set.
pub fn emit() -> Option<PathBuf> {
    println!("cargo:rerun-if-env-changed=SEL4_SOURCE_DIR");
    println!("cargo:rustc-check-cfg=cfg(sel4_source_dir)");
    let dir = std::env::var_os("SEL4_SOURCE_DIR").filter(|p| !p.is_empty())?;
    println!("cargo:rustc-cfg=sel4_source_dir");
    Some(PathBuf::from(dir))
}
