//! The guest-control and interrupt functions on the host backend.

mod common;
use common::*;

use std::cell::RefCell;
use std::rc::Rc;

use libvmm_compat::{
    CoreIrqOnly, Guest, GuestError, RestartImages, SetupError, SPSR_EL1H_DAIF_MASKED,
};
use sel4vm::{Event, UserContext, VcpuId, VcpuReg, Vm};
use sel4vm_host::{HostAction, HostBackend};

fn guest(vcpus: u32) -> Guest<HostBackend> {
    Guest::new(vm(vcpus), Box::new(CoreIrqOnly)).unwrap()
}

fn actions(g: &mut Guest<HostBackend>) -> Vec<HostAction> {
    g.vm_mut().backend_mut().take_actions()
}

#[test]
fn irq_registration_rules() {
    let mut g = guest(2);
    let noop = |_: &mut Vm<HostBackend>, _: VcpuId, _: u32| {};
    assert_eq!(g.virq_register(0, 40, noop), Err(GuestError::NoController));
    assert_eq!(g.virq_inject(0, 40), Err(GuestError::NoController));
    assert_eq!(g.virq_controller_init(7), Err(GuestError::InvalidVcpu(7)));
    g.virq_controller_init(0).unwrap();
    assert_eq!(g.virq_controller_init(0), Err(GuestError::ControllerExists));
    g.virq_register(0, 40, noop).unwrap();
    assert_eq!(
        g.virq_register(0, 40, noop),
        Err(GuestError::AlreadyRegistered(40))
    );
    // PPIs are banked per vCPU (and, without a guest-visible distributor,
    // so is everything): the same number on another vCPU is another registration.
    g.virq_register(1, 40, noop).unwrap();
    g.virq_register(0, 20, noop).unwrap();
    g.virq_register(1, 20, noop).unwrap();
    assert_eq!(
        g.virq_register(1, 20, noop),
        Err(GuestError::AlreadyRegistered(20))
    );
    assert_eq!(g.virq_register(0, 5, noop), Err(GuestError::InvalidIrq(5)));
    assert_eq!(
        g.virq_register(0, 1020, noop),
        Err(GuestError::InvalidIrq(1020))
    );
    assert_eq!(
        g.virq_register(2, 41, noop),
        Err(GuestError::InvalidVcpu(2))
    );
    assert_eq!(g.virq_inject(0, 41), Err(GuestError::NotRegistered(41)));
    actions(&mut g);
    g.virq_inject(0, 40).unwrap();
    assert!(
        matches!(actions(&mut g)[..], [HostAction::Inject { vcpu: VcpuId(0), irq }] if irq.irq == 40)
    );
}

#[test]
fn passthrough_injects_and_acks_the_channel() {
    let mut g = guest(1);
    g.virq_controller_init(0).unwrap();
    let acked = Rc::new(RefCell::new(Vec::new()));
    let a = acked.clone();
    g.virq_register_passthrough(0, 33, 5, move |ch| a.borrow_mut().push(ch))
        .unwrap();
    assert_eq!(
        g.virq_register_passthrough(0, 34, 5, |_| {}),
        Err(GuestError::ChannelInUse(5))
    );
    // The IRQ itself is taken, whatever the channel.
    assert_eq!(
        g.virq_register_passthrough(0, 33, 6, |_| {}),
        Err(GuestError::AlreadyRegistered(33))
    );
    assert_eq!(
        g.passthrough_irq(6),
        None,
        "failed registration left no channel behind"
    );
    assert_eq!(
        g.virq_handle_passthrough(9),
        Err(GuestError::UnknownChannel(9))
    );
    g.vm_mut().vcpu_start(VcpuId(0)).unwrap();
    actions(&mut g);
    g.virq_handle_passthrough(5).unwrap();
    let inj: Vec<_> = actions(&mut g)
        .into_iter()
        .filter_map(|a| match a {
            HostAction::Inject { irq, .. } => Some(irq),
            _ => None,
        })
        .collect();
    assert_eq!(inj.len(), 1);
    assert_eq!(inj[0].irq, 33);
    assert!(
        acked.borrow().is_empty(),
        "no ack before the guest completes the IRQ"
    );
    // The guest EOIs: the list register frees and the hardware line is acked.
    g.vm_mut().backend_mut().push_event(Event::VgicMaintenance {
        vcpu: VcpuId(0),
        lr: Some(u32::from(inj[0].lr)),
    });
    g.vm_mut().run();
    assert_eq!(*acked.borrow(), vec![5]);
}

#[test]
fn guest_start_sets_the_boot_registers() {
    let mut g = guest(2);
    // Dirty the registers first: guest_start must zero them.
    let mut dirty = UserContext::default();
    dirty.words.fill(0x1234);
    g.vm_mut().set_thread_context(VcpuId(0), &dirty).unwrap();
    g.guest_start(0, 0x4020_0000, 0x4200_0000, 0x4300_0000)
        .unwrap();
    let ctx = g.vm_mut().get_thread_context(VcpuId(0)).unwrap();
    assert_eq!(ctx.pc(), 0x4020_0000);
    assert_eq!(ctx.x(0), Some(0x4200_0000));
    assert_eq!(ctx.spsr(), SPSR_EL1H_DAIF_MASKED);
    for n in 1..=30 {
        assert_eq!(ctx.x(n), Some(0), "x{n}");
    }
    assert_eq!(ctx.sp(), 0);
    assert!(g.vm().is_vcpu_online(VcpuId(0)));
    assert!(
        !g.vm().is_vcpu_online(VcpuId(1)),
        "secondaries wait for PSCI CPU_ON"
    );
    assert!(actions(&mut g).contains(&HostAction::Start(VcpuId(0))));
    assert_eq!(g.guest_start(3, 0, 0, 0), Err(GuestError::InvalidVcpu(3)));
}

