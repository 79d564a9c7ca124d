//! virtio-net (device ID 1, virtio 1.2 §5.1): a receive and a transmit
//! queue over a [`NetBackend`] that moves whole Ethernet frames.
//!
//! Frames are copied between guest buffers and the backend's own buffers,
//! so a backend (a real NIC doing DMA) never sees a guest address. The
//! features are the plain ones: `MAC` and `STATUS`, no checksum offload,
//! no segmentation offload, no mergeable receive buffers, so every frame
//! fits one guest buffer and is at most [`MAX_FRAME`] bytes. Notification
//! suppression (`EVENT_IDX`) comes from the transport: the driver notifies
//! only when the device asked, and a batch of received frames costs one
//! interrupt.
//!
//! Bad input is dropped and counted, never fatal: a malformed chain goes
//! back to the driver unused (the device keeps running, unlike a
//! malformed ring, which needs a reset), a frame above the maximum is not
//! sent or not delivered.
//!
//! Corresponds to libvmm's `virtio/net.c` (`virtio_net_handle_tx`,
//! `virtio_net_handle_rx`; there the backend is an sDDF network queue) and
//! to libsel4vmmplatsupport's `virtio_net` emulation.

use sel4vm::GuestBytes;

use crate::virtio::queue::{Chain, Expect, Popped, Queue, QueueError};
use crate::virtio::VirtioDevice;

/// Device ID of a network device (virtio 1.2 §5).
pub const VIRTIO_ID_NET: u32 = 1;
/// Feature: `mac` in configuration space is valid.
pub const VIRTIO_NET_F_MAC: u32 = 5;
/// Feature: `status` in configuration space is valid.
pub const VIRTIO_NET_F_STATUS: u32 = 16;
/// `status` bit: the link is up.
pub const VIRTIO_NET_S_LINK_UP: u16 = 1;
/// Bytes of `struct virtio_net_hdr` with `VIRTIO_F_VERSION_1` (it always
/// carries `num_buffers`).
pub const NET_HDR_LEN: usize = 12;
/// Largest frame without offloads: Ethernet header, an 802.1Q tag and a
/// 1500-byte payload (Linux sizes its receive buffers for exactly this).
pub const MAX_FRAME: usize = 14 + 4 + 1500;
/// Smallest frame accepted for transmission: an Ethernet header.
pub const MIN_FRAME: usize = 14;
/// `QueueNumMax` of both queues.
pub const QUEUE_SIZE: u16 = 256;
/// Index of the receive queue.
pub const RX_QUEUE: u16 = 0;
/// Index of the transmit queue.
pub const TX_QUEUE: u16 = 1;

/// What a backend offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NetInfo {
    /// The MAC address the guest uses (`VIRTIO_NET_F_MAC`).
    pub mac: [u8; 6],
    /// Whether the link is up (`VIRTIO_NET_F_STATUS`).
    pub link_up: bool,
}

/// The backend's answer to [`NetBackend::transmit`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxStatus {
    /// Queued for sending; the guest's buffer is free again.
    Sent,
    /// No room now: the frame is retried, in order, after the next
    /// backend notification.
    Busy,
    /// Refused: the frame is dropped and counted as an error.
    Failed,
}

/// A link carrying Ethernet frames: a real NIC behind a driver, a test
/// fake, a loopback.
///
/// Corresponds to the sDDF network queues behind libvmm's virtio-net
/// (`net_enqueue_active` / `net_dequeue_free`) and to the `ethif` backend
/// of libsel4vmmplatsupport.
pub trait NetBackend {
    /// MAC address and link state; read when the model is made.
    fn info(&self) -> NetInfo;
    /// Sends one frame of `len` bytes (no virtio header): `fill` copies it
    /// into the backend's buffer of exactly `len` bytes; if it returns
    /// `false` nothing may be sent and `Failed` is returned.
    fn transmit(&mut self, len: usize, fill: &mut dyn FnMut(&mut [u8]) -> bool) -> TxStatus;
    /// Offers received frames, oldest first, to `deliver`. When it returns
    /// `false` (the guest has no buffer) that frame and the later ones stay
    /// with the backend until the next call: a full receive ring holds the
    /// link back, as a NIC's flow control does, rather than losing frames
    /// a guest is about to make room for.
    fn receive(&mut self, deliver: &mut dyn FnMut(&[u8]) -> bool);
    /// Forgets frames held for the driver (called on device and VM
    /// reset); returns how many were dropped.
    fn reset(&mut self) -> u64 {
        0
    }
}

/// Counters of the network device ([`Net::stats`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetStats {
    /// Frames delivered into guest buffers.
    pub rx_frames: u64,
    /// Bytes of those frames (without virtio headers).
    pub rx_bytes: u64,
    /// Frames the guest sent that the backend took.
    pub tx_frames: u64,
    /// Bytes of those frames.
    pub tx_bytes: u64,
    /// Received frames dropped: above [`MAX_FRAME`], larger than the
    /// guest's buffer, or arriving while the driver was not running.
    pub rx_dropped: u64,
    /// Frames the guest sent that were dropped: shorter than an Ethernet
    /// header or above [`MAX_FRAME`].
    pub tx_dropped: u64,
    /// Malformed receive chains returned unused.
    pub rx_malformed: u64,
    /// Malformed transmit chains returned unused.
    pub tx_malformed: u64,
    /// Frames the backend refused ([`TxStatus::Failed`]).
    pub tx_errors: u64,
    /// Times the backend was full and the guest's transmission waited.
    pub tx_busy: u64,
    /// Times a received frame waited because the guest had no buffer.
    pub rx_no_buffer: u64,
}

