//! The one way the VMM reaches guest memory.
//!
//! [`GuestMemory`] maps guest-physical ranges onto VMM-visible bytes frame
//! by frame (modelled on rust-vmm's `GuestMemory` + `Bytes`). Whether a page is
//! permanently mapped into the VMM or mapped just for the call is the
//! backend's business ([`Backend::access_frame`]). Ranges not wholly inside
//! registered RAM are rejected before any byte is touched.

use crate::backend::{Backend, PAGE_BITS, PAGE_SIZE};
use crate::cache::Touch;
use crate::error::{BackendError, Error, Result};
use crate::ram::GuestRam;

/// One piece of a [`GuestMemory::touch`] walk (at most a 4 KiB page) or of a
/// [`GuestMemory::touch_spans`] walk (a frame or a run of frames).
///
/// Corresponds to the arguments of `ram_touch_callback_fn`.
#[derive(Debug)]
pub struct TouchAccess<'a> {
    /// Guest-physical address of `bytes[0]`.
    pub guest_addr: u64,
    /// Offset of `bytes[0]` from the start of the touched range.
    pub offset: u64,
    /// The guest bytes, as seen by the VMM.
    pub bytes: &'a mut [u8],
}

/// Failure of a touch walk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TouchError<E> {
    /// The range was invalid or the backend failed; see [`Error`].
    Vm(Error),
    /// The callback failed for the piece at `guest_addr`; earlier pieces were processed.
    Callback {
        /// Guest address of the failing piece.
        guest_addr: u64,
        /// The callback's error.
        error: E,
    },
}

impl<E> From<Error> for TouchError<E> {
    fn from(e: Error) -> Self {
        TouchError::Vm(e)
    }
}

/// Guest-physical memory as seen from the VMM: registered RAM plus the backend
/// that makes frames visible.
pub struct GuestMemory<'a, B: Backend> {
    ram: &'a GuestRam,
    backend: &'a mut B,
    /// The guest accesses this memory cacheably: no cache maintenance.
    coherent: bool,
    /// Frames recently reached through [`Backend::frame_view`]: a device
    /// touching its rings and buffers copies straight through these.
    views: [Option<View>; VIEWS],
    /// Next slot of `views` to replace.
    next_view: usize,
}

/// A frame's guest range and its VMM pointer.
#[derive(Clone, Copy)]
struct View {
    start: u64,
    len: u64,
    ptr: core::ptr::NonNull<u8>,
}

/// Frame views a [`GuestMemory`] keeps (rings, and a few buffers).
const VIEWS: usize = 4;

impl<'a, B: Backend> GuestMemory<'a, B> {
    pub(crate) fn new(ram: &'a GuestRam, backend: &'a mut B, coherent: bool) -> Self {
        Self {
            ram,
            backend,
            coherent,
            views: [None; VIEWS],
            next_view: 0,
        }
    }

    /// The VMM address of `[addr, addr + len)` if it lies in one frame the
    /// backend offers a view of (see [`Backend::frame_view`]).
    fn view(&mut self, addr: u64, len: u64) -> Option<*mut u8> {
        let end = addr.checked_add(len)?;
        let hit = |v: &View| addr >= v.start && end <= v.start + v.len;
        if let Some(v) = self.views.iter().flatten().find(|v| hit(v)) {
            // SAFETY: inside the frame (checked above), which stays mapped
            // while this GuestMemory borrows the backend.
            return Some(unsafe { v.ptr.as_ptr().add((addr - v.start) as usize) });
        }
        let (frame, start, size) = self.ram.backing_at(addr)?;
        let ptr = self.backend.frame_view(frame, self.coherent)?;
        let v = View {
            start,
            len: size,
            ptr,
        };
        if !hit(&v) {
            return None;
        }
        self.views[self.next_view] = Some(v);
        self.next_view = (self.next_view + 1) % VIEWS;
        // SAFETY: as above.
        Some(unsafe { ptr.as_ptr().add((addr - start) as usize) })
    }

