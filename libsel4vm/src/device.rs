//! The device-model layer: MMIO devices as pure models that return effects,
//! a registry of guest-physical ranges on the VM, and notification routing
//! by badge bit.
//!
//! A device sees only an offset, an access size, a value and guest memory
//! ([`DeviceIo`]); what should happen outside it (its interrupt line) comes
//! back as [`DeviceEffect`]s that the VM applies, as the vGIC does. Compare
//! firecracker's `BusDevice` and libvmm's fault-handler registry. Devices
//! are registered as memory reservations, so a device range can overlap
//! neither RAM, nor another device, nor any other reservation.

use alloc::boxed::Box;
use alloc::vec::Vec;

use crate::backend::{badge, Backend};
use crate::error::{Error, Result};
use crate::fault::MemFault;
use crate::guest_addr::{GuestAddress, GuestBytes};
use crate::reservation::FaultResult;
use crate::vm::{Vm, BOOT_VCPU};

/// Something a device asks the VM to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeviceEffect {
    /// Drive the device's interrupt line (given at registration) to this level.
    Irq(bool),
    /// End [`Vm::run`] with [`crate::ExitReason::Stopped`] once this access
    /// completes (a power-off or test-finisher register).
    StopVm,
    /// What reads return has changed: the VM updates the device's read-only
    /// page ([`MmioDevice::read_image`]) before the guest runs again.
    ReadsChanged,
}

/// What a device model can reach during one call: guest memory (for
/// DMA-like work such as virtqueues) and the effects list.
pub struct DeviceIo<'a> {
    mem: &'a mut dyn GuestBytes,
    effects: &'a mut Vec<DeviceEffect>,
}

impl<'a> DeviceIo<'a> {
    /// Wraps guest memory and an effects list (host tests build one directly).
    pub fn new(mem: &'a mut dyn GuestBytes, effects: &'a mut Vec<DeviceEffect>) -> Self {
        Self { mem, effects }
    }

    /// Guest memory.
    pub fn mem(&mut self) -> &mut dyn GuestBytes {
        self.mem
    }

    /// Sets the device's interrupt line.
    pub fn set_irq(&mut self, level: bool) {
        self.effects.push(DeviceEffect::Irq(level));
    }

    /// Asks the VM to stop running after this access.
    pub fn stop_vm(&mut self) {
        self.effects.push(DeviceEffect::StopVm);
    }

    /// Says that what reads return has changed (see
    /// [`MmioDevice::read_image`]); once per call is enough.
    pub fn reads_changed(&mut self) {
        if !self.effects.contains(&DeviceEffect::ReadsChanged) {
            self.effects.push(DeviceEffect::ReadsChanged);
        }
    }
}