impl NetStats {
    /// All drops: frames and chains that never reached the other side.
    pub fn drops(&self) -> u64 {
        self.rx_dropped + self.tx_dropped + self.rx_malformed + self.tx_malformed
    }
}

impl core::fmt::Display for NetStats {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "rx {} frames {} bytes, tx {} frames {} bytes, dropped rx {} tx {}, malformed rx {} tx {}, \
             tx errors {}, tx busy {}, rx waits {}",
            self.rx_frames,
            self.rx_bytes,
            self.tx_frames,
            self.tx_bytes,
            self.rx_dropped,
            self.tx_dropped,
            self.rx_malformed,
            self.tx_malformed,
            self.tx_errors,
            self.tx_busy,
            self.rx_no_buffer
        )
    }
}

/// The virtio-net device model; wrap it in
/// [`VirtioMmio`](crate::virtio::VirtioMmio) to get an MMIO device.
///
/// Corresponds to libvmm's `struct virtio_net_device` (set up by
/// `virtio_mmio_net_init`). Offers `MAC` and `STATUS`; two queues
/// (receive 0, transmit 1), no control queue.
#[doc(alias = "virtio_net_device")]
pub struct Net<B: NetBackend> {
    backend: B,
    info: NetInfo,
    /// A transmit chain the backend had no room for.
    tx_stalled: Option<Chain>,
    /// A receive chain too small for the frame that was dropped: kept for
    /// the next frame instead of being returned empty.
    rx_spare: Option<Chain>,
    stats: NetStats,
}

