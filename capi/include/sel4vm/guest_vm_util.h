/* sel4vm-rs C API: guest_vm_util.h. libsel4vm has these as static inline
 * functions over vm_t; here they are library functions so that NULL and
 * unknown ids are caught (same names and prototypes). */
#pragma once

#include <sel4vm/guest_vm.h>

#ifdef __cplusplus
extern "C" {
#endif

/* TCB cap of the vCPU (seL4_CapNull for NULL). */
seL4_CPtr vm_get_vcpu_tcb(vm_vcpu_t *vcpu);
/* VCPU object cap of vCPU `vcpu_id` (seL4_CapNull if there is none). */
seL4_CPtr vm_get_vcpu(vm_t *vm, int vcpu_id);
/* The vCPU assigned to `target_cpu`, or NULL. */
vm_vcpu_t *vm_vcpu_for_target_cpu(vm_t *vm, int target_cpu);
/* The first vCPU with no target CPU, or NULL. */
vm_vcpu_t *vm_find_free_unassigned_vcpu(vm_t *vm);
/* True if started and not stopped. */
bool is_vcpu_online(vm_vcpu_t *vcpu);
/* &vm->mem.vm_vspace: a zeroed placeholder (stage 2 is the backend's). */
vspace_t *vm_get_vspace(vm_t *vm);
/* &vm->mem.vmm_vspace: the vspace given to vm_init (unused by the library). */
vspace_t *vm_get_vmm_vspace(vm_t *vm);

#ifdef __cplusplus
}
#endif
