mod common;
use common::*;
use std::cell::RefCell;
use std::rc::Rc;

use sel4vm::Backend;
use sel4vm::{
    badge, Action, BackendError, Error, Event, ExitReason, FaultResult, MapFrame, MapMode,
    MemFault, Rights, VcpuId, VcpuReg, VcpuState,
};
use sel4vm_host::{HostAction, HostBackend};

const DEV: u64 = 0x9000_0000;
const PC: u64 = 0x4000_0100;

type Log = Rc<RefCell<Vec<(u64, usize, bool, u64)>>>;

/// VM with RAM at RAM (so instructions can be fetched) and a device that
/// records accesses and answers reads with `read_value`.
fn mmio_vm(read_value: u64) -> (sel4vm::Vm<HostBackend>, VcpuId, Log) {
    let (mut vm, v) = vm_with_vcpu();
    vm.ram_register_at(RAM, 4 * PAGE, false).unwrap();
    let log: Log = Rc::default();
    let l = log.clone();
    vm.reserve_memory_at(DEV, PAGE, move |_, f: &mut MemFault| {
        l.borrow_mut()
            .push((f.address(), f.size(), f.is_write(), f.data()));
        if f.is_read() {
            f.set_data(read_value);
        }
        FaultResult::Handled
    })
    .unwrap();
    set_ctx(&mut vm, v, |c| c.set_pc(PC));
    vm.backend_mut().take_actions();
    (vm, v, log)
}

fn vm_fault(vcpu: VcpuId, addr: u64, fsr: u32) -> Event {
    Event::VmFault {
        vcpu,
        ip: PC,
        addr,
        fsr,
        prefetch: false,
    }
}

#[test]
fn mmio_store_with_syndrome_is_emulated_and_advanced() {
    let (mut vm, v, log) = mmio_vm(0);
    set_ctx(&mut vm, v, |c| {
        c.set_x(1, 0xdead_beef_cafe_f00d);
    });
    vm.backend_mut()
        .push_event(vm_fault(v, DEV + 0x10, dabt(2, 1, true, false, false)));
    assert_eq!(vm.run(), ExitReason::Idle);
    assert_eq!(*log.borrow(), vec![(DEV + 0x10, 4, true, 0xcafe_f00d)]);
    assert_eq!(vm.backend().replies(), vec![(v, PC + 4)]);
    let f = *vm.vcpu(v).unwrap().last_fault().unwrap();
    assert_eq!(
        (f.address(), f.ip(), f.size(), f.is_read()),
        (DEV + 0x10, PC, 4, false)
    );
    assert_eq!(f.data_mask(), 0xffff_ffff);
    assert_eq!(f.emulate(0x1111_1111_0000_0000), 0x1111_1111_cafe_f00d);
}

#[test]
fn mmio_load_merges_mask_and_sign_extension() {
    // ldrsb x3: SAS=0, SSE, SF
    let (mut vm, v, _) = mmio_vm(0x1234_5680);
    vm.backend_mut()
        .push_event(vm_fault(v, DEV + 1, dabt(0, 3, false, true, true)));
    // ldr w4: SAS=2, no SF -> upper half cleared
    vm.backend_mut()
        .push_event(vm_fault(v, DEV + 4, dabt(2, 4, false, false, false)));
    // ldr xzr: result discarded
    vm.backend_mut()
        .push_event(vm_fault(v, DEV + 8, dabt(3, 31, false, false, true)));
    set_ctx(&mut vm, v, |c| {
        c.set_x(4, u64::MAX);
    });
    assert_eq!(vm.run(), ExitReason::Idle);
    let ctx = vm.get_thread_context(v).unwrap();
    assert_eq!(ctx.x(3), Some(0xffff_ffff_ffff_ff80));
    assert_eq!(ctx.x(4), Some(0x1234_5680));
    assert_eq!(ctx.pc(), PC + 12);
    assert_eq!(vm.backend().replies().len(), 3);
    let f = vm.vcpu(v).unwrap().last_fault().unwrap();
    assert_eq!(f.data_mask(), u64::MAX);
}

