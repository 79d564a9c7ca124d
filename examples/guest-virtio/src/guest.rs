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
/// Guest RAM size: 4 KiB frames only (`RAM_SIZE`).
pub const RAM_SIZE: u64 = 64 << 10;
/// Where the vCPU starts (`entry` in `guest.S`).
pub const ENTRY: u64 = RAM_BASE + 0x800;
/// Where the guest stores its results (`RESULTS`).
pub const RESULTS: u64 = RAM_BASE + 0x2000;
/// Size of the results area the VMM reads back.
pub const RESULTS_SIZE: usize = 0x100;
/// The transmitq's rings (`RINGS`): descriptor table, then the driver
/// (available) and device (used) areas.
pub const RINGS: u64 = RAM_BASE + 0x3000;
/// Descriptor table (`RINGS + DESC`).
pub const DESC: u64 = RINGS;
/// Available ring (`RINGS + AVAIL`).
pub const AVAIL: u64 = RINGS + 0x100;
/// Used ring (`RINGS + USED`).
pub const USED: u64 = RINGS + 0x200;
/// `QueueNum` the guest chooses (`QSIZE`).
pub const QUEUE_SIZE: u16 = 4;
/// The queue the guest posts on (`TXQ`): the console's transmitq.
pub const TXQ: u16 = 1;
/// The virtio-mmio console (`VIRTIO`): an IPA nothing backs, emulated by
/// the VMM.
pub const VIRTIO_BASE: u64 = 0x0b00_0000;
/// Size of the virtio device's registration.
pub const VIRTIO_SIZE: u64 = 0x1000;
/// The virtio device's interrupt: SPI 64.
pub const VIRTIO_IRQ: u32 = 32 + 64;
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
/// What the guest transmits in its last phase (`message`).
pub const MESSAGE: &[u8] = b"virtio ok\n";
/// Where `message` lies in the program.
pub const MESSAGE_ADDR: u64 = RAM_BASE + 0x9e0;
/// Phase 2's buffer: 16 bytes from 8 bytes before the end of guest RAM.
pub const PAST_RAM_ADDR: u64 = RAM_BASE + RAM_SIZE - 8;

/// `Status` bits (virtio 1.2 §2.1).
pub mod status {
    pub use sel4vm_devices::virtio::status::*;
    /// `ACKNOWLEDGE | DRIVER | FEATURES_OK`.
    pub const FEATURES_DONE: u32 = ACKNOWLEDGE | DRIVER | FEATURES_OK;
    /// `FEATURES_DONE | DRIVER_OK`: the device is live.
    pub const LIVE: u32 = FEATURES_DONE | DRIVER_OK;
}

/// Offsets into the results area (`R_*` and `P_*` in `guest.S`); u32 each.
pub mod res {
    /// `MagicValue`.
    pub const MAGIC: usize = 0x00;
    /// `Version`.
    pub const VERSION: usize = 0x04;
    /// `DeviceID`.
    pub const DEVICE_ID: usize = 0x08;
    /// `VendorID`.
    pub const VENDOR_ID: usize = 0x0c;
    /// `DeviceFeatures` with `DeviceFeaturesSel` = 1 (bits 32..64).
    pub const FEATURES_HI: usize = 0x10;
    /// `ConfigGeneration`.
    pub const CONFIG_GEN: usize = 0x14;
    /// Configuration space +4: `max_nr_ports`.
    pub const MAX_PORTS: usize = 0x18;

    /// In a phase's record: `Status` after writing `FEATURES_OK`.
    pub const P_FEATURES_OK: usize = 0x00;
    /// `QueueNumMax` of the transmitq.
    pub const P_NUM_MAX: usize = 0x04;
    /// `QueueReady` after writing 1.
    pub const P_READY: usize = 0x08;
    /// `Status` after writing `DRIVER_OK`.
    pub const P_DRIVER_OK: usize = 0x0c;
    /// `Status` after the notify.
    pub const P_STATUS: usize = 0x10;
    /// `InterruptStatus` after the notify.
    pub const P_INT: usize = 0x14;
    /// The used ring's `idx` after the notify.
    pub const P_USED_IDX: usize = 0x18;
    /// `InterruptStatus` after writing it back to `InterruptACK`.
    pub const P_INT_ACKED: usize = 0x1c;
    /// `Status` after the reset that ends the phase (phases 1 and 2).
    pub const P_RESET: usize = 0x20;
}

