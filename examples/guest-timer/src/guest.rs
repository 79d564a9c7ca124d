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
/// Where the vCPU starts (`entry` in `guest.S`).
pub const ENTRY: u64 = RAM_BASE + 0x800;
/// Where the guest stores its results (`RESULTS`).
pub const RESULTS: u64 = RAM_BASE + 0x2000;
/// Size of the results area the VMM reads back.
pub const RESULTS_SIZE: usize = 0x80;
/// The test device the guest reports through (`DEV`): nothing is mapped
/// there, every access is emulated by the root task.
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
/// Timer interrupts the guest takes before reporting (`NUM_TICKS`).
pub const NUM_TICKS: u64 = 5;
/// Vector slot of "current EL with SP_ELx, IRQ".
pub const IRQ_SLOT: usize = 5;

/// Offsets into the results area (`[x20, #...]` in `guest.S`).
pub mod res {
    /// u64: timer interrupts taken.
    pub const COUNT: usize = 0x00;
    /// u64: `CNTVCT_EL0` when the timer was armed.
    pub const START: usize = 0x08;
    /// u64: `CNTVCT_EL0` after the last interrupt.
    pub const END: usize = 0x10;
    /// u64: interrupts with another INTID (spurious included).
    pub const OTHER: usize = 0x18;
    /// u32: `ISENABLER0` as read back after enabling PPI 27.
    pub const ENABLES: usize = 0x20;
    /// u32: `IPRIORITYR` byte 27 as read back.
    pub const PRIORITY: usize = 0x24;
    /// u64: timer period in counter ticks (`CNTFRQ_EL0 / 256`).
    pub const PERIOD: usize = 0x28;
    /// u64: `CNTV_CTL_EL0` at the end.
    pub const CTL_END: usize = 0x30;
    /// u32 each: the IAR value of every timer interrupt.
    pub const IARS: usize = 0x40;
}

// The results area holds every slot and lies in guest RAM.
const _: () = assert!(res::IARS + 4 * NUM_TICKS as usize <= RESULTS_SIZE);
const _: () = assert!(RESULTS - RAM_BASE + RESULTS_SIZE as u64 <= RAM_SIZE);

