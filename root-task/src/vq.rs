//! The driver half of a split virtqueue (virtio 1.2 §2.7) for the devices
//! the VMM drives, in the legacy-compatible layout (descriptor table and
//! available ring, then the used ring on the next page), so one queue
//! works on version 1 and version 2 MMIO transports.
//!
//! A request is one ring descriptor: a single buffer (the NIC's frames),
//! or an indirect table the caller filled, so a request can carry the
//! guest's own segments (up to the table's size) whatever the ring size. Unlike
//! `virtio_drivers::queue::VirtQueue`, buffers are given as physical
//! addresses: the caller decides what the device may reach (its DMA pool,
//! or guest RAM it validated), no slice of VMM memory is needed for them.

use alloc::vec::Vec;
use core::sync::atomic::{fence, Ordering};

use sel4vm_devices::virtio::queue::{need_event, Descriptor, UsedElem, VIRTQ_DESC_F_INDIRECT};

/// Memory the device can reach: a VMM mapping and its physical address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DmaRegion {
    /// VMM virtual address.
    pub va: usize,
    /// Physical address of `va`.
    pub pa: u64,
    /// Bytes.
    pub len: usize,
}

const PAGE: usize = 4096;

/// The driver side of one split virtqueue.
pub struct DriverQueue {
    size: u16,
    ring: DmaRegion,
    avail: usize,
    used: usize,
    free: Vec<u16>,
    avail_idx: u16,
    last_used: u16,
    event_idx: bool,
    /// `avail_idx` when the device was last notified (`EVENT_IDX`).
    kicked_at: u16,
    /// Completions to let pass without an interrupt (`EVENT_IDX`).
    gap: u16,
}

impl DriverQueue {
    /// Bytes of ring memory a queue of `size` entries needs (page multiple).
    pub const fn ring_bytes(size: u16) -> usize {
        let s = size as usize;
        (16 * s + 6 + 2 * s).next_multiple_of(PAGE) + (6 + 8 * s).next_multiple_of(PAGE)
    }

    /// A queue of `size` (a power of two) in `ring` (zeroed here), with
    /// `EVENT_IDX` suppression if negotiated.
    pub fn new(ring: DmaRegion, size: u16, event_idx: bool) -> Self {
        assert!(size.is_power_of_two() && ring.len >= Self::ring_bytes(size));
        // SAFETY: `ring` is device-shared memory owned by this queue.
        unsafe { core::ptr::write_bytes(ring.va as *mut u8, 0, Self::ring_bytes(size)) };
        let avail = 16 * size as usize;
        Self {
            size,
            ring,
            avail,
            used: (avail + 6 + 2 * size as usize).next_multiple_of(PAGE),
            free: (0..size).rev().collect(),
            avail_idx: 0,
            last_used: 0,
            event_idx,
            kicked_at: 0,
            gap: 0,
        }
    }

    /// With `EVENT_IDX`, interrupt only every `gap + 1` completions, for
    /// completions the driver may reap lazily (a NIC's sent frames).
    pub fn set_interrupt_gap(&mut self, gap: u16) {
        self.gap = gap;
        self.interrupt_after(gap);
    }

    /// Number of entries.
    pub fn size(&self) -> u16 {
        self.size
    }

    /// Physical addresses of the descriptor table, available and used rings.
    pub fn areas(&self) -> (u64, u64, u64) {
        let pa = self.ring.pa;
        (pa, pa + self.avail as u64, pa + self.used as u64)
    }

    fn ptr<T>(&self, off: usize) -> *mut T {
        (self.ring.va + off) as *mut T
    }

    fn read_u16(&self, off: usize) -> u16 {
        // SAFETY: `off` is inside the ring (computed from `size`), aligned.
        unsafe { self.ptr::<u16>(off).read_volatile() }
    }

    fn write_u16(&self, off: usize, v: u16) {
        // SAFETY: as in `read_u16`.
        unsafe { self.ptr::<u16>(off).write_volatile(v) }
    }

    /// Makes one buffer available in a single descriptor: `buffer(head)`
    /// gives its `(physical address, length, flags)` for the descriptor
    /// index it will occupy (so a caller can keep one buffer per index), or
    /// `None` to give up. `None` when the ring is full or given up.
    pub fn push_with(
        &mut self,
        buffer: impl FnOnce(u16) -> Option<(u64, u32, u16)>,
    ) -> Option<u16> {
        let head = self.free.pop()?;
        let Some((pa, len, flags)) = buffer(head) else {
            self.free.push(head);
            return None;
        };
        let d = Descriptor::new(pa, len, flags, 0);
        // SAFETY: head < size: inside the descriptor table.
        unsafe { self.ptr::<Descriptor>(16 * head as usize).write_volatile(d) };
        self.publish(head);
        Some(head)
    }

