//! The libvmm C API in `libsel4vm.a`, both versions in one program:
//! `capi/tests/c/libvmm/v1.c` (libvmm 0.1.0, the default) and `v2.c`
//! (libvmm 0.2.0, `LIBVMM_API_VERSION=2`) are compiled with
//! `-Wall -Wextra -Werror` and linked with `main.c` against the host
//! `libsel4vm.a`, then run: each calls its version's functions on a default
//! guest the `libvmm_host_*` helpers install and checks every result (IRQ
//! delivery and acks, level lines, deregistration, images in guest RAM,
//! restart, bad input refused). Linking both proves the two symbol sets do
//! not collide.

mod support;
use support::{host_staticlib, ok, repo};

use std::path::PathBuf;
use std::process::Command;

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
