// guest-net: the guest program, assembled with
//   aarch64-linux-gnu-as guest.S -o guest.o && aarch64-linux-gnu-objcopy -O binary guest.o guest.bin
// and checked in as `guest::SEGMENTS` (the host test re-assembles this file
// and compares). Offsets are from RAM_BASE (0x4000_0000), where the VMM
// writes the segments.
//
// A bare-metal virtio-net driver at EL1h with the MMU off (so every access
// to the device is an aligned 32-bit load or store). It reads the
// identification registers, negotiates VERSION_1, MAC and STATUS, sets up
// the receive queue 0 and the transmit queue 1, reads the MAC and link
// status, posts two receive buffers, then on the transmit queue:
//   1. one batch of five bad chains, one notify: a descriptor whose NEXT
//      points to itself, a buffer running past the end of guest RAM, a
//      frame chained to a device-writable buffer, a frame of 1519 bytes
//      (one above the maximum) and a runt of 10 bytes;
//   2. one valid 60-byte frame, which the VMM's loopback link receives back
//      into the first receive buffer.
// It records what the device reports after each notify, compares the
// received frame with the sent one, then writes DONE_MAGIC to the test
// device. Any exception reports (vector slot << 32 | ESR_EL1) and ELR_EL1
// to the test device instead.
//
// Registers: x19 the virtio device, x20 RESULTS, x21 the receive rings,
// x22 the transmit rings, x23 the transmit buffer, x24 the receive buffers,
// x4 the next descriptor's address. Only the test device is stored to
// through x1 and x12.

        .equ RAM,         0x40000000
        .equ RAM_SIZE,    0x10000
        .equ RESULTS,     0x2000          // offsets in RAM
        .equ RX_RINGS,    0x3000
        .equ TX_RINGS,    0x4000
        .equ TX_BUF,      0x5000          // header + the valid frame
        .equ RX_BUF,      0x6000          // the receive buffers, RX_STRIDE apart
        .equ DESC,        0x000           // offsets from a queue's rings
        .equ AVAIL,       0x100
        .equ USED,        0x200
        .equ SINK,        0x100           // offsets from TX_BUF
        .equ BIG,         0x800
        .equ RX_STRIDE,   0x800
        .equ QSIZE,       8               // QueueNum of both queues
        .equ RXQ,         0
        .equ TXQ,         1
        .equ VIRTIO,      0x0b000000      // the virtio-mmio device
        .equ DEV,         0x20000000      // test device
        .equ DONE_MAGIC,  0x600d
        .equ F_NEXT,      1               // VIRTQ_DESC_F_NEXT
        .equ F_WRITE,     2               // VIRTQ_DESC_F_WRITE
        .equ F_MAC,       5               // VIRTIO_NET_F_MAC
        .equ F_STATUS,    16              // VIRTIO_NET_F_STATUS

        // Frame sizes.
        .equ NET_HDR,     12              // struct virtio_net_hdr (VERSION_1)
        .equ FRAME_LEN,   60              // the valid frame
        .equ FRAME_TOTAL, 72              // NET_HDR + FRAME_LEN
        .equ RX_BUF_LEN,  1530            // NET_HDR + 1518 (the largest frame)
        .equ BIG_LEN,     1531            // NET_HDR + 1519: one byte too many
        .equ RUNT_LEN,    22              // NET_HDR + 10: no Ethernet header
        .equ SINK_LEN,    16
        .equ PATTERN,     0x10            // frame byte i is PATTERN + i

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
        .equ CONFIG,              0x100

        // Device status bits.
        .equ ACKNOWLEDGE, 1
        .equ DRIVER,      2
        .equ DRIVER_OK,   4
        .equ FEATURES_OK, 8

        // The results area, u32 each.
        .equ R_MAGIC,       0x00
        .equ R_VERSION,     0x04
        .equ R_DEVICE_ID,   0x08
        .equ R_VENDOR_ID,   0x0c
        .equ R_FEATURES_LO, 0x10          // DeviceFeatures, DeviceFeaturesSel = 0
        .equ R_FEATURES_HI, 0x14          // DeviceFeaturesSel = 1
        .equ R_FEATURES_OK, 0x18          // Status after writing FEATURES_OK
        .equ R_RX_NUM_MAX,  0x1c          // QueueNumMax, then QueueReady read back
        .equ R_RX_READY,    0x20
        .equ R_TX_NUM_MAX,  0x24
        .equ R_TX_READY,    0x28
        .equ R_DRIVER_OK,   0x2c          // Status after writing DRIVER_OK
        .equ R_CONFIG_LO,   0x30          // config +0: mac[0..4]
        .equ R_CONFIG_HI,   0x34          // config +4: mac[4..6], status
        .equ R_BAD_STATUS,  0x38          // after the bad batch's notify:
        .equ R_BAD_INT,     0x3c          //   Status, InterruptStatus,
        .equ R_BAD_USED,    0x40          //   transmit used idx
        .equ R_STATUS,      0x44          // after the valid frame's notify:
        .equ R_INT,         0x48          //   Status, InterruptStatus,
        .equ R_TX_USED,     0x4c          //   transmit used idx,
        .equ R_RX_USED,     0x50          //   receive used idx,
        .equ R_RX_ID,       0x54          //   its first element (id, len),
        .equ R_RX_LEN,      0x58
        .equ R_RX_NUM_BUFS, 0x5c          //   num_buffers of the received header,
        .equ R_MISMATCH,    0x60          //   bytes differing from the sent frame
        .equ R_INT_ACKED,   0x64          // InterruptStatus after the last ACK

