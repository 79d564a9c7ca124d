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
pub const RESULTS_SIZE: usize = 0x80;
/// The receive queue's rings (`RX_RINGS`).
pub const RX_RINGS: u64 = RAM_BASE + 0x3000;
/// The transmit queue's rings (`TX_RINGS`).
pub const TX_RINGS: u64 = RAM_BASE + 0x4000;
/// Offset of the descriptor table in a queue's rings (`DESC`).
pub const DESC: u64 = 0x000;
/// Offset of the available ring (`AVAIL`).
pub const AVAIL: u64 = 0x100;
/// Offset of the used ring (`USED`).
pub const USED: u64 = 0x200;
/// `QueueNum` the guest chooses for both queues (`QSIZE`).
pub const QUEUE_SIZE: u16 = 8;
/// The receive queue's index (`RXQ`).
pub const RXQ: u16 = 0;
/// The transmit queue's index (`TXQ`).
pub const TXQ: u16 = 1;
/// The valid frame with its header (`TX_BUF`); the loop, runt and
/// writable-chain descriptors point here too.
pub const TX_BUF: u64 = RAM_BASE + 0x5000;
/// The device-writable buffer of the third bad chain (`TX_BUF + SINK`).
pub const SINK: u64 = TX_BUF + 0x100;
/// The oversized frame's buffer (`TX_BUF + BIG`).
pub const BIG: u64 = TX_BUF + 0x800;
/// The receive buffers (`RX_BUF`), [`RX_STRIDE`] apart.
pub const RX_BUF: u64 = RAM_BASE + 0x6000;
/// Distance between the receive buffers (`RX_STRIDE`).
pub const RX_STRIDE: u64 = 0x800;
/// Receive buffers the guest posts.
pub const RX_BUFFERS: u64 = 2;
/// Bytes of `struct virtio_net_hdr` (`NET_HDR`).
pub const NET_HDR: usize = 12;
/// The valid frame's length without its header (`FRAME_LEN`).
pub const FRAME_LEN: usize = 60;
/// Header and frame (`FRAME_TOTAL`): the valid chain's length.
pub const FRAME_TOTAL: usize = NET_HDR + FRAME_LEN;
/// Each receive buffer: header and the largest frame (`RX_BUF_LEN`).
pub const RX_BUF_LEN: usize = NET_HDR + 1518;
/// The oversized chain: header and a frame one byte above the largest
/// (`BIG_LEN`).
pub const BIG_LEN: usize = NET_HDR + 1519;
/// The runt chain: header and 10 bytes, less than an Ethernet header
/// (`RUNT_LEN`).
pub const RUNT_LEN: usize = NET_HDR + 10;
/// The writable buffer's length (`SINK_LEN`).
pub const SINK_LEN: usize = 16;
/// Byte `i` of the valid frame is `PATTERN + i` (`PATTERN`).
pub const PATTERN: u8 = 0x10;
/// The past-RAM chain: [`FRAME_TOTAL`] bytes from 8 bytes before the end of
/// guest RAM.
pub const PAST_RAM_ADDR: u64 = RAM_BASE + RAM_SIZE - 8;
/// The virtio-mmio network device (`VIRTIO`): an IPA nothing backs,
/// emulated by the VMM.
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
/// The MAC address the loopback link offers.
pub const MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x4e, 0x45, 0x54];

/// The valid frame as the guest builds it (without its header).
pub fn frame() -> [u8; FRAME_LEN] {
    core::array::from_fn(|i| PATTERN + i as u8)
}

/// The transmit chains in the order the guest posts them: name and head
/// descriptor. The first [`BAD_CHAINS`] are dropped, the last is sent.
pub const TX_CHAINS: [(&str, u16); 6] = [
    ("loop", 0),
    ("past-ram", 1),
    ("writable", 2),
    ("oversize", 4),
    ("runt", 5),
    ("valid", 6),
];
/// Bad chains in the guest's first batch.
pub const BAD_CHAINS: u32 = 5;

