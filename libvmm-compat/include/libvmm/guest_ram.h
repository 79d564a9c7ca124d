/* libvmm 0.2.0 <libvmm/guest_ram.h> (needs LIBVMM_API_VERSION=2). */
#pragma once

#include <libvmm/api_version.h>

#if LIBVMM_API_VERSION != 2
#error "<libvmm/guest_ram.h> is libvmm 0.2.0 API: define LIBVMM_API_VERSION=2"
#endif

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* libvmm 0.2.0: at most this many regions are recorded. */
#define GUEST_MAX_RAM_REGIONS 3

/* libvmm 0.2.0 struct guest_ram_region: guest RAM and the VMM's mapping of it. */
struct guest_ram_region {
    uint64_t gpa_start;
    uint64_t size;
    void *vmm_vaddr;
};

#define guest_ram_add_region libvmm2_guest_ram_add_region
#define gpa_to_hva libvmm2_gpa_to_hva
#define guest_ram_get_regions libvmm2_guest_ram_get_regions

/* libvmm 0.2.0 guest_ram_add_region: records a region after the checks of
 * guest_init (false if full, empty, NULL, overlapping, not guest RAM, or
 * vmm_vaddr is not the VMM's mapping). */
bool guest_ram_add_region(struct guest_ram_region guest_ram_region);

/* libvmm 0.2.0 gpa_to_hva: the VMM address of [gpa, +size) if one recorded
 * region holds all of it, else NULL. */
void *gpa_to_hva(uint64_t gpa, size_t size);

/* libvmm 0.2.0 guest_ram_get_regions: the recorded regions, their count in
 * *num_regions_ret (NULL allowed). Valid until the next region is added. */
struct guest_ram_region *guest_ram_get_regions(int *num_regions_ret);

#ifdef __cplusplus
}
#endif
