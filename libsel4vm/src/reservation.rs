//! Memory reservations (`guest_memory.h`) and the RAM API built on them
//! (`guest_ram.h`).
//!
//! Every guest-physical range the VMM owns is a reservation: RAM, emulated
//! devices, lazily mapped regions. Reservations live in an interval set keyed
//! by start address; overlapping ones are rejected. Anonymous regions
//! (`memory_make_anon`) are pools from which `reserve_anon_memory` carves
//! sub-reservations first-fit, and which can be freed again.

use alloc::boxed::Box;
use alloc::vec::Vec;

use crate::backend::{Backend, FrameHandle, Rights, LARGE_PAGE_SIZE, PAGE_SIZE};
use crate::cache::Touch;
use crate::error::{BackendError, Error, Result};
use crate::fault::MemFault;
use crate::interval::IntervalSet;
use crate::memory::{TouchAccess, TouchError};
use crate::ram::RamRegion;
use crate::vm::{Stage2Entry, Vm};

/// What a memory-fault callback did with the fault.
///
/// Corresponds to `memory_fault_result_t`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultResult {
    /// Emulated: for a read, the loop writes the data set on the fault into
    /// the destination register; then the guest skips the instruction.
    /// (`FAULT_HANDLED`)
    Handled,
    /// Not this callback's business; the unhandled-fault callback is tried
    /// next. (`FAULT_UNHANDLED`)
    Unhandled,
    /// Re-execute the instruction (e.g. the page was just mapped). (`FAULT_RESTART`)
    Restart,
    /// Skip the instruction without touching registers. (`FAULT_IGNORE`)
    Ignore,
    /// Fatal: the VM stops. (`FAULT_ERROR`)
    Error,
}

/// Callback run when the guest faults inside a reservation.
///
/// Corresponds to `memory_fault_callback_fn` (the cookie is whatever the closure captures).
pub type MemFaultHandler<B> = Box<dyn FnMut(&mut Vm<B>, &mut MemFault) -> FaultResult>;

/// One frame supplied by a map iterator for a page of a reservation.
///
/// Corresponds to `vm_frame_t` (map iterators supply 4 KiB frames only;
/// `size_bits` is always `seL4_PageBits`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MapFrame {
    /// The 4 KiB frame.
    pub frame: FrameHandle,
    /// Stage-2 rights.
    pub rights: Rights,
    /// If true the VM frees the frame when the reservation is freed.
    pub owned: bool,
}

/// Supplies the frame for the page at the given guest address.
///
/// Corresponds to `memory_map_iterator_fn`.
pub type MapIterator<B> = Box<dyn FnMut(&mut B, u64) -> Result<MapFrame>>;

/// When [`Vm::map_reservation`] maps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapMode {
    /// Map every page now.
    Now,
    /// Map everything on the first fault in the reservation, then restart
    /// the guest instruction (libsel4vm's `CONFIG_LIB_SEL4VM_DEFER_MEMORY_MAP`).
    OnFault,
}

/// Handle to a reservation.
///
/// Corresponds to `vm_memory_reservation_t *`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Reservation {
    id: u64,
    start: u64,
    size: u64,
}

impl Reservation {
    /// `(start, size)` of the reserved guest-physical range.
    ///
    /// Corresponds to `vm_get_reservation_memory_region`.
    pub fn region(&self) -> (u64, u64) {
        (self.start, self.size)
    }
    /// Start address.
    pub fn start(&self) -> u64 {
        self.start
    }
    /// Size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }
}

/// One frame the core mapped for a reservation.
#[derive(Clone, Copy)]
struct MappedPage {
    ipa: u64,
    frame: FrameHandle,
    owned: bool,
    /// Frame size in bytes (4 KiB or 2 MiB).
    size: u64,
}

/// Supplies `(frame, frame size)` for the mapping starting at `ipa`
/// (second argument) of a range ending at the third argument.
type FrameSource<'a, B> = dyn FnMut(&mut B, u64, u64) -> Result<(MapFrame, u64)> + 'a;

