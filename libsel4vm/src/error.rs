//! Typed errors. The C library returns -1/NULL; each failure here says why.

use core::fmt;

use crate::backend::VcpuId;

/// Failure reported by a [`crate::Backend`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BackendError {
    /// No memory (untyped, frames, slots) left.
    OutOfMemory,
    /// A physical address asked for (1:1 RAM) is not available.
    PhysUnavailable(u64),
    /// The address is already mapped or otherwise invalid.
    InvalidAddress(u64),
    /// The vCPU does not exist in the backend.
    InvalidVcpu(VcpuId),
    /// The frame handle is unknown.
    InvalidFrame,
    /// The operation is not supported by this backend.
    Unsupported,
    /// No event can ever arrive (used by the host backend when its queue is empty).
    NoEvent,
    /// A kernel invocation failed with this seL4 error number.
    Kernel(u32),
}

/// Errors of the VM API.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A size of zero was given where memory is required.
    ZeroSize,
    /// An address or size is not a multiple of the page size.
    Unaligned(u64),
    /// `addr + size` does not fit in the 64-bit guest-physical address space.
    Overflow,
    /// The range is not wholly inside registered guest RAM.
    NotRam {
        /// Start of the rejected range.
        addr: u64,
        /// Its size.
        size: u64,
    },
    /// The range overlaps existing RAM or a memory reservation.
    Overlap {
        /// Start of the rejected range.
        addr: u64,
        /// Its size.
        size: u64,
    },
    /// Not enough free registered RAM for the allocation.
    OutOfRam,
    /// The range contains pages that are not allocated (for `ram_free`).
    NotAllocated(u64),
    /// No anonymous region (from `memory_make_anon`) has room for the request.
    NoAnonSpace,
    /// The reservation handle is stale or unknown.
    NoSuchReservation,
    /// The reservation is already mapped (or has a pending lazy mapping).
    AlreadyMapped,
    /// RAM reservations cannot be freed with `free_reserved_memory`.
    ReservationIsRam,
    /// A map iterator produced a frame for the wrong address.
    BadFrame(u64),
    /// No vCPU with this id.
    InvalidVcpu(VcpuId),
    /// The VM already has its configured maximum of vCPUs.
    TooManyVcpus,
    /// Another vCPU already targets this physical CPU.
    TargetCpuTaken(u32),
    /// Register number out of range.
    InvalidRegister(u64),
    /// Badge value not usable (zero or uses the reserved top bit).
    InvalidBadge(u64),
    /// No IRQ controller was created for the VM.
    NoIrqController,
    /// An IRQ controller exists already.
    IrqControllerExists,
    /// The virtual IRQ is not registered on that vCPU.
    IrqNotRegistered(u32),
    /// The virtual IRQ is registered already.
    IrqAlreadyRegistered(u32),
    /// A guest range is not mapped in stage 2.
    NotMapped(u64),
    /// A guest range maps to physically discontiguous frames.
    NotContiguous(u64),
    /// The vCPU has no fault waiting to be completed.
    NoPendingFault(VcpuId),
    /// A user callback reported failure.
    Callback,
    /// No device with this id.
    NoSuchDevice,
    /// A service index that is not free for services in the vCPUs' CNodes
    /// (0, the fault endpoint ..= `VM_CSPACE_SLOT`, or past the CNode).
    ReservedServiceSlot(u64),
    /// A service is installed at this index already.
    ServiceSlotTaken(u64),
    /// The kernel backend failed.
    Backend(BackendError),
    /// The vGIC refused the request (bad INTID, vCPU or configuration).
    Vgic(crate::vgic::VgicError),
}

impl From<crate::vgic::VgicError> for Error {
    fn from(e: crate::vgic::VgicError) -> Self {
        Error::Vgic(e)
    }
}

impl From<BackendError> for Error {
    fn from(e: BackendError) -> Self {
        Error::Backend(e)
    }
}

/// A value printed after an error message.
pub(crate) enum Arg {
    None,
    Hex(u64),
    Dec(u64),
}

/// Writes `what`, then the argument (if any).
pub(crate) fn message(f: &mut fmt::Formatter<'_>, what: &str, arg: Arg) -> fmt::Result {
    f.write_str(what)?;
    match arg {
        Arg::None => Ok(()),
        Arg::Hex(v) => write!(f, " {v:#x}"),
        Arg::Dec(v) => write!(f, " {v}"),
    }
}

