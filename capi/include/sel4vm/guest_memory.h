/* sel4vm-rs C API: guest_memory.h -- guest-physical memory reservations. */
#pragma once

#include <sel4vm/sel4vm_types.h>
#include <sel4vm/arch/guest_memory_arch.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A frame for one page of a reservation, returned by a map iterator.
 * Only 4 KiB frames (size_bits 12) are supported. On the host build `cptr`
 * is a frame handle from sel4vm_host_alloc_frame(); on seL4, a frame cap in
 * the VMM's CSpace: the library maps copies of it and the cap stays the
 * caller's (docs/migrating-from-libsel4vm.md, "Caller-provided frames"). */
typedef struct vm_frame {
    seL4_CPtr cptr;
    seL4_CapRights_t rights;
    uintptr_t vaddr;
    size_t size_bits;
} vm_frame_t;

/* What a memory fault callback did. */
typedef enum memory_fault_result {
    FAULT_HANDLED = 0,   /* emulated; the guest steps over the instruction */
    FAULT_UNHANDLED = 1, /* not mine: the unhandled-fault callback is tried */
    FAULT_RESTART = 2,   /* run the instruction again */
    FAULT_IGNORE = 3,    /* step over it without touching registers */
    FAULT_ERROR = 4      /* fatal: vm_run returns -1 */
} memory_fault_result_t;

/* Called for a guest access inside a reservation. Inside, the
 * get_vcpu_fault_* / set_vcpu_fault_data / emulate_vcpu_fault functions
 * describe the access, and the rest of the API may be used on `vm`. */
typedef memory_fault_result_t (*memory_fault_callback_fn)(vm_t *vm, vm_vcpu_t *vcpu, uintptr_t fault_addr,
                                                          size_t fault_length, void *cookie);

/* Supplies the frame for the page at `addr`; cptr == seL4_CapNull fails. */
typedef vm_frame_t (*memory_map_iterator_fn)(uintptr_t addr, void *cookie);

typedef struct vm_memory_reservation vm_memory_reservation_t;
typedef struct vm_memory_reservation_cookie vm_memory_reservation_cookie_t;

/* Reserves [addr, addr + size) (page aligned, no overlap). NULL on error. */
vm_memory_reservation_t *vm_reserve_memory_at(vm_t *vm, uintptr_t addr, size_t size,
                                              memory_fault_callback_fn fault_callback, void *cookie);

/* Reserves `size` bytes at an `align`-aligned address inside an anonymous
 * region (vm_memory_make_anon); the address goes to *addr. NULL on error. */
vm_memory_reservation_t *vm_reserve_anon_memory(vm_t *vm, size_t size, size_t align,
                                                memory_fault_callback_fn fault_callback, void *cookie,
                                                uintptr_t *addr);

/* Declares [addr, addr + size) an anonymous region. 0 or -1. */
int vm_memory_make_anon(vm_t *vm, uintptr_t addr, size_t size);

/* Unmaps and forgets a reservation (anonymous ones too); the handle dies.
 * RAM cannot be freed this way. 0 or -1. */
int vm_free_reserved_memory(vm_t *vm, vm_memory_reservation_t *reservation);

/* Maps every page of the reservation now, frames from `map_iterator`. 0 or -1. */
int vm_map_reservation(vm_t *vm, vm_memory_reservation_t *reservation, memory_map_iterator_fn map_iterator,
                       void *cookie);

/* Maps `num_frames` caller-owned frames (frame_size_bits must be 12). 0 or -1. */
int vm_map_reservation_frames(vm_t *vm, vm_memory_reservation_t *reservation, seL4_CPtr *frames,
                              size_t num_frames, size_t frame_size_bits);

/* Start and size of a reservation. */
void vm_get_reservation_memory_region(vm_memory_reservation_t *reservation, uintptr_t *addr, size_t *size);

/* Already done by vm_init; returns 0 for an initialised vm, else -1. */
int vm_memory_init(vm_t *vm);

#ifdef __cplusplus
}
#endif
