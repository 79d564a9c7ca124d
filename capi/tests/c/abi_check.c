/*
 * ABI check: every function the <sel4vm/...> headers declare is assigned to
 * a pointer of its declared type (compiled with -Werror, so a prototype
 * that drifts from this list fails), and the program links against the
 * static library (so a missing symbol fails). sel4vm_layout.h is generated
 * by capi/tests/c_api.rs from the Rust struct layouts: its _Static_asserts
 * compare them with sizeof/offsetof here, and main() prints the C values
 * for the Rust side to compare in turn.
 */
#include <stddef.h>
#include <stdio.h>

#include <sel4vm/boot.h>
#include <sel4vm/guest_vm.h>
#include <sel4vm/guest_ram.h>
#include <sel4vm/guest_memory.h>
#include <sel4vm/guest_memory_helpers.h>
#include <sel4vm/guest_vcpu_fault.h>
#include <sel4vm/guest_irq_controller.h>
#include <sel4vm/guest_vm_util.h>
#include <sel4vm/guest_iospace.h>
#include <sel4vm/guest_vm_exits.h>
#include <sel4vm/arch/guest_arm_context.h>
#include <sel4vm/arch/guest_vm_arch.h>
#include <sel4vm/arch/guest_memory_arch.h>
#include <sel4vm/arch/processor.h>
#include <sel4vm/sel4_arch/processor.h>
#include <sel4vm/gen_config.h>
#include <sel4vm/sel4vm_ext.h>
#include <sel4vm/host_test.h>
#include <sel4vmmplatsupport/arch/service.h>

#include "sel4vm_layout.h"

/* libsel4vm's enum values. */
_Static_assert(FAULT_HANDLED == 0 && FAULT_UNHANDLED == 1 && FAULT_RESTART == 2 && FAULT_IGNORE == 3 &&
                   FAULT_ERROR == 4,
               "memory_fault_result_t values");
_Static_assert(VM_GUEST_MMIO_EXIT == 0 && VM_GUEST_IO_EXIT == 1 && VM_GUEST_NOTIFICATION_EXIT == 2 &&
                   VM_GUEST_UNKNOWN_EXIT == 3 && VM_GUEST_ERROR_EXIT == -1,
               "vm_exit_codes_t values");
_Static_assert(BOOT_VCPU == 0, "BOOT_VCPU");
_Static_assert(seL4_VCPUReg_SCTLR == 0 && seL4_VCPUReg_VMPIDR_EL2 == 16 && seL4_VCPUReg_CNTKCTL_EL1 == 23 &&
                   seL4_VCPUReg_Num == 24,
               "seL4_VCPUReg numbering");
_Static_assert(offsetof(seL4_UserContext, pc) == 0 && offsetof(seL4_UserContext, x0) == 3 * 8 &&
                   offsetof(seL4_UserContext, x16) == 12 * 8 && offsetof(seL4_UserContext, x9) == 17 * 8 &&
                   offsetof(seL4_UserContext, x19) == 24 * 8 && offsetof(seL4_UserContext, tpidrro_el0) == 35 * 8,
               "seL4_UserContext word order");

/* A pointer of exactly the declared type, initialised with the function. */
#define F(ret, name, args) static ret (*const p_##name) args = name;

