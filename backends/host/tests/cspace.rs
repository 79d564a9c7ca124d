//! The vCPUs' CSpaces and `Vm::install_service` (libsel4vmmplatsupport's
//! `vmm_install_service`) on the host backend's model.

use sel4vm::{
    badge, vm_cspace_slot, BackendError, Error, KernelObject, Service, VcpuId, Vm, VmConfig,
    VM_CSPACE_ROOT_DATA, VM_CSPACE_SIZE_BITS, VM_FAULT_EP_SLOT,
};
use sel4vm_host::{host_cnode, HostBackend, HostCap};

const EP: KernelObject = KernelObject(0x42);

fn vm(max_vcpus: u32) -> Vm<HostBackend> {
    Vm::new(
        HostBackend::new(),
        VmConfig {
            max_vcpus,
            ..Default::default()
        },
    )
    .unwrap()
}

fn cnode(vm: &Vm<HostBackend>, v: u32) -> Vec<(u64, HostCap)> {
    let c = &vm.backend().vcpu(VcpuId(v)).unwrap().cnode;
    c.iter().map(|(&k, &v)| (k, v)).collect()
}

#[test]
fn libsel4vm_constants() {
    assert_eq!(VM_CSPACE_SIZE_BITS, 4);
    assert_eq!(VM_FAULT_EP_SLOT, 1);
    assert_eq!(vm_cspace_slot(1), 2);
    assert_eq!(vm_cspace_slot(4), 5);
    // seL4_CNode_CapData_new(0, 64 - 4): guard size in the low 6 bits.
    assert_eq!(VM_CSPACE_ROOT_DATA, 60);
    assert_eq!(vm(1).cspace_slot(), 2);
    assert_eq!(vm(3).cspace_slot(), 4);
}

#[test]
fn each_vcpu_has_its_own_fault_endpoint_only() {
    let mut vm = vm(2);
    assert_eq!(vm.cspace(), Default::default());
    let a = vm.create_vcpu(100).unwrap();
    let b = vm.create_vcpu(100).unwrap();
    for v in [a, b] {
        assert_eq!(
            cnode(&vm, v.0),
            [(
                VM_FAULT_EP_SLOT,
                HostCap::FaultEndpoint {
                    badge: badge::for_vcpu(v)
                }
            )],
            "{v}"
        );
    }
    // vm_t.cspace: vCPU 0's CNode, installed with the 60-bit guard.
    let cs = vm.cspace();
    assert_eq!(cs.cspace, host_cnode(a));
    assert_eq!(cs.root_data, VM_CSPACE_ROOT_DATA);
}

#[test]
fn reserved_and_out_of_range_indices_are_refused() {
    for max in [1, 3] {
        let mut vm = vm(max);
        vm.create_vcpu(1).unwrap();
        let reserved = (0..=vm_cspace_slot(max)).chain([16, 17, 1 << 32, u64::MAX]);
        for i in reserved {
            assert_eq!(
                vm.install_service(EP, i, 7),
                Err(Error::ReservedServiceSlot(i)),
                "max {max}, index {i}"
            );
        }
        // Nothing reached the backend.
        assert!(vm.backend().services().is_empty());
        assert_eq!(cnode(&vm, 0).len(), 1);
        // The first and last free ones work.
        let first = vm_cspace_slot(max) + 1;
        vm.install_service(EP, first, 1).unwrap();
        vm.install_service(EP, 15, 2).unwrap();
        assert_eq!(
            vm.backend().services(),
            [(first, EP, 1), (15, EP, 2)],
            "max {max}"
        );
    }
}

#[test]
fn installed_in_every_vcpu_now_and_later_once_per_index() {
    let mut vm = vm(3);
    let a = vm.create_vcpu(1).unwrap();
    let b = vm.create_vcpu(1).unwrap();
    vm.install_service(EP, 5, 0x77).unwrap();
    let other = KernelObject(0x43);
    assert_eq!(
        vm.install_service(other, 5, 1),
        Err(Error::ServiceSlotTaken(5))
    );
    vm.install_service(other, 9, 0).unwrap();
    let c = vm.create_vcpu(1).unwrap();
    for v in [a, b, c] {
        assert_eq!(
            cnode(&vm, v.0),
            [
                (
                    VM_FAULT_EP_SLOT,
                    HostCap::FaultEndpoint {
                        badge: badge::for_vcpu(v)
                    }
                ),
                (
                    5,
                    HostCap::Service {
                        cap: EP,
                        badge: 0x77
                    }
                ),
                (
                    9,
                    HostCap::Service {
                        cap: other,
                        badge: 0
                    }
                ),
            ],
            "{v}"
        );
    }
    assert_eq!(
        vm.services(),
        [
            Service {
                cap: EP,
                index: 5,
                badge: 0x77
            },
            Service {
                cap: other,
                index: 9,
                badge: 0
            }
        ]
    );
    assert_eq!(vm.backend().services(), [(5, EP, 0x77), (9, other, 0)]);
}

#[test]
fn installed_before_any_vcpu_reaches_the_first() {
    let mut vm = vm(1);
    vm.install_service(EP, 3, 4).unwrap();
    vm.create_vcpu(1).unwrap();
    assert_eq!(
        cnode(&vm, 0)[1],
        (3, HostCap::Service { cap: EP, badge: 4 })
    );
}

/// A backend refusal (the kernel's error) leaves the VM recording nothing.
#[test]
fn backend_failure_records_nothing() {
    use sel4vm::Backend;
    // The host model refuses a slot it holds already, as seL4 would.
    let mut b = HostBackend::new();
    b.install_service(EP, 6, 1).unwrap();
    assert_eq!(b.install_service(EP, 6, 1), Err(BackendError::Kernel(8)));
    assert_eq!(b.install_service(EP, 16, 1), Err(BackendError::Kernel(4)));
    let mut vm = Vm::new(b, VmConfig::default()).unwrap();
    // The core does not know about slot 6, the backend refuses it.
    assert_eq!(
        vm.install_service(EP, 6, 2),
        Err(Error::Backend(BackendError::Kernel(8)))
    );
    assert!(vm.services().is_empty());
}
