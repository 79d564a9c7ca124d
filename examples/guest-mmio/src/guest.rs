//! The guest program, the emulated device layout and what the VMM must see.
//! Pure data, shared by the root task and the host test below.
#![cfg_attr(not(target_os = "none"), allow(dead_code))]

/// Guest RAM (IPA). With 1:1 mapping this is also the physical address:
/// QEMU `virt` RAM starts here and the kernel hands out 0x4000_0000..0x6000_0000
/// as device untyped reserved for guest memory.
pub const RAM_BASE: u64 = 0x4000_0000;
/// Guest RAM size per VM: one 2 MiB frame plus 4 KiB frames for the rest,
/// so both frame sizes (and a VMM access spanning them) are exercised.
pub const RAM_SIZE: u64 = (2 << 20) + (64 << 10);
/// 2 MiB frames backing guest RAM; the rest are 4 KiB frames.
pub const LARGE_FRAMES: usize = 1;
/// Where the program is loaded (and the vCPU starts).
pub const PROG_IPA: u64 = RAM_BASE;
/// RAM the guest stores a pair to (not emulated: mapped, must not fault),
/// in the first 4 KiB frame after the 2 MiB one.
pub const SCRATCH_IPA: u64 = RAM_BASE + (2 << 20) + 0x100;
/// The emulated device: an IPA with nothing mapped (in QEMU's map this is
/// flash, but the guest's stage 2 contains only what the VMM maps).
pub const MMIO_BASE: u64 = 0x2000_0000;
/// Size of the MMIO reservation.
pub const MMIO_SIZE: u64 = 0x1000;
/// Number of 32-bit device registers (offsets 0x00..0x40).
pub const NUM_REGS: usize = 16;
/// Register the guest writes when it is finished.
pub const DONE_OFFSET: u64 = 0x3c;
/// Initial value of the register at 0x10 (read with LDRSB at 0x10 and LDRSH at 0x12).
pub const SIGNED16_INIT: u32 = 0x8001_0080;
/// Initial value of the register at 0x14 (read with LDRSW).
pub const SIGNED32_INIT: u32 = 0x8000_0000;
/// PC of the final `b .` the guest spins on after writing DONE.
pub const FINAL_PC: u64 = PROG_IPA + 0x7c;

/// The guest: runs at EL1 with the MMU off (VA == IPA), so data accesses
/// are Device memory and must be aligned. Assembled with
/// `aarch64-linux-gnu-as` from the source in the comments.
pub const PROGRAM: [u32; 32] = [
    0xd2a40000, //  0: movz  x0, #0x2000, lsl #16   x0 = MMIO_BASE
    0xd2a80401, //  4: movz  x1, #0x4020, lsl #16
    0x91040021, //  8: add   x1, x1, #0x100         x1 = SCRATCH_IPA
    0x5297dde2, //  c: movz  w2, #0xbeef
    0x72bbd5a2, // 10: movk  w2, #0xdead, lsl #16   w2 = 0xdeadbeef
    0xb9000002, // 14: str   w2, [x0]               W32 @0x00
    0xb9400003, // 18: ldr   w3, [x0]               R32 @0x00
    0x528014a4, // 1c: mov   w4, #0xa5
    0x39001004, // 20: strb  w4, [x0, #4]           W8  @0x04
    0x39401005, // 24: ldrb  w5, [x0, #4]           R8  @0x04
    0x52824686, // 28: mov   w6, #0x1234
    0x79000c06, // 2c: strh  w6, [x0, #6]           W16 @0x06
    0x79400c07, // 30: ldrh  w7, [x0, #6]           R16 @0x06
    0xb9400413, // 34: ldr   w19, [x0, #4]          R32 @0x04 (both lanes)
    0xd299bde8, // 38: movz  x8, #0xcdef
    0xf2b13568, // 3c: movk  x8, #0x89ab, lsl #16
    0xf2c8ace8, // 40: movk  x8, #0x4567, lsl #32
    0xf2e02468, // 44: movk  x8, #0x0123, lsl #48  x8 = 0x0123456789abcdef
    0xf9000408, // 48: str   x8, [x0, #8]           W64 @0x08
    0xf9400409, // 4c: ldr   x9, [x0, #8]           R64 @0x08
    0x3980400a, // 50: ldrsb x10, [x0, #0x10]       R8  @0x10, sign-extend to 64
    0x79c0240b, // 54: ldrsh w11, [x0, #0x12]       R16 @0x12, sign-extend to 32
    0xb980140c, // 58: ldrsw x12, [x0, #0x14]       R32 @0x14, sign-extend to 64
    0x9100600d, // 5c: add   x13, x0, #0x18
    0xb8004da2, // 60: str   w2, [x13, #4]!         W32 @0x1c, pre-index
    0xb85fc5ae, // 64: ldr   w14, [x13], #-4        R32 @0x1c, post-index
    0xa9002428, // 68: stp   x8, x9, [x1]           RAM, must not fault
    0xf940042f, // 6c: ldr   x15, [x1, #8]          RAM, must not fault
    0xf900100f, // 70: str   x15, [x0, #0x20]       W64 @0x20 (result)
    0x52800030, // 74: mov   w16, #1
    0xb9003c10, // 78: str   w16, [x0, #0x3c]       W32 @0x3c (done)
    0x14000000, // 7c: b     .
];

