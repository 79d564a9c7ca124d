//! Applying an emulated memory access to the guest's registers, and the
//! byte-lane helpers device models use.
//!
//! Corresponds to libsel4vm's `fault_emulate`, `fault_get_data`,
//! `fault_set_data`, `fault_get_data_mask` and `advance_fault` (the register
//! update part), split into pure functions over a [`GuestRegs`] register
//! file. None of these functions advances the PC on its own: the caller
//! does that once, where it replies to the kernel ([`advance_pc`]).
//!
//! Register number conventions follow [`crate::arch::insn`]: 31 is XZR for
//! transfer registers and SP for base registers.

use super::insn::{Addressing, Extend, MemAccess, MemKind};
use super::syndrome::Esr;
use super::AccessSize;
use core::fmt;

/// The guest register state an emulated access touches.
///
/// Implemented by the core on its vCPU context type. The helpers in this
/// module only call [`GuestRegs::x`]/[`GuestRegs::set_x`] with `n <= 30`;
/// XZR and SP are handled here.
pub trait GuestRegs {
    /// General-purpose register `Xn`, `n` in `0..=30`.
    fn x(&self, n: u8) -> u64;
    /// Writes `Xn`, `n` in `0..=30`.
    fn set_x(&mut self, n: u8, value: u64);
    /// The stack pointer of the exception level that faulted (SP_EL1 or
    /// SP_EL0 according to the guest's `SPSR.M`).
    fn sp(&self) -> u64;
    /// Writes the stack pointer of the faulting exception level.
    fn set_sp(&mut self, value: u64);
    /// Program counter of the faulting instruction.
    fn pc(&self) -> u64;
    /// Sets the PC the guest resumes at.
    fn set_pc(&mut self, value: u64);
}

/// A plain AArch64 register file: `x0..x30`, SP, PC and SPSR.
///
/// Useful for tests and fuzzing, and as a staging copy of a vCPU's
/// registers. Out-of-range register numbers read as 0 and ignore writes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RegisterFile {
    /// `x0..=x30`.
    pub x: [u64; 31],
    /// Stack pointer of the current exception level.
    pub sp: u64,
    /// Program counter.
    pub pc: u64,
    /// Saved program status (`SPSR_EL2` of the guest); not used here.
    pub spsr: u64,
}

impl GuestRegs for RegisterFile {
    fn x(&self, n: u8) -> u64 {
        self.x.get(n as usize).copied().unwrap_or(0)
    }
    fn set_x(&mut self, n: u8, value: u64) {
        if let Some(r) = self.x.get_mut(n as usize) {
            *r = value;
        }
    }
    fn sp(&self) -> u64 {
        self.sp
    }
    fn set_sp(&mut self, value: u64) {
        self.sp = value;
    }
    fn pc(&self) -> u64 {
        self.pc
    }
    fn set_pc(&mut self, value: u64) {
        self.pc = value;
    }
}

/// Error from the load/store completion helpers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EmulateError {
    /// A load helper was given a store or vice versa; `expected` is the kind
    /// the helper handles.
    KindMismatch {
        /// The access kind the helper handles.
        expected: MemKind,
    },
}

impl fmt::Display for EmulateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EmulateError::KindMismatch { expected } => {
                let what = match expected {
                    MemKind::Load => "load",
                    MemKind::Store => "store",
                };
                write!(f, "access kind mismatch: helper expects a {what}")
            }
        }
    }
}

/// Reads a transfer register: 31 is XZR and reads as 0.
pub fn read_xzr<R: GuestRegs + ?Sized>(regs: &R, r: u8) -> u64 {
    if r >= 31 {
        0
    } else {
        regs.x(r)
    }
}

/// Writes a transfer register: 31 is XZR and the write is discarded.
pub fn write_xzr<R: GuestRegs + ?Sized>(regs: &mut R, r: u8, value: u64) {
    if r < 31 {
        regs.set_x(r, value);
    }
}

/// Reads a base register: 31 is SP.
pub fn read_xsp<R: GuestRegs + ?Sized>(regs: &R, r: u8) -> u64 {
    if r >= 31 {
        regs.sp()
    } else {
        regs.x(r)
    }
}

/// Writes a base register: 31 is SP.
pub fn write_xsp<R: GuestRegs + ?Sized>(regs: &mut R, r: u8, value: u64) {
    if r >= 31 {
        regs.set_sp(value)
    } else {
        regs.set_x(r, value)
    }
}

