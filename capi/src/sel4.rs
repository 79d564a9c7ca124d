//! aarch64 seL4 build: `vm_t` runs on `sel4vm-sel4`'s `Sel4Backend`, with
//! kernel objects from the root task's `sel4-rt` allocator, or from the
//! application's `vka_t` / `vspace_t` when `vm_init` is given a `vka`.
//!
//! With the `root-task` feature the library also provides the root task's
//! entry: `sel4-rt` starts, the allocator is built from BootInfo, and the C
//! function `int sel4vm_root_main(void)` is called.

use alloc::rc::Rc;
use core::cell::RefCell;
use core::fmt::Write;

use core_vm::{BackendError, FrameHandle};
use sel4vm_sel4::{CapPath, ObjectSource, Resources, Sel4Backend, Sel4Config};

use crate::state::CVm;
use crate::types::{seL4_CPtr, simple_prefix_t, vka_t, vspace_t};
use crate::vka::VkaSource;

/// The root task is single-threaded; this only lets the cell be a static.
struct ResCell(RefCell<Option<Rc<RefCell<Resources>>>>);
// SAFETY: only the single root thread ever touches it.
unsafe impl Sync for ResCell {}

static RESOURCES: ResCell = ResCell(RefCell::new(None));

/// The adapter over the last `vka_t` given to `vm_init`, reused by later
/// VMs with the same `vka` (they must share the one notification bound to
/// the VMM thread).
struct VkaCell(RefCell<Option<(usize, Rc<RefCell<VkaSource>>)>>);
// SAFETY: as for `ResCell`.
unsafe impl Sync for VkaCell {}

static VKA_SOURCE: VkaCell = VkaCell(RefCell::new(None));

/// `seL4_CNode_Delete`, for the adapter's frees.
fn delete_cap(p: &CapPath) -> Result<(), BackendError> {
    sel4_abi::cap::CNode::from_bits(p.root)
        .cnode_delete(p.index, p.depth)
        .map_err(sel4vm_sel4::decode::kernel_error)
}

/// Sets the allocator `vm_init` takes kernel objects from (done by the
/// `root-task` entry; Rust root tasks using the C API call it themselves).
pub fn set_resources(res: Rc<RefCell<Resources>>) {
    *RESOURCES.0.borrow_mut() = Some(res);
}

pub(crate) fn new_backend(
    vka: *mut vka_t,
    simple: *mut simple_prefix_t,
    vspace: vspace_t,
) -> Result<Sel4Backend, BackendError> {
    if !vka.is_null() {
        let cached = VKA_SOURCE
            .0
            .borrow()
            .as_ref()
            .filter(|(k, _)| *k == vka as usize)
            .map(|(_, s)| s.clone());
        let src = match cached {
            Some(s) => s,
            None => {
                // SAFETY: vm_init's contract: valid structs that outlive the VM.
                let s =
                    unsafe { VkaSource::new(vka, vspace, simple, delete_cap) }.map_err(|why| {
                        log::error!(target: "sel4vm", "vm_init: {why}");
                        BackendError::Unsupported
                    })?;
                let s = Rc::new(RefCell::new(s));
                *VKA_SOURCE.0.borrow_mut() = Some((vka as usize, s.clone()));
                s
            }
        };
        let src: Rc<RefCell<dyn ObjectSource>> = src;
        return Sel4Backend::with_source(src, Sel4Config::default());
    }
    let res = resources().ok_or_else(|| {
        log::error!(target: "sel4vm", "vm_init: no allocator: call sel4vm_capi::set_resources (or build with the root-task feature)");
        BackendError::Unsupported
    })?;
    Sel4Backend::new(res, Sel4Config::default())
}

/// A caller-provided frame cap: the backend maps copies of it (one for the
/// guest, one for the VMM) and the returned handle owns only those copies,
/// so the core frees the handle with the mapping (`true`) while the
/// caller's cap and memory stay the caller's.
pub(crate) fn backend_frame(
    b: &mut Sel4Backend,
    cptr: seL4_CPtr,
) -> core_vm::Result<(FrameHandle, bool)> {
    b.adopt_frame(cptr)
        .map(|h| (h, true))
        .map_err(core_vm::Error::Backend)
}

pub(crate) fn endpoint_of(vm: &CVm) -> Option<seL4_CPtr> {
    Some(vm.backend().endpoint().0)
}

pub(crate) fn puts(s: &str) {
    let _ = writeln!(sel4_rt::console::DebugConsole, "{s}");
}

pub(crate) fn init_logging() {
    // sel4-rt installs its console logger at start-up.
}

/// The allocator for `vm_init` without a `vka`: the one set with
/// [`set_resources`], else (root-task feature) one built from BootInfo on
/// first use, unless the application took the BootInfo itself.
fn resources() -> Option<Rc<RefCell<Resources>>> {
    if let Some(r) = RESOURCES.0.borrow().clone() {
        return Some(r);
    }
    #[cfg(feature = "root-task")]
    {
        let r = entry::bootinfo_resources()?;
        set_resources(r.clone());
        Some(r)
    }
    #[cfg(not(feature = "root-task"))]
    None
}

