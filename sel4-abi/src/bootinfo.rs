//! The BootInfo frame handed to the root task (`seL4_BootInfo`) and the extra
//! BootInfo chunks that follow it (`seL4_BootInfoHeader`, e.g. the FDT).
//!
//! Parsing works on byte slices so it can be tested on the host with
//! synthetic images; malformed input yields [`BootInfoError`], never a panic.

use crate::cap::{CPtr, Cap, CapType};
use crate::ipc_buffer::IpcBuffer;
use crate::labels::config::MAX_NUM_BOOTINFO_UNTYPED_CAPS;
use crate::Word;

/// Size of the BootInfo frame (`seL4_BootInfoFrameSize`); extra BootInfo
/// starts right after it.
pub const BOOT_INFO_FRAME_SIZE: usize = 1 << 12;

/// A range of slots in the root CNode, `start` inclusive, `end` exclusive
/// (`seL4_SlotRegion`).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
#[repr(C)]
pub struct SlotRegion {
    /// First slot of the region.
    pub start: Word,
    /// First slot after the region.
    pub end: Word,
}

impl SlotRegion {
    /// Number of slots (0 if `end < start`).
    pub const fn len(&self) -> usize {
        self.end.saturating_sub(self.start) as usize
    }
    /// Whether the region has no slots.
    pub const fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The slots as a range of raw addresses.
    pub fn range(&self) -> core::ops::Range<Word> {
        self.start..self.end.max(self.start)
    }
    /// Slot `i` of the region as a typed cap, if in range.
    pub fn cap<T: CapType>(&self, i: usize) -> Option<Cap<T>> {
        (i < self.len()).then(|| Cap::from_bits(self.start + i as Word))
    }
}

/// Description of one untyped cap (`seL4_UntypedDesc`).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
#[repr(C)]
pub struct UntypedDesc {
    /// Physical address of the region.
    pub paddr: Word,
    /// log2 of the size in bytes.
    pub size_bits: u8,
    /// Non-zero for device memory (cannot be retyped into kernel objects).
    pub is_device: u8,
    /// Padding to a two-word entry.
    pub padding: [u8; 6],
}

/// In-memory layout of `seL4_BootInfo` for the supported (non-MCS) kernel.
#[derive(Clone, Debug)]
#[repr(C)]
pub struct BootInfo {
    /// `extraLen`: bytes of extra BootInfo after the frame.
    pub extra_len: Word,
    /// `nodeID`.
    pub node_id: Word,
    /// `numNodes`.
    pub num_nodes: Word,
    /// `numIOPTLevels`.
    pub num_io_pt_levels: Word,
    /// `ipcBuffer`: the root thread's IPC buffer (virtual address).
    pub ipc_buffer: *mut IpcBuffer,
    /// `empty`: free slots of the root CNode.
    pub empty: SlotRegion,
    /// `sharedFrames`.
    pub shared_frames: SlotRegion,
    /// `userImageFrames`: frames backing the root task image.
    pub user_image_frames: SlotRegion,
    /// `userImagePaging`: page tables of the root task image.
    pub user_image_paging: SlotRegion,
    /// `ioSpaceCaps`.
    pub io_space_caps: SlotRegion,
    /// `extraBIPages`: frames backing the extra BootInfo.
    pub extra_bi_pages: SlotRegion,
    /// `initThreadCNodeSizeBits`.
    pub init_thread_cnode_size_bits: Word,
    /// `initThreadDomain`.
    pub init_thread_domain: Word,
    /// `untyped`: slots holding the untyped caps.
    pub untyped: SlotRegion,
    /// `untypedList`: one entry per slot of `untyped`.
    pub untyped_list: [UntypedDesc; MAX_NUM_BOOTINFO_UNTYPED_CAPS],
}

const _: () = assert!(core::mem::size_of::<BootInfo>() <= BOOT_INFO_FRAME_SIZE);

