//! The guest program, its memory layout and what the VMM expects of it.
//! Pure data, shared by the root task and the host tests below.
//!
//! The program is `guest.S` in this directory, assembled once with
//! `aarch64-linux-gnu-as` and checked in as [`SEGMENTS`] (the non-zero runs
//! of the flat binary, with objdump's disassembly in the comments). The
//! host test `segments_match_source` re-assembles the source and compares.
// Some items are only used by the host tests, some only by the root task.
#![allow(dead_code)]

pub use guest_support::Segment;

/// Guest RAM (IPA); the program's offsets are relative to it.
pub const RAM_BASE: u64 = 0x4000_0000;
/// Guest RAM size: 4 KiB frames only.
pub const RAM_SIZE: u64 = 16 << 10;
/// Where the vCPU starts (`entry` in `guest.S`), with x0 = the attempt.
pub const ENTRY: u64 = RAM_BASE + 0x800;
/// The test device the guest reports through (`DEV`).
pub const DEV_BASE: u64 = 0x2000_0000;
/// Size of the test device's reservation.
pub const DEV_SIZE: u64 = 0x1000;
/// Device register: the attempt number, written before the attempt.
pub const DEV_START: u64 = 0x00;
/// Device register: x0 after the attempt.
pub const DEV_RESULT: u64 = 0x08;
/// Device register: the attempt number, written after the attempt.
pub const DEV_AFTER: u64 = 0x10;
/// Device register: [`DONE_MAGIC`], written last.
pub const DEV_DONE: u64 = 0x18;
/// Device register: an unexpected exception, `(vector slot << 32) | ESR_EL1`.
pub const DEV_FAIL: u64 = 0x20;
/// Value written to [`DEV_DONE`].
pub const DONE_MAGIC: u64 = 0x600d;

/// seL4 syscall numbers the guest puts in x7 (`.equ SYS_*`).
pub mod sys {
    /// `seL4_SysCall`.
    pub const CALL: i64 = -1;
    /// `seL4_SysSend`.
    pub const SEND: i64 = -3;
    /// `seL4_SysRecv`.
    pub const RECV: i64 = -5;
    /// `seL4_SysYield`.
    pub const YIELD: i64 = -7;
}

/// Invocation labels the guest puts in its MessageInfo (`.equ`).
pub mod label {
    /// `TCBSuspend`.
    pub const TCB_SUSPEND: u64 = 11;
    /// `CNodeDelete`.
    pub const CNODE_DELETE: u64 = 18;
    /// `ARMASIDPoolAssign`.
    pub const ASID_POOL_ASSIGN: u64 = 48;
}

/// Slots of the VMM's root CNode the guest aims at (`.equ CAP_*`).
pub mod cap {
    /// `seL4_CapInitThreadTCB`.
    pub const TCB: u64 = 1;
    /// `seL4_CapInitThreadCNode`.
    pub const CNODE: u64 = 2;
    /// `seL4_CapInitThreadASIDPool`.
    pub const ASID_POOL: u64 = 6;
}

/// The VMM service the root task installs in each VM (`.equ SERVICE_*`):
/// an endpoint of its own, minted into the vCPU's CSpace with
/// `Vm::install_service`.
pub mod service {
    /// Its slot in the vCPU's CSpace (the guest's CPtr).
    pub const SLOT: u64 = 5;
    /// Badge the root task mints it with (the guest cannot see or change it).
    pub const BADGE: u64 = 0x77;
    /// Label of the guest's message.
    pub const LABEL: u64 = 0x5e;
    /// The guest's mr0.
    pub const MR: u64 = 0x1234;
    /// The root task's reply mr0, which the guest reports as its result.
    pub const REPLY_MR: u64 = 0xbeef;
    /// libsel4vm's `VM_CSPACE_SLOT` (one node) and `VM_CSPACE_SIZE_BITS`.
    pub const VM_CSPACE_SLOT: u64 = 2;
    /// `VM_CSPACE_SIZE_BITS`.
    pub const VM_CSPACE_BITS: u64 = 4;
}

