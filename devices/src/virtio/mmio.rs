//! The virtio-mmio transport, modern interface only (`Version` = 2,
//! virtio 1.2 §4.2.2), generic over a [`VirtioDevice`].
//!
//! Corresponds to libvmm's `virtio/mmio.c` (`virtio_mmio_fault_handle`,
//! `handle_virtio_mmio_get_reg` / `set_reg`) and the MMIO emulation in
//! libsel4vmmplatsupport's `virtio_con`. Differences, on purpose: no legacy
//! (version 1) registers, `VIRTIO_F_VERSION_1` is required for
//! `FEATURES_OK`, and a malformed virtqueue sets `DEVICE_NEEDS_RESET`
//! instead of being trusted.

use alloc::vec::Vec;

use sel4vm::{DeviceIo, GuestBytes, MmioDevice};

use super::queue::{Queue, QueueError};
use super::{interrupt, status};
use super::{VIRTIO_F_EVENT_IDX, VIRTIO_F_INDIRECT_DESC, VIRTIO_F_VERSION_1};

/// `MagicValue`: "virt" in little-endian.
pub const MAGIC_VALUE: u32 = 0x7472_6976;
/// `Version` of the modern interface.
pub const VERSION: u32 = 2;
/// `VendorID` this transport reports ("seL4" in little-endian).
pub const VENDOR_ID: u32 = u32::from_le_bytes(*b"seL4");

/// Register offsets (virtio 1.2 §4.2.2, table "MMIO Device Register Layout").
pub mod regs {
    #![allow(missing_docs)]
    pub const MAGIC_VALUE: u64 = 0x000;
    pub const VERSION: u64 = 0x004;
    pub const DEVICE_ID: u64 = 0x008;
    pub const VENDOR_ID: u64 = 0x00c;
    pub const DEVICE_FEATURES: u64 = 0x010;
    pub const DEVICE_FEATURES_SEL: u64 = 0x014;
    pub const DRIVER_FEATURES: u64 = 0x020;
    pub const DRIVER_FEATURES_SEL: u64 = 0x024;
    pub const QUEUE_SEL: u64 = 0x030;
    pub const QUEUE_NUM_MAX: u64 = 0x034;
    pub const QUEUE_NUM: u64 = 0x038;
    pub const QUEUE_READY: u64 = 0x044;
    pub const QUEUE_NOTIFY: u64 = 0x050;
    pub const INTERRUPT_STATUS: u64 = 0x060;
    pub const INTERRUPT_ACK: u64 = 0x064;
    pub const STATUS: u64 = 0x070;
    pub const QUEUE_DESC_LOW: u64 = 0x080;
    pub const QUEUE_DESC_HIGH: u64 = 0x084;
    pub const QUEUE_DRIVER_LOW: u64 = 0x090;
    pub const QUEUE_DRIVER_HIGH: u64 = 0x094;
    pub const QUEUE_DEVICE_LOW: u64 = 0x0a0;
    pub const QUEUE_DEVICE_HIGH: u64 = 0x0a4;
    pub const SHM_SEL: u64 = 0x0ac;
    pub const SHM_LEN_LOW: u64 = 0x0b0;
    pub const SHM_LEN_HIGH: u64 = 0x0b4;
    pub const SHM_BASE_LOW: u64 = 0x0b8;
    pub const SHM_BASE_HIGH: u64 = 0x0bc;
    pub const CONFIG_GENERATION: u64 = 0x0fc;
    pub const CONFIG: u64 = 0x100;
}

