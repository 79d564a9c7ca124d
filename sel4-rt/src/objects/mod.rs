//! Kernel object and CSpace slot allocation from the untypeds in BootInfo.
//!
//! The planning logic here never talks to the kernel directly: it calls an
//! [`UntypedOps`] implementation, which is the real `seL4_Untyped_Retype` /
//! `seL4_CNode_Delete` on target and [`sim::SimKernel`] in host tests.
//!
//! # Strategy
//!
//! seL4 untypeds allocate with a watermark: each retype places its objects at
//! the watermark aligned up to the object size, and the watermark only goes
//! back to zero once *every* child of that untyped has been deleted. To reuse
//! memory without fighting that rule, untypeds are managed as a buddy system:
//!
//! * An object of at least `2^slab_bits` bytes gets a block (untyped) of exactly
//!   its size. A larger free block is split in halves by retyping two child
//!   untypeds, until one half has the right size. Freeing the object makes the
//!   block free again; when an allocation fails, free sibling halves are merged
//!   back (both child caps deleted, which resets the parent in the kernel).
//! * Smaller objects (endpoints, notifications, TCBs, small CNodes) are packed
//!   into "slab" blocks of `2^slab_bits` bytes following the kernel's watermark
//!   rule; a slab becomes a free block again once all its objects are freed.
//! * Objects at a fixed physical address (device frames, 1:1 guest RAM) split
//!   the free block containing the address towards that address.
//!
//! Best fit (the smallest free block that is large enough) keeps big blocks
//! whole for big requests.

mod kind;
#[cfg(any(test, feature = "sim"))]
pub mod sim;
mod slots;

use alloc::vec::Vec;
use core::fmt;

pub use kind::{
    ObjectKind, HUGE_PAGE_BITS, LARGE_PAGE_BITS, MAX_UNTYPED_BITS, MIN_UNTYPED_BITS, PAGE_BITS,
    SLOT_BITS,
};
pub use slots::SlotAllocator;

/// An error code returned by a kernel invocation.
pub type KernelError = sel4_abi::Error;

/// A slot in the root task's CNode. With the root CNode's guard covering all
/// upper bits, the slot index is also the CPtr.
pub type Slot = u64;

/// Default slab size: one page, enough for two TCBs or 256 endpoints.
pub const DEFAULT_SLAB_BITS: u8 = PAGE_BITS;

/// Kernel operations the allocator needs.
pub trait UntypedOps {
    /// `seL4_Untyped_Retype(untyped, kind, root CNode, depth 0, dest, count)`:
    /// creates `count` objects whose caps go to slots `dest..dest+count` of
    /// the root CNode.
    fn retype(
        &mut self,
        untyped: Slot,
        kind: ObjectKind,
        dest: Slot,
        count: usize,
    ) -> Result<(), KernelError>;

    /// `seL4_CNode_Delete` on a slot of the root CNode.
    fn delete(&mut self, slot: Slot) -> Result<(), KernelError>;
}

/// Allocation failure. Never a panic: callers decide what running out means.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum AllocError {
    /// No free untyped memory can hold an object of `2^size_bits` bytes.
    OutOfMemory {
        /// Size of the failed request.
        size_bits: u8,
    },
    /// No untyped (device or RAM) covers the requested physical address.
    NoDeviceUntyped {
        /// Start of the requested range.
        paddr: u64,
    },
    /// The requested physical range is covered but (partly) allocated already.
    AddressInUse {
        /// Start of the requested range.
        paddr: u64,
    },
    /// No free CNode slot left.
    OutOfSlots,
    /// The request cannot be satisfied as stated (bad size, misaligned
    /// address, kernel object in device memory, ...).
    InvalidRequest(&'static str),
    /// A handle or slot that this allocator did not hand out, or already freed.
    InvalidHandle,
    /// The kernel refused an invocation the allocator planned.
    Kernel(KernelError),
}

