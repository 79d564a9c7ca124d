/*
 * Host run of the consumer-shaped code: this file plays the kernel and the
 * guest with <sel4vm/host_test.h> (queues the faults a Linux guest would
 * cause and checks what the library did in response).
 */
#include <stdio.h>
#include <string.h>

#include <sel4vm/host_test.h>

#include "consumer.h"

/* seL4_UserContext word indexes. */
#define W_PC 0
#define W_SPSR 2
#define W_X(n) (3 + (n)) /* x0..x8 */

#define HSR(ec, iss) (((uint32_t)(ec) << HSR_EXCEPTION_CLASS_SHIFT) | HSR_IL_MASK | ((iss) & HSR_ISS_MASK))
/* Data abort from a lower EL with a valid syndrome: 32-bit access via x<rt>. */
#define DABT_ISV(rt, write) HSR(HSR_DABT_LOW_EXCEPTION, (1u << 24) | (2u << 22) | ((uint32_t)(rt) << 16) | \
                                                           ((write) ? (1u << 6) : 0) | 0x07u)

#define DESC_ADDR (CONS_RAM_BASE + 0x200000ul)
#define BUF_ADDR (CONS_RAM_BASE + 0x201000ul)
#define USED_ADDR (CONS_RAM_BASE + 0x202000ul)

static const uint8_t image[] = { 0x1f, 0x20, 0x03, 0xd5, 0x00, 0x00, 0x00, 0x14 }; /* nop; b . */
static const uint8_t dtb[] = { 0xd0, 0x0d, 0xfe, 0xed, 0, 0, 0, 0x28 };

static uintptr_t reg(vm_vcpu_t *v, unsigned int w)
{
    uintptr_t x = 0;
    cons_check(vm_get_thread_context_reg(v, w, &x) == 0, "read register");
    return x;
}

/* The actions of one vm_run; returns how many of `kind` there were, the
 * last one's value in *value. */
static size_t actions(int kind, uint64_t *value)
{
    sel4vm_host_action_t a[16];
    size_t n = sel4vm_host_take_actions(&cons.vm, a, 16), k = 0;
    for (size_t i = 0; i < n && i < 16; i++) {
        if (a[i].kind == kind) {
            k++;
            if (value) {
                *value = a[i].value;
            }
        }
    }
    return k;
}

/* vCPU 0 at `pc` traps with `hsr`; vm_run must return `expect`. */
static void vcpu_trap(uintptr_t pc, uint32_t hsr, int expect, const char *what)
{
    cons_check(vm_set_thread_context_reg(cons.vcpus[0], W_PC, pc) == 0, "set pc");
    cons_check(sel4vm_host_push_vcpu_fault(&cons.vm, 0, hsr) == 0, "push vcpu fault");
    int r = vm_run(&cons.vm);
    if (r != expect) {
        printf("consumers: %s: vm_run returned %d, expected %d\n", what, r, expect);
        cons.failures++;
    }
}

static void mmio(uintptr_t pc, uintptr_t addr, unsigned int rt, bool write)
{
    cons_check(vm_set_thread_context_reg(cons.vcpus[0], W_PC, pc) == 0, "set pc");
    cons_check(sel4vm_host_push_vm_fault(&cons.vm, 0, pc, addr, DABT_ISV(rt, write), false) == 0, "push fault");
    cons_check(vm_run(&cons.vm) == 0, "vm_run after an MMIO access");
}

