//! The boot header: the contract between the host packer (`sel4vm-image`) and
//! the loader.
//!
//! The loader reserves [`HEADER_SIZE`] bytes in a section named
//! [`SECTION_NAME`], pre-filled with [`UNPACKED_MAGIC`]. The packer overwrites
//! them with a [`BootHeader`] describing where QEMU will have placed the
//! kernel, the DTB and the root-task image, plus the register values the
//! kernel expects. This file is compiled into both crates (the image crate
//! includes it by path) so the two sides cannot disagree on the layout.
//!
//! No libsel4vm/libvmm counterpart: this replaces the CPIO archive that seL4's
//! C elfloader embeds.

/// Marks a header written by the packer.
pub const MAGIC: [u8; 8] = *b"S4VMBOOT";
/// What the loader's header section holds before packing.
pub const UNPACKED_MAGIC: [u8; 8] = *b"UNPACKED";
/// Layout version; bump on any change to [`BootHeader`].
pub const VERSION: u64 = 1;
/// Name of the loader section that holds the header.
pub const SECTION_NAME: &str = ".sel4vm_boot_header";
/// Bytes reserved for the header in the loader (room to grow).
pub const HEADER_SIZE: usize = 256;

/// Everything the loader needs to enter seL4. All addresses are physical
/// unless named `virt`/`entry`. Serialised as little-endian `u64` words in
/// field order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BootHeader {
    /// First byte of the kernel image region (lowest `p_paddr`).
    pub kernel_phys_start: u64,
    /// End (exclusive, page-aligned) of the kernel image incl. bss.
    pub kernel_phys_end: u64,
    /// Kernel virtual address that maps to `kernel_phys_start`.
    pub kernel_virt_start: u64,
    /// Kernel entry point (virtual).
    pub kernel_entry: u64,
    /// DTB physical address (page-aligned, after the kernel).
    pub dtb_phys: u64,
    /// DTB size in bytes (its `totalsize`).
    pub dtb_size: u64,
    /// Root-task image physical start (page-aligned, after the DTB).
    pub user_phys_start: u64,
    /// Root-task image physical end (exclusive, page-aligned).
    pub user_phys_end: u64,
    /// `user_phys_start - user_virt_start`, two's complement.
    pub user_pv_offset: u64,
    /// Root-task entry point (virtual).
    pub user_entry: u64,
    /// RAM (from the DTB memory node) that the loader identity-maps.
    pub ram_start: u64,
    /// End (exclusive) of that RAM range.
    pub ram_end: u64,
    /// PL011 UART base for progress messages.
    pub uart_base: u64,
    /// Value for TCR_EL2; seL4 checks it for an exact match.
    pub tcr_el2: u64,
    /// [`Fnv64`] of the kernel region `[kernel_phys_start, kernel_phys_end)`.
    pub kernel_hash: u64,
    /// [`Fnv64`] of the DTB bytes, zero-padded to a multiple of 8.
    pub dtb_hash: u64,
    /// [`Fnv64`] of the root-task region.
    pub user_hash: u64,
}

const WORDS: usize = 17;
// magic + version + fields must fit the reserved space.
const _: () = assert!(16 + WORDS * 8 <= HEADER_SIZE);

/// Why a header could not be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderError {
    /// Fewer than [`HEADER_SIZE`] bytes.
    TooShort,
    /// The loader was never packed (still [`UNPACKED_MAGIC`]).
    Unpacked,
    /// Neither magic value.
    BadMagic,
    /// Written by a packer with a different layout version.
    BadVersion(u64),
}

impl BootHeader {
    fn words(self) -> [u64; WORDS] {
        [
            self.kernel_phys_start,
            self.kernel_phys_end,
            self.kernel_virt_start,
            self.kernel_entry,
            self.dtb_phys,
            self.dtb_size,
            self.user_phys_start,
            self.user_phys_end,
            self.user_pv_offset,
            self.user_entry,
            self.ram_start,
            self.ram_end,
            self.uart_base,
            self.tcr_el2,
            self.kernel_hash,
            self.dtb_hash,
            self.user_hash,
        ]
    }

    /// Serialises the header into the reserved section layout.
    pub fn to_bytes(self) -> [u8; HEADER_SIZE] {
        let mut out = [0u8; HEADER_SIZE];
        out[..8].copy_from_slice(&MAGIC);
        out[8..16].copy_from_slice(&VERSION.to_le_bytes());
        for (i, w) in self.words().iter().enumerate() {
            out[16 + i * 8..24 + i * 8].copy_from_slice(&w.to_le_bytes());
        }
        out
    }

    /// Decodes a header written by [`BootHeader::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, HeaderError> {
        if bytes.len() < HEADER_SIZE {
            return Err(HeaderError::TooShort);
        }
        let word = |off: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&bytes[off..off + 8]);
            u64::from_le_bytes(b)
        };
        if bytes[..8] == UNPACKED_MAGIC {
            return Err(HeaderError::Unpacked);
        }
        if bytes[..8] != MAGIC {
            return Err(HeaderError::BadMagic);
        }
        let version = word(8);
        if version != VERSION {
            return Err(HeaderError::BadVersion(version));
        }
        let mut w = [0u64; WORDS];
        for (i, slot) in w.iter_mut().enumerate() {
            *slot = word(16 + i * 8);
        }
        Ok(Self {
            kernel_phys_start: w[0],
            kernel_phys_end: w[1],
            kernel_virt_start: w[2],
            kernel_entry: w[3],
            dtb_phys: w[4],
            dtb_size: w[5],
            user_phys_start: w[6],
            user_phys_end: w[7],
            user_pv_offset: w[8],
            user_entry: w[9],
            ram_start: w[10],
            ram_end: w[11],
            uart_base: w[12],
            tcr_el2: w[13],
            kernel_hash: w[14],
            dtb_hash: w[15],
            user_hash: w[16],
        })
    }
}

/// FNV-1a over little-endian 64-bit words (one multiply per word keeps the
/// loader's check fast with caches off). Lets the loader confirm QEMU put
/// every payload byte where the packer intended.
#[derive(Clone, Copy, Debug)]
pub struct Fnv64(u64);

impl Default for Fnv64 {
    fn default() -> Self {
        Self::new()
    }
}

impl Fnv64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;

    /// A fresh hash state.
    pub const fn new() -> Self {
        Self(Self::OFFSET)
    }

    /// Mixes in one word.
    #[inline]
    pub fn word(&mut self, w: u64) {
        self.0 = (self.0 ^ w).wrapping_mul(Self::PRIME);
    }

    /// Mixes in bytes, zero-padding the last partial word.
    pub fn bytes(&mut self, data: &[u8]) {
        let mut chunks = data.chunks_exact(8);
        for c in &mut chunks {
            let mut b = [0u8; 8];
            b.copy_from_slice(c);
            self.word(u64::from_le_bytes(b));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut b = [0u8; 8];
            b[..rest.len()].copy_from_slice(rest);
            self.word(u64::from_le_bytes(b));
        }
    }

    /// Mixes in `count` zero words (cheaper than materialising the bytes).
    pub fn zero_words(&mut self, count: u64) {
        for _ in 0..count {
            self.word(0);
        }
    }

    /// The hash value.
    pub fn finish(&self) -> u64 {
        self.0
    }
}
