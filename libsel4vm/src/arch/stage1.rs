//! The guest's own (stage-1, EL1&0) address translation, walked in software.
//!
//! A data abort with `ISV == 0` (a load/store pair, a writeback form, ...)
//! leaves the VMM to fetch and decode the instruction itself, and the kernel
//! reports only the guest PC, a guest *virtual* address. With the guest MMU
//! on, the VMM must translate it through the guest's page tables to find the
//! instruction in guest RAM. libsel4vm does not do this (it fetches ISV=0
//! instructions only from AArch32 guests with the MMU off).
//!
//! [`translate`] follows VMSAv8-64 (Arm ARM D8.2) for the translation
//! regime a guest kernel sets up with `TCR_EL1`, `TTBR0_EL1` and
//! `TTBR1_EL1`: 4 KiB, 16 KiB and 64 KiB granules, the TTBR0/TTBR1 split on
//! VA bit 55 with top-byte-ignore, and block and page descriptors at the
//! levels the architecture allows without FEAT_LPA/LPA2 (48-bit output).
//! Permissions and access flags are not checked: the walk only needs to know
//! where the instruction that just executed lives.
//!
//! Descriptors are read through a caller-supplied function, so the walk is
//! pure and testable with page tables built in a plain buffer.

use core::fmt;

/// `SCTLR_EL1.M`: stage-1 translation enabled.
pub const SCTLR_M: u64 = 1 << 0;
/// `SCTLR_EL1.EE`: translation-table walks (and EL1 data) are big-endian.
pub const SCTLR_EE: u64 = 1 << 25;

/// Output-address bits of a descriptor (47:12 before granule alignment).
const OA_MASK: u64 = 0x0000_ffff_ffff_f000;

/// The registers that select the guest's EL1&0 translation regime.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stage1Regs {
    /// `SCTLR_EL1`.
    pub sctlr: u64,
    /// `TCR_EL1`.
    pub tcr: u64,
    /// `TTBR0_EL1`.
    pub ttbr0: u64,
    /// `TTBR1_EL1`.
    pub ttbr1: u64,
}

impl Stage1Regs {
    /// True when the guest's stage-1 MMU is on (`SCTLR_EL1.M`).
    pub const fn mmu_on(&self) -> bool {
        self.sctlr & SCTLR_M != 0
    }
}

/// Translation granule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Granule {
    /// 4 KiB pages, 9 index bits per level.
    K4,
    /// 16 KiB pages, 11 index bits per level.
    K16,
    /// 64 KiB pages, 13 index bits per level.
    K64,
}

impl Granule {
    /// `log2` of the page size.
    pub const fn shift(self) -> u32 {
        match self {
            Granule::K4 => 12,
            Granule::K16 => 14,
            Granule::K64 => 16,
        }
    }

    /// Index bits resolved per level (a full table holds `2^stride` entries).
    pub const fn stride(self) -> u32 {
        self.shift() - 3
    }

    /// `TCR_EL1.TG0` encoding.
    const fn from_tg0(tg: u64) -> Option<Self> {
        match tg {
            0b00 => Some(Granule::K4),
            0b01 => Some(Granule::K64),
            0b10 => Some(Granule::K16),
            _ => None,
        }
    }

    /// `TCR_EL1.TG1` encoding (different from TG0's).
    const fn from_tg1(tg: u64) -> Option<Self> {
        match tg {
            0b01 => Some(Granule::K16),
            0b10 => Some(Granule::K4),
            0b11 => Some(Granule::K64),
            _ => None,
        }
    }

    /// Lowest level at which a block descriptor is allowed (48-bit OA).
    const fn first_block_level(self) -> u32 {
        match self {
            Granule::K4 => 1,
            Granule::K16 | Granule::K64 => 2,
        }
    }
}

/// Why a translation failed. Each is a fault the guest's own MMU would
/// also have raised (or a descriptor the VMM could not read).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WalkError {
    /// The VA is in neither the TTBR0 nor the TTBR1 range.
    OutOfRange {
        /// The address translated.
        va: u64,
    },
    /// Walks for this half are disabled (`TCR_EL1.EPD0/EPD1`).
    WalkDisabled {
        /// 0 or 1: which TTBR.
        ttbr: u8,
    },
    /// The granule field holds a reserved value.
    ReservedGranule {
        /// 0 or 1: which TTBR.
        ttbr: u8,
    },
    /// An invalid descriptor, or a block where none is allowed.
    Translation {
        /// Level of the offending descriptor.
        level: u32,
        /// The descriptor.
        desc: u64,
    },
    /// The output address exceeds `TCR_EL1.IPS`.
    AddressSize {
        /// The output (or next table) address.
        addr: u64,
    },
    /// The descriptor at this guest-physical address could not be read.
    Unreadable {
        /// Guest-physical address of the descriptor.
        ipa: u64,
    },
}