static void check_boot(uintptr_t dtb_addr)
{
    vm_vcpu_t *boot = cons.vcpus[BOOT_VCPU];
    uint64_t v = 0;
    cons_check(actions(SEL4VM_HOST_START, &v) == 1, "vcpu_start resumed the boot vCPU");
    cons_check(cons.vm.num_vcpus == CONS_NUM_VCPUS && cons.vm.vcpus[1] == cons.vcpus[1], "vm_t.vcpus");
    cons_check(sizeof(cons.vm.vcpus) / sizeof(cons.vm.vcpus[0]) >= CONFIG_MAX_NUM_NODES, "vcpus >= nodes");
    cons_check(boot->target_cpu == 0 && cons.vcpus[1]->target_cpu == -1, "targets");
    cons_check(is_vcpu_online(boot) && !is_vcpu_online(cons.vcpus[1]), "online");
    cons_check(reg(boot, W_PC) == CONS_RAM_BASE + CONS_KERNEL_OFFSET, "boot pc");
    cons_check(reg(boot, W_X(0)) == dtb_addr, "x0 = dtb");
    cons_check(reg(boot, W_SPSR) == 0x3c5, "spsr = EL1h, DAIF masked");
    cons_check(dtb_addr >= CONS_RAM_BASE && dtb_addr + sizeof(dtb) <= CONS_RAM_BASE + CONS_RAM_SIZE,
               "dtb inside RAM");
    uint8_t back[sizeof(image)];
    cons_check(vm_ram_touch(&cons.vm, CONS_RAM_BASE + CONS_KERNEL_OFFSET, sizeof(back), vm_guest_ram_read_callback,
                            back) == 0 &&
                   memcmp(back, image, sizeof(image)) == 0,
               "image in guest RAM");
    uint8_t dback[sizeof(dtb)];
    cons_check(vm_ram_touch(&cons.vm, dtb_addr, sizeof(dback), vm_guest_ram_read_callback, dback) == 0 &&
                   memcmp(dback, dtb, sizeof(dtb)) == 0,
               "dtb in guest RAM");
    cons_check(cons.modules_run == 3, "every module ran");
    uintptr_t a;
    size_t s;
    cons_check(cons.frame_hack_res != NULL, "frame hack reservation made");
    vm_get_reservation_memory_region(cons.frame_hack_res, &a, &s);
    cons_check(a == CONS_FRAME_HACK_BASE && s == 2 * 4096, "frame hack window");
    /* Mapped: an access there is no fault for the reservation's callback. */
}

static void check_vcpu_faults(void)
{
    vm_vcpu_t *v0 = cons.vcpus[0];
    uint64_t pc = 0;

    /* MRS x5, <sysreg> with Op0 3, Op1 0, CRn 0, CRm 7, Op2 2. */
    uint32_t iss = (3u << 20) | (2u << 17) | (0u << 14) | (0u << 10) | (5u << 5) | (7u << 1) | 1u;
    vcpu_trap(0x40080100, HSR(HSR_SYSREG_64_EXCEPTION, iss), 0, "sysreg read");
    cons_check(actions(SEL4VM_HOST_REPLY, &pc) == 1 && pc == 0x40080104, "sysreg trap stepped over");
    cons_check(reg(v0, W_X(5)) == CONS_SYSREG_READ_VALUE, "MRS result in x5");
    cons_check(cons.sysreg_traps == 1 && cons.last_sysreg_iss == (iss & ~((0x1fu << 5) | 1u)), "sysreg decoded");
    cons_check(HSR_IL(HSR(HSR_SYSREG_64_EXCEPTION, iss)) == 1, "HSR_IL");

    vcpu_trap(0x40080200, HSR(HSR_SWBRK_64_EXCEPTION, 0x10), 0, "brk");
    cons_check(actions(SEL4VM_HOST_REPLY, &pc) == 1 && pc == 0x40080204, "BRK ignored and stepped over");

    /* PSCI through the SMC handler. */
    cons_check(vm_set_thread_context_reg(v0, W_X(0), PSCI_VERSION) == 0, "x0");
    vcpu_trap(0x40080300, HSR(HSR_SMC_64_EXCEPTION, 0), 0, "PSCI_VERSION");
    cons_check(reg(v0, W_X(0)) == 0x10000, "PSCI 1.0");
    cons_check(actions(SEL4VM_HOST_REPLY, &pc) == 1 && pc == 0x40080304, "SMC stepped over");

    vm_set_thread_context_reg(v0, W_X(0), PSCI_CPU_ON_64);
    vm_set_thread_context_reg(v0, W_X(1), 1);
    vm_set_thread_context_reg(v0, W_X(2), 0x40090000);
    vm_set_thread_context_reg(v0, W_X(3), 0xc0ffee);
    vcpu_trap(0x40080400, HSR(HSR_SMC_64_EXCEPTION, 0), 0, "CPU_ON");
    cons_check(reg(v0, W_X(0)) == PSCI_SUCCESS, "CPU_ON succeeded");
    vm_vcpu_t *v1 = cons.vcpus[1];
    cons_check(v1->target_cpu == 1 && is_vcpu_online(v1) && vm_vcpu_for_target_cpu(&cons.vm, 1) == v1,
               "vCPU 1 placed on CPU 1 and online");
    cons_check(reg(v1, W_PC) == 0x40090000 && reg(v1, W_X(0)) == 0xc0ffee && reg(v1, W_SPSR) == 0x3c5,
               "vCPU 1 entry registers");
    sel4vm_host_action_t a[16];
    size_t n = sel4vm_host_take_actions(&cons.vm, a, 16);
    bool started = false;
    for (size_t i = 0; i < n && i < 16; i++) {
        started |= a[i].kind == SEL4VM_HOST_START && a[i].vcpu == 1;
    }
    cons_check(started, "vCPU 1 thread resumed");

    vm_set_thread_context_reg(v0, W_X(0), PSCI_CPU_ON_64);
    vm_set_thread_context_reg(v0, W_X(1), 1);
    vcpu_trap(0x40080500, HSR(HSR_SMC_64_EXCEPTION, 0), 0, "CPU_ON again");
    cons_check((long)reg(v0, W_X(0)) == PSCI_ALREADY_ON, "CPU_ON of an online CPU");
    vm_set_thread_context_reg(v0, W_X(0), PSCI_AFFINITY_INFO_64);
    vm_set_thread_context_reg(v0, W_X(1), 1);
    vcpu_trap(0x40080600, HSR(HSR_SMC_64_EXCEPTION, 0), 0, "AFFINITY_INFO");
    cons_check(reg(v0, W_X(0)) == 0, "AFFINITY_INFO: on");
    cons_check(cons.smc_calls == 4, "four SMCs handled");
    actions(0, NULL);
}

