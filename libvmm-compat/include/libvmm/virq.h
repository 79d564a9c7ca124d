/* Virtual interrupts. See libvmm/libvmm.h for the conventions. */
#pragma once

#include <libvmm/api_version.h>

#if LIBVMM_API_VERSION == 2
#include <libvmm/v2/virq.h>
#else
/* libvmm 0.1.0 */

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef LIBVMM_HAVE_MICROKIT_CHANNEL
/* Names one hardware interrupt source of the VMM (a Microkit channel in libvmm). */
typedef unsigned int microkit_channel;
#endif

/* Called when the guest has completed (EOI'd) a registered virtual IRQ. */
typedef void (*virq_ack_fn_t)(size_t vcpu_id, int irq, void *cookie);

/* Sets up the virtual interrupt controller; call before virq_register. */
bool virq_controller_init(size_t boot_vcpu_id);

/* Registers virtual IRQ virq_num on vcpu_id; false if already registered. */
bool virq_register(size_t vcpu_id, size_t virq_num, virq_ack_fn_t ack_fn, void *ack_data);

/* Makes a registered IRQ pending; false if it was never registered. */
bool virq_inject(size_t vcpu_id, int irq);

/* Hook that acknowledges the hardware line of a passthrough channel. */
void libvmm_set_passthrough_ack(void (*ack)(microkit_channel ch));

/* Registers hardware IRQ irq, signalled on channel irq_ch, for the guest. */
bool virq_register_passthrough(size_t vcpu_id, size_t irq, microkit_channel irq_ch);

/* Injects the IRQ registered for irq_ch. */
bool virq_handle_passthrough(microkit_channel irq_ch);

#ifdef __cplusplus
}
#endif
#endif /* LIBVMM_API_VERSION */
