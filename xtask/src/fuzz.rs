//! `cargo xtask fuzz [TARGET] [SECONDS]`: long fuzzing with cargo-fuzz
//! (libFuzzer; needs a nightly toolchain and `cargo-fuzz`).
//!
//! Each target runs for SECONDS (default 60) on a working corpus under
//! `target/fuzz/corpus/TARGET/`, seeded from the committed
//! `fuzz/corpus/TARGET/` (read, never written). Findings land in
//! `target/fuzz/artifacts/`. No TARGET: every target in turn. The bounded
//! stable-toolchain runs of the same targets are part of `cargo xtask test`.

use crate::target::{target_dir, workspace_root};
use crate::Result;
use std::process::Command;

/// The cargo-fuzz targets (`[[bin]]`s of fuzz/Cargo.toml).
pub const TARGETS: &[&str] = &[
    "insn_decode",
    "fault_dispatch",
    "vgic_mmio",
    "image_dtb",
    "virtqueue",
];

/// Default run time per target.
pub const DEFAULT_SECONDS: u64 = 60;

/// What `cargo xtask fuzz` is missing, as a message naming the commands to
/// run; `None` when a nightly toolchain and cargo-fuzz are present.
pub fn missing_tools() -> Option<String> {
    let ok = |cmd: &mut Command| {
        cmd.stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let mut missing = Vec::new();
    if !ok(Command::new("cargo").args(["+nightly", "--version"])) {
        missing.push("a nightly toolchain (run `rustup toolchain install nightly`)");
    }
    if !ok(Command::new("cargo").args(["fuzz", "--version"])) {
        missing.push("cargo-fuzz (run `cargo install cargo-fuzz`)");
    }
    (!missing.is_empty()).then(|| {
        format!(
            "cargo xtask fuzz needs {}; the bounded stable runs of the targets are part of \
             `cargo xtask test`",
            missing.join(" and ")
        )
    })
}

/// Parses `[TARGET] [SECONDS]` into the targets to run and the seconds each.
pub fn parse_args(args: &[String]) -> Result<(Vec<&'static str>, u64)> {
    let mut targets: Vec<&'static str> = TARGETS.to_vec();
    let mut seconds = DEFAULT_SECONDS;
    let mut rest = args;
    if let Some(first) = rest.first() {
        if let Some(t) = TARGETS.iter().find(|t| **t == first.as_str()) {
            targets = vec![*t];
            rest = &rest[1..];
        } else if first.parse::<u64>().is_err() {
            return Err(format!(
                "fuzz: unknown target `{first}` (known: {})",
                TARGETS.join(", ")
            ));
        }
    }
    match rest {
        [] => {}
        [s] => {
            seconds = s
                .parse()
                .ok()
                .filter(|&n| n > 0)
                .ok_or_else(|| format!("fuzz: `{s}` is not a number of seconds"))?;
        }
        _ => return Err("usage: cargo xtask fuzz [TARGET] [SECONDS]".into()),
    }
    Ok((targets, seconds))
}

pub fn fuzz(args: &[String]) -> Result<()> {
    let (targets, seconds) = parse_args(args)?;
    if let Some(m) = missing_tools() {
        return Err(m);
    }
    let root = workspace_root();
    let work = target_dir().join("fuzz");
    let mut failed = Vec::new();
    for t in targets {
        let corpus = work.join("corpus").join(t);
        let artifacts = work.join("artifacts");
        for d in [&corpus, &artifacts] {
            std::fs::create_dir_all(d).map_err(|e| format!("{}: {e}", d.display()))?;
        }
        println!(
            "==> fuzz {t} for {seconds} s (working corpus {})",
            corpus.display()
        );
        let status = Command::new("cargo")
            .args(["+nightly", "fuzz", "run", "--debug-assertions", t])
            .arg(&corpus)
            .arg(root.join("fuzz/corpus").join(t))
            .arg("--")
            .arg(format!("-max_total_time={seconds}"))
            .arg("-print_final_stats=1")
            .arg(format!("-artifact_prefix={}/{t}-", artifacts.display()))
            .current_dir(root.join("fuzz"))
            // Its own build directory: cargo-fuzz's sanitizer flags must not
            // invalidate the main workspace's build.
            .env("CARGO_TARGET_DIR", work.join("build"))
            .status()
            .map_err(|e| format!("cannot run cargo fuzz: {e}"))?;
        if !status.success() {
            println!(
                "FAILED: fuzz {t} ({status}); the input is under {}",
                artifacts.display()
            );
            failed.push(t);
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "fuzz: findings in {} (fix, then add the input to fuzz/corpus/TARGET/)",
            failed.join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(a: &[&str]) -> Result<(Vec<&'static str>, u64)> {
        parse_args(&a.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn arguments() {
        assert_eq!(parse(&[]).unwrap(), (TARGETS.to_vec(), DEFAULT_SECONDS));
        assert_eq!(parse(&["vgic_mmio"]).unwrap(), (vec!["vgic_mmio"], 60));
        assert_eq!(
            parse(&["image_dtb", "600"]).unwrap(),
            (vec!["image_dtb"], 600)
        );
        assert_eq!(parse(&["30"]).unwrap(), (TARGETS.to_vec(), 30));
        assert!(parse(&["nosuch"]).is_err_and(|e| e.contains("insn_decode")));
        assert!(parse(&["virtqueue", "0"]).is_err());
        assert!(parse(&["virtqueue", "1", "2"]).is_err());
    }

    /// The list matches the cargo-fuzz binaries and the committed corpus.
    #[test]
    fn targets_match_fuzz_manifest_and_corpus() {
        let root = workspace_root();
        let manifest = std::fs::read_to_string(root.join("fuzz/Cargo.toml")).unwrap();
        let mut bins: Vec<&str> = manifest
            .split("[[bin]]")
            .skip(1)
            .filter_map(|b| b.split('"').nth(1))
            .collect();
        bins.sort_unstable();
        let mut ours = TARGETS.to_vec();
        ours.sort_unstable();
        assert_eq!(bins, ours);
        for t in TARGETS {
            assert!(root
                .join("fuzz/fuzz_targets")
                .join(format!("{t}.rs"))
                .is_file());
            assert!(root.join("fuzz/corpus").join(t).is_dir(), "fuzz/corpus/{t}");
        }
    }
}
