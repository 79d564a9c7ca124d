//! `cargo xtask guest`: a Linux guest from Debian's arm64 packages.
//!
//! Produces `target/guest/Image` (the uncompressed arm64 kernel) and `target/guest/initramfs.cpio`
//! (busybox-static, the virtio driver modules of [`MODULES`] with their dependencies, and an
//! `/init` that loads them, moves to the virtio console `hvc0` if there is one, prints
//! `GUEST-BOOTED: <release> cpus=<n>` and starts a shell). Nothing here is committed; the packages
//! come from the Debian archive by name.

use crate::target::target_dir;
use crate::Result;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The prepared guest.
pub struct Guest {
    pub image: PathBuf,
    pub initramfs: PathBuf,
    pub release: String,
}

/// Version of what [`prepare`] produces, kept in `target/guest/format`: a prepared guest of
/// another format is rebuilt. 2: virtio modules in the initramfs, `/init` moves to `hvc0`.
/// 3: `/init` brings `eth0` up with DHCP.
const FORMAT: u32 = 3;

/// The drivers the guest loads at boot (Debian builds them as modules), in load order; their
/// dependencies are added before them.
pub const MODULES: &[&str] = &["virtio_mmio", "virtio_console", "virtio_blk", "virtio_net"];

/// Where the modules go in the initramfs, with `load-order` (one file name a line).
const MODULE_DIR: &str = "lib/modules";

