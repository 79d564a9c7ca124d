//! virtio-blk (device ID 2, virtio 1.2 §5.2): one request queue over an
//! asynchronous [`BlockBackend`]. Requests are validated here (header,
//! direction, sector range, size, read-only) and handed to the backend as
//! plain operations on a byte range; completions may arrive later and in
//! any order, and are matched to their chains by tag.
//!
//! Corresponds to libvmm's `virtio/block.c` (`virtio_blk_handle_request`,
//! `virtio_blk_handle_resp`; there the backend is an sDDF block queue) and
//! to the virtio-blk of libsel4vmmplatsupport. Data never moves between the
//! backend and guest RAM except through this model's copies, so a backend
//! (a real device doing DMA) never sees a guest address.

use alloc::collections::BTreeMap;

use alloc::vec::Vec;

use sel4vm::{GuestAddress, GuestBytes};

use crate::virtio::queue::{Chain, Expect, Queue, QueueError, Segment};
use crate::virtio::VirtioDevice;

/// Device ID of a block device (virtio 1.2 §5).
pub const VIRTIO_ID_BLOCK: u32 = 2;
/// Feature: `size_max` is valid.
pub const VIRTIO_BLK_F_SIZE_MAX: u32 = 1;
/// Feature: `seg_max` is valid.
pub const VIRTIO_BLK_F_SEG_MAX: u32 = 2;
/// Feature: the device is read-only.
pub const VIRTIO_BLK_F_RO: u32 = 5;
/// Feature: `blk_size` is valid.
pub const VIRTIO_BLK_F_BLK_SIZE: u32 = 6;
/// Feature: the device takes `VIRTIO_BLK_T_FLUSH`.
pub const VIRTIO_BLK_F_FLUSH: u32 = 9;

/// Request types (`struct virtio_blk_req.type`).
pub mod req {
    /// Read.
    pub const IN: u32 = 0;
    /// Write.
    pub const OUT: u32 = 1;
    /// Flush.
    pub const FLUSH: u32 = 4;
    /// Device ID string.
    pub const GET_ID: u32 = 8;
}

/// Request status byte values.
pub mod status {
    /// Success.
    pub const OK: u8 = 0;
    /// The request failed.
    pub const IOERR: u8 = 1;
    /// The request type is not supported.
    pub const UNSUPP: u8 = 2;
}

/// Bytes per sector: virtio-blk addresses in 512-byte units whatever
/// `blk_size` says.
pub const SECTOR_SIZE: u64 = 512;
/// `QueueNumMax` of the request queue.
pub const QUEUE_SIZE: u16 = 512;
/// Bytes of the request header (type, reserved, sector).
const HEADER_LEN: u64 = 16;
/// Length of the `GET_ID` string.
const ID_LEN: usize = 20;
/// Bytes of `struct virtio_blk_config` served: up to `blk_size`.
const CONFIG_LEN: usize = 24;

/// What a backend offers.
///
/// Corresponds to the block configuration libvmm reads from its sDDF
/// storage info (`blk_storage_info_t`: capacity, `read_only`,
/// `sector_size`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockInfo {
    /// Capacity in 512-byte sectors.
    pub capacity: u64,
    /// Reported `blk_size` (the backend's preferred block size; a multiple of 512).
    pub blk_size: u32,
    /// Writes are refused (`VIRTIO_BLK_F_RO`).
    pub read_only: bool,
    /// The backend has a volatile cache that `flush` drains (`VIRTIO_BLK_F_FLUSH`).
    pub flush: bool,
    /// Largest data transfer of one request in bytes (a multiple of 4096):
    /// offered to the guest as `seg_max` × `size_max` (4096).
    pub max_request: u32,
}

/// An operation for the backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockOp {
    /// Read `len` bytes at `sector`.
    Read {
        /// First sector.
        sector: u64,
        /// Bytes (a non-zero multiple of 512).
        len: u32,
    },
    /// Write `len` bytes at `sector`; the data is given through `fill`.
    Write {
        /// First sector.
        sector: u64,
        /// Bytes (a non-zero multiple of 512).
        len: u32,
    },
    /// Make every write completed so far durable.
    Flush,
}

