/*
 * libvmm 0.2.0 <libvmm/virq.h>, aarch64 (include <libvmm/virq.h> with
 * LIBVMM_API_VERSION=2). Routes must be ARM_GIC_IRQ_ROUTE(vcpu, intid);
 * INTIDs 16..1019 (SGIs belong to the vGIC).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef LIBVMM_HAVE_MICROKIT_CHANNEL
/* Names one hardware interrupt source of the VMM (a Microkit channel in libvmm). */
typedef unsigned int microkit_channel;
#endif

/* libvmm 0.2.0 enum irq_type (only IRQ_TYPE_ARM_GIC is accepted). */
enum irq_type {
    IRQ_TYPE_INVALID = 0,
    IRQ_TYPE_ARM_GIC = 1,
    IRQ_TYPE_X86_IOAPIC = 2,
};

/* libvmm 0.2.0 irq_routing_info_t. */
typedef struct irq_routing_info {
    enum irq_type type;
    union {
        struct arm_gic {
            int vcpu_id;
            uint32_t intid;
        } arm_gic;
        struct x86_ioapic {
            uint8_t chip;
            uint8_t pin;
        } x86_ioapic;
    } hw;
} irq_routing_info_t;

/* libvmm 0.2.0 route constructors and accessors. */
#define ARM_GIC_IRQ_ROUTE(_vcpu_id, _intid) \
    ((irq_routing_info_t) { .type = IRQ_TYPE_ARM_GIC, .hw.arm_gic = { .vcpu_id = (_vcpu_id), .intid = (_intid) } })
#define X86_IOAPIC_IRQ_ROUTE(_chip, _pin) \
    ((irq_routing_info_t) { .type = IRQ_TYPE_X86_IOAPIC, .hw.x86_ioapic = { .chip = (_chip), .pin = (_pin) } })
#define IRQ_ROUTE_INVALID(route) ((route).type == IRQ_TYPE_INVALID)
#define IRQ_ROUTE_TO_ARM_CPUID(routing) ((routing).hw.arm_gic.vcpu_id)
#define IRQ_ROUTE_TO_ARM_INTID(routing) ((routing).hw.arm_gic.intid)
#define IRQ_ROUTE_TO_X86_IOAPIC_CHIP(routing) ((routing).hw.x86_ioapic.chip)
#define IRQ_ROUTE_TO_X86_IOAPIC_PIN(routing) ((routing).hw.x86_ioapic.pin)

/* libvmm 0.2.0 virq_ack_fn_t: called with the route when the guest completes the IRQ. */
typedef void (*virq_ack_fn_t)(irq_routing_info_t irq_routing_info, void *cookie);

#define virq_controller_init libvmm2_virq_controller_init
#define virq_inject libvmm2_virq_inject
#define virq_set_level libvmm2_virq_set_level
#define virq_register libvmm2_virq_register
#define virq_deregister libvmm2_virq_deregister
#define virq_register_passthrough libvmm2_virq_register_passthrough

/* libvmm 0.2.0 virq_controller_init (aarch64): the vGIC for boot vCPU 0.
 * guest_init calls it; a second call fails. */
bool virq_controller_init(void);

/* libvmm 0.2.0 virq_inject: an edge on a registered IRQ. */
bool virq_inject(irq_routing_info_t irq_routing_info);

/* libvmm 0.2.0 virq_set_level: the line of a registered IRQ through the
 * vGIC; pending while high, lowering withdraws it if not yet delivered
 * (libvmm 0.2.0 on aarch64 ignores a low level). */
bool virq_set_level(irq_routing_info_t irq_routing_info, bool level);

/* libvmm 0.2.0 virq_register: false if registered already, not an ARM GIC
 * route, or before the controller exists. ack_fn may be NULL. */
bool virq_register(irq_routing_info_t irq_routing_info, virq_ack_fn_t ack_fn, void *ack_data);

/* libvmm 0.2.0 virq_deregister (x86-only in libvmm 0.2.0; offered here for
 * aarch64): removes a registration, so a later inject fails. */
bool virq_deregister(irq_routing_info_t irq_routing_info);

/* Hook that acknowledges the hardware line of a passthrough channel (libvmm
 * calls microkit_irq_ack). Same symbol as in 0.1.0. */
void libvmm_set_passthrough_ack(void (*ack)(microkit_channel ch));

/* libvmm 0.2.0 virq_register_passthrough: hardware IRQ signalled on irq_ch. */
bool virq_register_passthrough(irq_routing_info_t irq_routing_info, microkit_channel irq_ch);

/* libvmm 0.2.0 virq_handle_passthrough: unchanged from 0.1.0, same symbol. */
bool virq_handle_passthrough(microkit_channel irq_ch);

#ifdef __cplusplus
}
#endif
