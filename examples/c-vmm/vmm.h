/*
 * A VMM in C against the <sel4vm/...> headers, shaped like a CAmkES VM
 * component's main path: vm_init, vCPU creation and placement, guest RAM,
 * an emulated device reservation, loading a blob with vm_ram_touch, a
 * notification callback, vcpu_start, vm_run.
 *
 * The same code runs on the host (host_main.c feeds the faults a guest
 * would cause) and on seL4 (sel4_main.c runs the guest program for real).
 */
#pragma once

#include <sel4vm/boot.h>
#include <sel4vm/guest_vm.h>
#include <sel4vm/guest_ram.h>
#include <sel4vm/guest_memory.h>
#include <sel4vm/guest_vcpu_fault.h>
#include <sel4vm/guest_irq_controller.h>
#include <sel4vm/guest_vm_util.h>
#include <sel4vm/arch/guest_arm_context.h>
#include <sel4vm/sel4vm_ext.h>

/* Guest layout (IPA). On seL4 with 1:1 RAM this is also the physical
 * address: the kernel hands out 0x4000_0000.. as device untyped for guests. */
#define GUEST_RAM_BASE 0x40000000ul
#define GUEST_RAM_SIZE 0x200000ul
#define GUEST_ENTRY GUEST_RAM_BASE
#define DEVICE_BASE 0x20000000ul
#define DEVICE_SIZE 0x1000ul
#define DEVICE_NREGS 16
#define DEVICE_DONE_OFFSET 0x3c
#define DEVICE_REPORT_OFFSET 0x08
/* A page the VMM maps with its own frame cap (vm_map_reservation_frames). */
#define SHARED_BASE 0x30000000ul
#define VCPU_PRIORITY 100
#define GUEST_IRQ 42
/* SPSR for the guest: EL1h, DAIF masked. */
#define GUEST_SPSR 0x3c5ul

/* The guest program, EL1 with the MMU off:
 *  0: movz x0, #0x2000, lsl #16    x0 = DEVICE_BASE
 *  4: movz w2, #0xbeef
 *  8: movk w2, #0xdead, lsl #16    w2 = 0xdeadbeef
 *  c: str  w2, [x0]                device reg 0 = w2
 * 10: ldr  w3, [x0]                w3 = device reg 0
 * 14: mov  w4, #0xa5
 * 18: strb w4, [x0, #4]            byte 0 of reg 1
 * 1c: ldrb w5, [x0, #4]
 * 20: str  w3, [x0, #0x3c]         DONE (the VMM's vm_run returns)
 * 24: movz x6, #0x3000, lsl #16    x6 = SHARED_BASE
 * 28: ldr  w7, [x6]                a word of the VMM's shared frame
 * 2c: str  w7, [x0, #8]            REPORT (reg 2; vm_run returns again)
 * 30: b    .
 * The host run plays the accesses up to DONE; the seL4 run also maps the
 * shared frame and runs on to REPORT.
 */
#define GUEST_PROGRAM_WORDS 13
extern const uint32_t guest_program[GUEST_PROGRAM_WORDS];
#define GUEST_PC_STR_W 0x0cul
#define GUEST_PC_LDR_W 0x10ul
#define GUEST_PC_STRB 0x18ul
#define GUEST_PC_LDRB 0x1cul
#define GUEST_PC_DONE 0x20ul
#define GUEST_PC_REPORT 0x2cul
#define GUEST_PC_FINAL 0x30ul

struct device_access {
    uintptr_t offset;
    size_t size;
    bool write;
    seL4_Word value;
};

struct vmm_state {
    vm_t vm;
    vm_vcpu_t *vcpu;
    vm_memory_reservation_t *device_res;
    uint32_t regs[DEVICE_NREGS];
    struct device_access log[32];
    unsigned int nlog;
    bool done;
    bool reported;
    unsigned int notifications;
    seL4_Word last_badge;
    unsigned int irq_acks;
    int failures;
};

/* Records a failed check (printed with sel4vm_puts). */
void vmm_check(struct vmm_state *s, bool ok, const char *what);

/* Where vmm_setup gets kernel objects and guest RAM from. */
struct vmm_env {
    /* vm_init's allocator: NULL (the library's own) or the application's
     * vka_t and vspace_t, as a CAmkES VMM passes them. */
    vka_t *vka;
    vspace_t vspace;
    /* Guest RAM: from the application's frames (vm_ram_register_at_custom_iterator)
     * if set, else the library's (vm_ram_register_at, 1:1 if `one_to_one`). */
    memory_map_iterator_fn ram_iterator;
    void *ram_cookie;
    bool one_to_one;
};

/* Everything up to and including vcpu_start. Returns 0 or the number of the
 * failed step. */
int vmm_setup(struct vmm_state *s, const struct vmm_env *env);

/* Checks the device log and guest registers after the guest finished. */
void vmm_check_guest_result(struct vmm_state *s, bool check_regs);