    /// Puts `head` in the available ring and publishes the new index.
    fn publish(&mut self, head: u16) {
        let slot = (self.avail_idx % self.size) as usize;
        self.write_u16(self.avail + 4 + 2 * slot, head);
        // The buffer, the descriptor and the ring entry before the index.
        fence(Ordering::SeqCst);
        self.avail_idx = self.avail_idx.wrapping_add(1);
        self.write_u16(self.avail + 2, self.avail_idx);
    }

    /// Makes a request available: one descriptor for the indirect table of
    /// `entries` descriptors at physical `table`. `None` when the ring is full.
    pub fn push_indirect(&mut self, table: u64, entries: u16) -> Option<u16> {
        let head = self.free.pop()?;
        let d = Descriptor::new(table, 16 * u32::from(entries), VIRTQ_DESC_F_INDIRECT, 0);
        // SAFETY: head < size: inside the descriptor table.
        unsafe { self.ptr::<Descriptor>(16 * head as usize).write_volatile(d) };
        self.publish(head);
        Some(head)
    }

    /// Whether the device wants a notification for what was added since
    /// the last one (`avail_event` with `EVENT_IDX`, else its `NO_NOTIFY`
    /// flag); resets the count.
    pub fn should_notify(&mut self) -> bool {
        // Our index must be visible before the device's state is read.
        fence(Ordering::SeqCst);
        let old = self.kicked_at;
        self.kicked_at = self.avail_idx;
        if self.event_idx {
            let ev = self.read_u16(self.used + 4 + 8 * self.size as usize);
            need_event(ev, self.avail_idx, old)
        } else {
            self.read_u16(self.used) & 1 == 0
        }
    }

    /// The next request the device returned: `(head, bytes written)`.
    pub fn pop_used(&mut self) -> Option<(u16, u32)> {
        let (head, len) = self.pop_used_owned()?;
        self.free.push(head);
        Some((head, len))
    }

    /// As [`DriverQueue::pop_used`], but the caller keeps the descriptor
    /// `head` (it does not return to the free list): give it back to the
    /// device with [`DriverQueue::push_owned`]. For buffers that belong to
    /// one descriptor for good, as a NIC's receive buffers do.
    pub fn pop_used_owned(&mut self) -> Option<(u16, u32)> {
        let idx = self.read_u16(self.used + 2);
        if idx == self.last_used {
            return None;
        }
        // The element after the index that published it.
        fence(Ordering::Acquire);
        let slot = (self.last_used % self.size) as usize;
        // SAFETY: inside the used ring.
        let e: UsedElem = unsafe {
            self.ptr::<UsedElem>(self.used + 4 + 8 * slot)
                .read_volatile()
        };
        self.last_used = self.last_used.wrapping_add(1);
        // used_event: interrupt on the next completion (or after `gap`).
        self.interrupt_after(self.gap);
        let head = e.id.get() as u16;
        if head >= self.size || self.free.contains(&head) {
            // A device bug; never hand back a descriptor twice.
            log::error!("virtqueue: device returned bad head {head}");
            return None;
        }
        Some((head, e.len.get()))
    }

    /// Makes descriptor `head` (taken with [`DriverQueue::pop_used_owned`])
    /// available again with one buffer.
    pub fn push_owned(&mut self, head: u16, pa: u64, len: u32, flags: u16) {
        debug_assert!(head < self.size && !self.free.contains(&head));
        let d = Descriptor::new(pa, len, flags, 0);
        // SAFETY: head < size: inside the descriptor table.
        unsafe { self.ptr::<Descriptor>(16 * head as usize).write_volatile(d) };
        self.publish(head);
    }

    /// With `EVENT_IDX`: ask for an interrupt only once `after` more
    /// requests than now are returned (0: the next one). Without it, the
    /// device interrupts on every completion anyway.
    pub fn interrupt_after(&mut self, after: u16) {
        if self.event_idx {
            let at = self.avail + 4 + 2 * self.size as usize;
            self.write_u16(at, self.last_used.wrapping_add(after));
            fence(Ordering::SeqCst);
        }
    }

    /// Requests made available and not yet returned.
    pub fn outstanding(&self) -> usize {
        self.size as usize - self.free.len()
    }
}
