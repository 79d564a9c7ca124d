//! The boot parameter block: what the host tells the VMM about the guest
//! images QEMU placed in physical memory (`-device loader`), the vCPU count
//! and the command line.
//!
//! Physical memory plan (inside the 512 MiB seL4 leaves to user level):
//!
//! | range | contents |
//! |---|---|
//! | `0x4000_0000..0x5000_0000` | guest RAM (1:1); QEMU also places the kernel and initrd at their final guest addresses here |
//! | `0x5800_0000` | this block (one page) |
//! | `0x5820_0000..` | pristine kernel, then pristine initrd (2 MiB aligned) |
//!
//! The pristine copies are outside guest RAM, so `guest_restart` can
//! reload from them after the guest has overwritten its RAM.
//!
//! Encoding (little-endian): magic `S4VMBOOT`, version, total size,
//! FNV-1a checksum (computed with the checksum field zero), vCPUs, flags
//! ([`FLAG_IN_RAM`], [`FLAG_RAM_ANYWHERE`], [`FLAG_CONSOLE_PASSTHROUGH`],
//! [`FLAG_STATS`]),
//! command-line length, then six u64 (pristine kernel address and size,
//! pristine initrd address and size, in-RAM kernel and initrd addresses
//! or 0), then the command line.

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use crate::config::{
    ConfigError, ConsoleMode, GicVersion, KernelHeader, Layout, RamBacking, VmmConfig, MAX_CMDLINE,
    MAX_VCPUS, MIB2,
};

/// Physical address of the block.
pub const PARAMS_ADDR: u64 = 0x5800_0000;
/// End of the staging area (and of the memory seL4 leaves to user level).
pub const STAGING_END: u64 = 0x6000_0000;
/// Where the pristine kernel goes.
pub const PRISTINE_BASE: u64 = PARAMS_ADDR + MIB2;
/// Bytes reserved for the block.
pub const PARAMS_MAX: usize = 4096;
/// Block magic.
pub const MAGIC: [u8; 8] = *b"S4VMBOOT";
/// Block format version.
pub const VERSION: u32 = 1;
/// Fixed part of the block.
const HEADER: usize = 80;
/// Flag: kernel and initrd were also placed at their final guest addresses.
pub const FLAG_IN_RAM: u32 = 1;
/// Flag: guest RAM from ordinary kernel RAM (images are copied in).
pub const FLAG_RAM_ANYWHERE: u32 = 2;
/// Flag: pass the PL011 through to the guest (`ttyAMA0`) instead of giving
/// it a virtio console (`hvc0`). Clear in blocks written before the flag
/// existed, which therefore ask for the virtio console.
pub const FLAG_CONSOLE_PASSTHROUGH: u32 = 4;
/// Flag: print run statistics periodically (`VMM: stats: <uptime_ms> ms, <exits> exits`),
/// for `cargo xtask run --stats` and the guest benchmark. Clear in older blocks: no statistics.
pub const FLAG_STATS: u32 = 8;

/// The decoded, validated block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BootParams {
    /// Number of vCPUs.
    pub vcpus: u32,
    /// Kernel command line.
    pub cmdline: String,
    /// Physical address and size of the pristine kernel.
    pub kernel: (u64, u64),
    /// Physical address and size of the pristine initrd (size 0: none).
    pub initrd: (u64, u64),
    /// Physical addresses of the in-RAM kernel and initrd copies, if placed.
    pub in_ram: Option<(u64, u64)>,
    /// Back guest RAM with ordinary kernel RAM instead of 1:1 frames.
    pub ram_anywhere: bool,
    /// The guest's console.
    pub console: ConsoleMode,
    /// Print run statistics periodically ([`FLAG_STATS`]).
    pub stats: bool,
}

/// Why a block was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamError {
    /// No magic: QEMU was not told to load the block.
    Missing,
    /// Another format version.
    Version(u32),
    /// Size field out of range.
    Size(u32),
    /// Checksum mismatch.
    Checksum,
    /// vCPU count out of range.
    Vcpus(u32),
    /// Command line not UTF-8, contains NUL or too long.
    Cmdline,
    /// An image range is empty or outside the staging area, or they overlap.
    Range,
}