/// Turns raw data read from memory (in the low `access.size` bytes of
/// `raw`) into the value the load writes to its register: masked, sign-
/// extended if the instruction does, and limited to 32 bits for a Wt
/// destination (writes to Wt zero bits\[63:32\]).
pub fn load_value(access: &MemAccess, raw: u64) -> u64 {
    let bits = access.size.bits();
    let v = raw & access.size.mask();
    let v = if access.sign_extend && bits < 64 {
        let shift = 64 - bits;
        (((v << shift) as i64) >> shift) as u64
    } else {
        v
    };
    if access.dest_is_64 {
        v
    } else {
        v & 0xffff_ffff
    }
}

/// Splits the data of a pair access into `(Rt part, Rt2 part)`: the first
/// `size` bytes (little-endian) belong to Rt. For a single access the second
/// part is 0.
pub fn split_pair(access: &MemAccess, data: u128) -> (u64, u64) {
    let mask = access.size.mask() as u128;
    let first = (data & mask) as u64;
    if access.is_pair() {
        let second = ((data >> access.size.bits()) & mask) as u64;
        (first, second)
    } else {
        (first, 0)
    }
}

/// Inverse of [`split_pair`]: packs two register values into
/// `access.total_bytes()` bytes of little-endian data.
pub fn join_pair(access: &MemAccess, first: u64, second: u64) -> u128 {
    let mask = access.size.mask() as u128;
    let lo = first as u128 & mask;
    if access.is_pair() {
        lo | ((second as u128 & mask) << access.size.bits())
    } else {
        lo
    }
}

/// The data a store writes, in the low `access.total_bytes()` bytes
/// (little-endian; for pairs Rt first). XZR stores zeros.
///
/// Call this before [`complete_store`]: with writeback and `Rt == Rn` the
/// stored value is the base before the update.
///
/// Corresponds to `fault_get_data` for a write fault.
pub fn store_data<R: GuestRegs + ?Sized>(
    regs: &R,
    access: &MemAccess,
) -> Result<u128, EmulateError> {
    if access.kind != MemKind::Store {
        return Err(EmulateError::KindMismatch {
            expected: MemKind::Store,
        });
    }
    let first = read_xzr(regs, access.rt);
    let second = access.rt2.map_or(0, |r| read_xzr(regs, r));
    Ok(join_pair(access, first, second))
}

/// Performs the base-register update of a pre/post-indexed access, if any
/// (`base += offset`, wrapping; base 31 is SP).
pub fn apply_writeback<R: GuestRegs + ?Sized>(regs: &mut R, access: &MemAccess) {
    if let Some(wb) = access.writeback() {
        let new = read_xsp(regs, wb.base).wrapping_add(wb.offset as u64);
        write_xsp(regs, wb.base, new);
    }
}

/// Finishes an emulated load: applies any writeback, then writes the loaded
/// value(s) (from [`split_pair`] + [`load_value`]) to Rt (and Rt2).
///
/// `data` holds `access.total_bytes()` bytes read from the device,
/// little-endian; higher bytes are ignored. Writing the destination after
/// the writeback makes a load into its own base register (an architecturally
/// UNPREDICTABLE case) deterministic: the loaded value wins, and for a pair
/// with `Rt == Rt2` the second value wins. Does not advance the PC.
///
/// Corresponds to `fault_set_data` + `advance_fault` for a read fault.
pub fn complete_load<R: GuestRegs + ?Sized>(
    regs: &mut R,
    access: &MemAccess,
    data: u128,
) -> Result<(), EmulateError> {
    if access.kind != MemKind::Load {
        return Err(EmulateError::KindMismatch {
            expected: MemKind::Load,
        });
    }
    apply_writeback(regs, access);
    let (first, second) = split_pair(access, data);
    write_xzr(regs, access.rt, load_value(access, first));
    if let Some(rt2) = access.rt2 {
        write_xzr(regs, rt2, load_value(access, second));
    }
    Ok(())
}

/// Finishes an emulated store (after [`store_data`] was taken and written
/// to the device): applies any writeback. Does not advance the PC.
pub fn complete_store<R: GuestRegs + ?Sized>(
    regs: &mut R,
    access: &MemAccess,
) -> Result<(), EmulateError> {
    if access.kind != MemKind::Store {
        return Err(EmulateError::KindMismatch {
            expected: MemKind::Store,
        });
    }
    apply_writeback(regs, access);
    Ok(())
}

