/* sel4vm-rs C API: guest_memory_helpers.h */
#pragma once

#include <sel4vm/guest_vm.h>
#include <sel4vm/guest_memory.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A memory_fault_callback_fn that logs the fault and returns FAULT_ERROR. */
memory_fault_result_t default_error_fault_callback(vm_t *vm, vm_vcpu_t *vcpu, uintptr_t fault_addr,
                                                   size_t fault_length, void *cookie);

#ifdef __cplusplus
}
#endif
