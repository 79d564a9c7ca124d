/*
 * Host test of the C API's error paths: NULL pointers, uninitialised or
 * copied vm_t, foreign vCPU structs, callbacks returning errors, re-entrant
 * calls, and the fault-completion rules of the callbacks. Every call here
 * must return libsel4vm's error value (-1/NULL/0) rather than crash.
 */
#include <stdio.h>
#include <string.h>

#include <sel4vm/boot.h>
#include <sel4vm/guest_vm.h>
#include <sel4vm/guest_ram.h>
#include <sel4vm/guest_memory.h>
#include <sel4vm/guest_memory_helpers.h>
#include <sel4vm/guest_vcpu_fault.h>
#include <sel4vm/guest_irq_controller.h>
#include <sel4vm/guest_vm_util.h>
#include <sel4vm/guest_iospace.h>
#include <sel4vm/arch/guest_arm_context.h>
#include <sel4vm/arch/guest_vm_arch.h>
#include <sel4vm/arch/guest_memory_arch.h>
#include <sel4vm/sel4vm_ext.h>
#include <sel4vm/host_test.h>

static int failures, checks;
#define CHECK(c)                                                          \
    do {                                                                  \
        checks++;                                                         \
        if (!(c)) {                                                       \
            failures++;                                                   \
            printf("bad_input.c:%d: CHECK FAILED: %s\n", __LINE__, #c);   \
        }                                                                 \
    } while (0)

#define RAM 0x40000000ul
#define DEV 0x20000000ul
#define DABT_NO_ISV ((0x24u << 26) | (1u << 25) | 0x07u)
#define PC_LDR RAM        /* ldr w3, [x0] */
#define PC_STR (RAM + 4)  /* str w2, [x0] */

static vm_t zeroed_vm; /* static, never initialised */

static memory_fault_result_t cb_result = FAULT_HANDLED;
static int cb_calls, cb_restart_inside, cb_reenter_result = 12345;
static memory_fault_result_t dev_cb(vm_t *vm, vm_vcpu_t *vcpu, uintptr_t addr, size_t len, void *cookie)
{
    (void)addr;
    (void)len;
    (void)cookie;
    cb_calls++;
    if (is_vcpu_read_fault(vcpu)) {
        set_vcpu_fault_data(vcpu, 0x1234);
    }
    if (cb_restart_inside) {
        restart_vcpu_fault(vcpu);
    }
    /* The API is usable from inside a fault callback. */
    cb_reenter_result = (int)vm_ram_allocate(vm, 0x1000) != 0;
    return cb_result;
}

static int unhandled_calls;
static memory_fault_result_t unhandled_cb(vm_t *vm, vm_vcpu_t *vcpu, uintptr_t addr, size_t len, void *cookie)
{
    (void)vm;
    (void)vcpu;
    (void)addr;
    (void)len;
    (void)cookie;
    unhandled_calls++;
    return FAULT_IGNORE;
}

static memory_fault_result_t bogus_cb(vm_t *vm, vm_vcpu_t *vcpu, uintptr_t addr, size_t len, void *cookie)
{
    (void)vm;
    (void)vcpu;
    (void)addr;
    (void)len;
    (void)cookie;
    return (memory_fault_result_t)77;
}

static int notif_result;
static int notif_cb(vm_t *vm, seL4_Word badge, seL4_MessageInfo_t tag, void *cookie)
{
    (void)vm;
    (void)badge;
    (void)tag;
    (void)cookie;
    return notif_result;
}

static int touch_calls, touch_reenter = 12345;
static int touch_fail_cb(vm_t *vm, uintptr_t ga, void *va, size_t size, size_t off, void *cookie)
{
    (void)ga;
    (void)va;
    (void)size;
    (void)off;
    (void)cookie;
    touch_calls++;
    /* Not allowed from here: must be refused, not crash. */
    touch_reenter = (int)vm_ram_allocate(vm, 0x1000);
    return touch_calls == 2 ? -1 : 0;
}

static int vcpu_cb_calls, vcpu_cb_result, vcpu_cb_advance;
static int vcpu_fault_cb(vm_vcpu_t *vcpu, uint32_t hsr, void *cookie)
{
    (void)hsr;
    (void)cookie;
    vcpu_cb_calls++;
    if (vcpu_cb_advance) {
        advance_vcpu_fault(vcpu);
    }
    return vcpu_cb_result;
}

static int smc_calls;
static int smc_cb(vm_vcpu_t *vcpu, seL4_UserContext *regs)
{
    (void)vcpu;
    smc_calls++;
    if (regs->x0 == 0xbad) {
        return -1;
    }
    regs->x0 = 0x600d;
    return 0;
}

static vm_frame_t null_iterator(uintptr_t addr, void *cookie)
{
    (void)addr;
    (void)cookie;
    vm_frame_t f = { 0 };
    return f;
}

/* Hands out frames allocated beforehand (the VM cannot be used from here). */
static seL4_CPtr iter_frames[2];
static int iter_next;
static vm_frame_t host_iterator(uintptr_t addr, void *cookie)
{
    vm_t *vm = cookie;
    vm_frame_t f = { 0 };
    f.vaddr = addr;
    f.size_bits = 12;
    f.rights = seL4_AllRights;
    /* refused: busy */
    seL4_CPtr extra = 0;
    if (sel4vm_host_alloc_frame(vm, &extra) == 0) {
        return f;
    }
    f.cptr = iter_frames[iter_next++ % 2];
    return f;
}

static size_t replies(vm_t *vm, uint64_t *pc)
{
    sel4vm_host_action_t a[8];
    size_t n = sel4vm_host_take_actions(vm, a, 8);
    size_t r = 0;
    for (size_t i = 0; i < n && i < 8; i++) {
        if (a[i].kind == SEL4VM_HOST_REPLY) {
            r++;
            *pc = a[i].value;
        }
    }
    return r;
}

static void fault_at(vm_t *vm, vm_vcpu_t *v, uint64_t pc, uint64_t addr)
{
    vm_set_thread_context_reg(v, 0, pc);
    sel4vm_host_push_vm_fault(vm, 0, pc, addr, DABT_NO_ISV, false);
}

/* A vka_t / vspace_t whose operations must never run on the host build:
 * vm_init only checks which ones are present. Assigning these to the
 * members also checks the headers' prototypes (-Werror). */
static int never_called;
static int t_cspace_alloc(void *d, seL4_CPtr *r) { (void)d; (void)r; never_called++; return -1; }
static void t_make_path(void *d, seL4_CPtr s, cspacepath_t *p) { (void)d; (void)s; (void)p; never_called++; }
static int t_ut_alloc(void *d, const cspacepath_t *p, seL4_Word t, seL4_Word b, seL4_Word *c)
{ (void)d; (void)p; (void)t; (void)b; (void)c; never_called++; return -1; }
static int t_ut_alloc_dev(void *d, const cspacepath_t *p, seL4_Word t, seL4_Word b, bool dev, seL4_Word *c)
{ (void)d; (void)p; (void)t; (void)b; (void)dev; (void)c; never_called++; return -1; }
static int t_ut_alloc_at(void *d, const cspacepath_t *p, seL4_Word t, seL4_Word b, uintptr_t pa, seL4_Word *c)
{ (void)d; (void)p; (void)t; (void)b; (void)pa; (void)c; never_called++; return -1; }
static void t_cspace_free(void *d, seL4_CPtr s) { (void)d; (void)s; never_called++; }
static void t_ut_free(void *d, seL4_Word t, seL4_Word b, seL4_Word c) { (void)d; (void)t; (void)b; (void)c; never_called++; }
static uintptr_t t_ut_paddr(void *d, seL4_Word c, seL4_Word t, seL4_Word b)
{ (void)d; (void)c; (void)t; (void)b; never_called++; return VKA_NO_PADDR; }
static int t_map_at(vspace_t *v, seL4_CPtr caps[], uintptr_t cookies[], void *va, size_t n, size_t b, reservation_t r)
{ (void)v; (void)caps; (void)cookies; (void)va; (void)n; (void)b; (void)r; never_called++; return -1; }
static void t_unmap(vspace_t *v, void *va, size_t n, size_t b, vka_t *f) { (void)v; (void)va; (void)n; (void)b; (void)f; never_called++; }
static reservation_t t_reserve(vspace_t *v, size_t n, size_t b, seL4_CapRights_t r, int c, void **va)
{ (void)v; (void)n; (void)b; (void)r; (void)c; (void)va; never_called++; return (reservation_t){ NULL }; }
static void t_free_res(vspace_t *v, reservation_t r) { (void)v; (void)r; never_called++; }

static void check_vka_interop(void)
{
    vka_t vka = {
        .data = NULL,
        .cspace_alloc = t_cspace_alloc,
        .cspace_make_path = t_make_path,
        .utspace_alloc = t_ut_alloc,
        .utspace_alloc_maybe_device = t_ut_alloc_dev,
        .utspace_alloc_at = t_ut_alloc_at,
        .cspace_free = t_cspace_free,
        .utspace_free = t_ut_free,
        .utspace_paddr = t_ut_paddr,
    };
    vspace_t vs = { 0 };
    vs.map_pages_at_vaddr = t_map_at;
    vs.unmap_pages = t_unmap;
    vs.reserve_range_aligned = t_reserve;
    vs.free_reservation = t_free_res;
    vm_t vm;

    /* A vspace_t without the mapping operations cannot back a vka. */
    vspace_t empty = { 0 };
    CHECK(vm_init(&vm, &vka, NULL, empty, NULL, 0, "vka-no-vspace") == -1);
    /* Missing vka operations are refused, one at a time. */
    vka_t v = vka;
    v.cspace_free = NULL;
    CHECK(vm_init(&vm, &v, NULL, vs, NULL, 0, "vka-no-cspace-free") == -1);
    v = vka;
    v.utspace_free = NULL;
    CHECK(vm_init(&vm, &v, NULL, vs, NULL, 0, "vka-no-ut-free") == -1);
    v = vka;
    v.utspace_alloc = NULL;
    v.utspace_alloc_maybe_device = NULL;
    CHECK(vm_init(&vm, &v, NULL, vs, NULL, 0, "vka-no-ut-alloc") == -1);
    /* Complete: accepted, stored, and (host build) never called. */
    CHECK(vm_init(&vm, &vka, NULL, vs, NULL, 0, "vka") == 0);
    CHECK(vm.vka == &vka && vm.mem.vmm_vspace.map_pages_at_vaddr == t_map_at);
    CHECK(sel4vm_destroy(&vm) == 0);
    CHECK(never_called == 0);
}

int main(void)
{
    vspace_t vs = { 0 };
    uintptr_t a = 0;
    size_t s = 0;
    uint64_t pc = 0;

    /* ---- NULL and uninitialised vm_t ---- */
    CHECK(vm_init(NULL, NULL, NULL, vs, NULL, 0, "x") == -1);
    check_vka_interop();
    vm_t garbage;
    memset(&garbage, 0xab, sizeof(garbage));
    vm_t *bad[] = { NULL, &zeroed_vm, &garbage };
    for (int i = 0; i < 3; i++) {
        vm_t *b = bad[i];
        CHECK(vm_create_vcpu(b, 1) == NULL);
        CHECK(vm_run(b) == -1);
        CHECK(vm_ram_register_at(b, RAM, 0x1000, false) == -1);
        CHECK(vm_ram_register(b, 0x1000) == 0);
        CHECK(vm_ram_allocate(b, 0x1000) == 0);
        vm_ram_free(b, RAM, 0x1000);
        vm_ram_mark_allocated(b, RAM, 0x1000);
        CHECK(vm_ram_find_largest_free_region(b, &a, &s) == -1);
        CHECK(vm_ram_touch(b, RAM, 4, vm_guest_ram_read_callback, &a) == -1);
        CHECK(vm_reserve_memory_at(b, DEV, 0x1000, dev_cb, NULL) == NULL);
        CHECK(vm_reserve_anon_memory(b, 0x1000, 0x1000, dev_cb, NULL, &a) == NULL);
        CHECK(vm_memory_make_anon(b, DEV, 0x1000) == -1);
        CHECK(vm_free_reserved_memory(b, NULL) == -1);
        CHECK(vm_map_reservation(b, NULL, null_iterator, NULL) == -1);
        CHECK(vm_memory_init(b) == -1);
        CHECK(vm_register_unhandled_mem_fault_callback(b, unhandled_cb, NULL) == -1);
        CHECK(vm_register_notification_callback(b, notif_cb, NULL) == -1);
        CHECK(vm_register_smc_handler_callback(b, smc_cb) == -1);
        CHECK(vm_create_default_irq_controller(b) == -1);
        CHECK(vm_get_vcpu(b, 0) == seL4_CapNull);
        CHECK(vm_vcpu_for_target_cpu(b, 0) == NULL);
        CHECK(vm_find_free_unassigned_vcpu(b) == NULL);
        CHECK(vm_get_vspace(b) == NULL && vm_get_vmm_vspace(b) == NULL);
        CHECK(vm_guest_add_iospace(b, NULL, 5) == -1);
        CHECK(vm_arm_ipa_to_pa(b, RAM, 0x1000) == 0);
        CHECK(sel4vm_destroy(b) == -1);
        CHECK(sel4vm_stop(b) == -1);
        sel4vm_exit_stats_t st;
        CHECK(sel4vm_get_exit_stats(b, -1, &st) == -1);
    }
    /* ---- NULL vCPU and out-pointers ---- */
    CHECK(vcpu_start(NULL) == -1);
    CHECK(vm_assign_vcpu_target(NULL, 0) == -1);
    CHECK(vm_inject_irq(NULL, 1) == -1 && vm_set_irq_level(NULL, 1, 1) == -1);
    CHECK(vm_register_irq(NULL, 1, NULL, NULL) == -1);
    CHECK(get_vcpu_fault_address(NULL) == 0 && get_vcpu_fault_ip(NULL) == 0 && get_vcpu_fault_data(NULL) == 0);
    CHECK(get_vcpu_fault_data_mask(NULL) == 0 && get_vcpu_fault_size(NULL) == 0 && !is_vcpu_read_fault(NULL));
    CHECK(set_vcpu_fault_data(NULL, 1) == -1 && emulate_vcpu_fault(NULL, 7) == 7);
    advance_vcpu_fault(NULL);
    restart_vcpu_fault(NULL);
    CHECK(vm_get_vcpu_tcb(NULL) == seL4_CapNull && !is_vcpu_online(NULL));
    CHECK(vm_register_unhandled_vcpu_fault_callback(NULL, vcpu_fault_cb, NULL) == -1);
    seL4_UserContext ctx = { 0 };
    uintptr_t val = 0;
    CHECK(vm_set_thread_context(NULL, ctx) == -1 && vm_get_thread_context(NULL, &ctx) == -1);
    CHECK(vm_set_thread_context_reg(NULL, 0, 0) == -1 && vm_get_thread_context_reg(NULL, 0, &val) == -1);
    CHECK(vm_set_arm_vcpu_reg(NULL, 0, 0) == -1 && vm_get_arm_vcpu_reg(NULL, 0, &val) == -1);
    vm_get_reservation_memory_region(NULL, &a, &s);
    CHECK(vm_guest_ram_read_callback(NULL, 0, NULL, 4, 0, NULL) == -1);
    CHECK(vm_guest_ram_write_callback(NULL, 0, NULL, 4, 0, NULL) == -1);
    CHECK(default_error_fault_callback(NULL, NULL, 0, 4, NULL) == FAULT_ERROR);
    sel4vm_puts(NULL);

    /* ---- an initialised VM ---- */
    vm_t vm;
    CHECK(vm_init(&vm, NULL, NULL, vs, NULL, 0, NULL) == -1);
    CHECK(vm_init(&vm, NULL, NULL, vs, NULL, 7, "bad-input") == 0);
    CHECK(vm_init(&vm, NULL, NULL, vs, NULL, 7, "again") == -1);
    CHECK(vm.host_endpoint == 7 && strcmp(vm.vm_name, "bad-input") == 0);
    CHECK(vm_memory_init(&vm) == 0);
    vm_t copy;
    memcpy(&copy, &vm, sizeof(vm));
    CHECK(vm_create_vcpu(&copy, 1) == NULL);
    CHECK(vm_create_vcpu(&vm, 256) == NULL && vm_create_vcpu(&vm, -1) == NULL);
    vm_vcpu_t *v = vm_create_vcpu(&vm, 10);
    CHECK(v != NULL);
    vm_vcpu_t fake = *v; /* a struct the library did not hand out */
    CHECK(vcpu_start(&fake) == -1);
    CHECK(vm_assign_vcpu_target(v, -1) == -1);
    CHECK(vm_find_free_unassigned_vcpu(&vm) == v);
    CHECK(vm_assign_vcpu_target(v, 0) == 0 && vm_vcpu_for_target_cpu(&vm, 0) == v);
    CHECK(vm_get_vcpu(&vm, 0) == v->vcpu.cptr && vm_get_vcpu(&vm, 1) == seL4_CapNull && vm_get_vcpu(&vm, -1) == 0);
    CHECK(vm_get_vcpu_tcb(v) == v->tcb.tcb.cptr);
    CHECK(vm_get_vspace(&vm) == &vm.mem.vm_vspace && vm_get_vmm_vspace(&vm) == &vm.mem.vmm_vspace);
    CHECK(vm_get_thread_context(v, NULL) == -1 && vm_get_thread_context_reg(v, 0, NULL) == -1);
    CHECK(vm_get_thread_context_reg(v, 36, &val) == -1 && vm_set_thread_context_reg(v, 36, 0) == -1);
    CHECK(vm_set_arm_vcpu_reg(v, seL4_VCPUReg_Num, 1) == -1);
    CHECK(vm_set_arm_vcpu_reg(v, seL4_VCPUReg_VBAR, 0x8000) == 0);
    CHECK(vm_get_arm_vcpu_reg(v, seL4_VCPUReg_VBAR, &val) == 0 && val == 0x8000);
    CHECK(vm_guest_add_iospace(&vm, NULL, 5) == -1); /* no IOMMU on aarch64 */
    /* no fault yet */
    CHECK(get_vcpu_fault_address(v) == 0 && set_vcpu_fault_data(v, 1) == -1);
    /* IRQs before the controller exists, negative numbers */
    CHECK(vm_register_irq(v, 5, NULL, NULL) == -1);
    CHECK(vm_create_default_irq_controller(&vm) == 0 && vm_create_default_irq_controller(&vm) == -1);
    CHECK(vm_inject_irq(v, -3) == -1 && vm_register_irq(v, -3, NULL, NULL) == -1);
    CHECK(vm_set_irq_level(v, 9, 1) == -1); /* not registered */

    /* RAM: alignment, overlap, NULL out-pointers */
    CHECK(vm_ram_register_at(&vm, RAM + 1, 0x1000, false) == -1);
    CHECK(vm_ram_register_at(&vm, RAM, 0x10000, false) == 0);
    CHECK(vm_ram_register_at(&vm, RAM, 0x1000, false) == -1);
    CHECK(vm_ram_find_largest_free_region(&vm, NULL, &s) == -1);
    CHECK(vm_ram_touch(&vm, RAM, 4, NULL, NULL) == -1);
    CHECK(vm_ram_touch(&vm, RAM + 0xf000, 0x2000, vm_guest_ram_read_callback, &a) == -1); /* past RAM */
    CHECK(vm_ram_register(&vm, 0x1000) == 0); /* no anonymous region */
    vm_ram_free(&vm, RAM, 0x1000);            /* not allocated: logged, no change */
    CHECK(vm.mem.num_ram_regions == 1 && !vm.mem.ram_regions[0].allocated);
    /* The guest code the faults below decode. */
    uint32_t code[2] = { 0xb9400003, 0xb9000002 };
    CHECK(vm_ram_touch(&vm, RAM, sizeof(code), vm_guest_ram_write_callback, code) == 0);
    /* A touch callback failing stops the walk; re-entering is refused. */
    CHECK(vm_ram_touch(&vm, RAM, 0x4000, touch_fail_cb, NULL) == -1);
    CHECK(touch_calls == 2 && touch_reenter == 0);
    CHECK(vm.mem.num_ram_regions == 1); /* the refused allocation did nothing */

    /* Reservations */
    CHECK(vm_reserve_memory_at(&vm, DEV, 0x1000, NULL, NULL) == NULL);
    CHECK(vm_reserve_memory_at(&vm, DEV + 8, 0x1000, dev_cb, NULL) == NULL);
    CHECK(vm_reserve_memory_at(&vm, RAM, 0x1000, dev_cb, NULL) == NULL); /* overlaps RAM */
    vm_memory_reservation_t *dev = vm_reserve_memory_at(&vm, DEV, 0x1000, dev_cb, NULL);
    CHECK(dev != NULL);
    vm_get_reservation_memory_region(dev, &a, &s);
    CHECK(a == DEV && s == 0x1000);
    CHECK(vm_reserve_anon_memory(&vm, 0x1000, 0x1000, dev_cb, NULL, NULL) == NULL);
    CHECK(vm_reserve_anon_memory(&vm, 0x1000, 0x1000, dev_cb, NULL, &a) == NULL); /* no anon region */
    CHECK(vm_memory_make_anon(&vm, 0x50000000, 0x10000) == 0);
    vm_memory_reservation_t *anon = vm_reserve_anon_memory(&vm, 0x2000, 0x2000, dev_cb, NULL, &a);
    CHECK(anon != NULL && a == 0x50000000);
    CHECK(vm_map_reservation(&vm, anon, NULL, NULL) == -1);
    CHECK(vm_map_reservation(&vm, anon, null_iterator, NULL) == -1);       /* seL4_CapNull frame */
    CHECK(sel4vm_host_alloc_frame(&vm, &iter_frames[0]) == 0 && sel4vm_host_alloc_frame(&vm, &iter_frames[1]) == 0);
    CHECK(vm_map_reservation(&vm, anon, host_iterator, &vm) == 0);
    CHECK(vm_map_reservation(&vm, anon, host_iterator, &vm) == -1);        /* mapped already */
    CHECK(vm_arm_ipa_to_pa(&vm, 0x50000000, 0x1000) != 0);
    seL4_CPtr fr[2] = { 0, 0 };
    CHECK(sel4vm_host_alloc_frame(&vm, &fr[0]) == 0 && sel4vm_host_alloc_frame(&vm, NULL) == -1);
    vm_memory_reservation_t *r2 = vm_reserve_anon_memory(&vm, 0x1000, 0x1000, dev_cb, NULL, &a);
    CHECK(vm_map_reservation_frames(&vm, r2, fr, 1, 21) == -1);
    CHECK(vm_map_reservation_frames(&vm, r2, NULL, 1, 12) == -1);
    fr[1] = 0xdead0000; /* not a frame */
    CHECK(vm_map_reservation_frames(&vm, r2, &fr[1], 1, 12) == -1);
    CHECK(vm_map_reservation_frames(&vm, r2, fr, 1, 12) == 0);
    CHECK(vm_free_reserved_memory(&vm, anon) == 0);
    CHECK(vm_free_reserved_memory(&vm, anon) == -1); /* stale handle */
    CHECK(vm_free_reserved_memory(&vm, (vm_memory_reservation_t *)&vm) == -1);

    /* ---- callbacks and their results ---- */
    CHECK(vcpu_start(v) == 0);
    sel4vm_host_take_actions(&vm, NULL, 0);
    vm_set_thread_context_reg(v, 3, DEV); /* x0 */
    vm_set_thread_context_reg(v, 5, 0x55); /* x2 */

    /* HANDLED load: data goes to w3, vCPU advanced; API usable inside */
    cb_result = FAULT_HANDLED;
    fault_at(&vm, v, PC_LDR, DEV);
    CHECK(vm_run(&vm) == 0);
    CHECK(replies(&vm, &pc) == 1 && pc == PC_LDR + 4);
    CHECK(vm_get_thread_context_reg(v, 6, &val) == 0 && val == 0x1234);
    CHECK(cb_reenter_result == 1);
    CHECK(get_vcpu_fault_address(v) == DEV && is_vcpu_read_fault(v) && get_vcpu_fault_size(v) == 4);
    /* restart_vcpu_fault inside + HANDLED: the instruction runs again */
    cb_restart_inside = 1;
    fault_at(&vm, v, PC_STR, DEV);
    CHECK(vm_run(&vm) == 0);
    CHECK(replies(&vm, &pc) == 1 && pc == PC_STR);
    CHECK(get_vcpu_fault_data(v) == 0x55 && !is_vcpu_read_fault(v));
    cb_restart_inside = 0;
    /* RESTART */
    cb_result = FAULT_RESTART;
    fault_at(&vm, v, PC_STR, DEV);
    CHECK(vm_run(&vm) == 0 && replies(&vm, &pc) == 1 && pc == PC_STR);
    /* UNHANDLED -> unhandled-fault callback (IGNORE: skip, w3 untouched) */
    CHECK(vm_register_unhandled_mem_fault_callback(&vm, NULL, NULL) == -1);
    CHECK(vm_register_unhandled_mem_fault_callback(&vm, unhandled_cb, NULL) == 0);
    CHECK(vm.mem.unhandled_mem_fault_handler == unhandled_cb);
    vm_set_thread_context_reg(v, 6, 0x77);
    cb_result = FAULT_UNHANDLED;
    fault_at(&vm, v, PC_LDR, DEV);
    CHECK(vm_run(&vm) == 0 && unhandled_calls == 1 && replies(&vm, &pc) == 1 && pc == PC_LDR + 4);
    CHECK(vm_get_thread_context_reg(v, 6, &val) == 0 && val == 0x77);
    /* ERROR from the callback */
    cb_result = FAULT_ERROR;
    fault_at(&vm, v, PC_LDR, DEV);
    CHECK(vm_run(&vm) == -1 && vm.run.exit_reason == -1 && replies(&vm, &pc) == 0);
    /* a value that is not a memory_fault_result_t */
    CHECK(vm_free_reserved_memory(&vm, dev) == 0);
    dev = vm_reserve_memory_at(&vm, DEV, 0x1000, bogus_cb, NULL);
    fault_at(&vm, v, PC_LDR, DEV);
    CHECK(vm_run(&vm) == -1);
    /* default_error_fault_callback as a reservation callback */
    CHECK(vm_free_reserved_memory(&vm, dev) == 0);
    dev = vm_reserve_memory_at(&vm, DEV, 0x1000, default_error_fault_callback, NULL);
    fault_at(&vm, v, PC_LDR, DEV);
    CHECK(vm_run(&vm) == -1);

    /* notifications: error code from the callback; none registered */
    CHECK(sel4vm_host_push_notification(&vm, 0) == -1);
    sel4vm_host_push_notification(&vm, 1);
    CHECK(vm_run(&vm) == VM_GUEST_NOTIFICATION_EXIT);
    CHECK(vm_register_notification_callback(&vm, NULL, NULL) == -1);
    CHECK(vm_register_notification_callback(&vm, notif_cb, NULL) == 0);
    notif_result = -1;
    sel4vm_host_push_notification(&vm, 1);
    CHECK(vm_run(&vm) == -1);
    notif_result = 0;
    sel4vm_host_push_notification(&vm, 1);
    CHECK(vm_run(&vm) == 0);

    /* unhandled VCPU faults (MSR/MRS trap, EC 0x18) */
    uint32_t sysreg = (0x18u << 26) | (1u << 25);
    CHECK(vm_register_unhandled_vcpu_fault_callback(v, NULL, NULL) == -1);
    CHECK(vm_register_unhandled_vcpu_fault_callback(v, vcpu_fault_cb, NULL) == 0);
    vm_set_thread_context_reg(v, 0, RAM + 0x100);
    sel4vm_host_push_vcpu_fault(&vm, 0, sysreg);
    CHECK(vm_run(&vm) == 0 && vcpu_cb_calls == 1 && replies(&vm, &pc) == 0); /* left pending */
    advance_vcpu_fault(v);                                                   /* completed later */
    CHECK(replies(&vm, &pc) == 1 && pc == RAM + 0x104);
    advance_vcpu_fault(v); /* nothing pending any more: logged, no reply */
    CHECK(replies(&vm, &pc) == 0);
    vcpu_cb_advance = 1;
    sel4vm_host_push_vcpu_fault(&vm, 0, sysreg);
    CHECK(vm_run(&vm) == 0 && replies(&vm, &pc) == 1 && pc == RAM + 0x108);
    vcpu_cb_result = -1;
    sel4vm_host_push_vcpu_fault(&vm, 0, sysreg);
    CHECK(vm_run(&vm) == -1);
    vcpu_cb_result = 0;

    /* SMC handler: registers written back, error ends the run */
    uint32_t smc = (0x17u << 26) | (1u << 25);
    CHECK(vm_register_smc_handler_callback(&vm, NULL) == -1);
    CHECK(vm_register_smc_handler_callback(&vm, smc_cb) == 0 && vm.arch.vm_smc_handler == smc_cb);
    vm_set_thread_context_reg(v, 0, RAM + 0x200);
    vm_set_thread_context_reg(v, 3, 1);
    sel4vm_host_push_vcpu_fault(&vm, 0, smc);
    CHECK(vm_run(&vm) == 0 && smc_calls == 1 && vcpu_cb_calls == 3);
    CHECK(vm_get_thread_context_reg(v, 3, &val) == 0 && val == 0x600d);
    vm_set_thread_context_reg(v, 3, 0xbad);
    sel4vm_host_push_vcpu_fault(&vm, 0, smc);
    CHECK(vm_run(&vm) == -1);

    /* destroy: refused for copies, then the struct is uninitialised */
    CHECK(sel4vm_destroy(&copy) == -1);
    CHECK(sel4vm_destroy(&vm) == 0);
    CHECK(vm_run(&vm) == -1 && vm_create_vcpu(&vm, 1) == NULL);
    CHECK(vm_init(&vm, NULL, NULL, vs, NULL, 0, "reused") == 0 && sel4vm_destroy(&vm) == 0);

    printf("bad_input: %d checks, %d failed\n", checks, failures);
    return failures != 0;
}
