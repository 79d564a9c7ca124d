/*
 * Guest boot shaped like libsel4vmmplatsupport's ARM boot init and camkes-vm
 * VM_Arm's main: vm_init, vCPUs up to CONFIG_MAX_NUM_NODES, RAM, the kernel
 * image and DTB copied into guest RAM through vm_ram_touch, the boot vCPU's
 * registers (PC, x0 = DTB, SPSR = EL1h with DAIF masked), vcpu_start.
 */
#include "consumer.h"

struct cons_state cons;

void cons_check(bool ok, const char *what)
{
    if (!ok) {
        cons.failures++;
        sel4vm_puts("consumers: CHECK FAILED:");
        sel4vm_puts(what);
    }
}

static int load_blob(uintptr_t addr, const uint8_t *blob, size_t size)
{
    /* The read/write callbacks take a non-const buffer. */
    return vm_ram_touch(&cons.vm, addr, size, vm_guest_ram_write_callback, (void *)blob);
}

int cons_vm_init(void)
{
    /* No seL4_libs allocator: the library's own (vka == NULL). */
    vspace_t no_vspace = { 0 };
    return vm_init(&cons.vm, NULL, NULL, no_vspace, NULL, 0, "consumer-vm");
}

int cons_boot(const uint8_t *image, size_t image_size, const uint8_t *dtb, size_t dtb_size, uintptr_t *dtb_addr)
{
    vm_t *vm = &cons.vm;
    if (!vm->vm_initialised) {
        return 1;
    }
    if (vm_create_default_irq_controller(vm) != 0) {
        return 2;
    }
    /* VM_Arm caps its vCPU count at CONFIG_MAX_NUM_NODES; so does vm_t.vcpus. */
    unsigned int num_vcpus = CONS_NUM_VCPUS;
    if (num_vcpus > CONFIG_MAX_NUM_NODES) {
        num_vcpus = CONFIG_MAX_NUM_NODES;
    }
    for (unsigned int i = 0; i < num_vcpus; i++) {
        vm_vcpu_t *v = vm_create_vcpu(vm, CONS_PRIORITY);
        if (!v) {
            return 3;
        }
        cons.vcpus[i] = v;
    }
    /* Only the boot vCPU gets a physical CPU now; PSCI CPU_ON places the rest. */
    if (vm_assign_vcpu_target(cons.vcpus[BOOT_VCPU], 0) != 0) {
        return 4;
    }
    if (vm_ram_register_at(vm, CONS_RAM_BASE, CONS_RAM_SIZE, false) != 0) {
        return 5;
    }
#ifdef CONFIG_LIB_SEL4VM_DEFER_MEMORY_MAP
    /* Deferred maps would fault RAM in on first touch; nothing to do then. */
#endif
    if (load_blob(CONS_RAM_BASE + CONS_KERNEL_OFFSET, image, image_size) != 0) {
        return 6;
    }
    vm_ram_mark_allocated(vm, CONS_RAM_BASE, CONS_KERNEL_OFFSET + ((image_size + 0xfff) & ~(size_t)0xfff));
    /* The DTB goes at the top of the largest free region, 2 MiB aligned
     * below it when there is room (Linux wants it 8-byte aligned). */
    uintptr_t free_addr;
    size_t free_size;
    if (vm_ram_find_largest_free_region(vm, &free_addr, &free_size) != 0 || free_size < dtb_size) {
        return 7;
    }
    uintptr_t at = (free_addr + free_size - dtb_size) & ~(uintptr_t)0xfff;
    if (load_blob(at, dtb, dtb_size) != 0) {
        return 8;
    }
    vm_ram_mark_allocated(vm, at, (dtb_size + 0xfff) & ~(size_t)0xfff);
    *dtb_addr = at;

    vm_vcpu_t *boot = cons.vcpus[BOOT_VCPU];
    seL4_UserContext regs = { 0 };
    regs.pc = CONS_RAM_BASE + CONS_KERNEL_OFFSET;
    regs.x0 = at;
    regs.spsr = PMODE_EL1h | (0xful << 6);
    if (vm_set_thread_context(boot, regs) != 0) {
        return 9;
    }
    if (cons_install_fault_handlers() != 0) {
        return 10;
    }
    if (cons_virtio_init() != 0) {
        return 11;
    }
    if (cons_run_modules() != 0) {
        return 12;
    }
    if (cons_install_service(0x5e) != 0) {
        return 13;
    }
    if (vcpu_start(boot) != 0) {
        return 14;
    }
    return 0;
}

int cons_install_service(seL4_Word badge)
{
    int slot = VM_CSPACE_SLOT + 1;
    if (slot >= (1 << VM_CSPACE_SIZE_BITS)) {
        return -1;
    }
    if (vmm_install_service(&cons.vm, cons.service_ep, slot, (uint32_t)badge) != 0) {
        return -1;
    }
    cons.service_slot = slot;
    return 0;
}