/// `Status` bits (virtio 1.2 §2.1).
pub mod status {
    pub use sel4vm_devices::virtio::status::*;
    /// `ACKNOWLEDGE | DRIVER | FEATURES_OK`.
    pub const FEATURES_DONE: u32 = ACKNOWLEDGE | DRIVER | FEATURES_OK;
    /// `FEATURES_DONE | DRIVER_OK`: the device is live.
    pub const LIVE: u32 = FEATURES_DONE | DRIVER_OK;
}

/// Offsets into the results area (`R_*` in `guest.S`); u32 each.
pub mod res {
    /// `MagicValue`.
    pub const MAGIC: usize = 0x00;
    /// `Version`.
    pub const VERSION: usize = 0x04;
    /// `DeviceID`.
    pub const DEVICE_ID: usize = 0x08;
    /// `VendorID`.
    pub const VENDOR_ID: usize = 0x0c;
    /// `DeviceFeatures` bits 0..32.
    pub const FEATURES_LO: usize = 0x10;
    /// `DeviceFeatures` bits 32..64.
    pub const FEATURES_HI: usize = 0x14;
    /// `Status` after writing `FEATURES_OK`.
    pub const FEATURES_OK: usize = 0x18;
    /// The receive queue's `QueueNumMax`.
    pub const RX_NUM_MAX: usize = 0x1c;
    /// Its `QueueReady` after writing 1.
    pub const RX_READY: usize = 0x20;
    /// The transmit queue's `QueueNumMax`.
    pub const TX_NUM_MAX: usize = 0x24;
    /// Its `QueueReady` after writing 1.
    pub const TX_READY: usize = 0x28;
    /// `Status` after writing `DRIVER_OK`.
    pub const DRIVER_OK: usize = 0x2c;
    /// Configuration space +0: `mac[0..4]`.
    pub const CONFIG_LO: usize = 0x30;
    /// Configuration space +4: `mac[4..6]`, then `status` (le16).
    pub const CONFIG_HI: usize = 0x34;
    /// `Status` after the bad batch's notify.
    pub const BAD_STATUS: usize = 0x38;
    /// `InterruptStatus` after it.
    pub const BAD_INT: usize = 0x3c;
    /// The transmit used ring's `idx` after it.
    pub const BAD_USED: usize = 0x40;
    /// `Status` after the valid frame's notify.
    pub const STATUS: usize = 0x44;
    /// `InterruptStatus` after it.
    pub const INT: usize = 0x48;
    /// The transmit used ring's `idx` after it.
    pub const TX_USED: usize = 0x4c;
    /// The receive used ring's `idx` after it.
    pub const RX_USED: usize = 0x50;
    /// The receive used ring's first element: `id`.
    pub const RX_ID: usize = 0x54;
    /// And `len`.
    pub const RX_LEN: usize = 0x58;
    /// `num_buffers` of the header in the first receive buffer.
    pub const RX_NUM_BUFS: usize = 0x5c;
    /// Bytes of the received frame that differ from the sent one.
    pub const MISMATCH: usize = 0x60;
    /// `InterruptStatus` after the last acknowledgement.
    pub const INT_ACKED: usize = 0x64;
}

// The results fit their area, the rings and buffers lie in RAM without
// overlapping, and the past-RAM chain really crosses the end of RAM.
const _: () = assert!(res::INT_ACKED + 4 <= RESULTS_SIZE);
const _: () = assert!(RESULTS + RESULTS_SIZE as u64 <= RX_RINGS);
const _: () = assert!(RX_RINGS + USED + 4 + 8 * QUEUE_SIZE as u64 <= TX_RINGS);
const _: () = assert!(TX_RINGS + USED + 4 + 8 * QUEUE_SIZE as u64 <= TX_BUF);
const _: () = assert!(TX_BUF + (FRAME_TOTAL as u64) <= SINK);
const _: () = assert!(SINK + SINK_LEN as u64 <= BIG);
const _: () = assert!(BIG + BIG_LEN as u64 <= RX_BUF);
const _: () = assert!(RX_BUF_LEN as u64 <= RX_STRIDE);
const _: () = assert!(RX_BUF + RX_BUFFERS * RX_STRIDE <= RAM_BASE + RAM_SIZE);
const _: () = assert!(PAST_RAM_ADDR + FRAME_TOTAL as u64 > RAM_BASE + RAM_SIZE);
// The device accepts the guest's queue size; the runt is shorter than an
// Ethernet header.
const _: () = assert!(QUEUE_SIZE <= sel4vm_devices::net::QUEUE_SIZE);
const _: () = assert!(RUNT_LEN < NET_HDR + sel4vm_devices::net::MIN_FRAME);

