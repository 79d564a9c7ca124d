//! Kernel object kinds the allocator can create, with their sizes.

/// A kernel object to create with `seL4_Untyped_Retype`.
///
/// Type numbers and sizes are those of the supported kernel configuration
/// (aarch64, hypervisor support, non-MCS).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum ObjectKind {
    /// A child untyped of `2^size_bits` bytes (`seL4_UntypedObject`).
    Untyped {
        /// log2 of the size in bytes, at least [`MIN_UNTYPED_BITS`].
        size_bits: u8,
    },
    /// `seL4_TCBObject`.
    Tcb,
    /// `seL4_EndpointObject`.
    Endpoint,
    /// `seL4_NotificationObject`.
    Notification,
    /// A CNode with `2^slot_bits` slots (`seL4_CapTableObject`).
    CNode {
        /// log2 of the number of slots, at least 1.
        slot_bits: u8,
    },
    /// 4 KiB frame (`seL4_ARM_SmallPageObject`).
    SmallPage,
    /// 2 MiB frame (`seL4_ARM_LargePageObject`).
    LargePage,
    /// 1 GiB frame (`seL4_ARM_HugePageObject`).
    HugePage,
    /// Intermediate translation table (`seL4_ARM_PageTableObject`).
    PageTable,
    /// Top-level translation table (`seL4_ARM_VSpaceObject`).
    VSpace,
    /// Virtual CPU (`seL4_ARM_VCPUObject`).
    Vcpu,
}

/// `seL4_MinUntypedBits`.
pub const MIN_UNTYPED_BITS: u8 = 4;
/// `seL4_MaxUntypedBits`.
pub const MAX_UNTYPED_BITS: u8 = 47;
/// `seL4_SlotBits`: bytes per CNode slot, log2.
pub const SLOT_BITS: u8 = 5;
/// `seL4_PageBits`.
pub const PAGE_BITS: u8 = 12;
/// `seL4_LargePageBits`.
pub const LARGE_PAGE_BITS: u8 = 21;
/// `seL4_HugePageBits`.
pub const HUGE_PAGE_BITS: u8 = 30;

impl ObjectKind {
    /// The kernel's object type number (`seL4_ObjectType` / `seL4_ArchObjectType`).
    pub const fn type_id(self) -> u64 {
        match self {
            ObjectKind::Untyped { .. } => 0,
            ObjectKind::Tcb => 1,
            ObjectKind::Endpoint => 2,
            ObjectKind::Notification => 3,
            ObjectKind::CNode { .. } => 4,
            ObjectKind::HugePage => 5,
            ObjectKind::VSpace => 6,
            ObjectKind::SmallPage => 7,
            ObjectKind::LargePage => 8,
            ObjectKind::PageTable => 9,
            ObjectKind::Vcpu => 10,
        }
    }

    /// The `size_bits` argument of `seL4_Untyped_Retype` (0 for fixed-size objects).
    pub const fn user_size_bits(self) -> u64 {
        match self {
            ObjectKind::Untyped { size_bits } => size_bits as u64,
            ObjectKind::CNode { slot_bits } => slot_bits as u64,
            _ => 0,
        }
    }

    /// log2 of the memory the object occupies; retypes align to it.
    pub const fn size_bits(self) -> u8 {
        match self {
            ObjectKind::Untyped { size_bits } => size_bits,
            ObjectKind::Tcb => 11,
            ObjectKind::Endpoint => 4,
            ObjectKind::Notification => 5,
            ObjectKind::CNode { slot_bits } => slot_bits.saturating_add(SLOT_BITS),
            ObjectKind::SmallPage => PAGE_BITS,
            ObjectKind::LargePage => LARGE_PAGE_BITS,
            ObjectKind::HugePage => HUGE_PAGE_BITS,
            ObjectKind::PageTable | ObjectKind::VSpace | ObjectKind::Vcpu => 12,
        }
    }

    /// Whether the object is a frame (the only non-untyped kind device untypeds can hold).
    pub const fn is_frame(self) -> bool {
        matches!(
            self,
            ObjectKind::SmallPage | ObjectKind::LargePage | ObjectKind::HugePage
        )
    }

    /// Whether a device untyped may be retyped into this kind.
    pub const fn device_ok(self) -> bool {
        self.is_frame() || matches!(self, ObjectKind::Untyped { .. })
    }

    /// The frame kind of a given page size, if there is one.
    pub const fn frame(size_bits: u8) -> Option<ObjectKind> {
        match size_bits {
            PAGE_BITS => Some(ObjectKind::SmallPage),
            LARGE_PAGE_BITS => Some(ObjectKind::LargePage),
            HUGE_PAGE_BITS => Some(ObjectKind::HugePage),
            _ => None,
        }
    }

    /// Whether the parameters are ones the kernel accepts.
    pub const fn is_valid(self) -> bool {
        match self {
            ObjectKind::Untyped { size_bits } => {
                size_bits >= MIN_UNTYPED_BITS && size_bits <= MAX_UNTYPED_BITS
            }
            ObjectKind::CNode { slot_bits } => {
                slot_bits >= 1 && slot_bits + SLOT_BITS <= MAX_UNTYPED_BITS
            }
            _ => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_match_kernel_constants() {
        assert_eq!(ObjectKind::CNode { slot_bits: 8 }.size_bits(), 13);
        assert_eq!(ObjectKind::Tcb.size_bits(), 11);
        assert_eq!(ObjectKind::frame(21), Some(ObjectKind::LargePage));
        assert_eq!(ObjectKind::frame(13), None);
        assert!(!ObjectKind::Untyped { size_bits: 3 }.is_valid());
        assert!(!ObjectKind::CNode { slot_bits: 0 }.is_valid());
        assert!(ObjectKind::SmallPage.device_ok());
        assert!(!ObjectKind::Endpoint.device_ok());
        assert_eq!(ObjectKind::Vcpu.type_id(), 10);
    }
}
