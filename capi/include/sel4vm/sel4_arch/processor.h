/*
 * sel4vm-rs C API: sel4_arch/processor.h (aarch64) -- guest processor modes
 * and the exception classes of the HSR, as in libsel4vm's
 * sel4_arch_include/aarch64/sel4vm/sel4_arch/processor.h (same names and
 * values, including libsel4vm's HSW_VECTOR_32_EXCEPTION spelling).
 */
#pragma once

#include <sel4vm/sel4vm_types.h>
#include <sel4vm/arch/processor.h>

/* SPSR_EL2.M[3:0]: the mode a vCPU enters with (`PMODE_EL1h` for a kernel). */
typedef enum processor_mode {
    PMODE_EL3h = 0xd,
    PMODE_EL3t = 0xc,
    PMODE_EL2h = 0x9,
    PMODE_EL2t = 0x8,
    PMODE_EL1h = 0x5,
    PMODE_EL1t = 0x4,
    PMODE_EL0t = 0x0
} processor_mode_t;

/* Message register of the first argument of an UnknownSyscall fault. */
#define seL4_UnknownSyscall_ARG0 seL4_UnknownSyscall_X0

/* Exception classes (HSR_EXCEPTION_CLASS(hsr)). */
#define HSR_UNKNOWN_EXCEPTION        (0x0) /* unknown reason */
#define HSR_WFx_EXCEPTION            (0x1) /* WFI/WFE */
#define HSR_CP15_32_EXCEPTION        (0x3) /* AArch32 MCR/MRC, coproc 15 */
#define HSR_CP15_64_EXCEPTION        (0x4) /* AArch32 MCRR/MRRC, coproc 15 */
#define HSR_CP14_32_EXCEPTION        (0x5) /* AArch32 MCR/MRC, coproc 14 */
#define HSR_CP14_LC_32_EXCEPTION     (0x6) /* AArch32 LDC/STC, coproc 14 */
#define HSR_SIMD_EXCEPTION           (0x7) /* SIMD/FP access trapped */
#define HSR_CP10_EXCEPTION           (0x8) /* AArch32 VMRS, coproc 10 */
#define HSR_CP14_EXCEPTION           (0xc) /* AArch32 MRRC, coproc 14 */
#define HSR_ILLEGAL_EXCEPTION        (0xe) /* illegal execution state */
#define HSR_SVC_32_EXCEPTION         (0x11) /* AArch32 SVC */
#define HSR_HVC_32_EXCEPTION         (0x12) /* AArch32 HVC */
#define HSR_SMC_32_EXCEPTION         (0x13) /* AArch32 SMC */
#define HSR_SVC_64_EXCEPTION         (0x15) /* AArch64 SVC */
#define HSR_HVC_64_EXCEPTION         (0x16) /* AArch64 HVC */
#define HSR_SMC_64_EXCEPTION         (0x17) /* AArch64 SMC */
#define HSR_SYSREG_64_EXCEPTION      (0x18) /* AArch64 MSR/MRS/system instruction */
#define HSR_IMPL_DEF_EXCEPTION       (0x1f) /* implementation defined, to EL3 */
#define HSR_IABT_LOW_EXCEPTION       (0x20) /* instruction abort from a lower EL */
#define HSR_IABT_CURR_EXCEPTION      (0x21) /* instruction abort, same EL */
#define HSR_PC_ALIGN_EXCEPTION       (0x22) /* PC alignment fault */
#define HSR_DABT_LOW_EXCEPTION       (0x24) /* data abort from a lower EL */
#define HSR_DABT_CUR_EXCEPTION       (0x25) /* data abort, same EL */
#define HSR_SP_ALIGN_EXCEPTION       (0x26) /* SP alignment fault */
#define HSR_FP32_EXCEPTION           (0x28) /* AArch32 floating-point exception */
#define HSR_FP64_EXCEPTION           (0x2c) /* AArch64 floating-point exception */
#define HSR_SERROR_EXCEPTION         (0x2f) /* SError interrupt */
#define HSR_BRK_LOW_EXCEPTION        (0x30) /* breakpoint from a lower EL */
#define HSR_BRK_CUR_EXCEPTION        (0x31) /* breakpoint, same EL */
#define HSR_SWSTEP_LOW_EXCEPTION     (0x32) /* software step from a lower EL */
#define HSR_SWSTEP_CUR_EXCEPTION     (0x33) /* software step, same EL */
#define HSR_WATCHPT_LOW_EXCEPTION    (0x34) /* watchpoint from a lower EL */
#define HSR_WATCHPT_CUR_EXCEPTION    (0x35) /* watchpoint, same EL */
#define HSR_SWBRK_32_EXCEPTION       (0x38) /* AArch32 BKPT */
#define HSW_VECTOR_32_EXCEPTION      (0x3a) /* AArch32 vector catch (libsel4vm spells it HSW_) */
#define HSR_SWBRK_64_EXCEPTION       (0x3c) /* AArch64 BRK */

/* Designated initialiser of hsr_reasons: the class's macro name. */
#define HSR_REASON_ENTRY(HSR) [HSR] = #HSR

/* Name of each exception class, for messages: hsr_reasons[HSR_EXCEPTION_CLASS(hsr)].
 * libsel4vm's table has HSR_MAX_EXCEPTION entries (0x3f out of range) and
 * fills the gaps with a GNU range initialiser; this one has one entry per
 * 6-bit class and spells the gaps out, so it is plain C11. */