#[test]
fn isv0_instruction_is_fetched_decoded_and_written_back() {
    let (mut vm, v, log) = mmio_vm(0x1122_3344_5566_7788);
    // ldr x1, [x2], #8 (post-index): no valid syndrome.
    let insn: u32 = 0xF840_8441;
    let a = sel4vm::arch::insn::decode_load_store(insn).unwrap();
    assert_eq!((a.rt, a.base()), (1, Some(2)));
    vm.ram_write(PC, &insn.to_le_bytes()).unwrap();
    set_ctx(&mut vm, v, |c| {
        c.set_x(2, DEV + 0x20);
    });
    vm.backend_mut()
        .push_event(vm_fault(v, DEV + 0x20, dabt_no_isv(false)));
    // str w5, [x6, #4]! (pre-index store)
    let st: u32 = 0xB800_4CC5;
    let s = sel4vm::arch::insn::decode_load_store(st).unwrap();
    assert_eq!((s.rt, s.base()), (5, Some(6)));
    vm.backend_mut().push_event(Event::VmFault {
        vcpu: v,
        ip: PC + 4,
        addr: DEV + 0x34,
        fsr: dabt_no_isv(true),
        prefetch: false,
    });
    vm.ram_write(PC + 4, &st.to_le_bytes()).unwrap();
    set_ctx(&mut vm, v, |c| {
        c.set_x(5, 0xaaaa_bbbb_cccc_dddd);
        c.set_x(6, DEV + 0x30);
    });
    assert_eq!(vm.run(), ExitReason::Idle);
    let ctx = vm.get_thread_context(v).unwrap();
    assert_eq!(ctx.x(1), Some(0x1122_3344_5566_7788));
    assert_eq!(ctx.x(2), Some(DEV + 0x28));
    assert_eq!(ctx.x(6), Some(DEV + 0x34));
    assert_eq!(ctx.pc(), PC + 8);
    assert_eq!(
        *log.borrow(),
        vec![
            (DEV + 0x20, 8, false, 0),
            (DEV + 0x34, 4, true, 0xcccc_dddd)
        ]
    );
}

#[test]
fn isv0_fails_cleanly_when_instruction_cannot_be_used() {
    // Guest MMU on: IP is not an IPA.
    let (mut vm, v, log) = mmio_vm(0);
    // libsel4vm's behaviour: a fault nothing claims ends the run.
    vm.set_fault_policy(sel4vm::FaultPolicy::StopGuest);
    vm.set_arm_vcpu_reg(v, VcpuReg::Sctlr, 1).unwrap();
    let fsr = dabt_no_isv(false);
    vm.backend_mut().push_event(vm_fault(v, DEV, fsr));
    assert_eq!(
        vm.run(),
        ExitReason::UndecodableAbort {
            vcpu: v,
            ip: PC,
            addr: DEV,
            fsr
        }
    );
    // IP outside RAM.
    vm.set_arm_vcpu_reg(v, VcpuReg::Sctlr, 0).unwrap();
    vm.backend_mut().push_event(Event::VmFault {
        vcpu: v,
        ip: 0x10,
        addr: DEV,
        fsr,
        prefetch: false,
    });
    assert_eq!(
        vm.run(),
        ExitReason::UndecodableAbort {
            vcpu: v,
            ip: 0x10,
            addr: DEV,
            fsr
        }
    );
    // Not a load/store (a NOP).
    vm.ram_write(PC, &0xD503_201Fu32.to_le_bytes()).unwrap();
    vm.backend_mut().push_event(vm_fault(v, DEV, fsr));
    assert_eq!(
        vm.run(),
        ExitReason::UndecodableAbort {
            vcpu: v,
            ip: PC,
            addr: DEV,
            fsr
        }
    );
    // Not a data abort at all.
    vm.backend_mut().push_event(vm_fault(v, DEV, 0x0400_0000));
    assert!(matches!(vm.run(), ExitReason::UndecodableAbort { .. }));
    assert!(log.borrow().is_empty());
    assert!(vm.backend().replies().is_empty());
}