impl fmt::Display for AllocError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AllocError::OutOfMemory { size_bits } => {
                write!(f, "out of untyped memory for a 2^{size_bits}-byte object")
            }
            AllocError::NoDeviceUntyped { paddr } => {
                write!(f, "no untyped covers physical address {paddr:#x}")
            }
            AllocError::AddressInUse { paddr } => {
                write!(f, "physical range at {paddr:#x} is already allocated")
            }
            AllocError::OutOfSlots => f.write_str("out of CNode slots"),
            AllocError::InvalidRequest(why) => write!(f, "invalid allocation request: {why}"),
            AllocError::InvalidHandle => f.write_str("unknown or already freed object/slot"),
            AllocError::Kernel(e) => write!(f, "kernel error during allocation: {e}"),
        }
    }
}

impl From<KernelError> for AllocError {
    fn from(e: KernelError) -> Self {
        AllocError::Kernel(e)
    }
}

/// An untyped capability as described by BootInfo (`seL4_UntypedDesc` plus its slot).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct UntypedInfo {
    /// Slot of the untyped cap.
    pub cap: Slot,
    /// Physical base address (aligned to the size).
    pub paddr: u64,
    /// log2 of the size in bytes.
    pub size_bits: u8,
    /// Device memory (only frames and untypeds can be made from it; not zeroed).
    pub is_device: bool,
}

impl UntypedInfo {
    /// One past the last byte.
    pub fn end(&self) -> u64 {
        self.paddr.saturating_add(1u64 << self.size_bits)
    }

    /// Whether `[paddr, paddr + size)` lies inside this untyped.
    pub fn covers(&self, paddr: u64, size: u64) -> bool {
        paddr >= self.paddr && paddr.checked_add(size).is_some_and(|end| end <= self.end())
    }
}

impl From<sel4_abi::UntypedInfo> for UntypedInfo {
    fn from(u: sel4_abi::UntypedInfo) -> Self {
        Self {
            cap: u.cptr.0,
            paddr: u.paddr,
            size_bits: u.size_bits,
            is_device: u.is_device,
        }
    }
}

/// A live object created by [`ObjectAllocator`]. Pass it back to
/// [`ObjectAllocator::free`] to delete it and reuse its memory and slot.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Object {
    /// Slot (= CPtr) holding the object's cap.
    pub cap: Slot,
    /// What was created.
    pub kind: ObjectKind,
    /// Physical address of the object.
    pub paddr: u64,
    block: u32,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum State {
    /// No children in the kernel; available.
    Free,
    /// Retyped into two child untypeds (the halves).
    Split([u32; 2]),
    /// Holds exactly one object of the block's size.
    Object,
    /// Packs small objects; `watermark` mirrors the kernel's free index.
    Slab { watermark: u64, live: u32 },
    /// Arena entry not in use.
    Dead,
}

#[derive(Clone, Copy, Debug)]
struct Block {
    cap: Slot,
    paddr: u64,
    size_bits: u8,
    device: bool,
    state: State,
}

impl Block {
    fn size(&self) -> u64 {
        1u64 << self.size_bits
    }
    fn contains(&self, paddr: u64, size: u64) -> bool {
        paddr >= self.paddr && paddr - self.paddr + size <= self.size()
    }
}

/// Usage counters, for logs and tests.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Stats {
    /// Bytes of RAM untyped handed to the allocator.
    pub ram_total: u64,
    /// Bytes of RAM in free blocks.
    pub ram_free: u64,
    /// Bytes of device untyped handed to the allocator.
    pub device_total: u64,
    /// Free CNode slots.
    pub free_slots: usize,
}

/// Object allocator over the untypeds and empty slots from BootInfo.
///
/// Plays the role of libsel4vka/libsel4allocman for the root task.
pub struct ObjectAllocator {
    blocks: Vec<Block>,
    dead: Vec<u32>,
    /// Free blocks as `(paddr, block)`, sorted by address (RAM and device;
    /// free blocks never overlap). Sorted `Vec`s rather than B-trees: there
    /// are at most a few hundred free blocks (buddies merge on free), and each
    /// B-tree instantiation costs ~2 KB of root-task code.
    free_by_addr: Vec<(u64, u32)>,
    /// Free RAM blocks as `(size_bits, paddr)`, sorted, for best fit.
    ram_free: Vec<(u8, u64)>,
    /// Slab blocks that may still have room.
    slabs: Vec<u32>,
    roots: Vec<UntypedInfo>,
    slots: SlotAllocator,
    slab_bits: u8,
    stats: Stats,
}

