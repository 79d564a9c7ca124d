//! WFI that sleeps: a vCPU in WFI is not replied to until an interrupt is
//! injected into it or the physical-counter deadline of its virtual timer
//! (`CNTV_CVAL + CNTVOFF`) passes, signalled by the backend's wake-up timer.

use sel4vm::backend::Backend;
use sel4vm::vtimer::CTL_ENABLE;
use sel4vm::{Event, ExitReason, UserContext, VcpuId, VcpuReg, VcpuState, Vm, VmConfig};
use sel4vm_host::{HostAction, HostBackend};

const RAM: u64 = 0x4000_0000;
const PC: u64 = RAM + 0x100;
const V0: VcpuId = VcpuId(0);
const V1: VcpuId = VcpuId(1);
/// `ESR_EL2` of a trapped WFI.
const WFI: u32 = (0x01 << 26) | (1 << 25);
const SPI: u32 = 40;

fn vm() -> Vm<HostBackend> {
    vm_with(0)
}

fn vm_with(wfe_yield_ticks: u64) -> Vm<HostBackend> {
    vm_cfg(VmConfig {
        max_vcpus: 2,
        wfe_yield_ticks,
        ..Default::default()
    })
}

fn vm_cfg(cfg: VmConfig) -> Vm<HostBackend> {
    let n = cfg.max_vcpus;
    let mut b = HostBackend::new();
    b.support_wakeup(true);
    b.set_counter(1000);
    let mut vm = Vm::new(b, cfg).unwrap();
    vm.ram_register_at(RAM, 0x10_000, false).unwrap();
    for _ in 0..n {
        vm.create_vcpu(100).unwrap();
    }
    vm.create_default_irq_controller().unwrap();
    vm.register_irq(V0, SPI, |_, _, _| {}).unwrap();
    for v in (0..n).map(VcpuId) {
        vm.vcpu_start(v).unwrap();
        let mut c = UserContext::default();
        c.set_pc(PC);
        vm.set_thread_context(v, &c).unwrap();
    }
    vm.backend_mut().take_actions();
    vm
}

/// vCPU `v` executes WFI with its virtual timer due at virtual count `cval`.
fn wfi(vm: &mut Vm<HostBackend>, v: VcpuId, cval: Option<u64>) {
    vm.set_arm_vcpu_reg(
        v,
        VcpuReg::CntvCtl,
        if cval.is_some() { CTL_ENABLE } else { 0 },
    )
    .unwrap();
    vm.set_arm_vcpu_reg(v, VcpuReg::CntvCval, cval.unwrap_or(0))
        .unwrap();
    vm.backend_mut()
        .push_event(Event::VcpuFault { vcpu: v, hsr: WFI });
    assert_eq!(vm.run(), ExitReason::Idle);
}

fn replies(vm: &mut Vm<HostBackend>) -> Vec<(VcpuId, u64)> {
    vm.backend_mut()
        .take_actions()
        .into_iter()
        .filter_map(|a| match a {
            HostAction::Reply { vcpu, pc } => Some((vcpu, pc)),
            _ => None,
        })
        .collect()
}

fn state(vm: &Vm<HostBackend>, v: VcpuId) -> VcpuState {
    vm.vcpu(v).unwrap().state()
}

#[test]
fn sleeps_until_the_deadline_then_steps_over_the_wfi() {
    let mut vm = vm();
    wfi(&mut vm, V0, Some(5000));
    assert_eq!(replies(&mut vm), []);
    assert_eq!(state(&vm, V0), VcpuState::WaitingForIrq);
    assert_eq!(vm.backend().wakeup(), Some(5000));
    vm.backend_mut().set_counter(4999);
    assert_eq!(vm.run(), ExitReason::Idle);
    assert_eq!(replies(&mut vm), [], "not yet");
    vm.backend_mut().set_counter(5000);
    assert_eq!(vm.run(), ExitReason::Idle);
    assert_eq!(replies(&mut vm), [(V0, PC + 4)]);
    assert_eq!(state(&vm, V0), VcpuState::Running);
    assert_eq!(vm.backend().wakeup(), None, "nothing left to wake");
}

