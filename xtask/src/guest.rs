//! `cargo xtask guest`: a Linux guest from Debian's arm64 packages.
//!
//! Produces `target/guest/Image` (the uncompressed arm64 kernel) and `target/guest/initramfs.cpio`
//! (busybox-static plus an `/init` that prints `GUEST-BOOTED: <release> cpus=<n>` and starts a
//! shell). Nothing here is committed; the packages come from the Debian archive by name.

use crate::target::target_dir;
use crate::Result;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The prepared guest.
pub struct Guest {
    pub image: PathBuf,
    pub initramfs: PathBuf,
    pub release: String,
}

const INIT: &str = r#"#!/bin/busybox sh
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
echo "GUEST-BOOTED: $(uname -r) cpus=$(grep -c ^processor /proc/cpuinfo)"
exec setsid cttyhack sh
"#;

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
    if let (true, true, Ok(release)) = (
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

    let cpio = initramfs_cpio(&busybox);
    std::fs::write(&image, &kernel).map_err(|e| e.to_string())?;
    std::fs::write(&initramfs, &cpio).map_err(|e| e.to_string())?;
    std::fs::write(&release_file, &release).map_err(|e| e.to_string())?;
    println!(
        "xtask guest: {} ({} KiB), {} ({} KiB), kernel {release}",
        image.display(),
        kernel.len() / 1024,
        initramfs.display(),
        cpio.len() / 1024
    );
    Ok(Guest {
        image,
        initramfs,
        release,
    })
}

/// The initramfs: directories, `/dev/console`, busybox and `/init`.
pub fn initramfs_cpio(busybox: &[u8]) -> Vec<u8> {
    let mut w = cpio::Writer::default();
    for d in [
        "bin", "sbin", "usr", "usr/bin", "usr/sbin", "proc", "sys", "dev", "tmp", "root",
    ] {
        w.dir(d);
    }
    // The kernel opens /dev/console for init before anything mounts devtmpfs.
    w.char_dev("dev/console", 5, 1);
    w.file("bin/busybox", 0o755, busybox);
    w.file("init", 0o755, INIT.as_bytes());
    w.finish()
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

    /// Unpacks the archive with the system's `cpio` (if present) and checks what comes out.
    #[test]
    fn initramfs_unpacks_with_gnu_cpio() {
        let fake_busybox = b"\x7fELF not really busybox".repeat(3);
        let archive = initramfs_cpio(&fake_busybox);
        if Command::new("cpio").arg("--version").output().is_err() {
            // Fall back to checking the newc framing by hand.
            assert!(archive.starts_with(b"070701"));
            assert!(archive.windows(10).any(|w| w == b"TRAILER!!!"));
            eprintln!("note: cpio not installed; checked the framing only");
            return;
        }
        let tmp = std::env::temp_dir().join(format!("xtask-cpio-{}", std::process::id()));
        std::fs::create_dir_all(&tmp).unwrap();
        let mut child = Command::new("cpio")
            .args(["-i", "-d", "--quiet", "--no-absolute-filenames"])
            .current_dir(&tmp)
            .stdin(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child.stdin.take().unwrap().write_all(&archive).unwrap();
        let out = child.wait_with_output().unwrap();
        // Creating /dev/console needs privileges the test may not have; everything else must land.
        assert_eq!(
            std::fs::read(tmp.join("bin/busybox")).unwrap(),
            fake_busybox
        );
        assert_eq!(std::fs::read_to_string(tmp.join("init")).unwrap(), INIT);
        assert!(tmp.join("proc").is_dir() && tmp.join("sys").is_dir());
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

    #[test]
    fn arm64_image_magic() {
        let mut img = vec![0u8; 64];
        assert!(!is_arm64_image(&img));
        img[0x38..0x3c].copy_from_slice(b"ARM\x64");
        assert!(is_arm64_image(&img));
        assert!(!is_arm64_image(&img[..0x3a]));
    }
}
