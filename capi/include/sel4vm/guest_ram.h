/* sel4vm-rs C API: guest_ram.h -- guest RAM. Addresses and sizes given to
 * the register functions must be page (4 KiB) aligned. */
#pragma once

#include <sel4vm/sel4vm_types.h>
#include <sel4vm/guest_vm.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Called for each page-bounded piece of a vm_ram_touch range: `vmm_vaddr`
 * is where the VMM sees the `size` guest bytes at `guest_addr`, `offset`
 * their offset from the start of the range. Non-zero stops the walk. The
 * VM's API must not be called from inside (it returns -1/NULL if you do). */
typedef int (*ram_touch_callback_fn)(vm_t *vm, uintptr_t guest_addr, void *vmm_vaddr, size_t size, size_t offset,
                                     void *cookie);

/* ram_touch callbacks that copy guest RAM to / from `buf + offset`. */
int vm_guest_ram_read_callback(vm_t *vm, uintptr_t guest_addr, void *vaddr, size_t size, size_t offset, void *buf);
int vm_guest_ram_write_callback(vm_t *vm, uintptr_t guest_addr, void *vaddr, size_t size, size_t offset, void *buf);

/* Walks [addr, addr + size), which must be wholly registered RAM (checked
 * before the first call). 0, or -1 (not RAM, NULL, callback failed). */
int vm_ram_touch(vm_t *vm, uintptr_t addr, size_t size, ram_touch_callback_fn touch_callback, void *cookie);

/* Largest unallocated run of RAM. 0, or -1 (none). */
int vm_ram_find_largest_free_region(vm_t *vm, uintptr_t *addr, size_t *size);

/* Registers `bytes` of RAM at an address from the anonymous regions.
 * Returns the address, 0 on error. */
uintptr_t vm_ram_register(vm_t *vm, size_t bytes);

/* Registers RAM at [start, start + bytes); `untyped` true: each page is the
 * physical frame at the same address (1:1). 0 or -1. */
int vm_ram_register_at(vm_t *vm, uintptr_t start, size_t bytes, bool untyped);

/* Registers RAM backed by frames from `map_iterator`. 0 or -1. */
int vm_ram_register_at_custom_iterator(vm_t *vm, uintptr_t start, size_t bytes, memory_map_iterator_fn map_iterator,
                                       void *cookie);

/* Marks pages allocated (errors are logged). */
void vm_ram_mark_allocated(vm_t *vm, uintptr_t start, size_t bytes);

/* First-fit allocation of registered RAM. Returns the address, 0 on error. */
uintptr_t vm_ram_allocate(vm_t *vm, size_t bytes);

/* Frees allocated RAM (libsel4vm's does nothing; this one frees). Every page
 * must be allocated, otherwise nothing changes (error logged). */
void vm_ram_free(vm_t *vm, uintptr_t start, size_t bytes);

#ifdef __cplusplus
}
#endif
