//! The CMake package inside a seL4 CMake build, with no separate kernel
//! install: `capi/tests/cmake-intree/` configures the seL4 kernel named by
//! `SEL4_SOURCE_DIR` as a subproject (`find_package(seL4)`,
//! `sel4_import_kernel()`, `sel4_import_libsel4()`, the settings a seL4
//! application gives), adds `cmake/` with `add_subdirectory` and no
//! `SEL4_PREFIX`, and builds the C VMM example (`examples/c-vmm`) for aarch64
//! seL4 against `sel4vm::sel4vm`.
//!
//! * `intree_build_links_the_c_example_and_boots_it`: builds the example and
//!   the kernel, checks the kernel files the package staged for the Rust ABI
//!   crate, packs kernel + example with the image packer and runs it on
//!   QEMU until `c-vmm: all checks passed`.
//! * `intree_build_rejects_an_unsupported_kernel_configuration`: the same
//!   project with `-DKernelTimeSlice=5` fails the build with sel4-abi's
//!   message naming the option and its fix.
//!
//! Needs, at build time, `SEL4_SOURCE_DIR` (a seL4 kernel source tree, e.g.
//! /opt/sel4-src/seL4) and cmake, ninja, aarch64-linux-gnu-gcc and
//! qemu-system-aarch64 on PATH; at run time also python3 with the kernel's
//! build dependencies on PATH (e.g. a venv's bin). Without them the tests are
//! ignored; run with `--ignored` they fail naming what is missing.

mod support;
use support::{ok, repo, run_c_vmm_in_qemu};

use std::path::{Path, PathBuf};
use std::process::Command;

/// `SEL4_SOURCE_DIR`, checked to be a seL4 kernel tree.
fn sel4_source_dir() -> PathBuf {
    let dir = std::env::var_os("SEL4_SOURCE_DIR")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .expect("SEL4_SOURCE_DIR is not set: this test needs a seL4 kernel source tree");
    for f in ["FindseL4.cmake", "gcc.cmake", "libsel4/CMakeLists.txt"] {
        assert!(
            dir.join(f).is_file(),
            "SEL4_SOURCE_DIR={} is not a seL4 kernel source tree (no {f})",
            dir.display()
        );
    }
    dir
}

/// `cmake` configuring `capi/tests/cmake-intree` into `build` (extra `-D`
/// arguments in `defs`), with cargo building in `cargo_target`.
fn configure(build: &Path, cargo_target: &Path, defs: &[&str]) -> Command {
    let src = sel4_source_dir();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut c = Command::new("cmake");
    c.args(["-G", "Ninja", "-S"])
        .arg(repo().join("capi/tests/cmake-intree"))
        .arg("-B")
        .arg(build)
        .arg(format!("-DSEL4_SOURCE_DIR={}", src.display()))
        .arg(format!(
            "-DCMAKE_TOOLCHAIN_FILE={}",
            src.join("gcc.cmake").display()
        ))
        .arg("-DCROSS_COMPILER_PREFIX=aarch64-linux-gnu-")
        .arg(format!("-DSEL4VM_CARGO={cargo}"))
        .arg(format!(
            "-DSEL4VM_CARGO_TARGET_DIR={}",
            cargo_target.display()
        ))
        .args(defs)
        // The point of the test: no installed kernel.
        .env_remove("SEL4_PREFIX");
    c
}

/// `cmake --build build --target TARGETS`.
fn build_targets(build: &Path, targets: &[&str]) -> Command {
    let mut c = Command::new("cmake");
    c.arg("--build")
        .arg(build)
        .arg("--target")
        .args(targets)
        .env("CARGO_NET_OFFLINE", "true")
        .env_remove("SEL4_PREFIX");
    c
}

/// `key=value` lines of the `intree-outputs.txt` the project writes.
fn outputs(build: &Path) -> Vec<(String, PathBuf)> {
    let text = std::fs::read_to_string(build.join("intree-outputs.txt")).unwrap();
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), PathBuf::from(v)))
        .collect()
}

fn output(outs: &[(String, PathBuf)], key: &str) -> PathBuf {
    outs.iter()
        .find(|(k, _)| k == key)
        .unwrap_or_else(|| panic!("intree-outputs.txt has no {key}"))
        .1
        .clone()
}

/// The cargo target directory the CMake builds use (kept between runs, so
/// only the first compiles the crates).
fn cargo_target(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name)
}

