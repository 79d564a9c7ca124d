//! The application's `vka_t`, `vspace_t` and `simple_t` as the seL4
//! backend's [`ObjectSource`]: what `vm_init` uses when it is given a
//! non-NULL `vka`.
//!
//! Every call goes through the C function pointers; the exact list (and
//! when each is made) is in docs/migrating-from-libsel4vm.md. The only
//! kernel invocation the adapter itself needs, deleting an object's cap
//! before its memory goes back to the vka (as libsel4vka's
//! `vka_free_object` does), is a function passed in, so this module builds
//! and is tested on the host.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::ffi::c_void;
use core::ptr;

use core_vm::BackendError;
use sel4_rt::objects::{ObjectKind, Slot};
use sel4vm_sel4::source::{vka_size_bits, CapPath, HostCaps, ObjectSource, SourceObject};

use crate::types::{
    cspacepath_t, reservation_t, seL4_CapRights_t, seL4_Word, simple_prefix_t, vka_t, vspace_t,
    VKA_NO_PADDR,
};

/// `seL4_CNode_Delete` on a path (the kernel on seL4, a recorder in tests).
pub type DeleteCap = fn(&CapPath) -> Result<(), BackendError>;

/// `seL4_CapInitThreadTCB`, `seL4_CapInitThreadCNode`,
/// `seL4_CapInitThreadASIDPool`: the `init_cap` queries made through `simple_t`.
const INIT_TCB: seL4_Word = 1;
const INIT_CNODE: seL4_Word = 2;
const INIT_ASID_POOL: seL4_Word = 6;

/// An [`ObjectSource`] over C `vka_t` / `vspace_t` / `simple_t` structs.
///
/// Corresponds to libsel4vm keeping `vm->vka`, `vm->simple` and
/// `vm->mem.vmm_vspace` and allocating through them.
pub struct VkaSource {
    vka: *mut vka_t,
    /// Our copy of the `vspace_t` (`vm_init` takes it by value); its
    /// address is the first argument of the vspace operations.
    vspace: Box<vspace_t>,
    simple: *mut simple_prefix_t,
    /// VMM windows: `(base, size, reservation)`.
    windows: Vec<(u64, u64, reservation_t)>,
    delete: DeleteCap,
    bound: Option<SourceObject>,
}

impl VkaSource {
    /// Checks that `vka` and `vspace` provide every operation the adapter
    /// needs and wraps them. `simple` may be NULL.
    ///
    /// # Safety
    /// `vka` (and `simple` if non-NULL) point to valid structs that outlive
    /// the source, and their operations behave as libsel4vka/libsel4simple
    /// document; `vspace`'s operations likewise.
    pub unsafe fn new(
        vka: *mut vka_t,
        vspace: vspace_t,
        simple: *mut simple_prefix_t,
        delete: DeleteCap,
    ) -> Result<Self, &'static str> {
        if vka.is_null() {
            return Err("vka is NULL");
        }
        // SAFETY: non-null, valid per the contract.
        let v = unsafe { &*vka };
        if v.cspace_alloc.is_none() || v.cspace_make_path.is_none() || v.cspace_free.is_none() {
            return Err("vka_t lacks cspace_alloc, cspace_make_path or cspace_free");
        }
        if v.utspace_alloc.is_none() && v.utspace_alloc_maybe_device.is_none() {
            return Err("vka_t lacks utspace_alloc and utspace_alloc_maybe_device");
        }
        if v.utspace_free.is_none() {
            return Err("vka_t lacks utspace_free");
        }
        if vspace.reserve_range_aligned.is_none()
            || vspace.map_pages_at_vaddr.is_none()
            || vspace.unmap_pages.is_none()
        {
            return Err(
                "host vspace_t lacks reserve_range_aligned, map_pages_at_vaddr or unmap_pages",
            );
        }
        Ok(Self {
            vka,
            vspace: Box::new(vspace),
            simple,
            windows: Vec::new(),
            delete,
            bound: None,
        })
    }

    fn vka(&self) -> &vka_t {
        // SAFETY: checked non-null in `new`; valid per its contract.
        unsafe { &*self.vka }
    }

    fn make_path(&self, slot: Slot) -> cspacepath_t {
        let v = self.vka();
        let mut path = cspacepath_t::default();
        if let Some(f) = v.cspace_make_path {
            // SAFETY: an operation of a valid vka_t, given its own cookie.
            unsafe { f(v.data, slot, &mut path) };
        }
        path
    }

    fn free_slot_raw(&self, slot: Slot) {
        let v = self.vka();
        if let Some(f) = v.cspace_free {
            // SAFETY: as above; the slot came from its cspace_alloc.
            unsafe { f(v.data, slot) };
        }
    }

    fn vspace_ptr(&mut self) -> *mut vspace_t {
        &mut *self.vspace
    }

    /// The reservation of the window containing `[vaddr, vaddr + size)`.
    fn window_of(&self, vaddr: u64, size: u64) -> Option<reservation_t> {
        self.windows
            .iter()
            .find(|(b, s, _)| vaddr >= *b && vaddr.saturating_add(size) <= b + s)
            .map(|w| w.2)
    }

    fn simple(&self) -> Option<&simple_prefix_t> {
        // SAFETY: NULL or valid per the contract of `new`.
        unsafe { self.simple.as_ref() }
    }
}

