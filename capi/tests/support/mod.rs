//! What the C-facing tests share: paths, the `libsel4vm.a` of this test
//! run, the host compiler with the project's warning flags, and running
//! commands that must succeed. Each test binary uses part of it.
#![allow(dead_code)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// `capi/include`.
pub fn include_dir() -> PathBuf {
    repo().join("capi/include")
}

/// Runs `c`; panics with its output unless it succeeds. Returns stdout.
pub fn ok(c: &mut Command) -> String {
    let o = c.output().unwrap_or_else(|e| panic!("{c:?}: {e}"));
    assert!(
        o.status.success(),
        "{c:?} failed ({}):\n{}{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A fresh scratch directory under cargo's test tmpdir.
pub fn tmp(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The host `libsel4vm.a` cargo built for this test run: next to the test
/// binary (`deps/libsel4vm-<hash>.a`, newest first) or uplifted one level up.
pub fn host_staticlib() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap();
    let mut found: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(deps)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy().into_owned();
            n.starts_with("libsel4vm") && n.ends_with(".a")
        })
        .filter_map(|p| Some((p.metadata().ok()?.modified().ok()?, p)))
        .collect();
    found.sort();
    if let Some((_, p)) = found.pop() {
        return p;
    }
    let up = deps.parent().unwrap().join("libsel4vm.a");
    assert!(
        up.exists(),
        "libsel4vm.a not found next to {}",
        exe.display()
    );
    up
}

/// `$CC` (or `cc`, possibly with arguments) as a command word list.
pub fn cc_words() -> Vec<String> {
    std::env::var("CC")
        .unwrap_or_else(|_| "cc".into())
        .split_whitespace()
        .map(String::from)
        .collect()
}

/// The host C compiler with C11, `-Wall -Wextra -Werror -O1` and the
/// `<sel4vm/...>` include path.
pub fn host_cc() -> Command {
    let words = cc_words();
    let (first, rest) = words.split_first().expect("CC is empty");
    let mut cmd = Command::new(first);
    cmd.args(rest)
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-O1"])
        .arg("-I")
        .arg(include_dir());
    cmd
}

/// Builds `libsel4vm.a` for aarch64 seL4 (with the root-task runtime), plus
/// `extra` packages, in a target dir of its own (the outer cargo holds the
/// lock on the test's one; shared by the tests so it is built once), and
/// returns the release output directory.
pub fn build_aarch64(extra: &[&str]) -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let tdir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("sel4-cargo");
    let target = "aarch64-unknown-none";
    let mut cmd = Command::new(&cargo);
    cmd.current_dir(repo())
        .env("CARGO_TARGET_DIR", &tdir)
        .args(["build", "--release", "--target", target])
        .args(["-p", "sel4vm-capi", "--features", "root-task"]);
    for p in extra {
        cmd.args(["-p", p]);
    }
    ok(&mut cmd);
    tdir.join(target).join("release")
}

/// `SEL4_PREFIX`, for the tests that need an installed kernel (they are
/// ignored without it at build time; forced with `--ignored`, they fail here).
pub fn sel4_prefix() -> PathBuf {
    std::env::var_os("SEL4_PREFIX")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .expect("SEL4_PREFIX is not set: this test needs an installed seL4 kernel")
}

/// Packs the C example's seL4 ELF `elf` with `kernel` and the boot loader
/// into `out/c-vmm.img`, boots it on QEMU and waits (90 s at most) for
/// `c-vmm: all checks passed`; panics with the serial log (also written to
/// `out/serial.log`) on a failure marker or timeout.
pub fn run_c_vmm_in_qemu(
    kernel: &sel4vm_image::KernelInstall,
    loader: &Path,
    elf: &Path,
    out: &Path,
) {
    let image = kernel
        .pack(
            &std::fs::read(loader).unwrap(),
            &std::fs::read(elf).unwrap(),
        )
        .expect("pack the boot image");
    let img = out.join("c-vmm.img");
    std::fs::write(&img, image).unwrap();

    let mut child = Command::new("qemu-system-aarch64")
        .args(kernel.qemu_args())
        .args(["-nographic", "-kernel"])
        .arg(&img)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start qemu-system-aarch64");
    let mut stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut log = String::new();
    let start = Instant::now();
    let verdict = loop {
        if let Ok(b) = rx.recv_timeout(Duration::from_millis(200)) {
            log.push_str(&String::from_utf8_lossy(&b));
        }
        if log.contains("c-vmm: all checks passed") {
            break Ok(());
        }
        if [
            "CHECK FAILED",
            "panic",
            "checks failed",
            "Caught cap fault",
            "vm fault on",
        ]
        .iter()
        .any(|b| log.contains(b))
        {
            break Err("failure marker");
        }
        if start.elapsed() > Duration::from_secs(90) {
            break Err("timeout");
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    std::fs::write(out.join("serial.log"), &log).unwrap();
    if let Err(why) = verdict {
        panic!("seL4 run of the C example failed ({why}); serial log:\n{log}");
    }
}
