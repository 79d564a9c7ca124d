//! The guest's disk backend: QEMU's own `virtio-blk-device`, found by
//! probing the board's virtio-mmio slots and driven from the VMM with the
//! `virtio-drivers` crate (its split queue and MMIO transport, legacy or
//! modern). Requests are non-blocking: up to [`SLOTS`] are outstanding,
//! each with its own DMA buffer, and completions are taken when the real
//! device interrupts.
//!
//! DMA rule: the real device only ever sees addresses of buffers this
//! module allocated with the [`Hal`] (VMM-owned memory). Guest data is
//! copied in and out by the device model ([`sel4vm_devices::block`]); no
//! guest address reaches the device.
//!
//! `virtio_drivers::device::blk::VirtIOBlk` is not used as a whole: its
//! flush is blocking and can only run with no other request outstanding,
//! and it takes indirect descriptors from the heap (not DMA memory). The
//! requests are built here on the crate's `VirtQueue` instead.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::ptr::NonNull;

use bitflags::bitflags;
use sel4vm_devices::block::{BlockBackend, BlockInfo, BlockOp, Submitted, SECTOR_SIZE};
use virtio_drivers::queue::VirtQueue;
use virtio_drivers::transport::{DeviceType, Transport};
use virtio_drivers::{BufferDirection, Hal, PAGE_SIZE};

/// Descriptors of the request queue (3 per request, no indirect tables).
const QUEUE_SIZE: usize = 64;
/// Requests outstanding at the real device at most (one DMA buffer each).
pub const SLOTS: usize = 8;
/// Bytes of one DMA data buffer: the largest request the guest may send.
pub const MAX_REQUEST: usize = 1 << 20;
/// Bytes per slot in the shared header page (16-byte header, status byte).
const META: usize = 32;
const _: () = assert!(SLOTS * META <= PAGE_SIZE);
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
    /// Requests cancelled by a reset (finished on the device, results dropped).
    pub quiesced: u64,
}

/// One DMA buffer set: the request header and status byte, and the data
/// buffer.
#[derive(Clone, Copy)]
struct Slot {
    /// `virtio_blk_req` header (16 bytes) at 0, status byte at 16 ([`META`] bytes).
    meta: NonNull<u8>,
    data: NonNull<u8>,
}

/// The buffers of a request, as given to the queue: header, status, data.
///
/// # Safety
/// The slot must belong to this one request: nothing else may refer to its
/// memory while the returned slices live.
unsafe fn buffers<'a>(s: &Slot, op: BlockOp) -> (&'a mut [u8], &'a mut [u8], &'a mut [u8]) {
    let len = match op {
        BlockOp::Read { len, .. } | BlockOp::Write { len, .. } => len as usize,
        BlockOp::Flush => 0,
    };
    // SAFETY: `meta` is META bytes and `data` MAX_REQUEST bytes (>= len) of
    // DMA memory owned by the slot; the three ranges do not overlap.
    unsafe {
        (
            core::slice::from_raw_parts_mut(s.meta.as_ptr(), 16),
            core::slice::from_raw_parts_mut(s.meta.as_ptr().add(16), 1),
            core::slice::from_raw_parts_mut(s.data.as_ptr(), len),
        )
    }
}

/// A request at the real device.
struct Outstanding {
    slot: usize,
    tag: u32,
    op: BlockOp,
}

/// QEMU's `virtio-blk-device` as a [`BlockBackend`].
pub struct VirtioBlkDisk<H: Hal, T: Transport> {
    transport: T,
    queue: VirtQueue<H, QUEUE_SIZE>,
    info: BlockInfo,
    slots: Vec<Slot>,
    free: Vec<usize>,
    /// By virtqueue token.
    outstanding: BTreeMap<u16, Outstanding>,
    stats: DiskStats,
}

/// Why the disk could not be set up.
#[derive(Debug)]
pub enum DiskError {
    /// Not a block device.
    NotBlock(DeviceType),
    /// The virtio layer refused (queue setup, config space).
    Virtio(virtio_drivers::Error),
}

impl core::fmt::Display for DiskError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            DiskError::NotBlock(t) => write!(f, "device type {t:?} is not a block device"),
            DiskError::Virtio(e) => write!(f, "virtio: {e}"),
        }
    }
}

impl From<virtio_drivers::Error> for DiskError {
    fn from(e: virtio_drivers::Error) -> Self {
        DiskError::Virtio(e)
    }
}

