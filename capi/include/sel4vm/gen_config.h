/*
 * sel4vm-rs C API: gen_config.h -- libsel4vm's configuration options
 * (libsel4vm/CMakeLists.txt; its build generates <sel4vm/gen_config.h> with
 * `#define CONFIG_X 1` for an option that is ON and a `disabled` comment for
 * one that is OFF), set to what this library does.
 */
#pragma once

/* LibSel4VMDeferMemoryMap: OFF. Reservations are mapped when
 * vm_map_reservation is called, never deferred to the first fault. */
/* disabled: CONFIG_LIB_SEL4VM_DEFER_MEMORY_MAP */

/* LibSel4VMVMXTimerDebug (CONFIG_LIB_VM_VMX_TIMER_DEBUG) and
 * LibSel4VMVMXTimerTimeout (CONFIG_LIB_VM_VMX_TIMER_TIMEOUT) depend on
 * KernelArchX86, so an ARM build of libsel4vm does not generate them
 * either: neither is defined. */