/// A virtio device model behind [`VirtioMmio`]: what is specific to the
/// device type (ID, features, queues, configuration space, buffer
/// processing). The transport owns the queues and all interrupt state;
/// the device only pops and returns chains.
///
/// Corresponds to libvmm's `virtio_device_funs_t` (`get_device_features`,
/// `queue_notify`, `get_device_config`, `device_reset`, ...). Unlike it, the
/// device never touches the interrupt line: the transport raises it from
/// the used rings, so InterruptStatus and the line cannot disagree.
#[doc(alias = "virtio_device_funs_t")]
pub trait VirtioDevice {
    /// A short name for logs.
    fn name(&self) -> &str;
    /// The virtio device ID (e.g. 3 for a console).
    fn device_id(&self) -> u32;
    /// Device-specific feature bits (0..=23); the transport adds its own.
    fn features(&self) -> u64;
    /// Number of virtqueues.
    fn num_queues(&self) -> u16;
    /// `QueueNumMax` of queue `index` (`index < num_queues()`).
    fn queue_max_size(&self, index: u16) -> u16;
    /// Reads `data.len()` bytes of configuration space at `offset`; bytes
    /// past the end of the configuration space are left zero.
    fn read_config(&self, offset: u64, data: &mut [u8]);
    /// A driver write to configuration space; ignored by default.
    fn write_config(&mut self, offset: u64, data: &[u8]) {
        let _ = (offset, data);
    }
    /// `ConfigGeneration`: changes whenever the configuration space does.
    fn config_generation(&self) -> u32 {
        0
    }
    /// The driver set `FEATURES_OK` with these (validated) features.
    fn activate(&mut self, features: u64) {
        let _ = features;
    }
    /// The driver notified queue `index` (only after `DRIVER_OK`, never
    /// while the device needs a reset). Pop chains and return them; an
    /// error marks the device as needing a reset.
    fn queue_notify(
        &mut self,
        index: u16,
        queue: &mut Queue,
        mem: &mut dyn GuestBytes,
    ) -> Result<(), QueueError>;
    /// The backend signalled (`bits` from the notification badge).
    /// `queues` is `None` while the driver is not ready or the device needs
    /// a reset: then only device-internal state may change.
    fn notified(
        &mut self,
        bits: u64,
        queues: Option<&mut [Queue]>,
        mem: &mut dyn GuestBytes,
    ) -> Result<(), QueueError> {
        let _ = (bits, queues, mem);
        Ok(())
    }
    /// Device reset (status 0 or a VM reset): drop driver-provided state.
    fn reset(&mut self) {}
}

/// Transport counters, cheap to keep and to read ([`VirtioMmio::stats`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TransportStats {
    /// `QueueNotify` writes handed to the device.
    pub queue_notifications: u64,
    /// Backend notifications ([`MmioDevice::notified`]).
    pub backend_notifications: u64,
    /// Chains returned through used rings (all queues).
    pub chains: u64,
    /// Bytes written for the driver (sum of used lengths).
    pub used_bytes: u64,
    /// Used-buffer notifications sent (`InterruptStatus` bit 0 set).
    pub used_interrupts: u64,
    /// Configuration-change notifications sent (bit 1 set).
    pub config_interrupts: u64,
    /// Times the interrupt line went from low to high.
    pub irq_raised: u64,
    /// Times the device entered `DEVICE_NEEDS_RESET`.
    pub needs_reset: u64,
    /// Register accesses of the wrong size or alignment, or to no register.
    pub bad_accesses: u64,
}

/// A virtio-mmio device: the register file, feature negotiation, status
/// state machine, queues and interrupt line, around a device model `D`.
/// Register it with `Vm::register_mmio_device` (a 0x200-byte window is
/// enough; offsets past the configuration space read as zero).
///
/// Corresponds to libvmm's `virtio_device_t` with `virtio_mmio_fault_handle`,
/// and to libsel4vmmplatsupport's `virtio_con` MMIO emulation.
#[doc(alias = "virtio_device_t", alias = "virtio_mmio_fault_handle")]
pub struct VirtioMmio<D: VirtioDevice> {
    dev: D,
    queues: Vec<Queue>,
    status: u32,
    device_features_sel: u32,
    driver_features_sel: u32,
    driver_features: u64,
    queue_sel: u32,
    shm_sel: u32,
    int_status: u32,
    /// Last level sent with `set_irq`; `None` after a VM reset, so the
    /// next change is always sent.
    line: Option<bool>,
    /// A malformed queue was seen: nothing is processed until a reset.
    broken: bool,
    stats: TransportStats,
}

/// Transport feature bits this implementation always offers.
const TRANSPORT_FEATURES: u64 =
    1 << VIRTIO_F_VERSION_1 | 1 << VIRTIO_F_INDIRECT_DESC | 1 << VIRTIO_F_EVENT_IDX;

/// Mask of the device-specific feature bits (0..=23, virtio 1.2 §6).
const DEVICE_FEATURE_MASK: u64 = (1 << 24) - 1;

