//! The Linux VMM's QEMU side: which files QEMU places in physical memory
//! for the root-task VMM, and the boot benchmark.
//!
//! QEMU loads the guest `Image` and initramfs twice with `-device loader`:
//! once at their final guest-physical addresses inside the 1:1 guest RAM
//! (so the VMM validates them in place and copies nothing at start-up) and
//! once as pristine copies in the staging area above guest RAM (reloaded by
//! `guest_restart`, and the source for the ordinary-RAM mode). A small
//! parameter block tells the VMM sizes, addresses, vCPU count, console
//! mode and command line. Addresses come from `sel4vm_root_task::bootparams::plan`, the same
//! layout function the VMM uses.

use crate::guest;
use crate::kernel::KernelInstall;
use crate::qemu::{Session, Wait};
use crate::target;
use crate::Result;
use sel4vm_root_task::bootparams::plan;
pub use sel4vm_root_task::config::ConsoleMode;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The guest kernel command line with the virtio console: the shell on `hvc0` (once the
/// initramfs has loaded `virtio_console`), boot messages before that on the VMM's emulated PL011
/// (`earlycon`, at QEMU virt's UART address). `--append` adds to it.
pub const CMDLINE_VIRTIO: &str = "console=hvc0 earlycon=pl011,0x09000000";
/// The guest kernel command line with the PL011 passed through.
pub const CMDLINE_PASSTHROUGH: &str = "console=ttyAMA0";

/// The command line for a console mode (`--append` adds to it).
pub fn default_cmdline(console: ConsoleMode) -> &'static str {
    match console {
        ConsoleMode::Virtio => CMDLINE_VIRTIO,
        ConsoleMode::Passthrough => CMDLINE_PASSTHROUGH,
    }
}

/// The command line for a console mode with `append` (`--append`) added. With the virtio console,
/// `earlycon=` stays last: Linux parses early parameters in order, and the boot console replays
/// the messages so far when it registers, so a `quiet` or `loglevel=` before it also keeps that
/// replay quiet (otherwise five lines, about 450 characters, each an exit to the VMM).
pub fn cmdline(console: ConsoleMode, append: Option<&str>) -> String {
    let base = default_cmdline(console);
    match (console, append) {
        (_, None) => base.to_string(),
        (ConsoleMode::Virtio, Some(a)) => match base.split_once(" earlycon=") {
            Some((head, early)) => format!("{head} {a} earlycon={early}"),
            None => format!("{base} {a}"),
        },
        (ConsoleMode::Passthrough, Some(a)) => format!("{base} {a}"),
    }
}

/// Parses `--console`'s value.
pub fn parse_console(s: &str) -> Result<ConsoleMode> {
    match s {
        "virtio" => Ok(ConsoleMode::Virtio),
        "passthrough" => Ok(ConsoleMode::Passthrough),
        _ => Err(format!(
            "--console: `{s}` is not a console mode (virtio or passthrough)"
        )),
    }
}

/// How the guest is set up.
#[derive(Clone, Debug)]
pub struct GuestOpts {
    pub vcpus: u32,
    pub cmdline: String,
    /// Back guest RAM with ordinary kernel RAM (images copied in) instead of 1:1.
    pub ram_anywhere: bool,
    /// The guest's console; `cmdline` must name the matching device.
    pub console: ConsoleMode,
    /// Ask the VMM to print run statistics periodically (`--stats`).
    pub stats: bool,
    /// The disk QEMU offers (the VMM drives it and gives the guest `/dev/vda`).
    pub disk: Option<Disk>,
    /// The NIC QEMU offers (the VMM drives it and gives the guest `eth0`).
    pub net: Option<Net>,
}

/// The guest's network: `--net user[,OPTION...]`, QEMU's user-mode
/// networking (`-netdev user`) with its own option syntax, e.g.
/// `hostfwd=tcp::8080-:80` (repeatable).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Net {
    /// The options after `user`, as QEMU takes them.
    pub options: Vec<String>,
}

/// One `hostfwd=[tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostFwd {
    pub udp: bool,
    pub host_addr: String,
    pub host_port: u16,
    pub guest_port: u16,
}

/// The host port plain `cargo xtask run` forwards to the guest's port 80.
pub const DEFAULT_HOST_PORT: u16 = 10080;

