//! `cfg(has_<tool>)` for tests that run an external program.
//!
//! Included by path from the build scripts of the crates whose tests shell
//! out (like `sel4_prefix_cfg.rs`). Such a test is marked, for example,
//! `#[cfg_attr(not(has_dtc), ignore = "dtc not found on PATH (apt install device-tree-compiler)")]`,
//! so without the tool libtest reports it as ignored rather than passed; with
//! the tool the test runs, and fails if the tool then fails. `cargo xtask test`
//! installs every package named below and fails if a host test is ignored for
//! any reason other than SEL4_PREFIX.
//!
//! The probe looks for the program on `PATH` (or at the path an override
//! variable gives); it does not run it. xtask includes this file too, for
//! the package list.

// Each includer uses part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// One cfg: set when every program is found. A program is
/// `(override variable, default command)`; the variable, when set, names the
/// command instead.
pub struct Tool {
    pub cfg: &'static str,
    pub programs: &'static [(Option<&'static str>, &'static str)],
    /// The Debian package that provides the programs (what `cargo xtask test` installs).
    pub debian: &'static str,
}

/// Every tool cfg of the workspace.
pub const TOOLS: &[Tool] = &[
    Tool {
        cfg: "has_dtc",
        programs: &[(None, "dtc")],
        debian: "device-tree-compiler",
    },
    Tool {
        // The host C compiler (`$CC`, else `cc`) and `nm` to list an archive's symbols.
        cfg: "has_cc",
        programs: &[(Some("CC"), "cc"), (None, "nm")],
        debian: "gcc",
    },
    Tool {
        cfg: "has_cmake",
        programs: &[(None, "cmake")],
        debian: "cmake",
    },
    Tool {
        // The generator of seL4 CMake builds (`capi/tests/cmake_intree.rs`).
        cfg: "has_ninja",
        programs: &[(None, "ninja")],
        debian: "ninja-build",
    },
    Tool {
        cfg: "has_aarch64_binutils",
        programs: &[
            (Some("SEL4VM_AARCH64_AS"), "aarch64-linux-gnu-as"),
            (Some("SEL4VM_AARCH64_OBJCOPY"), "aarch64-linux-gnu-objcopy"),
            (Some("SEL4VM_AARCH64_OBJDUMP"), "aarch64-linux-gnu-objdump"),
            (None, "aarch64-linux-gnu-ld"),
        ],
        debian: "binutils-aarch64-linux-gnu",
    },
    Tool {
        cfg: "has_aarch64_gcc",
        programs: &[(None, "aarch64-linux-gnu-gcc")],
        debian: "gcc-aarch64-linux-gnu",
    },
    Tool {
        cfg: "has_qemu_aarch64",
        programs: &[(None, "qemu-system-aarch64")],
        debian: "qemu-system-arm",
    },
    Tool {
        cfg: "has_cpio",
        programs: &[(None, "cpio")],
        debian: "cpio",
    },
];

/// Declares every cfg of [`TOOLS`] and sets those whose programs are found.
pub fn emit() {
    println!("cargo:rerun-if-env-changed=PATH");
    for tool in TOOLS {
        println!("cargo:rustc-check-cfg=cfg({})", tool.cfg);
        let mut all = true;
        for (var, default) in tool.programs {
            if let Some(var) = var {
                println!("cargo:rerun-if-env-changed={var}");
            }
            all &= find(&command(*var, default)).is_some();
        }
        if all {
            println!("cargo:rustc-cfg={}", tool.cfg);
        }
    }
}

/// The command to run: the override variable's value, else `default`.
pub fn command(var: Option<&str>, default: &str) -> String {
    var.and_then(|v| std::env::var(v).ok())
        .filter(|c| !c.trim().is_empty())
        .unwrap_or_else(|| default.to_string())
}

/// Where `cmd` is: itself if it names a path, else the first executable
/// file of that name on `PATH`.
pub fn find(cmd: &str) -> Option<PathBuf> {
    // `CC` may carry flags (`cc -m64`): the program is the first word.
    let cmd = cmd.split_whitespace().next()?;
    if cmd.contains('/') {
        return is_executable(Path::new(cmd)).then(|| PathBuf::from(cmd));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(cmd))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    let Ok(meta) = std::fs::metadata(p) else {
        return false;
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        meta.is_file() && meta.permissions().mode() & 0o111 != 0
    }
    #[cfg(not(unix))]
    {
        meta.is_file()
    }
}
