//! Decoding of AArch64 load/store instructions for MMIO emulation.
//!
//! When a guest data abort has no valid instruction syndrome (`ISV == 0`:
//! pairs, pre/post-indexed writeback, ...) the VMM has to fetch the faulting
//! instruction and decode it itself. libsel4vm only does this for AArch32
//! guests; this module covers the A64 general-purpose-register loads and
//! stores and classifies everything else in the load/store encoding group.
//!
//! Register numbering, as everywhere in this module:
//! * transfer registers (`rt`, `rt2`) and the register-offset index: 31 is
//!   the zero register XZR/WZR (reads as 0, writes are discarded);
//! * the base register (`Rn`): 31 is the stack pointer SP.
//!
//! Decoding is total: every `u32` yields `Ok` or a typed [`DecodeError`],
//! never a panic. Encodings are taken from the Arm ARM, section C4.1
//! "Loads and Stores".

use super::AccessSize;
use core::fmt;

/// Direction of a memory access.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MemKind {
    /// Memory to register(s).
    Load,
    /// Register(s) to memory.
    Store,
}

/// Memory-ordering semantics of the instruction. Emulated device accesses
/// complete synchronously, so this is informational.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Ordering {
    /// No ordering semantics.
    Plain,
    /// Load-acquire (LDAR*, LDLAR*).
    Acquire,
    /// Load-acquire RCpc (LDAPR*, LDAPUR*).
    AcquirePc,
    /// Store-release (STLR*, STLLR*, STLUR*).
    Release,
}

/// How the index register of a register-offset access is extended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Extend {
    /// `UXTW`: Wm zero-extended.
    Uxtw,
    /// `LSL` / `UXTX`: Xm as is.
    Lsl,
    /// `SXTW`: Wm sign-extended.
    Sxtw,
    /// `SXTX`: Xm as is (signed, same bits as `Lsl`).
    Sxtx,
}

/// Addressing mode and the registers it involves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Addressing {
    /// `[Xn|SP, #offset]`, no writeback: scaled unsigned immediate, unscaled
    /// (LDUR/STUR/LDTR*/LDAPUR*), pair signed offset (LDP/STP/LDNP/STNP) and
    /// the base-only forms (LDAR/STLR/LDAPR, `offset == 0`).
    Offset {
        /// Base register Xn; 31 is SP.
        base: u8,
        /// Signed byte offset (already scaled).
        offset: i64,
    },
    /// `[Xn|SP, #offset]!`: address is `base + offset`, base updated.
    PreIndex {
        /// Base register Xn; 31 is SP.
        base: u8,
        /// Signed byte offset, added to the base before the access.
        offset: i64,
    },
    /// `[Xn|SP], #offset`: address is `base`, then base += offset.
    PostIndex {
        /// Base register Xn; 31 is SP.
        base: u8,
        /// Signed byte offset, added to the base after the access.
        offset: i64,
    },
    /// `[Xn|SP, Rm{, extend #shift}]`; `index == 31` is XZR. No writeback.
    Register {
        /// Base register Xn; 31 is SP.
        base: u8,
        /// Index register Rm; 31 is XZR.
        index: u8,
        /// How Rm is extended.
        extend: Extend,
        /// Left shift applied to the extended index (0 or log2 of the size).
        shift: u8,
    },
    /// PC-relative literal load: address is `pc + offset`.
    Literal {
        /// Signed byte offset from the instruction's address.
        offset: i64,
    },
    /// Not known: the access was built from a data-abort syndrome, which
    /// does not report the base register (it is only valid for accesses
    /// without writeback).
    Unknown,
}

/// A base-register update performed by a pre- or post-indexed access.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Writeback {
    /// The base register; 31 is SP.
    pub base: u8,
    /// `true` for post-index (address = old base), `false` for pre-index
    /// (address = old base + offset). Either way the new base is
    /// `old base + offset`.
    pub post_index: bool,
    /// Signed byte offset added to the base.
    pub offset: i64,
}

