//! Decoding of the exception syndrome register `ESR_EL2` (`HSR` in AArch32
//! naming).
//!
//! On seL4 with hypervisor support the kernel forwards `ESR_EL2` unchanged:
//! it is the `FSR` word of a `VMFault` message (data and instruction aborts
//! taken to EL2) and the `HSR` word of a `VCPUFault` message (WFI/WFE, HVC,
//! SMC, trapped system-register accesses, ...).
//!
//! Corresponds to the `HSR_*` macros and the `fault_*` accessors of
//! libsel4vm's `arch/arm` fault code, but decodes everything into typed
//! values once.
//!
//! Layout (Arm ARM D17.2.37): `EC` = bits\[31:26\], `IL` = bit 25,
//! `ISS` = bits\[24:0\], `ISS2` = bits\[36:32\] (FEAT_LS64 and later; kept in
//! [`Esr::iss2`] but not decoded).

use super::insn::{Addressing, MemAccess, MemKind, Ordering};
use super::AccessSize;

/// Raw exception class values (`ESR_ELx.EC`).
pub mod ec {
    /// Unknown reason (e.g. an undefined instruction).
    pub const UNKNOWN: u8 = 0x00;
    /// Trapped WFI, WFE, WFIT or WFET.
    pub const WFX: u8 = 0x01;
    /// Trapped AArch32 MCR/MRC to coprocessor 15.
    pub const CP15_MCR_MRC: u8 = 0x03;
    /// Trapped AArch32 MCRR/MRRC to coprocessor 15.
    pub const CP15_MCRR_MRRC: u8 = 0x04;
    /// Trapped AArch32 MCR/MRC to coprocessor 14.
    pub const CP14_MCR_MRC: u8 = 0x05;
    /// Trapped AArch32 LDC/STC to coprocessor 14.
    pub const CP14_LDC_STC: u8 = 0x06;
    /// Access to SIMD/FP registers trapped by `CPTR_EL2`/`CPACR_EL1`.
    pub const SIMD_FP_ACCESS: u8 = 0x07;
    /// Trapped VMRS access (AArch32).
    pub const VMRS: u8 = 0x08;
    /// Trapped pointer-authentication instruction.
    pub const PAUTH: u8 = 0x09;
    /// Trapped AArch32 MRRC to coprocessor 14.
    pub const CP14_MRRC: u8 = 0x0c;
    /// Branch target exception.
    pub const BRANCH_TARGET: u8 = 0x0d;
    /// Illegal execution state.
    pub const ILLEGAL_STATE: u8 = 0x0e;
    /// SVC from AArch32.
    pub const SVC32: u8 = 0x11;
    /// HVC from AArch32.
    pub const HVC32: u8 = 0x12;
    /// SMC from AArch32.
    pub const SMC32: u8 = 0x13;
    /// SVC from AArch64.
    pub const SVC64: u8 = 0x15;
    /// HVC from AArch64.
    pub const HVC64: u8 = 0x16;
    /// SMC from AArch64 (trapped by `HCR_EL2.TSC`).
    pub const SMC64: u8 = 0x17;
    /// Trapped MSR, MRS or System instruction from AArch64.
    pub const SYSREG64: u8 = 0x18;
    /// Trapped SVE access.
    pub const SVE: u8 = 0x19;
    /// Trapped ERET/ERETAA/ERETAB.
    pub const ERET: u8 = 0x1a;
    /// Pointer-authentication failure.
    pub const FPAC: u8 = 0x1c;
    /// Instruction abort from a lower exception level (the guest).
    pub const IABT_LOWER: u8 = 0x20;
    /// Instruction abort at the same exception level.
    pub const IABT_SAME: u8 = 0x21;
    /// PC alignment fault.
    pub const PC_ALIGNMENT: u8 = 0x22;
    /// Data abort from a lower exception level (the guest).
    pub const DABT_LOWER: u8 = 0x24;
    /// Data abort at the same exception level.
    pub const DABT_SAME: u8 = 0x25;
    /// SP alignment fault.
    pub const SP_ALIGNMENT: u8 = 0x26;
    /// Trapped floating-point exception from AArch32.
    pub const FP32: u8 = 0x28;
    /// Trapped floating-point exception from AArch64.
    pub const FP64: u8 = 0x2c;
    /// SError interrupt.
    pub const SERROR: u8 = 0x2f;
    /// Breakpoint from a lower exception level.
    pub const BREAKPOINT_LOWER: u8 = 0x30;
    /// Breakpoint at the same exception level.
    pub const BREAKPOINT_SAME: u8 = 0x31;
    /// Software step from a lower exception level.
    pub const SOFTSTEP_LOWER: u8 = 0x32;
    /// Software step at the same exception level.
    pub const SOFTSTEP_SAME: u8 = 0x33;
    /// Watchpoint from a lower exception level.
    pub const WATCHPOINT_LOWER: u8 = 0x34;
    /// Watchpoint at the same exception level.
    pub const WATCHPOINT_SAME: u8 = 0x35;
    /// AArch32 BKPT instruction.
    pub const BKPT32: u8 = 0x38;
    /// AArch32 vector catch.
    pub const VECTOR_CATCH32: u8 = 0x3a;
    /// AArch64 BRK instruction.
    pub const BRK64: u8 = 0x3c;
}

