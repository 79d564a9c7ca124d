//! Placement of the boot payload and writing of the bootable ELF.
//!
//! Physical layout (the order seL4 requires: its reserved regions — kernel
//! image, DTB, user image — must be ascending and disjoint):
//!
//! ```text
//! kernel p_paddr .. kernel end (incl. bss)   kernel image
//! next page                                  DTB (totalsize bytes)
//! next page                                  root-task image (vaddr span)
//! loader link address (0xB000_0000 ...)      loader code, stack, page tables
//! ```
//!
//! The payload goes straight to its final physical address as PT_LOAD
//! segments of the output ELF (QEMU loads `-kernel` ELFs at `p_paddr`, zero
//! filling `p_memsz - p_filesz`), so the loader copies nothing: it checks the
//! payload, maps it and enters the kernel.

use core::fmt;
use core::ops::Range;

use crate::boot_header::{self, BootHeader, Fnv64};
use crate::dtb::{self, DtbError};
use crate::elf::{self, AddrSpace, ElfError, ImageRole, LoadImage, Segment};

const PAGE: u64 = 4096;
const LARGE_PAGE: u64 = 2 << 20;
/// TTBR0_EL2 with T0SZ = 16 covers 48 bits of virtual address.
const VA_LIMIT: u64 = 1 << 48;

const PF_X: u32 = 1;
const PF_W: u32 = 2;
const PF_R: u32 = 4;

/// Physical address size the kernel was configured for
/// (`KernelArmPASizeBits40` / `KernelArmPASizeBits44`); selects TCR_EL2.PS.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PhysAddrBits {
    /// 40-bit PA (TCR_EL2.PS = 1 TiB).
    Bits40,
    /// 44-bit PA (TCR_EL2.PS = 16 TiB); what cortex-a57 kernels use.
    #[default]
    Bits44,
}

impl PhysAddrBits {
    /// The TCR_EL2 value seL4's `checkTCR_EL2` insists on: T0SZ=16,
    /// inner/outer write-back write-allocate walks, inner shareable, 4 KiB
    /// granule, PS from the PA size, RES1 bits 23 and 31.
    pub fn tcr_el2(self) -> u64 {
        let ps: u64 = match self {
            PhysAddrBits::Bits40 => 2,
            PhysAddrBits::Bits44 => 4,
        };
        16 | (1 << 8) | (1 << 10) | (3 << 12) | (ps << 16) | (1 << 23) | (1 << 31)
    }
}

/// Inputs to [`pack`]: raw file contents.
#[derive(Clone, Copy, Debug)]
pub struct PackInput<'a> {
    /// The `sel4vm-loader` ELF (aarch64-unknown-none build).
    pub loader_elf: &'a [u8],
    /// seL4 `kernel.elf`.
    pub kernel_elf: &'a [u8],
    /// The DTB handed to the kernel (normally `support/kernel.dtb`).
    pub dtb: &'a [u8],
    /// The root-task ELF (static AArch64 executable).
    pub root_task_elf: &'a [u8],
    /// The kernel's physical address size.
    pub pa_bits: PhysAddrBits,
}

