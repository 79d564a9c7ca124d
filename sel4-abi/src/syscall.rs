//! Raw seL4 system calls for aarch64 (non-MCS kernel).
//!
//! Register convention (from libsel4's aarch64 `syscalls.h`): syscall number in
//! x7, destination/source cap (in) and badge (out) in x0, `MessageInfo` in x1,
//! message registers 0..3 in x2..x5, trap with `svc #0`. Message registers 4
//! and up live in the IPC buffer. The kernel may rewrite x0..x5 on return and
//! may read or write the IPC buffer, so every call is treated as clobbering
//! memory.
//!
//! Two flavours are offered: `*_with_mrs` take/return MR0..3 explicitly (no
//! IPC buffer access for short messages), the plain ones behave like libsel4
//! and move MR0..3 between registers and the IPC buffer's `msg` array.

use crate::cap::{Badge, CPtr};
use crate::ipc_buffer::with_ipc_buffer;
use crate::labels::syscall as nr;
use crate::message::{MessageInfo, FAST_MESSAGE_REGISTERS};
use crate::Word;

/// The four message registers carried in x2..x5.
pub type FastMrs = [Word; FAST_MESSAGE_REGISTERS];

/// System calls made by this program so far (all threads).
static TRAPS: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

/// The number of system calls made so far (a running count, for exit
/// statistics).
pub fn count() -> u64 {
    TRAPS.load(core::sync::atomic::Ordering::Relaxed)
}

/// The one trap primitive: all of x0..x5 in and out, x7 in.
#[inline(always)]
fn trap(sys: i64, x0: Word, x1: Word, mrs: &mut FastMrs) -> (Word, Word) {
    TRAPS.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
    let (mut a0, mut a1) = (x0, x1);
    // SAFETY: `svc #0` enters the seL4 kernel, which only changes x0..x5 (all
    // declared as outputs here) and memory we have not promised to keep
    // (no `nomem`), and returns to the next instruction.
    unsafe {
        core::arch::asm!(
            "svc #0",
            inout("x0") a0,
            inout("x1") a1,
            inout("x2") mrs[0],
            inout("x3") mrs[1],
            inout("x4") mrs[2],
            inout("x5") mrs[3],
            in("x7") sys as Word,
            options(nostack),
        );
    }
    (a0, a1)
}

fn load_mrs(info: MessageInfo) -> FastMrs {
    let n = info.length().min(FAST_MESSAGE_REGISTERS);
    with_ipc_buffer(|b| {
        let mut m = [0; FAST_MESSAGE_REGISTERS];
        m[..n].copy_from_slice(&b.msg[..n]);
        m
    })
}

fn store_mrs(info: MessageInfo, mrs: &FastMrs) {
    let n = info.length().min(FAST_MESSAGE_REGISTERS);
    with_ipc_buffer(|b| b.msg[..n].copy_from_slice(&mrs[..n]));
}

/// `seL4_Call` with MR0..3 in registers; `mrs` is replaced by the reply's MR0..3.
pub fn call_with_mrs(dest: CPtr, info: MessageInfo, mrs: &mut FastMrs) -> MessageInfo {
    let (_, i) = trap(nr::Call, dest.0, info.into_word(), mrs);
    MessageInfo::from_word(i)
}

/// `seL4_Call`: MR0..3 are taken from and returned to the IPC buffer.
pub fn call(dest: CPtr, info: MessageInfo) -> MessageInfo {
    let mut mrs = load_mrs(info);
    let out = call_with_mrs(dest, info, &mut mrs);
    store_mrs(out, &mrs);
    out
}

/// `seL4_Send` with MR0..3 in registers.
pub fn send_with_mrs(dest: CPtr, info: MessageInfo, mut mrs: FastMrs) {
    trap(nr::Send, dest.0, info.into_word(), &mut mrs);
}

/// `seL4_Send`.
pub fn send(dest: CPtr, info: MessageInfo) {
    send_with_mrs(dest, info, load_mrs(info))
}

/// `seL4_NBSend` with MR0..3 in registers.
pub fn nb_send_with_mrs(dest: CPtr, info: MessageInfo, mut mrs: FastMrs) {
    trap(nr::NBSend, dest.0, info.into_word(), &mut mrs);
}

/// `seL4_NBSend`.
pub fn nb_send(dest: CPtr, info: MessageInfo) {
    nb_send_with_mrs(dest, info, load_mrs(info))
}

/// `seL4_Signal`: a `Send` with an empty message to a notification.
pub fn signal(dest: CPtr) {
    trap(
        nr::Send,
        dest.0,
        MessageInfo::new(0, 0, 0, 0).into_word(),
        &mut [0; 4],
    );
}