/// The guest program (`guest.S`): the vector table and the code.
pub const SEGMENTS: &[Segment] = &[
    Segment {
        offset: 0x000,
        words: &[
            0xd2800009, // 000: vectors: mov x9, #0x0
            0x140002eb, // 004: b bb0 <fail>
        ],
    },
    Segment {
        offset: 0x080,
        words: &[
            0xd2800029, // 080: mov x9, #0x1
            0x140002cb, // 084: b bb0 <fail>
        ],
    },
    Segment {
        offset: 0x100,
        words: &[
            0xd2800049, // 100: mov x9, #0x2
            0x140002ab, // 104: b bb0 <fail>
        ],
    },
    Segment {
        offset: 0x180,
        words: &[
            0xd2800069, // 180: mov x9, #0x3
            0x1400028b, // 184: b bb0 <fail>
        ],
    },
    Segment {
        offset: 0x200,
        words: &[
            0xd2800089, // 200: mov x9, #0x4
            0x1400026b, // 204: b bb0 <fail>
        ],
    },
    Segment {
        offset: 0x280,
        words: &[
            0xd28000a9, // 280: mov x9, #0x5
            0x1400024b, // 284: b bb0 <fail>
        ],
    },
    Segment {
        offset: 0x300,
        words: &[
            0xd28000c9, // 300: mov x9, #0x6
            0x1400022b, // 304: b bb0 <fail>
        ],
    },
    Segment {
        offset: 0x380,
        words: &[
            0xd28000e9, // 380: mov x9, #0x7
            0x1400020b, // 384: b bb0 <fail>
        ],
    },
    Segment {
        offset: 0x400,
        words: &[
            0xd2800109, // 400: mov x9, #0x8
            0x140001eb, // 404: b bb0 <fail>
        ],
    },
    Segment {
        offset: 0x480,
        words: &[
            0xd2800129, // 480: mov x9, #0x9
            0x140001cb, // 484: b bb0 <fail>
        ],
    },
    Segment {
        offset: 0x500,
        words: &[
            0xd2800149, // 500: mov x9, #0xa
            0x140001ab, // 504: b bb0 <fail>
        ],
    },
    Segment {
        offset: 0x580,
        words: &[
            0xd2800169, // 580: mov x9, #0xb
            0x1400018b, // 584: b bb0 <fail>
        ],
    },
    Segment {
        offset: 0x600,
        words: &[
            0xd2800189, // 600: mov x9, #0xc
            0x1400016b, // 604: b bb0 <fail>
        ],
    },
    Segment {
        offset: 0x680,
        words: &[
            0xd28001a9, // 680: mov x9, #0xd
            0x1400014b, // 684: b bb0 <fail>
        ],
    },
    Segment {
        offset: 0x700,
        words: &[
            0xd28001c9, // 700: mov x9, #0xe
            0x1400012b, // 704: b bb0 <fail>
        ],
    },
    Segment {
        offset: 0x780,
        words: &[
            0xd28001e9, // 780: mov x9, #0xf
            0x1400010b, // 784: b bb0 <fail>
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
            0x91401036, // 814: add x22, x1, #0x4, lsl #12
            0x91401437, // 818: add x23, x1, #0x5, lsl #12
            0x91401838, // 81c: add x24, x1, #0x6, lsl #12
            0xd2a16013, // 820: mov x19, #0xb000000
            0xb9400263, // 824: ldr w3, [x19]
            0xb9000283, // 828: str w3, [x20]
            0xb9400663, // 82c: ldr w3, [x19, #4]
            0xb9000683, // 830: str w3, [x20, #4]
            0xb9400a63, // 834: ldr w3, [x19, #8]
            0xb9000a83, // 838: str w3, [x20, #8]
            0xb9400e63, // 83c: ldr w3, [x19, #12]
            0xb9000e83, // 840: str w3, [x20, #12]
            0xb900167f, // 844: str wzr, [x19, #20]
            0xb9401263, // 848: ldr w3, [x19, #16]
            0xb9001283, // 84c: str w3, [x20, #16]
            0x52800023, // 850: mov w3, #0x1
            0xb9001663, // 854: str w3, [x19, #20]
            0xb9401263, // 858: ldr w3, [x19, #16]
            0xb9001683, // 85c: str w3, [x20, #20]
            0xb900727f, // 860: str wzr, [x19, #112]
            0x52800023, // 864: mov w3, #0x1
            0xb9007263, // 868: str w3, [x19, #112]
            0x52800063, // 86c: mov w3, #0x3
            0xb9007263, // 870: str w3, [x19, #112]
            0x52800023, // 874: mov w3, #0x1
            0xb9002663, // 878: str w3, [x19, #36]
            0xb9002263, // 87c: str w3, [x19, #32]
            0xb900267f, // 880: str wzr, [x19, #36]
            0x52800403, // 884: mov w3, #0x20
            0x72a00023, // 888: movk w3, #0x1, lsl #16
            0xb9002263, // 88c: str w3, [x19, #32]
            0x52800163, // 890: mov w3, #0xb
            0xb9007263, // 894: str w3, [x19, #112]
            0xb9407263, // 898: ldr w3, [x19, #112]
            0xb9001a83, // 89c: str w3, [x20, #24]
            0x52800000, // 8a0: mov w0, #0x0
            0xaa1503e5, // 8a4: mov x5, x21
            0x91007282, // 8a8: add x2, x20, #0x1c
            0x940000a9, // 8ac: bl b50 <queue>
            0x52800020, // 8b0: mov w0, #0x1
            0xaa1603e5, // 8b4: mov x5, x22
            0x91009282, // 8b8: add x2, x20, #0x24
            0x940000a5, // 8bc: bl b50 <queue>
            0x528001e3, // 8c0: mov w3, #0xf
            0xb9007263, // 8c4: str w3, [x19, #112]
            0xb9407263, // 8c8: ldr w3, [x19, #112]
            0xb9002e83, // 8cc: str w3, [x20, #44]
            0xb9410263, // 8d0: ldr w3, [x19, #256]
            0xb9003283, // 8d4: str w3, [x20, #48]
            0xb9410663, // 8d8: ldr w3, [x19, #260]
            0xb9003683, // 8dc: str w3, [x20, #52]
            0xaa1803e4, // 8e0: mov x4, x24
            0xf90002a4, // 8e4: str x4, [x21]
            0x5280bf43, // 8e8: mov w3, #0x5fa
            0xb9000aa3, // 8ec: str w3, [x21, #8]
            0x52800043, // 8f0: mov w3, #0x2
            0x79001aa3, // 8f4: strh w3, [x21, #12]
            0x52800003, // 8f8: mov w3, #0x0
            0x79001ea3, // 8fc: strh w3, [x21, #14]
            0x91200304, // 900: add x4, x24, #0x800
            0xf9000aa4, // 904: str x4, [x21, #16]
            0x5280bf43, // 908: mov w3, #0x5fa
            0xb9001aa3, // 90c: str w3, [x21, #24]
            0x52800043, // 910: mov w3, #0x2
            0x79003aa3, // 914: strh w3, [x21, #28]
            0x52800003, // 918: mov w3, #0x0
            0x79003ea3, // 91c: strh w3, [x21, #30]
            0x52800003, // 920: mov w3, #0x0
            0x79020aa3, // 924: strh w3, [x21, #260]
            0x52800023, // 928: mov w3, #0x1
            0x79020ea3, // 92c: strh w3, [x21, #262]
            0xd5033fbf, // 930: dmb sy
            0x52800043, // 934: mov w3, #0x2
            0x790206a3, // 938: strh w3, [x21, #258]
            0xd5033f9f, // 93c: dsb sy
            0x52800003, // 940: mov w3, #0x0
            0xb9005263, // 944: str w3, [x19, #80]
            0xf90002ff, // 948: str xzr, [x23]
            0xb9000aff, // 94c: str wzr, [x23, #8]
            0x910032e5, // 950: add x5, x23, #0xc
            0x52800006, // 954: mov w6, #0x0
            0x110040c7, // 958: add w7, w6, #0x10
            0x382668a7, // 95c: strb w7, [x5, x6]
            0x110004c6, // 960: add w6, w6, #0x1
            0x7100f0df, // 964: cmp w6, #0x3c
            0x54ffff81, // 968: b.ne 958 <entry+0x158>
            0xaa1703e4, // 96c: mov x4, x23
            0xf90002c4, // 970: str x4, [x22]
            0x52800903, // 974: mov w3, #0x48
            0xb9000ac3, // 978: str w3, [x22, #8]
            0x52800023, // 97c: mov w3, #0x1
            0x79001ac3, // 980: strh w3, [x22, #12]
            0x52800003, // 984: mov w3, #0x0
            0x79001ec3, // 988: strh w3, [x22, #14]
            0xd2a80004, // 98c: mov x4, #0x40000000
            0xf29fff04, // 990: movk x4, #0xfff8
            0xf9000ac4, // 994: str x4, [x22, #16]
            0x52800903, // 998: mov w3, #0x48
            0xb9001ac3, // 99c: str w3, [x22, #24]
            0x52800003, // 9a0: mov w3, #0x0
            0x79003ac3, // 9a4: strh w3, [x22, #28]
            0x52800003, // 9a8: mov w3, #0x0
            0x79003ec3, // 9ac: strh w3, [x22, #30]
            0xaa1703e4, // 9b0: mov x4, x23
            0xf90012c4, // 9b4: str x4, [x22, #32]
            0x52800903, // 9b8: mov w3, #0x48
            0xb9002ac3, // 9bc: str w3, [x22, #40]
            0x52800023, // 9c0: mov w3, #0x1
            0x79005ac3, // 9c4: strh w3, [x22, #44]
            0x52800063, // 9c8: mov w3, #0x3
            0x79005ec3, // 9cc: strh w3, [x22, #46]
            0x910402e4, // 9d0: add x4, x23, #0x100
            0xf9001ac4, // 9d4: str x4, [x22, #48]
            0x52800203, // 9d8: mov w3, #0x10
            0xb9003ac3, // 9dc: str w3, [x22, #56]
            0x52800043, // 9e0: mov w3, #0x2
            0x79007ac3, // 9e4: strh w3, [x22, #60]
            0x52800003, // 9e8: mov w3, #0x0
            0x79007ec3, // 9ec: strh w3, [x22, #62]
            0x912002e4, // 9f0: add x4, x23, #0x800
            0xf90022c4, // 9f4: str x4, [x22, #64]
            0x5280bf63, // 9f8: mov w3, #0x5fb
            0xb9004ac3, // 9fc: str w3, [x22, #72]
            0x52800003, // a00: mov w3, #0x0
            0x79009ac3, // a04: strh w3, [x22, #76]
            0x52800003, // a08: mov w3, #0x0
            0x79009ec3, // a0c: strh w3, [x22, #78]
            0xaa1703e4, // a10: mov x4, x23
            0xf9002ac4, // a14: str x4, [x22, #80]
            0x528002c3, // a18: mov w3, #0x16
            0xb9005ac3, // a1c: str w3, [x22, #88]
            0x52800003, // a20: mov w3, #0x0
            0x7900bac3, // a24: strh w3, [x22, #92]
            0x52800003, // a28: mov w3, #0x0
            0x7900bec3, // a2c: strh w3, [x22, #94]
            0x52800003, // a30: mov w3, #0x0
            0x79020ac3, // a34: strh w3, [x22, #260]
            0x52800023, // a38: mov w3, #0x1
            0x79020ec3, // a3c: strh w3, [x22, #262]
            0x52800043, // a40: mov w3, #0x2
            0x790212c3, // a44: strh w3, [x22, #264]
            0x52800083, // a48: mov w3, #0x4
            0x790216c3, // a4c: strh w3, [x22, #266]
            0x528000a3, // a50: mov w3, #0x5
            0x79021ac3, // a54: strh w3, [x22, #268]
            0xd5033fbf, // a58: dmb sy
            0x528000a3, // a5c: mov w3, #0x5
            0x790206c3, // a60: strh w3, [x22, #258]
            0xd5033f9f, // a64: dsb sy
            0x52800023, // a68: mov w3, #0x1
            0xb9005263, // a6c: str w3, [x19, #80]
            0xb9407263, // a70: ldr w3, [x19, #112]
            0xb9003a83, // a74: str w3, [x20, #56]
            0xb9406264, // a78: ldr w4, [x19, #96]
            0xb9003e84, // a7c: str w4, [x20, #60]
            0x794406c3, // a80: ldrh w3, [x22, #514]
            0xb9004283, // a84: str w3, [x20, #64]
            0xb9006664, // a88: str w4, [x19, #100]
            0xaa1703e4, // a8c: mov x4, x23
            0xf90032c4, // a90: str x4, [x22, #96]
            0x52800903, // a94: mov w3, #0x48
            0xb9006ac3, // a98: str w3, [x22, #104]
            0x52800003, // a9c: mov w3, #0x0
            0x7900dac3, // aa0: strh w3, [x22, #108]
            0x52800003, // aa4: mov w3, #0x0
            0x7900dec3, // aa8: strh w3, [x22, #110]
            0x528000c3, // aac: mov w3, #0x6
            0x79021ec3, // ab0: strh w3, [x22, #270]
            0xd5033fbf, // ab4: dmb sy
            0x528000c3, // ab8: mov w3, #0x6
            0x790206c3, // abc: strh w3, [x22, #258]
            0xd5033f9f, // ac0: dsb sy
            0x52800023, // ac4: mov w3, #0x1
            0xb9005263, // ac8: str w3, [x19, #80]
            0xb9407263, // acc: ldr w3, [x19, #112]
            0xb9004683, // ad0: str w3, [x20, #68]
            0xb9406264, // ad4: ldr w4, [x19, #96]
            0xb9004a84, // ad8: str w4, [x20, #72]
            0x794406c3, // adc: ldrh w3, [x22, #514]
            0xb9004e83, // ae0: str w3, [x20, #76]
            0x794406a3, // ae4: ldrh w3, [x21, #514]
            0xb9005283, // ae8: str w3, [x20, #80]
            0xb94206a3, // aec: ldr w3, [x21, #516]
            0xb9005683, // af0: str w3, [x20, #84]
            0xb9420aa3, // af4: ldr w3, [x21, #520]
            0xb9005a83, // af8: str w3, [x20, #88]
            0x79401703, // afc: ldrh w3, [x24, #10]
            0xb9005e83, // b00: str w3, [x20, #92]
            0x91003305, // b04: add x5, x24, #0xc
            0x910032e6, // b08: add x6, x23, #0xc
            0xd2800007, // b0c: mov x7, #0x0
            0x52800008, // b10: mov w8, #0x0
            0x386768a9, // b14: ldrb w9, [x5, x7]
            0x386768ca, // b18: ldrb w10, [x6, x7]
            0x6b0a013f, // b1c: cmp w9, w10
            0x1a880508, // b20: cinc w8, w8, ne
            0x910004e7, // b24: add x7, x7, #0x1
            0xf100f0ff, // b28: cmp x7, #0x3c
            0x54ffff41, // b2c: b.ne b14 <entry+0x314>
            0xb9006288, // b30: str w8, [x20, #96]
            0xb9006664, // b34: str w4, [x19, #100]
            0xb9406263, // b38: ldr w3, [x19, #96]
            0xb9006683, // b3c: str w3, [x20, #100]
            0xd2a40001, // b40: mov x1, #0x20000000
            0x528c01a3, // b44: mov w3, #0x600d
            0xb9000023, // b48: str w3, [x1]
            0x14000000, // b4c: b b4c <entry+0x34c>
            0xb9003260, // b50: queue: str w0, [x19, #48]
            0xb9403663, // b54: ldr w3, [x19, #52]
            0xb9000043, // b58: str w3, [x2]
            0x52800103, // b5c: mov w3, #0x8
            0xb9003a63, // b60: str w3, [x19, #56]
            0xb90100bf, // b64: str wzr, [x5, #256]
            0xb90200bf, // b68: str wzr, [x5, #512]
            0x910000a3, // b6c: add x3, x5, #0x0
            0xb9008263, // b70: str w3, [x19, #128]
            0xd360fc63, // b74: lsr x3, x3, #32
            0xb9008663, // b78: str w3, [x19, #132]
            0x910400a3, // b7c: add x3, x5, #0x100
            0xb9009263, // b80: str w3, [x19, #144]
            0xd360fc63, // b84: lsr x3, x3, #32
            0xb9009663, // b88: str w3, [x19, #148]
            0x910800a3, // b8c: add x3, x5, #0x200
            0xb900a263, // b90: str w3, [x19, #160]
            0xd360fc63, // b94: lsr x3, x3, #32
            0xb900a663, // b98: str w3, [x19, #164]
            0x52800023, // b9c: mov w3, #0x1
            0xb9004663, // ba0: str w3, [x19, #68]
            0xb9404663, // ba4: ldr w3, [x19, #68]
            0xb9000443, // ba8: str w3, [x2, #4]
            0xd65f03c0, // bac: ret
            0xd538520a, // bb0: fail: mrs x10, esr_el1
            0xd538402b, // bb4: mrs x11, elr_el1
            0xd2a4000c, // bb8: mov x12, #0x20000000
            0xf900098b, // bbc: str x11, [x12, #16]
            0xaa09814a, // bc0: orr x10, x10, x9, lsl #32
            0xf900058a, // bc4: str x10, [x12, #8]
            0x14000000, // bc8: b bc8 <fail+0x18>
        ],
    },
];

