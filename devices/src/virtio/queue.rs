//! The split virtqueue (virtio 1.2 §2.7), device side: reading the
//! available ring, walking descriptor chains (direct and indirect),
//! writing the used ring, and notification suppression (`EVENT_IDX`).
//!
//! Corresponds to the virtqueue half of libvmm's `virtio/mmio.c` and
//! `virtio/virtq.h`, and to libsel4vmmplatsupport's use of `vq_*` helpers in
//! `virtio_con`. Unlike those, every guest access goes through
//! [`GuestBytes`] and every guest-supplied index, length and address is
//! validated first: a malformed queue is reported as a [`QueueError`],
//! never trusted and never a panic.

use alloc::vec::Vec;
use core::fmt;
use core::sync::atomic::{fence, Ordering};

use sel4vm::{GuestAddress, GuestBytes, GuestBytesExt};
use zerocopy::little_endian::{U16, U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

use super::{VIRTIO_F_EVENT_IDX, VIRTIO_F_INDIRECT_DESC};

/// Descriptor flag: the chain continues at `next`.
pub const VIRTQ_DESC_F_NEXT: u16 = 1;
/// Descriptor flag: the buffer is device-writable (otherwise device-readable).
pub const VIRTQ_DESC_F_WRITE: u16 = 2;
/// Descriptor flag: the buffer holds an indirect descriptor table.
pub const VIRTQ_DESC_F_INDIRECT: u16 = 4;
/// Available-ring flag: the driver asks for no used-buffer interrupts
/// (only meaningful without `EVENT_IDX`).
pub const VIRTQ_AVAIL_F_NO_INTERRUPT: u16 = 1;
/// The largest queue size the split ring allows.
pub const MAX_QUEUE_SIZE: u16 = 32768;

/// One entry of a descriptor table (`struct virtq_desc`), little-endian as
/// in guest memory.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[repr(C)]
pub struct Descriptor {
    /// Guest-physical address of the buffer.
    pub addr: U64,
    /// Length of the buffer in bytes.
    pub len: U32,
    /// `VIRTQ_DESC_F_*`.
    pub flags: U16,
    /// Index of the next descriptor when `VIRTQ_DESC_F_NEXT` is set.
    pub next: U16,
}

impl Descriptor {
    /// A descriptor from host-order fields.
    pub fn new(addr: u64, len: u32, flags: u16, next: u16) -> Self {
        Self {
            addr: addr.into(),
            len: len.into(),
            flags: flags.into(),
            next: next.into(),
        }
    }
}

/// One entry of the used ring (`struct virtq_used_elem`).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[repr(C)]
pub struct UsedElem {
    /// Head index of the returned chain.
    pub id: U32,
    /// Bytes the device wrote into the chain's device-writable buffers.
    pub len: U32,
}

/// Bytes of a descriptor table of `size` entries.
pub const fn desc_table_size(size: u16) -> u64 {
    16 * size as u64
}

/// Bytes of an available ring of `size` entries (flags, idx, ring,
/// used_event).
pub const fn avail_ring_size(size: u16) -> u64 {
    6 + 2 * size as u64
}

/// Bytes of a used ring of `size` entries (flags, idx, ring, avail_event).
pub const fn used_ring_size(size: u16) -> u64 {
    6 + 8 * size as u64
}

/// `vring_need_event` (virtio 1.2 §2.7.10): has `new_idx` moved past
/// `event` since `old`? Both sides use it: the device for used-buffer
/// interrupts, the driver for available-buffer notifications.
pub fn need_event(event: u16, new_idx: u16, old: u16) -> bool {
    new_idx.wrapping_sub(event).wrapping_sub(1) < new_idx.wrapping_sub(old)
}

/// Which buffers a device accepts in the chains of a queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// Only device-readable buffers (e.g. a console's transmitq).
    Readable,
    /// Only device-writable buffers (e.g. a console's receiveq).
    Writable,
    /// Device-readable buffers, then device-writable ones (e.g. block requests).
    Any,
}

