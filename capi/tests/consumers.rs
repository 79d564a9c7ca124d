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

mod support;
use support::{build_aarch64, host_cc, host_staticlib, ok, repo, sel4_prefix, tmp};

use std::path::PathBuf;
use std::process::Command;

fn consumers_dir() -> PathBuf {
    repo().join("capi/tests/c/consumers")
}

/// The platform-independent consumer files (entry files excluded).
const CONSUMER_FILES: &[&str] = &["vcpu_fault.c", "boot.c", "virtio.c", "modules.c"];

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
    let prefix = sel4_prefix();
    let repo = repo();
    let lib = build_aarch64(&[]).join("libsel4vm.a");

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