#[test]
#[cfg_attr(
    not(sel4_source_dir),
    ignore = "needs SEL4_SOURCE_DIR (a seL4 kernel source tree, e.g. /opt/sel4-src/seL4; python3 with its build deps on PATH)"
)]
#[cfg_attr(
    all(
        sel4_source_dir,
        not(all(has_cmake, has_ninja, has_aarch64_gcc, has_qemu_aarch64))
    ),
    ignore = "cmake, ninja, aarch64-linux-gnu-gcc or qemu-system-aarch64 not found on PATH (apt install cmake ninja-build gcc-aarch64-linux-gnu qemu-system-arm)"
)]
fn intree_build_links_the_c_example_and_boots_it() {
    let d = support::tmp("cmake-intree");
    let build = d.join("build");
    let cargo_target = cargo_target("cmake-intree-cargo");
    ok(&mut configure(&build, &cargo_target, &[]));
    ok(&mut build_targets(&build, &["c-vmm", "kernel.elf"]));
    let outs = outputs(&build);

    // The package staged the kernel files sel4-abi reads, prefix-shaped: its
    // SEL4VM_KERNEL_FILES list (sel4-abi's tests check it is the list build.rs reads).
    let prefix = output(&outs, "prefix");
    let cmake = std::fs::read_to_string(repo().join("cmake/sel4vm.cmake")).unwrap();
    let start = cmake
        .find("set(SEL4VM_KERNEL_FILES")
        .expect("SEL4VM_KERNEL_FILES in cmake/sel4vm.cmake");
    let body = &cmake[start + "set(SEL4VM_KERNEL_FILES".len()..];
    let files: Vec<&str> = body[..body.find(')').unwrap()].split_whitespace().collect();
    assert!(files.len() >= 9, "{files:?}");
    for f in files {
        assert!(prefix.join(f).is_file(), "{} not staged", f);
    }
    let json =
        std::fs::read_to_string(prefix.join("libsel4/include/kernel/gen_config.json")).unwrap();
    assert!(json.contains("\"TIME_SLICE\": \"1\""), "{json}");

    // An aarch64 executable (ELF64, e_machine EM_AARCH64 = 183).
    let elf = output(&outs, "vmm");
    let bytes = std::fs::read(&elf).unwrap();
    assert!(
        bytes.starts_with(b"\x7fELF\x02") && u16::from_le_bytes([bytes[18], bytes[19]]) == 183,
        "{} is not an aarch64 ELF64",
        elf.display()
    );

    // Boot it: a prefix holding this build's kernel and configuration, the
    // boot loader built by cargo with the same environment as the package's
    // build (so the shared target dir is not rebuilt back and forth).
    let boot = d.join("boot-prefix");
    for (from, to) in [
        (output(&outs, "kernel"), "bin/kernel.elf"),
        (
            prefix.join("libsel4/include/kernel/gen_config.json"),
            "libsel4/include/kernel/gen_config.json",
        ),
    ] {
        std::fs::create_dir_all(boot.join(to).parent().unwrap()).unwrap();
        std::fs::copy(&from, boot.join(to)).unwrap();
    }
    let kernel = sel4vm_image::KernelInstall::open_with_dtb(&boot, Some(&output(&outs, "dtb")))
        .expect("open this build's kernel");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    ok(Command::new(&cargo)
        .current_dir(repo())
        .env("CARGO_TARGET_DIR", &cargo_target)
        .env("SEL4_PREFIX", &prefix)
        .args(["build", "--release", "--target", "aarch64-unknown-none"])
        .args(["-p", "sel4vm-loader"]));
    let loader = cargo_target.join("aarch64-unknown-none/release/sel4vm-loader");
    run_c_vmm_in_qemu(&kernel, &loader, &elf, &d);
}

#[test]
#[cfg_attr(
    not(sel4_source_dir),
    ignore = "needs SEL4_SOURCE_DIR (a seL4 kernel source tree, e.g. /opt/sel4-src/seL4; python3 with its build deps on PATH)"
)]
#[cfg_attr(
    all(sel4_source_dir, not(all(has_cmake, has_ninja, has_aarch64_gcc))),
    ignore = "cmake, ninja or aarch64-linux-gnu-gcc not found on PATH (apt install cmake ninja-build gcc-aarch64-linux-gnu)"
)]
fn intree_build_rejects_an_unsupported_kernel_configuration() {
    let d = support::tmp("cmake-intree-unsupported");
    let build = d.join("build");
    // Its own cargo target dir: the ABI crate's build script fails here.
    let cargo_target = cargo_target("cmake-intree-unsupported-cargo");
    ok(&mut configure(
        &build,
        &cargo_target,
        &["-DKernelTimeSlice=5"],
    ));
    let o = build_targets(&build, &["sel4vm_cargo_build"])
        .output()
        .expect("run cmake --build");
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!o.status.success(), "the build succeeded:\n{log}");
    assert!(
        log.contains("unsupported seL4 configuration: KernelTimeSlice")
            && log.contains("reconfigure the kernel with -DKernelTimeSlice=1"),
        "no sel4-abi configuration message:\n{log}"
    );
}