#[test]
fn guest_stop_stops_every_vcpu() {
    let mut g = guest(3);
    g.guest_start(0, 0x4020_0000, 0, 0).unwrap();
    g.vm_mut().vcpu_start(VcpuId(2)).unwrap();
    actions(&mut g);
    g.guest_stop(0).unwrap();
    let a = actions(&mut g);
    assert!(
        a.contains(&HostAction::Stop(VcpuId(0))) && a.contains(&HostAction::Stop(VcpuId(2))),
        "{a:?}"
    );
    assert!(
        !a.contains(&HostAction::Stop(VcpuId(1))),
        "vCPU 1 was never started"
    );
    assert!(g.vm().vcpus().iter().all(|v| !v.is_online()));
}

fn leak(v: Vec<u8>) -> &'static [u8] {
    Box::leak(v.into_boxed_slice())
}

#[test]
fn guest_restart_reloads_everything() {
    let mut g = guest(2);
    let k = leak(image(0, 2 * MIB, FLAGS, 50_000));
    let initrd = leak(vec![0x11; 10_000]);
    let (kbase, dtb_at, initrd_at) = (RAM + 2 * MIB, RAM + 8 * MIB, RAM + 10 * MIB);
    let d = dtb(Some((initrd_at, initrd_at + initrd.len() as u64)));
    let images = RestartImages {
        ram_start: kbase,
        kernel: k,
        dtb: d.clone(),
        dtb_dest: dtb_at,
        initrd,
        initrd_dest: initrd_at,
    };
    assert_eq!(g.guest_restart(0), Err(GuestError::NoImages));
    g.virq_controller_init(0).unwrap();
    g.set_restart_images(images.clone());
    // A guest that ran: vCPUs on, registers changed, RAM scribbled on.
    g.guest_start(0, 0x1111, 0x2222, 0).unwrap();
    g.vm_mut().vcpu_start(VcpuId(1)).unwrap();
    g.vm_mut()
        .set_arm_vcpu_reg(VcpuId(1), VcpuReg::Sctlr, 0x3000_1805)
        .unwrap();
    g.vm_mut()
        .set_arm_vcpu_reg(VcpuId(0), VcpuReg::Ttbr1, 0xdead_0000)
        .unwrap();
    g.vm_mut().guest_memory().write(kbase, &[0xEE; 64]).unwrap();
    actions(&mut g);

    g.guest_restart(0).unwrap();
    let a = actions(&mut g);
    assert!(a.contains(&HostAction::Stop(VcpuId(0))) && a.contains(&HostAction::Stop(VcpuId(1))));
    assert_eq!(
        a.last(),
        Some(&HostAction::Start(VcpuId(0))),
        "boot vCPU started last: {a:?}"
    );
    assert!(!g.vm().is_vcpu_online(VcpuId(1)));
    assert_eq!(
        g.vm_mut()
            .get_arm_vcpu_reg(VcpuId(1), VcpuReg::Sctlr)
            .unwrap(),
        0
    );
    assert_eq!(
        g.vm_mut()
            .get_arm_vcpu_reg(VcpuId(0), VcpuReg::Ttbr1)
            .unwrap(),
        0
    );
    let ctx = g.vm_mut().get_thread_context(VcpuId(0)).unwrap();
    assert_eq!((ctx.pc(), ctx.x(0)), (kbase, Some(dtb_at)));
    assert_eq!(read(g.vm_mut(), kbase, k.len()), k);
    assert_eq!(read(g.vm_mut(), dtb_at, d.len()), d);
    assert_eq!(read(g.vm_mut(), initrd_at, initrd.len()), initrd);
    // Everything else is zero now (was 0xAA).
    assert_eq!(read(g.vm_mut(), RAM, 4096), vec![0; 4096]);
    assert_eq!(read(g.vm_mut(), RAM + RAM_SIZE - 4096, 4096), vec![0; 4096]);
    assert_eq!(
        read(g.vm_mut(), kbase + k.len() as u64, 4096),
        vec![0; 4096]
    );

    // Bad new images: refused before anything is stopped or erased.
    let bad = RestartImages {
        kernel: leak(vec![0; 4096]),
        ..images
    };
    let before = ram_hash(g.vm_mut());
    assert_eq!(
        g.guest_restart_with(0, bad),
        Err(GuestError::Setup(SetupError::NotLinux))
    );
    assert_eq!(ram_hash(g.vm_mut()), before);
    assert!(g.vm().is_vcpu_online(VcpuId(0)), "guest keeps running");
    assert!(!actions(&mut g)
        .iter()
        .any(|a| matches!(a, HostAction::Stop(_))));
}
