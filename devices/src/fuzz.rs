//! The body of the `virtqueue` fuzz target (`fuzz/fuzz_targets/virtqueue.rs`),
//! here so that a normal `cargo test` runs it too, bounded
//! (`tests/fuzz_bounded.rs`).
//!
//! The input is a program: register reads and writes at any offset and
//! size, arbitrary bytes written anywhere in guest RAM, descriptors and
//! available-ring entries written where the driver put its rings, console
//! input, backend notifications, VM resets, and a "driver init" macro so
//! random programs reach queue processing. After every step the transport's
//! invariants are checked; any panic is a bug.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use sel4vm::{DeviceEffect, DeviceIo, GuestAddress, GuestBytes, MmioDevice, VecGuestMemory};

use crate::console::{Console, ConsoleBackend};
use crate::virtio::mmio::regs;
use crate::virtio::queue::{Descriptor, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE};
use crate::virtio::{status, VirtioMmio};
use sel4vm::GuestBytesExt;
use zerocopy::little_endian::U16;

/// Guest RAM of the fuzzed device.
pub const RAM_BASE: u64 = 0x4000_0000;
/// Its size: two queues' rings and some buffer space.
pub const RAM_SIZE: u64 = 0x4000;

/// A backend fed by the program; output is only counted.
#[derive(Default)]
struct Backend {
    input: VecDeque<u8>,
    output: u64,
}

impl ConsoleBackend for Backend {
    fn write(&mut self, bytes: &[u8]) {
        self.output += bytes.len() as u64;
    }
    fn read(&mut self, buf: &mut [u8]) -> usize {
        let n = buf.len().min(self.input.len());
        for (d, s) in buf.iter_mut().zip(self.input.drain(..n)) {
            *d = s;
        }
        n
    }
}

/// What one run reached (lets the bounded test check the fuzzer is not
/// stuck at the front door).
#[derive(Clone, Copy, Debug, Default)]
pub struct Reached {
    /// Chains returned through used rings.
    pub chains: u64,
    /// Times the device entered `DEVICE_NEEDS_RESET`.
    pub needs_reset: u64,
    /// Bytes the guest transmitted.
    pub tx_bytes: u64,
    /// Bytes delivered to the guest.
    pub rx_bytes: u64,
}

struct Input<'a> {
    data: &'a [u8],
}

impl Input<'_> {
    fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((b, rest)) => {
                self.data = rest;
                *b
            }
            None => 0,
        }
    }
    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }
    /// A value biased towards what matters: RAM addresses, small numbers.
    fn value(&mut self) -> u32 {
        match self.u8() % 4 {
            0 => self.u32(),
            1 => u32::from(self.u8()),
            2 => (RAM_BASE + u64::from(self.u16()) % RAM_SIZE) as u32,
            _ => 0,
        }
    }
    /// A descriptor, mostly plausible: a buffer in the buffer area,
    /// small, in the direction the queue carries.
    fn descriptor(&mut self, q: u16, next: u16) -> Descriptor {
        let sane = self.u8() < 224;
        let addr = if sane {
            BUF_AREA + u64::from(self.u16()) % (RAM_BASE + RAM_SIZE - BUF_AREA)
        } else {
            u64::from(self.value())
        };
        let len = if sane {
            1 + u32::from(self.u8() % 64)
        } else {
            u32::from(self.u16())
        };
        let flags = if sane {
            if q == 0 {
                VIRTQ_DESC_F_WRITE
            } else {
                0
            }
        } else {
            u16::from(self.u8() & 7)
        };
        Descriptor::new(addr, len, flags, next)
    }
}

/// Where plausible buffers go (after the two queues' rings).
const BUF_AREA: u64 = RAM_BASE + 0x2000;

const OFFSETS: [u64; 30] = [
    regs::MAGIC_VALUE,
    regs::VERSION,
    regs::DEVICE_ID,
    regs::DEVICE_FEATURES,
    regs::DEVICE_FEATURES_SEL,
    regs::DRIVER_FEATURES,
    regs::DRIVER_FEATURES_SEL,
    regs::QUEUE_SEL,
    regs::QUEUE_NUM_MAX,
    regs::QUEUE_NUM,
    regs::QUEUE_READY,
    regs::QUEUE_NOTIFY,
    regs::INTERRUPT_STATUS,
    regs::INTERRUPT_ACK,
    regs::STATUS,
    regs::QUEUE_DESC_LOW,
    regs::QUEUE_DESC_HIGH,
    regs::QUEUE_DRIVER_LOW,
    regs::QUEUE_DRIVER_HIGH,
    regs::QUEUE_DEVICE_LOW,
    regs::QUEUE_DEVICE_HIGH,
    regs::SHM_SEL,
    regs::SHM_LEN_LOW,
    regs::CONFIG_GENERATION,
    regs::CONFIG,
    regs::CONFIG + 4,
    regs::CONFIG + 8,
    0x0fe,
    0x1ff,
    0x051,
];

