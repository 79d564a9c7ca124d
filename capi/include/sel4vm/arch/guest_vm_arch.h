/* sel4vm-rs C API: arch/guest_vm_arch.h (aarch64). */
#pragma once

#include <sel4vm/sel4vm_types.h>

#ifdef __cplusplus
extern "C" {
#endif

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
