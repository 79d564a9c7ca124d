//! Kernel error codes (`seL4_Error`).

use crate::Word;

/// An error returned by a kernel invocation (`seL4_Error` without `seL4_NoError`).
///
/// The kernel reports it as the label of the reply message. Values outside the
/// known range are preserved in [`Error::Unknown`] rather than rejected.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Error {
    /// `seL4_InvalidArgument` (1).
    InvalidArgument,
    /// `seL4_InvalidCapability` (2).
    InvalidCapability,
    /// `seL4_IllegalOperation` (3).
    IllegalOperation,
    /// `seL4_RangeError` (4).
    RangeError,
    /// `seL4_AlignmentError` (5).
    AlignmentError,
    /// `seL4_FailedLookup` (6).
    FailedLookup,
    /// `seL4_TruncatedMessage` (7).
    TruncatedMessage,
    /// `seL4_DeleteFirst` (8).
    DeleteFirst,
    /// `seL4_RevokeFirst` (9).
    RevokeFirst,
    /// `seL4_NotEnoughMemory` (10).
    NotEnoughMemory,
    /// A label this crate does not know (never produced by the supported kernel).
    Unknown(Word),
}

/// `seL4_NumErrors`.
pub const NUM_ERRORS: Word = 11;

impl Error {
    /// Interprets a reply label: `Ok(())` for `seL4_NoError` (0), the error otherwise.
    pub const fn check(label: Word) -> Result<(), Error> {
        match Self::from_label(label) {
            None => Ok(()),
            Some(e) => Err(e),
        }
    }

    /// Maps a reply label to an error; `None` means `seL4_NoError`.
    pub const fn from_label(label: Word) -> Option<Error> {
        Some(match label {
            0 => return None,
            1 => Error::InvalidArgument,
            2 => Error::InvalidCapability,
            3 => Error::IllegalOperation,
            4 => Error::RangeError,
            5 => Error::AlignmentError,
            6 => Error::FailedLookup,
            7 => Error::TruncatedMessage,
            8 => Error::DeleteFirst,
            9 => Error::RevokeFirst,
            10 => Error::NotEnoughMemory,
            other => Error::Unknown(other),
        })
    }

    /// The numeric `seL4_Error` value.
    pub const fn code(self) -> Word {
        match self {
            Error::InvalidArgument => 1,
            Error::InvalidCapability => 2,
            Error::IllegalOperation => 3,
            Error::RangeError => 4,
            Error::AlignmentError => 5,
            Error::FailedLookup => 6,
            Error::TruncatedMessage => 7,
            Error::DeleteFirst => 8,
            Error::RevokeFirst => 9,
            Error::NotEnoughMemory => 10,
            Error::Unknown(w) => w,
        }
    }

    /// The libsel4 name of the error, for logs.
    pub const fn name(self) -> &'static str {
        match self {
            Error::InvalidArgument => "seL4_InvalidArgument",
            Error::InvalidCapability => "seL4_InvalidCapability",
            Error::IllegalOperation => "seL4_IllegalOperation",
            Error::RangeError => "seL4_RangeError",
            Error::AlignmentError => "seL4_AlignmentError",
            Error::FailedLookup => "seL4_FailedLookup",
            Error::TruncatedMessage => "seL4_TruncatedMessage",
            Error::DeleteFirst => "seL4_DeleteFirst",
            Error::RevokeFirst => "seL4_RevokeFirst",
            Error::NotEnoughMemory => "seL4_NotEnoughMemory",
            Error::Unknown(_) => "unknown seL4 error",
        }
    }
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Error::Unknown(w) => write!(f, "unknown seL4 error {w}"),
            e => f.write_str(e.name()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_all_codes() {
        assert_eq!(Error::check(0), Ok(()));
        for code in 1..NUM_ERRORS {
            let e = Error::from_label(code).unwrap();
            assert!(!matches!(e, Error::Unknown(_)));
            assert_eq!(e.code(), code);
        }
        assert_eq!(Error::from_label(3), Some(Error::IllegalOperation));
        assert_eq!(Error::from_label(10), Some(Error::NotEnoughMemory));
        assert_eq!(Error::check(99), Err(Error::Unknown(99)));
    }
}
