//! The harness of the `virtqueue` fuzz target (`fuzz/targets`, crate
//! `sel4vm-fuzz-targets`, which the cargo-fuzz binary and the bounded
//! stable tests call), here because it needs the devices' internals; a
//! normal `cargo test` runs it too, bounded (`tests/fuzz_bounded.rs`).
//! [`run`] drives the console, [`run_block`] virtio-blk (with an
//! asynchronous backend that completes in any order, fails or is busy as
//! the program says), [`run_net`] virtio-net (frames of any size both
//! ways, a backend that is busy or fails as the program says).
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

use crate::block::{Block, BlockBackend, BlockInfo, BlockOp, Submitted};
use crate::console::{Console, ConsoleBackend};
use crate::net::{Net, NetBackend, NetInfo, TxStatus, MAX_FRAME, MIN_FRAME};
use crate::virtio::mmio::regs;
use crate::virtio::queue::{Descriptor, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE};
use crate::virtio::VirtioDevice;
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

/// A block backend fed by the program: requests wait until the program
/// completes them (in any order, successfully or not); it is busy or
/// fails when the program says.
#[derive(Default)]
struct BlockFake {
    pending: Vec<(u32, BlockOp)>,
    /// Answers for the next submissions (popped; empty = `Started`).
    answers: VecDeque<u8>,
    /// Completions to hand over at the next `complete`: (index, ok).
    ready: Vec<(u8, bool)>,
    read_only: bool,
}

/// Capacity of [`BlockFake`]: 8 MiB.
const BLOCK_SECTORS: u64 = 16 * 1024;
/// Requests [`BlockFake`] holds at once.
const BLOCK_DEPTH: usize = 8;

impl BlockBackend for BlockFake {
    fn info(&self) -> BlockInfo {
        BlockInfo {
            capacity: BLOCK_SECTORS,
            blk_size: 512,
            read_only: self.read_only,
            flush: true,
            max_request: 4 * 4096,
        }
    }
    fn submit(
        &mut self,
        tag: u32,
        op: BlockOp,
        fill: &mut dyn FnMut(&mut [u8]) -> bool,
    ) -> Submitted {
        assert!(
            self.pending.iter().all(|&(t, _)| t != tag),
            "tag {tag} reused while outstanding"
        );
        match op {
            BlockOp::Read { sector, len } | BlockOp::Write { sector, len } => {
                assert!(len > 0 && len % 512 == 0 && len <= 4 * 4096, "{op:?}");
                let end = sector.checked_add(u64::from(len) / 512);
                assert!(
                    end.is_some_and(|e| e <= BLOCK_SECTORS),
                    "beyond capacity: {op:?}"
                );
                if let BlockOp::Write { .. } = op {
                    assert!(
                        !self.read_only,
                        "write to a read-only disk reached the backend"
                    );
                }
            }
            BlockOp::Flush => {}
        }
        match self.answers.pop_front().unwrap_or(0) % 4 {
            1 => return Submitted::Busy,
            2 => return Submitted::Failed,
            _ => {}
        }
        if self.pending.len() >= BLOCK_DEPTH {
            return Submitted::Busy;
        }
        if let BlockOp::Write { len, .. } = op {
            let mut buf = alloc::vec![0u8; len as usize];
            if !fill(&mut buf) {
                return Submitted::Failed;
            }
        }
        self.pending.push((tag, op));
        Submitted::Started
    }
    fn complete(&mut self, done: &mut dyn FnMut(u32, bool, &[u8])) {
        for (i, ok) in core::mem::take(&mut self.ready) {
            if self.pending.is_empty() {
                break;
            }
            let (tag, op) = self.pending.remove(usize::from(i) % self.pending.len());
            let data = match op {
                BlockOp::Read { len, .. } if ok => alloc::vec![0xa5u8; len as usize],
                _ => Vec::new(),
            };
            done(tag, ok, &data);
        }
    }
    fn quiesce(&mut self) {
        self.pending.clear();
        self.ready.clear();
    }
}

/// A network backend fed by the program: received frames of any size wait
/// in a queue; transmissions are sent, busy or failed as the program says.
#[derive(Default)]
struct NetFake {
    rx: VecDeque<Vec<u8>>,
    answers: VecDeque<u8>,
}

impl NetBackend for NetFake {
    fn info(&self) -> NetInfo {
        NetInfo {
            mac: [2, 0, 0, 0, 0, 1],
            link_up: true,
        }
    }
    fn transmit(&mut self, len: usize, fill: &mut dyn FnMut(&mut [u8]) -> bool) -> TxStatus {
        assert!(
            (MIN_FRAME..=MAX_FRAME).contains(&len),
            "a {len}-byte frame reached the backend"
        );
        match self.answers.pop_front().unwrap_or(0) % 4 {
            1 => TxStatus::Busy,
            2 => TxStatus::Failed,
            _ => {
                let mut buf = alloc::vec![0u8; len];
                if fill(&mut buf) {
                    TxStatus::Sent
                } else {
                    TxStatus::Failed
                }
            }
        }
    }
    fn receive(&mut self, deliver: &mut dyn FnMut(&[u8]) -> bool) {
        while let Some(f) = self.rx.front() {
            if !deliver(f) {
                break;
            }
            self.rx.pop_front();
        }
    }
    fn reset(&mut self) -> u64 {
        let n = self.rx.len() as u64;
        self.rx.clear();
        n
    }
}