/// Why an image could not be packed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PackError {
    /// An input ELF is unusable.
    Elf {
        /// Which input.
        role: ImageRole,
        /// What is wrong.
        error: ElfError,
    },
    /// The DTB is unusable.
    Dtb(DtbError),
    /// The loader ELF lacks the boot-header section (wrong binary, or its
    /// section headers were stripped).
    LoaderHeaderMissing,
    /// The boot-header section is too small, not in a loadable segment, or
    /// does not hold the unpacked marker (e.g. an already packed image).
    LoaderHeaderInvalid(&'static str),
    /// Kernel segments do not share one virtual-to-physical offset.
    KernelOffsetMismatch,
    /// The kernel's virtual-to-physical offset is not 2 MiB aligned, so the
    /// loader cannot map it with 2 MiB blocks.
    KernelOffsetMisaligned(u64),
    /// An entry point lies outside its image.
    EntryOutsideImage {
        /// Which image.
        role: ImageRole,
        /// The entry address.
        entry: u64,
    },
    /// A virtual range is not reachable through TTBR0_EL2 (48-bit VA).
    VirtualRangeTooHigh {
        /// What was being mapped.
        what: &'static str,
        /// Its end address.
        end: u64,
    },
    /// A region is not inside usable RAM (DTB memory minus reserved memory).
    NotInUsableRam {
        /// What was being placed.
        what: &'static str,
        /// Its range.
        range: Range<u64>,
    },
    /// Two regions collide.
    Overlap {
        /// The first region.
        first: &'static str,
        /// The second region.
        second: &'static str,
    },
    /// The DTB names no enabled `arm,pl011` UART.
    NoUart,
    /// Address arithmetic overflowed while placing a region.
    AddressOverflow(&'static str),
}

impl fmt::Display for PackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PackError::Elf { role, error } => write!(f, "{role}: {error}"),
            PackError::Dtb(e) => write!(f, "DTB: {e}"),
            PackError::LoaderHeaderMissing => write!(
                f,
                "loader ELF has no {} section (not a sel4vm-loader build, or stripped)",
                boot_header::SECTION_NAME
            ),
            PackError::LoaderHeaderInvalid(why) => write!(f, "loader boot header: {why}"),
            PackError::KernelOffsetMismatch => {
                write!(
                    f,
                    "kernel segments use different virtual-to-physical offsets"
                )
            }
            PackError::KernelOffsetMisaligned(o) => {
                write!(
                    f,
                    "kernel virtual-to-physical offset {o:#x} is not 2 MiB aligned"
                )
            }
            PackError::EntryOutsideImage { role, entry } => {
                write!(
                    f,
                    "{role}: entry point {entry:#x} is outside the loaded image"
                )
            }
            PackError::VirtualRangeTooHigh { what, end } => {
                write!(
                    f,
                    "{what} ends at virtual {end:#x}, beyond the 48-bit EL2 address space"
                )
            }
            PackError::NotInUsableRam { what, range } => write!(
                f,
                "{what} [{:#x}..{:#x}) is not inside usable RAM from the DTB",
                range.start, range.end
            ),
            PackError::Overlap { first, second } => write!(f, "{first} overlaps {second}"),
            PackError::NoUart => write!(f, "DTB has no enabled arm,pl011 UART"),
            PackError::AddressOverflow(what) => write!(f, "address overflow while placing {what}"),
        }
    }
}

impl std::error::Error for PackError {}

impl From<DtbError> for PackError {
    fn from(e: DtbError) -> Self {
        PackError::Dtb(e)
    }
}

/// Where everything ends up; the result of [`plan`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Physical range of the loader (all its PT_LOAD segments incl. bss).
    pub loader: Range<u64>,
    /// Loader entry point (physical; the output ELF's `e_entry`).
    pub loader_entry: u64,
    /// Usable RAM derived from the DTB.
    pub usable_ram: Vec<Range<u64>>,
    /// The header the packer writes into the loader.
    pub header: BootHeader,
}

impl Layout {
    /// Kernel image physical range.
    pub fn kernel(&self) -> Range<u64> {
        self.header.kernel_phys_start..self.header.kernel_phys_end
    }
    /// DTB physical range.
    pub fn dtb(&self) -> Range<u64> {
        self.header.dtb_phys..self.header.dtb_phys + self.header.dtb_size
    }
    /// Root-task image physical range.
    pub fn user(&self) -> Range<u64> {
        self.header.user_phys_start..self.header.user_phys_end
    }
    /// Root-task virtual range.
    pub fn user_virt(&self) -> Range<u64> {
        let off = self.header.user_pv_offset;
        self.header.user_phys_start.wrapping_sub(off)..self.header.user_phys_end.wrapping_sub(off)
    }
}

fn round_up(x: u64, align: u64) -> Option<u64> {
    Some(x.checked_add(align - 1)? & !(align - 1))
}

fn round_down(x: u64, align: u64) -> u64 {
    x & !(align - 1)
}

fn overlaps(a: &Range<u64>, b: &Range<u64>) -> bool {
    a.start < b.end && b.start < a.end
}

fn in_any(r: &Range<u64>, ranges: &[Range<u64>]) -> bool {
    ranges.iter().any(|u| u.start <= r.start && r.end <= u.end)
}

/// An image region flattened into bytes: `data` (file part, padded to 8
/// bytes) followed by zeroes up to `size`.
struct Region {
    start: u64,
    size: u64,
    data: Vec<u8>,
}

