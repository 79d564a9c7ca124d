//! The guest program, its memory layout and what the VMM expects of it.
//! Pure data, shared by the root task and the host tests below.
//!
//! The program is `guest.S` in this directory, assembled once with
//! `aarch64-linux-gnu-as` and checked in as [`SEGMENTS`] (the non-zero runs
//! of the flat binary, with objdump's disassembly in the comments). The
//! host test `segments_match_source` re-assembles the source and compares.
// Some items are only used by the host tests, some only by the root task.
#![allow(dead_code)]

pub use guest_support::vm::ReportRegs;
pub use guest_support::Segment;

/// Guest RAM (IPA); the program's offsets are relative to it.
pub const RAM_BASE: u64 = 0x4000_0000;
/// Guest RAM size: 4 KiB frames only.
pub const RAM_SIZE: u64 = 64 << 10;
/// Where vCPU 0 starts (`entry0` in `guest.S`).
pub const ENTRY0: u64 = RAM_BASE + 0x800;
/// Where vCPU 0 asks PSCI `CPU_ON` to start vCPU 1 (`entry1`).
pub const ENTRY1: u64 = RAM_BASE + 0xc00;
/// Where the guest stores its results (`RESULTS`).
pub const RESULTS: u64 = RAM_BASE + 0x2000;
/// Size of the results area the VMM reads back.
pub const RESULTS_SIZE: usize = 0x100;
/// vCPU 1's flag for vCPU 0 (`FLAG`): it stores its context id there.
pub const FLAG: u64 = RAM_BASE + 0x3000;
/// The test device the guest reports through (`DEV`).
pub const DEV_BASE: u64 = 0x2000_0000;
/// Size of the test device's reservation.
pub const DEV_SIZE: u64 = 0x1000;
/// The test device's registers: DONE at 0x0, FAIL at 0x8, FAIL's ELR at 0x10.
pub const DEV_REGS: ReportRegs = ReportRegs {
    done: 0x0,
    fail: 0x8,
    fail_elr: 0x10,
};
/// Value the guest writes to DONE when it has finished.
pub const DONE_MAGIC: u64 = 0x600d;
/// `CPU_ON` context id: this tag ORed with the GIC version.
pub const CONTEXT_TAG: u64 = 0xc0de_0000;
/// SGI vCPU 0 sends to vCPU 1.
pub const SGI_TO_1: u32 = 2;
/// SGI vCPU 1 sends back to vCPU 0.
pub const SGI_TO_0: u32 = 1;
/// Function id the guest calls over SMC that no one implements.
pub const UNKNOWN_SMC: u64 = 0xc200_1234;
/// Function id the guest calls over HVC that no one implements.
pub const UNKNOWN_HVC: u64 = 0x8600_0055;
/// Function id the guest asks `PSCI_FEATURES` about that no one implements.
pub const UNKNOWN_FEAT: u64 = 0x8400_00ff;
/// Vector slot of "current EL with SP_ELx, IRQ".
pub const IRQ_SLOT: usize = 5;

