//! aarch64/ARM constants and register layouts: object sizes, VM attributes,
//! `seL4_UserContext`, `seL4_ARM_SMCContext`, VCPU register numbers.

use crate::labels::config;
use crate::Word;

/// `seL4_PageBits` (4 KiB frames).
pub const PAGE_BITS: usize = 12;
/// `seL4_LargePageBits` (2 MiB frames).
pub const LARGE_PAGE_BITS: usize = 21;
/// `seL4_HugePageBits` (1 GiB frames).
pub const HUGE_PAGE_BITS: usize = 30;
/// 4 KiB.
pub const PAGE_SIZE: usize = 1 << PAGE_BITS;
/// 2 MiB.
pub const LARGE_PAGE_SIZE: usize = 1 << LARGE_PAGE_BITS;
/// 1 GiB.
pub const HUGE_PAGE_SIZE: usize = 1 << HUGE_PAGE_BITS;
/// `seL4_SlotBits`: log2 of the size of one CNode slot.
pub const SLOT_BITS: usize = 5;
/// `seL4_TCBBits` for this configuration (no hardware debug API, no CP14 save).
pub const TCB_BITS: usize = if config::HARDWARE_DEBUG_API { 12 } else { 11 };
/// `seL4_EndpointBits`.
pub const ENDPOINT_BITS: usize = 4;
/// `seL4_NotificationBits` (non-MCS).
pub const NOTIFICATION_BITS: usize = 5;
/// `seL4_PageTableBits`.
pub const PAGE_TABLE_BITS: usize = 12;
/// `seL4_PageTableIndexBits`.
pub const PAGE_TABLE_INDEX_BITS: usize = 9;
/// `seL4_VSpaceBits` (13 only with a 40-bit PA and hypervisor support).
pub const VSPACE_BITS: usize = if config::ARM_PA_SIZE_BITS_40 { 13 } else { 12 };
/// `seL4_VSpaceIndexBits`.
pub const VSPACE_INDEX_BITS: usize = if config::ARM_PA_SIZE_BITS_40 { 10 } else { 9 };
/// `seL4_ASIDPoolBits`.
pub const ASID_POOL_BITS: usize = 12;
/// `seL4_NumASIDPoolsBits`.
pub const NUM_ASID_POOLS_BITS: usize = 7;
/// `seL4_ASIDPoolIndexBits`.
pub const ASID_POOL_INDEX_BITS: usize = 9;
/// `seL4_VCPUBits`.
pub const VCPU_BITS: usize = 12;
/// `seL4_MinUntypedBits`.
pub const MIN_UNTYPED_BITS: usize = 4;
/// `seL4_MaxUntypedBits`.
pub const MAX_UNTYPED_BITS: usize = 47;
/// `seL4_WordBits`.
pub const WORD_BITS: usize = 64;
/// `seL4_UserTop` with hypervisor support (stage-2 IPA limit of the guest).
pub const USER_TOP: Word = if config::ARM_PA_SIZE_BITS_40 {
    0xff_ffff_ffff
} else {
    0xfff_ffff_ffff
};
/// `seL4_MinPrio`.
pub const MIN_PRIO: Word = 0;
/// `seL4_MaxPrio`.
pub const MAX_PRIO: Word = config::NUM_PRIORITIES as Word - 1;

/// `seL4_ARM_VMAttributes` for `Page_Map`/`PageTable_Map`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[repr(transparent)]
pub struct VmAttributes(pub Word);

impl VmAttributes {
    /// No attributes: device (uncached) memory, executable.
    pub const NONE: Self = Self(0);
    /// `seL4_ARM_PageCacheable`.
    pub const PAGE_CACHEABLE: Self = Self(1);
    /// `seL4_ARM_ParityEnabled`.
    pub const PARITY_ENABLED: Self = Self(2);
    /// `seL4_ARM_Default_VMAttributes` (cacheable | parity).
    pub const DEFAULT: Self = Self(3);
    /// `seL4_ARM_ExecuteNever`.
    pub const EXECUTE_NEVER: Self = Self(4);

    /// Union of two attribute sets.
    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }
    /// Raw word.
    pub const fn into_word(self) -> Word {
        self.0
    }
}

impl core::ops::BitOr for VmAttributes {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        self.union(rhs)
    }
}

/// IRQ trigger mode for `IRQControl_GetTrigger`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum IrqTrigger {
    /// Level-triggered (0).
    Level = 0,
    /// Edge-triggered (1).
    Edge = 1,
}