#[test]
fn cntvoff_moves_the_deadline_into_physical_time() {
    let mut vm = vm();
    vm.set_arm_vcpu_reg(V0, VcpuReg::Cntvoff, 700).unwrap();
    wfi(&mut vm, V0, Some(5000));
    assert_eq!(vm.backend().wakeup(), Some(5700));
}

#[test]
fn a_deadline_already_past_returns_at_once() {
    let mut vm = vm();
    wfi(&mut vm, V0, Some(999));
    assert_eq!(replies(&mut vm), [(V0, PC + 4)]);
    assert_eq!(state(&vm, V0), VcpuState::Running);
    assert_eq!(vm.backend().wakeup(), None);
}

#[test]
fn an_injected_irq_wakes_a_sleeper_once() {
    let mut vm = vm();
    wfi(&mut vm, V0, Some(5000));
    vm.inject_irq(V0, SPI).unwrap();
    assert_eq!(replies(&mut vm), [(V0, PC + 4)]);
    // The stale deadline fires later: nobody is replied to twice.
    vm.backend_mut().set_counter(6000);
    assert_eq!(vm.run(), ExitReason::Idle);
    assert_eq!(replies(&mut vm), []);
    assert_eq!(vm.backend().wakeup(), None);
}

#[test]
fn without_a_timer_only_an_irq_wakes() {
    let mut vm = vm();
    wfi(&mut vm, V0, None);
    assert_eq!(vm.backend().wakeup(), None);
    vm.backend_mut().set_counter(u64::MAX);
    assert_eq!(vm.run(), ExitReason::Idle);
    assert_eq!(replies(&mut vm), []);
    vm.inject_irq(V0, SPI).unwrap();
    assert_eq!(replies(&mut vm), [(V0, PC + 4)]);
}

#[test]
fn the_earliest_of_several_sleepers_is_armed_first() {
    let mut vm = vm();
    wfi(&mut vm, V0, Some(9000));
    wfi(&mut vm, V1, Some(3000));
    assert_eq!(vm.backend().wakeup(), Some(3000));
    vm.backend_mut().set_counter(3000);
    assert_eq!(vm.run(), ExitReason::Idle);
    assert_eq!(replies(&mut vm), [(V1, PC + 4)]);
    assert_eq!(vm.backend().wakeup(), Some(9000), "re-armed for vCPU 0");
    assert_eq!(state(&vm, V0), VcpuState::WaitingForIrq);
}

#[test]
fn a_vcpu_reset_while_asleep_is_not_woken() {
    let mut vm = vm();
    wfi(&mut vm, V0, Some(5000));
    vm.vcpu_stop(V0).unwrap();
    vm.backend_mut().take_actions();
    vm.backend_mut().set_counter(5000);
    assert_eq!(vm.run(), ExitReason::Idle);
    assert_eq!(replies(&mut vm), []);
    assert_eq!(state(&vm, V0), VcpuState::Offline);
    assert_eq!(vm.backend().wakeup(), None);
}

#[test]
fn the_deadline_is_armed_again_after_every_event() {
    let mut vm = vm();
    wfi(&mut vm, V0, Some(5000));
    // Someone else (a guest sharing the timer) moved it away.
    vm.backend_mut().set_wakeup(None).unwrap();
    let badge = sel4vm::badge::for_notification(1).unwrap();
    vm.register_notification_callback(|_, _| Ok(()));
    vm.backend_mut().push_event(Event::Notification { badge });
    assert_eq!(vm.run(), ExitReason::Idle);
    assert_eq!(vm.backend().wakeup(), Some(5000));
}

