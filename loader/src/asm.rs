//! The few things that must be assembly: entry (EL check, stack, bss),
//! exception vectors, data-cache maintenance and the MMU-on-and-jump step.

core::arch::global_asm!(
    r#"
    .section .text.entry, "ax"
    .global _start
_start:
    msr     daifset, #0xf
    mrs     x19, CurrentEL
    ubfx    x19, x19, #2, #2
    cmp     x19, #3
    b.ne    1f

    /* EL3 (QEMU secure=on): run EL2 non-secure, AArch64, then restart. */
    mov     x0, #0x531              /* NS | RES1(4,5) | HCE | RW */
    msr     scr_el3, x0
    msr     cptr_el3, xzr
    mov     x0, #0x3c9              /* DAIF masked, EL2h */
    msr     spsr_el3, x0
    adr     x0, _start
    msr     elr_el3, x0
    eret

1:  adrp    x0, __loader_stack_top
    add     x0, x0, :lo12:__loader_stack_top
    mov     sp, x0
    cmp     x19, #2
    b.ne    2f
    /* EL2: let Rust code use FP/SIMD; catch our own faults. */
    mov     x0, #0x33ff
    msr     cptr_el2, x0
    adrp    x0, loader_vectors
    add     x0, x0, :lo12:loader_vectors
    msr     vbar_el2, x0
    isb
    b       3f
2:  /* EL1: only so the error message can be printed. */
    mov     x0, #(3 << 20)
    msr     cpacr_el1, x0
    isb

3:  adrp    x0, __bss_start
    add     x0, x0, :lo12:__bss_start
    adrp    x1, __bss_end
    add     x1, x1, :lo12:__bss_end
4:  cmp     x0, x1
    b.hs    5f
    stp     xzr, xzr, [x0], #16
    b       4b
5:  mov     x0, x19
    bl      loader_main
6:  wfe
    b       6b

    .section .bss.stack, "aw", @nobits
    .balign 16
    .space  0x10000
    .global __loader_stack_top
__loader_stack_top:

    /* Reserved for sel4vm-image (see boot_header.rs, HEADER_SIZE = 256). */
    .section .sel4vm_boot_header, "a", @progbits
    .balign 16
    .global __sel4vm_boot_header
__sel4vm_boot_header:
    .ascii  "UNPACKED"
    .space  248

    /* EL2 vectors: report which one fired and halt. */
    .section .text.vectors, "ax"
    .balign 2048
loader_vectors:
    .irp    idx, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
    .balign 128
    mov     x0, #\idx
    b       loader_vector_common
    .endr
loader_vector_common:
    mrs     x1, esr_el2
    mrs     x2, elr_el2
    mrs     x3, far_el2
    adrp    x4, __loader_stack_top
    add     x4, x4, :lo12:__loader_stack_top
    mov     sp, x4
    bl      loader_exception
7:  wfe
    b       7b

    .text
    /* Clean and invalidate every data/unified cache level up to the Level of
       Coherency by set/way, so nothing stale survives turning caches on.
       Clobbers x0-x11. */
    .global loader_flush_dcache
loader_flush_dcache:
    dsb     sy
    mrs     x0, clidr_el1
    ubfx    x3, x0, #24, #3         /* LoC */
    lsl     x3, x3, #1              /* LoC * 2, compared against level * 2 */
    cbz     x3, 14f
    mov     x10, #0                 /* level * 2, as CSSELR wants it */
10: add     x2, x10, x10, lsr #1    /* level * 3: this level's Ctype field */
    lsr     x1, x0, x2
    and     x1, x1, #7
    cmp     x1, #2
    b.lt    13f                     /* no data cache at this level */
    msr     csselr_el1, x10
    isb
    mrs     x1, ccsidr_el1
    and     x2, x1, #7
    add     x2, x2, #4              /* log2(line bytes) */
    ubfx    x4, x1, #3, #10         /* ways - 1 */
    clz     w5, w4                  /* way field shift */
    ubfx    x7, x1, #13, #15        /* sets - 1 */
11: mov     x9, x7                  /* set counter */
12: lsl     x6, x4, x5
    orr     x11, x10, x6
    lsl     x6, x9, x2
    orr     x11, x11, x6
    dc      cisw, x11
    subs    x9, x9, #1
    b.ge    12b
    subs    x4, x4, #1
    b.ge    11b
13: add     x10, x10, #2
    cmp     x3, x10
    b.gt    10b
14: mov     x10, #0
    msr     csselr_el1, x10
    dsb     sy
    isb
    ret

    /* Turn the EL2 MMU and caches off (if a previous stage left them on). */
    .global loader_mmu_off
loader_mmu_off:
    mov     x12, x30
    bl      loader_flush_dcache
    mrs     x0, sctlr_el2
    bic     x0, x0, #1              /* M */
    bic     x0, x0, #(1 << 2)       /* C */
    bic     x0, x0, #(1 << 12)      /* I */
    msr     sctlr_el2, x0
    isb
    ic      iallu
    tlbi    alle2
    dsb     sy
    isb
    ret     x12

    /* x0 -> EnterArgs (regs[6], entry, ttbr0, mair, tcr). Enables the EL2
       MMU on the boot page tables and jumps to the kernel; never returns. */
    .global loader_enter_kernel
loader_enter_kernel:
    mov     x19, x0
    bl      loader_flush_dcache
    ldr     x20, [x19, #48]
    ldr     x21, [x19, #56]
    ldr     x22, [x19, #64]
    ldr     x23, [x19, #72]
    msr     mair_el2, x22
    msr     tcr_el2, x23
    msr     ttbr0_el2, x21
    isb
    tlbi    alle2
    dsb     ish
    isb
    ic      iallu
    dsb     ish
    isb
    mrs     x9, sctlr_el2
    orr     x9, x9, #1              /* M */
    orr     x9, x9, #(1 << 2)       /* C */
    orr     x9, x9, #(1 << 12)      /* I */
    bic     x9, x9, #(1 << 19)      /* WXN would make our RWX blocks XN */
    bic     x9, x9, #(1 << 25)      /* EE: little-endian */
    msr     sctlr_el2, x9
    isb
    ic      iallu
    dsb     ish
    isb
    ldp     x0, x1, [x19, #0]
    ldp     x2, x3, [x19, #16]
    ldp     x4, x5, [x19, #32]
    br      x20
"#
);

/// Register values for [`loader_enter_kernel`]; field offsets are used by
/// the assembly above.
#[repr(C)]
pub struct EnterArgs {
    /// x0..x5 for seL4's `init_kernel`.
    pub regs: [u64; 6],
    /// Kernel entry (virtual).
    pub entry: u64,
    /// Root of the boot page tables.
    pub ttbr0: u64,
    /// MAIR_EL2.
    pub mair: u64,
    /// TCR_EL2.
    pub tcr: u64,
}

extern "C" {
    /// Enables the MMU with `args` and jumps to the kernel.
    pub fn loader_enter_kernel(args: *const EnterArgs) -> !;
    /// Disables the EL2 MMU and caches after cleaning the data cache.
    pub fn loader_mmu_off();
    /// The boot header reserved for the packer.
    pub static __sel4vm_boot_header: [u8; crate::boot_header::HEADER_SIZE];
    /// Loader image bounds (linker script).
    pub static __loader_start: u8;
    /// End of the loader image incl. bss.
    pub static __loader_end: u8;
}
