//! The root task proper (target only).

use alloc::format;
use alloc::rc::Rc;
use core::cell::RefCell;

use guest_support::vm::{
    kernel_gic_version, load_segments, qemu_virt_gic, resources, start_el1, ReportDevice,
};
use guest_support::{u64_at, Checks};
use sel4_rt::{println, BootInfo};
use sel4vm::psci::{code, ret, vcpu_mpidr, CPU_ON_SCTLR, PSCI_VERSION_1_1, SMCCC_VERSION_1_1};
use sel4vm::vgic::GicVersion;
use sel4vm::{ExitReason, VcpuId, Vm, VmConfig};
use sel4vm_sel4::{Resources, Sel4Backend, Sel4Config};

use crate::guest::*;

sel4_rt::declare_main!(main);

/// Priority of the guest's vCPU threads (the root task runs at 255).
const VCPU_PRIORITY: u8 = 100;
const V0: VcpuId = VcpuId(0);
const V1: VcpuId = VcpuId(1);

fn main(bi: &'static BootInfo) {
    println!("guest-smp: root task started");
    let res = resources(bi);
    Checks::run("guest-smp", |c| run_vm(&res, kernel_gic_version(), c));
}

fn run_vm(
    res: &Rc<RefCell<Resources>>,
    version: GicVersion,
    c: &mut Checks,
) -> Result<(), sel4vm::Error> {
    let (layout, v) = qemu_virt_gic(version);
    println!("guest-smp: kernel built for GICv{v}; 2 vCPUs, vGICv{v}");
    let backend = Sel4Backend::new(res.clone(), Sel4Config::default())?;
    let config = VmConfig {
        name: "guest-smp".into(),
        max_vcpus: 2,
        ..VmConfig::default()
    };
    let mut vm = Vm::new(backend, config)?;
    for _ in 0..2 {
        vm.create_vcpu(VCPU_PRIORITY)?;
    }
    vm.ram_register_at(RAM_BASE, RAM_SIZE, false)?;
    vm.create_vgic(layout)?;
    let dev = ReportDevice::reserve(&mut vm, "guest-smp", DEV_REGS, DEV_BASE, DEV_SIZE)?;

    load_segments(&mut vm, RAM_BASE, SEGMENTS)?;
    // Only vCPU 0 starts; vCPU 1 waits for PSCI CPU_ON.
    start_el1(&mut vm, V0, ENTRY0, v)?;

    let reason = vm.run();
    println!("guest-smp: run returned {reason:?}");
    c.check(reason == ExitReason::Stopped, || format!("exit {reason:?}"));
    dev.borrow().check_finished(c, V0, DONE_MAGIC);

    let mut r = [0u8; RESULTS_SIZE];
    vm.ram_read(RESULTS, &mut r)?;
    let get = |o| u64_at(&r, o);
    println!(
        "guest-smp: PSCI over HVC/SMC: VERSION {:#x}/{:#x}, SMCCC_VERSION {:#x}, FEATURES(CPU_ON64) {:#x}, FEATURES(unknown) {:#x}, unknown SMC {:#x}, unknown HVC {:#x}",
        get(res::VERSION_HVC),
        get(res::VERSION_SMC),
        get(res::SMCCC_VERSION),
        get(res::FEATURES_CPU_ON),
        get(res::FEATURES_UNKNOWN),
        get(res::UNKNOWN_SMC),
        get(res::UNKNOWN_HVC),
    );
    println!(
        "guest-smp: CPU_ON {:#x}, again {:#x}, MPIDR 5 {:#x}; AFFINITY_INFO(1) before {:#x}, after ON {:#x}, after OFF {:#x}",
        get(res::CPU_ON),
        get(res::CPU_ON_AGAIN),
        get(res::CPU_ON_MISSING),
        get(res::AFF_BEFORE),
        get(res::AFF_AFTER_ON),
        get(res::AFF_AFTER_OFF),
    );
    println!(
        "guest-smp: vCPU1 MPIDR {:#x} x0 {:#x} SCTLR {:#x} flag {:#x}; IAR on vCPU0 {:#x}, on vCPU1 {:#x}",
        get(res::MPIDR1),
        get(res::X0_1),
        get(res::SCTLR1),
        get(res::FLAG_SEEN),
        get(res::IAR0),
        get(res::IAR1),
    );
    let want: [(&str, usize, u64); 19] = [
        (
            "PSCI_VERSION (HVC)",
            res::VERSION_HVC,
            u64::from(PSCI_VERSION_1_1),
        ),
        (
            "PSCI_VERSION (SMC)",
            res::VERSION_SMC,
            u64::from(PSCI_VERSION_1_1),
        ),
        (
            "SMCCC_VERSION",
            res::SMCCC_VERSION,
            u64::from(SMCCC_VERSION_1_1),
        ),
        (
            "PSCI_FEATURES(CPU_ON64)",
            res::FEATURES_CPU_ON,
            code(ret::SUCCESS),
        ),
        (
            "PSCI_FEATURES(unknown)",
            res::FEATURES_UNKNOWN,
            code(ret::NOT_SUPPORTED),
        ),
        ("unknown SMC", res::UNKNOWN_SMC, code(ret::NOT_SUPPORTED)),
        ("unknown HVC", res::UNKNOWN_HVC, code(ret::NOT_SUPPORTED)),
        ("AFFINITY_INFO before CPU_ON", res::AFF_BEFORE, 1),
        ("CPU_ON", res::CPU_ON, code(ret::SUCCESS)),
        ("CPU_ON again", res::CPU_ON_AGAIN, code(ret::ALREADY_ON)),
        (
            "CPU_ON of MPIDR 5",
            res::CPU_ON_MISSING,
            code(ret::INVALID_PARAMETERS),
        ),
        ("AFFINITY_INFO after CPU_ON", res::AFF_AFTER_ON, 0),
        ("AFFINITY_INFO after CPU_OFF", res::AFF_AFTER_OFF, 1),
        ("vCPU 1 x0 (context id)", res::X0_1, CONTEXT_TAG | v),
        ("flag", res::FLAG_SEEN, CONTEXT_TAG | v),
        ("CPU_OFF return (none)", res::CPU_OFF_RET, 0),
        (
            "invalid PSCI calls made",
            res::STRESS_CALLS,
            STRESS_ROUNDS * STRESS_CALLS,
        ),
        ("invalid PSCI calls answered wrongly", res::STRESS_WRONG, 0),
        ("AFFINITY_INFO after the stress", res::AFF_AFTER_STRESS, 1),
    ];
    for (what, off, val) in want {
        let got = get(off);
        c.check(got == val, || format!("{what}: {got:#x}, want {val:#x}"));
    }
    let iar0 = get(res::IAR0);
    let iar1 = get(res::IAR1);
    c.check(
        iar0 >> 31 == 1 && iar0 & 0x3ff == u64::from(SGI_TO_0),
        || format!("vCPU 0 IAR {iar0:#x}, want SGI {SGI_TO_0}"),
    );
    c.check(
        iar1 >> 31 == 1 && iar1 & 0x3ff == u64::from(SGI_TO_1),
        || format!("vCPU 1 IAR {iar1:#x}, want SGI {SGI_TO_1}"),
    );
    let mpidr1 = get(res::MPIDR1);
    c.check(
        mpidr1 & 0xff_00ff_ffff == vcpu_mpidr(V1) & 0xff_00ff_ffff,
        || format!("vCPU 1 MPIDR {mpidr1:#x}"),
    );
    let mpidr0 = get(res::MPIDR0);
    c.check(mpidr0 & 0xff_00ff_ffff == 0, || {
        format!("vCPU 0 MPIDR {mpidr0:#x}")
    });
    let sctlr = get(res::SCTLR1);
    c.check(
        sctlr & 0b101 == 0 && sctlr & CPU_ON_SCTLR == CPU_ON_SCTLR,
        || format!("vCPU 1 entered with SCTLR {sctlr:#x}"),
    );
    c.check(!vm.is_vcpu_online(V1), || {
        "vCPU 1 still online after CPU_OFF"
    });
    c.check(vm.is_vcpu_online(V0), || "vCPU 0 went offline");
    for vc in [V0, V1] {
        let lrs = vm.list_registers(vc);
        c.check(lrs.iter().all(Option::is_none), || {
            format!("{vc}: list registers still hold {lrs:?}")
        });
    }
    let st = vm.stats();
    let v0 = &st.vcpus[0];
    // seL4 delivers a guest HVC as an unknown system call.
    println!(
        "guest-smp: psci stress: {} invalid calls, {} wrong answers; vCPU 0: {} exits, {} HVC, {} SMC",
        get(res::STRESS_CALLS),
        get(res::STRESS_WRONG),
        v0.exits,
        v0.unknown_syscalls + v0.vcpu_faults[0x16],
        v0.vcpu_faults[0x17]
    );
    vm.vcpu_stop(V0)?;
    Ok(())
}