// Byte offsets in seL4_BootInfo (all fields are words or pairs of words).
const OFF_EXTRA_LEN: usize = 0;
const OFF_NODE_ID: usize = 8;
const OFF_NUM_NODES: usize = 16;
const OFF_NUM_IOPT_LEVELS: usize = 24;
const OFF_IPC_BUFFER: usize = 32;
const OFF_EMPTY: usize = 40;
const OFF_SHARED_FRAMES: usize = 56;
const OFF_USER_IMAGE_FRAMES: usize = 72;
const OFF_USER_IMAGE_PAGING: usize = 88;
const OFF_IO_SPACE_CAPS: usize = 104;
const OFF_EXTRA_BI_PAGES: usize = 120;
const OFF_CNODE_SIZE_BITS: usize = 136;
const OFF_DOMAIN: usize = 144;
const OFF_UNTYPED: usize = 152;
const OFF_UNTYPED_LIST: usize = 168;
const UNTYPED_DESC_SIZE: usize = 16;

/// Why a BootInfo image was rejected.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum BootInfoError {
    /// The frame slice is shorter than the fixed part of `seL4_BootInfo`.
    FrameTooShort {
        /// Bytes needed.
        needed: usize,
        /// Bytes given.
        got: usize,
    },
    /// The untyped slot region has `end < start`.
    UntypedRegionReversed {
        /// `untyped.start`.
        start: Word,
        /// `untyped.end`.
        end: Word,
    },
    /// More untyped caps than `untypedList` can describe.
    TooManyUntypeds {
        /// Number claimed by the slot region.
        count: usize,
        /// `CONFIG_MAX_NUM_BOOTINFO_UNTYPED_CAPS`.
        max: usize,
    },
    /// The extra BootInfo slice is shorter than `extraLen`.
    ExtraTooShort {
        /// `extraLen`.
        extra_len: Word,
        /// Bytes given.
        got: usize,
    },
}

impl core::fmt::Display for BootInfoError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            Self::FrameTooShort { needed, got } => {
                write!(
                    f,
                    "BootInfo frame too short: need {needed} bytes, got {got}"
                )
            }
            Self::UntypedRegionReversed { start, end } => {
                write!(f, "BootInfo untyped region reversed: {start}..{end}")
            }
            Self::TooManyUntypeds { count, max } => {
                write!(f, "BootInfo claims {count} untypeds, at most {max} fit")
            }
            Self::ExtraTooShort { extra_len, got } => {
                write!(
                    f,
                    "extra BootInfo is {extra_len} bytes but only {got} given"
                )
            }
        }
    }
}

fn word_at(b: &[u8], off: usize) -> Word {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[off..off + 8]);
    Word::from_le_bytes(w)
}

/// A validated, read-only view of a BootInfo frame and its extra BootInfo.
#[derive(Clone, Copy, Debug)]
pub struct BootInfoView<'a> {
    frame: &'a [u8],
    extra: &'a [u8],
}

/// One untyped cap as reported by BootInfo.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct UntypedInfo {
    /// Slot of the untyped cap in the root CNode.
    pub cptr: CPtr,
    /// Physical base address.
    pub paddr: Word,
    /// log2 of the size in bytes.
    pub size_bits: u8,
    /// Device memory (only retypable into frames).
    pub is_device: bool,
}

impl UntypedInfo {
    /// Size in bytes (saturating for absurd `size_bits`).
    pub fn size(&self) -> u64 {
        1u64.checked_shl(self.size_bits as u32).unwrap_or(0)
    }
    /// The cap, typed.
    pub fn cap(&self) -> crate::cap::Untyped {
        Cap::from_cptr(self.cptr)
    }
}