#define SEL4VM_HSR_UNKNOWN_CLASS "Unknown Exception Class"
__attribute__((unused)) static const char *hsr_reasons[HSR_MAX_EXCEPTION + 1] = {
    HSR_REASON_ENTRY(HSR_UNKNOWN_EXCEPTION),
    HSR_REASON_ENTRY(HSR_WFx_EXCEPTION),
    [0x02] = SEL4VM_HSR_UNKNOWN_CLASS,
    HSR_REASON_ENTRY(HSR_CP15_32_EXCEPTION),
    HSR_REASON_ENTRY(HSR_CP15_64_EXCEPTION),
    HSR_REASON_ENTRY(HSR_CP14_32_EXCEPTION),
    HSR_REASON_ENTRY(HSR_CP14_LC_32_EXCEPTION),
    HSR_REASON_ENTRY(HSR_SIMD_EXCEPTION),
    HSR_REASON_ENTRY(HSR_CP10_EXCEPTION),
    [0x09] = SEL4VM_HSR_UNKNOWN_CLASS,
    [0x0a] = SEL4VM_HSR_UNKNOWN_CLASS,
    [0x0b] = SEL4VM_HSR_UNKNOWN_CLASS,
    HSR_REASON_ENTRY(HSR_CP14_EXCEPTION),
    [0x0d] = SEL4VM_HSR_UNKNOWN_CLASS,
    HSR_REASON_ENTRY(HSR_ILLEGAL_EXCEPTION),
    [0x0f] = SEL4VM_HSR_UNKNOWN_CLASS,
    [0x10] = SEL4VM_HSR_UNKNOWN_CLASS,
    HSR_REASON_ENTRY(HSR_SVC_32_EXCEPTION),
    HSR_REASON_ENTRY(HSR_HVC_32_EXCEPTION),
    HSR_REASON_ENTRY(HSR_SMC_32_EXCEPTION),
    [0x14] = SEL4VM_HSR_UNKNOWN_CLASS,
    HSR_REASON_ENTRY(HSR_SVC_64_EXCEPTION),
    HSR_REASON_ENTRY(HSR_HVC_64_EXCEPTION),
    HSR_REASON_ENTRY(HSR_SMC_64_EXCEPTION),
    HSR_REASON_ENTRY(HSR_SYSREG_64_EXCEPTION),
    [0x19] = SEL4VM_HSR_UNKNOWN_CLASS,
    [0x1a] = SEL4VM_HSR_UNKNOWN_CLASS,
    [0x1b] = SEL4VM_HSR_UNKNOWN_CLASS,
    [0x1c] = SEL4VM_HSR_UNKNOWN_CLASS,
    [0x1d] = SEL4VM_HSR_UNKNOWN_CLASS,
    [0x1e] = SEL4VM_HSR_UNKNOWN_CLASS,
    HSR_REASON_ENTRY(HSR_IMPL_DEF_EXCEPTION),
    HSR_REASON_ENTRY(HSR_IABT_LOW_EXCEPTION),
    HSR_REASON_ENTRY(HSR_IABT_CURR_EXCEPTION),
    HSR_REASON_ENTRY(HSR_PC_ALIGN_EXCEPTION),
    [0x23] = SEL4VM_HSR_UNKNOWN_CLASS,
    HSR_REASON_ENTRY(HSR_DABT_LOW_EXCEPTION),
    HSR_REASON_ENTRY(HSR_DABT_CUR_EXCEPTION),
    HSR_REASON_ENTRY(HSR_SP_ALIGN_EXCEPTION),
    [0x27] = SEL4VM_HSR_UNKNOWN_CLASS,
    HSR_REASON_ENTRY(HSR_FP32_EXCEPTION),
    [0x29] = SEL4VM_HSR_UNKNOWN_CLASS,
    [0x2a] = SEL4VM_HSR_UNKNOWN_CLASS,
    [0x2b] = SEL4VM_HSR_UNKNOWN_CLASS,
    HSR_REASON_ENTRY(HSR_FP64_EXCEPTION),
    [0x2d] = SEL4VM_HSR_UNKNOWN_CLASS,
    [0x2e] = SEL4VM_HSR_UNKNOWN_CLASS,
    HSR_REASON_ENTRY(HSR_SERROR_EXCEPTION),
    HSR_REASON_ENTRY(HSR_BRK_LOW_EXCEPTION),
    HSR_REASON_ENTRY(HSR_BRK_CUR_EXCEPTION),
    HSR_REASON_ENTRY(HSR_SWSTEP_LOW_EXCEPTION),
    HSR_REASON_ENTRY(HSR_SWSTEP_CUR_EXCEPTION),
    HSR_REASON_ENTRY(HSR_WATCHPT_LOW_EXCEPTION),
    HSR_REASON_ENTRY(HSR_WATCHPT_CUR_EXCEPTION),
    [0x36] = SEL4VM_HSR_UNKNOWN_CLASS,
    [0x37] = SEL4VM_HSR_UNKNOWN_CLASS,
    HSR_REASON_ENTRY(HSR_SWBRK_32_EXCEPTION),
    [0x39] = SEL4VM_HSR_UNKNOWN_CLASS,
    HSR_REASON_ENTRY(HSW_VECTOR_32_EXCEPTION),
    [0x3b] = SEL4VM_HSR_UNKNOWN_CLASS,
    HSR_REASON_ENTRY(HSR_SWBRK_64_EXCEPTION),
    [0x3d] = SEL4VM_HSR_UNKNOWN_CLASS,
    [0x3e] = SEL4VM_HSR_UNKNOWN_CLASS,
    [0x3f] = SEL4VM_HSR_UNKNOWN_CLASS,
};
