//! PSCI 1.1 / SMCCC: function decoding, return codes and the vCPU power-state machine.

use proptest::prelude::*;
use sel4vm::psci::{self, fid, ret, Conduit, PowerState, Psci, PsciOutcome};
use sel4vm::VcpuId;

const V0: VcpuId = VcpuId(0);
const V1: VcpuId = VcpuId(1);
const RAM: core::ops::Range<u64> = 0x4000_0000..0x6000_0000;

fn call(p: &mut Psci, caller: VcpuId, x: [u64; 4]) -> PsciOutcome {
    p.call(caller, Conduit::Smc, 0, x, |a| RAM.contains(&a))
}

fn ret_code(c: i32) -> PsciOutcome {
    PsciOutcome::Return(psci::code(c))
}

#[test]
fn versions_and_info() {
    let mut p = Psci::new(2);
    assert_eq!(
        call(&mut p, V0, [fid::PSCI_VERSION.into(), 0, 0, 0]),
        PsciOutcome::Return(0x1_0001)
    );
    assert_eq!(
        call(&mut p, V0, [fid::SMCCC_VERSION.into(), 0, 0, 0]),
        PsciOutcome::Return(0x1_0001)
    );
    assert_eq!(
        call(&mut p, V0, [fid::MIGRATE_INFO_TYPE.into(), 0, 0, 0]),
        PsciOutcome::Return(2)
    );
    // Return codes are sign-extended into x0.
    assert_eq!(psci::code(ret::NOT_SUPPORTED), u64::MAX);
    assert_eq!(psci::code(ret::ALREADY_ON), (-4i64) as u64);
}

#[test]
fn psci_features_reports_what_is_implemented() {
    let mut p = Psci::new(1);
    let feat = |p: &mut Psci, f: u32| call(p, V0, [fid::PSCI_FEATURES.into(), f.into(), 0, 0]);
    for f in [
        fid::PSCI_VERSION,
        fid::CPU_SUSPEND,
        fid::CPU_SUSPEND64,
        fid::CPU_OFF,
        fid::CPU_ON,
        fid::CPU_ON64,
        fid::AFFINITY_INFO,
        fid::AFFINITY_INFO64,
        fid::MIGRATE_INFO_TYPE,
        fid::SYSTEM_OFF,
        fid::SYSTEM_RESET,
        fid::PSCI_FEATURES,
        fid::SMCCC_VERSION,
    ] {
        assert_eq!(feat(&mut p, f), ret_code(ret::SUCCESS), "{f:#x}");
    }
    for f in [
        fid::MIGRATE,
        fid::MIGRATE64,
        fid::SYSTEM_SUSPEND64,
        fid::SYSTEM_RESET2,
        0xc400_0002,
        0x1234_5678,
    ] {
        assert_eq!(feat(&mut p, f), ret_code(ret::NOT_SUPPORTED), "{f:#x}");
    }
}

#[test]
fn smccc_arch_features() {
    let mut p = Psci::new(1);
    let af = |p: &mut Psci, f: u32| call(p, V0, [fid::SMCCC_ARCH_FEATURES.into(), f.into(), 0, 0]);
    assert_eq!(af(&mut p, fid::SMCCC_VERSION), ret_code(ret::SUCCESS));
    assert_eq!(af(&mut p, fid::SMCCC_ARCH_FEATURES), ret_code(ret::SUCCESS));
    assert_eq!(
        af(&mut p, fid::SMCCC_ARCH_WORKAROUND_1),
        ret_code(ret::NOT_SUPPORTED)
    );
    assert_eq!(
        af(&mut p, fid::SMCCC_ARCH_WORKAROUND_2),
        ret_code(ret::NOT_SUPPORTED)
    );
    assert_eq!(
        af(&mut p, fid::SMCCC_ARCH_SOC_ID),
        ret_code(ret::NOT_SUPPORTED)
    );
}

