/*
 * seL4 run of the C VMM: a C root task on the library's root-task runtime
 * (libsel4vm.a built with the `root-task` feature calls sel4vm_root_main;
 * the runtime hands it BootInfo and sets up libsel4). Like a
 * CAmkES VMM it hands vm_init its own allocator (sel4_alloc.c: a vka_t and
 * vspace_t over BootInfo), backs guest RAM with its own frames through a
 * memory iterator, and maps one more frame of its own into the guest with
 * vm_map_reservation_frames. The guest program runs in a real vCPU; the
 * device accesses arrive as stage-2 faults from the kernel.
 * Build: see README.md; no libc is used (-ffreestanding -nostdlib).
 */
#include "vmm.h"
#include "sel4_alloc.h"

#ifndef CONFIG_DEBUG_BUILD
#error "the seL4 run checks caps with seL4_DebugCapIdentify: it needs a kernel built with KernelDebugBuild"
#endif

/* seL4_DebugCapIdentify's cap types (the kernel's cap tags on aarch64). */
#define CAP_TYPE_NULL 0
#define CAP_TYPE_FRAME 1
#define CAP_TYPE_CNODE 10
#define SHARED_MAGIC 0x5eed1234u

static struct vmm_state st;
static struct sel4_alloc alloc;
static vka_t vka;
static unsigned int ram_frames;

/* Guest RAM from the application's frames, one per page. */
static vm_frame_t ram_frame(uintptr_t addr, void *cookie)
{
    ram_frames++;
    return (vm_frame_t) {
        .cptr = sel4_alloc_frame(cookie),
        .rights = seL4_AllRights,
        .vaddr = addr,
        .size_bits = seL4_PageBits,
    };
}

static unsigned int shared_faults;

static memory_fault_result_t shared_fault(vm_t *vm, vm_vcpu_t *vcpu, uintptr_t fault_addr, size_t fault_length,
                                          void *cookie)
{
    (void)vm;
    (void)vcpu;
    (void)fault_addr;
    (void)fault_length;
    (void)cookie;
    /* Never: the page is mapped before the guest runs. */
    shared_faults++;
    return FAULT_ERROR;
}

int sel4vm_root_main(void)
{
    sel4vm_puts("c-vmm: C root task started");
    vspace_t vspace;
    if (sel4_alloc_init(&alloc, &vka, &vspace) != 0) {
        sel4vm_puts("c-vmm: CHECK FAILED: sel4vm_bootinfo");
        return 1;
    }
    struct vmm_env env = {
        .vka = &vka,
        .vspace = vspace,
        .ram_iterator = ram_frame,
        .ram_cookie = &alloc,
    };
    int step = vmm_setup(&st, &env);
    if (step != 0) {
        sel4vm_puts("c-vmm: CHECK FAILED: setup");
        return step;
    }
    vmm_check(&st, alloc.objects > ram_frames && alloc.slots > 0 && alloc.reservations > 0 && alloc.mapped > 0,
              "vm_init took its kernel objects and VMM mappings through the application's vka_t and vspace_t");
    vmm_check(&st, ram_frames == GUEST_RAM_SIZE >> seL4_PageBits, "guest RAM from the application's frames");
    vmm_check(&st, st.vm.cspace.cspace_obj.cptr != seL4_CapNull &&
                       seL4_DebugCapIdentify(st.vm.cspace.cspace_obj.cptr) == CAP_TYPE_CNODE &&
                       st.vm.cspace.cspace_root_data != 0,
              "vm_t.cspace names the VM's CNode");

    /* A frame of the application's, written through its own mapping,
     * mapped into the guest at SHARED_BASE. */
    seL4_CPtr shared = sel4_alloc_frame(&alloc);
    volatile uint32_t *view = shared != seL4_CapNull ? sel4_alloc_map_frame(&alloc, shared) : NULL;
    vmm_check(&st, view != NULL, "the application maps its own frame");
    if (view == NULL) {
        return 1;
    }
    view[0] = SHARED_MAGIC;
    /* The guest reads with its MMU off (non-cacheable): clean the line. */
    vmm_check(&st, seL4_ARM_Page_Clean_Data(shared, 0, 1ul << seL4_PageBits) == seL4_NoError, "clean the frame");
    vm_memory_reservation_t *res = vm_reserve_memory_at(&st.vm, SHARED_BASE, 1ul << seL4_PageBits, shared_fault, &st);
    vmm_check(&st, res != NULL, "reserve the shared page");
    unsigned long slot_frees = alloc.slot_frees;
    vmm_check(&st, res != NULL && vm_map_reservation_frames(&st.vm, res, &shared, 1, seL4_PageBits) == 0,
              "vm_map_reservation_frames with the application's frame cap");

    int r = vm_run(&st.vm);
    vmm_check(&st, r == 0, "vm_run returned 0 after DONE");
    vmm_check_guest_result(&st, true);
    r = vm_run(&st.vm);
    vmm_check(&st, r == 0 && st.reported, "vm_run returned 0 after REPORT");
    vmm_check(&st, st.regs[DEVICE_REPORT_OFFSET / 4] == SHARED_MAGIC && shared_faults == 0,
              "the guest read the application's frame through vm_map_reservation_frames");
    uintptr_t pc = 0;
    vmm_check(&st, vm_get_thread_context_reg(st.vcpu, 0, &pc) == 0 && pc >= GUEST_ENTRY + GUEST_PC_FINAL,
              "guest reached its final loop");

    /* Freeing the reservation drops the library's copies of the cap (guest
     * and VMM mappings), never the application's cap or memory. */
    vmm_check(&st, vm_free_reserved_memory(&st.vm, res) == 0, "free the shared reservation");
    vmm_check(&st, alloc.slot_frees == slot_frees + 2, "both copies of the frame cap deleted and their slots returned");
    vmm_check(&st, seL4_DebugCapIdentify(shared) == CAP_TYPE_FRAME && view[0] == SHARED_MAGIC,
              "the application's frame cap and contents are untouched");

    if (st.failures == 0) {
        sel4vm_puts("c-vmm: all checks passed");
        return 0;
    }
    sel4vm_puts("c-vmm: checks failed");
    return 1;
}
