//! The guest's disk backend: QEMU's own `virtio-blk-device`, found by
//! probing the board's virtio-mmio slots and driven from the VMM: the
//! `virtio-drivers` crate's MMIO transport (legacy or modern) for set-up
//! and this crate's [`DriverQueue`] for requests. Up to [`SLOTS`] requests
//! are outstanding at once; completions are taken when the device
//! interrupts.
//!
//! DMA rule: the real device is only given (a) addresses of VMM-owned DMA
//! memory (request headers, status bytes, indirect tables, bounce buffers)
//! and, in zero-copy mode, (b) guest RAM that is mapped 1:1 and that the
//! device model already validated as guest RAM; each such segment is
//! checked again here against that range. Without a 1:1 range, guest data
//! is copied through per-slot bounce buffers.
//!
//! `virtio_drivers::device::blk::VirtIOBlk` and its `VirtQueue` are not
//! used for requests: the queue takes buffers as slices of VMM memory (no
//! guest physical addresses, so no zero-copy), the device's flush blocks and
//! works only with nothing outstanding, and indirect tables come from the
//! heap, which is not DMA memory.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use bitflags::bitflags;
use sel4vm::GuestAddress;
use sel4vm_devices::block::{BlockBackend, BlockInfo, BlockOp, Submitted, SECTOR_SIZE};
use sel4vm_devices::virtio::queue::{Descriptor, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE};
use virtio_drivers::transport::{DeviceType, Transport};
use virtio_drivers::{BufferDirection, Hal, PAGE_SIZE};

use crate::vq::{DmaRegion, DriverQueue};

/// Entries of the request ring (one per request: tables are indirect).
const QUEUE_SIZE: u16 = 64;
/// Requests outstanding at the real device at most.
pub const SLOTS: usize = 16;
/// 2 MiB frames of DMA memory the disk needs: ring and slot pages, plus
/// the bounce buffers (two per frame) without zero-copy.
pub const fn dma_frames(zero_copy: bool) -> usize {
    if zero_copy {
        1
    } else {
        1 + SLOTS.div_ceil(2)
    }
}
/// Largest data transfer of one request (bounce buffer size; zero-copy
/// requests are limited by [`MAX_SEGMENTS`] instead).
pub const MAX_REQUEST: usize = 1 << 20;
/// Pages of a slot's indirect table.
const TABLE_PAGES: usize = 2;
/// Entries of a slot's indirect table: header, data segments, status.
const TABLE: usize = TABLE_PAGES * PAGE_SIZE / 16;
/// Data segments of one zero-copy request at most.
pub const MAX_SEGMENTS: usize = TABLE - 2;
/// Request types.
const T_IN: u32 = 0;
const T_OUT: u32 = 1;
const T_FLUSH: u32 = 4;

bitflags! {
    /// The feature bits this driver asks for.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    struct Features: u64 {
        const BLK_SIZE = 1 << 6;
        const RO = 1 << 5;
        const FLUSH = 1 << 9;
        const INDIRECT_DESC = 1 << 28;
        const EVENT_IDX = 1 << 29;
        const VERSION_1 = 1 << 32;
    }
}

/// Counters of the real device's side ([`VirtioBlkDisk::stats`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DiskStats {
    /// Flushes the real device completed successfully.
    pub flushes: u64,
    /// Read requests completed by the real device.
    pub reads: u64,
    /// Write requests completed by the real device.
    pub writes: u64,
    /// Requests the real device failed.
    pub errors: u64,
    /// Interrupts taken from the real device.
    pub interrupts: u64,
    /// Requests finished while the device was being quiesced (results dropped).
    pub quiesced: u64,
    /// Requests whose data went straight between guest RAM and the device.
    pub zero_copy: u64,
    /// Requests whose data was copied through a bounce buffer.
    pub bounced: u64,
}

/// DMA memory of one request: header (16 bytes) and status byte in the
/// first page, the indirect table in the next [`TABLE_PAGES`], and,
/// without zero-copy, a bounce buffer.
struct Slot {
    meta: DmaRegion,
    bounce: Option<DmaRegion>,
}

