//! The guest's network backend: QEMU's own `virtio-net-device`, found by
//! probing the board's virtio-mmio slots and driven from the VMM: the
//! `virtio-drivers` crate's MMIO transport for set-up and this crate's
//! [`DriverQueue`] for frames.
//!
//! DMA rule: the real device is only ever given VMM-owned DMA memory. Each
//! receive and transmit descriptor owns one 2 KiB buffer for good; frames
//! are copied between those and the guest's buffers by the device model.
//! A frame is at most 1518 bytes, so a copy costs far less than the exits
//! around it, and no guest address can reach the device.
//!
//! `virtio_drivers::device::net::VirtIONetRaw` is not used: its buffers
//! are slices shared through the `Hal` one call at a time, and a
//! non-blocking receive hands back a token per buffer; here buffers sit at
//! fixed descriptors and a received frame can wait (held) while the guest
//! has no room, without giving its buffer back to the device.

use bitflags::bitflags;
use sel4vm_devices::net::{NetBackend, NetInfo, TxStatus, MAX_FRAME};
use sel4vm_devices::virtio::queue::VIRTQ_DESC_F_WRITE;
use virtio_drivers::transport::{DeviceType, Transport};
use virtio_drivers::{BufferDirection, Hal, PAGE_SIZE};

use crate::vq::{DmaRegion, DriverQueue};

/// Entries of each queue, and buffers of each direction.
pub const QUEUE_SIZE: u16 = 128;
/// Bytes of one frame buffer: header and the largest frame fit.
const BUF: usize = 2048;
/// Queue indices of the real device.
const RX: u16 = 0;
const TX: u16 = 1;
/// 2 MiB frames of DMA memory the NIC needs (rings and 2 × 256 KiB buffers).
pub const DMA_FRAMES: usize = 1;

bitflags! {
    /// The feature bits this driver asks for.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    struct Features: u64 {
        const MAC = 1 << 5;
        const STATUS = 1 << 16;
        const EVENT_IDX = 1 << 29;
        const VERSION_1 = 1 << 32;
    }
}

/// Counters of the real device's side ([`VirtioNetNic::stats`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NicStats {
    /// Frames received from the real device.
    pub rx_frames: u64,
    /// Frames handed to the real device.
    pub tx_frames: u64,
    /// Interrupts taken from the real device.
    pub interrupts: u64,
    /// Received buffers too short to hold a header (a device bug; reposted).
    pub rx_errors: u64,
    /// Transmissions refused because every transmit buffer was in flight.
    pub tx_full: u64,
}

/// Why the NIC could not be set up.
#[derive(Debug)]
pub enum NicError {
    /// Not a network device.
    NotNet(DeviceType),
    /// The device lacks something this driver needs.
    Missing(&'static str),
    /// The virtio layer refused (config space).
    Virtio(virtio_drivers::Error),
}

impl core::fmt::Display for NicError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            NicError::NotNet(t) => write!(f, "device type {t:?} is not a network device"),
            NicError::Missing(what) => write!(f, "the device does not offer {what}"),
            NicError::Virtio(e) => write!(f, "virtio: {e}"),
        }
    }
}

impl From<virtio_drivers::Error> for NicError {
    fn from(e: virtio_drivers::Error) -> Self {
        NicError::Virtio(e)
    }
}

fn dma<H: Hal>(bytes: usize) -> DmaRegion {
    let pages = bytes.div_ceil(PAGE_SIZE);
    let (pa, va) = H::dma_alloc(pages, BufferDirection::Both);
    DmaRegion {
        va: va.as_ptr() as usize,
        pa,
        len: pages * PAGE_SIZE,
    }
}

/// QEMU's `virtio-net-device` as a [`NetBackend`].
pub struct VirtioNetNic<T: Transport> {
    transport: T,
    rx: DriverQueue,
    tx: DriverQueue,
    /// Buffer `i` belongs to descriptor `i` of its queue.
    rx_bufs: DmaRegion,
    tx_bufs: DmaRegion,
    /// Bytes of the virtio header the device uses (12 modern, 10 legacy).
    hdr: usize,
    /// A received frame the guest had no room for: `(descriptor, length)`.
    held: Option<(u16, u32)>,
    info: NetInfo,
    stats: NicStats,
}