/// An emulated memory-mapped device.
///
/// `offset` is relative to the registered base; `size` is 1, 2, 4 or 8.
/// Neither method can fail the VMM: a device answers an access it does not
/// understand the way the hardware would (reads as zero, write ignored).
///
/// Corresponds to the `memory_fault_callback_fn` of a reservation made
/// with `vm_reserve_memory_at` for a device, or libvmm's
/// `fault_register_vm_exception_handler`.
pub trait MmioDevice {
    /// A short name for logs and statistics.
    fn name(&self) -> &str;
    /// A guest load of `size` bytes at `offset`; returns the value.
    fn read(&mut self, offset: u64, size: u8, io: &mut DeviceIo<'_>) -> u64;
    /// A guest store of `size` bytes of `value` at `offset`.
    fn write(&mut self, offset: u64, size: u8, value: u64, io: &mut DeviceIo<'_>);
    /// A notification routed to this device arrived (its backend completed
    /// something, e.g. input is waiting); `bits` are the badge bits that
    /// were routed here.
    fn notified(&mut self, bits: u64, io: &mut DeviceIo<'_>) {
        let _ = (bits, io);
    }
    /// The VM is being reset (`guest_restart`): drop all guest-provided
    /// state, as a hardware reset would. Called before guest RAM is reused.
    fn reset(&mut self) {}
    /// The device as [`Any`](core::any::Any), so its owner can reach the
    /// concrete model through [`Vm::with_device`] (e.g. for its counters);
    /// `None` by default.
    fn as_any(&self) -> Option<&dyn core::any::Any> {
        None
    }
    /// Reads without exits, for a one-page device whose reads have no side
    /// effects: fill the start of `page` with what each read returns now and
    /// return how many bytes that is (the rest of the page reads as zero).
    /// The VM maps a page holding this image read-only over the device. When
    /// a call changes what reads return, the model says so with
    /// [`DeviceIo::reads_changed`] (after [`MmioDevice::reset`] the VM asks
    /// anyway); the VM then asks again and writes the bytes that changed,
    /// before the guest runs or the device's interrupt is delivered. Guest
    /// reads are then plain memory reads and only writes exit (e.g. a UART's
    /// flag register polled around every character, a virtio-mmio
    /// `InterruptStatus` read on every interrupt). `0` (the default): every
    /// access traps.
    ///
    /// No libsel4vm counterpart (a reservation there is either mapped or
    /// trapping); libvmm's virtio-mmio and UART emulation trap everything.
    fn read_image(&self, page: &mut [u8]) -> usize {
        let _ = page;
        0
    }
}

/// Handle of a registered device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DeviceId(pub(crate) usize);

/// Where a device sits and which interrupt it drives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MmioRegion {
    /// Guest-physical base (page aligned).
    pub base: GuestAddress,
    /// Size in bytes (a multiple of the page size).
    pub size: u64,
    /// INTID of the device's interrupt line, if it has one.
    pub irq: Option<u32>,
}

pub(crate) struct DeviceSlot<B: Backend> {
    region: MmioRegion,
    dev: Option<Box<dyn MmioDevice>>,
    image: Option<ReadImage>,
    _b: core::marker::PhantomData<fn(B)>,
}

/// The read-only page behind a device's [`MmioDevice::read_image`]: the
/// frame the guest reads, and what was last written to it.
struct ReadImage {
    frame: crate::backend::FrameHandle,
    /// The page as the guest sees it.
    shown: Vec<u8>,
    /// Length of the device's last image (bytes past it are zero).
    len: usize,
    /// Where the device renders its next image.
    scratch: Vec<u8>,
}

/// Cache-line granule of image updates (partial lines would need a
/// clean-invalidate before the write too).
const IMAGE_LINE: usize = 64;

/// A handler for notification badge bits that is not a device (e.g. a
/// passed-through IRQ): `(vm, bits)`.
pub type NotificationBitHandler<B> = Box<dyn FnMut(&mut Vm<B>, u64) -> Result<()>>;

pub(crate) enum Route<B: Backend> {
    Device(DeviceId),
    Handler(Option<NotificationBitHandler<B>>),
}

/// The VM's devices and notification routes.
pub(crate) struct Devices<B: Backend> {
    pub(crate) slots: Vec<DeviceSlot<B>>,
    /// `(mask, route)`; masks are disjoint.
    pub(crate) routes: Vec<(u64, Route<B>)>,
    effects: Vec<DeviceEffect>,
    pub(crate) dma_coherent: bool,
}

impl<B: Backend> Default for Devices<B> {
    fn default() -> Self {
        Self {
            slots: Vec::new(),
            routes: Vec::new(),
            effects: Vec::new(),
            dma_coherent: true,
        }
    }
}

impl<B: Backend> Vm<B> {
    /// Registers an emulated MMIO device at `region`. Guest accesses there
    /// are decoded once and handed to the device; overlaps with RAM, other
    /// devices or reservations are refused with [`Error::Overlap`]. The
    /// interrupt, if any, must already be registered with the IRQ controller.
    ///
    /// Corresponds to `vm_reserve_memory_at` with a device fault callback
    /// (libvmm: `fault_register_vm_exception_handler`).
    pub fn register_mmio_device(
        &mut self,
        region: MmioRegion,
        dev: Box<dyn MmioDevice>,
    ) -> Result<DeviceId> {
        let id = DeviceId(self.devices.slots.len());
        let r = self.reserve_device(region.base.0, region.size, id)?;
        let page_size = crate::backend::PAGE_SIZE as usize;
        let mut page = alloc::vec![0u8; page_size];
        let len = if region.size == crate::backend::PAGE_SIZE {
            dev.read_image(&mut page).min(page_size)
        } else {
            0
        };
        let mut image = None;
        if len > 0 {
            // Best effort: if the page cannot be made, every access traps.
            match self.map_read_page(r, &page) {
                Ok(frame) => {
                    image = Some(ReadImage {
                        frame,
                        shown: page.clone(),
                        len,
                        scratch: page,
                    })
                }
                Err(e) => log::warn!(
                    "{}: device {} reads will trap: {e}",
                    self.name(),
                    dev.name()
                ),
            }
        }
        self.stats.device_accesses.push(0);
        self.devices.slots.push(DeviceSlot {
            region,
            dev: Some(dev),
            image,
            _b: core::marker::PhantomData,
        });
        Ok(id)
    }

