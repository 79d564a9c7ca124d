//! `sel4vm-root-task`: the root task that boots a Linux guest on seL4.
//!
//! Target only (aarch64-unknown-none); the host build is a stub so that the
//! library half of the crate can be tested with `cargo test`.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
extern crate alloc;

#[cfg(target_os = "none")]
mod dma;
#[cfg(target_os = "none")]
mod uart;
#[cfg(target_os = "none")]
mod vmm;

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("this program runs on seL4 (aarch64-unknown-none); build it with `cargo xtask run`");
}
