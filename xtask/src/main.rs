//! Project commands. `cargo xtask <command>`:
//!
//! - `run [--example NAME] [--vcpus N] [--append CMDLINE] [--ram-anywhere] [--console virtio|passthrough]
//!   [--stats] [--disk FILE[,ro]] [--net user[,hostfwd=...]...|none]`: boot the Linux VMM (or an
//!   example) on QEMU.
//! - `test [--host-only] [--no-lint]`: host tests (with the bounded fuzz targets), lints, and (with
//!   `SEL4_PREFIX`) seL4 system tests (with `SEL4_SOURCE_DIR`, a kernel source tree, also the
//!   seL4 CMake build of `capi/tests/cmake_intree.rs`);
//!   `test system [NAME...]`: only the seL4 system tests.
//! - `bench [all|ram_touch|boot] [RUNS]`: benchmarks, reported as ratios against a baseline measured in the same run;
//!   `bench guest [RUNS] [--vcpus N] [--icount]`: the Linux guest under the VMM vs directly on QEMU (not in `all`);
//!   `bench blk [RUNS]`: guest disk throughput under the VMM vs QEMU's own virtio-blk (not in `all`);
//!   `bench net [RUNS]`: guest network throughput under the VMM vs QEMU's own virtio-net (not in `all`).
//! - `guest`: prepare the Linux guest (Image + initramfs) from Debian packages.
//! - `regen ldst-table`: rewrite the encoding column of `libsel4vm/tests/data/ldst_encodings.txt`
//!   with what GNU as produces (tests only check it).
//! - `fuzz [TARGET] [SECONDS]`: long fuzzing with cargo-fuzz (nightly); the bounded stable runs of
//!   the same targets are part of `test`.

mod bench_blk;
mod bench_guest;
mod bench_net;
mod deps;
mod fuzz;
mod guest;
mod http;
mod kernel;
mod qemu;
mod regen;
mod systest;
mod systest_disk;
mod systest_net;
mod target;
mod vmm;

use std::process::ExitCode;

pub type Result<T, E = String> = std::result::Result<T, E>;