impl ObjectAllocator {
    /// Builds the allocator from the untyped list and the empty slot range
    /// `[first_empty, end_empty)` of BootInfo.
    pub fn new(
        untypeds: impl IntoIterator<Item = UntypedInfo>,
        first_empty: Slot,
        end_empty: Slot,
    ) -> Self {
        let mut me = Self {
            blocks: Vec::new(),
            dead: Vec::new(),
            free_by_addr: Vec::new(),
            ram_free: Vec::new(),
            slabs: Vec::new(),
            roots: Vec::new(),
            slots: SlotAllocator::new(first_empty, end_empty),
            slab_bits: DEFAULT_SLAB_BITS,
            stats: Stats::default(),
        };
        for ut in untypeds {
            // Ignore malformed descriptors rather than trusting them.
            if ut.size_bits < MIN_UNTYPED_BITS
                || ut.size_bits > MAX_UNTYPED_BITS
                || ut.paddr & ((1u64 << ut.size_bits) - 1) != 0
            {
                continue;
            }
            me.roots.push(ut);
            if ut.is_device {
                me.stats.device_total += 1 << ut.size_bits;
            } else {
                me.stats.ram_total += 1 << ut.size_bits;
            }
            let id = me.new_block(Block {
                cap: ut.cap,
                paddr: ut.paddr,
                size_bits: ut.size_bits,
                device: ut.is_device,
                state: State::Free,
            });
            me.mark_free(id);
        }
        me
    }

    /// Builds the allocator from BootInfo: all its untypeds and its empty slots.
    pub fn from_bootinfo(bi: &sel4_abi::BootInfoView<'_>) -> Self {
        let empty = bi.empty();
        Self::new(bi.untypeds().map(UntypedInfo::from), empty.start, empty.end)
    }

    /// Changes the slab size (log2 bytes) used for small objects; objects
    /// smaller than this share slabs. Must be called before any allocation.
    pub fn set_slab_bits(&mut self, bits: u8) {
        self.slab_bits = bits.clamp(MIN_UNTYPED_BITS + 1, MAX_UNTYPED_BITS);
    }

    /// Usage counters.
    pub fn stats(&self) -> Stats {
        Stats {
            free_slots: self.slots.free_count(),
            ..self.stats
        }
    }

    /// The untypeds given at construction (those that were well-formed).
    pub fn untypeds(&self) -> &[UntypedInfo] {
        &self.roots
    }

    /// The untyped from BootInfo that covers `[paddr, paddr + size)`, if any.
    pub fn untyped_covering(&self, paddr: u64, size: u64) -> Option<UntypedInfo> {
        self.roots.iter().copied().find(|u| u.covers(paddr, size))
    }

    /// The slot allocator (for caps the caller creates itself: copies, mints).
    pub fn slots(&mut self) -> &mut SlotAllocator {
        &mut self.slots
    }

    /// Takes a free slot.
    pub fn alloc_slot(&mut self) -> Result<Slot, AllocError> {
        self.slots.alloc()
    }

    /// Returns an (empty) slot.
    pub fn free_slot(&mut self, slot: Slot) -> Result<(), AllocError> {
        self.slots.free(slot)
    }

    /// Creates one object of `kind` anywhere in RAM.
    ///
    /// Corresponds to `vka_alloc_object`.
    pub fn alloc(
        &mut self,
        ops: &mut impl UntypedOps,
        kind: ObjectKind,
    ) -> Result<Object, AllocError> {
        if !kind.is_valid() {
            return Err(AllocError::InvalidRequest("object size out of range"));
        }
        self.retry_on_slot_shortage(ops, |me, ops| {
            let bits = kind.size_bits();
            if bits < me.slab_bits {
                me.alloc_small(ops, kind)
            } else {
                let block = me.take_ram_block(ops, bits)?;
                me.retype_whole(ops, block, kind)
            }
        })
    }