impl Net {
    /// Parses `user[,OPTION...]`; `none` gives no network (`None`).
    pub fn parse(s: &str) -> Result<Option<Net>> {
        if s == "none" {
            return Ok(None);
        }
        let mut parts = s.split(',');
        if parts.next() != Some("user") {
            return Err(format!(
                "--net {s}: only QEMU user-mode networking is offered (--net user[,hostfwd=tcp::HOSTPORT-:GUESTPORT]... or --net none)"
            ));
        }
        let options: Vec<String> = parts.map(str::to_string).collect();
        if let Some(o) = options.iter().find(|o| o.is_empty() || !o.contains('=')) {
            return Err(format!("--net {s}: `{o}` is not an OPTION=VALUE"));
        }
        let net = Net { options };
        net.forwards()?;
        Ok(Some(net))
    }

    /// The default network: one forwarded port, host 127.0.0.1:10080 to the guest's port 80.
    pub fn default_user() -> Net {
        Net {
            options: vec![format!("hostfwd=tcp:127.0.0.1:{DEFAULT_HOST_PORT}-:80")],
        }
    }

    /// User networking forwarding `host_port` on 127.0.0.1 to `guest_port`.
    pub fn forwarding(host_port: u16, guest_port: u16) -> Net {
        Net {
            options: vec![format!("hostfwd=tcp:127.0.0.1:{host_port}-:{guest_port}")],
        }
    }

    /// The `hostfwd` options, parsed.
    pub fn forwards(&self) -> Result<Vec<HostFwd>> {
        let mut v = Vec::new();
        for o in &self.options {
            let Some(spec) = o.strip_prefix("hostfwd=") else {
                continue;
            };
            let bad = || {
                format!("--net: `{o}` is not hostfwd=[tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT")
            };
            let (proto, rest) = spec.split_once(':').ok_or_else(bad)?;
            let udp = match proto {
                "" | "tcp" => false,
                "udp" => true,
                _ => return Err(bad()),
            };
            let (host, guest) = rest.split_once('-').ok_or_else(bad)?;
            let (host_addr, host_port) = host.rsplit_once(':').ok_or_else(bad)?;
            let guest_port = guest.rsplit_once(':').map_or(guest, |g| g.1);
            let port = |p: &str| p.parse::<u16>().ok().filter(|&p| p != 0);
            v.push(HostFwd {
                udp,
                host_addr: host_addr.to_string(),
                host_port: port(host_port).ok_or_else(bad)?,
                guest_port: port(guest_port).ok_or_else(bad)?,
            });
        }
        Ok(v)
    }

    /// Checks before boot that every forwarded host port is free (QEMU
    /// would otherwise fail with a less direct message, or not at all).
    pub fn check(&self) -> Result<()> {
        for f in self.forwards()? {
            let addr = if f.host_addr.is_empty() {
                "0.0.0.0"
            } else {
                f.host_addr.as_str()
            };
            let at = format!("{addr}:{}", f.host_port);
            let r = if f.udp {
                std::net::UdpSocket::bind(&at).map(drop)
            } else {
                std::net::TcpListener::bind(&at).map(drop)
            };
            r.map_err(|e| {
                format!(
                    "--net: host port {} ({}) cannot be forwarded: {e}; pick another with --net user,hostfwd=tcp::PORT-:{}",
                    f.host_port,
                    if f.udp { "udp" } else { "tcp" },
                    f.guest_port
                )
            })?;
        }
        Ok(())
    }

    /// QEMU arguments: user networking behind a `virtio-net-device`.
    pub fn qemu_args(&self) -> Vec<String> {
        let mut netdev = "user,id=net0".to_string();
        for o in &self.options {
            netdev.push(',');
            netdev.push_str(o);
        }
        vec![
            "-netdev".into(),
            netdev,
            "-device".into(),
            "virtio-net-device,netdev=net0".into(),
        ]
    }
}

/// A disk image for the guest: `--disk FILE[,ro]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Disk {
    pub path: PathBuf,
    pub read_only: bool,
    /// QEMU I/O throttling (bytes/s, reads and writes together): tests use
    /// it to keep requests at the real device long enough to catch them.
    pub throttle_bps: Option<u64>,
}

/// Size of the scratch disk plain `cargo xtask run` attaches.
pub const SCRATCH_DISK_BYTES: u64 = 64 << 20;

impl Disk {
    /// Parses `FILE` or `FILE,ro`.
    pub fn parse(s: &str) -> Result<Disk> {
        let (path, read_only) = match s.strip_suffix(",ro") {
            Some(p) => (p, true),
            None => (s, false),
        };
        if path.is_empty() {
            return Err("--disk: no file given (--disk FILE[,ro])".into());
        }
        Ok(Disk {
            path: path.into(),
            read_only,
            throttle_bps: None,
        })
    }

