/* sel4vm-rs C API: arch/guest_memory_arch.h (aarch64). */
#pragma once

#include <sel4vm/sel4vm_types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Physical address backing guest IPA range [ipa_base, ipa_base + size); the
 * range must be mapped to physically contiguous frames. Returns 0 on error. */
uintptr_t vm_arm_ipa_to_pa(vm_t *vm, uintptr_t ipa_base, size_t size);

#ifdef __cplusplus
}
#endif
