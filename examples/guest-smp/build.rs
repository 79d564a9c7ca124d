//! Links the root task with sel4-rt's layout (static ELF at 4 MiB) when
//! building for seL4; host builds are a plain stub binary.
//! Host builds: `cfg(has_<tool>)` for the programs the tests run (see the included file).

#[path = "../../sel4-abi/build_support/host_tools_cfg.rs"]
mod host_tools_cfg;

fn main() {
    println!("cargo:rerun-if-changed=../../sel4-abi/build_support/host_tools_cfg.rs");
    host_tools_cfg::emit();
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os == "none" {
        println!("cargo:rustc-link-arg-bins=-Tsel4-rt.ld");
    }
}
