// guest-smp: the guest program, assembled with
//   aarch64-linux-gnu-as guest.S -o guest.o && aarch64-linux-gnu-objcopy -O binary guest.o guest.bin
// and checked in as `guest::SEGMENTS` (the host test re-assembles this file
// and compares). Offsets are from RAM_BASE (0x4000_0000).
//
// Two vCPUs at EL1h, MMU off. vCPU 0 starts at `entry0` with x0 = GIC
// version (2 or 3); vCPU 1 is off until vCPU 0 turns it on with PSCI
// CPU_ON at `entry1`, with context id CONTEXT_TAG | version.
//
// vCPU 0: programs the distributor and its CPU interface, asks the PSCI
// firmware (the VMM) VERSION / FEATURES / AFFINITY_INFO and an unknown
// function id, over SMC and HVC, turns vCPU 1 on (and tries again, and
// tries a CPU that does not exist), waits for vCPU 1's flag in shared RAM,
// sends it SGI 2 (GICD_SGIR or ICC_SGI1R_EL1), waits in WFI for SGI 1 back,
// waits until AFFINITY_INFO says vCPU 1 is off, makes STRESS_ROUNDS rounds
// of PSCI calls with invalid arguments (psci_stress), writes DONE_MAGIC to
// the test device.
// vCPU 1: sets up its CPU interface, records MPIDR/x0/SCTLR, sets the flag,
// waits in WFI for SGI 2, answers with SGI 1, calls CPU_OFF.
//
// Registers (each vCPU): x19 GIC version, x20 RESULTS, x21 last IAR | bit 31
// (0 = no interrupt yet). The IRQ handler only clobbers x9..x11.
// seL4 takes a guest HVC as a system call numbered by x7: x7 must not be a
// seL4 syscall number (-1..-14) at an HVC, so it is kept 0.

        .equ RAM,           0x40000000
        .equ RESULTS,       0x2000          // offset in RAM
        .equ FLAG,          0x3000          // offset in RAM
        .equ DEV,           0x20000000      // test device
        .equ DONE_MAGIC,    0x600d
        .equ CONTEXT_TAG,   0xc0de0000
        .equ SGI_TO_1,      2
        .equ SGI_TO_0,      1
        .equ PSCI_VERSION,  0x84000000
        .equ PSCI_FEATURES, 0x8400000a
        .equ CPU_OFF,       0x84000002
        .equ CPU_ON64,      0xc4000003
        .equ AFF_INFO64,    0xc4000004
        .equ SMCCC_VERSION, 0x80000000
        .equ UNKNOWN_SMC,   0xc2001234      // SiP service range: nothing there
        .equ UNKNOWN_HVC,   0x86000055      // standard hypervisor range: nothing there
        .equ UNKNOWN_FEAT,  0x840000ff
        .equ STRESS_ROUNDS, 1000
        .equ STRESS_CALLS,  7               // calls per round
        .equ NOT_SUPPORTED, -1
        .equ INVALID_PARAMETERS, -2
        .equ INVALID_ADDRESS, -9

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
        mov     x7, #0
        bl      common_init
        movz    x2, #0x0800, lsl #16        // GICD
        cmp     x19, #3
        b.eq    1f
        mov     w3, #1                      // v2: Enable
        b       2f