impl<D: VirtioDevice> VirtioMmio<D> {
    /// Wraps `dev`; the device starts reset, its queues not ready.
    ///
    /// Corresponds to the transport half of libvmm's `virtio_mmio_*_init`
    /// (e.g. `virtio_mmio_console_init`); registering the result with
    /// `Vm::register_mmio_device` is the other half.
    pub fn new(dev: D) -> Self {
        let queues = (0..dev.num_queues())
            .map(|i| Queue::new(dev.queue_max_size(i)))
            .collect();
        Self {
            dev,
            queues,
            status: 0,
            device_features_sel: 0,
            driver_features_sel: 0,
            driver_features: 0,
            queue_sel: 0,
            shm_sel: 0,
            int_status: 0,
            line: None,
            broken: false,
            stats: TransportStats::default(),
        }
    }

    /// The device model.
    pub fn device(&self) -> &D {
        &self.dev
    }

    /// The device model, mutably (e.g. to reach its backend).
    pub fn device_mut(&mut self) -> &mut D {
        &mut self.dev
    }

    /// Queue `index`.
    pub fn queue(&self, index: u16) -> Option<&Queue> {
        self.queues.get(usize::from(index))
    }

    /// The `Status` register.
    pub fn status(&self) -> u32 {
        self.status
    }

    /// The `InterruptStatus` register (the line is high iff non-zero).
    pub fn interrupt_status(&self) -> u32 {
        self.int_status
    }

    /// Whether a malformed queue put the device into `DEVICE_NEEDS_RESET`.
    pub fn needs_reset(&self) -> bool {
        self.broken
    }

    /// All feature bits offered to the driver.
    pub fn offered_features(&self) -> u64 {
        (self.dev.features() & DEVICE_FEATURE_MASK) | TRANSPORT_FEATURES
    }

    /// The features the driver accepted (meaningful once `FEATURES_OK`).
    pub fn driver_features(&self) -> u64 {
        self.driver_features
    }

    /// Counters.
    pub fn stats(&self) -> TransportStats {
        let mut s = self.stats;
        for q in &self.queues {
            s.chains += q.stats().chains;
            s.used_bytes += q.stats().used_bytes;
        }
        s
    }

    /// Queues may be processed: the driver is up and nothing is broken.
    fn live(&self) -> bool {
        let want = status::FEATURES_OK | status::DRIVER_OK;
        self.status & want == want && self.status & status::FAILED == 0 && !self.broken
    }

    /// Device reset (status 0): virtio 1.2 §2.4. Queue state, features and
    /// pending interrupts are dropped; counters are kept.
    fn reset_state(&mut self) {
        self.status = 0;
        self.device_features_sel = 0;
        self.driver_features_sel = 0;
        self.driver_features = 0;
        self.queue_sel = 0;
        self.shm_sel = 0;
        self.int_status = 0;
        self.broken = false;
        for q in &mut self.queues {
            q.reset();
        }
        self.dev.reset();
    }

    fn update_line(&mut self, io: &mut DeviceIo<'_>) {
        let level = self.int_status != 0;
        if self.line != Some(level) {
            if level {
                self.stats.irq_raised += 1;
            }
            self.line = Some(level);
            io.set_irq(level);
        }
    }

    /// Enters `DEVICE_NEEDS_RESET` and tells the driver (virtio 1.2 §2.1.2).
    fn fail(&mut self, e: QueueError, io: &mut DeviceIo<'_>) {
        if !self.broken {
            log::warn!(
                "{}: malformed virtqueue ({e}); device needs reset",
                self.dev.name()
            );
            self.broken = true;
            self.status |= status::DEVICE_NEEDS_RESET;
            self.int_status |= interrupt::CONFIG_CHANGE;
            self.stats.needs_reset += 1;
            self.stats.config_interrupts += 1;
        }
        self.update_line(io);
    }

