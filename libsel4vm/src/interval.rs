//! Ordered set of disjoint address intervals on an intrusive red-black tree
//! keyed by start address. Used for memory reservations.

use alloc::boxed::Box;
use core::cell::UnsafeCell;
use intrusive_collections::Bound;

use intrusive_collections::{intrusive_adapter, KeyAdapter, RBTree, RBTreeLink};

pub(crate) struct Node<V> {
    link: RBTreeLink,
    start: u64,
    size: u64,
    // Mutated only through `&mut IntervalSet`, which excludes any other borrow.
    value: UnsafeCell<V>,
}

intrusive_adapter!(NodeAdapter<V> = Box<Node<V>>: Node<V> { link => RBTreeLink });

impl<'a, V> KeyAdapter<'a> for NodeAdapter<V> {
    type Key = u64;
    fn get_key(&self, node: &'a Node<V>) -> u64 {
        node.start
    }
}

/// Disjoint `[start, start + size)` intervals, each with a value.
///
/// Callers guarantee `start + size` does not overflow and `size > 0`.
pub(crate) struct IntervalSet<V> {
    tree: RBTree<NodeAdapter<V>>,
}

impl<V> Default for IntervalSet<V> {
    fn default() -> Self {
        Self {
            tree: RBTree::new(NodeAdapter::new()),
        }
    }
}

impl<V> IntervalSet<V> {
    /// True if `[start, start + size)` intersects any interval.
    pub fn overlaps(&self, start: u64, size: u64) -> bool {
        let end = start + size;
        if let Some(prev) = self.tree.upper_bound(Bound::Included(&start)).get() {
            if prev.start + prev.size > start {
                return true;
            }
        }
        if let Some(next) = self.tree.lower_bound(Bound::Excluded(&start)).get() {
            if next.start < end {
                return true;
            }
        }
        false
    }

    /// Inserts an interval; gives the value back if it would overlap.
    pub fn insert(&mut self, start: u64, size: u64, value: V) -> Result<(), V> {
        if size == 0 || self.overlaps(start, size) {
            return Err(value);
        }
        self.tree.insert(Box::new(Node {
            link: RBTreeLink::new(),
            start,
            size,
            value: UnsafeCell::new(value),
        }));
        Ok(())
    }

    /// The interval with the largest start `<= addr`.
    fn floor(&self, addr: u64) -> Option<&Node<V>> {
        self.tree.upper_bound(Bound::Included(&addr)).get()
    }

    /// The interval wholly containing `[addr, addr + len)` (len 0 means just `addr`).
    pub fn containing(&self, addr: u64, len: u64) -> Option<(u64, u64, &V)> {
        let n = self.floor(addr)?;
        let end = addr.checked_add(len)?;
        let inside = addr < n.start + n.size && end <= n.start + n.size;
        // SAFETY: shared borrow of the set; mutation needs `&mut self`.
        inside.then(|| (n.start, n.size, unsafe { &*n.value.get() }))
    }

    /// Mutable variant of [`IntervalSet::containing`].
    pub fn containing_mut(&mut self, addr: u64, len: u64) -> Option<(u64, u64, &mut V)> {
        let (start, size, _) = self.containing(addr, len)?;
        let v = self.get_mut(start)?;
        Some((start, size, v))
    }

    /// Mutable value of the interval starting exactly at `start`.
    pub fn get_mut(&mut self, start: u64) -> Option<&mut V> {
        let n = self.tree.find(&start).get()?;
        // SAFETY: `&mut self` guarantees no other reference into any node exists.
        Some(unsafe { &mut *n.value.get() })
    }

    /// Removes the interval starting at `start`.
    pub fn remove(&mut self, start: u64) -> Option<(u64, u64, V)> {
        let node = self.tree.find_mut(&start).remove()?;
        Some((node.start, node.size, node.value.into_inner()))
    }

    /// Intervals in address order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, u64, &V)> {
        // SAFETY: as in `containing`.
        self.tree
            .iter()
            .map(|n| (n.start, n.size, unsafe { &*n.value.get() }))
    }

    /// Lowest `align`-aligned start in `[lo, hi)` where `size` bytes fit between
    /// existing intervals. `align` must be a power of two.
    pub fn first_fit(&self, lo: u64, hi: u64, size: u64, align: u64) -> Option<u64> {
        let mut cand = align_up(lo, align)?;
        for n in self.tree.iter() {
            let end = cand.checked_add(size)?;
            if end > hi {
                return None;
            }
            if n.start + n.size <= cand {
                continue;
            }
            if end <= n.start {
                return Some(cand);
            }
            cand = align_up(n.start + n.size, align)?;
        }
        let end = cand.checked_add(size)?;
        (end <= hi).then_some(cand)
    }
}

/// Rounds `v` up to a multiple of the power of two `align`; `None` on overflow.
pub(crate) fn align_up(v: u64, align: u64) -> Option<u64> {
    Some(v.checked_add(align - 1)? & !(align - 1))
}