impl<'a> BootInfoView<'a> {
    /// Validates a BootInfo image: `frame` holds the `seL4_BootInfo` frame
    /// (at least its fixed part plus the used `untypedList` entries), `extra`
    /// the bytes that follow the frame (at least `extraLen` of them; any
    /// excess is ignored).
    pub fn new(frame: &'a [u8], extra: &'a [u8]) -> Result<Self, BootInfoError> {
        if frame.len() < OFF_UNTYPED_LIST {
            return Err(BootInfoError::FrameTooShort {
                needed: OFF_UNTYPED_LIST,
                got: frame.len(),
            });
        }
        let start = word_at(frame, OFF_UNTYPED);
        let end = word_at(frame, OFF_UNTYPED + 8);
        if end < start {
            return Err(BootInfoError::UntypedRegionReversed { start, end });
        }
        let count = usize::try_from(end - start).unwrap_or(usize::MAX);
        if count > MAX_NUM_BOOTINFO_UNTYPED_CAPS {
            return Err(BootInfoError::TooManyUntypeds {
                count,
                max: MAX_NUM_BOOTINFO_UNTYPED_CAPS,
            });
        }
        let needed = OFF_UNTYPED_LIST + count * UNTYPED_DESC_SIZE;
        if frame.len() < needed {
            return Err(BootInfoError::FrameTooShort {
                needed,
                got: frame.len(),
            });
        }
        let extra_len = word_at(frame, OFF_EXTRA_LEN);
        let extra = match usize::try_from(extra_len) {
            Ok(n) if n <= extra.len() => &extra[..n],
            _ => {
                return Err(BootInfoError::ExtraTooShort {
                    extra_len,
                    got: extra.len(),
                })
            }
        };
        Ok(Self { frame, extra })
    }

    /// Builds a view of the BootInfo the kernel mapped at `ptr`.
    ///
    /// # Safety
    /// `ptr` must be the BootInfo address given to the root task, with the
    /// frame and `extraLen` bytes after it mapped and readable for `'a`.
    pub unsafe fn from_ptr(ptr: *const u8) -> Result<Self, BootInfoError> {
        // SAFETY: per the contract the whole frame is mapped.
        let frame = unsafe { core::slice::from_raw_parts(ptr, BOOT_INFO_FRAME_SIZE) };
        let extra_len = usize::try_from(word_at(frame, OFF_EXTRA_LEN)).unwrap_or(0);
        // SAFETY: the kernel maps `extraLen` bytes right after the frame.
        let extra =
            unsafe { core::slice::from_raw_parts(ptr.add(BOOT_INFO_FRAME_SIZE), extra_len) };
        Self::new(frame, extra)
    }

    fn region(&self, off: usize) -> SlotRegion {
        SlotRegion {
            start: word_at(self.frame, off),
            end: word_at(self.frame, off + 8),
        }
    }

    /// `extraLen`.
    pub fn extra_len(&self) -> usize {
        self.extra.len()
    }
    /// `nodeID`.
    pub fn node_id(&self) -> Word {
        word_at(self.frame, OFF_NODE_ID)
    }
    /// `numNodes`.
    pub fn num_nodes(&self) -> Word {
        word_at(self.frame, OFF_NUM_NODES)
    }
    /// `numIOPTLevels`.
    pub fn num_io_pt_levels(&self) -> Word {
        word_at(self.frame, OFF_NUM_IOPT_LEVELS)
    }
    /// The `seL4_BootInfo` itself, for C code (`seL4_GetBootInfo`).
    pub fn as_ptr(&self) -> *const u8 {
        self.frame.as_ptr()
    }
    /// `ipcBuffer`: virtual address of the root thread's IPC buffer.
    pub fn ipc_buffer(&self) -> *mut IpcBuffer {
        word_at(self.frame, OFF_IPC_BUFFER) as usize as *mut IpcBuffer
    }
    /// `empty`: free slots in the root CNode.
    pub fn empty(&self) -> SlotRegion {
        self.region(OFF_EMPTY)
    }
    /// `sharedFrames`.
    pub fn shared_frames(&self) -> SlotRegion {
        self.region(OFF_SHARED_FRAMES)
    }
    /// `userImageFrames`.
    pub fn user_image_frames(&self) -> SlotRegion {
        self.region(OFF_USER_IMAGE_FRAMES)
    }
    /// `userImagePaging`.
    pub fn user_image_paging(&self) -> SlotRegion {
        self.region(OFF_USER_IMAGE_PAGING)
    }
    /// `ioSpaceCaps`.
    pub fn io_space_caps(&self) -> SlotRegion {
        self.region(OFF_IO_SPACE_CAPS)
    }
    /// `extraBIPages`.
    pub fn extra_bi_pages(&self) -> SlotRegion {
        self.region(OFF_EXTRA_BI_PAGES)
    }
    /// `initThreadCNodeSizeBits`.
    pub fn init_thread_cnode_size_bits(&self) -> Word {
        word_at(self.frame, OFF_CNODE_SIZE_BITS)
    }
    /// `initThreadDomain`.
    pub fn init_thread_domain(&self) -> Word {
        word_at(self.frame, OFF_DOMAIN)
    }
    /// `untyped`: the slots of the untyped caps.
    pub fn untyped(&self) -> SlotRegion {
        self.region(OFF_UNTYPED)
    }

