/*
 * Host run of the C VMM: the host backend stands in for the kernel, and
 * this file plays the guest -- it sets the registers the guest program
 * would have and queues the stage-2 fault each device access causes. The
 * library decodes the faulting instruction from guest RAM (ISV=0 path, as
 * for a guest with its MMU off), so the loaded blob is what gets emulated.
 */
#include <stdio.h>
#include <string.h>

#include <sel4vm/host_test.h>

#include "vmm.h"

/* ESR_EL2 of a data abort from a lower EL with no instruction syndrome
 * (EC 0x24, IL, DFSC = translation fault level 3). */
#define DABT_NO_ISV ((0x24u << 26) | (1u << 25) | 0x07u)
#define PPI_EVENT_BADGE 0x4

static struct vmm_state st;

static void set_reg(unsigned int word, uintptr_t v)
{
    vmm_check(&st, vm_set_thread_context_reg(st.vcpu, word, v) == 0, "set register");
}

/* The guest reaches `pc` and touches the device at `addr`: one vm_run. */
static void guest_access(uintptr_t pc, uintptr_t addr)
{
    sel4vm_host_action_t act[8];
    set_reg(0, GUEST_ENTRY + pc);
    vmm_check(&st, sel4vm_host_push_vm_fault(&st.vm, 0, GUEST_ENTRY + pc, addr, DABT_NO_ISV, false) == 0,
              "push fault");
    int r = vm_run(&st.vm);
    vmm_check(&st, r == 0, "vm_run after a device access");
    vmm_check(&st, st.vm.run.exit_reason == 0, "exit_reason mirrors vm_run");
    size_t n = sel4vm_host_take_actions(&st.vm, act, 8);
    vmm_check(&st, n == 1 && act[0].kind == SEL4VM_HOST_REPLY && act[0].value == GUEST_ENTRY + pc + 4,
              "vCPU resumed after the instruction");
}

