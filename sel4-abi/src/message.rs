//! Message tags and the small bit-packed words that travel with invocations.

use crate::Word;

/// Maximum number of message registers in one message (`seL4_MsgMaxLength`).
pub const MSG_MAX_LENGTH: usize = 120;
/// Maximum number of extra caps in one message (`seL4_MsgMaxExtraCaps`).
pub const MSG_MAX_EXTRA_CAPS: usize = 3;
/// Message registers passed in CPU registers (x2..x5) rather than the IPC buffer
/// (`seL4_FastMessageRegisters`).
pub const FAST_MESSAGE_REGISTERS: usize = 4;

const LENGTH_BITS: u32 = 7;
const EXTRA_CAPS_BITS: u32 = 2;
const CAPS_UNWRAPPED_BITS: u32 = 3;
const LABEL_BITS: u32 = 52;

const LENGTH_SHIFT: u32 = 0;
const EXTRA_CAPS_SHIFT: u32 = LENGTH_SHIFT + LENGTH_BITS;
const CAPS_UNWRAPPED_SHIFT: u32 = EXTRA_CAPS_SHIFT + EXTRA_CAPS_BITS;
const LABEL_SHIFT: u32 = CAPS_UNWRAPPED_SHIFT + CAPS_UNWRAPPED_BITS;

const fn mask(bits: u32) -> Word {
    (1 << bits) - 1
}

/// The message tag sent in x1 with every IPC (`seL4_MessageInfo_t`).
///
/// Layout, most significant first: label (52 bits), capsUnwrapped (3),
/// extraCaps (2), length (7).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(transparent)]
pub struct MessageInfo(Word);

impl MessageInfo {
    /// Builds a tag (`seL4_MessageInfo_new`). Fields wider than their bit
    /// width are truncated, exactly as the C bitfield constructor does on a
    /// release build.
    pub const fn new(label: Word, caps_unwrapped: Word, extra_caps: Word, length: Word) -> Self {
        Self(
            ((label & mask(LABEL_BITS)) << LABEL_SHIFT)
                | ((caps_unwrapped & mask(CAPS_UNWRAPPED_BITS)) << CAPS_UNWRAPPED_SHIFT)
                | ((extra_caps & mask(EXTRA_CAPS_BITS)) << EXTRA_CAPS_SHIFT)
                | ((length & mask(LENGTH_BITS)) << LENGTH_SHIFT),
        )
    }

    /// Reinterprets a raw word received from the kernel.
    pub const fn from_word(w: Word) -> Self {
        Self(w)
    }

    /// The raw word as passed in x1.
    pub const fn into_word(self) -> Word {
        self.0
    }

    /// `seL4_MessageInfo_get_label`.
    pub const fn label(self) -> Word {
        (self.0 >> LABEL_SHIFT) & mask(LABEL_BITS)
    }

    /// `seL4_MessageInfo_get_capsUnwrapped`.
    pub const fn caps_unwrapped(self) -> Word {
        (self.0 >> CAPS_UNWRAPPED_SHIFT) & mask(CAPS_UNWRAPPED_BITS)
    }

    /// `seL4_MessageInfo_get_extraCaps`.
    pub const fn extra_caps(self) -> usize {
        ((self.0 >> EXTRA_CAPS_SHIFT) & mask(EXTRA_CAPS_BITS)) as usize
    }

    /// `seL4_MessageInfo_get_length` (number of message registers).
    pub const fn length(self) -> usize {
        ((self.0 >> LENGTH_SHIFT) & mask(LENGTH_BITS)) as usize
    }

    /// Returns a copy with a different length field.
    pub const fn with_length(self, length: Word) -> Self {
        Self::new(
            self.label(),
            self.caps_unwrapped(),
            self.extra_caps() as Word,
            length,
        )
    }

    /// Returns a copy with a different label.
    pub const fn with_label(self, label: Word) -> Self {
        Self::new(
            label,
            self.caps_unwrapped(),
            self.extra_caps() as Word,
            self.length() as Word,
        )
    }
}

impl core::fmt::Debug for MessageInfo {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MessageInfo")
            .field("label", &self.label())
            .field("caps_unwrapped", &self.caps_unwrapped())
            .field("extra_caps", &self.extra_caps())
            .field("length", &self.length())
            .finish()
    }
}

/// Access rights of a capability (`seL4_CapRights_t`).
///
/// Bits, least significant first: write, read, grant, grantReply.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
#[repr(transparent)]
pub struct CapRights(Word);

impl CapRights {
    /// `seL4_CapRights_new(grant_reply, grant, read, write)`.
    pub const fn new(grant_reply: bool, grant: bool, read: bool, write: bool) -> Self {
        Self(
            ((grant_reply as Word) << 3)
                | ((grant as Word) << 2)
                | ((read as Word) << 1)
                | (write as Word),
        )
    }
    /// `seL4_ReadWrite`.
    pub const READ_WRITE: Self = Self::new(false, false, true, true);
    /// `seL4_AllRights`.
    pub const ALL: Self = Self::new(true, true, true, true);
    /// `seL4_CanRead`.
    pub const READ: Self = Self::new(false, false, true, false);
    /// `seL4_CanWrite`.
    pub const WRITE: Self = Self::new(false, false, false, true);
    /// `seL4_CanGrant`.
    pub const GRANT: Self = Self::new(false, true, false, false);
    /// `seL4_CanGrantReply`.
    pub const GRANT_REPLY: Self = Self::new(true, false, false, false);
    /// `seL4_NoWrite`.
    pub const NO_WRITE: Self = Self::new(true, true, true, false);
    /// `seL4_NoRead`.
    pub const NO_READ: Self = Self::new(true, true, false, true);
    /// `seL4_NoRights`.
    pub const NONE: Self = Self::new(false, false, false, false);

