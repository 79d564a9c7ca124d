/* sel4vm-rs C API: arch/guest_vm_arch.h (aarch64). */
#pragma once

#include <sel4vm/sel4vm_types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The vCPU threads' CSpace (libsel4vm's names and values). Each vCPU thread
 * has a CNode of its own of 1 << VM_CSPACE_SIZE_BITS slots, guarded so that
 * a guest CPtr n is slot n: its own fault endpoint at VM_FAULT_EP_SLOT and
 * the services of vmm_install_service, nothing else. VM_CSPACE_SLOT, where
 * libsel4vm puts the CNode's own cap, stays empty (with it the guest could
 * mint, move and delete the caps of its CSpace). vm_t.cspace.cspace_obj is
 * vCPU 0's CNode (0 before vCPU 0 exists). */
#define VM_CSPACE_SIZE_BITS    4
#define VM_FAULT_EP_SLOT       1
#define VM_CSPACE_SLOT         (VM_FAULT_EP_SLOT + CONFIG_MAX_NUM_NODES)

/* Opaque; use the get_vcpu_fault_* functions of guest_vcpu_fault.h. */
typedef struct fault fault_t;

/* Guest SMC/HVC: `regs` are the vCPU's registers and are written back when
 * the handler returns 0; non-zero makes vm_run return -1. */
typedef int (*smc_handler_callback_fn)(vm_vcpu_t *vcpu, seL4_UserContext *regs);

/* A VCPU fault (trapped instruction, syndrome `hsr`) the library does not
 * handle itself (it handles WFI/WFE, and SMC/HVC when an SMC handler is
 * registered). Return 0 when handled; call advance_vcpu_fault() or
 * restart_vcpu_fault() inside to complete the fault, otherwise it stays
 * pending until one of them is called later. Non-zero makes vm_run return -1. */
typedef int (*unhandled_vcpu_fault_callback_fn)(vm_vcpu_t *vcpu, uint32_t hsr, void *cookie);

struct vm_arch {
    smc_handler_callback_fn vm_smc_handler;
};

struct vm_vcpu_arch {
    fault_t *fault; /* always NULL here */
    unhandled_vcpu_fault_callback_fn unhandled_vcpu_callback;
    void *unhandled_vcpu_callback_cookie;
};

/* Returns 0, or -1 (NULL vcpu/callback). */
int vm_register_unhandled_vcpu_fault_callback(vm_vcpu_t *vcpu, unhandled_vcpu_fault_callback_fn vcpu_fault_callback,
                                              void *cookie);

/* Returns 0, or -1 (NULL vm/handler). */
int vm_register_smc_handler_callback(vm_t *vm, smc_handler_callback_fn vm_smc_handler);

#ifdef __cplusplus
}
#endif