/// Queue `q`'s rings in [`run`]'s "driver init": 4 KiB per queue.
fn ring_base(q: u64) -> u64 {
    RAM_BASE + q * 0x1000
}

struct Harness {
    dev: VirtioMmio<Console<Backend>>,
    mem: VecGuestMemory,
    effects: Vec<DeviceEffect>,
    /// The line level last sent, `None` until one is (or after a VM reset).
    line: Option<bool>,
}

impl Harness {
    fn io<R>(
        &mut self,
        f: impl FnOnce(&mut VirtioMmio<Console<Backend>>, &mut DeviceIo<'_>) -> R,
    ) -> R {
        self.effects.clear();
        let mut io = DeviceIo::new(&mut self.mem, &mut self.effects);
        let r = f(&mut self.dev, &mut io);
        for e in &self.effects {
            let DeviceEffect::Irq(level) = *e else {
                continue;
            };
            self.line = Some(level);
        }
        r
    }

    fn write(&mut self, off: u64, v: u32) {
        self.io(|d, io| d.write(off, 4, u64::from(v), io));
    }

    fn check(&self) {
        let st = self.dev.status();
        // The line follows InterruptStatus once it has been driven.
        if let Some(level) = self.line {
            assert_eq!(
                level,
                self.dev.interrupt_status() != 0,
                "line vs InterruptStatus"
            );
        }
        assert_eq!(
            st & status::DEVICE_NEEDS_RESET != 0,
            self.dev.needs_reset(),
            "NEEDS_RESET bit vs state"
        );
        if st & status::DRIVER_OK != 0 {
            assert!(
                st & status::FEATURES_OK != 0,
                "DRIVER_OK without FEATURES_OK"
            );
        }
        for q in 0..2 {
            let q = self.dev.queue(q).expect("console has two queues");
            if q.is_ready() {
                let (d, a, u) = q.addresses();
                let n = q.size();
                assert!(n.is_power_of_two() && n <= q.max_size());
                assert!(self.mem.check(d, 16 * u64::from(n)).is_ok());
                assert!(self.mem.check(a, 6 + 2 * u64::from(n)).is_ok());
                assert!(self.mem.check(u, 6 + 8 * u64::from(n)).is_ok());
            }
        }
    }

    /// A well-behaved driver's initialisation, with fuzzed feature choice
    /// and queue size.
    fn init(&mut self, inp: &mut Input<'_>) {
        self.write(regs::STATUS, 0);
        self.write(regs::STATUS, status::ACKNOWLEDGE);
        self.write(regs::STATUS, status::ACKNOWLEDGE | status::DRIVER);
        let offered = self.dev.offered_features();
        let pick = u64::from(inp.u8());
        // Mostly accept VERSION_1; choose INDIRECT/EVENT_IDX from the input.
        let feats = offered & !((pick & 3) << 28) & !(u64::from(pick & 0x80 != 0) << 32);
        self.write(regs::DRIVER_FEATURES_SEL, 0);
        self.write(regs::DRIVER_FEATURES, feats as u32);
        self.write(regs::DRIVER_FEATURES_SEL, 1);
        self.write(regs::DRIVER_FEATURES, (feats >> 32) as u32);
        let s = status::ACKNOWLEDGE | status::DRIVER | status::FEATURES_OK;
        self.write(regs::STATUS, s);
        let size = 1u32 << (inp.u8() % 7);
        for q in 0..2u32 {
            let base = ring_base(u64::from(q)) as u32;
            self.write(regs::QUEUE_SEL, q);
            self.write(regs::QUEUE_NUM, size);
            self.write(regs::QUEUE_DESC_LOW, base);
            self.write(regs::QUEUE_DESC_HIGH, 0);
            self.write(regs::QUEUE_DRIVER_LOW, base + 0x400);
            self.write(regs::QUEUE_DRIVER_HIGH, 0);
            self.write(regs::QUEUE_DEVICE_LOW, base + 0x800);
            self.write(regs::QUEUE_DEVICE_HIGH, 0);
            self.write(regs::QUEUE_READY, 1);
        }
        self.write(regs::STATUS, s | status::DRIVER_OK);
    }

    fn step(&mut self, inp: &mut Input<'_>) {
        match inp.u8() % 12 {
            0 => {
                let off = if inp.u8() < 240 {
                    OFFSETS[usize::from(inp.u8()) % OFFSETS.len()]
                } else {
                    u64::from(inp.u16())
                };
                let size = [4, 4, 4, 1, 2, 8, 3][usize::from(inp.u8() % 7)];
                let v = u64::from(inp.value()) | (u64::from(inp.u8() == 0xff) << 40);
                self.io(|d, io| d.write(off, size, v, io));
            }
            1 => {
                let off = OFFSETS[usize::from(inp.u8()) % OFFSETS.len()];
                let size = [4, 1, 2, 8][usize::from(inp.u8() % 4)];
                self.io(|d, io| d.read(off, size, io));
            }
            2 => {
                let at = RAM_BASE + u64::from(inp.u16()) % RAM_SIZE;
                let mut buf = [0u8; 64];
                let n = usize::from(inp.u8() % 64);
                for b in &mut buf[..n] {
                    *b = inp.u8();
                }
                let _ = self.mem.write(GuestAddress(at), &buf[..n]);
            }
            3 => {
                // A descriptor where the driver said its table is.
                let qi = u16::from(inp.u8() & 1);
                let q = self.dev.queue(qi).expect("queue");
                let table = q.addresses().0;
                let i = u64::from(inp.u8() % 64);
                let next = u16::from(inp.u8() % 64);
                let mut d = inp.descriptor(qi, next);
                if inp.u8() & 1 == 0 {
                    d.flags = (d.flags.get() | VIRTQ_DESC_F_NEXT).into();
                }
                if let Some(a) = table.checked_add(16 * i) {
                    let _ = self.mem.write_obj(a, &d);
                }
            }
            4 => {
                // An available-ring entry, then the index.
                let q = self.dev.queue(u16::from(inp.u8() & 1)).expect("queue");
                let (avail, size) = (q.addresses().1, q.size().max(1));
                let head = u16::from(inp.u8() % 64);
                let step = if inp.u8() == 0xff { inp.u16() } else { 1 };
                if let Some(ia) = avail.checked_add(2) {
                    let idx = self.mem.read_obj::<U16>(ia).map_or(0, |v| v.get());
                    let slot = u64::from(idx % size);
                    if let Some(ra) = avail.checked_add(4 + 2 * slot) {
                        let _ = self.mem.write_obj(ra, &U16::new(head));
                    }
                    let _ = self.mem.write_obj(ia, &U16::new(idx.wrapping_add(step)));
                }
            }
            5 => {
                let n = inp.u8();
                for _ in 0..n {
                    let b = inp.u8();
                    self.dev.device_mut().backend_mut().input.push_back(b);
                }
                self.io(|d, io| d.notified(1, io));
            }
            6 => self.io(|d, io| d.notified(u64::from(inp_bits(inp)), io)),
            7 => {
                self.dev.reset();
                self.line = None;
            }
            8 => self.init(inp),
            9 => {
                let s = self.io(|d, io| d.read(regs::INTERRUPT_STATUS, 4, io));
                self.write(regs::INTERRUPT_ACK, s as u32);
            }
            10 => {
                // Notify a queue (the common case after posting).
                let q = u32::from(inp.u8() % 3);
                self.write(regs::QUEUE_NOTIFY, q);
            }
            _ => self.post_chain(inp),
        }
    }

    /// A mostly valid chain of 1..=3 descriptors at consecutive indices,
    /// made available and notified.
    fn post_chain(&mut self, inp: &mut Input<'_>) {
        let qi = u16::from(inp.u8() & 1);
        let q = self.dev.queue(qi).expect("queue");
        let ((table, avail, _), size) = (q.addresses(), q.size().max(1));
        let n = 1 + u16::from(inp.u8() % 3);
        let first = u16::from(inp.u8()) % size;
        for k in 0..n {
            let i = (first + k) % size;
            let next = (i + 1) % size;
            let mut d = inp.descriptor(qi, next);
            if k + 1 < n {
                d.flags = (d.flags.get() | VIRTQ_DESC_F_NEXT).into();
            }
            if let Some(a) = table.checked_add(16 * u64::from(i)) {
                let _ = self.mem.write_obj(a, &d);
            }
        }
        if let Some(ia) = avail.checked_add(2) {
            let idx = self.mem.read_obj::<U16>(ia).map_or(0, |v| v.get());
            if let Some(ra) = avail.checked_add(4 + 2 * u64::from(idx % size)) {
                let _ = self.mem.write_obj(ra, &U16::new(first));
            }
            let _ = self.mem.write_obj(ia, &U16::new(idx.wrapping_add(1)));
        }
        self.write(regs::QUEUE_NOTIFY, u32::from(qi));
    }
}

fn inp_bits(inp: &mut Input<'_>) -> u8 {
    inp.u8() | 1
}

/// Runs one fuzz program; panics on a broken invariant.
pub fn run(data: &[u8]) -> Reached {
    let mut h = Harness {
        dev: VirtioMmio::new(Console::with_rx_buffer(Backend::default(), 256)),
        mem: VecGuestMemory::new(GuestAddress(RAM_BASE), RAM_SIZE as usize),
        effects: Vec::new(),
        line: None,
    };
    let mut inp = Input { data };
    // Bounded: each step consumes at least one byte.
    while !inp.data.is_empty() {
        h.step(&mut inp);
        h.check();
    }
    let s = h.dev.stats();
    let c = h.dev.device().stats();
    Reached {
        chains: s.chains,
        needs_reset: s.needs_reset,
        tx_bytes: c.tx_bytes,
        rx_bytes: c.rx_bytes,
    }
}