impl ObjectSource for VkaSource {
    /// `cspace_alloc`, `cspace_make_path`, then `utspace_alloc_maybe_device`
    /// (can_use_dev false; `utspace_alloc` if that is NULL) or
    /// `utspace_alloc_at`; frames anywhere also `utspace_paddr`. A failed
    /// retype gives the slot back with `cspace_free`.
    fn alloc(
        &mut self,
        kind: ObjectKind,
        paddr: Option<u64>,
    ) -> Result<SourceObject, BackendError> {
        let v = *self.vka();
        let ty = kind.type_id();
        let bits = vka_size_bits(kind);
        let mut slot: seL4_Word = 0;
        let alloc = v.cspace_alloc.ok_or(BackendError::OutOfMemory)?;
        // SAFETY: operations of a valid vka_t with its own cookie and
        // pointers to live locals.
        if unsafe { alloc(v.data, &mut slot) } != 0 {
            return Err(BackendError::OutOfMemory);
        }
        let path = self.make_path(slot);
        let mut cookie: seL4_Word = 0;
        // SAFETY: as above.
        let rc = unsafe {
            match (paddr, v.utspace_alloc_maybe_device, v.utspace_alloc) {
                (Some(pa), ..) => match v.utspace_alloc_at {
                    Some(f) => f(v.data, &path, ty, bits, pa as usize, &mut cookie),
                    None => -1,
                },
                (None, Some(f), _) => f(v.data, &path, ty, bits, false, &mut cookie),
                (None, None, Some(f)) => f(v.data, &path, ty, bits, &mut cookie),
                (None, None, None) => -1,
            }
        };
        if rc != 0 {
            self.free_slot_raw(slot);
            return Err(paddr.map_or(BackendError::OutOfMemory, BackendError::PhysUnavailable));
        }
        let known = match (paddr, v.utspace_paddr) {
            (Some(pa), _) => Some(pa),
            (None, Some(f)) if kind.is_frame() => {
                // SAFETY: as above; the cookie is the one just returned.
                let pa = unsafe { f(v.data, cookie, ty, bits) };
                (pa != VKA_NO_PADDR).then_some(pa as u64)
            }
            _ => None,
        };
        Ok(SourceObject {
            cap: slot,
            kind,
            paddr: known,
            // Possibly device memory: have the backend zero it.
            device: paddr.is_some(),
            cookie,
        })
    }

    /// `cspace_make_path`, `seL4_CNode_Delete`, `cspace_free`, `utspace_free`
    /// (libsel4vka's `vka_free_object` order).
    fn free(&mut self, obj: &SourceObject) -> Result<(), BackendError> {
        let path = self.make_path(obj.cap);
        (self.delete)(&CapPath {
            root: path.root,
            index: path.capPtr,
            depth: path.capDepth as u8,
        })?;
        self.free_slot_raw(obj.cap);
        let v = self.vka();
        if let Some(f) = v.utspace_free {
            // SAFETY: as in `alloc`; the cookie came from its utspace_alloc*.
            unsafe {
                f(
                    v.data,
                    obj.kind.type_id(),
                    vka_size_bits(obj.kind),
                    obj.cookie,
                )
            };
        }
        Ok(())
    }

    fn alloc_slot(&mut self) -> Result<Slot, BackendError> {
        let v = self.vka();
        let f = v.cspace_alloc.ok_or(BackendError::OutOfMemory)?;
        let mut slot: seL4_Word = 0;
        // SAFETY: as in `alloc`.
        match unsafe { f(v.data, &mut slot) } {
            0 => Ok(slot),
            _ => Err(BackendError::OutOfMemory),
        }
    }

    fn free_slot(&mut self, slot: Slot) {
        self.free_slot_raw(slot);
    }