impl<B: NetBackend> Net<B> {
    /// A network device over `backend`.
    pub fn new(backend: B) -> Self {
        let info = backend.info();
        Self {
            backend,
            info,
            tx_stalled: None,
            rx_spare: None,
            stats: NetStats::default(),
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

    /// MAC address and link state offered.
    pub fn info(&self) -> NetInfo {
        self.info
    }

    /// Counters.
    pub fn stats(&self) -> NetStats {
        self.stats
    }

    /// Sends one transmit chain; `Ok(false)` when the backend is busy
    /// (the chain is kept for later).
    fn send(
        &mut self,
        q: &mut Queue,
        mem: &mut dyn GuestBytes,
        chain: Chain,
    ) -> Result<bool, QueueError> {
        let total: u64 = chain.readable().iter().map(|s| u64::from(s.len)).sum();
        let frame = total.saturating_sub(NET_HDR_LEN as u64);
        if chain.writable_len() != 0 || total < (NET_HDR_LEN + MIN_FRAME) as u64 {
            self.stats.tx_malformed += 1;
            q.add_used(mem, chain, 0)?;
            return Ok(true);
        }
        if frame > MAX_FRAME as u64 {
            self.stats.tx_dropped += 1;
            q.add_used(mem, chain, 0)?;
            return Ok(true);
        }
        let len = frame as usize;
        let mut copy_err = None;
        let r = {
            let chain = &chain;
            let copy_err = &mut copy_err;
            self.backend
                .transmit(len, &mut |buf: &mut [u8]| match chain.read_bytes(
                    mem,
                    NET_HDR_LEN as u64,
                    buf,
                ) {
                    Ok(n) => n == buf.len(),
                    Err(e) => {
                        *copy_err = Some(e);
                        false
                    }
                })
        };
        if let Some(e) = copy_err {
            return Err(e);
        }
        match r {
            TxStatus::Sent => {
                self.stats.tx_frames += 1;
                self.stats.tx_bytes += len as u64;
            }
            TxStatus::Busy => {
                self.stats.tx_busy += 1;
                self.tx_stalled = Some(chain);
                return Ok(false);
            }
            TxStatus::Failed => self.stats.tx_errors += 1,
        }
        q.add_used(mem, chain, 0)?;
        Ok(true)
    }

    /// Sends what the guest queued, until the queue is empty or the
    /// backend full.
    fn transmit(&mut self, q: &mut Queue, mem: &mut dyn GuestBytes) -> Result<(), QueueError> {
        if let Some(c) = self.tx_stalled.take() {
            if !self.send(q, mem, c)? {
                return Ok(());
            }
        }
        while let Some(p) = q.pop_lenient(mem, Expect::Readable)? {
            match p {
                Popped::Chain(c) => {
                    if !self.send(q, mem, c)? {
                        return Ok(());
                    }
                }
                Popped::Bad { head, error } => {
                    log::debug!("virtio-net: malformed transmit chain: {error}");
                    self.stats.tx_malformed += 1;
                    q.add_used_bad(mem, head)?;
                }
            }
        }
        Ok(())
    }

    /// The next usable receive chain, or `None` when the guest has none.
    fn rx_chain(
        spare: &mut Option<Chain>,
        stats: &mut NetStats,
        q: &mut Queue,
        mem: &mut dyn GuestBytes,
    ) -> Result<Option<Chain>, QueueError> {
        if let Some(c) = spare.take() {
            return Ok(Some(c));
        }
        loop {
            match q.pop_lenient(mem, Expect::Writable)? {
                None => return Ok(None),
                Some(Popped::Chain(c)) if c.writable_len() >= NET_HDR_LEN as u64 => {
                    return Ok(Some(c));
                }
                Some(Popped::Chain(c)) => {
                    stats.rx_malformed += 1;
                    q.add_used(mem, c, 0)?;
                }
                Some(Popped::Bad { head, error }) => {
                    log::debug!("virtio-net: malformed receive chain: {error}");
                    stats.rx_malformed += 1;
                    q.add_used_bad(mem, head)?;
                }
            }
        }
    }

    /// Delivers the backend's frames into the guest's receive buffers.
    /// Without a queue (driver not running) frames are dropped.
    fn receive(
        &mut self,
        q: Option<&mut Queue>,
        mem: &mut dyn GuestBytes,
    ) -> Result<(), QueueError> {
        let stats = &mut self.stats;
        let Some(q) = q.filter(|q| q.is_ready()) else {
            self.backend.receive(&mut |_| {
                stats.rx_dropped += 1;
                true
            });
            return Ok(());
        };
        let spare = &mut self.rx_spare;
        let mut err = None;
        self.backend.receive(&mut |frame| {
            if err.is_some() {
                return false;
            }
            if frame.len() > MAX_FRAME {
                stats.rx_dropped += 1;
                return true;
            }
            let chain = match Self::rx_chain(spare, stats, q, mem) {
                Ok(Some(c)) => c,
                Ok(None) => {
                    stats.rx_no_buffer += 1;
                    return false;
                }
                Err(e) => {
                    err = Some(e);
                    return false;
                }
            };
            if chain.writable_len() < (NET_HDR_LEN + frame.len()) as u64 {
                // The guest's buffers are too small for this frame: drop
                // it, keep the buffer for the next one.
                stats.rx_dropped += 1;
                *spare = Some(chain);
                return true;
            }
            let r = (|| {
                // No offloads: flags, gso_type, hdr_len, gso_size,
                // csum_start, csum_offset zero; num_buffers 1.
                let mut hdr = [0u8; NET_HDR_LEN];
                hdr[10] = 1;
                chain.write_bytes(mem, 0, &hdr)?;
                chain.write_bytes(mem, NET_HDR_LEN as u64, frame)?;
                q.add_used(mem, chain, (NET_HDR_LEN + frame.len()) as u32)
            })();
            match r {
                Ok(()) => {
                    stats.rx_frames += 1;
                    stats.rx_bytes += frame.len() as u64;
                    true
                }
                Err(e) => {
                    err = Some(e);
                    false
                }
            }
        });
        match err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

impl<B: NetBackend> VirtioDevice for Net<B> {
    fn name(&self) -> &str {
        "virtio-net"
    }

    fn device_id(&self) -> u32 {
        VIRTIO_ID_NET
    }

    fn features(&self) -> u64 {
        (1 << VIRTIO_NET_F_MAC) | (1 << VIRTIO_NET_F_STATUS)
    }

    fn num_queues(&self) -> u16 {
        2
    }

    fn queue_max_size(&self, _index: u16) -> u16 {
        QUEUE_SIZE
    }

    fn read_config(&self, offset: u64, data: &mut [u8]) {
        // mac[6], status (le16).
        let mut cfg = [0u8; 8];
        cfg[..6].copy_from_slice(&self.info.mac);
        let status = if self.info.link_up {
            VIRTIO_NET_S_LINK_UP
        } else {
            0
        };
        cfg[6..8].copy_from_slice(&status.to_le_bytes());
        crate::virtio::read_config_bytes(&cfg, offset, data);
    }

    fn queue_notify(
        &mut self,
        index: u16,
        queue: &mut Queue,
        mem: &mut dyn GuestBytes,
    ) -> Result<(), QueueError> {
        match index {
            // New receive buffers: frames held back can go now.
            RX_QUEUE => {
                queue.set_kick_when_empty(true);
                self.receive(Some(queue), mem)
            }
            _ => self.transmit(queue, mem),
        }
    }

    fn notified(
        &mut self,
        _bits: u64,
        queues: Option<&mut [Queue]>,
        mem: &mut dyn GuestBytes,
    ) -> Result<(), QueueError> {
        match queues {
            Some([rx, tx, ..]) => {
                // Receive buffers matter only once the ring ran dry: no
                // exit for each refill.
                rx.set_kick_when_empty(true);
                self.receive(Some(rx), mem)?;
                // The backend may have room again for a waiting frame.
                self.transmit(tx, mem)
            }
            _ => self.receive(None, mem),
        }
    }

    fn reset(&mut self) {
        self.tx_stalled = None;
        self.rx_spare = None;
        self.stats.rx_dropped += self.backend.reset();
    }
}
