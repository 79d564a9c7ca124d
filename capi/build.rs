//! Sets `cfg(sel4_prefix)` when a kernel is installed, `cfg(sel4_source_dir)`
//! when a kernel source tree is given and `cfg(has_<tool>)` for the programs
//! the tests run (see the included files).

#[path = "../sel4-abi/build_support/host_tools_cfg.rs"]
mod host_tools_cfg;
#[path = "../sel4-abi/build_support/sel4_prefix_cfg.rs"]
mod sel4_prefix_cfg;
#[path = "../sel4-abi/build_support/sel4_source_cfg.rs"]
mod sel4_source_cfg;

fn main() {
    println!("cargo:rerun-if-changed=../sel4-abi/build_support/sel4_prefix_cfg.rs");
    sel4_prefix_cfg::emit();
    println!("cargo:rerun-if-changed=../sel4-abi/build_support/sel4_source_cfg.rs");
    sel4_source_cfg::emit();
    println!("cargo:rerun-if-changed=../sel4-abi/build_support/host_tools_cfg.rs");
    host_tools_cfg::emit();
}
