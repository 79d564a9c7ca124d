/*
 * sel4vm-rs C API: arch/processor.h (ARM) -- fields of the syndrome (HSR /
 * ESR_EL2) the kernel reports with a VCPU fault, as in libsel4vm's
 * arch_include/arm/sel4vm/arch/processor.h (same names and values).
 * The exception classes themselves are in <sel4vm/sel4_arch/processor.h>.
 */
#pragma once

/* Largest exception class (EC is a 6-bit field). */
#define HSR_MAX_EXCEPTION (0x3f)

/* EC: bits 31:26. The mask has libsel4vm's value (0xfc000000) but is
 * unsigned: 0x3f << 26 does not fit an int, and an unsigned mask also gives
 * the right class for a signed `hsr`. */
#define HSR_EXCEPTION_CLASS_SHIFT (26)
#define HSR_EXCEPTION_CLASS_MASK ((unsigned int)HSR_MAX_EXCEPTION << HSR_EXCEPTION_CLASS_SHIFT)
#define HSR_EXCEPTION_CLASS(hsr) (((hsr) & HSR_EXCEPTION_CLASS_MASK) >> HSR_EXCEPTION_CLASS_SHIFT)

/* IL: bit 25, set for a 32-bit instruction. */
#define HSR_IL_SHIFT (25)
#define HSR_IL_MASK (1 << HSR_IL_SHIFT)
#define HSR_IL(hsr) (((hsr) & HSR_IL_MASK) >> HSR_IL_SHIFT)

/* ISS: bits 24:0, the class-specific syndrome. */
#define HSR_ISS_MASK (HSR_IL_MASK - 1)