/// Steps the guest over one A64 instruction (PC += 4).
///
/// Corresponds to the PC update in libsel4vm's `advance_fault`.
pub fn advance_pc<R: GuestRegs + ?Sized>(regs: &mut R) {
    regs.set_pc(regs.pc().wrapping_add(4));
}

/// Steps the guest over the trapped instruction, using the syndrome's `IL`
/// bit for its length (4, or 2 for a 16-bit T32 instruction).
pub fn skip_instruction<R: GuestRegs + ?Sized>(regs: &mut R, esr: Esr) {
    regs.set_pc(regs.pc().wrapping_add(esr.instruction_len()));
}

/// The virtual address the instruction accesses, computed from the
/// registers *before* the access is completed. `None` for
/// [`Addressing::Unknown`].
///
/// The VMM normally uses the fault address instead; this is for
/// cross-checking and for accesses that span a page boundary.
pub fn effective_address<R: GuestRegs + ?Sized>(regs: &R, access: &MemAccess) -> Option<u64> {
    Some(match access.addressing {
        Addressing::Offset { base, offset } | Addressing::PreIndex { base, offset } => {
            read_xsp(regs, base).wrapping_add(offset as u64)
        }
        Addressing::PostIndex { base, .. } => read_xsp(regs, base),
        Addressing::Register {
            base,
            index,
            extend,
            shift,
        } => {
            let m = read_xzr(regs, index);
            let m = match extend {
                Extend::Uxtw => m & 0xffff_ffff,
                Extend::Sxtw => m as u32 as i32 as i64 as u64,
                Extend::Lsl | Extend::Sxtx => m,
            };
            read_xsp(regs, base).wrapping_add(m << (shift & 63))
        }
        Addressing::Literal { offset } => regs.pc().wrapping_add(offset as u64),
        Addressing::Unknown => return None,
    })
}

/// Mask for `size` bytes placed at byte `offset` of a 64-bit container;
/// bytes falling outside the container are dropped.
fn lane_mask(offset: u64, size: AccessSize) -> u64 {
    if offset >= 8 {
        0
    } else {
        size.mask() << (offset * 8)
    }
}

/// Read-modify-write of a device register: replaces the `size` bytes at
/// byte `offset` of `old` with the low bytes of `new`, keeping the rest.
///
/// For a 32-bit device register accessed with a byte or halfword store,
/// pass `offset = addr & 3`. Bytes that would land beyond bit 63 are
/// dropped (so an out-of-range offset returns `old` unchanged).
///
/// Corresponds to `fault_emulate` for a write fault:
/// `(old & !mask) | ((new << shift) & mask)`.
pub fn merge_write(old: u64, new: u64, offset: u64, size: AccessSize) -> u64 {
    let mask = lane_mask(offset, size);
    if mask == 0 {
        return old;
    }
    (old & !mask) | ((new << (offset * 8)) & mask)
}

/// Extracts the `size` bytes at byte `offset` of a device register value,
/// shifted down to bit 0 (zero-extended; apply [`load_value`] for the
/// instruction's sign extension). Bytes beyond bit 63 read as 0.
///
/// Corresponds to `fault_emulate` for a read fault, without libsel4vm's
/// quirk of keeping the register's stale upper bits.
pub fn extract_read(word: u64, offset: u64, size: AccessSize) -> u64 {
    if offset >= 8 {
        0
    } else {
        (word >> (offset * 8)) & size.mask()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_write_byte_lanes() {
        assert_eq!(
            merge_write(0x1122_3344, 0xab, 1, AccessSize::Byte),
            0x1122_ab44
        );
        assert_eq!(
            merge_write(0x1122_3344, 0xffff_abcd, 2, AccessSize::Half),
            0xabcd_3344
        );
        assert_eq!(merge_write(7, 0xff, 8, AccessSize::Byte), 7);
        // Upper bytes of a straddling access are dropped.
        assert_eq!(
            merge_write(0, 0xaabb_ccdd, 6, AccessSize::Word),
            0xccdd_0000_0000_0000
        );
    }

    #[test]
    fn extract_read_byte_lanes() {
        assert_eq!(extract_read(0x1122_3344, 1, AccessSize::Byte), 0x33);
        assert_eq!(extract_read(0x1122_3344, 2, AccessSize::Half), 0x1122);
        assert_eq!(extract_read(u64::MAX, 9, AccessSize::Double), 0);
        assert_eq!(extract_read(u64::MAX, 4, AccessSize::Double), 0xffff_ffff);
    }
}
