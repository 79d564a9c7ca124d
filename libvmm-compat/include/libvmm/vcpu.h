/* libvmm 0.2.0 <libvmm/vcpu.h>, the part offered (needs LIBVMM_API_VERSION=2). */
#pragma once

#include <libvmm/api_version.h>

#if LIBVMM_API_VERSION != 2
#error "<libvmm/vcpu.h> is libvmm 0.2.0 API: define LIBVMM_API_VERSION=2"
#endif

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define vcpu_is_on libvmm2_vcpu_is_on

/* libvmm 0.2.0 vcpu_is_on: whether the vCPU runs; false for an invalid id.
 * (vcpu_set_on, vcpu_reset, vcpu_print_regs are not offered: the VM tracks
 * vCPU state itself; guest_restart resets vCPUs.) */
bool vcpu_is_on(size_t vcpu_id);

#ifdef __cplusplus
}
#endif
