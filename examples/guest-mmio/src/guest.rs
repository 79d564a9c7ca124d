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

/// Alias of the program page in the TTBR1 half, where the MMU program
/// runs once its MMU is on (so its PC is no guest-physical address).
pub const MMU_ALIAS_VA: u64 = 0xffff_ff80_0080_3000;
/// `VBAR_EL1` of the MMU program: its vectors sit at +0x800 in its page.
pub const MMU_VBAR: u64 = MMU_ALIAS_VA + 0x800;
/// The MMU program's first-level tables (TTBR0, TTBR1) and the TTBR1
/// walk's level-2 and level-3 tables, 4 KiB granule, 39-bit VAs.
pub const MMU_TTBR0_L1: u64 = RAM_BASE + 0x1_0000;
/// See [`MMU_TTBR0_L1`].
pub const MMU_TTBR1_L1: u64 = RAM_BASE + 0x1_1000;
const MMU_L2: u64 = RAM_BASE + 0x1_2000;
const MMU_L3: u64 = RAM_BASE + 0x1_3000;
/// Access flag, inner shareable, and `MAIR_EL1` attribute 1 (normal memory).
const NORMAL: u64 = (1 << 10) | (3 << 8) | (1 << 2);

/// Page-table entries the VMM writes into guest RAM before the MMU
/// program runs: `(guest-physical address, descriptor)`.
///
/// TTBR0 maps 0..2 GiB 1:1 with 1 GiB blocks (the first as Device memory,
/// attribute 0, for the emulated device); TTBR1 maps [`MMU_ALIAS_VA`] to
/// the program page through levels 1, 2 and 3.
pub const MMU_TABLES: [(u64, u64); 5] = [
    (MMU_TTBR0_L1, (1 << 10) | 1),
    (MMU_TTBR0_L1 + 8, RAM_BASE | NORMAL | 1),
    (
        MMU_TTBR1_L1 + ((MMU_ALIAS_VA >> 30) & 0x1ff) * 8,
        MMU_L2 | 3,
    ),
    (MMU_L2 + ((MMU_ALIAS_VA >> 21) & 0x1ff) * 8, MMU_L3 | 3),
    (
        MMU_L3 + ((MMU_ALIAS_VA >> 12) & 0x1ff) * 8,
        PROG_IPA | NORMAL | 3,
    ),
];

/// Offset of the MMU program's synchronous-exception vector (current EL,
/// SP_ELx) in its page: `VBAR_EL1 + 0x200`.
pub const MMU_VECTOR_OFFSET: usize = 0xa00;

/// The MMU guest: programs MAIR/TCR/TTBR0/TTBR1/VBAR, turns its MMU on,
/// jumps to the TTBR1 alias of its page and there does pairs, a
/// writeback pair and an FP load to the device. None of those has a valid
/// syndrome, so the VMM walks the guest's tables to find each instruction;
/// the FP load cannot be emulated and comes back as an abort, which the
/// guest's vector reports by writing `ESR_EL1` to the device.
pub const MMU_PROGRAM: [u32; 46] = [
    0xd2a40000, //  0: movz  x0, #0x2000, lsl #16   x0 = MMIO_BASE
    0xd2a00601, //  4: mov   x1, #(3 << 20)
    0xd5181041, //  8: msr   cpacr_el1, x1          FP/SIMD usable at EL1
    0x580003a1, //  c: ldr   x1, mair_val
    0xd518a201, // 10: msr   mair_el1, x1
    0x580003a1, // 14: ldr   x1, tcr_val
    0xd5182041, // 18: msr   tcr_el1, x1
    0x580003a1, // 1c: ldr   x1, ttbr0_val
    0xd5182001, // 20: msr   ttbr0_el1, x1
    0x580003a1, // 24: ldr   x1, ttbr1_val
    0xd5182021, // 28: msr   ttbr1_el1, x1
    0x580003a1, // 2c: ldr   x1, vbar_val
    0xd518c001, // 30: msr   vbar_el1, x1
    0xd5033fdf, // 34: isb
    0xd5381001, // 38: mrs   x1, sctlr_el1
    0xb2400021, // 3c: orr   x1, x1, #0x1           M
    0xb27e0021, // 40: orr   x1, x1, #0x4           C
    0xb2740021, // 44: orr   x1, x1, #0x1000        I
    0xd5181001, // 48: msr   sctlr_el1, x1
    0xd5033fdf, // 4c: isb
    0x580002c1, // 50: ldr   x1, high_val
    0xd61f0020, // 54: br    x1                     to MMU_ALIAS_VA + 0x58
    0x580002c4, // 58: ldr   x4, pat_val            x4 = X8
    0xaa2403e5, // 5c: mvn   x5, x4
    0xa9021404, // 60: stp   x4, x5, [x0, #0x20]    W64 @0x20, W64 @0x28
    0xa9421c06, // 64: ldp   x6, x7, [x0, #0x20]    R64 @0x20, R64 @0x28
    0x9100a008, // 68: add   x8, x0, #0x28
    0x29811504, // 6c: stp   w4, w5, [x8, #8]!      W32 @0x30, W32 @0x34
    0x3dc00000, // 70: ldr   q0, [x0]               not emulated: abort
    0x52800029, // 74: mov   w9, #1
    0xb9003c09, // 78: str   w9, [x0, #0x3c]        W32 @0x3c (done)
    0x14000000, // 7c: b     .
    0x0000ff00,
    0x00000000, // 80: mair_val: attr0 Device-nGnRnE, attr1 normal WB
    0xb5193519,
    0x00000002, // 88: tcr_val: T0SZ=T1SZ=25, 4 KiB, WB, inner shareable, IPS 40 bits
    MMU_TTBR0_L1 as u32,
    0, // 90: ttbr0_val
    MMU_TTBR1_L1 as u32,
    0, // 98: ttbr1_val
    MMU_VBAR as u32,
    (MMU_VBAR >> 32) as u32, // a0: vbar_val
    (MMU_ALIAS_VA + 0x58) as u32,
    (MMU_ALIAS_VA >> 32) as u32, // a8: high_val
    0x89abcdef,
    0x01234567, // b0: pat_val = X8
];