/// What the VMM must see after an attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The call reached the vCPU's own fault endpoint as a message that is
    /// no fault: the VM stops with `ExitReason::UnknownFault` carrying this
    /// label, without a reply; the guest does not run on.
    Forged {
        /// The label the guest wrote.
        label: u64,
    },
    /// The guest runs on and reports this x0 (then DONE).
    Continues {
        /// x0 after the HVC.
        x0: u64,
    },
}

/// SMCCC `NOT_SUPPORTED` as the guest sees it in x0.
pub const NOT_SUPPORTED: u64 = -1i64 as u64;

/// One attempt of the guest program (x0 at `entry`).
#[derive(Clone, Copy, Debug)]
pub struct Attempt {
    /// The number passed in x0.
    pub number: u64,
    /// What it tries.
    pub what: &'static str,
    /// What the VMM must see.
    pub outcome: Outcome,
}

/// The attempts, each run in a fresh VM.
pub const ATTEMPTS: &[Attempt] = &[
    // CPtr 1 in the vCPU's CSpace is its fault endpoint: the Call delivers
    // the guest's message to the VMM.
    Attempt {
        number: 1,
        what: "seL4_Call(1, TCBSuspend)",
        outcome: Outcome::Forged {
            label: label::TCB_SUSPEND,
        },
    },
    // An empty slot of the vCPU's 16-slot CSpace (libsel4vm's
    // VM_CSPACE_SLOT): the lookup succeeds, so the kernel itself answers
    // the Call with an error (seL4_InvalidCapability in x1, badge
    // register x0 = 0); nothing reaches the VMM. (A CPtr outside the
    // CNode, attempt 7, is a cap fault instead.)
    Attempt {
        number: 2,
        what: "seL4_Call(2, CNodeDelete(1, 64))",
        outcome: Outcome::Continues { x0: 0 },
    },
    // A Send gets no error reply: x0 keeps the CPtr.
    Attempt {
        number: 3,
        what: "seL4_Send(6, ARMASIDPoolAssign)",
        outcome: Outcome::Continues { x0: 6 },
    },
    // Needs no cap: the kernel just returns; x0 (the attempt number) stays.
    Attempt {
        number: 4,
        what: "seL4_Yield",
        outcome: Outcome::Continues { x0: 4 },
    },
    // The fault endpoint cap has no receive right: a cap fault.
    Attempt {
        number: 5,
        what: "seL4_Recv(1)",
        outcome: Outcome::Continues { x0: NOT_SUPPORTED },
    },
    // The installed service: the root task receives the guest's message
    // (badge, label, mr0) on its endpoint and replies; the guest reports
    // the reply's mr0.
    Attempt {
        number: 6,
        what: "seL4_Call(5 = installed service, 0x5e, mr0 0x1234)",
        outcome: Outcome::Continues {
            x0: service::REPLY_MR,
        },
    },
    // All 64 bits of a CPtr are resolved: 0x15 is not slot 5 (a cap
    // fault, answered as an unknown SMCCC call and stepped over).
    Attempt {
        number: 7,
        what: "seL4_Call(0x15, 0x5e)",
        outcome: Outcome::Continues { x0: NOT_SUPPORTED },
    },
    // libsel4vm's VM_CSPACE_SLOT (2) holds no CNode cap: the guest cannot
    // delete (or mint) the caps of its CSpace; the kernel answers with an
    // error as for attempt 2, and the root task sees slot 5 still there.
    Attempt {
        number: 8,
        what: "seL4_Call(2 = VM_CSPACE_SLOT, CNodeDelete(5, 4))",
        outcome: Outcome::Continues { x0: 0 },
    },
];

/// The attempt whose call the root task answers on the service endpoint.
pub const SERVICE_ATTEMPT: u64 = 6;

