//! Installing what the commands need on a fresh Debian machine.

use crate::Result;
use std::process::Command;

#[path = "../../sel4-abi/build_support/host_tools_cfg.rs"]
mod host_tools_cfg;

fn have(cmd: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {cmd} >/dev/null 2>&1")])
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Installs Debian packages whose command is missing, or names them in the error.
fn ensure_debs(wanted: &[(&str, &str)]) -> Result<()> {
    let mut missing: Vec<&str> = wanted
        .iter()
        .filter(|(cmd, _)| !have(cmd))
        .map(|(_, pkg)| *pkg)
        .collect();
    missing.sort();
    missing.dedup();
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

/// The tools the host tests shell out to: every program of the shared tool table
/// (`sel4-abi/build_support/host_tools_cfg.rs`, whose build-time probe marks a test ignored
/// when its tool is missing), so that no host test is ignored for a missing tool.
pub fn ensure_host_test_tools() -> Result<()> {
    let wanted: Vec<(String, &str)> = host_tools_cfg::TOOLS
        .iter()
        .flat_map(|t| {
            t.programs
                .iter()
                .map(|(var, default)| (host_tools_cfg::command(*var, default), t.debian))
        })
        .collect();
    let wanted: Vec<(&str, &str)> = wanted.iter().map(|(c, p)| (c.as_str(), *p)).collect();
    ensure_debs(&wanted)
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
