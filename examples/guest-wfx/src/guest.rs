//! The guest program, its memory layout and what the VMM expects of it.
//! Pure data, shared by the root task and the host tests below.
//!
//! The program is `guest.S` in this directory, assembled once with
//! `aarch64-linux-gnu-as` and checked in as [`SEGMENTS`] (the non-zero runs
//! of the flat binary, with objdump's disassembly in the comments, and the
//! page table's two descriptors). The host test `segments_match_source`
//! re-assembles the source and compares.
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
pub const ENTRY1: u64 = RAM_BASE + 0xa00;
/// The identity map's level-1 table (`PGTABLE`): two 1 GiB blocks.
pub const PGTABLE: u64 = RAM_BASE + 0x1000;
/// Where the guest stores its results (`RESULTS`).
pub const RESULTS: u64 = RAM_BASE + 0x2000;
/// Size of the results area the VMM reads back.
pub const RESULTS_SIZE: usize = 0x100;
/// The variables the vCPUs share (`SHARED`), a cache line each.
pub const SHARED: u64 = RAM_BASE + 0x3000;
/// The spinlock (u32; 0 = free, 1 = held).
pub const LOCK: u64 = SHARED;
/// vCPU 1's progress for vCPU 0 (u64, 1..=6).
pub const STAGE: u64 = SHARED + 0x40;
/// vCPU 0's go-ahead for vCPU 1 (u64, 1..=2).
pub const GO: u64 = SHARED + 0x80;
/// Written by the lock owner in its critical section (u64).
pub const DATA: u64 = SHARED + 0xc0;
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
/// The test device's phase-mark register (`MARK`): vCPU 0 writes a mark
/// number (32-bit) at each phase boundary, the VMM takes a snapshot of its
/// exit statistics.
pub const MARK_REG: u64 = 0x18;
/// Value the guest writes to DONE when it has finished.
pub const DONE_MAGIC: u64 = 0x600d;
/// Value the lock owner writes to DATA in its critical section.
pub const DATA_MAGIC: u64 = 0xda7a;
/// `CPU_ON` context id: this tag ORed with the GIC version.
pub const CONTEXT_TAG: u64 = 0xc0de_0000;
/// SGI vCPU 0 sends to vCPU 1.
pub const SGI_TO_1: u32 = 2;
/// Iterations of vCPU 0's busy loop in phase 2 (`BUSY_ITERS`).
pub const BUSY_ITERS: u64 = 200_000_000;
/// Iterations of vCPU 0's critical section in phase 3 (`CS_ITERS`).
pub const CS_ITERS: u64 = 100_000_000;
/// Vector slot of "current EL with SP_ELx, IRQ".
pub const IRQ_SLOT: usize = 5;
/// `MAIR_EL1`: attribute 0 Device-nGnRnE, attribute 1 Normal write-back.
pub const MAIR_VALUE: u64 = 0xff00;
/// `TCR_EL1`: T0SZ 32 (4 GiB, walks start at level 1), write-back
/// write-allocate inner shareable walks, 4 KiB granule, EPD1.
pub const TCR_VALUE: u64 = 0x80_3520;
/// `SCTLR_EL1` bits both vCPUs set: M, C, I.
pub const SCTLR_ON: u64 = 0x1005;
/// `SCTLR_EL1.WXN`, which they clear.
pub const SCTLR_WXN: u64 = 1 << 19;

/// The phase marks, in the order vCPU 0 writes them.
pub mod mark {
    /// Phase 1 begins (before `CPU_ON`).
    pub const IPI: u64 = 1;
    /// Phase 1 over (vCPU 1 took the SGI); phase 2 begins.
    pub const BUSY: u64 = 2;
    /// vCPU 0's busy loop is over.
    pub const BUSY_END: u64 = 3;
    /// vCPU 1 took its timer interrupt; phase 2 over.
    pub const TIMER_WOKE: u64 = 4;
    /// vCPU 1 waits for the lock; vCPU 0's critical section begins.
    pub const CS: u64 = 5;
    /// vCPU 0's critical section is over (it releases the lock next).
    pub const CS_END: u64 = 6;
    /// All of them, in order.
    pub const ALL: [u64; 6] = [IPI, BUSY, BUSY_END, TIMER_WOKE, CS, CS_END];
}