/// The guest program (see `guest.S`).
pub const SEGMENTS: &[Segment] = &[
    Segment {
        offset: 0x000,
        words: &[
            0xd2800009, // 000: vectors: mov x9, #0x0
            0x1400024e, // 004: b 93c <fail>
        ],
    },
    Segment {
        offset: 0x080,
        words: &[
            0xd2800029, // 080: mov x9, #0x1
            0x1400022e, // 084: b 93c <fail>
        ],
    },
    Segment {
        offset: 0x100,
        words: &[
            0xd2800049, // 100: mov x9, #0x2
            0x1400020e, // 104: b 93c <fail>
        ],
    },
    Segment {
        offset: 0x180,
        words: &[
            0xd2800069, // 180: mov x9, #0x3
            0x140001ee, // 184: b 93c <fail>
        ],
    },
    Segment {
        offset: 0x200,
        words: &[
            0xd2800089, // 200: mov x9, #0x4
            0x140001ce, // 204: b 93c <fail>
        ],
    },
    Segment {
        offset: 0x280,
        words: &[
            0xd28000a9, // 280: mov x9, #0x5
            0x140001ae, // 284: b 93c <fail>
        ],
    },
    Segment {
        offset: 0x300,
        words: &[
            0xd28000c9, // 300: mov x9, #0x6
            0x1400018e, // 304: b 93c <fail>
        ],
    },
    Segment {
        offset: 0x380,
        words: &[
            0xd28000e9, // 380: mov x9, #0x7
            0x1400016e, // 384: b 93c <fail>
        ],
    },
    Segment {
        offset: 0x400,
        words: &[
            0xd2800109, // 400: mov x9, #0x8
            0x1400014e, // 404: b 93c <fail>
        ],
    },
    Segment {
        offset: 0x480,
        words: &[
            0xd2800129, // 480: mov x9, #0x9
            0x1400012e, // 484: b 93c <fail>
        ],
    },
    Segment {
        offset: 0x500,
        words: &[
            0xd2800149, // 500: mov x9, #0xa
            0x1400010e, // 504: b 93c <fail>
        ],
    },
    Segment {
        offset: 0x580,
        words: &[
            0xd2800169, // 580: mov x9, #0xb
            0x140000ee, // 584: b 93c <fail>
        ],
    },
    Segment {
        offset: 0x600,
        words: &[
            0xd2800189, // 600: mov x9, #0xc
            0x140000ce, // 604: b 93c <fail>
        ],
    },
    Segment {
        offset: 0x680,
        words: &[
            0xd28001a9, // 680: mov x9, #0xd
            0x140000ae, // 684: b 93c <fail>
        ],
    },
    Segment {
        offset: 0x700,
        words: &[
            0xd28001c9, // 700: mov x9, #0xe
            0x1400008e, // 704: b 93c <fail>
        ],
    },
    Segment {
        offset: 0x780,
        words: &[
            0xd28001e9, // 780: mov x9, #0xf
            0x1400006e, // 784: b 93c <fail>
        ],
    },
    Segment {
        offset: 0x800,
        words: &[
            0x10ffc009, // 800: entry: adr x9, 0 <vectors>
            0xd518c009, // 804: msr vbar_el1, x9
            0xd5033fdf, // 808: isb
            0xaa0003f3, // 80c: mov x19, x0
            0xd2a40014, // 810: mov x20, #0x20000000
            0xf1001a7f, // 814: cmp x19, #0x6
            0x54000580, // 818: b.eq 8c8 <call_service>
            0xf9000293, // 81c: str x19, [x20]
            0xf100067f, // 820: cmp x19, #0x1
            0x540001c0, // 824: b.eq 85c <call_tcb>
            0xf1000a7f, // 828: cmp x19, #0x2
            0x54000240, // 82c: b.eq 874 <call_cnode>
            0xf1000e7f, // 830: cmp x19, #0x3
            0x54000300, // 834: b.eq 894 <send_asid_pool>
            0xf100127f, // 838: cmp x19, #0x4
            0x54000380, // 83c: b.eq 8ac <yield>
            0xf100167f, // 840: cmp x19, #0x5
            0x540003a0, // 844: b.eq 8b8 <recv_ep>
            0xf1001e7f, // 848: cmp x19, #0x7
            0x54000500, // 84c: b.eq 8ec <call_service_guarded>
            0xf100227f, // 850: cmp x19, #0x8
            0x540005a0, // 854: b.eq 908 <delete_service>
            0x14000033, // 858: b 924 <report>
            0xd2800020, // 85c: call_tcb: mov x0, #0x1
            0xd2960001, // 860: mov x1, #0xb000
            0xf2a00001, // 864: movk x1, #0x0, lsl
            0x92800007, // 868: mov x7, #0xffffffffffffffff
            0xd4000002, // 86c: hvc #0x0
            0x1400002d, // 870: b 924 <report>
            0xd2800040, // 874: call_cnode: mov x0, #0x2
            0xd2840041, // 878: mov x1, #0x2002
            0xf2a00021, // 87c: movk x1, #0x1, lsl
            0xd2800022, // 880: mov x2, #0x1
            0xd2800803, // 884: mov x3, #0x40
            0x92800007, // 888: mov x7, #0xffffffffffffffff
            0xd4000002, // 88c: hvc #0x0
            0x14000025, // 890: b 924 <report>
            0xd28000c0, // 894: send_asid_pool: mov x0, #0x6
            0xd2800001, // 898: mov x1, #0x0
            0xf2a00061, // 89c: movk x1, #0x3, lsl
            0x92800047, // 8a0: mov x7, #0xfffffffffffffffd
            0xd4000002, // 8a4: hvc #0x0
            0x1400001f, // 8a8: b 924 <report>
            0x928000c7, // 8ac: yield: mov x7, #0xfffffffffffffff9
            0xd4000002, // 8b0: hvc #0x0
            0x1400001c, // 8b4: b 924 <report>
            0xd2800020, // 8b8: recv_ep: mov x0, #0x1
            0x92800087, // 8bc: mov x7, #0xfffffffffffffffb
            0xd4000002, // 8c0: hvc #0x0
            0x14000018, // 8c4: b 924 <report>
            0xd28000a0, // 8c8: call_service: mov x0, #0x5
            0xd29c0021, // 8cc: mov x1, #0xe001
            0xf2a000a1, // 8d0: movk x1, #0x5, lsl
            0xd2824682, // 8d4: mov x2, #0x1234
            0x92800007, // 8d8: mov x7, #0xffffffffffffffff
            0xd4000002, // 8dc: hvc #0x0
            0xf9000293, // 8e0: str x19, [x20]
            0xaa0203e0, // 8e4: mov x0, x2
            0x1400000f, // 8e8: b 924 <report>
            0xd28002a0, // 8ec: call_service_guarded: mov x0, #0x15
            0xd29c0021, // 8f0: mov x1, #0xe001
            0xf2a000a1, // 8f4: movk x1, #0x5, lsl
            0xd2824682, // 8f8: mov x2, #0x1234
            0x92800007, // 8fc: mov x7, #0xffffffffffffffff
            0xd4000002, // 900: hvc #0x0
            0x14000008, // 904: b 924 <report>
            0xd2800040, // 908: delete_service: mov x0, #0x2
            0xd2840041, // 90c: mov x1, #0x2002
            0xf2a00021, // 910: movk x1, #0x1, lsl
            0xd28000a2, // 914: mov x2, #0x5
            0xd2800083, // 918: mov x3, #0x4
            0x92800007, // 91c: mov x7, #0xffffffffffffffff
            0xd4000002, // 920: hvc #0x0
            0xf9000680, // 924: report: str x0, [x20, #8]
            0xf9000a93, // 928: str x19, [x20, #16]
            0xd28c01a9, // 92c: mov x9, #0x600d
            0xf9000e89, // 930: str x9, [x20, #24]
            0xd503207f, // 934: wfi
            0x17ffffff, // 938: b 934 <report+0x10>
            0xd538520a, // 93c: fail: mrs x10, esr_el1
            0xaa09814a, // 940: orr x10, x10, x9, lsl
            0xd2a40014, // 944: mov x20, #0x20000000
            0xf900128a, // 948: str x10, [x20, #32]
            0xd503207f, // 94c: wfi
            0x17ffffff, // 950: b 94c <fail+0x10>
        ],
    },
];

