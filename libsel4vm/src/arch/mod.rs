//! AArch64 architecture helpers for fault handling: pure, allocation-free and
//! independent of any kernel backend.
//!
//! This is the Rust counterpart of libsel4vm's `arch/arm` fault decoding
//! (`guest_vcpu_fault.h`, `fault.h`): instead of a mutable `fault_t` that
//! lazily decodes itself, the pieces are separate pure functions:
//!
//! * [`syndrome`] decodes an `ESR_EL2` (`HSR`) value — the `FSR` of an seL4
//!   `VMFault` message or the `HSR` of a `VCPUFault` message — into a typed
//!   [`syndrome::Syndrome`].
//! * [`insn`] decodes an AArch64 load/store instruction word into a
//!   [`insn::MemAccess`], for data aborts whose syndrome has `ISV == 0`
//!   (writeback forms, pairs, ...).
//! * [`emulate`] applies a completed access to a guest register file
//!   (anything implementing [`emulate::GuestRegs`]) and provides the
//!   byte-lane merge helpers device models need.
//!
//! Typical data-abort flow in the VMM (`VMFault` with `prefetch == false`):
//!
//! 1. `Syndrome::decode(fsr)` → `Syndrome::DataAbort { iss, .. }`.
//! 2. `iss.mem_access()` if the syndrome is valid, otherwise fetch the
//!    instruction at the guest PC and call [`insn::decode_load_store`].
//! 3. For a store, [`emulate::store_data`]; perform the device access;
//!    for a load, [`emulate::complete_load`] (or [`emulate::complete_store`]).
//! 4. [`emulate::advance_pc`] (done by whoever replies to the kernel).
//!
//! Guest data accesses are assumed little-endian (`SCTLR_EL1.EE == 0`).

pub mod emulate;
pub mod insn;
pub mod stage1;
pub mod syndrome;

/// Size of one register's worth of a memory access.
///
/// Corresponds to the `SAS` field of a data-abort syndrome and to the
/// `size` field of A64 load/store encodings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AccessSize {
    /// 8 bits.
    Byte,
    /// 16 bits.
    Half,
    /// 32 bits.
    Word,
    /// 64 bits.
    Double,
}

impl AccessSize {
    /// Decodes a 2-bit `log2(bytes)` field (`SAS`, or `size` in an encoding).
    /// Only the low two bits of `bits` are used.
    pub const fn from_log2(bits: u32) -> Self {
        match bits & 3 {
            0 => AccessSize::Byte,
            1 => AccessSize::Half,
            2 => AccessSize::Word,
            _ => AccessSize::Double,
        }
    }

    /// `log2` of the size in bytes (0..=3).
    pub const fn log2(self) -> u32 {
        match self {
            AccessSize::Byte => 0,
            AccessSize::Half => 1,
            AccessSize::Word => 2,
            AccessSize::Double => 3,
        }
    }

    /// Size in bytes: 1, 2, 4 or 8.
    pub const fn bytes(self) -> usize {
        1 << self.log2()
    }

    /// Size in bits: 8, 16, 32 or 64.
    pub const fn bits(self) -> u32 {
        8 << self.log2()
    }

    /// A mask with the low `bits()` bits set.
    pub const fn mask(self) -> u64 {
        match self {
            AccessSize::Double => u64::MAX,
            s => (1u64 << s.bits()) - 1,
        }
    }

    /// Inverse of [`AccessSize::bytes`]; `None` for anything but 1, 2, 4, 8.
    pub const fn from_bytes(bytes: usize) -> Option<Self> {
        match bytes {
            1 => Some(AccessSize::Byte),
            2 => Some(AccessSize::Half),
            4 => Some(AccessSize::Word),
            8 => Some(AccessSize::Double),
            _ => None,
        }
    }
}