/// Why a queue is malformed. Each one makes the transport set
/// `DEVICE_NEEDS_RESET`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum QueueError {
    /// `QueueNum` is zero, not a power of two, or above `QueueNumMax`.
    BadSize {
        /// The size the driver wrote.
        size: u16,
        /// `QueueNumMax`.
        max: u16,
    },
    /// A ring address is not aligned as the split ring requires.
    Misaligned {
        /// Which ring.
        ring: &'static str,
        /// Its address.
        addr: u64,
    },
    /// A ring, table or buffer is not wholly guest RAM.
    NotRam {
        /// Start of the range.
        addr: u64,
        /// Its length.
        len: u64,
    },
    /// The available index moved by more than the queue size.
    AvailIdxJump {
        /// The driver's available index.
        idx: u16,
        /// The next entry the device expected to read.
        next: u16,
    },
    /// A head or `next` index outside the (direct or indirect) table.
    IndexOutOfRange {
        /// The index.
        index: u16,
        /// Entries in the table.
        limit: u16,
    },
    /// More descriptors than the table holds: a loop or an overlong chain.
    ChainTooLong {
        /// Entries in the table.
        limit: u16,
    },
    /// A buffer of length zero.
    ZeroLength {
        /// Descriptor index.
        index: u16,
    },
    /// A device-readable buffer after a device-writable one.
    ReadableAfterWritable {
        /// Descriptor index.
        index: u16,
    },
    /// A buffer in the direction this queue does not carry.
    WrongDirection {
        /// Descriptor index.
        index: u16,
        /// Whether the buffer was device-writable.
        writable: bool,
    },
    /// `VIRTQ_DESC_F_INDIRECT` without `VIRTIO_F_INDIRECT_DESC` negotiated.
    IndirectNotNegotiated,
    /// An indirect descriptor with `VIRTQ_DESC_F_NEXT` also set.
    IndirectWithNext,
    /// An indirect descriptor inside an indirect table.
    NestedIndirect,
    /// An indirect table whose length is zero, not a multiple of 16, or
    /// more entries than the queue size.
    BadIndirectTable {
        /// The table length in bytes.
        len: u32,
    },
    /// A chain was completed after the driver disabled its queue
    /// (`QueueReady = 0`): there is no used ring to return it to.
    NotReady,
}

impl fmt::Display for QueueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::BadSize { size, max } => write!(f, "queue size {size} invalid (max {max})"),
            Self::Misaligned { ring, addr } => write!(f, "{ring} ring at {addr:#x} misaligned"),
            Self::NotRam { addr, len } => write!(f, "[{addr:#x}, +{len:#x}) is not guest RAM"),
            Self::AvailIdxJump { idx, next } => {
                write!(f, "avail idx {idx} jumped too far from {next}")
            }
            Self::IndexOutOfRange { index, limit } => {
                write!(
                    f,
                    "descriptor index {index} out of range (table of {limit})"
                )
            }
            Self::ChainTooLong { limit } => write!(f, "chain longer than {limit} (loop?)"),
            Self::NotReady => f.write_str("buffer completed after the queue was disabled"),
            Self::ZeroLength { index } => write!(f, "descriptor {index} has length 0"),
            Self::ReadableAfterWritable { index } => {
                write!(f, "descriptor {index}: readable buffer after writable one")
            }
            Self::WrongDirection { index, writable } => write!(
                f,
                "descriptor {index}: device-{} buffer in a queue that does not take one",
                if writable { "writable" } else { "readable" }
            ),
            Self::IndirectNotNegotiated => f.write_str("indirect descriptor not negotiated"),
            Self::IndirectWithNext => f.write_str("indirect descriptor with NEXT"),
            Self::NestedIndirect => f.write_str("nested indirect descriptor"),
            Self::BadIndirectTable { len } => write!(f, "indirect table of {len} bytes"),
        }
    }
}

/// One buffer of a chain, already checked to be wholly guest RAM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    /// Guest-physical address.
    pub addr: GuestAddress,
    /// Length in bytes (never 0).
    pub len: u32,
    /// Device-writable (`VIRTQ_DESC_F_WRITE`).
    pub writable: bool,
}

/// What [`Queue::pop_lenient`] took from the available ring.
#[derive(Debug)]
pub enum Popped {
    /// A valid chain.
    Chain(Chain),
    /// A malformed chain, consumed: `head` is its head index, `error` why.
    Bad {
        /// Head descriptor index.
        head: u16,
        /// What is wrong with it.
        error: QueueError,
    },
}

