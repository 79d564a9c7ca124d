//! Split-virtqueue processing against the test driver's model of the
//! spec: what the device sees of each chain, and what it returns.

mod common;

use common::*;
use proptest::prelude::*;
use sel4vm_devices::console::Console;
use sel4vm_devices::virtio::mmio::regs;

const ALL: u64 = F_VERSION_1 | F_INDIRECT | F_EVENT_IDX;

fn recorder(size: u16) -> Driver<Recorder> {
    Driver::new(Recorder::new(size))
}

/// Checks one round: the device saw exactly the posted chains, in order,
/// with their bytes; the used ring returns them with the writable length;
/// writable buffers hold the device's bytes.
fn check_round(d: &mut Driver<Recorder>, posted: &[(Posted, Vec<Buf>)], seen_from: usize) {
    let seen = &d.dev.device().seen[seen_from..];
    assert_eq!(seen.len(), posted.len(), "chains seen");
    for ((p, bufs), s) in posted.iter().zip(seen) {
        assert_eq!(s.head, p.head);
        assert_eq!(s.segs, p.segs);
        let readable: Vec<u8> = bufs
            .iter()
            .filter_map(|b| match b {
                Buf::Read(v) => Some(v.clone()),
                Buf::Write(_) => None,
            })
            .flatten()
            .collect();
        assert_eq!(s.readable, readable);
    }
    let used = d.take_used(0);
    let want: Vec<(u32, u32)> = posted
        .iter()
        .map(|(p, _)| {
            let wl: u32 = p.segs.iter().filter(|s| s.2).map(|s| s.1).sum();
            (u32::from(p.head), wl)
        })
        .collect();
    assert_eq!(used, want, "used ring");
    for (p, _) in posted {
        let mut off = 0;
        for &(a, l, w) in &p.segs {
            if w {
                let got = d.bytes(a, l);
                let exp: Vec<u8> = (off..off + l as usize)
                    .map(|i| fill_byte(p.head, i))
                    .collect();
                assert_eq!(got, exp, "written bytes of chain {}", p.head);
                off += l as usize;
            }
        }
    }
}

#[test]
fn direct_chain_readable_then_writable() {
    let mut d = recorder(8);
    d.init(ALL, 1, 8);
    let bufs = vec![
        Buf::Read(b"hdr".to_vec()),
        Buf::Read(b"payload".to_vec()),
        Buf::Write(5),
        Buf::Write(3),
    ];
    let p = d.post(0, &bufs, false);
    assert_eq!(p.segs.len(), 4);
    d.notify(0);
    check_round(&mut d, &[(p, bufs)], 0);
    assert!(d.line());
}

#[test]
fn indirect_chain() {
    let mut d = recorder(8);
    d.init(ALL, 1, 8);
    let bufs = vec![Buf::Read(b"in".to_vec()), Buf::Write(4)];
    let p = d.post(0, &bufs, true);
    d.notify(0);
    check_round(&mut d, &[(p, bufs)], 0);
    // One descriptor of the ring used for the whole chain, given back.
    assert_eq!(d.queues[0].free.len(), 8);
}

#[test]
fn indirect_table_as_large_as_the_queue() {
    let mut d = recorder(4);
    d.init(ALL, 1, 4);
    let bufs: Vec<Buf> = (0..4).map(|i| Buf::Read(vec![i; 3])).collect();
    let p = d.post(0, &bufs, true);
    d.notify(0);
    check_round(&mut d, &[(p, bufs)], 0);
    assert!(!d.dev.needs_reset());
}

#[test]
fn ring_wraps_around_many_times() {
    let mut d = recorder(4);
    d.init(ALL, 1, 4);
    let mut n = 0;
    for round in 0..100u16 {
        let bufs = vec![Buf::Read(vec![round as u8; 2]), Buf::Write(2)];
        let p = d.post(0, &bufs, round.is_multiple_of(3));
        let p2 = d.post(0, &bufs, false);
        d.notify(0);
        check_round(&mut d, &[(p, bufs.clone()), (p2, bufs)], n);
        n += 2;
        d.ack();
    }
    assert_eq!(d.dev.queue(0).unwrap().next_avail(), 200);
}

