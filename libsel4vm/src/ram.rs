//! Guest RAM bookkeeping: which guest-physical pages are RAM, which frame
//! (4 KiB or 2 MiB) backs each part, and which pages are allocated (per-page
//! bitmap; allocation granularity stays 4 KiB whatever the frame sizes).

use alloc::vec::Vec;

use bitvec::prelude::{BitVec, Lsb0};

use crate::backend::{FrameHandle, PAGE_BITS, PAGE_SIZE};
use crate::error::{Error, Result};

/// A run of guest RAM with one allocation state.
///
/// Corresponds to `struct vm_ram_region`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RamRegion {
    /// Guest-physical start.
    pub start: u64,
    /// Size in bytes (a multiple of the page size).
    pub size: u64,
    /// Whether the run is allocated (`vm_ram_mark_allocated` / `vm_ram_allocate`).
    pub allocated: bool,
}

/// A contiguous stretch of registered RAM.
pub(crate) struct Extent {
    pub start: u64,
    /// Backing frames in address order (each 4 KiB or 2 MiB).
    pub frames: Vec<FrameHandle>,
    /// Page index (from `start`) at which `frames[i]` begins; strictly
    /// increasing, `first_page[0] == 0`.
    pub first_page: Vec<usize>,
    /// Number of 4 KiB pages in the extent.
    pub pages: usize,
    /// One bit per page: set = allocated.
    alloc: BitVec<usize, Lsb0>,
}

impl Extent {
    fn end(&self) -> u64 {
        self.start + ((self.pages as u64) << PAGE_BITS)
    }

    /// Index of the frame backing page `page` (which must be < `pages`).
    pub fn frame_index(&self, page: usize) -> usize {
        self.first_page.partition_point(|&p| p <= page) - 1
    }

    /// Page index just past frame `i`.
    pub fn frame_end_page(&self, i: usize) -> usize {
        self.first_page.get(i + 1).copied().unwrap_or(self.pages)
    }

    /// Guest address of the start of frame `i`.
    pub fn frame_addr(&self, i: usize) -> u64 {
        self.start + ((self.first_page[i] as u64) << PAGE_BITS)
    }

    /// Appends `other`, which starts where `self` ends.
    fn append(&mut self, other: Extent) {
        let shift = self.pages;
        self.frames.extend(other.frames);
        self.first_page
            .extend(other.first_page.into_iter().map(|p| p + shift));
        self.pages += other.pages;
        self.alloc.extend_from_bitslice(&other.alloc);
    }
}

/// Registered guest RAM: extents kept sorted, adjacent extents merged.
///
/// Corresponds to `vm_mem.ram_regions` / `num_ram_regions`.
#[derive(Default)]
pub struct GuestRam {
    pub(crate) extents: Vec<Extent>,
}

/// Pages needed for `bytes` (rounded up).
fn pages_for(bytes: u64) -> u64 {
    bytes.div_ceil(PAGE_SIZE)
}

impl GuestRam {
    /// Adds RAM at `start` backed by `frames`, given as `(frame, size in
    /// bytes)` in address order (sizes are multiples of the page size). The
    /// caller has checked it does not overlap; neighbours are merged.
    pub(crate) fn insert(&mut self, start: u64, frames: &[(FrameHandle, u64)]) {
        let mut ext = Extent {
            start,
            frames: Vec::with_capacity(frames.len()),
            first_page: Vec::with_capacity(frames.len()),
            pages: 0,
            alloc: BitVec::new(),
        };
        for &(f, size) in frames {
            ext.frames.push(f);
            ext.first_page.push(ext.pages);
            ext.pages += (size >> PAGE_BITS) as usize;
        }
        if ext.pages == 0 {
            return;
        }
        ext.alloc = BitVec::repeat(false, ext.pages);
        let idx = self.extents.partition_point(|e| e.start < start);
        self.extents.insert(idx, ext);
        // Merge with the following extent, then with the preceding one.
        if idx + 1 < self.extents.len() && self.extents[idx].end() == self.extents[idx + 1].start {
            let next = self.extents.remove(idx + 1);
            self.extents[idx].append(next);
        }
        if idx > 0 && self.extents[idx - 1].end() == self.extents[idx].start {
            let cur = self.extents.remove(idx);
            self.extents[idx - 1].append(cur);
        }
    }

    /// Extent index and first page index for a range wholly inside RAM.
    pub(crate) fn locate(&self, addr: u64, size: u64) -> Result<(usize, usize)> {
        let end = addr.checked_add(size).ok_or(Error::Overflow)?;
        let idx = self.extents.partition_point(|e| e.start <= addr);
        let not_ram = Error::NotRam { addr, size };
        if idx == 0 {
            return Err(not_ram);
        }
        let e = &self.extents[idx - 1];
        if addr >= e.end() || end > e.end() {
            return Err(not_ram);
        }
        Ok((idx - 1, ((addr - e.start) >> PAGE_BITS) as usize))
    }

