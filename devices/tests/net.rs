//! virtio-net over a fake link: frames both ways without their headers,
//! configuration space, a full receive ring holding the link back, a busy
//! backend, frames above the maximum, buffers too small, malformed chains
//! dropped while the device keeps running, interrupt suppression, reset.

mod common;

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use common::*;
use sel4vm_devices::net::{
    Net, NetBackend, NetInfo, TxStatus, MAX_FRAME, NET_HDR_LEN, QUEUE_SIZE, RX_QUEUE, TX_QUEUE,
    VIRTIO_NET_F_MAC, VIRTIO_NET_F_STATUS, VIRTIO_NET_S_LINK_UP,
};
use sel4vm_devices::virtio::mmio::regs;
use sel4vm_devices::virtio::queue::{Descriptor, VIRTQ_DESC_F_NEXT};

const ALL: u64 = F_VERSION_1 | F_INDIRECT | F_EVENT_IDX;
const MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
/// What Linux posts without mergeable buffers: header + 1518.
const RX_BUF: u32 = (NET_HDR_LEN + MAX_FRAME) as u32;

#[derive(Default)]
struct Link {
    inbox: VecDeque<Vec<u8>>,
    sent: Vec<Vec<u8>>,
    /// Frames the "NIC" can hold unsent (0: no limit).
    tx_room: usize,
    tx_fail: bool,
    resets: u64,
}

#[derive(Clone, Default)]
struct Shared(Rc<RefCell<Link>>);

impl NetBackend for Shared {
    fn info(&self) -> NetInfo {
        NetInfo {
            mac: MAC,
            link_up: true,
        }
    }
    fn transmit(&mut self, len: usize, fill: &mut dyn FnMut(&mut [u8]) -> bool) -> TxStatus {
        let mut l = self.0.borrow_mut();
        if l.tx_fail {
            return TxStatus::Failed;
        }
        if l.tx_room != 0 && l.sent.len() >= l.tx_room {
            return TxStatus::Busy;
        }
        let mut buf = vec![0; len];
        if !fill(&mut buf) {
            return TxStatus::Failed;
        }
        l.sent.push(buf);
        TxStatus::Sent
    }
    fn receive(&mut self, deliver: &mut dyn FnMut(&[u8]) -> bool) {
        loop {
            let Some(f) = self.0.borrow_mut().inbox.pop_front() else {
                return;
            };
            if !deliver(&f) {
                self.0.borrow_mut().inbox.push_front(f);
                return;
            }
        }
    }
    fn reset(&mut self) -> u64 {
        let mut l = self.0.borrow_mut();
        l.resets += 1;
        let n = l.inbox.len() as u64;
        l.inbox.clear();
        n
    }
}

fn nic() -> (Driver<Net<Shared>>, Rc<RefCell<Link>>) {
    let s = Shared::default();
    let mut d = Driver::new(Net::new(s.clone()));
    d.init(ALL, 2, 64);
    (d, s.0)
}

fn frame(n: usize, seed: u8) -> Vec<u8> {
    (0..n).map(|i| (i as u8).wrapping_mul(31) ^ seed).collect()
}

/// A transmit chain as Linux builds it: header, then the frame.
fn tx(d: &mut Driver<Net<Shared>>, f: &[u8]) -> Posted {
    d.post(
        TX_QUEUE,
        &[Buf::Read(vec![0; NET_HDR_LEN]), Buf::Read(f.to_vec())],
        false,
    )
}

fn rx_buf(d: &mut Driver<Net<Shared>>, len: u32) -> Posted {
    d.post(RX_QUEUE, &[Buf::Write(len)], false)
}

#[test]
fn configuration_space_features_and_queues() {
    let (mut d, _) = nic();
    for (i, b) in MAC.iter().enumerate() {
        assert_eq!(d.read_sized(regs::CONFIG + i as u64, 1), u64::from(*b));
    }
    assert_eq!(
        d.read_sized(regs::CONFIG + 6, 2),
        u64::from(VIRTIO_NET_S_LINK_UP)
    );
    let f = d.device_features();
    assert_ne!(f & (1 << VIRTIO_NET_F_MAC), 0);
    assert_ne!(f & (1 << VIRTIO_NET_F_STATUS), 0);
    // No offloads, no mergeable buffers, no control queue.
    assert_eq!(f & 0xffff & !(1 << VIRTIO_NET_F_MAC), 0);
    for q in 0..2 {
        d.write(regs::QUEUE_SEL, q);
        assert_eq!(d.read(regs::QUEUE_NUM_MAX), u32::from(QUEUE_SIZE));
    }
    d.write(regs::QUEUE_SEL, 2);
    assert_eq!(d.read(regs::QUEUE_NUM_MAX), 0, "no control queue");
}

