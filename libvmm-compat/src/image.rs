//! Recognising the three blobs `linux_setup_images` loads: the arm64 kernel
//! (`Image` or ELF `vmlinux`), the flattened device tree and the initrd.
//!
//! Everything here works on bytes and never touches guest memory, so it can
//! run before the first copy ("nothing half-copied").

use alloc::vec::Vec;

use crate::error::{Blob, SetupError};

/// Offset of the arm64 `Image` magic ("ARM\x64").
const ARM64_MAGIC_OFFSET: usize = 0x38;
/// The magic as a little-endian u32.
const ARM64_MAGIC: u32 = 0x644d_5241;
/// Size of the arm64 `Image` header.
pub const ARM64_HEADER_SIZE: usize = 64;
/// How much of the kernel start [`KernelInfo::parse`] wants to see: the
/// 64-byte header plus the PE/COFF headers of EFI-stub kernels.
pub const KERNEL_HEAD_WINDOW: usize = 4096;

/// Linux arm64 kernels are placed at a 2 MiB aligned base plus `text_offset`.
pub const KERNEL_ALIGN: u64 = 2 << 20;
/// Largest DTB Linux accepts on arm64.
pub const DTB_MAX_SIZE: u64 = 2 << 20;

#[cfg(feature = "elf")]
const EM_AARCH64: u16 = 183;
#[cfg(feature = "elf")]
const PT_LOAD: u32 = 1;

/// Page size the kernel was built for (bits 1-2 of the `Image` flags).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KernelPageSize {
    /// Not stated by the image.
    Unspecified,
    /// 4 KiB granule.
    K4,
    /// 16 KiB granule.
    K16,
    /// 64 KiB granule.
    K64,
}

/// One piece of the kernel to place: `file_len` bytes from `file_offset` of
/// the source go to `mem_offset` from the kernel base; the next
/// `mem_len - file_len` bytes are zeroed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    /// Offset in the source blob.
    pub file_offset: u64,
    /// Bytes taken from the source.
    pub file_len: u64,
    /// Offset from the 2 MiB aligned kernel base (includes `text_offset`).
    pub mem_offset: u64,
    /// Bytes occupied in guest memory (`>= file_len`).
    pub mem_len: u64,
}

/// Which container the kernel came in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KernelFormat {
    /// Raw arm64 `Image` (possibly an EFI-stub PE image).
    Image,
    /// ELF `vmlinux`; its loadable segments form the `Image` in memory.
    Elf,
}

/// What the kernel header says, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelInfo {
    /// Container format.
    pub format: KernelFormat,
    /// Offset of the image from its 2 MiB aligned base.
    pub text_offset: u64,
    /// Bytes the kernel occupies in memory from its load address (BSS included).
    pub image_size: u64,
    /// Granule the kernel was built for.
    pub page_size: KernelPageSize,
    /// Flags bit 3: the kernel may sit anywhere in RAM (else: as low as possible).
    pub place_anywhere: bool,
    /// What to copy where, relative to the kernel base.
    pub segments: Vec<Segment>,
}

fn rd_u16(b: &[u8], off: usize) -> Option<u16> {
    b.get(off..off + 2)
        .map(|s| u16::from_le_bytes([s[0], s[1]]))
}
fn rd_u32(b: &[u8], off: usize) -> Option<u32> {
    b.get(off..off + 4)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}