/// A validated descriptor chain taken from the available ring; give it
/// back with [`Queue::add_used`].
#[derive(Debug)]
pub struct Chain {
    head: u16,
    segs: Vec<Segment>,
    readable: usize,
    writable_len: u64,
}

impl Chain {
    /// Head descriptor index (the id that goes into the used ring).
    pub fn head(&self) -> u16 {
        self.head
    }

    /// All buffers in order: readable ones first.
    pub fn segments(&self) -> &[Segment] {
        &self.segs
    }

    /// The device-readable buffers.
    pub fn readable(&self) -> &[Segment] {
        &self.segs[..self.readable]
    }

    /// The device-writable buffers.
    pub fn writable(&self) -> &[Segment] {
        &self.segs[self.readable..]
    }

    /// Total bytes of the device-writable buffers.
    pub fn writable_len(&self) -> u64 {
        self.writable_len
    }

    /// Copies readable bytes starting `skip` bytes into the chain to `buf`;
    /// returns how many were copied (less than `buf.len()` at the end).
    pub fn read_bytes(
        &self,
        mem: &mut dyn GuestBytes,
        skip: u64,
        buf: &mut [u8],
    ) -> Result<usize, QueueError> {
        let mut done = 0;
        for_span(self.readable(), skip, buf.len(), |addr, at, n| {
            let dst = &mut buf[at..at + n];
            mem.read(addr, dst).map_err(|_| QueueError::NotRam {
                addr: addr.0,
                len: n as u64,
            })?;
            done = at + n;
            Ok(())
        })?;
        Ok(done)
    }

    /// Copies `data` into the writable buffers starting `skip` bytes in;
    /// returns how many bytes fitted.
    pub fn write_bytes(
        &self,
        mem: &mut dyn GuestBytes,
        skip: u64,
        data: &[u8],
    ) -> Result<usize, QueueError> {
        let mut done = 0;
        for_span(self.writable(), skip, data.len(), |addr, at, n| {
            mem.write(addr, &data[at..at + n])
                .map_err(|_| QueueError::NotRam {
                    addr: addr.0,
                    len: n as u64,
                })?;
            done = at + n;
            Ok(())
        })?;
        Ok(done)
    }
}

/// Calls `f(addr, offset_in_data, n)` for the pieces of `segs` covering
/// `[skip, skip + len)` of their concatenation.
fn for_span(
    segs: &[Segment],
    mut skip: u64,
    len: usize,
    mut f: impl FnMut(GuestAddress, usize, usize) -> Result<(), QueueError>,
) -> Result<(), QueueError> {
    let mut at = 0usize;
    for s in segs {
        if at == len {
            break;
        }
        let slen = u64::from(s.len);
        if skip >= slen {
            skip -= slen;
            continue;
        }
        let n = ((slen - skip) as usize).min(len - at);
        // In range: the segment was checked to be RAM when the chain was read.
        f(GuestAddress(s.addr.0 + skip), at, n)?;
        at += n;
        skip = 0;
    }
    Ok(())
}

/// Per-queue counters (kept across resets).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueStats {
    /// Chains returned through the used ring.
    pub chains: u64,
    /// Sum of the used lengths (bytes written for the driver).
    pub used_bytes: u64,
}

/// The device side of one split virtqueue: configuration written by the
/// driver through the transport, and the device's ring positions.
///
/// Corresponds to libvmm's `virtio_queue_handler_t` state (`virtq`,
/// `last_idx`, `ready`) in `virtio/mmio.h`.
#[doc(alias = "virtio_queue_handler_t")]
#[derive(Debug)]
pub struct Queue {
    max_size: u16,
    size: u16,
    ready: bool,
    desc: GuestAddress,
    avail: GuestAddress,
    used: GuestAddress,
    event_idx: bool,
    indirect: bool,
    /// Next available-ring entry to read.
    next_avail: u16,
    /// Next used-ring entry to write (the used `idx` we publish).
    next_used: u16,
    /// Used index at the last interrupt decision (`EVENT_IDX`): entries
    /// added since then are checked against `used_event` together, so an
    /// event index the driver moved into that range is not missed.
    signalled_used: u16,
    /// Used entries added since the last interrupt decision.
    added: bool,
    /// With `EVENT_IDX`, ask the driver for a notification only once the
    /// ring ran empty, not for every buffer it adds.
    kick_when_empty: bool,
    /// A recycled segment list, so steady-state chains do not allocate.
    spare: Vec<Segment>,
    stats: QueueStats,
}