#[test]
fn fault_bounds_include_access_size() {
    let (mut vm, v, log) = mmio_vm(0);
    // libsel4vm's behaviour: a fault nothing claims ends the run.
    vm.set_fault_policy(sel4vm::FaultPolicy::StopGuest);
    let fsr = dabt(2, 0, false, false, false);
    vm.backend_mut()
        .push_event(vm_fault(v, DEV + PAGE - 4, fsr));
    assert_eq!(vm.run(), ExitReason::Idle);
    assert_eq!(log.borrow().len(), 1);
    // Last byte of the reservation, 4-byte access: not inside.
    vm.backend_mut()
        .push_event(vm_fault(v, DEV + PAGE - 1, fsr));
    vm.backend_mut().push_event(vm_fault(v, DEV, fsr));
    assert_eq!(
        vm.run(),
        ExitReason::UnhandledMemFault {
            vcpu: v,
            ip: PC,
            addr: DEV + PAGE - 1,
            fsr
        }
    );
    assert_eq!(log.borrow().len(), 1);
    assert_eq!(
        vm.backend().pending_events(),
        1,
        "the loop stops at the bad fault"
    );
    assert_eq!(
        vm.exit_reason(),
        ExitReason::UnhandledMemFault {
            vcpu: v,
            ip: PC,
            addr: DEV + PAGE - 1,
            fsr
        }
    );
    assert_eq!(vm.exit_reason().code(), -1);
}

#[test]
fn unhandled_callback_and_fault_results() {
    let (mut vm, v, _) = mmio_vm(0);
    // libsel4vm's behaviour: a fault nothing claims ends the run.
    vm.set_fault_policy(sel4vm::FaultPolicy::StopGuest);
    let seen = Rc::new(RefCell::new(Vec::new()));
    let s = seen.clone();
    vm.register_unhandled_mem_fault_callback(move |_, f| {
        s.borrow_mut().push(f.address());
        match f.address() {
            0xa000_0000 => FaultResult::Ignore,
            0xa000_1000 => FaultResult::Restart,
            0xa000_2000 => FaultResult::Unhandled,
            _ => FaultResult::Error,
        }
    });
    set_ctx(&mut vm, v, |c| {
        c.set_x(0, 77);
    });
    let fsr = dabt(2, 0, false, false, false);
    vm.backend_mut().push_event(vm_fault(v, 0xa000_0000, fsr));
    vm.backend_mut().push_event(vm_fault(v, 0xa000_1000, fsr));
    vm.backend_mut().push_event(vm_fault(v, 0xa000_2000, fsr));
    assert_eq!(
        vm.run(),
        ExitReason::UnhandledMemFault {
            vcpu: v,
            ip: PC,
            addr: 0xa000_2000,
            fsr
        }
    );
    // Ignore: advanced, register untouched; Restart: PC unchanged.
    assert_eq!(vm.backend().replies(), vec![(v, PC + 4), (v, PC + 4)]);
    assert_eq!(vm.get_thread_context(v).unwrap().x(0), Some(77));
    vm.backend_mut().push_event(vm_fault(v, 0xa000_3000, fsr));
    assert_eq!(
        vm.run(),
        ExitReason::MemFaultError {
            vcpu: v,
            ip: PC,
            addr: 0xa000_3000,
            fsr
        }
    );
    assert_eq!(
        *seen.borrow(),
        vec![0xa000_0000, 0xa000_1000, 0xa000_2000, 0xa000_3000]
    );
}

#[test]
fn lazy_mapping_happens_on_first_fault_then_restarts() {
    let (mut vm, v, _) = mmio_vm(0);
    let r = vm
        .reserve_memory_at(0xb000_0000, 2 * PAGE, sel4vm::default_error_fault_callback)
        .unwrap();
    vm.map_reservation(
        r,
        |b: &mut HostBackend, _| {
            Ok(MapFrame {
                frame: b.alloc_frame(None)?,
                rights: Rights::ALL,
                owned: true,
            })
        },
        MapMode::OnFault,
    )
    .unwrap();
    assert!(vm.guest_vspace().lookup(0xb000_0000).is_none());
    vm.backend_mut()
        .push_event(vm_fault(v, 0xb000_1008, dabt(3, 0, true, false, true)));
    assert_eq!(vm.run(), ExitReason::Idle);
    assert_eq!(vm.backend().replies(), vec![(v, PC)], "restart: same PC");
    assert!(vm.backend().stage2().contains_key(&0xb000_1000));
    // A second fault there now reaches the (error) callback.
    vm.backend_mut()
        .push_event(vm_fault(v, 0xb000_1008, dabt(3, 0, true, false, true)));
    assert!(matches!(vm.run(), ExitReason::MemFaultError { .. }));
}