/// Typed exception class (`ESR_ELx.EC`). Classes that a hypervisor rarely
/// sees are kept as [`ExceptionClass::Other`] with the raw value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExceptionClass {
    /// `EC == 0x00`: unknown reason.
    Unknown,
    /// `EC == 0x01`: trapped WFI/WFE (and WFIT/WFET).
    Wfx,
    /// `EC == 0x03`: AArch32 MCR/MRC to CP15.
    Cp15McrMrc,
    /// `EC == 0x04`: AArch32 MCRR/MRRC to CP15.
    Cp15McrrMrrc,
    /// `EC == 0x07`: trapped SIMD/FP register access.
    SimdFpAccess,
    /// `EC == 0x0e`: illegal execution state.
    IllegalState,
    /// `EC == 0x11`: SVC from AArch32.
    Svc32,
    /// `EC == 0x12`: HVC from AArch32.
    Hvc32,
    /// `EC == 0x13`: SMC from AArch32.
    Smc32,
    /// `EC == 0x15`: SVC from AArch64.
    Svc64,
    /// `EC == 0x16`: HVC from AArch64.
    Hvc64,
    /// `EC == 0x17`: SMC from AArch64.
    Smc64,
    /// `EC == 0x18`: trapped MSR/MRS/system instruction from AArch64.
    SysReg64,
    /// `EC == 0x19`: trapped SVE access.
    Sve,
    /// `EC == 0x20`: instruction abort from a lower EL.
    InstructionAbortLower,
    /// `EC == 0x21`: instruction abort at the same EL.
    InstructionAbortSame,
    /// `EC == 0x22`: PC alignment fault.
    PcAlignment,
    /// `EC == 0x24`: data abort from a lower EL.
    DataAbortLower,
    /// `EC == 0x25`: data abort at the same EL.
    DataAbortSame,
    /// `EC == 0x26`: SP alignment fault.
    SpAlignment,
    /// `EC == 0x2c`: trapped floating-point exception from AArch64.
    FpException64,
    /// `EC == 0x2f`: SError interrupt.
    SError,
    /// `EC == 0x30`: breakpoint from a lower EL.
    BreakpointLower,
    /// `EC == 0x32`: software step from a lower EL.
    SoftwareStepLower,
    /// `EC == 0x34`: watchpoint from a lower EL.
    WatchpointLower,
    /// `EC == 0x3c`: BRK instruction from AArch64.
    Brk64,
    /// Any other value (see [`ec`] for names).
    Other(u8),
}