impl Queue {
    /// A queue of at most `max_size` entries (clamped to
    /// [`MAX_QUEUE_SIZE`]), not ready.
    pub fn new(max_size: u16) -> Self {
        let max_size = max_size.min(MAX_QUEUE_SIZE);
        Self {
            max_size,
            size: max_size,
            ready: false,
            desc: GuestAddress(0),
            avail: GuestAddress(0),
            used: GuestAddress(0),
            event_idx: false,
            indirect: false,
            next_avail: 0,
            next_used: 0,
            signalled_used: 0,
            added: false,
            kick_when_empty: false,
            spare: Vec::new(),
            stats: QueueStats::default(),
        }
    }

    /// With `EVENT_IDX`: when `on`, the driver is asked to notify only
    /// after the device found the ring empty, not for each buffer it adds
    /// (for a receive queue the device only needs to hear about buffers
    /// while it waits for one). Off by default. Kept across resets.
    pub fn set_kick_when_empty(&mut self, on: bool) {
        self.kick_when_empty = on;
    }

    /// `QueueNumMax`.
    pub fn max_size(&self) -> u16 {
        self.max_size
    }

    /// `QueueNum`: the size the driver chose.
    pub fn size(&self) -> u16 {
        self.size
    }

    /// `QueueReady`.
    pub fn is_ready(&self) -> bool {
        self.ready
    }

    /// Next available-ring index the device will read.
    pub fn next_avail(&self) -> u16 {
        self.next_avail
    }

    /// Used index the device has published.
    pub fn next_used(&self) -> u16 {
        self.next_used
    }

    /// Counters.
    pub fn stats(&self) -> QueueStats {
        self.stats
    }

    /// Ring addresses `(desc, driver/avail, device/used)`.
    pub fn addresses(&self) -> (GuestAddress, GuestAddress, GuestAddress) {
        (self.desc, self.avail, self.used)
    }

    /// Back to the state after a device reset (counters kept).
    pub(crate) fn reset(&mut self) {
        let (max, spare, stats) = (self.max_size, core::mem::take(&mut self.spare), self.stats);
        let kick = self.kick_when_empty;
        *self = Self::new(max);
        self.spare = spare;
        self.stats = stats;
        self.kick_when_empty = kick;
    }

    pub(crate) fn set_size(&mut self, size: u16) {
        self.size = size;
    }

    /// Sets the low (`high == false`) or high half of a ring address:
    /// 0 = descriptor table, 1 = driver area, 2 = device area.
    pub(crate) fn set_addr_half(&mut self, which: u8, high: bool, v: u32) {
        let a = match which {
            0 => &mut self.desc,
            1 => &mut self.avail,
            _ => &mut self.used,
        };
        a.0 = if high {
            (a.0 & 0xffff_ffff) | (u64::from(v) << 32)
        } else {
            (a.0 & !0xffff_ffff) | u64::from(v)
        };
    }

    /// `QueueReady = 1`: validates the configuration against guest RAM.
    pub(crate) fn enable(&mut self, mem: &dyn GuestBytes, features: u64) -> Result<(), QueueError> {
        let size = self.size;
        if size == 0 || !size.is_power_of_two() || size > self.max_size {
            return Err(QueueError::BadSize {
                size,
                max: self.max_size,
            });
        }
        let rings = [
            ("descriptor", self.desc, 16, desc_table_size(size)),
            ("available", self.avail, 2, avail_ring_size(size)),
            ("used", self.used, 4, used_ring_size(size)),
        ];
        for (ring, addr, align, len) in rings {
            if !addr.0.is_multiple_of(align) {
                return Err(QueueError::Misaligned { ring, addr: addr.0 });
            }
            check(mem, addr, len)?;
        }
        self.event_idx = features & (1 << VIRTIO_F_EVENT_IDX) != 0;
        self.indirect = features & (1 << VIRTIO_F_INDIRECT_DESC) != 0;
        self.next_avail = 0;
        self.next_used = 0;
        self.signalled_used = 0;
        self.added = false;
        self.ready = true;
        Ok(())
    }

    /// `QueueReady = 0`.
    pub(crate) fn disable(&mut self) {
        self.ready = false;
    }

