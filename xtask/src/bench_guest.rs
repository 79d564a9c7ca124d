//! `cargo xtask bench guest [RUNS] [--vcpus N] [--icount] [--append A] [--console C]`: the Debian
//! guest under the VMM (seL4 + `sel4vm-root-task`, virtio console unless `--console passthrough`,
//! `--stats`) against the same `Image` + initramfs
//! booted directly by QEMU (`console=ttyAMA0`), in alternating sessions, at least
//! [`MIN_RUNS`] of each per vCPU count (default 1 and 4).
//!
//! Each session measures, in this order:
//! - QEMU start to `GUEST-BOOTED` (host wall time);
//! - the guest's own uptime (`/proc/uptime`) at the shell, and the guest kernel's timestamp of
//!   `Run /init` (dmesg);
//! - host CPU of the QEMU process over [`IDLE`] at the idle shell (`utime + stime` from
//!   `/proc/<pid>/stat` over wall time; 100 % = one host core);
//! - the [`WORKLOADS`], each typed as one line: the time between its start and end markers as
//!   they arrive on QEMU's serial output (host wall time), and the guest's own clock read at both
//!   markers (`/proc/uptime`, 10 ms resolution);
//! - VMM exits per second from the VMM's `VMM: stats: <uptime_ms> ms, <exits> exits` lines
//!   (cumulative, printed about every 2 s with `--stats`), each stamped with the host time it
//!   arrived (to within [`POLL`]): during boot (exits on the last line before `GUEST-BOOTED` over
//!   host time since QEMU started) and over the idle window (first to last line inside it); and
//!   how fast the VMM's `<uptime_ms>` ran against host time in that window (a check on the
//!   VMM's clock).
//!
//! A workload that takes longer than [`WORK_LIMIT`] is interrupted with Ctrl-C and left out of
//! that run (reported under "Problems"); a session that fails otherwise keeps what it measured.
//!
//! `--icount` adds `-icount shift=0,sleep=off` to both QEMUs: the guest's clock then advances
//! one nanosecond per instruction the emulated CPU executes (seL4 and the VMM included: the
//! kernel is built without `VTIMER_UPDATE_VOFFSET`, so the guest's counter also runs while the
//! VMM handles its exits) and jumps over idle periods, so the guest-clock workload times count
//! instructions and do not depend on host load.

use crate::kernel::KernelInstall;
use crate::qemu::{Session, Wait};
use crate::vmm::{self, GuestOpts};
use crate::{target, Result};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Fewest sessions of each side per vCPU count.
pub const MIN_RUNS: usize = 5;
/// vCPU counts measured when `--vcpus` is not given.
pub const DEFAULT_VCPUS: &[u32] = &[1, 4];
/// The idle window at the shell.
const IDLE: Duration = Duration::from_secs(8);
/// Pause after the shell is up before the idle window starts.
const SETTLE: Duration = Duration::from_secs(1);
/// How long QEMU may take to `GUEST-BOOTED` (a 4-vCPU boot under the VMM takes about 45 s).
const BOOT_LIMIT: Duration = Duration::from_secs(240);
/// How long one workload may take before it is interrupted (Ctrl-C) and counted as missing.
const WORK_LIMIT: Duration = Duration::from_secs(60);
/// How long any other step may take.
const STEP_LIMIT: Duration = Duration::from_secs(60);
/// How [`step`]'s timeout errors start.
const TIMED_OUT: &str = "timed out";
/// While booting and idle, the output is read this often, so each `VMM: stats:` line gets the
/// host time it arrived to within this.
const POLL: Duration = Duration::from_millis(100);
/// A marker no output contains.
const NEVER: &str = "\0bench-never\0";
/// busybox ash's prompt (`PS1='\w \$ '` in `/`).
const PROMPT: &str = "/ # ";
/// Output that ends a session as failed.
const FORBIDDEN: &[&str] = &[
    "Kernel panic",
    "panicked at",
    "VMM: error",
    "VMM: unhandled",
];
/// QEMU's `-icount` value for `--icount`: one instruction per virtual nanosecond, idle time
/// skipped.
pub const ICOUNT: &str = "shift=0,sleep=off";
/// The root task's text size after the second code-size pass (docs/vmm.md).
const BASELINE_TEXT: u64 = 156_700;
/// What the VMM prints with `--stats`.
const STATS_PREFIX: &str = "VMM: stats: ";

