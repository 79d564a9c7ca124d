//! seL4 system tests of the guest's disk (`/dev/vda`, virtio-blk driven by
//! the VMM over QEMU's own `virtio-blk-device`): data that reaches the
//! host's image file and survives a reboot, flushes that reach the
//! backend, a read-only disk, and a restart in the middle of a write.
//!
//! Commands typed into the guest spell their markers with an empty `""`
//! inside (`MD""5=`), so the shell's echo of the typed line never matches
//! the marker its output prints.

use crate::kernel::KernelInstall;
use crate::qemu::{Session, Wait};
use crate::target;
use crate::vmm::{Disk, GuestOpts};
use md5::{Digest, Md5};
use std::path::PathBuf;
use std::time::Duration;

/// Markers that fail every disk test.
const FORBIDDEN: &[&str] = &[
    "panicked at",
    "CHECK FAILED",
    "Caught cap fault",
    "vm fault on",
    "user exception",
    ": stopping:",
    "Kernel panic",
    "Unable to handle kernel",
    "Internal error: Oops",
    "VMM: error",
    "VMM: unhandled",
    "needs reset",
];

/// A disk system test.
pub type DiskTest = fn(&KernelInstall) -> Result<(), String>;

/// The disk system tests, by name.
pub const TESTS: &[(&str, DiskTest)] = &[
    ("linux-disk", linux_disk),
    ("linux-disk-ro", linux_disk_ro),
    ("linux-disk-reboot", linux_disk_reboot),
];

const MIB: usize = 1 << 20;
/// Bytes the guest writes in `linux-disk`.
const WRITTEN: usize = 16 * MIB;

/// A fresh image of `mib` MiB under `target/systest/`, filled with `byte`.
fn image(name: &str, mib: usize, byte: u8) -> Result<PathBuf, String> {
    let dir = target::target_dir().join("systest");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let p = dir.join(format!("{name}.img"));
    std::fs::write(&p, vec![byte; mib * MIB]).map_err(|e| format!("{}: {e}", p.display()))?;
    Ok(p)
}

