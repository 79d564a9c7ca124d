//! virtio-console (device ID 3, virtio 1.2 §5.3): one port, no
//! `VIRTIO_CONSOLE_F_MULTIPORT`, receiveq 0 and transmitq 1, over a
//! [`ConsoleBackend`].
//!
//! Corresponds to libvmm's `virtio/console.c` and libsel4vmmplatsupport's
//! `virtio_con` (there the backend is a character device or a serial
//! server; here it is any [`ConsoleBackend`]).

use alloc::collections::VecDeque;
use alloc::rc::Rc;
use core::cell::RefCell;

use sel4vm::GuestBytes;

use crate::virtio::queue::{Chain, Expect, Queue, QueueError};
use crate::virtio::{VirtioDevice, VIRTIO_ID_CONSOLE};

/// Where console bytes go and come from: a UART driver, a serial server,
/// a test buffer.
///
/// Corresponds to the character backend of libvmm's console
/// (`uart_handle_*` / serial queues) and libsel4vmmplatsupport's
/// `ps_chardevice_t` use in `virtio_con`.
pub trait ConsoleBackend {
    /// Guest output.
    fn write(&mut self, bytes: &[u8]);
    /// Pending input, without blocking; returns the bytes copied (0 = none).
    fn read(&mut self, buf: &mut [u8]) -> usize;
}

/// One backend shared by several devices (e.g. the PL011 for `earlycon`
/// and the virtio console after it).
impl<B: ConsoleBackend + ?Sized> ConsoleBackend for Rc<RefCell<B>> {
    fn write(&mut self, bytes: &[u8]) {
        self.borrow_mut().write(bytes)
    }
    fn read(&mut self, buf: &mut [u8]) -> usize {
        self.borrow_mut().read(buf)
    }
}

/// receiveq index.
pub const RECEIVEQ: u16 = 0;
/// transmitq index.
pub const TRANSMITQ: u16 = 1;
/// `QueueNumMax` of both queues.
pub const QUEUE_SIZE: u16 = 64;
/// Default bound of the input kept while the driver has no receive buffer.
pub const DEFAULT_RX_BUFFER: usize = 4096;
/// Size of `struct virtio_console_config` (cols, rows, max_nr_ports, emerg_wr).
const CONFIG_LEN: usize = 12;
/// Bytes copied per backend call.
const CHUNK: usize = 256;
/// Most input read (and dropped) from the backend in one call once the
/// buffer is full, so a backend that never runs dry cannot stall the VMM.
const MAX_DROP_PER_CALL: usize = 64 * 1024;

/// Console counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConsoleStats {
    /// Bytes the guest transmitted to the backend.
    pub tx_bytes: u64,
    /// Bytes delivered into the guest's receive buffers.
    pub rx_bytes: u64,
    /// Input bytes dropped because the buffer was full.
    pub rx_dropped: u64,
    /// Input bytes waiting for a receive buffer now.
    pub rx_pending: u64,
}

/// The virtio-console device model; wrap it in
/// [`VirtioMmio`](crate::virtio::VirtioMmio) to get an MMIO device.
///
/// Corresponds to libvmm's `struct virtio_console_device` (set up by
/// `virtio_mmio_console_init`; transmitq work as in `virtio_console_handle_tx`,
/// receiveq as in `virtio_console_handle_rx`) and libsel4vmmplatsupport's
/// `virtio_con`. Console size (`F_SIZE`), multiport and emergency write are
/// not offered; `cols`/`rows` read 0. Input that arrives while no receive
/// buffer is posted is kept, up to a bound, and the excess counted.
#[doc(alias = "virtio_console_device", alias = "virtio_con")]
pub struct Console<B: ConsoleBackend> {
    backend: B,
    /// Input waiting for receive buffers (bounded by `rx_cap`).
    pending: VecDeque<u8>,
    rx_cap: usize,
    stats: ConsoleStats,
}

impl<B: ConsoleBackend> Console<B> {
    /// A console over `backend`, buffering up to [`DEFAULT_RX_BUFFER`]
    /// input bytes.
    pub fn new(backend: B) -> Self {
        Self::with_rx_buffer(backend, DEFAULT_RX_BUFFER)
    }

    /// A console buffering up to `rx_cap` bytes of input that arrives
    /// before the driver posts receive buffers.
    pub fn with_rx_buffer(backend: B, rx_cap: usize) -> Self {
        Self {
            backend,
            pending: VecDeque::new(),
            rx_cap,
            stats: ConsoleStats::default(),
        }
    }

    /// The backend.
    pub fn backend(&self) -> &B {
        &self.backend
    }

    /// The backend, mutably.
    pub fn backend_mut(&mut self) -> &mut B {
        &mut self.backend
    }

    /// Counters.
    pub fn stats(&self) -> ConsoleStats {
        ConsoleStats {
            rx_pending: self.pending.len() as u64,
            ..self.stats
        }
    }