impl Region {
    /// Lays `segs` out relative to `base` in address space `space`.
    fn build(segs: &[Segment<'_>], space: AddrSpace, base: u64, size: u64) -> Region {
        let file_end = segs
            .iter()
            .filter(|s| !s.data.is_empty())
            .map(|s| s.addr(space) - base + s.data.len() as u64)
            .max()
            .unwrap_or(0);
        let mut data = vec![0u8; round_up(file_end, 8).unwrap_or(file_end) as usize];
        // Pure-bss segments have no bytes and may start past the last file byte.
        for s in segs.iter().filter(|s| !s.data.is_empty()) {
            let off = (s.addr(space) - base) as usize;
            data[off..off + s.data.len()].copy_from_slice(s.data);
        }
        Region {
            start: base,
            size,
            data,
        }
    }

    fn hash(&self) -> u64 {
        let mut h = Fnv64::new();
        h.bytes(&self.data);
        h.zero_words((self.size - self.data.len() as u64) / 8);
        h.finish()
    }
}

fn parse(role: ImageRole, bytes: &[u8], space: AddrSpace) -> Result<LoadImage<'_>, PackError> {
    elf::parse(bytes, space).map_err(|error| PackError::Elf { role, error })
}

/// Everything computed from the inputs, shared by [`plan`] and [`pack`].
struct Plan<'a> {
    loader: LoadImage<'a>,
    header_offset: usize,
    kernel: Region,
    dtb: &'a [u8],
    user: Region,
    layout: Layout,
}