/// Offsets into the results area (`[x20, #...]` in `guest.S`); all u64.
pub mod res {
    /// vCPU 0: `PSCI_VERSION` over HVC.
    pub const VERSION_HVC: usize = 0x00;
    /// vCPU 0: `PSCI_VERSION` over SMC.
    pub const VERSION_SMC: usize = 0x08;
    /// vCPU 0: `PSCI_FEATURES(CPU_ON64)`.
    pub const FEATURES_CPU_ON: usize = 0x10;
    /// vCPU 0: `PSCI_FEATURES` of an unknown function.
    pub const FEATURES_UNKNOWN: usize = 0x18;
    /// vCPU 0: `AFFINITY_INFO(vCPU 1)` before `CPU_ON`.
    pub const AFF_BEFORE: usize = 0x20;
    /// vCPU 0: unknown function over SMC.
    pub const UNKNOWN_SMC: usize = 0x28;
    /// vCPU 0: unknown function over HVC.
    pub const UNKNOWN_HVC: usize = 0x30;
    /// vCPU 0: `CPU_ON(vCPU 1)`.
    pub const CPU_ON: usize = 0x38;
    /// vCPU 0: `CPU_ON(vCPU 1)` again.
    pub const CPU_ON_AGAIN: usize = 0x40;
    /// vCPU 0: `CPU_ON` of MPIDR 5 (no such vCPU), over HVC.
    pub const CPU_ON_MISSING: usize = 0x48;
    /// vCPU 0: `AFFINITY_INFO(vCPU 1)` after `CPU_ON`.
    pub const AFF_AFTER_ON: usize = 0x50;
    /// vCPU 0: the flag value vCPU 1 left.
    pub const FLAG_SEEN: usize = 0x58;
    /// vCPU 0: IAR of the SGI it took, with bit 31 set.
    pub const IAR0: usize = 0x60;
    /// vCPU 0: `AFFINITY_INFO(vCPU 1)` once it reported OFF.
    pub const AFF_AFTER_OFF: usize = 0x68;
    /// vCPU 0: `MPIDR_EL1`.
    pub const MPIDR0: usize = 0x70;
    /// vCPU 0: `SMCCC_VERSION` over SMC.
    pub const SMCCC_VERSION: usize = 0x78;
    /// vCPU 1: `MPIDR_EL1`.
    pub const MPIDR1: usize = 0x80;
    /// vCPU 1: `x0` at entry (the context id).
    pub const X0_1: usize = 0x88;
    /// vCPU 1: `SCTLR_EL1` at entry.
    pub const SCTLR1: usize = 0x90;
    /// vCPU 1: IAR of the SGI it took, with bit 31 set.
    pub const IAR1: usize = 0x98;
    /// vCPU 1: what `CPU_OFF` returned (it must not return).
    pub const CPU_OFF_RET: usize = 0xa0;
    /// vCPU 0: PSCI calls with invalid arguments made by `psci_stress`.
    pub const STRESS_CALLS: usize = 0xa8;
    /// vCPU 0: how many of those got another answer than PSCI requires.
    pub const STRESS_WRONG: usize = 0xb0;
    /// vCPU 0: `AFFINITY_INFO(vCPU 1)` after the stress (no bad `CPU_ON`
    /// may have started it).
    pub const AFF_AFTER_STRESS: usize = 0xb8;
}

/// Rounds of `psci_stress` (`STRESS_ROUNDS` in `guest.S`).
pub const STRESS_ROUNDS: u64 = 1000;
/// Invalid calls per round (`STRESS_CALLS`): `CPU_ON` outside RAM,
/// misaligned and of a missing MPIDR; `AFFINITY_INFO` at level 3;
/// `PSCI_FEATURES` and calls of unallocated ids; SMC with a non-zero immediate.
pub const STRESS_CALLS: u64 = 7;

// The results area holds every slot, and the flag lies after it in RAM.
const _: () = assert!(res::AFF_AFTER_STRESS + 8 <= RESULTS_SIZE);
const _: () = assert!(FLAG >= RESULTS + RESULTS_SIZE as u64 && FLAG - RAM_BASE + 8 <= RAM_SIZE);