/// One phase of the guest: the chain it posts and what the device must
/// answer.
#[derive(Clone, Copy, Debug)]
pub struct Phase {
    /// Name in the root task's output.
    pub name: &'static str,
    /// Its record in the results area (`PHASE1`..`PHASE3`).
    pub record: usize,
    /// `Status` after the notify.
    pub status: u32,
    /// `InterruptStatus` after the notify.
    pub int_status: u32,
    /// Used ring `idx` after the notify.
    pub used_idx: u32,
    /// `Status` after the reset that ends the phase, if it ends with one.
    pub reset: Option<u32>,
}

/// The guest's phases in order: two corrupt chains (each must set
/// `DEVICE_NEEDS_RESET` and a configuration-change interrupt, and return
/// nothing through the used ring), then a valid one.
pub const PHASES: [Phase; 3] = [
    Phase {
        name: "loop",
        record: 0x40,
        status: status::LIVE | status::DEVICE_NEEDS_RESET,
        int_status: sel4vm_devices::virtio::interrupt::CONFIG_CHANGE,
        used_idx: 0,
        reset: Some(0),
    },
    Phase {
        name: "past-ram",
        record: 0x80,
        status: status::LIVE | status::DEVICE_NEEDS_RESET,
        int_status: sel4vm_devices::virtio::interrupt::CONFIG_CHANGE,
        used_idx: 0,
        reset: Some(0),
    },
    Phase {
        name: "valid",
        record: 0xc0,
        status: status::LIVE,
        int_status: sel4vm_devices::virtio::interrupt::USED_BUFFER,
        used_idx: 1,
        reset: None,
    },
];

// Every record fits the results area, which lies in RAM below the rings.
const _: () = assert!(PHASES[2].record + res::P_RESET + 4 <= RESULTS_SIZE);
const _: () = assert!(RESULTS + RESULTS_SIZE as u64 <= RINGS);
const _: () = assert!(USED + 6 + 8 * QUEUE_SIZE as u64 <= RAM_BASE + RAM_SIZE);