/// Register state of a thread as read/written by `TCB_ReadRegisters` /
/// `TCB_WriteRegisters` (`seL4_UserContext`, aarch64).
///
/// The order is the kernel's, not numeric: frame registers first
/// (pc, sp, spsr, x0..x8, x16..x18, x29, x30), then the other integer
/// registers, then the thread ID registers. `tpidrro_el0` is where this crate
/// expects each thread's IPC buffer address (see [`crate::ipc_buffer`]).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
#[repr(C)]
#[allow(missing_docs)]
pub struct UserContext {
    pub pc: Word,
    pub sp: Word,
    pub spsr: Word,
    pub x0: Word,
    pub x1: Word,
    pub x2: Word,
    pub x3: Word,
    pub x4: Word,
    pub x5: Word,
    pub x6: Word,
    pub x7: Word,
    pub x8: Word,
    pub x16: Word,
    pub x17: Word,
    pub x18: Word,
    pub x29: Word,
    pub x30: Word,
    pub x9: Word,
    pub x10: Word,
    pub x11: Word,
    pub x12: Word,
    pub x13: Word,
    pub x14: Word,
    pub x15: Word,
    pub x19: Word,
    pub x20: Word,
    pub x21: Word,
    pub x22: Word,
    pub x23: Word,
    pub x24: Word,
    pub x25: Word,
    pub x26: Word,
    pub x27: Word,
    pub x28: Word,
    pub tpidr_el0: Word,
    pub tpidrro_el0: Word,
}

impl UserContext {
    /// Number of words (36).
    pub const WORDS: usize = 36;
    /// Number of frame registers (pc..x30), the prefix the kernel treats as one group.
    pub const FRAME_WORDS: usize = 17;

    /// The registers as words, in kernel order.
    pub fn as_words(&self) -> [Word; Self::WORDS] {
        let mut out = [0; Self::WORDS];
        for (i, w) in out.iter_mut().enumerate() {
            *w = self.word(i).unwrap_or(0);
        }
        out
    }

    /// Builds a context from words in kernel order; missing words are 0.
    pub fn from_words(words: &[Word]) -> Self {
        let mut c = Self::default();
        for (i, &w) in words.iter().take(Self::WORDS).enumerate() {
            c.set_word(i, w);
        }
        c
    }

    fn slots(&mut self) -> [&mut Word; Self::WORDS] {
        [
            &mut self.pc,
            &mut self.sp,
            &mut self.spsr,
            &mut self.x0,
            &mut self.x1,
            &mut self.x2,
            &mut self.x3,
            &mut self.x4,
            &mut self.x5,
            &mut self.x6,
            &mut self.x7,
            &mut self.x8,
            &mut self.x16,
            &mut self.x17,
            &mut self.x18,
            &mut self.x29,
            &mut self.x30,
            &mut self.x9,
            &mut self.x10,
            &mut self.x11,
            &mut self.x12,
            &mut self.x13,
            &mut self.x14,
            &mut self.x15,
            &mut self.x19,
            &mut self.x20,
            &mut self.x21,
            &mut self.x22,
            &mut self.x23,
            &mut self.x24,
            &mut self.x25,
            &mut self.x26,
            &mut self.x27,
            &mut self.x28,
            &mut self.tpidr_el0,
            &mut self.tpidrro_el0,
        ]
    }

    /// Word `i` in kernel order.
    pub fn word(&self, i: usize) -> Option<Word> {
        let mut c = *self;
        c.slots().get(i).map(|w| **w)
    }

    /// Sets word `i` in kernel order; `false` if out of range.
    pub fn set_word(&mut self, i: usize, v: Word) -> bool {
        match self.slots().into_iter().nth(i) {
            Some(w) => {
                *w = v;
                true
            }
            None => false,
        }
    }

    /// General-purpose register `xN` (0..=30) by number.
    pub fn x(&self, n: usize) -> Option<Word> {
        Self::x_index(n).and_then(|i| self.word(i))
    }

    /// Sets `xN` (0..=30) by number; `false` if `n > 30`.
    pub fn set_x(&mut self, n: usize, v: Word) -> bool {
        match Self::x_index(n) {
            Some(i) => self.set_word(i, v),
            None => false,
        }
    }

    /// Position of `xN` in kernel order.
    const fn x_index(n: usize) -> Option<usize> {
        Some(match n {
            0..=8 => 3 + n,
            16..=18 => 12 + (n - 16),
            29 => 15,
            30 => 16,
            9..=15 => 17 + (n - 9),
            19..=28 => 24 + (n - 19),
            _ => return None,
        })
    }
}

/// Arguments/results of `ARM_SMC_Call` (`seL4_ARM_SMCContext`): x0..x7.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
#[repr(C)]
#[allow(missing_docs)]
pub struct SmcContext {
    pub x0: Word,
    pub x1: Word,
    pub x2: Word,
    pub x3: Word,
    pub x4: Word,
    pub x5: Word,
    pub x6: Word,
    pub x7: Word,
}