impl ExceptionClass {
    /// Classifies a raw 6-bit `EC` value (higher bits are ignored).
    pub const fn from_raw(raw: u8) -> Self {
        match raw & 0x3f {
            ec::UNKNOWN => Self::Unknown,
            ec::WFX => Self::Wfx,
            ec::CP15_MCR_MRC => Self::Cp15McrMrc,
            ec::CP15_MCRR_MRRC => Self::Cp15McrrMrrc,
            ec::SIMD_FP_ACCESS => Self::SimdFpAccess,
            ec::ILLEGAL_STATE => Self::IllegalState,
            ec::SVC32 => Self::Svc32,
            ec::HVC32 => Self::Hvc32,
            ec::SMC32 => Self::Smc32,
            ec::SVC64 => Self::Svc64,
            ec::HVC64 => Self::Hvc64,
            ec::SMC64 => Self::Smc64,
            ec::SYSREG64 => Self::SysReg64,
            ec::SVE => Self::Sve,
            ec::IABT_LOWER => Self::InstructionAbortLower,
            ec::IABT_SAME => Self::InstructionAbortSame,
            ec::PC_ALIGNMENT => Self::PcAlignment,
            ec::DABT_LOWER => Self::DataAbortLower,
            ec::DABT_SAME => Self::DataAbortSame,
            ec::SP_ALIGNMENT => Self::SpAlignment,
            ec::FP64 => Self::FpException64,
            ec::SERROR => Self::SError,
            ec::BREAKPOINT_LOWER => Self::BreakpointLower,
            ec::SOFTSTEP_LOWER => Self::SoftwareStepLower,
            ec::WATCHPOINT_LOWER => Self::WatchpointLower,
            ec::BRK64 => Self::Brk64,
            other => Self::Other(other),
        }
    }

    /// The raw 6-bit `EC` value.
    pub const fn raw(self) -> u8 {
        match self {
            Self::Unknown => ec::UNKNOWN,
            Self::Wfx => ec::WFX,
            Self::Cp15McrMrc => ec::CP15_MCR_MRC,
            Self::Cp15McrrMrrc => ec::CP15_MCRR_MRRC,
            Self::SimdFpAccess => ec::SIMD_FP_ACCESS,
            Self::IllegalState => ec::ILLEGAL_STATE,
            Self::Svc32 => ec::SVC32,
            Self::Hvc32 => ec::HVC32,
            Self::Smc32 => ec::SMC32,
            Self::Svc64 => ec::SVC64,
            Self::Hvc64 => ec::HVC64,
            Self::Smc64 => ec::SMC64,
            Self::SysReg64 => ec::SYSREG64,
            Self::Sve => ec::SVE,
            Self::InstructionAbortLower => ec::IABT_LOWER,
            Self::InstructionAbortSame => ec::IABT_SAME,
            Self::PcAlignment => ec::PC_ALIGNMENT,
            Self::DataAbortLower => ec::DABT_LOWER,
            Self::DataAbortSame => ec::DABT_SAME,
            Self::SpAlignment => ec::SP_ALIGNMENT,
            Self::FpException64 => ec::FP64,
            Self::SError => ec::SERROR,
            Self::BreakpointLower => ec::BREAKPOINT_LOWER,
            Self::SoftwareStepLower => ec::SOFTSTEP_LOWER,
            Self::WatchpointLower => ec::WATCHPOINT_LOWER,
            Self::Brk64 => ec::BRK64,
            Self::Other(raw) => raw & 0x3f,
        }
    }
}

/// A raw `ESR_EL2` value with field accessors.
///
/// Corresponds to libsel4vm's `HSR_EXCEPTION_CLASS`, `HSR_IL` and the
/// `HSR_*_SHIFT/MASK` macros.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Esr(pub u64);

impl Esr {
    /// Bit position of `IL`.
    pub const IL_BIT: u32 = 25;
    /// Mask of the 25-bit `ISS` field.
    pub const ISS_MASK: u32 = (1 << 25) - 1;

    /// Raw `EC` (bits\[31:26\]).
    pub const fn ec_raw(self) -> u8 {
        ((self.0 >> 26) & 0x3f) as u8
    }

    /// Typed exception class.
    pub const fn class(self) -> ExceptionClass {
        ExceptionClass::from_raw(self.ec_raw())
    }

    /// `IL` (bit 25): `true` for a 32-bit trapped instruction. Always set for
    /// AArch64 guests, and for aborts with `ISV == 0`; clear only for 16-bit
    /// T32 instructions (and for some classes where it is RES1 anyway).
    pub const fn il(self) -> bool {
        (self.0 >> Self::IL_BIT) & 1 == 1
    }

    /// Length in bytes of the trapped instruction according to `IL`: 4 or 2.
    /// Use this, not a constant, to step over a trapped instruction when an
    /// AArch32 guest might be running.
    pub const fn instruction_len(self) -> u64 {
        if self.il() {
            4
        } else {
            2
        }
    }