#[test]
fn vppi_does_not_end_the_run() {
    let (mut vm, v, log) = mmio_vm(0);
    vm.create_default_irq_controller().unwrap();
    vm.register_irq(v, 27, |_, _, _| {}).unwrap();
    vm.backend_mut()
        .push_event(Event::VppiEvent { vcpu: v, irq: 27 });
    vm.backend_mut()
        .push_event(Event::VppiEvent { vcpu: v, irq: 30 }); // not registered: acked, dropped
    vm.backend_mut()
        .push_event(vm_fault(v, DEV, dabt(2, 0, true, false, false)));
    assert_eq!(vm.run(), ExitReason::Idle);
    assert_eq!(log.borrow().len(), 1);
    let acts = vm.backend().actions().to_vec();
    assert_eq!(
        acts,
        vec![
            HostAction::Inject {
                vcpu: v,
                irq: sel4vm::VirqInjection {
                    irq: 27,
                    priority: 0,
                    group: 0,
                    lr: 0
                }
            },
            HostAction::Reply { vcpu: v, pc: PC },
            HostAction::AckVppi { vcpu: v, irq: 30 },
            HostAction::Reply { vcpu: v, pc: PC },
            HostAction::Reply {
                vcpu: v,
                pc: PC + 4
            },
        ]
    );
}

#[test]
fn notifications_reach_the_callback_and_never_look_like_vcpus() {
    let (mut vm, _v, _) = mmio_vm(0);
    let b = badge::for_notification(5).unwrap();
    assert_eq!(badge::decode(b), badge::Sender::Notification(b));
    assert_eq!(
        badge::decode(badge::for_vcpu(VcpuId(0))),
        badge::Sender::Vcpu(VcpuId(0))
    );
    assert_eq!(badge::decode(0), badge::Sender::Unbadged);
    assert_eq!(badge::for_notification(0), Err(Error::InvalidBadge(0)));
    assert_eq!(
        badge::for_notification(1 << 63),
        Err(Error::InvalidBadge(1 << 63))
    );

    vm.backend_mut()
        .push_event(Event::Notification { badge: b });
    assert_eq!(vm.run(), ExitReason::UnhandledNotification { badge: b });

    let got = Rc::new(RefCell::new(Vec::new()));
    let g = got.clone();
    vm.register_notification_callback(move |vm, badge| {
        g.borrow_mut().push(badge);
        if badge & 0xff == 9 {
            return Err(Error::Callback);
        }
        if badge & 0xff == 7 {
            vm.stop();
        }
        Ok(())
    });
    vm.backend_mut()
        .push_event(Event::Notification { badge: b });
    vm.backend_mut().push_event(Event::Notification {
        badge: badge::for_notification(7).unwrap(),
    });
    vm.backend_mut().push_event(Event::Notification {
        badge: badge::for_notification(9).unwrap(),
    });
    assert_eq!(vm.run(), ExitReason::Stopped);
    assert_eq!(
        vm.run(),
        ExitReason::CallbackFailed {
            vcpu: None,
            error: Error::Callback
        }
    );
    assert_eq!(got.borrow().len(), 3);
    assert!(vm.backend().replies().is_empty());
}

