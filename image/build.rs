//! Sets `cfg(sel4_prefix)` when a kernel is installed (see the included file).

#[path = "../sel4-abi/build_support/sel4_prefix_cfg.rs"]
mod sel4_prefix_cfg;

fn main() {
    println!("cargo:rerun-if-changed=../sel4-abi/build_support/sel4_prefix_cfg.rs");
    sel4_prefix_cfg::emit();
}
