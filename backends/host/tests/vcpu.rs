mod common;
use common::*;
use sel4vm::{
    Error, KernelObject, UserContext, VcpuId, VcpuReg, VcpuState, Vm, VmConfig, BOOT_VCPU,
};
use sel4vm_host::{HostAction, HostBackend};

#[test]
fn create_assign_start_and_lookups() {
    let mut vm = vm();
    assert_eq!(vm.name(), "vm");
    // No CNode before vCPU 0 exists (see tests/cspace.rs).
    assert_eq!(vm.cspace().cspace, KernelObject(0));
    let a = vm.create_vcpu(100).unwrap();
    let b = vm.create_vcpu(90).unwrap();
    assert_eq!((a, b), (VcpuId(0), VcpuId(1)));
    assert_eq!(vm.create_vcpu(1), Err(Error::TooManyVcpus));
    assert_eq!(vm.vcpus().len(), 2);
    assert_eq!(vm.vcpu(b).unwrap().tcb().priority, 90);
    assert_eq!(vm.vcpu_tcb(b), Ok(KernelObject(0x103)));
    assert_eq!(vm.vcpu_object(b), Some(KernelObject(0x102)));
    assert_eq!(vm.vcpu_object(VcpuId(2)), None);
    assert_eq!(vm.vcpu_tcb(VcpuId(2)), Err(Error::InvalidVcpu(VcpuId(2))));

    assert_eq!(vm.find_free_unassigned_vcpu(), Some(a));
    vm.assign_vcpu_target(a, 0).unwrap();
    vm.assign_vcpu_target(a, 0).unwrap(); // same vCPU again: fine
    assert_eq!(vm.assign_vcpu_target(b, 0), Err(Error::TargetCpuTaken(0)));
    assert_eq!(
        vm.assign_vcpu_target(VcpuId(5), 3),
        Err(Error::InvalidVcpu(VcpuId(5)))
    );
    assert_eq!(vm.vcpu(b).unwrap().target_cpu(), None);
    vm.assign_vcpu_target(b, 3).unwrap();
    assert_eq!(vm.vcpu_for_target_cpu(3), Some(b));
    assert_eq!(vm.vcpu_for_target_cpu(1), None);
    assert_eq!(vm.find_free_unassigned_vcpu(), None);

    assert!(!vm.is_vcpu_online(a));
    vm.vcpu_start(a).unwrap();
    vm.vcpu_start(b).unwrap();
    assert!(vm.is_vcpu_online(a) && vm.is_vcpu_online(b));
    assert!(!vm.is_vcpu_online(VcpuId(9)));
    assert_eq!(
        vm.get_arm_vcpu_reg(a, VcpuReg::VmpidrEl2),
        Ok((1 << 31) | (1 << 24))
    );
    assert_eq!(vm.get_arm_vcpu_reg(b, VcpuReg::VmpidrEl2), Ok(3));
    assert_eq!(
        vm.backend().actions(),
        &[HostAction::Start(a), HostAction::Start(b)]
    );
    assert_eq!(vm.vcpu_start(VcpuId(2)), Err(Error::InvalidVcpu(VcpuId(2))));
    vm.vcpu_stop(b).unwrap();
    assert_eq!(vm.vcpu(b).unwrap().state(), VcpuState::Offline);
    assert_eq!(BOOT_VCPU, a);
}

#[test]
fn vm_config_is_validated() {
    assert!(matches!(
        Vm::new(
            HostBackend::new(),
            VmConfig {
                max_vcpus: 0,
                ..Default::default()
            }
        ),
        Err(Error::TooManyVcpus)
    ));
}

#[test]
fn thread_context_and_vcpu_registers() {
    let (mut vm, v) = vm_with_vcpu();
    let mut ctx = UserContext::default();
    ctx.set_pc(0x4008_0000);
    ctx.set_x(0, 0x4800_0000); // DTB pointer
    ctx.set_x(30, 0x1e);
    ctx.set_sp(0x1234);
    assert!(!ctx.set_x(31, 1));
    vm.set_thread_context(v, &ctx).unwrap();
    assert_eq!(vm.get_thread_context(v).unwrap(), ctx);
    // seL4 word order: pc, sp, spsr, x0.. (x30 at word 16).
    assert_eq!(vm.get_thread_context_reg(v, 0), Ok(0x4008_0000));
    assert_eq!(vm.get_thread_context_reg(v, 3), Ok(0x4800_0000));
    assert_eq!(vm.get_thread_context_reg(v, 16), Ok(0x1e));
    vm.set_thread_context_reg(v, 2, 0x3c5).unwrap();
    assert_eq!(vm.get_thread_context(v).unwrap().spsr(), 0x3c5);
    assert_eq!(
        vm.get_thread_context_reg(v, 36),
        Err(Error::InvalidRegister(36))
    );
    assert_eq!(
        vm.set_thread_context_reg(v, 99, 0),
        Err(Error::InvalidRegister(99))
    );
    assert_eq!(
        vm.get_thread_context(VcpuId(4)),
        Err(Error::InvalidVcpu(VcpuId(4)))
    );
    assert_eq!(
        vm.set_thread_context(VcpuId(4), &ctx),
        Err(Error::InvalidVcpu(VcpuId(4)))
    );

    vm.set_arm_vcpu_reg(v, VcpuReg::Sctlr, 0xc50838).unwrap();
    assert_eq!(vm.get_arm_vcpu_reg(v, VcpuReg::Sctlr), Ok(0xc50838));
    assert_eq!(
        vm.get_arm_vcpu_reg(VcpuId(4), VcpuReg::Sctlr),
        Err(Error::InvalidVcpu(VcpuId(4)))
    );
    assert_eq!(VcpuReg::from_index(16), Some(VcpuReg::VmpidrEl2));
    assert_eq!(VcpuReg::from_index(24), None);
    assert_eq!(VcpuReg::from_index(u64::MAX), None);
}