    /// Instruction-specific syndrome (bits\[24:0\]).
    pub const fn iss(self) -> u32 {
        (self.0 as u32) & Self::ISS_MASK
    }

    /// `ISS2` (bits\[36:32\]); zero on cores without FEAT_LS64 & co.
    pub const fn iss2(self) -> u8 {
        ((self.0 >> 32) & 0x1f) as u8
    }

    /// Full decode; see [`Syndrome::decode`].
    pub fn decode(self) -> Syndrome {
        Syndrome::decode(self.0)
    }
}

/// Which wait instruction trapped (`ISS.TI` of a WFx syndrome).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WfxKind {
    /// WFI: wait for interrupt.
    Wfi,
    /// WFE: wait for event.
    Wfe,
    /// WFIT: WFI with timeout (FEAT_WFxT).
    Wfit,
    /// WFET: WFE with timeout (FEAT_WFxT).
    Wfet,
}

/// Syndrome of a trapped WFI/WFE (`EC == 0x01`).
///
/// Corresponds to libsel4vm's WFI handling of `HSR_EXCEPTION_CLASS ==
/// HSR_WFx_EXCEPTION` (which only distinguishes WFI from WFE).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct WfxIss {
    /// Which instruction trapped (`TI`, bits\[1:0\]).
    pub kind: WfxKind,
    /// For WFIT/WFET, the register holding the timeout (`RN`, bits\[9:5\])
    /// if `RV` (bit 2) says it is valid.
    pub timeout_reg: Option<u8>,
    /// AArch32 condition code (`COND`, bits\[23:20\]) if `CV` (bit 24) is
    /// set; AArch64 traps report none.
    pub cond: Option<u8>,
}

impl WfxIss {
    /// Decodes a WFx `ISS`.
    pub const fn from_iss(iss: u32) -> Self {
        let kind = match iss & 3 {
            0 => WfxKind::Wfi,
            1 => WfxKind::Wfe,
            2 => WfxKind::Wfit,
            _ => WfxKind::Wfet,
        };
        let timeout_reg = if (iss >> 2) & 1 == 1 {
            Some(((iss >> 5) & 0x1f) as u8)
        } else {
            None
        };
        let cond = if (iss >> 24) & 1 == 1 {
            Some(((iss >> 20) & 0xf) as u8)
        } else {
            None
        };
        WfxIss {
            kind,
            timeout_reg,
            cond,
        }
    }

    /// `true` for WFI and WFIT (wait for interrupt), `false` for WFE/WFET.
    pub const fn is_wfi(&self) -> bool {
        matches!(self.kind, WfxKind::Wfi | WfxKind::Wfit)
    }
}

/// Syndrome of a trapped AArch64 MSR/MRS/system instruction (`EC == 0x18`).
///
/// The register is identified by `(op0, op1, CRn, CRm, op2)` as written in
/// `MRS Xt, S<op0>_<op1>_C<n>_C<m>_<op2>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SysRegIss {
    /// `Op0`, bits\[21:20\].
    pub op0: u8,
    /// `Op1`, bits\[16:14\].
    pub op1: u8,
    /// `CRn`, bits\[13:10\].
    pub crn: u8,
    /// `CRm`, bits\[4:1\].
    pub crm: u8,
    /// `Op2`, bits\[19:17\].
    pub op2: u8,
    /// Transfer register `Rt`, bits\[9:5\]; 31 means XZR.
    pub rt: u8,
    /// `Direction`, bit 0: `true` for a read (MRS / SYSL), `false` for a
    /// write (MSR / SYS).
    pub read: bool,
}

impl SysRegIss {
    /// Decodes a SYSREG64 `ISS`.
    pub const fn from_iss(iss: u32) -> Self {
        SysRegIss {
            op0: ((iss >> 20) & 0x3) as u8,
            op2: ((iss >> 17) & 0x7) as u8,
            op1: ((iss >> 14) & 0x7) as u8,
            crn: ((iss >> 10) & 0xf) as u8,
            rt: ((iss >> 5) & 0x1f) as u8,
            crm: ((iss >> 1) & 0xf) as u8,
            read: iss & 1 == 1,
        }
    }

    /// The register identity packed as in the MRS/MSR encoding
    /// (`op0:op1:CRn:CRm:op2`, 16 bits), handy as a match key;
    /// see [`sysreg_id`].
    pub const fn id(&self) -> u16 {
        sysreg_id(self.op0, self.op1, self.crn, self.crm, self.op2)
    }
}