const USAGE: &str = "usage: cargo xtask <run|test|bench|guest|regen|fuzz> [options]
  run   [--example NAME] [--vcpus N] [--append CMDLINE] [--ram-anywhere]
        [--console virtio|passthrough] [--stats]         boot the Linux VMM (or an example) on seL4/QEMU;
                                                         guest console: virtio (hvc0, default) or the PL011
                                                         passed through (ttyAMA0); --stats: the VMM prints
                                                         `VMM: stats: <ms> ms, <n> exits` every ~2 s
        [--disk FILE[,ro]]                               the guest's /dev/vda: a raw image (default: a
                                                         64 MiB scratch disk under target/vmm/)
        [--net user[,hostfwd=tcp::HOSTPORT-:GUESTPORT]...|none]
                                                         the guest's eth0 (DHCP: 10.0.2.15) on QEMU user
                                                         networking, QEMU's option syntax (default: user,
                                                         hostfwd=tcp:127.0.0.1:10080-:80)
  test  [--host-only] [--no-lint]                          all tests (seL4 system tests need SEL4_PREFIX,
                                                         the in-tree seL4 CMake build test SEL4_SOURCE_DIR)
  test  system [NAME...]                                   only the seL4 system tests (named ones, or all)
  bench [NAME] [RUNS]                                      benchmarks: ram_touch, boot, all (default: both;
                                                         ratios vs an in-run baseline; RUNS default 3)
  bench guest [RUNS] [--vcpus N] [--icount] [--append A]              the Linux guest under the VMM vs booted directly:
        [--console virtio|passthrough]                   boot, idle CPU, workloads, exits/s, code size
                                                         (RUNS >= 5, default 5; vCPUs 1 and 4 unless
                                                         --vcpus; --icount: instruction-counted times;
                                                         --console: the VMM guest's console, as for run;
                                                         slow, so not part of `all`)
  bench blk [RUNS]                                         guest disk throughput (dd 256 MiB, 1 MiB direct I/O)
                                                         under the VMM vs QEMU's own virtio-blk (RUNS >= 5)
  bench net [RUNS]                                         guest network throughput (64 MiB over HTTP each way)
                                                         under the VMM vs QEMU's own virtio-net (RUNS >= 5)
  guest                                                    prepare the Linux guest from Debian packages
  regen ldst-table                                         rewrite the encoding column of
                                                         libsel4vm/tests/data/ldst_encodings.txt with
                                                         what aarch64-linux-gnu-as produces (after editing
                                                         its assembly column; the test only checks it)
  fuzz  [TARGET] [SECONDS]                                 long fuzzing with cargo-fuzz (needs nightly and
                                                         cargo-fuzz): TARGET (insn_decode, fault_dispatch,
                                                         vgic_mmio, image_dtb, virtqueue; default: all in
                                                         turn) for SECONDS each (default 60); corpus under
                                                         target/fuzz/, seeded from fuzz/corpus/";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((cmd, rest)) = args.split_first() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let result = match cmd.as_str() {
        "run" => cmd_run(rest),
        "test" => cmd_test(rest),
        "bench" => cmd_bench(rest),
        "regen" => regen::regen(rest),
        "fuzz" => fuzz::fuzz(rest),
        "prof-args" => cmd_prof_args(rest),
        "guest" => guest::prepare().map(|g| {
            println!("guest: kernel {} at {}", g.release, g.image.display());
            println!("guest: initramfs at {}", g.initramfs.display());
        }),
        "-h" | "--help" | "help" => {
            println!("{USAGE}");
            Ok(())
        }
        other => Err(format!("unknown command `{other}`\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Options shared by the commands, parsed by hand to keep xtask's build light.
#[derive(Default)]
struct Opts {
    example: Option<String>,
    vcpus: Option<u32>,
    append: Option<String>,
    host_only: bool,
    no_lint: bool,
    ram_anywhere: bool,
    console: Option<vmm::ConsoleMode>,
    stats: bool,
    disk: Option<vmm::Disk>,
    /// `--net`: `Some(None)` is `--net none`.
    net: Option<Option<vmm::Net>>,
    icount: bool,
    positional: Vec<String>,
}

fn parse_opts(args: &[String]) -> Result<Opts> {
    let mut o = Opts::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match a.as_str() {
            "--example" => o.example = Some(value("--example")?),
            "--vcpus" => {
                let v = value("--vcpus")?;
                let n: u32 = v
                    .parse()
                    .map_err(|_| format!("--vcpus: `{v}` is not a number"))?;
                if !(1..=4).contains(&n) {
                    return Err(format!("--vcpus: {n} is out of range (1 to 4)"));
                }
                o.vcpus = Some(n);
            }
            "--append" => o.append = Some(value("--append")?),
            "--console" => o.console = Some(vmm::parse_console(&value("--console")?)?),
            "--host-only" => o.host_only = true,
            "--ram-anywhere" => o.ram_anywhere = true,
            "--no-lint" => o.no_lint = true,
            "--stats" => o.stats = true,
            "--disk" => o.disk = Some(vmm::Disk::parse(&value("--disk")?)?),
            "--net" => o.net = Some(vmm::Net::parse(&value("--net")?)?),
            "--icount" => o.icount = true,
            s if s.starts_with("--") => return Err(format!("unknown option `{s}`\n{USAGE}")),
            s => o.positional.push(s.to_string()),
        }
    }
    Ok(o)
}

/// `prof-args [--vcpus N] [--append A] [--console C] [--disk F] [--net N] [cmdline=...]`: writes the QEMU argument lists of `bench guest`'s two sides (one
/// argument per line) to `target/prof/{vmm,direct}-N[-append].args`, plus the root task ELF path, for
/// `tools/pcsample.py` (profiling; not in the usage).
fn cmd_prof_args(args: &[String]) -> Result<()> {
    let o = parse_opts(args)?;
    let n = o.vcpus.unwrap_or(4);
    let kernel = kernel::require()?;
    let app = target::build_root_task("vmm")?;
    let image = target::pack_image(&kernel, &app, "vmm")?;
    let with = |base: &str| match &o.append {
        Some(a) => format!("{base} {a}"),
        None => base.to_string(),
    };
    let console = o.console.unwrap_or(vmm::ConsoleMode::Virtio);
    let opts = vmm::GuestOpts {
        vcpus: n,
        stats: true,
        // `cmdline=...` (positional) replaces the VMM side's whole command line.
        cmdline: o
            .positional
            .iter()
            .find_map(|p| p.strip_prefix("cmdline="))
            .map_or_else(
                || vmm::cmdline(console, o.append.as_deref()),
                str::to_string,
            ),
        // As given only: the profiles have no disk or network unless asked.
        disk: o.disk.clone(),
        net: o.net.clone().flatten(),
        ..vmm::GuestOpts::with_console(console)
    };
    let mut v = kernel.qemu_args();
    v.extend([
        "-nographic".into(),
        "-kernel".into(),
        image.display().to_string(),
    ]);
    v.extend(vmm::qemu_args(&opts)?);
    let d = vmm::direct_args(&kernel, &with(vmm::CMDLINE_PASSTHROUGH), n)?;
    let dir = target::target_dir().join("prof");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    for (name, a) in [("vmm", v), ("direct", d)] {
        let mut tag = if o.append.is_some() { "-append" } else { "" }.to_string();
        if name == "vmm" && o.positional.iter().any(|p| p.starts_with("cmdline=")) {
            tag.push_str("-cmdline");
        }
        if console == vmm::ConsoleMode::Passthrough && name == "vmm" {
            tag.push_str("-passthrough");
        }
        let p = dir.join(format!("{name}-{n}{tag}.args"));
        std::fs::write(&p, a.join("\n") + "\n").map_err(|e| format!("{}: {e}", p.display()))?;
        println!("{}", p.display());
    }
    println!("root task: {}", app.display());
    Ok(())
}

fn cmd_run(args: &[String]) -> Result<()> {
    let o = parse_opts(args)?;
    deps::ensure_target_tools()?;
    let kernel = kernel::require()?;
    match o.example.as_deref() {
        // The main job: the Linux VMM, leaving the user at the guest shell.
        None | Some("vmm") => {
            let console = o.console.unwrap_or(vmm::ConsoleMode::Virtio);
            let opts = vmm::GuestOpts {
                vcpus: o.vcpus.unwrap_or(1),
                // Like QEMU's `-append` for a Linux guest: extra arguments go after the console
                // (and before `earlycon=`, see `vmm::cmdline`).
                cmdline: vmm::cmdline(console, o.append.as_deref()),
                ram_anywhere: o.ram_anywhere,
                console,
                stats: o.stats,
                disk: Some(match o.disk {
                    Some(d) => d,
                    None => vmm::Disk::scratch()?,
                }),
                net: o.net.unwrap_or_else(|| Some(vmm::Net::default_user())),
            };
            vmm::run_interactive(&kernel, &opts)
        }
        Some(example) => {
            if o.vcpus.is_some()
                || o.append.is_some()
                || o.ram_anywhere
                || o.console.is_some()
                || o.stats
                || o.disk.is_some()
                || o.net.is_some()
            {
                return Err(
                    "--vcpus, --append, --ram-anywhere, --console, --stats, --disk and --net apply to the Linux VMM only"
                        .into(),
                );
            }
            let app = target::build_root_task(example)?;
            let image = target::pack_image(&kernel, &app, example)?;
            println!("xtask: booting {} (Ctrl-A X exits QEMU)", image.display());
            qemu::run_interactive(&kernel, &image)
        }
    }
}

fn cmd_test(args: &[String]) -> Result<()> {
    let o = parse_opts(args)?;
    // `cargo xtask test system NAME...`: only those seL4 system tests.
    if o.positional.first().map(String::as_str) == Some("system") {
        deps::ensure_target_tools()?;
        let kernel = kernel::require()?;
        let (pass, fail) = systest::run_matching(&kernel, &o.positional[1..]);
        println!("system tests: {pass} passed, {} failed", fail.len());
        return if fail.is_empty() {
            Ok(())
        } else {
            Err(format!("failed: {}", fail.join(", ")))
        };
    }
    deps::ensure_host_test_tools()?;
    let mut failed = Vec::new();
    if !o.no_lint {
        step(&mut failed, "cargo fmt --check", || {
            target::cargo(&["fmt", "--all", "--", "--check"])
        });
        step(&mut failed, "clippy (host crates)", || {
            target::cargo(&["clippy", "--all-targets", "--", "-D", "warnings"])
        });
        step(&mut failed, "clippy (fuzz targets)", || {
            target::cargo(&[
                "clippy",
                "-p",
                "sel4vm-fuzz-targets",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ])
        });
    }
    // libvmm-compat's setup test validates the real guest kernel (`<target>/guest/Image`).
    step(&mut failed, "guest (Linux Image + initramfs)", || {
        guest::prepare().map(|_| ())
    });
    let mut counts = target::TestCounts::default();
    step(&mut failed, "host tests", || {
        counts = target::cargo_test(&[])?;
        for t in &counts.ignored_kernel {
            println!("SKIPPED: {t}");
        }
        // The tools were installed above: only the tests needing a seL4 kernel
        // (SEL4_PREFIX, SEL4_SOURCE_DIR) may be ignored.
        if counts.ignored_not_sel4.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "tests ignored though xtask installed their tools:\n  {}",
                counts.ignored_not_sel4.join("\n  ")
            ))
        }
    });
    // The fuzz targets, bounded (corpus + 100,000 seeded inputs each), optimised with
    // debug assertions: minutes in the debug build, well under one here (fuzz/README.md).
    step(
        &mut failed,
        "fuzz targets, bounded (profile fuzz-test)",
        || {
            let c = target::cargo_test(&["-p", "sel4vm-fuzz-targets", "--profile", "fuzz-test"])?;
            counts.passed += c.passed;
            counts.failed += c.failed;
            counts.ignored += c.ignored;
            Ok(())
        },
    );
    let mut skipped = counts.ignored;
    if !o.host_only {
        deps::ensure_target_tools()?;
        step(
            &mut failed,
            "target build (aarch64-unknown-none)",
            target::build_all_target,
        );
        if !o.no_lint {
            step(&mut failed, "clippy (target crates)", target::clippy_target);
        }
        match kernel::prefix() {
            None => {
                println!("SKIPPED: seL4 system tests (SEL4_PREFIX not set)");
                skipped += systest::count();
            }
            Some(_) => {
                let kernel = kernel::require()?;
                let (pass, fail) = systest::run_all(&kernel);
                for f in fail.iter() {
                    failed.push(format!("system test {f}"));
                }
                println!("system tests: {pass} passed, {} failed", fail.len());
                counts.passed += pass;
                counts.failed += fail.len();
            }
        }
    }
    let summary = format!(
        "tests: {} passed, {} failed, {skipped} skipped",
        counts.passed, counts.failed
    );
    if failed.is_empty() {
        println!("xtask test: all steps passed");
        // Last line, in the plain form CI reads: host and system tests together.
        println!("{summary}");
        Ok(())
    } else {
        println!("{summary}");
        Err(format!("failed: {}", failed.join(", ")))
    }
}

