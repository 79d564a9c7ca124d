//! End-to-end: build the loader, assemble a tiny root task, pack them with
//! the installed kernel and boot QEMU. Needs SEL4_PREFIX, qemu-system-aarch64
//! and aarch64-linux-gnu-{as,ld}; without them (at build time) each test is
//! ignored, and run with `--ignored` it fails.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use sel4vm_image::KernelInstall;

const MARKER: &str = "ROOT-TASK-MARKER: hello from the root task";

fn work_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("boot-qemu");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The kernel install `SEL4_PREFIX` names.
fn install() -> KernelInstall {
    let prefix = std::env::var_os("SEL4_PREFIX")
        .filter(|p| !p.is_empty())
        .expect("SEL4_PREFIX is not set: this test needs an installed seL4 kernel");
    KernelInstall::open(Path::new(&prefix)).expect("SEL4_PREFIX is not a usable kernel install")
}

/// Builds sel4vm-loader once per test run, in its own target dir.
fn loader_elf() -> Vec<u8> {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    let path = PATH.get_or_init(|| {
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let target_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("loader-build");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .current_dir(workspace)
            .args([
                "build",
                "-p",
                "sel4vm-loader",
                "--target",
                "aarch64-unknown-none",
                "--release",
            ])
            .env("CARGO_TARGET_DIR", &target_dir)
            .status()
            .expect("run cargo");
        assert!(status.success(), "building sel4vm-loader failed");
        target_dir.join("aarch64-unknown-none/release/sel4vm-loader")
    });
    std::fs::read(path).unwrap()
}

/// Assembles a root task that prints MARKER with seL4_DebugPutChar
/// (syscall -9 in x7, character in x0, `svc #0`) and spins.
fn root_task_elf() -> Vec<u8> {
    let dir = work_dir();
    let src = format!(
        "    .text\n    .global _start\n_start:\n    adr x19, msg\n1:  ldrb w0, [x19], #1\n    cbz w0, 2f\n    \
         mov x7, #-9\n    svc #0\n    b 1b\n2:  b 2b\nmsg:\n    .asciz \"{MARKER}\\n\"\n"
    );
    // Tests run in parallel: each assembles into files of its own.
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let (s, o, e) = (
        dir.join(format!("rt{n}.S")),
        dir.join(format!("rt{n}.o")),
        dir.join(format!("rt{n}.elf")),
    );
    std::fs::write(&s, src).unwrap();
    let ok = Command::new("aarch64-linux-gnu-as")
        .arg(&s)
        .arg("-o")
        .arg(&o)
        .status()
        .expect("run aarch64-linux-gnu-as")
        .success()
        && Command::new("aarch64-linux-gnu-ld")
            .args([
                "-static",
                "-nostdlib",
                "-Ttext=0x400000",
                "-e",
                "_start",
                "-o",
            ])
            .arg(&e)
            .arg(&o)
            .status()
            .expect("run aarch64-linux-gnu-ld")
            .success();
    assert!(ok, "assembling the root task failed");
    std::fs::read(e).unwrap()
}

/// Boots `image` and returns the console output once every string in
/// `expect` appeared (or after `timeout`).
fn boot(
    machine_args: &[String],
    image: &[u8],
    name: &str,
    expect: &[&str],
    timeout: Duration,
) -> String {
    let path = work_dir().join(format!("{name}.elf"));
    std::fs::write(&path, image).unwrap();
    let mut child = Command::new("qemu-system-aarch64")
        .args(machine_args)
        .args([
            "-nographic",
            "-monitor",
            "none",
            "-serial",
            "stdio",
            "-kernel",
        ])
        .arg(&path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start qemu-system-aarch64");
    let out = Arc::new(Mutex::new(String::new()));
    let mut stdout = child.stdout.take().unwrap();
    let sink = Arc::clone(&out);
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    let start = Instant::now();
    loop {
        let done = {
            let text = out.lock().unwrap();
            expect.iter().all(|e| text.contains(e))
        };
        if done || start.elapsed() > timeout || child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    let _ = reader.join();
    let text = out.lock().unwrap().clone();
    println!("---- {name} console ----\n{text}\n----");
    text
}

fn assert_all(text: &str, expect: &[&str]) {
    for e in expect {
        assert!(text.contains(e), "missing {e:?} in console output:\n{text}");
    }
}

#[test]
#[cfg_attr(not(sel4_prefix), ignore = "needs SEL4_PREFIX")]
#[cfg_attr(
    all(sel4_prefix, not(all(has_qemu_aarch64, has_aarch64_binutils))),
    ignore = "qemu-system-aarch64 or aarch64-linux-gnu-as/ld not found on PATH (apt install qemu-system-arm binutils-aarch64-linux-gnu)"
)]
fn packed_image_boots_sel4_and_root_task() {
    let install = install();
    let root = root_task_elf();
    let image = install.pack(&loader_elf(), &root).unwrap();
    let expect = [
        "sel4vm-loader: started at EL2",
        "loader: payload verified",
        "loader: entering kernel",
        "Bootstrapping kernel",
        "Booting all finished, dropped to user space",
        MARKER,
    ];
    let text = boot(
        &install.qemu_args(),
        &image,
        "boot",
        &expect,
        Duration::from_secs(60),
    );
    assert_all(&text, &expect);
}