impl SmcContext {
    /// The registers as words.
    pub const fn as_words(&self) -> [Word; 8] {
        [
            self.x0, self.x1, self.x2, self.x3, self.x4, self.x5, self.x6, self.x7,
        ]
    }
    /// Builds a context from words; missing words are 0.
    pub fn from_words(w: &[Word]) -> Self {
        let g = |i: usize| w.get(i).copied().unwrap_or(0);
        Self {
            x0: g(0),
            x1: g(1),
            x2: g(2),
            x3: g(3),
            x4: g(4),
            x5: g(5),
            x6: g(6),
            x7: g(7),
        }
    }
}

/// VCPU system registers accessible with `ARM_VCPU_ReadRegs`/`WriteRegs`
/// (`seL4_VCPUReg`, aarch64).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[repr(u64)]
#[allow(missing_docs)]
pub enum VcpuReg {
    Sctlr = 0,
    Cpacr = 1,
    Ttbr0 = 2,
    Ttbr1 = 3,
    Tcr = 4,
    Mair = 5,
    Amair = 6,
    Cidr = 7,
    Actlr = 8,
    Afsr0 = 9,
    Afsr1 = 10,
    Esr = 11,
    Far = 12,
    Par = 13,
    Vbar = 14,
    TpidrEl1 = 15,
    VmpidrEl2 = 16,
    SpEl1 = 17,
    ElrEl1 = 18,
    SpsrEl1 = 19,
    CntvCtl = 20,
    CntvCval = 21,
    Cntvoff = 22,
    CntkctlEl1 = 23,
}

impl VcpuReg {
    /// `seL4_VCPUReg_Num`.
    pub const NUM: u64 = 24;
    /// The numeric register id.
    pub const fn raw(self) -> Word {
        self as Word
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::offset_of;

    #[test]
    fn user_context_kernel_order() {
        assert_eq!(core::mem::size_of::<UserContext>(), 36 * 8);
        assert_eq!(offset_of!(UserContext, pc), 0);
        assert_eq!(offset_of!(UserContext, spsr), 16);
        assert_eq!(offset_of!(UserContext, x0), 24);
        assert_eq!(offset_of!(UserContext, x16), 12 * 8);
        assert_eq!(offset_of!(UserContext, x30), 16 * 8);
        assert_eq!(offset_of!(UserContext, x9), 17 * 8);
        assert_eq!(offset_of!(UserContext, x19), 24 * 8);
        assert_eq!(offset_of!(UserContext, tpidrro_el0), 35 * 8);
    }

    #[test]
    fn user_context_words_and_x_access() {
        let words: std::vec::Vec<Word> = (100..136).collect();
        let c = UserContext::from_words(&words);
        assert_eq!(c.as_words().to_vec(), words);
        assert_eq!(c.pc, 100);
        assert_eq!(c.x17, 113);
        assert_eq!(c.tpidrro_el0, 135);
        // xN by number must agree with the named field.
        assert_eq!(c.x(0), Some(c.x0));
        assert_eq!(c.x(8), Some(c.x8));
        assert_eq!(c.x(9), Some(c.x9));
        assert_eq!(c.x(15), Some(c.x15));
        assert_eq!(c.x(16), Some(c.x16));
        assert_eq!(c.x(18), Some(c.x18));
        assert_eq!(c.x(19), Some(c.x19));
        assert_eq!(c.x(28), Some(c.x28));
        assert_eq!(c.x(29), Some(c.x29));
        assert_eq!(c.x(30), Some(c.x30));
        assert_eq!(c.x(31), None);
        let mut d = c;
        assert!(d.set_x(21, 7));
        assert_eq!(d.x21, 7);
        assert!(!d.set_x(31, 7));
        assert!(!d.set_word(36, 1));
        // Every xN maps to a distinct slot.
        let mut seen = std::collections::BTreeSet::new();
        for n in 0..=30 {
            assert!(seen.insert(UserContext::x_index(n).unwrap()));
        }
    }

    #[test]
    fn vm_attributes_and_sizes() {
        assert_eq!(
            (VmAttributes::PAGE_CACHEABLE | VmAttributes::PARITY_ENABLED),
            VmAttributes::DEFAULT
        );
        assert_eq!(
            VmAttributes::DEFAULT
                .union(VmAttributes::EXECUTE_NEVER)
                .into_word(),
            7
        );
        assert_eq!(VSPACE_BITS, 12); // 44-bit PA on cortex-a57
        assert_eq!(TCB_BITS, 11);
        assert_eq!(VcpuReg::CntkctlEl1.raw() + 1, VcpuReg::NUM);
        assert_eq!(VcpuReg::SpsrEl1.raw(), 19);
        assert_eq!(MAX_PRIO, 255);
    }
}
