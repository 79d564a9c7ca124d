//! `linux_setup_images`: validate kernel, DTB and initrd, check where they
//! go, then place them in guest RAM through the core's guest-memory
//! abstraction.
//!
//! Every check runs before the first byte is written, so a refused call
//! leaves guest memory as it was.

use alloc::vec;
use alloc::vec::Vec;

use sel4vm::{Backend, GuestMemory, Vm};

use crate::error::{Blob, SetupError};
use crate::image::{
    initrd_format, DtbInfo, KernelFormat, KernelInfo, DTB_MAX_SIZE, KERNEL_ALIGN,
    KERNEL_HEAD_WINDOW,
};

/// Where an image comes from.
#[derive(Clone, Copy, Debug)]
pub enum ImageSrc<'a> {
    /// Bytes in the VMM's address space. If they already are the VMM's view
    /// of the destination (guest RAM mapped into the VMM), nothing is copied.
    Bytes(&'a [u8]),
    /// Bytes already in guest RAM at a guest-physical address (e.g. placed
    /// there by QEMU's `-device loader`). At the destination itself the
    /// image is validated in place; elsewhere it is moved.
    Guest {
        /// Guest-physical start.
        addr: u64,
        /// Size in bytes.
        size: u64,
    },
}

impl ImageSrc<'_> {
    /// Length in bytes.
    pub fn len(&self) -> u64 {
        match self {
            ImageSrc::Bytes(b) => b.len() as u64,
            ImageSrc::Guest { size, .. } => *size,
        }
    }
    /// True for an empty image (an absent initrd).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The arguments of `linux_setup_images`, in guest-physical terms.
///
/// libvmm passes VMM virtual addresses and relies on guest RAM being mapped
/// at its guest-physical address in the VMM; here destinations are always
/// guest-physical and the core's [`GuestMemory`] does the translation.
#[derive(Clone, Copy, Debug)]
pub struct LinuxImages<'a> {
    /// 2 MiB aligned guest-physical base for the kernel; the kernel goes to
    /// `ram_start + text_offset`.
    pub ram_start: u64,
    /// The kernel: arm64 `Image` or ELF `vmlinux`.
    pub kernel: ImageSrc<'a>,
    /// The flattened device tree; `dtb.len()` is the space it may use.
    pub dtb: ImageSrc<'a>,
    /// Guest-physical destination of the DTB (8-byte aligned).
    pub dtb_dest: u64,
    /// The initrd; empty for none.
    pub initrd: ImageSrc<'a>,
    /// Guest-physical destination of the initrd.
    pub initrd_dest: u64,
}

/// Where `linux_setup_images` put things.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placement {
    /// Kernel entry point (guest-physical), the value libvmm returns.
    pub entry: u64,
    /// `[start, end)` the kernel occupies, BSS included.
    pub kernel: (u64, u64),
    /// `[start, end)` of the DTB (`totalsize` bytes).
    pub dtb: (u64, u64),
    /// `[start, end)` of the initrd, if any.
    pub initrd: Option<(u64, u64)>,
    /// Bytes actually copied (0 when everything was validated in place).
    pub bytes_copied: u64,
}

/// One planned write.
struct Piece<'a> {
    blob: Blob,
    src: ImageSrc<'a>,
    /// Offset inside `src`.
    src_off: u64,
    dest: u64,
    len: u64,
    /// Bytes after `len` to zero (ELF BSS).
    zero: u64,
}

fn overlaps(a: (u64, u64), b: (u64, u64)) -> bool {
    a.0 < b.1 && b.0 < a.1 && a.0 < a.1 && b.0 < b.1
}

fn read_head<B: Backend>(
    mem: &mut GuestMemory<'_, B>,
    src: &ImageSrc<'_>,
    max: u64,
) -> Result<Vec<u8>, SetupError> {
    match src {
        ImageSrc::Bytes(b) => Ok(b[..b.len().min(max as usize)].to_vec()),
        ImageSrc::Guest { addr, size } => {
            let mut v = vec![0; (*size).min(max) as usize];
            mem.read(*addr, &mut v)?;
            Ok(v)
        }
    }
}

/// True if `[dest, dest + len)` is mapped into the VMM exactly at `ptr`,
/// i.e. copying `ptr` there would copy the bytes onto themselves.
pub fn is_vmm_view_of<B: Backend>(vm: &mut Vm<B>, dest: u64, len: u64, ptr: *const u8) -> bool {
    if len == 0 {
        return true;
    }
    let base = ptr as usize;
    vm.guest_memory()
        .touch_spans(dest, len, |a| {
            if a.bytes.as_ptr() as usize == base.wrapping_add(a.offset as usize) {
                Ok(())
            } else {
                Err(())
            }
        })
        .is_ok()
}

