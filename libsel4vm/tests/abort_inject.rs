//! Guest accesses nothing claims become synchronous external aborts in the
//! guest (the default policy), or stop the vCPU or the guest when the VM
//! or the address range says so.

use sel4vm::{
    Event, ExitReason, FaultPolicy, UserContext, VcpuId, VcpuReg, VcpuState, Vm, VmConfig,
};
use sel4vm_host::{HostAction, HostBackend};

const RAM: u64 = 0x4000_0000;
const PC: u64 = 0x4000_0100;
const V0: VcpuId = VcpuId(0);
const VBAR: u64 = 0xffff_8000_0801_0800;
const HOLE: u64 = 0x3000_0000;

fn vm() -> Vm<HostBackend> {
    let mut vm = Vm::new(HostBackend::new(), VmConfig::default()).unwrap();
    vm.ram_register_at(RAM, 0x10_0000, false).unwrap();
    vm.create_vcpu(100).unwrap();
    vm.vcpu_start(V0).unwrap();
    vm.set_arm_vcpu_reg(V0, VcpuReg::Vbar, VBAR).unwrap();
    vm.backend_mut().take_actions();
    vm
}

fn set_ctx(vm: &mut Vm<HostBackend>, f: impl FnOnce(&mut UserContext)) {
    let mut c = vm.get_thread_context(V0).unwrap();
    f(&mut c);
    vm.set_thread_context(V0, &c).unwrap();
}

/// A load (or store) of 4 bytes into x1 from `addr` at `PC` in `pstate`.
fn fault(
    vm: &mut Vm<HostBackend>,
    addr: u64,
    pstate: u64,
    write: bool,
    prefetch: bool,
) -> ExitReason {
    set_ctx(vm, |c| {
        c.set_pc(PC);
        c.set_spsr(pstate);
    });
    // ISV, SAS = 2 (word), SRT = 1, WnR, DFSC translation fault level 3.
    let fsr = (0x24 << 26)
        | (1 << 25)
        | (1 << 24)
        | (2 << 22)
        | (1 << 16)
        | (u32::from(write) << 6)
        | 0x07;
    vm.backend_mut().push_event(Event::VmFault {
        vcpu: V0,
        ip: PC,
        addr,
        fsr: if prefetch {
            (0x20 << 26) | (1 << 25) | 0x07
        } else {
            fsr
        },
        prefetch,
    });
    vm.run()
}

fn reg(vm: &mut Vm<HostBackend>, r: VcpuReg) -> u64 {
    vm.get_arm_vcpu_reg(V0, r).unwrap()
}

#[test]
fn an_el0_read_of_nothing_enters_the_lower_el_sync_vector() {
    let mut vm = vm();
    assert_eq!(
        fault(&mut vm, HOLE, 0x6000_0000, false, false),
        ExitReason::Idle
    );
    let c = vm.get_thread_context(V0).unwrap();
    assert_eq!(c.pc(), VBAR + 0x400);
    assert_eq!(c.spsr(), 0x6000_03c5, "EL1h, DAIF masked, NZCV kept");
    assert_eq!(reg(&mut vm, VcpuReg::ElrEl1), PC);
    assert_eq!(reg(&mut vm, VcpuReg::SpsrEl1), 0x6000_0000);
    // EC 0x24, IL, FnV, synchronous external abort; a read (no WnR).
    assert_eq!(reg(&mut vm, VcpuReg::Esr), 0x9200_0410);
    assert_eq!(vm.stats().injected_aborts, 1);
    // The vCPU was replied to, at the vector.
    let replies: Vec<_> = vm
        .backend_mut()
        .take_actions()
        .into_iter()
        .filter(|a| matches!(a, HostAction::Reply { .. }))
        .collect();
    assert_eq!(replies.len(), 1);
}

#[test]
fn el1_writes_and_fetches_use_the_current_el_vectors() {
    let mut vm = vm();
    assert_eq!(fault(&mut vm, HOLE, 0x3c5, true, false), ExitReason::Idle);
    assert_eq!(vm.get_thread_context(V0).unwrap().pc(), VBAR + 0x200);
    assert_eq!(reg(&mut vm, VcpuReg::Esr), 0x9600_0450, "EC 0x25 with WnR");
    assert_eq!(fault(&mut vm, HOLE, 0x3c4, false, true), ExitReason::Idle);
    assert_eq!(vm.get_thread_context(V0).unwrap().pc(), VBAR);
    assert_eq!(
        reg(&mut vm, VcpuReg::Esr),
        0x8600_0410,
        "instruction abort, same EL"
    );
    assert_eq!(vm.stats().injected_aborts, 2);
}

#[test]
fn policies_stop_the_vcpu_or_the_guest_per_vm_and_per_range() {
    let mut vm = vm();
    vm.set_fault_policy(FaultPolicy::StopGuest);
    assert!(matches!(
        fault(&mut vm, HOLE, 0, false, false),
        ExitReason::UnhandledMemFault { addr: HOLE, .. }
    ));
    // A range that injects inside a VM that stops.
    vm.set_region_fault_policy(HOLE, 0x1000, FaultPolicy::InjectAbort)
        .unwrap();
    assert_eq!(fault(&mut vm, HOLE + 8, 0, false, false), ExitReason::Idle);
    assert_eq!(vm.stats().injected_aborts, 1);
    vm.set_region_fault_policy(HOLE, 0x1000, FaultPolicy::StopVcpu)
        .unwrap();
    fault(&mut vm, HOLE + 8, 0, false, false);
    assert_eq!(vm.vcpu(V0).unwrap().state(), VcpuState::Offline);
    assert!(vm
        .backend_mut()
        .take_actions()
        .iter()
        .any(|a| matches!(a, HostAction::Stop(V0))));
}

#[test]
fn an_aarch32_context_is_not_injected_into() {
    let mut vm = vm();
    assert!(matches!(
        fault(&mut vm, HOLE, 0x10, false, false),
        ExitReason::UnhandledMemFault { .. }
    ));
    assert_eq!(vm.stats().injected_aborts, 0);
}
