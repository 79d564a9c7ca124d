//! A decoded guest memory fault as handed to fault callbacks.
//!
//! The `guest_vcpu_fault.h` getters/setters of libsel4vm are methods here;
//! completing the fault (advance / restart) is expressed by the callback's
//! [`crate::FaultResult`], and the event loop performs it.

use crate::arch::emulate::{self, GuestRegs};
use crate::arch::insn::{MemAccess, MemKind};
use crate::arch::AccessSize;
use crate::backend::{UserContext, VcpuId};

/// What the faulting instruction tried to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessKind {
    /// A load.
    Read,
    /// A store.
    Write,
    /// An instruction fetch (prefetch abort).
    Fetch,
}

impl core::fmt::Display for AccessKind {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            AccessKind::Read => "read",
            AccessKind::Write => "write",
            AccessKind::Fetch => "fetch",
        })
    }
}

/// One guest memory fault.
///
/// Corresponds to libsel4vm's per-vCPU `fault_t` as seen through
/// `guest_vcpu_fault.h`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemFault {
    /// Faulting vCPU.
    pub vcpu: VcpuId,
    /// Guest PC of the faulting instruction.
    pub ip: u64,
    /// Guest-physical fault address.
    pub addr: u64,
    /// Raw syndrome.
    pub fsr: u32,
    /// Read, write or fetch.
    pub kind: AccessKind,
    /// The decoded load/store (`None` for fetches).
    pub access: Option<MemAccess>,
    /// Store data, or the data a handler supplies for a load (little-endian,
    /// up to 16 bytes for pair accesses).
    data: u128,
}

impl MemFault {
    pub(crate) fn new(
        vcpu: VcpuId,
        ip: u64,
        addr: u64,
        fsr: u32,
        access: Option<MemAccess>,
        data: u128,
    ) -> Self {
        let kind = match access {
            None => AccessKind::Fetch,
            Some(a) if a.kind == MemKind::Store => AccessKind::Write,
            Some(_) => AccessKind::Read,
        };
        Self {
            vcpu,
            ip,
            addr,
            fsr,
            kind,
            access,
            data,
        }
    }

    /// Guest-physical address of the access.
    ///
    /// Corresponds to `get_vcpu_fault_address`.
    pub fn address(&self) -> u64 {
        self.addr
    }

    /// Guest PC of the faulting instruction.
    ///
    /// Corresponds to `get_vcpu_fault_ip`.
    pub fn ip(&self) -> u64 {
        self.ip
    }

    /// Store data (for writes) or the data set so far (for reads), low 64 bits.
    ///
    /// Corresponds to `get_vcpu_fault_data`.
    pub fn data(&self) -> u64 {
        self.data as u64
    }

    /// Full data of a pair access (up to 16 bytes).
    pub fn data_u128(&self) -> u128 {
        self.data
    }

    /// Mask of the accessed bytes within the naturally aligned 32-bit word
    /// containing the address (all ones for 8-byte accesses), as libsel4vm
    /// computes it.
    ///
    /// Corresponds to `get_vcpu_fault_data_mask`.
    pub fn data_mask(&self) -> u64 {
        match self.access.map(|a| a.size) {
            None => 0,
            Some(AccessSize::Double) => u64::MAX,
            Some(s) => s.mask() << ((self.addr & 3) * 8),
        }
    }

    /// Access size in bytes (1, 2, 4, 8, or 16 for a pair; 4 for a fetch).
    ///
    /// Corresponds to `get_vcpu_fault_size`.
    pub fn size(&self) -> usize {
        self.access.map_or(4, |a| a.total_bytes())
    }

    /// True for a load.
    ///
    /// Corresponds to `is_vcpu_read_fault`.
    pub fn is_read(&self) -> bool {
        self.kind == AccessKind::Read
    }

    /// True for a store.
    pub fn is_write(&self) -> bool {
        self.kind == AccessKind::Write
    }

    /// Sets the value a load returns (low `size()` bytes are used; the loop
    /// masks, sign-extends and writes it to the destination register).
    ///
    /// Corresponds to `set_vcpu_fault_data`.
    pub fn set_data(&mut self, data: u64) {
        self.data = u128::from(data);
    }

    /// Sets the full data of a pair load.
    pub fn set_data_u128(&mut self, data: u128) {
        self.data = data;
    }

    /// Sets the load result from a 32-bit-aligned device register value:
    /// the accessed bytes are taken from lane `addr & 3`.
    pub fn set_data_from_word(&mut self, word: u64) {
        if let Some(a) = self.access {
            self.data = u128::from(emulate::extract_read(word, self.addr & 3, a.size));
        }
    }

    /// Merges this access into a device register's old value.
    ///
    /// For a write, returns `old` with the written bytes placed at lane
    /// `addr & 3`. For a read, returns the accessed lane of the data set with
    /// [`MemFault::set_data`] merged into the low bits of `old` (libsel4vm's
    /// behaviour; prefer [`MemFault::set_data_from_word`] for new code).
    ///
    /// Corresponds to `emulate_vcpu_fault`.
    pub fn emulate(&self, old: u64) -> u64 {
        let Some(a) = self.access else { return old };
        let shift = (self.addr & 3) * 8;
        let m = self.data_mask();
        match self.kind {
            AccessKind::Write => emulate::merge_write(old, self.data as u64, self.addr & 3, a.size),
            _ => (old & !(m >> shift)) | (((self.data as u64) & m) >> shift),
        }
    }
}

/// `UserContext` plus the banked SP_EL1, for the emulation helpers.
pub(crate) struct FaultRegs {
    pub ctx: UserContext,
    /// SP_EL1 when the guest faulted in EL1h (SPSR.M == 0b0101); `None`
    /// means the thread's SP (SP_EL0) is the stack pointer in use.
    pub sp_el1: Option<u64>,
}

/// True if SPSR.M selects EL1 with SP_EL1 (EL1h).
pub(crate) fn uses_sp_el1(spsr: u64) -> bool {
    spsr & 0xf == 0b0101
}

impl GuestRegs for FaultRegs {
    fn x(&self, n: u8) -> u64 {
        self.ctx.x(n as usize).unwrap_or(0)
    }
    fn set_x(&mut self, n: u8, value: u64) {
        self.ctx.set_x(n as usize, value);
    }
    fn sp(&self) -> u64 {
        self.sp_el1.unwrap_or(self.ctx.sp())
    }
    fn set_sp(&mut self, value: u64) {
        match &mut self.sp_el1 {
            Some(s) => *s = value,
            None => self.ctx.set_sp(value),
        }
    }
    fn pc(&self) -> u64 {
        self.ctx.pc()
    }
    fn set_pc(&mut self, value: u64) {
        self.ctx.set_pc(value)
    }
}