/// Packs a system-register identity as `op0:op1:CRn:CRm:op2` (16 bits), the
/// same packing as [`SysRegIss::id`]. E.g. `CNTV_CTL_EL0` is
/// `sysreg_id(3, 3, 14, 3, 1)`.
pub const fn sysreg_id(op0: u8, op1: u8, crn: u8, crm: u8, op2: u8) -> u16 {
    (((op0 & 3) as u16) << 14)
        | (((op1 & 7) as u16) << 11)
        | (((crn & 0xf) as u16) << 7)
        | (((crm & 0xf) as u16) << 3)
        | ((op2 & 7) as u16)
}

/// Data/instruction fault status code (`DFSC`/`IFSC`, `ISS` bits\[5:0\]).
///
/// `level` is the translation table level (0..=3, or -1 with FEAT_LPA2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FaultStatus {
    /// Address size fault.
    AddressSize {
        /// Translation table level.
        level: i8,
    },
    /// Translation fault (nothing mapped): the usual MMIO case.
    Translation {
        /// Translation table level.
        level: i8,
    },
    /// Access flag fault.
    AccessFlag {
        /// Translation table level.
        level: i8,
    },
    /// Permission fault (e.g. write to a read-only stage-2 mapping).
    Permission {
        /// Translation table level.
        level: i8,
    },
    /// Synchronous external abort, not on a table walk.
    SyncExternal,
    /// Synchronous tag check fault (FEAT_MTE2).
    SyncTagCheck,
    /// Synchronous external abort on a table walk.
    SyncExternalOnWalk {
        /// Translation table level of the walk.
        level: i8,
    },
    /// Synchronous parity/ECC error, not on a table walk.
    SyncParity,
    /// Synchronous parity/ECC error on a table walk.
    SyncParityOnWalk {
        /// Translation table level of the walk.
        level: i8,
    },
    /// Alignment fault.
    Alignment,
    /// TLB conflict abort.
    TlbConflict,
    /// Unsupported atomic hardware update.
    UnsupportedAtomicUpdate,
    /// Unsupported exclusive or atomic access (e.g. an exclusive to device
    /// memory).
    UnsupportedExclusiveOrAtomic,
    /// Any other code (implementation defined, granule protection, ...).
    Other(u8),
}

impl FaultStatus {
    /// Decodes the 6-bit code (higher bits ignored).
    pub const fn from_raw(raw: u8) -> Self {
        let raw = raw & 0x3f;
        let level = (raw & 3) as i8;
        match raw {
            0x00..=0x03 => Self::AddressSize { level },
            0x04..=0x07 => Self::Translation { level },
            0x08..=0x0b => Self::AccessFlag { level },
            0x0c..=0x0f => Self::Permission { level },
            0x10 => Self::SyncExternal,
            0x11 => Self::SyncTagCheck,
            0x13 => Self::SyncExternalOnWalk { level: -1 },
            0x14..=0x17 => Self::SyncExternalOnWalk { level },
            0x18 => Self::SyncParity,
            0x1b => Self::SyncParityOnWalk { level: -1 },
            0x1c..=0x1f => Self::SyncParityOnWalk { level },
            0x21 => Self::Alignment,
            0x29 => Self::AddressSize { level: -1 },
            0x2b => Self::Translation { level: -1 },
            0x30 => Self::TlbConflict,
            0x31 => Self::UnsupportedAtomicUpdate,
            0x35 => Self::UnsupportedExclusiveOrAtomic,
            other => Self::Other(other),
        }
    }
}

/// Instruction syndrome of a data abort, present when `ISV == 1`.
///
/// The architecture only reports it for loads/stores of a single
/// general-purpose register without writeback (including acquire/release
/// forms); for anything else the instruction must be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AccessSyndrome {
    /// `SAS`, bits\[23:22\]: access size.
    pub size: AccessSize,
    /// `SSE`, bit 21: the load sign-extends the data.
    pub sign_extend: bool,
    /// `SRT`, bits\[20:16\]: the transfer register; 31 means XZR/WZR.
    pub srt: u8,
    /// `SF`, bit 15: the register is 64 bits wide (Xt rather than Wt).
    pub sf: bool,
    /// `AR`, bit 14: the instruction has acquire/release semantics.
    pub acquire_release: bool,
}

