//! A test-side virtio driver: a small model of the driver half of virtio
//! 1.2 (§3.1 initialisation, §2.7 split rings) laid out in
//! `VecGuestMemory`, plus fake console backends and a recording device.
#![allow(dead_code)]

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;

use sel4vm::VecGuestMemory;
use sel4vm::{DeviceEffect, DeviceIo, GuestAddress, GuestBytes, GuestBytesExt, MmioDevice};
use sel4vm_devices::console::ConsoleBackend;
use sel4vm_devices::virtio::mmio::regs;
use sel4vm_devices::virtio::queue::{
    need_event, Descriptor, UsedElem, VIRTQ_DESC_F_INDIRECT, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE,
};
use sel4vm_devices::virtio::{
    status, Expect, Queue, QueueError, VirtioDevice, VirtioMmio, VIRTIO_F_EVENT_IDX,
    VIRTIO_F_INDIRECT_DESC, VIRTIO_F_VERSION_1,
};
use zerocopy::little_endian::U16;

pub const RAM_BASE: u64 = 0x4000_0000;
pub const RAM_SIZE: u64 = 0x4_0000;
/// Rings of queue q live at RAM_BASE + q * QUEUE_AREA.
pub const QUEUE_AREA: u64 = 0x4000;
/// Buffers (and indirect tables) are allocated from here to the end of RAM.
pub const BUF_START: u64 = RAM_BASE + 0x1_0000;

pub const F_VERSION_1: u64 = 1 << VIRTIO_F_VERSION_1;
pub const F_INDIRECT: u64 = 1 << VIRTIO_F_INDIRECT_DESC;
pub const F_EVENT_IDX: u64 = 1 << VIRTIO_F_EVENT_IDX;

/// Console backend whose both ends the test holds.
#[derive(Default)]
pub struct Pipe {
    pub out: Vec<u8>,
    pub input: VecDeque<u8>,
    pub writes: usize,
}

impl ConsoleBackend for Pipe {
    fn write(&mut self, bytes: &[u8]) {
        self.writes += 1;
        self.out.extend_from_slice(bytes);
    }
    fn read(&mut self, buf: &mut [u8]) -> usize {
        let n = buf.len().min(self.input.len());
        for (d, s) in buf.iter_mut().zip(self.input.drain(..n)) {
            *d = s;
        }
        n
    }
}

pub type SharedPipe = Rc<RefCell<Pipe>>;

pub fn pipe() -> SharedPipe {
    Rc::new(RefCell::new(Pipe::default()))
}

/// A chain as the device saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    pub head: u16,
    pub segs: Vec<(u64, u32, bool)>,
    pub readable: Vec<u8>,
}

/// A device with one queue taking readable-then-writable chains: records
/// every chain, fills writable bytes with `fill_byte(head, offset)`, and
/// returns the whole writable length.
pub struct Recorder {
    pub seen: Vec<Seen>,
    pub queue_size: u16,
    pub expect: Expect,
}

pub fn fill_byte(head: u16, off: usize) -> u8 {
    (head as u8).wrapping_mul(31) ^ (off as u8)
}

impl Recorder {
    pub fn new(queue_size: u16) -> Self {
        Self {
            seen: Vec::new(),
            queue_size,
            expect: Expect::Any,
        }
    }
}

impl VirtioDevice for Recorder {
    fn name(&self) -> &str {
        "recorder"
    }
    fn device_id(&self) -> u32 {
        0x7f
    }
    fn features(&self) -> u64 {
        0
    }
    fn num_queues(&self) -> u16 {
        1
    }
    fn queue_max_size(&self, _: u16) -> u16 {
        self.queue_size
    }
    fn read_config(&self, _: u64, _: &mut [u8]) {}
    fn queue_notify(
        &mut self,
        _: u16,
        q: &mut Queue,
        mem: &mut dyn GuestBytes,
    ) -> Result<(), QueueError> {
        while let Some(chain) = q.pop(mem, self.expect)? {
            let total: u64 = chain.readable().iter().map(|s| u64::from(s.len)).sum();
            let mut readable = vec![0; total as usize];
            assert_eq!(chain.read_bytes(mem, 0, &mut readable)?, total as usize);
            let wl = chain.writable_len() as usize;
            let data: Vec<u8> = (0..wl).map(|i| fill_byte(chain.head(), i)).collect();
            assert_eq!(chain.write_bytes(mem, 0, &data)?, wl);
            self.seen.push(Seen {
                head: chain.head(),
                segs: chain
                    .segments()
                    .iter()
                    .map(|s| (s.addr.0, s.len, s.writable))
                    .collect(),
                readable,
            });
            q.add_used(mem, chain, wl as u32)?;
        }
        Ok(())
    }
}

