//! Malformed queues: each one sets DEVICE_NEEDS_RESET, raises a
//! configuration-change interrupt, stops the device's queues until the
//! driver resets it, and after a reset and re-initialisation the device
//! works again. Nothing panics; nothing outside guest RAM is touched
//! (VecGuestMemory cannot reach it, and the checks refuse it first).

mod common;

use common::*;
use sel4vm_devices::console::Console;
use sel4vm_devices::virtio::mmio::regs;
use sel4vm_devices::virtio::queue::{
    Descriptor, VIRTQ_DESC_F_INDIRECT as IND, VIRTQ_DESC_F_NEXT as NEXT,
    VIRTQ_DESC_F_WRITE as WRITE,
};
use sel4vm_devices::virtio::{interrupt, status, VirtioMmio};
use zerocopy::little_endian::U16;

const ALL: u64 = F_VERSION_1 | F_INDIRECT | F_EVENT_IDX;
const TX: u16 = 1;
const RX: u16 = 0;
const SIZE: u16 = 8;
/// A valid buffer address.
const BUF: u64 = BUF_START + 0x8000;
/// Just past guest RAM: memory the kernel (or nobody) owns.
const PAST_RAM: u64 = RAM_BASE + RAM_SIZE;

type Con = Driver<Console<SharedPipe>>;

fn console() -> (Con, SharedPipe) {
    let p = pipe();
    let mut d = Driver::new(Console::new(p.clone()));
    d.init(ALL, 2, SIZE);
    (d, p)
}

/// Writes raw descriptors into queue `q`'s table and makes `head` available.
fn raw(d: &mut Con, q: u16, descs: &[(u16, Descriptor)], head: u16) {
    let table = d.queues[usize::from(q)].desc;
    for &(i, desc) in descs {
        d.write_desc(table, i, desc);
    }
    d.push_avail(q, head);
}

fn desc(addr: u64, len: u32, flags: u16, next: u16) -> Descriptor {
    Descriptor::new(addr, len, flags, next)
}

/// The common aftermath of every malformed case.
fn assert_broken_then_recovers(d: Con, p: SharedPipe, q: u16) {
    assert_broken_then_recovers_rx(d, p, q, b"in")
}

/// ... where `rx` is what the first receive buffer gets after recovery
/// (the input typed while the device was broken, plus anything pending).
fn assert_broken_then_recovers_rx(mut d: Con, p: SharedPipe, q: u16, rx: &[u8]) {
    let out_before = p.borrow().out.clone();
    let s = d.status();
    assert_ne!(s & status::DEVICE_NEEDS_RESET, 0, "NEEDS_RESET set");
    assert_ne!(d.read(regs::INTERRUPT_STATUS) & interrupt::CONFIG_CHANGE, 0);
    assert!(d.line(), "configuration-change interrupt raised");
    assert!(d.dev.needs_reset());
    assert_eq!(d.dev.stats().needs_reset, 1);
    let used = d.used_idx(q);

    // The driver cannot clear the bit by writing status.
    d.write(regs::STATUS, s & !status::DEVICE_NEEDS_RESET);
    assert_ne!(d.status() & status::DEVICE_NEEDS_RESET, 0);

    // Later valid traffic is ignored until the reset.
    let tx_used = d.used_idx(TX);
    d.post(TX, &[Buf::Read(b"ignored".to_vec())], false);
    d.notify(TX);
    p.borrow_mut().input.extend(b"in");
    d.notified();
    assert_eq!(p.borrow().out, out_before);
    assert_eq!(d.used_idx(TX), tx_used);
    assert_eq!(d.used_idx(q), used);
    assert_eq!(d.dev.stats().needs_reset, 1, "reported once");

    // Reset and re-initialise: everything works again, and the input that
    // arrived meanwhile is still delivered.
    d.init(ALL, 2, SIZE);
    assert_eq!(d.status() & status::DEVICE_NEEDS_RESET, 0);
    assert_eq!(d.read(regs::INTERRUPT_STATUS), 0);
    assert!(!d.line());
    d.post(TX, &[Buf::Read(b"ok".to_vec())], true);
    d.notify(TX);
    assert!(p.borrow().out.ends_with(b"ok"));
    assert_eq!(d.take_used(TX).len(), 1);
    let buf = d.post(RX, &[Buf::Write(4)], false);
    d.notify(RX);
    assert_eq!(
        d.take_used(RX),
        vec![(u32::from(buf.head), rx.len() as u32)]
    );
    assert_eq!(d.bytes(buf.segs[0].0, rx.len() as u32), rx);
    assert!(!d.dev.needs_reset());
}

/// Posts `descs` with `head` on queue `q`, notifies, checks the aftermath.
fn malformed(q: u16, descs: &[(u16, Descriptor)], head: u16) {
    let (mut d, p) = console();
    raw(&mut d, q, descs, head);
    d.notify(q);
    // A chain is validated whole before the device sees any of it.
    assert!(
        p.borrow().out.is_empty(),
        "malformed chain reached the backend"
    );
    assert_broken_then_recovers(d, p, q);
}