impl Slot {
    fn header(&self) -> u64 {
        self.meta.pa
    }
    fn status(&self) -> u64 {
        self.meta.pa + 16
    }
    fn table(&self) -> (usize, u64) {
        (self.meta.va + PAGE_SIZE, self.meta.pa + PAGE_SIZE as u64)
    }
    fn write_header(&self, kind: u32, sector: u64) {
        let mut h = [0u8; 16];
        h[0..4].copy_from_slice(&kind.to_le_bytes());
        h[8..16].copy_from_slice(&sector.to_le_bytes());
        // SAFETY: the slot's first page is DMA memory owned by this slot,
        // which belongs to one request at a time; 0xff marks "not done".
        unsafe {
            core::ptr::copy_nonoverlapping(h.as_ptr(), self.meta.va as *mut u8, 16);
            ((self.meta.va + 16) as *mut u8).write_volatile(0xff);
        }
    }
    fn read_status(&self) -> u8 {
        // SAFETY: as in `write_header`; the device finished with it.
        unsafe { ((self.meta.va + 16) as *const u8).read_volatile() }
    }
}

/// A request at the real device.
struct Outstanding {
    slot: usize,
    tag: u32,
    op: BlockOp,
    bounced: bool,
}

/// Guest RAM the device may reach directly: guest-physical `[gpa, gpa +
/// len)` is host-physical `[pa, pa + len)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DirectRam {
    /// Guest-physical base.
    pub gpa: u64,
    /// Bytes.
    pub len: u64,
    /// Host-physical base.
    pub pa: u64,
}

/// QEMU's `virtio-blk-device` as a [`BlockBackend`].
pub struct VirtioBlkDisk<T: Transport> {
    transport: T,
    queue: DriverQueue,
    info: BlockInfo,
    slots: Vec<Slot>,
    free: Vec<usize>,
    /// By ring head.
    outstanding: BTreeMap<u16, Outstanding>,
    direct: Option<DirectRam>,
    stats: DiskStats,
}

/// Why the disk could not be set up.
#[derive(Debug)]
pub enum DiskError {
    /// Not a block device.
    NotBlock(DeviceType),
    /// The device lacks a feature this driver needs.
    Missing(&'static str),
    /// The virtio layer refused (config space).
    Virtio(virtio_drivers::Error),
}

impl core::fmt::Display for DiskError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            DiskError::NotBlock(t) => write!(f, "device type {t:?} is not a block device"),
            DiskError::Missing(what) => write!(f, "the device does not offer {what}"),
            DiskError::Virtio(e) => write!(f, "virtio: {e}"),
        }
    }
}

impl From<virtio_drivers::Error> for DiskError {
    fn from(e: virtio_drivers::Error) -> Self {
        DiskError::Virtio(e)
    }
}

fn dma<H: Hal>(pages: usize) -> DmaRegion {
    let (pa, va) = H::dma_alloc(pages, BufferDirection::Both);
    DmaRegion {
        va: va.as_ptr() as usize,
        pa,
        len: pages * PAGE_SIZE,
    }
}

impl<T: Transport> VirtioBlkDisk<T> {
    /// Initialises the device behind `transport` (reset, features, one
    /// queue) with DMA memory from `H`. With `direct`, requests whose data
    /// lies in that 1:1 guest RAM go to the device without copies;
    /// otherwise every request is bounced.
    pub fn new<H: Hal>(mut transport: T, direct: Option<DirectRam>) -> Result<Self, DiskError> {
        if transport.device_type() != DeviceType::Block {
            return Err(DiskError::NotBlock(transport.device_type()));
        }
        let want = Features::BLK_SIZE
            | Features::RO
            | Features::FLUSH
            | Features::INDIRECT_DESC
            | Features::EVENT_IDX
            | Features::VERSION_1;
        let f = transport.begin_init(want);
        if !f.contains(Features::INDIRECT_DESC) {
            return Err(DiskError::Missing("indirect descriptors"));
        }
        let capacity = transport.read_consistent(|| {
            let lo: u32 = transport.read_config_space(0)?;
            let hi: u32 = transport.read_config_space(4)?;
            Ok(u64::from(lo) | (u64::from(hi) << 32))
        })?;
        let blk_size = if f.contains(Features::BLK_SIZE) {
            transport.read_config_space::<u32>(20)?
        } else {
            SECTOR_SIZE as u32
        };
        if (transport.max_queue_size(0) as u16) < QUEUE_SIZE || transport.queue_used(0) {
            return Err(DiskError::Missing("a free request queue of 64 entries"));
        }
        let ring = dma::<H>(DriverQueue::ring_bytes(QUEUE_SIZE) / PAGE_SIZE);
        let queue = DriverQueue::new(ring, QUEUE_SIZE, f.contains(Features::EVENT_IDX));
        let (d, a, u) = queue.areas();
        transport.queue_set(0, u32::from(QUEUE_SIZE), d as _, a as _, u as _);
        transport.finish_init();
        // Small pages first, so the 1 MiB buffers pack the pool's frames.
        let metas: Vec<DmaRegion> = (0..SLOTS).map(|_| dma::<H>(1 + TABLE_PAGES)).collect();
        let slots = metas
            .into_iter()
            .map(|meta| Slot {
                meta,
                bounce: direct.is_none().then(|| dma::<H>(MAX_REQUEST / PAGE_SIZE)),
            })
            .collect();
        let info = BlockInfo {
            capacity,
            blk_size: if blk_size >= 512 && blk_size.is_power_of_two() {
                blk_size
            } else {
                512
            },
            read_only: f.contains(Features::RO),
            flush: f.contains(Features::FLUSH),
            max_request: MAX_REQUEST as u32,
        };
        Ok(Self {
            transport,
            queue,
            info,
            free: (0..SLOTS).rev().collect(),
            slots,
            outstanding: BTreeMap::new(),
            direct,
            stats: DiskStats::default(),
        })
    }