/// `seL4_Recv` with MR0..3 returned in registers.
pub fn recv_with_mrs(src: CPtr) -> (MessageInfo, Badge, FastMrs) {
    let mut mrs = [0; 4];
    let (b, i) = trap(nr::Recv, src.0, 0, &mut mrs);
    (MessageInfo::from_word(i), Badge(b), mrs)
}

/// `seL4_Recv`: MR0..3 are stored into the IPC buffer.
pub fn recv(src: CPtr) -> (MessageInfo, Badge) {
    let (i, b, mrs) = recv_with_mrs(src);
    store_mrs(i, &mrs);
    (i, b)
}

/// `seL4_NBRecv` with MR0..3 returned in registers.
pub fn nb_recv_with_mrs(src: CPtr) -> (MessageInfo, Badge, FastMrs) {
    let mut mrs = [0; 4];
    let (b, i) = trap(nr::NBRecv, src.0, 0, &mut mrs);
    (MessageInfo::from_word(i), Badge(b), mrs)
}

/// `seL4_NBRecv`.
pub fn nb_recv(src: CPtr) -> (MessageInfo, Badge) {
    let (i, b, mrs) = nb_recv_with_mrs(src);
    store_mrs(i, &mrs);
    (i, b)
}

/// `seL4_Wait` on a notification: blocks and returns the accumulated badge.
pub fn wait(src: CPtr) -> Badge {
    recv_with_mrs(src).1
}

/// `seL4_Poll` on a notification: returns the badge (0 if nothing was pending).
pub fn poll(src: CPtr) -> Badge {
    nb_recv_with_mrs(src).1
}

/// `seL4_Reply` with MR0..3 in registers.
pub fn reply_with_mrs(info: MessageInfo, mut mrs: FastMrs) {
    trap(nr::Reply, 0, info.into_word(), &mut mrs);
}

/// `seL4_Reply`.
pub fn reply(info: MessageInfo) {
    reply_with_mrs(info, load_mrs(info))
}

/// `seL4_ReplyRecv` with MR0..3 in registers; `mrs` receives the next message's MR0..3.
pub fn reply_recv_with_mrs(
    src: CPtr,
    info: MessageInfo,
    mrs: &mut FastMrs,
) -> (MessageInfo, Badge) {
    let (b, i) = trap(nr::ReplyRecv, src.0, info.into_word(), mrs);
    (MessageInfo::from_word(i), Badge(b))
}

/// `seL4_ReplyRecv`.
pub fn reply_recv(src: CPtr, info: MessageInfo) -> (MessageInfo, Badge) {
    let mut mrs = load_mrs(info);
    let (i, b) = reply_recv_with_mrs(src, info, &mut mrs);
    store_mrs(i, &mrs);
    (i, b)
}

/// `seL4_Yield`.
pub fn yield_now() {
    trap(nr::Yield, 0, 0, &mut [0; 4]);
}

/// `seL4_DebugPutChar`.
pub fn debug_put_char(c: u8) {
    trap(nr::DebugPutChar, c as Word, 0, &mut [0; 4]);
}

/// `seL4_DebugPutString` (byte by byte through the kernel console).
pub fn debug_put_str(s: &str) {
    for b in s.bytes() {
        debug_put_char(b);
    }
}

/// `seL4_DebugDumpScheduler`.
pub fn debug_dump_scheduler() {
    trap(nr::DebugDumpScheduler, 0, 0, &mut [0; 4]);
}

/// `seL4_DebugHalt`.
pub fn debug_halt() {
    trap(nr::DebugHalt, 0, 0, &mut [0; 4]);
}

/// `seL4_DebugSnapshot`.
pub fn debug_snapshot() {
    trap(nr::DebugSnapshot, 0, 0, &mut [0; 4]);
}

/// `seL4_DebugCapIdentify`: the kernel's internal cap tag of a slot (0 = null cap).
pub fn debug_cap_identify(cap: CPtr) -> u32 {
    let (x0, _) = trap(nr::DebugCapIdentify, cap.0, 0, &mut [0; 4]);
    x0 as u32
}

/// `seL4_DebugNameThread`: the name is passed NUL-terminated in the IPC
/// buffer's message area and truncated to fit.
pub fn debug_name_thread(tcb: CPtr, name: &str) {
    with_ipc_buffer(|b| {
        let bytes = b.msg_bytes_mut();
        let n = name.len().min(bytes.len() - 1);
        bytes[..n].copy_from_slice(&name.as_bytes()[..n]);
        bytes[n] = 0;
    });
    trap(nr::DebugNameThread, tcb.0, 0, &mut [0; 4]);
}