int main(void)
{
    struct vmm_env env = { .one_to_one = true };
    int step = vmm_setup(&st, &env);
    if (step != 0) {
        printf("c-vmm: setup failed at step %d\n", step);
        return 1;
    }
    sel4vm_host_action_t act[8];
    size_t n = sel4vm_host_take_actions(&st.vm, act, 8);
    vmm_check(&st, n == 1 && act[0].kind == SEL4VM_HOST_START, "vcpu_start resumed the vCPU thread");

    /* Fields CAmkES code reads directly. */
    vmm_check(&st, st.vm.vm_initialised && strcmp(st.vm.vm_name, "c-vmm") == 0, "vm_name");
    vmm_check(&st, st.vm.num_vcpus == 1 && st.vm.vcpus[0] == st.vcpu, "vcpus[]");
    vmm_check(&st, st.vcpu->vm == &st.vm && st.vcpu->vcpu_id == BOOT_VCPU, "vcpu->vm, vcpu_id");
    vmm_check(&st, st.vcpu->target_cpu == 0 && st.vcpu->vcpu_online, "target_cpu, vcpu_online");
    vmm_check(&st, st.vcpu->tcb.priority == VCPU_PRIORITY, "tcb.priority");
    vmm_check(&st, st.vm.mem.num_ram_regions == 1 && st.vm.mem.ram_regions[0].start == GUEST_RAM_BASE &&
                       st.vm.mem.ram_regions[0].size == GUEST_RAM_SIZE && !st.vm.mem.ram_regions[0].allocated,
              "mem.ram_regions");
    vmm_check(&st, st.vm.entry == GUEST_ENTRY, "entry stays the application's");
    vmm_check(&st, vm_arm_ipa_to_pa(&st.vm, GUEST_RAM_BASE, 0x1000) == GUEST_RAM_BASE, "1:1 RAM");

    /* The blob landed in guest RAM. */
    uint32_t back[GUEST_PROGRAM_WORDS];
    vmm_check(&st, vm_ram_touch(&st.vm, GUEST_ENTRY, sizeof(back), vm_guest_ram_read_callback, back) == 0,
              "read back");
    vmm_check(&st, memcmp(back, guest_program, sizeof(back)) == 0, "blob in guest RAM");

    /* RAM allocation bookkeeping as a CAmkES VMM uses it for DTB/initrd. */
    uintptr_t a = vm_ram_allocate(&st.vm, 0x3000);
    vmm_check(&st, a == GUEST_RAM_BASE, "vm_ram_allocate first fit");
    vmm_check(&st, st.vm.mem.num_ram_regions == 2 && st.vm.mem.ram_regions[0].allocated, "regions after allocate");
    uintptr_t fa = 0;
    size_t fs = 0;
    vmm_check(&st, vm_ram_find_largest_free_region(&st.vm, &fa, &fs) == 0 && fa == GUEST_RAM_BASE + 0x3000 &&
                       fs == GUEST_RAM_SIZE - 0x3000,
              "largest free region");
    vm_ram_free(&st.vm, a, 0x3000);
    vmm_check(&st, st.vm.mem.num_ram_regions == 1, "regions after free");

    /* The guest program, access by access (registers as the guest sets them). */
    set_reg(3, DEVICE_BASE);  /* x0 */
    set_reg(5, 0xdeadbeef);   /* x2 */
    guest_access(GUEST_PC_STR_W, DEVICE_BASE);
    guest_access(GUEST_PC_LDR_W, DEVICE_BASE);
    set_reg(7, 0xa5);         /* x4 */
    guest_access(GUEST_PC_STRB, DEVICE_BASE + 4);
    guest_access(GUEST_PC_LDRB, DEVICE_BASE + 4);
    guest_access(GUEST_PC_DONE, DEVICE_BASE + DEVICE_DONE_OFFSET);
    vmm_check_guest_result(&st, true);
    vmm_check(&st, get_vcpu_fault_address(st.vcpu) == DEVICE_BASE + DEVICE_DONE_OFFSET, "last fault address");
    vmm_check(&st, get_vcpu_fault_ip(st.vcpu) == GUEST_ENTRY + GUEST_PC_DONE, "last fault ip");
    vmm_check(&st, get_vcpu_fault_size(st.vcpu) == 4 && !is_vcpu_read_fault(st.vcpu), "last fault size/kind");

    /* A device interrupt arrives as a notification; the VMM forwards it. */
    vmm_check(&st, sel4vm_host_push_notification(&st.vm, PPI_EVENT_BADGE) == 0, "push notification");
    vmm_check(&st, vm_run(&st.vm) == 0, "vm_run with a notification");
    vmm_check(&st, st.notifications == 1 && st.last_badge == PPI_EVENT_BADGE, "notification callback and badge");
    n = sel4vm_host_take_actions(&st.vm, act, 8);
    vmm_check(&st, n == 1 && act[0].kind == SEL4VM_HOST_INJECT && act[0].value == GUEST_IRQ, "IRQ injected");
    /* The guest EOIs it: list register 0 empties, the ack callback runs. */
    vmm_check(&st, sel4vm_host_push_vgic_maintenance(&st.vm, 0, 0) == 0, "push maintenance");
    vmm_check(&st, vm_run(&st.vm) == 0, "vm_run with maintenance");
    vmm_check(&st, st.irq_acks == 1, "irq ack callback");

    /* An access outside every reservation with no unhandled-fault callback is an error. */
    set_reg(0, GUEST_ENTRY + GUEST_PC_LDR_W);
    sel4vm_host_push_vm_fault(&st.vm, 0, GUEST_ENTRY + GUEST_PC_LDR_W, 0x30000000, DABT_NO_ISV, false);
    vmm_check(&st, vm_run(&st.vm) == VM_GUEST_ERROR_EXIT, "unhandled fault ends vm_run with -1");
    vmm_check(&st, st.vm.run.exit_reason == VM_GUEST_ERROR_EXIT, "exit_reason -1");

    sel4vm_exit_stats_t es, v0;
    vmm_check(&st, sel4vm_get_exit_stats(&st.vm, -1, &es) == 0 && sel4vm_get_exit_stats(&st.vm, 0, &v0) == 0,
              "exit statistics");
    vmm_check(&st, es.exits >= 3 && es.exits == v0.exits && es.mem_faults == v0.mem_faults && es.notifications >= 1,
              "exit statistics count the run's faults and notifications");
    vmm_check(&st, sel4vm_get_exit_stats(&st.vm, 7, &es) == -1 && sel4vm_get_exit_stats(&st.vm, -1, NULL) == -1,
              "exit statistics reject a bad vCPU or output");

    vmm_check(&st, sel4vm_destroy(&st.vm) == 0 && !st.vm.vm_initialised, "destroy");
    if (st.failures == 0) {
        printf("c-vmm: all checks passed\n");
        return 0;
    }
    printf("c-vmm: %d checks failed\n", st.failures);
    return 1;
}