pub(crate) struct ResData<B: Backend> {
    id: u64,
    ram: bool,
    callback: Option<MemFaultHandler<B>>,
    lazy: Option<MapIterator<B>>,
    mapped: Vec<MappedPage>,
    /// Set for an emulated device's range ([`Vm::register_mmio_device`]).
    device: Option<crate::device::DeviceId>,
}

pub(crate) enum Slot<B: Backend> {
    Res(ResData<B>),
    /// An anonymous region and the sub-reservations carved from it.
    Pool(IntervalSet<ResData<B>>),
}

/// The VM's reservations.
///
/// Corresponds to `vm_memory_reservation_cookie_t`.
pub(crate) struct Reservations<B: Backend> {
    top: IntervalSet<Slot<B>>,
    next_id: u64,
}

impl<B: Backend> Default for Reservations<B> {
    fn default() -> Self {
        Self {
            top: IntervalSet::default(),
            next_id: 1,
        }
    }
}

impl<B: Backend> Reservations<B> {
    fn new_data(&mut self, ram: bool, callback: Option<MemFaultHandler<B>>) -> ResData<B> {
        let id = self.next_id;
        self.next_id += 1;
        ResData {
            id,
            ram,
            callback,
            lazy: None,
            mapped: Vec::new(),
            device: None,
        }
    }

    fn data_mut(&mut self, r: Reservation) -> Option<&mut ResData<B>> {
        let (start, _, slot) = self.top.containing_mut(r.start, r.size)?;
        let d = match slot {
            Slot::Res(d) if start == r.start => d,
            Slot::Res(_) => return None,
            Slot::Pool(p) => p.get_mut(r.start)?,
        };
        if d.id == r.id {
            Some(d)
        } else {
            None
        }
    }

    /// The reservation wholly containing `[addr, addr + len)`.
    fn find(&self, addr: u64, len: u64) -> Option<Reservation> {
        let (start, size, slot) = self.top.containing(addr, len)?;
        match slot {
            Slot::Res(d) => Some(Reservation {
                id: d.id,
                start,
                size,
            }),
            Slot::Pool(p) => {
                let (s, z, d) = p.containing(addr, len)?;
                Some(Reservation {
                    id: d.id,
                    start: s,
                    size: z,
                })
            }
        }
    }

    /// Removes a reservation, returning its data.
    fn remove(&mut self, r: Reservation) -> Option<ResData<B>> {
        self.data_mut(r)?;
        let (top_start, _, slot) = self.top.containing_mut(r.start, r.size)?;
        match slot {
            Slot::Pool(p) => p.remove(r.start).map(|(_, _, d)| d),
            Slot::Res(_) => match self.top.remove(top_start) {
                Some((_, _, Slot::Res(d))) => Some(d),
                _ => None,
            },
        }
    }

    fn list(&self) -> Vec<Reservation> {
        let mut out = Vec::new();
        for (start, size, slot) in self.top.iter() {
            match slot {
                Slot::Res(d) => out.push(Reservation {
                    id: d.id,
                    start,
                    size,
                }),
                Slot::Pool(p) => out.extend(p.iter().map(|(s, z, d)| Reservation {
                    id: d.id,
                    start: s,
                    size: z,
                })),
            }
        }
        out
    }
}

impl<B: Backend> Vm<B> {
    // ---- reservations (guest_memory.h) ----

    /// Reserves `[addr, addr + size)` (page aligned) and sets the callback
    /// run when the guest faults there. Nothing is mapped.
    ///
    /// Corresponds to `vm_reserve_memory_at`.
    pub fn reserve_memory_at(
        &mut self,
        addr: u64,
        size: u64,
        callback: impl FnMut(&mut Vm<B>, &mut MemFault) -> FaultResult + 'static,
    ) -> Result<Reservation> {
        self.reserve_at_inner(addr, size, false, Some(Box::new(callback)))
    }