/// What the harness needs of a device model beyond [`VirtioDevice`].
trait Model: VirtioDevice + 'static {
    /// Whether the device writes buffers of queue `q` (else it reads them;
    /// `None`: both, e.g. a block request).
    fn device_writes(q: u16) -> Option<bool>;
    /// Backend activity from the program (input, completions, answers).
    fn feed(&mut self, inp: &mut Input<'_>);
    /// Bytes (from the guest, to the guest) so far.
    fn bytes(&self) -> (u64, u64);
}

impl Model for Console<Backend> {
    fn device_writes(q: u16) -> Option<bool> {
        Some(q == 0)
    }
    fn feed(&mut self, inp: &mut Input<'_>) {
        let n = inp.u8();
        for _ in 0..n {
            let b = inp.u8();
            self.backend_mut().input.push_back(b);
        }
    }
    fn bytes(&self) -> (u64, u64) {
        let c = self.stats();
        (c.tx_bytes, c.rx_bytes)
    }
}

impl Model for Block<BlockFake> {
    fn device_writes(_q: u16) -> Option<bool> {
        None
    }
    fn feed(&mut self, inp: &mut Input<'_>) {
        let n = inp.u8() % 4;
        for _ in 0..n {
            let (i, ok) = (inp.u8(), inp.u8() < 224);
            self.backend_mut().ready.push((i, ok));
        }
        let a = inp.u8();
        self.backend_mut().answers.push_back(a);
    }
    fn bytes(&self) -> (u64, u64) {
        let s = self.stats();
        (s.written_bytes, s.read_bytes)
    }
}