/// A guest workload: one shell command line.
pub struct Workload {
    pub name: &'static str,
    pub cmd: &'static str,
}

/// The workloads, each about 1.5–3 s when QEMU boots the guest directly (1 vCPU, idle 2-core
/// host). `/tmp` is a fresh tmpfs (mounted by the benchmark); the VMM's guest has 256 MiB of RAM.
pub const WORKLOADS: &[Workload] = &[
    Workload {
        name: "shell arithmetic loop (50000)",
        cmd: "i=0; while [ $i -lt 50000 ]; do i=$((i+1)); done",
    },
    Workload {
        name: "fork+exec /bin/true x300",
        cmd: "for i in $(seq 300); do /bin/true; done",
    },
    Workload {
        name: "dd 1 GiB /dev/zero to /dev/null, bs=64k",
        cmd: "dd if=/dev/zero of=/dev/null bs=64k count=16384 2>/dev/null",
    },
    Workload {
        name: "tmpfs write 5 x 64 MiB (dd, rm)",
        cmd: "for k in 1 2 3 4 5; do dd if=/dev/zero of=/tmp/f bs=1M count=64 2>/dev/null; rm /tmp/f; done",
    },
];

/// What one QEMU session measured.
#[derive(Clone, Debug, Default)]
struct Sample {
    /// QEMU start to `GUEST-BOOTED`, host seconds.
    boot: f64,
    /// The guest's `/proc/uptime` at the shell.
    shell_uptime: Option<f64>,
    /// The guest kernel's timestamp of `Run /init` (dmesg).
    to_init: Option<f64>,
    /// Host CPU of QEMU over the idle window, % of one core.
    idle_cpu: Option<f64>,
    /// VMM exits per host second up to `GUEST-BOOTED`.
    boot_exits: Option<f64>,
    /// VMM exits per host second over the idle window.
    idle_exits: Option<f64>,
    /// Over the idle window: how fast the VMM's stats clock (`<uptime_ms>`) ran against host
    /// time (1.0: in step).
    stats_clock: Option<f64>,
    /// Per workload: host seconds between the markers.
    host: Vec<Option<f64>>,
    /// Per workload: guest-clock seconds between the markers.
    guest: Vec<Option<f64>>,
}

/// One vCPU count: both sides' QEMU arguments and their samples.
struct Config {
    vcpus: u32,
    vmm_args: Vec<String>,
    direct_args: Vec<String>,
    vmm: Vec<Sample>,
    direct: Vec<Sample>,
    failures: Vec<String>,
}

