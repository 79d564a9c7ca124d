//! Installing what the commands need on a fresh Debian machine.

use crate::Result;
use std::process::Command;

fn have(cmd: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {cmd} >/dev/null 2>&1")])
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Installs Debian packages whose command is missing, or names them in the error.
fn ensure_debs(wanted: &[(&str, &str)]) -> Result<()> {
    let missing: Vec<&str> = wanted
        .iter()
        .filter(|(cmd, _)| !have(cmd))
        .map(|(_, pkg)| *pkg)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    if !have("apt-get") || !is_root {
        return Err(format!(
            "missing tools; install the Debian packages: {}",
            missing.join(" ")
        ));
    }
    println!("xtask: installing Debian packages: {}", missing.join(" "));
    let quiet = |c: &mut Command| c.env("DEBIAN_FRONTEND", "noninteractive").status();
    let ok = quiet(Command::new("apt-get").args(["-qq", "update"]))
        .map(|s| s.success())
        .unwrap_or(false)
        && quiet(
            Command::new("apt-get")
                .args(["-qq", "install", "-y", "--no-install-recommends"])
                .args(&missing),
        )
        .map(|s| s.success())
        .unwrap_or(false);
    if ok {
        Ok(())
    } else {
        Err(format!(
            "could not install the Debian packages: {}",
            missing.join(" ")
        ))
    }
}

/// Tools the host tests shell out to: the aarch64 assembler/objdump (instruction-encoding
/// checks), QEMU (DTB dumps), cpio (initramfs), dtc (guest DTB), cmake (the CMake package).
/// With a kernel, also the aarch64 C compiler (the C VMM example on seL4).
pub fn ensure_host_test_tools() -> Result<()> {
    ensure_debs(&[
        ("aarch64-linux-gnu-as", "binutils-aarch64-linux-gnu"),
        ("qemu-system-aarch64", "qemu-system-arm"),
        ("cpio", "cpio"),
        ("dtc", "device-tree-compiler"),
        ("cmake", "cmake"),
        ("cc", "gcc"),
    ])?;
    if crate::kernel::prefix().is_some() {
        ensure_debs(&[("aarch64-linux-gnu-gcc", "gcc-aarch64-linux-gnu")])?;
    }
    Ok(())
}

/// Tools for building and booting target code: the Rust target and QEMU.
pub fn ensure_target_tools() -> Result<()> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("aarch64-unknown-none"));
    match installed {
        Ok(true) => {}
        Ok(false) => {
            let ok = Command::new("rustup")
                .args(["target", "add", "aarch64-unknown-none"])
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if !ok {
                return Err("`rustup target add aarch64-unknown-none` failed".into());
            }
        }
        Err(_) => {
            return Err(
                "rustup not found: install the Rust target aarch64-unknown-none by hand".into(),
            )
        }
    }
    ensure_debs(&[("qemu-system-aarch64", "qemu-system-arm")])
}
