//! virtio-console: transmit to the backend, receive with buffering.

mod common;

use common::*;
use proptest::prelude::*;
use sel4vm_devices::console::{Console, ConsoleStats, RECEIVEQ as RX, TRANSMITQ as TX};

const ALL: u64 = F_VERSION_1 | F_INDIRECT | F_EVENT_IDX;

fn console_with(cap: usize) -> (Driver<Console<SharedPipe>>, SharedPipe) {
    let p = pipe();
    (Driver::new(Console::with_rx_buffer(p.clone(), cap)), p)
}

#[test]
fn transmit_goes_to_the_backend_in_order() {
    let (mut d, p) = console_with(4096);
    d.init(ALL, 2, 16);
    let a = d.post(
        TX,
        &[Buf::Read(b"hello, ".to_vec()), Buf::Read(b"world".to_vec())],
        false,
    );
    let big: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
    let b = d.post(TX, &[Buf::Read(big.clone())], true);
    d.notify(TX);
    let mut want = b"hello, world".to_vec();
    want.extend(&big);
    assert_eq!(p.borrow().out, want);
    // TX chains come back with nothing written.
    assert_eq!(
        d.take_used(TX),
        vec![(u32::from(a.head), 0), (u32::from(b.head), 0)]
    );
    assert_eq!(d.dev.device().stats().tx_bytes, want.len() as u64);
}

#[test]
fn input_before_any_buffer_is_kept_until_buffers_arrive() {
    let (mut d, p) = console_with(4096);
    // Input arrives before the driver even exists.
    p.borrow_mut().input.extend(b"early ");
    d.notified();
    assert!(p.borrow().input.is_empty(), "pulled from the backend");
    d.init(ALL, 2, 16);
    p.borrow_mut().input.extend(b"bird");
    d.notified();
    assert_eq!(d.dev.device().stats().rx_pending, 10);
    assert!(!d.line(), "nothing to deliver into yet");

    // Two small buffers: the input is split across them, in order.
    let b1 = d.post(RX, &[Buf::Write(4)], false);
    let b2 = d.post(RX, &[Buf::Write(3), Buf::Write(16)], false);
    d.notify(RX);
    assert_eq!(
        d.take_used(RX),
        vec![(u32::from(b1.head), 4), (u32::from(b2.head), 6)]
    );
    assert_eq!(d.bytes(b1.segs[0].0, 4), b"earl");
    assert_eq!(d.bytes(b2.segs[0].0, 3), b"y b");
    assert_eq!(d.bytes(b2.segs[1].0, 3), b"ird");
    assert!(d.line());
    assert_eq!(d.dev.device().stats().rx_pending, 0);
    assert_eq!(d.dev.device().stats().rx_bytes, 10);
}

#[test]
fn input_with_buffers_posted_is_delivered_at_once() {
    let (mut d, p) = console_with(4096);
    d.init(ALL, 2, 16);
    let b = d.post(RX, &[Buf::Write(64)], false);
    d.notify(RX);
    assert!(d.take_used(RX).is_empty(), "no input: buffer kept");
    p.borrow_mut().input.extend(b"ls\n");
    d.notified();
    assert_eq!(d.take_used(RX), vec![(u32::from(b.head), 3)]);
    assert_eq!(d.bytes(b.segs[0].0, 3), b"ls\n");
    assert_eq!(d.ack(), 1);
}

#[test]
fn excess_input_is_dropped_and_counted() {
    let (mut d, p) = console_with(16);
    let input: Vec<u8> = (0..40).collect();
    p.borrow_mut().input.extend(&input);
    d.notified();
    assert_eq!(
        d.dev.device().stats(),
        ConsoleStats {
            rx_pending: 16,
            rx_dropped: 24,
            ..ConsoleStats::default()
        }
    );
    d.init(ALL, 2, 16);
    let b = d.post(RX, &[Buf::Write(64)], false);
    d.notify(RX);
    assert_eq!(d.take_used(RX), vec![(u32::from(b.head), 16)]);
    assert_eq!(d.bytes(b.segs[0].0, 16), &input[..16]);
}