/// `cargo xtask bench guest`.
/// `append` goes on both sides' kernel command lines (e.g. `quiet`);
/// `console` is the VMM guest's console (the direct boot always has QEMU's PL011).
pub fn bench_guest(
    kernel: &KernelInstall,
    runs: usize,
    vcpus: &[u32],
    icount: bool,
    append: Option<&str>,
    console: vmm::ConsoleMode,
) -> Result<()> {
    if runs < MIN_RUNS {
        return Err(format!(
            "bench guest: at least {MIN_RUNS} runs of each side (got {runs})"
        ));
    }
    let app = target::build_root_task("vmm")?;
    let text = text_size(&app);
    let image = target::pack_image(kernel, &app, "vmm")?;
    let extra: Vec<String> = if icount {
        vec!["-icount".into(), ICOUNT.into()]
    } else {
        Vec::new()
    };
    let mut configs = Vec::new();
    let with = |base: &str| match append {
        Some(a) => format!("{base} {a}"),
        None => base.to_string(),
    };
    for &n in vcpus {
        let defaults = GuestOpts::with_console(console);
        let opts = GuestOpts {
            vcpus: n,
            stats: true,
            cmdline: vmm::cmdline(console, append),
            ..defaults
        };
        let mut vmm_args = vmm::qemu_args(&opts)?;
        vmm_args.extend(extra.iter().cloned());
        let direct_cmdline = with(vmm::CMDLINE_PASSTHROUGH);
        let mut direct_args = vmm::direct_args(kernel, &direct_cmdline, n)?;
        direct_args.extend(extra.iter().cloned());
        configs.push(Config {
            vcpus: n,
            vmm_args,
            direct_args,
            vmm: Vec::new(),
            direct: Vec::new(),
            failures: Vec::new(),
        });
    }
    let counts: Vec<String> = vcpus.iter().map(u32::to_string).collect();
    println!(
        "bench guest: {runs} runs of each side per vCPU count ({}), alternating (VMM first){}; \
         command line: VMM `{}`, direct `{}`",
        counts.join(", "),
        if icount {
            format!("; QEMU -icount {ICOUNT}")
        } else {
            String::new()
        },
        vmm::cmdline(console, append),
        with(vmm::CMDLINE_PASSTHROUGH),
    );
    for run in 1..=runs {
        for c in configs.iter_mut() {
            let t0 = Instant::now();
            let vmm = session(
                Session::start_with(kernel, &image, &c.vmm_args, BOOT_LIMIT),
                t0,
            );
            let t0 = Instant::now();
            let direct = session(Session::start_args(&c.direct_args, BOOT_LIMIT), t0);
            let mut line = format!("  run {run}, {} vCPU(s):", c.vcpus);
            let mut problems = Vec::new();
            for (side, (sample, trouble), samples) in
                [("VMM", vmm, &mut c.vmm), ("direct", direct, &mut c.direct)]
            {
                match sample {
                    Some(s) => {
                        line.push_str(&format!(" {side} {};", brief(&s)));
                        samples.push(s);
                    }
                    None => line.push_str(&format!(" {side} FAILED;")),
                }
                for t in trouble {
                    problems.push(format!("{side}, {} vCPU(s), run {run}: {t}", c.vcpus));
                }
            }
            println!("{}", line.trim_end_matches(';'));
            for p in &problems {
                println!("    problem: {}", p.lines().next().unwrap_or_default());
            }
            c.failures.extend(problems);
        }
    }
    println!();
    report(&configs, icount, text, console);
    let failed: Vec<&String> = configs.iter().flat_map(|c| &c.failures).collect();
    if !failed.is_empty() {
        println!();
        println!("Problems ({}):", failed.len());
        for f in &failed {
            println!("- {f}");
        }
    }
    if configs
        .iter()
        .any(|c| c.vmm.is_empty() || c.direct.is_empty())
    {
        return Err("bench guest: every session of one side failed".into());
    }
    Ok(())
}

/// Runs the measurements on a started session and stops it: the sample (if the guest booted;
/// steps after a failure are missing from it) and what went wrong.
fn session(started: Result<Session>, t0: Instant) -> (Option<Sample>, Vec<String>) {
    let mut s = match started {
        Ok(s) => s,
        Err(e) => return (None, vec![e]),
    };
    let mut problems = Vec::new();
    let mut stamps = Stamps::default();
    let (sample, fatal) = match watch(&mut s, Some("GUEST-BOOTED"), BOOT_LIMIT, &mut stamps) {
        Ok(()) => {
            let booted = Instant::now();
            let mut m = Sample {
                boot: (booted - t0).as_secs_f64(),
                host: vec![None; WORKLOADS.len()],
                guest: vec![None; WORKLOADS.len()],
                ..Sample::default()
            };
            m.boot_exits = boot_rate(&stamps.lines, t0, booted);
            let r = measure(&mut s, &mut m, &mut stamps, &mut problems);
            (Some(m), r.err())
        }
        Err(e) => (None, Some(e)),
    };
    let out = s.stop();
    if let Some(e) = fatal {
        let lines: Vec<&str> = out.lines().collect();
        let tail = lines[lines.len().saturating_sub(15)..].join("\n");
        problems.push(format!("{e}; output tail:\n{tail}"));
    }
    (sample, problems)
}