    fn path(&self, slot: Slot) -> CapPath {
        let p = self.make_path(slot);
        CapPath {
            root: p.root,
            index: p.capPtr,
            depth: p.capDepth as u8,
        }
    }

    /// `simple_t.init_cap` for the TCB, CNode and ASID pool when a
    /// `simple_t` with `init_cap` was given; the root task's slots otherwise.
    fn host_caps(&self) -> HostCaps {
        let Some((s, f)) = self.simple().and_then(|s| s.init_cap.map(|f| (s, f))) else {
            return HostCaps::ROOT_TASK;
        };
        // SAFETY: an operation of a valid simple_t with its cookie.
        let q = |c| unsafe { f(s.data, c) };
        HostCaps {
            tcb: q(INIT_TCB),
            cnode: q(INIT_CNODE),
            asid_pool: q(INIT_ASID_POOL),
        }
    }

    /// `simple_t.ASID_assign`, when given.
    fn assign_asid(&mut self, vspace: Slot) -> Option<Result<(), BackendError>> {
        let s = self.simple()?;
        let f = s.asid_assign?;
        // SAFETY: as in `host_caps`.
        let rc = unsafe { f(s.data, vspace) };
        Some(match rc {
            0 => Ok(()),
            e => Err(BackendError::Kernel(e as u32)),
        })
    }

    /// `reserve_range_aligned(bytes = size, size_bits = align_bits,
    /// seL4_ReadWrite, cacheable = 1)`.
    fn reserve_vmm(&mut self, size: u64, align_bits: u8) -> Result<u64, BackendError> {
        let f = self
            .vspace
            .reserve_range_aligned
            .ok_or(BackendError::Unsupported)?;
        let mut vaddr: *mut c_void = ptr::null_mut();
        let rw = seL4_CapRights_t { words: [0x3] };
        let vs = self.vspace_ptr();
        // SAFETY: an operation of the application's vspace_t on our copy.
        let res = unsafe {
            f(
                vs,
                size as usize,
                usize::from(align_bits),
                rw,
                1,
                &mut vaddr,
            )
        };
        if res.res.is_null() || vaddr.is_null() {
            return Err(BackendError::OutOfMemory);
        }
        let base = vaddr as u64;
        self.windows.push((base, size, res));
        Ok(base)
    }

    /// `map_pages_at_vaddr(caps = {frame}, cookies = NULL, vaddr, 1,
    /// size_bits, the window's reservation)`.
    fn map_vmm(&mut self, frame: Slot, vaddr: u64, size_bits: u8) -> Result<(), BackendError> {
        let res = self
            .window_of(vaddr, 1 << size_bits)
            .ok_or(BackendError::InvalidAddress(vaddr))?;
        let f = self
            .vspace
            .map_pages_at_vaddr
            .ok_or(BackendError::Unsupported)?;
        let mut caps = [frame];
        let vs = self.vspace_ptr();
        // SAFETY: as in `reserve_vmm`; `caps` outlives the call.
        let rc = unsafe {
            f(
                vs,
                caps.as_mut_ptr(),
                ptr::null_mut(),
                vaddr as *mut c_void,
                1,
                usize::from(size_bits),
                res,
            )
        };
        match rc {
            0 => Ok(()),
            _ => Err(BackendError::InvalidAddress(vaddr)),
        }
    }

    /// `unmap_pages(vaddr, 1, size_bits, VSPACE_PRESERVE)`: the backend
    /// deletes the cap and gives the slot back itself.
    fn unmap_vmm(&mut self, _frame: Slot, vaddr: u64, size_bits: u8) {
        if let Some(f) = self.vspace.unmap_pages {
            let vs = self.vspace_ptr();
            // SAFETY: as in `reserve_vmm`.
            unsafe {
                f(
                    vs,
                    vaddr as *mut c_void,
                    1,
                    usize::from(size_bits),
                    ptr::null_mut(),
                )
            };
        }
    }

    fn bound_notification(&self) -> Option<SourceObject> {
        self.bound
    }

    fn set_bound_notification(&mut self, n: SourceObject) {
        self.bound = Some(n);
    }
}

impl Drop for VkaSource {
    /// Gives the VMM windows back with `free_reservation` (if provided).
    fn drop(&mut self) {
        let windows = core::mem::take(&mut self.windows);
        if let Some(f) = self.vspace.free_reservation {
            let vs = self.vspace_ptr();
            for (_, _, r) in windows {
                // SAFETY: as in `reserve_vmm`; each reservation freed once.
                unsafe { f(vs, r) };
            }
        }
    }
}

#[cfg(test)]
mod tests;
