// guest-virtio: the guest program, assembled with
//   aarch64-linux-gnu-as guest.S -o guest.o && aarch64-linux-gnu-objcopy -O binary guest.o guest.bin
// and checked in as `guest::SEGMENTS` (the host test re-assembles this file
// and compares). Offsets are from RAM_BASE (0x4000_0000), where the VMM
// writes the segments.
//
// A bare-metal virtio-console driver at EL1h with the MMU off (so every
// access to the device is an aligned 32-bit load or store). It reads the
// identification registers, then runs three phases on the transmitq; each
// resets the device, negotiates VIRTIO_F_VERSION_1, sets the queue up with
// its rings in guest RAM, posts one chain of one descriptor, notifies and
// records what the device reports:
//   1. a descriptor whose NEXT points to itself (a loop), then a reset;
//   2. a buffer that runs past the end of guest RAM, then a reset;
//   3. the valid buffer "virtio ok\n" (the device stays up afterwards).
// Then it writes DONE_MAGIC to the test device. Any exception reports
// (vector slot << 32 | ESR_EL1) and ELR_EL1 to the test device instead.
//
// Registers: x19 the virtio device, x20 RESULTS, x21 the rings, x22 the
// current phase's record, x23/w24/w25 the phase's descriptor (address,
// length, flags | next << 16).

        .equ RAM,         0x40000000
        .equ RAM_SIZE,    0x10000
        .equ RESULTS,     0x2000          // offset in RAM
        .equ RINGS,       0x3000          // offset in RAM
        .equ DESC,        0x000           // offsets from RINGS
        .equ AVAIL,       0x100
        .equ USED,        0x200
        .equ QSIZE,       4               // QueueNum
        .equ TXQ,         1               // the console's transmitq
        .equ VIRTIO,      0x0b000000      // the virtio-mmio device
        .equ DEV,         0x20000000      // test device
        .equ DONE_MAGIC,  0x600d
        .equ MSG_LEN,     10
        .equ F_NEXT,      1               // VIRTQ_DESC_F_NEXT

        // virtio-mmio registers (virtio 1.2 §4.2.2).
        .equ MAGIC_VALUE,         0x000
        .equ VERSION,             0x004
        .equ DEVICE_ID,           0x008
        .equ VENDOR_ID,           0x00c
        .equ DEVICE_FEATURES,     0x010
        .equ DEVICE_FEATURES_SEL, 0x014
        .equ DRIVER_FEATURES,     0x020
        .equ DRIVER_FEATURES_SEL, 0x024
        .equ QUEUE_SEL,           0x030
        .equ QUEUE_NUM_MAX,       0x034
        .equ QUEUE_NUM,           0x038
        .equ QUEUE_READY,         0x044
        .equ QUEUE_NOTIFY,        0x050
        .equ INTERRUPT_STATUS,    0x060
        .equ INTERRUPT_ACK,       0x064
        .equ STATUS,              0x070
        .equ QUEUE_DESC_LOW,      0x080
        .equ QUEUE_DESC_HIGH,     0x084
        .equ QUEUE_DRIVER_LOW,    0x090
        .equ QUEUE_DRIVER_HIGH,   0x094
        .equ QUEUE_DEVICE_LOW,    0x0a0
        .equ QUEUE_DEVICE_HIGH,   0x0a4
        .equ CONFIG_GENERATION,   0x0fc
        .equ CONFIG,              0x100

        // Device status bits.
        .equ ACKNOWLEDGE, 1
        .equ DRIVER,      2
        .equ DRIVER_OK,   4
        .equ FEATURES_OK, 8

        // The results area: a header, then one record per phase.
        .equ R_MAGIC,     0x00
        .equ R_VERSION,   0x04
        .equ R_DEVICE_ID, 0x08
        .equ R_VENDOR_ID, 0x0c
        .equ R_FEATURES_HI, 0x10          // DeviceFeatures with DeviceFeaturesSel = 1
        .equ R_CONFIG_GEN, 0x14
        .equ R_MAX_PORTS, 0x18            // config space +4 (max_nr_ports)
        .equ PHASE1,      0x40
        .equ PHASE2,      0x80
        .equ PHASE3,      0xc0
        // Offsets in a phase's record.
        .equ P_FEATURES_OK, 0x00          // Status after writing FEATURES_OK
        .equ P_NUM_MAX,   0x04            // QueueNumMax of the transmitq
        .equ P_READY,     0x08            // QueueReady after writing 1
        .equ P_DRIVER_OK, 0x0c            // Status after writing DRIVER_OK
        .equ P_STATUS,    0x10            // Status after the notify
        .equ P_INT,       0x14            // InterruptStatus after the notify
        .equ P_USED_IDX,  0x18            // used ring idx after the notify
        .equ P_INT_ACKED, 0x1c            // InterruptStatus after acknowledging
        .equ P_RESET,     0x20            // Status after the reset (phases 1, 2)

        .text
        .org 0
vectors:
        // Every slot reports its number: the guest takes no exceptions.
        .irp slot, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
        .org \slot * 0x80
        mov     x9, #\slot
        b       fail
        .endr

        .org 0x800