    /// The region a device was registered at.
    pub fn device_region(&self, id: DeviceId) -> Option<MmioRegion> {
        self.devices.slots.get(id.0).map(|s| s.region)
    }

    /// Runs `f` on the device model (e.g. to read its statistics).
    pub fn with_device<R>(
        &mut self,
        id: DeviceId,
        f: impl FnOnce(&mut dyn MmioDevice) -> R,
    ) -> Option<R> {
        let dev = self.devices.slots.get_mut(id.0)?.dev.as_mut()?;
        let out = f(dev.as_mut());
        // `f` may have changed what reads return.
        self.refresh_read_image(id);
        Some(out)
    }

    /// Routes notifications whose badge has any of `bits` set to a device's
    /// [`MmioDevice::notified`].
    pub fn route_notification_to_device(&mut self, bits: u64, id: DeviceId) -> Result<()> {
        if id.0 >= self.devices.slots.len() {
            return Err(Error::NoSuchDevice);
        }
        self.add_route(bits, Route::Device(id))
    }

    /// Routes notifications whose badge has any of `bits` set to `handler`
    /// (called with the matching bits).
    ///
    /// Corresponds to libvmm's per-channel `notified` dispatch; libsel4vm
    /// has one `notification_callback_fn` for all bits
    /// ([`Vm::register_notification_callback`], still called for bits no
    /// route claims).
    pub fn route_notification(
        &mut self,
        bits: u64,
        handler: impl FnMut(&mut Vm<B>, u64) -> Result<()> + 'static,
    ) -> Result<()> {
        self.add_route(bits, Route::Handler(Some(Box::new(handler))))
    }

    fn add_route(&mut self, bits: u64, route: Route<B>) -> Result<()> {
        if bits == 0 || bits & badge::NOTIFICATION_BIT != 0 {
            return Err(Error::InvalidBadge(bits));
        }
        if self.devices.routes.iter().any(|(m, _)| m & bits != 0) {
            return Err(Error::InvalidBadge(bits));
        }
        self.devices.routes.push((bits, route));
        Ok(())
    }

    /// Resets every device ([`MmioDevice::reset`]) and lowers their lines.
    pub fn reset_devices(&mut self) {
        for i in 0..self.devices.slots.len() {
            if let Some(d) = self.devices.slots[i].dev.as_mut() {
                d.reset();
            }
            self.refresh_read_image(DeviceId(i));
        }
    }

    /// Brings device `id`'s read-only page up to date with its model
    /// ([`MmioDevice::read_image`]), writing only the cache lines that
    /// changed. A failed write is logged and leaves the page as it was;
    /// the next change writes every line that still differs.
    fn refresh_read_image(&mut self, id: DeviceId) {
        let Some(slot) = self.devices.slots.get_mut(id.0) else {
            return;
        };
        let (Some(dev), Some(img)) = (slot.dev.as_ref(), slot.image.as_mut()) else {
            return;
        };
        let len = dev.read_image(&mut img.scratch).min(img.scratch.len());
        let span = len.max(img.len);
        img.scratch[len..span].fill(0);
        let differs = |i: &usize| img.scratch[*i] != img.shown[*i];
        let Some(first) = (0..span).find(differs) else {
            img.len = len;
            return;
        };
        let last = (first..span).rev().find(differs).unwrap_or(first);
        let start = first / IMAGE_LINE * IMAGE_LINE;
        let end = ((last / IMAGE_LINE + 1) * IMAGE_LINE).min(img.shown.len());
        let frame = img.frame;
        let touch = crate::cache::Touch {
            start: start as u64,
            end: end as u64,
            write: true,
            coherent: false,
        };
        let bytes = &img.scratch[start..end];
        let written = self
            .backend
            .access_frame(frame, touch, |s| s[start..end].copy_from_slice(bytes));
        if let Err(e) = written {
            log::warn!("{}: device read page not updated: {e}", self.name());
            return;
        }
        if let Some(img) = self.devices.slots[id.0].image.as_mut() {
            img.shown[start..end].copy_from_slice(&img.scratch[start..end]);
            img.len = len;
        }
    }

    /// Dispatches badge bits to the routes; returns the bits nobody claimed.
    pub(crate) fn route_bits(&mut self, bits: u64) -> Result<u64> {
        let mut left = bits;
        for i in 0..self.devices.routes.len() {
            let mask = self.devices.routes[i].0;
            let hit = bits & mask;
            if hit == 0 {
                continue;
            }
            left &= !mask;
            match &mut self.devices.routes[i].1 {
                Route::Device(id) => {
                    let id = *id;
                    self.device_call(id, |d, io| d.notified(hit, io))?;
                }
                Route::Handler(h) => {
                    let Some(mut f) = h.take() else { continue };
                    let res = f(self, hit);
                    if let Route::Handler(slot @ None) = &mut self.devices.routes[i].1 {
                        *slot = Some(f);
                    }
                    res?;
                }
            }
        }
        Ok(left)
    }