    /// The untyped caps with their descriptions, in slot order.
    pub fn untypeds(&self) -> impl ExactSizeIterator<Item = UntypedInfo> + 'a {
        let region = self.region(OFF_UNTYPED);
        let frame = self.frame;
        (0..region.len()).map(move |i| {
            let off = OFF_UNTYPED_LIST + i * UNTYPED_DESC_SIZE;
            UntypedInfo {
                cptr: CPtr(region.start + i as Word),
                paddr: word_at(frame, off),
                size_bits: frame[off + 8],
                is_device: frame[off + 9] != 0,
            }
        })
    }

    /// The extra BootInfo chunks (`seL4_BootInfoHeader` + payload), in order.
    /// A malformed header ends the iteration with one `Err`.
    pub fn extra_chunks(&self) -> ExtraChunks<'a> {
        ExtraChunks::new(self.extra)
    }

    /// The payload of the first chunk with the given id, if present and all
    /// chunks before it are well formed.
    pub fn find_extra(&self, id: BootInfoId) -> Result<Option<&'a [u8]>, ExtraError> {
        for c in self.extra_chunks() {
            let c = c?;
            if c.id == id.raw() {
                return Ok(Some(c.data));
            }
        }
        Ok(None)
    }

    /// The device tree blob passed by the loader (`SEL4_BOOTINFO_HEADER_FDT`).
    pub fn fdt(&self) -> Result<Option<&'a [u8]>, ExtraError> {
        self.find_extra(BootInfoId::Fdt)
    }
}

/// Known extra BootInfo chunk ids (`seL4_BootInfoID`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum BootInfoId {
    /// `SEL4_BOOTINFO_HEADER_PADDING`.
    Padding,
    /// `SEL4_BOOTINFO_HEADER_X86_VBE`.
    X86Vbe,
    /// `SEL4_BOOTINFO_HEADER_X86_MBMMAP`.
    X86MbMmap,
    /// `SEL4_BOOTINFO_HEADER_X86_ACPI_RSDP`.
    X86AcpiRsdp,
    /// `SEL4_BOOTINFO_HEADER_X86_FRAMEBUFFER`.
    X86Framebuffer,
    /// `SEL4_BOOTINFO_HEADER_X86_TSC_FREQ`.
    X86TscFreq,
    /// `SEL4_BOOTINFO_HEADER_FDT`.
    Fdt,
}

impl BootInfoId {
    /// Numeric id as in the header.
    pub const fn raw(self) -> Word {
        match self {
            Self::Padding => 0,
            Self::X86Vbe => 1,
            Self::X86MbMmap => 2,
            Self::X86AcpiRsdp => 3,
            Self::X86Framebuffer => 4,
            Self::X86TscFreq => 5,
            Self::Fdt => 6,
        }
    }
    /// Maps a numeric id; `None` for ids this crate does not know.
    pub const fn from_raw(id: Word) -> Option<Self> {
        Some(match id {
            0 => Self::Padding,
            1 => Self::X86Vbe,
            2 => Self::X86MbMmap,
            3 => Self::X86AcpiRsdp,
            4 => Self::X86Framebuffer,
            5 => Self::X86TscFreq,
            6 => Self::Fdt,
            _ => return None,
        })
    }
}

/// One extra BootInfo chunk.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ExtraChunk<'a> {
    /// Raw id (see [`BootInfoId::from_raw`]).
    pub id: Word,
    /// Payload, without the 16-byte header.
    pub data: &'a [u8],
}

