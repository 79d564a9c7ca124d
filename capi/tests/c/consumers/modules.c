/*
 * camkes-vm VM_Arm-style modules: a table of init functions run once the VM
 * exists. map_frame_hack maps frames handed to the component into a
 * reserved guest window through a map iterator (nothing to do when there
 * are none); crossvm forwards notifications to the guest as an interrupt;
 * unhandled guest accesses are reported and fail the VM.
 */
#include "consumer.h"

static vm_frame_t frame_hack_iterator(uintptr_t addr, void *cookie)
{
    (void)cookie;
    vm_frame_t frame = { seL4_CapNull, seL4_NoRights, 0, 0 };
    size_t idx = (addr - CONS_FRAME_HACK_BASE) >> 12;
    if (idx >= cons.num_extra_frames) {
        return frame; /* seL4_CapNull: the map fails */
    }
    frame.cptr = cons.extra_frames[idx];
    frame.rights = seL4_AllRights;
    frame.vaddr = addr;
    frame.size_bits = 12;
    return frame;
}

static void map_frame_hack_init(vm_t *vm, void *cookie)
{
    (void)cookie;
    if (cons.num_extra_frames == 0) {
        return;
    }
    cons.frame_hack_res = vm_reserve_memory_at(vm, CONS_FRAME_HACK_BASE, cons.num_extra_frames << 12,
                                               default_error_fault_callback, NULL);
    cons_check(cons.frame_hack_res != NULL, "frame hack reservation");
    if (cons.frame_hack_res) {
        cons_check(vm_map_reservation(vm, cons.frame_hack_res, frame_hack_iterator, NULL) == 0,
                   "frame hack mapped");
    }
}

static int crossvm_notification(vm_t *vm, seL4_Word badge, seL4_MessageInfo_t tag, void *cookie)
{
    (void)tag;
    (void)cookie;
    cons.crossvm_events++;
    cons.crossvm_badge = badge;
    return vm_inject_irq(vm->vcpus[BOOT_VCPU], CONS_CROSSVM_IRQ);
}

static void crossvm_init(vm_t *vm, void *cookie)
{
    (void)cookie;
    cons_check(vm_register_irq(vm->vcpus[BOOT_VCPU], CONS_CROSSVM_IRQ, NULL, NULL) == 0, "crossvm irq");
    cons_check(vm_register_notification_callback(vm, crossvm_notification, NULL) == 0, "crossvm notification");
}

static memory_fault_result_t unhandled_mem_fault(vm_t *vm, vm_vcpu_t *vcpu, uintptr_t paddr, size_t len,
                                                 void *cookie)
{
    (void)vm;
    (void)paddr;
    (void)len;
    (void)cookie;
    sel4vm_puts("consumers: unhandled guest access");
    /* VM_Arm prints the fault and stops the VM. */
    (void)get_vcpu_fault_ip(vcpu);
    return FAULT_ERROR;
}

static void fault_report_init(vm_t *vm, void *cookie)
{
    (void)cookie;
    cons_check(vm_register_unhandled_mem_fault_callback(vm, unhandled_mem_fault, NULL) == 0,
               "unhandled fault callback");
}

static const cons_module_t modules[] = {
    { "map_frame_hack", map_frame_hack_init, NULL },
    { "crossvm", crossvm_init, NULL },
    { "fault_report", fault_report_init, NULL },
};

int cons_run_modules(void)
{
    for (size_t i = 0; i < sizeof(modules) / sizeof(modules[0]); i++) {
        int before = cons.failures;
        modules[i].init_module(&cons.vm, modules[i].cookie);
        if (cons.failures != before) {
            sel4vm_puts(modules[i].name);
            return -1;
        }
        cons.modules_run++;
    }
    /* The guest has no IOMMU here; VM_Arm only adds IO spaces with an SMMU. */
    cons_check(vm_guest_add_iospace(&cons.vm, vm_get_vmm_vspace(&cons.vm), seL4_CapNull) == -1,
               "no IO space without an SMMU");
    return 0;
}
