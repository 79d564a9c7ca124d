//! `virtqueue`: drives a virtio-mmio device (transport + split virtqueues)
//! with arbitrary register accesses and arbitrary guest RAM contents:
//! descriptor loops, addresses outside RAM, bad indirect tables, index
//! jumps, resets at any point. The first byte picks the device model:
//! console, block (virtio-blk requests parsed from guest chains, an
//! asynchronous backend completing out of order) or net (virtio-net
//! frames both ways). The harness is `sel4vm_devices::fuzz` (it needs the
//! devices' internals); see there for the checks.
//!
//! Reach: `deep[0]` chains returned, `deep[1]` times a malformed queue set
//! `DEVICE_NEEDS_RESET`, `deep[2]` bytes from the guest, `deep[3]` bytes to
//! the guest.

use sel4vm_devices::fuzz;

/// Runs one input; panics on a broken invariant.
pub fn virtqueue(data: &[u8]) -> crate::Reach {
    let Some((&which, program)) = data.split_first() else {
        return crate::Reach::default();
    };
    let r = match which % 3 {
        0 => fuzz::run(program),
        1 => fuzz::run_block(program),
        _ => fuzz::run_net(program),
    };
    crate::Reach {
        decoded: 1,
        deep: [r.chains, r.needs_reset, r.tx_bytes, r.rx_bytes],
    }
}