// Display (not Debug) is what the VMM prints: it keeps derive(Debug)'s
// formatting machinery out of the binary.
impl core::fmt::Display for ParamError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ParamError::Missing => f.write_str("no boot parameter block"),
            ParamError::Version(v) => write!(f, "unsupported format version {v}"),
            ParamError::Size(s) => write!(f, "size {s} out of range"),
            ParamError::Checksum => f.write_str("checksum mismatch"),
            ParamError::Vcpus(n) => write!(f, "vCPU count {n} out of range"),
            ParamError::Cmdline => f.write_str("bad command line"),
            ParamError::Range => f.write_str("bad image range"),
        }
    }
}

fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5u32, |h, &b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}
fn u64_at(b: &[u8], o: usize) -> u64 {
    u64::from(u32_at(b, o)) | (u64::from(u32_at(b, o + 4)) << 32)
}

impl BootParams {
    /// Encodes the block.
    pub fn encode(&self) -> Vec<u8> {
        let mut b = vec![0u8; HEADER];
        b[0..8].copy_from_slice(&MAGIC);
        b[8..12].copy_from_slice(&VERSION.to_le_bytes());
        b[20..24].copy_from_slice(&self.vcpus.to_le_bytes());
        let mut flags = if self.in_ram.is_some() {
            FLAG_IN_RAM
        } else {
            0
        };
        if self.ram_anywhere {
            flags |= FLAG_RAM_ANYWHERE;
        }
        if self.console == ConsoleMode::Passthrough {
            flags |= FLAG_CONSOLE_PASSTHROUGH;
        }
        if self.stats {
            flags |= FLAG_STATS;
        }
        b[24..28].copy_from_slice(&flags.to_le_bytes());
        b[28..32].copy_from_slice(&(self.cmdline.len() as u32).to_le_bytes());
        let (kr, ir) = self.in_ram.unwrap_or((0, 0));
        for (i, v) in [
            self.kernel.0,
            self.kernel.1,
            self.initrd.0,
            self.initrd.1,
            kr,
            ir,
        ]
        .iter()
        .enumerate()
        {
            b[32 + 8 * i..40 + 8 * i].copy_from_slice(&v.to_le_bytes());
        }
        b.extend_from_slice(self.cmdline.as_bytes());
        let size = b.len() as u32;
        b[12..16].copy_from_slice(&size.to_le_bytes());
        let sum = fnv1a(&b);
        b[16..20].copy_from_slice(&sum.to_le_bytes());
        b
    }

    /// Decodes and validates a block read from [`PARAMS_ADDR`] (`raw` is
    /// the whole reserved page).
    pub fn decode(raw: &[u8]) -> Result<Self, ParamError> {
        if raw.len() < HEADER || raw[0..8] != MAGIC {
            return Err(ParamError::Missing);
        }
        let version = u32_at(raw, 8);
        if version != VERSION {
            return Err(ParamError::Version(version));
        }
        let size = u32_at(raw, 12);
        let cmd_len = u32_at(raw, 28) as usize;
        if (size as usize) > raw.len().min(PARAMS_MAX) || (size as usize) != HEADER + cmd_len {
            return Err(ParamError::Size(size));
        }
        let mut b = raw[..size as usize].to_vec();
        let sum = u32_at(&b, 16);
        b[16..20].fill(0);
        if fnv1a(&b) != sum {
            return Err(ParamError::Checksum);
        }
        let vcpus = u32_at(&b, 20);
        if !(1..=MAX_VCPUS).contains(&vcpus) {
            return Err(ParamError::Vcpus(vcpus));
        }
        let cmdline = core::str::from_utf8(&b[HEADER..]).map_err(|_| ParamError::Cmdline)?;
        if cmdline.contains('\0') || cmdline.len() >= MAX_CMDLINE {
            return Err(ParamError::Cmdline);
        }
        let w: Vec<u64> = (0..6).map(|i| u64_at(&b, 32 + 8 * i)).collect();
        let kernel = (w[0], w[1]);
        let initrd = (w[2], w[3]);
        let in_staging = |(a, s): (u64, u64)| {
            a >= PRISTINE_BASE && a.checked_add(s).is_some_and(|e| e <= STAGING_END)
        };
        if kernel.1 == 0 || !in_staging(kernel) || (initrd.1 > 0 && !in_staging(initrd)) {
            return Err(ParamError::Range);
        }
        if initrd.1 > 0 && kernel.0 < initrd.0 + initrd.1 && initrd.0 < kernel.0 + kernel.1 {
            return Err(ParamError::Range);
        }
        let flags = u32_at(&b, 24);
        let in_ram = (flags & FLAG_IN_RAM != 0).then_some((w[4], w[5]));
        Ok(BootParams {
            vcpus,
            cmdline: String::from(cmdline),
            kernel,
            initrd,
            in_ram,
            ram_anywhere: flags & FLAG_RAM_ANYWHERE != 0,
            console: if flags & FLAG_CONSOLE_PASSTHROUGH != 0 {
                ConsoleMode::Passthrough
            } else {
                ConsoleMode::Virtio
            },
            stats: flags & FLAG_STATS != 0,
        })
    }

