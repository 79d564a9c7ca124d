/*
 * libvmm-compatible guest API of sel4vm-rs (libvmm-compat crate).
 *
 * libvmm 0.1.0 by default; libvmm 0.2.0 with -DLIBVMM_API_VERSION=2 (see
 * libvmm/api_version.h). The notes below are 0.1.0's; 0.2.0's are in its
 * headers (libvmm/v2/guest.h and the ones it names).
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

#include <libvmm/api_version.h>

#if LIBVMM_API_VERSION == 2
/* libvmm 0.2.0 (aarch64): see libvmm/v2/guest.h, libvmm/v2/virq.h and the files included here. */
#include <libvmm/guest.h>
#include <libvmm/guest_ram.h>
#include <libvmm/vcpu.h>
#include <libvmm/virq.h>
#include <libvmm/arch/aarch64/linux.h>
#include <libvmm/arch/aarch64/fault.h>
#else
#include <libvmm/guest.h>
#include <libvmm/virq.h>
#include <libvmm/linux.h>
#endif