    /// Reserves a device's range; faults there go to the device.
    pub(crate) fn reserve_device(
        &mut self,
        addr: u64,
        size: u64,
        id: crate::device::DeviceId,
    ) -> Result<Reservation> {
        Self::check_page_range(addr, size)?;
        let mut data = self.mem.reservations.new_data(false, None);
        data.device = Some(id);
        let rid = data.id;
        self.mem
            .reservations
            .top
            .insert(addr, size, Slot::Res(data))
            .map_err(|_| Error::Overlap { addr, size })?;
        Ok(Reservation {
            id: rid,
            start: addr,
            size,
        })
    }

    fn reserve_at_inner(
        &mut self,
        addr: u64,
        size: u64,
        ram: bool,
        callback: Option<MemFaultHandler<B>>,
    ) -> Result<Reservation> {
        Self::check_page_range(addr, size)?;
        let data = self.mem.reservations.new_data(ram, callback);
        let id = data.id;
        self.mem
            .reservations
            .top
            .insert(addr, size, Slot::Res(data))
            .map_err(|_| Error::Overlap { addr, size })?;
        Ok(Reservation {
            id,
            start: addr,
            size,
        })
    }

    /// Declares `[addr, addr + size)` an anonymous region from which
    /// [`Vm::reserve_anon_memory`] (and [`Vm::ram_register`]) take space.
    ///
    /// Corresponds to `vm_memory_make_anon`.
    pub fn memory_make_anon(&mut self, addr: u64, size: u64) -> Result<()> {
        Self::check_page_range(addr, size)?;
        self.mem
            .reservations
            .top
            .insert(addr, size, Slot::Pool(IntervalSet::default()))
            .map_err(|_| Error::Overlap { addr, size })
    }

    /// Reserves `size` bytes (rounded up to pages) at an `align`-aligned
    /// address inside an anonymous region, first fit. Unlike libsel4vm, the
    /// space is reusable after [`Vm::free_reserved_memory`].
    ///
    /// Corresponds to `vm_reserve_anon_memory` (the address is `Reservation::start`).
    pub fn reserve_anon_memory(
        &mut self,
        size: u64,
        align: u64,
        callback: impl FnMut(&mut Vm<B>, &mut MemFault) -> FaultResult + 'static,
    ) -> Result<Reservation> {
        self.reserve_anon_inner(size, align, false, Some(Box::new(callback)))
    }

    fn reserve_anon_inner(
        &mut self,
        size: u64,
        align: u64,
        ram: bool,
        callback: Option<MemFaultHandler<B>>,
    ) -> Result<Reservation> {
        if size == 0 {
            return Err(Error::ZeroSize);
        }
        if !align.is_power_of_two() || align < PAGE_SIZE {
            return Err(Error::Unaligned(align));
        }
        let size = crate::interval::align_up(size, PAGE_SIZE).ok_or(Error::Overflow)?;
        let data = self.mem.reservations.new_data(ram, callback);
        let id = data.id;
        let mut chosen = None;
        for (pstart, psize, slot) in self.mem.reservations.top.iter() {
            if let Slot::Pool(p) = slot {
                if let Some(a) = p.first_fit(pstart, pstart + psize, size, align) {
                    chosen = Some((pstart, a));
                    break;
                }
            }
        }
        let (pool, start) = chosen.ok_or(Error::NoAnonSpace)?;
        match self.mem.reservations.top.get_mut(pool) {
            Some(Slot::Pool(p)) => p
                .insert(start, size, data)
                .map_err(|_| Error::NoAnonSpace)?,
            _ => return Err(Error::NoAnonSpace),
        }
        Ok(Reservation { id, start, size })
    }

    /// Unmaps and forgets a reservation; frames it owns are freed. RAM
    /// cannot be freed this way.
    ///
    /// Corresponds to `vm_free_reserved_memory` (which cannot free anonymous
    /// reservations; this can).
    pub fn free_reserved_memory(&mut self, reservation: Reservation) -> Result<()> {
        match self.mem.reservations.data_mut(reservation) {
            None => return Err(Error::NoSuchReservation),
            Some(d) if d.ram => return Err(Error::ReservationIsRam),
            Some(_) => {}
        }
        let data = self
            .mem
            .reservations
            .remove(reservation)
            .ok_or(Error::NoSuchReservation)?;
        self.unmap_pages(&data.mapped);
        Ok(())
    }