#[cfg(all(test, not(target_os = "none")))]
mod tests {
    use super::*;
    use guest_support::flat_image;
    use guest_support::host;
    use sel4_abi::labels::{invocation, syscall};
    use sel4_abi::MessageInfo;

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
    fn equ(name: &str) -> i64 {
        host::equ(SOURCE, name)
    }

    #[test]
    fn constants_match_source() {
        assert_eq!(equ("RAM") as u64, RAM_BASE);
        assert_eq!(equ("DEV") as u64, DEV_BASE);
        assert_eq!(equ("DONE_MAGIC") as u64, DONE_MAGIC);
        for (n, v) in [
            ("START", DEV_START),
            ("RESULT", DEV_RESULT),
            ("AFTER", DEV_AFTER),
            ("DONE", DEV_DONE),
            ("FAIL", DEV_FAIL),
        ] {
            assert_eq!(equ(n) as u64, v, "{n}");
        }
        assert_eq!(equ("SYS_CALL"), sys::CALL);
        assert_eq!(equ("SYS_SEND"), sys::SEND);
        assert_eq!(equ("SYS_RECV"), sys::RECV);
        assert_eq!(equ("SYS_YIELD"), sys::YIELD);
        assert_eq!(equ("TCB_SUSPEND") as u64, label::TCB_SUSPEND);
        assert_eq!(equ("CNODE_DELETE") as u64, label::CNODE_DELETE);
        assert_eq!(equ("ASID_POOL_ASSIGN") as u64, label::ASID_POOL_ASSIGN);
        assert_eq!(equ("CAP_TCB") as u64, cap::TCB);
        assert_eq!(equ("CAP_CNODE") as u64, cap::CNODE);
        assert_eq!(equ("CAP_ASID_POOL") as u64, cap::ASID_POOL);
        assert_eq!(equ("SERVICE_SLOT") as u64, service::SLOT);
        assert_eq!(equ("SERVICE_LABEL") as u64, service::LABEL);
        assert_eq!(equ("SERVICE_MR") as u64, service::MR);
        assert_eq!(equ("VM_CSPACE_SLOT") as u64, service::VM_CSPACE_SLOT);
        assert_eq!(equ("VM_CSPACE_BITS") as u64, service::VM_CSPACE_BITS);
    }