/// A decoded general-purpose-register memory access.
///
/// Produced by [`decode_load_store`] or by
/// [`crate::arch::syndrome::DataAbortIss::mem_access`]; consumed by
/// [`crate::arch::emulate`]. Corresponds to the access description libsel4vm
/// keeps in `fault_t` (`fault_get_width`, `fault_is_read`, the decoded Rt),
/// extended with pairs, sign extension and writeback.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MemAccess {
    /// Load or store.
    pub kind: MemKind,
    /// Size of each register's transfer (for pairs: of each of the two).
    pub size: AccessSize,
    /// Loads only: the loaded value is sign-extended (LDRSB/LDRSH/LDRSW,
    /// LDPSW, LDAPURS*). Always `false` for stores.
    pub sign_extend: bool,
    /// The transfer register is 64 bits wide (Xt) rather than 32 (Wt).
    /// Decides whether a sign-extending load fills 32 or 64 bits; a write
    /// to Wt zeroes bits\[63:32\]. Matches the syndrome's `SF` bit.
    pub dest_is_64: bool,
    /// First transfer register; 31 is XZR.
    pub rt: u8,
    /// Second transfer register of a pair (LDP/STP/LDNP/STNP/LDPSW), which
    /// accesses the next `size` bytes; 31 is XZR.
    pub rt2: Option<u8>,
    /// Addressing mode, base and offset.
    pub addressing: Addressing,
    /// Acquire/release semantics.
    pub ordering: Ordering,
    /// Unprivileged access (LDTR*/STTR*): checked as if from EL0.
    pub unprivileged: bool,
}

impl MemAccess {
    /// The base register (31 = SP), if the mode has one.
    pub const fn base(&self) -> Option<u8> {
        match self.addressing {
            Addressing::Offset { base, .. }
            | Addressing::PreIndex { base, .. }
            | Addressing::PostIndex { base, .. }
            | Addressing::Register { base, .. } => Some(base),
            Addressing::Literal { .. } | Addressing::Unknown => None,
        }
    }

    /// The base-register update, for pre/post-indexed forms.
    pub const fn writeback(&self) -> Option<Writeback> {
        match self.addressing {
            Addressing::PreIndex { base, offset } => Some(Writeback {
                base,
                post_index: false,
                offset,
            }),
            Addressing::PostIndex { base, offset } => Some(Writeback {
                base,
                post_index: true,
                offset,
            }),
            _ => None,
        }
    }

    /// `true` for the two-register forms.
    pub const fn is_pair(&self) -> bool {
        self.rt2.is_some()
    }

    /// Total bytes transferred: `size`, or twice that for pairs (up to 16).
    pub const fn total_bytes(&self) -> usize {
        if self.is_pair() {
            2 * self.size.bytes()
        } else {
            self.size.bytes()
        }
    }
}

/// Why an instruction in the load/store group is not emulated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Unsupported {
    /// SIMD/FP register load/store (LDR Qt, LD1, ...): the VMM does not
    /// have the guest's vector registers.
    SimdFp,
    /// Load/store exclusive (LDXR/STXR/LDAXP/...): exclusives need a
    /// monitor and make no sense on emulated device memory.
    Exclusive,
    /// Atomic memory operation (LDADD, SWP, CAS, CASP, LD64B/ST64B, ...).
    Atomic,
    /// Prefetch (PRFM/PRFUM): never causes a data abort.
    Prefetch,
    /// Pointer-authenticated load (LDRAA/LDRAB): the address cannot be
    /// recomputed without the guest's keys.
    PointerAuth,
    /// Memory-tagging instruction (STG, LDG, STGP, ...).
    MemoryTagging,
    /// Memory copy/set (CPY*, SET*, FEAT_MOPS).
    MemCopySet,
}

impl Unsupported {
    /// A short human-readable reason.
    pub const fn reason(self) -> &'static str {
        match self {
            Unsupported::SimdFp => "SIMD/FP register load/store",
            Unsupported::Exclusive => "load/store exclusive on emulated memory",
            Unsupported::Atomic => "atomic memory operation on emulated memory",
            Unsupported::Prefetch => "prefetch instruction",
            Unsupported::PointerAuth => "pointer-authenticated load",
            Unsupported::MemoryTagging => "memory-tagging instruction",
            Unsupported::MemCopySet => "memory copy/set instruction",
        }
    }
}

