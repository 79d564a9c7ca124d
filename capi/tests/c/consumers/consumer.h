/*
 * Consumer-shaped C code for the compile-and-link test (capi/tests/consumers.rs).
 *
 * The files here use libsel4vm the way its consumers do -- not copies of
 * them, but the same calls, macros, struct fields and callback shapes:
 *   vcpu_fault.c  libsel4vmmplatsupport's ARM vCPU exception dispatch (a
 *                 handler table indexed by HSR_EXCEPTION_CLASS, system
 *                 register traps decoded from the ISS, SMC/PSCI handling
 *                 that starts secondary vCPUs).
 *   boot.c        its guest boot setup (vCPUs bounded by
 *                 CONFIG_MAX_NUM_NODES, RAM, image and DTB loading through
 *                 vm_ram_touch, boot registers with PMODE_EL1h) and
 *                 <sel4vm/gen_config.h> option checks.
 *   virtio.c      its virtio-mmio emulation helpers (a reserved MMIO window,
 *                 virtqueue descriptors read and written in guest RAM, the
 *                 used-buffer interrupt injected and acknowledged).
 *   modules.c     camkes-vm VM_Arm's modules (a module table run at
 *                 start-up; map_frame_hack's reservation mapped through an
 *                 iterator; crossvm-style notification forwarding).
 *                 Also libsel4vmmplatsupport's service installation: a
 *                 badged endpoint the guest may call, at a slot above
 *                 VM_CSPACE_SLOT (vmm_install_service).
 *
 * No libc: the same objects are linked for seL4 (aarch64, -ffreestanding).
 */
#pragma once

#include <sel4vm/boot.h>
#include <sel4vm/gen_config.h>
#include <sel4vm/guest_iospace.h>
#include <sel4vm/guest_irq_controller.h>
#include <sel4vm/guest_memory.h>
#include <sel4vm/guest_memory_helpers.h>
#include <sel4vm/guest_ram.h>
#include <sel4vm/guest_vcpu_fault.h>
#include <sel4vm/guest_vm.h>
#include <sel4vm/guest_vm_exits.h>
#include <sel4vm/guest_vm_util.h>
#include <sel4vm/arch/guest_arm_context.h>
#include <sel4vm/arch/guest_memory_arch.h>
#include <sel4vm/arch/guest_vm_arch.h>
#include <sel4vm/arch/processor.h>
#include <sel4vm/sel4_arch/processor.h>
#include <sel4vm/sel4vm_ext.h>
#include <sel4vmmplatsupport/arch/service.h>

/* Guest layout (IPA). */
#define CONS_RAM_BASE 0x40000000ul
#define CONS_RAM_SIZE 0x400000ul
#define CONS_KERNEL_OFFSET 0x80000ul
#define CONS_VIRTIO_BASE 0x0a000000ul
#define CONS_VIRTIO_SIZE 0x1000ul
#define CONS_VIRTIO_IRQ 48
#define CONS_CROSSVM_IRQ 49
#define CONS_FRAME_HACK_BASE 0x30000000ul
#define CONS_PRIORITY 100
#define CONS_NUM_VCPUS 2

/* PSCI 0.2+ function ids and return values (SMC calling convention). */
#define PSCI_VERSION 0x84000000u
#define PSCI_CPU_ON_64 0xc4000003u
#define PSCI_AFFINITY_INFO_64 0xc4000004u
#define PSCI_FEATURES 0x8400000au
#define PSCI_SUCCESS 0
#define PSCI_NOT_SUPPORTED (-1)
#define PSCI_INVALID_PARAMETERS (-2)
#define PSCI_ALREADY_ON (-4)

/* virtio-mmio register offsets used here. */
#define VIRTIO_MMIO_MAGIC 0x000
#define VIRTIO_MMIO_VERSION 0x004
#define VIRTIO_MMIO_DEVICE_ID 0x008
#define VIRTIO_MMIO_QUEUE_NOTIFY 0x050
#define VIRTIO_MMIO_INTERRUPT_STATUS 0x060
#define VIRTIO_MMIO_INTERRUPT_ACK 0x064
#define VIRTIO_MMIO_QUEUE_DESC 0x080 /* low word; a simplification of the split 64-bit registers */
#define VIRTIO_MMIO_QUEUE_USED 0x0a0
#define VIRTIO_MAGIC 0x74726976u /* "virt" */

/* A one-descriptor virtqueue in guest RAM: the device upper-cases the
 * buffer it points at and reports it in the used ring. */
struct cons_vring_desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
};
struct cons_vring_used {
    uint16_t flags;
    uint16_t idx;
    uint32_t id;
    uint32_t len;
};

struct cons_virtio {
    vm_memory_reservation_t *res;
    uint32_t queue_desc;
    uint32_t queue_used;
    uint32_t interrupt_status;
    uint16_t used_idx;
    unsigned int notifies;
    unsigned int acks;
};

/* A camkes-vm VM_Arm-style module: initialised once the VM exists. */
typedef struct cons_module {
    const char *name;
    void (*init_module)(vm_t *vm, void *cookie);
    void *cookie;
} cons_module_t;

struct cons_state {
    vm_t vm;
    vm_vcpu_t *vcpus[CONS_NUM_VCPUS];
    struct cons_virtio virtio;
    /* vcpu_fault.c */
    unsigned int sysreg_traps;
    uint32_t last_sysreg_iss;
    unsigned int smc_calls;
    int failures;
    /* modules.c */
    unsigned int modules_run;
    seL4_CPtr *extra_frames;
    size_t num_extra_frames;
    vm_memory_reservation_t *frame_hack_res;
    unsigned int crossvm_events;
    seL4_Word crossvm_badge;
    /* boot.c: the endpoint installed for the guest, and where. */
    seL4_CPtr service_ep;
    int service_slot;
};

/* The one state (like a CAmkES component's globals). */
extern struct cons_state cons;

/* Records a failed check (sel4vm_puts). */
void cons_check(bool ok, const char *what);

/* boot.c: vm_init with the library's own allocator. 0 or -1. */
int cons_vm_init(void);
/* boot.c: a badged copy of cons.service_ep for the guest at the first
 * slot above VM_CSPACE_SLOT, as a VMM offering a service does. 0 or -1. */
int cons_install_service(seL4_Word badge);
/* boot.c: IRQ controller, vCPUs, RAM, image, boot registers, start.
 * 0, or the number of the failed step. */
int cons_boot(const uint8_t *image, size_t image_size, const uint8_t *dtb, size_t dtb_size,
              uintptr_t *dtb_addr);

/* vcpu_fault.c: installs the vCPU exception dispatcher and the SMC handler. */
int cons_install_fault_handlers(void);
/* The dispatcher (an unhandled_vcpu_fault_callback_fn). */
int cons_handle_vcpu_exception(vm_vcpu_t *vcpu, uint32_t hsr, void *cookie);
/* Value returned for a trapped MRS of any system register. */
#define CONS_SYSREG_READ_VALUE 0x5eedull

/* virtio.c: reserves the MMIO window and registers the IRQ. 0 or -1. */
int cons_virtio_init(void);

/* modules.c: runs every module; 0 or -1. */
int cons_run_modules(void);