#[test]
fn unknown_functions_and_nonzero_immediates_are_not_supported() {
    let mut p = Psci::new(1);
    for f in [
        fid::MIGRATE,
        fid::SYSTEM_RESET2,
        0x8200_0000,
        0xc300_0001,
        0,
        0xffff_ffff,
    ] {
        assert_eq!(
            call(&mut p, V0, [f.into(), 1, 2, 3]),
            ret_code(ret::NOT_SUPPORTED),
            "{f:#x}"
        );
    }
    // HVC #1 is not an SMCCC call, even with a valid id.
    let r = p.call(
        V0,
        Conduit::Hvc,
        1,
        [fid::PSCI_VERSION.into(), 0, 0, 0],
        |_| true,
    );
    assert_eq!(r, ret_code(ret::NOT_SUPPORTED));
    // Both conduits work.
    let r = p.call(
        V0,
        Conduit::Hvc,
        0,
        [fid::PSCI_VERSION.into(), 0, 0, 0],
        |_| true,
    );
    assert_eq!(r, PsciOutcome::Return(0x1_0001));
    // Upper 32 bits of w0 are ignored.
    let r = call(
        &mut p,
        V0,
        [
            0xdead_beef_0000_0000 | u64::from(fid::PSCI_VERSION),
            0,
            0,
            0,
        ],
    );
    assert_eq!(r, PsciOutcome::Return(0x1_0001));
}

#[test]
fn cpu_on_state_machine() {
    let mut p = Psci::new(2);
    let on = |p: &mut Psci, target: u64, entry: u64| {
        call(p, V0, [fid::CPU_ON64.into(), target, entry, 0x77])
    };
    assert_eq!(p.state(V1), Some(PowerState::Off));
    // Boot vCPU is already on.
    assert_eq!(
        on(&mut p, 0x8000_0000, 0x4008_0000),
        ret_code(ret::ALREADY_ON)
    );
    // Non-existent targets.
    assert_eq!(
        on(&mut p, 2, 0x4008_0000),
        ret_code(ret::INVALID_PARAMETERS)
    );
    assert_eq!(
        on(&mut p, 1 << 8, 0x4008_0000),
        ret_code(ret::INVALID_PARAMETERS)
    );
    // Must-be-zero bits 63:40 set: no CPU, not vCPU 1 by its Aff0 alone
    // (found by the guest-smp stress, which started vCPU 1 this way).
    for junk in [1u64 << 40, 0x100_0000_0001, 0xffff_ff00_0000_0001] {
        assert_eq!(
            on(&mut p, junk, 0x4008_0000),
            ret_code(ret::INVALID_PARAMETERS),
            "{junk:#x}"
        );
        assert_eq!(
            call(&mut p, V0, [fid::AFFINITY_INFO64.into(), junk, 0, 0]),
            ret_code(ret::INVALID_PARAMETERS)
        );
    }
    // Bad entry points: outside RAM or misaligned.
    assert_eq!(on(&mut p, 1, 0x1000), ret_code(ret::INVALID_ADDRESS));
    assert_eq!(on(&mut p, 1, 0x4008_0002), ret_code(ret::INVALID_ADDRESS));
    assert_eq!(p.state(V1), Some(PowerState::Off));
    // Good call: start vcpu1; MPIDR bit 31 and non-affinity bits are ignored.
    let r = on(&mut p, 0x8000_0001, 0x4008_0000);
    assert_eq!(
        r,
        PsciOutcome::StartVcpu {
            target: V1,
            entry: 0x4008_0000,
            context_id: 0x77,
            mpidr: 0x8000_0001
        }
    );
    assert_eq!(p.state(V1), Some(PowerState::OnPending));
    assert_eq!(on(&mut p, 1, 0x4008_0000), ret_code(ret::ON_PENDING));
    let aff = |p: &mut Psci, t: u64| call(p, V0, [fid::AFFINITY_INFO64.into(), t, 0, 0]);
    assert_eq!(aff(&mut p, 1), PsciOutcome::Return(2));
    p.vcpu_started(V1);
    assert_eq!(aff(&mut p, 1), PsciOutcome::Return(0));
    assert_eq!(on(&mut p, 1, 0x4008_0000), ret_code(ret::ALREADY_ON));
    // CPU_OFF from vcpu1, then it can be started again.
    assert_eq!(
        call(&mut p, V1, [fid::CPU_OFF.into(), 0, 0, 0]),
        PsciOutcome::StopVcpu {
            vcpu: V1,
            last: false
        }
    );
    assert_eq!(aff(&mut p, 1), PsciOutcome::Return(1));
    assert!(matches!(
        on(&mut p, 1, 0x4000_0000),
        PsciOutcome::StartVcpu { .. }
    ));
    p.vcpu_start_failed(V1);
    assert_eq!(p.state(V1), Some(PowerState::Off));
}

#[test]
fn cpu_on_smc32_truncates_arguments() {
    let mut p = Psci::new(2);
    let r = call(
        &mut p,
        V0,
        [
            fid::CPU_ON.into(),
            0xffff_ffff_0000_0001,
            0x1_4000_0000,
            0xaaaa_bbbb_cccc_dddd,
        ],
    );
    assert_eq!(
        r,
        PsciOutcome::StartVcpu {
            target: V1,
            entry: 0x4000_0000,
            context_id: 0xcccc_dddd,
            mpidr: 0x8000_0001
        }
    );
}

