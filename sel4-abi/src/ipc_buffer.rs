//! The per-thread IPC buffer (`seL4_IPCBuffer`) and how a thread finds its own.
//!
//! # Finding the current thread's buffer
//!
//! The kernel does not hand user code its IPC buffer address in a register, but
//! it saves and restores `TPIDRRO_EL0` per thread (it is part of
//! `seL4_UserContext`, written with `TCB_WriteRegisters`). User code can read
//! that register but not write it, and a thread cannot write its own registers
//! through the kernel either. So:
//!
//! * the root thread's runtime calls [`set_ipc_buffer`] once at start-up with
//!   `BootInfo::ipc_buffer` (its `TPIDRRO_EL0` is 0);
//! * for every other thread, its creator writes the new thread's IPC buffer
//!   address into `UserContext::tpidrro_el0` (with `TCB_WriteRegisters`) before
//!   resuming it — see [`crate::UserContext`].
//!
//! [`ipc_buffer_ptr`] prefers a non-zero `TPIDRRO_EL0` and falls back to the
//! pointer stored by [`set_ipc_buffer`]. A second thread that was *not* given a
//! `TPIDRRO_EL0` would silently share the root thread's buffer, so creators
//! must always set it.

use core::sync::atomic::{AtomicPtr, Ordering};

use crate::cap::CPtr;
use crate::message::{MessageInfo, MSG_MAX_EXTRA_CAPS, MSG_MAX_LENGTH};
use crate::Word;

/// Memory layout of a thread's IPC buffer (`seL4_IPCBuffer`), 1 KiB on aarch64.
#[derive(Clone, Debug)]
#[repr(C, align(1024))]
pub struct IpcBuffer {
    /// `tag`: message info of the last message.
    pub tag: MessageInfo,
    /// `msg`: message registers; entries 0..4 are normally carried in x2..x5.
    pub msg: [Word; MSG_MAX_LENGTH],
    /// `userData`: free for user code (libsel4 keeps a pointer here).
    pub user_data: Word,
    /// `caps_or_badges`: extra caps to send / badges of unwrapped received caps.
    pub caps_or_badges: [Word; MSG_MAX_EXTRA_CAPS],
    /// `receiveCNode`: CNode where a received cap is stored.
    pub receive_cnode: CPtr,
    /// `receiveIndex`: slot index for a received cap.
    pub receive_index: CPtr,
    /// `receiveDepth`: depth for the receive slot lookup.
    pub receive_depth: Word,
}

/// `seL4_IPCBufferSizeBits`.
pub const IPC_BUFFER_SIZE_BITS: usize = 10;

const _: () = assert!(core::mem::size_of::<IpcBuffer>() == 1 << IPC_BUFFER_SIZE_BITS);

impl Default for IpcBuffer {
    fn default() -> Self {
        Self {
            tag: MessageInfo::default(),
            msg: [0; MSG_MAX_LENGTH],
            user_data: 0,
            caps_or_badges: [0; MSG_MAX_EXTRA_CAPS],
            receive_cnode: CPtr::NULL,
            receive_index: CPtr::NULL,
            receive_depth: 0,
        }
    }
}

impl IpcBuffer {
    /// `seL4_GetMR`; `None` if `i` is out of range.
    pub fn mr(&self, i: usize) -> Option<Word> {
        self.msg.get(i).copied()
    }
    /// `seL4_SetMR`; returns `false` (and writes nothing) if `i` is out of range.
    pub fn set_mr(&mut self, i: usize, v: Word) -> bool {
        match self.msg.get_mut(i) {
            Some(slot) => {
                *slot = v;
                true
            }
            None => false,
        }
    }
    /// `seL4_SetCap`: sets extra cap `i` of the next message; `false` if `i >= 3`.
    pub fn set_cap(&mut self, i: usize, cap: CPtr) -> bool {
        match self.caps_or_badges.get_mut(i) {
            Some(slot) => {
                *slot = cap.0;
                true
            }
            None => false,
        }
    }
    /// `seL4_GetBadge`: badge of unwrapped received cap `i`.
    pub fn badge(&self, i: usize) -> Option<Word> {
        self.caps_or_badges.get(i).copied()
    }
    /// The message area viewed as bytes (used for `seL4_DebugNameThread`).
    pub fn msg_bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: `[Word; N]` is plain data; any byte pattern is a valid Word
        // and the slice covers exactly the array.
        unsafe {
            core::slice::from_raw_parts_mut(
                self.msg.as_mut_ptr().cast::<u8>(),
                core::mem::size_of_val(&self.msg),
            )
        }
    }
    /// `seL4_SetCapReceivePath`.
    pub fn set_receive_path(&mut self, cnode: CPtr, index: CPtr, depth: Word) {
        self.receive_cnode = cnode;
        self.receive_index = index;
        self.receive_depth = depth;
    }
}

