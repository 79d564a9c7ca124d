//! virtio-mmio register semantics (virtio 1.2 §4.2.2, §2.1, §3.1).

mod common;

use common::*;
use sel4vm::MmioDevice;
use sel4vm_devices::console::Console;
use sel4vm_devices::virtio::mmio::{regs, MAGIC_VALUE, VENDOR_ID};
use sel4vm_devices::virtio::{interrupt, status};

fn console() -> (Driver<Console<SharedPipe>>, SharedPipe) {
    let p = pipe();
    (Driver::new(Console::new(p.clone())), p)
}

const ALL: u64 = F_VERSION_1 | F_INDIRECT | F_EVENT_IDX;

#[test]
fn identification_registers() {
    let (mut d, _) = console();
    assert_eq!(d.read(regs::MAGIC_VALUE), 0x7472_6976);
    assert_eq!(MAGIC_VALUE, 0x7472_6976);
    assert_eq!(d.read(regs::VERSION), 2);
    assert_eq!(d.read(regs::DEVICE_ID), 3);
    assert_eq!(d.read(regs::VENDOR_ID), VENDOR_ID);
    assert_eq!(d.dev.name(), "virtio-console");
}

#[test]
fn device_features_by_select() {
    let (mut d, _) = console();
    d.write(regs::DEVICE_FEATURES_SEL, 0);
    let lo = d.read(regs::DEVICE_FEATURES);
    d.write(regs::DEVICE_FEATURES_SEL, 1);
    let hi = d.read(regs::DEVICE_FEATURES);
    d.write(regs::DEVICE_FEATURES_SEL, 2);
    assert_eq!(d.read(regs::DEVICE_FEATURES), 0);
    assert_eq!(
        lo,
        1 << 28 | 1 << 29,
        "INDIRECT_DESC and EVENT_IDX, no console features"
    );
    assert_eq!(hi, 1, "VERSION_1");
}

#[test]
fn features_negotiated() {
    let (mut d, _) = console();
    assert!(d.negotiate(ALL));
    assert_eq!(d.dev.driver_features(), ALL);
    // Features are frozen after FEATURES_OK.
    d.write(regs::DRIVER_FEATURES_SEL, 0);
    d.write(regs::DRIVER_FEATURES, 0);
    assert_eq!(d.dev.driver_features(), ALL);
}

#[test]
fn driver_without_version_1_fails_features_ok() {
    let (mut d, _) = console();
    assert!(!d.negotiate(F_INDIRECT | F_EVENT_IDX));
    let s = d.status();
    assert_eq!(s & status::FEATURES_OK, 0);
    assert_eq!(s, status::ACKNOWLEDGE | status::DRIVER);
    // Nor can it go on: queues cannot be made ready, DRIVER_OK is refused.
    d.write(regs::QUEUE_SEL, 0);
    d.write(regs::QUEUE_READY, 1);
    assert_eq!(d.read(regs::QUEUE_READY), 0);
    d.write(regs::STATUS, s | status::DRIVER_OK);
    assert_eq!(d.status() & status::DRIVER_OK, 0);
}

#[test]
fn driver_accepting_unoffered_bits_fails_features_ok() {
    let (mut d, _) = console();
    d.write(regs::STATUS, status::ACKNOWLEDGE | status::DRIVER);
    // VIRTIO_CONSOLE_F_MULTIPORT (bit 1) is not offered.
    d.write_driver_features(F_VERSION_1 | 1 << 1);
    d.write(
        regs::STATUS,
        status::ACKNOWLEDGE | status::DRIVER | status::FEATURES_OK,
    );
    assert_eq!(d.status() & status::FEATURES_OK, 0);
}

#[test]
fn driver_may_not_clear_status_bits() {
    let (mut d, _) = console();
    assert!(d.negotiate(ALL));
    d.write(regs::STATUS, status::ACKNOWLEDGE);
    assert_eq!(
        d.status(),
        status::ACKNOWLEDGE | status::DRIVER | status::FEATURES_OK
    );
}

