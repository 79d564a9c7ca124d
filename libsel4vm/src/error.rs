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

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl fmt::Display for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// Result alias for the VM API.
pub type Result<T, E = Error> = core::result::Result<T, E>;