/// Why [`decode_load_store`] did not return an access.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DecodeError {
    /// The word is not in the A64 load/store encoding group at all.
    NotLoadStore(u32),
    /// In the load/store group, but an unallocated encoding or one from an
    /// extension this decoder does not know.
    Unallocated(u32),
    /// A known load/store that is deliberately not emulated.
    Unsupported {
        /// The instruction word.
        word: u32,
        /// Which kind of load/store it is.
        what: Unsupported,
    },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::NotLoadStore(w) => write!(f, "{w:#010x} is not a load/store instruction"),
            DecodeError::Unallocated(w) => {
                write!(
                    f,
                    "{w:#010x} is an unallocated or unknown load/store encoding"
                )
            }
            DecodeError::Unsupported { word, what } => {
                write!(f, "{word:#010x}: unsupported {}", what.reason())
            }
        }
    }
}

#[inline]
const fn bits(word: u32, lo: u32, len: u32) -> u32 {
    (word >> lo) & ((1 << len) - 1)
}

#[inline]
const fn bit(word: u32, n: u32) -> bool {
    (word >> n) & 1 == 1
}

/// Sign-extends the low `len` bits of `v` (`1 <= len <= 32`).
#[inline]
const fn sext(v: u32, len: u32) -> i64 {
    let shift = 64 - len;
    (((v as u64) << shift) as i64) >> shift
}

#[inline]
const fn reg(word: u32, lo: u32) -> u8 {
    bits(word, lo, 5) as u8
}

/// Decodes one A64 instruction word as a general-purpose load/store.
///
/// Supported (each with all the widths the architecture has):
/// LDR/STR{B,H,} and LDRS{B,H,W} with unsigned-offset, pre-index,
/// post-index and register-offset addressing; LDUR/STUR (unscaled);
/// LDTR/STTR (unprivileged); LDR/LDRSW (literal); LDP/STP/LDPSW (signed
/// offset, pre-index, post-index); LDNP/STNP; LDAR/STLR, LDLAR/STLLR,
/// LDAPR and LDAPUR/STLUR (RCpc).
///
/// libsel4vm has no A64 equivalent (its `decode_instruction` handles
/// AArch32 only).
pub fn decode_load_store(word: u32) -> Result<MemAccess, DecodeError> {
    // Top-level A64 group "Loads and Stores": op0 bits[28:25] == x1x0.
    if bits(word, 25, 1) != 0 || bits(word, 27, 1) != 1 {
        return Err(DecodeError::NotLoadStore(word));
    }
    let unsupported = |what| Err(DecodeError::Unsupported { word, what });
    let unallocated = Err(DecodeError::Unallocated(word));

    let op0_lo = bits(word, 28, 2); // bits[29:28]
    let v = bit(word, 26);
    let op2 = bits(word, 23, 2); // bits[24:23]
    let b21 = bit(word, 21);
    let op4 = bits(word, 10, 2); // bits[11:10]

    match op0_lo {
        0b00 => {
            if v {
                // Advanced SIMD load/store multiple/single structures.
                return if bit(word, 31) {
                    unallocated
                } else {
                    unsupported(Unsupported::SimdFp)
                };
            }
            if op2 & 0b10 != 0 {
                return unallocated;
            }
            decode_exclusive_ordered(word)
        }
        0b01 => {
            if op2 & 0b10 == 0 {
                return decode_literal(word);
            }
            if word >> 24 == 0xd9 && b21 {
                return unsupported(Unsupported::MemoryTagging);
            }
            if !b21 && op4 == 0b01 {
                return unsupported(Unsupported::MemCopySet);
            }
            if !b21 && op4 == 0b00 {
                if v {
                    return if bits(word, 22, 2) == 0b11 && bits(word, 30, 2) != 0 {
                        unallocated
                    } else {
                        unsupported(Unsupported::SimdFp)
                    };
                }
                return decode_rcpc_unscaled(word);
            }
            unallocated
        }
        0b10 => decode_pair(word),
        _ => decode_single(word),
    }
}

