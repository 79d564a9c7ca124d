//! Reading the input ELF files (loader, kernel, root task) with goblin and
//! checking that they are something the loader can place.

use core::fmt;
use goblin::elf::{header, program_header, Elf};

/// Which input an error is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageRole {
    /// The `sel4vm-loader` binary.
    Loader,
    /// seL4's `kernel.elf`.
    Kernel,
    /// The root-task ELF.
    RootTask,
}

impl fmt::Display for ImageRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ImageRole::Loader => "loader ELF",
            ImageRole::Kernel => "kernel ELF",
            ImageRole::RootTask => "root-task ELF",
        })
    }
}

/// What is wrong with an input ELF.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ElfError {
    /// Missing the `\x7fELF` magic.
    NotElf,
    /// ELFCLASS32.
    Not64Bit,
    /// Big-endian.
    NotLittleEndian,
    /// `e_machine` is not EM_AARCH64 (183).
    WrongMachine(u16),
    /// `e_type` is not ET_EXEC (e.g. a relocatable object or a PIE).
    NotExecutable(u16),
    /// goblin could not parse the headers.
    Malformed(String),
    /// No PT_LOAD segment with a non-zero memory size.
    NoLoadSegments,
    /// A segment's file bytes lie outside the file.
    SegmentOutsideFile {
        /// Program-header index.
        index: usize,
    },
    /// `p_filesz > p_memsz`.
    FileSizeExceedsMemSize {
        /// Program-header index.
        index: usize,
    },
    /// `addr + p_memsz` overflows.
    AddressOverflow {
        /// Program-header index.
        index: usize,
    },
    /// Two PT_LOAD segments claim the same addresses.
    OverlappingSegments {
        /// Program-header index of the first.
        first: usize,
        /// Program-header index of the second.
        second: usize,
    },
}

impl fmt::Display for ElfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ElfError::NotElf => write!(f, "not an ELF file (bad magic)"),
            ElfError::Not64Bit => write!(f, "not a 64-bit ELF"),
            ElfError::NotLittleEndian => write!(f, "not a little-endian ELF"),
            ElfError::WrongMachine(m) => {
                write!(
                    f,
                    "e_machine is {m}, expected {} (AArch64)",
                    header::EM_AARCH64
                )
            }
            ElfError::NotExecutable(t) => {
                write!(f, "e_type is {t}, expected ET_EXEC ({})", header::ET_EXEC)
            }
            ElfError::Malformed(e) => write!(f, "malformed ELF: {e}"),
            ElfError::NoLoadSegments => write!(f, "no PT_LOAD segments"),
            ElfError::SegmentOutsideFile { index } => {
                write!(f, "segment {index}: file bytes lie outside the file")
            }
            ElfError::FileSizeExceedsMemSize { index } => {
                write!(f, "segment {index}: p_filesz exceeds p_memsz")
            }
            ElfError::AddressOverflow { index } => {
                write!(f, "segment {index}: address + size overflows")
            }
            ElfError::OverlappingSegments { first, second } => {
                write!(f, "segments {first} and {second} overlap")
            }
        }
    }
}

/// One PT_LOAD segment with non-zero memory size.
#[derive(Clone, Debug)]
pub(crate) struct Segment<'a> {
    pub index: usize,
    pub vaddr: u64,
    pub paddr: u64,
    pub memsz: u64,
    pub flags: u32,
    /// The `p_filesz` bytes from the file.
    pub data: &'a [u8],
    /// Offset of `data` within the file.
    pub file_offset: usize,
}

/// A parsed, checked input ELF.
#[derive(Clone, Debug)]
pub(crate) struct LoadImage<'a> {
    pub entry: u64,
    /// Sorted by the address space given to [`parse`].
    pub segments: Vec<Segment<'a>>,
    /// Section headers as (name, file offset, size) for section lookup.
    pub sections: Vec<(String, u64, u64)>,
}