#[test]
fn unknown_events_stop_the_vm_with_a_reason() {
    let (mut vm, v, _) = mmio_vm(0);
    // libsel4vm's behaviour: a fault nothing claims ends the run.
    vm.set_fault_policy(sel4vm::FaultPolicy::StopGuest);
    vm.backend_mut()
        .push_event(vm_fault(VcpuId(7), DEV, dabt(2, 0, true, false, false)));
    assert_eq!(vm.run(), ExitReason::UnknownVcpu { vcpu: VcpuId(7) });
    // On seL4 an UnknownSyscall from a vCPU is a guest HVC: answered as an
    // SMCCC call (here an unknown one) and stepped over; the VM keeps going.
    vm.backend_mut().push_event(Event::UnknownSyscall {
        vcpu: v,
        ip: PC,
        syscall: 99,
    });
    assert_eq!(vm.run(), ExitReason::Idle);
    assert_eq!(vm.backend().replies().last(), Some(&(v, PC + 4)));
    vm.backend_mut().push_event(Event::UserException {
        vcpu: v,
        ip: PC,
        number: 1,
        code: 2,
    });
    assert_eq!(
        vm.run(),
        ExitReason::UserException {
            vcpu: v,
            ip: PC,
            number: 1,
            code: 2
        }
    );
    vm.backend_mut()
        .push_event(Event::UnknownFault { vcpu: v, label: 42 });
    assert_eq!(vm.run(), ExitReason::UnknownFault { vcpu: v, label: 42 });
    vm.backend_mut().push_event(Event::VcpuFault {
        vcpu: v,
        hsr: 0x18 << 26,
    });
    assert_eq!(
        vm.run(),
        ExitReason::UnhandledVcpuFault {
            vcpu: v,
            hsr: 0x18 << 26
        }
    );
    // Prefetch abort outside everything.
    vm.backend_mut().push_event(Event::VmFault {
        vcpu: v,
        ip: 0xdead_0000,
        addr: 0xdead_0000,
        fsr: 0x8200_0007,
        prefetch: true,
    });
    assert!(matches!(
        vm.run(),
        ExitReason::UnhandledMemFault {
            addr: 0xdead_0000,
            ..
        }
    ));
    // Only the HVC was answered.
    assert_eq!(vm.backend().replies(), [(v, PC + 4)]);
}

#[test]
fn wfi_stays_until_an_irq_is_injected() {
    let (mut vm, v, _) = mmio_vm(0);
    vm.create_default_irq_controller().unwrap();
    vm.register_irq(v, 40, |_, _, _| {}).unwrap();
    let wfi = 0x01 << 26 | 1 << 25;
    vm.backend_mut()
        .push_event(Event::VcpuFault { vcpu: v, hsr: wfi });
    assert_eq!(vm.run(), ExitReason::Idle);
    assert!(vm.backend().replies().is_empty(), "no reply while in WFI");
    assert_eq!(vm.vcpu(v).unwrap().state(), VcpuState::WaitingForIrq);
    // A notification (e.g. a device) injects the IRQ: the vCPU is released past the WFI.
    vm.register_notification_callback(move |vm, _| vm.inject_irq(v, 40));
    vm.backend_mut().push_event(Event::Notification {
        badge: badge::for_notification(1).unwrap(),
    });
    assert_eq!(vm.run(), ExitReason::Idle);
    assert_eq!(vm.backend().replies(), vec![(v, PC + 4)]);
    assert_eq!(vm.vcpu(v).unwrap().state(), VcpuState::Running);
    assert_eq!(vm.advance_vcpu_fault(v), Err(Error::NoPendingFault(v)));
    // WFI while an IRQ is still in a list register: no wait.
    vm.backend_mut()
        .push_event(Event::VcpuFault { vcpu: v, hsr: wfi });
    assert_eq!(vm.run(), ExitReason::Idle);
    assert_eq!(vm.backend().replies(), vec![(v, PC + 4), (v, PC + 8)]);
    // WFE never waits.
    vm.backend_mut().push_event(Event::VcpuFault {
        vcpu: v,
        hsr: wfi | 1,
    });
    vm.run();
    assert_eq!(vm.backend().replies().len(), 3);
}