    /// Creates one object of `kind` at physical address `paddr` (which must be
    /// aligned to the object size), from device or RAM untypeds.
    ///
    /// Used for device frames and for guest RAM mapped 1:1.
    pub fn alloc_at(
        &mut self,
        ops: &mut impl UntypedOps,
        kind: ObjectKind,
        paddr: u64,
    ) -> Result<Object, AllocError> {
        if !kind.is_valid() {
            return Err(AllocError::InvalidRequest("object size out of range"));
        }
        let bits = kind.size_bits().max(MIN_UNTYPED_BITS);
        let size = 1u64 << bits;
        if paddr & (size - 1) != 0 {
            return Err(AllocError::InvalidRequest(
                "address not aligned to object size",
            ));
        }
        let Some(root) = self.untyped_covering(paddr, size) else {
            return Err(AllocError::NoDeviceUntyped { paddr });
        };
        if root.is_device && !kind.device_ok() {
            return Err(AllocError::InvalidRequest(
                "only frames and untypeds can be made from device memory",
            ));
        }
        self.retry_on_slot_shortage(ops, |me, ops| {
            let mut found = me.free_block_containing(paddr, size);
            if found.is_none() {
                me.coalesce(ops)?;
                found = me.free_block_containing(paddr, size);
            }
            let Some(mut id) = found else {
                return Err(AllocError::AddressInUse { paddr });
            };
            while me.blocks[id as usize].size_bits > bits {
                let [lo, hi] = me.split(ops, id)?;
                id = if me.blocks[hi as usize].paddr <= paddr {
                    hi
                } else {
                    lo
                };
            }
            me.unmark_free(id);
            me.retype_whole(ops, id, kind)
        })
    }

    /// Creates a frame of `2^size_bits` bytes at `paddr` (device or RAM).
    pub fn alloc_device_frame(
        &mut self,
        ops: &mut impl UntypedOps,
        paddr: u64,
        size_bits: u8,
    ) -> Result<Object, AllocError> {
        let kind = ObjectKind::frame(size_bits)
            .ok_or(AllocError::InvalidRequest("no frame object of that size"))?;
        self.alloc_at(ops, kind, paddr)
    }

    /// Deletes the object's cap and makes its memory and slot reusable.
    ///
    /// Any copies of the cap (minted, derived) must have been deleted first:
    /// the kernel only recycles an untyped once all its children are gone.
    pub fn free(&mut self, ops: &mut impl UntypedOps, obj: Object) -> Result<(), AllocError> {
        let Some(block) = self.blocks.get(obj.block as usize).copied() else {
            return Err(AllocError::InvalidHandle);
        };
        if !self.slots.is_allocated(obj.cap) {
            return Err(AllocError::InvalidHandle);
        }
        match block.state {
            State::Object => {
                if block.paddr != obj.paddr {
                    return Err(AllocError::InvalidHandle);
                }
            }
            State::Slab { live, .. } if live > 0 => {}
            _ => return Err(AllocError::InvalidHandle),
        }
        ops.delete(obj.cap)?;
        self.slots.free(obj.cap)?;
        match &mut self.blocks[obj.block as usize].state {
            State::Object => self.mark_free(obj.block),
            State::Slab { live, .. } => {
                *live -= 1;
                self.release_empty_slab(obj.block);
            }
            _ => {}
        }
        Ok(())
    }

    /// Merges free sibling halves back into their parents (deleting the
    /// child untyped caps), largest possible blocks first. Runs automatically
    /// when an allocation would otherwise fail.
    pub fn coalesce(&mut self, ops: &mut impl UntypedOps) -> Result<(), AllocError> {
        // Smallest splits first, so merges cascade upwards in one pass. One
        // scan per size rather than a sort (keeps the slice sort code out of
        // the root task); merging never creates a split.
        let mut sizes = self
            .blocks
            .iter()
            .filter(|b| matches!(b.state, State::Split(_)))
            .map(|b| b.size_bits);
        let Some(first) = sizes.next() else {
            return Ok(());
        };
        let (min, max) = sizes.fold((first, first), |(lo, hi), s| (lo.min(s), hi.max(s)));
        for bits in min..=max {
            for id in 0..self.blocks.len() {
                let b = &self.blocks[id];
                let State::Split(children) = b.state else {
                    continue;
                };
                if b.size_bits == bits {
                    self.merge_children(ops, id as u32, children)?;
                }
            }
        }
        Ok(())
    }

