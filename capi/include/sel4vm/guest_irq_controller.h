/* sel4vm-rs C API: guest_irq_controller.h -- virtual IRQs. */
#pragma once

#include <sel4vm/guest_vm.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Called when the guest has completed (EOI'd) `irq`. */
typedef void (*irq_ack_fn_t)(vm_vcpu_t *vcpu, int irq, void *cookie);

/* Makes `irq` pending on the vCPU (wakes it from WFI). 0 or -1. */
int vm_inject_irq(vm_vcpu_t *vcpu, int irq);
/* Sets the line level of a registered IRQ. 0 or -1. */
int vm_set_irq_level(vm_vcpu_t *vcpu, int irq, int irq_level);
/* Registers `irq` on the vCPU; `ack_fn` may be NULL. 0 or -1. */
int vm_register_irq(vm_vcpu_t *vcpu, int irq, irq_ack_fn_t ack_fn, void *cookie);
/* Creates the list-register manager; call once before vm_register_irq. 0 or -1. */
int vm_create_default_irq_controller(vm_t *vm);

#ifdef __cplusplus
}
#endif