/// Offsets into the results area (`R_*` in `guest.S`); all u64.
pub mod res {
    /// vCPU 0: `CPU_ON(vCPU 1)`.
    pub const CPU_ON: usize = 0x00;
    /// vCPU 0: `SCTLR_EL1` with its MMU on.
    pub const SCTLR0: usize = 0x08;
    /// vCPU 0: virtual count just before it sent the SGI.
    pub const SGI_AT: usize = 0x10;
    /// vCPU 0: virtual count at the start of its busy loop.
    pub const BUSY_START: usize = 0x18;
    /// vCPU 0: virtual count at its end.
    pub const BUSY_END: usize = 0x20;
    /// vCPU 0: virtual count at the start of its critical section.
    pub const CS_START: usize = 0x28;
    /// vCPU 0: virtual count at its end.
    pub const CS_END: usize = 0x30;
    /// vCPU 0: `AFFINITY_INFO(vCPU 1)` once it reported OFF.
    pub const AFF_OFF: usize = 0x38;
    /// vCPU 0: times it read STAGE after the SGI until vCPU 1 answered
    /// (1 if vCPU 1 ran first).
    pub const SGI_POLLS: usize = 0x40;
    /// vCPU 1: `x0` at entry (the context id).
    pub const X0_1: usize = 0x80;
    /// vCPU 1: `SCTLR_EL1` with its MMU on.
    pub const SCTLR1: usize = 0x88;
    /// vCPU 1: IAR of the interrupt that ended phase 1, with bit 31 set.
    pub const P1_IAR: usize = 0x90;
    /// vCPU 1: virtual count when it had taken it.
    pub const P1_AT: usize = 0x98;
    /// vCPU 1: WFIs it executed in phase 1.
    pub const P1_WFIS: usize = 0xa0;
    /// vCPU 1: its timer's deadline in phase 2 (`CNTV_CVAL_EL0`).
    pub const P2_CVAL: usize = 0xa8;
    /// vCPU 1: IAR of the interrupt that ended phase 2, with bit 31 set.
    pub const P2_IAR: usize = 0xb0;
    /// vCPU 1: `CNTV_CTL_EL0` in the timer interrupt's handler.
    pub const P2_CTL: usize = 0xb8;
    /// vCPU 1: virtual count in that handler.
    pub const P2_AT: usize = 0xc0;
    /// vCPU 1: WFIs it executed in phase 2.
    pub const P2_WFIS: usize = 0xc8;
    /// vCPU 1: DATA as it found it once it held the lock.
    pub const P3_DATA: usize = 0xd0;
    /// vCPU 1: WFEs it executed waiting for the lock.
    pub const P3_WFES: usize = 0xd8;
    /// vCPU 1: interrupts other than SGI 2 and PPI 27 it took.
    pub const OTHER: usize = 0xe0;
    /// vCPU 1: what `CPU_OFF` returned (it must not return).
    pub const CPU_OFF_RET: usize = 0xe8;
}

// The results area holds every slot; the shared variables lie after it.
const _: () = assert!(res::CPU_OFF_RET + 8 <= RESULTS_SIZE);
const _: () = assert!(SHARED >= RESULTS + RESULTS_SIZE as u64 && DATA - RAM_BASE + 8 <= RAM_SIZE);

