//! The vGIC, virtual timer and PSCI wired into a VM's event loop, driven
//! through the host backend: guest MMIO to the distributor, SGIs between
//! vCPUs waking WFI, VPPI acks, PSCI over SMC and HVC, system off/reset.

use sel4vm::psci::{fid, ret};
use sel4vm::vgic::{regs, GicVersion};
use sel4vm::{
    Error, Event, ExitReason, GicLayout, Rights, UserContext, VcpuId, VcpuReg, VcpuState,
    VirqInjection, Vm, VmConfig,
};
use sel4vm_host::{HostAction, HostBackend};

const RAM: u64 = 0x4000_0000;
const RAM_SIZE: u64 = 0x10_0000;
const PC: u64 = 0x4000_0100;
const V0: VcpuId = VcpuId(0);
const V1: VcpuId = VcpuId(1);

/// GICv2 layout whose GICV "physical" frames lie in the host backend's 1:1 window.
fn layout_v2() -> GicLayout {
    GicLayout {
        vcpu_interface_paddr: 0x5ff0_0000,
        ..GicLayout::qemu_virt_v2()
    }
}

/// Two-vCPU VM, vCPU 0 running at PC, vCPU 1 created but off.
fn vm2(gic: Option<GicLayout>) -> Vm<HostBackend> {
    let mut vm = Vm::new(
        HostBackend::new(),
        VmConfig {
            max_vcpus: 2,
            ..Default::default()
        },
    )
    .unwrap();
    vm.ram_register_at(RAM, RAM_SIZE, false).unwrap();
    for _ in 0..2 {
        vm.create_vcpu(100).unwrap();
    }
    match gic {
        Some(l) => vm.create_vgic(l).unwrap(),
        None => vm.create_default_irq_controller().unwrap(),
    }
    vm.vcpu_start(V0).unwrap();
    for v in [V0, V1] {
        set_ctx(&mut vm, v, |c| c.set_pc(PC));
    }
    vm.backend_mut().take_actions();
    vm
}

fn set_ctx(vm: &mut Vm<HostBackend>, v: VcpuId, f: impl FnOnce(&mut UserContext)) {
    let mut c = vm.get_thread_context(v).unwrap();
    f(&mut c);
    vm.set_thread_context(v, &c).unwrap();
}

fn x(vm: &mut Vm<HostBackend>, v: VcpuId, n: usize) -> u64 {
    vm.get_thread_context(v).unwrap().x(n).unwrap()
}

/// Data abort with a valid syndrome: `size_log2`, transfer register `srt`.
fn dabt(size_log2: u32, srt: u32, write: bool) -> u32 {
    (0x24 << 26)
        | (1 << 25)
        | (1 << 24)
        | (size_log2 << 22)
        | (srt << 16)
        | ((write as u32) << 6)
        | 0x07
}

/// Guest store of `value` (via x1) of `1 << size_log2` bytes to `addr`.
fn store(vm: &mut Vm<HostBackend>, v: VcpuId, addr: u64, size_log2: u32, value: u64) {
    set_ctx(vm, v, |c| {
        c.set_pc(PC);
        c.set_x(1, value);
    });
    vm.backend_mut().push_event(Event::VmFault {
        vcpu: v,
        ip: PC,
        addr,
        fsr: dabt(size_log2, 1, true),
        prefetch: false,
    });
    assert_eq!(vm.run(), ExitReason::Idle);
}

/// Guest 32-bit load from `addr` into x2; returns it.
fn load(vm: &mut Vm<HostBackend>, v: VcpuId, addr: u64) -> u64 {
    set_ctx(vm, v, |c| {
        c.set_pc(PC);
        c.set_x(2, 0xdead);
    });
    vm.backend_mut().push_event(Event::VmFault {
        vcpu: v,
        ip: PC,
        addr,
        fsr: dabt(2, 2, false),
        prefetch: false,
    });
    assert_eq!(vm.run(), ExitReason::Idle);
    x(vm, v, 2)
}

const GICD: u64 = 0x0800_0000;