fn step(failed: &mut Vec<String>, name: &str, f: impl FnOnce() -> Result<()>) {
    println!("==> {name}");
    if let Err(e) = f() {
        eprintln!("FAILED: {name}: {e}");
        failed.push(name.to_string());
    }
}

fn cmd_bench(args: &[String]) -> Result<()> {
    let o = parse_opts(args)?;
    let which = o.positional.first().map(String::as_str).unwrap_or("all");
    if which != "guest" && (o.icount || o.vcpus.is_some() || o.console.is_some()) {
        return Err("--icount, --vcpus and --console apply to `bench guest` only".into());
    }
    let runs = match o.positional.get(1) {
        Some(n) => n
            .parse()
            .map_err(|_| format!("bench: `{n}` is not a number of runs"))?,
        None if which == "guest" => bench_guest::MIN_RUNS,
        None if which == "blk" => bench_blk::MIN_RUNS,
        None if which == "net" => bench_net::MIN_RUNS,
        None => 3,
    };
    let ram_touch = || target::cargo(&["bench", "-p", "sel4vm", "--bench", "ram_touch"]);
    let boot = || -> Result<()> {
        deps::ensure_target_tools()?;
        vmm::bench_boot(&kernel::require()?, runs)
    };
    match which {
        "all" => {
            ram_touch()?;
            match kernel::prefix() {
                Some(_) => boot(),
                None => {
                    println!("SKIPPED: boot benchmark (SEL4_PREFIX not set)");
                    Ok(())
                }
            }
        }
        "ram_touch" => ram_touch(),
        "boot" => boot(),
        "guest" => {
            deps::ensure_target_tools()?;
            let vcpus = match o.vcpus {
                Some(n) => vec![n],
                None => bench_guest::DEFAULT_VCPUS.to_vec(),
            };
            bench_guest::bench_guest(
                &kernel::require()?,
                runs,
                &vcpus,
                o.icount,
                o.append.as_deref(),
                o.console.unwrap_or(vmm::ConsoleMode::Virtio),
            )
        }
        "blk" => {
            deps::ensure_target_tools()?;
            bench_blk::bench_blk(&kernel::require()?, runs)
        }
        "net" => {
            deps::ensure_target_tools()?;
            bench_net::bench_net(&kernel::require()?, runs)
        }
        other => Err(format!(
            "unknown benchmark `{other}` (known: all, ram_touch, boot, guest, blk, net)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Opts> {
        parse_opts(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn console_option() {
        assert_eq!(parse(&[]).unwrap().console, None);
        assert_eq!(
            parse(&["--console", "passthrough", "--vcpus", "2"])
                .unwrap()
                .console,
            Some(vmm::ConsoleMode::Passthrough)
        );
        assert_eq!(
            parse(&["--console", "virtio"]).unwrap().console,
            Some(vmm::ConsoleMode::Virtio)
        );
        assert!(parse(&["--console"]).is_err_and(|e| e.contains("needs a value")));
        assert!(parse(&["--console", "serial"]).is_err());
        assert!(USAGE.contains("--console virtio|passthrough"));
    }

    #[test]
    fn stats_and_bench_guest_options() {
        let o = parse(&["--stats", "--vcpus", "4"]).unwrap();
        assert!(o.stats && !o.icount);
        assert_eq!(o.vcpus, Some(4));
        let o = parse(&["guest", "7", "--icount"]).unwrap();
        assert!(o.icount && !o.stats);
        assert_eq!(o.positional, ["guest", "7"]);
        assert!(!parse(&[]).unwrap().stats);
        assert!(USAGE.contains("bench guest [RUNS] [--vcpus N] [--icount]"));
        assert!(USAGE.contains("not part of `all`"));
        assert!(USAGE.contains("regen ldst-table"));
        assert!(regen::regen(&["nothing".into()]).is_err());
        // Refused before anything is built or booted.
        let bench = |a: &[&str]| cmd_bench(&a.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert!(bench(&["boot", "--icount"]).is_err_and(|e| e.contains("bench guest")));
        assert!(bench(&["nosuch"]).is_err_and(|e| e.contains("guest")));
    }
}
