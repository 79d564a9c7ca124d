//! Capability pointers, typed capability handles and badges.

use core::marker::PhantomData;

use crate::Word;

/// An untyped capability address in the caller's CSpace (`seL4_CPtr`).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
#[repr(transparent)]
pub struct CPtr(pub Word);

impl CPtr {
    /// The null capability slot.
    pub const NULL: CPtr = CPtr(0);
    /// Raw slot address.
    pub const fn bits(self) -> Word {
        self.0
    }
    /// Wraps a raw slot address.
    pub const fn from_bits(bits: Word) -> Self {
        Self(bits)
    }
    /// Attaches a static object type to this address (no check is made).
    pub const fn cast<T: CapType>(self) -> Cap<T> {
        Cap::from_cptr(self)
    }
}

/// The badge delivered with a message received on a badged endpoint or notification.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
#[repr(transparent)]
pub struct Badge(pub Word);

impl Badge {
    /// Raw badge value.
    pub const fn bits(self) -> Word {
        self.0
    }
}

/// Marker trait for the object type a [`Cap`] refers to.
pub trait CapType: Copy + Clone + core::fmt::Debug + 'static {
    /// Human-readable name, for logs.
    const NAME: &'static str;
}

/// Marker types for [`Cap`]. Each corresponds to a libsel4 typedef of `seL4_CPtr`.
pub mod cap_type {
    use super::CapType;

    macro_rules! cap_types {
        ($($(#[$m:meta])* $name:ident = $c:literal;)*) => {$(
            $(#[$m])*
            #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
            pub enum $name {}
            impl CapType for $name {
                const NAME: &'static str = $c;
            }
        )*};
    }

    cap_types! {
        /// Capability of unknown type.
        Unspecified = "seL4_CPtr";
        /// `seL4_Untyped`.
        Untyped = "seL4_Untyped";
        /// `seL4_CNode`.
        CNode = "seL4_CNode";
        /// `seL4_TCB`.
        Tcb = "seL4_TCB";
        /// Endpoint (plain `seL4_CPtr` in libsel4).
        Endpoint = "Endpoint";
        /// Notification (plain `seL4_CPtr` in libsel4).
        Notification = "Notification";
        /// `seL4_ARM_Page` of any size (4 KiB, 2 MiB, 1 GiB).
        Frame = "seL4_ARM_Page";
        /// `seL4_ARM_PageTable`.
        PageTable = "seL4_ARM_PageTable";
        /// `seL4_ARM_VSpace` (top-level translation table).
        VSpace = "seL4_ARM_VSpace";
        /// `seL4_ARM_ASIDPool`.
        AsidPool = "seL4_ARM_ASIDPool";
        /// `seL4_ARM_ASIDControl`.
        AsidControl = "seL4_ARM_ASIDControl";
        /// `seL4_ARM_VCPU`.
        Vcpu = "seL4_ARM_VCPU";
        /// `seL4_IRQControl`.
        IrqControl = "seL4_IRQControl";
        /// `seL4_IRQHandler`.
        IrqHandler = "seL4_IRQHandler";
        /// `seL4_ARM_SMC` (only usable if the kernel allows SMC calls).
        Smc = "seL4_ARM_SMC";
        /// `seL4_DomainSet`.
        DomainSet = "seL4_DomainSet";
    }
}

/// A capability slot address with a static object type.
///
/// The type is a promise made by whoever created the value; the kernel still
/// checks every invocation.
#[repr(transparent)]
pub struct Cap<T: CapType> {
    cptr: CPtr,
    _ty: PhantomData<T>,
}

impl<T: CapType> Clone for Cap<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T: CapType> Copy for Cap<T> {}
impl<T: CapType> PartialEq for Cap<T> {
    fn eq(&self, other: &Self) -> bool {
        self.cptr == other.cptr
    }
}
impl<T: CapType> Eq for Cap<T> {}
impl<T: CapType> core::hash::Hash for Cap<T> {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        self.cptr.hash(state)
    }
}
impl<T: CapType> core::fmt::Debug for Cap<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Cap<{}>({:#x})", T::NAME, self.cptr.0)
    }
}

impl<T: CapType> Cap<T> {
    /// Wraps a slot address.
    pub const fn from_cptr(cptr: CPtr) -> Self {
        Self {
            cptr,
            _ty: PhantomData,
        }
    }
    /// Wraps a raw slot address.
    pub const fn from_bits(bits: Word) -> Self {
        Self::from_cptr(CPtr(bits))
    }
    /// The slot address.
    pub const fn cptr(self) -> CPtr {
        self.cptr
    }
    /// The raw slot address.
    pub const fn bits(self) -> Word {
        self.cptr.0
    }
    /// Reinterprets the capability as another type (no check is made).
    pub const fn cast<U: CapType>(self) -> Cap<U> {
        Cap::from_cptr(self.cptr)
    }
    /// Forgets the static type.
    pub const fn upcast(self) -> Cap<cap_type::Unspecified> {
        self.cast()
    }
}

impl<T: CapType> From<Cap<T>> for CPtr {
    fn from(c: Cap<T>) -> CPtr {
        c.cptr
    }
}

/// `seL4_Untyped`.
pub type Untyped = Cap<cap_type::Untyped>;
/// `seL4_CNode`.
pub type CNode = Cap<cap_type::CNode>;
/// `seL4_TCB`.
pub type Tcb = Cap<cap_type::Tcb>;
/// Endpoint capability.
pub type Endpoint = Cap<cap_type::Endpoint>;
/// Notification capability.
pub type Notification = Cap<cap_type::Notification>;
/// `seL4_ARM_Page` (any page size).
pub type Frame = Cap<cap_type::Frame>;
/// `seL4_ARM_PageTable`.
pub type PageTable = Cap<cap_type::PageTable>;
/// `seL4_ARM_VSpace`.
pub type VSpace = Cap<cap_type::VSpace>;
/// `seL4_ARM_ASIDPool`.
pub type AsidPool = Cap<cap_type::AsidPool>;
/// `seL4_ARM_ASIDControl`.
pub type AsidControl = Cap<cap_type::AsidControl>;
/// `seL4_ARM_VCPU`.
pub type Vcpu = Cap<cap_type::Vcpu>;
/// `seL4_IRQControl`.
pub type IrqControl = Cap<cap_type::IrqControl>;
/// `seL4_IRQHandler`.
pub type IrqHandler = Cap<cap_type::IrqHandler>;
/// `seL4_ARM_SMC`.
pub type Smc = Cap<cap_type::Smc>;

/// Fixed slots of the root task's CNode (`enum seL4_RootCNodeCapSlots`).
pub mod init {
    use super::*;