    /// Checks before boot that the image exists, is a file of whole
    /// sectors, and can be opened as asked (read-write unless `ro`).
    pub fn check(&self) -> Result<()> {
        let p = self.path.display();
        let meta = std::fs::metadata(&self.path).map_err(|e| format!("--disk {p}: {e}"))?;
        if !meta.is_file() {
            return Err(format!("--disk {p}: not a regular file"));
        }
        if meta.len() < 512 || meta.len() % 512 != 0 {
            return Err(format!(
                "--disk {p}: {} bytes is not a whole number of 512-byte sectors",
                meta.len()
            ));
        }
        std::fs::OpenOptions::new()
            .read(true)
            .write(!self.read_only)
            .open(&self.path)
            .map_err(|e| self.open_failure(&e))?;
        Ok(())
    }

    /// What `check` says when the image cannot be opened as asked.
    fn open_failure(&self, e: &std::io::Error) -> String {
        let how = if self.read_only {
            "reading"
        } else {
            "writing (add ,ro for a read-only disk)"
        };
        format!("--disk {}: cannot open for {how}: {e}", self.path.display())
    }

    /// The scratch disk under `target/` (made, sparse, if missing).
    pub fn scratch() -> Result<Disk> {
        let dir = target::target_dir().join("vmm");
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let path = dir.join("scratch-disk.img");
        if !path.exists() {
            let f = std::fs::File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            f.set_len(SCRATCH_DISK_BYTES)
                .map_err(|e| format!("{}: {e}", path.display()))?;
        }
        Ok(Disk {
            path,
            read_only: false,
            throttle_bps: None,
        })
    }

    /// QEMU arguments: the image as a `virtio-blk-device` on a virtio-mmio
    /// slot, modern interface (QEMU 7.2 defaults to legacy).
    pub fn qemu_args(&self) -> Vec<String> {
        // QEMU option values escape a comma by doubling it.
        let file = self.path.display().to_string().replace(',', ",,");
        vec![
            "-drive".into(),
            format!(
                "if=none,id=disk0,format=raw,file={file}{}{}",
                if self.read_only { ",readonly=on" } else { "" },
                self.throttle_bps
                    .map(|b| format!(",throttling.bps-total={b}"))
                    .unwrap_or_default()
            ),
            "-device".into(),
            "virtio-blk-device,drive=disk0".into(),
        ]
    }
}

impl GuestOpts {
    /// One vCPU, 1:1 RAM, `console` with its default command line.
    pub fn with_console(console: ConsoleMode) -> Self {
        Self {
            vcpus: 1,
            cmdline: default_cmdline(console).into(),
            ram_anywhere: false,
            console,
            stats: false,
            disk: None,
            net: None,
        }
    }
}

impl Default for GuestOpts {
    fn default() -> Self {
        Self::with_console(ConsoleMode::Virtio)
    }
}

fn loader(file: &Path, addr: u64) -> [String; 2] {
    [
        "-device".into(),
        format!("loader,file={},addr={addr:#x},force-raw=on", file.display()),
    ]
}

/// QEMU arguments placing the guest images and the parameter block.
pub fn qemu_args(opts: &GuestOpts) -> Result<Vec<String>> {
    let g = guest::prepare()?;
    let read = |p: &Path| std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()));
    let kernel = read(&g.image)?;
    let initrd_size = std::fs::metadata(&g.initramfs)
        .map_err(|e| format!("{}: {e}", g.initramfs.display()))?
        .len();
    let head = &kernel[..kernel.len().min(4096)];
    let (mut params, _layout, places) = plan(
        head,
        kernel.len() as u64,
        initrd_size,
        opts.vcpus,
        &opts.cmdline,
    )
    .map_err(|e| format!("guest layout: {e}"))?;
    params.ram_anywhere = opts.ram_anywhere;
    params.console = opts.console;
    params.stats = opts.stats;
    let dir = target::target_dir().join("vmm");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let block = params.encode();
    // Named by content: reruns reuse it and nothing accumulates per run.
    let tag = block.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    let pfile = dir.join(format!("params-{tag:016x}.bin"));
    std::fs::write(&pfile, &block).map_err(|e| format!("{}: {e}", pfile.display()))?;
    let mut args = Vec::new();
    for p in places {
        let file: PathBuf = match p.what {
            "params" => pfile.clone(),
            "kernel" => g.image.clone(),
            _ => g.initramfs.clone(),
        };
        args.extend(loader(&file, p.addr));
    }
    if opts.disk.is_some() || opts.net.is_some() {
        // The modern interface for the devices the VMM drives (QEMU 7.2
        // defaults to legacy).
        args.extend(["-global".into(), "virtio-mmio.force-legacy=false".into()]);
    }
    if let Some(d) = &opts.disk {
        d.check()?;
        args.extend(d.qemu_args());
    }
    if let Some(n) = &opts.net {
        n.check()?;
        args.extend(n.qemu_args());
    }
    Ok(args)
}

