/*
 * The values of <sel4vm/arch/processor.h>, <sel4vm/sel4_arch/processor.h>
 * and <sel4vm/gen_config.h> are libsel4vm's (checked at compile time; each
 * header is included first, on its own, so it must be self-contained).
 * The HSR numbers are the Arm ARM's ESR_EL2 exception classes.
 */
#include <sel4vm/sel4_arch/processor.h>
#include <sel4vm/arch/processor.h>
#include <sel4vm/gen_config.h>
#include <sel4vm/guest_vm.h>

#include <stdio.h>
#include <string.h>

_Static_assert(HSR_MAX_EXCEPTION == 0x3f, "HSR_MAX_EXCEPTION");
_Static_assert(HSR_EXCEPTION_CLASS_SHIFT == 26 && HSR_EXCEPTION_CLASS_MASK == 0xfc000000u, "EC field");
_Static_assert(HSR_IL_SHIFT == 25 && HSR_IL_MASK == 0x02000000, "IL field");
_Static_assert(HSR_ISS_MASK == 0x01ffffff, "ISS field");
_Static_assert(HSR_EXCEPTION_CLASS(0x5e000000u) == 0x17 && HSR_IL(0x5e000000u) == 1, "EC/IL of an SMC64");

#define EC(name, value) _Static_assert(name == value, #name);
EC(HSR_UNKNOWN_EXCEPTION, 0x0)
EC(HSR_WFx_EXCEPTION, 0x1)
EC(HSR_CP15_32_EXCEPTION, 0x3)
EC(HSR_CP15_64_EXCEPTION, 0x4)
EC(HSR_CP14_32_EXCEPTION, 0x5)
EC(HSR_CP14_LC_32_EXCEPTION, 0x6)
EC(HSR_SIMD_EXCEPTION, 0x7)
EC(HSR_CP10_EXCEPTION, 0x8)
EC(HSR_CP14_EXCEPTION, 0xc)
EC(HSR_ILLEGAL_EXCEPTION, 0xe)
EC(HSR_SVC_32_EXCEPTION, 0x11)
EC(HSR_HVC_32_EXCEPTION, 0x12)
EC(HSR_SMC_32_EXCEPTION, 0x13)
EC(HSR_SVC_64_EXCEPTION, 0x15)
EC(HSR_HVC_64_EXCEPTION, 0x16)
EC(HSR_SMC_64_EXCEPTION, 0x17)
EC(HSR_SYSREG_64_EXCEPTION, 0x18)
EC(HSR_IMPL_DEF_EXCEPTION, 0x1f)
EC(HSR_IABT_LOW_EXCEPTION, 0x20)
EC(HSR_IABT_CURR_EXCEPTION, 0x21)
EC(HSR_PC_ALIGN_EXCEPTION, 0x22)
EC(HSR_DABT_LOW_EXCEPTION, 0x24)
EC(HSR_DABT_CUR_EXCEPTION, 0x25)
EC(HSR_SP_ALIGN_EXCEPTION, 0x26)
EC(HSR_FP32_EXCEPTION, 0x28)
EC(HSR_FP64_EXCEPTION, 0x2c)
EC(HSR_SERROR_EXCEPTION, 0x2f)
EC(HSR_BRK_LOW_EXCEPTION, 0x30)
EC(HSR_BRK_CUR_EXCEPTION, 0x31)
EC(HSR_SWSTEP_LOW_EXCEPTION, 0x32)
EC(HSR_SWSTEP_CUR_EXCEPTION, 0x33)
EC(HSR_WATCHPT_LOW_EXCEPTION, 0x34)
EC(HSR_WATCHPT_CUR_EXCEPTION, 0x35)
EC(HSR_SWBRK_32_EXCEPTION, 0x38)
EC(HSW_VECTOR_32_EXCEPTION, 0x3a)
EC(HSR_SWBRK_64_EXCEPTION, 0x3c)

_Static_assert(PMODE_EL3h == 13 && PMODE_EL3t == 12 && PMODE_EL2h == 9 && PMODE_EL2t == 8, "PMODE EL3/EL2");
_Static_assert(PMODE_EL1h == 5 && PMODE_EL1t == 4 && PMODE_EL0t == 0, "PMODE EL1/EL0");
_Static_assert(seL4_UnknownSyscall_ARG0 == seL4_UnknownSyscall_X0 && seL4_UnknownSyscall_X0 == 0, "ARG0");
_Static_assert(sizeof(processor_mode_t) == sizeof(int), "processor_mode_t is an enum");

#ifdef CONFIG_LIB_SEL4VM_DEFER_MEMORY_MAP
#error "this library maps reservations at once: LibSel4VMDeferMemoryMap is OFF"
#endif
#if defined(CONFIG_LIB_VM_VMX_TIMER_DEBUG) || defined(CONFIG_LIB_VM_VMX_TIMER_TIMEOUT)
#error "x86-only options are not generated for ARM"
#endif

_Static_assert(sizeof(((vm_t *)0)->vcpus) / sizeof(((vm_t *)0)->vcpus[0]) >= CONFIG_MAX_NUM_NODES,
               "vm_t.vcpus has an entry per node");

int main(void)
{
    int failed = 0;
    /* Every 6-bit class has a name; the defined ones are their macro names. */
    for (int ec = 0; ec <= HSR_MAX_EXCEPTION; ec++) {
        if (!hsr_reasons[ec] || !hsr_reasons[ec][0]) {
            printf("hsr_reasons[%#x] missing\n", ec);
            failed++;
        }
    }
    failed += strcmp(hsr_reasons[HSR_SMC_64_EXCEPTION], "HSR_SMC_64_EXCEPTION") != 0;
    failed += strcmp(hsr_reasons[HSW_VECTOR_32_EXCEPTION], "HSW_VECTOR_32_EXCEPTION") != 0;
    failed += strcmp(hsr_reasons[0x2], "Unknown Exception Class") != 0;
    printf("processor_values: %d failed\n", failed);
    return failed != 0;
}
