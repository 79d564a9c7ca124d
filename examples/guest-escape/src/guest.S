// guest-escape: the guest program, assembled with
//   aarch64-linux-gnu-as guest.S -o guest.o && aarch64-linux-gnu-objcopy -O binary guest.o guest.bin
// and checked in as `guest::SEGMENTS` (the host test re-assembles this file
// and compares). Offsets are from RAM_BASE (0x4000_0000).
//
// One vCPU at EL1h, MMU off, entered at `entry` with x0 = the attempt to
// make. seL4 takes a guest HVC into its system-call path with x7 as the
// syscall number, run with the vCPU thread's CSpace; each attempt sets x7
// to a real seL4 syscall number and names a cap the VMM's root CNode holds
// (seL4_CapInitThreadTCB = 1, CNode = 2, ASID pool = 6):
//   1: seL4_Call(1, TCBSuspend)          (x7 = SysCall)
//   2: seL4_Call(2, CNodeDelete(slot 1, depth 64))
//   3: seL4_Send(6, ARMASIDPoolAssign)   (x7 = SysSend)
//   4: seL4_Yield                        (x7 = SysYield)
//   5: seL4_Recv(1)                      (x7 = SysRecv)
// and, with a VMM service (an endpoint the root task receives on) installed
// at SERVICE_SLOT of the vCPU's CSpace:
//   6: seL4_Call(SERVICE_SLOT, SERVICE_LABEL, mr0 = SERVICE_MR), made
//      before START (the root task waits on the service endpoint, not the
//      VMM's); RESULT is the reply's mr0 (x2)
//   7: seL4_Call(SERVICE_SLOT | 1 << 4, ...): only CPtr n names slot n
//   8: seL4_Call(2, CNodeDelete(SERVICE_SLOT, depth 4)): libsel4vm's
//      VM_CSPACE_SLOT holds no CNode cap here
// Progress goes to the test device: START before the attempt; RESULT (x0
// after it), AFTER and DONE once the guest runs on after it.
// Any exception reports (vector slot << 32 | ESR_EL1) to FAIL.

        .equ RAM,           0x40000000
        .equ DEV,           0x20000000      // test device
        .equ DONE_MAGIC,    0x600d
        // seL4 syscall numbers (x7) and invocation labels (MessageInfo).
        .equ SYS_CALL,      -1
        .equ SYS_SEND,      -3
        .equ SYS_RECV,      -5
        .equ SYS_YIELD,     -7
        .equ TCB_SUSPEND,   11
        .equ CNODE_DELETE,  18
        .equ ASID_POOL_ASSIGN, 48
        // Root CNode slots of the VMM (the caps the guest aims at).
        .equ CAP_TCB,       1
        .equ CAP_CNODE,     2
        .equ CAP_ASID_POOL, 6
        // The service the root task installs, and what the guest sends it.
        .equ SERVICE_SLOT,  5
        .equ SERVICE_LABEL, 0x5e
        .equ SERVICE_MR,    0x1234
        .equ VM_CSPACE_SLOT, 2
        .equ VM_CSPACE_BITS, 4
        // Device registers (offsets from DEV).
        .equ START,         0x00
        .equ RESULT,        0x08
        .equ AFTER,         0x10
        .equ DONE,          0x18
        .equ FAIL,          0x20

        // seL4_MessageInfo word: label << 12 | length.
        .macro  msginfo reg, label, length
        movz    \reg, #(((\label) << 12 | (\length)) & 0xffff)
        movk    \reg, #(((\label) << 12 | (\length)) >> 16), lsl #16
        .endm

        .text
        .org 0
vectors:
        .irp slot, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
        .org \slot * 0x80
        mov     x9, #\slot
        b       fail
        .endr

        .org 0x800
entry:
        adr     x9, vectors
        msr     vbar_el1, x9
        isb
        mov     x19, x0
        movz    x20, #(DEV >> 16), lsl #16
        cmp     x19, #6
        b.eq    call_service
        str     x19, [x20, #START]
        cmp     x19, #1
        b.eq    call_tcb
        cmp     x19, #2
        b.eq    call_cnode
        cmp     x19, #3
        b.eq    send_asid_pool
        cmp     x19, #4
        b.eq    yield
        cmp     x19, #5
        b.eq    recv_ep
        cmp     x19, #7
        b.eq    call_service_guarded
        cmp     x19, #8
        b.eq    delete_service
        b       report

call_tcb:
        mov     x0, #CAP_TCB
        msginfo x1, TCB_SUSPEND, 0
        mov     x7, #SYS_CALL
        hvc     #0
        b       report

call_cnode:
        mov     x0, #CAP_CNODE
        msginfo x1, CNODE_DELETE, 2
        mov     x2, #CAP_TCB                // the slot to delete
        mov     x3, #64                     // its depth
        mov     x7, #SYS_CALL
        hvc     #0
        b       report

send_asid_pool:
        mov     x0, #CAP_ASID_POOL
        msginfo x1, ASID_POOL_ASSIGN, 0
        mov     x7, #SYS_SEND
        hvc     #0
        b       report

yield:
        mov     x7, #SYS_YIELD
        hvc     #0
        b       report

recv_ep:
        mov     x0, #CAP_TCB
        mov     x7, #SYS_RECV
        hvc     #0
        b       report

call_service:
        mov     x0, #SERVICE_SLOT
        msginfo x1, SERVICE_LABEL, 1
        mov     x2, #SERVICE_MR
        mov     x7, #SYS_CALL
        hvc     #0
        str     x19, [x20, #START]
        mov     x0, x2                      // the reply's mr0
        b       report

call_service_guarded:
        mov     x0, #(SERVICE_SLOT | 1 << VM_CSPACE_BITS)
        msginfo x1, SERVICE_LABEL, 1
        mov     x2, #SERVICE_MR
        mov     x7, #SYS_CALL
        hvc     #0
        b       report

delete_service:
        mov     x0, #VM_CSPACE_SLOT
        msginfo x1, CNODE_DELETE, 2
        mov     x2, #SERVICE_SLOT
        mov     x3, #VM_CSPACE_BITS
        mov     x7, #SYS_CALL
        hvc     #0

report:
        str     x0, [x20, #RESULT]
        str     x19, [x20, #AFTER]
        mov     x9, #DONE_MAGIC
        str     x9, [x20, #DONE]
1:      wfi
        b       1b

fail:
        mrs     x10, esr_el1
        orr     x10, x10, x9, lsl #32
        movz    x20, #(DEV >> 16), lsl #16
        str     x10, [x20, #FAIL]
2:      wfi
        b       2b