#[cfg(all(test, not(target_os = "none")))]
mod tests {
    use super::*;
    use guest_support::flat_image;
    use guest_support::host;
    use sel4vm::arch::insn::{decode_load_store, MemKind};
    use sel4vm_devices::net::{self, MAX_FRAME, MIN_FRAME, NET_HDR_LEN};
    use sel4vm_devices::virtio::mmio::regs;
    use sel4vm_devices::virtio::queue::{VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE};

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
        for (name, addr) in [
            ("RESULTS", RESULTS),
            ("RX_RINGS", RX_RINGS),
            ("TX_RINGS", TX_RINGS),
            ("TX_BUF", TX_BUF),
            ("RX_BUF", RX_BUF),
        ] {
            assert_eq!(RAM_BASE + equ(name), addr, "{name}");
        }
        for (name, v) in [
            ("RAM", RAM_BASE),
            ("RAM_SIZE", RAM_SIZE),
            ("DESC", DESC),
            ("AVAIL", AVAIL),
            ("USED", USED),
            ("SINK", SINK - TX_BUF),
            ("BIG", BIG - TX_BUF),
            ("RX_STRIDE", RX_STRIDE),
            ("QSIZE", u64::from(QUEUE_SIZE)),
            ("RXQ", u64::from(RXQ)),
            ("TXQ", u64::from(TXQ)),
            ("VIRTIO", VIRTIO_BASE),
            ("DEV", DEV_BASE),
            ("DONE_MAGIC", DONE_MAGIC),
            ("F_NEXT", u64::from(VIRTQ_DESC_F_NEXT)),
            ("F_WRITE", u64::from(VIRTQ_DESC_F_WRITE)),
            ("F_MAC", u64::from(net::VIRTIO_NET_F_MAC)),
            ("F_STATUS", u64::from(net::VIRTIO_NET_F_STATUS)),
            ("NET_HDR", NET_HDR as u64),
            ("FRAME_LEN", FRAME_LEN as u64),
            ("FRAME_TOTAL", FRAME_TOTAL as u64),
            ("RX_BUF_LEN", RX_BUF_LEN as u64),
            ("BIG_LEN", BIG_LEN as u64),
            ("RUNT_LEN", RUNT_LEN as u64),
            ("SINK_LEN", SINK_LEN as u64),
            ("PATTERN", u64::from(PATTERN)),
        ] {
            assert_eq!(equ(name), v, "{name}");
        }
        for (name, off) in [
            ("R_MAGIC", res::MAGIC),
            ("R_VERSION", res::VERSION),
            ("R_DEVICE_ID", res::DEVICE_ID),
            ("R_VENDOR_ID", res::VENDOR_ID),
            ("R_FEATURES_LO", res::FEATURES_LO),
            ("R_FEATURES_HI", res::FEATURES_HI),
            ("R_FEATURES_OK", res::FEATURES_OK),
            ("R_RX_NUM_MAX", res::RX_NUM_MAX),
            ("R_RX_READY", res::RX_READY),
            ("R_TX_NUM_MAX", res::TX_NUM_MAX),
            ("R_TX_READY", res::TX_READY),
            ("R_DRIVER_OK", res::DRIVER_OK),
            ("R_CONFIG_LO", res::CONFIG_LO),
            ("R_CONFIG_HI", res::CONFIG_HI),
            ("R_BAD_STATUS", res::BAD_STATUS),
            ("R_BAD_INT", res::BAD_INT),
            ("R_BAD_USED", res::BAD_USED),
            ("R_STATUS", res::STATUS),
            ("R_INT", res::INT),
            ("R_TX_USED", res::TX_USED),
            ("R_RX_USED", res::RX_USED),
            ("R_RX_ID", res::RX_ID),
            ("R_RX_LEN", res::RX_LEN),
            ("R_RX_NUM_BUFS", res::RX_NUM_BUFS),
            ("R_MISMATCH", res::MISMATCH),
            ("R_INT_ACKED", res::INT_ACKED),
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

    /// The sizes the guest uses are the ones the device model judges by.
    #[test]
    fn chains_straddle_the_device_limits() {
        assert_eq!((RXQ, TXQ), (net::RX_QUEUE, net::TX_QUEUE));
        assert_eq!(NET_HDR, NET_HDR_LEN);
        assert_eq!(RX_BUF_LEN, NET_HDR_LEN + MAX_FRAME);
        assert_eq!(BIG_LEN, NET_HDR_LEN + MAX_FRAME + 1);
        assert!((MIN_FRAME..=MAX_FRAME).contains(&FRAME_LEN));
        // Every descriptor the guest uses is in the table, each once.
        let mut heads: Vec<u16> = TX_CHAINS.iter().map(|c| c.1).collect();
        heads.push(3); // the writable chain's second descriptor
        heads.sort();
        heads.dedup();
        assert_eq!(heads.len(), TX_CHAINS.len() + 1);
        assert!(heads.iter().all(|&h| h < QUEUE_SIZE));
        assert_eq!(TX_CHAINS.len() as u32, BAD_CHAINS + 1);
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
            ("CONFIG", regs::CONFIG),
        ] {
            assert_eq!(equ(name), off, "{name}");
        }
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
    /// store, as the transport's control registers require (the
    /// configuration space reads are aligned 32-bit too); x1/x12 carry the
    /// test device's DONE and fail stores.
    #[test]
    fn device_accesses_are_32_bit() {
        let img = flat_image(SEGMENTS);
        let mut n = 0;
        for &w in &img {
            let Ok(a) = decode_load_store(w) else {
                continue;
            };
            if a.base() == Some(19) {
                assert_eq!(a.total_bytes(), 4, "{w:#010x}");
                n += 1;
            }
        }
        assert!(n > 40, "{n} device accesses");
        assert!(img.iter().any(|&w| decode_load_store(w)
            .is_ok_and(|a| a.kind == MemKind::Load && a.base() == Some(19))));
        assert_eq!(host::store_widths(&img, &[1, 12]), [4, 8, 8]);
    }

    #[test]
    fn frame_is_the_pattern() {
        let f = frame();
        assert_eq!((f[0], f[FRAME_LEN - 1]), (PATTERN, PATTERN + 59));
    }
}
