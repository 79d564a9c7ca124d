/* sel4vm-rs C API: arch/guest_arm_context.h (aarch64) -- vCPU registers. */
#pragma once

#include <sel4vm/sel4vm_types.h>
#include <sel4vm/guest_vm.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Thread registers; `reg` is a word index into seL4_UserContext. 0 or -1. */
int vm_set_thread_context(vm_vcpu_t *vcpu, seL4_UserContext context);
int vm_set_thread_context_reg(vm_vcpu_t *vcpu, unsigned int reg, uintptr_t value);
int vm_get_thread_context(vm_vcpu_t *vcpu, seL4_UserContext *context);
int vm_get_thread_context_reg(vm_vcpu_t *vcpu, unsigned int reg, uintptr_t *value);

/* Banked VCPU registers; `reg` is a seL4_VCPUReg. 0 or -1. */
int vm_set_arm_vcpu_reg(vm_vcpu_t *vcpu, seL4_Word reg, uintptr_t value);
int vm_get_arm_vcpu_reg(vm_vcpu_t *vcpu, seL4_Word reg, uintptr_t *value);

#ifdef __cplusplus
}
#endif
