//! Tests of `sel4vm::arch::syndrome` with ESR_EL2 values built from the
//! architectural bit layout and with values seen from real hardware/QEMU.

use sel4vm::arch::insn::{Addressing, MemKind, Ordering};
use sel4vm::arch::syndrome::{ec, sysreg_id, Esr, ExceptionClass, FaultStatus, Syndrome, WfxKind};
use sel4vm::arch::AccessSize;

const IL: u64 = 1 << 25;

fn esr(ec: u8, il: bool, iss: u32) -> u64 {
    ((ec as u64) << 26) | if il { IL } else { 0 } | (iss as u64 & 0x1ff_ffff)
}

/// Data-abort ISS from its fields, per the Arm ARM layout.
#[allow(clippy::too_many_arguments)]
fn dabt_iss(
    isv: bool,
    sas: u32,
    sse: bool,
    srt: u32,
    sf: bool,
    ar: bool,
    wnr: bool,
    dfsc: u32,
) -> u32 {
    (isv as u32) << 24
        | sas << 22
        | (sse as u32) << 21
        | srt << 16
        | (sf as u32) << 15
        | (ar as u32) << 14
        | (wnr as u32) << 6
        | dfsc
}

#[test]
fn known_wfi_wfe_values() {
    // WFI / WFE trapped from an AArch64 guest (HCR_EL2.TWI/TWE).
    assert_eq!(
        Syndrome::decode(0x0600_0000),
        Syndrome::Wfx(sel4vm::arch::syndrome::WfxIss {
            kind: WfxKind::Wfi,
            timeout_reg: None,
            cond: None
        })
    );
    match Syndrome::decode(0x0600_0001) {
        Syndrome::Wfx(w) => {
            assert_eq!(w.kind, WfxKind::Wfe);
            assert!(!w.is_wfi());
        }
        other => panic!("{other:?}"),
    }
    // WFIT with its timeout in x3 (RV set).
    match Syndrome::decode(esr(ec::WFX, true, 2 | 1 << 2 | 3 << 5)) {
        Syndrome::Wfx(w) => {
            assert_eq!(w.kind, WfxKind::Wfit);
            assert_eq!(w.timeout_reg, Some(3));
            assert!(w.is_wfi());
        }
        other => panic!("{other:?}"),
    }
    // AArch32 conditional WFI: CV=1, COND=0b1110.
    match Syndrome::decode(esr(ec::WFX, false, 1 << 24 | 0xe << 20)) {
        Syndrome::Wfx(w) => assert_eq!(w.cond, Some(0xe)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn known_hvc_smc_values() {
    assert_eq!(Syndrome::decode(0x5a00_0000), Syndrome::Hvc64 { imm16: 0 });
    assert_eq!(
        Syndrome::decode(0x5a00_1234),
        Syndrome::Hvc64 { imm16: 0x1234 }
    );
    assert_eq!(Syndrome::decode(0x5e00_0000), Syndrome::Smc64 { imm16: 0 });
    assert_eq!(
        Syndrome::decode(esr(ec::HVC32, true, 0xbeef)),
        Syndrome::Hvc32 { imm16: 0xbeef }
    );
    assert_eq!(Syndrome::decode(esr(ec::SMC32, true, 0)), Syndrome::Smc32);
    assert_eq!(Esr(0x5a00_0000).class(), ExceptionClass::Hvc64);
    assert_eq!(Esr(0x5e00_0000).class(), ExceptionClass::Smc64);
}

#[test]
fn known_data_abort_str_w1() {
    // `str w1, [x0]` to unmapped IPA: ISV, SAS=word, SRT=1, WnR, DFSC=
    // translation fault level 2. A value commonly seen in KVM/seL4 logs.
    let v = 0x9381_0046;
    assert_eq!(
        v,
        esr(
            ec::DABT_LOWER,
            true,
            dabt_iss(true, 2, false, 1, false, false, true, 0x06)
        )
    );
    let Syndrome::DataAbort { lower_el, iss } = Syndrome::decode(v) else {
        panic!("not a data abort");
    };
    assert!(lower_el);
    assert!(iss.write);
    assert_eq!(iss.status, FaultStatus::Translation { level: 2 });
    let a = iss.access.expect("ISV set");
    assert_eq!(a.size, AccessSize::Word);
    assert_eq!(a.srt, 1);
    assert!(!a.sf && !a.sign_extend && !a.acquire_release);
    let m = iss.mem_access().unwrap();
    assert_eq!(m.kind, MemKind::Store);
    assert_eq!(m.rt, 1);
    assert_eq!(m.addressing, Addressing::Unknown);
    assert_eq!(m.writeback(), None);
    assert_eq!(m.base(), None);
}

#[test]
fn data_abort_without_syndrome() {
    // ISV=0 (e.g. `ldp`): 0x92000006 read, 0x92000046 write.
    let Syndrome::DataAbort { iss, .. } = Syndrome::decode(0x9200_0006) else {
        panic!()
    };
    assert_eq!(iss.access, None);
    assert_eq!(iss.mem_access(), None);
    assert!(!iss.write);
    let Syndrome::DataAbort { iss, .. } = Syndrome::decode(0x9200_0046) else {
        panic!()
    };
    assert!(iss.write);
    // Same-EL data abort is distinguished.
    let Syndrome::DataAbort { lower_el, .. } = Syndrome::decode(0x9600_0045) else {
        panic!()
    };
    assert!(!lower_el);
}

#[test]
fn data_abort_fields_each_bit() {
    for sas in 0..4u32 {
        for srt in [0u32, 5, 30, 31] {
            for (sse, sf, ar, wnr) in [
                (false, false, false, false),
                (true, true, false, false),
                (true, false, true, false),
                (false, true, true, true),
            ] {
                let iss = dabt_iss(true, sas, sse, srt, sf, ar, wnr, 0x07);
                let Syndrome::DataAbort { iss: d, .. } =
                    Syndrome::decode(esr(ec::DABT_LOWER, true, iss))
                else {
                    panic!()
                };
                let a = d.access.unwrap();
                assert_eq!(a.size, AccessSize::from_log2(sas));
                assert_eq!(a.size.bytes(), 1 << sas);
                assert_eq!(a.srt as u32, srt);
                assert_eq!((a.sign_extend, a.sf, a.acquire_release), (sse, sf, ar));
                assert_eq!(d.write, wnr);
                assert_eq!(d.status, FaultStatus::Translation { level: 3 });
                let m = d.mem_access().unwrap();
                assert_eq!(m.kind, if wnr { MemKind::Store } else { MemKind::Load });
                assert_eq!(m.dest_is_64, sf);
                assert_eq!(m.sign_extend, sse && !wnr);
                let want_order = match (ar, wnr) {
                    (false, _) => Ordering::Plain,
                    (true, false) => Ordering::Acquire,
                    (true, true) => Ordering::Release,
                };
                assert_eq!(m.ordering, want_order);
            }
        }
    }
    // Single-bit flags.
    let flag = |bit: u32| {
        let Syndrome::DataAbort { iss, .. } = Syndrome::decode(esr(ec::DABT_LOWER, true, 1 << bit))
        else {
            panic!()
        };
        iss
    };
    assert!(flag(13).vncr);
    assert!(flag(10).far_not_valid);
    assert!(flag(9).external_abort);
    assert!(flag(8).cache_maintenance);
    assert!(flag(7).s1ptw);
    assert!(flag(6).write);
    let none = flag(0);
    assert!(!none.vncr && !none.far_not_valid && !none.external_abort);
    assert!(!none.cache_maintenance && !none.s1ptw && !none.write);
    // Cache maintenance / S1PTW faults are not register transfers.
    let cm = dabt_iss(true, 3, false, 0, true, false, true, 4) | 1 << 8;
    let Syndrome::DataAbort { iss, .. } = Syndrome::decode(esr(ec::DABT_LOWER, true, cm)) else {
        panic!()
    };
    assert_eq!(iss.mem_access(), None);
}

#[test]
fn sysreg_trap() {
    // `mrs x0, id_aa64pfr0_el1` (S3_0_C0_C4_0), read, Rt=0.
    let v = 0x6230_0009;
    let Syndrome::SysReg(s) = Syndrome::decode(v) else {
        panic!("{:?}", Syndrome::decode(v))
    };
    assert_eq!((s.op0, s.op1, s.crn, s.crm, s.op2), (3, 0, 0, 4, 0));
    assert_eq!(s.rt, 0);
    assert!(s.read);
    assert_eq!(s.id(), sysreg_id(3, 0, 0, 4, 0));
    // `msr cntv_ctl_el0, x5` (S3_3_C14_C3_1), write.
    let iss = 3 << 20 | 1 << 17 | 3 << 14 | 14 << 10 | 5 << 5 | 3 << 1;
    let Syndrome::SysReg(s) = Syndrome::decode(esr(ec::SYSREG64, true, iss)) else {
        panic!()
    };
    assert_eq!((s.op0, s.op1, s.crn, s.crm, s.op2), (3, 3, 14, 3, 1));
    assert_eq!(s.rt, 5);
    assert!(!s.read);
    assert_eq!(s.id(), sysreg_id(3, 3, 14, 3, 1));
    assert_ne!(s.id(), sysreg_id(3, 3, 14, 3, 0));
}

#[test]
fn instruction_abort() {
    let Syndrome::InstructionAbort { lower_el, iss } = Syndrome::decode(0x8200_0006) else {
        panic!()
    };
    assert!(lower_el);
    assert_eq!(iss.status, FaultStatus::Translation { level: 2 });
    assert!(!iss.s1ptw);
    let Syndrome::InstructionAbort { iss, .. } =
        Syndrome::decode(esr(ec::IABT_LOWER, true, 1 << 7 | 0x0f))
    else {
        panic!()
    };
    assert!(iss.s1ptw);
    assert_eq!(iss.status, FaultStatus::Permission { level: 3 });
}

#[test]
fn il_bit_and_length() {
    assert!(Esr(0x9381_0046).il());
    assert_eq!(Esr(0x9381_0046).instruction_len(), 4);
    let t16 = Esr(esr(ec::WFX, false, 0));
    assert!(!t16.il());
    assert_eq!(t16.instruction_len(), 2);
    assert_eq!(Esr(0x9381_0046).iss(), 0x0181_0046);
    assert_eq!(Esr(0x9381_0046).ec_raw(), 0x24);
    // ISS2 lives above bit 31 and does not disturb the rest.
    let with_iss2 = Esr(0x1f_9381_0046);
    assert_eq!(with_iss2.iss2(), 0x1f);
    assert_eq!(with_iss2.decode(), Esr(0x9381_0046).decode());
}

#[test]
fn other_classes_are_kept_raw() {
    assert_eq!(
        Syndrome::decode(esr(ec::BRK64, true, 0x3e8)),
        Syndrome::Other {
            class: ExceptionClass::Brk64,
            iss: 0x3e8
        }
    );
    assert_eq!(
        Syndrome::decode(esr(0x3f, true, 1)),
        Syndrome::Other {
            class: ExceptionClass::Other(0x3f),
            iss: 1
        }
    );
    assert_eq!(Esr(0).class(), ExceptionClass::Unknown);
}