fn injections(vm: &mut Vm<HostBackend>) -> Vec<(VcpuId, VirqInjection)> {
    vm.backend_mut()
        .take_actions()
        .into_iter()
        .filter_map(|a| match a {
            HostAction::Inject { vcpu, irq } => Some((vcpu, irq)),
            _ => None,
        })
        .collect()
}

#[test]
fn create_vgic_reserves_distributor_and_maps_cpu_interface() {
    let vm = vm2(Some(layout_v2()));
    let gicc = vm
        .guest_vspace()
        .lookup(0x0801_1000)
        .expect("GICC page 2 mapped");
    assert_eq!(
        gicc.rights,
        Rights {
            read: true,
            write: true,
            execute: false
        }
    );
    assert!(vm.guest_vspace().lookup(0x0801_0000).is_some());
    assert!(
        vm.guest_vspace().lookup(GICD).is_none(),
        "distributor is emulated, not mapped"
    );
    assert!(vm
        .reservations()
        .iter()
        .any(|r| r.region() == (GICD, 0x1000)));
    assert_eq!(vm.gic_layout(), Some(layout_v2()));
    // One controller per VM.
    let mut vm = vm;
    assert_eq!(vm.create_vgic(layout_v2()), Err(Error::IrqControllerExists));
    assert_eq!(
        vm.create_default_irq_controller(),
        Err(Error::IrqControllerExists)
    );
}

#[test]
fn create_vgic_fails_cleanly_without_the_cpu_interface_frames() {
    let mut vm = Vm::new(
        HostBackend::new(),
        VmConfig {
            max_vcpus: 2,
            ..Default::default()
        },
    )
    .unwrap();
    // The default GICV address is outside the host backend's 1:1 window.
    assert!(vm.create_vgic(GicLayout::qemu_virt_v2()).is_err());
    assert!(vm.vgic().is_none());
    // Too many vCPUs for a GICv2.
    let mut vm = Vm::new(
        HostBackend::new(),
        VmConfig {
            max_vcpus: 9,
            ..Default::default()
        },
    )
    .unwrap();
    assert!(matches!(vm.create_vgic(layout_v2()), Err(Error::Vgic(_))));
}

#[test]
fn guest_programs_distributor_through_mmio() {
    let mut vm = vm2(Some(layout_v2()));
    // TYPER: 288 INTIDs -> ITLinesNumber 8, 2 CPUs.
    assert_eq!(load(&mut vm, V0, GICD + regs::GICD_TYPER), 8 | (1 << 5));
    vm.register_irq(V0, 33, |_, _, _| {}).unwrap();
    // Not enabled by the guest yet: the injection waits.
    vm.inject_irq(V0, 33).unwrap();
    assert!(injections(&mut vm).is_empty());
    store(&mut vm, V0, GICD + regs::GICD_CTLR, 2, 1);
    store(&mut vm, V0, GICD + regs::GICD_ITARGETSR + 33, 0, 0x02);
    store(&mut vm, V0, GICD + regs::GICD_IPRIORITYR + 33, 0, 0xa0);
    store(&mut vm, V0, GICD + regs::GICD_ISENABLER + 4, 2, 1 << 1);
    assert_eq!(
        injections(&mut vm),
        vec![(
            V1,
            VirqInjection {
                irq: 33,
                priority: 0xa0 >> 3,
                group: 0,
                lr: 0
            }
        )]
    );
    assert_eq!(load(&mut vm, V1, GICD + regs::GICD_ISENABLER + 4), 1 << 1);
    // Every access stepped over its instruction.
    assert!(vm.backend().replies().iter().all(|&(_, pc)| pc == PC + 4));
}