    /// The guest configuration these parameters describe.
    pub fn config(&self, gic: GicVersion) -> VmmConfig {
        let mut c = VmmConfig::qemu_virt(gic, self.vcpus, &self.cmdline, self.initrd.1);
        if self.ram_anywhere {
            c.ram_backing = RamBacking::Anywhere;
        }
        c.console = self.console;
        c
    }
}

/// One file for QEMU to place: `-device loader,file=<path>,addr=<addr>,force-raw=on`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placement {
    /// Which file: `"kernel"`, `"initrd"` or `"params"`.
    pub what: &'static str,
    /// Physical address.
    pub addr: u64,
}

/// Host side (xtask): the block and the QEMU placements for a kernel whose
/// first bytes are `kernel_head`, given sizes, vCPUs and command line.
/// Uses the same [`VmmConfig::layout`] as the VMM, so the in-RAM copies
/// land exactly where the VMM validates them in place. The block asks for
/// 1:1 guest RAM, the virtio console and no statistics; the caller may
/// change `ram_anywhere`, `console` and `stats` (none moves anything).
pub fn plan(
    kernel_head: &[u8],
    kernel_size: u64,
    initrd_size: u64,
    vcpus: u32,
    cmdline: &str,
) -> Result<(BootParams, Layout, Vec<Placement>), ConfigError> {
    let k = KernelHeader::parse(kernel_head, kernel_size)
        .map_err(|e| ConfigError::Fdt(format!("kernel: {e}")))?;
    let cfg = VmmConfig::qemu_virt(GicVersion::V2, vcpus, cmdline, initrd_size);
    let layout = cfg.layout(&k)?;
    let kernel = (PRISTINE_BASE, kernel_size);
    let initrd_at = (PRISTINE_BASE + kernel_size).div_ceil(MIB2) * MIB2;
    let initrd = (if initrd_size > 0 { initrd_at } else { 0 }, initrd_size);
    if initrd_at + initrd_size > STAGING_END {
        return Err(ConfigError::NoRoom {
            need: initrd_at + initrd_size - PRISTINE_BASE,
            have: STAGING_END - PRISTINE_BASE,
        });
    }
    let in_ram = (layout.entry, layout.initrd.map_or(0, |r| r.0));
    let params = BootParams {
        vcpus,
        cmdline: String::from(cmdline),
        kernel,
        initrd,
        in_ram: Some(in_ram),
        ram_anywhere: false,
        console: ConsoleMode::Virtio,
        stats: false,
    };
    let mut places = vec![
        Placement {
            what: "params",
            addr: PARAMS_ADDR,
        },
        Placement {
            what: "kernel",
            addr: kernel.0,
        },
        Placement {
            what: "kernel",
            addr: in_ram.0,
        },
    ];
    if initrd_size > 0 {
        places.push(Placement {
            what: "initrd",
            addr: initrd.0,
        });
        places.push(Placement {
            what: "initrd",
            addr: in_ram.1,
        });
    }
    Ok((params, layout, places))
}
