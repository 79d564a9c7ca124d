//! The physical PL011, driven by the VMM in virtio-console mode: guest
//! console output and the VMM's own messages share it through one
//! [`LineMux`]; input arrives by interrupt and is handed to the guest's
//! console device on request.

use core::cell::RefCell;

use sel4_abi::cap::IrqHandler;
use sel4vm_devices::console::ConsoleBackend;
use sel4vm_root_task::console::{LineMux, Source};

const DR: usize = 0x00;
const FR: usize = 0x18;
const IMSC: usize = 0x38;
const ICR: usize = 0x44;
const FR_TXFF: u32 = 1 << 5;
const FR_RXFE: u32 = 1 << 4;
/// Receive and receive-timeout interrupts.
const RX_IRQS: u32 = (1 << 4) | (1 << 6);

struct State {
    /// VMM virtual address of the UART's registers (device memory).
    base: usize,
    irq: Option<IrqHandler>,
    mux: LineMux,
}

/// The root task is one thread: the cell is never shared across threads.
struct Global(RefCell<Option<State>>);
// SAFETY: the root task runs a single thread; nothing here is reached
// from another thread or an interrupt context.
unsafe impl Sync for Global {}

static UART: Global = Global(RefCell::new(None));

impl State {
    fn reg(&self, off: usize) -> *mut u32 {
        (self.base + off) as *mut u32
    }
    fn read(&self, off: usize) -> u32 {
        // SAFETY: `base` maps the PL011's 4 KiB register frame uncached
        // for the life of the program; `off` is a register offset in it.
        unsafe { self.reg(off).read_volatile() }
    }
    fn write(&self, off: usize, v: u32) {
        // SAFETY: as in `read`.
        unsafe { self.reg(off).write_volatile(v) }
    }
    fn put(&self, bytes: &[u8], crlf: bool) {
        for &b in bytes {
            if crlf && b == b'\n' {
                self.put_byte(b'\r');
            }
            self.put_byte(b);
        }
    }
    fn put_byte(&self, b: u8) {
        while self.read(FR) & FR_TXFF != 0 {}
        self.write(DR, u32::from(b));
    }
}

/// Takes over the UART mapped at `base`: from now on the VMM's messages
/// go here (through the line mux) instead of the kernel's debug console.
pub fn init(base: usize) {
    let s = State {
        base,
        irq: None,
        mux: LineMux::new(),
    };
    // Input by interrupt; output is polled.
    s.write(IMSC, s.read(IMSC) | RX_IRQS);
    *UART.0.borrow_mut() = Some(s);
    sel4_rt::console::set_sink(vmm_sink);
}

/// Sets the IRQ handler acknowledged after input was drained.
pub fn set_irq_handler(h: IrqHandler) {
    if let Some(s) = UART.0.borrow_mut().as_mut() {
        s.irq = Some(h);
    }
}

fn vmm_sink(bytes: &[u8]) {
    match UART.0.try_borrow_mut() {
        Ok(mut g) => match g.as_mut() {
            Some(s) => {
                let mut mux = s.mux;
                mux.write(Source::Vmm, bytes, |b| s.put(b, true));
                s.mux = mux;
            }
            None => sel4_rt::console::kernel_put(bytes),
        },
        // Printing from inside a UART call (a panic there): the kernel's way.
        Err(_) => sel4_rt::console::kernel_put(bytes),
    }
}

/// The guest's side of the UART: the backend of the early PL011 and of
/// the virtio console.
pub struct GuestSide;

impl ConsoleBackend for GuestSide {
    fn write(&mut self, bytes: &[u8]) {
        if let Ok(mut g) = UART.0.try_borrow_mut() {
            if let Some(s) = g.as_mut() {
                let mut mux = s.mux;
                // The guest's tty layer sends its own CR LF.
                mux.write(Source::Guest, bytes, |b| s.put(b, false));
                s.mux = mux;
            }
        }
    }

    fn read(&mut self, buf: &mut [u8]) -> usize {
        let Ok(g) = UART.0.try_borrow() else { return 0 };
        let Some(s) = g.as_ref() else { return 0 };
        let mut n = 0;
        loop {
            while n < buf.len() && s.read(FR) & FR_RXFE == 0 {
                buf[n] = s.read(DR) as u8;
                n += 1;
            }
            if n == buf.len() {
                // More may wait: the caller reads again before the IRQ is acked.
                return n;
            }
            // FIFO empty: clear the interrupt, then look again. A byte that
            // came after the check would otherwise sit in the FIFO with
            // its interrupt cleared; QEMU's PL011 raises RX only when the
            // fill level reaches the trigger, so input would stop for good.
            s.write(ICR, RX_IRQS);
            if s.read(FR) & FR_RXFE != 0 {
                break;
            }
        }
        if let Some(h) = s.irq {
            let _ = h.irq_handler_ack();
        }
        n
    }
}
