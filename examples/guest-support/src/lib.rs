//! Shared pieces of the example root tasks in `examples/`: what every
//! system-test guest and root task needs and is not specific to one test.
//!
//! - [`Checks`]: counts checks, prints `<name>: CHECK FAILED: ...` for each
//!   failure and the final `<name>: all checks passed` the system tests wait for.
//! - [`root_task_main!`]: the host stub `main` of a target-only root task.
//! - [`image`]: a guest program as checked-in runs of instruction words.
//! - [`vm`] (feature `vm`): loading and starting such a guest, choosing the
//!   vGIC the kernel was built for, the DONE/FAIL test device.
//! - [`host`] (host only): re-assembling a guest's `guest.S` and structural
//!   checks of its image, for each example's host tests.
//!
//! None of this corresponds to a libsel4vm or libvmm item; it is test scaffolding.
#![no_std]

extern crate alloc;
#[cfg(not(target_os = "none"))]
extern crate std;

mod checks;
pub mod image;
#[cfg(feature = "vm")]
pub mod vm;

#[cfg(not(target_os = "none"))]
pub mod host;

pub use checks::Checks;
pub use image::{flat_image, Segment};

/// SPSR for a guest entered at EL1h with D, A, I and F masked.
pub const SPSR_EL1H_MASKED: u64 = 0x3c5;

/// The little-endian u64 at `off` in `buf`, 0 if it does not fit (a guest's
/// results area as read back by the VMM).
pub fn u64_at(buf: &[u8], off: usize) -> u64 {
    buf.get(off..off.saturating_add(8))
        .and_then(|b| b.try_into().ok())
        .map_or(0, u64::from_le_bytes)
}

/// The little-endian u32 at `off` in `buf`, 0 if it does not fit.
pub fn u32_at(buf: &[u8], off: usize) -> u32 {
    buf.get(off..off.saturating_add(4))
        .and_then(|b| b.try_into().ok())
        .map_or(0, u32::from_le_bytes)
}

/// Declares a root task's `root` module (target only) and, for host builds,
/// a stub `main` saying where the program runs. Use it in `main.rs` after
/// `#![cfg_attr(target_os = "none", no_std, no_main)]`.
#[macro_export]
macro_rules! root_task_main {
    ($root:ident) => {
        #[cfg(target_os = "none")]
        mod $root;

        #[cfg(not(target_os = "none"))]
        fn main() {
            std::eprintln!(
                "this program runs on seL4 (aarch64-unknown-none); build it with `cargo xtask`"
            );
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn little_endian_reads_and_out_of_range_is_zero() {
        let b = [1u8, 2, 3, 4, 5, 6, 7, 8, 9];
        assert_eq!(u64_at(&b, 0), 0x0807_0605_0403_0201);
        assert_eq!(u64_at(&b, 1), 0x0908_0706_0504_0302);
        assert_eq!(u64_at(&b, 2), 0);
        assert_eq!(u64_at(&b, usize::MAX), 0);
        assert_eq!(u32_at(&b, 5), 0x0908_0706);
        assert_eq!(u32_at(&b, 6), 0);
    }
}
