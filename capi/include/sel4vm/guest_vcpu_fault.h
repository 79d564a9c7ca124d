/* sel4vm-rs C API: guest_vcpu_fault.h -- the memory fault of a vCPU.
 * Inside a memory fault callback these describe the fault being handled;
 * elsewhere the getters describe the vCPU's most recent memory fault. */
#pragma once

#include <sel4vm/sel4vm_types.h>
#include <sel4vm/guest_vm.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Guest-physical address of the access (0 if none). */
seL4_Word get_vcpu_fault_address(vm_vcpu_t *vcpu);
/* Guest PC of the faulting instruction (0 if none). */
seL4_Word get_vcpu_fault_ip(vm_vcpu_t *vcpu);
/* Store data, or the load data set so far (0 if none). */
seL4_Word get_vcpu_fault_data(vm_vcpu_t *vcpu);
/* Accessed bytes within the aligned 32-bit word (all ones for 8 bytes). */
seL4_Word get_vcpu_fault_data_mask(vm_vcpu_t *vcpu);
/* Access size in bytes (16 for a register pair; 0 if none). */
size_t get_vcpu_fault_size(vm_vcpu_t *vcpu);
/* True for a load. */
bool is_vcpu_read_fault(vm_vcpu_t *vcpu);
/* Value a load returns; only inside a memory fault callback. 0 or -1. */
int set_vcpu_fault_data(vm_vcpu_t *vcpu, seL4_Word data);
/* Merges the access into a device register's old value `data`. */
seL4_Word emulate_vcpu_fault(vm_vcpu_t *vcpu, seL4_Word data);
/* Inside a callback: step over (advance) or re-run (restart) the faulting
 * instruction once the callback returns. Elsewhere: complete a fault a
 * VCPU-fault callback left pending. Errors are logged. */
void advance_vcpu_fault(vm_vcpu_t *vcpu);
void restart_vcpu_fault(vm_vcpu_t *vcpu);

#ifdef __cplusplus
}
#endif
