/* sel4vm-rs C API: functions that are not in libsel4vm. */
#pragma once

#include <stdint.h>
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

/* Exit statistics of a VM (vcpu_id < 0) or of one of its vCPUs; see
 * sel4vm::VmStats. Counters run from vm_init. */
typedef struct sel4vm_exit_stats {
    uint64_t exits;          /* events from vCPUs */
    uint64_t mem_faults;     /* stage-2 faults (MMIO) */
    uint64_t wfx;            /* trapped WFI/WFE */
    uint64_t wfi_sleeps;     /* WFIs that left the vCPU asleep */
    uint64_t hvc_smc;        /* HVC and SMC calls */
    uint64_t vppi;           /* virtual timer events */
    uint64_t maintenance;    /* vGIC maintenance events */
    uint64_t notifications;  /* VM only: notifications received */
    uint64_t wakeups;        /* VM only: wake-up timer events */
    uint64_t kernel_calls;   /* seL4 system calls made handling these */
} sel4vm_exit_stats_t;

/* Fills *out. 0, or -1 (bad vm, vcpu_id or out). */
int sel4vm_get_exit_stats(vm_t *vm, int vcpu_id, sel4vm_exit_stats_t *out);

/* Prints `s` and a newline on the console (host: stdout; seL4: the kernel
 * debug console). */
void sel4vm_puts(const char *s);

/* seL4 build with the `root-task` feature: the application defines this; the
 * library's root-task runtime calls it once libsel4 is usable (IPC buffer
 * set, C thread-locals in place). Return 0 for success. */
int sel4vm_root_main(void);

#ifdef SEL4VM_HAVE_LIBSEL4
/* seL4 build with the `root-task` feature: the BootInfo the kernel gave the
 * root task, for an application that builds its own allocator (as a CAmkES
 * VMM brings allocman). From this call on, BootInfo's untypeds and empty
 * slots are the application's, and vm_init must be given its vka_t.
 * libsel4's deprecated seL4_GetBootInfo() is provided too and does the same.
 * NULL without the root-task runtime. */
seL4_BootInfo *sel4vm_bootinfo(void);
#endif

#ifdef __cplusplus
}
#endif
