/* libvmm 0.2.0 <libvmm/arch/aarch64/linux.h> (needs LIBVMM_API_VERSION=2). */
#pragma once

#include <libvmm/api_version.h>

#if LIBVMM_API_VERSION != 2
#error "<libvmm/arch/aarch64/linux.h> is libvmm 0.2.0 API: define LIBVMM_API_VERSION=2"
#endif

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* libvmm 0.2.0: arm64 Image header magic ("ARM\x64"). */
#define LINUX_IMAGE_MAGIC 0x644d5241

/* libvmm 0.2.0 struct linux_image_header (arm64 booting protocol). */
struct linux_image_header {
    uint32_t code0;
    uint32_t code1;
    uint64_t text_offset;
    uint64_t image_size;
    uint64_t flags;
    uint64_t res2;
    uint64_t res3;
    uint64_t res4;
    uint32_t magic;
    uint32_t res5;
};

#define linux_setup_images libvmm2_linux_setup_images

/*
 * libvmm 0.2.0 linux_setup_images: destinations are guest-physical and must
 * lie in regions guest_init recorded; sources are VMM addresses. Validates
 * the kernel (Image or ELF vmlinux), DTB and initrd, checks guest RAM and
 * overlaps, writes nothing unless every check passes. Returns the kernel
 * entry point, or 0 on failure.
 */
uint64_t linux_setup_images(uint64_t ram_start_gpa, uintptr_t kernel, size_t kernel_size, uintptr_t dtb_src,
                            uint64_t dtb_dest_gpa, size_t dtb_size, uintptr_t initrd_src, uint64_t initrd_dest_gpa,
                            size_t initrd_size);

#ifdef __cplusplus
}
#endif