    /// All reservations (including anonymous sub-reservations), by address.
    pub fn reservations(&self) -> Vec<Reservation> {
        self.mem.reservations.list()
    }

    /// Anonymous regions as `(start, size)`.
    pub fn anon_regions(&self) -> Vec<(u64, u64)> {
        self.mem
            .reservations
            .top
            .iter()
            .filter(|(_, _, s)| matches!(s, Slot::Pool(_)))
            .map(|(a, s, _)| (a, s))
            .collect()
    }

    /// Maps a reservation with frames from `iterator`, now or on first fault.
    ///
    /// Corresponds to `vm_map_reservation`.
    pub fn map_reservation(
        &mut self,
        reservation: Reservation,
        iterator: impl FnMut(&mut B, u64) -> Result<MapFrame> + 'static,
        mode: MapMode,
    ) -> Result<()> {
        let d = self
            .mem
            .reservations
            .data_mut(reservation)
            .ok_or(Error::NoSuchReservation)?;
        if !d.mapped.is_empty() || d.lazy.is_some() {
            return Err(Error::AlreadyMapped);
        }
        let mut it: MapIterator<B> = Box::new(iterator);
        match mode {
            MapMode::OnFault => {
                d.lazy = Some(it);
                Ok(())
            }
            MapMode::Now => self.map_now(reservation, &mut it),
        }
    }

    /// Maps a reservation with caller-owned frames (one per page, all rights);
    /// they are not freed with the reservation.
    ///
    /// Corresponds to `vm_map_reservation_frames` (4 KiB frames only).
    pub fn map_reservation_frames(
        &mut self,
        reservation: Reservation,
        frames: &[FrameHandle],
    ) -> Result<()> {
        let pages = Self::pages(reservation.size) as usize;
        if frames.len() != pages {
            return Err(Error::BadFrame(
                reservation.start + (frames.len().min(pages) as u64) * PAGE_SIZE,
            ));
        }
        let d = self
            .mem
            .reservations
            .data_mut(reservation)
            .ok_or(Error::NoSuchReservation)?;
        if !d.mapped.is_empty() || d.lazy.is_some() {
            return Err(Error::AlreadyMapped);
        }
        let list: Vec<FrameHandle> = frames.to_vec();
        let start = reservation.start;
        let mut it: MapIterator<B> = Box::new(move |_, ipa| {
            let i = ((ipa - start) / PAGE_SIZE) as usize;
            list.get(i)
                .map(|&frame| MapFrame {
                    frame,
                    rights: Rights::ALL,
                    owned: false,
                })
                .ok_or(Error::BadFrame(ipa))
        });
        self.map_now(reservation, &mut it)
    }

    /// Maps a new frame holding `page` read-only (and not executable) over
    /// the one-page device reservation `r`: reads are served by the frame,
    /// writes still fault to the device. The VM frees it with `r`; the
    /// handle is for updating the page in place.
    pub(crate) fn map_read_page(&mut self, r: Reservation, page: &[u8]) -> Result<FrameHandle> {
        let mut made = None;
        self.map_with(r, &mut |b, _, _| {
            let frame = b.alloc_frame(None)?;
            // Written through the VMM's view; the backend cleans it for a
            // guest that reads it as Device memory.
            let filled = b.access_frame(frame, Touch::whole(PAGE_SIZE), |s| {
                s[..page.len()].copy_from_slice(page)
            });
            if let Err(e) = filled {
                b.free_frame(frame);
                return Err(e.into());
            }
            made = Some(frame);
            let mf = MapFrame {
                frame,
                rights: Rights::READ_ONLY,
                owned: true,
            };
            Ok((mf, PAGE_SIZE))
        })?;
        made.ok_or(Error::BadFrame(r.start))
    }

    /// Maps every page of `r` now with 4 KiB frames from `it`; on failure
    /// undoes everything done here.
    fn map_now(&mut self, r: Reservation, it: &mut MapIterator<B>) -> Result<()> {
        self.map_with(r, &mut |b, ipa, _| it(b, ipa).map(|mf| (mf, PAGE_SIZE)))
    }