#[test]
fn vcpu_fault_callback_actions_and_deferred_completion() {
    let (mut vm, v, _) = mmio_vm(0);
    let hsr_sys = 0x18 << 26 | 1 << 25;
    vm.register_unhandled_vcpu_fault_callback(v, move |_, _, hsr| match hsr & 0xff {
        1 => Some(Action::Advance),
        2 => Some(Action::Stay),
        3 => Some(Action::StopVcpu),
        4 => Some(Action::StopVm),
        _ => None,
    })
    .unwrap();
    for low in [1, 2] {
        vm.backend_mut().push_event(Event::VcpuFault {
            vcpu: v,
            hsr: hsr_sys | low,
        });
    }
    assert_eq!(vm.run(), ExitReason::Idle);
    assert_eq!(vm.backend().replies(), vec![(v, PC + 4)]);
    assert_eq!(vm.vcpu(v).unwrap().state(), VcpuState::Pending);
    vm.restart_vcpu_fault(v).unwrap();
    assert_eq!(vm.backend().replies(), vec![(v, PC + 4), (v, PC + 4)]);
    assert_eq!(vm.restart_vcpu_fault(v), Err(Error::NoPendingFault(v)));
    assert_eq!(
        vm.advance_vcpu_fault(VcpuId(9)),
        Err(Error::InvalidVcpu(VcpuId(9)))
    );

    vm.backend_mut().push_event(Event::VcpuFault {
        vcpu: v,
        hsr: hsr_sys | 3,
    });
    assert_eq!(vm.run(), ExitReason::Idle);
    assert!(!vm.is_vcpu_online(v));
    assert_eq!(vm.backend().actions().last(), Some(&HostAction::Stop(v)));
    vm.backend_mut().push_event(Event::VcpuFault {
        vcpu: v,
        hsr: hsr_sys | 4,
    });
    vm.backend_mut().push_event(Event::VcpuFault {
        vcpu: v,
        hsr: hsr_sys | 1,
    });
    assert_eq!(vm.run(), ExitReason::Stopped);
    assert_eq!(vm.backend().pending_events(), 1);
    // The event left behind runs next; then one the callback declines.
    vm.backend_mut().take_actions();
    vm.backend_mut().push_event(Event::VcpuFault {
        vcpu: v,
        hsr: hsr_sys | 5,
    });
    assert_eq!(
        vm.run(),
        ExitReason::UnhandledVcpuFault {
            vcpu: v,
            hsr: hsr_sys | 5
        }
    );
    assert_eq!(vm.backend().replies().len(), 1);
}

#[test]
fn smc_handler_sees_and_updates_registers() {
    let (mut vm, v, _) = mmio_vm(0);
    vm.register_smc_handler_callback(|_, _, ctx| {
        let fid = ctx.x(0).unwrap();
        if fid == 0xdead {
            return Err(Error::Callback);
        }
        ctx.set_x(0, fid + 1);
        Ok(())
    });
    set_ctx(&mut vm, v, |c| {
        c.set_x(0, 0x8400_0000);
    });
    vm.backend_mut().push_event(Event::VcpuFault {
        vcpu: v,
        hsr: 0x17 << 26 | 1 << 25,
    });
    vm.backend_mut().push_event(Event::VcpuFault {
        vcpu: v,
        hsr: 0x16 << 26 | 1 << 25,
    });
    assert_eq!(vm.run(), ExitReason::Idle);
    let ctx = vm.get_thread_context(v).unwrap();
    assert_eq!(ctx.x(0), Some(0x8400_0002));
    assert_eq!(
        vm.backend().replies(),
        vec![(v, PC + 4), (v, PC + 4)],
        "SMC steps over, HVC does not"
    );
    set_ctx(&mut vm, v, |c| {
        c.set_x(0, 0xdead);
    });
    vm.backend_mut().push_event(Event::VcpuFault {
        vcpu: v,
        hsr: 0x17 << 26 | 1 << 25,
    });
    assert_eq!(
        vm.run(),
        ExitReason::CallbackFailed {
            vcpu: Some(v),
            error: Error::Callback
        }
    );
}