/// Everything after `GUEST-BOOTED`, into `m`. A workload that takes longer than
/// [`WORK_LIMIT`] is interrupted and noted in `problems`; other failures end the session.
fn measure(
    s: &mut Session,
    m: &mut Sample,
    stamps: &mut Stamps,
    problems: &mut Vec<String>,
) -> Result<()> {
    s.set_limit(STEP_LIMIT);
    step(s, PROMPT)?;
    // The quotes keep the echoed command line from matching the marker.
    s.send(
        "mount -t tmpfs tmpfs /tmp; read a b </proc/uptime; echo BENCH-UP''TIME $a; \
         echo BENCH-IN''IT $(dmesg | grep -m1 'Run /init' | cut -d] -f1 | tr -d '[ ')\n",
    )?;
    m.shell_uptime = marked_value(s, "BENCH-UPTIME ")?.1;
    m.to_init = marked_value(s, "BENCH-INIT ")?.1;
    step(s, PROMPT)?;

    watch(s, None, SETTLE, stamps)?;
    let pid = s.pid();
    let (c0, w0) = (cpu_ticks(pid)?, Instant::now());
    watch(s, None, IDLE, stamps)?;
    let (c1, w1) = (cpu_ticks(pid)?, Instant::now());
    m.idle_cpu = Some(100.0 * c1.saturating_sub(c0) as f64 / clk_tck() / (w1 - w0).as_secs_f64());
    let idle: Vec<Stat> = stamps
        .lines
        .iter()
        .filter(|l| l.at > w0 && l.at <= w1)
        .copied()
        .collect();
    m.idle_exits = window_rate(&idle);
    m.stats_clock = clock_ratio(&idle);

    for (i, w) in WORKLOADS.iter().enumerate() {
        s.set_limit(WORK_LIMIT);
        s.send(&format!(
            "read a b </proc/uptime; echo BENCH-ST''ART $a; {}; \
             read a b </proc/uptime; echo BENCH-E''ND $a\n",
            w.cmd
        ))?;
        match between_markers(s) {
            Ok(((ta, ga), (tb, gb))) => {
                m.host[i] = Some((tb - ta).as_secs_f64());
                m.guest[i] = ga.zip(gb).map(|(a, b)| b - a);
            }
            Err(e) if e.starts_with(TIMED_OUT) => {
                problems.push(format!(
                    "{}: {e} (limit {} s); interrupted with Ctrl-C",
                    w.name,
                    WORK_LIMIT.as_secs()
                ));
                s.send("\x03")?;
            }
            Err(e) => return Err(e),
        }
        s.set_limit(STEP_LIMIT);
        step(s, PROMPT)?;
    }
    Ok(())
}

/// A workload's start and end markers: when each arrived, and the guest clock at each.
type Marks = ((Instant, Option<f64>), (Instant, Option<f64>));

fn between_markers(s: &mut Session) -> Result<Marks> {
    let start = marked_value(s, "BENCH-START ")?;
    let end = marked_value(s, "BENCH-END ")?;
    Ok((start, end))
}

/// Waits for `marker` (failing on panics, timeouts and QEMU exiting).
fn step(s: &mut Session, marker: &str) -> Result<()> {
    match s.expect(marker, FORBIDDEN) {
        Wait::Found => Ok(()),
        Wait::Forbidden(f) => Err(format!("`{f}` while waiting for `{marker}`")),
        Wait::Timeout => Err(format!("{TIMED_OUT} waiting for `{marker}`")),
        Wait::Exited => Err(format!("QEMU exited while waiting for `{marker}`")),
    }
}

/// Waits for a `marker VALUE` line: when the marker arrived, and VALUE as a number.
fn marked_value(s: &mut Session, marker: &str) -> Result<(Instant, Option<f64>)> {
    step(s, marker)?;
    let at = Instant::now();
    step(s, "\n")?;
    let value = s
        .output
        .rfind(marker)
        .and_then(|p| s.output[p + marker.len()..].lines().next())
        .and_then(|l| l.trim().parse().ok());
    Ok((at, value))
}

/// The `(uptime_ms, exits)` of every `VMM: stats: <uptime_ms> ms, <exits> exits` line in
/// `text` (more `, ...` fields may follow).
fn stats(text: &str) -> Vec<(u64, u64)> {
    text.lines()
        .filter_map(|l| {
            let rest = &l[l.find(STATS_PREFIX)? + STATS_PREFIX.len()..];
            let (ms, rest) = rest.split_once(" ms, ")?;
            let (exits, tail) = rest.split_once(" exits")?;
            let tail = tail.trim_end();
            if !(tail.is_empty() || tail.starts_with(',')) {
                return None;
            }
            Some((ms.trim().parse().ok()?, exits.trim().parse().ok()?))
        })
        .collect()
}

/// A `VMM: stats:` line and the host time it arrived.
#[derive(Clone, Copy, Debug)]
struct Stat {
    at: Instant,
    ms: u64,
    exits: u64,
}

/// The stats lines seen so far, stamped on arrival by [`watch`].
#[derive(Default)]
struct Stamps {
    /// How much of the session's output has been scanned (whole lines only).
    scanned: usize,
    lines: Vec<Stat>,
}