/// EVENT_IDX is offered because it saves interrupts: a driver that wants
/// one interrupt per batch of 16 gets 1 instead of 16 (without it, the
/// only choice is NO_INTERRUPT, all or nothing).
#[test]
fn event_idx_reduces_interrupts() {
    fn run(features: u64) -> (u64, u64, usize) {
        let p = pipe();
        let mut d = Driver::new(Console::new(p.clone()));
        d.init(features, 2, 16);
        if features & F_EVENT_IDX != 0 {
            // virtqueue_enable_cb_delayed-style: wake me after the 16th.
            d.set_used_event(1, 15);
        }
        let mut kicks = 0;
        for i in 0..16u8 {
            d.post(1, &[Buf::Read(vec![b'a' + i])], false);
            kicks += usize::from(d.kick(1));
            // The driver's interrupt handler runs whenever the line is up.
            if d.line() {
                d.ack();
            }
        }
        assert_eq!(p.borrow().out, b"abcdefghijklmnop");
        assert_eq!(d.take_used(1).len(), 16);
        let s = d.dev.stats();
        (s.used_interrupts, s.irq_raised, kicks)
    }
    let (with_ev, raised_ev, kicks_ev) = run(ALL);
    let (without, raised, kicks) = run(F_VERSION_1 | F_INDIRECT);
    assert_eq!((without, raised), (16, 16));
    assert_eq!((with_ev, raised_ev), (1, 1));
    // The device keeps avail_event current, so no notification is lost.
    assert_eq!((kicks, kicks_ev), (16, 16));
}

/// avail_event: while the device has not caught up, the driver need not
/// notify again; once it has, the next buffer is notified.
#[test]
fn event_idx_avail_event_suppresses_redundant_notifications() {
    let p = pipe();
    let mut d = Driver::new(Console::new(p.clone()));
    d.init(ALL, 2, 16);
    d.post(1, &[Buf::Read(b"1".to_vec())], false);
    assert!(d.kick(1));
    // Two more buffers, but the first kick is "still in flight" from the
    // driver's point of view: post both, kick once.
    d.post(1, &[Buf::Read(b"2".to_vec())], false);
    d.post(1, &[Buf::Read(b"3".to_vec())], false);
    assert!(d.kick(1), "avail_event = 1 lies in [1, 3)");
    assert_eq!(p.borrow().out, b"123");
    // The device wrote avail_event = 3: nothing outstanding to notify.
    assert!(!d.kick(1));
}

#[test]
fn used_event_in_the_past_still_interrupts_after_wrap() {
    // Interrupt for every used buffer when used_event follows last_used.
    let p = pipe();
    let mut d = Driver::new(Console::new(p));
    d.init(ALL, 2, 2);
    for i in 0..70_000u32 {
        d.post(1, &[Buf::Read(vec![i as u8])], false);
        d.notify(1);
        assert_eq!(d.ack() & 1, 1, "interrupt for buffer {i}");
        assert_eq!(d.take_used(1).len(), 1);
    }
}

#[derive(Clone, Debug)]
struct ChainSpec {
    readable: Vec<Vec<u8>>,
    writable: Vec<u32>,
    indirect: bool,
}

fn chain_spec() -> impl Strategy<Value = ChainSpec> {
    (
        prop::collection::vec(prop::collection::vec(any::<u8>(), 1..40), 0..4),
        prop::collection::vec(1u32..300, 0..4),
        any::<bool>(),
    )
        .prop_filter("non-empty chain", |(r, w, _)| {
            !r.is_empty() || !w.is_empty()
        })
        .prop_map(|(readable, writable, indirect)| ChainSpec {
            readable,
            writable,
            indirect,
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, failure_persistence: None, ..ProptestConfig::default() })]

    /// Random valid chains, direct and indirect, posted in rounds with
    /// shuffled descriptor indices: the device sees exactly what the model
    /// laid out and the used ring says what it wrote.
    #[test]
    fn random_valid_chains_match_the_model(
        rounds in prop::collection::vec(prop::collection::vec(chain_spec(), 1..5), 1..6),
        seed in any::<u64>(),
        indirect_ok in any::<bool>(),
    ) {
        // Up to 4 chains of up to 7 descriptors per round.
        let mut d = recorder(32);
        let feats = if indirect_ok { F_VERSION_1 | F_INDIRECT } else { F_VERSION_1 };
        d.init(feats, 1, 32);
        let mut seen = 0;
        for (r, chains) in rounds.iter().enumerate() {
            d.shuffle_free(0, seed.wrapping_add(r as u64));
            let mut posted = Vec::new();
            for c in chains {
                let bufs: Vec<Buf> = c.readable.iter().cloned().map(Buf::Read)
                    .chain(c.writable.iter().map(|&l| Buf::Write(l)))
                    .collect();
                let p = d.post(0, &bufs, c.indirect && indirect_ok);
                posted.push((p, bufs));
            }
            d.notify(0);
            prop_assert!(!d.dev.needs_reset());
            check_round(&mut d, &posted, seen);
            seen += posted.len();
            prop_assert_eq!(d.ack(), 1);
        }
        prop_assert_eq!(d.dev.stats().chains, seen as u64);
        prop_assert_eq!(d.read(regs::STATUS) & 0x40, 0);
    }
}