/// The guest program (`guest.S`): the vector table's used slots and the code.
pub const SEGMENTS: &[Segment] = &[
    Segment {
        offset: 0x000,
        words: &[
            0xd2800009, // 000: vectors: mov x9, #0x0
            0x14000355, // 004: b d58 <fail>
        ],
    },
    Segment {
        offset: 0x080,
        words: &[
            0xd2800029, // 080: mov x9, #0x1
            0x14000335, // 084: b d58 <fail>
        ],
    },
    Segment {
        offset: 0x100,
        words: &[
            0xd2800049, // 100: mov x9, #0x2
            0x14000315, // 104: b d58 <fail>
        ],
    },
    Segment {
        offset: 0x180,
        words: &[
            0xd2800069, // 180: mov x9, #0x3
            0x140002f5, // 184: b d58 <fail>
        ],
    },
    Segment {
        offset: 0x200,
        words: &[
            0xd2800089, // 200: mov x9, #0x4
            0x140002d5, // 204: b d58 <fail>
        ],
    },
    Segment {
        offset: 0x280,
        words: &[
            0x140002a6, // 280: b d18 <irq_handler>
        ],
    },
    Segment {
        offset: 0x300,
        words: &[
            0xd28000c9, // 300: mov x9, #0x6
            0x14000295, // 304: b d58 <fail>
        ],
    },
    Segment {
        offset: 0x380,
        words: &[
            0xd28000e9, // 380: mov x9, #0x7
            0x14000275, // 384: b d58 <fail>
        ],
    },
    Segment {
        offset: 0x400,
        words: &[
            0xd2800109, // 400: mov x9, #0x8
            0x14000255, // 404: b d58 <fail>
        ],
    },
    Segment {
        offset: 0x480,
        words: &[
            0xd2800129, // 480: mov x9, #0x9
            0x14000235, // 484: b d58 <fail>
        ],
    },
    Segment {
        offset: 0x500,
        words: &[
            0xd2800149, // 500: mov x9, #0xa
            0x14000215, // 504: b d58 <fail>
        ],
    },
    Segment {
        offset: 0x580,
        words: &[
            0xd2800169, // 580: mov x9, #0xb
            0x140001f5, // 584: b d58 <fail>
        ],
    },
    Segment {
        offset: 0x600,
        words: &[
            0xd2800189, // 600: mov x9, #0xc
            0x140001d5, // 604: b d58 <fail>
        ],
    },
    Segment {
        offset: 0x680,
        words: &[
            0xd28001a9, // 680: mov x9, #0xd
            0x140001b5, // 684: b d58 <fail>
        ],
    },
    Segment {
        offset: 0x700,
        words: &[
            0xd28001c9, // 700: mov x9, #0xe
            0x14000195, // 704: b d58 <fail>
        ],
    },
    Segment {
        offset: 0x780,
        words: &[
            0xd28001e9, // 780: mov x9, #0xf
            0x14000175, // 784: b d58 <fail>
        ],
    },
    Segment {
        offset: 0x800,
        words: &[
            0xaa0003f3, // 800: entry0: mov x19, x0
            0xd2800007, // 804: mov x7, #0x0
            0x94000121, // 808: bl c8c <common_init>
            0xd2a10002, // 80c: mov x2, #0x8000000
            0xf1000e7f, // 810: cmp x19, #0x3
            0x54000060, // 814: b.eq 820 <entry0+0x20>
            0x52800023, // 818: mov w3, #0x1
            0x14000002, // 81c: b 824 <entry0+0x24>
            0x52800263, // 820: mov w3, #0x13
            0xb9000043, // 824: str w3, [x2]
            0x9400011f, // 828: bl ca4 <cpu_gic_init>
            0xd53800a3, // 82c: mrs x3, mpidr_el1
            0xf9003a83, // 830: str x3, [x20, #112]
            0xd2b08000, // 834: mov x0, #0x84000000
            0xf2800000, // 838: movk x0, #0x0
            0xd4000002, // 83c: hvc #0x0
            0xf9000280, // 840: str x0, [x20]
            0xd2b08000, // 844: mov x0, #0x84000000
            0xf2800000, // 848: movk x0, #0x0
            0xd4000003, // 84c: smc #0x0
            0xf9000680, // 850: str x0, [x20, #8]
            0xd2b08000, // 854: mov x0, #0x84000000
            0xf2800140, // 858: movk x0, #0xa
            0xd2b88001, // 85c: mov x1, #0xc4000000
            0xf2800061, // 860: movk x1, #0x3
            0xd4000003, // 864: smc #0x0
            0xf9000a80, // 868: str x0, [x20, #16]
            0xd2b08000, // 86c: mov x0, #0x84000000
            0xf2800140, // 870: movk x0, #0xa
            0xd2b08001, // 874: mov x1, #0x84000000
            0xf2801fe1, // 878: movk x1, #0xff
            0xd4000003, // 87c: smc #0x0
            0xf9000e80, // 880: str x0, [x20, #24]
            0xd2b88000, // 884: mov x0, #0xc4000000
            0xf2800080, // 888: movk x0, #0x4
            0xd2800021, // 88c: mov x1, #0x1
            0xd2800002, // 890: mov x2, #0x0
            0xd4000003, // 894: smc #0x0
            0xf9001280, // 898: str x0, [x20, #32]
            0xd2b84000, // 89c: mov x0, #0xc2000000
            0xf2824680, // 8a0: movk x0, #0x1234
            0xd4000003, // 8a4: smc #0x0
            0xf9001680, // 8a8: str x0, [x20, #40]
            0xd2b0c000, // 8ac: mov x0, #0x86000000
            0xf2800aa0, // 8b0: movk x0, #0x55
            0xd4000002, // 8b4: hvc #0x0
            0xf9001a80, // 8b8: str x0, [x20, #48]
            0xd2b00000, // 8bc: mov x0, #0x80000000
            0xf2800000, // 8c0: movk x0, #0x0
            0xd4000003, // 8c4: smc #0x0
            0xf9003e80, // 8c8: str x0, [x20, #120]
            0xd2b88000, // 8cc: mov x0, #0xc4000000
            0xf2800060, // 8d0: movk x0, #0x3
            0xd2800021, // 8d4: mov x1, #0x1
            0x10001942, // 8d8: adr x2, c00 <entry1>
            0xd2b81bc3, // 8dc: mov x3, #0xc0de0000
            0xf2800003, // 8e0: movk x3, #0x0
            0xaa130063, // 8e4: orr x3, x3, x19
            0xd4000003, // 8e8: smc #0x0
            0xf9001e80, // 8ec: str x0, [x20, #56]
            0xd2b88000, // 8f0: mov x0, #0xc4000000
            0xf2800060, // 8f4: movk x0, #0x3
            0xd2800021, // 8f8: mov x1, #0x1
            0x10001822, // 8fc: adr x2, c00 <entry1>
            0xd2800003, // 900: mov x3, #0x0
            0xd4000003, // 904: smc #0x0
            0xf9002280, // 908: str x0, [x20, #64]
            0xd2b88000, // 90c: mov x0, #0xc4000000
            0xf2800060, // 910: movk x0, #0x3
            0xd28000a1, // 914: mov x1, #0x5
            0x10001742, // 918: adr x2, c00 <entry1>
            0xd2800003, // 91c: mov x3, #0x0
            0xd4000002, // 920: hvc #0x0
            0xf9002680, // 924: str x0, [x20, #72]
            0xd2b88000, // 928: mov x0, #0xc4000000
            0xf2800080, // 92c: movk x0, #0x4
            0xd2800021, // 930: mov x1, #0x1
            0xd2800002, // 934: mov x2, #0x0
            0xd4000003, // 938: smc #0x0
            0xf9002a80, // 93c: str x0, [x20, #80]
            0xd2a80004, // 940: mov x4, #0x40000000
            0x91400c84, // 944: add x4, x4, #0x3, lsl #12
            0xf9400085, // 948: ldr x5, [x4]
            0xb5000065, // 94c: cbnz x5, 958 <entry0+0x158>
            0xd503205f, // 950: wfe
            0x17fffffd, // 954: b 948 <entry0+0x148>
            0xf9002e85, // 958: str x5, [x20, #88]
            0xd50342ff, // 95c: msr daifclr, #0x2
            0xd2a10002, // 960: mov x2, #0x8000000
            0xf1000e7f, // 964: cmp x19, #0x3
            0x540000a0, // 968: b.eq 97c <entry0+0x17c>
            0x52a00043, // 96c: mov w3, #0x20000
            0x72800043, // 970: movk w3, #0x2
            0xb90f0043, // 974: str w3, [x2, #3840]
            0x14000005, // 978: b 98c <entry0+0x18c>
            0xd2a04003, // 97c: mov x3, #0x2000000
            0xf2800043, // 980: movk x3, #0x2
            0xd518cba3, // 984: msr icc_sgi1r_el1, x3
            0xd5033fdf, // 988: isb
            0xd503207f, // 98c: wfi
            0xb4fffff5, // 990: cbz x21, 98c <entry0+0x18c>
            0xd50342df, // 994: msr daifset, #0x2
            0xf9003295, // 998: str x21, [x20, #96]
            0xd2b88000, // 99c: mov x0, #0xc4000000
            0xf2800080, // 9a0: movk x0, #0x4
            0xd2800021, // 9a4: mov x1, #0x1
            0xd2800002, // 9a8: mov x2, #0x0
            0xd4000003, // 9ac: smc #0x0
            0xf100041f, // 9b0: cmp x0, #0x1
            0x54ffff41, // 9b4: b.ne 99c <entry0+0x19c>
            0xf9003680, // 9b8: str x0, [x20, #104]
            0x940000ee, // 9bc: bl d74 <psci_stress>
            0xd2a40001, // 9c0: mov x1, #0x20000000
            0x528c01a3, // 9c4: mov w3, #0x600d
            0xb9000023, // 9c8: str w3, [x1]
            0x14000000, // 9cc: b 9cc <entry0+0x1cc>
        ],
    },
    Segment {
        offset: 0xc00,
        words: &[
            0xaa0003f8, // c00: entry1: mov x24, x0
            0x92401c13, // c04: and x19, x0, #0xff
            0xd2800007, // c08: mov x7, #0x0
            0x94000020, // c0c: bl c8c <common_init>
            0x94000025, // c10: bl ca4 <cpu_gic_init>
            0xd53800a3, // c14: mrs x3, mpidr_el1
            0xf9004283, // c18: str x3, [x20, #128]
            0xf9004698, // c1c: str x24, [x20, #136]
            0xd5381003, // c20: mrs x3, sctlr_el1
            0xf9004a83, // c24: str x3, [x20, #144]
            0xd50342ff, // c28: msr daifclr, #0x2
            0xd2a80004, // c2c: mov x4, #0x40000000
            0x91400c84, // c30: add x4, x4, #0x3, lsl #12
            0xf9000098, // c34: str x24, [x4]
            0xd503207f, // c38: wfi
            0xb4fffff5, // c3c: cbz x21, c38 <entry1+0x38>
            0xd50342df, // c40: msr daifset, #0x2
            0xf9004e95, // c44: str x21, [x20, #152]
            0xd2a10002, // c48: mov x2, #0x8000000
            0xf1000e7f, // c4c: cmp x19, #0x3
            0x540000a0, // c50: b.eq c64 <entry1+0x64>
            0x52a00023, // c54: mov w3, #0x10000
            0x72800023, // c58: movk w3, #0x1
            0xb90f0043, // c5c: str w3, [x2, #3840]
            0x14000005, // c60: b c74 <entry1+0x74>
            0xd2a02003, // c64: mov x3, #0x1000000
            0xf2800023, // c68: movk x3, #0x1
            0xd518cba3, // c6c: msr icc_sgi1r_el1, x3
            0xd5033fdf, // c70: isb
            0xd2b08000, // c74: mov x0, #0x84000000
            0xf2800040, // c78: movk x0, #0x2
            0xd4000002, // c7c: hvc #0x0
            0xf9005280, // c80: str x0, [x20, #160]
            0xd2801329, // c84: mov x9, #0x99
            0x14000034, // c88: b d58 <fail>
            0xd2a80001, // c8c: common_init: mov x1, #0x40000000
            0xd518c001, // c90: msr vbar_el1, x1
            0xd5033fdf, // c94: isb
            0x91400834, // c98: add x20, x1, #0x2, lsl #12
            0xd2800015, // c9c: mov x21, #0x0
            0xd65f03c0, // ca0: ret
            0xd53800a3, // ca4: cpu_gic_init: mrs x3, mpidr_el1
            0x92401c63, // ca8: and x3, x3, #0xff
            0xf1000e7f, // cac: cmp x19, #0x3
            0x54000140, // cb0: b.eq cd8 <cpu_gic_init+0x34>
            0xd2a10002, // cb4: mov x2, #0x8000000
            0x528000c4, // cb8: mov w4, #0x6
            0xb9010044, // cbc: str w4, [x2, #256]
            0xd2a10025, // cc0: mov x5, #0x8010000
            0x52801e04, // cc4: mov w4, #0xf0
            0xb90004a4, // cc8: str w4, [x5, #4]
            0x52800024, // ccc: mov w4, #0x1
            0xb90000a4, // cd0: str w4, [x5]
            0xd65f03c0, // cd4: ret
            0xd2a10145, // cd8: mov x5, #0x80a0000
            0x8b0344a5, // cdc: add x5, x5, x3, lsl #17
            0xb90014bf, // ce0: str wzr, [x5, #20]
            0xb94014a4, // ce4: ldr w4, [x5, #20]
            0x3717ffe4, // ce8: tbnz w4, #2, ce4 <cpu_gic_init+0x40>
            0x914040a6, // cec: add x6, x5, #0x10, lsl #12
            0x12800004, // cf0: mov w4, #0xffffffff
            0xb90080c4, // cf4: str w4, [x6, #128]
            0x528000c4, // cf8: mov w4, #0x6
            0xb90100c4, // cfc: str w4, [x6, #256]
            0xd2801e04, // d00: mov x4, #0xf0
            0xd5184604, // d04: msr icc_pmr_el1, x4
            0xd2800024, // d08: mov x4, #0x1
            0xd518cce4, // d0c: msr icc_igrpen1_el1, x4
            0xd5033fdf, // d10: isb
            0xd65f03c0, // d14: ret
            0xf1000e7f, // d18: irq_handler: cmp x19, #0x3
            0x54000080, // d1c: b.eq d2c <irq_handler+0x14>
            0xd2a10029, // d20: mov x9, #0x8010000
            0xb9400d2a, // d24: ldr w10, [x9, #12]
            0x14000002, // d28: b d30 <irq_handler+0x18>
            0xd538cc0a, // d2c: mrs x10, icc_iar1_el1
            0x1200254b, // d30: and w11, w10, #0x3ff
            0x710ff17f, // d34: cmp w11, #0x3fc
            0x540000e2, // d38: b.cs d54 <irq_handler+0x3c>
            0xb2610155, // d3c: orr x21, x10, #0x80000000
            0xf1000e7f, // d40: cmp x19, #0x3
            0x54000060, // d44: b.eq d50 <irq_handler+0x38>
            0xb900112a, // d48: str w10, [x9, #16]
            0xd69f03e0, // d4c: eret
            0xd518cc2a, // d50: msr icc_eoir1_el1, x10
            0xd69f03e0, // d54: eret
            0xd538520a, // d58: fail: mrs x10, esr_el1
            0xd538402b, // d5c: mrs x11, elr_el1
            0xd2a4000c, // d60: mov x12, #0x20000000
            0xf900098b, // d64: str x11, [x12, #16]
            0xaa09814a, // d68: orr x10, x10, x9, lsl #32
            0xf900058a, // d6c: str x10, [x12, #8]
            0x14000000, // d70: b d70 <fail+0x18>
            0xd2800016, // d74: psci_stress: mov x22, #0x0
            0xd2800017, // d78: mov x23, #0x0
            0xd2800018, // d7c: mov x24, #0x0
            0xd2b88000, // d80: mov x0, #0xc4000000
            0xf2800060, // d84: movk x0, #0x3
            0xd2800021, // d88: mov x1, #0x1
            0xd2c00022, // d8c: mov x2, #0x100000000
            0xd2800003, // d90: mov x3, #0x0
            0xd4000003, // d94: smc #0x0
            0x91000718, // d98: add x24, x24, #0x1
            0xb100241f, // d9c: cmn x0, #0x9
            0x9a9706f7, // da0: cinc x23, x23, ne
            0xd2b88000, // da4: mov x0, #0xc4000000
            0xf2800060, // da8: movk x0, #0x3
            0xd2800021, // dac: mov x1, #0x1
            0x10fff282, // db0: adr x2, c00 <entry1>
            0x91000842, // db4: add x2, x2, #0x2
            0xd4000002, // db8: hvc #0x0
            0x91000718, // dbc: add x24, x24, #0x1
            0xb100241f, // dc0: cmn x0, #0x9
            0x9a9706f7, // dc4: cinc x23, x23, ne
            0xd2b88000, // dc8: mov x0, #0xc4000000
            0xf2800060, // dcc: movk x0, #0x3
            0xd2c02001, // dd0: mov x1, #0x10000000000
            0xaa160021, // dd4: orr x1, x1, x22
            0x10fff142, // dd8: adr x2, c00 <entry1>
            0xd4000003, // ddc: smc #0x0
            0x91000718, // de0: add x24, x24, #0x1
            0xb100081f, // de4: cmn x0, #0x2
            0x9a9706f7, // de8: cinc x23, x23, ne
            0xd2b88000, // dec: mov x0, #0xc4000000
            0xf2800080, // df0: movk x0, #0x4
            0xd2800021, // df4: mov x1, #0x1
            0xd2800062, // df8: mov x2, #0x3
            0xd4000003, // dfc: smc #0x0
            0x91000718, // e00: add x24, x24, #0x1
            0xb100081f, // e04: cmn x0, #0x2
            0x9a9706f7, // e08: cinc x23, x23, ne
            0xd2b08000, // e0c: mov x0, #0x84000000
            0xf2800140, // e10: movk x0, #0xa
            0xd2b89fe1, // e14: mov x1, #0xc4ff0000
            0xf2800001, // e18: movk x1, #0x0
            0xaa160021, // e1c: orr x1, x1, x22
            0xd4000003, // e20: smc #0x0
            0x91000718, // e24: add x24, x24, #0x1
            0xb100041f, // e28: cmn x0, #0x1
            0x9a9706f7, // e2c: cinc x23, x23, ne
            0xd2b08000, // e30: mov x0, #0x84000000
            0xf2802000, // e34: movk x0, #0x100
            0xaa160000, // e38: orr x0, x0, x22
            0xd4000002, // e3c: hvc #0x0
            0x91000718, // e40: add x24, x24, #0x1
            0xb100041f, // e44: cmn x0, #0x1
            0x9a9706f7, // e48: cinc x23, x23, ne
            0xd2b08000, // e4c: mov x0, #0x84000000
            0xf2800000, // e50: movk x0, #0x0
            0xd4000023, // e54: smc #0x1
            0x91000718, // e58: add x24, x24, #0x1
            0xb100041f, // e5c: cmn x0, #0x1
            0x9a9706f7, // e60: cinc x23, x23, ne
            0x910006d6, // e64: add x22, x22, #0x1
            0xf10fa2df, // e68: cmp x22, #0x3e8
            0x54fff8a3, // e6c: b.cc d80 <psci_stress+0xc>
            0xf9005698, // e70: str x24, [x20, #168]
            0xf9005a97, // e74: str x23, [x20, #176]
            0xd2b88000, // e78: mov x0, #0xc4000000
            0xf2800080, // e7c: movk x0, #0x4
            0xd2800021, // e80: mov x1, #0x1
            0xd2800002, // e84: mov x2, #0x0
            0xd4000003, // e88: smc #0x0
            0xf9005e80, // e8c: str x0, [x20, #184]
            0xd65f03c0, // e90: ret
        ],
    },
];