/// A buffer of a chain the test posts.
#[derive(Clone, Debug)]
pub enum Buf {
    /// Device-readable, with this content.
    Read(Vec<u8>),
    /// Device-writable, this long.
    Write(u32),
}

/// Where a posted buffer went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Posted {
    pub head: u16,
    pub segs: Vec<(u64, u32, bool)>,
}

/// Driver-side state of one queue.
pub struct DQueue {
    pub size: u16,
    pub desc: u64,
    pub avail: u64,
    pub used: u64,
    pub free: Vec<u16>,
    pub avail_idx: u16,
    pub last_used: u16,
    /// Descriptor indices of each outstanding chain, by head.
    pub chains: HashMap<u16, Vec<u16>>,
    /// Avail idx at the last kick (for EVENT_IDX notification suppression).
    pub kicked_at: u16,
}

pub struct Driver<D: VirtioDevice> {
    pub dev: VirtioMmio<D>,
    pub mem: VecGuestMemory,
    /// Every set_irq effect, in order.
    pub irqs: Vec<bool>,
    pub queues: Vec<DQueue>,
    pub features: u64,
    next_buf: u64,
    /// The page the VM maps read-only (`MmioDevice::read_image`).
    image: Vec<u8>,
}

impl<D: VirtioDevice + 'static> Driver<D> {
    pub fn new(dev: D) -> Self {
        let mut d = Self {
            dev: VirtioMmio::new(dev),
            mem: VecGuestMemory::new(GuestAddress(RAM_BASE), RAM_SIZE as usize),
            irqs: Vec::new(),
            queues: Vec::new(),
            features: 0,
            next_buf: BUF_START,
            image: Vec::new(),
        };
        d.refresh_image();
        d
    }

    pub fn io<R>(&mut self, f: impl FnOnce(&mut VirtioMmio<D>, &mut DeviceIo<'_>) -> R) -> R {
        let mut effects = Vec::new();
        let r = {
            let mut io = DeviceIo::new(&mut self.mem, &mut effects);
            f(&mut self.dev, &mut io)
        };
        for e in effects {
            match e {
                DeviceEffect::Irq(l) => self.irqs.push(l),
                // As the VM does: the read-only page follows the model.
                DeviceEffect::ReadsChanged => self.refresh_image(),
                _ => panic!("unexpected effect {e:?}"),
            }
        }
        r
    }

    fn refresh_image(&mut self) {
        let mut page = vec![0u8; 0x1000];
        let len = self.dev.read_image(&mut page);
        assert!(len > 0, "virtio-mmio serves reads from a page");
        self.image = page;
    }

    /// The VM's `reset_devices`: reset, then the page is asked for again.
    pub fn vm_reset(&mut self) {
        self.dev.reset();
        self.refresh_image();
    }

    pub fn read(&mut self, off: u64) -> u32 {
        self.read_sized(off, 4) as u32
    }

    /// A trapped read; every valid access is also checked against the
    /// read-only page the VM would map, as it stands after the effects so far.
    pub fn read_sized(&mut self, off: u64, size: u8) -> u64 {
        let v = self.io(|d, io| d.read(off, size, io));
        let valid = if off < regs::CONFIG {
            size == 4 && off.is_multiple_of(4)
        } else {
            matches!(size, 1 | 2 | 4 | 8) && off.is_multiple_of(u64::from(size)) && off < 0x1000
        };
        if valid {
            let o = off as usize;
            let mut b = [0u8; 8];
            b[..usize::from(size)].copy_from_slice(&self.image[o..o + usize::from(size)]);
            assert_eq!(
                u64::from_le_bytes(b),
                v,
                "page vs trapped {size}-byte read at {off:#x}"
            );
        }
        v
    }

    pub fn write(&mut self, off: u64, v: u32) {
        self.write_sized(off, 4, u64::from(v))
    }

    pub fn write_sized(&mut self, off: u64, size: u8, v: u64) {
        self.io(|d, io| d.write(off, size, v, io))
    }

    pub fn notified(&mut self) {
        self.io(|d, io| d.notified(1, io))
    }

    /// The interrupt line as the VM sees it (low until first driven).
    pub fn line(&self) -> bool {
        self.irqs.last().copied().unwrap_or(false)
    }

    pub fn status(&mut self) -> u32 {
        self.read(regs::STATUS)
    }

    pub fn device_features(&mut self) -> u64 {
        self.write(regs::DEVICE_FEATURES_SEL, 0);
        let lo = self.read(regs::DEVICE_FEATURES);
        self.write(regs::DEVICE_FEATURES_SEL, 1);
        let hi = self.read(regs::DEVICE_FEATURES);
        u64::from(lo) | u64::from(hi) << 32
    }

    pub fn write_driver_features(&mut self, f: u64) {
        self.write(regs::DRIVER_FEATURES_SEL, 0);
        self.write(regs::DRIVER_FEATURES, f as u32);
        self.write(regs::DRIVER_FEATURES_SEL, 1);
        self.write(regs::DRIVER_FEATURES, (f >> 32) as u32);
    }

    /// §3.1.1 up to FEATURES_OK with `want` ∩ offered; returns whether the
    /// device accepted.
    pub fn negotiate(&mut self, want: u64) -> bool {
        self.write(regs::STATUS, 0);
        self.write(regs::STATUS, status::ACKNOWLEDGE);
        self.write(regs::STATUS, status::ACKNOWLEDGE | status::DRIVER);
        let f = self.device_features() & want;
        self.write_driver_features(f);
        self.features = f;
        self.write(
            regs::STATUS,
            status::ACKNOWLEDGE | status::DRIVER | status::FEATURES_OK,
        );
        self.status() & status::FEATURES_OK != 0
    }

    /// Writes a queue's registers (rings at the queue's area).
    pub fn setup_queue(&mut self, q: u16, size: u16) {
        let base = RAM_BASE + u64::from(q) * QUEUE_AREA;
        let (desc, avail, used) = (base, base + 0x1000, base + 0x2000);
        // The driver zeroes its rings (and the device area) before use.
        let _ = self
            .mem
            .write(GuestAddress(base), &vec![0; QUEUE_AREA as usize]);
        self.write(regs::QUEUE_SEL, u32::from(q));
        assert_eq!(self.read(regs::QUEUE_READY), 0);
        assert!(self.read(regs::QUEUE_NUM_MAX) >= u32::from(size));
        self.write(regs::QUEUE_NUM, u32::from(size));
        self.write(regs::QUEUE_DESC_LOW, desc as u32);
        self.write(regs::QUEUE_DESC_HIGH, (desc >> 32) as u32);
        self.write(regs::QUEUE_DRIVER_LOW, avail as u32);
        self.write(regs::QUEUE_DRIVER_HIGH, (avail >> 32) as u32);
        self.write(regs::QUEUE_DEVICE_LOW, used as u32);
        self.write(regs::QUEUE_DEVICE_HIGH, (used >> 32) as u32);
        self.write(regs::QUEUE_READY, 1);
        let dq = DQueue {
            size,
            desc,
            avail,
            used,
            free: (0..size).rev().collect(),
            avail_idx: 0,
            last_used: 0,
            chains: HashMap::new(),
            kicked_at: 0,
        };
        let i = usize::from(q);
        if self.queues.len() <= i {
            self.queues.resize_with(i + 1, || DQueue {
                size: 0,
                desc: 0,
                avail: 0,
                used: 0,
                free: Vec::new(),
                avail_idx: 0,
                last_used: 0,
                chains: HashMap::new(),
                kicked_at: 0,
            });
        }
        self.queues[i] = dq;
    }

    pub fn driver_ok(&mut self) {
        let s = self.status();
        self.write(regs::STATUS, s | status::DRIVER_OK);
    }

    /// Full init: features, `nq` queues of `size`, DRIVER_OK.
    pub fn init(&mut self, want: u64, nq: u16, size: u16) {
        self.queues.clear();
        self.next_buf = BUF_START;
        assert!(self.negotiate(want), "features refused");
        for q in 0..nq {
            self.setup_queue(q, size);
        }
        self.driver_ok();
        assert_eq!(self.status() & status::DRIVER_OK, status::DRIVER_OK);
    }

    /// Bump-allocates `len` bytes (16-aligned), wrapping at the end of RAM.
    pub fn alloc(&mut self, len: u64) -> u64 {
        let len = (len + 15) & !15;
        if self.next_buf + len > RAM_BASE + RAM_SIZE {
            self.next_buf = BUF_START;
        }
        let a = self.next_buf;
        self.next_buf += len;
        a
    }

    pub fn write_desc(&mut self, table: u64, index: u16, d: Descriptor) {
        self.mem
            .write_obj(GuestAddress(table + 16 * u64::from(index)), &d)
            .unwrap();
    }

    /// Puts `head` in the available ring and publishes it.
    pub fn push_avail(&mut self, q: u16, head: u16) {
        let dq = &mut self.queues[usize::from(q)];
        let slot = u64::from(dq.avail_idx % dq.size);
        let (avail, idx) = (dq.avail, dq.avail_idx.wrapping_add(1));
        dq.avail_idx = idx;
        self.mem
            .write_obj(GuestAddress(avail + 4 + 2 * slot), &U16::new(head))
            .unwrap();
        self.mem
            .write_obj(GuestAddress(avail + 2), &U16::new(idx))
            .unwrap();
    }

    /// Lays out `bufs` (direct, or in one indirect table) and makes the
    /// chain available. `order` permutes which free descriptors are used.
    pub fn post(&mut self, q: u16, bufs: &[Buf], indirect: bool) -> Posted {
        let mut segs = Vec::new();
        for b in bufs {
            match b {
                Buf::Read(data) => {
                    let a = self.alloc(data.len() as u64);
                    self.mem.write(GuestAddress(a), data).unwrap();
                    segs.push((a, data.len() as u32, false));
                }
                Buf::Write(len) => {
                    let a = self.alloc(u64::from(*len));
                    segs.push((a, *len, true));
                }
            }
        }
        let flags = |i: usize, w: bool| {
            (if w { VIRTQ_DESC_F_WRITE } else { 0 })
                | if i + 1 < segs.len() {
                    VIRTQ_DESC_F_NEXT
                } else {
                    0
                }
        };
        let head;
        if indirect {
            let table = self.alloc(16 * segs.len() as u64);
            for (i, &(a, l, w)) in segs.iter().enumerate() {
                self.write_desc(
                    table,
                    i as u16,
                    Descriptor::new(a, l, flags(i, w), i as u16 + 1),
                );
            }
            let dq = &mut self.queues[usize::from(q)];
            head = dq.free.pop().expect("free descriptor");
            dq.chains.insert(head, vec![head]);
            let desc = dq.desc;
            self.write_desc(
                desc,
                head,
                Descriptor::new(table, 16 * segs.len() as u32, VIRTQ_DESC_F_INDIRECT, 0),
            );
        } else {
            let dq = &mut self.queues[usize::from(q)];
            assert!(dq.free.len() >= segs.len(), "out of descriptors");
            let idxs: Vec<u16> = (0..segs.len()).map(|_| dq.free.pop().unwrap()).collect();
            head = idxs[0];
            dq.chains.insert(head, idxs.clone());
            let desc = dq.desc;
            for (i, &(a, l, w)) in segs.iter().enumerate() {
                let next = idxs.get(i + 1).copied().unwrap_or(0);
                self.write_desc(desc, idxs[i], Descriptor::new(a, l, flags(i, w), next));
            }
        }
        self.push_avail(q, head);
        Posted { head, segs }
    }

    /// Lets the driver reorder its free list (deterministic shuffle).
    pub fn shuffle_free(&mut self, q: u16, seed: u64) {
        let free = &mut self.queues[usize::from(q)].free;
        let mut s = seed | 1;
        for i in (1..free.len()).rev() {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            free.swap(i, (s % (i as u64 + 1)) as usize);
        }
    }

    pub fn notify(&mut self, q: u16) {
        self.write(regs::QUEUE_NOTIFY, u32::from(q));
        let dq = &mut self.queues[usize::from(q)];
        dq.kicked_at = dq.avail_idx;
    }

    /// Notifies only if the device asked (avail_event with EVENT_IDX);
    /// returns whether it did.
    pub fn kick(&mut self, q: u16) -> bool {
        let dq = &self.queues[usize::from(q)];
        let need = if self.features & F_EVENT_IDX != 0 {
            let ev: U16 = self
                .mem
                .read_obj(GuestAddress(dq.used + 4 + 8 * u64::from(dq.size)))
                .unwrap();
            need_event(ev.get(), dq.avail_idx, dq.kicked_at)
        } else {
            true
        };
        if need {
            self.notify(q);
        } else {
            self.queues[usize::from(q)].kicked_at = self.queues[usize::from(q)].avail_idx;
        }
        need
    }

    pub fn used_idx(&mut self, q: u16) -> u16 {
        let used = self.queues[usize::from(q)].used;
        self.mem
            .read_obj::<U16>(GuestAddress(used + 2))
            .unwrap()
            .get()
    }

    /// Collects new used entries (id, len), freeing their descriptors.
    pub fn take_used(&mut self, q: u16) -> Vec<(u32, u32)> {
        let idx = self.used_idx(q);
        let mut out = Vec::new();
        loop {
            let dq = &mut self.queues[usize::from(q)];
            if dq.last_used == idx {
                break;
            }
            let slot = u64::from(dq.last_used % dq.size);
            let e: UsedElem = self
                .mem
                .read_obj(GuestAddress(dq.used + 4 + 8 * slot))
                .unwrap();
            let dq = &mut self.queues[usize::from(q)];
            dq.last_used = dq.last_used.wrapping_add(1);
            if let Some(idxs) = dq.chains.remove(&(e.id.get() as u16)) {
                dq.free.extend(idxs);
            }
            out.push((e.id.get(), e.len.get()));
        }
        if self.features & F_EVENT_IDX != 0 {
            // As Linux's virtqueue_enable_cb: interrupt on the next one.
            let last = self.queues[usize::from(q)].last_used;
            self.set_used_event(q, last);
        }
        out
    }

    /// With EVENT_IDX: ask for an interrupt after `n` more used buffers.
    pub fn set_used_event(&mut self, q: u16, v: u16) {
        let dq = &self.queues[usize::from(q)];
        let at = dq.avail + 4 + 2 * u64::from(dq.size);
        self.mem.write_obj(GuestAddress(at), &U16::new(v)).unwrap();
    }

    pub fn set_avail_flags(&mut self, q: u16, flags: u16) {
        let at = self.queues[usize::from(q)].avail;
        self.mem
            .write_obj(GuestAddress(at), &U16::new(flags))
            .unwrap();
    }

    /// Reads InterruptStatus and acknowledges it, as Linux's handler does.
    pub fn ack(&mut self) -> u32 {
        let s = self.read(regs::INTERRUPT_STATUS);
        self.write(regs::INTERRUPT_ACK, s);
        s
    }

    pub fn bytes(&self, addr: u64, len: u32) -> Vec<u8> {
        let off = (addr - RAM_BASE) as usize;
        self.mem.as_slice()[off..off + len as usize].to_vec()
    }
}