    fn read_u16(mem: &mut dyn GuestBytes, addr: GuestAddress) -> Result<u16, QueueError> {
        mem.read_obj::<U16>(addr)
            .map(|v| v.get())
            .map_err(|_| QueueError::NotRam {
                addr: addr.0,
                len: 2,
            })
    }

    fn write_u16(mem: &mut dyn GuestBytes, addr: GuestAddress, v: u16) -> Result<(), QueueError> {
        mem.write_obj(addr, &U16::new(v))
            .map_err(|_| QueueError::NotRam {
                addr: addr.0,
                len: 2,
            })
    }

    fn avail_idx(&self, mem: &mut dyn GuestBytes) -> Result<u16, QueueError> {
        Self::read_u16(mem, at(self.avail, 2)?)
    }

    /// Tells the driver (with `EVENT_IDX`) which available index it should
    /// next notify about.
    fn set_avail_event(&self, mem: &mut dyn GuestBytes, idx: u16) -> Result<(), QueueError> {
        Self::write_u16(mem, at(self.used, 4 + 8 * u64::from(self.size))?, idx)
    }

    /// The head of the next available entry and the available index it
    /// was read under, or `None` when the ring is empty.
    fn next_head(&mut self, mem: &mut dyn GuestBytes) -> Result<Option<(u16, u16)>, QueueError> {
        if !self.ready {
            return Ok(None);
        }
        let mut idx = self.avail_idx(mem)?;
        if idx == self.next_avail {
            if !self.event_idx {
                return Ok(None);
            }
            // Ask for a notification, then look again: the driver may have
            // added a buffer after our read but before seeing avail_event.
            self.set_avail_event(mem, idx)?;
            fence(Ordering::SeqCst);
            idx = self.avail_idx(mem)?;
            if idx == self.next_avail {
                return Ok(None);
            }
        }
        if idx.wrapping_sub(self.next_avail) > self.size {
            return Err(QueueError::AvailIdxJump {
                idx,
                next: self.next_avail,
            });
        }
        // Ring entries and descriptors are read only after the index.
        fence(Ordering::Acquire);
        let slot = u64::from(self.next_avail % self.size);
        let head = Self::read_u16(mem, at(self.avail, 4 + 2 * slot)?)?;
        Ok(Some((head, idx)))
    }

    /// Moves past the entry [`Queue::next_head`] returned.
    fn consume(&mut self, mem: &mut dyn GuestBytes, idx: u16) -> Result<(), QueueError> {
        self.next_avail = self.next_avail.wrapping_add(1);
        if self.event_idx && !self.kick_when_empty {
            self.set_avail_event(mem, idx)?;
        }
        Ok(())
    }

    /// Takes the next chain from the available ring, validated, or `None`
    /// when the ring is empty (or the queue is not ready).
    pub fn pop(
        &mut self,
        mem: &mut dyn GuestBytes,
        expect: Expect,
    ) -> Result<Option<Chain>, QueueError> {
        let Some((head, idx)) = self.next_head(mem)? else {
            return Ok(None);
        };
        let chain = self.walk(mem, head, expect)?;
        self.consume(mem, idx)?;
        Ok(Some(chain))
    }

    /// Like [`Queue::pop`], but a malformed chain is not fatal: it is
    /// consumed and returned as [`Popped::Bad`] (the ring itself must be
    /// sound; a ring that is not is still an error). Give a bad chain back
    /// with [`Queue::add_used_bad`] so the driver can reuse its
    /// descriptors. For devices that drop bad buffers and carry on, as a
    /// NIC drops a bad frame.
    pub fn pop_lenient(
        &mut self,
        mem: &mut dyn GuestBytes,
        expect: Expect,
    ) -> Result<Option<Popped>, QueueError> {
        let Some((head, idx)) = self.next_head(mem)? else {
            return Ok(None);
        };
        let r = self.walk(mem, head, expect);
        self.consume(mem, idx)?;
        Ok(Some(match r {
            Ok(c) => Popped::Chain(c),
            Err(error) => Popped::Bad { head, error },
        }))
    }

    /// Returns a chain [`Queue::pop_lenient`] found malformed, with nothing
    /// written; a head outside the table is not returned (no used entry
    /// could name it).
    pub fn add_used_bad(&mut self, mem: &mut dyn GuestBytes, head: u16) -> Result<(), QueueError> {
        if head >= self.size {
            return Ok(());
        }
        let chain = Chain {
            head,
            segs: core::mem::take(&mut self.spare),
            readable: 0,
            writable_len: 0,
        };
        self.add_used(mem, chain, 0)
    }