static void check_virtio(void)
{
    vm_vcpu_t *v0 = cons.vcpus[0];
    uint64_t v = 0;
    /* The guest's virtqueue: one descriptor over a lower-case buffer. */
    char text[] = "hello virtio";
    struct cons_vring_desc desc = { BUF_ADDR, (uint32_t)strlen(text), 0, 0 };
    cons_check(vm_ram_touch(&cons.vm, DESC_ADDR, sizeof(desc), vm_guest_ram_write_callback, &desc) == 0 &&
                   vm_ram_touch(&cons.vm, BUF_ADDR, strlen(text), vm_guest_ram_write_callback, text) == 0,
               "guest virtqueue set up");

    mmio(0x40081000, CONS_VIRTIO_BASE + VIRTIO_MMIO_MAGIC, 1, false);
    cons_check(reg(v0, W_X(1)) == VIRTIO_MAGIC, "magic read");
    cons_check(actions(SEL4VM_HOST_REPLY, &v) == 1 && v == 0x40081004, "MMIO read stepped over");
    vm_set_thread_context_reg(v0, W_X(2), DESC_ADDR);
    mmio(0x40081010, CONS_VIRTIO_BASE + VIRTIO_MMIO_QUEUE_DESC, 2, true);
    vm_set_thread_context_reg(v0, W_X(2), USED_ADDR);
    mmio(0x40081014, CONS_VIRTIO_BASE + VIRTIO_MMIO_QUEUE_USED, 2, true);
    cons_check(cons.virtio.queue_desc == DESC_ADDR && cons.virtio.queue_used == USED_ADDR, "queue addresses");
    actions(0, NULL);
    vm_set_thread_context_reg(v0, W_X(3), 0);
    mmio(0x40081018, CONS_VIRTIO_BASE + VIRTIO_MMIO_QUEUE_NOTIFY, 3, true);
    cons_check(cons.virtio.notifies == 1, "notify seen");
    cons_check(actions(SEL4VM_HOST_INJECT, &v) == 1 && v == CONS_VIRTIO_IRQ, "used-buffer IRQ injected");

    char back[sizeof(text)] = { 0 };
    struct cons_vring_used used;
    cons_check(vm_ram_touch(&cons.vm, BUF_ADDR, strlen(text), vm_guest_ram_read_callback, back) == 0 &&
                   strcmp(back, "HELLO VIRTIO") == 0,
               "device processed the buffer in guest RAM");
    cons_check(vm_ram_touch(&cons.vm, USED_ADDR, sizeof(used), vm_guest_ram_read_callback, &used) == 0 &&
                   used.idx == 1 && used.len == strlen(text),
               "used ring written");

    mmio(0x40081020, CONS_VIRTIO_BASE + VIRTIO_MMIO_INTERRUPT_STATUS, 4, false);
    cons_check(reg(v0, W_X(4)) == 1, "interrupt status");
    vm_set_thread_context_reg(v0, W_X(4), 1);
    mmio(0x40081024, CONS_VIRTIO_BASE + VIRTIO_MMIO_INTERRUPT_ACK, 4, true);
    cons_check(cons.virtio.interrupt_status == 0, "interrupt acknowledged");
    actions(0, NULL);
    /* The guest EOIs the interrupt: the ack callback runs. */
    cons_check(sel4vm_host_push_vgic_maintenance(&cons.vm, 0, 0) == 0, "push maintenance");
    cons_check(vm_run(&cons.vm) == 0, "vm_run after maintenance");
    cons_check(cons.virtio.acks == 1, "irq_ack_fn called");
    actions(0, NULL);
}

