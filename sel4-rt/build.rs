//! Makes the root-task linker script available to binaries that use this
//! runtime: they pass `-Tsel4-rt.ld` (see `examples/hello/build.rs`), and the
//! search path below lets the linker find it.

use std::{env, fs, path::PathBuf};

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR set by cargo"));
    fs::copy("link.ld", out.join("sel4-rt.ld")).expect("copy link.ld");
    println!("cargo:rustc-link-search=native={}", out.display());
    println!("cargo:rerun-if-changed=link.ld");
}
