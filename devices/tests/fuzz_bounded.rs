//! The `virtqueue` fuzz target's body, run on 20,000 deterministic
//! pseudo-random programs (cargo-fuzz needs nightly; this runs everywhere).

use sel4vm_devices::fuzz;

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn virtqueue_fuzz_body_bounded() {
    let mut rng = XorShift(0x5e14_5e14_dead_beef);
    let mut total = fuzz::Reached::default();
    let mut data = Vec::new();
    for _ in 0..20_000 {
        let len = 16 + (rng.next() % 1000) as usize;
        data.clear();
        data.extend((0..len).map(|_| rng.next() as u8));
        let r = fuzz::run(&data);
        total.chains += r.chains;
        total.needs_reset += r.needs_reset;
        total.tx_bytes += r.tx_bytes;
        total.rx_bytes += r.rx_bytes;
    }
    // The programs get past the front door: buffers are processed and
    // malformed queues are caught.
    println!("{total:?}");
    assert!(total.chains > 100, "{total:?}");
    assert!(total.needs_reset > 100, "{total:?}");
    assert!(total.tx_bytes > 0 && total.rx_bytes > 0, "{total:?}");
}

#[test]
fn empty_and_tiny_inputs() {
    fuzz::run(&[]);
    for b in 0..=255u8 {
        fuzz::run(&[b]);
        fuzz::run(&[b, b]);
    }
}

/// Fuzz finding (`fuzz/corpus/virtqueue/crash-block-completion-after-queue-disabled`):
/// the driver disabled the block queue (`QueueReady = 0`) and set its size to
/// 0 while a request was at the backend; the completion then divided by the
/// queue size in `Queue::add_used`. Now it is refused (`QueueError::NotReady`)
/// and the device asks for a reset, as for any malformed queue.
#[test]
fn completion_after_the_queue_was_disabled_needs_reset() {
    let input =
        include_bytes!("../../fuzz/corpus/virtqueue/crash-block-completion-after-queue-disabled");
    // The `virtqueue` target's first byte picks the device: 1 = block.
    assert_eq!(input[0] % 3, 1);
    let r = fuzz::run_block(&input[1..]);
    assert!(r.needs_reset > 0, "{r:?}");
}
