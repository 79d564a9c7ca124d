//! With `SEL4_PREFIX` set: builds `libsel4vm.a` for aarch64 seL4 (with the
//! root-task runtime), compiles the C VMM example against it with
//! `aarch64-linux-gnu-gcc -ffreestanding`, packs it with the kernel into a
//! boot image and runs it on QEMU; the guest program runs in a real vCPU.
//! Without `SEL4_PREFIX` (or without aarch64-linux-gnu-gcc / QEMU on PATH at
//! build time) the test is ignored; run with `--ignored` it fails.

mod support;
use support::{build_aarch64, ok, repo, sel4_prefix};

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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
    let image = kernel
        .pack(
            &std::fs::read(&loader).unwrap(),
            &std::fs::read(&elf).unwrap(),
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
