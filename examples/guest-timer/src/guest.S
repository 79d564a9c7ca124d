// guest-timer: the guest program, assembled with
//   aarch64-linux-gnu-as guest.S -o guest.o && aarch64-linux-gnu-objcopy -O binary guest.o guest.bin
// and checked in as `guest::SEGMENTS` (the host test re-assembles this file
// and compares). Offsets are from RAM_BASE (0x4000_0000), where the VMM
// writes the segments.
//
// Runs at EL1h with the MMU off. x0 = GIC version (2 or 3), set by the VMM.
// Programs the GIC distributor and CPU interface (v2: GICD + GICC MMIO;
// v3: GICD + GICR MMIO, ICC_* system registers), arms the virtual timer,
// waits in WFI, takes NUM_TICKS timer interrupts (re-arming CNTV_CVAL in
// the handler, acknowledging with IAR/EOIR), then records its results at
// RESULTS and writes DONE_MAGIC to the test device.
//
// Registers: x19 GIC version, x20 RESULTS, x21 timer interrupts taken,
// x22 other INTIDs seen, x23 timer period, x24 start count.
// The IRQ handler only clobbers x9..x13.

        .equ RAM,         0x40000000
        .equ RESULTS,     0x2000          // offset in RAM
        .equ DEV,         0x20000000      // test device
        .equ DONE_MAGIC,  0x600d
        .equ NUM_TICKS,   5
        .equ VTIMER,      27

        .text
        .org 0
vectors:
        // Every slot but "current EL, SPx, IRQ" (5) reports its number.
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
entry:
        mov     x19, x0
        movz    x1, #(RAM >> 16), lsl #16
        msr     vbar_el1, x1
        isb
        add     x20, x1, #RESULTS
        mov     x21, #0
        mov     x22, #0
        movz    x2, #0x0800, lsl #16        // GICD
        cmp     x19, #3
        b.eq    v3_init
v2_init:
        mov     w3, #1
        str     w3, [x2]                    // GICD_CTLR.Enable
        mov     w3, #(1 << VTIMER)
        str     w3, [x2, #0x100]            // GICD_ISENABLER0 (banked): PPI 27
        mov     w3, #0xa0
        strb    w3, [x2, #(0x400 + VTIMER)] // GICD_IPRIORITYR byte 27
        ldr     w4, [x2, #0x100]
        str     w4, [x20, #0x20]            // enables as read back
        ldrb    w4, [x2, #(0x400 + VTIMER)]
        str     w4, [x20, #0x24]            // priority as read back
        movz    x5, #0x0801, lsl #16        // GICC (the hardware's GICV)
        mov     w3, #0xf0
        str     w3, [x5, #0x4]              // GICC_PMR
        mov     w3, #1
        str     w3, [x5]                    // GICC_CTLR.EnableGrp0
        b       timer_start
v3_init:
        mov     w3, #0x13
        str     w3, [x2]                    // GICD_CTLR: ARE, EnableGrp1, EnableGrp0
        movz    x5, #0x080a, lsl #16        // GICR of vCPU 0 (RD_base)
        str     wzr, [x5, #0x14]            // GICR_WAKER: clear ProcessorSleep
1:      ldr     w3, [x5, #0x14]
        tbnz    w3, #2, 1b                  // until ChildrenAsleep is clear
        add     x6, x5, #0x10, lsl #12      // SGI_base
        movn    w3, #0
        str     w3, [x6, #0x80]             // GICR_IGROUPR0: all group 1
        mov     w3, #(1 << VTIMER)
        str     w3, [x6, #0x100]            // GICR_ISENABLER0: PPI 27
        mov     w3, #0xa0
        strb    w3, [x6, #(0x400 + VTIMER)] // GICR_IPRIORITYR byte 27
        ldr     w4, [x6, #0x100]
        str     w4, [x20, #0x20]
        ldrb    w4, [x6, #(0x400 + VTIMER)]
        str     w4, [x20, #0x24]
        mov     x3, #0xf0
        msr     icc_pmr_el1, x3
        mov     x3, #1
        msr     icc_igrpen1_el1, x3
        isb
timer_start:
        mrs     x23, cntfrq_el0
        lsr     x23, x23, #8                // period: 1/256 s
        mrs     x24, cntvct_el0
        str     x24, [x20, #0x08]           // start count
        add     x3, x24, x23
        msr     cntv_cval_el0, x3
        mov     x3, #1
        msr     cntv_ctl_el0, x3            // ENABLE, IMASK clear
        isb
        msr     daifclr, #2                 // unmask IRQs
wait:
        wfi
        cmp     x21, #NUM_TICKS
        b.lo    wait
        msr     daifset, #2
        mrs     x3, cntvct_el0
        str     x3, [x20, #0x10]            // end count
        str     x21, [x20]                  // timer interrupts taken
        str     x22, [x20, #0x18]           // other INTIDs
        str     x23, [x20, #0x28]           // period
        mrs     x3, cntv_ctl_el0
        str     x3, [x20, #0x30]            // timer control at the end
        movz    x1, #(DEV >> 16), lsl #16
        mov     w3, #DONE_MAGIC
        str     w3, [x1]                    // test device: DONE
        b       .

irq_handler:
        cmp     x19, #3
        b.eq    1f
        movz    x9, #0x0801, lsl #16
        ldr     w10, [x9, #0xc]             // GICC_IAR
        b       2f
1:      mrs     x10, icc_iar1_el1
2:      and     w11, w10, #0x3ff
        cmp     w11, #VTIMER
        b.ne    other
        add     x13, x20, #0x40
        str     w10, [x13, x21, lsl #2]     // IAR of each timer interrupt
        add     x21, x21, #1
        cmp     x21, #NUM_TICKS
        b.hs    3f
        mrs     x12, cntv_cval_el0
        add     x12, x12, x23               // next deadline: one period later
        msr     cntv_cval_el0, x12
        b       eoi
3:      msr     cntv_ctl_el0, xzr           // last one: timer off
        b       eoi
other:
        add     x22, x22, #1
        cmp     w11, #1020
        b.hs    4f                          // spurious: nothing to complete
eoi:
        isb
        cmp     x19, #3
        b.eq    5f
        str     w10, [x9, #0x10]            // GICC_EOIR
        eret
5:      msr     icc_eoir1_el1, x10
4:      eret

fail:
        // x9 = vector slot: report (slot << 32 | ESR_EL1) and ELR_EL1.
        mrs     x10, esr_el1
        mrs     x11, elr_el1
        movz    x12, #(DEV >> 16), lsl #16
        str     x11, [x12, #0x10]
        orr     x10, x10, x9, lsl #32
        str     x10, [x12, #0x8]
        b       .
