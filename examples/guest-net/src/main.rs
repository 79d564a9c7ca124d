//! System test for a network device facing a hostile driver on real seL4:
//! a hand-assembled EL1 guest drives the virtio-net model of
//! `sel4vm-devices` over virtio-mmio and posts broken and oversized chains
//! on its transmit queue (a `next` loop, a buffer past the end of guest
//! RAM, a device-writable buffer, a frame one byte above the maximum, a
//! runt). Each is dropped and counted while the device keeps running (no
//! `DEVICE_NEEDS_RESET`) and the VMM stays up; a valid frame sent afterwards
//! comes back through the root task's loopback link. The root task checks
//! what the guest recorded, the device's drop counters and the transport's
//! state, and prints `guest-net: all checks passed`.
#![cfg_attr(target_os = "none", no_std, no_main)]

extern crate alloc;

mod guest;
guest_support::root_task_main!(root);