/// Exclusive, ordered (LDAR/STLR) and compare-and-swap class:
/// `size 001000 o2 L o1 Rs o0 Rt2 Rn Rt`.
fn decode_exclusive_ordered(word: u32) -> Result<MemAccess, DecodeError> {
    let size = bits(word, 30, 2);
    let o2 = bit(word, 23);
    let load = bit(word, 22);
    let o1 = bit(word, 21);
    let unsupported = |what| Err(DecodeError::Unsupported { word, what });
    match (o2, o1) {
        (false, false) => unsupported(Unsupported::Exclusive),
        (false, true) => {
            if size >= 2 {
                unsupported(Unsupported::Exclusive) // LDXP/STXP family
            } else {
                unsupported(Unsupported::Atomic) // CASP family
            }
        }
        (true, true) => unsupported(Unsupported::Atomic), // CAS family
        (true, false) => {
            // STLR/STLLR/LDAR/LDLAR. Rs and Rt2 are "should be one" fields;
            // other values are CONSTRAINED UNPREDICTABLE. A word reaching us
            // faulted on a data access, so the core executed it as the
            // load/store: ignore the fields. (GNU binutils 2.40 ignores them
            // too, except for some LDAR forms.)
            let size = AccessSize::from_log2(size);
            let (kind, ordering) = if load {
                (MemKind::Load, Ordering::Acquire)
            } else {
                (MemKind::Store, Ordering::Release)
            };
            // o0 (bit 15) == 0 selects the LOR variants (LDLAR/STLLR), which
            // transfer the same data.
            Ok(MemAccess {
                kind,
                size,
                sign_extend: false,
                dest_is_64: size == AccessSize::Double,
                rt: reg(word, 0),
                rt2: None,
                addressing: Addressing::Offset {
                    base: reg(word, 5),
                    offset: 0,
                },
                ordering,
                unprivileged: false,
            })
        }
    }
}

/// Load register (literal): `opc 011 V 00 imm19 Rt`.
fn decode_literal(word: u32) -> Result<MemAccess, DecodeError> {
    let opc = bits(word, 30, 2);
    if bit(word, 26) {
        return if opc == 0b11 {
            Err(DecodeError::Unallocated(word))
        } else {
            Err(DecodeError::Unsupported {
                word,
                what: Unsupported::SimdFp,
            })
        };
    }
    let (size, sign_extend, dest_is_64) = match opc {
        0b00 => (AccessSize::Word, false, false),
        0b01 => (AccessSize::Double, false, true),
        0b10 => (AccessSize::Word, true, true),
        _ => {
            return Err(DecodeError::Unsupported {
                word,
                what: Unsupported::Prefetch,
            })
        }
    };
    Ok(MemAccess {
        kind: MemKind::Load,
        size,
        sign_extend,
        dest_is_64,
        rt: reg(word, 0),
        rt2: None,
        addressing: Addressing::Literal {
            offset: sext(bits(word, 5, 19), 19) << 2,
        },
        ordering: Ordering::Plain,
        unprivileged: false,
    })
}

/// LDAPUR/STLUR (RCpc, unscaled immediate):
/// `size 011001 opc 0 imm9 00 Rn Rt`.
fn decode_rcpc_unscaled(word: u32) -> Result<MemAccess, DecodeError> {
    let size = bits(word, 30, 2);
    let opc = bits(word, 22, 2);
    let (kind, sign_extend, dest_is_64) = match (opc, size) {
        (0b00, _) => (MemKind::Store, false, size == 3),
        (0b01, _) => (MemKind::Load, false, size == 3),
        (0b10, 0..=2) => (MemKind::Load, true, true),
        (0b11, 0..=1) => (MemKind::Load, true, false),
        _ => return Err(DecodeError::Unallocated(word)),
    };
    Ok(MemAccess {
        kind,
        size: AccessSize::from_log2(size),
        sign_extend,
        dest_is_64,
        rt: reg(word, 0),
        rt2: None,
        addressing: Addressing::Offset {
            base: reg(word, 5),
            offset: sext(bits(word, 12, 9), 9),
        },
        ordering: match kind {
            MemKind::Load => Ordering::AcquirePc,
            MemKind::Store => Ordering::Release,
        },
        unprivileged: false,
    })
}

