// guest-wfx: the guest program, assembled with
//   aarch64-linux-gnu-as guest.S -o guest.o && aarch64-linux-gnu-objcopy -O binary guest.o guest.bin
// and checked in as `guest::SEGMENTS` (the host test re-assembles this file
// and compares). Offsets are from RAM_BASE (0x4000_0000).
//
// Two vCPUs at EL1h, each idling in WFI or WFE while the other works.
// Both turn their stage-1 MMU and caches on with one identity map
// (PGTABLE: 1 GiB blocks, Device-nGnRnE below RAM, Normal write-back from
// RAM on), so that the spinlock's exclusives act on Normal memory.
// vCPU 0 starts at `entry0` with x0 = GIC version (2 or 3) and turns
// vCPU 1 on with PSCI CPU_ON at `entry1` (context id CONTEXT_TAG | version).
// The vCPUs hand over through STAGE (vCPU 1 -> 0) and GO (vCPU 0 -> 1) in
// SHARED; vCPU 0 writes a phase mark to the test device's MARK register at
// each boundary, where the VMM takes a snapshot of its exit statistics.
//
//   MARK 1   phase 1, an IPI wakes a sleeping vCPU: vCPU 1 enables its CPU
//            interface (SGI 2, PPI 27), turns its virtual timer off, unmasks
//            IRQs, sets STAGE 1 and sleeps in WFI. vCPU 0 waits 1/32 s of
//            the counter (vCPU 1 is then surely asleep), sends SGI 2 and
//            waits for STAGE 2 (vCPU 1 took it).
//   MARK 2   phase 2, busy vs idle: GO 1; vCPU 1 arms its virtual timer one
//            second ahead, sets STAGE 3 and sleeps in WFI; vCPU 0 counts
//            down BUSY_ITERS.
//   MARK 3   vCPU 0 waits for STAGE 4: vCPU 1 took the timer interrupt.
//   MARK 4   phase 3, a contended spinlock: vCPU 0 takes LOCK, GO 2; vCPU 1
//            sets STAGE 5 and waits for LOCK with SEVL / WFE / LDAXR.
//   MARK 5   vCPU 0's critical section: counts down CS_ITERS, writes
//            DATA_MAGIC to DATA.
//   MARK 6   vCPU 0 releases LOCK (STLR); vCPU 1 takes it, reads DATA,
//            releases it, sets STAGE 6 and calls CPU_OFF. vCPU 0 waits
//            until AFFINITY_INFO says vCPU 1 is off and writes DONE_MAGIC.
//
// Registers (each vCPU): x19 GIC version, x20 RESULTS, x21 last IAR | bit 31
// (0 = no interrupt yet), x22 unexpected interrupts, x26 SHARED.
// The IRQ handler only clobbers x9..x12; the subroutines x1..x7 and x30.
// PSCI calls use SMC only (seL4 would read x7 of an HVC as a syscall).

        .equ RAM,           0x40000000
        .equ PGTABLE,       0x1000          // offset in RAM: the level-1 table
        .equ RESULTS,       0x2000          // offset in RAM
        .equ SHARED,        0x3000          // offset in RAM
        .equ LOCK,          0x00            // offsets in SHARED, a cache line each
        .equ STAGE,         0x40
        .equ GO,            0x80
        .equ DATA,          0xc0
        .equ DEV,           0x20000000      // test device
        .equ MARK,          0x18            // its phase-mark register
        .equ DONE_MAGIC,    0x600d
        .equ DATA_MAGIC,    0xda7a
        .equ CONTEXT_TAG,   0xc0de0000
        .equ SGI_TO_1,      2
        .equ VTIMER,        27
        .equ BUSY_ITERS,    200000000
        .equ CS_ITERS,      100000000
        .equ CPU_OFF,       0x84000002
        .equ CPU_ON64,      0xc4000003
        .equ AFF_INFO64,    0xc4000004
        .equ MAIR_VALUE,    0xff00          // attr0 Device-nGnRnE, attr1 Normal WB
        .equ TCR_VALUE,     0x803520        // T0SZ 32, WB WA, inner shareable, 4K, EPD1
        .equ SCTLR_ON,      0x1005          // M, C, I

        // Results (u64 each, from RESULTS). vCPU 0:
        .equ R_CPU_ON,      0x00
        .equ R_SCTLR0,      0x08
        .equ R_SGI_AT,      0x10
        .equ R_BUSY_START,  0x18
        .equ R_BUSY_END,    0x20
        .equ R_CS_START,    0x28
        .equ R_CS_END,      0x30
        .equ R_AFF_OFF,     0x38
        .equ R_SGI_POLLS,   0x40
        // vCPU 1:
        .equ R_X0_1,        0x80
        .equ R_SCTLR1,      0x88
        .equ R_P1_IAR,      0x90
        .equ R_P1_AT,       0x98
        .equ R_P1_WFIS,     0xa0
        .equ R_P2_CVAL,     0xa8
        .equ R_P2_IAR,      0xb0
        .equ R_P2_CTL,      0xb8
        .equ R_P2_AT,       0xc0
        .equ R_P2_WFIS,     0xc8
        .equ R_P3_DATA,     0xd0
        .equ R_P3_WFES,     0xd8
        .equ R_OTHER,       0xe0
        .equ R_CPU_OFF_RET, 0xe8

        // 32-bit constant into a register.
        .macro  li32 reg, value
        movz    \reg, #((\value) >> 16), lsl #16
        movk    \reg, #((\value) & 0xffff)
        .endm

        .text
        .org 0
