//! WFI and the guest's own virtual timer.
//!
//! Found on real seL4 (guest-timer system test): the kernel disables a
//! vCPU's virtual timer while the vCPU thread is not running, so a vCPU
//! parked in a WFI fault never gets its timer VPPI and hangs. With the
//! timer armed the WFI must return at once; without it the vCPU may park.

use sel4vm::vtimer::{CTL_ENABLE, CTL_IMASK};
use sel4vm::{Event, ExitReason, UserContext, VcpuId, VcpuReg, VcpuState, Vm, VmConfig};
use sel4vm_host::{HostAction, HostBackend};

const RAM: u64 = 0x4000_0000;
const PC: u64 = RAM + 0x100;
const V0: VcpuId = VcpuId(0);
/// `ESR_EL2` of a trapped 32-bit-encoded WFI.
const WFI: u32 = (0x01 << 26) | (1 << 25);

fn vm() -> Vm<HostBackend> {
    let mut vm = Vm::new(HostBackend::new(), VmConfig::default()).unwrap();
    vm.ram_register_at(RAM, 0x10_000, false).unwrap();
    vm.create_vcpu(100).unwrap();
    vm.create_default_irq_controller().unwrap();
    vm.vcpu_start(V0).unwrap();
    let mut c = UserContext::default();
    c.set_pc(PC);
    vm.set_thread_context(V0, &c).unwrap();
    vm.backend_mut().take_actions();
    vm
}

/// Runs one WFI fault with `CNTV_CTL_EL0 = ctl`; returns the replies made.
fn wfi_with_timer(ctl: u64) -> (Vm<HostBackend>, Vec<HostAction>) {
    let mut vm = vm();
    vm.set_arm_vcpu_reg(V0, VcpuReg::CntvCtl, ctl).unwrap();
    vm.backend_mut()
        .push_event(Event::VcpuFault { vcpu: V0, hsr: WFI });
    assert_eq!(vm.run(), ExitReason::Idle);
    let replies = vm
        .backend_mut()
        .take_actions()
        .into_iter()
        .filter(|a| matches!(a, HostAction::Reply { .. }))
        .collect();
    (vm, replies)
}

#[test]
fn wfi_with_armed_timer_returns_at_once() {
    let (vm, replies) = wfi_with_timer(CTL_ENABLE);
    assert_eq!(
        replies,
        [HostAction::Reply {
            vcpu: V0,
            pc: PC + 4
        }]
    );
    assert_eq!(vm.vcpu(V0).unwrap().state(), VcpuState::Running);
}

#[test]
fn wfi_with_disabled_or_masked_timer_parks() {
    for ctl in [0, CTL_IMASK, CTL_ENABLE | CTL_IMASK] {
        let (vm, replies) = wfi_with_timer(ctl);
        assert_eq!(replies, [], "CNTV_CTL {ctl:#x}");
        assert_eq!(
            vm.vcpu(V0).unwrap().state(),
            VcpuState::WaitingForIrq,
            "CNTV_CTL {ctl:#x}"
        );
    }
}