impl Stamps {
    fn scan(&mut self, output: &str) {
        let Some(end) = output[self.scanned..].rfind('\n') else {
            return;
        };
        let end = self.scanned + end + 1;
        let at = Instant::now();
        for (ms, exits) in stats(&output[self.scanned..end]) {
            self.lines.push(Stat { at, ms, exits });
        }
        self.scanned = end;
    }
}

/// Waits up to `budget` for `marker` (`None`: just waits `budget`), reading the output every
/// [`POLL`] and stamping the stats lines that arrive.
fn watch(s: &mut Session, marker: Option<&str>, budget: Duration, st: &mut Stamps) -> Result<()> {
    let end = Instant::now() + budget;
    loop {
        let left = end.saturating_duration_since(Instant::now());
        s.set_limit(left.min(POLL));
        let r = step(s, marker.unwrap_or(NEVER));
        st.scan(&s.output);
        match r {
            Err(e) if e.starts_with(TIMED_OUT) && left > POLL => {}
            Err(e) if e.starts_with(TIMED_OUT) && marker.is_none() => return Ok(()),
            r => return r,
        }
    }
}

/// Exits per host second from QEMU's start (`t0`) to the last stats line before `booted` (or
/// the first after it, if the boot was quicker than one period).
fn boot_rate(lines: &[Stat], t0: Instant, booted: Instant) -> Option<f64> {
    let l = lines
        .iter()
        .rev()
        .find(|l| l.at <= booted)
        .or_else(|| lines.first())?;
    let secs = (l.at - t0).as_secs_f64();
    (secs > 0.0).then(|| l.exits as f64 / secs)
}

/// The first and last of `lines` that arrived at different times.
fn span(lines: &[Stat]) -> Option<(Stat, Stat, f64)> {
    let (a, b) = (*lines.first()?, *lines.last()?);
    let secs = (b.at - a.at).as_secs_f64();
    (secs > 0.0).then_some((a, b, secs))
}

/// Exits per host second between the first and last of `lines`.
fn window_rate(lines: &[Stat]) -> Option<f64> {
    let (a, b, secs) = span(lines)?;
    Some(b.exits.saturating_sub(a.exits) as f64 / secs)
}

/// How fast the VMM's stats clock ran against host time over `lines`.
fn clock_ratio(lines: &[Stat]) -> Option<f64> {
    let (a, b, secs) = span(lines)?;
    Some(b.ms.saturating_sub(a.ms) as f64 / 1000.0 / secs)
}

/// `utime + stime` of a process, in clock ticks.
fn cpu_ticks(pid: u32) -> Result<u64> {
    let path = format!("/proc/{pid}/stat");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    stat_ticks(&text).ok_or_else(|| format!("{path}: unexpected format"))
}

/// `utime + stime` (fields 14 and 15) of a `/proc/<pid>/stat` line; the command name (field 2,
/// in parentheses) may contain spaces.
fn stat_ticks(stat: &str) -> Option<u64> {
    let fields: Vec<&str> = stat[stat.rfind(')')? + 1..].split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3)?.parse::<u64>().ok();
    Some(field(14)? + field(15)?)
}

/// Clock ticks per second (`getconf CLK_TCK`, 100 if that fails).
fn clk_tck() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// The `text` column of `size` for an ELF.
fn text_size(elf: &Path) -> Option<u64> {
    ["aarch64-linux-gnu-size", "size"].iter().find_map(|tool| {
        let o = Command::new(tool).arg(elf).output().ok()?;
        o.status
            .success()
            .then(|| size_text(&String::from_utf8_lossy(&o.stdout)))?
    })
}

fn size_text(out: &str) -> Option<u64> {
    out.lines().nth(1)?.split_whitespace().next()?.parse().ok()
}