    /// After the device processed queues: raise a used-buffer interrupt
    /// if any queue asks for one.
    fn after_processing(&mut self, r: Result<(), QueueError>, io: &mut DeviceIo<'_>) {
        if let Err(e) = r {
            return self.fail(e, io);
        }
        if !self.live() {
            // Nothing may be signalled for a device that needs a reset.
            return self.update_line(io);
        }
        let mut raise = false;
        for i in 0..self.queues.len() {
            match self.queues[i].needs_notification(io.mem()) {
                Ok(n) => raise |= n,
                Err(e) => return self.fail(e, io),
            }
        }
        if raise {
            self.int_status |= interrupt::USED_BUFFER;
            self.stats.used_interrupts += 1;
        }
        self.update_line(io);
    }

    fn notify_queue(&mut self, index: u32, io: &mut DeviceIo<'_>) {
        if index as usize >= self.queues.len() || !self.live() {
            log::debug!(
                "{}: notify of queue {index} ignored (status {:#x}{})",
                self.dev.name(),
                self.status,
                if self.broken { ", needs reset" } else { "" }
            );
            return;
        }
        self.stats.queue_notifications += 1;
        let q = &mut self.queues[index as usize];
        let r = if q.is_ready() {
            self.dev.queue_notify(index as u16, q, io.mem())
        } else {
            Ok(())
        };
        self.after_processing(r, io);
    }

    /// Processes every ready queue, as if notified (on `DRIVER_OK`: the
    /// driver may have posted buffers before it).
    fn kick_all(&mut self, io: &mut DeviceIo<'_>) {
        for i in 0..self.queues.len() {
            if self.queues[i].is_ready() {
                let r = self
                    .dev
                    .queue_notify(i as u16, &mut self.queues[i], io.mem());
                if let Err(e) = r {
                    return self.fail(e, io);
                }
            }
        }
        self.after_processing(Ok(()), io);
    }

    fn features_acceptable(&self) -> bool {
        let f = self.driver_features;
        f & (1 << VIRTIO_F_VERSION_1) != 0 && f & !self.offered_features() == 0
    }

    fn write_status(&mut self, v: u32, io: &mut DeviceIo<'_>) {
        if v == 0 {
            self.reset_state();
            self.update_line(io);
            return;
        }
        // DEVICE_NEEDS_RESET belongs to the device; the rest only grows
        // until a reset (the driver must not clear bits, §2.1.2).
        let old = self.status & !status::DEVICE_NEEDS_RESET;
        let mut new = v & 0xff & !status::DEVICE_NEEDS_RESET;
        if new & old != old {
            log::debug!(
                "{}: status {v:#x} clears bits of {old:#x}: ignored",
                self.dev.name()
            );
            return;
        }
        if new & status::FEATURES_OK != 0 && old & status::FEATURES_OK == 0 {
            if self.features_acceptable() {
                self.dev.activate(self.driver_features);
            } else {
                log::debug!(
                    "{}: driver features {:#x} refused (offered {:#x}, VERSION_1 required)",
                    self.dev.name(),
                    self.driver_features,
                    self.offered_features()
                );
                new &= !status::FEATURES_OK;
            }
        }
        if new & status::DRIVER_OK != 0 && new & status::FEATURES_OK == 0 {
            log::debug!(
                "{}: DRIVER_OK without FEATURES_OK: ignored",
                self.dev.name()
            );
            new &= !status::DRIVER_OK;
        }
        self.status = new | (self.status & status::DEVICE_NEEDS_RESET);
        if new & status::DRIVER_OK != 0 && old & status::DRIVER_OK == 0 && self.live() {
            self.kick_all(io);
        }
    }

