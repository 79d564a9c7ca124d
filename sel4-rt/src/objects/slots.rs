//! Allocator for empty slots of the root task's CNode.

use bitvec::vec::BitVec;

use super::{AllocError, Slot};

/// Hands out slots from a range of empty CNode slots (for the root task,
/// `BootInfo.empty`), with free.
///
/// Corresponds loosely to the slot handling of libsel4vka's simple allocator.
#[derive(Debug, Clone)]
pub struct SlotAllocator {
    start: Slot,
    used: BitVec,
    /// Lowest index that might be free; speeds up the scan.
    hint: usize,
    in_use: usize,
}

impl SlotAllocator {
    /// Manages the half-open range `[start, end)` (all assumed empty).
    pub fn new(start: Slot, end: Slot) -> Self {
        let len = end.saturating_sub(start) as usize;
        Self {
            start,
            used: BitVec::repeat(false, len),
            hint: 0,
            in_use: 0,
        }
    }

    /// First slot of the managed range.
    pub fn start(&self) -> Slot {
        self.start
    }

    /// One past the last slot of the managed range.
    pub fn end(&self) -> Slot {
        self.start + self.used.len() as Slot
    }

    /// Number of free slots.
    pub fn free_count(&self) -> usize {
        self.used.len() - self.in_use
    }

    /// Takes one free slot.
    pub fn alloc(&mut self) -> Result<Slot, AllocError> {
        let idx = self
            .used
            .get(self.hint..)
            .and_then(|free| free.first_zero())
            .map(|i| i + self.hint)
            .ok_or(AllocError::OutOfSlots)?;
        self.mark(idx, true);
        self.in_use += 1;
        self.hint = idx + 1;
        Ok(self.start + idx as Slot)
    }

    /// Takes `count` consecutive free slots and returns the first (for
    /// retypes that create several objects at once).
    pub fn alloc_range(&mut self, count: usize) -> Result<Slot, AllocError> {
        if count == 0 {
            return Err(AllocError::InvalidRequest("zero-length slot range"));
        }
        let mut run = 0;
        for idx in self.hint..self.used.len() {
            if self.used_at(idx) {
                run = 0;
                continue;
            }
            run += 1;
            if run == count {
                let first = idx + 1 - count;
                if let Some(r) = self.used.get_mut(first..=idx) {
                    r.fill(true);
                }
                self.in_use += count;
                if first == self.hint {
                    self.hint = idx + 1;
                }
                return Ok(self.start + first as Slot);
            }
        }
        Err(AllocError::OutOfSlots)
    }

    /// Returns a slot. The caller must have emptied it (deleted its cap).
    pub fn free(&mut self, slot: Slot) -> Result<(), AllocError> {
        let idx = self.index(slot)?;
        if !self.used_at(idx) {
            return Err(AllocError::InvalidHandle);
        }
        self.mark(idx, false);
        self.in_use -= 1;
        self.hint = self.hint.min(idx);
        Ok(())
    }

    /// Whether `slot` is in the range and currently handed out.
    pub fn is_allocated(&self, slot: Slot) -> bool {
        self.index(slot).is_ok_and(|i| self.used_at(i))
    }

    // `get` rather than indexing: bitvec's bounds-check panics format
    // ranges with `Debug`, which costs kilobytes in the root task.
    fn used_at(&self, idx: usize) -> bool {
        self.used.get(idx).is_some_and(|b| *b)
    }

    fn mark(&mut self, idx: usize, used: bool) {
        if let Some(b) = self.used.get_mut(idx) {
            b.commit(used);
        }
    }

    fn index(&self, slot: Slot) -> Result<usize, AllocError> {
        if slot < self.start || slot >= self.end() {
            return Err(AllocError::InvalidHandle);
        }
        Ok((slot - self.start) as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exhaustion_and_reuse() {
        let mut s = SlotAllocator::new(100, 103);
        assert_eq!(s.alloc(), Ok(100));
        assert_eq!(s.alloc(), Ok(101));
        assert_eq!(s.alloc(), Ok(102));
        assert_eq!(s.alloc(), Err(AllocError::OutOfSlots));
        assert_eq!(s.free_count(), 0);
        s.free(101).unwrap();
        assert_eq!(s.free(101), Err(AllocError::InvalidHandle));
        assert_eq!(s.free(99), Err(AllocError::InvalidHandle));
        assert_eq!(s.free(103), Err(AllocError::InvalidHandle));
        assert_eq!(s.alloc(), Ok(101));
        assert!(s.is_allocated(101));
    }

    #[test]
    fn contiguous_ranges() {
        let mut s = SlotAllocator::new(0, 8);
        let a = s.alloc().unwrap();
        let _b = s.alloc().unwrap();
        s.free(a).unwrap();
        // Slot 0 is free but alone; the range must start after slot 1.
        assert_eq!(s.alloc_range(3), Ok(2));
        assert_eq!(s.alloc_range(3), Ok(5));
        assert_eq!(s.alloc_range(2), Err(AllocError::OutOfSlots));
        assert_eq!(s.alloc(), Ok(0));
        assert_eq!(s.free_count(), 0);
        assert!(s.alloc_range(0).is_err());
    }
}