#[test]
fn input_larger_than_the_buffer_is_not_dropped_while_buffers_remain() {
    let (mut d, p) = console_with(8);
    d.init(ALL, 2, 16);
    let bufs: Vec<_> = (0..5)
        .map(|_| d.post(RX, &[Buf::Write(8)], false))
        .collect();
    d.notify(RX);
    let input: Vec<u8> = (0..36).collect();
    p.borrow_mut().input.extend(&input);
    d.notified();
    let used = d.take_used(RX);
    assert_eq!(used.iter().map(|u| u.1).sum::<u32>(), 36);
    let mut got = Vec::new();
    for (b, (id, len)) in bufs.iter().zip(&used) {
        assert_eq!(*id, u32::from(b.head));
        got.extend(d.bytes(b.segs[0].0, *len));
    }
    assert_eq!(got, input);
    assert_eq!(d.dev.device().stats().rx_dropped, 0);
}

#[test]
fn pending_input_survives_a_device_reset() {
    let (mut d, p) = console_with(64);
    d.init(ALL, 2, 16);
    p.borrow_mut().input.extend(b"abc");
    d.notified();
    d.write(sel4vm_devices::virtio::mmio::regs::STATUS, 0);
    d.init(ALL, 2, 16);
    let b = d.post(RX, &[Buf::Write(8)], false);
    d.notify(RX);
    assert_eq!(d.take_used(RX), vec![(u32::from(b.head), 3)]);
    assert_eq!(d.bytes(b.segs[0].0, 3), b"abc");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, failure_persistence: None, ..ProptestConfig::default() })]

    /// Random TX chains and RX buffers against a model: the backend gets
    /// the concatenation of all TX bytes; the guest gets all input, in
    /// order, with used lengths that add up, and nothing is dropped while
    /// the pending buffer is big enough.
    #[test]
    fn console_matches_model(
        tx in prop::collection::vec(
            (prop::collection::vec(prop::collection::vec(any::<u8>(), 1..50), 1..4), any::<bool>()),
            0..8),
        rx_bufs in prop::collection::vec(prop::collection::vec(1u32..40, 1..3), 0..8),
        input in prop::collection::vec(any::<u8>(), 0..300),
        input_first in any::<bool>(),
    ) {
        let (mut d, p) = console_with(4096);
        d.init(ALL, 2, 32);
        if input_first {
            p.borrow_mut().input.extend(&input);
            d.notified();
        }
        let mut posted_rx = Vec::new();
        for sizes in &rx_bufs {
            let bufs: Vec<Buf> = sizes.iter().map(|&l| Buf::Write(l)).collect();
            posted_rx.push(d.post(RX, &bufs, false));
        }
        d.notify(RX);
        let mut want_out = Vec::new();
        for (segs, indirect) in &tx {
            let bufs: Vec<Buf> = segs.iter().cloned().map(Buf::Read).collect();
            want_out.extend(segs.iter().flatten());
            d.post(TX, &bufs, *indirect);
        }
        d.notify(TX);
        if !input_first {
            p.borrow_mut().input.extend(&input);
            d.notified();
        }
        prop_assert_eq!(&p.borrow().out, &want_out);
        prop_assert_eq!(d.take_used(TX).len(), tx.len());

        // Delivered = a prefix of the input filling buffers in order; the
        // rest is pending.
        let used = d.take_used(RX);
        let capacity: u64 = rx_bufs.iter().flatten().map(|&l| u64::from(l)).sum();
        let delivered = (input.len() as u64).min(capacity);
        prop_assert_eq!(used.iter().map(|u| u64::from(u.1)).sum::<u64>(), delivered);
        let mut got = Vec::new();
        for ((id, len), b) in used.iter().zip(&posted_rx) {
            prop_assert_eq!(*id, u32::from(b.head));
            let mut left = *len;
            for &(a, l, _) in &b.segs {
                let n = l.min(left);
                got.extend(d.bytes(a, n));
                left -= n;
            }
        }
        prop_assert_eq!(&got[..], &input[..delivered as usize]);
        let s = d.dev.device().stats();
        prop_assert_eq!(s.rx_pending, input.len() as u64 - delivered);
        prop_assert_eq!(s.rx_dropped, 0);
        prop_assert!(!d.dev.needs_reset());
    }
}
