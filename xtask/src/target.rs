//! Cargo invocations and boot-image packing.

use crate::kernel::KernelInstall;
use crate::Result;
use std::path::{Path, PathBuf};
use std::process::Command;

pub const TARGET: &str = "aarch64-unknown-none";

/// Crates built for seL4 (`cargo build --target aarch64-unknown-none`).
const TARGET_CRATES: &[&str] = &[
    "sel4-abi",
    "sel4-rt",
    "sel4vm",
    "sel4vm-sel4",
    "libvmm-compat",
    "sel4vm-loader",
    "hello",
    "guest-mmio",
    "guest-timer",
    "guest-smp",
    "guest-escape",
    "guest-virtio",
    "guest-net",
    "guest-wfx",
    "sel4vm-devices",
    "sel4vm-root-task",
];

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

pub fn cargo(args: &[&str]) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(&cargo)
        .args(args)
        .current_dir(workspace_root())
        .status()
        .map_err(|e| format!("cannot run {cargo}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`cargo {}` failed ({status})", args.join(" ")))
    }
}

/// Totals of the `test result:` lines of a `cargo test` run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TestCounts {
    pub passed: usize,
    pub failed: usize,
    pub ignored: usize,
    /// `name: reason` of each test ignored for another reason than a missing seL4 kernel
    /// (`test NAME ... ignored, REASON`; see [`KERNEL_IGNORE_REASONS`]).
    pub ignored_not_sel4: Vec<String>,
    /// `name: reason` of each test ignored for want of a seL4 kernel (accepted; printed).
    pub ignored_kernel: Vec<String>,
}

/// Ignore reasons `cargo xtask test` accepts: the test needs a seL4 kernel the
/// machine may not have, an install (`SEL4_PREFIX`) or a source tree
/// (`SEL4_SOURCE_DIR`, for the CMake build that configures it in-tree).
/// Any other ignored test fails the step, since xtask installed the tools.
pub const KERNEL_IGNORE_REASONS: &[&str] = &["SEL4_PREFIX", "SEL4_SOURCE_DIR"];

impl TestCounts {
    /// Adds one libtest summary line (`test result: ok. 3 passed; 0 failed; 1 ignored; ...`).
    fn add_line(&mut self, line: &str) {
        if let Some((name, verdict)) = line
            .trim()
            .strip_prefix("test ")
            .and_then(|t| t.rsplit_once(" ... "))
        {
            if let Some(reason) = verdict.strip_prefix("ignored") {
                let reason = reason.trim_start_matches(", ");
                if KERNEL_IGNORE_REASONS.iter().any(|k| reason.contains(k)) {
                    self.ignored_kernel.push(format!("{name}: {reason}"));
                } else {
                    let reason = if reason.is_empty() {
                        "no reason"
                    } else {
                        reason
                    };
                    self.ignored_not_sel4.push(format!("{name}: {reason}"));
                }
            }
            return;
        }
        let Some(rest) = line.trim().strip_prefix("test result: ") else {
            return;
        };
        for part in rest.split(';') {
            let mut words = part.split_whitespace().rev();
            let (Some(what), Some(n)) = (words.next(), words.next()) else {
                continue;
            };
            let Ok(n) = n.parse::<usize>() else { continue };
            match what {
                "passed" => self.passed += n,
                "failed" => self.failed += n,
                "ignored" => self.ignored += n,
                _ => {}
            }
        }
    }
}

/// `cargo test ARGS`, echoing its output and totalling the test counts.
pub fn cargo_test(args: &[&str]) -> Result<TestCounts> {
    use std::io::BufRead;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut child = Command::new(&cargo)
        .arg("test")
        .args(args)
        .current_dir(workspace_root())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {cargo}: {e}"))?;
    let mut counts = TestCounts::default();
    let stdout = child.stdout.take().expect("piped stdout");
    for line in std::io::BufReader::new(stdout).lines() {
        let line = line.map_err(|e| format!("reading cargo test output: {e}"))?;
        println!("{line}");
        counts.add_line(&line);
    }
    let status = child.wait().map_err(|e| e.to_string())?;
    if status.success() {
        Ok(counts)
    } else {
        Err(format!("`cargo test` failed ({status})"))
    }
}