/// Register pairs: `opc 101 V 0 mode(2) L imm7 Rt2 Rn Rt`.
fn decode_pair(word: u32) -> Result<MemAccess, DecodeError> {
    let opc = bits(word, 30, 2);
    let mode = bits(word, 23, 2);
    let load = bit(word, 22);
    if bit(word, 26) {
        return if opc == 0b11 {
            Err(DecodeError::Unallocated(word))
        } else {
            Err(DecodeError::Unsupported {
                word,
                what: Unsupported::SimdFp,
            })
        };
    }
    let (size, sign_extend, dest_is_64) = match (opc, load) {
        (0b00, _) => (AccessSize::Word, false, false),
        (0b10, _) => (AccessSize::Double, false, true),
        // LDPSW has no no-allocate form.
        (0b01, true) if mode != 0b00 => (AccessSize::Word, true, true),
        // STGP (FEAT_MTE).
        (0b01, false) if mode != 0b00 => {
            return Err(DecodeError::Unsupported {
                word,
                what: Unsupported::MemoryTagging,
            })
        }
        _ => return Err(DecodeError::Unallocated(word)),
    };
    let base = reg(word, 5);
    let offset = sext(bits(word, 15, 7), 7) << size.log2();
    let addressing = match mode {
        0b00 | 0b10 => Addressing::Offset { base, offset },
        0b01 => Addressing::PostIndex { base, offset },
        _ => Addressing::PreIndex { base, offset },
    };
    Ok(MemAccess {
        kind: if load { MemKind::Load } else { MemKind::Store },
        size,
        sign_extend,
        dest_is_64,
        rt: reg(word, 0),
        rt2: Some(reg(word, 10)),
        addressing,
        ordering: Ordering::Plain,
        unprivileged: false,
    })
}

/// What `size`/`opc` select in the single-register classes (V == 0).
enum SingleOp {
    Access {
        kind: MemKind,
        sign_extend: bool,
        dest_is_64: bool,
    },
    Prefetch,
    Unallocated,
}

fn single_op(size: u32, opc: u32) -> SingleOp {
    match (opc, size) {
        (0b00, _) => SingleOp::Access {
            kind: MemKind::Store,
            sign_extend: false,
            dest_is_64: size == 3,
        },
        (0b01, _) => SingleOp::Access {
            kind: MemKind::Load,
            sign_extend: false,
            dest_is_64: size == 3,
        },
        (0b10, 0..=2) => SingleOp::Access {
            kind: MemKind::Load,
            sign_extend: true,
            dest_is_64: true,
        },
        (0b10, _) => SingleOp::Prefetch,
        (0b11, 0..=1) => SingleOp::Access {
            kind: MemKind::Load,
            sign_extend: true,
            dest_is_64: false,
        },
        _ => SingleOp::Unallocated,
    }
}