/// Decoded `ISS` of a data abort (`EC == 0x24/0x25`).
///
/// Corresponds to libsel4vm's `HSR_IS_SYNDROME_VALID`, `HSR_SYNDROME_WIDTH`,
/// `HSR_SYNDROME_RT` and `fault_is_read`/`fault_is_write`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DataAbortIss {
    /// `ISV` (bit 24) and the fields it validates; `None` when the
    /// instruction must be decoded from guest memory.
    pub access: Option<AccessSyndrome>,
    /// `VNCR`, bit 13: the fault came from a `VNCR_EL2` access.
    pub vncr: bool,
    /// `FnV`, bit 10: `FAR` is not valid (the fault address is unknown).
    pub far_not_valid: bool,
    /// `EA`, bit 9: external abort type (implementation defined).
    pub external_abort: bool,
    /// `CM`, bit 8: caused by a cache maintenance or address translation
    /// instruction (such faults report `WnR == 1`).
    pub cache_maintenance: bool,
    /// `S1PTW`, bit 7: stage-2 fault during a stage-1 table walk.
    pub s1ptw: bool,
    /// `WnR`, bit 6: `true` for a write, `false` for a read.
    pub write: bool,
    /// `DFSC`, bits\[5:0\].
    pub status: FaultStatus,
}

impl DataAbortIss {
    /// Decodes a data-abort `ISS`.
    pub const fn from_iss(iss: u32) -> Self {
        let access = if (iss >> 24) & 1 == 1 {
            Some(AccessSyndrome {
                size: AccessSize::from_log2(iss >> 22),
                sign_extend: (iss >> 21) & 1 == 1,
                srt: ((iss >> 16) & 0x1f) as u8,
                sf: (iss >> 15) & 1 == 1,
                acquire_release: (iss >> 14) & 1 == 1,
            })
        } else {
            None
        };
        DataAbortIss {
            access,
            vncr: (iss >> 13) & 1 == 1,
            far_not_valid: (iss >> 10) & 1 == 1,
            external_abort: (iss >> 9) & 1 == 1,
            cache_maintenance: (iss >> 8) & 1 == 1,
            s1ptw: (iss >> 7) & 1 == 1,
            write: (iss >> 6) & 1 == 1,
            status: FaultStatus::from_raw((iss & 0x3f) as u8),
        }
    }

    /// The access described by a valid syndrome, ready for
    /// [`crate::arch::emulate`]; `None` when `ISV == 0`, or for cache
    /// maintenance / stage-1 walk faults, which are not register transfers.
    ///
    /// The base register and offset are not part of the syndrome, so the
    /// result has [`Addressing::Unknown`] (valid syndromes are never
    /// reported for writeback forms, so no register update is lost).
    pub const fn mem_access(&self) -> Option<MemAccess> {
        let a = match self.access {
            Some(a) if !self.cache_maintenance && !self.s1ptw => a,
            _ => return None,
        };
        let kind = if self.write {
            MemKind::Store
        } else {
            MemKind::Load
        };
        let ordering = match (a.acquire_release, self.write) {
            (false, _) => Ordering::Plain,
            (true, false) => Ordering::Acquire,
            (true, true) => Ordering::Release,
        };
        Some(MemAccess {
            kind,
            size: a.size,
            // SSE is only meaningful for loads; keep stores canonical.
            sign_extend: a.sign_extend && !self.write,
            dest_is_64: a.sf,
            rt: a.srt,
            rt2: None,
            addressing: Addressing::Unknown,
            ordering,
            unprivileged: false,
        })
    }
}

/// Decoded `ISS` of an instruction abort (`EC == 0x20/0x21`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct InstructionAbortIss {
    /// `FnV`, bit 10: `FAR` is not valid.
    pub far_not_valid: bool,
    /// `EA`, bit 9: external abort type.
    pub external_abort: bool,
    /// `S1PTW`, bit 7: stage-2 fault during a stage-1 table walk.
    pub s1ptw: bool,
    /// `IFSC`, bits\[5:0\].
    pub status: FaultStatus,
}