    fn touch_of(&self, start: u64, end: u64, write: bool) -> Touch {
        Touch {
            start,
            end,
            write,
            coherent: self.coherent,
        }
    }

    /// Checks that `[addr, addr + size)` is wholly inside registered RAM.
    pub fn check_range(&self, addr: u64, size: u64) -> Result<()> {
        if size == 0 {
            return Ok(());
        }
        self.ram.locate(addr, size).map(|_| ())
    }

    /// Calls `f` for each page-bounded piece of `[addr, addr + size)`, in order.
    /// A zero size touches nothing and succeeds. Pieces never cross a 4 KiB
    /// boundary, also inside 2 MiB frames (each frame is made visible once
    /// and its pages handed out one by one).
    ///
    /// Corresponds to `vm_ram_touch`.
    pub fn touch<E>(
        &mut self,
        addr: u64,
        size: u64,
        mut f: impl FnMut(TouchAccess<'_>) -> Result<(), E>,
    ) -> Result<(), TouchError<E>> {
        if size == 0 {
            return Ok(());
        }
        let (e, page) = self.ram.locate(addr, size)?;
        let ext = &self.ram.extents[e];
        let end = addr + size;
        let mut cur = addr;
        let mut fi = ext.frame_index(page);
        while cur < end {
            let fstart = ext.frame_addr(fi);
            let fend = core::cmp::min(
                ext.start + ((ext.frame_end_page(fi) as u64) << PAGE_BITS),
                end,
            );
            let from = cur;
            let t = self.touch_of(from - fstart, fend - fstart, true);
            let res = self.backend.access_frame(ext.frames[fi], t, |bytes| {
                let mut c = from;
                while c < fend {
                    let len = core::cmp::min(PAGE_SIZE - (c & (PAGE_SIZE - 1)), fend - c);
                    let lo = (c - fstart) as usize;
                    let piece = bytes
                        .get_mut(lo..lo + len as usize)
                        .ok_or(TouchError::<E>::Vm(Error::Backend(
                            BackendError::InvalidFrame,
                        )))?;
                    f(TouchAccess {
                        guest_addr: c,
                        offset: c - addr,
                        bytes: piece,
                    })
                    .map_err(|error| TouchError::Callback {
                        guest_addr: c,
                        error,
                    })?;
                    c += len;
                }
                Ok::<(), TouchError<E>>(())
            });
            res.map_err(|b| TouchError::Vm(Error::Backend(b)))??;
            cur = fend;
            fi += 1;
        }
        Ok(())
    }

    /// Like [`GuestMemory::touch`], but a piece covers a whole frame (2 MiB
    /// for large frames) or several frames when the backend maps them
    /// contiguously in the VMM (see [`Backend::contiguous_frames`]); with
    /// page-by-page backends and 4 KiB frames the pieces are the same as
    /// `touch`'s. Used by the copy helpers.
    pub fn touch_spans<E>(
        &mut self,
        addr: u64,
        size: u64,
        f: impl FnMut(TouchAccess<'_>) -> Result<(), E>,
    ) -> Result<(), TouchError<E>> {
        self.spans(addr, size, true, f)
    }

    /// [`GuestMemory::touch_spans`]; `write` false promises `f` only reads.
    fn spans<E>(
        &mut self,
        addr: u64,
        size: u64,
        write: bool,
        mut f: impl FnMut(TouchAccess<'_>) -> Result<(), E>,
    ) -> Result<(), TouchError<E>> {
        if size == 0 {
            return Ok(());
        }
        let (e, page) = self.ram.locate(addr, size)?;
        let ext = &self.ram.extents[e];
        let end = addr + size;
        let mut fi = ext.frame_index(page);
        let last = ext.frame_index(((end - 1 - ext.start) >> PAGE_BITS) as usize);
        let mut cur = addr;
        while cur < end {
            // Within one frame (nearly every device access) there is no
            // run to ask the backend about.
            let run = if fi == last {
                1
            } else {
                self.backend
                    .contiguous_frames(&ext.frames[fi..=last])
                    .clamp(1, last + 1 - fi)
            };
            let span_start = ext.frame_addr(fi);
            let span_end = core::cmp::min(
                ext.start + ((ext.frame_end_page(fi + run - 1) as u64) << PAGE_BITS),
                end,
            );
            let (lo, hi) = (
                (cur - span_start) as usize,
                (span_end - span_start) as usize,
            );
            let offset = cur - addr;
            let t = self.touch_of(lo as u64, hi as u64, write);
            let res = self
                .backend
                .access_frames(&ext.frames[fi..fi + run], t, |bytes| {
                    let piece =
                        bytes
                            .get_mut(lo..hi)
                            .ok_or(TouchError::<E>::Vm(Error::Backend(
                                BackendError::InvalidFrame,
                            )))?;
                    f(TouchAccess {
                        guest_addr: cur,
                        offset,
                        bytes: piece,
                    })
                    .map_err(|error| TouchError::Callback {
                        guest_addr: cur,
                        error,
                    })
                });
            res.map_err(|b| TouchError::Vm(Error::Backend(b)))??;
            cur = span_end;
            fi += run;
        }
        Ok(())
    }

    /// Copies guest memory at `addr` into `buf`.
    ///
    /// Corresponds to `vm_ram_touch` with `vm_guest_ram_read_callback`.
    pub fn read(&mut self, addr: u64, buf: &mut [u8]) -> Result<()> {
        if let Some(p) = self.view(addr, buf.len() as u64) {
            // SAFETY: `view` checked the range lies in one mapped frame; the
            // guest does not run while the VMM is in here (one core).
            unsafe { core::ptr::copy_nonoverlapping(p, buf.as_mut_ptr(), buf.len()) };
            return Ok(());
        }
        self.spans(addr, buf.len() as u64, false, |a| {
            let o = a.offset as usize;
            buf[o..o + a.bytes.len()].copy_from_slice(a.bytes);
            Ok::<(), ()>(())
        })
        .map_err(flatten)
    }

    /// Copies `data` into guest memory at `addr`.
    ///
    /// Corresponds to `vm_ram_touch` with `vm_guest_ram_write_callback`.
    pub fn write(&mut self, addr: u64, data: &[u8]) -> Result<()> {
        if let Some(p) = self.view(addr, data.len() as u64) {
            // SAFETY: as in `read`.
            unsafe { core::ptr::copy_nonoverlapping(data.as_ptr(), p, data.len()) };
            return Ok(());
        }
        self.touch_spans(addr, data.len() as u64, |a| {
            let o = a.offset as usize;
            a.bytes.copy_from_slice(&data[o..o + a.bytes.len()]);
            Ok::<(), ()>(())
        })
        .map_err(flatten)
    }

    /// Reads a little-endian u32.
    pub fn read_u32(&mut self, addr: u64) -> Result<u32> {
        let mut b = [0; 4];
        self.read(addr, &mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    /// Reads a little-endian u64.
    pub fn read_u64(&mut self, addr: u64) -> Result<u64> {
        let mut b = [0; 8];
        self.read(addr, &mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    /// Writes a little-endian u32.
    pub fn write_u32(&mut self, addr: u64, v: u32) -> Result<()> {
        self.write(addr, &v.to_le_bytes())
    }

    /// Writes a little-endian u64.
    pub fn write_u64(&mut self, addr: u64, v: u64) -> Result<()> {
        self.write(addr, &v.to_le_bytes())
    }

    /// Number of pages `[addr, addr + size)` spans (for callers sizing buffers).
    pub fn pages_spanned(addr: u64, size: u64) -> u64 {
        if size == 0 {
            return 0;
        }
        ((addr + size - 1) >> PAGE_BITS) - (addr >> PAGE_BITS) + 1
    }
}

fn flatten(e: TouchError<()>) -> Error {
    match e {
        TouchError::Vm(e) => e,
        TouchError::Callback { .. } => Error::Callback,
    }
}