/// `/init`; `@INSMOD@` becomes one `insmod` line per module. No `set -e`: with `console=hvc0`
/// the kernel has no console to give init until `virtio_console` is loaded, so the commands
/// before the `exec` below run without stdin/stdout/stderr (their output is lost, nothing else).
/// A virtio console (virtio device ID 3) becomes `/dev/hvc0` once the host side announces its
/// port, which can come a little after `insmod` returns: wait for the node (at most 2 s), then
/// make it init's stdio. Without one (PL011 passthrough, `ttyAMA0`), carry on as before;
/// `cttyhack` opens the console the kernel reports active (`/sys/class/tty/console/active`).
const INIT_TEMPLATE: &str = r#"#!/bin/busybox sh
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
@INSMOD@
if grep -qx 0x0003 /sys/bus/virtio/devices/*/device 2>/dev/null; then
    i=0
    while [ ! -c /dev/hvc0 ] && [ "$i" -lt 20 ]; do
        usleep 100000
        i=$((i + 1))
    done
fi
if [ -c /dev/hvc0 ]; then
    exec 0<>/dev/hvc0 1>&0 2>&0
fi
echo "GUEST-BOOTED: $(uname -r) cpus=$(grep -c ^processor /proc/cpuinfo)"
ifconfig lo 127.0.0.1 up
if [ -e /sys/class/net/eth0 ]; then
    (
        if udhcpc -i eth0 -s /etc/udhcpc.script -t 5 -T 2 -n -q >/dev/null 2>&1; then
            echo "GUEST-NET: eth0 $(cat /tmp/eth0.ip)"
        else
            echo "GUEST-NET: eth0 DHCP failed"
        fi
    ) &
fi
exec setsid cttyhack sh
"#;

/// The `udhcpc` script `/init` uses: configures the interface, default
/// route and DNS from the lease, and records the address in `/tmp/<if>.ip`.
const UDHCPC_SCRIPT: &str = r#"#!/bin/busybox sh
case "$1" in
deconfig)
    ifconfig "$interface" 0.0.0.0 up
    ;;
bound|renew)
    ifconfig "$interface" "$ip" netmask "${subnet:-255.255.255.0}" up
    for r in $router; do
        route add default gw "$r" dev "$interface"
        break
    done
    : > /etc/resolv.conf
    for d in $dns; do
        echo "nameserver $d" >> /etc/resolv.conf
    done
    echo "$ip" > "/tmp/$interface.ip"
    ;;
esac
exit 0
"#;

/// The `/init` script loading `modules` in order.
pub fn init_script(modules: &[Module]) -> String {
    let insmod: Vec<String> = modules
        .iter()
        .map(|m| format!("insmod /{MODULE_DIR}/{}", m.file))
        .collect();
    INIT_TEMPLATE.replace("@INSMOD@", &insmod.join("\n"))
}

fn run(cmd: &mut Command) -> Result<String> {
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {:?}: {e}", cmd.get_program()))?;
    if !out.status.success() {
        return Err(format!(
            "{:?} failed: {}",
            cmd,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Makes sure apt knows the arm64 architecture.
fn ensure_arm64_apt() -> Result<()> {
    let foreign = run(Command::new("dpkg").arg("--print-foreign-architectures"))?;
    if foreign.lines().any(|l| l.trim() == "arm64") {
        return Ok(());
    }
    println!("xtask guest: adding the arm64 architecture to apt");
    run(Command::new("dpkg").args(["--add-architecture", "arm64"]))?;
    run(Command::new("apt-get").args(["-qq", "update"]))?;
    Ok(())
}

/// The versioned kernel package `linux-image-arm64` currently depends on.
fn kernel_package() -> Result<String> {
    let deps = run(Command::new("apt-cache").args(["depends", "linux-image-arm64:arm64"]))?;
    deps.lines()
        .filter_map(|l| l.trim().strip_prefix("Depends: "))
        .map(|p| p.trim_end_matches(":arm64").to_string())
        .find(|p| p.starts_with("linux-image-"))
        .ok_or_else(|| "apt-cache: linux-image-arm64 has no linux-image-* dependency".into())
}

fn download(pkg: &str, dir: &Path) -> Result<PathBuf> {
    let arch_pkg = format!("{pkg}:arm64");
    let found = |dir: &Path| -> Option<PathBuf> {
        std::fs::read_dir(dir)
            .ok()?
            .flatten()
            .map(|e| e.path())
            .find(|p| {
                let n = p.file_name().unwrap().to_string_lossy();
                n.starts_with(&format!("{pkg}_")) && n.ends_with("_arm64.deb")
            })
    };
    if let Some(p) = found(dir) {
        return Ok(p);
    }
    run(Command::new("apt-get")
        .args(["download", "-qq", &arch_pkg])
        .current_dir(dir))?;
    found(dir).ok_or_else(|| format!("apt-get download {arch_pkg} produced no .deb"))
}

fn extract(deb: &Path, into: &Path) -> Result<()> {
    std::fs::create_dir_all(into).map_err(|e| e.to_string())?;
    run(Command::new("dpkg-deb").arg("-x").arg(deb).arg(into))?;
    Ok(())
}

/// Debian ships the arm64 kernel gzip-compressed; the VMM wants the raw `Image`.
fn decompress_kernel(vmlinuz: &[u8]) -> Result<Vec<u8>> {
    if vmlinuz.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(vmlinuz)
            .read_to_end(&mut out)
            .map_err(|e| format!("decompressing vmlinuz: {e}"))?;
        Ok(out)
    } else {
        Ok(vmlinuz.to_vec())
    }
}

/// True if `image` carries the arm64 Linux boot header magic ("ARM\x64" at offset 0x38).
pub fn is_arm64_image(image: &[u8]) -> bool {
    image.get(0x38..0x3c) == Some(b"ARM\x64")
}

pub fn prepare() -> Result<Guest> {
    let dir = target_dir().join("guest");
    let debs = dir.join("debs");
    std::fs::create_dir_all(&debs).map_err(|e| e.to_string())?;
    let image = dir.join("Image");
    let initramfs = dir.join("initramfs.cpio");
    let release_file = dir.join("release");
    let format_file = dir.join("format");
    let current =
        std::fs::read_to_string(&format_file).is_ok_and(|f| f.trim() == FORMAT.to_string());
    if let (true, true, true, Ok(release)) = (
        current,
        image.is_file(),
        initramfs.is_file(),
        std::fs::read_to_string(&release_file),
    ) {
        return Ok(Guest {
            image,
            initramfs,
            release: release.trim().to_string(),
        });
    }

    ensure_arm64_apt()?;
    let kpkg = kernel_package()?;
    let release = kpkg.trim_start_matches("linux-image-").to_string();
    println!("xtask guest: downloading {kpkg} and busybox-static (arm64)");
    let kdeb = download(&kpkg, &debs)?;
    let bdeb = download("busybox-static", &debs)?;
    let kroot = dir.join("kernel-pkg");
    let broot = dir.join("busybox-pkg");
    extract(&kdeb, &kroot)?;
    extract(&bdeb, &broot)?;

    let vmlinuz = kroot.join("boot").join(format!("vmlinuz-{release}"));
    let raw = std::fs::read(&vmlinuz).map_err(|e| format!("{}: {e}", vmlinuz.display()))?;
    let kernel = decompress_kernel(&raw)?;
    if !is_arm64_image(&kernel) {
        return Err(format!("{} is not an arm64 Linux Image", vmlinuz.display()));
    }
    let busybox_path = broot.join("bin/busybox");
    let busybox =
        std::fs::read(&busybox_path).map_err(|e| format!("{}: {e}", busybox_path.display()))?;

    let moddir = kroot.join("lib/modules").join(&release);
    let modules = kernel_modules(&moddir, MODULES)?;

    let cpio = initramfs_cpio(&busybox, &modules);
    // The format file goes last: an interrupted run is redone.
    let _ = std::fs::remove_file(&format_file);
    std::fs::write(&image, &kernel).map_err(|e| e.to_string())?;
    std::fs::write(&initramfs, &cpio).map_err(|e| e.to_string())?;
    std::fs::write(&release_file, &release).map_err(|e| e.to_string())?;
    std::fs::write(&format_file, FORMAT.to_string()).map_err(|e| e.to_string())?;
    println!(
        "xtask guest: {} ({} KiB), {} ({} KiB), kernel {release}, modules {}",
        image.display(),
        kernel.len() / 1024,
        initramfs.display(),
        cpio.len() / 1024,
        modules
            .iter()
            .map(|m| m.name.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    );
    Ok(Guest {
        image,
        initramfs,
        release,
    })
}

/// The initramfs: directories, `/dev/console`, busybox, the modules with their load order, and
/// `/init`.
pub fn initramfs_cpio(busybox: &[u8], modules: &[Module]) -> Vec<u8> {
    let mut w = cpio::Writer::default();
    for d in [
        "bin", "sbin", "usr", "usr/bin", "usr/sbin", "proc", "sys", "dev", "tmp", "root", "lib",
        "etc", MODULE_DIR,
    ] {
        w.dir(d);
    }
    // The kernel opens /dev/console for init before anything mounts devtmpfs.
    w.char_dev("dev/console", 5, 1);
    w.file("bin/busybox", 0o755, busybox);
    let mut order = String::new();
    for m in modules {
        w.file(&format!("{MODULE_DIR}/{}", m.file), 0o644, &m.data);
        order.push_str(&m.file);
        order.push('\n');
    }
    w.file(&format!("{MODULE_DIR}/load-order"), 0o644, order.as_bytes());
    w.file("init", 0o755, init_script(modules).as_bytes());
    w.file("etc/udhcpc.script", 0o755, UDHCPC_SCRIPT.as_bytes());
    w.finish()
}

/// A kernel module for the initramfs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Module {
    /// Module name (`virtio_net`).
    pub name: String,
    /// File name in the initramfs (`virtio_net.ko`).
    pub file: String,
    /// The `.ko` file.
    pub data: Vec<u8>,
}

/// What the resolver needs to know of one module.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModuleInfo {
    /// Path below `lib/modules/<release>/` (`kernel/drivers/net/virtio_net.ko`).
    pub path: String,
    /// Names of the modules it needs.
    pub deps: Vec<String>,
}

/// A module's name from its path: the file name without `.ko` (and any compression suffix),
/// `-` read as `_`, as the kernel and modprobe do.
pub fn module_name(path: &str) -> String {
    let file = path.rsplit('/').next().unwrap_or(path);
    let stem = file.find(".ko").map_or(file, |i| &file[..i]);
    stem.replace('-', "_")
}

/// Parses `modules.dep` (`path: dep-path dep-path ...` a line) into name -> module.
pub fn parse_modules_dep(text: &str) -> BTreeMap<String, ModuleInfo> {
    text.lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(path, deps)| {
            let path = path.trim().to_string();
            let deps = deps.split_whitespace().map(module_name).collect();
            (module_name(&path), ModuleInfo { path, deps })
        })
        .collect()
}

/// `wanted` and, transitively, what they depend on, in load order (every module after its
/// dependencies, otherwise in the order asked for), each once. `lookup` describes a module by
/// name and fails for a module that does not exist.
pub fn resolve(
    wanted: &[&str],
    mut lookup: impl FnMut(&str) -> Result<ModuleInfo>,
) -> Result<Vec<(String, ModuleInfo)>> {
    fn visit(
        name: &str,
        lookup: &mut dyn FnMut(&str) -> Result<ModuleInfo>,
        path: &mut Vec<String>,
        out: &mut Vec<(String, ModuleInfo)>,
    ) -> Result<()> {
        if out.iter().any(|(n, _)| n == name) {
            return Ok(());
        }
        if path.iter().any(|n| n == name) {
            return Err(format!(
                "module dependency cycle: {} -> {name}",
                path.join(" -> ")
            ));
        }
        let info = lookup(name).map_err(|e| match path.last() {
            Some(by) => format!("{e} (needed by {by})"),
            None => e,
        })?;
        path.push(name.to_string());
        for d in &info.deps {
            visit(d, lookup, path, out)?;
        }
        path.pop();
        out.push((name.to_string(), info));
        Ok(())
    }
    let mut out = Vec::new();
    for w in wanted {
        visit(&module_name(w), &mut lookup, &mut Vec::new(), &mut out)?;
    }
    Ok(out)
}

/// The `key=value` strings of a module's `.modinfo` section (little-endian ELF64 `.ko`).
pub fn modinfo(ko: &[u8]) -> Result<Vec<(String, String)>> {
    let u16_at = |o: usize| {
        ko.get(o..o + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]) as usize)
    };
    let u32_at = |o: usize| {
        ko.get(o..o + 4)
            .map(|b| u32::from_le_bytes(b.try_into().unwrap()) as usize)
    };
    let u64_at = |o: usize| {
        ko.get(o..o + 8)
            .map(|b| u64::from_le_bytes(b.try_into().unwrap()) as usize)
    };
    if !ko.starts_with(b"\x7fELF\x02\x01") {
        return Err("not a little-endian ELF64 file".into());
    }
    let bad = || "truncated ELF section table".to_string();
    let (shoff, shentsize) = (u64_at(0x28).ok_or_else(bad)?, u16_at(0x3a).ok_or_else(bad)?);
    let (shnum, shstrndx) = (u16_at(0x3c).ok_or_else(bad)?, u16_at(0x3e).ok_or_else(bad)?);
    let section = |i: usize| -> Result<(usize, &[u8])> {
        let h = shoff
            .checked_add(i.checked_mul(shentsize).ok_or_else(bad)?)
            .ok_or_else(bad)?;
        let name = u32_at(h).ok_or_else(bad)?;
        let (off, size) = (
            u64_at(h + 0x18).ok_or_else(bad)?,
            u64_at(h + 0x20).ok_or_else(bad)?,
        );
        let data = off
            .checked_add(size)
            .and_then(|end| ko.get(off..end))
            .ok_or_else(bad)?;
        Ok((name, data))
    };
    let (_, names) = section(shstrndx)?;
    for i in 0..shnum {
        let (name, data) = section(i)?;
        let name = names.get(name..).unwrap_or_default();
        if name.split(|&b| b == 0).next() == Some(b".modinfo".as_slice()) {
            return Ok(data
                .split(|&b| b == 0)
                .filter_map(|s| std::str::from_utf8(s).ok()?.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect());
        }
    }
    Err("no .modinfo section".into())
}

/// Reads a module file; compressed modules are refused (Debian's 6.1 kernels ship plain `.ko`).
fn read_module(moddir: &Path, path: &str) -> Result<Vec<u8>> {
    if !path.ends_with(".ko") {
        return Err(format!(
            "{}/{path}: compressed kernel modules are not supported (xtask guest expects plain \
             .ko files, as Debian's 6.1 kernels ship; decompress them here if the kernel \
             package changed)",
            moddir.display()
        ));
    }
    std::fs::read(moddir.join(path)).map_err(|e| format!("{}/{path}: {e}", moddir.display()))
}

/// Module name -> path below `moddir`, for every module file in it.
fn module_files(moddir: &Path) -> Result<BTreeMap<String, String>> {
    fn walk(dir: &Path, rel: &str, out: &mut BTreeMap<String, String>) -> Result<()> {
        let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let rel = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            let ty = e.file_type().map_err(|e| e.to_string())?;
            if ty.is_dir() {
                walk(&e.path(), &rel, out)?;
            } else if name.contains(".ko") {
                out.insert(module_name(&rel), rel);
            }
        }
        Ok(())
    }
    let mut out = BTreeMap::new();
    walk(moddir, "", &mut out)?;
    Ok(out)
}

/// The modules `wanted` needs from the kernel package's `lib/modules/<release>/`, in load order.
/// Dependencies come from `modules.dep` if the package has one; Debian's packages leave it to
/// `depmod` at install time, so otherwise from each module's `.modinfo` `depends=`, which is
/// what `depmod` reads too.
pub fn kernel_modules(moddir: &Path, wanted: &[&str]) -> Result<Vec<Module>> {
    let missing = |name: &str, source: &str| {
        format!(
            "the kernel package has no module `{name}` ({source}); the guest needs {}",
            wanted.join(", ")
        )
    };
    let dep_file = moddir.join("modules.dep");
    let resolved = if dep_file.is_file() {
        let text = std::fs::read_to_string(&dep_file)
            .map_err(|e| format!("{}: {e}", dep_file.display()))?;
        let deps = parse_modules_dep(&text);
        let source = dep_file.display().to_string();
        resolve(wanted, |n| {
            deps.get(n).cloned().ok_or_else(|| missing(n, &source))
        })?
    } else {
        let files = module_files(moddir)?;
        let source = format!("no such file below {}", moddir.display());
        resolve(wanted, |n| {
            let path = files.get(n).ok_or_else(|| missing(n, &source))?;
            let ko = read_module(moddir, path)?;
            let info = modinfo(&ko).map_err(|e| format!("{}/{path}: {e}", moddir.display()))?;
            let deps = info
                .iter()
                .filter(|(k, _)| k == "depends")
                .flat_map(|(_, v)| v.split(','))
                .filter(|d| !d.is_empty())
                .map(module_name)
                .collect();
            Ok(ModuleInfo {
                path: path.clone(),
                deps,
            })
        })?
    };
    resolved
        .into_iter()
        .map(|(name, info)| {
            let data = read_module(moddir, &info.path)?;
            let file = info
                .path
                .rsplit('/')
                .next()
                .unwrap_or(&info.path)
                .to_string();
            Ok(Module { name, file, data })
        })
        .collect()
}

/// A writer for the cpio "newc" format the kernel unpacks as initramfs.
pub mod cpio {
    #[derive(Default)]
    pub struct Writer {
        out: Vec<u8>,
        ino: u32,
    }

    const S_IFDIR: u32 = 0o040000;
    const S_IFREG: u32 = 0o100000;
    const S_IFCHR: u32 = 0o020000;

    impl Writer {
        fn entry(&mut self, name: &str, mode: u32, rdev: (u32, u32), data: &[u8]) {
            self.ino += 1;
            let nlink = if mode & S_IFDIR != 0 { 2 } else { 1 };
            let fields = [
                self.ino,
                mode,
                0,
                0,
                nlink,
                0,
                data.len() as u32,
                0,
                0,
                rdev.0,
                rdev.1,
                name.len() as u32 + 1,
                0,
            ];
            self.out.extend_from_slice(b"070701");
            for f in fields {
                self.out.extend_from_slice(format!("{f:08x}").as_bytes());
            }
            self.out.extend_from_slice(name.as_bytes());
            self.out.push(0);
            self.pad();
            self.out.extend_from_slice(data);
            self.pad();
        }

        fn pad(&mut self) {
            while !self.out.len().is_multiple_of(4) {
                self.out.push(0);
            }
        }

        pub fn dir(&mut self, name: &str) {
            self.entry(name, S_IFDIR | 0o755, (0, 0), &[]);
        }

        pub fn file(&mut self, name: &str, perm: u32, data: &[u8]) {
            self.entry(name, S_IFREG | perm, (0, 0), data);
        }

        pub fn char_dev(&mut self, name: &str, major: u32, minor: u32) {
            self.entry(name, S_IFCHR | 0o600, (major, minor), &[]);
        }

        pub fn finish(mut self) -> Vec<u8> {
            self.entry("TRAILER!!!", 0, (0, 0), &[]);
            self.out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Stdio;

    /// Unpacks the archive with the system's `cpio` and checks what comes out (the framing is
    /// checked by hand in the tests below).
    #[test]
    #[cfg_attr(not(has_cpio), ignore = "cpio not found on PATH (apt install cpio)")]
    fn initramfs_unpacks_with_gnu_cpio() {
        let fake_busybox = b"\x7fELF not really busybox".repeat(3);
        let modules = vec![
            Module {
                name: "failover".into(),
                file: "failover.ko".into(),
                data: b"module one".to_vec(),
            },
            Module {
                name: "virtio_rng".into(),
                file: "virtio-rng.ko".into(),
                data: b"module two!".to_vec(),
            },
        ];
        let archive = initramfs_cpio(&fake_busybox, &modules);
        let tmp = std::env::temp_dir().join(format!("xtask-cpio-{}", std::process::id()));
        std::fs::create_dir_all(&tmp).unwrap();
        let mut child = Command::new("cpio")
            .args(["-i", "-d", "--quiet", "--no-absolute-filenames"])
            .current_dir(&tmp)
            .stdin(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run cpio");
        use std::io::Write;
        child.stdin.take().unwrap().write_all(&archive).unwrap();
        let out = child.wait_with_output().unwrap();
        // Creating /dev/console needs privileges the test may not have; everything else must land.
        assert_eq!(
            std::fs::read(tmp.join("bin/busybox")).unwrap(),
            fake_busybox
        );
        assert_eq!(
            std::fs::read_to_string(tmp.join("init")).unwrap(),
            init_script(&modules)
        );
        assert!(tmp.join("proc").is_dir() && tmp.join("sys").is_dir());
        for m in &modules {
            assert_eq!(
                std::fs::read(tmp.join("lib/modules").join(&m.file)).unwrap(),
                m.data
            );
        }
        assert_eq!(
            std::fs::read_to_string(tmp.join("lib/modules/load-order")).unwrap(),
            "failover.ko\nvirtio-rng.ko\n"
        );
        let listing = {
            let mut c = Command::new("cpio")
                .args(["-t", "--quiet"])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
            c.stdin.take().unwrap().write_all(&archive).unwrap();
            String::from_utf8(c.wait_with_output().unwrap().stdout).unwrap()
        };
        assert!(listing.lines().any(|l| l == "dev/console"), "{listing}");
        let _ = std::fs::remove_dir_all(&tmp);
        let _ = out;
    }

    /// The archive's members and their contents, read back with the format's own rules.
    fn members(archive: &[u8]) -> Vec<(String, u32, Vec<u8>)> {
        let hex = |b: &[u8]| u32::from_str_radix(std::str::from_utf8(b).unwrap(), 16).unwrap();
        let mut out = Vec::new();
        let mut at = 0;
        loop {
            let h = &archive[at..at + 110];
            assert_eq!(&h[..6], b"070701");
            let field = |i: usize| hex(&h[6 + 8 * i..14 + 8 * i]);
            let (mode, size, namesize) = (field(1), field(6) as usize, field(11) as usize);
            let name = std::str::from_utf8(&archive[at + 110..at + 110 + namesize - 1])
                .unwrap()
                .to_string();
            let data_at = (at + 110 + namesize).next_multiple_of(4);
            if name == "TRAILER!!!" {
                return out;
            }
            out.push((name, mode, archive[data_at..data_at + size].to_vec()));
            at = (data_at + size).next_multiple_of(4);
        }
    }

    #[test]
    fn initramfs_holds_modules_and_init_loads_them_in_order() {
        let modules: Vec<Module> = ["failover", "net_failover", "virtio_net"]
            .iter()
            .map(|n| Module {
                name: n.to_string(),
                file: format!("{n}.ko"),
                data: format!("ko of {n}").into_bytes(),
            })
            .collect();
        let m = members(&initramfs_cpio(b"busybox", &modules));
        let get = |name: &str| {
            m.iter()
                .find(|(n, _, _)| n == name)
                .unwrap_or_else(|| panic!("no {name} in {m:?}"))
        };
        assert_eq!(get("lib/modules").1, 0o040755);
        for md in &modules {
            let (_, mode, data) = get(&format!("lib/modules/{}", md.file));
            assert_eq!((*mode, data), (0o100644, &md.data));
        }
        assert_eq!(
            get("lib/modules/load-order").2,
            b"failover.ko\nnet_failover.ko\nvirtio_net.ko\n"
        );
        assert_eq!(get("dev/console").1, 0o020600);
        let (_, mode, init) = get("init");
        assert_eq!(*mode, 0o100755);
        let init = String::from_utf8(init.clone()).unwrap();
        assert!(init.starts_with("#!/bin/busybox sh\n"));
        assert!(!init.contains("set -e") && !init.contains("@INSMOD@"));
        let lines: Vec<&str> = init.lines().collect();
        let at = |l: &str| {
            lines
                .iter()
                .position(|x| x.trim() == l)
                .unwrap_or_else(|| panic!("no `{l}` in\n{init}"))
        };
        // Modules after devtmpfs and sysfs, in order; the console switch after them and
        // before the boot line and the shell.
        let insmod: Vec<usize> = modules
            .iter()
            .map(|md| at(&format!("insmod /lib/modules/{}", md.file)))
            .collect();
        assert!(insmod.windows(2).all(|w| w[0] < w[1]), "{init}");
        assert!(at("mount -t devtmpfs devtmpfs /dev 2>/dev/null") < insmod[0]);
        let switch = at("exec 0<>/dev/hvc0 1>&0 2>&0");
        assert!(insmod[2] < switch);
        let booted = lines
            .iter()
            .position(|l| l.starts_with("echo \"GUEST-BOOTED: "))
            .unwrap();
        assert!(switch < booted && booted < at("exec setsid cttyhack sh"));
        assert_eq!(init.matches("insmod ").count(), 3);
        // Without modules, nothing to load but the same script otherwise.
        assert!(!init_script(&[]).contains("insmod"));
    }

    #[test]
    fn modules_dep_resolves_dependencies_first() {
        // Shaped like depmod's output: every module lists all it needs, nearest first.
        let dep = "\
kernel/drivers/virtio/virtio_mmio.ko:
kernel/drivers/char/virtio_console.ko:
kernel/drivers/block/virtio_blk.ko:
kernel/net/core/failover.ko:
kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko
kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko kernel/net/core/failover.ko
kernel/drivers/char/hw_random/virtio-rng.ko: kernel/drivers/char/hw_random/rng-core.ko
kernel/drivers/char/hw_random/rng-core.ko:
";
        let map = parse_modules_dep(dep);
        assert_eq!(
            map["virtio_net"],
            ModuleInfo {
                path: "kernel/drivers/net/virtio_net.ko".into(),
                deps: vec!["net_failover".into(), "failover".into()],
            }
        );
        assert_eq!(map["virtio_rng"].deps, ["rng_core"]);
        let lookup = |n: &str| map.get(n).cloned().ok_or_else(|| format!("no `{n}`"));
        let names = |r: Vec<(String, ModuleInfo)>| -> Vec<String> {
            r.into_iter().map(|(n, _)| n).collect()
        };
        assert_eq!(
            names(resolve(MODULES, lookup).unwrap()),
            [
                "virtio_mmio",
                "virtio_console",
                "virtio_blk",
                "failover",
                "net_failover",
                "virtio_net"
            ]
        );
        // Asked-for names may use `-`; shared dependencies appear once.
        assert_eq!(
            names(
                resolve(
                    &["virtio-rng", "rng_core", "net_failover", "virtio_net"],
                    lookup
                )
                .unwrap()
            ),
            [
                "rng_core",
                "virtio_rng",
                "failover",
                "net_failover",
                "virtio_net"
            ]
        );
        // Only the direct dependency listed (modinfo's `depends=`): still transitive.
        let mut direct = map.clone();
        direct.get_mut("virtio_net").unwrap().deps = vec!["net_failover".into()];
        let direct_lookup = |n: &str| direct.get(n).cloned().ok_or_else(|| format!("no `{n}`"));
        assert_eq!(
            names(resolve(&["virtio_net"], direct_lookup).unwrap()),
            ["failover", "net_failover", "virtio_net"]
        );
        let err = resolve(&["virtio_mmio", "virtio_gpu"], lookup).unwrap_err();
        assert!(err.contains("virtio_gpu"), "{err}");
        let mut broken = map.clone();
        broken.get_mut("failover").unwrap().deps = vec!["gone".into()];
        let err = resolve(&["virtio_net"], |n: &str| {
            broken.get(n).cloned().ok_or_else(|| format!("no `{n}`"))
        })
        .unwrap_err();
        assert!(
            err.contains("gone") && err.contains("needed by failover"),
            "{err}"
        );
        let mut cyclic = map.clone();
        cyclic.get_mut("failover").unwrap().deps = vec!["virtio_net".into()];
        let err = resolve(&["virtio_net"], |n: &str| {
            cyclic.get(n).cloned().ok_or_else(|| format!("no `{n}`"))
        })
        .unwrap_err();
        assert!(err.contains("cycle"), "{err}");
    }

    /// A minimal relocatable ELF64 with a `.modinfo` section.
    fn fake_ko(modinfo: &str) -> Vec<u8> {
        let shstrtab = b"\0.modinfo\0.shstrtab\0";
        let mut f = vec![0u8; 64];
        f[..6].copy_from_slice(b"\x7fELF\x02\x01");
        let info_at = f.len();
        f.extend_from_slice(modinfo.as_bytes());
        let names_at = f.len();
        f.extend_from_slice(shstrtab);
        f.resize(f.len().next_multiple_of(8), 0);
        let shoff = f.len();
        let mut sh = |name: u32, off: usize, size: usize| {
            let mut h = [0u8; 64];
            h[..4].copy_from_slice(&name.to_le_bytes());
            h[0x18..0x20].copy_from_slice(&(off as u64).to_le_bytes());
            h[0x20..0x28].copy_from_slice(&(size as u64).to_le_bytes());
            f.extend_from_slice(&h);
        };
        sh(0, 0, 0);
        sh(1, info_at, modinfo.len());
        sh(10, names_at, shstrtab.len());
        f[0x28..0x30].copy_from_slice(&(shoff as u64).to_le_bytes());
        f[0x3a..0x3c].copy_from_slice(&64u16.to_le_bytes());
        f[0x3c..0x3e].copy_from_slice(&3u16.to_le_bytes());
        f[0x3e..0x40].copy_from_slice(&2u16.to_le_bytes());
        f
    }

    #[test]
    fn modinfo_reads_depends() {
        let ko = fake_ko(
            "license=GPL\0depends=net_failover\0name=virtio_net\0vermagic=6.1.0-57-arm64 SMP\0",
        );
        let info = modinfo(&ko).unwrap();
        assert!(info.contains(&("depends".into(), "net_failover".into())));
        assert!(info.contains(&("vermagic".into(), "6.1.0-57-arm64 SMP".into())));
        assert!(modinfo(b"not an elf").is_err());
        assert!(
            modinfo(&ko[..ko.len() - 40]).is_err(),
            "truncated section table"
        );
    }

    /// A kernel package tree without `modules.dep` (as Debian ships it): dependencies from the
    /// modules' `.modinfo`; a missing module and a compressed one fail clearly.
    #[test]
    fn kernel_modules_from_a_package_tree() {
        let tmp = std::env::temp_dir().join(format!("xtask-modules-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        let put = |path: &str, info: &str| {
            let p = tmp.join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, fake_ko(info)).unwrap();
        };
        put(
            "kernel/drivers/virtio/virtio_mmio.ko",
            "depends=\0name=virtio_mmio\0",
        );
        put("kernel/drivers/char/virtio_console.ko", "depends=\0");
        put("kernel/drivers/block/virtio_blk.ko", "depends=\0");
        put("kernel/net/core/failover.ko", "depends=\0");
        put("kernel/drivers/net/net_failover.ko", "depends=failover\0");
        put("kernel/drivers/net/virtio_net.ko", "depends=net_failover\0");
        put(
            "kernel/drivers/char/hw_random/virtio-rng.ko",
            "depends=rng-core\0",
        );
        let mods = kernel_modules(&tmp, MODULES).unwrap();
        let files: Vec<&str> = mods.iter().map(|m| m.file.as_str()).collect();
        assert_eq!(
            files,
            [
                "virtio_mmio.ko",
                "virtio_console.ko",
                "virtio_blk.ko",
                "failover.ko",
                "net_failover.ko",
                "virtio_net.ko"
            ]
        );
        assert_eq!(
            mods[5].data,
            std::fs::read(tmp.join("kernel/drivers/net/virtio_net.ko")).unwrap()
        );
        let err = kernel_modules(&tmp, &["virtio_rng"]).unwrap_err();
        assert!(
            err.contains("no module `rng_core`") && err.contains("needed by virtio_rng"),
            "{err}"
        );
        std::fs::write(tmp.join("kernel/drivers/block/virtio_blk.ko.xz"), b"xz").unwrap();
        std::fs::remove_file(tmp.join("kernel/drivers/block/virtio_blk.ko")).unwrap();
        let err = kernel_modules(&tmp, MODULES).unwrap_err();
        assert!(
            err.contains("virtio_blk.ko.xz") && err.contains("compressed"),
            "{err}"
        );
        // With a modules.dep, that is what counts.
        std::fs::write(
            tmp.join("modules.dep"),
            "kernel/drivers/virtio/virtio_mmio.ko:\n",
        )
        .unwrap();
        assert_eq!(kernel_modules(&tmp, &["virtio_mmio"]).unwrap().len(), 1);
        let err = kernel_modules(&tmp, &["virtio_net"]).unwrap_err();
        assert!(
            err.contains("no module `virtio_net`") && err.contains("modules.dep"),
            "{err}"
        );
        let _ = std::fs::remove_dir_all(&tmp);
    }

    #[test]
    fn module_names() {
        assert_eq!(
            module_name("kernel/drivers/char/hw_random/virtio-rng.ko"),
            "virtio_rng"
        );
        assert_eq!(module_name("kernel/a/b_c.ko.xz"), "b_c");
        assert_eq!(module_name("virtio_net"), "virtio_net");
    }

    #[test]
    fn arm64_image_magic() {
        let mut img = vec![0u8; 64];
        assert!(!is_arm64_image(&img));
        img[0x38..0x3c].copy_from_slice(b"ARM\x64");
        assert!(is_arm64_image(&img));
        assert!(!is_arm64_image(&img[..0x3a]));
    }
}