static void check_notifications_and_errors(void)
{
    uint64_t v = 0;
    cons_check(sel4vm_host_push_notification(&cons.vm, 0x10) == 0, "push notification");
    cons_check(vm_run(&cons.vm) == 0, "vm_run after a notification");
    cons_check(cons.crossvm_events == 1 && cons.crossvm_badge == 0x10, "crossvm callback with its badge");
    cons_check(actions(SEL4VM_HOST_INJECT, &v) == 1 && v == CONS_CROSSVM_IRQ, "crossvm IRQ injected");

    /* A guest access nobody emulates ends vm_run with an error. */
    cons_check(sel4vm_host_push_vm_fault(&cons.vm, 0, 0x40082000, 0x50000000, DABT_ISV(1, false), false) == 0,
               "push fault");
    cons_check(vm_run(&cons.vm) == VM_GUEST_ERROR_EXIT && cons.vm.run.exit_reason == VM_GUEST_ERROR_EXIT,
               "unhandled access stops the VM");
    actions(0, NULL);
}

static void check_unknown_class(void)
{
    /* No handler for FP exceptions: the dispatcher names the class and fails. */
    cons_check(strcmp(hsr_reasons[HSR_FP64_EXCEPTION], "HSR_FP64_EXCEPTION") == 0, "hsr_reasons entry");
    cons_check(strcmp(hsr_reasons[HSR_MAX_EXCEPTION], "Unknown Exception Class") == 0, "hsr_reasons gap");
    vcpu_trap(0x40083000, HSR(HSR_FP64_EXCEPTION, 0), VM_GUEST_ERROR_EXIT, "unknown class");
}

/* vmm_install_service: the boot step put the service above
 * VM_CSPACE_SLOT; the fault endpoint's slot, the CNode's own slot, a taken
 * slot and slots outside the CNode are refused. */
static void check_services(void)
{
    cons_check(cons.service_slot == VM_CSPACE_SLOT + 1, "service at VM_CSPACE_SLOT + 1");
    cons_check(vmm_install_service(&cons.vm, cons.service_ep, cons.service_slot, 1) == -1,
               "a taken slot is refused");
    cons_check(vmm_install_service(&cons.vm, cons.service_ep, VM_FAULT_EP_SLOT, 1) == -1,
               "the fault endpoint's slot is refused");
    cons_check(vmm_install_service(&cons.vm, cons.service_ep, VM_CSPACE_SLOT, 1) == -1,
               "VM_CSPACE_SLOT is refused");
    cons_check(vmm_install_service(&cons.vm, cons.service_ep, 1 << VM_CSPACE_SIZE_BITS, 1) == -1,
               "a slot outside the CNode is refused");
    cons_check(vmm_install_service(&cons.vm, cons.service_ep, -1, 1) == -1,
               "a negative slot is refused");
    cons_check(vmm_install_service(&cons.vm, cons.service_ep, (1 << VM_CSPACE_SIZE_BITS) - 1, 2) == 0,
               "the last slot takes a second service");
}

int main(void)
{
    uintptr_t dtb_addr = 0;
    if (cons_vm_init() != 0) {
        printf("consumers: vm_init failed\n");
        return 1;
    }
    /* Frames a CAmkES component would be given for map_frame_hack. */
    static seL4_CPtr frames[2];
    for (int i = 0; i < 2; i++) {
        cons_check(sel4vm_host_alloc_frame(&cons.vm, &frames[i]) == 0, "host frame");
    }
    cons.extra_frames = frames;
    cons.num_extra_frames = 2;
    /* Any cap the VMM owns; the host backend records what is installed. */
    cons.service_ep = frames[1];
    int step = cons_boot(image, sizeof(image), dtb, sizeof(dtb), &dtb_addr);
    if (step != 0) {
        printf("consumers: boot failed at step %d\n", step);
        return 1;
    }
    check_boot(dtb_addr);
    check_services();
    check_vcpu_faults();
    check_virtio();
    check_notifications_and_errors();
    check_unknown_class();
    cons_check(sel4vm_destroy(&cons.vm) == 0, "sel4vm_destroy");
    if (cons.failures) {
        printf("consumers: %d checks failed\n", cons.failures);
        return 1;
    }
    printf("consumers: all checks passed\n");
    return 0;
}