fn rd_u64(b: &[u8], off: usize) -> Option<u64> {
    b.get(off..off + 8).map(|s| {
        let mut a = [0; 8];
        a.copy_from_slice(s);
        u64::from_le_bytes(a)
    })
}
fn rd_be32(b: &[u8], off: usize) -> Option<u32> {
    b.get(off..off + 4)
        .map(|s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

/// The fields of a 64-byte arm64 `Image` header.
struct Arm64Header {
    text_offset: u64,
    image_size: u64,
    page_size: KernelPageSize,
    place_anywhere: bool,
}

fn parse_arm64_header(h: &[u8]) -> Result<Arm64Header, SetupError> {
    let magic = rd_u32(h, ARM64_MAGIC_OFFSET).ok_or(SetupError::Truncated {
        blob: Blob::Kernel,
        need: ARM64_HEADER_SIZE as u64,
        have: h.len() as u64,
    })?;
    if magic != ARM64_MAGIC {
        return Err(SetupError::NotLinux);
    }
    // In bounds: the magic sits at the end of the 64-byte header.
    let text_offset = rd_u64(h, 0x08).unwrap_or(0);
    let image_size = rd_u64(h, 0x10).unwrap_or(0);
    let flags = rd_u64(h, 0x18).unwrap_or(0);
    if image_size == 0 {
        // Kernels before 3.17 leave it zero; their size is unknowable here.
        return Err(SetupError::NoImageSize);
    }
    if flags & 1 != 0 {
        return Err(SetupError::BigEndianKernel);
    }
    let page_size = match (flags >> 1) & 3 {
        0 => KernelPageSize::Unspecified,
        1 => KernelPageSize::K4,
        2 => KernelPageSize::K16,
        _ => KernelPageSize::K64,
    };
    // Cortex-A57 implements the 4 KiB and 64 KiB granules only.
    if page_size == KernelPageSize::K16 {
        return Err(SetupError::UnsupportedPageSize);
    }
    if !text_offset.is_multiple_of(4096) || text_offset >= KERNEL_ALIGN {
        return Err(SetupError::BadTextOffset(text_offset));
    }
    // Placement adds these to a guest address: keep the sum inside the
    // 48-bit address space (image_dtb long-run finding: a size near 2^64
    // made `text_offset + image_size` overflow).
    if text_offset
        .checked_add(image_size)
        .is_none_or(|end| end > 1 << 48)
    {
        return Err(SetupError::MalformedKernel(
            "image_size does not fit the address space",
        ));
    }
    Ok(Arm64Header {
        text_offset,
        image_size,
        page_size,
        place_anywhere: flags & (1 << 3) != 0,
    })
}

/// For EFI-stub kernels: the file size the PE section table implies.
/// `None` when the image carries no PE header.
fn pe_file_extent(head: &[u8]) -> Result<Option<u64>, SetupError> {
    if head.get(0..2) != Some(b"MZ") {
        return Ok(None);
    }
    let malformed = SetupError::MalformedKernel("PE header outside the first 4 KiB");
    let pe = rd_u32(head, 0x3c).ok_or(malformed)? as usize;
    if head.get(pe..pe + 4) != Some(b"PE\0\0") {
        return Ok(None);
    }
    let nsect = rd_u16(head, pe + 6).ok_or(malformed)? as usize;
    let opt = rd_u16(head, pe + 20).ok_or(malformed)? as usize;
    let table = pe + 24 + opt;
    let mut end = 0u64;
    for i in 0..nsect {
        let s = table + 40 * i;
        let raw_size = rd_u32(head, s + 16).ok_or(malformed)?;
        let raw_ptr = rd_u32(head, s + 20).ok_or(malformed)?;
        end = end.max(u64::from(raw_ptr) + u64::from(raw_size));
    }
    Ok(Some(end))
}

impl KernelInfo {
    /// Validates a kernel of `total_len` bytes whose first bytes are `head`
    /// (at least [`KERNEL_HEAD_WINDOW`] bytes, or all of it if shorter).
    /// For an ELF `vmlinux`, `head` must be the whole file.
    pub fn parse(head: &[u8], total_len: u64) -> Result<Self, SetupError> {
        if head.starts_with(b"\x7fELF") {
            #[cfg(not(feature = "elf"))]
            return Err(SetupError::ElfUnsupported);
            #[cfg(feature = "elf")]
            {
                if (head.len() as u64) < total_len {
                    return Err(SetupError::ElfNotInPlace);
                }
                return Self::parse_elf(head);
            }
        }
        if total_len < ARM64_HEADER_SIZE as u64 || head.len() < ARM64_HEADER_SIZE {
            return Err(SetupError::Truncated {
                blob: Blob::Kernel,
                need: ARM64_HEADER_SIZE as u64,
                have: total_len.min(head.len() as u64),
            });
        }
        let h = parse_arm64_header(head)?;
        if let Some(need) = pe_file_extent(head)? {
            if total_len < need {
                return Err(SetupError::Truncated {
                    blob: Blob::Kernel,
                    need,
                    have: total_len,
                });
            }
        }
        // The file is a prefix of the memory image; a longer file is not an Image
        // (EFI-signed kernels append a signature, which we do not load).
        let file_len = total_len.min(h.image_size);
        Ok(KernelInfo {
            format: KernelFormat::Image,
            text_offset: h.text_offset,
            image_size: h.image_size,
            page_size: h.page_size,
            place_anywhere: h.place_anywhere,
            segments: alloc::vec![Segment {
                file_offset: 0,
                file_len,
                mem_offset: h.text_offset,
                mem_len: h.image_size,
            }],
        })
    }

    /// An arm64 `vmlinux`: its `PT_LOAD` segments, laid out by virtual
    /// address from the lowest one, are the `Image` (whose header starts
    /// the first segment).
    #[cfg(feature = "elf")]
    fn parse_elf(elf: &[u8]) -> Result<Self, SetupError> {
        use goblin::container::{Container, Ctx, Endian};
        use goblin::elf::program_header::ProgramHeader;
        use goblin::elf64::header::Header;

        let bad = SetupError::MalformedKernel;
        if elf.get(4) != Some(&2) {
            return Err(bad("not a 64-bit ELF"));
        }
        if elf.get(5) != Some(&1) {
            return Err(SetupError::BigEndianKernel);
        }
        let hdr = Header::parse(elf).map_err(|_| bad("ELF header truncated"))?;
        if hdr.e_machine != EM_AARCH64 {
            return Err(SetupError::WrongArchitecture(hdr.e_machine));
        }
        let ctx = Ctx::new(Container::Big, Endian::Little);
        let phoff =
            usize::try_from(hdr.e_phoff).map_err(|_| bad("program headers out of range"))?;
        let phdrs = ProgramHeader::parse(elf, phoff, usize::from(hdr.e_phnum), ctx)
            .map_err(|_| bad("program headers truncated"))?;
        let loads: Vec<&ProgramHeader> = phdrs
            .iter()
            .filter(|p| p.p_type == PT_LOAD && p.p_memsz > 0)
            .collect();
        let first = loads
            .iter()
            .min_by_key(|p| p.p_vaddr)
            .ok_or(bad("no loadable segment"))?;
        let base = first.p_vaddr;
        let hdr_off =
            usize::try_from(first.p_offset).map_err(|_| bad("segment outside the file"))?;
        let h = parse_arm64_header(elf.get(hdr_off..).unwrap_or(&[]))?;
        if hdr.e_entry != base {
            return Err(bad("entry point is not the start of the image"));
        }
        let mut segments = Vec::with_capacity(loads.len());
        for p in &loads {
            let in_file = p
                .p_offset
                .checked_add(p.p_filesz)
                .is_some_and(|e| e <= elf.len() as u64);
            if !in_file {
                return Err(SetupError::Truncated {
                    blob: Blob::Kernel,
                    need: p.p_offset.saturating_add(p.p_filesz),
                    have: elf.len() as u64,
                });
            }
            if p.p_filesz > p.p_memsz {
                return Err(bad("segment file size exceeds its memory size"));
            }
            let rel = p.p_vaddr - base;
            let end = rel.checked_add(p.p_memsz).ok_or(bad("segment wraps"))?;
            if end > h.image_size {
                return Err(bad("segment beyond image_size"));
            }
            segments.push(Segment {
                file_offset: p.p_offset,
                file_len: p.p_filesz,
                mem_offset: h.text_offset + rel,
                mem_len: p.p_memsz,
            });
        }
        segments.sort_by_key(|s| s.mem_offset);
        if segments
            .windows(2)
            .any(|w| w[0].mem_offset + w[0].mem_len > w[1].mem_offset)
        {
            return Err(bad("overlapping segments"));
        }
        Ok(KernelInfo {
            format: KernelFormat::Elf,
            text_offset: h.text_offset,
            image_size: h.image_size,
            page_size: h.page_size,
            place_anywhere: h.place_anywhere,
            segments,
        })
    }
}

/// A validated flattened device tree header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DtbInfo {
    /// `totalsize`: the bytes that are copied.
    pub total_size: u64,
    /// `version`.
    pub version: u32,
}

/// FDT header magic.
pub const FDT_MAGIC: u32 = 0xd00d_feed;
/// FDT header size (version 17).
const FDT_HEADER_SIZE: usize = 40;

impl DtbInfo {
    /// Checks the header of a DTB given as `given` bytes: magic, version
    /// (16 or 17 readers), `totalsize` no larger than `given` nor 2 MiB, and
    /// the blocks inside `totalsize`.
    pub fn check_header(head: &[u8], given: u64) -> Result<Self, SetupError> {
        let trunc = SetupError::Truncated {
            blob: Blob::Dtb,
            need: FDT_HEADER_SIZE as u64,
            have: given,
        };
        if given < FDT_HEADER_SIZE as u64 {
            return Err(trunc);
        }
        let f = |i: usize| rd_be32(head, i * 4).ok_or(trunc);
        if f(0)? != FDT_MAGIC {
            return Err(SetupError::BadDtb("bad magic"));
        }
        let total = u64::from(f(1)?);
        let (off_struct, off_strings, off_rsv) =
            (u64::from(f(2)?), u64::from(f(3)?), u64::from(f(4)?));
        let (version, last_comp) = (f(5)?, f(6)?);
        let (size_strings, size_struct) = (u64::from(f(8)?), u64::from(f(9)?));
        if total > given {
            return Err(SetupError::DtbTooLarge {
                total_size: total,
                given,
            });
        }
        if total > DTB_MAX_SIZE {
            return Err(SetupError::DtbTooLarge {
                total_size: total,
                given: DTB_MAX_SIZE,
            });
        }
        if version < 16 || last_comp > 17 {
            return Err(SetupError::BadDtb("unsupported version"));
        }
        let inside = |off: u64, len: u64| off >= FDT_HEADER_SIZE as u64 && off + len <= total;
        if !inside(off_struct, size_struct)
            || !inside(off_strings, size_strings)
            || !inside(off_rsv, 16)
        {
            return Err(SetupError::BadDtb("block outside totalsize"));
        }
        Ok(DtbInfo {
            total_size: total,
            version,
        })
    }

    /// Full check of an in-memory DTB: header, a structural walk of the
    /// reservation map and the structure block (the `fdt` crate panics on
    /// out-of-bounds lengths and offsets), then a parse of the tree.
    /// Returns the initrd range named in `/chosen`, if any.
    pub fn check(dtb: &[u8]) -> Result<(Self, Option<(u64, u64)>), SetupError> {
        let info = Self::check_header(dtb, dtb.len() as u64)?;
        let blob = &dtb[..info.total_size as usize];
        // In bounds: `check_header` read these words.
        let f = |i: usize| rd_be32(dtb, i * 4).unwrap_or(0) as usize;
        let off_struct = f(2);
        let blocks = crate::fdt_check::Blocks {
            off_struct,
            // Checked with the size the `fdt` crate will use: it reads
            // `size_dt_struct` whatever the version, also from a version 16
            // header, which has no such field (fuzz finding: a shorter
            // block than the walk assumed ran `fdt` off its end).
            size_struct: f(9),
            off_strings: f(3),
            size_strings: f(8),
            off_rsv: f(4),
        };
        crate::fdt_check::check_structure(blob, &blocks).map_err(SetupError::BadDtb)?;
        let tree = fdt::Fdt::new(blob).map_err(|_| SetupError::BadDtb("unparsable tree"))?;
        let initrd = tree.find_node("/chosen").and_then(|c| {
            let cell = |name: &str| {
                c.property(name).and_then(|p| match p.value.len() {
                    4 => Some(u64::from(rd_be32(p.value, 0)?)),
                    8 => Some(
                        (u64::from(rd_be32(p.value, 0)?) << 32) | u64::from(rd_be32(p.value, 4)?),
                    ),
                    _ => None,
                })
            };
            Some((cell("linux,initrd-start")?, cell("linux,initrd-end")?))
        });
        Ok((info, initrd))
    }
}

/// Recognised initrd formats (for the log; any content is accepted).
pub fn initrd_format(head: &[u8]) -> &'static str {
    match head {
        [b'0', b'7', b'0', b'7', b'0', b'1' | b'2', ..] => "cpio",
        [0x1f, 0x8b, ..] => "gzip",
        [0xfd, b'7', b'z', b'X', b'Z', ..] => "xz",
        [0x28, 0xb5, 0x2f, 0xfd, ..] => "zstd",
        [0x02, 0x21, 0x4c, 0x18, ..] => "lz4",
        [b'B', b'Z', b'h', ..] => "bzip2",
        _ => "unknown",
    }
}