    /// Maps all of `r` with frames from `next`, which also says how big each
    /// frame is; on failure undoes everything done here (frames `next` made
    /// and marked owned are freed).
    fn map_with(&mut self, r: Reservation, next: &mut FrameSource<'_, B>) -> Result<()> {
        let end = r.start + r.size;
        let mut done: Vec<MappedPage> = Vec::new();
        let mut ipa = r.start;
        while ipa < end {
            let step = next(&mut self.backend, ipa, end).and_then(|(mf, size)| {
                let res = if size == 0 || !ipa.is_multiple_of(size) || size > end - ipa {
                    // A frame source broke its contract; never map past the range.
                    Err(Error::BadFrame(ipa))
                } else {
                    self.backend
                        .map_guest(mf.frame, ipa, mf.rights)
                        .map_err(Error::from)
                };
                match res {
                    Ok(()) => Ok((mf, size)),
                    Err(e) => {
                        if mf.owned {
                            self.backend.free_frame(mf.frame);
                        }
                        Err(e)
                    }
                }
            });
            match step {
                Ok((mf, size)) => {
                    self.mem.stage2.map.insert(
                        ipa,
                        Stage2Entry {
                            frame: mf.frame,
                            rights: mf.rights,
                            size,
                        },
                    );
                    done.push(MappedPage {
                        ipa,
                        frame: mf.frame,
                        owned: mf.owned,
                        size,
                    });
                    ipa += size;
                }
                Err(e) => {
                    self.unmap_pages(&done);
                    return Err(e);
                }
            }
        }
        match self.mem.reservations.data_mut(r) {
            Some(d) => {
                d.mapped = done;
                Ok(())
            }
            None => {
                self.unmap_pages(&done);
                Err(Error::NoSuchReservation)
            }
        }
    }

    fn unmap_pages(&mut self, pages: &[MappedPage]) {
        for p in pages {
            if let Err(e) = self.backend.unmap_guest(p.frame, p.ipa) {
                log::warn!("{}: unmapping {:#x} failed: {}", self.name(), p.ipa, e);
            }
            self.mem.stage2.map.remove(&p.ipa);
            if p.owned {
                self.backend.free_frame(p.frame);
            }
        }
    }

    /// Runs the reservation logic for a fault: lazy map, else the callback.
    pub(crate) fn reservation_fault(&mut self, fault: &mut MemFault) -> FaultResult {
        let Some(r) = self.mem.reservations.find(fault.addr, fault.size() as u64) else {
            return FaultResult::Unhandled;
        };
        let Some(d) = self.mem.reservations.data_mut(r) else {
            return FaultResult::Unhandled;
        };
        if let Some(mut it) = d.lazy.take() {
            return match self.map_now(r, &mut it) {
                Ok(()) => FaultResult::Restart,
                Err(e) => {
                    log::error!(
                        "{}: lazy mapping of {:#x} failed: {}",
                        self.name(),
                        r.start,
                        e
                    );
                    if let Some(d) = self.mem.reservations.data_mut(r) {
                        d.lazy = Some(it);
                    }
                    FaultResult::Error
                }
            };
        }
        if let Some(id) = d.device {
            return self.device_fault(id, fault);
        }
        self.stats.reservation_faults += 1;
        // RAM has no callback: faulting on mapped RAM is a guest error.
        let Some(mut cb) = d.callback.take() else {
            return FaultResult::Error;
        };
        let res = cb(self, fault);
        if let Some(d) = self.mem.reservations.data_mut(r) {
            if d.callback.is_none() {
                d.callback = Some(cb);
            }
        }
        res
    }

    /// Sets the callback for faults outside any reservation (or that the
    /// reservation callback left [`FaultResult::Unhandled`]).
    ///
    /// Corresponds to `vm_register_unhandled_mem_fault_callback`.
    pub fn register_unhandled_mem_fault_callback(
        &mut self,
        callback: impl FnMut(&mut Vm<B>, &mut MemFault) -> FaultResult + 'static,
    ) {
        self.mem.unhandled = Some(Box::new(callback));
    }

