//! A model of the kernel's untyped and CNode behaviour, for host tests.
//!
//! It follows the rules of `seL4_Untyped_Retype`: objects go at the
//! untyped's watermark aligned up to the object size; the watermark returns
//! to zero only when the untyped has no children left; device untypeds only
//! yield frames and untypeds; destination slots must be empty. Deleting an
//! untyped that still has children is reported as an error (the real kernel
//! permits it, but for this allocator it would always be a bug).

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::{KernelError, ObjectKind, Slot, UntypedInfo, UntypedOps};

/// What a simulated cap refers to.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum SimObject {
    /// An untyped with its watermark (bytes from the base) and child count.
    Untyped {
        /// Offset of the first free byte.
        watermark: u64,
        /// Number of live caps retyped from it.
        children: usize,
    },
    /// Any other object.
    Object(ObjectKind),
}

/// A simulated capability.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct SimCap {
    /// The object.
    pub object: SimObject,
    /// Physical address.
    pub paddr: u64,
    /// log2 of the object's size.
    pub size_bits: u8,
    /// Made from device memory.
    pub device: bool,
    /// Untyped slot it was retyped from (`None` for BootInfo untypeds).
    pub parent: Option<Slot>,
}

/// Simulated root CNode with its untyped caps.
#[derive(Clone, Debug, Default)]
pub struct SimKernel {
    /// Occupied slots.
    pub caps: BTreeMap<Slot, SimCap>,
    /// Number of slots in the root CNode.
    pub cnode_slots: u64,
    /// Count of retype invocations (successful or not).
    pub retypes: usize,
    /// Count of delete invocations.
    pub deletes: usize,
    /// Makes the next retype fail with this error (fault injection).
    pub fail_next_retype: Option<KernelError>,
}

impl SimKernel {
    /// A CNode of `cnode_slots` slots holding the given BootInfo untypeds.
    pub fn new(untypeds: &[UntypedInfo], cnode_slots: u64) -> Self {
        let mut caps = BTreeMap::new();
        for u in untypeds {
            caps.insert(
                u.cap,
                SimCap {
                    object: SimObject::Untyped {
                        watermark: 0,
                        children: 0,
                    },
                    paddr: u.paddr,
                    size_bits: u.size_bits,
                    device: u.is_device,
                    parent: None,
                },
            );
        }
        Self {
            caps,
            cnode_slots,
            ..Default::default()
        }
    }

    /// The cap in `slot`, if any.
    pub fn cap(&self, slot: Slot) -> Option<&SimCap> {
        self.caps.get(&slot)
    }

    /// Number of non-untyped objects alive.
    pub fn live_objects(&self) -> usize {
        self.caps
            .values()
            .filter(|c| matches!(c.object, SimObject::Object(_)))
            .count()
    }

    /// Checks that every child lies inside its parent, is aligned to its own
    /// size, and does not overlap a sibling.
    pub fn check_invariants(&self) -> Result<(), String> {
        let mut by_parent: BTreeMap<Slot, Vec<(u64, u64, Slot)>> = BTreeMap::new();
        for (&slot, c) in &self.caps {
            let size = 1u64 << c.size_bits;
            if c.paddr & (size - 1) != 0 {
                return Err(format!(
                    "slot {slot}: {:#x} not aligned to 2^{}",
                    c.paddr, c.size_bits
                ));
            }
            let Some(p) = c.parent else { continue };
            let Some(pc) = self.caps.get(&p) else {
                return Err(format!("slot {slot}: parent {p} vanished"));
            };
            let pend = pc.paddr + (1u64 << pc.size_bits);
            if c.paddr < pc.paddr || c.paddr + size > pend {
                return Err(format!("slot {slot}: outside parent {p}"));
            }
            by_parent.entry(p).or_default().push((c.paddr, size, slot));
        }
        for (p, mut kids) in by_parent {
            kids.sort_unstable();
            for w in kids.windows(2) {
                if w[0].0 + w[0].1 > w[1].0 {
                    return Err(format!("children {} and {} of {p} overlap", w[0].2, w[1].2));
                }
            }
            let SimObject::Untyped { children, .. } = self.caps[&p].object else {
                return Err(format!("parent {p} is not an untyped"));
            };
            if children != kids.len() {
                return Err(format!(
                    "parent {p}: child count {children} != {}",
                    kids.len()
                ));
            }
        }
        Ok(())
    }
}

impl UntypedOps for SimKernel {
    fn retype(
        &mut self,
        untyped: Slot,
        kind: ObjectKind,
        dest: Slot,
        count: usize,
    ) -> Result<(), KernelError> {
        self.retypes += 1;
        if let Some(e) = self.fail_next_retype.take() {
            return Err(e);
        }
        let Some(&ut) = self.caps.get(&untyped) else {
            return Err(KernelError::InvalidCapability);
        };
        let SimObject::Untyped {
            watermark,
            children,
        } = ut.object
        else {
            return Err(KernelError::InvalidCapability);
        };
        if !kind.is_valid() {
            return Err(KernelError::InvalidArgument);
        }
        if count == 0 || dest + count as u64 > self.cnode_slots {
            return Err(KernelError::RangeError);
        }
        if (dest..dest + count as u64).any(|s| self.caps.contains_key(&s)) {
            return Err(KernelError::DeleteFirst);
        }
        let obj_bits = kind.size_bits();
        let watermark = if children == 0 { 0 } else { watermark };
        let free = (1u64 << ut.size_bits) - watermark;
        if (free >> obj_bits) < count as u64 {
            return Err(KernelError::NotEnoughMemory);
        }
        if ut.device && !kind.device_ok() {
            return Err(KernelError::InvalidArgument);
        }
        let base = (ut.paddr + watermark).next_multiple_of(1u64 << obj_bits);
        for i in 0..count as u64 {
            let object = match kind {
                ObjectKind::Untyped { .. } => SimObject::Untyped {
                    watermark: 0,
                    children: 0,
                },
                k => SimObject::Object(k),
            };
            self.caps.insert(
                dest + i,
                SimCap {
                    object,
                    paddr: base + (i << obj_bits),
                    size_bits: obj_bits,
                    device: ut.device,
                    parent: Some(untyped),
                },
            );
        }
        let new_wm = base + ((count as u64) << obj_bits) - ut.paddr;
        self.caps.get_mut(&untyped).unwrap().object = SimObject::Untyped {
            watermark: new_wm,
            children: children + count,
        };
        Ok(())
    }

    fn delete(&mut self, slot: Slot) -> Result<(), KernelError> {
        self.deletes += 1;
        let Some(c) = self.caps.get(&slot).copied() else {
            return Ok(()); // deleting an empty slot is a no-op
        };
        if let SimObject::Untyped { children, .. } = c.object {
            if children > 0 {
                return Err(KernelError::RevokeFirst);
            }
        }
        self.caps.remove(&slot);
        if let Some(p) = c.parent {
            if let Some(SimCap {
                object: SimObject::Untyped { children, .. },
                ..
            }) = self.caps.get_mut(&p)
            {
                *children -= 1;
            }
        }
        Ok(())
    }
}
