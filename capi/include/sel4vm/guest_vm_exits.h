/* sel4vm-rs C API: guest_vm_exits.h -- values of vm_t.run.exit_reason. */
#pragma once

typedef enum vm_exit_codes {
    VM_GUEST_MMIO_EXIT = 0,         /* also: the VM stopped normally */
    VM_GUEST_IO_EXIT = 1,
    VM_GUEST_NOTIFICATION_EXIT = 2, /* a notification nobody handles */
    VM_GUEST_UNKNOWN_EXIT = 3       /* never ran */
} vm_exit_codes_t;

#define VM_GUEST_ERROR_EXIT -1
