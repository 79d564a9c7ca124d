/* sel4vm-rs C API: boot.h -- creating a VM and its vCPUs. */
#pragma once

#include <sel4vm/sel4vm_types.h>
#include <sel4vm/guest_vm.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BOOT_VCPU 0

/* Initialises `vm` (any previous contents are overwritten) and names it.
 * `vka == NULL`: kernel objects come from the project's own allocator and
 * `host_simple`/`host_vspace` are not called. Non-NULL `vka` (seL4 build):
 * every kernel object and slot comes from it, guest frames are mapped into
 * the VMM through `host_vspace` (reserve_range_aligned, map_pages_at_vaddr,
 * unmap_pages, free_reservation), and a non-NULL `host_simple` supplies
 * ASID_assign and init_cap; the structs must outlive the VM. The host build
 * only checks that `vka`/`host_vspace` have the operations needed. Exact list
 * in docs/migrating-from-libsel4vm.md. `io_ops` is stored, never called.
 * `host_vspace` is copied into mem.vmm_vspace. `host_endpoint` is stored on
 * the host build; on seL4 the library creates the VMM endpoint instead.
 * Returns 0, or -1 (NULL vm/name, already initialised, no resources, a
 * vka/vspace lacking a needed operation). */
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