/// A malformed extra BootInfo chunk header.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ExtraError {
    /// Fewer than 16 bytes remain for a header.
    TruncatedHeader {
        /// Offset of the header in the extra area.
        offset: usize,
    },
    /// `len` is smaller than the header itself.
    LengthTooSmall {
        /// Offset of the header in the extra area.
        offset: usize,
        /// The `len` field.
        len: Word,
    },
    /// `len` runs past the end of the extra area.
    LengthOutOfBounds {
        /// Offset of the header in the extra area.
        offset: usize,
        /// The `len` field.
        len: Word,
        /// Bytes left from `offset`.
        remaining: usize,
    },
}

impl core::fmt::Display for ExtraError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            Self::TruncatedHeader { offset } => {
                write!(f, "extra BootInfo: truncated header at {offset}")
            }
            Self::LengthTooSmall { offset, len } => {
                write!(f, "extra BootInfo: chunk at {offset} has length {len} < 16")
            }
            Self::LengthOutOfBounds {
                offset,
                len,
                remaining,
            } => write!(
                f,
                "extra BootInfo: chunk at {offset} has length {len}, only {remaining} bytes left"
            ),
        }
    }
}

/// Iterator over extra BootInfo chunks; see [`BootInfoView::extra_chunks`].
#[derive(Clone, Debug)]
pub struct ExtraChunks<'a> {
    rest: &'a [u8],
    pos: usize,
    failed: bool,
}

const HEADER_SIZE: usize = 16;

impl<'a> ExtraChunks<'a> {
    /// Iterates over a raw extra BootInfo area (exactly `extraLen` bytes).
    pub fn new(extra: &'a [u8]) -> Self {
        Self {
            rest: extra,
            pos: 0,
            failed: false,
        }
    }
}

impl<'a> Iterator for ExtraChunks<'a> {
    type Item = Result<ExtraChunk<'a>, ExtraError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.rest.is_empty() {
            return None;
        }
        let offset = self.pos;
        let fail = |s: &mut Self, e| {
            s.failed = true;
            Some(Err(e))
        };
        if self.rest.len() < HEADER_SIZE {
            return fail(self, ExtraError::TruncatedHeader { offset });
        }
        let id = word_at(self.rest, 0);
        let len = word_at(self.rest, 8);
        if len < HEADER_SIZE as Word {
            return fail(self, ExtraError::LengthTooSmall { offset, len });
        }
        let n = match usize::try_from(len) {
            Ok(n) if n <= self.rest.len() => n,
            _ => {
                let remaining = self.rest.len();
                return fail(
                    self,
                    ExtraError::LengthOutOfBounds {
                        offset,
                        len,
                        remaining,
                    },
                );
            }
        };
        let data = &self.rest[HEADER_SIZE..n];
        self.rest = &self.rest[n..];
        self.pos += n;
        Some(Ok(ExtraChunk { id, data }))
    }
}

