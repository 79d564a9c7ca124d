/* sel4vm-rs C API: boot.h -- creating a VM and its vCPUs. */
#pragma once

#include <sel4vm/sel4vm_types.h>
#include <sel4vm/guest_vm.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BOOT_VCPU 0

/* Initialises `vm` (any previous contents are overwritten) and names it.
 * `vka`, `host_simple` and `io_ops` may be NULL: they are stored in vm_t but
 * never called -- kernel objects come from the project's own allocator (see
 * docs/migrating-from-libsel4vm.md). `host_vspace` is copied into
 * mem.vmm_vspace. `host_endpoint` is stored on the host build; on seL4 the
 * library creates the VMM endpoint and stores that instead.
 * Returns 0, or -1 (NULL vm/name, already initialised, no resources). */
int vm_init(vm_t *vm, vka_t *vka, simple_t *host_simple, vspace_t host_vspace, ps_io_ops_t *io_ops,
            seL4_CPtr host_endpoint, const char *name);

/* Creates a vCPU (ids count from 0 per VM) at scheduling priority 0..255.
 * NULL on error (more than SEL4VM_MAX_VCPUS, bad priority). */
vm_vcpu_t *vm_create_vcpu(vm_t *vm, int priority);

/* Assigns a physical CPU; fails if another vCPU has it. 0 or -1. */
int vm_assign_vcpu_target(vm_vcpu_t *vcpu, int target_cpu);

#ifdef __cplusplus
}
#endif