    /// Counters.
    pub fn stats(&self) -> DiskStats {
        self.stats
    }

    /// Requests outstanding at the real device now.
    pub fn outstanding(&self) -> usize {
        self.outstanding.len()
    }

    /// Fills the slot's indirect table (header, `data`, status) and makes
    /// the request available.
    fn start(
        &mut self,
        slot: usize,
        o: Outstanding,
        kind: u32,
        sector: u64,
        data: &[(u64, u32)],
    ) -> Submitted {
        let s = &self.slots[slot];
        s.write_header(kind, sector);
        let data_flag = if kind == T_IN { VIRTQ_DESC_F_WRITE } else { 0 };
        let mut descs = Vec::with_capacity(data.len() + 2);
        descs.push((s.header(), 16, 0));
        descs.extend(data.iter().map(|&(pa, len)| (pa, len, data_flag)));
        descs.push((s.status(), 1, VIRTQ_DESC_F_WRITE));
        let (tva, tpa) = s.table();
        let n = descs.len();
        for (i, &(pa, len, flags)) in descs.iter().enumerate() {
            let next = if i + 1 < n { VIRTQ_DESC_F_NEXT } else { 0 };
            let d = Descriptor::new(pa, len, flags | next, (i + 1) as u16);
            // SAFETY: n <= TABLE entries of the slot's table pages.
            unsafe { ((tva + 16 * i) as *mut Descriptor).write_volatile(d) };
        }
        let Some(head) = self.queue.push_indirect(tpa, n as u16) else {
            self.free.push(slot);
            return Submitted::Busy;
        };
        self.outstanding.insert(head, o);
        if self.queue.should_notify() {
            self.transport.notify(0);
        }
        Submitted::Started
    }

    /// Takes one finished request off the queue; `None` when none is done.
    fn pop_one(&mut self) -> Option<(Outstanding, bool)> {
        let (head, _) = self.queue.pop_used()?;
        let Some(o) = self.outstanding.remove(&head) else {
            log::error!("virtio-blk disk: device returned head {head} with no request");
            return None;
        };
        let st = self.slots[o.slot].read_status();
        let ok = st == 0;
        if !ok && self.stats.errors < 4 {
            log::warn!(
                "virtio-blk disk: {:?} failed on the device (status {st})",
                o.op
            );
        }
        if ok {
            match o.op {
                BlockOp::Read { .. } => self.stats.reads += 1,
                BlockOp::Write { .. } => self.stats.writes += 1,
                BlockOp::Flush => self.stats.flushes += 1,
            }
        } else {
            self.stats.errors += 1;
        }
        Some((o, ok))
    }
}

fn kind_of(op: BlockOp) -> (u32, u64, u32) {
    match op {
        BlockOp::Read { sector, len } => (T_IN, sector, len),
        BlockOp::Write { sector, len } => (T_OUT, sector, len),
        BlockOp::Flush => (T_FLUSH, 0, 0),
    }
}

impl<T: Transport> BlockBackend for VirtioBlkDisk<T> {
    fn info(&self) -> BlockInfo {
        self.info
    }

    fn direct_ram(&self) -> Option<(GuestAddress, u64)> {
        self.direct.map(|d| (GuestAddress(d.gpa), d.len))
    }