    /// Calls `f` with the device taken out of its slot and a [`DeviceIo`]
    /// over guest RAM, then applies the effects.
    fn device_call<R>(
        &mut self,
        id: DeviceId,
        f: impl FnOnce(&mut dyn MmioDevice, &mut DeviceIo<'_>) -> R,
    ) -> Result<R> {
        let slot = self
            .devices
            .slots
            .get_mut(id.0)
            .ok_or(Error::NoSuchDevice)?;
        let region = slot.region;
        let mut dev = slot.dev.take().ok_or(Error::NoSuchDevice)?;
        let mut effects = core::mem::take(&mut self.devices.effects);
        effects.clear();
        let out = {
            let mut mem = self.device_memory();
            let mut io = DeviceIo::new(&mut mem, &mut effects);
            f(dev.as_mut(), &mut io)
        };
        self.devices.slots[id.0].dev = Some(dev);
        // The guest must see the new registers before the interrupt.
        if effects.contains(&DeviceEffect::ReadsChanged) {
            self.refresh_read_image(id);
        }
        let res = self.apply_device_effects(region, &effects);
        self.devices.effects = effects;
        res.map(|()| out)
    }

    fn apply_device_effects(&mut self, region: MmioRegion, effects: &[DeviceEffect]) -> Result<()> {
        for e in effects {
            match *e {
                DeviceEffect::Irq(level) => {
                    let Some(irq) = region.irq else { continue };
                    self.set_irq_level(BOOT_VCPU, irq, level)?;
                }
                DeviceEffect::StopVm => self.stop(),
                DeviceEffect::ReadsChanged => {}
            }
        }
        Ok(())
    }

    /// A guest access inside device `id`'s range.
    pub(crate) fn device_fault(&mut self, id: DeviceId, fault: &mut MemFault) -> FaultResult {
        let Some(region) = self.device_region(id) else {
            return FaultResult::Error;
        };
        if let Some(n) = self.stats.device_accesses.get_mut(id.0) {
            *n += 1;
        }
        let offset = fault.addr - region.base.0;
        let Some(access) = fault.access else {
            log::warn!(
                "{}: instruction fetch from a device at {:#x}: ignored",
                self.name(),
                fault.addr
            );
            return FaultResult::Handled;
        };
        // A pair is two accesses of one register each, in order, as a
        // device with register-sized ports sees them.
        let size = access.size.bytes() as u8;
        let count = if access.is_pair() { 2 } else { 1 };
        let write = fault.is_write();
        let data = fault.data_u128();
        let mut loaded = 0u128;
        let mut res = Ok(None);
        for i in 0..count {
            let at = offset + u64::from(size) * i;
            let shift = u32::from(size) * 8 * i as u32;
            res = if write {
                let v = (data >> shift) as u64 & access.size.mask();
                self.device_call(id, |d, io| d.write(at, size, v, io))
                    .map(|()| None)
            } else {
                self.device_call(id, |d, io| Some(d.read(at, size, io)))
            };
            match res {
                Ok(Some(v)) => loaded |= u128::from(v & access.size.mask()) << shift,
                Ok(None) => {}
                Err(_) => break,
            }
        }
        let res = res.map(|r| r.map(|_| loaded));
        match res {
            Ok(Some(v)) => {
                fault.set_data_u128(v);
                FaultResult::Handled
            }
            Ok(None) => FaultResult::Handled,
            Err(e) => {
                log::error!(
                    "{}: device at {} failed to apply its effects: {e}",
                    self.name(),
                    region.base
                );
                FaultResult::Error
            }
        }
    }
}

/// The `guest_memory` view as [`GuestBytes`].
impl<B: Backend> GuestBytes for crate::memory::GuestMemory<'_, B> {
    fn check(&self, addr: GuestAddress, len: u64) -> Result<()> {
        self.check_range(addr.0, len)
    }
    fn read(&mut self, addr: GuestAddress, buf: &mut [u8]) -> Result<()> {
        crate::memory::GuestMemory::read(self, addr.0, buf)
    }
    fn write(&mut self, addr: GuestAddress, data: &[u8]) -> Result<()> {
        crate::memory::GuestMemory::write(self, addr.0, data)
    }
}
