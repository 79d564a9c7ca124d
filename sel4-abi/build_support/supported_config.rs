//! The seL4 kernel configuration sel4vm-rs supports, and the check of a
//! `gen_config.json` against it.
//!
//! One table for the whole project: `sel4-abi`'s build script (which stops a
//! build against the wrong kernel) and `sel4vm-image`'s `KernelInstall`
//! (which stops `cargo xtask` before QEMU) both include this file by path.
//! Uses std and `serde_json` only.

#![allow(dead_code)]

use serde_json::Value;

/// One configuration requirement.
pub struct Requirement {
    /// CMake option name, as a user would set it.
    pub cmake: &'static str,
    /// Key in `gen_config.json` (the C macro without `CONFIG_`).
    pub key: &'static str,
    /// The supported value.
    pub expected: Expected,
}

/// A supported configuration value.
pub enum Expected {
    Bool(bool),
    Str(&'static str),
}

impl Expected {
    /// How a user writes the value (`ON`/`OFF` for booleans).
    pub fn render(&self) -> String {
        match self {
            Expected::Bool(true) => "ON".into(),
            Expected::Bool(false) => "OFF".into(),
            Expected::Str(s) => (*s).into(),
        }
    }
}

/// The supported configuration: qemu-arm-virt, aarch64, hypervisor support,
/// non-MCS, one core, debug build with printing, EL1 physical timer
/// exported to user level, virtual offset left alone.
pub const REQUIREMENTS: &[Requirement] = &[
    Requirement {
        cmake: "KernelPlatform",
        key: "PLAT",
        expected: Expected::Str("qemu-arm-virt"),
    },
    Requirement {
        cmake: "KernelSel4Arch",
        key: "SEL4_ARCH",
        expected: Expected::Str("aarch64"),
    },
    Requirement {
        cmake: "KernelArmHypervisorSupport",
        key: "ARM_HYPERVISOR_SUPPORT",
        expected: Expected::Bool(true),
    },
    Requirement {
        cmake: "KernelIsMCS",
        key: "KERNEL_MCS",
        expected: Expected::Bool(false),
    },
    Requirement {
        cmake: "KernelMaxNumNodes",
        key: "MAX_NUM_NODES",
        expected: Expected::Str("1"),
    },
    // ON (the kernel's default) forces KernelDebugBuild and KernelPrinting
    // OFF whatever the user passed; listed before them so that a check
    // reporting only the first mismatch names the real cause.
    Requirement {
        cmake: "KernelVerificationBuild",
        key: "VERIFICATION_BUILD",
        expected: Expected::Bool(false),
    },
    Requirement {
        cmake: "KernelDebugBuild",
        key: "DEBUG_BUILD",
        expected: Expected::Bool(true),
    },
    Requirement {
        cmake: "KernelPrinting",
        key: "PRINTING",
        expected: Expected::Bool(true),
    },
    // The VMM's wake-up timer for vCPUs asleep in WFI (docs/kernel.md).
    Requirement {
        cmake: "KernelArmExportPTMRUser",
        key: "EXPORT_PTMR_USER",
        expected: Expected::Bool(true),
    },
    // Equal-priority vCPU threads share the core in 1-tick slices: a vCPU
    // spinning on another (IPI, stop_machine) wastes at most one tick.
    Requirement {
        cmake: "KernelTimeSlice",
        key: "TIME_SLICE",
        expected: Expected::Str("1"),
    },
    // A sleeping guest's clock must keep running.
    Requirement {
        cmake: "KernelArmVtimerUpdateVOffset",
        key: "VTIMER_UPDATE_VOFFSET",
        expected: Expected::Bool(false),
    },
];

/// A requirement the configuration does not meet.
pub struct Mismatch {
    /// CMake option name.
    pub cmake: &'static str,
    /// `gen_config.json` key.
    pub key: &'static str,
    /// The value found, rendered for a user (`<not set>` if absent).
    pub found: String,
    /// The supported value.
    pub supported: String,
    /// What to pass to the kernel's CMake configuration to fix it.
    pub fix: String,
}

/// Options that `KernelVerificationBuild=ON` turns off behind the user's back.
const FORCED_OFF_BY_VERIFICATION: &[&str] = &["VERIFICATION_BUILD", "DEBUG_BUILD", "PRINTING"];

/// The CMake flags of the whole supported configuration (`-DOption=value ...`).
pub fn cmake_flags() -> String {
    REQUIREMENTS
        .iter()
        .map(|r| format!("-D{}={}", r.cmake, r.expected.render()))
        .collect::<Vec<_>>()
        .join(" ")
}

fn render_found(v: Option<&Value>) -> String {
    match v {
        None => "<not set>".into(),
        Some(Value::Bool(true)) => "ON".into(),
        Some(Value::Bool(false)) => "OFF".into(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

fn meets(expected: &Expected, found: Option<&Value>) -> bool {
    match (expected, found) {
        (Expected::Bool(b), Some(Value::Bool(f))) => b == f,
        // CMake booleans occasionally arrive as strings.
        (Expected::Bool(b), Some(Value::String(s))) => match s.as_str() {
            "ON" | "1" | "true" => *b,
            "OFF" | "0" | "false" | "" => !*b,
            _ => false,
        },
        // A disabled option may be absent from gen_config.json.
        (Expected::Bool(false), None) => true,
        (Expected::Str(s), Some(Value::String(f))) => s == f,
        (Expected::Str(s), Some(Value::Number(n))) => n.to_string() == *s,
        _ => false,
    }
}

/// Every requirement `lookup` (a `gen_config.json` key → value) does not meet.
pub fn mismatches<'a>(lookup: impl Fn(&str) -> Option<&'a Value>) -> Vec<Mismatch> {
    let verification = !meets(&Expected::Bool(false), lookup("VERIFICATION_BUILD"));
    REQUIREMENTS
        .iter()
        .filter_map(|r| {
            let found = lookup(r.key);
            let fix = if verification && FORCED_OFF_BY_VERIFICATION.contains(&r.key) {
                "-DKernelVerificationBuild=OFF (KernelVerificationBuild=ON, the kernel's \
                 default, turns KernelDebugBuild and KernelPrinting OFF whatever is passed)"
                    .to_string()
            } else {
                format!("-D{}={}", r.cmake, r.expected.render())
            };
            (!meets(&r.expected, found)).then(|| Mismatch {
                cmake: r.cmake,
                key: r.key,
                found: render_found(found),
                supported: r.expected.render(),
                fix,
            })
        })
        .collect()
}
