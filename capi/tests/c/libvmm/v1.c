/* libvmm 0.1.0 API (the default, no LIBVMM_API_VERSION) against libsel4vm.a. */
#include <libvmm/libvmm.h>
#include <string.h>

#include "host.h"

#if LIBVMM_API_VERSION != 1
#error "v1.c must see the 0.1.0 API"
#endif

static uint8_t kernel[8192];
static uint8_t dtb[128];
static size_t acked_irq, acked_cookie;
static microkit_channel hw_acked = 0;

static void ack(size_t vcpu, int irq, void *cookie)
{
    (void)vcpu;
    acked_irq = (size_t)irq;
    acked_cookie = (size_t)cookie;
}

static void hw_ack(microkit_channel ch)
{
    hw_acked = ch;
}

int libvmm_v1_checks(uint8_t *ram_vmm)
{
    int failures = 0;
    fixture_kernel(kernel, sizeof kernel);
    size_t dsize = fixture_dtb(dtb, sizeof dtb);
    CHECK(dsize != 0);

    uint8_t junk[100] = { 0 };
    CHECK(linux_setup_images(RAM_GPA, (uintptr_t)junk, sizeof junk, (uintptr_t)dtb, DTB_GPA, dsize, 0, 0, 0)
          == (uintptr_t)-1);
    CHECK(linux_setup_images(RAM_GPA, (uintptr_t)kernel, sizeof kernel, (uintptr_t)dtb, DTB_GPA, dsize, 0, 0, 0)
          == RAM_GPA);
    CHECK(memcmp(ram_vmm, kernel, sizeof kernel) == 0);

    CHECK(!virq_register(0, 40, ack, NULL)); /* before the controller */
    CHECK(virq_controller_init(0));
    CHECK(!virq_controller_init(0));
    CHECK(virq_register(0, 40, ack, (void *)7));
    CHECK(!virq_register(0, 40, ack, NULL));
    CHECK(!virq_inject(0, 41));
    CHECK(!virq_inject(5, 40));

    CHECK(!guest_start(9, RAM_GPA, DTB_GPA, 0));
    CHECK(guest_start(0, RAM_GPA, DTB_GPA, 0));
    CHECK(libvmm_host_vcpu_pc(0) == RAM_GPA);

    CHECK(virq_inject(0, 40));
    CHECK(libvmm_host_list_register(0, 0) == 40);
    CHECK(libvmm_host_guest_eoi(0, 0) == 0);
    CHECK(acked_irq == 40 && acked_cookie == 7);

    CHECK(!virq_register_passthrough(0, 33, 2)); /* no hardware ack hook yet */
    libvmm_set_passthrough_ack(hw_ack);
    CHECK(virq_register_passthrough(0, 33, 2));
    CHECK(!virq_handle_passthrough(3));
    CHECK(virq_handle_passthrough(2));
    CHECK(libvmm_host_list_register(0, 0) == 33);
    CHECK(libvmm_host_guest_eoi(0, 0) == 0);
    CHECK(hw_acked == 2);

    /* Restart zeroes RAM and reloads the kernel. */
    ram_vmm[RAM_SIZE - 1] = 0x5a;
    ram_vmm[0] = 0x5a;
    CHECK(!guest_restart(0, 0x1000, 4096));
    CHECK(ram_vmm[RAM_SIZE - 1] == 0x5a); /* nothing lost on bad input */
    CHECK(guest_restart(0, RAM_GPA, RAM_SIZE));
    CHECK(ram_vmm[RAM_SIZE - 1] == 0);
    CHECK(memcmp(ram_vmm, kernel, sizeof kernel) == 0);
    CHECK(libvmm_host_vcpu_pc(0) == RAM_GPA);
    guest_stop(0);
    libvmm_set_passthrough_ack(NULL);
    return failures;
}