    pub(crate) fn unhandled_mem_fault(&mut self, fault: &mut MemFault) -> FaultResult {
        let Some(mut cb) = self.mem.unhandled.take() else {
            return FaultResult::Unhandled;
        };
        let res = cb(self, fault);
        if self.mem.unhandled.is_none() {
            self.mem.unhandled = Some(cb);
        }
        res
    }

    // ---- RAM (guest_ram.h) ----

    /// Registers `size` bytes of RAM at an address chosen from the anonymous
    /// regions, backed by frames from anywhere, and maps it. Returns the start.
    /// RAM of 2 MiB or more is placed 2 MiB aligned when an anonymous region
    /// has room for that, so it can be backed by 2 MiB frames.
    ///
    /// Corresponds to `vm_ram_register`.
    pub fn ram_register(&mut self, size: u64) -> Result<u64> {
        if !size.is_multiple_of(PAGE_SIZE) {
            return Err(Error::Unaligned(size));
        }
        let r = if size >= LARGE_PAGE_SIZE {
            match self.reserve_anon_inner(size, LARGE_PAGE_SIZE, true, None) {
                Err(Error::NoAnonSpace) => self.reserve_anon_inner(size, PAGE_SIZE, true, None),
                other => other,
            }
        } else {
            self.reserve_anon_inner(size, PAGE_SIZE, true, None)
        }?;
        self.finish_ram(r, &mut ram_frame_source(false))?;
        Ok(r.start)
    }

    /// Registers RAM at `[start, start + size)` and maps it. With
    /// `one_to_one` each frame is the frame at the same physical address
    /// (IPA == PA), retyped from the untyped covering it; otherwise frames
    /// come from anywhere. Every 2 MiB-aligned 2 MiB chunk gets a 2 MiB frame
    /// if the backend provides one ([`Backend::alloc_large_frame`]); the rest,
    /// and chunks whose large frame could not be had, get 4 KiB frames.
    ///
    /// Corresponds to `vm_ram_register_at` (`untyped` = `one_to_one`).
    pub fn ram_register_at(&mut self, start: u64, size: u64, one_to_one: bool) -> Result<()> {
        let r = self.reserve_at_inner(start, size, true, None)?;
        self.finish_ram(r, &mut ram_frame_source(one_to_one))
    }

    /// Registers RAM at `[start, start + size)` with 4 KiB frames from
    /// `iterator` (called once per page).
    ///
    /// Corresponds to `vm_ram_register_at_custom_iterator`.
    pub fn ram_register_at_custom_iterator(
        &mut self,
        start: u64,
        size: u64,
        mut iterator: impl FnMut(&mut B, u64) -> Result<MapFrame> + 'static,
    ) -> Result<()> {
        let r = self.reserve_at_inner(start, size, true, None)?;
        self.finish_ram(r, &mut |b, ipa, _| {
            iterator(b, ipa).map(|mf| (mf, PAGE_SIZE))
        })
    }

    /// Maps a fresh RAM reservation and records its frames as guest RAM; on
    /// failure the reservation is dropped and nothing is left behind.
    fn finish_ram(&mut self, r: Reservation, next: &mut FrameSource<'_, B>) -> Result<()> {
        if let Err(e) = self.map_with(r, next) {
            self.mem.reservations.remove(r);
            return Err(e);
        }
        let frames: Vec<(FrameHandle, u64)> = match self.mem.reservations.data_mut(r) {
            Some(d) => d.mapped.iter().map(|p| (p.frame, p.size)).collect(),
            None => return Err(Error::NoSuchReservation),
        };
        self.mem.ram.insert(r.start, &frames);
        Ok(())
    }

    /// Marks the pages covering `[start, start + size)` allocated (already
    /// allocated pages stay allocated). The range must be RAM.
    ///
    /// Corresponds to `vm_ram_mark_allocated`.
    pub fn ram_mark_allocated(&mut self, start: u64, size: u64) -> Result<()> {
        self.mem.ram.mark_allocated(start, size)
    }

