//! Output on the kernel's debug console (`seL4_DebugPutChar`, debug kernels
//! only) and a [`log`] backend over it. A program that drives the UART
//! itself redirects all of it with [`set_sink`].

use core::fmt::{self, Write};
use core::sync::atomic::{AtomicPtr, Ordering};

/// Where output goes instead of `seL4_DebugPutChar` (null: the kernel).
static SINK: AtomicPtr<()> = AtomicPtr::new(core::ptr::null_mut());

/// Sends everything [`DebugConsole`] (and so `print!`, `println!`, the
/// logger and the panic handler) writes to `sink` from now on. The sink
/// must not print itself.
pub fn set_sink(sink: fn(&[u8])) {
    SINK.store(sink as *mut (), Ordering::Release);
}

/// Writes bytes on the kernel debug console, bypassing any sink.
pub fn kernel_put(bytes: &[u8]) {
    #[cfg(all(target_arch = "aarch64", target_os = "none"))]
    for &b in bytes {
        sel4_abi::syscall::debug_put_char(b);
    }
    #[cfg(not(all(target_arch = "aarch64", target_os = "none")))]
    let _ = bytes;
}

/// Writes to the kernel debug console, or to the [`set_sink`] sink. On
/// the host (tests) kernel output is dropped.
#[derive(Clone, Copy, Debug, Default)]
pub struct DebugConsole;

impl Write for DebugConsole {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let p = SINK.load(Ordering::Acquire);
        if !p.is_null() {
            // SAFETY: only `set_sink` stores here, always a `fn(&[u8])`.
            let sink: fn(&[u8]) = unsafe { core::mem::transmute(p) };
            sink(s.as_bytes());
            return Ok(());
        }
        #[cfg(all(target_arch = "aarch64", target_os = "none"))]
        for b in s.bytes() {
            sel4_abi::syscall::debug_put_char(b);
        }
        #[cfg(not(all(target_arch = "aarch64", target_os = "none")))]
        let _ = s;
        Ok(())
    }
}

/// Prints to the debug console.
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => {{
        let _ = core::fmt::Write::write_fmt(&mut $crate::console::DebugConsole, format_args!($($arg)*));
    }};
}

/// Prints a line to the debug console.
#[macro_export]
macro_rules! println {
    () => { $crate::print!("\n") };
    ($($arg:tt)*) => {{
        let _ = core::fmt::Write::write_fmt(
            &mut $crate::console::DebugConsole,
            format_args!("{}\n", format_args!($($arg)*)),
        );
    }};
}

/// Formats one log record the way the logger prints it:
/// `LEVEL [target] message` (target omitted when empty).
pub fn format_record(
    out: &mut impl Write,
    level: log::Level,
    target: &str,
    args: fmt::Arguments<'_>,
) -> fmt::Result {
    let tag = match level {
        log::Level::Error => "ERROR",
        log::Level::Warn => "WARN ",
        log::Level::Info => "INFO ",
        log::Level::Debug => "DEBUG",
        log::Level::Trace => "TRACE",
    };
    if target.is_empty() {
        writeln!(out, "{tag} {args}")
    } else {
        writeln!(out, "{tag} [{target}] {args}")
    }
}

/// A [`log::Log`] that prints every enabled record on the debug console.
pub struct DebugLogger;

static LOGGER: DebugLogger = DebugLogger;

impl log::Log for DebugLogger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            // One formatted line per call; lines from several threads may
            // still interleave character by character.
            let _ = format_record(
                &mut DebugConsole,
                record.level(),
                record.target(),
                *record.args(),
            );
        }
    }

    fn flush(&self) {}
}

/// Installs the debug-console logger (idempotent) with the given maximum level.
pub fn init_logger(level: log::LevelFilter) {
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(level);
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::String;

    #[test]
    fn record_format() {
        let mut s = String::new();
        format_record(
            &mut s,
            log::Level::Warn,
            "vmm::gic",
            format_args!("irq {} lost", 33),
        )
        .unwrap();
        assert_eq!(s, "WARN  [vmm::gic] irq 33 lost\n");
        s.clear();
        format_record(&mut s, log::Level::Error, "", format_args!("x")).unwrap();
        assert_eq!(s, "ERROR x\n");
    }
}