/// The guest program (`guest.S`): the vector table's used slots, the code
/// and the page table.
pub const SEGMENTS: &[Segment] = &[
    Segment {
        offset: 0x000,
        words: &[
            0xd2800009, // 000: vectors: mov x9, #0x0
            0x1400032c, // 004: b cb4 <fail>
        ],
    },
    Segment {
        offset: 0x080,
        words: &[
            0xd2800029, // 080: mov x9, #0x1
            0x1400030c, // 084: b cb4 <fail>
        ],
    },
    Segment {
        offset: 0x100,
        words: &[
            0xd2800049, // 100: mov x9, #0x2
            0x140002ec, // 104: b cb4 <fail>
        ],
    },
    Segment {
        offset: 0x180,
        words: &[
            0xd2800069, // 180: mov x9, #0x3
            0x140002cc, // 184: b cb4 <fail>
        ],
    },
    Segment {
        offset: 0x200,
        words: &[
            0xd2800089, // 200: mov x9, #0x4
            0x140002ac, // 204: b cb4 <fail>
        ],
    },
    Segment {
        offset: 0x280,
        words: &[
            0x14000271, // 280: b c44 <irq_handler>
        ],
    },
    Segment {
        offset: 0x300,
        words: &[
            0xd28000c9, // 300: mov x9, #0x6
            0x1400026c, // 304: b cb4 <fail>
        ],
    },
    Segment {
        offset: 0x380,
        words: &[
            0xd28000e9, // 380: mov x9, #0x7
            0x1400024c, // 384: b cb4 <fail>
        ],
    },
    Segment {
        offset: 0x400,
        words: &[
            0xd2800109, // 400: mov x9, #0x8
            0x1400022c, // 404: b cb4 <fail>
        ],
    },
    Segment {
        offset: 0x480,
        words: &[
            0xd2800129, // 480: mov x9, #0x9
            0x1400020c, // 484: b cb4 <fail>
        ],
    },
    Segment {
        offset: 0x500,
        words: &[
            0xd2800149, // 500: mov x9, #0xa
            0x140001ec, // 504: b cb4 <fail>
        ],
    },
    Segment {
        offset: 0x580,
        words: &[
            0xd2800169, // 580: mov x9, #0xb
            0x140001cc, // 584: b cb4 <fail>
        ],
    },
    Segment {
        offset: 0x600,
        words: &[
            0xd2800189, // 600: mov x9, #0xc
            0x140001ac, // 604: b cb4 <fail>
        ],
    },
    Segment {
        offset: 0x680,
        words: &[
            0xd28001a9, // 680: mov x9, #0xd
            0x1400018c, // 684: b cb4 <fail>
        ],
    },
    Segment {
        offset: 0x700,
        words: &[
            0xd28001c9, // 700: mov x9, #0xe
            0x1400016c, // 704: b cb4 <fail>
        ],
    },
    Segment {
        offset: 0x780,
        words: &[
            0xd28001e9, // 780: mov x9, #0xf
            0x1400014c, // 784: b cb4 <fail>
        ],
    },
    Segment {
        offset: 0x800,
        words: &[
            0xaa0003f3, // 800: entry0: mov x19, x0
            0x940000c6, // 804: bl b1c <common_init>
            0xf9000682, // 808: str x2, [x20, #8]
            0xd2a10002, // 80c: mov x2, #0x8000000
            0xf1000e7f, // 810: cmp x19, #0x3
            0x54000060, // 814: b.eq 820 <entry0+0x20>
            0x52800023, // 818: mov w3, #0x1
            0x14000002, // 81c: b 824 <entry0+0x24>
            0x52800263, // 820: mov w3, #0x13
            0xb9000043, // 824: str w3, [x2]
            0xd2800025, // 828: mov x5, #0x1
            0x940000f3, // 82c: bl bf8 <mark>
            0xd2b88000, // 830: mov x0, #0xc4000000
            0xf2800060, // 834: movk x0, #0x3
            0xd2800021, // 838: mov x1, #0x1
            0x10000e22, // 83c: adr x2, a00 <entry1>
            0xd2b81bc3, // 840: mov x3, #0xc0de0000
            0xf2800003, // 844: movk x3, #0x0
            0xaa130063, // 848: orr x3, x3, x19
            0xd4000003, // 84c: smc #0x0
            0xf9000280, // 850: str x0, [x20]
            0x91010344, // 854: add x4, x26, #0x40
            0xd2800025, // 858: mov x5, #0x1
            0x940000ea, // 85c: bl c04 <wait_ge>
            0xd53be002, // 860: mrs x2, cntfrq_el0
            0xd345fc42, // 864: lsr x2, x2, #5
            0xd53be043, // 868: mrs x3, cntvct_el0
            0x8b020063, // 86c: add x3, x3, x2
            0xd53be044, // 870: mrs x4, cntvct_el0
            0xeb03009f, // 874: cmp x4, x3
            0x54ffffc3, // 878: b.cc 870 <entry0+0x70>
            0xd53be043, // 87c: mrs x3, cntvct_el0
            0xf9000a83, // 880: str x3, [x20, #16]
            0xd2a10002, // 884: mov x2, #0x8000000
            0xf1000e7f, // 888: cmp x19, #0x3
            0x540000a0, // 88c: b.eq 8a0 <entry0+0xa0>
            0x52a00043, // 890: mov w3, #0x20000
            0x72800043, // 894: movk w3, #0x2
            0xb90f0043, // 898: str w3, [x2, #3840]
            0x14000005, // 89c: b 8b0 <entry0+0xb0>
            0xd2a04003, // 8a0: mov x3, #0x2000000
            0xf2800043, // 8a4: movk x3, #0x2
            0xd518cba3, // 8a8: msr icc_sgi1r_el1, x3
            0xd5033fdf, // 8ac: isb
            0x91010344, // 8b0: add x4, x26, #0x40
            0xd2800045, // 8b4: mov x5, #0x2
            0x940000d3, // 8b8: bl c04 <wait_ge>
            0xf9002287, // 8bc: str x7, [x20, #64]
            0xd2800045, // 8c0: mov x5, #0x2
            0x940000cd, // 8c4: bl bf8 <mark>
            0x91020344, // 8c8: add x4, x26, #0x80
            0xd2800025, // 8cc: mov x5, #0x1
            0xc89ffc85, // 8d0: stlr x5, [x4]
            0x91010344, // 8d4: add x4, x26, #0x40
            0xd2800065, // 8d8: mov x5, #0x3
            0x940000ca, // 8dc: bl c04 <wait_ge>
            0xd53be043, // 8e0: mrs x3, cntvct_el0
            0xf9000e83, // 8e4: str x3, [x20, #24]
            0xd2a17d63, // 8e8: mov x3, #0xbeb0000
            0xf2984003, // 8ec: movk x3, #0xc200
            0xf1000463, // 8f0: subs x3, x3, #0x1
            0x54ffffe1, // 8f4: b.ne 8f0 <entry0+0xf0>
            0xd53be043, // 8f8: mrs x3, cntvct_el0
            0xf9001283, // 8fc: str x3, [x20, #32]
            0xd2800065, // 900: mov x5, #0x3
            0x940000bd, // 904: bl bf8 <mark>
            0x91010344, // 908: add x4, x26, #0x40
            0xd2800085, // 90c: mov x5, #0x4
            0x940000bd, // 910: bl c04 <wait_ge>
            0xd2800085, // 914: mov x5, #0x4
            0x940000b8, // 918: bl bf8 <mark>
            0x91000344, // 91c: add x4, x26, #0x0
            0x940000bf, // 920: bl c1c <lock>
            0x91020344, // 924: add x4, x26, #0x80
            0xd2800045, // 928: mov x5, #0x2
            0xc89ffc85, // 92c: stlr x5, [x4]
            0x91010344, // 930: add x4, x26, #0x40
            0xd28000a5, // 934: mov x5, #0x5
            0x940000b3, // 938: bl c04 <wait_ge>
            0xd28000a5, // 93c: mov x5, #0x5
            0x940000ae, // 940: bl bf8 <mark>
            0xd53be043, // 944: mrs x3, cntvct_el0
            0xf9001683, // 948: str x3, [x20, #40]
            0xd2a0bea3, // 94c: mov x3, #0x5f50000
            0xf29c2003, // 950: movk x3, #0xe100
            0xf1000463, // 954: subs x3, x3, #0x1
            0x54ffffe1, // 958: b.ne 954 <entry0+0x154>
            0xd29b4f43, // 95c: mov x3, #0xda7a
            0xf9006343, // 960: str x3, [x26, #192]
            0xd53be043, // 964: mrs x3, cntvct_el0
            0xf9001a83, // 968: str x3, [x20, #48]
            0xd28000c5, // 96c: mov x5, #0x6
            0x940000a2, // 970: bl bf8 <mark>
            0x91000344, // 974: add x4, x26, #0x0
            0x889ffc9f, // 978: stlr wzr, [x4]
            0x91010344, // 97c: add x4, x26, #0x40
            0xd28000c5, // 980: mov x5, #0x6
            0x940000a0, // 984: bl c04 <wait_ge>
            0xd2b88000, // 988: mov x0, #0xc4000000
            0xf2800080, // 98c: movk x0, #0x4
            0xd2800021, // 990: mov x1, #0x1
            0xd2800002, // 994: mov x2, #0x0
            0xd4000003, // 998: smc #0x0
            0xf100041f, // 99c: cmp x0, #0x1
            0x54ffff41, // 9a0: b.ne 988 <entry0+0x188>
            0xf9001e80, // 9a4: str x0, [x20, #56]
            0xd2a40001, // 9a8: mov x1, #0x20000000
            0x528c01a3, // 9ac: mov w3, #0x600d
            0xb9000023, // 9b0: str w3, [x1]
            0x14000000, // 9b4: b 9b4 <entry0+0x1b4>
        ],
    },
    Segment {
        offset: 0xa00,
        words: &[
            0xaa0003f8, // a00: entry1: mov x24, x0
            0x92401c13, // a04: and x19, x0, #0xff
            0x94000045, // a08: bl b1c <common_init>
            0xf9004682, // a0c: str x2, [x20, #136]
            0xf9004298, // a10: str x24, [x20, #128]
            0xd51be33f, // a14: msr cntv_ctl_el0, xzr
            0xd5033fdf, // a18: isb
            0x94000058, // a1c: bl b7c <cpu_gic_init>
            0xd50342ff, // a20: msr daifclr, #0x2
            0x91010344, // a24: add x4, x26, #0x40
            0xd2800025, // a28: mov x5, #0x1
            0xc89ffc85, // a2c: stlr x5, [x4]
            0xd2800003, // a30: mov x3, #0x0
            0xd503207f, // a34: wfi
            0x91000463, // a38: add x3, x3, #0x1
            0xb4ffffd5, // a3c: cbz x21, a34 <entry1+0x34>
            0xd53be044, // a40: mrs x4, cntvct_el0
            0xf9004e84, // a44: str x4, [x20, #152]
            0xf9004a95, // a48: str x21, [x20, #144]
            0xf9005283, // a4c: str x3, [x20, #160]
            0x91010344, // a50: add x4, x26, #0x40
            0xd2800045, // a54: mov x5, #0x2
            0xc89ffc85, // a58: stlr x5, [x4]
            0x91020344, // a5c: add x4, x26, #0x80
            0xd2800025, // a60: mov x5, #0x1
            0x94000068, // a64: bl c04 <wait_ge>
            0xd2800015, // a68: mov x21, #0x0
            0xd53be003, // a6c: mrs x3, cntfrq_el0
            0xd53be044, // a70: mrs x4, cntvct_el0
            0x8b040063, // a74: add x3, x3, x4
            0xf9005683, // a78: str x3, [x20, #168]
            0xd51be343, // a7c: msr cntv_cval_el0, x3
            0xd2800023, // a80: mov x3, #0x1
            0xd51be323, // a84: msr cntv_ctl_el0, x3
            0xd5033fdf, // a88: isb
            0x91010344, // a8c: add x4, x26, #0x40
            0xd2800065, // a90: mov x5, #0x3
            0xc89ffc85, // a94: stlr x5, [x4]
            0xd2800003, // a98: mov x3, #0x0
            0xd503207f, // a9c: wfi
            0x91000463, // aa0: add x3, x3, #0x1
            0xb4ffffd5, // aa4: cbz x21, a9c <entry1+0x9c>
            0xd50342df, // aa8: msr daifset, #0x2
            0xf9005a95, // aac: str x21, [x20, #176]
            0xf9006683, // ab0: str x3, [x20, #200]
            0x91010344, // ab4: add x4, x26, #0x40
            0xd2800085, // ab8: mov x5, #0x4
            0xc89ffc85, // abc: stlr x5, [x4]
            0x91020344, // ac0: add x4, x26, #0x80
            0xd2800045, // ac4: mov x5, #0x2
            0x9400004f, // ac8: bl c04 <wait_ge>
            0x91010344, // acc: add x4, x26, #0x40
            0xd28000a5, // ad0: mov x5, #0x5
            0xc89ffc85, // ad4: stlr x5, [x4]
            0x91000344, // ad8: add x4, x26, #0x0
            0x94000050, // adc: bl c1c <lock>
            0xf9006e83, // ae0: str x3, [x20, #216]
            0xf9406345, // ae4: ldr x5, [x26, #192]
            0xf9006a85, // ae8: str x5, [x20, #208]
            0x91000344, // aec: add x4, x26, #0x0
            0x889ffc9f, // af0: stlr wzr, [x4]
            0xf9007296, // af4: str x22, [x20, #224]
            0x91010344, // af8: add x4, x26, #0x40
            0xd28000c5, // afc: mov x5, #0x6
            0xc89ffc85, // b00: stlr x5, [x4]
            0xd2b08000, // b04: mov x0, #0x84000000
            0xf2800040, // b08: movk x0, #0x2
            0xd4000003, // b0c: smc #0x0
            0xf9007680, // b10: str x0, [x20, #232]
            0xd2801329, // b14: mov x9, #0x99
            0x14000067, // b18: b cb4 <fail>
            0xd2a80001, // b1c: common_init: mov x1, #0x40000000
            0xd518c001, // b20: msr vbar_el1, x1
            0x91400834, // b24: add x20, x1, #0x2, lsl #12
            0x91400c3a, // b28: add x26, x1, #0x3, lsl #12
            0xd2800015, // b2c: mov x21, #0x0
            0xd2800016, // b30: mov x22, #0x0
            0xd29fe002, // b34: mov x2, #0xff00
            0xd518a202, // b38: msr mair_el1, x2
            0xd2a01002, // b3c: mov x2, #0x800000
            0xf286a402, // b40: movk x2, #0x3520
            0xd5182042, // b44: msr tcr_el1, x2
            0x91400422, // b48: add x2, x1, #0x1, lsl #12
            0xd5182002, // b4c: msr ttbr0_el1, x2
            0xd5033fdf, // b50: isb
            0xd508871f, // b54: tlbi vmalle1
            0xd503379f, // b58: dsb nsh
            0xd5033fdf, // b5c: isb
            0xd5381002, // b60: mrs x2, sctlr_el1
            0xd28200a3, // b64: mov x3, #0x1005
            0xaa030042, // b68: orr x2, x2, x3
            0x926cf842, // b6c: and x2, x2, #0xfffffffffff7ffff
            0xd5181002, // b70: msr sctlr_el1, x2
            0xd5033fdf, // b74: isb
            0xd65f03c0, // b78: ret
            0xd53800a3, // b7c: cpu_gic_init: mrs x3, mpidr_el1
            0x92401c63, // b80: and x3, x3, #0xff
            0xf1000e7f, // b84: cmp x19, #0x3
            0x54000160, // b88: b.eq bb4 <cpu_gic_init+0x38>
            0xd2a10002, // b8c: mov x2, #0x8000000
            0x52a10004, // b90: mov w4, #0x8000000
            0x72800084, // b94: movk w4, #0x4
            0xb9010044, // b98: str w4, [x2, #256]
            0xd2a10025, // b9c: mov x5, #0x8010000
            0x52801e04, // ba0: mov w4, #0xf0
            0xb90004a4, // ba4: str w4, [x5, #4]
            0x52800024, // ba8: mov w4, #0x1
            0xb90000a4, // bac: str w4, [x5]
            0xd65f03c0, // bb0: ret
            0xd2a10145, // bb4: mov x5, #0x80a0000
            0x8b0344a5, // bb8: add x5, x5, x3, lsl #17
            0xb90014bf, // bbc: str wzr, [x5, #20]
            0xb94014a4, // bc0: ldr w4, [x5, #20]
            0x3717ffe4, // bc4: tbnz w4, #2, bc0 <cpu_gic_init+0x44>
            0x914040a6, // bc8: add x6, x5, #0x10, lsl #12
            0x12800004, // bcc: mov w4, #0xffffffff
            0xb90080c4, // bd0: str w4, [x6, #128]
            0x52a10004, // bd4: mov w4, #0x8000000
            0x72800084, // bd8: movk w4, #0x4
            0xb90100c4, // bdc: str w4, [x6, #256]
            0xd2801e04, // be0: mov x4, #0xf0
            0xd5184604, // be4: msr icc_pmr_el1, x4
            0xd2800024, // be8: mov x4, #0x1
            0xd518cce4, // bec: msr icc_igrpen1_el1, x4
            0xd5033fdf, // bf0: isb
            0xd65f03c0, // bf4: ret
            0xd2a40001, // bf8: mark: mov x1, #0x20000000
            0xb9001825, // bfc: str w5, [x1, #24]
            0xd65f03c0, // c00: ret
            0xd2800007, // c04: wait_ge: mov x7, #0x0
            0xc8dffc86, // c08: ldar x6, [x4]
            0x910004e7, // c0c: add x7, x7, #0x1
            0xeb0500df, // c10: cmp x6, x5
            0x54ffffa3, // c14: b.cc c08 <wait_ge+0x4>
            0xd65f03c0, // c18: ret
            0xd2800003, // c1c: lock: mov x3, #0x0
            0x52800026, // c20: mov w6, #0x1
            0xd50320bf, // c24: sevl
            0xd503205f, // c28: wfe
            0x91000463, // c2c: add x3, x3, #0x1
            0x885ffc85, // c30: ldaxr w5, [x4]
            0x35ffffa5, // c34: cbnz w5, c28 <lock+0xc>
            0x88077c86, // c38: stxr w7, w6, [x4]
            0x35ffffa7, // c3c: cbnz w7, c30 <lock+0x14>
            0xd65f03c0, // c40: ret
            0xf1000e7f, // c44: irq_handler: cmp x19, #0x3
            0x54000080, // c48: b.eq c58 <irq_handler+0x14>
            0xd2a10029, // c4c: mov x9, #0x8010000
            0xb9400d2a, // c50: ldr w10, [x9, #12]
            0x14000002, // c54: b c5c <irq_handler+0x18>
            0xd538cc0a, // c58: mrs x10, icc_iar1_el1
            0x1200254b, // c5c: and w11, w10, #0x3ff
            0x710ff17f, // c60: cmp w11, #0x3fc
            0x54000262, // c64: b.cs cb0 <irq_handler+0x6c>
            0x71006d7f, // c68: cmp w11, #0x1b
            0x54000101, // c6c: b.ne c8c <irq_handler+0x48>
            0xd53be32c, // c70: mrs x12, cntv_ctl_el0
            0xf9005e8c, // c74: str x12, [x20, #184]
            0xd53be04c, // c78: mrs x12, cntvct_el0
            0xf900628c, // c7c: str x12, [x20, #192]
            0xd51be33f, // c80: msr cntv_ctl_el0, xzr
            0xd5033fdf, // c84: isb
            0x14000004, // c88: b c98 <irq_handler+0x54>
            0x7100097f, // c8c: cmp w11, #0x2
            0x54000040, // c90: b.eq c98 <irq_handler+0x54>
            0x910006d6, // c94: add x22, x22, #0x1
            0xb2610155, // c98: orr x21, x10, #0x80000000
            0xf1000e7f, // c9c: cmp x19, #0x3
            0x54000060, // ca0: b.eq cac <irq_handler+0x68>
            0xb900112a, // ca4: str w10, [x9, #16]
            0xd69f03e0, // ca8: eret
            0xd518cc2a, // cac: msr icc_eoir1_el1, x10
            0xd69f03e0, // cb0: eret
            0xd538520a, // cb4: fail: mrs x10, esr_el1
            0xd538402b, // cb8: mrs x11, elr_el1
            0xd2a4000c, // cbc: mov x12, #0x20000000
            0xf900098b, // cc0: str x11, [x12, #16]
            0xaa09814a, // cc4: orr x10, x10, x9, lsl #32
            0xf900058a, // cc8: str x10, [x12, #8]
            0x14000000, // ccc: b ccc <fail+0x18>
        ],
    },
    Segment {
        offset: 0x1000,
        words: &[
            0x00000401, // 1000: pgtable: .quad 0x0060000000000401 (low)
            0x00600000, // 1004: (high)
            0x40000705, // 1008: .quad 0x0000000040000705 (low)
            0x00000000, // 100c: (high)
        ],
    },
];