/// The guest program (`guest.S`): the vector table's used slots and the code.
pub const SEGMENTS: &[Segment] = &[
    Segment {
        offset: 0x000,
        words: &[
            0xd2800009, // 000: vectors: mov x9, #0x0
            0x14000266, // 004: b 99c <fail>
        ],
    },
    Segment {
        offset: 0x080,
        words: &[
            0xd2800029, // 080: mov x9, #0x1
            0x14000246, // 084: b 99c <fail>
        ],
    },
    Segment {
        offset: 0x100,
        words: &[
            0xd2800049, // 100: mov x9, #0x2
            0x14000226, // 104: b 99c <fail>
        ],
    },
    Segment {
        offset: 0x180,
        words: &[
            0xd2800069, // 180: mov x9, #0x3
            0x14000206, // 184: b 99c <fail>
        ],
    },
    Segment {
        offset: 0x200,
        words: &[
            0xd2800089, // 200: mov x9, #0x4
            0x140001e6, // 204: b 99c <fail>
        ],
    },
    Segment {
        offset: 0x280,
        words: &[
            0x140001a9, // 280: b 924 <irq_handler>
        ],
    },
    Segment {
        offset: 0x300,
        words: &[
            0xd28000c9, // 300: mov x9, #0x6
            0x140001a6, // 304: b 99c <fail>
        ],
    },
    Segment {
        offset: 0x380,
        words: &[
            0xd28000e9, // 380: mov x9, #0x7
            0x14000186, // 384: b 99c <fail>
        ],
    },
    Segment {
        offset: 0x400,
        words: &[
            0xd2800109, // 400: mov x9, #0x8
            0x14000166, // 404: b 99c <fail>
        ],
    },
    Segment {
        offset: 0x480,
        words: &[
            0xd2800129, // 480: mov x9, #0x9
            0x14000146, // 484: b 99c <fail>
        ],
    },
    Segment {
        offset: 0x500,
        words: &[
            0xd2800149, // 500: mov x9, #0xa
            0x14000126, // 504: b 99c <fail>
        ],
    },
    Segment {
        offset: 0x580,
        words: &[
            0xd2800169, // 580: mov x9, #0xb
            0x14000106, // 584: b 99c <fail>
        ],
    },
    Segment {
        offset: 0x600,
        words: &[
            0xd2800189, // 600: mov x9, #0xc
            0x140000e6, // 604: b 99c <fail>
        ],
    },
    Segment {
        offset: 0x680,
        words: &[
            0xd28001a9, // 680: mov x9, #0xd
            0x140000c6, // 684: b 99c <fail>
        ],
    },
    Segment {
        offset: 0x700,
        words: &[
            0xd28001c9, // 700: mov x9, #0xe
            0x140000a6, // 704: b 99c <fail>
        ],
    },
    Segment {
        offset: 0x780,
        words: &[
            0xd28001e9, // 780: mov x9, #0xf
            0x14000086, // 784: b 99c <fail>
        ],
    },
    Segment {
        offset: 0x800,
        words: &[
            0xaa0003f3, // 800: entry: mov x19, x0
            0xd2a80001, // 804: mov x1, #0x40000000
            0xd518c001, // 808: msr vbar_el1, x1
            0xd5033fdf, // 80c: isb
            0x91400834, // 810: add x20, x1, #0x2, lsl #12
            0xd2800015, // 814: mov x21, #0x0
            0xd2800016, // 818: mov x22, #0x0
            0xd2a10002, // 81c: mov x2, #0x8000000
            0xf1000e7f, // 820: cmp x19, #0x3
            0x54000220, // 824: b.eq 868 <v3_init>
            0x52800023, // 828: v2_init: mov w3, #0x1
            0xb9000043, // 82c: str w3, [x2]
            0x52a10003, // 830: mov w3, #0x8000000
            0xb9010043, // 834: str w3, [x2, #256]
            0x52801403, // 838: mov w3, #0xa0
            0x39106c43, // 83c: strb w3, [x2, #1051]
            0xb9410044, // 840: ldr w4, [x2, #256]
            0xb9002284, // 844: str w4, [x20, #32]
            0x39506c44, // 848: ldrb w4, [x2, #1051]
            0xb9002684, // 84c: str w4, [x20, #36]
            0xd2a10025, // 850: mov x5, #0x8010000
            0x52801e03, // 854: mov w3, #0xf0
            0xb90004a3, // 858: str w3, [x5, #4]
            0x52800023, // 85c: mov w3, #0x1
            0xb90000a3, // 860: str w3, [x5]
            0x14000017, // 864: b 8c0 <timer_start>
            0x52800263, // 868: v3_init: mov w3, #0x13
            0xb9000043, // 86c: str w3, [x2]
            0xd2a10145, // 870: mov x5, #0x80a0000
            0xb90014bf, // 874: str wzr, [x5, #20]
            0xb94014a3, // 878: ldr w3, [x5, #20]
            0x3717ffe3, // 87c: tbnz w3, #2, 878 <v3_init+0x10>
            0x914040a6, // 880: add x6, x5, #0x10, lsl #12
            0x12800003, // 884: mov w3, #0xffffffff
            0xb90080c3, // 888: str w3, [x6, #128]
            0x52a10003, // 88c: mov w3, #0x8000000
            0xb90100c3, // 890: str w3, [x6, #256]
            0x52801403, // 894: mov w3, #0xa0
            0x39106cc3, // 898: strb w3, [x6, #1051]
            0xb94100c4, // 89c: ldr w4, [x6, #256]
            0xb9002284, // 8a0: str w4, [x20, #32]
            0x39506cc4, // 8a4: ldrb w4, [x6, #1051]
            0xb9002684, // 8a8: str w4, [x20, #36]
            0xd2801e03, // 8ac: mov x3, #0xf0
            0xd5184603, // 8b0: msr icc_pmr_el1, x3
            0xd2800023, // 8b4: mov x3, #0x1
            0xd518cce3, // 8b8: msr icc_igrpen1_el1, x3
            0xd5033fdf, // 8bc: isb
            0xd53be017, // 8c0: timer_start: mrs x23, cntfrq_el0
            0xd348fef7, // 8c4: lsr x23, x23, #8
            0xd53be058, // 8c8: mrs x24, cntvct_el0
            0xf9000698, // 8cc: str x24, [x20, #8]
            0x8b170303, // 8d0: add x3, x24, x23
            0xd51be343, // 8d4: msr cntv_cval_el0, x3
            0xd2800023, // 8d8: mov x3, #0x1
            0xd51be323, // 8dc: msr cntv_ctl_el0, x3
            0xd5033fdf, // 8e0: isb
            0xd50342ff, // 8e4: msr daifclr, #0x2
            0xd503207f, // 8e8: wait: wfi
            0xf10016bf, // 8ec: cmp x21, #0x5
            0x54ffffc3, // 8f0: b.cc 8e8 <wait>
            0xd50342df, // 8f4: msr daifset, #0x2
            0xd53be043, // 8f8: mrs x3, cntvct_el0
            0xf9000a83, // 8fc: str x3, [x20, #16]
            0xf9000295, // 900: str x21, [x20]
            0xf9000e96, // 904: str x22, [x20, #24]
            0xf9001697, // 908: str x23, [x20, #40]
            0xd53be323, // 90c: mrs x3, cntv_ctl_el0
            0xf9001a83, // 910: str x3, [x20, #48]
            0xd2a40001, // 914: mov x1, #0x20000000
            0x528c01a3, // 918: mov w3, #0x600d
            0xb9000023, // 91c: str w3, [x1]
            0x14000000, // 920: b 920 <wait+0x38>
            0xf1000e7f, // 924: irq_handler: cmp x19, #0x3
            0x54000080, // 928: b.eq 938 <irq_handler+0x14>
            0xd2a10029, // 92c: mov x9, #0x8010000
            0xb9400d2a, // 930: ldr w10, [x9, #12]
            0x14000002, // 934: b 93c <irq_handler+0x18>
            0xd538cc0a, // 938: mrs x10, icc_iar1_el1
            0x1200254b, // 93c: and w11, w10, #0x3ff
            0x71006d7f, // 940: cmp w11, #0x1b
            0x54000181, // 944: b.ne 974 <other>
            0x9101028d, // 948: add x13, x20, #0x40
            0xb83579aa, // 94c: str w10, [x13, x21, lsl #2]
            0x910006b5, // 950: add x21, x21, #0x1
            0xf10016bf, // 954: cmp x21, #0x5
            0x540000a2, // 958: b.cs 96c <irq_handler+0x48>
            0xd53be34c, // 95c: mrs x12, cntv_cval_el0
            0x8b17018c, // 960: add x12, x12, x23
            0xd51be34c, // 964: msr cntv_cval_el0, x12
            0x14000006, // 968: b 980 <eoi>
            0xd51be33f, // 96c: msr cntv_ctl_el0, xzr
            0x14000004, // 970: b 980 <eoi>
            0x910006d6, // 974: other: add x22, x22, #0x1
            0x710ff17f, // 978: cmp w11, #0x3fc
            0x540000e2, // 97c: b.cs 998 <eoi+0x18>
            0xd5033fdf, // 980: eoi: isb
            0xf1000e7f, // 984: cmp x19, #0x3
            0x54000060, // 988: b.eq 994 <eoi+0x14>
            0xb900112a, // 98c: str w10, [x9, #16]
            0xd69f03e0, // 990: eret
            0xd518cc2a, // 994: msr icc_eoir1_el1, x10
            0xd69f03e0, // 998: eret
            0xd538520a, // 99c: fail: mrs x10, esr_el1
            0xd538402b, // 9a0: mrs x11, elr_el1
            0xd2a4000c, // 9a4: mov x12, #0x20000000
            0xf900098b, // 9a8: str x11, [x12, #16]
            0xaa09814a, // 9ac: orr x10, x10, x9, lsl #32
            0xf900058a, // 9b0: str x10, [x12, #8]
            0x14000000, // 9b4: b 9b4 <fail+0x18>
        ],
    },
];

#[cfg(all(test, not(target_os = "none")))]
mod tests {
    use super::*;
    use guest_support::flat_image;
    use guest_support::host;

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
        assert_eq!(equ("DEV"), DEV_BASE);
        assert_eq!(equ("DONE_MAGIC"), DONE_MAGIC);
        assert_eq!(equ("NUM_TICKS"), NUM_TICKS);
        assert_eq!(equ("VTIMER"), u64::from(sel4vm::vtimer::VTIMER_PPI));
    }

    #[test]
    fn vector_table_routes_irq_to_handler_and_the_rest_to_fail() {
        let img = flat_image(SEGMENTS);
        host::check_vector_table(&img, Some(IRQ_SLOT), ENTRY - RAM_BASE).unwrap();
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