/// The guest program (`guest.S`): the vector table, the code and the message.
pub const SEGMENTS: &[Segment] = &[
    Segment {
        offset: 0x000,
        words: &[
            0xd2800009, // 000: vectors: mov x9, #0x0
            0x1400026d, // 004: b 9b8 <fail>
        ],
    },
    Segment {
        offset: 0x080,
        words: &[
            0xd2800029, // 080: mov x9, #0x1
            0x1400024d, // 084: b 9b8 <fail>
        ],
    },
    Segment {
        offset: 0x100,
        words: &[
            0xd2800049, // 100: mov x9, #0x2
            0x1400022d, // 104: b 9b8 <fail>
        ],
    },
    Segment {
        offset: 0x180,
        words: &[
            0xd2800069, // 180: mov x9, #0x3
            0x1400020d, // 184: b 9b8 <fail>
        ],
    },
    Segment {
        offset: 0x200,
        words: &[
            0xd2800089, // 200: mov x9, #0x4
            0x140001ed, // 204: b 9b8 <fail>
        ],
    },
    Segment {
        offset: 0x280,
        words: &[
            0xd28000a9, // 280: mov x9, #0x5
            0x140001cd, // 284: b 9b8 <fail>
        ],
    },
    Segment {
        offset: 0x300,
        words: &[
            0xd28000c9, // 300: mov x9, #0x6
            0x140001ad, // 304: b 9b8 <fail>
        ],
    },
    Segment {
        offset: 0x380,
        words: &[
            0xd28000e9, // 380: mov x9, #0x7
            0x1400018d, // 384: b 9b8 <fail>
        ],
    },
    Segment {
        offset: 0x400,
        words: &[
            0xd2800109, // 400: mov x9, #0x8
            0x1400016d, // 404: b 9b8 <fail>
        ],
    },
    Segment {
        offset: 0x480,
        words: &[
            0xd2800129, // 480: mov x9, #0x9
            0x1400014d, // 484: b 9b8 <fail>
        ],
    },
    Segment {
        offset: 0x500,
        words: &[
            0xd2800149, // 500: mov x9, #0xa
            0x1400012d, // 504: b 9b8 <fail>
        ],
    },
    Segment {
        offset: 0x580,
        words: &[
            0xd2800169, // 580: mov x9, #0xb
            0x1400010d, // 584: b 9b8 <fail>
        ],
    },
    Segment {
        offset: 0x600,
        words: &[
            0xd2800189, // 600: mov x9, #0xc
            0x140000ed, // 604: b 9b8 <fail>
        ],
    },
    Segment {
        offset: 0x680,
        words: &[
            0xd28001a9, // 680: mov x9, #0xd
            0x140000cd, // 684: b 9b8 <fail>
        ],
    },
    Segment {
        offset: 0x700,
        words: &[
            0xd28001c9, // 700: mov x9, #0xe
            0x140000ad, // 704: b 9b8 <fail>
        ],
    },
    Segment {
        offset: 0x780,
        words: &[
            0xd28001e9, // 780: mov x9, #0xf
            0x1400008d, // 784: b 9b8 <fail>
        ],
    },
    Segment {
        offset: 0x800,
        words: &[
            0xd2a80001, // 800: entry: mov x1, #0x40000000
            0xd518c001, // 804: msr vbar_el1, x1
            0xd5033fdf, // 808: isb
            0x91400834, // 80c: add x20, x1, #0x2, lsl #12
            0x91400c35, // 810: add x21, x1, #0x3, lsl #12
            0xd2a16013, // 814: mov x19, #0xb000000
            0xb9400263, // 818: ldr w3, [x19]
            0xb9000283, // 81c: str w3, [x20]
            0xb9400663, // 820: ldr w3, [x19, #4]
            0xb9000683, // 824: str w3, [x20, #4]
            0xb9400a63, // 828: ldr w3, [x19, #8]
            0xb9000a83, // 82c: str w3, [x20, #8]
            0xb9400e63, // 830: ldr w3, [x19, #12]
            0xb9000e83, // 834: str w3, [x20, #12]
            0x52800023, // 838: mov w3, #0x1
            0xb9001663, // 83c: str w3, [x19, #20]
            0xb9401263, // 840: ldr w3, [x19, #16]
            0xb9001283, // 844: str w3, [x20, #16]
            0xb940fe63, // 848: ldr w3, [x19, #252]
            0xb9001683, // 84c: str w3, [x20, #20]
            0xb9410663, // 850: ldr w3, [x19, #260]
            0xb9001a83, // 854: str w3, [x20, #24]
            0x91010296, // 858: add x22, x20, #0x40
            0x10000c37, // 85c: adr x23, 9e0 <message>
            0x52800158, // 860: mov w24, #0xa
            0x52800039, // 864: mov w25, #0x1
            0x94000012, // 868: bl 8b0 <phase>
            0x9400004f, // 86c: bl 9a8 <reset>
            0x91020296, // 870: add x22, x20, #0x80
            0xd2a80017, // 874: mov x23, #0x40000000
            0xf29fff17, // 878: movk x23, #0xfff8
            0x52800218, // 87c: mov w24, #0x10
            0x52800019, // 880: mov w25, #0x0
            0x9400000b, // 884: bl 8b0 <phase>
            0x94000048, // 888: bl 9a8 <reset>
            0x91030296, // 88c: add x22, x20, #0xc0
            0x10000a97, // 890: adr x23, 9e0 <message>
            0x52800158, // 894: mov w24, #0xa
            0x52800019, // 898: mov w25, #0x0
            0x94000005, // 89c: bl 8b0 <phase>
            0xd2a40001, // 8a0: mov x1, #0x20000000
            0x528c01a3, // 8a4: mov w3, #0x600d
            0xb9000023, // 8a8: str w3, [x1]
            0x14000000, // 8ac: b 8ac <entry+0xac>
            0xb900727f, // 8b0: phase: str wzr, [x19, #112]
            0x52800023, // 8b4: mov w3, #0x1
            0xb9007263, // 8b8: str w3, [x19, #112]
            0x52800063, // 8bc: mov w3, #0x3
            0xb9007263, // 8c0: str w3, [x19, #112]
            0x52800023, // 8c4: mov w3, #0x1
            0xb9002663, // 8c8: str w3, [x19, #36]
            0xb9002263, // 8cc: str w3, [x19, #32]
            0xb900267f, // 8d0: str wzr, [x19, #36]
            0xb900227f, // 8d4: str wzr, [x19, #32]
            0x52800163, // 8d8: mov w3, #0xb
            0xb9007263, // 8dc: str w3, [x19, #112]
            0xb9407263, // 8e0: ldr w3, [x19, #112]
            0xb90002c3, // 8e4: str w3, [x22]
            0x52800023, // 8e8: mov w3, #0x1
            0xb9003263, // 8ec: str w3, [x19, #48]
            0xb9403663, // 8f0: ldr w3, [x19, #52]
            0xb90006c3, // 8f4: str w3, [x22, #4]
            0x52800083, // 8f8: mov w3, #0x4
            0xb9003a63, // 8fc: str w3, [x19, #56]
            0xb90102bf, // 900: str wzr, [x21, #256]
            0xb90202bf, // 904: str wzr, [x21, #512]
            0x910002a3, // 908: add x3, x21, #0x0
            0xb9008263, // 90c: str w3, [x19, #128]
            0xd360fc63, // 910: lsr x3, x3, #32
            0xb9008663, // 914: str w3, [x19, #132]
            0x910402a3, // 918: add x3, x21, #0x100
            0xb9009263, // 91c: str w3, [x19, #144]
            0xd360fc63, // 920: lsr x3, x3, #32
            0xb9009663, // 924: str w3, [x19, #148]
            0x910802a3, // 928: add x3, x21, #0x200
            0xb900a263, // 92c: str w3, [x19, #160]
            0xd360fc63, // 930: lsr x3, x3, #32
            0xb900a663, // 934: str w3, [x19, #164]
            0x52800023, // 938: mov w3, #0x1
            0xb9004663, // 93c: str w3, [x19, #68]
            0xb9404663, // 940: ldr w3, [x19, #68]
            0xb9000ac3, // 944: str w3, [x22, #8]
            0x528001e3, // 948: mov w3, #0xf
            0xb9007263, // 94c: str w3, [x19, #112]
            0xb9407263, // 950: ldr w3, [x19, #112]
            0xb9000ec3, // 954: str w3, [x22, #12]
            0xf90002b7, // 958: str x23, [x21]
            0xb9000ab8, // 95c: str w24, [x21, #8]
            0xb9000eb9, // 960: str w25, [x21, #12]
            0x79020abf, // 964: strh wzr, [x21, #260]
            0xd5033fbf, // 968: dmb sy
            0x52800023, // 96c: mov w3, #0x1
            0x790206a3, // 970: strh w3, [x21, #258]
            0xd5033f9f, // 974: dsb sy
            0x52800023, // 978: mov w3, #0x1
            0xb9005263, // 97c: str w3, [x19, #80]
            0xb9407263, // 980: ldr w3, [x19, #112]
            0xb90012c3, // 984: str w3, [x22, #16]
            0xb9406264, // 988: ldr w4, [x19, #96]
            0xb90016c4, // 98c: str w4, [x22, #20]
            0x794406a3, // 990: ldrh w3, [x21, #514]
            0xb9001ac3, // 994: str w3, [x22, #24]
            0xb9006664, // 998: str w4, [x19, #100]
            0xb9406263, // 99c: ldr w3, [x19, #96]
            0xb9001ec3, // 9a0: str w3, [x22, #28]
            0xd65f03c0, // 9a4: ret
            0xb900727f, // 9a8: reset: str wzr, [x19, #112]
            0xb9407263, // 9ac: ldr w3, [x19, #112]
            0xb90022c3, // 9b0: str w3, [x22, #32]
            0xd65f03c0, // 9b4: ret
            0xd538520a, // 9b8: fail: mrs x10, esr_el1
            0xd538402b, // 9bc: mrs x11, elr_el1
            0xd2a4000c, // 9c0: mov x12, #0x20000000
            0xf900098b, // 9c4: str x11, [x12, #16]
            0xaa09814a, // 9c8: orr x10, x10, x9, lsl #32
            0xf900058a, // 9cc: str x10, [x12, #8]
            0x14000000, // 9d0: b 9d0 <fail+0x18>
            0xd503201f, // 9d4: nop
            0xd503201f, // 9d8: nop
            0xd503201f, // 9dc: nop
            0x74726976, // 9e0: message: .ascii "virt"
            0x6f206f69, // 9e4: .ascii "io o"
            0x00000a6b, // 9e8: .ascii "k\n\0\0"
        ],
    },
];

