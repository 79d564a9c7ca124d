//! Virtio 1.2 over MMIO: the transport ([`mmio`]) and the split virtqueue
//! ([`queue`]), generic over a [`VirtioDevice`] model.
//!
//! Corresponds to libvmm's `virtio/` directory and libsel4vmmplatsupport's
//! virtio glue; only the modern (version 2) MMIO transport is offered.

pub mod mmio;
pub mod queue;

pub use mmio::{TransportStats, VirtioDevice, VirtioMmio};
pub use queue::{Chain, Expect, Popped, Queue, QueueError, QueueStats, Segment};

/// Serves a configuration-space read from a device's whole configuration
/// `cfg`: `data.len()` bytes at `offset`, zero past its end.
pub fn read_config_bytes(cfg: &[u8], offset: u64, data: &mut [u8]) {
    for (i, b) in data.iter_mut().enumerate() {
        *b = usize::try_from(offset)
            .ok()
            .and_then(|o| o.checked_add(i))
            .and_then(|o| cfg.get(o))
            .copied()
            .unwrap_or(0);
    }
}

/// Device ID of a console (virtio 1.2 §5).
pub const VIRTIO_ID_CONSOLE: u32 = 3;

/// Feature bit: indirect descriptor tables.
pub const VIRTIO_F_INDIRECT_DESC: u32 = 28;
/// Feature bit: `used_event` / `avail_event` notification suppression.
pub const VIRTIO_F_EVENT_IDX: u32 = 29;
/// Feature bit: a virtio 1.x (non-legacy) device; required by this transport.
pub const VIRTIO_F_VERSION_1: u32 = 32;

/// Device status bits (virtio 1.2 §2.1).
pub mod status {
    /// The guest has noticed the device.
    pub const ACKNOWLEDGE: u32 = 1;
    /// The guest knows how to drive the device.
    pub const DRIVER: u32 = 2;
    /// The driver is set up and ready to drive the device.
    pub const DRIVER_OK: u32 = 4;
    /// Feature negotiation is complete.
    pub const FEATURES_OK: u32 = 8;
    /// The device hit an error the driver must recover from by resetting it.
    pub const DEVICE_NEEDS_RESET: u32 = 0x40;
    /// The driver gave up on the device.
    pub const FAILED: u32 = 0x80;
}

/// `InterruptStatus` bits (virtio 1.2 §4.2.2).
pub mod interrupt {
    /// A used buffer was returned.
    pub const USED_BUFFER: u32 = 1;
    /// The configuration (or `DEVICE_NEEDS_RESET`) changed.
    pub const CONFIG_CHANGE: u32 = 2;
}
