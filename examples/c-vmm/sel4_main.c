/*
 * seL4 run of the C VMM: a C root task on the library's root-task runtime
 * (libsel4vm.a built with the `root-task` feature calls sel4vm_root_main
 * once the allocator is ready). The guest program really runs in a vCPU;
 * the device accesses arrive as stage-2 faults from the kernel.
 * Build: see README.md; no libc is used (-ffreestanding -nostdlib).
 */
#include "vmm.h"

static struct vmm_state st;

int sel4vm_root_main(void)
{
    sel4vm_puts("c-vmm: C root task started");
    int step = vmm_setup(&st, true);
    if (step != 0) {
        sel4vm_puts("c-vmm: CHECK FAILED: setup");
        return step;
    }
    int r = vm_run(&st.vm);
    vmm_check(&st, r == 0, "vm_run returned 0 after DONE");
    vmm_check_guest_result(&st, true);
    uintptr_t pc = 0;
    vmm_check(&st, vm_get_thread_context_reg(st.vcpu, 0, &pc) == 0 && pc >= GUEST_ENTRY + GUEST_PC_FINAL,
              "guest reached its final loop");
    if (st.failures == 0) {
        sel4vm_puts("c-vmm: all checks passed");
        return 0;
    }
    sel4vm_puts("c-vmm: checks failed");
    return 1;
}
