/* Runs the libvmm 0.1.0 and 0.2.0 C checks in one program linked with one libsel4vm.a. */
#include <string.h>

#include "host.h"

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = v >> 24;
    p[1] = v >> 16;
    p[2] = v >> 8;
    p[3] = v;
}

void fixture_kernel(uint8_t *k, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        k[i] = (uint8_t)(i * 7 + 3);
    }
    memset(k, 0, 64);
    uint64_t image_size = 2u << 20, flags = 0xa;
    memcpy(k + 16, &image_size, 8);
    memcpy(k + 24, &flags, 8);
    memcpy(k + 0x38, "ARMd", 4);
}

size_t fixture_dtb(uint8_t *d, size_t cap)
{
    /* header (40) + empty reservation map (16) + BEGIN_NODE "" END_NODE END (16) */
    const size_t total = 40 + 16 + 16;
    if (cap < total) {
        return 0;
    }
    memset(d, 0, total);
    put_be32(d + 0, 0xd00dfeed);
    put_be32(d + 4, total);
    put_be32(d + 8, 56);  /* off_dt_struct */
    put_be32(d + 12, 72); /* off_dt_strings */
    put_be32(d + 16, 40); /* off_mem_rsvmap */
    put_be32(d + 20, 17); /* version */
    put_be32(d + 24, 16); /* last compatible */
    put_be32(d + 32, 0);  /* size_dt_strings */
    put_be32(d + 36, 16); /* size_dt_struct */
    put_be32(d + 56, 1);  /* FDT_BEGIN_NODE, name "" padded to 4 */
    put_be32(d + 64, 2);  /* FDT_END_NODE */
    put_be32(d + 68, 9);  /* FDT_END */
    return total;
}

int main(void)
{
    int failures = 0;
    void *ram = NULL;

    CHECK(libvmm_host_create_guest(2, RAM_GPA, RAM_SIZE, &ram) == 0 && ram != NULL);
    failures += libvmm_v1_checks(ram);
    CHECK(libvmm_host_destroy_guest() == 0);

    ram = NULL;
    CHECK(libvmm_host_create_guest(2, RAM_GPA, RAM_SIZE, &ram) == 0 && ram != NULL);
    failures += libvmm_v2_checks(ram);
    CHECK(libvmm_host_destroy_guest() == 0);

    if (failures) {
        printf("libvmm: %d checks failed\n", failures);
        return 1;
    }
    printf("libvmm: all checks passed\n");
    return 0;
}