    fn read_reg(&self, offset: u64) -> Option<u32> {
        use regs::*;
        let q = self.queues.get(self.queue_sel as usize);
        let qaddr = |which: usize, high: bool| {
            q.map_or(0, |q| {
                let a = [q.addresses().0, q.addresses().1, q.addresses().2][which].0;
                if high {
                    (a >> 32) as u32
                } else {
                    a as u32
                }
            })
        };
        Some(match offset {
            regs::MAGIC_VALUE => self::MAGIC_VALUE,
            regs::VERSION => self::VERSION,
            DEVICE_ID => self.dev.device_id(),
            regs::VENDOR_ID => self::VENDOR_ID,
            DEVICE_FEATURES => match self.device_features_sel {
                0 => self.offered_features() as u32,
                1 => (self.offered_features() >> 32) as u32,
                _ => 0,
            },
            QUEUE_NUM_MAX => q.map_or(0, |q| u32::from(q.max_size())),
            QUEUE_NUM => q.map_or(0, |q| u32::from(q.size())),
            QUEUE_READY => q.map_or(0, |q| u32::from(q.is_ready())),
            INTERRUPT_STATUS => self.int_status,
            STATUS => self.status,
            QUEUE_DESC_LOW => qaddr(0, false),
            QUEUE_DESC_HIGH => qaddr(0, true),
            QUEUE_DRIVER_LOW => qaddr(1, false),
            QUEUE_DRIVER_HIGH => qaddr(1, true),
            QUEUE_DEVICE_LOW => qaddr(2, false),
            QUEUE_DEVICE_HIGH => qaddr(2, true),
            // No shared memory regions: a length of -1 means "not present".
            SHM_LEN_LOW | SHM_LEN_HIGH | SHM_BASE_LOW | SHM_BASE_HIGH => u32::MAX,
            CONFIG_GENERATION => self.dev.config_generation(),
            _ => return None,
        })
    }

    fn write_reg(&mut self, offset: u64, v: u32, io: &mut DeviceIo<'_>) -> bool {
        use regs::*;
        match offset {
            DEVICE_FEATURES_SEL => self.device_features_sel = v,
            DRIVER_FEATURES_SEL => self.driver_features_sel = v,
            DRIVER_FEATURES => {
                if self.status & status::FEATURES_OK != 0 {
                    log::debug!("{}: features written after FEATURES_OK", self.dev.name());
                    return true;
                }
                let shift = match self.driver_features_sel {
                    0 => 0,
                    1 => 32,
                    _ => return true,
                };
                self.driver_features &= !(0xffff_ffff << shift);
                self.driver_features |= u64::from(v) << shift;
            }
            QUEUE_SEL => self.queue_sel = v,
            SHM_SEL => self.shm_sel = v,
            QUEUE_NUM | QUEUE_DESC_LOW | QUEUE_DESC_HIGH | QUEUE_DRIVER_LOW | QUEUE_DRIVER_HIGH
            | QUEUE_DEVICE_LOW | QUEUE_DEVICE_HIGH => {
                let name = self.dev.name();
                let Some(q) = self.queues.get_mut(self.queue_sel as usize) else {
                    log::debug!("{name}: queue register write for absent queue");
                    return true;
                };
                if q.is_ready() {
                    log::debug!("{name}: queue register write while the queue is ready");
                    return true;
                }
                match offset {
                    // Out-of-range sizes become 0 and fail at QueueReady.
                    QUEUE_NUM => q.set_size(u16::try_from(v).unwrap_or(0)),
                    _ => {
                        let which = ((offset - QUEUE_DESC_LOW) / 0x10) as u8;
                        q.set_addr_half(which, offset & 4 != 0, v);
                    }
                }
            }
            QUEUE_READY => self.write_queue_ready(v, io),
            QUEUE_NOTIFY => self.notify_queue(v, io),
            INTERRUPT_ACK => {
                self.int_status &= !v;
                self.update_line(io);
            }
            STATUS => self.write_status(v, io),
            _ => return false,
        }
        true
    }

    fn write_queue_ready(&mut self, v: u32, io: &mut DeviceIo<'_>) {
        let features_ok = self.status & status::FEATURES_OK != 0;
        let features = self.driver_features;
        let name = self.dev.name();
        let Some(q) = self.queues.get_mut(self.queue_sel as usize) else {
            log::debug!("{name}: QueueReady for absent queue");
            return;
        };
        if v & 1 == 0 {
            q.disable();
            return;
        }
        if q.is_ready() {
            return;
        }
        if !features_ok {
            log::debug!("{name}: QueueReady before FEATURES_OK: ignored");
            return;
        }
        if let Err(e) = q.enable(io.mem(), features) {
            self.fail(e, io);
        }
    }

    fn bad_access(&mut self, what: &str, offset: u64, size: u8) {
        self.stats.bad_accesses += 1;
        log::debug!(
            "{}: {what} of {size} bytes at {offset:#x}: no such register",
            self.dev.name()
        );
    }

