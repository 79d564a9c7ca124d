//! Compile-and-link test of consumer-shaped C code (`capi/tests/c/consumers/`,
//! see `consumer.h` there): code that uses libsel4vm the way
//! libsel4vmmplatsupport's ARM fault/PSCI handling, boot setup and virtio
//! helpers and camkes-vm VM_Arm's modules do, built with
//! `-Wall -Wextra -Werror` against the headers.
//!
//! * Host (`cfg(has_cc)`): compiled and linked with the host `libsel4vm.a`
//!   and run; `host_main.c` plays kernel and guest and checks every result
//!   (PSCI CPU_ON starting vCPU 1, MRS emulation, virtio buffer processed in
//!   guest RAM, interrupts injected and acknowledged, error exits). Also
//!   `processor_values.c`: the processor.h / gen_config.h values.
//! * aarch64 (`SEL4_PREFIX` and the Debian cross tools): the same files plus
//!   `sel4_main.c` compiled with `aarch64-linux-gnu-gcc -ffreestanding`
//!   against the kernel's libsel4 headers, then linked by
//!   `aarch64-linux-gnu-ld` (no `--gc-sections`, so every reference must
//!   resolve) with the aarch64 `libsel4vm.a` built with the `root-task`
//!   runtime, the runtime's linker script and libgcc -- as the C example's
//!   seL4 build does. Nothing is stubbed: libsel4's system calls are inline
//!   assembly in its headers and in the Rust code, so a complete static
//!   executable links; the test checks it has no undefined symbols and
//!   contains the consumer entry points. It is not run (no QEMU here; the C
//!   example's QEMU run is `sel4_qemu.rs`).

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn consumers_dir() -> PathBuf {
    repo().join("capi/tests/c/consumers")
}

/// The platform-independent consumer files (entry files excluded).
const CONSUMER_FILES: &[&str] = &["vcpu_fault.c", "boot.c", "virtio.c", "modules.c"];

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

fn tmp(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
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

fn host_cc() -> Command {
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let mut words = cc.split_whitespace();
    let mut cmd = Command::new(words.next().expect("CC is empty"));
    cmd.args(words)
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-O1"])
        .arg("-I")
        .arg(repo().join("capi/include"));
    cmd
}

#[test]
#[cfg_attr(
    not(has_cc),
    ignore = "no C compiler on PATH (cc or $CC, and nm; apt install gcc)"
)]
fn consumer_code_builds_links_and_runs_on_host() {
    let d = tmp("consumers-host");
    let exe = d.join("consumers");
    let dir = consumers_dir();
    ok(host_cc()
        .args(CONSUMER_FILES.iter().map(|f| dir.join(f)))
        .arg(dir.join("host_main.c"))
        .arg(host_staticlib())
        .args(["-lpthread", "-ldl", "-lm", "-o"])
        .arg(&exe));
    let out = ok(&mut Command::new(&exe));
    assert!(out.contains("consumers: all checks passed"), "{out}");
    assert!(!out.contains("CHECK FAILED"), "{out}");
    // The dispatcher named the unhandled class through hsr_reasons.
    assert!(out.contains("HSR_FP64_EXCEPTION"), "{out}");
}

#[test]
#[cfg_attr(
    not(has_cc),
    ignore = "no C compiler on PATH (cc or $CC, and nm; apt install gcc)"
)]
fn processor_and_gen_config_values_are_libsel4vms() {
    let d = tmp("processor-values");
    let exe = d.join("processor_values");
    ok(host_cc()
        .arg(repo().join("capi/tests/c/processor_values.c"))
        .arg("-o")
        .arg(&exe));
    let out = ok(&mut Command::new(&exe));
    assert!(out.contains("processor_values: 0 failed"), "{out}");
}

#[test]
#[cfg_attr(not(sel4_prefix), ignore = "needs SEL4_PREFIX")]
#[cfg_attr(
    all(sel4_prefix, not(all(has_aarch64_gcc, has_aarch64_binutils))),
    ignore = "aarch64-linux-gnu-gcc or aarch64-linux-gnu-ld not found on PATH (apt install gcc-aarch64-linux-gnu binutils-aarch64-linux-gnu)"
)]
fn consumer_code_links_for_aarch64_sel4() {
    let prefix = std::env::var_os("SEL4_PREFIX")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .expect("SEL4_PREFIX is not set: this test needs an installed seL4 kernel");
    let repo = repo();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    // Own target dir (the outer cargo holds the lock on ours); the same one
    // as sel4_qemu.rs, so the archive is built once.
    let tdir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("sel4-cargo");
    let target = "aarch64-unknown-none";
    ok(Command::new(&cargo)
        .current_dir(&repo)
        .env("CARGO_TARGET_DIR", &tdir)
        .args(["build", "--release", "--target", target])
        .args(["-p", "sel4vm-capi", "--features", "root-task"]));
    let lib = tdir.join(target).join("release/libsel4vm.a");

    let d = tmp("consumers-aarch64");
    let dir = consumers_dir();
    let mut objects = Vec::new();
    for f in CONSUMER_FILES.iter().chain(&["sel4_main.c"]) {
        let obj = d.join(f).with_extension("o");
        ok(Command::new("aarch64-linux-gnu-gcc")
            .args(["-std=gnu11", "-Wall", "-Wextra", "-Werror", "-O2"])
            .args([
                "-ffreestanding",
                "-fno-stack-protector",
                "-mgeneral-regs-only",
            ])
            .arg("-I")
            .arg(repo.join("capi/include"))
            .arg("-I")
            .arg(prefix.join("libsel4/include"))
            .arg("-c")
            .arg(dir.join(f))
            .arg("-o")
            .arg(&obj));
        objects.push(obj);
    }
    let libgcc = ok(Command::new("aarch64-linux-gnu-gcc").arg("-print-libgcc-file-name"));
    let elf = d.join("consumers.elf");
    ok(Command::new("aarch64-linux-gnu-ld")
        .args(["-static", "--build-id=none", "-T"])
        .arg(repo.join("sel4-rt/link.ld"))
        .args(&objects)
        .arg(&lib)
        .arg(libgcc.trim())
        .arg("-o")
        .arg(&elf));

    // objdump (the tool cfg has_aarch64_binutils probes, with its override).
    let objdump = std::env::var("SEL4VM_AARCH64_OBJDUMP")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .unwrap_or_else(|| "aarch64-linux-gnu-objdump".into());
    let table = ok(Command::new(&objdump).arg("-t").arg(&elf));
    let undefined: Vec<&str> = table.lines().filter(|l| l.contains("*UND*")).collect();
    assert!(undefined.is_empty(), "undefined symbols: {undefined:#?}");
    for s in [
        "_start",
        "sel4vm_root_main",
        "cons_handle_vcpu_exception",
        "cons_boot",
        "vm_init",
        "vm_register_smc_handler_callback",
    ] {
        assert!(
            table
                .lines()
                .any(|l| l.split_whitespace().last() == Some(s) && !l.contains("*UND*")),
            "{s} missing from the linked executable"
        );
    }
    let header = ok(Command::new(&objdump).arg("-f").arg(&elf));
    assert!(header.contains("elf64-littleaarch64"), "{header}");
}