    fn walk(
        &mut self,
        mem: &mut dyn GuestBytes,
        head: u16,
        expect: Expect,
    ) -> Result<Chain, QueueError> {
        let mut segs = core::mem::take(&mut self.spare);
        segs.clear();
        match self.walk_into(mem, head, expect, &mut segs) {
            Ok((readable, writable_len)) => Ok(Chain {
                head,
                segs,
                readable,
                writable_len,
            }),
            Err(e) => {
                self.spare = segs;
                Err(e)
            }
        }
    }

    /// Fills `segs`; returns (readable count, writable bytes).
    fn walk_into(
        &self,
        mem: &mut dyn GuestBytes,
        head: u16,
        expect: Expect,
        segs: &mut Vec<Segment>,
    ) -> Result<(usize, u64), QueueError> {
        let mut table = self.desc;
        let mut limit = self.size;
        let mut index = head;
        let mut indirect = false;
        // An indirect table, read once: one guest-memory access instead of
        // one per descriptor (a 1 MiB block request has 258).
        let mut cached: Vec<Descriptor> = Vec::new();
        // Descriptors read from the current table: bounds the walk, so a
        // loop in the `next` links ends as ChainTooLong.
        let mut visited: u16 = 0;
        let mut readable = 0;
        let mut writable_len = 0u64;
        if index >= limit {
            return Err(QueueError::IndexOutOfRange { index, limit });
        }
        loop {
            if visited == limit {
                return Err(QueueError::ChainTooLong { limit });
            }
            visited += 1;
            let d: Descriptor = if indirect {
                cached[usize::from(index)]
            } else {
                let daddr = at(table, 16 * u64::from(index))?;
                mem.read_obj(daddr).map_err(|_| QueueError::NotRam {
                    addr: daddr.0,
                    len: 16,
                })?
            };
            let (addr, len, flags) = (d.addr.get(), d.len.get(), d.flags.get());
            if flags & VIRTQ_DESC_F_INDIRECT != 0 {
                if indirect {
                    return Err(QueueError::NestedIndirect);
                }
                if !self.indirect {
                    return Err(QueueError::IndirectNotNegotiated);
                }
                if flags & VIRTQ_DESC_F_NEXT != 0 {
                    return Err(QueueError::IndirectWithNext);
                }
                if len == 0 || !len.is_multiple_of(16) || len / 16 > u32::from(self.size) {
                    return Err(QueueError::BadIndirectTable { len });
                }
                check(mem, GuestAddress(addr), u64::from(len))?;
                table = GuestAddress(addr);
                limit = (len / 16) as u16;
                cached = Vec::from_iter((0..limit).map(|_| Descriptor::default()));
                mem.read(table, cached.as_mut_slice().as_mut_bytes())
                    .map_err(|_| QueueError::NotRam {
                        addr,
                        len: u64::from(len),
                    })?;
                index = 0;
                visited = 0;
                indirect = true;
                continue;
            }
            if len == 0 {
                return Err(QueueError::ZeroLength { index });
            }
            check(mem, GuestAddress(addr), u64::from(len))?;
            let writable = flags & VIRTQ_DESC_F_WRITE != 0;
            let allowed = match expect {
                Expect::Readable => !writable,
                Expect::Writable => writable,
                Expect::Any => true,
            };
            if !allowed {
                return Err(QueueError::WrongDirection { index, writable });
            }
            if writable {
                writable_len += u64::from(len);
            } else if readable < segs.len() {
                return Err(QueueError::ReadableAfterWritable { index });
            } else {
                readable += 1;
            }
            segs.push(Segment {
                addr: GuestAddress(addr),
                len,
                writable,
            });
            if flags & VIRTQ_DESC_F_NEXT == 0 {
                return Ok((readable, writable_len));
            }
            index = d.next.get();
            if index >= limit {
                return Err(QueueError::IndexOutOfRange { index, limit });
            }
        }
    }

