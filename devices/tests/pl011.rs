//! The transmit-only PL011 for earlycon.

mod common;

use common::{pipe, RAM_BASE};
use sel4vm::{DeviceEffect, DeviceIo, GuestAddress, MmioDevice, VecGuestMemory};
use sel4vm_devices::pl011::{Pl011, UARTDR, UARTFR};

fn access<R>(
    u: &mut Pl011<common::SharedPipe>,
    f: impl FnOnce(&mut Pl011<common::SharedPipe>, &mut DeviceIo<'_>) -> R,
) -> R {
    let mut mem = VecGuestMemory::new(GuestAddress(RAM_BASE), 0x1000);
    let mut effects: Vec<DeviceEffect> = Vec::new();
    let r = f(u, &mut DeviceIo::new(&mut mem, &mut effects));
    assert!(effects.is_empty(), "the PL011 has no interrupt");
    r
}

#[test]
fn data_register_writes_reach_the_backend() {
    let p = pipe();
    let mut u = Pl011::new(p.clone());
    for (i, b) in b"Booting Linux".iter().enumerate() {
        // earlycon uses byte or word stores; only the low byte counts.
        let size = if i.is_multiple_of(2) { 1 } else { 4 };
        access(&mut u, |u, io| {
            u.write(UARTDR, size, u64::from(*b) | 0x100, io)
        });
    }
    assert_eq!(p.borrow().out, b"Booting Linux");
    assert_eq!(u.stats().tx_bytes, 13);
    assert_eq!(u.name(), "pl011");
}

#[test]
fn flag_register_is_never_busy() {
    let mut u = Pl011::new(pipe());
    assert_eq!(access(&mut u, |u, io| u.read(UARTFR, 4, io)), 0x90);
    assert_eq!(access(&mut u, |u, io| u.read(UARTFR, 2, io)), 0x90);
    let fr = access(&mut u, |u, io| u.read(UARTFR, 4, io));
    assert_eq!(fr & (1 << 3 | 1 << 5), 0, "neither BUSY nor TXFF");
}

#[test]
fn identification_registers_read_as_a_pl011() {
    let mut u = Pl011::new(pipe());
    let ids: Vec<u64> = (0..8)
        .map(|i| access(&mut u, |u, io| u.read(0xfe0 + 4 * i, 4, io)))
        .collect();
    assert_eq!(ids, [0x11, 0x10, 0x14, 0x00, 0x0d, 0xf0, 0x05, 0xb1]);
}

#[test]
fn everything_else_reads_zero_and_ignores_writes() {
    let p = pipe();
    let mut u = Pl011::new(p.clone());
    for off in [
        0x000, 0x004, 0x024, 0x028, 0x02c, 0x030, 0x038, 0x040, 0x048, 0xfe2, 0xffd, 0xf00,
    ] {
        assert_eq!(
            access(&mut u, |u, io| u.read(off, 4, io)),
            0,
            "read {off:#x}"
        );
        access(&mut u, |u, io| u.write(off + 0x100, 4, 0xffff_ffff, io));
    }
    access(&mut u, |u, io| u.write(UARTFR, 4, 0, io));
    assert_eq!(access(&mut u, |u, io| u.read(UARTFR, 4, io)), 0x90);
    assert!(p.borrow().out.is_empty());
    assert_eq!(u.stats().tx_bytes, 0);
}

/// The page the VM maps read-only holds, at every offset and width, what a
/// trapped read returns: mapping it changes nothing the guest can see.
#[test]
fn the_read_image_answers_every_read_like_the_model() {
    let mut u = Pl011::new(pipe());
    let mut page = vec![0xa5u8; 0x1000];
    assert_eq!(u.read_image(&mut page), 0x1000);
    for off in (0..0x1000u64).step_by(4) {
        for size in [1u8, 2, 4] {
            let o = off as usize;
            let mut b = [0u8; 8];
            b[..usize::from(size)].copy_from_slice(&page[o..o + usize::from(size)]);
            let from_page = u64::from_le_bytes(b);
            let trapped = access(&mut u, |u, io| u.read(off, size, io));
            assert_eq!(from_page, trapped, "{size}-byte read at {off:#x}");
        }
    }
}
