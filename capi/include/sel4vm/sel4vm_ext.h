/* sel4vm-rs C API: functions that are not in libsel4vm. */
#pragma once

#include <sel4vm/guest_vm.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Frees everything behind `vm` (vCPUs, RAM, reservations) and clears it;
 * it may be vm_init'ed again. 0, or -1 (not initialised, inside a callback). */
int sel4vm_destroy(vm_t *vm);

/* Makes vm_run return 0 after the event being handled. Only meaningful
 * inside a callback: vm_run clears the request when it starts.
 * (libsel4vm's vm_run only returns on errors.) 0 or -1. */
int sel4vm_stop(vm_t *vm);

/* Prints `s` and a newline on the console (host: stdout; seL4: the kernel
 * debug console). */
void sel4vm_puts(const char *s);

/* seL4 build with the `root-task` feature: the application defines this; the
 * library's root-task runtime calls it once the allocator is ready.
 * Return 0 for success. */
int sel4vm_root_main(void);

#ifdef __cplusplus
}
#endif