#[test]
fn bad_guest_accesses_are_ignored_and_the_vm_keeps_running() {
    let mut vm = vm2(Some(layout_v2()));
    // Halfword store to CTLR: wrong width, ignored.
    store(&mut vm, V0, GICD + regs::GICD_CTLR, 1, 1);
    assert_eq!(load(&mut vm, V0, GICD + regs::GICD_CTLR), 0);
    // Read-only register and reserved offset.
    store(&mut vm, V0, GICD + regs::GICD_TYPER, 2, 0);
    store(&mut vm, V0, GICD + 0x7fc, 2, 0xffff_ffff);
    assert_eq!(load(&mut vm, V0, GICD + 0x7fc), 0);
    // Doubleword load from the distributor: ignored, reads zero.
    vm.backend_mut().push_event(Event::VmFault {
        vcpu: V0,
        ip: PC,
        addr: GICD,
        fsr: dabt(3, 2, false),
        prefetch: false,
    });
    assert_eq!(vm.run(), ExitReason::Idle);
    assert_eq!(x(&mut vm, V0, 2), 0);
    assert_eq!(vm.vcpu(V0).unwrap().state(), VcpuState::Running);
}

#[test]
fn sgi_wakes_the_target_vcpu_from_wfi() {
    let mut vm = vm2(Some(layout_v2()));
    vm.vcpu_start(V1).unwrap();
    store(&mut vm, V0, GICD + regs::GICD_CTLR, 2, 1);
    store(&mut vm, V1, GICD + regs::GICD_ISENABLER, 2, 0xffff);
    vm.backend_mut().take_actions();
    // vCPU 1 waits for an interrupt.
    let wfi = (0x01 << 26) | (1 << 25);
    set_ctx(&mut vm, V1, |c| c.set_pc(PC));
    vm.backend_mut()
        .push_event(Event::VcpuFault { vcpu: V1, hsr: wfi });
    assert_eq!(vm.run(), ExitReason::Idle);
    assert_eq!(vm.vcpu(V1).unwrap().state(), VcpuState::WaitingForIrq);
    // vCPU 0 sends SGI 7 to vCPU 1 through GICD_SGIR.
    store(&mut vm, V0, GICD + regs::GICD_SGIR, 2, (0b10 << 16) | 7);
    let acts = vm.backend_mut().take_actions();
    assert!(acts.contains(&HostAction::Inject {
        vcpu: V1,
        irq: VirqInjection {
            irq: 7,
            priority: 0,
            group: 0,
            lr: 0
        }
    }));
    assert!(
        acts.contains(&HostAction::Reply {
            vcpu: V1,
            pc: PC + 4
        }),
        "woken past its WFI: {acts:?}"
    );
    assert_eq!(vm.vcpu(V1).unwrap().state(), VcpuState::Running);
    // vCPU 1 completes it.
    vm.backend_mut().push_event(Event::VgicMaintenance {
        vcpu: V1,
        lr: Some(0),
    });
    assert_eq!(vm.run(), ExitReason::Idle);
    assert_eq!(vm.list_registers(V1), vec![None; 4]);
}

#[test]
fn timer_vppi_is_injected_and_acked_after_eoi() {
    let mut vm = vm2(None);
    vm.backend_mut()
        .push_event(Event::VppiEvent { vcpu: V0, irq: 27 });
    assert_eq!(vm.run(), ExitReason::Idle);
    let acts = vm.backend_mut().take_actions();
    assert_eq!(
        acts[0],
        HostAction::Inject {
            vcpu: V0,
            irq: VirqInjection {
                irq: 27,
                priority: 0,
                group: 0,
                lr: 0
            }
        }
    );
    assert!(
        !acts.iter().any(|a| matches!(a, HostAction::AckVppi { .. })),
        "no ack before EOI"
    );
    vm.backend_mut().push_event(Event::VgicMaintenance {
        vcpu: V0,
        lr: Some(0),
    });
    assert_eq!(vm.run(), ExitReason::Idle);
    assert!(vm
        .backend_mut()
        .take_actions()
        .contains(&HostAction::AckVppi { vcpu: V0, irq: 27 }));
    // A VPPI with nobody interested is acked at once.
    vm.backend_mut()
        .push_event(Event::VppiEvent { vcpu: V0, irq: 26 });
    vm.run();
    assert!(vm
        .backend_mut()
        .take_actions()
        .contains(&HostAction::AckVppi { vcpu: V0, irq: 26 }));
}