/// Which addresses must not overlap between segments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AddrSpace {
    Physical,
    Virtual,
}

impl Segment<'_> {
    pub fn addr(&self, space: AddrSpace) -> u64 {
        match space {
            AddrSpace::Physical => self.paddr,
            AddrSpace::Virtual => self.vaddr,
        }
    }
}

/// Parses and validates an AArch64 ELF64 executable.
pub(crate) fn parse(bytes: &[u8], space: AddrSpace) -> Result<LoadImage<'_>, ElfError> {
    if bytes.len() < 4 || bytes[..4] != *b"\x7fELF" {
        return Err(ElfError::NotElf);
    }
    // Check class and data before goblin so the error says what is wrong.
    if bytes.len() > header::EI_DATA {
        if bytes[header::EI_CLASS] != header::ELFCLASS64 {
            return Err(ElfError::Not64Bit);
        }
        if bytes[header::EI_DATA] != header::ELFDATA2LSB {
            return Err(ElfError::NotLittleEndian);
        }
    }
    let elf = Elf::parse(bytes).map_err(|e| ElfError::Malformed(e.to_string()))?;
    if elf.header.e_machine != header::EM_AARCH64 {
        return Err(ElfError::WrongMachine(elf.header.e_machine));
    }
    if elf.header.e_type != header::ET_EXEC {
        return Err(ElfError::NotExecutable(elf.header.e_type));
    }

    let mut segments = Vec::new();
    for (index, ph) in elf.program_headers.iter().enumerate() {
        if ph.p_type != program_header::PT_LOAD || ph.p_memsz == 0 {
            continue;
        }
        if ph.p_filesz > ph.p_memsz {
            return Err(ElfError::FileSizeExceedsMemSize { index });
        }
        let start =
            usize::try_from(ph.p_offset).map_err(|_| ElfError::SegmentOutsideFile { index })?;
        let len =
            usize::try_from(ph.p_filesz).map_err(|_| ElfError::SegmentOutsideFile { index })?;
        let data = start
            .checked_add(len)
            .and_then(|end| bytes.get(start..end))
            .ok_or(ElfError::SegmentOutsideFile { index })?;
        if ph.p_vaddr.checked_add(ph.p_memsz).is_none()
            || ph.p_paddr.checked_add(ph.p_memsz).is_none()
        {
            return Err(ElfError::AddressOverflow { index });
        }
        segments.push(Segment {
            index,
            vaddr: ph.p_vaddr,
            paddr: ph.p_paddr,
            memsz: ph.p_memsz,
            flags: ph.p_flags,
            data,
            file_offset: start,
        });
    }
    if segments.is_empty() {
        return Err(ElfError::NoLoadSegments);
    }
    segments.sort_by_key(|s| s.addr(space));
    for pair in segments.windows(2) {
        // Sorted, so only neighbours can overlap; checked_add succeeded above.
        if pair[0].addr(space) + pair[0].memsz > pair[1].addr(space) {
            return Err(ElfError::OverlappingSegments {
                first: pair[0].index,
                second: pair[1].index,
            });
        }
    }

    let sections = elf
        .section_headers
        .iter()
        .map(|sh| {
            let name = elf.shdr_strtab.get_at(sh.sh_name).unwrap_or("").to_string();
            (name, sh.sh_offset, sh.sh_size)
        })
        .collect();

    Ok(LoadImage {
        entry: elf.header.e_entry,
        segments,
        sections,
    })
}

impl LoadImage<'_> {
    /// `[lowest, highest)` address covered by the segments.
    pub fn bounds(&self, space: AddrSpace) -> (u64, u64) {
        let lo = self
            .segments
            .iter()
            .map(|s| s.addr(space))
            .min()
            .unwrap_or(0);
        let hi = self
            .segments
            .iter()
            .map(|s| s.addr(space) + s.memsz)
            .max()
            .unwrap_or(0);
        (lo, hi)
    }
}