pub(crate) fn md5_hex(data: &[u8]) -> String {
    Md5::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A Linux guest under the VMM on a serial session (also used by the
/// network tests).
pub(crate) struct Guest {
    s: Option<Session>,
    name: &'static str,
}

impl Guest {
    fn boot(kernel: &KernelInstall, name: &'static str, disk: Disk) -> Result<Guest, String> {
        Self::boot_with(kernel, name, disk, false)
    }

    /// With `ram_anywhere`, guest RAM is not 1:1, so the VMM copies disk
    /// data through its bounce buffers instead of zero-copy.
    fn boot_with(
        kernel: &KernelInstall,
        name: &'static str,
        disk: Disk,
        ram_anywhere: bool,
    ) -> Result<Guest, String> {
        let opts = GuestOpts {
            disk: Some(disk),
            ram_anywhere,
            stats: std::env::var_os("SEL4VM_DISK_TEST_STATS").is_some(),
            ..GuestOpts::default()
        };
        Self::boot_opts(kernel, name, &opts, "VMM: disk: slot ")
    }

    /// Boots the VMM with `opts`, waits for `first` in the VMM's output,
    /// then for the guest's shell.
    pub(crate) fn boot_opts(
        kernel: &KernelInstall,
        name: &'static str,
        opts: &GuestOpts,
        first: &str,
    ) -> Result<Guest, String> {
        let extra = crate::vmm::qemu_args(opts)?;
        let app = target::build_root_task("vmm")?;
        let image = target::pack_image(kernel, &app, "vmm")?;
        let s = Session::start_with(kernel, &image, &extra, Duration::from_secs(300))?;
        let mut g = Guest { s: Some(s), name };
        g.expect(first)?;
        g.booted()?;
        Ok(g)
    }

    /// Waits for the guest's shell: `GUEST-BOOTED`, then a typed `echo`
    /// answered (retyped a few times: input typed while busybox starts
    /// its line editor can be lost).
    pub(crate) fn booted(&mut self) -> Result<(), String> {
        self.expect("GUEST-BOOTED: ")?;
        self.expect("cpus=1")?;
        for i in 0..5 {
            self.session().set_limit(Duration::from_secs(10));
            self.send(&format!("echo SH\"\"ELL-{i}"))?;
            let r = self.expect(&format!("SHELL-{i}"));
            self.session().set_limit(Duration::from_secs(300));
            match r {
                Ok(()) => return Ok(()),
                Err(e) if e.starts_with("timed out") => continue,
                Err(e) => return Err(e),
            }
        }
        Err("the guest shell never answered".into())
    }

    pub(crate) fn session(&mut self) -> &mut Session {
        self.s.as_mut().expect("live session")
    }

    pub(crate) fn expect(&mut self, marker: &str) -> Result<(), String> {
        match self.session().expect(marker, FORBIDDEN) {
            Wait::Found => Ok(()),
            Wait::Forbidden(m) => Err(format!("forbidden marker `{m}`")),
            Wait::Timeout => Err(format!("timed out waiting for `{marker}`")),
            Wait::Exited => Err(format!("QEMU exited before `{marker}`")),
        }
    }

    pub(crate) fn send(&mut self, line: &str) -> Result<(), String> {
        self.session().send(&format!("{line}\n"))
    }

    /// Types `line` and waits for `marker` in its output.
    pub(crate) fn run(&mut self, line: &str, marker: &str) -> Result<(), String> {
        self.send(line)?;
        self.expect(marker)
    }

    /// The text after the last `marker` up to the end of its line.
    pub(crate) fn value_after(&self, marker: &str) -> Result<String, String> {
        let out = &self.s.as_ref().expect("live session").output;
        let at = out
            .rfind(marker)
            .ok_or_else(|| format!("no `{marker}` in the output"))?;
        let rest = &out[at + marker.len()..];
        Ok(rest
            .split(['\r', '\n', ' '])
            .next()
            .unwrap_or("")
            .trim()
            .to_string())
    }

    /// The rest of the line of the last `marker`.
    pub(crate) fn value_line(&self, marker: &str) -> String {
        let out = &self.s.as_ref().expect("live session").output;
        out.rfind(marker)
            .map(|at| out[at..].lines().next().unwrap_or("").trim().to_string())
            .unwrap_or_default()
    }

    /// Types a command printing `KEY=value` and returns the value.
    pub(crate) fn query(&mut self, line: &str, key: &str) -> Result<String, String> {
        self.run(line, &format!("{key}="))?;
        // Let the rest of the line arrive.
        self.expect("\n")?;
        self.value_after(&format!("{key}="))
    }

    /// Powers the guest off and returns the whole serial log (also saved).
    fn power_off(self) -> Result<String, String> {
        self.power_off_until("VMM: disk: ")
    }

    /// Powers the guest off, waits for the line starting with `last` and
    /// returns the whole serial log (also saved).
    pub(crate) fn power_off_until(mut self, last: &str) -> Result<String, String> {
        self.run("poweroff -f", "VMM: guest powered off")?;
        self.expect(last)?;
        self.expect("\n")?;
        Ok(self.finish())
    }

    pub(crate) fn finish(&mut self) -> String {
        let out = self.s.take().map(Session::stop).unwrap_or_default();
        let dir = target::target_dir().join("systest");
        let _ = std::fs::create_dir_all(&dir);
        let _ = std::fs::write(dir.join(format!("{}.log", self.name)), &out);
        out
    }
}

impl Drop for Guest {
    fn drop(&mut self) {
        if self.s.is_some() {
            self.finish();
        }
    }
}

/// `flushes` of the VMM's `VMM: disk: ...` line at power-off.
fn vmm_flushes(log: &str) -> Result<u64, String> {
    let line = log
        .lines()
        .rev()
        .find(|l| l.contains("VMM: disk: ") && l.contains(" flushes"))
        .ok_or("no `VMM: disk:` statistics line")?;
    let words: Vec<&str> = line.split([' ', ',']).filter(|w| !w.is_empty()).collect();
    let i = words
        .iter()
        .position(|w| *w == "flushes")
        .ok_or("no flush count")?;
    words[i - 1]
        .parse()
        .map_err(|_| format!("bad flush count in `{line}`"))
}

/// (a) 16 MiB of random data written and synced reach the image file; a
/// second boot reads the same bytes. (d) The guest's flushes (its block
/// layer's count) all reached the real device (the VMM's count).
fn linux_disk(kernel: &KernelInstall) -> Result<(), String> {
    let path = image("linux-disk", 32, 0)?;
    let disk = Disk {
        path: path.clone(),
        read_only: false,
        throttle_bps: None,
    };
    let mut g = Guest::boot(kernel, "linux-disk", disk.clone())?;
    let sum = g.query(
        "dd if=/dev/urandom of=/tmp/r bs=1M count=16 2>/dev/null; md5sum /tmp/r | sed \"s/^/MD\"\"5=/\"",
        "MD5",
    )?;
    g.run(
        "dd if=/tmp/r of=/dev/vda bs=1M conv=fsync 2>&1; echo W\"\"RITE=$?",
        "WRITE=0",
    )?;
    g.run("sync; echo S\"\"YNC=$?", "SYNC=0")?;
    // Field 16 of the block statistics: flush requests completed.
    let guest_flushes: u64 = g
        .query(
            "awk '{print \"FL\"\"USH=\" $16}' /sys/block/vda/stat",
            "FLUSH",
        )?
        .parse()
        .map_err(|e| format!("guest flush count: {e}"))?;
    let log = g.power_off()?;
    let host = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let host_sum = md5_hex(&host[..WRITTEN]);
    if host_sum != sum {
        return Err(format!(
            "image file holds {host_sum}, the guest wrote {sum}"
        ));
    }
    let vmm = vmm_flushes(&log)?;
    if guest_flushes == 0 || vmm != guest_flushes {
        return Err(format!(
            "flushes: the guest completed {guest_flushes}, the real device {vmm}"
        ));
    }
    println!("  linux-disk: md5 {sum} in the image; flushes: guest {guest_flushes}, device {vmm}");

    let mut g = Guest::boot(kernel, "linux-disk-2", disk)?;
    let again = g.query(
        "dd if=/dev/vda bs=1M count=16 2>/dev/null | md5sum | sed \"s/^/MD\"\"5=/\"",
        "MD5",
    )?;
    g.power_off()?;
    if again != sum {
        return Err(format!("second boot read {again}, first wrote {sum}"));
    }
    Ok(())
}

/// (b) With `,ro` the guest sees a read-only disk, its writes fail, reads
/// work, the guest and VMM carry on, and the image is unchanged. Run with
/// guest RAM that is not 1:1, so reads go through the bounce buffers.
fn linux_disk_ro(kernel: &KernelInstall) -> Result<(), String> {
    let path = image("linux-disk-ro", 8, 0x5a)?;
    let before = md5_hex(&std::fs::read(&path).map_err(|e| e.to_string())?);
    // Guest RAM not 1:1: this test also covers the bounce-buffer path.
    let mut g = Guest::boot_with(
        kernel,
        "linux-disk-ro",
        Disk {
            path: path.clone(),
            read_only: true,
            throttle_bps: None,
        },
        true,
    )?;
    let line = g.value_line("VMM: disk: slot");
    if !line.contains("bounce buffers") {
        return Err(format!("expected the bounce-buffer path: `{line}`"));
    }
    let ro = g.query("echo R\"\"O=$(cat /sys/block/vda/ro)", "RO")?;
    if ro != "1" {
        return Err(format!("/sys/block/vda/ro is {ro}, not 1"));
    }
    let rc = g.query(
        "dd if=/dev/zero of=/dev/vda bs=4k count=1 conv=fsync; echo R\"\"C=$?",
        "RC",
    )?;
    if rc == "0" {
        return Err("a write to the read-only disk succeeded".into());
    }
    let rc = g.query(
        "dd if=/dev/zero of=/dev/vda bs=4k count=1 oflag=direct; echo R\"\"C=$?",
        "RC",
    )?;
    if rc == "0" {
        return Err("a direct write to the read-only disk succeeded".into());
    }
    let sum = g.query(
        "dd if=/dev/vda bs=1M 2>/dev/null | md5sum | sed \"s/^/MD\"\"5=/\"",
        "MD5",
    )?;
    if sum != before {
        return Err(format!("guest read {sum}, image holds {before}"));
    }
    g.run("echo $((6*7))", "42")?;
    g.power_off()?;
    let after = md5_hex(&std::fs::read(&path).map_err(|e| e.to_string())?);
    if after != before {
        return Err("the read-only image changed".into());
    }
    Ok(())
}

/// (c) `reboot -f`, then `sysrq b`, while direct writes run on a throttled
/// disk: the guest restarts with requests outstanding at the real device
/// (the VMM quiesces it first: `quiesced` > 0), nothing faults, and the
/// disk works afterwards.
fn linux_disk_reboot(kernel: &KernelInstall) -> Result<(), String> {
    let path = image("linux-disk-reboot", 128, 0)?;
    // Throttled (8 MiB/s: a 1 MiB request stays at QEMU's device ~125 ms),
    // so a restart finds requests outstanding and the VMM must quiesce.
    let mut g = Guest::boot(
        kernel,
        "linux-disk-reboot",
        Disk {
            path,
            read_only: false,
            throttle_bps: Some(8 << 20),
        },
    )?;
    // Direct 1 MiB writes without pause: some are always in flight.
    g.run(
        "while :; do dd if=/dev/zero of=/dev/vda bs=1M count=100 oflag=direct 2>/dev/null; done & sleep 2; reboot -f",
        "VMM: guest restarting",
    )?;
    let after = |g: &mut Guest| -> Result<String, String> {
        g.expect("VMM: disk: ")?;
        g.expect("\n")?;
        Ok(g.value_line("VMM: disk: "))
    };
    println!("  linux-disk-reboot: reboot -f: {}", after(&mut g)?);
    g.booted()?;
    // Harder: an emergency restart (no sync, no device shutdown) while
    // requests are at the real device.
    g.run(
        "while :; do dd if=/dev/zero of=/dev/vda bs=1M count=100 oflag=direct 2>/dev/null; done & sleep 2; echo b > /proc/sysrq-trigger",
        "VMM: guest restarting",
    )?;
    let line = after(&mut g)?;
    println!("  linux-disk-reboot: sysrq b: {line}");
    let quiesced: u64 = line
        .split(", ")
        .find_map(|w| w.strip_suffix(" quiesced"))
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("no quiesced count in `{line}`"))?;
    if quiesced == 0 {
        return Err("no request was outstanding at either restart: quiesce not exercised".into());
    }
    g.booted()?;
    g.run(
        "dd if=/dev/urandom of=/tmp/s bs=1M count=4 2>/dev/null; echo R\"\"ND",
        "RND",
    )?;
    g.run(
        "dd if=/dev/vda of=/dev/null bs=1M count=4 2>/dev/null; echo R\"\"EAD",
        "READ",
    )?;
    g.run(
        "dd if=/tmp/s of=/dev/vda bs=1M 2>/dev/null; echo W\"\"RITE",
        "WRITE",
    )?;
    g.run("sync; echo S\"\"YNC", "SYNC")?;
    g.run(
        "echo 3 > /proc/sys/vm/drop_caches; dd if=/dev/vda bs=1M count=4 2>/dev/null | cmp - /tmp/s && echo CMP\"\"OK",
        "CMPOK",
    )?;
    g.power_off()?;
    Ok(())
}
