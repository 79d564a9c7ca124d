//! With `SEL4_PREFIX` set: builds `libsel4vm.a` for aarch64 seL4 (with the
//! root-task runtime), compiles the C VMM example against it with
//! `aarch64-linux-gnu-gcc -ffreestanding`, packs it with the kernel into a
//! boot image and runs it on QEMU; the guest program runs in a real vCPU.
//! Without `SEL4_PREFIX` (or without aarch64-linux-gnu-gcc / QEMU on PATH at
//! build time) the test is ignored; run with `--ignored` it fails.

mod support;
use support::{build_aarch64, ok, repo, run_c_vmm_in_qemu, sel4_prefix};

use std::path::PathBuf;
use std::process::Command;

#[test]
#[cfg_attr(not(sel4_prefix), ignore = "needs SEL4_PREFIX")]
#[cfg_attr(
    all(sel4_prefix, not(all(has_aarch64_gcc, has_qemu_aarch64))),
    ignore = "aarch64-linux-gnu-gcc or qemu-system-aarch64 not found on PATH (apt install gcc-aarch64-linux-gnu qemu-system-arm)"
)]
fn c_vmm_example_runs_on_sel4_in_qemu() {
    let prefix = sel4_prefix();
    let repo = repo();
    let rel = build_aarch64(&["sel4vm-loader"]);
    let lib = rel.join("libsel4vm.a");
    let loader = rel.join("sel4vm-loader");

    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("sel4-c-vmm");
    std::fs::create_dir_all(&out).unwrap();
    let elf = out.join("c-vmm.elf");
    let ex = repo.join("examples/c-vmm");
    ok(Command::new("aarch64-linux-gnu-gcc")
        .args(["-std=gnu11", "-Wall", "-Wextra", "-Werror", "-O2"])
        .args([
            "-ffreestanding",
            "-fno-stack-protector",
            "-mgeneral-regs-only",
        ])
        .args([
            "-nostdlib",
            "-static",
            "-Wl,--gc-sections",
            "-Wl,--build-id=none",
        ])
        .arg("-I")
        .arg(repo.join("capi/include"))
        .arg("-I")
        .arg(prefix.join("libsel4/include"))
        .arg("-I")
        .arg(&ex)
        .arg(ex.join("vmm.c"))
        .arg(ex.join("sel4_main.c"))
        .arg(ex.join("sel4_alloc.c"))
        .arg(&lib)
        .arg("-lgcc")
        .arg("-T")
        .arg(repo.join("sel4-rt/link.ld"))
        .arg("-o")
        .arg(&elf));

    let kernel = sel4vm_image::KernelInstall::open(&prefix).expect("open SEL4_PREFIX");
    run_c_vmm_in_qemu(&kernel, &loader, &elf, &out);
}
