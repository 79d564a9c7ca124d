//! Drives a virtio-mmio console (transport + split virtqueue) with arbitrary
//! register accesses and arbitrary guest RAM contents: descriptor loops,
//! addresses outside RAM, bad indirect tables, index jumps, resets at any
//! point. The device must never panic nor break its invariants; the body
//! is `sel4vm_devices::fuzz::run`, which `cargo test` also runs bounded.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    sel4vm_devices::fuzz::run(data);
});