/// The backend's answer to [`BlockBackend::submit`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Submitted {
    /// Started; its completion comes through [`BlockBackend::complete`].
    Started,
    /// No room now (buffers or ring full): the model retries after the
    /// next completion, keeping the request's place.
    Busy,
    /// Refused (e.g. the backend failed): the guest gets `IOERR`.
    Failed,
}

/// An asynchronous block store: a real device behind a driver, a file, a
/// test fake.
///
/// Corresponds to the sDDF block queues behind libvmm's virtio-blk
/// (`blk_enqueue_req` / `blk_dequeue_resp`) and to the `ps_io_ops`
/// storage backend of libsel4vmmplatsupport.
pub trait BlockBackend {
    /// Geometry and capabilities; read once, when the model is made.
    fn info(&self) -> BlockInfo;
    /// Starts `op` under `tag` (unique among outstanding requests). For a
    /// write, `fill` is called once with the backend's buffer of exactly
    /// `len` bytes to copy the data in; if it returns `false` the request
    /// must be dropped and `Failed` returned.
    fn submit(
        &mut self,
        tag: u32,
        op: BlockOp,
        fill: &mut dyn FnMut(&mut [u8]) -> bool,
    ) -> Submitted;
    /// Guest RAM the backend's device can reach itself (zero-copy), as a
    /// guest-physical range: requests whose data lies wholly inside go to
    /// [`BlockBackend::submit_direct`] instead of being copied. `None` (the
    /// default): every request is copied through [`BlockBackend::submit`].
    fn direct_ram(&self) -> Option<(GuestAddress, u64)> {
        None
    }
    /// Starts `op` under `tag` with its data in guest RAM at `segments`
    /// (guest-physical, already checked to be guest RAM inside
    /// [`BlockBackend::direct_ram`]); a read's data lands there, so its
    /// completion carries none.
    fn submit_direct(
        &mut self,
        tag: u32,
        op: BlockOp,
        segments: &[(GuestAddress, u32)],
    ) -> Submitted {
        let _ = (tag, op, segments);
        Submitted::Failed
    }
    /// Hands every finished request to `done(tag, ok, data)` (`data`: what
    /// a copied read returned, empty otherwise), in any order. Called when
    /// the backend signalled the VMM, and after submissions.
    fn complete(&mut self, done: &mut dyn FnMut(u32, bool, &[u8]));
    /// Waits until no request is outstanding and forgets their results:
    /// afterwards nothing the backend does touches a buffer of a request
    /// submitted before. Called on device and VM reset.
    fn quiesce(&mut self);
}

/// Counters of the block device ([`Block::stats`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BlockStats {
    /// Read requests completed successfully.
    pub reads: u64,
    /// Write requests completed successfully.
    pub writes: u64,
    /// Flush requests completed successfully (each after the backend's flush).
    pub flushes: u64,
    /// Bytes read into guest buffers.
    pub read_bytes: u64,
    /// Bytes written from guest buffers.
    pub written_bytes: u64,
    /// Requests answered `IOERR`: backend errors, out of range, too big,
    /// malformed, writes to a read-only disk.
    pub errors: u64,
    /// Requests answered `UNSUPP`.
    pub unsupported: u64,
    /// Times the backend was full and a request waited.
    pub busy: u64,
    /// Requests whose data the backend's device moved itself (zero-copy).
    pub zero_copy: u64,
    /// Requests outstanding at the backend now.
    pub in_flight: u64,
    /// Completions dropped because the device was reset meanwhile.
    pub dropped_completions: u64,
}

/// A request at the backend.
struct Pending {
    chain: Chain,
    /// `Read`/`Write`/`Flush`, for the counters and the data copy.
    op: BlockOp,
    /// The data went directly between guest RAM and the backend's device.
    direct: bool,
}

/// A parsed request waiting for the backend to have room.
struct Stalled {
    chain: Chain,
    op: BlockOp,
}

/// The virtio-blk device model; wrap it in
/// [`VirtioMmio`](crate::virtio::VirtioMmio) to get an MMIO device.
///
/// Corresponds to libvmm's `struct virtio_blk_device` (set up by
/// `virtio_mmio_blk_init`). Offers `SIZE_MAX` (4096), `SEG_MAX`,
/// `BLK_SIZE`, and `RO` and `FLUSH` when the backend has them; requests
/// `IN`, `OUT`, `FLUSH` and `GET_ID`, everything else is `UNSUPP`.
#[doc(alias = "virtio_blk_device")]
pub struct Block<B: BlockBackend> {
    backend: B,
    info: BlockInfo,
    id: [u8; ID_LEN],
    pending: BTreeMap<u32, Pending>,
    stalled: Option<Stalled>,
    next_tag: u32,
    stats: BlockStats,
}