/* boot.h */
F(int, vm_init, (vm_t *, vka_t *, simple_t *, vspace_t, ps_io_ops_t *, seL4_CPtr, const char *))
F(vm_vcpu_t *, vm_create_vcpu, (vm_t *, int))
F(int, vm_assign_vcpu_target, (vm_vcpu_t *, int))
/* guest_vm.h */
F(int, vm_run, (vm_t *))
F(int, vcpu_start, (vm_vcpu_t *))
F(int, vm_register_unhandled_mem_fault_callback, (vm_t *, unhandled_mem_fault_callback_fn, void *))
F(int, vm_register_notification_callback, (vm_t *, notification_callback_fn, void *))
/* guest_ram.h */
F(int, vm_guest_ram_read_callback, (vm_t *, uintptr_t, void *, size_t, size_t, void *))
F(int, vm_guest_ram_write_callback, (vm_t *, uintptr_t, void *, size_t, size_t, void *))
F(int, vm_ram_touch, (vm_t *, uintptr_t, size_t, ram_touch_callback_fn, void *))
F(int, vm_ram_find_largest_free_region, (vm_t *, uintptr_t *, size_t *))
F(uintptr_t, vm_ram_register, (vm_t *, size_t))
F(int, vm_ram_register_at, (vm_t *, uintptr_t, size_t, bool))
F(int, vm_ram_register_at_custom_iterator, (vm_t *, uintptr_t, size_t, memory_map_iterator_fn, void *))
F(void, vm_ram_mark_allocated, (vm_t *, uintptr_t, size_t))
F(uintptr_t, vm_ram_allocate, (vm_t *, size_t))
F(void, vm_ram_free, (vm_t *, uintptr_t, size_t))
/* guest_memory.h */
F(vm_memory_reservation_t *, vm_reserve_memory_at, (vm_t *, uintptr_t, size_t, memory_fault_callback_fn, void *))
F(vm_memory_reservation_t *, vm_reserve_anon_memory, (vm_t *, size_t, size_t, memory_fault_callback_fn, void *, uintptr_t *))
F(int, vm_memory_make_anon, (vm_t *, uintptr_t, size_t))
F(int, vm_free_reserved_memory, (vm_t *, vm_memory_reservation_t *))
F(int, vm_map_reservation, (vm_t *, vm_memory_reservation_t *, memory_map_iterator_fn, void *))
F(int, vm_map_reservation_frames, (vm_t *, vm_memory_reservation_t *, seL4_CPtr *, size_t, size_t))
F(void, vm_get_reservation_memory_region, (vm_memory_reservation_t *, uintptr_t *, size_t *))
F(int, vm_memory_init, (vm_t *))
/* guest_memory_helpers.h */
F(memory_fault_result_t, default_error_fault_callback, (vm_t *, vm_vcpu_t *, uintptr_t, size_t, void *))
/* guest_vcpu_fault.h */
F(seL4_Word, get_vcpu_fault_address, (vm_vcpu_t *))
F(seL4_Word, get_vcpu_fault_ip, (vm_vcpu_t *))
F(seL4_Word, get_vcpu_fault_data, (vm_vcpu_t *))
F(seL4_Word, get_vcpu_fault_data_mask, (vm_vcpu_t *))
F(size_t, get_vcpu_fault_size, (vm_vcpu_t *))
F(bool, is_vcpu_read_fault, (vm_vcpu_t *))
F(int, set_vcpu_fault_data, (vm_vcpu_t *, seL4_Word))
F(seL4_Word, emulate_vcpu_fault, (vm_vcpu_t *, seL4_Word))
F(void, advance_vcpu_fault, (vm_vcpu_t *))
F(void, restart_vcpu_fault, (vm_vcpu_t *))
/* guest_irq_controller.h */
F(int, vm_inject_irq, (vm_vcpu_t *, int))
F(int, vm_set_irq_level, (vm_vcpu_t *, int, int))
F(int, vm_register_irq, (vm_vcpu_t *, int, irq_ack_fn_t, void *))
F(int, vm_create_default_irq_controller, (vm_t *))
/* guest_vm_util.h */
F(seL4_CPtr, vm_get_vcpu_tcb, (vm_vcpu_t *))
F(seL4_CPtr, vm_get_vcpu, (vm_t *, int))
F(vm_vcpu_t *, vm_vcpu_for_target_cpu, (vm_t *, int))
F(vm_vcpu_t *, vm_find_free_unassigned_vcpu, (vm_t *))
F(bool, is_vcpu_online, (vm_vcpu_t *))
F(vspace_t *, vm_get_vspace, (vm_t *))
F(vspace_t *, vm_get_vmm_vspace, (vm_t *))
/* guest_iospace.h */
F(int, vm_guest_add_iospace, (vm_t *, vspace_t *, seL4_CPtr))
F(int, vmm_install_service, (vm_t *, seL4_CPtr, int, uint32_t))
/* arch/guest_arm_context.h */
F(int, vm_set_thread_context, (vm_vcpu_t *, seL4_UserContext))
F(int, vm_set_thread_context_reg, (vm_vcpu_t *, unsigned int, uintptr_t))
F(int, vm_get_thread_context, (vm_vcpu_t *, seL4_UserContext *))
F(int, vm_get_thread_context_reg, (vm_vcpu_t *, unsigned int, uintptr_t *))
F(int, vm_set_arm_vcpu_reg, (vm_vcpu_t *, seL4_Word, uintptr_t))
F(int, vm_get_arm_vcpu_reg, (vm_vcpu_t *, seL4_Word, uintptr_t *))
/* arch/guest_memory_arch.h */
F(uintptr_t, vm_arm_ipa_to_pa, (vm_t *, uintptr_t, size_t))
/* arch/guest_vm_arch.h */
F(int, vm_register_unhandled_vcpu_fault_callback, (vm_vcpu_t *, unhandled_vcpu_fault_callback_fn, void *))
F(int, vm_register_smc_handler_callback, (vm_t *, smc_handler_callback_fn))
/* sel4vm_ext.h (sel4vm_root_main is defined by applications, not the library;
 * sel4vm_bootinfo exists in the seL4 root-task build only) */
F(int, sel4vm_destroy, (vm_t *))
F(int, sel4vm_stop, (vm_t *))
F(int, sel4vm_get_exit_stats, (vm_t *, int, sel4vm_exit_stats_t *))
F(void, sel4vm_puts, (const char *))
/* host_test.h */
F(int, sel4vm_host_push_vm_fault, (vm_t *, unsigned int, uint64_t, uint64_t, uint32_t, bool))
F(int, sel4vm_host_push_vcpu_fault, (vm_t *, unsigned int, uint32_t))
F(int, sel4vm_host_push_notification, (vm_t *, uint64_t))
F(int, sel4vm_host_push_vgic_maintenance, (vm_t *, unsigned int, int))
F(size_t, sel4vm_host_pending_events, (vm_t *))
F(size_t, sel4vm_host_take_actions, (vm_t *, sel4vm_host_action_t *, size_t))
F(int, sel4vm_host_alloc_frame, (vm_t *, seL4_CPtr *))

/* Keeps every pointer alive so the linker has to resolve each symbol. */
static void *const all_functions[] = {
#define P(name) (void *)p_##name,
#include "abi_functions.inc"
#undef P
};

int main(void)
{
    size_t missing = 0;
    for (size_t i = 0; i < sizeof(all_functions) / sizeof(all_functions[0]); i++) {
        missing += all_functions[i] == NULL;
    }
    printf("functions %zu\n", sizeof(all_functions) / sizeof(all_functions[0]));
    for (size_t i = 0; i < sizeof(sel4vm_layout) / sizeof(sel4vm_layout[0]); i++) {
        printf("%s %zu\n", sel4vm_layout[i].name, sel4vm_layout[i].c_value);
    }
    return missing != 0;
}
