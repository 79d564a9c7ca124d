//! Polling output on a PL011 UART (QEMU virt: 0x0900_0000). QEMU needs no
//! initialisation; we only wait for room in the FIFO and write.

use core::ptr::{read_volatile, write_volatile};

const DR: usize = 0x00;
const FR: usize = 0x18;
const FR_TXFF: u32 = 1 << 5;

/// A PL011 at a physical address (identity-mapped or MMU off).
#[derive(Clone, Copy)]
pub struct Uart {
    base: usize,
}

impl Uart {
    /// A UART at `base`.
    pub const fn new(base: u64) -> Self {
        Self {
            base: base as usize,
        }
    }

    fn put(&self, b: u8) {
        // SAFETY: base is the PL011 named by the DTB (or QEMU's default);
        // these are its data and flag registers.
        unsafe {
            while read_volatile((self.base + FR) as *const u32) & FR_TXFF != 0 {}
            write_volatile((self.base + DR) as *mut u32, b as u32);
        }
    }

    /// Writes a string, turning `\n` into CR LF.
    pub fn s(&self, text: &str) -> &Self {
        for b in text.bytes() {
            if b == b'\n' {
                self.put(b'\r');
            }
            self.put(b);
        }
        self
    }

    /// Writes `0x` and 16 hex digits.
    pub fn hex(&self, v: u64) -> &Self {
        self.s("0x");
        for i in (0..16).rev() {
            let d = ((v >> (i * 4)) & 0xf) as u8;
            self.put(if d < 10 { b'0' + d } else { b'a' + d - 10 });
        }
        self
    }

    /// Writes `[start..end)`.
    pub fn range(&self, start: u64, end: u64) -> &Self {
        self.s("[").hex(start).s("..").hex(end).s(")")
    }
}