fn with_packages<'a>(base: &[&'a str], pkgs: &[&'a str]) -> Vec<&'a str> {
    let mut v = base.to_vec();
    for p in pkgs {
        v.extend(["-p", p]);
    }
    v
}

pub fn build_all_target() -> Result<()> {
    cargo(&with_packages(
        &["build", "--release", "--target", TARGET],
        TARGET_CRATES,
    ))
}

pub fn clippy_target() -> Result<()> {
    let mut args = with_packages(&["clippy", "--release", "--target", TARGET], TARGET_CRATES);
    args.extend(["--", "-D", "warnings"]);
    cargo(&args)
}

fn build_bin(package: &str, bin: &str) -> Result<PathBuf> {
    cargo(&["build", "--release", "--target", TARGET, "-p", package])?;
    let elf = target_dir().join(TARGET).join("release").join(bin);
    if elf.is_file() {
        Ok(elf)
    } else {
        Err(format!("{} was not produced by the build", elf.display()))
    }
}

/// Builds a root task by example name (`hello`) or `vmm` for the Linux VMM.
pub fn build_root_task(name: &str) -> Result<PathBuf> {
    match name {
        "vmm" => build_bin("sel4vm-root-task", "sel4vm-root-task"),
        // Root tasks are the examples with a binary (not shared crates such as guest-support).
        n if workspace_root()
            .join("examples")
            .join(n)
            .join("src/main.rs")
            .is_file() =>
        {
            build_bin(n, n)
        }
        n => Err(format!("unknown example `{n}` (see examples/)")),
    }
}

/// Packs kernel + DTB + root task into one image QEMU boots with `-kernel`.
pub fn pack_image(kernel: &KernelInstall, root_task: &Path, name: &str) -> Result<PathBuf> {
    let loader = build_bin("sel4vm-loader", "sel4vm-loader")?;
    let read = |p: &Path| std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()));
    let image = kernel
        .pack(&read(&loader)?, &read(root_task)?)
        .map_err(|e| format!("packing the boot image for {name}: {e}"))?;
    let out = target_dir().join("images").join(format!("{name}.img"));
    std::fs::create_dir_all(out.parent().unwrap()).map_err(|e| e.to_string())?;
    std::fs::write(&out, image).map_err(|e| format!("{}: {e}", out.display()))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::TestCounts;

    #[test]
    fn libtest_summary_lines_are_totalled() {
        let mut c = TestCounts::default();
        c.add_line("test result: ok. 34 passed; 0 failed; 2 ignored; 0 measured; 0 filtered out; finished in 0.00s");
        c.add_line("running 3 tests");
        c.add_line(
            "test result: FAILED. 6 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out",
        );
        c.add_line("test boots ... ignored, needs SEL4_PREFIX");
        c.add_line("test intree ... ignored, needs SEL4_SOURCE_DIR (a seL4 kernel source tree)");
        c.add_line("test dtc_decompiles_it ... ignored, dtc not found on PATH");
        c.add_line("test src/lib.rs - m (line 9) ... ignored");
        c.add_line("test fine ... ok");
        assert_eq!(
            c,
            TestCounts {
                passed: 40,
                failed: 1,
                ignored: 2,
                ignored_not_sel4: vec![
                    "dtc_decompiles_it: dtc not found on PATH".into(),
                    "src/lib.rs - m (line 9): no reason".into(),
                ],
                ignored_kernel: vec![
                    "boots: needs SEL4_PREFIX".into(),
                    "intree: needs SEL4_SOURCE_DIR (a seL4 kernel source tree)".into(),
                ],
            }
        );
    }
}