#[cfg(all(test, not(target_os = "none")))]
mod tests {
    use super::*;
    use guest_support::flat_image;
    use guest_support::host;
    use sel4vm::psci::{fid, Function};

    const SOURCE: &str = include_str!("guest.S");
    const GUEST_S: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/guest.S");

    #[test]
    #[cfg_attr(
        not(has_aarch64_binutils),
        ignore = "aarch64-linux-gnu-as not found on PATH (apt install binutils-aarch64-linux-gnu)"
    )]
    fn segments_match_source() {
        host::assert_matches_source(GUEST_S.as_ref(), SEGMENTS);
    }

    /// `.equ NAME, value` of `guest.S`.
    fn equ(name: &str) -> u64 {
        host::equ_u64(SOURCE, name)
    }

    #[test]
    fn constants_match_source() {
        assert_eq!(equ("RAM"), RAM_BASE);
        assert_eq!(RAM_BASE + equ("RESULTS"), RESULTS);
        assert_eq!(RAM_BASE + equ("FLAG"), FLAG);
        assert_eq!(equ("DEV"), DEV_BASE);
        assert_eq!(equ("DONE_MAGIC"), DONE_MAGIC);
        assert_eq!(equ("CONTEXT_TAG"), CONTEXT_TAG);
        assert_eq!(equ("SGI_TO_1"), u64::from(SGI_TO_1));
        assert_eq!(equ("SGI_TO_0"), u64::from(SGI_TO_0));
        assert_eq!(equ("UNKNOWN_SMC"), UNKNOWN_SMC);
        assert_eq!(equ("UNKNOWN_HVC"), UNKNOWN_HVC);
        assert_eq!(equ("UNKNOWN_FEAT"), UNKNOWN_FEAT);
        assert_eq!(equ("PSCI_VERSION"), u64::from(fid::PSCI_VERSION));
        assert_eq!(equ("PSCI_FEATURES"), u64::from(fid::PSCI_FEATURES));
        assert_eq!(equ("CPU_OFF"), u64::from(fid::CPU_OFF));
        assert_eq!(equ("CPU_ON64"), u64::from(fid::CPU_ON64));
        assert_eq!(equ("AFF_INFO64"), u64::from(fid::AFFINITY_INFO64));
        assert_eq!(equ("SMCCC_VERSION"), u64::from(fid::SMCCC_VERSION));
        assert_eq!(equ("STRESS_ROUNDS"), STRESS_ROUNDS);
        assert_eq!(equ("STRESS_CALLS"), STRESS_CALLS);
        assert_eq!(
            host::equ(SOURCE, "NOT_SUPPORTED"),
            i64::from(sel4vm::psci::ret::NOT_SUPPORTED)
        );
        assert_eq!(
            host::equ(SOURCE, "INVALID_PARAMETERS"),
            i64::from(sel4vm::psci::ret::INVALID_PARAMETERS)
        );
        assert_eq!(
            host::equ(SOURCE, "INVALID_ADDRESS"),
            i64::from(sel4vm::psci::ret::INVALID_ADDRESS)
        );
    }

    /// The unknown ids really are unknown to the VMM's PSCI/SMCCC decoder.
    #[test]
    fn unknown_ids_are_unknown() {
        for f in [UNKNOWN_SMC, UNKNOWN_HVC, UNKNOWN_FEAT] {
            assert!(
                matches!(Function::decode(f), Function::Unknown(_)),
                "{f:#x}"
            );
        }
    }

    /// Where vCPU 0's `adr x2, entry1` points: the CPU_ON entry.
    #[test]
    fn cpu_on_entry_is_entry1() {
        let img = flat_image(SEGMENTS);
        let adrs: Vec<u64> = img
            .iter()
            .enumerate()
            .filter(|(_, w)| *w & 0x9f00_001f == 0x1000_0002) // adr x2, ...
            .map(|(i, w)| {
                let lo = u64::from((w >> 29) & 3);
                let hi = u64::from((w >> 5) & 0x7_ffff);
                let imm = (((hi << 2) | lo) << 43) as i64 >> 43;
                (i as u64 * 4).wrapping_add(imm as u64)
            })
            .collect();
        // Three in entry0, two in psci_stress (one made misaligned after).
        assert_eq!(adrs, [ENTRY1 - RAM_BASE; 5]);
    }

    /// Every `hvc`/`smc` has immediate 0 but psci_stress's one `smc #1`,
    /// and follows no write of x7 other than `mov x7, #0` (seL4 reads x7 of
    /// an HVC as a syscall number).
    #[test]
    fn calls_use_imm0_and_x7_stays_zero() {
        let img = flat_image(SEGMENTS);
        let (mut hvc, mut smc, mut smc1) = (0, 0, 0);
        for w in &img {
            match *w & 0xffe0_001f {
                0xd400_0003 if *w == 0xd400_0023 => smc1 += 1,
                0xd400_0002 => {
                    assert_eq!(*w, 0xd400_0002, "hvc #0");
                    hvc += 1;
                }
                0xd400_0003 => {
                    assert_eq!(*w, 0xd400_0003, "smc #0");
                    smc += 1;
                }
                _ => {}
            }
            // Data-processing writes to x7 (Rd = 7): only `mov x7, #0`.
            if *w & 0x1f == 7 && (*w >> 26) & 0b111 == 0b100 {
                assert_eq!(*w, 0xd280_0007, "x7 written by {w:#x}");
            }
        }
        assert_eq!((hvc, smc, smc1), (6, 15, 1));
    }

    #[test]
    fn vector_table_routes_irq_to_handler_and_the_rest_to_fail() {
        let img = flat_image(SEGMENTS);
        host::check_vector_table(&img, Some(IRQ_SLOT), ENTRY0 - RAM_BASE).unwrap();
    }

    #[test]
    fn program_fits_below_results() {
        host::check_layout(SEGMENTS, RESULTS - RAM_BASE).unwrap();
    }

    /// The stores with base x1/x12 go to the test device: one 32-bit DONE
    /// store and the two 64-bit fail stores; the device handler accepts these.
    #[test]
    fn device_stores_have_the_expected_widths() {
        let img = flat_image(SEGMENTS);
        assert_eq!(host::store_widths(&img, &[1, 12]), [4, 8, 8]);
    }
}