// Descriptor \n of the rings at \ring: address x4, \len bytes.
        .macro  desc ring, n, len, flags, next
        str     x4, [\ring, #(DESC + 16 * \n)]
        mov     w3, #\len
        str     w3, [\ring, #(DESC + 16 * \n + 8)]
        mov     w3, #\flags
        strh    w3, [\ring, #(DESC + 16 * \n + 12)]
        mov     w3, #\next
        strh    w3, [\ring, #(DESC + 16 * \n + 14)]
        .endm

// Available ring entry \slot of \ring = descriptor \head.
        .macro  avail ring, slot, head
        mov     w3, #\head
        strh    w3, [\ring, #(AVAIL + 4 + 2 * \slot)]
        .endm

// Publishes available idx \idx of \ring (the entries before it first),
// then notifies queue \q.
        .macro  kick ring, idx, q
        dmb     sy
        mov     w3, #\idx
        strh    w3, [\ring, #(AVAIL + 2)]
        dsb     sy
        mov     w3, #\q
        str     w3, [x19, #QUEUE_NOTIFY]
        .endm

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
        add     x21, x1, #RX_RINGS
        add     x22, x1, #TX_RINGS
        add     x23, x1, #TX_BUF
        add     x24, x1, #RX_BUF
        movz    x19, #(VIRTIO >> 16), lsl #16
        ldr     w3, [x19, #MAGIC_VALUE]
        str     w3, [x20, #R_MAGIC]
        ldr     w3, [x19, #VERSION]
        str     w3, [x20, #R_VERSION]
        ldr     w3, [x19, #DEVICE_ID]
        str     w3, [x20, #R_DEVICE_ID]
        ldr     w3, [x19, #VENDOR_ID]
        str     w3, [x20, #R_VENDOR_ID]
        str     wzr, [x19, #DEVICE_FEATURES_SEL]
        ldr     w3, [x19, #DEVICE_FEATURES]
        str     w3, [x20, #R_FEATURES_LO]
        mov     w3, #1
        str     w3, [x19, #DEVICE_FEATURES_SEL]
        ldr     w3, [x19, #DEVICE_FEATURES]
        str     w3, [x20, #R_FEATURES_HI]

        // Initialisation (virtio 1.2 §3.1.1).
        str     wzr, [x19, #STATUS]         // reset
        mov     w3, #ACKNOWLEDGE
        str     w3, [x19, #STATUS]
        mov     w3, #(ACKNOWLEDGE | DRIVER)
        str     w3, [x19, #STATUS]
        mov     w3, #1
        str     w3, [x19, #DRIVER_FEATURES_SEL]
        str     w3, [x19, #DRIVER_FEATURES] // bit 32: VIRTIO_F_VERSION_1
        str     wzr, [x19, #DRIVER_FEATURES_SEL]
        movz    w3, #(1 << F_MAC)
        movk    w3, #(1 << (F_STATUS - 16)), lsl #16
        str     w3, [x19, #DRIVER_FEATURES]
        mov     w3, #(ACKNOWLEDGE | DRIVER | FEATURES_OK)
        str     w3, [x19, #STATUS]
        ldr     w3, [x19, #STATUS]          // FEATURES_OK must have stuck
        str     w3, [x20, #R_FEATURES_OK]
        mov     w0, #RXQ
        mov     x5, x21
        add     x2, x20, #R_RX_NUM_MAX
        bl      queue
        mov     w0, #TXQ
        mov     x5, x22
        add     x2, x20, #R_TX_NUM_MAX
        bl      queue
        mov     w3, #(ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK)
        str     w3, [x19, #STATUS]
        ldr     w3, [x19, #STATUS]
        str     w3, [x20, #R_DRIVER_OK]
        ldr     w3, [x19, #CONFIG]
        str     w3, [x20, #R_CONFIG_LO]
        ldr     w3, [x19, #(CONFIG + 4)]
        str     w3, [x20, #R_CONFIG_HI]

        // Two receive buffers (descriptors 0 and 1), each large enough
        // for the largest frame.
        mov     x4, x24
        desc    x21, 0, RX_BUF_LEN, F_WRITE, 0
        add     x4, x24, #RX_STRIDE
        desc    x21, 1, RX_BUF_LEN, F_WRITE, 0
        avail   x21, 0, 0
        avail   x21, 1, 1
        kick    x21, 2, RXQ

        // The valid frame: a zero header (no offloads), then the pattern.
        str     xzr, [x23]
        str     wzr, [x23, #8]
        add     x5, x23, #NET_HDR
        mov     w6, #0
1:      add     w7, w6, #PATTERN
        strb    w7, [x5, x6]
        add     w6, w6, #1
        cmp     w6, #FRAME_LEN
        b.ne    1b

        // The bad batch. 0: a descriptor chained to itself.
        mov     x4, x23
        desc    x22, 0, FRAME_TOTAL, F_NEXT, 0
        // 1: 72 bytes starting 8 bytes before the end of guest RAM.
        movz    x4, #(RAM >> 16), lsl #16
        movk    x4, #(RAM_SIZE - 8)
        desc    x22, 1, FRAME_TOTAL, 0, 0
        // 2 -> 3: the frame, then a buffer the device could write.
        mov     x4, x23
        desc    x22, 2, FRAME_TOTAL, F_NEXT, 3
        add     x4, x23, #SINK
        desc    x22, 3, SINK_LEN, F_WRITE, 0
        // 4: one byte above the largest frame.
        add     x4, x23, #BIG
        desc    x22, 4, BIG_LEN, 0, 0
        // 5: shorter than an Ethernet header.
        mov     x4, x23
        desc    x22, 5, RUNT_LEN, 0, 0
        avail   x22, 0, 0
        avail   x22, 1, 1
        avail   x22, 2, 2
        avail   x22, 3, 4
        avail   x22, 4, 5
        kick    x22, 5, TXQ
        ldr     w3, [x19, #STATUS]          // no DEVICE_NEEDS_RESET
        str     w3, [x20, #R_BAD_STATUS]
        ldr     w4, [x19, #INTERRUPT_STATUS]
        str     w4, [x20, #R_BAD_INT]
        ldrh    w3, [x22, #(USED + 2)]      // all five came back
        str     w3, [x20, #R_BAD_USED]
        str     w4, [x19, #INTERRUPT_ACK]

        // The valid frame (descriptor 6); the loopback receives it back
        // while this notify is handled.
        mov     x4, x23
        desc    x22, 6, FRAME_TOTAL, 0, 0
        avail   x22, 5, 6
        kick    x22, 6, TXQ
        ldr     w3, [x19, #STATUS]
        str     w3, [x20, #R_STATUS]
        ldr     w4, [x19, #INTERRUPT_STATUS]
        str     w4, [x20, #R_INT]
        ldrh    w3, [x22, #(USED + 2)]
        str     w3, [x20, #R_TX_USED]
        ldrh    w3, [x21, #(USED + 2)]
        str     w3, [x20, #R_RX_USED]
        ldr     w3, [x21, #(USED + 4)]      // used element 0: id, len
        str     w3, [x20, #R_RX_ID]
        ldr     w3, [x21, #(USED + 8)]
        str     w3, [x20, #R_RX_LEN]
        ldrh    w3, [x24, #10]              // num_buffers
        str     w3, [x20, #R_RX_NUM_BUFS]
        // Count the bytes of the first receive buffer's frame that differ
        // from the sent frame.
        add     x5, x24, #NET_HDR
        add     x6, x23, #NET_HDR
        mov     x7, #0
        mov     w8, #0
2:      ldrb    w9, [x5, x7]
        ldrb    w10, [x6, x7]
        cmp     w9, w10
        cinc    w8, w8, ne
        add     x7, x7, #1
        cmp     x7, #FRAME_LEN
        b.ne    2b
        str     w8, [x20, #R_MISMATCH]
        str     w4, [x19, #INTERRUPT_ACK]
        ldr     w3, [x19, #INTERRUPT_STATUS]
        str     w3, [x20, #R_INT_ACKED]

        movz    x1, #(DEV >> 16), lsl #16
        mov     w3, #DONE_MAGIC
        str     w3, [x1]                    // test device: DONE
        b       .

// Sets up queue w0 with its rings at x5; stores QueueNumMax at [x2] and
// QueueReady (read back after writing 1) at [x2 + 4].
queue:
        str     w0, [x19, #QUEUE_SEL]
        ldr     w3, [x19, #QUEUE_NUM_MAX]
        str     w3, [x2]
        mov     w3, #QSIZE
        str     w3, [x19, #QUEUE_NUM]
        str     wzr, [x5, #AVAIL]           // avail flags = idx = 0
        str     wzr, [x5, #USED]            // used flags = idx = 0
        add     x3, x5, #DESC
        str     w3, [x19, #QUEUE_DESC_LOW]
        lsr     x3, x3, #32
        str     w3, [x19, #QUEUE_DESC_HIGH]
        add     x3, x5, #AVAIL
        str     w3, [x19, #QUEUE_DRIVER_LOW]
        lsr     x3, x3, #32
        str     w3, [x19, #QUEUE_DRIVER_HIGH]
        add     x3, x5, #USED
        str     w3, [x19, #QUEUE_DEVICE_LOW]
        lsr     x3, x3, #32
        str     w3, [x19, #QUEUE_DEVICE_HIGH]
        mov     w3, #1
        str     w3, [x19, #QUEUE_READY]
        ldr     w3, [x19, #QUEUE_READY]
        str     w3, [x2, #4]
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