impl InstructionAbortIss {
    /// Decodes an instruction-abort `ISS`.
    pub const fn from_iss(iss: u32) -> Self {
        InstructionAbortIss {
            far_not_valid: (iss >> 10) & 1 == 1,
            external_abort: (iss >> 9) & 1 == 1,
            s1ptw: (iss >> 7) & 1 == 1,
            status: FaultStatus::from_raw((iss & 0x3f) as u8),
        }
    }
}

/// A fully decoded `ESR_EL2`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Syndrome {
    /// Trapped WFI/WFE.
    Wfx(WfxIss),
    /// HVC from AArch64 with its 16-bit immediate.
    Hvc64 {
        /// The `HVC #imm16` immediate.
        imm16: u16,
    },
    /// SMC from AArch64 with its 16-bit immediate (PSCI uses `#0`).
    Smc64 {
        /// The `SMC #imm16` immediate.
        imm16: u16,
    },
    /// HVC from AArch32 with its 16-bit immediate.
    Hvc32 {
        /// The `HVC #imm16` immediate.
        imm16: u16,
    },
    /// SMC from AArch32 (no immediate in the syndrome).
    Smc32,
    /// Trapped MSR/MRS/system instruction.
    SysReg(SysRegIss),
    /// Instruction abort; `lower_el` is `true` for `EC == 0x20` (from the
    /// guest), `false` for `0x21`.
    InstructionAbort {
        /// Taken from a lower EL (the guest).
        lower_el: bool,
        /// The decoded ISS.
        iss: InstructionAbortIss,
    },
    /// Data abort; `lower_el` is `true` for `EC == 0x24` (from the guest),
    /// `false` for `0x25`.
    DataAbort {
        /// Taken from a lower EL (the guest).
        lower_el: bool,
        /// The decoded ISS.
        iss: DataAbortIss,
    },
    /// Any other class, undecoded.
    Other {
        /// The exception class (`EC`).
        class: ExceptionClass,
        /// The raw `ISS` bits\[24:0\].
        iss: u32,
    },
}

impl Syndrome {
    /// Decodes a raw `ESR_EL2` value. Total: every input yields a value.
    pub const fn decode(esr: u64) -> Self {
        let e = Esr(esr);
        let iss = e.iss();
        match e.class() {
            ExceptionClass::Wfx => Syndrome::Wfx(WfxIss::from_iss(iss)),
            ExceptionClass::Hvc64 => Syndrome::Hvc64 { imm16: iss as u16 },
            ExceptionClass::Smc64 => Syndrome::Smc64 { imm16: iss as u16 },
            ExceptionClass::Hvc32 => Syndrome::Hvc32 { imm16: iss as u16 },
            ExceptionClass::Smc32 => Syndrome::Smc32,
            ExceptionClass::SysReg64 => Syndrome::SysReg(SysRegIss::from_iss(iss)),
            ExceptionClass::InstructionAbortLower => Syndrome::InstructionAbort {
                lower_el: true,
                iss: InstructionAbortIss::from_iss(iss),
            },
            ExceptionClass::InstructionAbortSame => Syndrome::InstructionAbort {
                lower_el: false,
                iss: InstructionAbortIss::from_iss(iss),
            },
            ExceptionClass::DataAbortLower => Syndrome::DataAbort {
                lower_el: true,
                iss: DataAbortIss::from_iss(iss),
            },
            ExceptionClass::DataAbortSame => Syndrome::DataAbort {
                lower_el: false,
                iss: DataAbortIss::from_iss(iss),
            },
            class => Syndrome::Other { class, iss },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ec_roundtrip_all_values() {
        for raw in 0u8..64 {
            assert_eq!(ExceptionClass::from_raw(raw).raw(), raw);
        }
    }

    #[test]
    fn fault_status_levels() {
        assert_eq!(
            FaultStatus::from_raw(0x07),
            FaultStatus::Translation { level: 3 }
        );
        assert_eq!(
            FaultStatus::from_raw(0x0d),
            FaultStatus::Permission { level: 1 }
        );
        assert_eq!(
            FaultStatus::from_raw(0x2b),
            FaultStatus::Translation { level: -1 }
        );
        assert_eq!(FaultStatus::from_raw(0x21), FaultStatus::Alignment);
        assert_eq!(FaultStatus::from_raw(0x22), FaultStatus::Other(0x22));
    }
}