#[test]
fn affinity_info_levels_and_targets() {
    let mut p = Psci::new(2);
    let aff = |p: &mut Psci, t: u64, lvl: u64| call(p, V0, [fid::AFFINITY_INFO.into(), t, lvl, 0]);
    assert_eq!(aff(&mut p, 0, 0), PsciOutcome::Return(0));
    assert_eq!(aff(&mut p, 1, 0), PsciOutcome::Return(1));
    assert_eq!(aff(&mut p, 0, 1), ret_code(ret::INVALID_PARAMETERS));
    assert_eq!(aff(&mut p, 5, 0), ret_code(ret::INVALID_PARAMETERS));
}

#[test]
fn last_cpu_off_and_system_calls() {
    let mut p = Psci::new(1);
    assert_eq!(
        call(&mut p, V0, [fid::CPU_OFF.into(), 0, 0, 0]),
        PsciOutcome::StopVcpu {
            vcpu: V0,
            last: true
        }
    );
    let mut p = Psci::new(2);
    assert_eq!(
        call(&mut p, V0, [fid::SYSTEM_OFF.into(), 0, 0, 0]),
        PsciOutcome::SystemOff
    );
    assert_eq!(
        call(&mut p, V1, [fid::SYSTEM_RESET.into(), 0, 0, 0]),
        PsciOutcome::SystemReset
    );
    // A caller that was believed off is on (it is running).
    assert_eq!(p.state(V1), Some(PowerState::On));
    p.reset();
    assert_eq!(p.state(V0), Some(PowerState::On));
    assert_eq!(p.state(V1), Some(PowerState::Off));
    assert_eq!(
        call(&mut p, V0, [fid::CPU_SUSPEND64.into(), 0, 0, 0]),
        PsciOutcome::Suspend
    );
}

#[test]
fn unknown_caller_gets_not_supported() {
    let mut p = Psci::new(1);
    assert_eq!(
        call(&mut p, VcpuId(7), [fid::CPU_OFF.into(), 0, 0, 0]),
        ret_code(ret::NOT_SUPPORTED)
    );
    assert_eq!(p.state(V0), Some(PowerState::On));
}

#[test]
fn mpidr_mapping_roundtrips() {
    for id in [0u32, 1, 3, 255, 256, 1000] {
        let m = psci::vcpu_mpidr(VcpuId(id));
        assert_ne!(m & (1 << 31), 0);
        assert_eq!(psci::vcpu_from_mpidr(m, 2000), Some(VcpuId(id)));
        assert_eq!(psci::vcpu_from_mpidr(m, id), None);
    }
    assert_eq!(psci::vcpu_from_mpidr(1 << 16, 4), None);
    assert_eq!(psci::vcpu_from_mpidr(1 << 32, 4), None);
}

proptest! {
    /// No input makes the state machine misbehave: every call yields an
    /// outcome, unknown ids give NOT_SUPPORTED, and at most one vCPU changes
    /// state per call.
    #[test]
    fn any_call_is_answered(
        caller in 0..4u32,
        x0 in prop_oneof![any::<u64>(), (0x8400_0000u64..0x8400_0020), (0xc400_0000u64..0xc400_0020)],
        x1 in prop_oneof![any::<u64>(), 0..6u64],
        x2 in any::<u64>(),
        x3 in any::<u64>(),
        imm in prop_oneof![Just(0u16), any::<u16>()],
    ) {
        let mut p = Psci::new(3);
        let before: Vec<_> = (0..3).map(|i| p.state(VcpuId(i))).collect();
        let r = p.call(VcpuId(caller), Conduit::Smc, imm, [x0, x1, x2, x3], |a| RAM.contains(&a));
        if imm != 0 || caller >= 3 || matches!(psci::Function::decode(x0), psci::Function::Unknown(_)) {
            prop_assert_eq!(r, ret_code(ret::NOT_SUPPORTED));
        }
        if let PsciOutcome::StartVcpu { target, entry, .. } = r {
            prop_assert_eq!(before[target.0 as usize], Some(PowerState::Off));
            prop_assert!(RAM.contains(&entry));
        }
        let changed = (0..3)
            .filter(|&i| p.state(VcpuId(i)) != before[i as usize] && i != caller)
            .count();
        prop_assert!(changed <= 1);
    }
}
