#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("this program runs on seL4 (aarch64-unknown-none); build it with `cargo xtask`");
}
