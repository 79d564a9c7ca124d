//! Sets `cfg(has_<tool>)` for the programs the tests run (the host C compiler for the header check); see the included file.

#[path = "../sel4-abi/build_support/host_tools_cfg.rs"]
mod host_tools_cfg;

fn main() {
    println!("cargo:rerun-if-changed=../sel4-abi/build_support/host_tools_cfg.rs");
    host_tools_cfg::emit();
}