/// Boots the VMM image with the guest placed; returns QEMU's exit.
pub fn run_interactive(kernel: &KernelInstall, opts: &GuestOpts) -> Result<()> {
    let extra = qemu_args(opts)?;
    let app = target::build_root_task("vmm")?;
    let image = target::pack_image(kernel, &app, "vmm")?;
    let console = match opts.console {
        ConsoleMode::Virtio => "virtio console",
        ConsoleMode::Passthrough => "PL011 passed through",
    };
    println!(
        "xtask: booting the Linux VMM ({} vCPU(s), {console}, cmdline `{}`); Ctrl-A X exits QEMU",
        opts.vcpus, opts.cmdline
    );
    crate::qemu::run_interactive_with(kernel, &image, &extra)
}

/// Direct boot of the same guest on QEMU (no seL4), for the benchmarks. QEMU gives it no
/// virtio console, so its command line is [`CMDLINE_PASSTHROUGH`] (the guest's console is QEMU's
/// PL011). With `vcpus > 1` QEMU gets `-smp N -accel tcg,thread=single`: its vCPUs take turns on
/// one host thread, as the VMM's take turns on seL4's one core.
pub(crate) fn direct_args(
    kernel: &KernelInstall,
    cmdline: &str,
    vcpus: u32,
) -> Result<Vec<String>> {
    let g = guest::prepare()?;
    let mut a = kernel.qemu_args();
    if vcpus > 1 {
        a.extend(smp_args(vcpus));
    }
    a.extend(["-nographic".into(), "-kernel".into()]);
    a.push(g.image.display().to_string());
    a.extend(["-initrd".into(), g.initramfs.display().to_string()]);
    a.extend(["-append".into(), cmdline.to_string()]);
    Ok(a)
}

/// QEMU arguments for `vcpus` guest CPUs serialised on one host thread.
fn smp_args(vcpus: u32) -> [String; 4] {
    [
        "-smp".into(),
        vcpus.to_string(),
        "-accel".into(),
        "tcg,thread=single".into(),
    ]
}

/// Seconds from QEMU start to `GUEST-BOOTED`.
fn time_to_boot(mut s: Session, start: Instant) -> Result<f64> {
    let r = s.expect("GUEST-BOOTED", &["Kernel panic", "panicked at"]);
    let t = start.elapsed().as_secs_f64();
    let out = s.stop();
    match r {
        Wait::Found => Ok(t),
        _ => Err(format!(
            "no GUEST-BOOTED; output tail:\n{}",
            out.lines()
                .rev()
                .take(15)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("\n")
        )),
    }
}

pub(crate) fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// `cargo xtask bench boot`: QEMU start to `GUEST-BOOTED`, VMM vs direct,
/// alternating, `runs` of each.
pub fn bench_boot(kernel: &KernelInstall, runs: usize) -> Result<()> {
    let opts = GuestOpts::default();
    let extra = qemu_args(&opts)?;
    let app = target::build_root_task("vmm")?;
    let image = target::pack_image(kernel, &app, "vmm")?;
    let direct = direct_args(kernel, CMDLINE_PASSTHROUGH, 1)?;
    let limit = Duration::from_secs(120);
    let (mut vmm, mut dir) = (Vec::new(), Vec::new());
    println!("bench boot: {runs} runs each, alternating (VMM first)");
    for i in 0..runs {
        let t0 = Instant::now();
        let s = Session::start_with(kernel, &image, &extra, limit)?;
        let a = time_to_boot(s, t0)?;
        let t0 = Instant::now();
        let s = Session::start_args(&direct, limit)?;
        let b = time_to_boot(s, t0)?;
        println!("  run {}: VMM {a:.3} s, direct {b:.3} s", i + 1);
        vmm.push(a);
        dir.push(b);
    }
    let min = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    let (nv, nd) = (min(&vmm), min(&dir));
    let (mv, md) = (median(&mut vmm), median(&mut dir));
    println!();
    println!("| QEMU start to GUEST-BOOTED | median (s) | best (s) | runs |");
    println!("|---|---|---|---|");
    println!("| direct QEMU (-kernel Image -initrd) | {md:.3} | {nd:.3} | {runs} |");
    println!("| seL4 + sel4vm-root-task | {mv:.3} | {nv:.3} | {runs} |");
    println!("| ratio VMM / direct | {:.3} | {:.3} | |", mv / md, nv / nd);
    Ok(())
}

