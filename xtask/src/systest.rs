//! seL4 system tests: boot an image on QEMU and watch the serial console.

use crate::kernel::KernelInstall;
use crate::qemu::{Session, Wait};
use crate::target;
use std::time::Duration;

/// Markers that fail any system test: Rust panics, kernel fault reports, loader errors.
const FORBIDDEN: &[&str] = &[
    "panicked at",
    "CHECK FAILED",
    "Caught cap fault",
    "vm fault on",
    "Unknown syscall",
    "user exception",
    "loader: error",
];

/// One step of a system test: wait for `expect`, then optionally type `send`.
struct Step {
    expect: &'static str,
    send: Option<&'static str>,
}

struct SystemTest {
    name: &'static str,
    root_task: &'static str,
    steps: &'static [Step],
    limit: Duration,
}

const TESTS: &[SystemTest] = &[SystemTest {
    name: "hello",
    root_task: "hello",
    steps: &[
        Step {
            expect: "Booting all finished, dropped to user space",
            send: None,
        },
        Step {
            expect: "hello: all checks passed",
            send: None,
        },
    ],
    limit: Duration::from_secs(60),
}];

fn run_one(kernel: &KernelInstall, t: &SystemTest) -> Result<(), String> {
    let app = target::build_root_task(t.root_task)?;
    let image = target::pack_image(kernel, &app, t.root_task)?;
    let mut s = Session::start(kernel, &image, t.limit)?;
    let mut verdict = Ok(());
    for step in t.steps {
        match s.expect(step.expect, FORBIDDEN) {
            Wait::Found => {}
            Wait::Forbidden(m) => {
                verdict = Err(format!("forbidden marker `{m}`"));
                break;
            }
            Wait::Timeout => {
                verdict = Err(format!("timed out waiting for `{}`", step.expect));
                break;
            }
            Wait::Exited => {
                verdict = Err(format!("QEMU exited before `{}`", step.expect));
                break;
            }
        }
        if let Some(text) = step.send {
            s.send(text)?;
        }
    }
    let output = s.stop();
    let log = target::target_dir()
        .join("systest")
        .join(format!("{}.log", t.name));
    let _ = std::fs::create_dir_all(log.parent().unwrap());
    let _ = std::fs::write(&log, &output);
    verdict.map_err(|e| {
        let tail: String = tail_lines(&output, 30);
        format!("{e} (serial log: {})\n{tail}", log.display())
    })
}

fn tail_lines(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Runs every system test; returns the number passed and the names failed.
pub fn run_all(kernel: &KernelInstall) -> (usize, Vec<String>) {
    let mut passed = 0;
    let mut failed = Vec::new();
    for t in TESTS {
        match run_one(kernel, t) {
            Ok(()) => {
                println!("system test {} ... ok", t.name);
                passed += 1;
            }
            Err(e) => {
                println!("system test {} ... FAILED: {e}", t.name);
                failed.push(t.name.to_string());
            }
        }
    }
    (passed, failed)
}