impl Model for Net<NetFake> {
    fn device_writes(q: u16) -> Option<bool> {
        Some(q == crate::net::RX_QUEUE)
    }
    fn feed(&mut self, inp: &mut Input<'_>) {
        let len = match inp.u8() % 4 {
            0 => usize::from(inp.u16()) % 2048,
            _ => MIN_FRAME + usize::from(inp.u8()),
        };
        let fill = inp.u8();
        self.backend_mut().rx.push_back(alloc::vec![fill; len]);
        let a = inp.u8();
        self.backend_mut().answers.push_back(a);
    }
    fn bytes(&self) -> (u64, u64) {
        let s = self.stats();
        (s.tx_bytes, s.rx_bytes)
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
    fn descriptor(&mut self, writes: Option<bool>, next: u16) -> Descriptor {
        let sane = self.u8() < 224;
        let addr = if sane {
            BUF_AREA + u64::from(self.u16()) % (RAM_BASE + RAM_SIZE - BUF_AREA)
        } else {
            u64::from(self.value())
        };
        let len = if sane && writes.is_none() {
            // Block: data buffers in whole sectors, mostly.
            [1, 16, 512, 512, 1024, 4096, 2048, 100][usize::from(self.u8() % 8)]
        } else if sane {
            1 + u32::from(self.u8() % 64)
        } else {
            u32::from(self.u16())
        };
        let flags = if sane {
            // Both directions (block): the input says; a header-sized
            // readable buffer first is what a driver sends.
            if writes.unwrap_or(self.u8() & 1 == 0) {
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

struct Harness<D: Model> {
    dev: VirtioMmio<D>,
    mem: VecGuestMemory,
    effects: Vec<DeviceEffect>,
    /// The line level last sent, `None` until one is (or after a VM reset).
    line: Option<bool>,
    /// The read-only page as the VM keeps it: rendered again only when the
    /// model says its reads changed (or after a reset).
    image: [u8; IMAGE_LEN],
    /// A change was announced since the page was last rendered.
    announced: bool,
}

/// What `VirtioMmio::read_image` fills: control registers and configuration.
const IMAGE_LEN: usize = 2 * regs::CONFIG as usize;

impl<D: Model> Harness<D> {
    fn io<R>(&mut self, f: impl FnOnce(&mut VirtioMmio<D>, &mut DeviceIo<'_>) -> R) -> R {
        self.effects.clear();
        let mut io = DeviceIo::new(&mut self.mem, &mut self.effects);
        let r = f(&mut self.dev, &mut io);
        for e in &self.effects {
            match *e {
                DeviceEffect::Irq(level) => self.line = Some(level),
                // Rendered at the next check, as the VM would now.
                DeviceEffect::ReadsChanged => self.announced = true,
                _ => {}
            }
        }
        r
    }

    fn render(&mut self) {
        self.image.fill(0);
        self.dev.read_image(&mut self.image);
        self.announced = false;
    }

    /// Every change to what reads return was announced: unless one was, the
    /// page as last rendered still matches the model.
    fn check_image(&mut self) {
        if self.announced {
            return self.render();
        }
        let mut now = [0u8; IMAGE_LEN];
        self.dev.read_image(&mut now);
        assert!(now == self.image, "read page is stale");
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
        for q in 0..self.dev.device().num_queues() {
            let q = self.dev.queue(q).expect("queue");
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
        for q in 0..u32::from(self.dev.device().num_queues()) {
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
                let qi = self.pick_queue(inp);
                let q = self.dev.queue(qi).expect("queue");
                let table = q.addresses().0;
                let i = u64::from(inp.u8() % 64);
                let next = u16::from(inp.u8() % 64);
                let mut d = inp.descriptor(D::device_writes(qi), next);
                if inp.u8() & 1 == 0 {
                    d.flags = (d.flags.get() | VIRTQ_DESC_F_NEXT).into();
                }
                if let Some(a) = table.checked_add(16 * i) {
                    let _ = self.mem.write_obj(a, &d);
                }
            }
            4 => {
                // An available-ring entry, then the index.
                let qi = self.pick_queue(inp);
                let q = self.dev.queue(qi).expect("queue");
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
                self.dev.device_mut().feed(inp);
                self.io(|d, io| d.notified(1, io));
            }
            6 => self.io(|d, io| d.notified(u64::from(inp_bits(inp)), io)),
            7 => {
                self.dev.reset();
                self.line = None;
                // The VM asks for the page again after `reset_devices`.
                self.render();
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
    fn pick_queue(&self, inp: &mut Input<'_>) -> u16 {
        u16::from(inp.u8()) % self.dev.device().num_queues()
    }

    fn post_chain(&mut self, inp: &mut Input<'_>) {
        let qi = self.pick_queue(inp);
        let q = self.dev.queue(qi).expect("queue");
        let ((table, avail, _), size) = (q.addresses(), q.size().max(1));
        let n = 1 + u16::from(inp.u8() % 3);
        let first = u16::from(inp.u8()) % size;
        for k in 0..n {
            let i = (first + k) % size;
            let next = (i + 1) % size;
            let mut d = inp.descriptor(D::device_writes(qi), next);
            if k == 0 && D::device_writes(qi).is_none() && inp.u8() < 192 {
                // A request header: 16 readable bytes (block), with a
                // plausible type and sector.
                d = Descriptor::new(d.addr.get(), 16, 0, next);
                let ty = [0u32, 1, 4, 8, 0, 1, 7, u32::MAX][usize::from(inp.u8() % 8)];
                let sector = match inp.u8() % 4 {
                    0 => u64::from(inp.u32()) << 8,
                    _ => u64::from(inp.u16()) % (BLOCK_SECTORS + 8),
                };
                let mut hdr = [0u8; 16];
                hdr[..4].copy_from_slice(&ty.to_le_bytes());
                hdr[8..].copy_from_slice(&sector.to_le_bytes());
                let _ = self.mem.write(GuestAddress(d.addr.get()), &hdr);
            }
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

/// Runs one fuzz program on a virtio console; panics on a broken invariant.
pub fn run(data: &[u8]) -> Reached {
    run_model(Console::with_rx_buffer(Backend::default(), 256), data)
}

/// Runs one fuzz program on a virtio-blk device (read-write or, if the
/// first byte is odd, read-only); panics on a broken invariant.
pub fn run_block(data: &[u8]) -> Reached {
    let (ro, data) = match data.split_first() {
        Some((b, rest)) => (b & 1 != 0, rest),
        None => (false, data),
    };
    let backend = BlockFake {
        read_only: ro,
        ..Default::default()
    };
    run_model(Block::new(backend, "fuzz"), data)
}

/// Runs one fuzz program on a virtio-net device; panics on a broken
/// invariant.
pub fn run_net(data: &[u8]) -> Reached {
    run_model(Net::new(NetFake::default()), data)
}

fn run_model<D: Model>(dev: D, data: &[u8]) -> Reached {
    let mut h = Harness {
        dev: VirtioMmio::new(dev),
        mem: VecGuestMemory::new(GuestAddress(RAM_BASE), RAM_SIZE as usize),
        effects: Vec::new(),
        line: None,
        image: [0; IMAGE_LEN],
        announced: false,
    };
    h.render();
    let mut inp = Input { data };
    // Bounded: each step consumes at least one byte.
    while !inp.data.is_empty() {
        h.step(&mut inp);
        h.check();
        h.check_image();
    }
    let s = h.dev.stats();
    let (tx_bytes, rx_bytes) = h.dev.device().bytes();
    Reached {
        chains: s.chains,
        needs_reset: s.needs_reset,
        tx_bytes,
        rx_bytes,
    }
}