/// `size_max`: one page per segment, so the request size is bounded.
const SIZE_MAX: u32 = 4096;

/// What to do with a popped chain.
enum Parsed {
    /// Send to the backend.
    Backend(BlockOp),
    /// Answer at once with this status (and, for `GET_ID`, the id).
    Now(u8, bool),
}

impl<B: BlockBackend> Block<B> {
    /// A block device over `backend`, reporting `id` (up to 20 bytes) to
    /// `GET_ID`.
    pub fn new(backend: B, id: &str) -> Self {
        let mut info = backend.info();
        info.max_request = info.max_request / SIZE_MAX * SIZE_MAX;
        let mut idb = [0u8; ID_LEN];
        let n = id.len().min(ID_LEN);
        idb[..n].copy_from_slice(&id.as_bytes()[..n]);
        Self {
            backend,
            info,
            id: idb,
            pending: BTreeMap::new(),
            stalled: None,
            next_tag: 0,
            stats: BlockStats::default(),
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

    /// What the device offers (as read from the backend).
    pub fn info(&self) -> BlockInfo {
        self.info
    }

    /// Counters.
    pub fn stats(&self) -> BlockStats {
        BlockStats {
            in_flight: self.pending.len() as u64,
            ..self.stats
        }
    }

    /// `seg_max` offered: enough pages for the largest request, and an
    /// indirect table (segments + header + status) that fits the queue.
    fn seg_max(&self) -> u32 {
        (self.info.max_request / SIZE_MAX).clamp(1, u32::from(QUEUE_SIZE) - 2)
    }

    /// Validates a chain and says what it asks for.
    fn parse(&self, chain: &Chain, mem: &mut dyn GuestBytes) -> Result<Parsed, QueueError> {
        let readable: u64 = chain.readable().iter().map(|s| u64::from(s.len)).sum();
        let writable = chain.writable_len();
        let mut hdr = [0u8; HEADER_LEN as usize];
        // No status byte, or no header: nothing sensible can be answered;
        // the chain goes back with nothing written.
        if writable == 0 || readable < HEADER_LEN {
            return Ok(Parsed::Now(status::IOERR, false));
        }
        chain.read_bytes(mem, 0, &mut hdr)?;
        let kind = u32::from_le_bytes([hdr[0], hdr[1], hdr[2], hdr[3]]);
        let sector = u64::from_le_bytes(hdr[8..16].try_into().unwrap_or([0; 8]));
        let in_range = |len: u64| {
            len != 0
                && len.is_multiple_of(SECTOR_SIZE)
                && len <= u64::from(self.info.max_request)
                && sector
                    .checked_add(len / SECTOR_SIZE)
                    .is_some_and(|end| end <= self.info.capacity)
        };
        Ok(match kind {
            req::IN => {
                let len = writable - 1;
                if readable != HEADER_LEN || !in_range(len) {
                    Parsed::Now(status::IOERR, false)
                } else {
                    Parsed::Backend(BlockOp::Read {
                        sector,
                        len: len as u32,
                    })
                }
            }
            req::OUT => {
                let len = readable - HEADER_LEN;
                if self.info.read_only || writable != 1 || !in_range(len) {
                    Parsed::Now(status::IOERR, false)
                } else {
                    Parsed::Backend(BlockOp::Write {
                        sector,
                        len: len as u32,
                    })
                }
            }
            req::FLUSH if self.info.flush => Parsed::Backend(BlockOp::Flush),
            req::GET_ID => Parsed::Now(status::OK, true),
            _ => Parsed::Now(status::UNSUPP, false),
        })
    }

    /// Writes the status byte (the last writable byte) and returns the chain.
    fn finish(
        q: &mut Queue,
        mem: &mut dyn GuestBytes,
        chain: Chain,
        st: u8,
        used: u32,
    ) -> Result<(), QueueError> {
        let w = chain.writable_len();
        if w > 0 {
            chain.write_bytes(mem, w - 1, &[st])?;
        }
        q.add_used(mem, chain, used)
    }

    fn count_error(&mut self, st: u8) {
        match st {
            status::UNSUPP => self.stats.unsupported += 1,
            status::OK => {}
            _ => self.stats.errors += 1,
        }
    }

    /// The data segments of a request if they may go to the backend
    /// directly: wholly inside its `direct_ram`.
    fn direct_segments(&self, chain: &Chain, op: BlockOp) -> Option<Vec<(GuestAddress, u32)>> {
        let (base, size) = self.backend.direct_ram()?;
        let (segs, skip, len) = match op {
            BlockOp::Read { len, .. } => (chain.writable(), 0, len),
            BlockOp::Write { len, .. } => (chain.readable(), HEADER_LEN, len),
            BlockOp::Flush => return None,
        };
        let out = span(segs, skip, u64::from(len));
        let end = base.0.checked_add(size)?;
        out.iter()
            .all(|&(a, l)| a.0 >= base.0 && a.0 + u64::from(l) <= end)
            .then_some(out)
    }

    /// Hands `op` to the backend; the request back when it is busy.
    fn start(
        &mut self,
        q: &mut Queue,
        mem: &mut dyn GuestBytes,
        chain: Chain,
        op: BlockOp,
    ) -> Result<Option<Stalled>, QueueError> {
        let tag = self.next_tag;
        let mut copy_err = None;
        let direct = self.direct_segments(&chain, op);
        let r = match &direct {
            Some(segs) => self.backend.submit_direct(tag, op, segs),
            None => {
                let chain = &chain;
                let copy_err = &mut copy_err;
                let mut fill = |buf: &mut [u8]| match chain.read_bytes(mem, HEADER_LEN, buf) {
                    Ok(n) if n == buf.len() => true,
                    Ok(_) => false,
                    Err(e) => {
                        *copy_err = Some(e);
                        false
                    }
                };
                self.backend.submit(tag, op, &mut fill)
            }
        };
        if let Some(e) = copy_err {
            return Err(e);
        }
        match r {
            Submitted::Started => {
                self.next_tag = self.next_tag.wrapping_add(1);
                let direct = direct.is_some();
                self.stats.zero_copy += u64::from(direct);
                self.pending.insert(tag, Pending { chain, op, direct });
                Ok(None)
            }
            Submitted::Busy => {
                self.stats.busy += 1;
                Ok(Some(Stalled { chain, op }))
            }
            Submitted::Failed => {
                self.stats.errors += 1;
                Self::finish(q, mem, chain, status::IOERR, 1)?;
                Ok(None)
            }
        }
    }

    /// Pops and starts requests until the queue is empty or the backend full.
    fn process(&mut self, q: &mut Queue, mem: &mut dyn GuestBytes) -> Result<(), QueueError> {
        if let Some(s) = self.stalled.take() {
            if let Some(s) = self.start(q, mem, s.chain, s.op)? {
                self.stalled = Some(s);
                return Ok(());
            }
        }
        while let Some(chain) = q.pop(mem, Expect::Any)? {
            match self.parse(&chain, mem)? {
                Parsed::Backend(op) => {
                    if let Some(s) = self.start(q, mem, chain, op)? {
                        self.stalled = Some(s);
                        return Ok(());
                    }
                }
                Parsed::Now(st, id) => {
                    self.count_error(st);
                    let mut used = 1;
                    if id {
                        let room = (chain.writable_len() - 1).min(ID_LEN as u64) as usize;
                        chain.write_bytes(mem, 0, &self.id[..room])?;
                        used += room as u32;
                    }
                    Self::finish(q, mem, chain, st, used)?;
                }
            }
        }
        Ok(())
    }

    /// Takes the backend's completions and returns their chains.
    fn reap(
        &mut self,
        mut q: Option<&mut Queue>,
        mem: &mut dyn GuestBytes,
    ) -> Result<(), QueueError> {
        let mut err = None;
        let pending = &mut self.pending;
        let stats = &mut self.stats;
        self.backend.complete(&mut |tag, ok, data| {
            let Some(p) = pending.remove(&tag) else {
                log::warn!("virtio-blk: completion for unknown request {tag}");
                return;
            };
            let Some(q) = q.as_deref_mut() else {
                stats.dropped_completions += 1;
                return;
            };
            if err.is_some() {
                return;
            }
            let r = (|| {
                let mut used = 1u32;
                if ok {
                    match p.op {
                        BlockOp::Read { len, .. } => {
                            let n = if p.direct {
                                // Already in the guest's buffers.
                                len as usize
                            } else {
                                let n = data.len().min(len as usize);
                                p.chain.write_bytes(mem, 0, &data[..n])?;
                                n
                            };
                            used += n as u32;
                            stats.reads += 1;
                            stats.read_bytes += n as u64;
                        }
                        BlockOp::Write { len, .. } => {
                            stats.writes += 1;
                            stats.written_bytes += u64::from(len);
                        }
                        BlockOp::Flush => stats.flushes += 1,
                    }
                } else {
                    stats.errors += 1;
                }
                let st = if ok { status::OK } else { status::IOERR };
                Self::finish(q, mem, p.chain, st, used)
            })();
            if let Err(e) = r {
                err = Some(e);
            }
        });
        match err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// The pieces of `segs` covering `[skip, skip + len)` of their concatenation.
fn span(segs: &[Segment], mut skip: u64, len: u64) -> Vec<(GuestAddress, u32)> {
    let mut out = Vec::new();
    let mut left = len;
    for s in segs {
        if left == 0 {
            break;
        }
        let slen = u64::from(s.len);
        if skip >= slen {
            skip -= slen;
            continue;
        }
        let n = (slen - skip).min(left);
        out.push((GuestAddress(s.addr.0 + skip), n as u32));
        left -= n;
        skip = 0;
    }
    out
}

impl<B: BlockBackend> VirtioDevice for Block<B> {
    fn name(&self) -> &str {
        "virtio-blk"
    }

    fn device_id(&self) -> u32 {
        VIRTIO_ID_BLOCK
    }

    fn features(&self) -> u64 {
        let mut f = (1 << VIRTIO_BLK_F_SIZE_MAX)
            | (1 << VIRTIO_BLK_F_SEG_MAX)
            | (1 << VIRTIO_BLK_F_BLK_SIZE);
        if self.info.read_only {
            f |= 1 << VIRTIO_BLK_F_RO;
        }
        if self.info.flush {
            f |= 1 << VIRTIO_BLK_F_FLUSH;
        }
        f
    }

    fn num_queues(&self) -> u16 {
        1
    }

    fn queue_max_size(&self, _index: u16) -> u16 {
        QUEUE_SIZE
    }

    fn read_config(&self, offset: u64, data: &mut [u8]) {
        // capacity, size_max, seg_max, geometry (0), blk_size.
        let mut cfg = [0u8; CONFIG_LEN];
        cfg[0..8].copy_from_slice(&self.info.capacity.to_le_bytes());
        cfg[8..12].copy_from_slice(&SIZE_MAX.to_le_bytes());
        cfg[12..16].copy_from_slice(&self.seg_max().to_le_bytes());
        cfg[20..24].copy_from_slice(&self.info.blk_size.to_le_bytes());
        crate::virtio::read_config_bytes(&cfg, offset, data);
    }

    fn queue_notify(
        &mut self,
        _index: u16,
        queue: &mut Queue,
        mem: &mut dyn GuestBytes,
    ) -> Result<(), QueueError> {
        self.process(queue, mem)?;
        // A synchronous backend finishes at once.
        self.reap(Some(queue), mem)?;
        self.process(queue, mem)
    }

    fn notified(
        &mut self,
        _bits: u64,
        queues: Option<&mut [Queue]>,
        mem: &mut dyn GuestBytes,
    ) -> Result<(), QueueError> {
        match queues.and_then(|q| q.first_mut()) {
            Some(q) => {
                self.reap(Some(q), mem)?;
                // Room again: start what waited, and what came meanwhile.
                self.process(q, mem)
            }
            None => self.reap(None, mem),
        }
    }

    /// In-flight requests are finished or cancelled by the backend before
    /// anything is forgotten, so no late completion reaches a new driver.
    fn reset(&mut self) {
        self.backend.quiesce();
        self.stats.dropped_completions += self.pending.len() as u64;
        self.pending.clear();
        self.stalled = None;
    }
}