static FALLBACK_IPC_BUFFER: AtomicPtr<IpcBuffer> = AtomicPtr::new(core::ptr::null_mut());

/// Records the IPC buffer of the thread(s) whose `TPIDRRO_EL0` is 0 — in
/// practice the root thread (`seL4_SetIPCBuffer`).
///
/// # Safety
/// `buf` must point to the calling thread's mapped IPC buffer and stay valid
/// for as long as any thread uses the fallback.
pub unsafe fn set_ipc_buffer(buf: *mut IpcBuffer) {
    FALLBACK_IPC_BUFFER.store(buf, Ordering::Release);
}

/// Reads `TPIDRRO_EL0`, the per-thread IPC buffer address set by the creator.
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
#[inline(always)]
fn thread_register() -> usize {
    let v: usize;
    // SAFETY: reading an EL0-readable system register has no side effects.
    unsafe {
        core::arch::asm!("mrs {}, tpidrro_el0", out(reg) v, options(nomem, nostack, preserves_flags))
    };
    v
}

#[cfg(not(all(target_arch = "aarch64", target_os = "none")))]
#[inline(always)]
fn thread_register() -> usize {
    0
}

/// The calling thread's IPC buffer (`seL4_GetIPCBuffer`), or null if none is known.
pub fn ipc_buffer_ptr() -> *mut IpcBuffer {
    let r = thread_register();
    if r != 0 {
        r as *mut IpcBuffer
    } else {
        FALLBACK_IPC_BUFFER.load(Ordering::Acquire)
    }
}

/// Runs `f` with the calling thread's IPC buffer.
///
/// # Panics
/// If no IPC buffer was registered — a start-up bug of the runtime, not
/// something reachable from guest behaviour.
pub fn with_ipc_buffer<R>(f: impl FnOnce(&mut IpcBuffer) -> R) -> R {
    let p = ipc_buffer_ptr();
    assert!(
        !p.is_null(),
        "sel4-abi: IPC buffer not set (call set_ipc_buffer at start-up)"
    );
    // SAFETY: the pointer was registered as this thread's buffer (see module
    // docs); each thread only touches its own buffer and this borrow does not
    // escape `f`.
    f(unsafe { &mut *p })
}

/// Like [`with_ipc_buffer`], but returns `None` instead of panicking when no
/// IPC buffer is known for the calling thread.
pub fn try_with_ipc_buffer<R>(f: impl FnOnce(&mut IpcBuffer) -> R) -> Option<R> {
    let p = ipc_buffer_ptr();
    if p.is_null() {
        return None;
    }
    // SAFETY: as in `with_ipc_buffer`.
    Some(f(unsafe { &mut *p }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::offset_of;

    #[test]
    fn layout_matches_sel4_ipc_buffer() {
        // Offsets of seL4_IPCBuffer on a 64-bit kernel: tag, msg[120],
        // userData, caps_or_badges[3], receiveCNode, receiveIndex, receiveDepth.
        assert_eq!(offset_of!(IpcBuffer, tag), 0);
        assert_eq!(offset_of!(IpcBuffer, msg), 8);
        assert_eq!(offset_of!(IpcBuffer, user_data), 8 + 120 * 8);
        assert_eq!(offset_of!(IpcBuffer, caps_or_badges), 976);
        assert_eq!(offset_of!(IpcBuffer, receive_cnode), 1000);
        assert_eq!(offset_of!(IpcBuffer, receive_index), 1008);
        assert_eq!(offset_of!(IpcBuffer, receive_depth), 1016);
        assert_eq!(core::mem::size_of::<IpcBuffer>(), 1024);
        assert_eq!(core::mem::align_of::<IpcBuffer>(), 1024);
    }

    #[test]
    fn mr_and_cap_bounds() {
        let mut b = IpcBuffer::default();
        assert!(b.set_mr(119, 5));
        assert!(!b.set_mr(120, 5));
        assert_eq!(b.mr(119), Some(5));
        assert_eq!(b.mr(120), None);
        assert!(b.set_cap(2, CPtr(9)));
        assert!(!b.set_cap(3, CPtr(9)));
        assert_eq!(b.badge(2), Some(9));
    }

    #[test]
    fn fallback_pointer_is_used_on_host() {
        let mut b = std::boxed::Box::new(IpcBuffer::default());
        unsafe { set_ipc_buffer(&mut *b) };
        with_ipc_buffer(|ipc| ipc.set_mr(3, 77));
        assert_eq!(b.msg[3], 77);
        unsafe { set_ipc_buffer(core::ptr::null_mut()) };
        assert_eq!(try_with_ipc_buffer(|_| ()), None);
    }
}
