//! `cargo xtask bench blk [RUNS]`: sequential disk throughput of the guest
//! under the VMM (virtio-blk model, VMM-driven QEMU `virtio-blk-device`,
//! bounce buffers) against the same guest booted directly by QEMU with the
//! same image as its own `virtio-blk-device`. Alternating runs, medians,
//! ratios.
//!
//! In the guest: `dd` of [`MIB`] MiB in 1 MiB blocks with `oflag=direct`
//! (write, from `/dev/zero`) and `iflag=direct` (read, to `/dev/null`),
//! timed with the guest's `/proc/uptime` (the guest's counter runs at the
//! host's pace on both sides; 10 ms resolution).

use crate::kernel::KernelInstall;
use crate::qemu::{Session, GUEST_FAILURES};
use crate::target;
use crate::vmm::{self, Disk, GuestOpts};
use crate::Result;
use std::time::Duration;

/// MiB moved per direction and run.
const MIB: u64 = 256;
/// Fewest runs of each side.
pub const MIN_RUNS: usize = 5;

/// (write MiB/s, read MiB/s) of one guest.
type Rates = (f64, f64);

/// Seconds between the two uptimes of the last `KEY=a,b` line.
fn elapsed(out: &str, key: &str) -> Result<f64> {
    let at = out.rfind(&format!("{key}=")).ok_or(format!("no {key}="))?;
    let line = out[at + key.len() + 1..].lines().next().unwrap_or("");
    let (a, b) = line
        .trim()
        .split_once(',')
        .ok_or(format!("bad {key} line `{line}`"))?;
    let p = |v: &str| v.trim().parse::<f64>().map_err(|e| format!("{key}: {e}"));
    let d = p(b)? - p(a)?;
    if d <= 0.0 {
        return Err(format!("{key}: no time passed ({line})"));
    }
    Ok(d)
}

/// Runs the write and read passes in a booted guest.
fn measure(mut s: Session) -> Result<Rates> {
    let r = (|| -> Result<Rates> {
        s.shell_up(GUEST_FAILURES, Duration::from_secs(300))?;
        let up = "cut -d' ' -f1 /proc/uptime";
        s.send(&format!(
            "a=$({up}); dd if=/dev/zero of=/dev/vda bs=1M count={MIB} oflag=direct 2>/dev/null; \
             b=$({up}); echo W''T=$a,$b\n"
        ))?;
        s.expect_ok("WT=", GUEST_FAILURES)?;
        s.expect_ok("\n", GUEST_FAILURES)?;
        s.send(&format!(
            "a=$({up}); dd if=/dev/vda of=/dev/null bs=1M count={MIB} iflag=direct 2>/dev/null; \
             b=$({up}); echo R''T=$a,$b\n"
        ))?;
        s.expect_ok("RT=", GUEST_FAILURES)?;
        s.expect_ok("\n", GUEST_FAILURES)?;
        let w = elapsed(&s.output, "WT")?;
        let r = elapsed(&s.output, "RT")?;
        Ok((MIB as f64 / w, MIB as f64 / r))
    })();
    let out = s.stop();
    r.map_err(|e| {
        let lines: Vec<&str> = out.lines().collect();
        format!(
            "{e}; output tail:\n{}",
            lines[lines.len().saturating_sub(12)..].join("\n")
        )
    })
}

fn median(v: &mut [f64]) -> f64 {
    vmm::median(v)
}

/// The benchmark: `runs` alternating pairs.
pub fn bench_blk(kernel: &KernelInstall, runs: usize) -> Result<()> {
    if runs < MIN_RUNS {
        return Err(format!("bench blk: at least {MIN_RUNS} runs of each side"));
    }
    let dir = target::target_dir().join("bench");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let path = dir.join("blk.img");
    let f = std::fs::File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    f.set_len((MIB + 16) << 20)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    drop(f);
    let disk = Disk {
        path,
        read_only: false,
        throttle_bps: None,
    };
    let opts = GuestOpts {
        disk: Some(disk.clone()),
        ..GuestOpts::default()
    };
    let extra = vmm::qemu_args(&opts)?;
    let app = target::build_root_task("vmm")?;
    let image = target::pack_image(kernel, &app, "vmm")?;
    let mut direct = vmm::direct_args(kernel, vmm::CMDLINE_PASSTHROUGH, 1)?;
    direct.extend(["-global".into(), "virtio-mmio.force-legacy=false".into()]);
    direct.extend(disk.qemu_args());

    let (mut vw, mut vr, mut dw, mut dr) = (vec![], vec![], vec![], vec![]);
    let limit = Duration::from_secs(400);
    for i in 0..runs {
        // Alternate which side goes first.
        for side in if i % 2 == 0 { [0, 1] } else { [1, 0] } {
            let s = if side == 0 {
                Session::start_with(kernel, &image, &extra, limit)?
            } else {
                Session::start_args(&direct, limit)?
            };
            let (w, r) = measure(s).map_err(|e| {
                format!(
                    "run {i} ({}): {e}",
                    if side == 0 { "VMM" } else { "direct" }
                )
            })?;
            let name = if side == 0 { "VMM   " } else { "direct" };
            println!("bench blk: run {i} {name}: write {w:7.1} MiB/s, read {r:7.1} MiB/s");
            if side == 0 {
                vw.push(w);
                vr.push(r);
            } else {
                dw.push(w);
                dr.push(r);
            }
        }
    }
    let (vw, vr, dw, dr) = (
        median(&mut vw),
        median(&mut vr),
        median(&mut dw),
        median(&mut dr),
    );
    println!(
        "bench blk: {runs} runs each, {MIB} MiB, 1 MiB direct I/O, medians (MiB/s):\n\
         | | write | read |\n|---|---|---|\n\
         | direct QEMU virtio-blk-device | {dw:.1} | {dr:.1} |\n\
         | VMM (virtio-blk model, VMM-driven QEMU device) | {vw:.1} | {vr:.1} |\n\
         | ratio VMM / direct | {:.2} | {:.2} |",
        vw / dw,
        vr / dr
    );
    Ok(())
}
