//! Links the VMM with sel4-rt's layout when building for seL4; host builds
//! are the library plus a stub binary.

fn main() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os == "none" {
        println!("cargo:rustc-link-arg-bins=-Tsel4-rt.ld");
    }
}