/// Single register classes (op0 == xx11): `size 111 V 0x opc ...`.
fn decode_single(word: u32) -> Result<MemAccess, DecodeError> {
    let size = bits(word, 30, 2);
    let v = bit(word, 26);
    let unsigned_imm = bit(word, 24);
    let opc = bits(word, 22, 2);
    let b21 = bit(word, 21);
    let op4 = bits(word, 10, 2);
    let base = reg(word, 5);
    let unsupported = |what| Err(DecodeError::Unsupported { word, what });
    let unallocated = Err(DecodeError::Unallocated(word));

    #[derive(PartialEq)]
    enum Form {
        UnsignedImm,
        Unscaled,
        Post,
        Unpriv,
        Pre,
        Reg,
    }
    let form = if unsigned_imm {
        Form::UnsignedImm
    } else if !b21 {
        match op4 {
            0b00 => Form::Unscaled,
            0b01 => Form::Post,
            0b10 => Form::Unpriv,
            _ => Form::Pre,
        }
    } else {
        match op4 {
            0b00 => {
                // Atomic memory operations; LDAPR{B,H} is the one plain load.
                // LDAPR: A=1 R=0 Rs=11111 o3=1 opc=100.
                if v {
                    return unallocated;
                }
                if bits(word, 22, 2) == 0b10 && bits(word, 12, 9) == (0b11111 << 4 | 1 << 3 | 0b100)
                {
                    let s = AccessSize::from_log2(size);
                    return Ok(MemAccess {
                        kind: MemKind::Load,
                        size: s,
                        sign_extend: false,
                        dest_is_64: s == AccessSize::Double,
                        rt: reg(word, 0),
                        rt2: None,
                        addressing: Addressing::Offset { base, offset: 0 },
                        ordering: Ordering::AcquirePc,
                        unprivileged: false,
                    });
                }
                return unsupported(Unsupported::Atomic);
            }
            // option<1> (bit 14) clear is unallocated for every width.
            0b10 if bit(word, 14) => Form::Reg,
            0b10 => return unallocated,
            _ => {
                // LDRAA/LDRAB: 64-bit, V == 0 only.
                return if size == 3 && !v {
                    unsupported(Unsupported::PointerAuth)
                } else {
                    unallocated
                };
            }
        }
    };

    if v {
        // SIMD/FP: opc<1> == 1 is only valid with size == 00 (the Q form),
        // and there are no unprivileged SIMD forms.
        return if form == Form::Unpriv || (opc & 0b10 != 0 && size != 0) {
            unallocated
        } else {
            unsupported(Unsupported::SimdFp)
        };
    }

    let (kind, sign_extend, dest_is_64) = match single_op(size, opc) {
        SingleOp::Access {
            kind,
            sign_extend,
            dest_is_64,
        } => (kind, sign_extend, dest_is_64),
        SingleOp::Prefetch => {
            // PRFM has immediate, register and (as PRFUM) unscaled forms only.
            return match form {
                Form::UnsignedImm | Form::Unscaled | Form::Reg => {
                    unsupported(Unsupported::Prefetch)
                }
                _ => unallocated,
            };
        }
        SingleOp::Unallocated => return unallocated,
    };
    let size = AccessSize::from_log2(size);
    let imm9 = sext(bits(word, 12, 9), 9);
    let addressing = match form {
        Form::UnsignedImm => Addressing::Offset {
            base,
            offset: (bits(word, 10, 12) as i64) << size.log2(),
        },
        Form::Unscaled | Form::Unpriv => Addressing::Offset { base, offset: imm9 },
        Form::Post => Addressing::PostIndex { base, offset: imm9 },
        Form::Pre => Addressing::PreIndex { base, offset: imm9 },
        Form::Reg => {
            let extend = match bits(word, 13, 3) {
                0b010 => Extend::Uxtw,
                0b011 => Extend::Lsl,
                0b110 => Extend::Sxtw,
                0b111 => Extend::Sxtx,
                _ => return unallocated,
            };
            let shift = if bit(word, 12) { size.log2() as u8 } else { 0 };
            Addressing::Register {
                base,
                index: reg(word, 16),
                extend,
                shift,
            }
        }
    };
    Ok(MemAccess {
        kind,
        size,
        sign_extend,
        dest_is_64,
        rt: reg(word, 0),
        rt2: None,
        addressing,
        ordering: Ordering::Plain,
        unprivileged: form == Form::Unpriv,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sext_edges() {
        assert_eq!(sext(0x1ff, 9), -1);
        assert_eq!(sext(0x100, 9), -256);
        assert_eq!(sext(0x0ff, 9), 255);
        assert_eq!(sext(0x40000, 19), -(1 << 18));
    }

    #[test]
    fn ldr_x0_x1() {
        // ldr x0, [x1]
        let a = decode_load_store(0xf940_0020).unwrap();
        assert_eq!(a.kind, MemKind::Load);
        assert_eq!(a.size, AccessSize::Double);
        assert_eq!(a.rt, 0);
        assert_eq!(a.addressing, Addressing::Offset { base: 1, offset: 0 });
    }

    #[test]
    fn non_load_store() {
        // nop
        assert_eq!(
            decode_load_store(0xd503_201f),
            Err(DecodeError::NotLoadStore(0xd503_201f))
        );
    }
}
