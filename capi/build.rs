//! Sets `cfg(sel4_prefix)` when a kernel is installed and `cfg(has_<tool>)` for the
//! programs the tests run (see the included files).

#[path = "../sel4-abi/build_support/host_tools_cfg.rs"]
mod host_tools_cfg;
#[path = "../sel4-abi/build_support/sel4_prefix_cfg.rs"]
mod sel4_prefix_cfg;

fn main() {
    println!("cargo:rerun-if-changed=../sel4-abi/build_support/sel4_prefix_cfg.rs");
    sel4_prefix_cfg::emit();
    println!("cargo:rerun-if-changed=../sel4-abi/build_support/host_tools_cfg.rs");
    host_tools_cfg::emit();
}