/// One emulated access as the device saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Access {
    /// Offset from [`MMIO_BASE`].
    pub offset: u64,
    /// Width in bytes.
    pub size: usize,
    /// Value written, or returned to the guest (only the accessed bytes).
    pub value: u64,
    /// True for a store.
    pub write: bool,
}

const fn w(offset: u64, size: usize, value: u64) -> Access {
    Access {
        offset,
        size,
        value,
        write: true,
    }
}

const fn r(offset: u64, size: usize, value: u64) -> Access {
    Access {
        offset,
        size,
        value,
        write: false,
    }
}

const X8: u64 = 0x0123_4567_89ab_cdef;

/// Every MMIO access the program makes, in order.
pub const EXPECTED: [Access; 16] = [
    w(0x00, 4, 0xdead_beef),
    r(0x00, 4, 0xdead_beef),
    w(0x04, 1, 0xa5),
    r(0x04, 1, 0xa5),
    w(0x06, 2, 0x1234),
    r(0x06, 2, 0x1234),
    r(0x04, 4, 0x1234_00a5),
    w(0x08, 8, X8),
    r(0x08, 8, X8),
    r(0x10, 1, 0x80),
    r(0x12, 2, 0x8001),
    r(0x14, 4, 0x8000_0000),
    w(0x1c, 4, 0xdead_beef),
    r(0x1c, 4, 0xdead_beef),
    w(0x20, 8, X8),
    w(DONE_OFFSET, 4, 1),
];

/// Guest registers when it spins at [`FINAL_PC`]: `(n, xN)`.
pub const EXPECTED_REGS: [(usize, u64); 14] = [
    (0, MMIO_BASE),
    (1, SCRATCH_IPA),
    (3, 0xdead_beef),
    (5, 0xa5),
    (7, 0x1234),
    (19, 0x1234_00a5),
    (9, X8),
    (10, 0xffff_ffff_ffff_ff80),
    // A sign-extending load into Wt leaves bits 63:32 zero.
    (11, 0x0000_0000_ffff_8001),
    (12, 0xffff_ffff_8000_0000),
    // Pre-index moved it to +0x1c, post-index back by 4.
    (13, MMIO_BASE + 0x18),
    (14, 0xdead_beef),
    (15, X8),
    (16, 1),
];

/// What the guest's store pair leaves at [`SCRATCH_IPA`].
pub const EXPECTED_SCRATCH: [u64; 2] = [X8, X8];

#[cfg(all(test, not(target_os = "none")))]
mod tests {
    use super::*;
    use sel4vm::arch::insn::{decode_load_store, MemKind};

    /// The MMIO instructions in PROGRAM (base x0 or x13) decode to exactly the
    /// widths and directions of EXPECTED, in order; RAM ones use base x1.
    #[test]
    fn program_matches_expected_accesses() {
        let mut mmio = Vec::new();
        let mut ram = 0;
        for word in PROGRAM {
            let Ok(a) = decode_load_store(word) else {
                continue;
            };
            match a.base() {
                Some(0) | Some(13) => mmio.push((a.kind == MemKind::Store, a.total_bytes())),
                Some(1) => ram += 1,
                b => panic!("unexpected base {b:?} in {word:#x}"),
            }
        }
        let want: Vec<(bool, usize)> = EXPECTED.iter().map(|e| (e.write, e.size)).collect();
        assert_eq!(mmio, want);
        assert_eq!(ram, 2);
    }

    #[test]
    fn sign_extending_loads_are_where_expected() {
        let signed: Vec<usize> = PROGRAM
            .iter()
            .enumerate()
            .filter(|(_, w)| decode_load_store(**w).is_ok_and(|a| a.sign_extend))
            .map(|(i, _)| i * 4)
            .collect();
        assert_eq!(signed, [0x50, 0x54, 0x58]);
        assert_eq!(PROGRAM[(FINAL_PC - PROG_IPA) as usize / 4], 0x1400_0000);
    }
}