    /// transmitq: every chain's bytes go to the backend, in order.
    fn transmit(&mut self, q: &mut Queue, mem: &mut dyn GuestBytes) -> Result<(), QueueError> {
        let mut buf = [0u8; CHUNK];
        while let Some(chain) = q.pop(mem, Expect::Readable)? {
            let mut off = 0u64;
            loop {
                let n = chain.read_bytes(mem, off, &mut buf)?;
                if n == 0 {
                    break;
                }
                self.backend.write(&buf[..n]);
                self.stats.tx_bytes += n as u64;
                off += n as u64;
            }
            // Nothing was written for the driver.
            q.add_used(mem, chain, 0)?;
        }
        Ok(())
    }

    /// Pulls backend input into the pending buffer, up to its bound;
    /// returns whether anything arrived.
    fn pull(&mut self) -> bool {
        let mut buf = [0u8; CHUNK];
        let mut got = false;
        while self.pending.len() < self.rx_cap {
            let room = (self.rx_cap - self.pending.len()).min(CHUNK);
            let n = self.backend.read(&mut buf[..room]).min(room);
            if n == 0 {
                return got;
            }
            got = true;
            self.pending.extend(&buf[..n]);
        }
        got
    }

    /// The buffer is full and no receive buffer is posted: read and drop
    /// the rest of the input (counted), so the backend does not back up.
    fn drop_excess(&mut self) {
        let mut buf = [0u8; CHUNK];
        let mut dropped = 0;
        while dropped < MAX_DROP_PER_CALL {
            let n = self.backend.read(&mut buf).min(CHUNK);
            if n == 0 {
                break;
            }
            dropped += n;
        }
        if dropped != 0 {
            log::debug!("virtio-console: {dropped} input bytes dropped (no receive buffer)");
            self.stats.rx_dropped += dropped as u64;
        }
    }

    /// Fills one receive chain from the pending buffer.
    fn fill(&mut self, chain: &Chain, mem: &mut dyn GuestBytes) -> Result<u32, QueueError> {
        let room = usize::try_from(chain.writable_len()).unwrap_or(usize::MAX);
        // A used length is a u32.
        let n = room.min(self.pending.len()).min(u32::MAX as usize);
        let (a, b) = self.pending.as_slices();
        let na = n.min(a.len());
        chain.write_bytes(mem, 0, &a[..na])?;
        chain.write_bytes(mem, na as u64, &b[..n - na])?;
        self.pending.drain(..n);
        self.stats.rx_bytes += n as u64;
        Ok(n as u32)
    }

    /// receiveq: moves input into posted buffers while both exist, then
    /// buffers the rest.
    fn receive(
        &mut self,
        q: Option<&mut Queue>,
        mem: &mut dyn GuestBytes,
    ) -> Result<(), QueueError> {
        let Some(q) = q else {
            self.pull();
            if self.pending.len() >= self.rx_cap {
                self.drop_excess();
            }
            return Ok(());
        };
        loop {
            if self.pending.is_empty() && !self.pull() {
                return Ok(());
            }
            let Some(chain) = q.pop(mem, Expect::Writable)? else {
                // No buffer: keep what fits, drop the excess.
                self.pull();
                if self.pending.len() >= self.rx_cap {
                    self.drop_excess();
                }
                return Ok(());
            };
            let n = self.fill(&chain, mem)?;
            q.add_used(mem, chain, n)?;
        }
    }
}

impl<B: ConsoleBackend> VirtioDevice for Console<B> {
    fn name(&self) -> &str {
        "virtio-console"
    }

    fn device_id(&self) -> u32 {
        VIRTIO_ID_CONSOLE
    }

    fn features(&self) -> u64 {
        0
    }

    fn num_queues(&self) -> u16 {
        2
    }

    fn queue_max_size(&self, _index: u16) -> u16 {
        QUEUE_SIZE
    }

    fn read_config(&self, offset: u64, data: &mut [u8]) {
        // cols = rows = 0 (no F_SIZE), max_nr_ports = 1 (only read with
        // F_MULTIPORT), emerg_wr = 0: all known, so build it here.
        let mut cfg = [0u8; CONFIG_LEN];
        cfg[4..8].copy_from_slice(&1u32.to_le_bytes());
        crate::virtio::read_config_bytes(&cfg, offset, data);
    }

    fn queue_notify(
        &mut self,
        index: u16,
        queue: &mut Queue,
        mem: &mut dyn GuestBytes,
    ) -> Result<(), QueueError> {
        match index {
            RECEIVEQ => self.receive(Some(queue), mem),
            TRANSMITQ => self.transmit(queue, mem),
            _ => Ok(()),
        }
    }

    fn notified(
        &mut self,
        _bits: u64,
        queues: Option<&mut [Queue]>,
        mem: &mut dyn GuestBytes,
    ) -> Result<(), QueueError> {
        let rx = queues.and_then(|q| q.get_mut(usize::from(RECEIVEQ)));
        self.receive(rx, mem)
    }

    /// Pending input is host-side state and survives a reset: it goes to
    /// the next driver.
    fn reset(&mut self) {}
}