fn make_plan<'a>(input: &PackInput<'a>) -> Result<Plan<'a>, PackError> {
    let loader = parse(ImageRole::Loader, input.loader_elf, AddrSpace::Physical)?;
    let kernel = parse(ImageRole::Kernel, input.kernel_elf, AddrSpace::Physical)?;
    let user = parse(ImageRole::RootTask, input.root_task_elf, AddrSpace::Virtual)?;
    let dtb_info = dtb::inspect(input.dtb)?;
    let dtb = &input.dtb[..dtb_info.total_size];
    let usable = dtb_info.usable_memory();
    let uart_base = dtb_info.pl011.ok_or(PackError::NoUart)?;

    // The header section must lie inside a segment's file bytes so patching
    // the file patches what QEMU loads.
    let (_, sec_off, sec_size) = loader
        .sections
        .iter()
        .find(|(name, _, _)| name == boot_header::SECTION_NAME)
        .cloned()
        .ok_or(PackError::LoaderHeaderMissing)?;
    if sec_size < boot_header::HEADER_SIZE as u64 {
        return Err(PackError::LoaderHeaderInvalid(
            "section smaller than the header",
        ));
    }
    let header_offset =
        usize::try_from(sec_off).map_err(|_| PackError::LoaderHeaderInvalid("bad offset"))?;
    let in_segment = loader.segments.iter().any(|s| {
        header_offset >= s.file_offset
            && header_offset + boot_header::HEADER_SIZE <= s.file_offset + s.data.len()
    });
    if !in_segment {
        return Err(PackError::LoaderHeaderInvalid("section is not loaded"));
    }
    let current = &input.loader_elf[header_offset..header_offset + boot_header::HEADER_SIZE];
    if current[..8] != boot_header::UNPACKED_MAGIC {
        return Err(PackError::LoaderHeaderInvalid(
            "section does not hold the unpacked marker",
        ));
    }
    let (lo, hi) = loader.bounds(AddrSpace::Physical);
    let loader_range =
        round_down(lo, PAGE)..round_up(hi, PAGE).ok_or(PackError::AddressOverflow("loader"))?;

    // Kernel: one virtual-to-physical offset, mapped with 2 MiB blocks.
    let kseg = &kernel.segments;
    let koff = kseg[0].vaddr.wrapping_sub(kseg[0].paddr);
    if kseg.iter().any(|s| s.vaddr.wrapping_sub(s.paddr) != koff) {
        return Err(PackError::KernelOffsetMismatch);
    }
    if koff % LARGE_PAGE != 0 {
        return Err(PackError::KernelOffsetMisaligned(koff));
    }
    let (klo, khi) = kernel.bounds(AddrSpace::Physical);
    let kstart = round_down(klo, PAGE);
    let kend = round_up(khi, PAGE).ok_or(PackError::AddressOverflow("kernel"))?;
    let kvirt_start = kstart.wrapping_add(koff);
    let kvirt_end = kend.wrapping_add(koff);
    if kvirt_end > VA_LIMIT || kvirt_end < kvirt_start {
        return Err(PackError::VirtualRangeTooHigh {
            what: "kernel image",
            end: kvirt_end,
        });
    }
    if !(kvirt_start..kvirt_end).contains(&kernel.entry) {
        return Err(PackError::EntryOutsideImage {
            role: ImageRole::Kernel,
            entry: kernel.entry,
        });
    }

    // DTB right after the kernel, root task right after the DTB.
    let dtb_phys = kend;
    let dtb_end = dtb_phys
        .checked_add(dtb.len() as u64)
        .ok_or(PackError::AddressOverflow("DTB"))?;
    let (ulo, uhi) = user.bounds(AddrSpace::Virtual);
    let uvirt_start = round_down(ulo, PAGE);
    let uvirt_end = round_up(uhi, PAGE).ok_or(PackError::AddressOverflow("root task"))?;
    if !(uvirt_start..uvirt_end).contains(&user.entry) {
        return Err(PackError::EntryOutsideImage {
            role: ImageRole::RootTask,
            entry: user.entry,
        });
    }
    let uphys_start = round_up(dtb_end, PAGE).ok_or(PackError::AddressOverflow("root task"))?;
    let uphys_end = uphys_start
        .checked_add(uvirt_end - uvirt_start)
        .ok_or(PackError::AddressOverflow("root task"))?;

    let placed: [(&'static str, Range<u64>); 4] = [
        ("loader", loader_range.clone()),
        ("kernel image", kstart..kend),
        ("DTB", dtb_phys..dtb_end),
        ("root-task image", uphys_start..uphys_end),
    ];
    for (what, range) in &placed {
        if !in_any(range, &usable) {
            return Err(PackError::NotInUsableRam {
                what,
                range: range.clone(),
            });
        }
    }
    for (i, (a, ra)) in placed.iter().enumerate() {
        for (b, rb) in &placed[i + 1..] {
            if overlaps(ra, rb) {
                return Err(PackError::Overlap {
                    first: a,
                    second: b,
                });
            }
        }
    }

    // The loader identity-maps the memory node holding it; that map must not
    // collide with the kernel window in virtual space.
    let ram = dtb_info
        .memory
        .iter()
        .find(|m| m.start <= loader_range.start && loader_range.end <= m.end)
        .cloned()
        .ok_or(PackError::NotInUsableRam {
            what: "loader",
            range: loader_range.clone(),
        })?;
    if ram.end > VA_LIMIT {
        return Err(PackError::VirtualRangeTooHigh {
            what: "identity-mapped RAM",
            end: ram.end,
        });
    }
    if overlaps(
        &ram,
        &(round_down(kvirt_start, LARGE_PAGE)..round_up(kvirt_end, LARGE_PAGE).unwrap_or(u64::MAX)),
    ) {
        return Err(PackError::Overlap {
            first: "identity-mapped RAM",
            second: "kernel virtual window",
        });
    }

    // Only now, with sizes bounded by RAM, materialise the images.
    let kregion = Region::build(kseg, AddrSpace::Physical, kstart, kend - kstart);
    let uregion = Region::build(
        &user.segments,
        AddrSpace::Virtual,
        uvirt_start,
        uvirt_end - uvirt_start,
    );
    let uregion = Region {
        start: uphys_start,
        ..uregion
    };

    let mut dtb_hash = Fnv64::new();
    dtb_hash.bytes(dtb);
    let header = BootHeader {
        kernel_phys_start: kstart,
        kernel_phys_end: kend,
        kernel_virt_start: kvirt_start,
        kernel_entry: kernel.entry,
        dtb_phys,
        dtb_size: dtb.len() as u64,
        user_phys_start: uphys_start,
        user_phys_end: uphys_end,
        user_pv_offset: uphys_start.wrapping_sub(uvirt_start),
        user_entry: user.entry,
        ram_start: ram.start,
        ram_end: ram.end,
        uart_base,
        tcr_el2: input.pa_bits.tcr_el2(),
        kernel_hash: kregion.hash(),
        dtb_hash: dtb_hash.finish(),
        user_hash: uregion.hash(),
    };
    let layout = Layout {
        loader: loader_range,
        loader_entry: loader.entry,
        usable_ram: usable,
        header,
    };
    Ok(Plan {
        loader,
        header_offset,
        kernel: kregion,
        dtb,
        user: uregion,
        layout,
    })
}

/// Computes the layout [`pack`] would use, without building the image.
pub fn plan(input: &PackInput<'_>) -> Result<Layout, PackError> {
    make_plan(input).map(|p| p.layout)
}

/// One PT_LOAD of the output.
struct OutSegment<'a> {
    paddr: u64,
    vaddr: u64,
    data: &'a [u8],
    memsz: u64,
    flags: u32,
}

