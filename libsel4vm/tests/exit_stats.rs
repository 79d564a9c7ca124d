//! Exit statistics by reason, per vCPU and per VM, and the periodic VMM
//! callback on the wake-up timer.

use std::cell::RefCell;
use std::rc::Rc;

use sel4vm::vtimer::CTL_ENABLE;
use sel4vm::{
    DeviceIo, Event, ExitReason, GuestAddress, MmioDevice, MmioRegion, UserContext, VcpuId,
    VcpuReg, Vm, VmConfig,
};
use sel4vm_host::HostBackend;

const RAM: u64 = 0x4000_0000;
const PC: u64 = RAM + 0x100;
const V0: VcpuId = VcpuId(0);
const WFI: u32 = (0x01 << 26) | (1 << 25);

struct Nop;
impl MmioDevice for Nop {
    fn name(&self) -> &str {
        "nop"
    }
    fn read(&mut self, _: u64, _: u8, _: &mut DeviceIo<'_>) -> u64 {
        0
    }
    fn write(&mut self, _: u64, _: u8, _: u64, _: &mut DeviceIo<'_>) {}
}

fn vm() -> Vm<HostBackend> {
    let mut b = HostBackend::new();
    b.support_wakeup(true);
    b.set_counter(1000);
    let mut vm = Vm::new(b, VmConfig::default()).unwrap();
    vm.ram_register_at(RAM, 0x10_000, false).unwrap();
    vm.create_vcpu(100).unwrap();
    vm.create_default_irq_controller().unwrap();
    vm.vcpu_start(V0).unwrap();
    let mut c = UserContext::default();
    c.set_pc(PC);
    vm.set_thread_context(V0, &c).unwrap();
    vm
}

#[test]
fn exits_are_counted_by_reason() {
    let mut vm = vm();
    vm.register_mmio_device(
        MmioRegion {
            base: GuestAddress(0x0a00_0000),
            size: 0x1000,
            irq: None,
        },
        Box::new(Nop),
    )
    .unwrap();
    vm.register_notification_callback(|_, _| Ok(()));
    let b = vm.backend_mut();
    for _ in 0..3 {
        b.push_event(Event::VmFault {
            vcpu: V0,
            ip: PC,
            addr: 0x0a00_0010,
            fsr: (0x24 << 26) | (1 << 25) | (1 << 24) | (2 << 22) | 7,
            prefetch: false,
        });
    }
    b.push_event(Event::VcpuFault { vcpu: V0, hsr: WFI });
    b.push_event(Event::VppiEvent { vcpu: V0, irq: 27 });
    b.push_event(Event::Notification {
        badge: sel4vm::badge::for_notification(1).unwrap(),
    });
    assert_eq!(vm.run(), ExitReason::Idle);
    let s = vm.stats();
    assert_eq!(s.exits(), 5);
    let v = &s.vcpus[0];
    assert_eq!(v.mem_faults, 3);
    assert_eq!(v.vcpu_faults[0x01], 1);
    assert_eq!(v.vppi, 1);
    assert_eq!(v.wfi_sleeps, 1, "timer off: the WFI sleeps");
    assert_eq!(s.notifications, 1);
    assert_eq!(s.device_accesses, vec![3]);
    let text = s.to_string();
    assert!(text.starts_with("5 exits"), "{text}");
    assert!(text.contains("vcpu0: 5 exits: 3 mmio, 1 vppi"), "{text}");
    vm.reset_stats();
    assert_eq!(vm.stats().exits(), 0);
    assert_eq!(vm.stats().vcpus.len(), 1);
}

#[test]
fn wakeups_are_counted_and_a_past_deadline_is_not_a_sleep() {
    let mut vm = vm();
    vm.set_arm_vcpu_reg(V0, VcpuReg::CntvCtl, CTL_ENABLE)
        .unwrap();
    vm.set_arm_vcpu_reg(V0, VcpuReg::CntvCval, 500).unwrap();
    vm.backend_mut()
        .push_event(Event::VcpuFault { vcpu: V0, hsr: WFI });
    assert_eq!(vm.run(), ExitReason::Idle);
    assert_eq!(vm.stats().vcpus[0].wfi_sleeps, 0);
    vm.set_arm_vcpu_reg(V0, VcpuReg::CntvCval, 5000).unwrap();
    vm.backend_mut()
        .push_event(Event::VcpuFault { vcpu: V0, hsr: WFI });
    assert_eq!(vm.run(), ExitReason::Idle);
    vm.backend_mut().set_counter(6000);
    assert_eq!(vm.run(), ExitReason::Idle);
    assert_eq!(vm.stats().vcpus[0].wfi_sleeps, 1);
    assert_eq!(vm.stats().wakeups, 1);
}

#[test]
fn the_periodic_callback_runs_on_the_wakeup_timer() {
    let mut vm = vm();
    let seen = Rc::new(RefCell::new(Vec::new()));
    let s2 = seen.clone();
    vm.set_periodic(1000, move |vm, at| {
        s2.borrow_mut().push((at, vm.stats().exits()))
    })
    .unwrap();
    assert_eq!(vm.backend().wakeup(), Some(2000));
    vm.backend_mut().set_counter(2500);
    assert_eq!(vm.run(), ExitReason::Idle);
    assert_eq!(*seen.borrow(), vec![(2000, 0)]);
    assert_eq!(vm.backend().wakeup(), Some(3000));
    // Missed periods are skipped.
    vm.backend_mut().set_counter(7200);
    assert_eq!(vm.run(), ExitReason::Idle);
    assert_eq!(*seen.borrow(), vec![(2000, 0), (3000, 0)]);
    assert_eq!(vm.backend().wakeup(), Some(8000));
}

#[test]
fn without_a_wakeup_timer_there_is_no_periodic_callback() {
    let mut vm = Vm::new(HostBackend::new(), VmConfig::default()).unwrap();
    assert!(vm.set_periodic(10, |_, _| {}).is_err());
}