fn median(v: &[f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let mut v = v.to_vec();
    Some(vmm::median(&mut v))
}

fn brief(s: &Sample) -> String {
    let work: Vec<String> = s
        .host
        .iter()
        .map(|t| t.map_or("-".into(), |t| format!("{t:.2}")))
        .collect();
    format!(
        "boot {:.2} s, idle {} % CPU, work [{}] s",
        s.boot,
        s.idle_cpu.map_or("n/a".into(), |c| format!("{c:.0}")),
        work.join(" ")
    )
}

/// Table rows and the raw runs behind them.
struct Table {
    rows: Vec<String>,
    raw: Vec<String>,
}

impl Table {
    fn row(&mut self, what: &str, c: &Config, get: impl Fn(&Sample) -> Option<f64>, prec: usize) {
        let d: Vec<f64> = c.direct.iter().filter_map(&get).collect();
        let v: Vec<f64> = c.vmm.iter().filter_map(&get).collect();
        let (md, mv) = (median(&d), median(&v));
        let num = |x: Option<f64>| x.map_or("n/a".into(), |x| format!("{x:.prec$}"));
        let ratio = match (md, mv) {
            (Some(a), Some(b)) if a > 0.0 => format!("{:.3}", b / a),
            _ => "n/a".into(),
        };
        self.rows.push(format!(
            "| {what} | {} | {} | {} | {ratio} | {}/{} |",
            c.vcpus,
            num(md),
            num(mv),
            v.len(),
            d.len()
        ));
        let list = |x: &[f64]| {
            let s: Vec<String> = x.iter().map(|x| format!("{x:.prec$}")).collect();
            format!("[{}]", s.join(", "))
        };
        self.raw.push(format!(
            "{what}, {} vCPU(s): VMM {}, direct {}",
            c.vcpus,
            list(&v),
            list(&d)
        ));
    }
}

fn report(configs: &[Config], icount: bool, text: Option<u64>, console: vmm::ConsoleMode) {
    let mut t = Table {
        rows: Vec::new(),
        raw: Vec::new(),
    };
    let clock = if icount {
        "host wall time, icount"
    } else {
        "host wall time"
    };
    for c in configs {
        t.row(
            &format!("QEMU start to GUEST-BOOTED (s, {clock})"),
            c,
            |s| Some(s.boot),
            3,
        );
    }
    let guest_clock = if icount {
        "guest clock = instructions"
    } else {
        "guest clock"
    };
    for c in configs {
        t.row(
            &format!("guest kernel start to /init (s, {guest_clock}, dmesg)"),
            c,
            |s| s.to_init,
            3,
        );
    }
    // Under icount with sleep=off, the guest's clock jumps to its next timer while it waits for
    // input at the prompt, so its uptime there says nothing.
    if !icount {
        for c in configs {
            t.row(
                "guest uptime at the shell (s, guest clock)",
                c,
                |s| s.shell_uptime,
                2,
            );
        }
    }
    for c in configs {
        t.row(
            &format!(
                "host CPU of QEMU, {} s idle at the shell (%)",
                IDLE.as_secs()
            ),
            c,
            |s| s.idle_cpu,
            1,
        );
    }
    for c in configs {
        for (i, w) in WORKLOADS.iter().enumerate() {
            t.row(
                &format!("{} (s, {clock})", w.name),
                c,
                |s| s.host.get(i).copied().flatten(),
                3,
            );
        }
    }
    for c in configs {
        for (i, w) in WORKLOADS.iter().enumerate() {
            t.row(
                &format!("{} (s, {guest_clock})", w.name),
                c,
                |s| s.guest.get(i).copied().flatten(),
                2,
            );
        }
    }
    for c in configs {
        t.row(
            "VMM exits/s during boot (QEMU start to GUEST-BOOTED)",
            c,
            |s| s.boot_exits,
            0,
        );
    }
    for c in configs {
        t.row("VMM exits/s idle", c, |s| s.idle_exits, 0);
    }
    for c in configs {
        t.row(
            "VMM stats clock / host clock, idle (1 = in step)",
            c,
            |s| s.stats_clock,
            2,
        );
    }
    println!("| measure | vCPUs | direct QEMU (median) | seL4 + VMM (median) | VMM / direct | runs VMM/direct |");
    println!("|---|---|---|---|---|---|");
    for r in &t.rows {
        println!("{r}");
    }
    match text {
        Some(n) => println!(
            "| root task text (`size`, bytes; baseline: docs/vmm.md) | | {BASELINE_TEXT} | {n} | {:.3} | |",
            n as f64 / BASELINE_TEXT as f64
        ),
        None => println!(
            "| root task text (`size`, bytes; baseline: docs/vmm.md) | | {BASELINE_TEXT} | n/a (no `size`) | n/a | |"
        ),
    }
    println!();
    println!("Raw runs (in run order):");
    for r in &t.raw {
        println!("- {r}");
    }
    println!();
    println!(
        "VMM: seL4 + sel4vm-root-task on QEMU -smp 1 (vCPUs share seL4's one core), {} \
         console, 256 MiB guest RAM, --stats. Direct: QEMU -kernel Image -initrd with the same \
         -machine/-cpu/-m as the seL4 run (all of it guest RAM), console=ttyAMA0, \
         -smp N -accel tcg,thread=single for N > 1. Exits/s: from the VMM's `{STATS_PREFIX}` \
         lines, per host second (n/a: none printed; the direct boot has no VMM). \
         CPU: 100 % = one host core. Workloads over {} s are interrupted and left out.",
        match console {
            vmm::ConsoleMode::Virtio => "virtio",
            vmm::ConsoleMode::Passthrough => "passed-through PL011",
        },
        WORK_LIMIT.as_secs()
    );
    if icount {
        println!(
            "icount ({ICOUNT}): the guest clock counts 1 ns per instruction executed by the \
             emulated CPU (guest, seL4 and VMM alike) and skips idle time, so guest-clock times \
             measure instructions, not host speed or load; they ignore the host cost of each \
             instruction (e.g. TCG's stage-2 walks). Host wall times under icount are still \
             host-dependent, and QEMU spins through idle time at full speed: idle CPU (~100 %), idle \
             exits/s and the stats clock are not meaningful here."
        );
    } else {
        println!(
            "Host times vary with load on this machine (about ±30 %); `--icount` measures the \
             workloads in instructions instead."
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_lines_are_parsed() {
        let out =
            "junk\r\nVMM: stats: 2004 ms, 1234 exits\r\n/ # VMM: stats: 4010 ms, 5000 exits\n\
             VMM: stats: bad\nVMM: stats: 5000 ms, 9 exitsX\n\
             VMM: stats: 6000 ms, 6000 exits, 7 kernel calls, 3 wake-ups\r";
        assert_eq!(stats(out), [(2004, 1234), (4010, 5000), (6000, 6000)]);
        assert!(stats("no stats").is_empty());
    }

    #[test]
    fn stamped_stats_give_rates() {
        let t0 = Instant::now();
        let at = |s: f64| t0 + Duration::from_secs_f64(s);
        let mut st = Stamps::default();
        st.scan("VMM: stats: 2000 ms, 100 exits\nVMM: stats: 40");
        assert_eq!(st.lines.len(), 1, "whole lines only");
        st.scan("VMM: stats: 2000 ms, 100 exits\nVMM: stats: 4000 ms, 300 exits\n");
        assert_eq!(st.lines.len(), 2);
        assert_eq!((st.lines[1].ms, st.lines[1].exits), (4000, 300));
        let line = |s: f64, ms: u64, exits: u64| Stat {
            at: at(s),
            ms,
            exits,
        };
        let v = [
            line(2.5, 2000, 1000),
            line(4.5, 4000, 1400),
            line(6.5, 6000, 1500),
        ];
        // Boot: the last line before GUEST-BOOTED, over host time since QEMU started.
        assert_eq!(boot_rate(&v, t0, at(5.0)), Some(1400.0 / 4.5));
        assert_eq!(boot_rate(&v, t0, at(1.0)), Some(1000.0 / 2.5));
        assert_eq!(boot_rate(&[], t0, at(1.0)), None);
        // Idle: first to last line, host time; the VMM's clock against the host's.
        assert_eq!(window_rate(&v), Some(500.0 / 4.0));
        assert_eq!(clock_ratio(&v), Some(1.0));
        assert_eq!(window_rate(&v[..1]), None);
        let fast = [line(1.0, 2000, 10), line(1.5, 52000, 60)];
        assert_eq!(clock_ratio(&fast), Some(100.0));
    }

    #[test]
    fn proc_stat_and_size_are_parsed() {
        let stat = "4242 (qemu-system-aar ch) S 1 2 3 4 5 6 7 8 9 10 250 31 0 0 20 0 4 0";
        assert_eq!(stat_ticks(stat), Some(281));
        assert_eq!(stat_ticks("garbage"), None);
        let size = "   text\t   data\t    bss\t    dec\t    hex\tfilename\n 188208\t     24\t2162848\t2351080\t 23dfe8\tx\n";
        assert_eq!(size_text(size), Some(188_208));
    }

    #[test]
    fn workloads_fit_one_line() {
        for w in WORKLOADS {
            assert!(!w.cmd.contains('\n') && !w.cmd.contains("BENCH-"));
        }
        assert!(MIN_RUNS >= 5 && DEFAULT_VCPUS == [1, 4]);
    }
}
