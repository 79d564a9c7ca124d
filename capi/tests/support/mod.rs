//! What the C-facing tests share: paths, the `libsel4vm.a` of this test
//! run, the host compiler with the project's warning flags, and running
//! commands that must succeed. Each test binary uses part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

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