#[test]
fn an_early_or_stale_fire_wakes_nobody_before_its_deadline() {
    let mut vm = vm();
    wfi(&mut vm, V0, Some(5000));
    // The interrupt arrives while the counter is short of the deadline (a
    // guest moved the shared timer, or the interrupt of an earlier deadline
    // came late): nothing is due yet, and the deadline stays armed.
    vm.backend_mut().push_event(Event::Wakeup);
    assert_eq!(vm.run(), ExitReason::Idle);
    assert_eq!(replies(&mut vm), []);
    assert_eq!(vm.backend().wakeup(), Some(5000));
    vm.backend_mut().set_counter(5000);
    assert_eq!(vm.run(), ExitReason::Idle);
    assert_eq!(replies(&mut vm), [(V0, PC + 4)]);
}

#[test]
fn a_late_fire_wakes_everyone_due_by_the_count() {
    let mut vm = vm();
    wfi(&mut vm, V0, Some(3000));
    wfi(&mut vm, V1, Some(4000));
    // The interrupt for 3000 is handled only at 4500: both are due.
    vm.backend_mut().set_counter(4500);
    assert_eq!(vm.run(), ExitReason::Idle);
    let mut r = replies(&mut vm);
    r.sort();
    assert_eq!(r, [(V0, PC + 4), (V1, PC + 4)]);
}

/// `ESR_EL2` of a trapped WFE (TI = 1).
const WFE: u32 = WFI | 1;

#[test]
fn wfe_yields_to_a_runnable_vcpu_for_a_bounded_time() {
    let mut vm = vm_with(100);
    vm.backend_mut()
        .push_event(Event::VcpuFault { vcpu: V0, hsr: WFE });
    assert_eq!(vm.run(), ExitReason::Idle);
    assert_eq!(replies(&mut vm), [], "vCPU 1 is runnable: vCPU 0 waits");
    assert_eq!(vm.backend().wakeup(), Some(1100));
    vm.backend_mut().set_counter(1100);
    assert_eq!(vm.run(), ExitReason::Idle);
    assert_eq!(replies(&mut vm), [(V0, PC + 4)]);
}

#[test]
fn wfe_returns_at_once_when_nobody_else_can_run() {
    let mut vm = vm_with(100);
    vm.vcpu_stop(V1).unwrap();
    vm.backend_mut().take_actions();
    vm.backend_mut()
        .push_event(Event::VcpuFault { vcpu: V0, hsr: WFE });
    assert_eq!(vm.run(), ExitReason::Idle);
    assert_eq!(replies(&mut vm), [(V0, PC + 4)]);
    // And without a yield budget (libsel4vm's behaviour) also with others runnable.
    let mut vm = vm_with(0);
    vm.backend_mut()
        .push_event(Event::VcpuFault { vcpu: V0, hsr: WFE });
    assert_eq!(vm.run(), ExitReason::Idle);
    assert_eq!(replies(&mut vm), [(V0, PC + 4)]);
}

#[test]
fn an_irq_ends_a_wfe_yield() {
    let mut vm = vm_with(100);
    vm.backend_mut()
        .push_event(Event::VcpuFault { vcpu: V0, hsr: WFE });
    assert_eq!(vm.run(), ExitReason::Idle);
    vm.inject_irq(V0, SPI).unwrap();
    assert_eq!(replies(&mut vm), [(V0, PC + 4)]);
}

#[test]
fn a_runnable_vcpu_given_an_interrupt_runs_next() {
    let mut vm = vm();
    vm.register_irq(V1, 5, |_, _, _| {}).unwrap();
    // vCPU 0 traps (a WFI with its timer due) while vCPU 1 is runnable;
    // an interrupt for vCPU 1 injected during that event makes it run next.
    vm.register_notification_callback(|vm, _| vm.inject_irq(V1, 5));
    let badge = sel4vm::badge::for_notification(1).unwrap();
    vm.backend_mut().push_event(Event::Notification { badge });
    assert_eq!(vm.run(), ExitReason::Idle);
    let acts = vm.backend_mut().take_actions();
    assert!(acts.contains(&HostAction::YieldTo(V1)), "{acts:?}");
    // Not for a vCPU asleep in WFI: waking it is enough.
    wfi(&mut vm, V1, None);
    vm.backend_mut().push_event(Event::Notification { badge });
    assert_eq!(vm.run(), ExitReason::Idle);
    let acts = vm.backend_mut().take_actions();
    assert!(!acts.contains(&HostAction::YieldTo(V1)), "{acts:?}");
    assert!(acts.contains(&HostAction::Reply {
        vcpu: V1,
        pc: PC + 4
    }));
}