/// Validates kernel, DTB and initrd, checks that their guest-physical
/// destinations lie in RAM and do not overlap, then copies what is not
/// already in place. Returns where everything went; `entry` is the kernel
/// entry point.
///
/// Cache maintenance: the guest starts with its MMU and caches off, so
/// bytes the VMM writes through a cacheable mapping must reach memory.
/// That is the backend's job on every guest-memory access
/// (`sel4vm-sel4`'s `CacheMaintenance::Kernel` cleans each page it touched
/// with `seL4_ARM_Page_*`; EL0 cache instructions trap when seL4 runs in
/// EL2). Images validated in place are not touched at all; whoever put them
/// there (QEMU, which models no caches) is responsible for coherency.
///
/// Corresponds to libvmm's `linux_setup_images`.
pub fn linux_setup_images<B: Backend>(
    vm: &mut Vm<B>,
    imgs: &LinuxImages<'_>,
) -> Result<Placement, SetupError> {
    let plan = plan(vm, imgs)?;
    // Only backend failures can stop us from here on.
    let mut copied = 0;
    for p in &plan.pieces {
        copied += write_piece(vm, p)?;
    }
    if copied == 0 {
        log::info!("linux_setup_images: kernel, DTB and initrd validated in place");
    }
    Ok(Placement {
        bytes_copied: copied,
        ..plan.placement
    })
}

/// Runs every check of [`linux_setup_images`] without writing anything.
pub fn validate_images<B: Backend>(
    vm: &mut Vm<B>,
    imgs: &LinuxImages<'_>,
) -> Result<Placement, SetupError> {
    plan(vm, imgs).map(|p| p.placement)
}

struct Plan<'a> {
    pieces: Vec<Piece<'a>>,
    placement: Placement,
}

fn plan<'a, B: Backend>(vm: &mut Vm<B>, imgs: &LinuxImages<'a>) -> Result<Plan<'a>, SetupError> {
    // ---- kernel ----
    let head = {
        let mut mem = vm.guest_memory();
        let max = match imgs.kernel {
            ImageSrc::Bytes(b) if b.starts_with(b"\x7fELF") => b.len() as u64,
            _ => KERNEL_HEAD_WINDOW as u64,
        };
        read_head(&mut mem, &imgs.kernel, max)?
    };
    let kernel = KernelInfo::parse(&head, imgs.kernel.len())?;
    drop(head);
    if !imgs.ram_start.is_multiple_of(KERNEL_ALIGN) {
        return Err(SetupError::KernelNotAligned(imgs.ram_start));
    }
    let kbase = imgs
        .ram_start
        .checked_add(kernel.text_offset)
        .ok_or(SetupError::Vm(sel4vm::Error::Overflow))?;
    let kend = kbase
        .checked_add(kernel.image_size)
        .ok_or(SetupError::Vm(sel4vm::Error::Overflow))?;
    let not_in_ram = |blob, addr, size| SetupError::NotInRam { blob, addr, size };
    let mut mem = vm.guest_memory();
    mem.check_range(kbase, kernel.image_size)
        .map_err(|_| not_in_ram(Blob::Kernel, kbase, kernel.image_size))?;
    if !kernel.place_anywhere
        && imgs.ram_start >= KERNEL_ALIGN
        && mem
            .check_range(imgs.ram_start - KERNEL_ALIGN, KERNEL_ALIGN)
            .is_ok()
    {
        return Err(SetupError::KernelNotAtRamStart(imgs.ram_start));
    }

    // ---- DTB ----
    let dtb_bytes = read_head(&mut mem, &imgs.dtb, DTB_MAX_SIZE)?;
    DtbInfo::check_header(&dtb_bytes, imgs.dtb.len())?;
    let (dtb, dtb_initrd) = DtbInfo::check(&dtb_bytes)?;
    drop(dtb_bytes);
    if !imgs.dtb_dest.is_multiple_of(8) {
        return Err(SetupError::DtbNotAligned(imgs.dtb_dest));
    }
    mem.check_range(imgs.dtb_dest, dtb.total_size)
        .map_err(|_| not_in_ram(Blob::Dtb, imgs.dtb_dest, dtb.total_size))?;
    let dtb_range = (imgs.dtb_dest, imgs.dtb_dest + dtb.total_size);

    // ---- initrd ----
    let initrd_len = imgs.initrd.len();
    let initrd_range = if initrd_len == 0 {
        None
    } else {
        let end = imgs
            .initrd_dest
            .checked_add(initrd_len)
            .ok_or(SetupError::Vm(sel4vm::Error::Overflow))?;
        mem.check_range(imgs.initrd_dest, initrd_len)
            .map_err(|_| not_in_ram(Blob::Initrd, imgs.initrd_dest, initrd_len))?;
        Some((imgs.initrd_dest, end))
    };
    // The DTB tells Linux where the initrd is; it must be where we put it.
    if let Some(d) = dtb_initrd {
        let actual = initrd_range.unwrap_or((0, 0));
        if d != actual {
            return Err(SetupError::InitrdMismatch { dtb: d, actual });
        }
    }

    // ---- overlaps, in guest-physical space ----
    let kernel_range = (kbase, kend);
    let mut dests = vec![(Blob::Kernel, kernel_range), (Blob::Dtb, dtb_range)];
    if let Some(r) = initrd_range {
        dests.push((Blob::Initrd, r));
    }
    for (i, a) in dests.iter().enumerate() {
        for b in &dests[i + 1..] {
            if overlaps(a.1, b.1) {
                return Err(SetupError::Overlap(a.0, b.0));
            }
        }
    }

    // ---- plan the writes ----
    let mut pieces = Vec::new();
    for s in &kernel.segments {
        let zero = if kernel.format == KernelFormat::Elf {
            s.mem_len - s.file_len
        } else {
            0
        };
        pieces.push(Piece {
            blob: Blob::Kernel,
            src: imgs.kernel,
            src_off: s.file_offset,
            dest: imgs.ram_start + s.mem_offset,
            len: s.file_len,
            zero,
        });
    }
    pieces.push(Piece {
        blob: Blob::Dtb,
        src: imgs.dtb,
        src_off: 0,
        dest: dtb_range.0,
        len: dtb.total_size,
        zero: 0,
    });
    if let Some(r) = initrd_range {
        pieces.push(Piece {
            blob: Blob::Initrd,
            src: imgs.initrd,
            src_off: 0,
            dest: r.0,
            len: initrd_len,
            zero: 0,
        });
    }
    // A source in guest RAM must survive until it is copied: no other
    // blob may be written over it.
    for p in &pieces {
        if let ImageSrc::Guest { addr, size } = p.src {
            mem.check_range(addr, size)
                .map_err(|_| not_in_ram(p.blob, addr, size))?;
            if addr + p.src_off == p.dest {
                continue;
            }
            for (other, r) in &dests {
                if *other != p.blob && overlaps((addr, addr + size), *r) {
                    return Err(SetupError::SourceClobbered {
                        source: p.blob,
                        by: *other,
                    });
                }
            }
        }
    }
    if let Some(r) = initrd_range {
        let mut h = [0u8; 8];
        let n = initrd_len.min(8) as usize;
        match imgs.initrd {
            ImageSrc::Bytes(b) => h[..n].copy_from_slice(&b[..n]),
            ImageSrc::Guest { addr, .. } => mem.read(addr, &mut h[..n])?,
        }
        log::debug!(
            "linux_setup_images: initrd {:#x}..{:#x} ({})",
            r.0,
            r.1,
            initrd_format(&h)
        );
    }
    let placement = Placement {
        entry: kbase,
        kernel: kernel_range,
        dtb: dtb_range,
        initrd: initrd_range,
        bytes_copied: 0,
    };
    Ok(Plan { pieces, placement })
}

