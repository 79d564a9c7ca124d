//! Generates `$OUT_DIR/labels.rs` from the installed seL4 kernel named by
//! `SEL4_PREFIX`, after checking that its configuration is the supported one.
//! Without `SEL4_PREFIX` the crate uses the checked-in `src/labels_default.rs`.

#[path = "build_support/kernel_facts.rs"]
mod kernel_facts;
#[path = "build_support/sel4_prefix_cfg.rs"]
mod sel4_prefix_cfg;
#[path = "build_support/supported_config.rs"]
mod supported_config;

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=build_support/kernel_facts.rs");
    println!("cargo:rerun-if-changed=build_support/sel4_prefix_cfg.rs");
    println!("cargo:rerun-if-changed=build_support/supported_config.rs");
    println!("cargo:rustc-check-cfg=cfg(sel4_abi_generated_labels)");

    let Some(prefix) = sel4_prefix_cfg::emit() else {
        return;
    };
    for f in kernel_facts::INSTALL_FILES {
        println!("cargo:rerun-if-changed={}", prefix.join(f).display());
    }

    let cfg = kernel_facts::read_config(&prefix)
        .unwrap_or_else(|e| panic!("sel4-abi: SEL4_PREFIX={}: {e}", prefix.display()));
    if let Err(e) = cfg.validate() {
        panic!("sel4-abi: SEL4_PREFIX={}:\n{e}", prefix.display());
    }
    let facts = kernel_facts::derive(&prefix)
        .unwrap_or_else(|e| panic!("sel4-abi: SEL4_PREFIX={}: {e}", prefix.display()));

    let out =
        PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR set by cargo")).join("labels.rs");
    std::fs::write(&out, kernel_facts::render(&facts))
        .unwrap_or_else(|e| panic!("sel4-abi: cannot write {}: {e}", out.display()));
    println!("cargo:rustc-cfg=sel4_abi_generated_labels");
}
