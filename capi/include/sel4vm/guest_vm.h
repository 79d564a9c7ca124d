/*
 * sel4vm-rs C API: guest_vm.h -- the VM and vCPU structures, vm_run.
 *
 * vm_t is owned by the application (CAmkES components usually have a static
 * one); vm_init() attaches the Rust VM to it. Do not copy or move a vm_t
 * after vm_init (vCPUs point back to it; a copy is rejected with -1/NULL).
 *
 * Fields kept in sync by the library (read them freely; writes are
 * overwritten at the next API call and do not change the VM):
 *   num_vcpus, vcpus[] (and in each vm_vcpu_t: vm, vcpu.cptr, tcb.tcb.cptr,
 *   tcb.sc.cptr, tcb.priority, vcpu_id, target_cpu, vcpu_online,
 *   vcpu_arch.unhandled_vcpu_callback(+cookie)),
 *   mem.num_ram_regions, mem.ram_regions (sorted runs of guest RAM with
 *   equal allocation state; the array is reallocated by any call that
 *   changes RAM, so do not keep the pointer across calls),
 *   mem.unhandled_mem_fault_handler(+cookie), run.exit_reason (after
 *   vm_run), run.notification_callback(+cookie), arch.vm_smc_handler,
 *   cspace.cspace_obj.cptr, cspace.cspace_root_data, host_endpoint,
 *   vm_name, vm_id, vm_initialised.
 * Stored as passed to vm_init: vka, simple, io_ops, mem.vmm_vspace (the
 *   library keeps what vm_init was given; writing these fields later has no
 *   effect; io_ops is never used).
 * Owned by the application, never read or written by the library: entry.
 * Not maintained (zero): mem.vm_vspace, mem.vm_vspace_root,
 *   mem.reservation_cookie, mem.clean_cache, mem.map_one_to_one, the
 *   vka_object_t fields other than cptr, tcb.sched_ctrl, vcpu_arch.fault.
 * Private: sel4vm_magic, sel4vm_impl.
 */
#pragma once

#include <sel4vm/sel4vm_types.h>
#include <sel4vm/arch/guest_vm_arch.h>
#include <sel4vm/guest_memory.h>
#include <sel4vm/guest_vm_exits.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Size of vm_t.vcpus. libsel4vm sizes the array with the kernel's
 * CONFIG_MAX_NUM_NODES; the Rust side has a fixed layout, so it is a constant
 * that must be at least CONFIG_MAX_NUM_NODES (checked below; the supported
 * seL4 configurations have 1 node, the host backend runs up to 8 vCPUs). */
#define SEL4VM_MAX_VCPUS 8

#ifndef SEL4VM_HAVE_LIBSEL4
/* No kernel configuration without libsel4 (host builds): the host backend
 * runs up to SEL4VM_MAX_VCPUS vCPUs, one per emulated node. Code that
 * bounds its vCPU count by CONFIG_MAX_NUM_NODES (as camkes-vm does) then
 * works unchanged. */
#ifndef CONFIG_MAX_NUM_NODES
#define CONFIG_MAX_NUM_NODES SEL4VM_MAX_VCPUS
#endif
#endif

#if defined(CONFIG_MAX_NUM_NODES) && CONFIG_MAX_NUM_NODES > SEL4VM_MAX_VCPUS
#error "vm_t.vcpus has SEL4VM_MAX_VCPUS entries, fewer than the kernel's CONFIG_MAX_NUM_NODES"
#endif

typedef struct vm_mem vm_mem_t;
typedef struct vm_ram_region vm_ram_region_t;
typedef struct vm_run vm_run_t;
typedef struct vm_arch vm_arch_t;

/* Called for guest accesses outside every reservation, or left
 * FAULT_UNHANDLED by a reservation's callback. */
typedef memory_fault_result_t (*unhandled_mem_fault_callback_fn)(vm_t *vm, vm_vcpu_t *vcpu, uintptr_t paddr,
                                                                 size_t len, void *cookie);

/* Called for a notification on the VMM endpoint. `badge` is the value the
 * sender's cap was minted with (the library's marker bit 63 removed);
 * `tag` is always zero. Non-zero makes vm_run return -1. */
typedef int (*notification_callback_fn)(vm_t *vm, seL4_Word badge, seL4_MessageInfo_t tag, void *cookie);

struct vm_ram_region {
    uintptr_t start;
    size_t size;
    int allocated;
};

struct vm_mem {
    vspace_t vm_vspace;
    vka_object_t vm_vspace_root;
    vspace_t vmm_vspace;
    int num_ram_regions;
    struct vm_ram_region *ram_regions;
    vm_memory_reservation_cookie_t *reservation_cookie;
    unhandled_mem_fault_callback_fn unhandled_mem_fault_handler;
    void *unhandled_mem_fault_cookie;
    int clean_cache;
    int map_one_to_one;
};

struct vm_tcb {
    vka_object_t tcb;
    vka_object_t sc;
    vka_object_t sched_ctrl;
    int priority;
};

struct vm_vcpu {
    struct vm *vm;
    vka_object_t vcpu;
    struct vm_tcb tcb;
    unsigned int vcpu_id;
    int target_cpu; /* -1: not assigned */
    bool vcpu_online;
    struct vm_vcpu_arch vcpu_arch;
};

struct vm_run {
    int exit_reason; /* vm_exit_codes_t or VM_GUEST_ERROR_EXIT */
    notification_callback_fn notification_callback;
    void *notification_callback_cookie;
};

struct vm_cspace {
    vka_object_t cspace_obj;
    seL4_Word cspace_root_data;
};

struct vm {
    struct vm_arch arch;
    unsigned int num_vcpus;
    struct vm_vcpu *vcpus[SEL4VM_MAX_VCPUS];
    struct vm_mem mem;
    struct vm_run run;
    struct vm_cspace cspace;
    seL4_CPtr host_endpoint;
    vka_t *vka;
    ps_io_ops_t *io_ops;
    simple_t *simple;
    seL4_Word entry;
    char *vm_name;
    unsigned int vm_id;
    bool vm_initialised;
    /* private to the library */
    uint64_t sel4vm_magic;
    void *sel4vm_impl;
};

/* Runs the VM until it stops. Returns (and stores in run.exit_reason) 0
 * when stopped normally (host build: also when the test queued no more
 * events), VM_GUEST_NOTIFICATION_EXIT for an unhandled notification, -1 on
 * errors (unhandled faults, callbacks returning errors, bad vm). */
int vm_run(vm_t *vm);

/* Starts a vCPU (sets VMPIDR, resumes its thread). 0 or -1. */
int vcpu_start(vm_vcpu_t *vcpu);

/* 0, or -1 (NULL vm or callback). */
int vm_register_unhandled_mem_fault_callback(vm_t *vm, unhandled_mem_fault_callback_fn fault_handler, void *cookie);

/* 0, or -1 (NULL vm or callback). */
int vm_register_notification_callback(vm_t *vm, notification_callback_fn notification_callback, void *cookie);

#ifdef __cplusplus
}
#endif