#[test]
fn a_reset_with_a_timer_interrupt_in_flight_unmasks_the_kernel_timer() {
    // Seen on seL4: a restart while the guest had not completed a timer
    // interrupt left the kernel's virtual timer masked for the new guest
    // (no more timer interrupts, WFI returning at once in a loop).
    let mut vm = vm2(None);
    vm.backend_mut()
        .push_event(Event::VppiEvent { vcpu: V0, irq: 27 });
    assert_eq!(vm.run(), ExitReason::Idle);
    vm.backend_mut().take_actions();
    vm.reset_irq_controller().unwrap();
    let acts = vm.backend_mut().take_actions();
    assert!(
        acts.contains(&HostAction::AckVppi { vcpu: V0, irq: 27 }),
        "{acts:?}"
    );
    assert!(!acts
        .iter()
        .any(|a| matches!(a, HostAction::AckVppi { vcpu: V1, .. })));
    // Nothing in flight: a reset acks nothing.
    vm.reset_irq_controller().unwrap();
    assert!(!vm
        .backend_mut()
        .take_actions()
        .iter()
        .any(|a| matches!(a, HostAction::AckVppi { .. })));
    // The next timer interrupt goes through as usual.
    vm.backend_mut()
        .push_event(Event::VppiEvent { vcpu: V0, irq: 27 });
    assert_eq!(vm.run(), ExitReason::Idle);
    assert!(matches!(
        vm.backend_mut().take_actions()[0],
        HostAction::Inject { vcpu: V0, .. }
    ));
}

const SMC: u32 = (0x17 << 26) | (1 << 25);
const HVC: u32 = (0x16 << 26) | (1 << 25);

/// The guest on `v` calls `x0..x3` through `conduit`; returns its x0 after.
fn call(vm: &mut Vm<HostBackend>, v: VcpuId, conduit: u32, args: [u64; 4]) -> ExitReason {
    set_ctx(vm, v, |c| {
        c.set_pc(PC);
        for (i, a) in args.iter().enumerate() {
            c.set_x(i, *a);
        }
    });
    vm.backend_mut().push_event(Event::VcpuFault {
        vcpu: v,
        hsr: conduit,
    });
    vm.run()
}

#[test]
fn psci_cpu_on_starts_the_secondary_with_entry_and_context() {
    let mut vm = vm2(None);
    let r = call(
        &mut vm,
        V0,
        SMC,
        [fid::CPU_ON64.into(), 1, 0x4000_8000, 0x1234],
    );
    assert_eq!(r, ExitReason::Idle);
    assert_eq!(x(&mut vm, V0, 0), 0, "SUCCESS");
    let acts = vm.backend_mut().take_actions();
    assert!(acts.contains(&HostAction::Start(V1)));
    assert!(
        acts.contains(&HostAction::Reply {
            vcpu: V0,
            pc: PC + 4
        }),
        "SMC is stepped over"
    );
    let c = vm.get_thread_context(V1).unwrap();
    assert_eq!(
        (c.pc(), c.x(0), c.spsr()),
        (0x4000_8000, Some(0x1234), 0x3c5)
    );
    assert_eq!(
        vm.get_arm_vcpu_reg(V1, VcpuReg::Sctlr).unwrap() & 1,
        0,
        "MMU off"
    );
    assert_eq!(
        vm.get_arm_vcpu_reg(V1, VcpuReg::VmpidrEl2).unwrap() & 0xff,
        1,
        "Aff0 = 1"
    );
    assert!(vm.is_vcpu_online(V1));
    // Again: already on. HVC conduit, not stepped.
    let r = call(&mut vm, V0, HVC, [fid::CPU_ON64.into(), 1, 0x4000_8000, 0]);
    assert_eq!(r, ExitReason::Idle);
    assert_eq!(x(&mut vm, V0, 0), ret::ALREADY_ON as i64 as u64);
    assert_eq!(vm.backend().replies().last(), Some(&(V0, PC)));
    // Bad target and bad entry point.
    call(&mut vm, V0, SMC, [fid::CPU_ON64.into(), 7, 0x4000_8000, 0]);
    assert_eq!(x(&mut vm, V0, 0), ret::INVALID_PARAMETERS as i64 as u64);
    call(&mut vm, V1, SMC, [fid::CPU_OFF.into(), 0, 0, 0]);
    assert!(!vm.is_vcpu_online(V1));
    assert!(vm
        .backend_mut()
        .take_actions()
        .contains(&HostAction::Stop(V1)));
    call(&mut vm, V0, SMC, [fid::CPU_ON64.into(), 1, 0x9000_0000, 0]);
    assert_eq!(x(&mut vm, V0, 0), ret::INVALID_ADDRESS as i64 as u64);
    // AFFINITY_INFO sees it off.
    call(&mut vm, V0, HVC, [fid::AFFINITY_INFO64.into(), 1, 0, 0]);
    assert_eq!(x(&mut vm, V0, 0), 1);
}

