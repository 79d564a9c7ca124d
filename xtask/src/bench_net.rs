//! `cargo xtask bench net [RUNS]`: guest network throughput under the VMM
//! (virtio-net model, VMM-driven QEMU `virtio-net-device`) against the same
//! guest booted directly by QEMU with its own `virtio-net-device`, both on
//! QEMU user networking. Alternating runs, medians, ratios.
//!
//! Host to guest: the guest fetches [`MIB`] MiB with busybox `wget` from a
//! server on the host (10.0.2.2), timed with the guest's `/proc/uptime`.
//! Guest to host: the host fetches [`MIB`] MiB from the guest's busybox
//! `httpd` through a forwarded port, timed on the host.

use crate::http;
use crate::kernel::KernelInstall;
use crate::qemu::{Session, GUEST_FAILURES};
use crate::target;
use crate::vmm::{self, GuestOpts, Net};
use crate::Result;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// MiB moved per direction and run.
const MIB: usize = 64;
/// Fewest runs of each side.
pub const MIN_RUNS: usize = 5;

/// (host→guest MiB/s, guest→host MiB/s) of one guest.
type Rates = (f64, f64);

/// The number (digits, dots, commas) after the last `KEY=`: a kernel
/// message can land on the same line right after it.
fn value(out: &str, key: &str) -> Result<String> {
    let at = out.rfind(&format!("{key}=")).ok_or(format!("no {key}="))?;
    Ok(out[at + key.len() + 1..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || matches!(c, '.' | ','))
        .collect())
}

/// Runs both transfers in a booted guest whose port 80 is `port` on the host.
fn measure(mut s: Session, port: u16, server: &http::Server) -> Result<Rates> {
    let r = (|| -> Result<Rates> {
        s.shell_up(GUEST_FAILURES, Duration::from_secs(300))?;
        s.send(
            "i=0; while [ ! -s /tmp/eth0.ip ] && [ $i -lt 100 ]; do usleep 200000; i=$((i+1)); done; \
             echo I''P=$(cat /tmp/eth0.ip 2>/dev/null || echo none)\n",
        )?;
        s.expect_ok("IP=", GUEST_FAILURES)?;
        s.expect_ok("\n", GUEST_FAILURES)?;
        let ip = value(&s.output, "IP")?;
        if ip != "10.0.2.15" {
            return Err(format!("no DHCP lease (eth0 `{ip}`)"));
        }
        // Host to guest.
        let up = "cut -d' ' -f1 /proc/uptime";
        s.send(&format!(
            "a=$({up}); wget -q -O /dev/null http://10.0.2.2:{}/blob; b=$({up}); echo D''L=$a,$b\n",
            server.port
        ))?;
        s.expect_ok("DL=", GUEST_FAILURES)?;
        s.expect_ok("\n", GUEST_FAILURES)?;
        let line = value(&s.output, "DL")?;
        let (a, b) = line
            .split_once(',')
            .ok_or(format!("bad DL line `{line}`"))?;
        let p = |v: &str| v.trim().parse::<f64>().map_err(|e| format!("DL: {e}"));
        let dl = p(b)? - p(a)?;
        if dl <= 0.0 {
            return Err(format!("DL: no time passed ({line})"));
        }
        // Guest to host.
        s.send(&format!(
            "mkdir -p /www && dd if=/dev/zero of=/www/blob bs=1M count={MIB} 2>/dev/null && httpd -p 80 -h /www && echo HT''TPD-UP\n"
        ))?;
        s.expect_ok("HTTPD-UP", GUEST_FAILURES)?;
        let t = Instant::now();
        let body = http::get(port, "/blob", Duration::from_secs(120))?;
        let ul = t.elapsed().as_secs_f64();
        if body.len() != MIB << 20 {
            return Err(format!("fetched {} bytes, not {}", body.len(), MIB << 20));
        }
        Ok((MIB as f64 / dl, MIB as f64 / ul))
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

/// The benchmark: `runs` alternating pairs.
pub fn bench_net(kernel: &KernelInstall, runs: usize) -> Result<()> {
    if runs < MIN_RUNS {
        return Err(format!("bench net: at least {MIN_RUNS} runs of each side"));
    }
    let server = http::Server::start(Arc::new(vec![0x5a; MIB << 20]))?;
    let app = target::build_root_task("vmm")?;
    let image = target::pack_image(kernel, &app, "vmm")?;
    let (mut vd, mut vu, mut dd, mut du) = (vec![], vec![], vec![], vec![]);
    let limit = Duration::from_secs(400);
    for i in 0..runs {
        // Alternate which side goes first.
        for side in if i % 2 == 0 { [0, 1] } else { [1, 0] } {
            let port = http::free_port()?;
            let net = Net::forwarding(port, 80);
            let s = if side == 0 {
                let opts = GuestOpts {
                    net: Some(net),
                    ..GuestOpts::default()
                };
                Session::start_with(kernel, &image, &vmm::qemu_args(&opts)?, limit)?
            } else {
                let mut direct = vmm::direct_args(kernel, vmm::CMDLINE_PASSTHROUGH, 1)?;
                direct.extend(["-global".into(), "virtio-mmio.force-legacy=false".into()]);
                net.check()?;
                direct.extend(net.qemu_args());
                Session::start_args(&direct, limit)?
            };
            let (d, u) = measure(s, port, &server).map_err(|e| {
                format!(
                    "run {i} ({}): {e}",
                    if side == 0 { "VMM" } else { "direct" }
                )
            })?;
            let name = if side == 0 { "VMM   " } else { "direct" };
            println!(
                "bench net: run {i} {name}: host->guest {d:6.1} MiB/s, guest->host {u:6.1} MiB/s"
            );
            if side == 0 {
                vd.push(d);
                vu.push(u);
            } else {
                dd.push(d);
                du.push(u);
            }
        }
    }
    let m = |v: &mut Vec<f64>| vmm::median(v);
    let (vd, vu, dd, du) = (m(&mut vd), m(&mut vu), m(&mut dd), m(&mut du));
    println!(
        "bench net: {runs} runs each, {MIB} MiB over HTTP, QEMU user networking, medians (MiB/s):\n\
         | | host → guest | guest → host |\n|---|---|---|\n\
         | direct QEMU virtio-net-device | {dd:.1} | {du:.1} |\n\
         | VMM (virtio-net model, VMM-driven QEMU device) | {vd:.1} | {vu:.1} |\n\
         | ratio VMM / direct | {:.2} | {:.2} |",
        vd / dd,
        vu / du
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::value;

    #[test]
    fn a_kernel_message_after_a_value_is_not_part_of_it() {
        let out = "echo I''P=x\nIP=10.0.2.15[   11.69] IPv6: eth0: link becomes ready\n";
        assert_eq!(value(out, "IP").unwrap(), "10.0.2.15");
        assert_eq!(value("DL=7.50,12.92\r\n", "DL").unwrap(), "7.50,12.92");
    }
}
