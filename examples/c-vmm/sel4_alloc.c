/* The seL4 run's vka_t / vspace_t over BootInfo; see sel4_alloc.h. */
#include "sel4_alloc.h"

/* Far above the image (4 MiB) and the IPC buffer / BootInfo after it. */
#define VA_BASE 0x1000000000ul

enum { BLOCK_FREE, BLOCK_SPLIT, BLOCK_USED };

static seL4_CPtr slot_alloc(struct sel4_alloc *a)
{
    if (a->nfree_slots > 0) {
        return a->free_slots[--a->nfree_slots];
    }
    if (a->next_slot >= a->end_slot) {
        return seL4_CapNull;
    }
    a->slots++;
    return a->next_slot++;
}

/* Two consecutive slots: a split retypes both halves in one call. */
static seL4_CPtr slot_alloc_pair(struct sel4_alloc *a)
{
    if (a->end_slot - a->next_slot < 2) {
        return seL4_CapNull;
    }
    seL4_CPtr s = a->next_slot;
    a->next_slot += 2;
    a->slots += 2;
    return s;
}

/* libsel4vka's size_bits is the object's size, except for CNodes (slots). */
static seL4_Word mem_bits(seL4_Word type, seL4_Word size_bits)
{
    return type == seL4_CapTableObject ? size_bits + seL4_SlotBits : size_bits;
}

static seL4_Word retype_size(seL4_Word type, seL4_Word size_bits)
{
    return type == seL4_CapTableObject || type == seL4_UntypedObject ? size_bits : 0;
}

/* Splits free block i into two halves; returns the lower half's index. */
static int split(struct sel4_alloc *a, unsigned int i)
{
    if (a->blocks[i].bits <= seL4_MinUntypedBits || a->nblocks + 2 > SEL4_ALLOC_MAX_BLOCKS) {
        return -1;
    }
    seL4_CPtr s = slot_alloc_pair(a);
    if (s == seL4_CapNull) {
        return -1;
    }
    uint8_t bits = a->blocks[i].bits - 1;
    if (seL4_Untyped_Retype(a->blocks[i].cap, seL4_UntypedObject, bits, seL4_CapInitThreadCNode, 0, 0, s, 2) !=
        seL4_NoError) {
        return -1;
    }
    a->blocks[i].state = BLOCK_SPLIT;
    for (unsigned int k = 0; k < 2; k++) {
        a->blocks[a->nblocks + k] = (struct sel4_alloc_block) {
            .cap = s + k,
            .paddr = a->blocks[i].paddr + ((uintptr_t)k << bits),
            .bits = bits,
            .device = a->blocks[i].device,
            .state = BLOCK_FREE,
        };
    }
    a->nblocks += 2;
    a->splits++;
    return (int)a->nblocks - 2;
}

/* The smallest free block that fits (RAM before device memory), split down. */
static int find_free(struct sel4_alloc *a, seL4_Word bits, bool dev_ok)
{
    int best = -1;
    for (unsigned int j = 0; j < a->nblocks; j++) {
        const struct sel4_alloc_block *b = &a->blocks[j];
        if (b->state != BLOCK_FREE || b->bits < bits || (b->device && !dev_ok)) {
            continue;
        }
        if (best < 0 || (a->blocks[best].device && !b->device) ||
            (a->blocks[best].device == b->device && b->bits < a->blocks[best].bits)) {
            best = (int)j;
        }
    }
    while (best >= 0 && a->blocks[best].bits > bits) {
        best = split(a, (unsigned int)best);
    }
    return best;
}

/* The free block of exactly 2^bits at paddr, splitting towards it. */
static int find_at(struct sel4_alloc *a, seL4_Word bits, uintptr_t paddr)
{
    if (paddr & ((1ul << bits) - 1)) {
        return -1;
    }
    for (;;) {
        int found = -1;
        for (unsigned int j = 0; j < a->nblocks; j++) {
            const struct sel4_alloc_block *b = &a->blocks[j];
            if (b->state == BLOCK_FREE && b->bits >= bits && paddr >= b->paddr &&
                paddr - b->paddr < (1ul << b->bits)) {
                found = (int)j;
                break;
            }
        }
        if (found < 0 || a->blocks[found].bits == bits) {
            return found;
        }
        if (split(a, (unsigned int)found) < 0) {
            return -1;
        }
    }
}