#[cfg(all(test, not(target_os = "none")))]
mod tests {
    use super::*;
    use guest_support::flat_image;
    use guest_support::host;
    use sel4vm::arch::insn::{decode_load_store, MemKind};
    use sel4vm_devices::virtio::mmio::{regs, MAGIC_VALUE, VENDOR_ID, VERSION};

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
        assert_eq!(equ("RAM_SIZE"), RAM_SIZE);
        assert_eq!(RAM_BASE + equ("RESULTS"), RESULTS);
        assert_eq!(RAM_BASE + equ("RINGS"), RINGS);
        assert_eq!(RINGS + equ("DESC"), DESC);
        assert_eq!(RINGS + equ("AVAIL"), AVAIL);
        assert_eq!(RINGS + equ("USED"), USED);
        assert_eq!(equ("QSIZE"), u64::from(QUEUE_SIZE));
        assert_eq!(equ("TXQ"), u64::from(TXQ));
        assert_eq!(TXQ, sel4vm_devices::console::TRANSMITQ);
        assert_eq!(equ("VIRTIO"), VIRTIO_BASE);
        assert_eq!(equ("DEV"), DEV_BASE);
        assert_eq!(equ("DONE_MAGIC"), DONE_MAGIC);
        assert_eq!(equ("MSG_LEN"), MESSAGE.len() as u64);
        assert_eq!(
            equ("F_NEXT"),
            u64::from(sel4vm_devices::virtio::queue::VIRTQ_DESC_F_NEXT)
        );
        for (name, off) in [
            ("R_MAGIC", res::MAGIC),
            ("R_VERSION", res::VERSION),
            ("R_DEVICE_ID", res::DEVICE_ID),
            ("R_VENDOR_ID", res::VENDOR_ID),
            ("R_FEATURES_HI", res::FEATURES_HI),
            ("R_CONFIG_GEN", res::CONFIG_GEN),
            ("R_MAX_PORTS", res::MAX_PORTS),
            ("P_FEATURES_OK", res::P_FEATURES_OK),
            ("P_NUM_MAX", res::P_NUM_MAX),
            ("P_READY", res::P_READY),
            ("P_DRIVER_OK", res::P_DRIVER_OK),
            ("P_STATUS", res::P_STATUS),
            ("P_INT", res::P_INT),
            ("P_USED_IDX", res::P_USED_IDX),
            ("P_INT_ACKED", res::P_INT_ACKED),
            ("P_RESET", res::P_RESET),
            ("PHASE1", PHASES[0].record),
            ("PHASE2", PHASES[1].record),
            ("PHASE3", PHASES[2].record),
        ] {
            assert_eq!(equ(name), off as u64, "{name}");
        }
        for (name, bit) in [
            ("ACKNOWLEDGE", status::ACKNOWLEDGE),
            ("DRIVER", status::DRIVER),
            ("DRIVER_OK", status::DRIVER_OK),
            ("FEATURES_OK", status::FEATURES_OK),
        ] {
            assert_eq!(equ(name), u64::from(bit), "{name}");
        }
    }

    /// The register offsets in `guest.S` are the transport's.
    #[test]
    fn register_offsets_match_the_transport() {
        for (name, off) in [
            ("MAGIC_VALUE", regs::MAGIC_VALUE),
            ("VERSION", regs::VERSION),
            ("DEVICE_ID", regs::DEVICE_ID),
            ("VENDOR_ID", regs::VENDOR_ID),
            ("DEVICE_FEATURES", regs::DEVICE_FEATURES),
            ("DEVICE_FEATURES_SEL", regs::DEVICE_FEATURES_SEL),
            ("DRIVER_FEATURES", regs::DRIVER_FEATURES),
            ("DRIVER_FEATURES_SEL", regs::DRIVER_FEATURES_SEL),
            ("QUEUE_SEL", regs::QUEUE_SEL),
            ("QUEUE_NUM_MAX", regs::QUEUE_NUM_MAX),
            ("QUEUE_NUM", regs::QUEUE_NUM),
            ("QUEUE_READY", regs::QUEUE_READY),
            ("QUEUE_NOTIFY", regs::QUEUE_NOTIFY),
            ("INTERRUPT_STATUS", regs::INTERRUPT_STATUS),
            ("INTERRUPT_ACK", regs::INTERRUPT_ACK),
            ("STATUS", regs::STATUS),
            ("QUEUE_DESC_LOW", regs::QUEUE_DESC_LOW),
            ("QUEUE_DESC_HIGH", regs::QUEUE_DESC_HIGH),
            ("QUEUE_DRIVER_LOW", regs::QUEUE_DRIVER_LOW),
            ("QUEUE_DRIVER_HIGH", regs::QUEUE_DRIVER_HIGH),
            ("QUEUE_DEVICE_LOW", regs::QUEUE_DEVICE_LOW),
            ("QUEUE_DEVICE_HIGH", regs::QUEUE_DEVICE_HIGH),
            ("CONFIG_GENERATION", regs::CONFIG_GENERATION),
            ("CONFIG", regs::CONFIG),
        ] {
            assert_eq!(equ(name), off, "{name}");
        }
        // What the root task expects the guest to read back.
        assert_eq!(MAGIC_VALUE, u32::from_le_bytes(*b"virt"));
        assert_eq!(VERSION, 2);
        assert_ne!(VENDOR_ID, 0);
    }

    #[test]
    fn message_is_in_the_image() {
        let img = flat_image(SEGMENTS);
        let bytes: Vec<u8> = img.iter().flat_map(|w| w.to_le_bytes()).collect();
        let at = (MESSAGE_ADDR - RAM_BASE) as usize;
        assert_eq!(&bytes[at..at + MESSAGE.len()], MESSAGE);
        assert_eq!(at % 16, 0);
    }

    #[test]
    fn vector_table_routes_every_slot_to_fail() {
        let img = flat_image(SEGMENTS);
        host::check_vector_table(&img, None, ENTRY - RAM_BASE).unwrap();
    }

    #[test]
    fn program_fits_below_results() {
        host::check_layout(SEGMENTS, RESULTS - RAM_BASE).unwrap();
    }

    /// Every access with base x19 (the virtio device) is a 32-bit load or
    /// store, as the transport's control registers require; x1/x12 carry
    /// the test device's DONE and fail stores.
    #[test]
    fn device_accesses_are_32_bit() {
        let img = flat_image(SEGMENTS);
        let (mut loads, mut stores) = (0, 0);
        for &w in &img {
            let Ok(a) = decode_load_store(w) else {
                continue;
            };
            if a.base() != Some(19) {
                continue;
            }
            assert_eq!(a.total_bytes(), 4, "{w:#010x}");
            match a.kind {
                MemKind::Load => loads += 1,
                MemKind::Store => stores += 1,
            }
        }
        // Identification: 7 loads and the features select; a phase: 7
        // loads and 20 stores; a reset: one of each.
        assert_eq!((loads, stores), (7 + 7 + 1, 1 + 20 + 1));
        assert_eq!(host::store_widths(&img, &[1, 12]), [4, 8, 8]);
    }

    #[test]
    fn phases_expect_needs_reset_only_for_the_corrupt_chains() {
        let nr = status::DEVICE_NEEDS_RESET;
        assert_eq!(PHASES.map(|p| p.status & nr != 0), [true, true, false]);
        assert_eq!(PHASES.map(|p| p.reset.is_some()), [true, true, false]);
        assert_eq!(status::LIVE, 0xf);
        assert_eq!(nr, 0x40);
    }
}