    /// The raw word as sent in a message register.
    pub const fn into_word(self) -> Word {
        self.0
    }
    /// Reinterprets a raw rights word (only the low 4 bits are kept).
    pub const fn from_word(w: Word) -> Self {
        Self(w & 0xf)
    }
    /// Write right.
    pub const fn can_write(self) -> bool {
        self.0 & 1 != 0
    }
    /// Read right.
    pub const fn can_read(self) -> bool {
        self.0 & 2 != 0
    }
    /// Grant right.
    pub const fn can_grant(self) -> bool {
        self.0 & 4 != 0
    }
    /// GrantReply right.
    pub const fn can_grant_reply(self) -> bool {
        self.0 & 8 != 0
    }
}

/// CNode guard data used by `TCB_Configure`/`SetSpace`/`CNode_Mint` (`seL4_CNode_CapData`).
///
/// Layout, most significant first: guard (58 bits), guardSize (6 bits).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
#[repr(transparent)]
pub struct CNodeCapData(Word);

impl CNodeCapData {
    /// `seL4_CNode_CapData_new(guard, guard_size)`.
    pub const fn new(guard: Word, guard_size: u32) -> Self {
        Self(((guard & mask(58)) << 6) | (guard_size as Word & mask(6)))
    }
    /// Raw word.
    pub const fn into_word(self) -> Word {
        self.0
    }
    /// Guard value.
    pub const fn guard(self) -> Word {
        self.0 >> 6
    }
    /// Guard size in bits.
    pub const fn guard_size(self) -> u32 {
        (self.0 & mask(6)) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_info_known_values() {
        // Values computed by hand from the bitfield spec.
        assert_eq!(MessageInfo::new(0, 0, 0, 0).into_word(), 0);
        assert_eq!(MessageInfo::new(1, 0, 0, 0).into_word(), 0x1000);
        assert_eq!(MessageInfo::new(0, 1, 0, 0).into_word(), 0x200);
        assert_eq!(MessageInfo::new(0, 0, 1, 0).into_word(), 0x80);
        assert_eq!(MessageInfo::new(0, 0, 0, 1).into_word(), 0x1);
        assert_eq!(
            MessageInfo::new(0x2a, 7, 3, 120).into_word(),
            0x2a000 | 0xe00 | 0x180 | 120
        );
        assert_eq!(
            MessageInfo::new((1 << 52) - 1, 0, 0, 0).into_word(),
            0xffff_ffff_ffff_f000
        );
    }

    #[test]
    fn message_info_roundtrip() {
        for &(l, u, e, n) in &[
            (0u64, 0u64, 0u64, 0u64),
            (5, 1, 2, 3),
            ((1 << 52) - 1, 7, 3, 127),
            (0x12345, 4, 1, 64),
        ] {
            let m = MessageInfo::new(l, u, e, n);
            assert_eq!(m.label(), l);
            assert_eq!(m.caps_unwrapped(), u);
            assert_eq!(m.extra_caps() as u64, e);
            assert_eq!(m.length() as u64, n);
            assert_eq!(MessageInfo::from_word(m.into_word()), m);
        }
    }

    #[test]
    fn message_info_truncates_oversized_fields() {
        let m = MessageInfo::new(0, 0, 4, 128);
        assert_eq!(m.extra_caps(), 0);
        assert_eq!(m.length(), 0);
        assert_eq!(m.with_length(9).length(), 9);
        assert_eq!(m.with_label(77).label(), 77);
    }

    #[test]
    fn rights_bits() {
        assert_eq!(CapRights::READ_WRITE.into_word(), 0b0011);
        assert_eq!(CapRights::ALL.into_word(), 0b1111);
        assert_eq!(CapRights::READ.into_word(), 0b0010);
        assert_eq!(CapRights::WRITE.into_word(), 0b0001);
        assert_eq!(CapRights::GRANT.into_word(), 0b0100);
        assert_eq!(CapRights::GRANT_REPLY.into_word(), 0b1000);
        assert!(CapRights::NO_WRITE.can_read() && !CapRights::NO_WRITE.can_write());
        assert!(CapRights::NO_READ.can_write() && !CapRights::NO_READ.can_read());
    }

    #[test]
    fn cnode_cap_data() {
        let d = CNodeCapData::new(0, 52);
        assert_eq!(d.into_word(), 52);
        let d = CNodeCapData::new(3, 2);
        assert_eq!(d.into_word(), (3 << 6) | 2);
        assert_eq!(d.guard(), 3);
        assert_eq!(d.guard_size(), 2);
    }
}
