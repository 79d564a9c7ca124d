//! Kernel object types for `Untyped_Retype`, with their sizes.

use crate::arch;
use crate::labels::object_type as ot;
use crate::Word;

/// An object type that `Untyped_Retype` can create on this kernel
/// (`seL4_ObjectType` / `seL4_ArchObjectType`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum ObjectType {
    /// `seL4_UntypedObject` (size given by `size_bits`).
    Untyped,
    /// `seL4_TCBObject`.
    Tcb,
    /// `seL4_EndpointObject`.
    Endpoint,
    /// `seL4_NotificationObject`.
    Notification,
    /// `seL4_CapTableObject` (`size_bits` = log2 of the number of slots).
    CNode,
    /// `seL4_ARM_HugePageObject` (1 GiB frame).
    HugePage,
    /// `seL4_ARM_VSpaceObject` (top-level table; stage-2 root for a guest).
    VSpace,
    /// `seL4_ARM_SmallPageObject` (4 KiB frame).
    SmallPage,
    /// `seL4_ARM_LargePageObject` (2 MiB frame).
    LargePage,
    /// `seL4_ARM_PageTableObject`.
    PageTable,
    /// `seL4_ARM_VCPUObject`.
    Vcpu,
}

impl ObjectType {
    /// The number passed as `type` to `Untyped_Retype`.
    pub const fn raw(self) -> Word {
        match self {
            Self::Untyped => ot::UntypedObject,
            Self::Tcb => ot::TCBObject,
            Self::Endpoint => ot::EndpointObject,
            Self::Notification => ot::NotificationObject,
            Self::CNode => ot::CapTableObject,
            Self::HugePage => ot::ARM_HugePageObject,
            Self::VSpace => ot::ARM_VSpaceObject,
            Self::SmallPage => ot::ARM_SmallPageObject,
            Self::LargePage => ot::ARM_LargePageObject,
            Self::PageTable => ot::ARM_PageTableObject,
            Self::Vcpu => ot::ARM_VCPUObject,
        }
    }

    /// log2 of the object size for fixed-size types; `None` for Untyped and
    /// CNode, whose size depends on the `size_bits` argument.
    pub const fn fixed_size_bits(self) -> Option<usize> {
        Some(match self {
            Self::Untyped | Self::CNode => return None,
            Self::Tcb => arch::TCB_BITS,
            Self::Endpoint => arch::ENDPOINT_BITS,
            Self::Notification => arch::NOTIFICATION_BITS,
            Self::HugePage => arch::HUGE_PAGE_BITS,
            Self::VSpace => arch::VSPACE_BITS,
            Self::SmallPage => arch::PAGE_BITS,
            Self::LargePage => arch::LARGE_PAGE_BITS,
            Self::PageTable => arch::PAGE_TABLE_BITS,
            Self::Vcpu => arch::VCPU_BITS,
        })
    }

    /// log2 of the memory one object takes, given the `size_bits` argument
    /// passed to `Untyped_Retype` (ignored for fixed-size types).
    pub const fn size_bits(self, size_bits_arg: usize) -> usize {
        match self {
            Self::Untyped => size_bits_arg,
            Self::CNode => size_bits_arg + arch::SLOT_BITS,
            _ => match self.fixed_size_bits() {
                Some(b) => b,
                None => 0,
            },
        }
    }

    /// The frame type of a given page size, if it is one of 4 KiB, 2 MiB, 1 GiB.
    pub const fn frame_for_bits(bits: usize) -> Option<Self> {
        match bits {
            arch::PAGE_BITS => Some(Self::SmallPage),
            arch::LARGE_PAGE_BITS => Some(Self::LargePage),
            arch::HUGE_PAGE_BITS => Some(Self::HugePage),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_sizes() {
        assert_eq!(ObjectType::Untyped.raw(), 0);
        assert_eq!(ObjectType::CNode.raw(), 4);
        assert_eq!(ObjectType::VSpace.raw(), 6);
        assert_eq!(ObjectType::SmallPage.raw(), 7);
        assert_eq!(ObjectType::Vcpu.raw(), 10);
        assert_eq!(ObjectType::CNode.size_bits(12), 17);
        assert_eq!(ObjectType::Untyped.size_bits(20), 20);
        assert_eq!(ObjectType::Tcb.size_bits(99), 11);
        assert_eq!(ObjectType::LargePage.size_bits(0), 21);
        assert_eq!(ObjectType::frame_for_bits(21), Some(ObjectType::LargePage));
        assert_eq!(ObjectType::frame_for_bits(13), None);
    }
}