impl<T: Transport> VirtioNetNic<T> {
    /// Initialises the device behind `transport` (reset, features, both
    /// queues) with DMA memory from `H`, and posts every receive buffer.
    pub fn new<H: Hal>(mut transport: T) -> Result<Self, NicError> {
        if transport.device_type() != DeviceType::Network {
            return Err(NicError::NotNet(transport.device_type()));
        }
        let f = transport.begin_init(
            Features::MAC | Features::STATUS | Features::EVENT_IDX | Features::VERSION_1,
        );
        if !f.contains(Features::MAC) {
            return Err(NicError::Missing("a MAC address"));
        }
        let mut mac = [0u8; 6];
        for (i, b) in mac.iter_mut().enumerate() {
            *b = transport.read_config_space::<u8>(i)?;
        }
        let link_up =
            !f.contains(Features::STATUS) || transport.read_config_space::<u16>(6)? & 1 != 0;
        for q in [RX, TX] {
            if (transport.max_queue_size(q) as u16) < QUEUE_SIZE || transport.queue_used(q) {
                return Err(NicError::Missing("two free queues of 128 entries"));
            }
        }
        let event_idx = f.contains(Features::EVENT_IDX);
        let ring = DriverQueue::ring_bytes(QUEUE_SIZE);
        let mut rx = DriverQueue::new(dma::<H>(ring), QUEUE_SIZE, event_idx);
        let mut tx = DriverQueue::new(dma::<H>(ring), QUEUE_SIZE, event_idx);
        for (q, dq) in [(RX, &rx), (TX, &tx)] {
            let (d, a, u) = dq.areas();
            transport.queue_set(q, u32::from(QUEUE_SIZE), d as _, a as _, u as _);
        }
        transport.finish_init();
        let bufs = usize::from(QUEUE_SIZE) * BUF;
        let rx_bufs = dma::<H>(bufs);
        let tx_bufs = dma::<H>(bufs);
        let hdr = if f.contains(Features::VERSION_1) {
            12
        } else {
            10
        };
        for _ in 0..QUEUE_SIZE {
            rx.push_with(|h| {
                Some((
                    rx_bufs.pa + (usize::from(h) * BUF) as u64,
                    BUF as u32,
                    VIRTQ_DESC_F_WRITE,
                ))
            });
        }
        // Sent frames are reclaimed when the next one goes: an interrupt
        // every half ring is enough to unblock a full one.
        tx.set_interrupt_gap(QUEUE_SIZE / 2);
        transport.notify(RX);
        Ok(Self {
            transport,
            rx,
            tx,
            rx_bufs,
            tx_bufs,
            hdr,
            held: None,
            info: NetInfo { mac, link_up },
            stats: NicStats::default(),
        })
    }

    /// Counters.
    pub fn stats(&self) -> NicStats {
        self.stats
    }

    /// MAC address and link state.
    pub fn info(&self) -> NetInfo {
        self.info
    }

    /// Whether the device used the modern (virtio 1.x) interface.
    pub fn modern(&self) -> bool {
        self.hdr == 12
    }

    fn buf(region: DmaRegion, i: u16) -> (usize, u64) {
        let off = usize::from(i) * BUF;
        (region.va + off, region.pa + off as u64)
    }

    fn reclaim_tx(&mut self) {
        while self.tx.pop_used().is_some() {}
    }

    /// Gives receive buffer `head` back to the device.
    fn repost(&mut self, head: u16) {
        let (_, pa) = Self::buf(self.rx_bufs, head);
        self.rx.push_owned(head, pa, BUF as u32, VIRTQ_DESC_F_WRITE);
    }
}

impl<T: Transport> NetBackend for VirtioNetNic<T> {
    fn info(&self) -> NetInfo {
        self.info
    }

    fn transmit(&mut self, len: usize, fill: &mut dyn FnMut(&mut [u8]) -> bool) -> TxStatus {
        if len > MAX_FRAME || self.hdr + len > BUF {
            return TxStatus::Failed;
        }
        self.reclaim_tx();
        if self.tx.outstanding() == usize::from(QUEUE_SIZE) {
            // Full: ask for an interrupt at the next completion (which
            // retries the frame), unless one came meanwhile.
            self.tx.interrupt_after(0);
            self.reclaim_tx();
            if self.tx.outstanding() == usize::from(QUEUE_SIZE) {
                self.stats.tx_full += 1;
                return TxStatus::Busy;
            }
        }
        let (bufs, hdr) = (self.tx_bufs, self.hdr);
        let mut filled = false;
        let pushed = self.tx.push_with(|h| {
            let (va, pa) = Self::buf(bufs, h);
            // SAFETY: the buffer belongs to free descriptor `h`: the device
            // is not using it.
            let b = unsafe { core::slice::from_raw_parts_mut(va as *mut u8, hdr + len) };
            b[..hdr].fill(0);
            filled = fill(&mut b[hdr..]);
            filled.then_some((pa, (hdr + len) as u32, 0))
        });
        if pushed.is_none() {
            return if filled {
                TxStatus::Busy
            } else {
                TxStatus::Failed
            };
        }
        self.stats.tx_frames += 1;
        if self.tx.should_notify() {
            self.transport.notify(TX);
        }
        TxStatus::Sent
    }

    fn receive(&mut self, deliver: &mut dyn FnMut(&[u8]) -> bool) {
        if self.transport.ack_interrupt().bits() != 0 {
            self.stats.interrupts += 1;
        }
        self.reclaim_tx();
        let mut reposted = false;
        while let Some((head, len)) = self.held.take().or_else(|| {
            let u = self.rx.pop_used_owned();
            self.stats.rx_frames += u64::from(u.is_some());
            u
        }) {
            let len = len as usize;
            if len < self.hdr || len > BUF {
                self.stats.rx_errors += 1;
                self.repost(head);
                reposted = true;
                continue;
            }
            let (va, _) = Self::buf(self.rx_bufs, head);
            // SAFETY: the device returned descriptor `head`: its buffer is
            // ours until reposted, and `len` is within it.
            let frame = unsafe {
                core::slice::from_raw_parts((va + self.hdr) as *const u8, len - self.hdr)
            };
            if !deliver(frame) {
                self.held = Some((head, len as u32));
                break;
            }
            self.repost(head);
            reposted = true;
        }
        if reposted && self.rx.should_notify() {
            self.transport.notify(RX);
        }
    }

    /// Nothing the real device holds refers to guest memory; only a frame
    /// waiting for the old driver is dropped.
    fn reset(&mut self) -> u64 {
        match self.held.take() {
            Some((head, _)) => {
                self.repost(head);
                if self.rx.should_notify() {
                    self.transport.notify(RX);
                }
                1
            }
            None => 0,
        }
    }
}
