//! System test for a virtio device facing a hostile driver on real seL4
//! (issue 9, test (b)): a hand-assembled EL1 guest drives the
//! virtio-console of `sel4vm-devices` over virtio-mmio and posts corrupt
//! descriptor chains on its transmitq (a `next` loop, a buffer running
//! past the end of guest RAM). The device must answer each with
//! `DEVICE_NEEDS_RESET` and a configuration-change interrupt while the VMM
//! keeps running; after a reset, a valid buffer must reach the console.
//! The root task checks what the guest recorded and what the console
//! received, and prints `guest-virtio: all checks passed`.
#![cfg_attr(target_os = "none", no_std, no_main)]

extern crate alloc;

mod guest;
guest_support::root_task_main!(root);
