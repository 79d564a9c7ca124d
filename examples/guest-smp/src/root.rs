//! The root task proper (target only).

use alloc::format;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::RefCell;

use sel4_rt::objects::ObjectAllocator;
use sel4_rt::vspace::VSpaceMapper;
use sel4_rt::{println, BootInfo};
use sel4vm::psci::{code, ret, vcpu_mpidr, CPU_ON_SCTLR, PSCI_VERSION_1_1, SMCCC_VERSION_1_1};
use sel4vm::vgic::GicVersion;
use sel4vm::{ExitReason, FaultResult, GicLayout, MemFault, UserContext, VcpuId, Vm, VmConfig};
use sel4vm_sel4::{Resources, Sel4Backend, Sel4Config};

use crate::guest::*;

sel4_rt::declare_main!(main);

/// Priority of the guest's vCPU threads (the root task runs at 255).
const VCPU_PRIORITY: u8 = 100;
const V0: VcpuId = VcpuId(0);
const V1: VcpuId = VcpuId(1);

type G = Vm<Sel4Backend>;

/// Failed checks, each printed as it happens.
#[derive(Default)]
struct Checks {
    run: u32,
    failed: u32,
}

impl Checks {
    fn check(&mut self, ok: bool, what: impl FnOnce() -> String) {
        self.run += 1;
        if !ok {
            self.failed += 1;
            println!("guest-smp: CHECK FAILED: {}", what());
        }
    }
}

/// The test device: DONE and the report of an unexpected exception.
#[derive(Default)]
struct Device {
    done: Option<(VcpuId, u64)>,
    fail: Option<(VcpuId, u64, u64)>,
    elr: u64,
}

impl Device {
    fn access(&mut self, vm: &mut G, f: &mut MemFault) -> FaultResult {
        if f.is_read() {
            f.set_data(0);
            return FaultResult::Handled;
        }
        match f.address().wrapping_sub(DEV_BASE) {
            DEV_DONE => {
                self.done = Some((f.vcpu, f.data()));
                vm.stop();
            }
            DEV_FAIL_ELR => self.elr = f.data(),
            DEV_FAIL => {
                self.fail = Some((f.vcpu, f.data(), self.elr));
                vm.stop();
            }
            off => {
                println!("guest-smp: write to unknown device register +{off:#x}");
                return FaultResult::Error;
            }
        }
        FaultResult::Handled
    }
}

fn main(bi: &'static BootInfo) {
    println!("guest-smp: root task started");
    let version = if sel4_abi::labels::config::ARM_GIC_V3_SUPPORT {
        GicVersion::V3
    } else {
        GicVersion::V2
    };
    let res = Resources::new(ObjectAllocator::from_bootinfo(bi), VSpaceMapper::default()).shared();
    let mut c = Checks::default();
    if let Err(e) = run_vm(&res, version, &mut c) {
        c.check(false, || format!("{e:?}"));
    }
    if c.failed == 0 {
        println!("guest-smp: {} checks run", c.run);
        println!("guest-smp: all checks passed");
    } else {
        println!("guest-smp: {} of {} checks failed", c.failed, c.run);
    }
}

fn u64_at(r: &[u8], off: usize) -> u64 {
    r.get(off..off + 8)
        .and_then(|b| b.try_into().ok())
        .map_or(0, u64::from_le_bytes)
}

fn run_vm(
    res: &Rc<RefCell<Resources>>,
    version: GicVersion,
    c: &mut Checks,
) -> Result<(), sel4vm::Error> {
    let (layout, v) = match version {
        GicVersion::V2 => (GicLayout::qemu_virt_v2(), 2u64),
        GicVersion::V3 => (GicLayout::qemu_virt_v3(), 3u64),
    };
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
    let dev = Rc::new(RefCell::new(Device::default()));
    let d = dev.clone();
    vm.reserve_memory_at(DEV_BASE, DEV_SIZE, move |vm, f| {
        d.borrow_mut().access(vm, f)
    })?;

    for s in SEGMENTS {
        let bytes: Vec<u8> = s.words.iter().flat_map(|w| w.to_le_bytes()).collect();
        vm.ram_write(RAM_BASE + s.offset, &bytes)?;
    }
    // Only vCPU 0 starts; vCPU 1 waits for PSCI CPU_ON.
    let mut ctx = UserContext::default();
    ctx.set_pc(ENTRY0);
    ctx.set_spsr(SPSR_EL1H_MASKED);
    ctx.set_x(0, v);
    vm.set_thread_context(V0, &ctx)?;
    vm.vcpu_start(V0)?;

    let reason = vm.run();
    println!("guest-smp: run returned {reason:?}");
    c.check(reason == ExitReason::Stopped, || format!("exit {reason:?}"));
    let d = dev.borrow();
    if let Some((vcpu, f, elr)) = d.fail {
        c.check(false, || {
            format!(
                "{vcpu} took exception in vector slot {:#x} (ESR {:#x}) at {elr:#x}",
                f >> 32,
                f & 0xffff_ffff
            )
        });
    }
    c.check(d.done == Some((V0, DONE_MAGIC)), || {
        format!("DONE {:x?}", d.done)
    });
    drop(d);

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
    let want: [(&str, usize, u64); 16] = [
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
        "vCPU 1 still online after CPU_OFF".into()
    });
    c.check(vm.is_vcpu_online(V0), || "vCPU 0 went offline".into());
    for vc in [V0, V1] {
        let lrs = vm.list_registers(vc);
        c.check(lrs.iter().all(Option::is_none), || {
            format!("{vc}: list registers still hold {lrs:?}")
        });
    }
    vm.vcpu_stop(V0)?;
    Ok(())
}