#[test]
fn transmitted_frames_reach_the_backend_without_their_header() {
    let (mut d, link) = nic();
    let a = frame(60, 1);
    let b = frame(1514, 2);
    let pa = tx(&mut d, &a);
    let pb = tx(&mut d, &b);
    d.notify(TX_QUEUE);
    assert_eq!(link.borrow().sent, vec![a.clone(), b.clone()]);
    let used = d.take_used(TX_QUEUE);
    assert_eq!(used, vec![(u32::from(pa.head), 0), (u32::from(pb.head), 0)]);
    let s = d.dev.device().stats();
    assert_eq!((s.tx_frames, s.tx_bytes), (2, 60 + 1514));
    assert_eq!(s.drops(), 0);
    // Header and frame in one buffer, as a driver with ANY_LAYOUT would.
    let mut one = vec![0; NET_HDR_LEN];
    one.extend(&a);
    d.post(TX_QUEUE, &[Buf::Read(one)], false);
    d.notify(TX_QUEUE);
    assert_eq!(link.borrow().sent.last(), Some(&a));
}

#[test]
fn received_frames_land_in_guest_buffers_with_one_interrupt_per_batch() {
    let (mut d, link) = nic();
    let bufs: Vec<Posted> = (0..4).map(|_| rx_buf(&mut d, RX_BUF)).collect();
    d.notify(RX_QUEUE);
    let frames: Vec<Vec<u8>> = (0..3).map(|i| frame(100 + i * 500, i as u8)).collect();
    link.borrow_mut().inbox.extend(frames.iter().cloned());
    let raised = d.dev.stats().irq_raised;
    d.notified();
    assert_eq!(d.dev.stats().irq_raised, raised + 1, "one interrupt");
    assert!(d.line());
    let used = d.take_used(RX_QUEUE);
    assert_eq!(used.len(), 3);
    for ((id, len), (f, p)) in used.iter().zip(frames.iter().zip(&bufs)) {
        assert_eq!(*id, u32::from(p.head));
        assert_eq!(*len as usize, NET_HDR_LEN + f.len());
        let hdr = d.bytes(p.segs[0].0, NET_HDR_LEN as u32);
        let mut want = [0u8; NET_HDR_LEN];
        want[10] = 1; // num_buffers
        assert_eq!(hdr, want);
        assert_eq!(
            &d.bytes(p.segs[0].0 + NET_HDR_LEN as u64, f.len() as u32),
            f
        );
    }
    let s = d.dev.device().stats();
    assert_eq!(s.rx_frames, 3);
    assert_eq!(
        s.rx_bytes,
        frames.iter().map(|f| f.len() as u64).sum::<u64>()
    );
}

#[test]
fn a_full_receive_ring_holds_frames_until_the_guest_posts_buffers() {
    let (mut d, link) = nic();
    link.borrow_mut().inbox.extend((0..3).map(|i| frame(64, i)));
    d.notified();
    assert_eq!(d.take_used(RX_QUEUE), vec![]);
    assert_eq!(link.borrow().inbox.len(), 3, "nothing lost");
    assert_eq!(d.dev.device().stats().rx_no_buffer, 1);
    // Two buffers: two frames, in order; the third waits again.
    rx_buf(&mut d, RX_BUF);
    let p2 = rx_buf(&mut d, RX_BUF);
    assert!(
        d.kick(RX_QUEUE),
        "the device asked to hear about new buffers"
    );
    assert_eq!(d.take_used(RX_QUEUE).len(), 2);
    assert_eq!(d.bytes(p2.segs[0].0 + NET_HDR_LEN as u64, 64), frame(64, 1));
    assert_eq!(link.borrow().inbox.len(), 1);
    rx_buf(&mut d, RX_BUF);
    d.kick(RX_QUEUE);
    assert_eq!(d.take_used(RX_QUEUE).len(), 1);
    let s = d.dev.device().stats();
    assert_eq!((s.rx_frames, s.rx_dropped), (3, 0));
}