    /// The raw numbers are the kernel's: sel4-abi's table is generated from
    /// the installed kernel when `SEL4_PREFIX` is set at build time (and its
    /// checked-in table is tested against the install otherwise).
    #[test]
    fn numbers_are_the_kernels() {
        assert_eq!(sys::CALL, syscall::Call);
        assert_eq!(sys::SEND, syscall::Send);
        assert_eq!(sys::RECV, syscall::Recv);
        assert_eq!(sys::YIELD, syscall::Yield);
        assert_eq!(label::TCB_SUSPEND, invocation::TCBSuspend);
        assert_eq!(label::CNODE_DELETE, invocation::CNodeDelete);
        assert_eq!(label::ASID_POOL_ASSIGN, invocation::ARMASIDPoolAssign);
        assert_eq!(cap::TCB, sel4_abi::cap::init::TCB.bits());
        assert_eq!(cap::CNODE, sel4_abi::cap::init::CNODE.bits());
        assert_eq!(cap::ASID_POOL, sel4_abi::cap::init::ASID_POOL.bits());
        assert_eq!(service::VM_CSPACE_SLOT, sel4vm::vm_cspace_slot(1));
        assert_eq!(
            service::VM_CSPACE_BITS,
            u64::from(sel4vm::VM_CSPACE_SIZE_BITS)
        );
        const { assert!(service::SLOT > service::VM_CSPACE_SLOT && service::SLOT < 16) };
        // None of the labels is a fault label, so the VMM cannot mistake
        // the forged message for a fault.
        for l in [
            label::TCB_SUSPEND,
            label::CNODE_DELETE,
            label::ASID_POOL_ASSIGN,
            service::LABEL,
        ] {
            assert!(sel4_abi::fault::Fault::decode(l, &[0; 16]).is_err(), "{l}");
        }
    }