#[test]
fn descriptor_loop() {
    malformed(
        TX,
        &[(0, desc(BUF, 4, NEXT, 1)), (1, desc(BUF, 4, NEXT, 0))],
        0,
    );
}

#[test]
fn descriptor_pointing_at_itself() {
    malformed(TX, &[(3, desc(BUF, 4, NEXT, 3))], 3);
}

#[test]
fn more_descriptors_than_the_queue_size() {
    // Every entry of the table chained, the last back to the first.
    let descs: Vec<_> = (0..SIZE)
        .map(|i| (i, desc(BUF, 1, NEXT, (i + 1) % SIZE)))
        .collect();
    malformed(TX, &descs, 0);
}

#[test]
fn address_outside_ram() {
    malformed(TX, &[(0, desc(0x1000, 4, 0, 0))], 0);
}

#[test]
fn address_just_past_ram() {
    malformed(TX, &[(0, desc(PAST_RAM, 4, 0, 0))], 0);
}

#[test]
fn buffer_straddling_the_end_of_ram() {
    malformed(TX, &[(0, desc(PAST_RAM - 4, 8, 0, 0))], 0);
}

#[test]
fn buffer_wrapping_the_address_space() {
    malformed(TX, &[(0, desc(u64::MAX - 1, 16, 0, 0))], 0);
}

#[test]
fn second_buffer_outside_ram() {
    malformed(
        TX,
        &[(0, desc(BUF, 4, NEXT, 1)), (1, desc(PAST_RAM, 1, 0, 0))],
        0,
    );
}

#[test]
fn zero_length() {
    malformed(TX, &[(0, desc(BUF, 0, 0, 0))], 0);
}

#[test]
fn writable_buffer_on_the_transmit_queue() {
    malformed(TX, &[(0, desc(BUF, 4, WRITE, 0))], 0);
}

#[test]
fn readable_buffer_on_the_receive_queue() {
    let (mut d, p) = console();
    raw(&mut d, RX, &[(0, desc(BUF, 4, 0, 0))], 0);
    // Receive buffers are looked at when input arrives.
    p.borrow_mut().input.extend(b"x");
    d.notified();
    // The "x" that found no valid buffer is kept, not lost.
    assert_broken_then_recovers_rx(d, p, RX, b"xin");
}

#[test]
fn readable_after_writable() {
    let mut d = Driver::new(Recorder::new(8));
    d.init(ALL, 1, 8);
    let t = d.queues[0].desc;
    d.write_desc(t, 0, desc(BUF, 4, WRITE | NEXT, 1));
    d.write_desc(t, 1, desc(BUF, 4, 0, 0));
    d.push_avail(0, 0);
    d.notify(0);
    assert!(d.dev.needs_reset());
    assert!(d.dev.device().seen.is_empty());
    assert_eq!(d.used_idx(0), 0);
}

#[test]
fn head_index_out_of_range() {
    malformed(TX, &[], SIZE);
}

#[test]
fn next_index_out_of_range() {
    malformed(TX, &[(0, desc(BUF, 4, NEXT, SIZE))], 0);
}

#[test]
fn avail_index_jumps_too_far() {
    let (mut d, p) = console();
    d.write_desc(d.queues[1].desc, 0, desc(BUF, 4, 0, 0));
    let avail = d.queues[1].avail;
    use sel4vm::{GuestAddress, GuestBytesExt};
    d.mem
        .write_obj(GuestAddress(avail + 2), &U16::new(SIZE + 1))
        .unwrap();
    d.queues[1].avail_idx = SIZE + 1;
    d.notify(TX);
    assert_broken_then_recovers(d, p, TX);
}

// Indirect tables.

fn indirect(table: u64, len: u32) -> Descriptor {
    desc(table, len, IND, 0)
}

const TABLE: u64 = BUF_START + 0x4000;

fn with_table(entries: &[(u16, Descriptor)], head_desc: Descriptor) {
    let (mut d, p) = console();
    for &(i, e) in entries {
        d.write_desc(TABLE, i, e);
    }
    raw(&mut d, TX, &[(0, head_desc)], 0);
    d.notify(TX);
    assert!(
        p.borrow().out.is_empty(),
        "malformed chain reached the backend"
    );
    assert_broken_then_recovers(d, p, TX);
}

#[test]
fn indirect_table_length_not_a_multiple_of_16() {
    with_table(&[(0, desc(BUF, 4, 0, 0))], indirect(TABLE, 24));
}

#[test]
fn indirect_table_of_length_zero() {
    with_table(&[], indirect(TABLE, 0));
}

#[test]
fn indirect_table_larger_than_the_queue() {
    // A well-formed chain of SIZE + 1 entries: only the size is wrong.
    let e: Vec<_> = (0..=SIZE)
        .map(|i| (i, desc(BUF, 1, if i < SIZE { NEXT } else { 0 }, i + 1)))
        .collect();
    with_table(&e, indirect(TABLE, 16 * (u32::from(SIZE) + 1)));
}

#[test]
fn indirect_table_outside_ram() {
    with_table(&[], indirect(PAST_RAM - 16, 32));
}

#[test]
fn nested_indirect() {
    with_table(&[(0, indirect(TABLE + 0x100, 16))], indirect(TABLE, 16));
}