#[test]
fn frames_above_the_maximum_are_dropped_both_ways() {
    let (mut d, link) = nic();
    let p = tx(&mut d, &frame(MAX_FRAME + 1, 0));
    let ok = tx(&mut d, &frame(MAX_FRAME, 0));
    d.notify(TX_QUEUE);
    assert_eq!(link.borrow().sent, vec![frame(MAX_FRAME, 0)]);
    let used = d.take_used(TX_QUEUE);
    assert_eq!(used, vec![(u32::from(p.head), 0), (u32::from(ok.head), 0)]);
    // A jumbo frame from the link is dropped; the next one is delivered.
    let b = rx_buf(&mut d, 9000);
    d.notify(RX_QUEUE);
    link.borrow_mut()
        .inbox
        .extend([frame(MAX_FRAME + 1, 3), frame(80, 4)]);
    d.notified();
    assert_eq!(d.take_used(RX_QUEUE), vec![(u32::from(b.head), 92)]);
    let s = d.dev.device().stats();
    assert_eq!(
        (s.tx_dropped, s.rx_dropped, s.tx_frames, s.rx_frames),
        (1, 1, 1, 1)
    );
    // A runt (shorter than an Ethernet header) is malformed.
    tx(&mut d, &frame(10, 0));
    d.notify(TX_QUEUE);
    assert_eq!(d.dev.device().stats().tx_malformed, 1);
}

#[test]
fn a_buffer_too_small_for_a_frame_is_kept_for_the_next() {
    let (mut d, link) = nic();
    let small = rx_buf(&mut d, 100);
    d.notify(RX_QUEUE);
    link.borrow_mut()
        .inbox
        .extend([frame(200, 1), frame(60, 2)]);
    d.notified();
    assert_eq!(
        d.take_used(RX_QUEUE),
        vec![(u32::from(small.head), (NET_HDR_LEN + 60) as u32)]
    );
    assert_eq!(
        d.bytes(small.segs[0].0 + NET_HDR_LEN as u64, 60),
        frame(60, 2)
    );
    assert_eq!(d.dev.device().stats().rx_dropped, 1);
}

#[test]
fn malformed_chains_are_dropped_and_the_device_keeps_running() {
    let (mut d, link) = nic();
    // Transmit chain with a device-writable buffer.
    let w = d.post(
        TX_QUEUE,
        &[Buf::Read(vec![0; NET_HDR_LEN]), Buf::Write(64)],
        false,
    );
    // Transmit chain whose `next` loops back to itself.
    let looped = tx(&mut d, &frame(64, 0));
    let (desc, idx) = {
        let q = &d.queues[usize::from(TX_QUEUE)];
        (q.desc, q.chains[&looped.head][1])
    };
    let (a, l, _) = looped.segs[1];
    d.write_desc(desc, idx, Descriptor::new(a, l, VIRTQ_DESC_F_NEXT, idx));
    // Transmit chain with a buffer past the end of guest RAM.
    let past = tx(&mut d, &frame(64, 0));
    let idx = d.queues[usize::from(TX_QUEUE)].chains[&past.head][1];
    d.write_desc(
        desc,
        idx,
        Descriptor::new(RAM_BASE + RAM_SIZE - 8, 64, 0, 0),
    );
    let good = frame(64, 9);
    tx(&mut d, &good);
    d.notify(TX_QUEUE);
    assert_eq!(link.borrow().sent, vec![good], "the valid frame still goes");
    let used = d.take_used(TX_QUEUE);
    assert_eq!(used.len(), 4, "every chain comes back");
    assert!(used.contains(&(u32::from(w.head), 0)));
    assert!(used.contains(&(u32::from(looped.head), 0)));
    // Receive chains: a device-readable one, and one shorter than a header.
    d.post(RX_QUEUE, &[Buf::Read(vec![0; 64])], false);
    rx_buf(&mut d, 4);
    let ok = rx_buf(&mut d, RX_BUF);
    d.notify(RX_QUEUE);
    link.borrow_mut().inbox.push_back(frame(70, 5));
    d.notified();
    let used = d.take_used(RX_QUEUE);
    assert_eq!(used.len(), 3);
    assert!(used.contains(&(u32::from(ok.head), (NET_HDR_LEN + 70) as u32)));
    let s = d.dev.device().stats();
    assert_eq!((s.tx_malformed, s.rx_malformed), (3, 2));
    assert!(!d.dev.needs_reset());
    assert_eq!(d.dev.stats().needs_reset, 0);
}

