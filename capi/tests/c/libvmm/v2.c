/* libvmm 0.2.0 API (LIBVMM_API_VERSION=2) against libsel4vm.a. */
#define LIBVMM_API_VERSION 2
#include <libvmm/libvmm.h>
#include <string.h>

#include "host.h"

static uint8_t kernel[8192];
static uint8_t dtb[128];
static int acks;
static irq_routing_info_t acked;
static void *acked_cookie;
static microkit_channel hw_acked;

static void ack(irq_routing_info_t route, void *cookie)
{
    acks++;
    acked = route;
    acked_cookie = cookie;
}

static void hw_ack(microkit_channel ch)
{
    hw_acked = ch;
}

static arch_guest_init_t init_args(uint8_t *ram_vmm)
{
    arch_guest_init_t a;
    memset(&a, 0, sizeof a);
    a.num_vcpus = 2;
    a.num_guest_ram_regions = 1;
    a.guest_ram_regions[0].gpa_start = RAM_GPA;
    a.guest_ram_regions[0].size = RAM_SIZE;
    a.guest_ram_regions[0].vmm_vaddr = ram_vmm;
    return a;
}

int libvmm_v2_checks(uint8_t *ram_vmm)
{
    int failures = 0;
    fixture_kernel(kernel, sizeof kernel);
    size_t dsize = fixture_dtb(dtb, sizeof dtb);
    CHECK(strcmp(LIBVMM_API_RELEASE, "0.2.0") == 0);

    /* Nothing recorded yet. */
    CHECK(gpa_to_hva(RAM_GPA, 16) == NULL);
    CHECK(linux_setup_images(RAM_GPA, (uintptr_t)kernel, sizeof kernel, (uintptr_t)dtb, DTB_GPA, dsize, 0, 0, 0)
          == 0);

    /* guest_init refuses bad arguments, recording nothing. */
    arch_guest_init_t a = init_args(ram_vmm);
    a.num_vcpus = 0;
    CHECK(!guest_init(a));
    a.num_vcpus = 3; /* the VM has 2 */
    CHECK(!guest_init(a));
    a = init_args(ram_vmm);
    a.guest_ram_regions[0].vmm_vaddr = ram_vmm + 4096; /* not the VMM's mapping of it */
    CHECK(!guest_init(a));
    a = init_args(ram_vmm);
    a.guest_ram_regions[0].size = RAM_SIZE + 4096; /* beyond guest RAM */
    CHECK(!guest_init(a));
    a = init_args(ram_vmm);
    a.num_guest_ram_regions = 4;
    CHECK(!guest_init(a));
    a = init_args(ram_vmm);
    a.pci_init.ecam_size = 0x1000;
    a.pci_init.mmio_aperature_size = 0x1000;
    CHECK(!guest_init(a));
    int n = -1;
    guest_ram_get_regions(&n);
    CHECK(n == 0);

    CHECK(guest_init(init_args(ram_vmm)));
    CHECK(!virq_controller_init()); /* guest_init did it */
    struct guest_ram_region *r = guest_ram_get_regions(&n);
    CHECK(n == 1 && r != NULL && r[0].gpa_start == RAM_GPA && r[0].size == RAM_SIZE && r[0].vmm_vaddr == ram_vmm);
    CHECK(gpa_to_hva(RAM_GPA + 0x1000, 16) == ram_vmm + 0x1000);
    CHECK(gpa_to_hva(RAM_GPA + RAM_SIZE - 8, 16) == NULL);
    CHECK(gpa_to_hva(RAM_GPA - 8, 4) == NULL);
    struct guest_ram_region dup = { RAM_GPA, 4096, ram_vmm };
    CHECK(!guest_ram_add_region(dup)); /* overlaps */

    /* Images: destinations are guest-physical; 0 on failure. */
    CHECK(linux_setup_images(RAM_GPA, (uintptr_t)kernel, sizeof kernel, (uintptr_t)dtb, RAM_GPA + RAM_SIZE, dsize, 0,
                             0, 0)
          == 0);
    CHECK(memcmp(ram_vmm, kernel, sizeof kernel) != 0); /* nothing written */
    CHECK(linux_setup_images(RAM_GPA, (uintptr_t)kernel, sizeof kernel, (uintptr_t)dtb, DTB_GPA, dsize, 0, 0, 0)
          == RAM_GPA);
    CHECK(memcmp(ram_vmm, kernel, sizeof kernel) == 0);
    CHECK(memcmp(gpa_to_hva(DTB_GPA, dsize), dtb, dsize) == 0);

    /* Routes. */
    irq_routing_info_t r40 = ARM_GIC_IRQ_ROUTE(0, 40);
    CHECK(IRQ_ROUTE_TO_ARM_CPUID(r40) == 0 && IRQ_ROUTE_TO_ARM_INTID(r40) == 40 && !IRQ_ROUTE_INVALID(r40));
    CHECK(!virq_register(X86_IOAPIC_IRQ_ROUTE(0, 3), ack, NULL));
    CHECK(!virq_register(ARM_GIC_IRQ_ROUTE(-1, 40), ack, NULL));
    CHECK(!virq_register(ARM_GIC_IRQ_ROUTE(0, 5), ack, NULL)); /* an SGI */
    CHECK(virq_register(r40, ack, (void *)9));
    CHECK(!virq_register(r40, ack, NULL));
    CHECK(!virq_inject(ARM_GIC_IRQ_ROUTE(0, 41)));

    CHECK(!vcpu_is_on(0));
    CHECK(guest_start(RAM_GPA, DTB_GPA, 0));
    CHECK(libvmm_host_vcpu_pc(0) == RAM_GPA);
    CHECK(vcpu_is_on(0) && !vcpu_is_on(1) && !vcpu_is_on(99));

    /* Edge. */
    CHECK(virq_inject(r40));
    CHECK(libvmm_host_list_register(0, 0) == 40);
    CHECK(libvmm_host_guest_eoi(0, 0) == 0);
    CHECK(acks == 1 && acked.type == IRQ_TYPE_ARM_GIC && IRQ_ROUTE_TO_ARM_CPUID(acked) == 0
          && IRQ_ROUTE_TO_ARM_INTID(acked) == 40 && acked_cookie == (void *)9);
    CHECK(libvmm_host_list_register(0, 0) == -1);

    /* Level: delivered again after EOI while high, not once lowered. */
    CHECK(virq_set_level(r40, true));
    CHECK(libvmm_host_list_register(0, 0) == 40);
    CHECK(libvmm_host_guest_eoi(0, 0) == 0);
    CHECK(acks == 2);
    CHECK(libvmm_host_list_register(0, 0) == 40);
    CHECK(virq_set_level(r40, false));
    CHECK(libvmm_host_guest_eoi(0, 0) == 0);
    CHECK(acks == 3);
    CHECK(libvmm_host_list_register(0, 0) == -1);
    CHECK(!virq_set_level(ARM_GIC_IRQ_ROUTE(0, 41), true));

    /* Deregister: a later inject fails; it can be registered again. */
    CHECK(virq_deregister(r40));
    CHECK(!virq_inject(r40));
    CHECK(!virq_deregister(r40));
    CHECK(virq_register(r40, NULL, NULL)); /* NULL ack allowed in 0.2.0 */
    CHECK(virq_inject(r40));
    CHECK(libvmm_host_guest_eoi(0, 0) == 0);
    CHECK(acks == 3);

    /* Passthrough. */
    libvmm_set_passthrough_ack(hw_ack);
    CHECK(virq_register_passthrough(ARM_GIC_IRQ_ROUTE(0, 33), 5));
    CHECK(!virq_register_passthrough(X86_IOAPIC_IRQ_ROUTE(0, 1), 6));
    CHECK(!virq_handle_passthrough(6));
    CHECK(virq_handle_passthrough(5));
    CHECK(libvmm_host_list_register(0, 0) == 33);
    CHECK(libvmm_host_guest_eoi(0, 0) == 0);
    CHECK(hw_acked == 5);

    /* FSR helpers: ISV (bit 24), SAS (bits 22-23), WnR (bit 6). */
    uint64_t isv = 1u << 24, wnr = 1u << 6;
    CHECK(fault_get_width_bytes(isv | (2u << 22)) == 4);
    CHECK(fault_get_width_bytes(isv | (3u << 22)) == 8);
    CHECK(fault_get_width_bytes(2u << 22) == -1);
    CHECK(fault_is_write(isv | wnr) && !fault_is_read(isv | wnr));
    CHECK(fault_is_read(isv) && !fault_is_write(isv));
    CHECK(fault_get_data_mask(0x1004, isv | (2u << 22)) == 0xffffffffu);
    CHECK(fault_get_data_mask(0x1003, isv) == 0xff000000u);
    CHECK(fault_get_data_mask(0x1002, isv | (1u << 22)) == 0xffff0000u);
    CHECK(fault_get_data_mask(0x1008, isv | (3u << 22)) == ~0ull);
    CHECK(fault_get_data_mask(0x1001, isv | (2u << 22)) == 0); /* misaligned */

    /* Restart takes the VMM address of guest RAM. */
    ram_vmm[RAM_SIZE - 1] = 0x5a;
    CHECK(!guest_restart((uintptr_t)(ram_vmm + RAM_SIZE), 4096));
    CHECK(!guest_restart(RAM_GPA, RAM_SIZE));
    CHECK(ram_vmm[RAM_SIZE - 1] == 0x5a);
    CHECK(guest_restart((uintptr_t)ram_vmm, RAM_SIZE));
    CHECK(ram_vmm[RAM_SIZE - 1] == 0);
    CHECK(memcmp(ram_vmm, kernel, sizeof kernel) == 0);
    CHECK(libvmm_host_vcpu_pc(0) == RAM_GPA && vcpu_is_on(0));
    guest_stop();
    CHECK(!vcpu_is_on(0));
    libvmm_set_passthrough_ack(NULL);
    return failures;
}