#[cfg(all(test, not(target_os = "none")))]
mod tests {
    use super::*;
    use guest_support::flat_image;
    use guest_support::host;
    use sel4vm::arch::insn::{decode_load_store, MemKind};
    use sel4vm::psci::fid;
    use sel4vm::vtimer::VTIMER_PPI;

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
        assert_eq!(RAM_BASE + equ("PGTABLE"), PGTABLE);
        assert_eq!(RAM_BASE + equ("RESULTS"), RESULTS);
        assert_eq!(RAM_BASE + equ("SHARED"), SHARED);
        assert_eq!(SHARED + equ("LOCK"), LOCK);
        assert_eq!(SHARED + equ("STAGE"), STAGE);
        assert_eq!(SHARED + equ("GO"), GO);
        assert_eq!(SHARED + equ("DATA"), DATA);
        assert_eq!(equ("DEV"), DEV_BASE);
        assert_eq!(equ("MARK"), MARK_REG);
        assert_eq!(equ("DONE_MAGIC"), DONE_MAGIC);
        assert_eq!(equ("DATA_MAGIC"), DATA_MAGIC);
        assert_eq!(equ("CONTEXT_TAG"), CONTEXT_TAG);
        assert_eq!(equ("SGI_TO_1"), u64::from(SGI_TO_1));
        assert_eq!(equ("VTIMER"), u64::from(VTIMER_PPI));
        assert_eq!(equ("BUSY_ITERS"), BUSY_ITERS);
        assert_eq!(equ("CS_ITERS"), CS_ITERS);
        assert_eq!(equ("CPU_OFF"), u64::from(fid::CPU_OFF));
        assert_eq!(equ("CPU_ON64"), u64::from(fid::CPU_ON64));
        assert_eq!(equ("AFF_INFO64"), u64::from(fid::AFFINITY_INFO64));
        assert_eq!(equ("MAIR_VALUE"), MAIR_VALUE);
        assert_eq!(equ("TCR_VALUE"), TCR_VALUE);
        assert_eq!(equ("SCTLR_ON"), SCTLR_ON);
        for (name, off) in [
            ("R_CPU_ON", res::CPU_ON),
            ("R_SCTLR0", res::SCTLR0),
            ("R_SGI_AT", res::SGI_AT),
            ("R_BUSY_START", res::BUSY_START),
            ("R_BUSY_END", res::BUSY_END),
            ("R_CS_START", res::CS_START),
            ("R_CS_END", res::CS_END),
            ("R_AFF_OFF", res::AFF_OFF),
            ("R_SGI_POLLS", res::SGI_POLLS),
            ("R_X0_1", res::X0_1),
            ("R_SCTLR1", res::SCTLR1),
            ("R_P1_IAR", res::P1_IAR),
            ("R_P1_AT", res::P1_AT),
            ("R_P1_WFIS", res::P1_WFIS),
            ("R_P2_CVAL", res::P2_CVAL),
            ("R_P2_IAR", res::P2_IAR),
            ("R_P2_CTL", res::P2_CTL),
            ("R_P2_AT", res::P2_AT),
            ("R_P2_WFIS", res::P2_WFIS),
            ("R_P3_DATA", res::P3_DATA),
            ("R_P3_WFES", res::P3_WFES),
            ("R_OTHER", res::OTHER),
            ("R_CPU_OFF_RET", res::CPU_OFF_RET),
        ] {
            assert_eq!(equ(name), off as u64, "{name}");
        }
    }

    /// The results are u64 slots that do not overlap.
    #[test]
    fn result_slots_are_distinct_u64s() {
        let mut offs: Vec<u64> = SOURCE
            .lines()
            .filter_map(|l| {
                let mut w = l.split_whitespace();
                (w.next() == Some(".equ")).then_some(())?;
                let name = w.next()?.strip_suffix(',')?;
                name.starts_with("R_").then(|| equ(name))
            })
            .collect();
        assert_eq!(offs.len(), 23);
        offs.sort();
        for w in offs.windows(2) {
            assert!(w[1] >= w[0] + 8, "{w:x?}");
        }
        assert!(offs.iter().all(|o| o % 8 == 0));
    }

    /// The shared variables sit on separate 64-byte lines.
    #[test]
    fn shared_variables_have_a_cache_line_each() {
        let v = [LOCK, STAGE, GO, DATA];
        for w in v.windows(2) {
            assert_eq!(w[1] - w[0], 0x40);
        }
        assert_eq!(LOCK % 64, 0);
    }

    /// `adr x2, ...` targets of the image, by word index.
    fn adr_x2_targets(img: &[u32]) -> Vec<u64> {
        img.iter()
            .enumerate()
            .filter(|(_, w)| *w & 0x9f00_001f == 0x1000_0002)
            .map(|(i, w)| {
                let lo = u64::from((w >> 29) & 3);
                let hi = u64::from((w >> 5) & 0x7_ffff);
                let imm = (((hi << 2) | lo) << 43) as i64 >> 43;
                (i as u64 * 4).wrapping_add(imm as u64)
            })
            .collect()
    }

    /// Where vCPU 0's `adr x2, entry1` points: the CPU_ON entry.
    #[test]
    fn cpu_on_entry_is_entry1() {
        let img = flat_image(SEGMENTS);
        assert_eq!(adr_x2_targets(&img), [ENTRY1 - RAM_BASE]);
        // entry1: mov x24, x0
        assert_eq!(img[((ENTRY1 - RAM_BASE) / 4) as usize], 0xaa00_03f8);
    }

    /// PSCI goes over SMC #0 only (CPU_ON, AFFINITY_INFO, CPU_OFF): no HVC,
    /// whose x7 seL4 would read as a system call number.
    #[test]
    fn psci_calls_are_smc_only() {
        let img = flat_image(SEGMENTS);
        let smc = img.iter().filter(|w| **w & 0xffe0_001f == 0xd400_0003);
        assert!(smc.clone().all(|w| *w == 0xd400_0003), "smc #0");
        assert_eq!(smc.count(), 3);
        let hvc = img.iter().filter(|w| **w & 0xffe0_001f == 0xd400_0002);
        assert_eq!(hvc.count(), 0);
    }

    /// The page table: Device-nGnRnE, never executable, below RAM (the GIC
    /// and the test device); Normal write-back, inner shareable, from RAM
    /// on; nothing above 2 GiB. The MAIR and TCR values fit.
    #[test]
    fn identity_map_covers_devices_and_ram() {
        let img = flat_image(SEGMENTS);
        let at = ((PGTABLE - RAM_BASE) / 4) as usize;
        let desc = |i: usize| u64::from(img[at + 2 * i]) | u64::from(img[at + 2 * i + 1]) << 32;
        let (dev, ram) = (desc(0), desc(1));
        let block = |d: u64| d & 3 == 1 && d & (1 << 10) != 0; // valid block, AF
        let attr = |d: u64| (MAIR_VALUE >> (8 * ((d >> 2) & 7))) & 0xff;
        let out = |d: u64| d & 0x0000_ffff_c000_0000;
        assert!(block(dev) && block(ram));
        assert_eq!((out(dev), out(ram)), (0, RAM_BASE));
        assert_eq!(attr(dev), 0x00, "Device-nGnRnE");
        assert_eq!(attr(ram), 0xff, "Normal, write-back");
        assert_eq!((ram >> 8) & 3, 3, "inner shareable");
        assert_eq!(dev >> 53 & 3, 3, "device block: PXN and UXN");
        assert_eq!(ram >> 53 & 3, 0, "RAM block: executable");
        assert_eq!((ram >> 6) & 3, 0, "RAM block: EL1 read/write");
        for a in [0x0800_0000, 0x0801_0000, 0x080a_0000, DEV_BASE] {
            assert_eq!(a >> 30, 0, "{a:#x} in the device block");
        }
        assert_eq!((RAM_BASE + RAM_SIZE - 1) >> 30, 1);
        // No more than the two descriptors in the image.
        assert_eq!(img.len(), at + 4);
        // T0SZ 32: 32-bit VAs, a level-1 table of 4 entries; 4 KiB granule;
        // TTBR1 walks off.
        assert_eq!(TCR_VALUE & 0x3f, 32);
        assert_eq!((TCR_VALUE >> 14) & 3, 0);
        assert_ne!(TCR_VALUE & (1 << 23), 0);
        assert_eq!(PGTABLE % 0x1000, 0);
    }

    /// The phase marks: `mov x5, #n; bl mark` for n = 1..=6, in program order.
    #[test]
    fn marks_are_written_in_order() {
        let img = flat_image(SEGMENTS);
        // `mark`: mov x1, #0x20000000; str w5, [x1, #MARK]; ret.
        let body = [
            0xd2a4_0001,
            0xb900_0025 | (MARK_REG as u32 / 4) << 10,
            0xd65f_03c0,
        ];
        let mark = img.windows(3).position(|w| w == body).unwrap() as u64 * 4;
        let marks: Vec<u64> = img
            .windows(2)
            .enumerate()
            .filter(|(i, w)| {
                w[1] >> 26 == 0b100101 && {
                    let imm = ((w[1] & 0x03ff_ffff) << 6) as i32 >> 4;
                    ((*i as u64 + 1) * 4).wrapping_add(imm as i64 as u64) == mark
                }
            })
            .map(|(_, w)| {
                assert_eq!(
                    w[0] & 0xffe0_001f,
                    0xd280_0005,
                    "mov x5, #imm before bl mark"
                );
                u64::from((w[0] >> 5) & 0xffff)
            })
            .collect();
        assert_eq!(marks, mark::ALL);
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

    /// The stores with base x1/x12 go to the test device: the 32-bit DONE
    /// store, the 32-bit MARK store and the two 64-bit fail stores; the
    /// root task's device accepts these.
    #[test]
    fn device_stores_have_the_expected_widths() {
        let img = flat_image(SEGMENTS);
        assert_eq!(host::store_widths(&img, &[1, 12]), [4, 4, 8, 8]);
        // No loads from the test device.
        let loads = img
            .iter()
            .filter_map(|&w| decode_load_store(w).ok())
            .filter(|a| a.kind == MemKind::Load && a.base().is_some_and(|b| b == 1 || b == 12));
        assert_eq!(loads.count(), 0);
    }
}