    /// Returns `chain` to the driver with `len` bytes written (clamped to
    /// the chain's writable length) and publishes the used index.
    pub fn add_used(
        &mut self,
        mem: &mut dyn GuestBytes,
        chain: Chain,
        len: u32,
    ) -> Result<(), QueueError> {
        // Disabled since the chain was popped (its size may be 0 by now).
        if !self.ready {
            return Err(QueueError::NotReady);
        }
        let len = len.min(u32::try_from(chain.writable_len).unwrap_or(u32::MAX));
        let slot = u64::from(self.next_used % self.size);
        let eaddr = at(self.used, 4 + 8 * slot)?;
        let elem = UsedElem {
            id: u32::from(chain.head).into(),
            len: len.into(),
        };
        mem.write_obj(eaddr, &elem)
            .map_err(|_| QueueError::NotRam {
                addr: eaddr.0,
                len: 8,
            })?;
        self.spare = chain.segs;
        // The element must be visible before the index that publishes it.
        fence(Ordering::Release);
        self.next_used = self.next_used.wrapping_add(1);
        Self::write_u16(mem, at(self.used, 2)?, self.next_used)?;
        self.added = true;
        self.stats.chains += 1;
        self.stats.used_bytes += u64::from(len);
        Ok(())
    }

    /// Whether the used entries added since the last call warrant a
    /// used-buffer interrupt: `used_event` with `EVENT_IDX`, otherwise the
    /// driver's `VIRTQ_AVAIL_F_NO_INTERRUPT` flag.
    pub fn needs_notification(&mut self, mem: &mut dyn GuestBytes) -> Result<bool, QueueError> {
        if !self.ready || !self.added {
            return Ok(false);
        }
        self.added = false;
        // Our used idx write must be visible before we read the driver's
        // suppression state (the pairing barrier is in the driver).
        fence(Ordering::SeqCst);
        if self.event_idx {
            let (old, new) = (self.signalled_used, self.next_used);
            self.signalled_used = new;
            let event = Self::read_u16(mem, at(self.avail, 4 + 2 * u64::from(self.size))?)?;
            Ok(need_event(event, new, old))
        } else {
            let flags = Self::read_u16(mem, self.avail)?;
            Ok(flags & VIRTQ_AVAIL_F_NO_INTERRUPT == 0)
        }
    }
}

fn at(base: GuestAddress, off: u64) -> Result<GuestAddress, QueueError> {
    base.checked_add(off).ok_or(QueueError::NotRam {
        addr: base.0,
        len: off,
    })
}

