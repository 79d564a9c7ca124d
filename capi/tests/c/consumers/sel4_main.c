/*
 * seL4 entry of the consumer-shaped code: a C root task on the library's
 * root-task runtime (libsel4vm.a built with the `root-task` feature calls
 * sel4vm_root_main). The test links it for aarch64 to prove the objects
 * resolve against the aarch64 archive with nothing else but libgcc; it is
 * not run (no guest image here).
 */
#include "consumer.h"

static const uint8_t image[] = { 0x1f, 0x20, 0x03, 0xd5, 0x00, 0x00, 0x00, 0x14 }; /* nop; b . */
static const uint8_t dtb[] = { 0xd0, 0x0d, 0xfe, 0xed, 0, 0, 0, 0x28 };

int sel4vm_root_main(void)
{
    uintptr_t dtb_addr = 0;
    if (cons_vm_init() != 0) {
        return 1;
    }
    /* No extra frames on seL4: map_frame_hack does nothing, as in VM_Arm. */
    int step = cons_boot(image, sizeof(image), dtb, sizeof(dtb), &dtb_addr);
    if (step != 0) {
        sel4vm_puts("consumers: boot failed");
        return step;
    }
    int r = vm_run(&cons.vm);
    return r == 0 && cons.failures == 0 ? 0 : 1;
}