#[test]
fn unknown_smc_and_hvc_calls_return_not_supported() {
    let mut vm = vm2(None);
    for (conduit, f) in [
        (SMC, 0xc200_0001u64),
        (HVC, 0x8600_ff01),
        (SMC, fid::MIGRATE.into()),
    ] {
        assert_eq!(call(&mut vm, V0, conduit, [f, 1, 2, 3]), ExitReason::Idle);
        assert_eq!(x(&mut vm, V0, 0), u64::MAX, "{f:#x}");
        assert_eq!(x(&mut vm, V0, 1), 1, "arguments untouched");
    }
    call(&mut vm, V0, HVC, [fid::PSCI_VERSION.into(), 0, 0, 0]);
    assert_eq!(x(&mut vm, V0, 0), 0x1_0001);
    call(
        &mut vm,
        V0,
        SMC,
        [fid::PSCI_FEATURES.into(), fid::SMCCC_VERSION.into(), 0, 0],
    );
    assert_eq!(x(&mut vm, V0, 0), 0);
    // HVC #1 is not SMCCC.
    call(&mut vm, V0, HVC | 1, [fid::PSCI_VERSION.into(), 0, 0, 0]);
    assert_eq!(x(&mut vm, V0, 0), u64::MAX);
}

#[test]
fn system_off_and_reset_end_the_run() {
    let mut vm = vm2(None);
    vm.vcpu_start(V1).unwrap();
    assert_eq!(
        call(&mut vm, V1, SMC, [fid::SYSTEM_OFF.into(), 0, 0, 0]),
        ExitReason::SystemOff { vcpu: V1 }
    );
    assert!(!vm.is_vcpu_online(V0) && !vm.is_vcpu_online(V1));
    assert_eq!(vm.exit_reason().code(), 0);
    // The VMM restarts the VM and the guest asks for a reset.
    vm.reset_irq_controller().unwrap();
    vm.vcpu_start(V0).unwrap();
    assert_eq!(
        call(&mut vm, V0, HVC, [fid::SYSTEM_RESET.into(), 0, 0, 0]),
        ExitReason::SystemReset { vcpu: V0 }
    );
    assert!(!vm.is_vcpu_online(V0));
    // The last vCPU turning itself off powers the system off too.
    vm.vcpu_start(V0).unwrap();
    assert_eq!(
        call(&mut vm, V0, SMC, [fid::CPU_OFF.into(), 0, 0, 0]),
        ExitReason::SystemOff { vcpu: V0 }
    );
}

/// MSR ICC_SGI1R_EL1, x1.
const SGI1R_WRITE: u32 =
    (0x18 << 26) | (1 << 25) | (3 << 20) | (5 << 17) | (12 << 10) | (1 << 5) | (11 << 1);

