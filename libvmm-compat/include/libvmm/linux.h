/* Loading a Linux guest. See libvmm/libvmm.h for the conventions. */
#pragma once

#include <libvmm/api_version.h>

#if LIBVMM_API_VERSION == 2
/* 0.2.0 moved linux_setup_images to <libvmm/arch/aarch64/linux.h>. */
#include <libvmm/arch/aarch64/linux.h>
#else
/* libvmm 0.1.0 */

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Validates the kernel (arm64 Image or ELF vmlinux), the DTB and the initrd,
 * checks that their guest-physical destinations lie in guest RAM and do not
 * overlap, and places them: the kernel at ram_start + text_offset (ram_start
 * 2 MiB aligned), the DTB at dtb_dest, the initrd at initrd_dest
 * (initrd_size 0: none). Nothing is written unless every check passes.
 * Returns the kernel entry point, or (uintptr_t)-1.
 */
uintptr_t linux_setup_images(uintptr_t ram_start,
                             uintptr_t kernel,
                             size_t kernel_size,
                             uintptr_t dtb_src,
                             uintptr_t dtb_dest,
                             size_t dtb_size,
                             uintptr_t initrd_src,
                             uintptr_t initrd_dest,
                             size_t initrd_size);

#ifdef __cplusplus
}
#endif
#endif /* LIBVMM_API_VERSION */
