//! Guest HVC as seL4 delivers it.
//!
//! Found on real seL4 (guest-smp system test): the kernel does not report a
//! guest HVC as a VCPU fault but takes it into its system-call path with x7
//! as the syscall number; a number outside the kernel's range arrives as an
//! UnknownSyscall fault whose address is the HVC itself. The run loop must
//! treat it as an SMCCC call over HVC and step over the instruction, not
//! stop the VM.

use sel4vm::psci::{fid, ret, PSCI_VERSION_1_1};
use sel4vm::{Event, ExitReason, UserContext, VcpuId, VcpuState, Vm, VmConfig};
use sel4vm_host::{HostAction, HostBackend};

const RAM: u64 = 0x4000_0000;
const PC: u64 = RAM + 0x100;
const V0: VcpuId = VcpuId(0);
const V1: VcpuId = VcpuId(1);

fn vm(max_vcpus: u32) -> Vm<HostBackend> {
    let mut vm = Vm::new(
        HostBackend::new(),
        VmConfig {
            max_vcpus,
            ..Default::default()
        },
    )
    .unwrap();
    vm.ram_register_at(RAM, 0x10_000, false).unwrap();
    for _ in 0..max_vcpus {
        vm.create_vcpu(100).unwrap();
    }
    vm.vcpu_start(V0).unwrap();
    vm.backend_mut().take_actions();
    vm
}

/// vCPU 0 executes `hvc #0` at PC with `x0..x3 = x`, x7 = `x7`.
fn hvc(vm: &mut Vm<HostBackend>, x: [u64; 4], x7: u64) -> ExitReason {
    let mut c = UserContext::default();
    c.set_pc(PC);
    for (i, v) in x.into_iter().enumerate() {
        c.set_x(i, v);
    }
    c.set_x(7, x7);
    vm.set_thread_context(V0, &c).unwrap();
    vm.backend_mut().push_event(Event::UnknownSyscall {
        vcpu: V0,
        ip: PC,
        syscall: x7,
    });
    vm.run()
}

fn x0(vm: &mut Vm<HostBackend>) -> u64 {
    vm.get_thread_context(V0).unwrap().x(0).unwrap()
}

#[test]
fn psci_version_over_hvc_returns_past_the_hvc() {
    let mut vm = vm(1);
    assert_eq!(
        hvc(&mut vm, [u64::from(fid::PSCI_VERSION), 0, 0, 0], 0),
        ExitReason::Idle
    );
    assert_eq!(x0(&mut vm), u64::from(PSCI_VERSION_1_1));
    assert_eq!(
        vm.backend_mut().take_actions(),
        [HostAction::Reply {
            vcpu: V0,
            pc: PC + 4
        }]
    );
    assert_eq!(vm.vcpu(V0).unwrap().state(), VcpuState::Running);
}

#[test]
fn unknown_function_over_hvc_is_not_supported() {
    let mut vm = vm(1);
    // Any x7 the kernel does not know comes here, e.g. a large positive one.
    assert_eq!(
        hvc(&mut vm, [0x8600_0055, 0, 0, 0], 0x1234),
        ExitReason::Idle
    );
    assert_eq!(x0(&mut vm) as i64, i64::from(ret::NOT_SUPPORTED));
    assert!(vm.backend().replies().contains(&(V0, PC + 4)));
}

#[test]
fn cpu_on_over_hvc_starts_the_target() {
    let mut vm = vm(2);
    let entry = RAM + 0x800;
    let r = hvc(&mut vm, [u64::from(fid::CPU_ON64), 1, entry, 0x55], 0);
    assert_eq!(r, ExitReason::Idle);
    assert_eq!(x0(&mut vm), 0);
    assert!(vm.is_vcpu_online(V1));
    let c1 = vm.get_thread_context(V1).unwrap();
    assert_eq!((c1.pc(), c1.x(0)), (entry, Some(0x55)));
}

#[test]
fn registered_smc_handler_also_gets_hvc_syscalls() {
    let mut vm = vm(1);
    vm.register_smc_handler_callback(|_, _, ctx| {
        ctx.set_x(0, 0xabcd);
        Ok(())
    });
    assert_eq!(hvc(&mut vm, [0xc200_0001, 0, 0, 0], 0), ExitReason::Idle);
    assert_eq!(x0(&mut vm), 0xabcd);
    assert!(vm.backend().replies().contains(&(V0, PC + 4)));
}