/// Performs one planned write; returns the bytes copied.
fn write_piece<B: Backend>(vm: &mut Vm<B>, p: &Piece<'_>) -> Result<u64, SetupError> {
    let mut copied = 0;
    match p.src {
        ImageSrc::Bytes(b) => {
            let src = &b[p.src_off as usize..(p.src_off + p.len) as usize];
            if !is_vmm_view_of(vm, p.dest, p.len, src.as_ptr()) {
                vm.guest_memory()
                    .touch_spans(p.dest, p.len, |a| {
                        let o = a.offset as usize;
                        a.bytes.copy_from_slice(&src[o..o + a.bytes.len()]);
                        Ok::<(), ()>(())
                    })
                    .map_err(touch_err)?;
                copied += p.len;
            }
        }
        ImageSrc::Guest { addr, .. } => {
            let from = addr + p.src_off;
            if from != p.dest {
                move_in_guest(vm, from, p.dest, p.len)?;
                copied += p.len;
            }
        }
    }
    if p.zero > 0 {
        vm.guest_memory()
            .touch_spans(p.dest + p.len, p.zero, |a| {
                a.bytes.fill(0);
                Ok::<(), ()>(())
            })
            .map_err(touch_err)?;
    }
    Ok(copied)
}

fn touch_err(e: sel4vm::TouchError<()>) -> SetupError {
    match e {
        sel4vm::TouchError::Vm(e) => SetupError::Vm(e),
        sel4vm::TouchError::Callback { .. } => SetupError::Vm(sel4vm::Error::Callback),
    }
}

/// `memmove` inside guest RAM through a bounce buffer, in the direction
/// that is safe for overlapping ranges.
fn move_in_guest<B: Backend>(
    vm: &mut Vm<B>,
    from: u64,
    to: u64,
    len: u64,
) -> Result<(), SetupError> {
    const CHUNK: u64 = 64 * 1024;
    let mut buf = vec![0u8; CHUNK.min(len) as usize];
    let mut mem = vm.guest_memory();
    let mut step = |off: u64, n: u64| -> Result<(), SetupError> {
        let b = &mut buf[..n as usize];
        mem.read(from + off, b)?;
        mem.touch_spans(to + off, n, |a| {
            let o = a.offset as usize;
            a.bytes.copy_from_slice(&b[o..o + a.bytes.len()]);
            Ok::<(), ()>(())
        })
        .map_err(touch_err)
    };
    if to < from {
        let mut off = 0;
        while off < len {
            let n = CHUNK.min(len - off);
            step(off, n)?;
            off += n;
        }
    } else {
        let mut end = len;
        while end > 0 {
            let n = CHUNK.min(end);
            step(end - n, n)?;
            end -= n;
        }
    }
    Ok(())
}