#[test]
fn queue_registers() {
    let (mut d, _) = console();
    for q in 0..2 {
        d.write(regs::QUEUE_SEL, q);
        assert_eq!(d.read(regs::QUEUE_NUM_MAX), 64);
        assert_eq!(d.read(regs::QUEUE_READY), 0);
    }
    d.write(regs::QUEUE_SEL, 2);
    assert_eq!(d.read(regs::QUEUE_NUM_MAX), 0, "no third queue");
    d.write(regs::QUEUE_READY, 1);
    assert_eq!(d.read(regs::QUEUE_READY), 0);

    d.init(ALL, 2, 16);
    d.write(regs::QUEUE_SEL, 1);
    assert_eq!(d.read(regs::QUEUE_READY), 1);
    assert_eq!(d.read(regs::QUEUE_NUM), 16);
    assert_eq!(d.read(regs::QUEUE_DESC_LOW), (RAM_BASE + QUEUE_AREA) as u32);
    assert_eq!(
        d.read(regs::QUEUE_DRIVER_LOW),
        (RAM_BASE + QUEUE_AREA + 0x1000) as u32
    );
    assert_eq!(
        d.read(regs::QUEUE_DEVICE_LOW),
        (RAM_BASE + QUEUE_AREA + 0x2000) as u32
    );
    // Changes to a ready queue are ignored.
    d.write(regs::QUEUE_NUM, 8);
    d.write(regs::QUEUE_DESC_LOW, 0);
    assert_eq!(d.read(regs::QUEUE_NUM), 16);
    assert_eq!(d.read(regs::QUEUE_DESC_LOW), (RAM_BASE + QUEUE_AREA) as u32);
    // QueueReady = 0 takes it down (Linux's del_vq reads it back).
    d.write(regs::QUEUE_READY, 0);
    assert_eq!(d.read(regs::QUEUE_READY), 0);
}

#[test]
fn reset_drops_queue_state_and_interrupts() {
    let (mut d, p) = console();
    d.init(ALL, 2, 16);
    d.post(1, &[Buf::Read(b"hi".to_vec())], false);
    d.notify(1);
    assert!(d.line());
    assert_eq!(d.read(regs::INTERRUPT_STATUS), interrupt::USED_BUFFER);

    d.write(regs::STATUS, 0);
    assert_eq!(d.status(), 0);
    assert_eq!(d.read(regs::INTERRUPT_STATUS), 0);
    assert!(!d.line(), "reset lowers the line");
    for q in 0..2 {
        d.write(regs::QUEUE_SEL, q);
        assert_eq!(d.read(regs::QUEUE_READY), 0);
        assert_eq!(d.read(regs::QUEUE_NUM), 64);
        assert_eq!(d.read(regs::QUEUE_DESC_LOW), 0);
    }
    assert_eq!(d.dev.driver_features(), 0);
    // A notify now does nothing.
    d.write(regs::QUEUE_NOTIFY, 1);
    assert_eq!(p.borrow().out, b"hi");
    assert_eq!(d.dev.queue(1).unwrap().next_avail(), 0);
}

#[test]
fn interrupt_status_ack_and_line() {
    let (mut d, _) = console();
    d.init(ALL, 2, 16);
    assert!(d.irqs.iter().all(|l| !l), "no interrupt during init");
    let before = d.irqs.len();

    d.post(1, &[Buf::Read(b"a".to_vec())], false);
    d.notify(1);
    assert_eq!(d.irqs[before..], [true]);
    assert_eq!(d.read(regs::INTERRUPT_STATUS), 1);

    // A second used buffer while the first is unacknowledged: the line is
    // already high, nothing new is sent.
    d.take_used(1);
    d.post(1, &[Buf::Read(b"b".to_vec())], false);
    d.notify(1);
    assert_eq!(d.irqs[before..], [true]);

    // Acknowledging another bit changes nothing; the right one lowers it.
    d.write(regs::INTERRUPT_ACK, interrupt::CONFIG_CHANGE);
    assert!(d.line());
    d.write(regs::INTERRUPT_ACK, interrupt::USED_BUFFER);
    assert_eq!(d.irqs[before..], [true, false]);
    assert_eq!(d.read(regs::INTERRUPT_STATUS), 0);

    let s = d.dev.stats();
    assert_eq!(s.irq_raised, 1);
    assert_eq!(s.used_interrupts, 2);
    assert_eq!(s.queue_notifications, 2);
    assert_eq!(s.chains, 2);
}