fn write_elf(entry: u64, segs: &[OutSegment<'_>]) -> Vec<u8> {
    const EHDR: usize = 64;
    const PHDR: usize = 56;
    let mut offsets = Vec::with_capacity(segs.len());
    let mut cursor = (EHDR + PHDR * segs.len()) as u64;
    for s in segs {
        // Keep p_offset congruent to p_vaddr modulo the page size.
        let off = round_up(cursor, PAGE).unwrap_or(cursor) + s.vaddr % PAGE;
        offsets.push(off);
        cursor = off + s.data.len() as u64;
    }
    let mut out = vec![0u8; cursor as usize];

    let mut h = Vec::with_capacity(EHDR);
    h.extend_from_slice(b"\x7fELF");
    h.extend_from_slice(&[2, 1, 1, 0]); // 64-bit, little-endian, version 1, SysV
    h.extend_from_slice(&[0; 8]);
    h.extend_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    h.extend_from_slice(&183u16.to_le_bytes()); // EM_AARCH64
    h.extend_from_slice(&1u32.to_le_bytes());
    h.extend_from_slice(&entry.to_le_bytes());
    h.extend_from_slice(&(EHDR as u64).to_le_bytes()); // e_phoff
    h.extend_from_slice(&0u64.to_le_bytes()); // e_shoff: no sections
    h.extend_from_slice(&0u32.to_le_bytes()); // e_flags
    h.extend_from_slice(&(EHDR as u16).to_le_bytes());
    h.extend_from_slice(&(PHDR as u16).to_le_bytes());
    h.extend_from_slice(&(segs.len() as u16).to_le_bytes());
    h.extend_from_slice(&64u16.to_le_bytes()); // e_shentsize
    h.extend_from_slice(&0u16.to_le_bytes()); // e_shnum
    h.extend_from_slice(&0u16.to_le_bytes()); // e_shstrndx
    out[..EHDR].copy_from_slice(&h);

    for (i, (s, off)) in segs.iter().zip(&offsets).enumerate() {
        let mut p = Vec::with_capacity(PHDR);
        p.extend_from_slice(&1u32.to_le_bytes()); // PT_LOAD
        p.extend_from_slice(&s.flags.to_le_bytes());
        p.extend_from_slice(&off.to_le_bytes());
        p.extend_from_slice(&s.vaddr.to_le_bytes());
        p.extend_from_slice(&s.paddr.to_le_bytes());
        p.extend_from_slice(&(s.data.len() as u64).to_le_bytes());
        p.extend_from_slice(&s.memsz.to_le_bytes());
        p.extend_from_slice(&PAGE.to_le_bytes());
        let at = EHDR + i * PHDR;
        out[at..at + PHDR].copy_from_slice(&p);
        let off = *off as usize;
        out[off..off + s.data.len()].copy_from_slice(s.data);
    }
    out
}

/// Builds the bootable ELF: the loader (with its boot header filled in)
/// plus the kernel, DTB and root task at their final physical addresses.
/// Boot it with `qemu-system-aarch64 -machine virt,virtualization=on ...
/// -kernel IMAGE`.
///
/// Plays the role of seL4's elfloader build step (CPIO archive + loader);
/// no libsel4vm/libvmm counterpart.
pub fn pack(input: &PackInput<'_>) -> Result<Vec<u8>, PackError> {
    let plan = make_plan(input)?;
    let mut loader_bytes = input.loader_elf.to_vec();
    loader_bytes[plan.header_offset..plan.header_offset + boot_header::HEADER_SIZE]
        .copy_from_slice(&plan.layout.header.to_bytes());

    let mut segs: Vec<OutSegment<'_>> = plan
        .loader
        .segments
        .iter()
        .map(|s| OutSegment {
            paddr: s.paddr,
            vaddr: s.paddr,
            data: &loader_bytes[s.file_offset..s.file_offset + s.data.len()],
            memsz: s.memsz,
            flags: s.flags,
        })
        .collect();
    for (region, flags) in [
        (&plan.kernel, PF_R | PF_W | PF_X),
        (&plan.user, PF_R | PF_W | PF_X),
    ] {
        segs.push(OutSegment {
            paddr: region.start,
            vaddr: region.start,
            data: &region.data,
            memsz: region.size,
            flags,
        });
    }
    segs.push(OutSegment {
        paddr: plan.layout.header.dtb_phys,
        vaddr: plan.layout.header.dtb_phys,
        data: plan.dtb,
        memsz: plan.dtb.len() as u64,
        flags: PF_R,
    });
    segs.sort_by_key(|s| s.paddr);
    Ok(write_elf(plan.layout.loader_entry, &segs))
}