1:      mov     w3, #0x13                   // v3: ARE, EnableGrp1, EnableGrp0
2:      str     w3, [x2]                    // GICD_CTLR
        bl      cpu_gic_init
        mrs     x3, mpidr_el1
        str     x3, [x20, #0x70]

        li32    x0, PSCI_VERSION
        hvc     #0
        str     x0, [x20, #0x00]
        li32    x0, PSCI_VERSION
        smc     #0
        str     x0, [x20, #0x08]
        li32    x0, PSCI_FEATURES
        li32    x1, CPU_ON64
        smc     #0
        str     x0, [x20, #0x10]
        li32    x0, PSCI_FEATURES
        li32    x1, UNKNOWN_FEAT
        smc     #0
        str     x0, [x20, #0x18]
        li32    x0, AFF_INFO64
        mov     x1, #1
        mov     x2, #0
        smc     #0
        str     x0, [x20, #0x20]            // vCPU 1 before CPU_ON: OFF (1)
        li32    x0, UNKNOWN_SMC
        smc     #0
        str     x0, [x20, #0x28]
        li32    x0, UNKNOWN_HVC
        hvc     #0
        str     x0, [x20, #0x30]
        li32    x0, SMCCC_VERSION
        smc     #0
        str     x0, [x20, #0x78]

        li32    x0, CPU_ON64
        mov     x1, #1                      // target MPIDR: vCPU 1
        adr     x2, entry1
        li32    x3, CONTEXT_TAG
        orr     x3, x3, x19
        smc     #0
        str     x0, [x20, #0x38]            // SUCCESS
        li32    x0, CPU_ON64
        mov     x1, #1
        adr     x2, entry1
        mov     x3, #0
        smc     #0
        str     x0, [x20, #0x40]            // ALREADY_ON
        li32    x0, CPU_ON64
        mov     x1, #5                      // no such vCPU
        adr     x2, entry1
        mov     x3, #0
        hvc     #0
        str     x0, [x20, #0x48]            // INVALID_PARAMETERS
        li32    x0, AFF_INFO64
        mov     x1, #1
        mov     x2, #0
        smc     #0
        str     x0, [x20, #0x50]            // ON (0)

        movz    x4, #(RAM >> 16), lsl #16
        add     x4, x4, #FLAG
3:      ldr     x5, [x4]                    // vCPU 1's flag
        cbnz    x5, 4f
        wfe
        b       3b
4:      str     x5, [x20, #0x58]

        msr     daifclr, #2
        movz    x2, #0x0800, lsl #16
        cmp     x19, #3
        b.eq    5f
        li32    w3, ((1 << 1) << 16) | SGI_TO_1
        str     w3, [x2, #0xf00]            // GICD_SGIR: target list {1}
        b       6f
5:      li32    x3, (SGI_TO_1 << 24) | (1 << 1)
        msr     icc_sgi1r_el1, x3           // Aff0 target list {1}
        isb
6:      wfi
        cbz     x21, 6b
        msr     daifset, #2
        str     x21, [x20, #0x60]

7:      li32    x0, AFF_INFO64              // until vCPU 1 is off
        mov     x1, #1
        mov     x2, #0
        smc     #0
        cmp     x0, #1
        b.ne    7b
        str     x0, [x20, #0x68]
        bl      psci_stress

        movz    x1, #(DEV >> 16), lsl #16
        mov     w3, #DONE_MAGIC
        str     w3, [x1]                    // test device: DONE
        b       .

        .org 0xc00
entry1:
        mov     x24, x0                     // context id
        and     x19, x0, #0xff              // GIC version
        mov     x7, #0
        bl      common_init
        bl      cpu_gic_init
        mrs     x3, mpidr_el1
        str     x3, [x20, #0x80]
        str     x24, [x20, #0x88]
        mrs     x3, sctlr_el1
        str     x3, [x20, #0x90]
        msr     daifclr, #2
        movz    x4, #(RAM >> 16), lsl #16
        add     x4, x4, #FLAG
        str     x24, [x4]                   // flag for vCPU 0
1:      wfi
        cbz     x21, 1b
        msr     daifset, #2
        str     x21, [x20, #0x98]
        movz    x2, #0x0800, lsl #16
        cmp     x19, #3
        b.eq    2f
        li32    w3, ((1 << 0) << 16) | SGI_TO_0
        str     w3, [x2, #0xf00]            // GICD_SGIR: target list {0}
        b       3f
2:      li32    x3, (SGI_TO_0 << 24) | (1 << 0)
        msr     icc_sgi1r_el1, x3           // Aff0 target list {0}
        isb
3:      li32    x0, CPU_OFF
        hvc     #0
        str     x0, [x20, #0xa0]            // CPU_OFF returned: report
        mov     x9, #0x99
        b       fail

// VBAR, x20 = RESULTS, x21 = 0.
common_init:
        movz    x1, #(RAM >> 16), lsl #16
        msr     vbar_el1, x1
        isb
        add     x20, x1, #RESULTS
        mov     x21, #0
        ret

// This vCPU's CPU interface (and v3 redistributor), SGIs 1 and 2 enabled.
cpu_gic_init:
        mrs     x3, mpidr_el1
        and     x3, x3, #0xff               // Aff0 = vCPU index
        cmp     x19, #3
        b.eq    1f
        movz    x2, #0x0800, lsl #16
        mov     w4, #((1 << SGI_TO_0) | (1 << SGI_TO_1))
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
        mov     w4, #((1 << SGI_TO_0) | (1 << SGI_TO_1))
        str     w4, [x6, #0x100]            // GICR_ISENABLER0
        mov     x4, #0xf0
        msr     icc_pmr_el1, x4
        mov     x4, #1
        msr     icc_igrpen1_el1, x4
        isb
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
        b.hs    4f                          // spurious
        orr     x21, x10, #(1 << 31)
        cmp     x19, #3
        b.eq    3f
        str     w10, [x9, #0x10]            // GICC_EOIR
        eret
3:      msr     icc_eoir1_el1, x10
4:      eret

fail:
        mrs     x10, esr_el1
        mrs     x11, elr_el1
        movz    x12, #(DEV >> 16), lsl #16
        str     x11, [x12, #0x10]
        orr     x10, x10, x9, lsl #32
        str     x10, [x12, #0x8]
        b       .

// STRESS_ROUNDS rounds of PSCI calls with invalid arguments, vCPU 1 off.
// Each answer is compared with what PSCI requires; results: calls made at
// 0xa8, wrong answers at 0xb0, AFFINITY_INFO(vCPU 1) afterwards at 0xb8
// (OFF: no bad CPU_ON started it). x22 round, x23 wrong, x24 calls.
        .macro  expect value
        add     x24, x24, #1
        cmn     x0, #-(\value)
        cinc    x23, x23, ne
        .endm
psci_stress:
        mov     x22, #0
        mov     x23, #0
        mov     x24, #0
1:      li32    x0, CPU_ON64                // entry point outside guest RAM
        mov     x1, #1
        movz    x2, #0x1, lsl #32
        mov     x3, #0
        smc     #0
        expect  INVALID_ADDRESS
        li32    x0, CPU_ON64                // misaligned entry point, over HVC
        mov     x1, #1
        adr     x2, entry1
        add     x2, x2, #2
        hvc     #0
        expect  INVALID_ADDRESS
        li32    x0, CPU_ON64                // no such MPIDR (Aff3 set)
        movz    x1, #0x100, lsl #32
        orr     x1, x1, x22                 // and a changing Aff0
        adr     x2, entry1
        smc     #0
        expect  INVALID_PARAMETERS
        li32    x0, AFF_INFO64              // affinity level 3: not described
        mov     x1, #1
        mov     x2, #3
        smc     #0
        expect  INVALID_PARAMETERS
        li32    x0, PSCI_FEATURES           // a changing unknown function
        li32    x1, 0xc4ff0000
        orr     x1, x1, x22
        smc     #0
        expect  NOT_SUPPORTED
        li32    x0, 0x84000100              // unallocated PSCI function ids
        orr     x0, x0, x22
        hvc     #0
        expect  NOT_SUPPORTED
        li32    x0, PSCI_VERSION            // not SMCCC: immediate != 0 (over SMC:
        smc     #1                          // seL4 does not report an HVC's)
        expect  NOT_SUPPORTED
        add     x22, x22, #1
        cmp     x22, #STRESS_ROUNDS
        b.lo    1b
        str     x24, [x20, #0xa8]
        str     x23, [x20, #0xb0]
        li32    x0, AFF_INFO64
        mov     x1, #1
        mov     x2, #0
        smc     #0
        str     x0, [x20, #0xb8]
        ret