    /// If both `children` of split block `id` are free, deletes them and
    /// frees `id` whole.
    fn merge_children(
        &mut self,
        ops: &mut impl UntypedOps,
        id: u32,
        children: [u32; 2],
    ) -> Result<(), AllocError> {
        if children
            .iter()
            .any(|&c| self.blocks[c as usize].state != State::Free)
        {
            return Ok(());
        }
        for c in children {
            let cap = self.blocks[c as usize].cap;
            ops.delete(cap)?;
            self.unmark_free(c);
            self.slots.free(cap)?;
            self.blocks[c as usize].state = State::Dead;
            self.dead.push(c);
        }
        self.mark_free(id);
        Ok(())
    }

    // --- internals ---

    /// Runs an allocation; if it ran out of slots, merges free blocks (which
    /// returns the slots of their halves) and tries once more. A final slot
    /// shortage also merges, so a failed request leaves no stray splits.
    fn retry_on_slot_shortage<O: UntypedOps>(
        &mut self,
        ops: &mut O,
        f: impl Fn(&mut Self, &mut O) -> Result<Object, AllocError>,
    ) -> Result<Object, AllocError> {
        match f(self, ops) {
            Err(AllocError::OutOfSlots) => {}
            r => return r,
        }
        self.coalesce(ops)?;
        let r = f(self, ops);
        if r == Err(AllocError::OutOfSlots) {
            self.coalesce(ops)?;
        }
        r
    }

    fn new_block(&mut self, b: Block) -> u32 {
        if let Some(id) = self.dead.pop() {
            self.blocks[id as usize] = b;
            id
        } else {
            self.blocks.push(b);
            (self.blocks.len() - 1) as u32
        }
    }

    fn mark_free(&mut self, id: u32) {
        let b = &mut self.blocks[id as usize];
        b.state = State::Free;
        match self.free_by_addr.binary_search_by_key(&b.paddr, |e| e.0) {
            Ok(i) => self.free_by_addr[i].1 = id,
            Err(i) => self.free_by_addr.insert(i, (b.paddr, id)),
        }
        if !b.device {
            if let Err(i) = self.ram_free.binary_search(&(b.size_bits, b.paddr)) {
                self.ram_free.insert(i, (b.size_bits, b.paddr));
            }
            self.stats.ram_free += b.size();
        }
    }

    /// Removes a free block from the free indexes (state is set by the caller).
    fn unmark_free(&mut self, id: u32) {
        let b = self.blocks[id as usize];
        debug_assert_eq!(b.state, State::Free);
        if let Ok(i) = self.free_by_addr.binary_search_by_key(&b.paddr, |e| e.0) {
            self.free_by_addr.remove(i);
        }
        if !b.device {
            if let Ok(i) = self.ram_free.binary_search(&(b.size_bits, b.paddr)) {
                self.ram_free.remove(i);
            }
            self.stats.ram_free -= b.size();
        }
    }

    fn free_block_containing(&self, paddr: u64, size: u64) -> Option<u32> {
        let i = self.free_by_addr.partition_point(|e| e.0 <= paddr);
        let id = self.free_by_addr.get(i.checked_sub(1)?)?.1;
        self.blocks[id as usize].contains(paddr, size).then_some(id)
    }

    fn best_fit(&self, bits: u8) -> Option<u32> {
        let i = self.ram_free.partition_point(|e| *e < (bits, 0));
        let paddr = self.ram_free.get(i)?.1;
        let j = self
            .free_by_addr
            .binary_search_by_key(&paddr, |e| e.0)
            .ok()?;
        Some(self.free_by_addr[j].1)
    }

    /// Takes (unmarks) a free RAM block of exactly `2^bits` bytes, splitting a
    /// larger one if needed.
    fn take_ram_block(&mut self, ops: &mut impl UntypedOps, bits: u8) -> Result<u32, AllocError> {
        let bits = bits.max(MIN_UNTYPED_BITS);
        let mut found = self.best_fit(bits);
        if found.is_none() {
            self.coalesce(ops)?;
            found = self.best_fit(bits);
        }
        let mut id = found.ok_or(AllocError::OutOfMemory { size_bits: bits })?;
        while self.blocks[id as usize].size_bits > bits {
            let [lo, _hi] = self.split(ops, id)?;
            id = lo;
        }
        self.unmark_free(id);
        Ok(id)
    }

