//! Running QEMU: interactively, or under the system-test harness with a time limit.

use crate::kernel::KernelInstall;
use crate::Result;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

fn command(kernel: &KernelInstall, image: &Path) -> Command {
    let mut c = Command::new("qemu-system-aarch64");
    c.args(kernel.qemu_args())
        .args(["-nographic", "-kernel"])
        .arg(image);
    c.args(extra_from_env());
    c
}

/// Extra QEMU arguments from `SEL4VM_QEMU_EXTRA` (whitespace-separated), appended to every
/// QEMU this module starts: a profiling hook, e.g. `-gdb tcp::1234` for `tools/pcsample.py`.
pub fn extra_from_env() -> Vec<String> {
    std::env::var("SEL4VM_QEMU_EXTRA")
        .map(|s| s.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default()
}

// ---- Linux VMM (vmm helper): extra QEMU arguments placing guest images ----

/// `command` plus `extra` arguments (the VMM's `-device loader` placements).
fn command_with(kernel: &KernelInstall, image: &Path, extra: &[String]) -> Command {
    let mut c = command(kernel, image);
    c.args(extra);
    c
}

/// Interactive run with extra arguments.
pub fn run_interactive_with(kernel: &KernelInstall, image: &Path, extra: &[String]) -> Result<()> {
    let status = command_with(kernel, image, extra)
        .status()
        .map_err(|e| format!("cannot start qemu-system-aarch64: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("QEMU exited with {status}"))
    }
}

impl Session {
    /// A watched run of the seL4 image with extra arguments.
    pub fn start_with(
        kernel: &KernelInstall,
        image: &Path,
        extra: &[String],
        limit: Duration,
    ) -> Result<Session> {
        Session::spawn(command_with(kernel, image, extra), limit)
    }

    /// A watched run of QEMU with exactly `args` (e.g. a direct Linux boot).
    pub fn start_args(args: &[String], limit: Duration) -> Result<Session> {
        let mut c = Command::new("qemu-system-aarch64");
        c.args(args);
        c.args(extra_from_env());
        Session::spawn(c, limit)
    }
}

pub fn run_interactive(kernel: &KernelInstall, image: &Path) -> Result<()> {
    let status = command(kernel, image)
        .status()
        .map_err(|e| format!("cannot start qemu-system-aarch64: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("QEMU exited with {status}"))
    }
}

/// A QEMU run whose serial output is watched for markers.
pub struct Session {
    child: Child,
    stdin: Option<ChildStdin>,
    rx: Receiver<Vec<u8>>,
    /// Everything the guest printed so far.
    pub output: String,
    /// How far `expect` has consumed `output`.
    cursor: usize,
    deadline: Instant,
}

/// Output that fails a benchmark run of the Linux guest.
pub const GUEST_FAILURES: &[&str] = &[
    "Kernel panic",
    "panicked at",
    "VMM: error",
    "VMM: unhandled",
];

pub enum Wait {
    Found,
    Forbidden(String),
    Timeout,
    Exited,
}

impl Session {
    pub fn start(kernel: &KernelInstall, image: &Path, limit: Duration) -> Result<Session> {
        Session::spawn(command(kernel, image), limit)
    }

    fn spawn(mut cmd: Command, limit: Duration) -> Result<Session> {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start qemu-system-aarch64: {e}"))?;
        let (tx, rx) = channel();
        for mut src in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = src.read(&mut buf) {
                    if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                        break;
                    }
                }
            });
        }
        Ok(Session {
            stdin: child.stdin.take(),
            child,
            rx,
            output: String::new(),
            cursor: 0,
            deadline: Instant::now() + limit,
        })
    }

    /// Waits until `marker` appears after the previous match, or a forbidden marker appears.
    pub fn expect(&mut self, marker: &str, forbidden: &[&str]) -> Wait {
        loop {
            if let Some(f) = forbidden.iter().find(|f| self.output.contains(**f)) {
                return Wait::Forbidden(f.to_string());
            }
            if let Some(pos) = self.output[self.cursor..].find(marker) {
                self.cursor += pos + marker.len();
                return Wait::Found;
            }
            let left = self.deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Wait::Timeout;
            }
            match self.rx.recv_timeout(left.min(Duration::from_millis(200))) {
                Ok(bytes) => self.output.push_str(&String::from_utf8_lossy(&bytes)),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return Wait::Exited,
            }
        }
    }

    /// [`Session::expect`] as a `Result`, with what went wrong in words.
    pub fn expect_ok(&mut self, marker: &str, forbidden: &[&str]) -> Result<()> {
        match self.expect(marker, forbidden) {
            Wait::Found => Ok(()),
            Wait::Forbidden(m) => Err(format!("forbidden marker `{m}`")),
            Wait::Timeout => Err(format!("timed out waiting for `{marker}`")),
            Wait::Exited => Err(format!("QEMU exited before `{marker}`")),
        }
    }

    /// Waits for the Linux guest's `GUEST-BOOTED` line, then for its shell
    /// to answer a typed `echo` (input typed while busybox starts its line
    /// editor can be lost, so it is retried); leaves a limit of `limit`.
    pub fn shell_up(&mut self, forbidden: &[&str], limit: Duration) -> Result<()> {
        self.expect_ok("GUEST-BOOTED", forbidden)?;
        self.expect_ok("cpus=", forbidden)?;
        for i in 0..5 {
            self.set_limit(Duration::from_secs(10));
            self.send(&format!("echo SH''ELL-{i}\n"))?;
            if self.expect_ok(&format!("SHELL-{i}"), forbidden).is_ok() {
                self.set_limit(limit);
                return Ok(());
            }
        }
        Err("the guest shell never answered".to_string())
    }

    /// QEMU's process id (the benchmark reads `/proc/<pid>/stat`).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// From now on, `expect` gives up `limit` from now.
    pub fn set_limit(&mut self, limit: Duration) {
        self.deadline = Instant::now() + limit;
    }

    pub fn send(&mut self, text: &str) -> Result<()> {
        let stdin = self.stdin.as_mut().ok_or("QEMU stdin closed")?;
        stdin
            .write_all(text.as_bytes())
            .and_then(|_| stdin.flush())
            .map_err(|e| format!("writing to QEMU: {e}"))
    }

    /// Drains what is still buffered (for the log) and stops QEMU.
    pub fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        while let Ok(bytes) = self.rx.recv_timeout(Duration::from_millis(100)) {
            self.output.push_str(&String::from_utf8_lossy(&bytes));
        }
        self.output
    }
}
