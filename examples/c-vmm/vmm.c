/* The platform-independent VMM; see vmm.h. */
#include "vmm.h"

const uint32_t guest_program[GUEST_PROGRAM_WORDS] = {
    0xd2a40000, 0x5297dde2, 0x72bbd5a2, 0xb9000002, 0xb9400003, 0x528014a4, 0x39001004,
    0x39401005, 0xb9003c03, 0xd2a60006, 0xb94000c7, 0xb9000807, 0x14000000,
};

void vmm_check(struct vmm_state *s, bool ok, const char *what)
{
    if (!ok) {
        s->failures++;
        sel4vm_puts("c-vmm: CHECK FAILED:");
        sel4vm_puts(what);
    }
}

/* The emulated device: DEVICE_NREGS 32-bit registers. */
static memory_fault_result_t device_fault(vm_t *vm, vm_vcpu_t *vcpu, uintptr_t fault_addr, size_t fault_length,
                                          void *cookie)
{
    struct vmm_state *s = cookie;
    uintptr_t offset = fault_addr - DEVICE_BASE;
    unsigned int i = (unsigned int)(offset / 4);
    if (vm != &s->vm || i >= DEVICE_NREGS || fault_length > 4) {
        return FAULT_ERROR;
    }
    seL4_Word value;
    if (is_vcpu_read_fault(vcpu)) {
        set_vcpu_fault_data(vcpu, s->regs[i] >> ((offset & 3) * 8));
        value = get_vcpu_fault_data(vcpu);
    } else {
        s->regs[i] = (uint32_t)emulate_vcpu_fault(vcpu, s->regs[i]);
        value = get_vcpu_fault_data(vcpu);
    }
    if (s->nlog < sizeof(s->log) / sizeof(s->log[0])) {
        s->log[s->nlog++] = (struct device_access) {
            offset, fault_length, !is_vcpu_read_fault(vcpu), value,
        };
    }
    if (offset == DEVICE_DONE_OFFSET && !is_vcpu_read_fault(vcpu)) {
        s->done = true;
        /* Tell the VMM to return; the guest goes on to REPORT. */
        sel4vm_stop(vm);
    }
    if (offset == DEVICE_REPORT_OFFSET && !is_vcpu_read_fault(vcpu)) {
        s->reported = true;
        /* The guest spins from here on. */
        sel4vm_stop(vm);
    }
    advance_vcpu_fault(vcpu);
    return FAULT_HANDLED;
}

static int notification(vm_t *vm, seL4_Word badge, seL4_MessageInfo_t tag, void *cookie)
{
    (void)vm;
    (void)tag;
    struct vmm_state *s = cookie;
    s->notifications++;
    s->last_badge = badge;
    /* What a CAmkES VMM does with a device interrupt: forward it. */
    return vm_inject_irq(s->vcpu, GUEST_IRQ);
}

static void irq_ack(vm_vcpu_t *vcpu, int irq, void *cookie)
{
    (void)vcpu;
    struct vmm_state *s = cookie;
    if (irq == GUEST_IRQ) {
        s->irq_acks++;
    }
}

/* vm_ram_touch callback: copy the blob piece into guest RAM. */
static int load_piece(vm_t *vm, uintptr_t guest_addr, void *vmm_vaddr, size_t size, size_t offset, void *cookie)
{
    (void)vm;
    (void)guest_addr;
    const uint8_t *blob = cookie;
    uint8_t *dst = vmm_vaddr;
    for (size_t i = 0; i < size; i++) {
        dst[i] = blob[offset + i];
    }
    return 0;
}

int vmm_setup(struct vmm_state *s, const struct vmm_env *env)
{
    if (vm_init(&s->vm, env->vka, NULL, env->vspace, NULL, 0, "c-vmm") != 0) {
        return 1;
    }
    s->vcpu = vm_create_vcpu(&s->vm, VCPU_PRIORITY);
    if (s->vcpu == NULL) {
        return 2;
    }
    if (vm_assign_vcpu_target(s->vcpu, 0) != 0) {
        return 3;
    }
    int ram = env->ram_iterator != NULL
                  ? vm_ram_register_at_custom_iterator(&s->vm, GUEST_RAM_BASE, GUEST_RAM_SIZE, env->ram_iterator,
                                                       env->ram_cookie)
                  : vm_ram_register_at(&s->vm, GUEST_RAM_BASE, GUEST_RAM_SIZE, env->one_to_one);
    if (ram != 0) {
        return 4;
    }
    s->device_res = vm_reserve_memory_at(&s->vm, DEVICE_BASE, DEVICE_SIZE, device_fault, s);
    if (s->device_res == NULL) {
        return 5;
    }
    if (vm_ram_touch(&s->vm, GUEST_ENTRY, sizeof(guest_program), load_piece, (void *)guest_program) != 0) {
        return 6;
    }
    if (vm_register_notification_callback(&s->vm, notification, s) != 0) {
        return 7;
    }
    if (vm_create_default_irq_controller(&s->vm) != 0 || vm_register_irq(s->vcpu, GUEST_IRQ, irq_ack, s) != 0) {
        return 8;
    }
    s->vm.entry = GUEST_ENTRY;
    seL4_UserContext regs = { 0 };
    regs.pc = s->vm.entry;
    regs.spsr = GUEST_SPSR;
    if (vm_set_thread_context(s->vcpu, regs) != 0) {
        return 9;
    }
    if (vcpu_start(s->vcpu) != 0) {
        return 10;
    }
    return 0;
}

void vmm_check_guest_result(struct vmm_state *s, bool check_regs)
{
    static const struct device_access want[] = {
        { 0x00, 4, true, 0xdeadbeef },
        { 0x00, 4, false, 0xdeadbeef },
        { 0x04, 1, true, 0xa5 },
        { 0x04, 1, false, 0xa5 },
        { DEVICE_DONE_OFFSET, 4, true, 0xdeadbeef },
    };
    vmm_check(s, s->done, "guest never wrote DONE");
    vmm_check(s, s->nlog == sizeof(want) / sizeof(want[0]), "wrong number of device accesses");
    for (unsigned int i = 0; i < s->nlog && i < sizeof(want) / sizeof(want[0]); i++) {
        bool same = s->log[i].offset == want[i].offset && s->log[i].size == want[i].size &&
                    s->log[i].write == want[i].write && s->log[i].value == want[i].value;
        vmm_check(s, same, "device access differs from the guest program's");
    }
    vmm_check(s, s->regs[0] == 0xdeadbeef && s->regs[1] == 0xa5, "device registers");
    if (check_regs) {
        uintptr_t x3 = 0, x5 = 0;
        /* seL4_UserContext word indices of x3 and x5. */
        vmm_check(s, vm_get_thread_context_reg(s->vcpu, 6, &x3) == 0 && x3 == 0xdeadbeef, "guest x3");
        vmm_check(s, vm_get_thread_context_reg(s->vcpu, 8, &x5) == 0 && x5 == 0xa5, "guest x5");
    }
}
