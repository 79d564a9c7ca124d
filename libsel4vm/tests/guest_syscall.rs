//! A guest HVC that seL4 runs as one of its own system calls.
//!
//! seL4 takes a guest HVC into its system-call path with x7 as the number.
//! With x7 one of seL4's syscall numbers the call runs against the vCPU
//! thread's CSpace, which holds only the thread's fault endpoint: a Call or
//! Send on any other cap ends in a cap fault (found by the guest-escape
//! system test), and one on the fault endpoint itself delivers a message
//! the guest wrote. The first is the guest's HVC and is answered as an
//! SMCCC call; the second is no fault and stops the VM without a reply.

use sel4vm::psci::{fid, ret, PSCI_VERSION_1_1};
use sel4vm::{Event, ExitReason, UserContext, VcpuId, VcpuState, Vm, VmConfig};
use sel4vm_host::{HostAction, HostBackend};

const RAM: u64 = 0x4000_0000;
const PC: u64 = RAM + 0x100;
const V0: VcpuId = VcpuId(0);

fn vm() -> Vm<HostBackend> {
    let mut vm = Vm::new(HostBackend::new(), VmConfig::default()).unwrap();
    vm.ram_register_at(RAM, 0x10_000, false).unwrap();
    vm.create_vcpu(100).unwrap();
    vm.vcpu_start(V0).unwrap();
    let mut c = UserContext::default();
    c.set_pc(PC);
    vm.set_thread_context(V0, &c).unwrap();
    vm.backend_mut().take_actions();
    vm
}

fn set_x0(vm: &mut Vm<HostBackend>, x0: u64) {
    let mut c = vm.get_thread_context(V0).unwrap();
    c.set_x(0, x0);
    vm.set_thread_context(V0, &c).unwrap();
    vm.backend_mut().take_actions();
}

fn x0(vm: &mut Vm<HostBackend>) -> u64 {
    vm.get_thread_context(V0).unwrap().x(0).unwrap()
}

#[test]
fn cap_fault_is_answered_as_the_hvc_it_was() {
    let mut vm = vm();
    let version = u64::from(fid::PSCI_VERSION);
    set_x0(&mut vm, version);
    vm.backend_mut().push_event(Event::SyscallCapFault {
        vcpu: V0,
        ip: PC,
        cptr: version,
    });
    assert_eq!(vm.run(), ExitReason::Idle);
    assert_eq!(x0(&mut vm), u64::from(PSCI_VERSION_1_1));
    assert!(vm.backend().replies().contains(&(V0, PC + 4)));
    assert_eq!(vm.vcpu(V0).unwrap().state(), VcpuState::Running);
}

#[test]
fn cap_fault_on_a_small_cptr_is_not_supported_and_skipped() {
    let mut vm = vm();
    // e.g. seL4_Call(2 /* root CNode in the VMM's CSpace */, CNodeDelete)
    set_x0(&mut vm, 2);
    vm.backend_mut().push_event(Event::SyscallCapFault {
        vcpu: V0,
        ip: PC,
        cptr: 2,
    });
    assert_eq!(vm.run(), ExitReason::Idle);
    assert_eq!(x0(&mut vm) as i64, i64::from(ret::NOT_SUPPORTED));
    assert_eq!(
        vm.backend_mut().take_actions().last(),
        Some(&HostAction::Reply {
            vcpu: V0,
            pc: PC + 4
        })
    );
}

#[test]
fn forged_message_stops_the_vm_without_a_reply() {
    let mut vm = vm();
    // seL4_Call(1 /* its own fault endpoint */, label TCBSuspend = 11)
    set_x0(&mut vm, 1);
    vm.backend_mut().push_event(Event::UnknownFault {
        vcpu: V0,
        label: 11,
    });
    assert_eq!(
        vm.run(),
        ExitReason::UnknownFault {
            vcpu: V0,
            label: 11
        }
    );
    assert!(vm.backend().replies().is_empty());
    assert_eq!(vm.exit_reason().code(), -1);
    // The VMM stays in control: it can stop the vCPU and the VM goes on
    // answering later events.
    vm.vcpu_stop(V0).unwrap();
    assert_eq!(vm.vcpu(V0).unwrap().state(), VcpuState::Offline);
}

#[test]
fn forged_fault_labels_do_not_panic() {
    // A guest can also forge messages with fault labels and any payload.
    let forged = [
        Event::VgicMaintenance {
            vcpu: V0,
            lr: Some(u32::MAX),
        },
        Event::VgicMaintenance { vcpu: V0, lr: None },
        Event::VppiEvent {
            vcpu: V0,
            irq: u32::MAX,
        },
        Event::VcpuFault {
            vcpu: V0,
            hsr: u32::MAX,
        },
        Event::VmFault {
            vcpu: V0,
            ip: u64::MAX,
            addr: u64::MAX,
            fsr: u32::MAX,
            prefetch: false,
        },
        Event::UserException {
            vcpu: V0,
            ip: u64::MAX,
            number: u64::MAX,
            code: u64::MAX,
        },
        Event::SyscallCapFault {
            vcpu: V0,
            ip: u64::MAX,
            cptr: u64::MAX,
        },
    ];
    for e in forged {
        let mut vm = vm();
        vm.backend_mut().push_event(e);
        let _ = vm.run();
    }
}