    /// Frame backing the page containing `addr` (a 2 MiB frame covers 512 pages).
    pub fn frame_at(&self, addr: u64) -> Option<FrameHandle> {
        self.backing_at(addr).map(|(f, _, _)| f)
    }

    /// Frame backing `addr` as `(frame, guest address of the frame's start,
    /// frame size in bytes)`.
    pub fn backing_at(&self, addr: u64) -> Option<(FrameHandle, u64, u64)> {
        let (e, p) = self.locate(addr, 1).ok()?;
        let ext = &self.extents[e];
        let i = ext.frame_index(p);
        let size = ((ext.frame_end_page(i) - ext.first_page[i]) as u64) << PAGE_BITS;
        Some((ext.frames[i], ext.frame_addr(i), size))
    }

    /// True if `[addr, addr + size)` is wholly registered RAM.
    pub fn contains(&self, addr: u64, size: u64) -> bool {
        self.locate(addr, size.max(1)).is_ok()
    }

    /// RAM as runs of equal allocation state, in address order.
    pub fn regions(&self) -> Vec<RamRegion> {
        let mut out = Vec::new();
        for e in &self.extents {
            let mut i = 0;
            while i < e.alloc.len() {
                let allocated = e.alloc[i];
                let run = if allocated {
                    e.alloc[i..].first_zero()
                } else {
                    e.alloc[i..].first_one()
                }
                .unwrap_or(e.alloc.len() - i);
                out.push(RamRegion {
                    start: e.start + ((i as u64) << PAGE_BITS),
                    size: (run as u64) << PAGE_BITS,
                    allocated,
                });
                i += run;
            }
        }
        out
    }

    /// Total registered RAM in bytes.
    pub fn total_size(&self) -> u64 {
        self.extents
            .iter()
            .map(|e| (e.pages as u64) << PAGE_BITS)
            .sum()
    }

    /// Marks the pages covering `[start, start + bytes)` allocated.
    pub(crate) fn mark_allocated(&mut self, start: u64, bytes: u64) -> Result<()> {
        if bytes == 0 {
            return Err(Error::ZeroSize);
        }
        let (e, first) = self.locate(start, bytes)?;
        let last = ((start + bytes - 1 - self.extents[e].start) >> PAGE_BITS) as usize;
        self.extents[e].alloc[first..=last].fill(true);
        Ok(())
    }

    /// First-fit allocation of `bytes` (rounded up to pages).
    pub(crate) fn allocate(&mut self, bytes: u64) -> Result<u64> {
        if bytes == 0 {
            return Err(Error::ZeroSize);
        }
        let want = usize::try_from(pages_for(bytes)).map_err(|_| Error::OutOfRam)?;
        for e in &mut self.extents {
            let mut i = 0;
            while let Some(z) = e.alloc[i..].first_zero() {
                let s = i + z;
                let run = e.alloc[s..].first_one().unwrap_or(e.alloc.len() - s);
                if run >= want {
                    e.alloc[s..s + want].fill(true);
                    return Ok(e.start + ((s as u64) << PAGE_BITS));
                }
                i = s + run;
            }
        }
        Err(Error::OutOfRam)
    }

    /// Frees `[start, start + bytes)` (bytes rounded up to pages); all of it
    /// must be allocated, otherwise nothing changes.
    pub(crate) fn free(&mut self, start: u64, bytes: u64) -> Result<()> {
        if bytes == 0 {
            return Err(Error::ZeroSize);
        }
        if !start.is_multiple_of(PAGE_SIZE) {
            return Err(Error::Unaligned(start));
        }
        let size = pages_for(bytes) << PAGE_BITS;
        let (e, first) = self.locate(start, size)?;
        let n = (size >> PAGE_BITS) as usize;
        let ext = &mut self.extents[e];
        if let Some(z) = ext.alloc[first..first + n].first_zero() {
            return Err(Error::NotAllocated(
                ext.start + (((first + z) as u64) << PAGE_BITS),
            ));
        }
        ext.alloc[first..first + n].fill(false);
        Ok(())
    }

    /// Largest run of free pages as `(start, size)`; lowest address on ties.
    pub fn largest_free(&self) -> Option<(u64, u64)> {
        self.regions()
            .into_iter()
            .filter(|r| !r.allocated)
            .fold(None, |best: Option<RamRegion>, r| match best {
                Some(b) if b.size >= r.size => Some(b),
                _ => Some(r),
            })
            .map(|r| (r.start, r.size))
    }
}