fn check(mem: &dyn GuestBytes, addr: GuestAddress, len: u64) -> Result<(), QueueError> {
    mem.check(addr, len)
        .map_err(|_| QueueError::NotRam { addr: addr.0, len })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn need_event_matches_spec_examples() {
        // Driver wants an interrupt once entry 5 is used.
        assert!(need_event(5, 6, 5));
        assert!(need_event(5, 8, 3));
        assert!(!need_event(5, 5, 3));
        assert!(!need_event(5, 9, 6));
        // Wrap-around.
        assert!(need_event(0xffff, 1, 0xfffe));
    }

    use alloc::vec;
    use sel4vm::VecGuestMemory;

    const RAM: u64 = 0x4000_0000;
    const RAM_SIZE: u64 = 0x4000;
    const BUF: u64 = RAM + 0x2000;
    const TABLE: u64 = RAM + 0x3000;
    const F: u16 = VIRTQ_DESC_F_NEXT;
    const W: u16 = VIRTQ_DESC_F_WRITE;
    const I: u16 = VIRTQ_DESC_F_INDIRECT;

    /// Pops the chain at head 0 from a size-4 queue whose table (and an
    /// indirect table at TABLE) hold `descs`, with `avail_idx` published.
    fn pop_with(
        descs: &[(u64, u16, Descriptor)],
        avail_idx: u16,
        expect: Expect,
    ) -> Result<Option<Chain>, QueueError> {
        let mut mem = VecGuestMemory::new(GuestAddress(RAM), RAM_SIZE as usize);
        let mut q = Queue::new(4);
        q.set_size(4);
        q.set_addr_half(0, false, RAM as u32);
        q.set_addr_half(1, false, (RAM + 0x1000) as u32);
        q.set_addr_half(2, false, (RAM + 0x1800) as u32);
        q.enable(&mem, 1 << VIRTIO_F_INDIRECT_DESC).unwrap();
        for &(table, i, d) in descs {
            mem.write_obj(GuestAddress(table + 16 * i as u64), &d)
                .unwrap();
        }
        mem.write_obj(GuestAddress(RAM + 0x1002), &U16::new(avail_idx))
            .unwrap();
        q.pop(&mut mem, expect)
    }

    fn d(addr: u64, len: u32, flags: u16, next: u16) -> Descriptor {
        Descriptor::new(addr, len, flags, next)
    }

    #[test]
    fn each_check_reports_its_own_error() {
        use QueueError::*;
        let past = RAM + RAM_SIZE;
        let cases = vec![
            (
                vec![(RAM, 0, d(BUF, 4, F, 1)), (RAM, 1, d(BUF, 4, F, 0))],
                ChainTooLong { limit: 4 },
            ),
            (
                vec![(RAM, 0, d(BUF, 4, F, 1)), (RAM, 1, d(past, 1, 0, 0))],
                NotRam { addr: past, len: 1 },
            ),
            (
                vec![(RAM, 0, d(past - 2, 4, 0, 0))],
                NotRam {
                    addr: past - 2,
                    len: 4,
                },
            ),
            (vec![(RAM, 0, d(BUF, 0, 0, 0))], ZeroLength { index: 0 }),
            (
                vec![(RAM, 0, d(BUF, 4, W, 0))],
                WrongDirection {
                    index: 0,
                    writable: true,
                },
            ),
            (
                vec![(RAM, 0, d(BUF, 4, F, 7))],
                IndexOutOfRange { index: 7, limit: 4 },
            ),
            (
                vec![(RAM, 0, d(TABLE, 24, I, 0))],
                BadIndirectTable { len: 24 },
            ),
            (
                vec![(RAM, 0, d(TABLE, 80, I, 0))],
                BadIndirectTable { len: 80 },
            ),
            (vec![(RAM, 0, d(TABLE, 16, I | F, 1))], IndirectWithNext),
            (
                vec![(RAM, 0, d(TABLE, 16, I, 0)), (TABLE, 0, d(TABLE, 16, I, 0))],
                NestedIndirect,
            ),
            (
                vec![(RAM, 0, d(TABLE, 32, I, 0)), (TABLE, 0, d(BUF, 4, F, 2))],
                IndexOutOfRange { index: 2, limit: 2 },
            ),
            (
                vec![(RAM, 0, d(past - 16, 32, I, 0))],
                NotRam {
                    addr: past - 16,
                    len: 32,
                },
            ),
        ];
        for (descs, want) in cases {
            assert_eq!(pop_with(&descs, 1, Expect::Readable).unwrap_err(), want);
        }
        let mixed = [(RAM, 0, d(BUF, 4, W | F, 1)), (RAM, 1, d(BUF, 4, 0, 0))];
        assert_eq!(
            pop_with(&mixed, 1, Expect::Any).unwrap_err(),
            ReadableAfterWritable { index: 1 }
        );
        let ok = [(RAM, 0, d(BUF, 4, 0, 0))];
        assert_eq!(
            pop_with(&ok, 5, Expect::Readable).unwrap_err(),
            AvailIdxJump { idx: 5, next: 0 }
        );
        let chain = pop_with(&ok, 4, Expect::Readable).unwrap().unwrap();
        assert_eq!(
            chain.segments(),
            [Segment {
                addr: GuestAddress(BUF),
                len: 4,
                writable: false
            }]
        );
        // An indirect table of exactly the queue size is fine.
        let full: Vec<_> = (0..4u16)
            .map(|i| {
                (
                    TABLE,
                    u64::from(i) as u16,
                    d(BUF, 1, if i < 3 { F } else { 0 }, i + 1),
                )
            })
            .chain([(RAM, 0, d(TABLE, 64, I, 0))])
            .collect();
        assert_eq!(
            pop_with(&full, 1, Expect::Readable)
                .unwrap()
                .unwrap()
                .readable()
                .len(),
            4
        );
    }

    #[test]
    fn ring_sizes() {
        assert_eq!(desc_table_size(256), 4096);
        assert_eq!(avail_ring_size(256), 518);
        assert_eq!(used_ring_size(256), 2054);
        assert_eq!(core::mem::size_of::<Descriptor>(), 16);
        assert_eq!(core::mem::size_of::<UsedElem>(), 8);
    }
}