#[test]
fn gicv3_sgi_through_trapped_icc_sgi1r() {
    let mut vm = vm2(Some(GicLayout::qemu_virt_v3()));
    vm.vcpu_start(V1).unwrap();
    let l = vm.gic_layout().unwrap();
    assert_eq!(l.version, GicVersion::V3);
    assert!(vm
        .reservations()
        .iter()
        .any(|r| r.region() == (0x080a_0000, 0x40000)));
    // Guest enables the distributor and, via vCPU 1's redistributor, SGIs as group 1.
    store(&mut vm, V0, GICD + regs::GICD_CTLR, 2, 3);
    let sgi_frame = 0x080a_0000 + regs::GICR_STRIDE + regs::GICR_SGI_BASE;
    store(&mut vm, V1, sgi_frame + regs::GICD_IGROUPR, 2, 0xffff_ffff);
    store(&mut vm, V1, sgi_frame + regs::GICD_ISENABLER, 2, 0xffff);
    // GICR_TYPER of frame 1 names Aff0 = 1 and is the last.
    let t = load(
        &mut vm,
        V0,
        0x080a_0000 + regs::GICR_STRIDE + regs::GICR_TYPER + 4,
    );
    assert_eq!(t, 1);
    vm.backend_mut().take_actions();
    set_ctx(&mut vm, V0, |c| {
        c.set_pc(PC);
        c.set_x(1, (3 << 24) | 0b10);
    });
    vm.backend_mut().push_event(Event::VcpuFault {
        vcpu: V0,
        hsr: SGI1R_WRITE,
    });
    assert_eq!(vm.run(), ExitReason::Idle);
    let acts = vm.backend_mut().take_actions();
    assert!(acts.contains(&HostAction::Inject {
        vcpu: V1,
        irq: VirqInjection {
            irq: 3,
            priority: 0,
            group: 1,
            lr: 0
        }
    }));
    assert!(acts.contains(&HostAction::Reply {
        vcpu: V0,
        pc: PC + 4
    }));
    // Another trapped system register is still an unhandled VCPU fault.
    let cntp = (0x18 << 26) | (1 << 25) | (3 << 20) | (3 << 14) | (14 << 10) | (2 << 1);
    vm.backend_mut().push_event(Event::VcpuFault {
        vcpu: V0,
        hsr: cntp,
    });
    assert_eq!(
        vm.run(),
        ExitReason::UnhandledVcpuFault {
            vcpu: V0,
            hsr: cntp
        }
    );
}

/// `Vm::unregister_irq` (libvmm 0.2.0's `virq_deregister`): the line is
/// lowered, later injections fail, an EOI of the copy already in a list
/// register is harmless, and the IRQ can be registered again.
#[test]
fn an_unregistered_irq_cannot_be_injected_and_can_be_registered_again() {
    let mut vm = vm2(Some(layout_v2()));
    let acks = std::rc::Rc::new(std::cell::Cell::new(0));
    let a = acks.clone();
    vm.register_irq(V0, 33, move |_, _, _| a.set(a.get() + 1))
        .unwrap();
    store(&mut vm, V0, GICD + regs::GICD_CTLR, 2, 1);
    store(&mut vm, V0, GICD + regs::GICD_ITARGETSR + 33, 0, 0x01);
    store(&mut vm, V0, GICD + regs::GICD_ISENABLER + 4, 2, 1 << 1);
    vm.inject_irq(V0, 33).unwrap();
    assert_eq!(injections(&mut vm).len(), 1);
    vm.unregister_irq(V0, 33).unwrap();
    assert!(matches!(
        vm.inject_irq(V0, 33),
        Err(sel4vm::Error::IrqNotRegistered(33))
    ));
    assert!(matches!(
        vm.unregister_irq(V0, 33),
        Err(sel4vm::Error::IrqNotRegistered(33))
    ));
    // The guest finishes the copy it already had: no callback, no stop.
    vm.backend_mut().push_event(Event::VgicMaintenance {
        vcpu: V0,
        lr: Some(0),
    });
    assert_eq!(vm.run(), ExitReason::Idle);
    assert_eq!(acks.get(), 0);
    vm.register_irq(V0, 33, |_, _, _| {}).unwrap();
    vm.inject_irq(V0, 33).unwrap();
}