impl fmt::Display for WalkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            WalkError::OutOfRange { va } => {
                write!(f, "{va:#x} is outside both translation ranges")
            }
            WalkError::WalkDisabled { ttbr } => write!(f, "TTBR{ttbr} walks are disabled"),
            WalkError::ReservedGranule { ttbr } => {
                write!(f, "TTBR{ttbr} granule field is reserved")
            }
            WalkError::Translation { level, desc } => {
                write!(f, "level {level} descriptor {desc:#x} does not translate")
            }
            WalkError::AddressSize { addr } => {
                write!(f, "output address {addr:#x} exceeds TCR_EL1.IPS")
            }
            WalkError::Unreadable { ipa } => {
                write!(f, "descriptor at {ipa:#x} is not in guest RAM")
            }
        }
    }
}

/// `TCR_EL1.IPS` as a number of physical-address bits (48 for values this
/// walk cannot express).
fn ips_bits(tcr: u64) -> u32 {
    match (tcr >> 32) & 7 {
        0 => 32,
        1 => 36,
        2 => 40,
        3 => 42,
        4 => 44,
        _ => 48,
    }
}

/// Translates guest virtual address `va` to a guest-physical address.
///
/// With the MMU off the result is `va` itself. `read_desc` returns the
/// 64-bit little-endian word at a guest-physical address, or `None` when
/// there is no RAM there; descriptors are byte-swapped when `SCTLR_EL1.EE`
/// says the walk is big-endian.
///
/// `TnSZ` values outside 16..=39 are treated as the nearest bound, one of
/// the behaviours the architecture permits for them.
pub fn translate(
    regs: &Stage1Regs,
    va: u64,
    mut read_desc: impl FnMut(u64) -> Option<u64>,
) -> Result<u64, WalkError> {
    if !regs.mmu_on() {
        return Ok(va);
    }
    let tcr = regs.tcr;
    let upper = va & (1 << 55) != 0;
    let (txsz, epd, granule, tbi, ttbr, which) = if upper {
        (
            (tcr >> 16) & 0x3f,
            tcr & (1 << 23) != 0,
            Granule::from_tg1((tcr >> 30) & 3),
            tcr & (1 << 38) != 0,
            regs.ttbr1,
            1u8,
        )
    } else {
        (
            tcr & 0x3f,
            tcr & (1 << 7) != 0,
            Granule::from_tg0((tcr >> 14) & 3),
            tcr & (1 << 37) != 0,
            regs.ttbr0,
            0u8,
        )
    };
    let va_bits = 64 - (txsz as u32).clamp(16, 39);
    // Bits above the range must all equal bit 55 (the top byte is exempt
    // with top-byte-ignore).
    let top = if tbi { 56 } else { 64 };
    let high = (va & (mask(top) & !mask(va_bits))) >> va_bits;
    let want = if upper { mask(top - va_bits) } else { 0 };
    if high != want {
        return Err(WalkError::OutOfRange { va });
    }
    if epd {
        return Err(WalkError::WalkDisabled { ttbr: which });
    }
    let granule = granule.ok_or(WalkError::ReservedGranule { ttbr: which })?;
    let (shift, stride) = (granule.shift(), granule.stride());
    let levels = (va_bits - shift).div_ceil(stride);
    let start = 4 - levels;
    let start_bits = va_bits - shift - stride * (levels - 1);
    let pa_limit = 1u64 << ips_bits(tcr);
    let big_endian = regs.sctlr & SCTLR_EE != 0;

    // TTBR.BADDR (bits 47:1) is aligned to the first table's size; the
    // bits below it are RES0 and ignored, as is the ASID above.
    let mut table = ttbr & mask(48) & !mask(start_bits + 3);
    for level in start..=3 {
        if table >= pa_limit {
            return Err(WalkError::AddressSize { addr: table });
        }
        let level_shift = shift + stride * (3 - level);
        let bits = if level == start { start_bits } else { stride };
        let index = (va >> level_shift) & mask(bits);
        let at = table + index * 8;
        let raw = read_desc(at).ok_or(WalkError::Unreadable { ipa: at })?;
        let desc = if big_endian { raw.swap_bytes() } else { raw };
        let fault = WalkError::Translation { level, desc };
        if desc & 1 == 0 {
            return Err(fault);
        }
        let is_table = desc & 2 != 0;
        if level == 3 || !is_table {
            // A page (level 3, bits 1:0 == 0b11) or a block.
            if (level == 3 && !is_table) || (level < 3 && level < granule.first_block_level()) {
                return Err(fault);
            }
            let out = (desc & OA_MASK & !mask(level_shift)) | (va & mask(level_shift));
            if out >= pa_limit {
                return Err(WalkError::AddressSize { addr: out });
            }
            return Ok(out);
        }
        table = desc & OA_MASK & !mask(shift);
    }
    unreachable!("level 3 always ends the walk")
}

/// The low `bits` bits set (`bits <= 64`).
const fn mask(bits: u32) -> u64 {
    if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    }
}
