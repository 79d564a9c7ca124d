//! The libvmm C API in `libsel4vm.a`, both versions in one program:
//! `capi/tests/c/libvmm/v1.c` (libvmm 0.1.0, the default) and `v2.c`
//! (libvmm 0.2.0, `LIBVMM_API_VERSION=2`) are compiled with
//! `-Wall -Wextra -Werror` and linked with `main.c` against the host
//! `libsel4vm.a`, then run: each calls its version's functions on a default
//! guest the `libvmm_host_*` helpers install and checks every result (IRQ
//! delivery and acks, level lines, deregistration, images in guest RAM,
//! restart, bad input refused). Linking both proves the two symbol sets do
//! not collide.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn ok(c: &mut Command) -> String {
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

/// The host `libsel4vm.a` of this test run (as in `c_api.rs`).
fn host_staticlib() -> PathBuf {
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

#[test]
#[cfg_attr(
    not(has_cc),
    ignore = "no C compiler on PATH (cc or $CC, and nm; apt install gcc)"
)]
fn libvmm_0_1_0_and_0_2_0_c_code_links_and_runs_on_host() {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("libvmm-c");
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    let exe = d.join("libvmm-c");
    let src = repo().join("capi/tests/c/libvmm");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let mut words = cc.split_whitespace();
    ok(Command::new(words.next().expect("CC is empty"))
        .args(words)
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-O1", "-I"])
        .arg(repo().join("libvmm-compat/include"))
        .args(["main.c", "v1.c", "v2.c"].iter().map(|f| src.join(f)))
        .arg(host_staticlib())
        .args(["-lpthread", "-ldl", "-lm", "-o"])
        .arg(&exe));
    let out = ok(&mut Command::new(&exe));
    assert!(out.contains("libvmm: all checks passed"), "{out}");
    assert!(!out.contains("CHECK FAILED"), "{out}");

    // Each version's C names resolve to its own symbols.
    let nm = ok(Command::new("nm").arg(&exe));
    for sym in [
        "guest_start",
        "libvmm2_guest_start",
        "virq_register",
        "libvmm2_virq_register",
        "linux_setup_images",
        "libvmm2_linux_setup_images",
    ] {
        assert!(
            nm.lines().any(|l| l.ends_with(&format!(" T {sym}"))),
            "{sym} not defined in the program"
        );
    }
}