vectors:
        .irp slot, 0, 1, 2, 3, 4
        .org \slot * 0x80
        mov     x9, #\slot
        b       fail
        .endr
        .org 5 * 0x80
        b       irq_handler
        .irp slot, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
        .org \slot * 0x80
        mov     x9, #\slot
        b       fail
        .endr

        .org 0x800
entry0:
        mov     x19, x0
        bl      common_init
        str     x2, [x20, #R_SCTLR0]
        movz    x2, #0x0800, lsl #16        // GICD
        cmp     x19, #3
        b.eq    1f
        mov     w3, #1                      // v2: Enable
        b       2f
1:      mov     w3, #0x13                   // v3: ARE, EnableGrp1, EnableGrp0
2:      str     w3, [x2]                    // GICD_CTLR
        mov     x5, #1
        bl      mark
        li32    x0, CPU_ON64
        mov     x1, #1                      // target MPIDR: vCPU 1
        adr     x2, entry1
        li32    x3, CONTEXT_TAG
        orr     x3, x3, x19
        smc     #0
        str     x0, [x20, #R_CPU_ON]

        // Phase 1: an SGI to vCPU 1 asleep in WFI.
        add     x4, x26, #STAGE
        mov     x5, #1
        bl      wait_ge                     // vCPU 1 is about to sleep
        mrs     x2, cntfrq_el0
        lsr     x2, x2, #5
        mrs     x3, cntvct_el0
        add     x3, x3, x2
3:      mrs     x4, cntvct_el0
        cmp     x4, x3
        b.lo    3b
        mrs     x3, cntvct_el0
        str     x3, [x20, #R_SGI_AT]
        movz    x2, #0x0800, lsl #16
        cmp     x19, #3
        b.eq    4f
        li32    w3, ((1 << 1) << 16) | SGI_TO_1
        str     w3, [x2, #0xf00]            // GICD_SGIR: target list {1}
        b       5f
4:      li32    x3, (SGI_TO_1 << 24) | (1 << 1)
        msr     icc_sgi1r_el1, x3           // Aff0 target list {1}
        isb
5:      add     x4, x26, #STAGE
        mov     x5, #2
        bl      wait_ge                     // vCPU 1 took it
        str     x7, [x20, #R_SGI_POLLS]

        // Phase 2: busy here while vCPU 1 sleeps on a far deadline.
        mov     x5, #2
        bl      mark
        add     x4, x26, #GO
        mov     x5, #1
        stlr    x5, [x4]
        add     x4, x26, #STAGE
        mov     x5, #3
        bl      wait_ge                     // vCPU 1's timer is armed
        mrs     x3, cntvct_el0
        str     x3, [x20, #R_BUSY_START]
        li32    x3, BUSY_ITERS
6:      subs    x3, x3, #1
        b.ne    6b
        mrs     x3, cntvct_el0
        str     x3, [x20, #R_BUSY_END]
        mov     x5, #3
        bl      mark
        add     x4, x26, #STAGE
        mov     x5, #4
        bl      wait_ge                     // vCPU 1 woke on its deadline
        mov     x5, #4
        bl      mark

        // Phase 3: hold the lock vCPU 1 waits for in WFE.
        add     x4, x26, #LOCK
        bl      lock                        // uncontended
        add     x4, x26, #GO
        mov     x5, #2
        stlr    x5, [x4]
        add     x4, x26, #STAGE
        mov     x5, #5
        bl      wait_ge                     // vCPU 1 waits for the lock
        mov     x5, #5
        bl      mark
        mrs     x3, cntvct_el0
        str     x3, [x20, #R_CS_START]
        li32    x3, CS_ITERS
7:      subs    x3, x3, #1
        b.ne    7b
        mov     x3, #DATA_MAGIC
        str     x3, [x26, #DATA]
        mrs     x3, cntvct_el0
        str     x3, [x20, #R_CS_END]
        mov     x5, #6
        bl      mark
        add     x4, x26, #LOCK
        stlr    wzr, [x4]                   // release
        add     x4, x26, #STAGE
        mov     x5, #6
        bl      wait_ge                     // vCPU 1 had the lock
8:      li32    x0, AFF_INFO64              // until vCPU 1 is off
        mov     x1, #1
        mov     x2, #0
        smc     #0
        cmp     x0, #1
        b.ne    8b
        str     x0, [x20, #R_AFF_OFF]
        movz    x1, #(DEV >> 16), lsl #16
        mov     w3, #DONE_MAGIC
        str     w3, [x1]                    // test device: DONE
        b       .

        .org 0xa00
entry1:
        mov     x24, x0                     // context id
        and     x19, x0, #0xff              // GIC version
        bl      common_init
        str     x2, [x20, #R_SCTLR1]
        str     x24, [x20, #R_X0_1]
        msr     cntv_ctl_el0, xzr           // timer off: only an IRQ wakes WFI
        isb
        bl      cpu_gic_init
        msr     daifclr, #2

        // Phase 1: sleep until vCPU 0's SGI.
        add     x4, x26, #STAGE
        mov     x5, #1
        stlr    x5, [x4]
        mov     x3, #0
1:      wfi
        add     x3, x3, #1
        cbz     x21, 1b
        mrs     x4, cntvct_el0
        str     x4, [x20, #R_P1_AT]
        str     x21, [x20, #R_P1_IAR]
        str     x3, [x20, #R_P1_WFIS]
        add     x4, x26, #STAGE
        mov     x5, #2
        stlr    x5, [x4]

        // Phase 2: sleep until the virtual timer's deadline, 1 s ahead.
        add     x4, x26, #GO
        mov     x5, #1
        bl      wait_ge
        mov     x21, #0
        mrs     x3, cntfrq_el0
        mrs     x4, cntvct_el0
        add     x3, x3, x4
        str     x3, [x20, #R_P2_CVAL]
        msr     cntv_cval_el0, x3
        mov     x3, #1
        msr     cntv_ctl_el0, x3            // ENABLE, IMASK clear
        isb
        add     x4, x26, #STAGE
        mov     x5, #3
        stlr    x5, [x4]
        mov     x3, #0
2:      wfi
        add     x3, x3, #1
        cbz     x21, 2b
        msr     daifset, #2
        str     x21, [x20, #R_P2_IAR]
        str     x3, [x20, #R_P2_WFIS]
        add     x4, x26, #STAGE
        mov     x5, #4
        stlr    x5, [x4]

        // Phase 3: wait in WFE for the lock vCPU 0 holds.
        add     x4, x26, #GO
        mov     x5, #2
        bl      wait_ge
        add     x4, x26, #STAGE
        mov     x5, #5
        stlr    x5, [x4]
        add     x4, x26, #LOCK
        bl      lock
        str     x3, [x20, #R_P3_WFES]
        ldr     x5, [x26, #DATA]
        str     x5, [x20, #R_P3_DATA]
        add     x4, x26, #LOCK
        stlr    wzr, [x4]                   // release
        str     x22, [x20, #R_OTHER]
        add     x4, x26, #STAGE
        mov     x5, #6
        stlr    x5, [x4]
        li32    x0, CPU_OFF
        smc     #0
        str     x0, [x20, #R_CPU_OFF_RET]   // CPU_OFF returned: report
        mov     x9, #0x99
        b       fail

// VBAR, x20 = RESULTS, x26 = SHARED, x21 = x22 = 0; the identity map and
// caches on. Returns SCTLR_EL1 in x2.
common_init:
        movz    x1, #(RAM >> 16), lsl #16
        msr     vbar_el1, x1
        add     x20, x1, #RESULTS
        add     x26, x1, #SHARED
        mov     x21, #0
        mov     x22, #0
        mov     x2, #MAIR_VALUE
        msr     mair_el1, x2
        li32    x2, TCR_VALUE
        msr     tcr_el1, x2
        add     x2, x1, #PGTABLE
        msr     ttbr0_el1, x2
        isb
        tlbi    vmalle1
        dsb     nsh
        isb
        mrs     x2, sctlr_el1
        mov     x3, #SCTLR_ON
        orr     x2, x2, x3
        bic     x2, x2, #(1 << 19)          // WXN off: RAM is writable and executable
        msr     sctlr_el1, x2
        isb
        ret

// This vCPU's CPU interface (and v3 redistributor); SGI_TO_1 and the
// virtual timer's PPI enabled.
cpu_gic_init:
        mrs     x3, mpidr_el1
        and     x3, x3, #0xff               // Aff0 = vCPU index
        cmp     x19, #3
        b.eq    1f
        movz    x2, #0x0800, lsl #16
        li32    w4, (1 << SGI_TO_1) | (1 << VTIMER)
        str     w4, [x2, #0x100]            // GICD_ISENABLER0 (banked)
        movz    x5, #0x0801, lsl #16        // GICC
        mov     w4, #0xf0
        str     w4, [x5, #0x4]              // GICC_PMR
        mov     w4, #1
        str     w4, [x5]                    // GICC_CTLR.EnableGrp0
        ret
1:      movz    x5, #0x080a, lsl #16
        add     x5, x5, x3, lsl #17         // this vCPU's redistributor
        str     wzr, [x5, #0x14]            // GICR_WAKER
2:      ldr     w4, [x5, #0x14]
        tbnz    w4, #2, 2b
        add     x6, x5, #0x10, lsl #12      // SGI_base
        movn    w4, #0
        str     w4, [x6, #0x80]             // GICR_IGROUPR0: group 1
        li32    w4, (1 << SGI_TO_1) | (1 << VTIMER)
        str     w4, [x6, #0x100]            // GICR_ISENABLER0
        mov     x4, #0xf0
        msr     icc_pmr_el1, x4
        mov     x4, #1
        msr     icc_igrpen1_el1, x4
        isb
        ret

// MARK register of the test device := x5.
mark:
        movz    x1, #(DEV >> 16), lsl #16
        str     w5, [x1, #MARK]
        ret

// Until the u64 at [x4] >= x5; x7 = loads it took.
wait_ge:
        mov     x7, #0
1:      ldar    x6, [x4]
        add     x7, x7, #1
        cmp     x6, x5
        b.lo    1b
        ret

// Takes the spinlock at [x4], waiting in WFE; x3 = WFEs executed.
lock:
        mov     x3, #0
        mov     w6, #1
        sevl
1:      wfe
        add     x3, x3, #1
2:      ldaxr   w5, [x4]
        cbnz    w5, 1b
        stxr    w7, w6, [x4]
        cbnz    w7, 2b
        ret

irq_handler:
        cmp     x19, #3
        b.eq    1f
        movz    x9, #0x0801, lsl #16
        ldr     w10, [x9, #0xc]             // GICC_IAR
        b       2f
1:      mrs     x10, icc_iar1_el1
2:      and     w11, w10, #0x3ff
        cmp     w11, #1020
        b.hs    6f                          // spurious
        cmp     w11, #VTIMER
        b.ne    3f
        mrs     x12, cntv_ctl_el0           // ENABLE and ISTATUS expected
        str     x12, [x20, #R_P2_CTL]
        mrs     x12, cntvct_el0
        str     x12, [x20, #R_P2_AT]
        msr     cntv_ctl_el0, xzr           // one deadline only: timer off
        isb
        b       4f
3:      cmp     w11, #SGI_TO_1
        b.eq    4f
        add     x22, x22, #1                // anything else
4:      orr     x21, x10, #(1 << 31)
        cmp     x19, #3
        b.eq    5f
        str     w10, [x9, #0x10]            // GICC_EOIR
        eret
5:      msr     icc_eoir1_el1, x10
6:      eret

fail:
        mrs     x10, esr_el1
        mrs     x11, elr_el1
        movz    x12, #(DEV >> 16), lsl #16
        str     x11, [x12, #0x10]
        orr     x10, x10, x9, lsl #32
        str     x10, [x12, #0x8]
        b       .

        .org PGTABLE
pgtable:
        .quad   0x0060000000000401          // 0-1 GiB: Device-nGnRnE block, PXN, UXN
        .quad   0x0000000040000705          // 1-2 GiB: Normal WB block, inner shareable