static int retype_into(struct sel4_alloc *a, int i, const cspacepath_t *dest, seL4_Word type, seL4_Word size_bits,
                       seL4_Word *cookie)
{
    if (i < 0) {
        return -1;
    }
    if (seL4_Untyped_Retype(a->blocks[i].cap, type, retype_size(type, size_bits), dest->root, dest->dest,
                            dest->destDepth, dest->offset, 1) != seL4_NoError) {
        return -1;
    }
    a->blocks[i].state = BLOCK_USED;
    *cookie = (seL4_Word)i + 1;
    a->objects++;
    return 0;
}

/* ---- vka_t ---- */

static int v_cspace_alloc(void *data, seL4_CPtr *res)
{
    seL4_CPtr s = slot_alloc(data);
    if (s == seL4_CapNull) {
        return -1;
    }
    *res = s;
    return 0;
}

static void v_cspace_make_path(void *data, seL4_CPtr slot, cspacepath_t *res)
{
    (void)data;
    /* One level: the root CNode, addressed with the whole word. */
    *res = (cspacepath_t) {
        .capPtr = slot,
        .capDepth = seL4_WordBits,
        .root = seL4_CapInitThreadCNode,
        .dest = 0,
        .destDepth = 0,
        .offset = slot,
        .window = 1,
    };
}

static void v_cspace_free(void *data, seL4_CPtr slot)
{
    struct sel4_alloc *a = data;
    a->slot_frees++;
    if (a->nfree_slots < SEL4_ALLOC_MAX_FREE_SLOTS) {
        a->free_slots[a->nfree_slots++] = slot;
    }
}

static int v_utspace_alloc_maybe_device(void *data, const cspacepath_t *dest, seL4_Word type, seL4_Word size_bits,
                                        bool can_use_dev, seL4_Word *res)
{
    struct sel4_alloc *a = data;
    return retype_into(a, find_free(a, mem_bits(type, size_bits), can_use_dev), dest, type, size_bits, res);
}

static int v_utspace_alloc(void *data, const cspacepath_t *dest, seL4_Word type, seL4_Word size_bits, seL4_Word *res)
{
    return v_utspace_alloc_maybe_device(data, dest, type, size_bits, false, res);
}

static int v_utspace_alloc_at(void *data, const cspacepath_t *dest, seL4_Word type, seL4_Word size_bits,
                              uintptr_t paddr, seL4_Word *cookie)
{
    struct sel4_alloc *a = data;
    return retype_into(a, find_at(a, mem_bits(type, size_bits), paddr), dest, type, size_bits, cookie);
}

/* The object's caps are gone (vka_free_object deletes them first), so
 * the block's untyped has no children and can be retyped again. */
static void v_utspace_free(void *data, seL4_Word type, seL4_Word size_bits, seL4_Word target)
{
    struct sel4_alloc *a = data;
    (void)type;
    (void)size_bits;
    if (target >= 1 && target <= a->nblocks && a->blocks[target - 1].state == BLOCK_USED) {
        a->blocks[target - 1].state = BLOCK_FREE;
        a->frees++;
    }
}

static uintptr_t v_utspace_paddr(void *data, seL4_Word target, seL4_Word type, seL4_Word size_bits)
{
    struct sel4_alloc *a = data;
    (void)type;
    (void)size_bits;
    return target >= 1 && target <= a->nblocks ? a->blocks[target - 1].paddr : VKA_NO_PADDR;
}

/* ---- vspace_t ---- */

static reservation_t vs_reserve_range_aligned(vspace_t *vspace, size_t bytes, size_t size_bits,
                                              seL4_CapRights_t rights, int cacheable, void **vaddr)
{
    struct sel4_alloc *a = vspace->data;
    (void)rights;
    (void)cacheable;
    uintptr_t align = 1ul << size_bits;
    uintptr_t va = (a->next_vaddr + align - 1) & ~(align - 1);
    a->next_vaddr = va + bytes;
    a->reservations++;
    *vaddr = (void *)va;
    return (reservation_t) { .res = (void *)va };
}

/* Maps one frame, creating the missing translation tables first. */
static int map_one(struct sel4_alloc *a, seL4_CPtr cap, uintptr_t va)
{
    for (int level = 0; level < 4; level++) {
        seL4_Error e = seL4_ARM_Page_Map(cap, seL4_CapInitThreadVSpace, va, seL4_ReadWrite,
                                         seL4_ARM_Default_VMAttributes);
        if (e != seL4_FailedLookup) {
            return e == seL4_NoError ? 0 : -1;
        }
        seL4_CPtr pt = slot_alloc(a);
        cspacepath_t path;
        seL4_Word cookie;
        v_cspace_make_path(a, pt, &path);
        if (pt == seL4_CapNull ||
            v_utspace_alloc(a, &path, seL4_ARM_PageTableObject, seL4_PageTableBits, &cookie) != 0 ||
            seL4_ARM_PageTable_Map(pt, seL4_CapInitThreadVSpace, va, seL4_ARM_Default_VMAttributes) != seL4_NoError) {
            return -1;
        }
        a->page_tables++;
    }
    return -1;
}