#[test]
fn list_registers_overflow_and_maintenance_acks() {
    let (mut vm, v, _) = mmio_vm(0);
    assert_eq!(vm.inject_irq(v, 33), Err(Error::NoIrqController));
    vm.create_default_irq_controller().unwrap();
    assert_eq!(
        vm.create_default_irq_controller(),
        Err(Error::IrqControllerExists)
    );
    let acked = Rc::new(RefCell::new(Vec::new()));
    for irq in 32..37 {
        let a = acked.clone();
        vm.register_irq(v, irq, move |_, vcpu, irq| a.borrow_mut().push((vcpu, irq)))
            .unwrap();
    }
    assert!(matches!(
        vm.register_irq(v, 32, |_, _, _| {}),
        Err(Error::IrqAlreadyRegistered(32))
    ));
    assert_eq!(vm.inject_irq(v, 99), Err(Error::IrqNotRegistered(99)));
    assert_eq!(
        vm.inject_irq(VcpuId(3), 32),
        Err(Error::InvalidVcpu(VcpuId(3)))
    );
    for irq in 32..37 {
        vm.inject_irq(v, irq).unwrap();
    }
    vm.inject_irq(v, 36).unwrap(); // already queued: coalesced (re-injecting one in an LR re-delivers it after EOI)
    assert_eq!(
        vm.list_registers(v),
        vec![Some(32), Some(33), Some(34), Some(35)]
    );
    assert_eq!(vm.queued_irqs(v), vec![36]);
    assert_eq!(vm.backend().actions().len(), 4);
    vm.backend_mut().push_event(Event::VgicMaintenance {
        vcpu: v,
        lr: Some(2),
    });
    vm.backend_mut()
        .push_event(Event::VgicMaintenance { vcpu: v, lr: None });
    assert_eq!(vm.run(), ExitReason::Idle);
    assert_eq!(*acked.borrow(), vec![(v, 34)]);
    assert_eq!(
        vm.list_registers(v),
        vec![Some(32), Some(33), Some(36), Some(35)]
    );
    assert!(vm.queued_irqs(v).is_empty());
    assert_eq!(vm.backend().replies(), vec![(v, PC), (v, PC)]);
    // Level-triggered: re-delivered after ack while high; withdrawn from the queue when lowered.
    vm.set_irq_level(v, 34, true).unwrap();
    assert_eq!(vm.queued_irqs(v), vec![34]);
    vm.set_irq_level(v, 34, false).unwrap();
    assert!(vm.queued_irqs(v).is_empty());
    vm.set_irq_level(v, 34, true).unwrap();
    vm.backend_mut().push_event(Event::VgicMaintenance {
        vcpu: v,
        lr: Some(0),
    });
    vm.run();
    assert_eq!(
        vm.list_registers(v),
        vec![Some(34), Some(33), Some(36), Some(35)]
    );
    vm.backend_mut().push_event(Event::VgicMaintenance {
        vcpu: v,
        lr: Some(0),
    });
    vm.run();
    assert_eq!(
        vm.list_registers(v)[0],
        Some(34),
        "still high: delivered again"
    );
    assert_eq!(
        vm.set_irq_level(v, 77, true),
        Err(Error::IrqNotRegistered(77))
    );
}

#[test]
fn several_vms_in_one_process_are_independent() {
    let (mut a, va, la) = mmio_vm(1);
    let (mut b, vb, lb) = mmio_vm(2);
    assert_eq!((va, vb), (VcpuId(0), VcpuId(0)));
    a.ram_write(RAM, b"vm-a").unwrap();
    b.ram_write(RAM, b"vm-b").unwrap();
    let mut buf = [0; 4];
    a.ram_read(RAM, &mut buf).unwrap();
    assert_eq!(&buf, b"vm-a");
    a.backend_mut()
        .push_event(vm_fault(va, DEV, dabt(2, 0, false, false, false)));
    assert_eq!(a.run(), ExitReason::Idle);
    assert_eq!(la.borrow().len(), 1);
    assert!(lb.borrow().is_empty());
    assert_eq!(b.get_thread_context(vb).unwrap().x(0), Some(0));
    assert_eq!(a.get_thread_context(va).unwrap().x(0), Some(1));
}

#[test]
fn backend_errors_end_the_run() {
    let (mut vm, v, _) = mmio_vm(0);
    // A device callback suspends the vCPU behind the VM's back: the loop's reply fails.
    vm.reserve_memory_at(0xc000_0000, PAGE, move |vm, _| {
        vm.backend_mut().stop_vcpu(v).unwrap();
        FaultResult::Handled
    })
    .unwrap();
    vm.backend_mut()
        .push_event(vm_fault(v, 0xc000_0000, dabt(2, 0, true, false, false)));
    assert_eq!(vm.run(), ExitReason::Backend(BackendError::Kernel(3)));
    assert!(vm.backend().replies().is_empty());
}