#[test]
#[cfg_attr(not(sel4_prefix), ignore = "needs SEL4_PREFIX")]
#[cfg_attr(
    all(sel4_prefix, not(all(has_qemu_aarch64, has_aarch64_binutils))),
    ignore = "qemu-system-aarch64 or aarch64-linux-gnu-as/ld not found on PATH (apt install qemu-system-arm binutils-aarch64-linux-gnu)"
)]
fn unpacked_loader_refuses_to_boot() {
    let install = install();
    let expect = [
        "loader: ERROR: this loader was not packed",
        "loader: halted",
    ];
    let text = boot(
        &install.qemu_args(),
        &loader_elf(),
        "unpacked",
        &expect,
        Duration::from_secs(30),
    );
    assert_all(&text, &expect);
    assert!(!text.contains("Bootstrapping kernel"));
}

#[test]
#[cfg_attr(not(sel4_prefix), ignore = "needs SEL4_PREFIX")]
#[cfg_attr(
    all(sel4_prefix, not(all(has_qemu_aarch64, has_aarch64_binutils))),
    ignore = "qemu-system-aarch64 or aarch64-linux-gnu-as/ld not found on PATH (apt install qemu-system-arm binutils-aarch64-linux-gnu)"
)]
fn corrupted_payload_is_detected() {
    let install = install();
    let root = root_task_elf();
    let loader = loader_elf();
    let layout = sel4vm_image::plan(&install.pack_input(&loader, &root)).unwrap();
    let mut image = install.pack(&loader, &root).unwrap();
    // Flip a byte of the root-task segment in the packed file.
    let off = {
        let elf = goblin::elf::Elf::parse(&image).unwrap();
        let seg = elf
            .program_headers
            .iter()
            .find(|p| p.p_paddr == layout.header.user_phys_start)
            .expect("root-task segment");
        // The root task's first instruction.
        seg.p_offset as usize + (layout.header.user_entry - layout.user_virt().start) as usize
    };
    image[off] ^= 0x5a;
    let expect = ["root-task image in memory does not match", "loader: halted"];
    let text = boot(
        &install.qemu_args(),
        &image,
        "corrupt",
        &expect,
        Duration::from_secs(30),
    );
    assert_all(&text, &expect);
    assert!(!text.contains("Bootstrapping kernel"));
}

#[test]
#[cfg_attr(not(sel4_prefix), ignore = "needs SEL4_PREFIX")]
#[cfg_attr(
    all(sel4_prefix, not(all(has_qemu_aarch64, has_aarch64_binutils))),
    ignore = "qemu-system-aarch64 or aarch64-linux-gnu-as/ld not found on PATH (apt install qemu-system-arm binutils-aarch64-linux-gnu)"
)]
fn el1_entry_is_rejected() {
    let install = install();
    let root = root_task_elf();
    let image = install.pack(&loader_elf(), &root).unwrap();
    // Same machine without virtualization=on: QEMU starts us at EL1.
    let mut args = install.qemu_args();
    args[1] = args[1].replace("virtualization=on", "virtualization=off");
    let expect = ["started at EL1", "must be entered at EL2", "loader: halted"];
    let text = boot(&args, &image, "el1", &expect, Duration::from_secs(30));
    assert_all(&text, &expect);
}
