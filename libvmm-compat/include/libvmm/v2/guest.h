/*
 * libvmm 0.2.0 <libvmm/guest.h>, aarch64 (include <libvmm/guest.h> with
 * LIBVMM_API_VERSION=2). Functions act on the default guest the Rust VMM
 * installed (libvmm_compat::cabi::set_default_guest), which owns the VM's
 * vCPUs and RAM; guest_init checks its arguments against that VM.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libvmm/guest_ram.h>

#ifdef __cplusplus
extern "C" {
#endif

/* libvmm 0.2.0: the vCPU guest_start starts. */
#define GUEST_BOOT_VCPU_ID 0UL

/* libvmm 0.2.0: upper bound of arch_guest_init_t.num_vcpus (here the VM's
 * vCPU count is the real bound). */
#ifndef GUEST_MAX_NUM_VCPUS
#define GUEST_MAX_NUM_VCPUS 4UL
#endif

/* libvmm 0.2.0 struct guest_pci_init. A virtual PCI bus is not offered:
 * guest_init fails unless ecam_size or mmio_aperature_size is 0. */
struct guest_pci_init {
    uint64_t ecam_gpa;
    uint64_t ecam_size;
    uint64_t mmio_aperature_gpa;
    uint64_t mmio_aperature_size;
};

/* libvmm 0.2.0 arch_guest_init_t (aarch64). */
typedef struct arch_guest_init {
    size_t num_vcpus;
    size_t num_guest_ram_regions;
    struct guest_ram_region guest_ram_regions[GUEST_MAX_RAM_REGIONS];
    struct guest_pci_init pci_init;
} arch_guest_init_t;

#define guest_init libvmm2_guest_init
#define guest_start libvmm2_guest_start
#define guest_stop libvmm2_guest_stop
#define guest_restart libvmm2_guest_restart

/*
 * libvmm 0.2.0 guest_init: num_vcpus must be 1 up to the VM's vCPUs; each
 * RAM region must be non-empty, inside the VM's guest RAM, not overlap
 * another, and vmm_vaddr must be the VMM's mapping of it. Then initialises
 * the virtual GIC (virq_controller_init) and records the regions. Nothing is
 * recorded on failure.
 */
bool guest_init(arch_guest_init_t init_args);

/* libvmm 0.2.0 guest_start: boot vCPU 0 at kernel_pc, x0 = dtb, EL1h, DAIF masked. */
bool guest_start(uintptr_t kernel_pc, uintptr_t dtb, uintptr_t initrd);

/* libvmm 0.2.0 guest_stop: stops every vCPU (libvmm: the boot vCPU). */
void guest_stop(void);

/*
 * libvmm 0.2.0 guest_restart: [guest_ram_vaddr, +guest_ram_size) is a VMM
 * address range inside a recorded region. Stops the guest, resets vCPUs and
 * the vGIC, zeroes guest RAM, reloads the images of the last
 * linux_setup_images and starts again (libvmm 0.2.0 does not reload/start).
 */
bool guest_restart(uintptr_t guest_ram_vaddr, size_t guest_ram_size);

#ifdef __cplusplus
}
#endif
