/*
 * libvmm-compatible guest API of sel4vm-rs (libvmm-compat crate).
 *
 * Same names, argument order and return conventions as libvmm. All calls
 * act on the default guest the Rust VMM installed
 * (libvmm_compat::cabi::set_default_guest). Differences:
 *  - ram_start, dtb_dest, initrd_dest and guest_ram_vaddr are guest-physical
 *    addresses; source pointers are VMM addresses. A source that already is
 *    the VMM's mapping of its destination is validated in place, not copied.
 *  - passthrough IRQs are acknowledged through the hook set with
 *    libvmm_set_passthrough_ack() (libvmm calls microkit_irq_ack).
 *  - guest_stop stops every vCPU; guest_restart is implemented (stop, reset
 *    vCPUs and vGIC, zero RAM, reload the images, start).
 * Failures are logged with their reason.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libvmm/guest.h>
#include <libvmm/virq.h>
#include <libvmm/linux.h>