    fn submit(
        &mut self,
        tag: u32,
        op: BlockOp,
        fill: &mut dyn FnMut(&mut [u8]) -> bool,
    ) -> Submitted {
        let (kind, sector, len) = kind_of(op);
        let Some(slot) = self.free.pop() else {
            return Submitted::Busy;
        };
        let mut data = Vec::new();
        if len > 0 {
            let Some(b) = self.slots[slot].bounce.filter(|b| len as usize <= b.len) else {
                log::warn!("virtio-blk disk: no bounce buffer for {op:?}");
                self.free.push(slot);
                return Submitted::Failed;
            };
            if kind == T_OUT {
                // SAFETY: the bounce buffer belongs to this free slot.
                let buf = unsafe { core::slice::from_raw_parts_mut(b.va as *mut u8, len as usize) };
                if !fill(buf) {
                    self.free.push(slot);
                    return Submitted::Failed;
                }
            }
            data.push((b.pa, len));
        }
        self.stats.bounced += u64::from(len > 0);
        let o = Outstanding {
            slot,
            tag,
            op,
            bounced: true,
        };
        self.start(slot, o, kind, sector, &data)
    }

    fn submit_direct(
        &mut self,
        tag: u32,
        op: BlockOp,
        segments: &[(GuestAddress, u32)],
    ) -> Submitted {
        let Some(d) = self.direct else {
            return Submitted::Failed;
        };
        let (kind, sector, _) = kind_of(op);
        // Translate and merge; anything outside the 1:1 range is refused.
        let mut data: Vec<(u64, u32)> = Vec::with_capacity(segments.len());
        for &(GuestAddress(a), len) in segments {
            let inside = a >= d.gpa
                && a.checked_add(u64::from(len))
                    .is_some_and(|end| end <= d.gpa + d.len);
            if !inside || len == 0 {
                log::warn!("virtio-blk disk: segment {a:#x}+{len:#x} outside 1:1 RAM");
                return Submitted::Failed;
            }
            let pa = a - d.gpa + d.pa;
            match data.last_mut() {
                Some((p, l)) if *p + u64::from(*l) == pa && l.checked_add(len).is_some() => {
                    *l += len
                }
                _ => data.push((pa, len)),
            }
        }
        if data.len() > MAX_SEGMENTS {
            // A guest ignoring seg_max gets IOERR (counted by the model);
            // not a warning, so it cannot flood the console.
            log::debug!(
                "virtio-blk disk: {} segments, more than a table holds",
                data.len()
            );
            return Submitted::Failed;
        }
        let Some(slot) = self.free.pop() else {
            return Submitted::Busy;
        };
        self.stats.zero_copy += 1;
        let o = Outstanding {
            slot,
            tag,
            op,
            bounced: false,
        };
        self.start(slot, o, kind, sector, &data)
    }

    fn complete(&mut self, done: &mut dyn FnMut(u32, bool, &[u8])) {
        if self.transport.ack_interrupt().bits() != 0 {
            self.stats.interrupts += 1;
        }
        while let Some((o, ok)) = self.pop_one() {
            let data: &[u8] = match (o.op, self.slots[o.slot].bounce) {
                (BlockOp::Read { len, .. }, Some(b)) if ok && o.bounced => {
                    // SAFETY: the request is finished; the buffer is the
                    // slot's until it is freed below.
                    unsafe { core::slice::from_raw_parts(b.va as *const u8, len as usize) }
                }
                _ => &[],
            };
            done(o.tag, ok, data);
            self.free.push(o.slot);
        }
    }

    /// Waits for the real device to finish everything outstanding (QEMU
    /// completes queued requests; none is abandoned), dropping the results.
    fn quiesce(&mut self) {
        let mut spins: u64 = 0;
        while !self.outstanding.is_empty() {
            match self.pop_one() {
                Some((o, _)) => {
                    self.stats.quiesced += 1;
                    self.free.push(o.slot);
                }
                None => {
                    spins += 1;
                    if spins.is_power_of_two() && spins >= 1 << 24 {
                        log::warn!(
                            "virtio-blk disk: waiting for {} request(s) to finish",
                            self.outstanding.len()
                        );
                    }
                    core::hint::spin_loop();
                }
            }
        }
        let _ = self.transport.ack_interrupt();
    }
}

/// Offsets of the virtio-mmio slots that hold a device of type `id`, given
/// each slot's first 12 bytes (magic, version, device ID) through `read32`.
///
/// QEMU's `virt` board has 32 slots of 0x200 bytes from 0x0a00_0000; empty
/// ones read device ID 0.
pub fn probe(slots: usize, stride: usize, read32: impl Fn(usize) -> u32, id: u32) -> Vec<usize> {
    (0..slots)
        .filter(|i| {
            let at = i * stride;
            read32(at) == 0x7472_6976 && matches!(read32(at + 4), 1 | 2) && read32(at + 8) == id
        })
        .collect()
}
