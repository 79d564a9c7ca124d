//! Links the root task with sel4-rt's layout (static ELF at 4 MiB) when
//! building for seL4; host builds are a plain stub binary.

fn main() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os == "none" {
        println!("cargo:rustc-link-arg-bins=-Tsel4-rt.ld");
    }
}