impl<H: Hal, T: Transport> VirtioBlkDisk<H, T> {
    /// Initialises the device behind `transport` (reset, features, one
    /// queue) and allocates the DMA buffers.
    pub fn new(mut transport: T) -> Result<Self, DiskError> {
        if transport.device_type() != DeviceType::Block {
            return Err(DiskError::NotBlock(transport.device_type()));
        }
        let want = Features::BLK_SIZE
            | Features::RO
            | Features::FLUSH
            | Features::EVENT_IDX
            | Features::VERSION_1;
        let f = transport.begin_init(want);
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
        let queue = VirtQueue::new(&mut transport, 0, false, f.contains(Features::EVENT_IDX))?;
        transport.finish_init();
        // Zeroed, page-aligned, never freed: the disk lives as long as the
        // VMM. Headers and status bytes of all slots share one page.
        let (_, metas) = H::dma_alloc(1, BufferDirection::Both);
        let mut slots = Vec::with_capacity(SLOTS);
        for i in 0..SLOTS {
            // SAFETY: SLOTS * META <= one page.
            let meta = unsafe { metas.add(i * META) };
            let (_, data) = H::dma_alloc(MAX_REQUEST / PAGE_SIZE, BufferDirection::Both);
            slots.push(Slot { meta, data });
        }
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

    /// Takes one used request off the queue; `None` when none is done.
    fn pop_one(&mut self) -> Option<(Outstanding, bool)> {
        let token = self.queue.peek_used()?;
        let Some(o) = self.outstanding.remove(&token) else {
            // Cannot happen: every token we add is recorded.
            log::error!("virtio-blk disk: unknown token {token} used by the device");
            return None;
        };
        // SAFETY: the slot is this request's; the buffers are the ones
        // passed to `add` for this token.
        let (hdr, st, data) = unsafe { buffers(&self.slots[o.slot], o.op) };
        let r = unsafe {
            match o.op {
                BlockOp::Read { .. } => self.queue.pop_used(token, &[hdr], &mut [data, st]),
                BlockOp::Write { .. } => self.queue.pop_used(token, &[hdr, data], &mut [st]),
                BlockOp::Flush => self.queue.pop_used(token, &[hdr], &mut [st]),
            }
        };
        let ok = r.is_ok() && st[0] == 0;
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

impl<H: Hal, T: Transport> BlockBackend for VirtioBlkDisk<H, T> {
    fn info(&self) -> BlockInfo {
        self.info
    }

    fn submit(
        &mut self,
        tag: u32,
        op: BlockOp,
        fill: &mut dyn FnMut(&mut [u8]) -> bool,
    ) -> Submitted {
        let (kind, sector, len) = match op {
            BlockOp::Read { sector, len } => (T_IN, sector, len),
            BlockOp::Write { sector, len } => (T_OUT, sector, len),
            BlockOp::Flush => (T_FLUSH, 0, 0),
        };
        if len as usize > MAX_REQUEST {
            return Submitted::Failed;
        }
        let Some(slot) = self.free.pop() else {
            return Submitted::Busy;
        };
        let o = Outstanding { slot, tag, op };
        // SAFETY: the slot was free: nothing else refers to its memory.
        let (hdr, st, data) = unsafe { buffers(&self.slots[o.slot], o.op) };
        hdr[0..4].copy_from_slice(&kind.to_le_bytes());
        hdr[4..8].fill(0);
        hdr[8..16].copy_from_slice(&sector.to_le_bytes());
        st[0] = 0xff;
        if matches!(op, BlockOp::Write { .. }) && !fill(data) {
            self.free.push(slot);
            return Submitted::Failed;
        }
        // SAFETY: the buffers stay untouched until `pop_one` takes this
        // token back (the slot is not free meanwhile).
        let r = unsafe {
            match op {
                BlockOp::Read { .. } => self.queue.add(&[hdr], &mut [data, st]),
                BlockOp::Write { .. } => self.queue.add(&[hdr, data], &mut [st]),
                BlockOp::Flush => self.queue.add(&[hdr], &mut [st]),
            }
        };
        match r {
            Ok(token) => {
                self.outstanding.insert(token, o);
                if self.queue.should_notify() {
                    self.transport.notify(0);
                }
                Submitted::Started
            }
            Err(virtio_drivers::Error::QueueFull) => {
                self.free.push(slot);
                Submitted::Busy
            }
            Err(e) => {
                log::warn!("virtio-blk disk: request not queued: {e}");
                self.free.push(slot);
                Submitted::Failed
            }
        }
    }

    fn complete(&mut self, done: &mut dyn FnMut(u32, bool, &[u8])) {
        if self.transport.ack_interrupt().bits() != 0 {
            self.stats.interrupts += 1;
        }
        while let Some((o, ok)) = self.pop_one() {
            // SAFETY: the request is finished; its slot is ours until freed below.
            let (_, _, data) = unsafe { buffers(&self.slots[o.slot], o.op) };
            let data: &[u8] = match o.op {
                BlockOp::Read { .. } if ok => data,
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
