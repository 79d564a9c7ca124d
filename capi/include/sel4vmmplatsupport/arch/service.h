/* sel4vm-rs C API: <sel4vmmplatsupport/arch/service.h> (libsel4vmmplatsupport,
 * arm). */
#pragma once

#include <sel4vm/guest_vm.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Mints a copy of `service` (a cap of the VMM, all rights, badged `badge`)
 * at slot `index` of every vCPU thread's CSpace, and of every vCPU created
 * later, so the guest can invoke it with an HVC (x0 = index, x7 = an seL4
 * syscall number). libsel4vmmplatsupport mints into one shared VM CNode
 * (vm->cspace.cspace_obj); here each vCPU has a CNode of its own, so mint
 * through this function, not into vm->cspace.cspace_obj with vka (that
 * reaches vCPU 0 only). Returns 0, or -1: index 0, VM_FAULT_EP_SLOT ..=
 * 1 + SEL4VM_MAX_VCPUS (this library's VM_CSPACE_SLOT, the largest any
 * supported CONFIG_MAX_NUM_NODES gives), >= 1 << VM_CSPACE_SIZE_BITS, an
 * index installed already, or a kernel error. */
int vmm_install_service(vm_t *vm, seL4_CPtr service, int index, uint32_t badge);

#ifdef __cplusplus
}
#endif