/// A VM of `n` running vCPUs sharing the core in quanta of 500 ticks.
fn vm_quantum(n: u32) -> Vm<HostBackend> {
    vm_cfg(VmConfig {
        max_vcpus: n,
        vcpu_quantum_ticks: 500,
        ..Default::default()
    })
}

fn yields(vm: &mut Vm<HostBackend>) -> Vec<VcpuId> {
    vm.backend_mut()
        .take_actions()
        .into_iter()
        .filter_map(|a| match a {
            HostAction::YieldTo(v) => Some(v),
            _ => None,
        })
        .collect()
}

/// Any event from `v` that leaves it running (a WFI with its timer due).
fn exit_of(vm: &mut Vm<HostBackend>, v: VcpuId) {
    wfi(vm, v, Some(0));
    assert_eq!(state(vm, v), VcpuState::Running);
}

#[test]
fn runnable_vcpus_take_turns_each_quantum() {
    let mut vm = vm_quantum(3);
    exit_of(&mut vm, V0);
    assert_eq!(
        vm.backend().wakeup(),
        Some(1500),
        "two or more runnable: a quantum"
    );
    vm.backend_mut().take_actions();
    // The one after the vCPU that last ran, round the ring.
    for (now, next) in [(1500, 1), (2000, 2), (2500, 0), (3000, 1)] {
        vm.backend_mut().set_counter(now);
        assert_eq!(vm.run(), ExitReason::Idle);
        assert_eq!(yields(&mut vm), [VcpuId(next)], "at {now}");
        assert_eq!(vm.backend().wakeup(), Some(now + 500));
    }
    // An exit says who has the core: the turn passes on from it.
    exit_of(&mut vm, VcpuId(2));
    vm.backend_mut().take_actions();
    vm.backend_mut().set_counter(3500);
    assert_eq!(vm.run(), ExitReason::Idle);
    assert_eq!(yields(&mut vm), [V0]);
    assert_eq!(vm.stats().quantum_turns, 5);
}

#[test]
fn no_quantum_while_fewer_than_two_can_run() {
    let mut vm = vm_quantum(2);
    wfi(&mut vm, V1, Some(1100));
    exit_of(&mut vm, V0);
    assert_eq!(
        vm.backend().wakeup(),
        Some(1100),
        "vCPU 1 sleeps: vCPU 0 is alone"
    );
    // Woken, vCPU 1 competes again: the quantum starts.
    vm.backend_mut().set_counter(1100);
    assert_eq!(vm.run(), ExitReason::Idle);
    assert_eq!(state(&vm, V1), VcpuState::Running);
    assert_eq!(vm.backend().wakeup(), Some(1600));
    // Asleep again: the quantum is dropped, not left to fire.
    wfi(&mut vm, V1, None);
    assert_eq!(vm.backend().wakeup(), None);
    // Off by default.
    let mut vm = vm_with(0);
    exit_of(&mut vm, V0);
    assert_eq!(vm.backend().wakeup(), None);
}

#[test]
fn a_sleepers_deadline_and_the_quantum_share_the_timer() {
    let mut vm = vm_quantum(3);
    wfi(&mut vm, VcpuId(2), Some(1200));
    exit_of(&mut vm, V0);
    assert_eq!(vm.backend().wakeup(), Some(1200), "the earlier of the two");
    vm.backend_mut().take_actions();
    vm.backend_mut().set_counter(1200);
    assert_eq!(vm.run(), ExitReason::Idle);
    let acts = vm.backend_mut().take_actions();
    assert!(
        acts.contains(&HostAction::Reply {
            vcpu: VcpuId(2),
            pc: PC + 4
        }),
        "{acts:?}"
    );
    assert_eq!(vm.backend().wakeup(), Some(1500), "then the quantum");
}
