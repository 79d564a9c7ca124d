/*
 * libvmm 0.2.0 <libvmm/arch/aarch64/fault.h>, the FSR helpers (needs
 * LIBVMM_API_VERSION=2). The fault handlers (fault_handle*, fault_register_
 * vm_exception_handler) and the seL4_UserContext helpers are not offered:
 * the Rust VM takes guest faults and dispatches MMIO to its devices.
 */
#pragma once

#include <libvmm/api_version.h>

#if LIBVMM_API_VERSION != 2
#error "<libvmm/arch/aarch64/fault.h> is libvmm 0.2.0 API: define LIBVMM_API_VERSION=2"
#endif

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define fault_get_width_bytes libvmm2_fault_get_width_bytes
#define fault_get_data_mask libvmm2_fault_get_data_mask
#define fault_is_write libvmm2_fault_is_write
#define fault_is_read libvmm2_fault_is_read

/* libvmm 0.2.0: access size 1/2/4/8 from a valid syndrome, else -1. */
int fault_get_width_bytes(uint64_t fsr);
/* libvmm 0.2.0: size mask shifted to addr's byte lane; 0 if invalid or misaligned. */
uint64_t fault_get_data_mask(uint64_t addr, uint64_t fsr);
/* libvmm 0.2.0: WnR set. */
bool fault_is_write(uint64_t fsr);
/* libvmm 0.2.0: WnR clear. */
bool fault_is_read(uint64_t fsr);

#ifdef __cplusplus
}
#endif