/// The C root-task runtime: `sel4vm_root_main`, and the three symbols of
/// libsel4's `sel4_bootinfo.c` (`__sel4_ipc_buffer`, `seL4_InitBootInfo`,
/// `seL4_GetBootInfo`), so that C code can call libsel4 and build its own
/// allocator from BootInfo (do not link libsel4's `sel4_bootinfo.c` too).
#[cfg(feature = "root-task")]
mod entry {
    use alloc::rc::Rc;
    use core::cell::{Cell, RefCell};
    use core::ffi::c_void;

    use sel4_rt::objects::ObjectAllocator;
    use sel4_rt::vspace::VSpaceMapper;
    use sel4_rt::BootInfo;
    use sel4vm_sel4::Resources;

    extern "C" {
        /// The C root task's main, defined by the application.
        fn sel4vm_root_main() -> core::ffi::c_int;
    }

    // libsel4's per-thread IPC buffer pointer (`LIBSEL4_THREAD_LOCAL`,
    // i.e. `__thread` with CONFIG_LIB_SEL4_USE_THREAD_LOCALS); sel4-rt
    // gives the root thread its TLS block.
    core::arch::global_asm!(
        ".section .tbss.__sel4_ipc_buffer, \"awT\", %nobits",
        ".globl __sel4_ipc_buffer",
        ".type __sel4_ipc_buffer, %object",
        ".size __sel4_ipc_buffer, 8",
        ".p2align 3",
        "__sel4_ipc_buffer:",
        "    .zero 8",
        ".text",
    );

    /// `seL4_SetIPCBuffer` for C code: stores into this thread's
    /// `__sel4_ipc_buffer` (local-exec TLS).
    fn set_c_ipc_buffer(buf: *mut u8) {
        // SAFETY: TPIDR_EL0 points at the TLS block sel4-rt set up, which
        // holds `__sel4_ipc_buffer` at its link-time offset.
        unsafe {
            core::arch::asm!(
                "mrs {tp}, tpidr_el0",
                "add {tp}, {tp}, #:tprel_hi12:__sel4_ipc_buffer",
                "add {tp}, {tp}, #:tprel_lo12_nc:__sel4_ipc_buffer",
                "str {buf}, [{tp}]",
                tp = out(reg) _,
                buf = in(reg) buf,
                options(nostack, preserves_flags),
            );
        }
    }

    /// What the runtime knows about BootInfo (single root thread only).
    struct Boot {
        bi: Cell<Option<&'static BootInfo>>,
        /// libsel4's `bootinfo` (what `seL4_InitBootInfo` set).
        c_bi: Cell<*mut c_void>,
        /// The application called `sel4vm_bootinfo`: its untypeds and
        /// empty slots are the application's.
        taken: Cell<bool>,
        /// `vm_init` without a vka built the allocator from BootInfo.
        used: Cell<bool>,
    }
    // SAFETY: only the single root thread ever touches it.
    unsafe impl Sync for Boot {}
    static BOOT: Boot = Boot {
        bi: Cell::new(None),
        c_bi: Cell::new(core::ptr::null_mut()),
        taken: Cell::new(false),
        used: Cell::new(false),
    };

    /// libsel4 `seL4_InitBootInfo`.
    #[no_mangle]
    pub extern "C" fn seL4_InitBootInfo(bi: *mut c_void) {
        BOOT.c_bi.set(bi);
    }

    /// libsel4 `seL4_GetBootInfo` (deprecated there; [`sel4vm_bootinfo`]
    /// is the same without the warning).
    #[no_mangle]
    pub extern "C" fn seL4_GetBootInfo() -> *mut c_void {
        sel4vm_bootinfo()
    }

    /// `sel4vm_bootinfo` (sel4vm_ext.h): BootInfo for the application's own
    /// allocator. From then on its untypeds and empty slots belong to the
    /// application, which passes its `vka_t` to `vm_init`.
    #[no_mangle]
    pub extern "C" fn sel4vm_bootinfo() -> *mut c_void {
        if BOOT.used.get() {
            log::error!(target: "sel4vm", "sel4vm_bootinfo: vm_init without a vka already allocates from BootInfo's untypeds and empty slots; an allocator built on them would collide");
        }
        BOOT.taken.set(true);
        BOOT.c_bi.get()
    }

    /// The allocator over BootInfo for `vm_init(vka = NULL)`; refused once
    /// the application took BootInfo.
    pub(super) fn bootinfo_resources() -> Option<Rc<RefCell<Resources>>> {
        let bi = BOOT.bi.get()?;
        if BOOT.taken.get() {
            log::error!(target: "sel4vm", "vm_init: the application took BootInfo (sel4vm_bootinfo), so its untypeds are not the library's: pass the application's vka_t to vm_init");
            return None;
        }
        BOOT.used.set(true);
        Some(Resources::new(ObjectAllocator::from_bootinfo(bi), VSpaceMapper::default()).shared())
    }

    sel4_rt::declare_main!(main);

    fn main(bi: &'static BootInfo) -> Result<(), core::ffi::c_int> {
        BOOT.bi.set(Some(bi));
        seL4_InitBootInfo(bi.as_ptr().cast_mut().cast());
        set_c_ipc_buffer(bi.ipc_buffer().cast());
        // SAFETY: the application defines it with this prototype.
        match unsafe { sel4vm_root_main() } {
            0 => Ok(()),
            e => Err(e),
        }
    }
}