#[test]
fn a_busy_backend_keeps_the_order_of_transmissions() {
    let (mut d, link) = nic();
    link.borrow_mut().tx_room = 1;
    let frames: Vec<Vec<u8>> = (0..3).map(|i| frame(64, i)).collect();
    let posted: Vec<Posted> = frames.iter().map(|f| tx(&mut d, f)).collect();
    d.notify(TX_QUEUE);
    assert_eq!(d.take_used(TX_QUEUE), vec![(u32::from(posted[0].head), 0)]);
    assert_eq!(d.dev.device().stats().tx_busy, 1);
    // The "NIC" sent it; its interrupt lets the rest go, in order.
    link.borrow_mut().tx_room = 0;
    d.notified();
    assert_eq!(link.borrow().sent, frames);
    assert_eq!(d.take_used(TX_QUEUE).len(), 2);
    link.borrow_mut().tx_fail = true;
    tx(&mut d, &frame(64, 7));
    d.notify(TX_QUEUE);
    assert_eq!(d.dev.device().stats().tx_errors, 1);
    assert_eq!(d.take_used(TX_QUEUE).len(), 1);
}

#[test]
fn a_transmit_notification_is_asked_for_only_when_the_ring_drained() {
    let (mut d, link) = nic();
    tx(&mut d, &frame(64, 0));
    assert!(d.kick(TX_QUEUE));
    // The device drained the ring and asked for the next kick...
    tx(&mut d, &frame(64, 1));
    assert!(d.kick(TX_QUEUE));
    // ...but a driver that posts two before kicking costs one exit.
    tx(&mut d, &frame(64, 2));
    tx(&mut d, &frame(64, 3));
    assert!(d.kick(TX_QUEUE));
    assert_eq!(link.borrow().sent.len(), 4);
    // With EVENT_IDX, transmit completions raise no interrupt unless the
    // driver asks (Linux frees them lazily).
    d.set_used_event(TX_QUEUE, 100);
    let before = d.dev.stats().used_interrupts;
    tx(&mut d, &frame(64, 4));
    d.kick(TX_QUEUE);
    assert_eq!(d.dev.stats().used_interrupts, before);
}

#[test]
fn reset_drops_held_frames_and_frames_without_a_driver_are_dropped() {
    let (mut d, link) = nic();
    link.borrow_mut().inbox.extend((0..2).map(|i| frame(64, i)));
    d.notified();
    assert_eq!(link.borrow().inbox.len(), 2);
    let resets = link.borrow().resets;
    d.write(regs::STATUS, 0);
    assert_eq!(link.borrow().resets, resets + 1);
    assert_eq!(d.dev.device().stats().rx_dropped, 2);
    // No driver: frames are dropped, not held.
    link.borrow_mut().inbox.push_back(frame(64, 9));
    d.notified();
    assert!(link.borrow().inbox.is_empty());
    assert_eq!(d.dev.device().stats().rx_dropped, 3);
    // A new driver works from a clean state.
    d.init(ALL, 2, 64);
    rx_buf(&mut d, RX_BUF);
    d.notify(RX_QUEUE);
    link.borrow_mut().inbox.push_back(frame(64, 10));
    d.notified();
    assert_eq!(d.take_used(RX_QUEUE).len(), 1);
}

#[test]
fn refilling_a_receive_ring_that_is_not_empty_costs_no_notification() {
    let (mut d, link) = nic();
    for _ in 0..4 {
        rx_buf(&mut d, RX_BUF);
    }
    d.notify(RX_QUEUE);
    link.borrow_mut().inbox.extend((0..2).map(|i| frame(64, i)));
    d.notified();
    assert_eq!(d.take_used(RX_QUEUE).len(), 2);
    // Linux refills after each batch: no exit while buffers remain.
    rx_buf(&mut d, RX_BUF);
    rx_buf(&mut d, RX_BUF);
    assert!(
        !d.kick(RX_QUEUE),
        "a refill of a non-empty ring needs no kick"
    );
    // Five frames for four buffers: the ring runs dry, one frame waits,
    // and now the device asks to hear about the next buffer.
    link.borrow_mut().inbox.extend((2..7).map(|i| frame(64, i)));
    d.notified();
    assert_eq!(d.take_used(RX_QUEUE).len(), 4);
    assert_eq!(link.borrow().inbox.len(), 1);
    rx_buf(&mut d, RX_BUF);
    assert!(d.kick(RX_QUEUE));
    assert_eq!(d.take_used(RX_QUEUE).len(), 1);
    assert!(link.borrow().inbox.is_empty());
}