/// The MMU program's vector (at [`MMU_VECTOR_OFFSET`]): reports `ESR_EL1`
/// at 0x38 and returns past the faulting instruction.
pub const MMU_VECTOR: [u32; 6] = [
    0xd538520a, // a00: mrs   x10, esr_el1
    0xb900380a, // a04: str   w10, [x0, #0x38]       W32 @0x38
    0xd538402b, // a08: mrs   x11, elr_el1
    0x9100116b, // a0c: add   x11, x11, #4
    0xd518402b, // a10: msr   elr_el1, x11
    0xd69f03e0, // a14: eret
];

/// `ESR_EL1` of the abort the VMM injects for the FP load: EC 0x25 (data
/// abort, same EL), IL, FnV, synchronous external abort, a read.
pub const MMU_ABORT_ESR: u64 = 0x9600_0410;

/// Every MMIO access the MMU program makes, in order: each pair is two.
pub const EXPECTED_MMU: [Access; 8] = [
    w(0x20, 8, X8),
    w(0x28, 8, !X8),
    r(0x20, 8, X8),
    r(0x28, 8, !X8),
    w(0x30, 4, X8 & 0xffff_ffff),
    w(0x34, 4, !X8 & 0xffff_ffff),
    w(0x38, 4, MMU_ABORT_ESR),
    w(DONE_OFFSET, 4, 1),
];

/// The MMU program's PC when it spins, a TTBR1 address.
pub const MMU_FINAL_PC: u64 = MMU_ALIAS_VA + 0x7c;

/// MMU guest registers at [`MMU_FINAL_PC`]: `(n, xN)`.
pub const EXPECTED_MMU_REGS: [(usize, u64); 6] = [
    (6, X8),
    (7, !X8),
    (8, MMIO_BASE + 0x30),
    (9, 1),
    (10, MMU_ABORT_ESR),
    // ELR_EL1 + 4: the vector resumed after the FP load.
    (11, MMU_ALIAS_VA + 0x74),
];

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

    /// The MMU program's device accesses (base x0 or x8) decode to
    /// EXPECTED_MMU, pairs counted twice, and the FP load is the one
    /// instruction the decoder refuses.
    #[test]
    fn mmu_program_matches_expected_accesses() {
        let mut mmio = Vec::new();
        let mut refused = Vec::new();
        for (i, word) in MMU_PROGRAM[..32].iter().enumerate() {
            match decode_load_store(*word) {
                Ok(a) if matches!(a.base(), Some(0) | Some(8)) => {
                    let n = if a.is_pair() { 2 } else { 1 };
                    for _ in 0..n {
                        mmio.push((a.kind == MemKind::Store, a.size.bytes()));
                    }
                }
                Ok(_) => {}
                Err(sel4vm::arch::insn::DecodeError::NotLoadStore(_)) => {}
                Err(_) => refused.push(i * 4),
            }
        }
        // The vector's store of ESR_EL1 comes between.
        let mut want: Vec<(bool, usize)> = EXPECTED_MMU.iter().map(|e| (e.write, e.size)).collect();
        want.remove(6);
        assert_eq!(mmio, want);
        assert_eq!(refused, [0x70]);
        assert_eq!(
            MMU_PROGRAM[(MMU_FINAL_PC - MMU_ALIAS_VA) as usize / 4],
            0x1400_0000
        );
    }
}
