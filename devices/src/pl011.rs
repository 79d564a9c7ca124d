//! A transmit-only emulated Arm PL011 UART, for the guest's
//! `earlycon=pl011,<base>` output before its virtio drivers load.
//!
//! libvmm and libsel4vm have no PL011 model (libvmm passes the real UART
//! through or uses virtio-console); this is the minimum Linux's `earlycon`
//! and `amba` probing need: data register writes, a flag register that is
//! never busy, and the PrimeCell identification registers.

use sel4vm::{DeviceIo, MmioDevice};

use crate::console::ConsoleBackend;

/// Data register (`UARTDR`).
pub const UARTDR: u64 = 0x000;
/// Flag register (`UARTFR`).
pub const UARTFR: u64 = 0x018;
/// `UARTFR.RXFE`: receive FIFO empty.
pub const FR_RXFE: u32 = 1 << 4;
/// `UARTFR.TXFE`: transmit FIFO empty.
pub const FR_TXFE: u32 = 1 << 7;
/// Size of the register window (one 4 KiB page).
pub const PL011_SIZE: u64 = 0x1000;

/// `UARTPeriphID0..3` then `UARTPCellID0..3` at 0xfe0..=0xffc, the values
/// QEMU's `pl011` model reports (part 0x011, designer Arm, PrimeCell).
const ID_REGS: [u32; 8] = [0x11, 0x10, 0x14, 0x00, 0x0d, 0xf0, 0x05, 0xb1];

/// Counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pl011Stats {
    /// Bytes written to `UARTDR` (and passed to the backend).
    pub tx_bytes: u64,
    /// Accesses to other registers (ignored or read as 0). Reads count
    /// only while they trap: the VM maps [`MmioDevice::read_image`]'s
    /// page when it can, and then only writes reach the model.
    pub other_accesses: u64,
}

/// The emulated PL011; register it with `Vm::register_mmio_device` at the
/// address named by `earlycon` (no interrupt).
pub struct Pl011<B: ConsoleBackend> {
    backend: B,
    stats: Pl011Stats,
}

impl<B: ConsoleBackend> Pl011<B> {
    /// A PL011 whose output goes to `backend`.
    pub fn new(backend: B) -> Self {
        Self {
            backend,
            stats: Pl011Stats::default(),
        }
    }

    /// The backend.
    pub fn backend(&self) -> &B {
        &self.backend
    }

    /// The backend, mutably.
    pub fn backend_mut(&mut self) -> &mut B {
        &mut self.backend
    }

    /// Counters.
    pub fn stats(&self) -> Pl011Stats {
        self.stats
    }

    fn reg(offset: u64) -> u32 {
        match offset {
            // Never busy, never full, nothing to receive.
            UARTFR => FR_TXFE | FR_RXFE,
            0xfe0..=0xffc if offset.is_multiple_of(4) => ID_REGS[((offset - 0xfe0) / 4) as usize],
            _ => 0,
        }
    }
}

impl<B: ConsoleBackend> MmioDevice for Pl011<B> {
    fn name(&self) -> &str {
        "pl011"
    }

    fn read(&mut self, offset: u64, size: u8, _io: &mut DeviceIo<'_>) -> u64 {
        if offset != UARTFR && !(0xfe0..=0xffc).contains(&offset) {
            self.stats.other_accesses += 1;
        }
        let v = u64::from(Self::reg(offset));
        // A narrower access returns the low bytes of the register.
        match size {
            1 => v & 0xff,
            2 => v & 0xffff,
            _ => v,
        }
    }

    /// Every register reads as a constant: with this page mapped, a
    /// character costs one exit (the data register write) instead of three
    /// (earlycon polls the flag register before and after it).
    fn read_image(&self, page: &mut [u8]) -> usize {
        let len = (PL011_SIZE as usize).min(page.len()) / 4 * 4;
        for o in (0..len).step_by(4) {
            page[o..o + 4].copy_from_slice(&Self::reg(o as u64).to_le_bytes());
        }
        len
    }

    fn write(&mut self, offset: u64, _size: u8, value: u64, _io: &mut DeviceIo<'_>) {
        if offset == UARTDR {
            self.backend.write(&[value as u8]);
            self.stats.tx_bytes += 1;
        } else {
            // Control, baud rate, interrupt mask...: nothing to emulate.
            self.stats.other_accesses += 1;
        }
    }
}