#[test]
fn no_interrupt_flag_respected_without_event_idx() {
    let (mut d, p) = console();
    d.init(F_VERSION_1, 2, 16);
    d.set_avail_flags(1, 1);
    d.post(1, &[Buf::Read(b"quiet".to_vec())], false);
    d.notify(1);
    assert_eq!(p.borrow().out, b"quiet");
    assert_eq!(d.take_used(1).len(), 1);
    assert!(!d.line());
    assert_eq!(d.read(regs::INTERRUPT_STATUS), 0);
}

#[test]
fn notifications_before_driver_ok_wait_for_it() {
    let (mut d, p) = console();
    assert!(d.negotiate(ALL));
    d.setup_queue(0, 16);
    d.setup_queue(1, 16);
    d.post(1, &[Buf::Read(b"early".to_vec())], false);
    d.notify(1);
    assert!(p.borrow().out.is_empty(), "no buffer used before DRIVER_OK");
    d.driver_ok();
    assert_eq!(p.borrow().out, b"early");
    assert!(d.line());
}

#[test]
fn wrong_size_and_unaligned_accesses() {
    let (mut d, _) = console();
    assert_eq!(d.read_sized(regs::MAGIC_VALUE, 2), 0);
    assert_eq!(d.read_sized(regs::MAGIC_VALUE, 1), 0);
    assert_eq!(d.read_sized(regs::MAGIC_VALUE, 8), 0);
    assert_eq!(d.read_sized(regs::VERSION + 2, 4), 0);
    assert_eq!(d.read(0x0f8), 0, "no register there");
    d.write_sized(regs::STATUS, 1, u64::from(status::ACKNOWLEDGE));
    d.write_sized(regs::STATUS + 1, 4, u64::from(status::ACKNOWLEDGE));
    assert_eq!(d.status(), 0);
    assert_eq!(d.dev.stats().bad_accesses, 7);
}

#[test]
fn config_space_and_generation() {
    let (mut d, _) = console();
    assert_eq!(d.read(regs::CONFIG_GENERATION), 0);
    assert_eq!(d.read_sized(regs::CONFIG, 2), 0, "cols");
    assert_eq!(d.read_sized(regs::CONFIG + 2, 2), 0, "rows");
    assert_eq!(d.read(regs::CONFIG + 4), 1, "max_nr_ports");
    assert_eq!(d.read_sized(regs::CONFIG + 4, 1), 1);
    assert_eq!(d.read(regs::CONFIG + 0x40), 0, "past the config space");
    assert_eq!(d.read_sized(regs::CONFIG + 5, 4), 0, "misaligned");
    d.write(regs::CONFIG + 8, u32::from(b'x'));
    assert_eq!(d.read(regs::CONFIG + 4), 1);
}

#[test]
fn no_shared_memory_regions() {
    let (mut d, _) = console();
    d.write(regs::SHM_SEL, 0);
    assert_eq!(d.read(regs::SHM_LEN_LOW), u32::MAX);
    assert_eq!(d.read(regs::SHM_LEN_HIGH), u32::MAX);
}

#[test]
fn vm_reset_resends_the_line_level() {
    let (mut d, _) = console();
    d.init(ALL, 2, 16);
    d.post(1, &[Buf::Read(b"x".to_vec())], false);
    d.notify(1);
    assert!(d.line());
    // guest_restart: the device is reset without an io; whatever the VM did
    // with the line, the next update states the level explicitly.
    d.vm_reset();
    assert_eq!(d.dev.status(), 0);
    let n = d.irqs.len();
    d.write(regs::STATUS, 0);
    assert_eq!(d.irqs[n..], [false]);
}
