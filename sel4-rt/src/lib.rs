//! Root-task runtime for seL4 on aarch64.
//!
//! What a root task needs before it can do real work, and nothing the VMM
//! core needs to know about:
//!
//! * [`declare_main!`]: the entry point. The runtime starts on a static stack,
//!   zeroes `.bss`, installs the IPC buffer from BootInfo, gives the root
//!   thread a TLS block from the image's PT_TLS template (for C `__thread`
//!   variables such as libsel4's `__sel4_ipc_buffer`), sets up the heap and
//!   the logger, then calls `fn main(&BootInfo) -> T`; a returned
//!   `Err`/unit is reported on the debug console and the thread stops
//!   (`declare_main!(main -> !)` for a `main` that never returns).
//! * A global heap (`linked_list_allocator`) over a static array of
//!   [`HEAP_SIZE`] bytes (build-time `SEL4_RT_HEAP_SIZE` overrides it).
//! * A panic handler and a [`log`] backend that print on `seL4_DebugPutChar`.
//! * [`objects::ObjectAllocator`]: kernel objects and CNode slots from the
//!   BootInfo untypeds; [`vspace::VSpaceMapper`]: frames into the root
//!   task's own address space.
//!
//! Everything except the entry code, the heap and the kernel-backed
//! implementations of the operation traits builds and is tested on the host.
#![cfg_attr(not(test), no_std)]
#![warn(missing_docs)]

extern crate alloc;

pub mod console;
pub mod objects;
pub mod vspace;

#[cfg(all(target_arch = "aarch64", target_os = "none"))]
mod kernel;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
pub mod rt;

#[cfg(all(target_arch = "aarch64", target_os = "none"))]
pub use kernel::{tcb_suspend, RootKernel};

/// What `main` receives: the validated BootInfo the kernel passed in x0.
pub type BootInfo = sel4_abi::BootInfoView<'static>;

/// Bytes of the static heap (2 MiB unless `SEL4_RT_HEAP_SIZE` was set at build time).
///
/// Kept small on purpose: the kernel creates one cap in the root CNode for
/// every 4 KiB page of the root task image (bss included), and that CNode has
/// only 4096 slots.
pub const HEAP_SIZE: usize = match option_env!("SEL4_RT_HEAP_SIZE") {
    Some(s) => parse_usize(s),
    None => 2 << 20,
};

/// Bytes of the initial thread's stack.
pub const STACK_SIZE: usize = 64 << 10;

const fn parse_usize(s: &str) -> usize {
    let b = s.as_bytes();
    let mut i = 0;
    let mut v: usize = 0;
    while i < b.len() {
        assert!(
            b[i].is_ascii_digit(),
            "SEL4_RT_HEAP_SIZE must be a decimal byte count"
        );
        v = v * 10 + (b[i] - b'0') as usize;
        i += 1;
    }
    v
}

/// What `main` may return; the runtime reports it and stops the thread.
pub trait MainResult {
    /// `Ok(())` for success, otherwise a message to print.
    fn report(self, out: &mut dyn core::fmt::Write) -> bool;
}

impl MainResult for () {
    fn report(self, _out: &mut dyn core::fmt::Write) -> bool {
        true
    }
}

impl<E: core::fmt::Debug> MainResult for Result<(), E> {
    fn report(self, out: &mut dyn core::fmt::Write) -> bool {
        match self {
            Ok(()) => true,
            Err(e) => {
                let _ = writeln!(out, "main returned an error: {e:?}");
                false
            }
        }
    }
}

/// Declares the root task's `main`.
///
/// * `declare_main!(main)` for `fn main(bootinfo: &'static BootInfo) -> T`
///   with `T` = `()` or `Result<(), E: Debug>`: the result is printed and the
///   root thread is suspended when `main` returns.
/// * `declare_main!(main -> !)` for a `main` that never returns.
///
/// ```no_run
/// # #[derive(Debug)]
/// # struct MyError;
/// sel4_rt::declare_main!(root_main);
/// fn root_main(bi: &'static sel4_rt::BootInfo) -> Result<(), MyError> {
///     # let _ = bi;
///     Ok(())
/// }
/// # fn main() {}
/// ```
#[macro_export]
macro_rules! declare_main {
    ($main:ident) => {
        #[no_mangle]
        fn __sel4_rt_main(bootinfo: &'static $crate::BootInfo) -> bool {
            let r = $main(bootinfo);
            $crate::MainResult::report(r, &mut $crate::console::DebugConsole)
        }
    };
    ($main:ident -> !) => {
        #[no_mangle]
        fn __sel4_rt_main(bootinfo: &'static $crate::BootInfo) -> bool {
            $main(bootinfo)
        }
    };
}
