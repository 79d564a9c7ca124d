/*
 * Host-only helpers for the libvmm C tests (capi/src/host.rs) and the
 * fixtures both test files share. No libvmm header: usable with either
 * LIBVMM_API_VERSION.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define RAM_GPA 0x40000000ull
#define RAM_SIZE (16ull << 20)
#define DTB_GPA (RAM_GPA + (8ull << 20))

int libvmm_host_create_guest(unsigned num_vcpus, uint64_t ram_gpa, uint64_t ram_size, void **ram_vmm);
int libvmm_host_destroy_guest(void);
int libvmm_host_guest_eoi(unsigned vcpu, unsigned lr);
int libvmm_host_list_register(unsigned vcpu, unsigned lr);
uint64_t libvmm_host_vcpu_pc(unsigned vcpu);

/* Fills a minimal arm64 Image (text_offset 0, 2 MiB image, 4 KiB pages, LE). */
void fixture_kernel(uint8_t *k, size_t len);
/* Writes a minimal DTB (empty root node); returns its size. */
size_t fixture_dtb(uint8_t *d, size_t cap);

/* One test file per API version; each returns the number of failed checks. */
int libvmm_v1_checks(uint8_t *ram_vmm);
int libvmm_v2_checks(uint8_t *ram_vmm);

#define CHECK(c)                                                                 \
    do {                                                                         \
        if (!(c)) {                                                              \
            printf("CHECK FAILED %s:%d: %s\n", __FILE__, __LINE__, #c);        \
            failures++;                                                          \
        }                                                                        \
    } while (0)