    /// `seL4_CapNull`.
    pub const NULL: CPtr = CPtr(0);
    /// `seL4_CapInitThreadTCB`.
    pub const TCB: Tcb = Cap::from_bits(1);
    /// `seL4_CapInitThreadCNode`.
    pub const CNODE: CNode = Cap::from_bits(2);
    /// `seL4_CapInitThreadVSpace`.
    pub const VSPACE: VSpace = Cap::from_bits(3);
    /// `seL4_CapIRQControl`.
    pub const IRQ_CONTROL: IrqControl = Cap::from_bits(4);
    /// `seL4_CapASIDControl`.
    pub const ASID_CONTROL: AsidControl = Cap::from_bits(5);
    /// `seL4_CapInitThreadASIDPool`.
    pub const ASID_POOL: AsidPool = Cap::from_bits(6);
    /// `seL4_CapIOPortControl` (null on ARM).
    pub const IO_PORT_CONTROL: CPtr = CPtr(7);
    /// `seL4_CapIOSpace` (null without an IOMMU).
    pub const IO_SPACE: CPtr = CPtr(8);
    /// `seL4_CapBootInfoFrame`.
    pub const BOOT_INFO_FRAME: Frame = Cap::from_bits(9);
    /// `seL4_CapInitThreadIPCBuffer`.
    pub const IPC_BUFFER: Frame = Cap::from_bits(10);
    /// `seL4_CapDomain`.
    pub const DOMAIN: Cap<cap_type::DomainSet> = Cap::from_bits(11);
    /// `seL4_CapSMMUSIDControl`.
    pub const SMMU_SID_CONTROL: CPtr = CPtr(12);
    /// `seL4_CapSMMUCBControl`.
    pub const SMMU_CB_CONTROL: CPtr = CPtr(13);
    /// `seL4_CapInitThreadSC` (null on a non-MCS kernel).
    pub const SCHED_CONTEXT: CPtr = CPtr(14);
    /// `seL4_CapSMC` (null unless the kernel allows SMC calls).
    pub const SMC: Smc = Cap::from_bits(15);
    /// `seL4_NumInitialCaps`: the first slot not used by a fixed cap.
    pub const NUM_INITIAL_CAPS: Word = 16;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_casts_keep_address() {
        let t: Tcb = Cap::from_bits(0x42);
        assert_eq!(t.bits(), 0x42);
        let u = t.upcast();
        assert_eq!(CPtr::from(u), CPtr(0x42));
        let v: Vcpu = u.cast();
        assert_eq!(v.cptr(), CPtr(0x42));
        assert_eq!(CPtr(7).cast::<cap_type::Endpoint>().bits(), 7);
    }

    #[test]
    fn debug_names_type() {
        let s = format!("{:?}", init::TCB);
        assert_eq!(s, "Cap<seL4_TCB>(0x1)");
    }
}