    /// Configuration space accesses must be naturally aligned (§4.2.2.2).
    fn config_access(offset: u64, size: u8) -> Option<u64> {
        let off = offset.checked_sub(regs::CONFIG)?;
        (matches!(size, 1 | 2 | 4 | 8) && off.is_multiple_of(u64::from(size))).then_some(off)
    }
}

impl<D: VirtioDevice + 'static> MmioDevice for VirtioMmio<D> {
    fn name(&self) -> &str {
        self.dev.name()
    }

    fn as_any(&self) -> Option<&dyn core::any::Any> {
        Some(self)
    }

    fn read(&mut self, offset: u64, size: u8, _io: &mut DeviceIo<'_>) -> u64 {
        if offset >= regs::CONFIG {
            let Some(off) = Self::config_access(offset, size) else {
                self.bad_access("config read", offset, size);
                return 0;
            };
            let mut buf = [0u8; 8];
            self.dev.read_config(off, &mut buf[..usize::from(size)]);
            return u64::from_le_bytes(buf);
        }
        // Control registers: 32-bit, aligned accesses only (§4.2.2.1).
        if size != 4 || !offset.is_multiple_of(4) {
            self.bad_access("read", offset, size);
            return 0;
        }
        match self.read_reg(offset) {
            Some(v) => u64::from(v),
            None => {
                self.bad_access("read", offset, size);
                0
            }
        }
    }

    fn write(&mut self, offset: u64, size: u8, value: u64, io: &mut DeviceIo<'_>) {
        if offset >= regs::CONFIG {
            let Some(off) = Self::config_access(offset, size) else {
                return self.bad_access("config write", offset, size);
            };
            let bytes = value.to_le_bytes();
            self.dev.write_config(off, &bytes[..usize::from(size)]);
            return io.reads_changed();
        }
        if size != 4 || !offset.is_multiple_of(4) || !self.write_reg(offset, value as u32, io) {
            self.bad_access("write", offset, size);
        }
        io.reads_changed();
    }

    fn notified(&mut self, bits: u64, io: &mut DeviceIo<'_>) {
        self.stats.backend_notifications += 1;
        let live = self.live();
        let queues = if live {
            Some(&mut self.queues[..])
        } else {
            None
        };
        let r = self.dev.notified(bits, queues, io.mem());
        self.after_processing(r, io);
        io.reads_changed();
    }

    /// Every register, as the trapped read of 4 bytes (control registers,
    /// 0 where none is) or of any size (configuration space) returns it:
    /// the driver's `InterruptStatus` read on every interrupt, and its
    /// probing, cost no exit. Reads here have no side effects; every write
    /// and notification says [`DeviceIo::reads_changed`]. With the page
    /// mapped, a read the spec does not allow (a control register read with
    /// another width, a misaligned configuration read) returns the page's
    /// bytes instead of 0 and no longer counts in `bad_accesses`.
    fn read_image(&self, page: &mut [u8]) -> usize {
        use regs::*;
        const READABLE: [u64; 21] = [
            MAGIC_VALUE,
            VERSION,
            DEVICE_ID,
            VENDOR_ID,
            DEVICE_FEATURES,
            QUEUE_NUM_MAX,
            QUEUE_NUM,
            QUEUE_READY,
            INTERRUPT_STATUS,
            STATUS,
            QUEUE_DESC_LOW,
            QUEUE_DESC_HIGH,
            QUEUE_DRIVER_LOW,
            QUEUE_DRIVER_HIGH,
            QUEUE_DEVICE_LOW,
            QUEUE_DEVICE_HIGH,
            SHM_LEN_LOW,
            SHM_LEN_HIGH,
            SHM_BASE_LOW,
            SHM_BASE_HIGH,
            CONFIG_GENERATION,
        ];
        let len = (2 * CONFIG as usize).min(page.len());
        if len < CONFIG as usize {
            return 0;
        }
        page[..CONFIG as usize].fill(0);
        for off in READABLE {
            let o = off as usize;
            let v = self.read_reg(off).unwrap_or(0);
            page[o..o + 4].copy_from_slice(&v.to_le_bytes());
        }
        self.dev.read_config(0, &mut page[CONFIG as usize..len]);
        len
    }

    fn reset(&mut self) {
        self.reset_state();
        // The VM may have lowered (or not) the line: resend the next level.
        self.line = None;
    }
}