#[test]
fn indirect_with_next() {
    with_table(&[(0, desc(BUF, 4, 0, 0))], desc(TABLE, 16, IND | NEXT, 1));
}

#[test]
fn loop_inside_indirect_table() {
    with_table(
        &[(0, desc(BUF, 4, NEXT, 1)), (1, desc(BUF, 4, NEXT, 0))],
        indirect(TABLE, 32),
    );
}

#[test]
fn next_past_the_indirect_table() {
    // NEXT inside the table is respected, and bounded by the table's size
    // (index 2 would be a valid ring index, but the table has 2 entries).
    with_table(
        &[(0, desc(BUF, 4, NEXT, 2)), (2, desc(BUF, 4, 0, 0))],
        indirect(TABLE, 32),
    );
}

#[test]
fn bad_buffer_inside_indirect_table() {
    with_table(
        &[(0, desc(BUF, 4, NEXT, 1)), (1, desc(PAST_RAM, 4, 0, 0))],
        indirect(TABLE, 32),
    );
}

#[test]
fn indirect_without_negotiating_it() {
    let p = pipe();
    let mut d = Driver::new(Console::new(p.clone()));
    d.init(F_VERSION_1, 2, SIZE);
    d.write_desc(TABLE, 0, desc(BUF, 4, 0, 0));
    raw(&mut d, TX, &[(0, indirect(TABLE, 16))], 0);
    d.notify(TX);
    assert!(d.dev.needs_reset());
    assert!(p.borrow().out.is_empty());
}

// Ring configuration at QueueReady.

fn bad_queue_setup(size: u32, desc: u64, avail: u64, used: u64) {
    let p = pipe();
    let mut d = Driver::new(Console::new(p.clone()));
    assert!(d.negotiate(ALL));
    d.write(regs::QUEUE_SEL, 1);
    d.write(regs::QUEUE_NUM, size);
    d.write(regs::QUEUE_DESC_LOW, desc as u32);
    d.write(regs::QUEUE_DESC_HIGH, (desc >> 32) as u32);
    d.write(regs::QUEUE_DRIVER_LOW, avail as u32);
    d.write(regs::QUEUE_DRIVER_HIGH, (avail >> 32) as u32);
    d.write(regs::QUEUE_DEVICE_LOW, used as u32);
    d.write(regs::QUEUE_DEVICE_HIGH, (used >> 32) as u32);
    d.write(regs::QUEUE_READY, 1);
    assert_eq!(d.read(regs::QUEUE_READY), 0);
    assert!(d.dev.needs_reset());
    assert_ne!(d.status() & status::DEVICE_NEEDS_RESET, 0);
    assert!(d.line());
    // And the device comes back after a reset.
    d.init(ALL, 2, SIZE);
    d.post(TX, &[Buf::Read(b"back".to_vec())], false);
    d.notify(TX);
    assert_eq!(p.borrow().out, b"back");
}

const R: u64 = RAM_BASE;

#[test]
fn queue_size_not_a_power_of_two() {
    bad_queue_setup(6, R, R + 0x1000, R + 0x2000);
}

#[test]
fn queue_size_zero() {
    bad_queue_setup(0, R, R + 0x1000, R + 0x2000);
}

#[test]
fn queue_size_above_max() {
    bad_queue_setup(128, R, R + 0x1000, R + 0x2000);
}

#[test]
fn queue_size_above_16_bits() {
    bad_queue_setup(0x1_0008, R, R + 0x1000, R + 0x2000);
}

#[test]
fn descriptor_table_misaligned() {
    bad_queue_setup(8, R + 8, R + 0x1000, R + 0x2000);
}

#[test]
fn used_ring_misaligned() {
    bad_queue_setup(8, R, R + 0x1000, R + 0x2002);
}

#[test]
fn avail_ring_misaligned() {
    bad_queue_setup(8, R, R + 0x1001, R + 0x2000);
}

#[test]
fn used_ring_past_ram() {
    bad_queue_setup(8, R, R + 0x1000, PAST_RAM - 16);
}

#[test]
fn descriptor_table_in_high_memory() {
    bad_queue_setup(8, 0x1_0000_0000 + R, R + 0x1000, R + 0x2000);
}

/// One device broken does not affect another sharing the same guest RAM.
#[test]
fn other_devices_unaffected() {
    let (mut a, pa) = console();
    raw(&mut a, TX, &[(0, desc(PAST_RAM, 4, 0, 0))], 0);
    a.notify(TX);
    assert!(a.dev.needs_reset());

    // Second device on the same memory, rings elsewhere.
    let pb = pipe();
    let mut b = Driver::new(Console::new(pb.clone()));
    std::mem::swap(&mut b.mem, &mut a.mem);
    b.init(ALL, 2, SIZE);
    b.post(TX, &[Buf::Read(b"fine".to_vec())], false);
    b.notify(TX);
    assert_eq!(pb.borrow().out, b"fine");
    assert!(!b.dev.needs_reset());
    assert!(pa.borrow().out.is_empty());
    let _: &VirtioMmio<_> = &a.dev;
}
