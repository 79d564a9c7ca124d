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
    let res = RESOURCES.0.borrow().clone().ok_or_else(|| {
        log::error!(target: "sel4vm", "vm_init: no allocator: call sel4vm_capi::set_resources (or build with the root-task feature)");
        BackendError::Unsupported
    })?;
    Sel4Backend::new(res, Sel4Config::default())
}

/// External frame caps cannot be adopted by `Sel4Backend` (it owns the
/// frames it maps and keeps a VMM mapping of each).
pub(crate) fn backend_frame(_b: &mut Sel4Backend, cptr: seL4_CPtr) -> core_vm::Result<FrameHandle> {
    log::error!(target: "sel4vm", "frame cap {cptr:#x}: mapping caller-provided frame caps is not supported on seL4 yet");
    Err(core_vm::Error::Backend(BackendError::Unsupported))
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

#[cfg(feature = "root-task")]
mod entry {
    use sel4_rt::objects::ObjectAllocator;
    use sel4_rt::vspace::VSpaceMapper;
    use sel4_rt::BootInfo;
    use sel4vm_sel4::Resources;

    extern "C" {
        /// The C root task's main, defined by the application.
        fn sel4vm_root_main() -> core::ffi::c_int;
    }

    sel4_rt::declare_main!(main);

    fn main(bi: &'static BootInfo) -> Result<(), core::ffi::c_int> {
        let res =
            Resources::new(ObjectAllocator::from_bootinfo(bi), VSpaceMapper::default()).shared();
        super::set_resources(res);
        // SAFETY: the application defines it with this prototype.
        match unsafe { sel4vm_root_main() } {
            0 => Ok(()),
            e => Err(e),
        }
    }
}