static void vs_unmap_pages(vspace_t *vspace, void *vaddr, size_t num_pages, size_t size_bits, vka_t *free)
{
    struct sel4_alloc *a = vspace->data;
    (void)free;
    for (size_t i = 0; i < num_pages; i++) {
        uintptr_t va = (uintptr_t)vaddr + (i << size_bits);
        for (unsigned int j = 0; j < a->nmaps; j++) {
            if (a->maps[j].vaddr == va) {
                seL4_ARM_Page_Unmap(a->maps[j].cap);
                a->maps[j] = a->maps[--a->nmaps];
                a->unmapped++;
                break;
            }
        }
    }
}

static int vs_map_pages_at_vaddr(vspace_t *vspace, seL4_CPtr caps[], uintptr_t cookies[], void *vaddr,
                                 size_t num_pages, size_t size_bits, reservation_t reservation)
{
    struct sel4_alloc *a = vspace->data;
    (void)cookies;
    (void)reservation;
    for (size_t i = 0; i < num_pages; i++) {
        uintptr_t va = (uintptr_t)vaddr + (i << size_bits);
        if (a->nmaps == SEL4_ALLOC_MAX_MAPS || map_one(a, caps[i], va) != 0) {
            vs_unmap_pages(vspace, vaddr, i, size_bits, NULL);
            return -1;
        }
        a->maps[a->nmaps++] = (struct sel4_alloc_map) { va, caps[i], size_bits };
        a->mapped++;
    }
    return 0;
}

static void vs_free_reservation(vspace_t *vspace, reservation_t reservation)
{
    /* Address space is not reused. */
    (void)vspace;
    (void)reservation;
}

int sel4_alloc_init(struct sel4_alloc *a, vka_t *vka, vspace_t *vspace)
{
    seL4_BootInfo *bi = sel4vm_bootinfo();
    if (bi == NULL) {
        return -1;
    }
    a->bi = bi;
    a->next_slot = bi->empty.start;
    a->end_slot = bi->empty.end;
    a->next_vaddr = VA_BASE;
    for (seL4_Word i = 0; i < bi->untyped.end - bi->untyped.start && a->nblocks < SEL4_ALLOC_MAX_BLOCKS; i++) {
        a->blocks[a->nblocks++] = (struct sel4_alloc_block) {
            .cap = bi->untyped.start + i,
            .paddr = bi->untypedList[i].paddr,
            .bits = bi->untypedList[i].sizeBits,
            .device = bi->untypedList[i].isDevice,
            .state = BLOCK_FREE,
        };
    }
    *vka = (vka_t) {
        .data = a,
        .cspace_alloc = v_cspace_alloc,
        .cspace_make_path = v_cspace_make_path,
        .utspace_alloc = v_utspace_alloc,
        .utspace_alloc_maybe_device = v_utspace_alloc_maybe_device,
        .utspace_alloc_at = v_utspace_alloc_at,
        .cspace_free = v_cspace_free,
        .utspace_free = v_utspace_free,
        .utspace_paddr = v_utspace_paddr,
    };
    *vspace = (vspace_t) {
        .data = a,
        .map_pages_at_vaddr = vs_map_pages_at_vaddr,
        .unmap_pages = vs_unmap_pages,
        .reserve_range_aligned = vs_reserve_range_aligned,
        .free_reservation = vs_free_reservation,
    };
    return 0;
}

seL4_CPtr sel4_alloc_frame(struct sel4_alloc *a)
{
    seL4_CPtr slot;
    cspacepath_t path;
    seL4_Word cookie;
    if (v_cspace_alloc(a, &slot) != 0) {
        return seL4_CapNull;
    }
    v_cspace_make_path(a, slot, &path);
    if (v_utspace_alloc(a, &path, seL4_ARM_SmallPageObject, seL4_PageBits, &cookie) != 0) {
        v_cspace_free(a, slot);
        return seL4_CapNull;
    }
    return slot;
}

void *sel4_alloc_map_frame(struct sel4_alloc *a, seL4_CPtr frame)
{
    void *va = NULL;
    vspace_t vs = { .data = a };
    vs_reserve_range_aligned(&vs, 1ul << seL4_PageBits, seL4_PageBits, seL4_ReadWrite, 1, &va);
    if (map_one(a, frame, (uintptr_t)va) != 0) {
        return NULL;
    }
    return va;
}