entry:
        movz    x1, #(RAM >> 16), lsl #16
        msr     vbar_el1, x1
        isb
        add     x20, x1, #RESULTS
        add     x21, x1, #RINGS
        movz    x19, #(VIRTIO >> 16), lsl #16
        ldr     w3, [x19, #MAGIC_VALUE]
        str     w3, [x20, #R_MAGIC]
        ldr     w3, [x19, #VERSION]
        str     w3, [x20, #R_VERSION]
        ldr     w3, [x19, #DEVICE_ID]
        str     w3, [x20, #R_DEVICE_ID]
        ldr     w3, [x19, #VENDOR_ID]
        str     w3, [x20, #R_VENDOR_ID]
        mov     w3, #1
        str     w3, [x19, #DEVICE_FEATURES_SEL]
        ldr     w3, [x19, #DEVICE_FEATURES]
        str     w3, [x20, #R_FEATURES_HI]
        ldr     w3, [x19, #CONFIG_GENERATION]
        str     w3, [x20, #R_CONFIG_GEN]
        ldr     w3, [x19, #(CONFIG + 4)]
        str     w3, [x20, #R_MAX_PORTS]

        // Phase 1: descriptor 0 chains to itself.
        add     x22, x20, #PHASE1
        adr     x23, message
        mov     w24, #MSG_LEN
        mov     w25, #F_NEXT                // next = 0: itself
        bl      phase
        bl      reset
        // Phase 2: 16 bytes starting 8 bytes before the end of guest RAM.
        add     x22, x20, #PHASE2
        movz    x23, #(RAM >> 16), lsl #16
        movk    x23, #(RAM_SIZE - 8)
        mov     w24, #16
        mov     w25, #0
        bl      phase
        bl      reset
        // Phase 3: the message, a valid device-readable buffer.
        add     x22, x20, #PHASE3
        adr     x23, message
        mov     w24, #MSG_LEN
        mov     w25, #0
        bl      phase
        movz    x1, #(DEV >> 16), lsl #16
        mov     w3, #DONE_MAGIC
        str     w3, [x1]                    // test device: DONE
        b       .

// One phase: reset and initialise the device, set up the transmitq, post
// the descriptor x23/w24/w25 as the only chain, notify, record into x22.
phase:
        str     wzr, [x19, #STATUS]         // reset
        mov     w3, #ACKNOWLEDGE
        str     w3, [x19, #STATUS]
        mov     w3, #(ACKNOWLEDGE | DRIVER)
        str     w3, [x19, #STATUS]
        mov     w3, #1
        str     w3, [x19, #DRIVER_FEATURES_SEL]
        str     w3, [x19, #DRIVER_FEATURES] // bit 32: VIRTIO_F_VERSION_1
        str     wzr, [x19, #DRIVER_FEATURES_SEL]
        str     wzr, [x19, #DRIVER_FEATURES]
        mov     w3, #(ACKNOWLEDGE | DRIVER | FEATURES_OK)
        str     w3, [x19, #STATUS]
        ldr     w3, [x19, #STATUS]          // FEATURES_OK must have stuck
        str     w3, [x22, #P_FEATURES_OK]
        mov     w3, #TXQ
        str     w3, [x19, #QUEUE_SEL]
        ldr     w3, [x19, #QUEUE_NUM_MAX]
        str     w3, [x22, #P_NUM_MAX]
        mov     w3, #QSIZE
        str     w3, [x19, #QUEUE_NUM]
        str     wzr, [x21, #AVAIL]          // avail flags = idx = 0
        str     wzr, [x21, #USED]           // used flags = idx = 0
        add     x3, x21, #DESC
        str     w3, [x19, #QUEUE_DESC_LOW]
        lsr     x3, x3, #32
        str     w3, [x19, #QUEUE_DESC_HIGH]
        add     x3, x21, #AVAIL
        str     w3, [x19, #QUEUE_DRIVER_LOW]
        lsr     x3, x3, #32
        str     w3, [x19, #QUEUE_DRIVER_HIGH]
        add     x3, x21, #USED
        str     w3, [x19, #QUEUE_DEVICE_LOW]
        lsr     x3, x3, #32
        str     w3, [x19, #QUEUE_DEVICE_HIGH]
        mov     w3, #1
        str     w3, [x19, #QUEUE_READY]
        ldr     w3, [x19, #QUEUE_READY]
        str     w3, [x22, #P_READY]
        mov     w3, #(ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK)
        str     w3, [x19, #STATUS]
        ldr     w3, [x19, #STATUS]
        str     w3, [x22, #P_DRIVER_OK]
        // The chain: descriptor 0; avail ring[0] = 0, then avail idx = 1.
        str     x23, [x21, #DESC]           // addr
        str     w24, [x21, #(DESC + 8)]     // len
        str     w25, [x21, #(DESC + 12)]    // flags, next
        strh    wzr, [x21, #(AVAIL + 4)]
        dmb     sy
        mov     w3, #1
        strh    w3, [x21, #(AVAIL + 2)]
        dsb     sy
        mov     w3, #TXQ
        str     w3, [x19, #QUEUE_NOTIFY]
        ldr     w3, [x19, #STATUS]
        str     w3, [x22, #P_STATUS]
        ldr     w4, [x19, #INTERRUPT_STATUS]
        str     w4, [x22, #P_INT]
        ldrh    w3, [x21, #(USED + 2)]
        str     w3, [x22, #P_USED_IDX]
        str     w4, [x19, #INTERRUPT_ACK]
        ldr     w3, [x19, #INTERRUPT_STATUS]
        str     w3, [x22, #P_INT_ACKED]
        ret

// Device reset: Status = 0, which must clear DEVICE_NEEDS_RESET.
reset:
        str     wzr, [x19, #STATUS]
        ldr     w3, [x19, #STATUS]
        str     w3, [x22, #P_RESET]
        ret

fail:
        // x9 = vector slot: report (slot << 32 | ESR_EL1) and ELR_EL1.
        mrs     x10, esr_el1
        mrs     x11, elr_el1
        movz    x12, #(DEV >> 16), lsl #16
        str     x11, [x12, #0x10]
        orr     x10, x10, x9, lsl #32
        str     x10, [x12, #0x8]
        b       .

        .balign 16
message:
        .ascii  "virtio ok\n"
        .if     . - message != MSG_LEN
        .error  "MSG_LEN does not match the message"
        .endif
        .balign 4
