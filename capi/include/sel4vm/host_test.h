/* sel4vm-rs C API, host build only: play the kernel in tests. Events queued
 * here are what vm_run receives; vm_run returns 0 when the queue is empty. */
#pragma once

#include <sel4vm/guest_vm.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Queue a stage-2 fault (ESR in `fsr`), a VCPU fault, a notification from a
 * sender minted with `badge_bits` (non-zero, bit 63 clear), or a vGIC
 * maintenance event (lr < 0: unknown list register). 0 or -1. */
int sel4vm_host_push_vm_fault(vm_t *vm, unsigned int vcpu_id, uint64_t ip, uint64_t addr, uint32_t fsr,
                              bool prefetch);
int sel4vm_host_push_vcpu_fault(vm_t *vm, unsigned int vcpu_id, uint32_t hsr);
int sel4vm_host_push_notification(vm_t *vm, uint64_t badge_bits);
int sel4vm_host_push_vgic_maintenance(vm_t *vm, unsigned int vcpu_id, int lr);

/* Events not consumed yet. */
size_t sel4vm_host_pending_events(vm_t *vm);

#define SEL4VM_HOST_REPLY 1    /* value: PC the vCPU resumes at */
#define SEL4VM_HOST_INJECT 2   /* value: IRQ put in a list register */
#define SEL4VM_HOST_ACK_VPPI 3 /* value: PPI */
#define SEL4VM_HOST_START 4
#define SEL4VM_HOST_STOP 5
#define SEL4VM_HOST_YIELD_TO 6

typedef struct sel4vm_host_action {
    int kind;
    unsigned int vcpu;
    uint64_t value;
} sel4vm_host_action_t;

/* Removes the recorded kernel actions, copies up to `max` (oldest first) to
 * `out` and returns how many there were. */
size_t sel4vm_host_take_actions(vm_t *vm, sel4vm_host_action_t *out, size_t max);

/* A 4 KiB frame usable as vm_frame_t.cptr. 0 or -1. */
int sel4vm_host_alloc_frame(vm_t *vm, seL4_CPtr *frame);

#ifdef __cplusplus
}
#endif