#[cfg(test)]
mod tests {

    #[test]
    fn disk_option_parses_file_and_ro() {
        assert_eq!(
            Disk::parse("a.img").unwrap(),
            Disk {
                path: "a.img".into(),
                read_only: false,
                throttle_bps: None
            }
        );
        assert_eq!(
            Disk::parse("/x/b,c.img,ro").unwrap(),
            Disk {
                path: "/x/b,c.img".into(),
                read_only: true,
                throttle_bps: None
            }
        );
        assert!(Disk::parse(",ro").is_err());
        let args = Disk::parse("/x/b,c.img,ro").unwrap().qemu_args();
        assert!(
            args.contains(&"if=none,id=disk0,format=raw,file=/x/b,,c.img,readonly=on".to_string())
        );
    }

    #[test]
    fn disk_check_names_what_is_wrong_before_boot() {
        let dir = std::env::temp_dir().join(format!("sel4vm-disk-check-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let missing = Disk::parse(dir.join("missing.img").to_str().unwrap()).unwrap();
        let e = missing.check().unwrap_err();
        assert!(
            e.contains("missing.img") && e.contains("No such file"),
            "{e}"
        );
        let odd = dir.join("odd.img");
        std::fs::write(&odd, [0u8; 1000]).unwrap();
        let e = Disk::parse(odd.to_str().unwrap())
            .unwrap()
            .check()
            .unwrap_err();
        assert!(e.contains("512-byte sectors"), "{e}");
        let e = Disk::parse(dir.to_str().unwrap())
            .unwrap()
            .check()
            .unwrap_err();
        assert!(e.contains("not a regular file"), "{e}");
        let good = dir.join("good.img");
        std::fs::write(&good, [0u8; 4096]).unwrap();
        Disk::parse(good.to_str().unwrap())
            .unwrap()
            .check()
            .unwrap();
        // The message for an image the host will not let us write, whoever
        // runs the test (root may write a read-only file anyway).
        let denied = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        let e = Disk::parse(good.to_str().unwrap())
            .unwrap()
            .open_failure(&denied);
        assert!(e.contains("good.img") && e.contains("add ,ro"), "{e}");
        // Read-only on the host: refused read-write where the open really
        // fails (not as root), taken with ,ro.
        let mut perm = std::fs::metadata(&good).unwrap().permissions();
        perm.set_readonly(true);
        std::fs::set_permissions(&good, perm).unwrap();
        if std::fs::OpenOptions::new().write(true).open(&good).is_err() {
            let e = Disk::parse(good.to_str().unwrap())
                .unwrap()
                .check()
                .unwrap_err();
            assert!(e.contains("add ,ro"), "{e}");
        }
        Disk::parse(&format!("{},ro", good.display()))
            .unwrap()
            .check()
            .unwrap();
        std::fs::remove_dir_all(&dir).ok();
    }

    use super::*;
    use sel4vm_root_task::config::virt;

    #[test]
    fn console_modes_and_command_lines() {
        assert_eq!(parse_console("virtio"), Ok(ConsoleMode::Virtio));
        assert_eq!(parse_console("passthrough"), Ok(ConsoleMode::Passthrough));
        assert!(parse_console("pl011").is_err());
        let d = GuestOpts::default();
        assert_eq!(
            (d.console, d.cmdline.as_str()),
            (ConsoleMode::Virtio, CMDLINE_VIRTIO)
        );
        let p = GuestOpts::with_console(ConsoleMode::Passthrough);
        assert_eq!(p.cmdline, "console=ttyAMA0");
        // earlycon names the UART the VMM emulates.
        assert!(CMDLINE_VIRTIO.starts_with("console=hvc0 "));
        assert!(CMDLINE_VIRTIO.ends_with(&format!("earlycon=pl011,{:#010x}", virt::UART)));
        assert!(!d.stats);
        assert_eq!(cmdline(ConsoleMode::Virtio, None), CMDLINE_VIRTIO);
        assert_eq!(
            cmdline(ConsoleMode::Virtio, Some("quiet loglevel=3")),
            "console=hvc0 quiet loglevel=3 earlycon=pl011,0x09000000"
        );
        assert_eq!(
            cmdline(ConsoleMode::Passthrough, Some("quiet")),
            "console=ttyAMA0 quiet"
        );
    }

    #[test]
    fn direct_smp_is_single_threaded() {
        assert_eq!(smp_args(4).join(" "), "-smp 4 -accel tcg,thread=single");
    }
}