    /// Allocates `size` bytes (rounded up to pages) of registered RAM, first fit.
    ///
    /// Corresponds to `vm_ram_allocate` (which returns 0 on failure).
    pub fn ram_allocate(&mut self, size: u64) -> Result<u64> {
        self.mem.ram.allocate(size)
    }

    /// Frees `[start, start + size)` (page-aligned start, size rounded up);
    /// every page must be allocated. libsel4vm's `vm_ram_free` is an empty
    /// stub; this really frees, so the space can be allocated again.
    ///
    /// Corresponds to `vm_ram_free`.
    pub fn ram_free(&mut self, start: u64, size: u64) -> Result<()> {
        self.mem.ram.free(start, size)
    }

    /// The largest free run of RAM as `(start, size)`.
    ///
    /// Corresponds to `vm_ram_find_largest_free_region`.
    pub fn ram_find_largest_free_region(&self) -> Option<(u64, u64)> {
        self.mem.ram.largest_free()
    }

    /// Registered RAM as sorted, merged runs with their allocation state.
    ///
    /// Corresponds to `vm_mem.ram_regions`.
    pub fn ram_regions(&self) -> Vec<RamRegion> {
        self.mem.ram.regions()
    }

    /// Calls `f` page by page for `[addr, addr + size)` of guest RAM. The
    /// whole range is checked first; nothing is called if it is not RAM.
    ///
    /// Corresponds to `vm_ram_touch`.
    pub fn ram_touch<E>(
        &mut self,
        addr: u64,
        size: u64,
        f: impl FnMut(TouchAccess<'_>) -> Result<(), E>,
    ) -> Result<(), TouchError<E>> {
        self.guest_memory().touch(addr, size, f)
    }

    /// Copies guest RAM into `buf`.
    ///
    /// Corresponds to `vm_ram_touch` + `vm_guest_ram_read_callback`.
    pub fn ram_read(&mut self, addr: u64, buf: &mut [u8]) -> Result<()> {
        self.guest_memory().read(addr, buf)
    }

    /// Copies `data` into guest RAM.
    ///
    /// Corresponds to `vm_ram_touch` + `vm_guest_ram_write_callback`.
    pub fn ram_write(&mut self, addr: u64, data: &[u8]) -> Result<()> {
        self.guest_memory().write(addr, data)
    }
}

/// Frame source for RAM: owned frames from anywhere or at PA == IPA, 2 MiB
/// for each 2 MiB-aligned 2 MiB chunk while the backend has large frames,
/// 4 KiB otherwise.
fn ram_frame_source<B: Backend>(
    one_to_one: bool,
) -> impl FnMut(&mut B, u64, u64) -> Result<(MapFrame, u64)> {
    let mut large = true;
    move |b: &mut B, ipa, end| {
        let owned = |frame| MapFrame {
            frame,
            rights: Rights::ALL,
            owned: true,
        };
        if large && ipa.is_multiple_of(LARGE_PAGE_SIZE) && end - ipa >= LARGE_PAGE_SIZE {
            match b.alloc_large_frame(one_to_one.then_some(ipa)) {
                Ok(f) => return Ok((owned(f), LARGE_PAGE_SIZE)),
                // No large frames at all: stop asking for this range.
                Err(BackendError::Unsupported) => large = false,
                // This chunk only (e.g. the untyped is fragmented): 4 KiB frames.
                Err(e) => log::debug!("2 MiB frame for {:#x} unavailable ({})", ipa, e),
            }
        }
        let f = b.alloc_frame(one_to_one.then_some(ipa))?;
        Ok((owned(f), PAGE_SIZE))
    }
}

/// A fault callback that logs the fault and reports [`FaultResult::Error`].
///
/// Corresponds to `default_error_fault_callback`.
pub fn default_error_fault_callback<B: Backend>(
    vm: &mut Vm<B>,
    fault: &mut MemFault,
) -> FaultResult {
    log::error!(
        "{}: fault at {:#x} (size {}) from {} ip {:#x}",
        vm.name(),
        fault.addr,
        fault.size(),
        fault.vcpu,
        fault.ip
    );
    FaultResult::Error
}
