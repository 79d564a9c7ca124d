/* sel4vm-rs C API: guest_iospace.h */
#pragma once

#include <sel4vm/sel4vm_types.h>
#include <sel4vm/guest_vm.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Adds an IOMMU space. The aarch64 backends have no IOMMU support, so this
 * returns -1 (`loader` is ignored). */
int vm_guest_add_iospace(vm_t *vm, vspace_t *loader, seL4_CPtr iospace);

#ifdef __cplusplus
}
#endif