// Hand-written, compact messages: the derived `Debug` pulls most of
// `core::fmt`'s builders into the root task.
impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Arg::*;
        let (what, arg) = match *self {
            Error::ZeroSize => ("zero size", None),
            Error::Unaligned(v) => ("not page aligned:", Hex(v)),
            Error::Overflow => ("address range overflows", None),
            Error::NotRam { addr, size } => {
                return write!(f, "[{addr:#x}, +{size:#x}) is not guest RAM")
            }
            Error::Overlap { addr, size } => {
                return write!(f, "[{addr:#x}, +{size:#x}) overlaps RAM or a reservation")
            }
            Error::OutOfRam => ("out of guest RAM", None),
            Error::NotAllocated(v) => ("RAM not allocated at", Hex(v)),
            Error::NoAnonSpace => ("no anonymous region has room", None),
            Error::NoSuchReservation => ("no such reservation", None),
            Error::AlreadyMapped => ("reservation already mapped", None),
            Error::ReservationIsRam => ("reservation is RAM", None),
            Error::BadFrame(v) => ("frame for the wrong address", Hex(v)),
            Error::InvalidVcpu(v) => ("no vcpu", Dec(v.0.into())),
            Error::TooManyVcpus => ("too many vcpus", None),
            Error::TargetCpuTaken(c) => ("target CPU taken:", Dec(c.into())),
            Error::InvalidRegister(r) => ("invalid register", Dec(r)),
            Error::InvalidBadge(b) => ("invalid badge", Hex(b)),
            Error::NoIrqController => ("no IRQ controller", None),
            Error::IrqControllerExists => ("IRQ controller exists", None),
            Error::IrqNotRegistered(i) => ("IRQ not registered:", Dec(i.into())),
            Error::IrqAlreadyRegistered(i) => ("IRQ already registered:", Dec(i.into())),
            Error::NotMapped(v) => ("not mapped:", Hex(v)),
            Error::NotContiguous(v) => ("not physically contiguous:", Hex(v)),
            Error::NoPendingFault(v) => return write!(f, "{v} has no pending fault"),
            Error::Callback => ("callback failed", None),
            Error::NoSuchDevice => ("no such device", None),
            Error::ReservedServiceSlot(i) => ("service slot reserved:", Dec(i)),
            Error::ServiceSlotTaken(i) => ("service slot taken:", Dec(i)),
            Error::Backend(e) => return write!(f, "backend: {e}"),
            Error::Vgic(e) => return write!(f, "vGIC: {e}"),
        };
        message(f, what, arg)
    }
}

impl fmt::Display for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Arg::*;
        let (what, arg) = match *self {
            BackendError::OutOfMemory => ("out of memory", None),
            BackendError::PhysUnavailable(a) => ("physical address unavailable:", Hex(a)),
            BackendError::InvalidAddress(a) => ("invalid address", Hex(a)),
            BackendError::InvalidVcpu(v) => ("no vcpu", Dec(v.0.into())),
            BackendError::InvalidFrame => ("invalid frame", None),
            BackendError::Unsupported => ("unsupported", None),
            BackendError::NoEvent => ("no event can arrive", None),
            BackendError::Kernel(e) => ("seL4 error", Dec(e.into())),
        };
        message(f, what, arg)
    }
}

/// Result alias for the VM API.
pub type Result<T, E = Error> = core::result::Result<T, E>;

#[cfg(test)]
mod tests {
    extern crate std;
    use std::string::ToString;

    use super::*;
    use crate::arch::AccessSize;
    use crate::run::ExitReason;
    use crate::vgic::VgicError;

    #[test]
    fn messages_carry_their_values() {
        let e = Error::NotRam {
            addr: 0x4000_0000,
            size: 0x2000,
        };
        assert_eq!(e.to_string(), "[0x40000000, +0x2000) is not guest RAM");
        assert_eq!(
            Error::Unaligned(0x123).to_string(),
            "not page aligned: 0x123"
        );
        assert_eq!(
            Error::IrqNotRegistered(33).to_string(),
            "IRQ not registered: 33"
        );
        assert_eq!(
            Error::Backend(BackendError::Kernel(3)).to_string(),
            "backend: seL4 error 3"
        );
        let v = Error::Vgic(VgicError::BadWidth {
            offset: 0x104,
            size: AccessSize::Half,
        });
        assert_eq!(v.to_string(), "vGIC: bad 2-byte access at 0x104");
    }

    #[test]
    fn exit_reasons_name_vcpu_pc_and_address() {
        let r = ExitReason::UnhandledMemFault {
            vcpu: VcpuId(1),
            ip: 0x8008_0000,
            addr: 0x0a00_0000,
            fsr: 0x93c0_8046,
        };
        assert_eq!(
            r.to_string(),
            "unhandled memory fault: vcpu1 ip 0x80080000 addr 0xa000000 fsr 0x93c08046"
        );
        let r = ExitReason::CallbackFailed {
            vcpu: Some(VcpuId(0)),
            error: Error::Callback,
        };
        assert_eq!(r.to_string(), "callback failed: vcpu0: callback failed");
    }
}