    /// Splits free block `id` into two free halves.
    fn split(&mut self, ops: &mut impl UntypedOps, id: u32) -> Result<[u32; 2], AllocError> {
        let parent = self.blocks[id as usize];
        debug_assert_eq!(parent.state, State::Free);
        let half = parent.size_bits - 1;
        if half < MIN_UNTYPED_BITS {
            return Err(AllocError::InvalidRequest("block too small to split"));
        }
        if self.slots.free_count() < 2 {
            return Err(AllocError::OutOfSlots);
        }
        let s0 = self.slots.alloc()?;
        let s1 = self.slots.alloc()?;
        let kind = ObjectKind::Untyped { size_bits: half };
        // Two single retypes: the second lands right after the first because
        // the watermark advances by exactly one half.
        if let Err(e) = ops.retype(parent.cap, kind, s0, 1) {
            self.slots.free(s0)?;
            self.slots.free(s1)?;
            return Err(e.into());
        }
        if let Err(e) = ops.retype(parent.cap, kind, s1, 1) {
            // Undo the first half so the parent has no children again.
            ops.delete(s0)?;
            self.slots.free(s0)?;
            self.slots.free(s1)?;
            return Err(e.into());
        }
        self.unmark_free(id);
        let mut halves = [0u32; 2];
        for (i, slot) in [s0, s1].into_iter().enumerate() {
            let child = self.new_block(Block {
                cap: slot,
                paddr: parent.paddr + ((i as u64) << half),
                size_bits: half,
                device: parent.device,
                state: State::Free,
            });
            self.mark_free(child);
            halves[i] = child;
        }
        self.blocks[id as usize].state = State::Split(halves);
        Ok(halves)
    }

    /// Retypes a taken block (not in the free indexes) into one object that
    /// fills it. On failure the block is returned to the free indexes.
    fn retype_whole(
        &mut self,
        ops: &mut impl UntypedOps,
        id: u32,
        kind: ObjectKind,
    ) -> Result<Object, AllocError> {
        let slot = match self.slots.alloc() {
            Ok(s) => s,
            Err(e) => {
                self.mark_free(id);
                return Err(e);
            }
        };
        let b = self.blocks[id as usize];
        if let Err(e) = ops.retype(b.cap, kind, slot, 1) {
            self.slots.free(slot)?;
            self.mark_free(id);
            return Err(e.into());
        }
        self.blocks[id as usize].state = State::Object;
        Ok(Object {
            cap: slot,
            kind,
            paddr: b.paddr,
            block: id,
        })
    }

    fn alloc_small(
        &mut self,
        ops: &mut impl UntypedOps,
        kind: ObjectKind,
    ) -> Result<Object, AllocError> {
        let size = 1u64 << kind.size_bits();
        let slab_size = 1u64 << self.slab_bits;
        let fit = self.slabs.iter().copied().find_map(|id| {
            let State::Slab { watermark, .. } = self.blocks[id as usize].state else {
                return None;
            };
            let at = watermark.next_multiple_of(size);
            (at + size <= slab_size).then_some((id, at))
        });
        let (id, at) = match fit {
            Some(f) => f,
            None => {
                let id = self.take_ram_block(ops, self.slab_bits)?;
                self.blocks[id as usize].state = State::Slab {
                    watermark: 0,
                    live: 0,
                };
                self.slabs.push(id);
                (id, 0)
            }
        };
        let slot = self
            .slots
            .alloc()
            .inspect_err(|_| self.release_empty_slab(id))?;
        let b = self.blocks[id as usize];
        if let Err(e) = ops.retype(b.cap, kind, slot, 1) {
            self.slots.free(slot)?;
            self.release_empty_slab(id);
            return Err(e.into());
        }
        if let State::Slab { watermark, live } = &mut self.blocks[id as usize].state {
            *watermark = at + size;
            *live += 1;
        }
        Ok(Object {
            cap: slot,
            kind,
            paddr: b.paddr + at,
            block: id,
        })
    }

    /// A slab that ended up with no objects goes back to the free blocks.
    fn release_empty_slab(&mut self, id: u32) {
        if let State::Slab { live: 0, .. } = self.blocks[id as usize].state {
            self.slabs.retain(|&s| s != id);
            self.mark_free(id);
        }
    }
}

#[cfg(test)]
mod tests;
