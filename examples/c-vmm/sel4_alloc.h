/*
 * A small vka_t / vspace_t over the root task's BootInfo, for the seL4 run
 * of the C VMM: the allocator a C root task (or, with allocman, a CAmkES
 * component) hands to vm_init. Written against libsel4 only.
 *
 * Untyped memory is managed as power-of-two blocks, each an untyped cap:
 * an object takes a block of exactly its size, split from a larger one
 * (Untyped_Retype into two halves) as needed; utspace_alloc_at splits
 * towards the requested address. A freed block is free again once the
 * object's caps are deleted (seL4 resets an untyped without children).
 * Blocks are not merged back. Slots come from BootInfo's empty region.
 *
 * The vspace_t maps into the root task's own VSpace from VA_BASE upwards,
 * creating page tables on demand; reservations are never reused.
 */
#pragma once

#include <sel4/sel4.h>
#include <sel4vm/sel4vm_types.h>
#include <sel4vm/sel4vm_ext.h>

#define SEL4_ALLOC_MAX_BLOCKS 4096
#define SEL4_ALLOC_MAX_MAPS 2048
#define SEL4_ALLOC_MAX_FREE_SLOTS 256

struct sel4_alloc_block {
    seL4_CPtr cap;
    uintptr_t paddr;
    uint8_t bits;
    bool device;
    /* 0 free, 1 split into two children, 2 holds an object */
    uint8_t state;
};

struct sel4_alloc_map {
    uintptr_t vaddr;
    seL4_CPtr cap;
    size_t size_bits;
};

struct sel4_alloc {
    seL4_BootInfo *bi;
    seL4_CPtr next_slot, end_slot;
    seL4_CPtr free_slots[SEL4_ALLOC_MAX_FREE_SLOTS];
    unsigned int nfree_slots;
    struct sel4_alloc_block blocks[SEL4_ALLOC_MAX_BLOCKS];
    unsigned int nblocks;
    uintptr_t next_vaddr;
    struct sel4_alloc_map maps[SEL4_ALLOC_MAX_MAPS];
    unsigned int nmaps;
    /* What vm_init and the VM did through the interfaces. */
    unsigned long objects, frees, splits, slots, slot_frees, page_tables, reservations, mapped, unmapped;
};

/* Takes BootInfo (sel4vm_bootinfo) and fills `vka` and `vspace`.
 * Returns 0, or -1 if BootInfo is missing. */
int sel4_alloc_init(struct sel4_alloc *a, vka_t *vka, vspace_t *vspace);

/* A 4 KiB frame of the application's own (slot + retype); 0 on failure. */
seL4_CPtr sel4_alloc_frame(struct sel4_alloc *a);

/* Maps an application frame cap into the root task at a fresh address
 * (NULL on failure). */
void *sel4_alloc_map_frame(struct sel4_alloc *a, seL4_CPtr frame);
