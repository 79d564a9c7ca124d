/* Starting and stopping the guest. See libvmm/libvmm.h for the conventions. */
#pragma once

#include <libvmm/api_version.h>

#if LIBVMM_API_VERSION == 2
#include <libvmm/v2/guest.h>
#else
/* libvmm 0.1.0 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Boot vCPU: PC = kernel_pc, x0 = dtb, EL1h with DAIF masked, other registers 0. */
bool guest_start(size_t boot_vcpu_id, uintptr_t kernel_pc, uintptr_t dtb, uintptr_t initrd);

/* Stops every vCPU of the guest. */
void guest_stop(size_t boot_vcpu_id);

/*
 * Stops the guest, resets vCPUs and the interrupt controller, zeroes guest
 * RAM, reloads the images of the last linux_setup_images and starts again.
 * [guest_ram_vaddr, +guest_ram_size) must be guest RAM.
 */
bool guest_restart(size_t boot_vcpu_id, uintptr_t guest_ram_vaddr, size_t guest_ram_size);

#ifdef __cplusplus
}
#endif
#endif /* LIBVMM_API_VERSION */