impl core::iter::FusedIterator for ExtraChunks<'_> {}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::offset_of;
    use std::vec::Vec;

    #[test]
    fn struct_layout_matches_offsets() {
        assert_eq!(offset_of!(BootInfo, extra_len), OFF_EXTRA_LEN);
        assert_eq!(offset_of!(BootInfo, node_id), OFF_NODE_ID);
        assert_eq!(offset_of!(BootInfo, num_nodes), OFF_NUM_NODES);
        assert_eq!(offset_of!(BootInfo, num_io_pt_levels), OFF_NUM_IOPT_LEVELS);
        assert_eq!(offset_of!(BootInfo, ipc_buffer), OFF_IPC_BUFFER);
        assert_eq!(offset_of!(BootInfo, empty), OFF_EMPTY);
        assert_eq!(offset_of!(BootInfo, shared_frames), OFF_SHARED_FRAMES);
        assert_eq!(
            offset_of!(BootInfo, user_image_frames),
            OFF_USER_IMAGE_FRAMES
        );
        assert_eq!(
            offset_of!(BootInfo, user_image_paging),
            OFF_USER_IMAGE_PAGING
        );
        assert_eq!(offset_of!(BootInfo, io_space_caps), OFF_IO_SPACE_CAPS);
        assert_eq!(offset_of!(BootInfo, extra_bi_pages), OFF_EXTRA_BI_PAGES);
        assert_eq!(
            offset_of!(BootInfo, init_thread_cnode_size_bits),
            OFF_CNODE_SIZE_BITS
        );
        assert_eq!(offset_of!(BootInfo, init_thread_domain), OFF_DOMAIN);
        assert_eq!(offset_of!(BootInfo, untyped), OFF_UNTYPED);
        assert_eq!(offset_of!(BootInfo, untyped_list), OFF_UNTYPED_LIST);
        assert_eq!(core::mem::size_of::<UntypedDesc>(), UNTYPED_DESC_SIZE);
        // 168 + 230 * 16 for the supported configuration.
        assert_eq!(
            core::mem::size_of::<BootInfo>(),
            168 + MAX_NUM_BOOTINFO_UNTYPED_CAPS * 16
        );
    }

    struct Image {
        frame: Vec<u8>,
        extra: Vec<u8>,
    }

    fn put(b: &mut [u8], off: usize, w: u64) {
        b[off..off + 8].copy_from_slice(&w.to_le_bytes());
    }

    fn chunk(id: u64, payload: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&id.to_le_bytes());
        v.extend_from_slice(&((16 + payload.len()) as u64).to_le_bytes());
        v.extend_from_slice(payload);
        v
    }

    fn image(untypeds: &[(u64, u8, bool)], extra: Vec<u8>) -> Image {
        let mut f = std::vec![0u8; BOOT_INFO_FRAME_SIZE];
        put(&mut f, OFF_EXTRA_LEN, extra.len() as u64);
        put(&mut f, OFF_NODE_ID, 0);
        put(&mut f, OFF_NUM_NODES, 1);
        put(&mut f, OFF_IPC_BUFFER, 0x20_3000);
        put(&mut f, OFF_EMPTY, 0x80);
        put(&mut f, OFF_EMPTY + 8, 0x1000);
        put(&mut f, OFF_USER_IMAGE_FRAMES, 0x10);
        put(&mut f, OFF_USER_IMAGE_FRAMES + 8, 0x30);
        put(&mut f, OFF_EXTRA_BI_PAGES, 0x30);
        put(&mut f, OFF_EXTRA_BI_PAGES + 8, 0x32);
        put(&mut f, OFF_CNODE_SIZE_BITS, 12);
        put(&mut f, OFF_UNTYPED, 0x40);
        put(&mut f, OFF_UNTYPED + 8, 0x40 + untypeds.len() as u64);
        for (i, &(paddr, bits, dev)) in untypeds.iter().enumerate() {
            let off = OFF_UNTYPED_LIST + i * 16;
            put(&mut f, off, paddr);
            f[off + 8] = bits;
            f[off + 9] = dev as u8;
        }
        Image { frame: f, extra }
    }

    #[test]
    fn parses_synthetic_image() {
        let fdt = [0xd0, 0x0d, 0xfe, 0xed, 1, 2, 3, 4];
        let mut extra = chunk(0, &[0; 8]);
        extra.extend(chunk(6, &fdt));
        let img = image(&[(0x4000_0000, 29, true), (0x6000_0000, 20, false)], extra);
        let bi = BootInfoView::new(&img.frame, &img.extra).unwrap();
        assert_eq!(bi.num_nodes(), 1);
        assert_eq!(bi.ipc_buffer() as usize, 0x20_3000);
        assert_eq!(
            bi.empty(),
            SlotRegion {
                start: 0x80,
                end: 0x1000
            }
        );
        assert_eq!(bi.empty().len(), 0x1000 - 0x80);
        assert_eq!(bi.user_image_frames().len(), 0x20);
        assert_eq!(bi.extra_bi_pages().len(), 2);
        assert_eq!(bi.init_thread_cnode_size_bits(), 12);
        let u: Vec<_> = bi.untypeds().collect();
        assert_eq!(u.len(), 2);
        assert_eq!(
            u[0],
            UntypedInfo {
                cptr: CPtr(0x40),
                paddr: 0x4000_0000,
                size_bits: 29,
                is_device: true
            }
        );
        assert_eq!(u[1].cptr, CPtr(0x41));
        assert_eq!(u[1].size(), 1 << 20);
        assert!(!u[1].is_device);
        let chunks: Vec<_> = bi.extra_chunks().collect::<Result<_, _>>().unwrap();
        assert_eq!(chunks.len(), 2);
        assert_eq!(chunks[0].id, BootInfoId::Padding.raw());
        assert_eq!(chunks[0].data.len(), 8);
        assert_eq!(bi.fdt().unwrap(), Some(&fdt[..]));
    }

    #[test]
    fn empty_extra_has_no_fdt() {
        let img = image(&[], Vec::new());
        let bi = BootInfoView::new(&img.frame, &img.extra).unwrap();
        assert_eq!(bi.extra_chunks().count(), 0);
        assert_eq!(bi.fdt(), Ok(None));
        assert_eq!(bi.untypeds().len(), 0);
    }

    #[test]
    fn rejects_bad_frames() {
        let img = image(&[], Vec::new());
        assert!(matches!(
            BootInfoView::new(&img.frame[..100], &[]),
            Err(BootInfoError::FrameTooShort {
                needed: 168,
                got: 100
            })
        ));
        let mut f = img.frame.clone();
        put(&mut f, OFF_UNTYPED, 10);
        put(&mut f, OFF_UNTYPED + 8, 5);
        assert_eq!(
            BootInfoView::new(&f, &[]).unwrap_err(),
            BootInfoError::UntypedRegionReversed { start: 10, end: 5 }
        );
        put(&mut f, OFF_UNTYPED, 0);
        put(&mut f, OFF_UNTYPED + 8, 10_000);
        assert!(matches!(
            BootInfoView::new(&f, &[]),
            Err(BootInfoError::TooManyUntypeds { .. })
        ));
        // Untyped list runs past a short frame.
        put(&mut f, OFF_UNTYPED + 8, 3);
        assert!(matches!(
            BootInfoView::new(&f[..170], &[]),
            Err(BootInfoError::FrameTooShort { needed: 216, .. })
        ));
        // extraLen larger than the bytes supplied.
        let mut f = img.frame.clone();
        put(&mut f, OFF_EXTRA_LEN, u64::MAX);
        assert!(matches!(
            BootInfoView::new(&f, &[0; 32]),
            Err(BootInfoError::ExtraTooShort { .. })
        ));
    }

    #[test]
    fn malformed_extra_lengths_are_errors() {
        // Length smaller than the header.
        let mut bad = chunk(6, &[1, 2, 3]);
        put(&mut bad, 8, 8);
        let errs: Vec<_> = ExtraChunks::new(&bad).collect();
        assert_eq!(
            errs,
            std::vec![Err(ExtraError::LengthTooSmall { offset: 0, len: 8 })]
        );

        // Length past the end (including a huge one that would overflow).
        for len in [100u64, u64::MAX] {
            let mut bad = chunk(6, &[1, 2, 3]);
            put(&mut bad, 8, len);
            let errs: Vec<_> = ExtraChunks::new(&bad).collect();
            assert_eq!(errs.len(), 1);
            assert!(
                matches!(errs[0], Err(ExtraError::LengthOutOfBounds { len: l, remaining: 19, .. }) if l == len)
            );
        }

        // A good chunk followed by a truncated header: one Ok, then one Err, then done.
        let mut v = chunk(0, &[]);
        v.extend_from_slice(&[6, 0, 0]);
        let items: Vec<_> = ExtraChunks::new(&v).collect();
        assert_eq!(items.len(), 2);
        assert!(items[0].is_ok());
        assert_eq!(items[1], Err(ExtraError::TruncatedHeader { offset: 16 }));

        // fdt() surfaces the error instead of hiding it.
        let img = image(&[], bad);
        let bi = BootInfoView::new(&img.frame, &img.extra).unwrap();
        assert!(bi.fdt().is_err());
    }

    #[test]
    fn slot_region_helpers() {
        let r = SlotRegion { start: 5, end: 8 };
        assert_eq!(r.range(), 5..8);
        assert_eq!(
            r.cap::<crate::cap_type::Untyped>(2).map(|c| c.bits()),
            Some(7)
        );
        assert!(r.cap::<crate::cap_type::Untyped>(3).is_none());
        let rev = SlotRegion { start: 8, end: 5 };
        assert!(rev.is_empty());
        assert_eq!(rev.range().count(), 0);
    }
}