    /// The `msginfo` macro builds the words `seL4_MessageInfo_new` would.
    #[test]
    fn message_infos_match_sel4_abi() {
        let img = flat_image(SEGMENTS);
        // movz/movk pair for x1 → the value it loads.
        let x1_values: Vec<u64> = img
            .windows(2)
            .filter(|w| w[0] & 0xffe0_001f == 0xd280_0001 && w[1] & 0xffe0_001f == 0xf2a0_0001)
            .map(|w| u64::from((w[0] >> 5) & 0xffff) | u64::from((w[1] >> 5) & 0xffff) << 16)
            .collect();
        let want = [
            MessageInfo::new(invocation::TCBSuspend, 0, 0, 0),
            MessageInfo::new(invocation::CNodeDelete, 0, 0, 2),
            MessageInfo::new(invocation::ARMASIDPoolAssign, 0, 0, 0),
            MessageInfo::new(service::LABEL, 0, 0, 1),
            MessageInfo::new(service::LABEL, 0, 0, 1),
            MessageInfo::new(invocation::CNodeDelete, 0, 0, 2),
        ]
        .map(MessageInfo::into_word);
        assert_eq!(x1_values, want);
    }

    /// Each attempt's HVC has immediate 0 and is preceded, within the
    /// attempt, by the x7 it is meant to carry.
    #[test]
    fn every_attempt_makes_one_hvc_with_its_syscall_number() {
        let img = flat_image(SEGMENTS);
        let hvcs: Vec<usize> = img
            .iter()
            .enumerate()
            .filter(|(_, w)| **w & 0xffe0_001f == 0xd400_0002)
            .map(|(i, _)| i)
            .collect();
        assert_eq!(hvcs.len(), ATTEMPTS.len());
        assert!(hvcs.iter().all(|&i| img[i] == 0xd400_0002), "HVC #0 only");
        // movn x7, #n loads -(n + 1).
        let x7 =
            |w: u32| (w & 0xffe0_001f == 0x9280_0007).then(|| -i64::from((w >> 5) & 0xffff) - 1);
        let nums: Vec<Option<i64>> = hvcs.iter().map(|&i| x7(img[i - 1])).collect();
        assert_eq!(
            nums,
            [
                sys::CALL,
                sys::CALL,
                sys::SEND,
                sys::YIELD,
                sys::RECV,
                sys::CALL,
                sys::CALL,
                sys::CALL
            ]
            .map(Some)
        );
    }

    #[test]
    fn attempts_are_numbered_in_order() {
        for (i, a) in ATTEMPTS.iter().enumerate() {
            assert_eq!(a.number, i as u64 + 1);
        }
    }

    /// Every vector slot reports to the shared fail path (no IRQ handler).
    #[test]
    fn vector_table_routes_every_slot_to_fail() {
        host::check_vector_table(&flat_image(SEGMENTS), None, ENTRY - RAM_BASE).unwrap();
    }

    #[test]
    fn program_fits_in_ram() {
        host::check_layout(SEGMENTS, RAM_SIZE).unwrap();
        assert_eq!(ENTRY - RAM_BASE, 0x800);
        assert_eq!(
            flat_image(SEGMENTS)[0x800 / 4],
            0x10ff_c009,
            "entry is adr x9, vectors"
        );
    }
}
