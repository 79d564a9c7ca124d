//! Unit tests with synthetic ELFs/DTBs built by `test_util`, QEMU's own DTB
//! (ignored when QEMU was not on PATH at build time), and the real kernel
//! (ignored when `SEL4_PREFIX` is not set).

use std::path::{Path, PathBuf};

use crate::boot_header::{self, BootHeader, Fnv64, HeaderError, HEADER_SIZE};
use crate::dtb::{self, DtbError};
use crate::elf::{self, AddrSpace, ElfError, ImageRole};
use crate::test_util::{build_dtb, qemu_dtb, virt_dtb, ElfBuilder, Node};
use crate::{install, pack, plan, ConfigError, KernelInstall, PackError, PackInput, PhysAddrBits};

const LOADER_BASE: u64 = 0xB000_0000;
const KERNEL_PHYS: u64 = 0x6000_0000;
const KERNEL_VIRT: u64 = 0x80_6000_0000;
const KERNEL_MEMSZ: u64 = 0x23f000;

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) | 1)
        .collect()
}

fn loader_elf() -> Vec<u8> {
    let mut data = pattern(0x100, 1);
    let mut header = boot_header::UNPACKED_MAGIC.to_vec();
    header.resize(HEADER_SIZE, 0);
    data.extend_from_slice(&header);
    ElfBuilder::new(LOADER_BASE)
        .seg(LOADER_BASE, LOADER_BASE, data, 0x2000)
        .section(boot_header::SECTION_NAME, 0, 0x100, HEADER_SIZE as u64)
        .build()
}

fn kernel_elf() -> Vec<u8> {
    ElfBuilder::new(KERNEL_VIRT)
        .seg(KERNEL_VIRT, KERNEL_PHYS, pattern(0x3000, 2), KERNEL_MEMSZ)
        .build()
}

fn root_task_elf() -> Vec<u8> {
    ElfBuilder::new(0x40_0010)
        .seg(0x40_0000, 0x40_0000, pattern(0x1800, 3), 0x1800)
        .seg(0x40_2000, 0x40_2000, pattern(0x100, 4), 0x2000)
        .build()
}

struct Inputs {
    loader: Vec<u8>,
    kernel: Vec<u8>,
    dtb: Vec<u8>,
    root: Vec<u8>,
}

impl Inputs {
    fn new() -> Self {
        Self {
            loader: loader_elf(),
            kernel: kernel_elf(),
            dtb: virt_dtb(),
            root: root_task_elf(),
        }
    }
    fn input(&self) -> PackInput<'_> {
        PackInput {
            loader_elf: &self.loader,
            kernel_elf: &self.kernel,
            dtb: &self.dtb,
            root_task_elf: &self.root,
            pa_bits: PhysAddrBits::Bits44,
        }
    }
}

/// What QEMU would do with the output: each PT_LOAD becomes `memsz` bytes
/// at `p_paddr`, file bytes first, zeros after.
struct Memory(Vec<(u64, Vec<u8>)>);

impl Memory {
    fn load(image: &[u8]) -> Self {
        let elf = goblin::elf::Elf::parse(image).unwrap();
        let mut regions = Vec::new();
        for ph in elf
            .program_headers
            .iter()
            .filter(|p| p.p_type == goblin::elf::program_header::PT_LOAD)
        {
            let mut bytes =
                image[ph.p_offset as usize..(ph.p_offset + ph.p_filesz) as usize].to_vec();
            bytes.resize(ph.p_memsz as usize, 0);
            regions.push((ph.p_paddr, bytes));
        }
        Memory(regions)
    }
    fn read(&self, addr: u64, len: u64) -> &[u8] {
        let (base, bytes) = self
            .0
            .iter()
            .find(|(b, v)| *b <= addr && addr + len <= b + v.len() as u64)
            .unwrap_or_else(|| panic!("[{addr:#x}+{len:#x}) not loaded by one segment"));
        &bytes[(addr - base) as usize..(addr - base + len) as usize]
    }
    fn hash(&self, addr: u64, len: u64) -> u64 {
        let mut h = Fnv64::new();
        h.bytes(self.read(addr, len));
        h.finish()
    }
}

// ---- boot header ----

#[test]
fn header_round_trips_and_rejects_bad_input() {
    let h = BootHeader {
        kernel_phys_start: 1,
        kernel_phys_end: 2,
        kernel_virt_start: 3,
        kernel_entry: 4,
        dtb_phys: 5,
        dtb_size: 6,
        user_phys_start: 7,
        user_phys_end: 8,
        user_pv_offset: u64::MAX,
        user_entry: 10,
        ram_start: 11,
        ram_end: 12,
        uart_base: 13,
        tcr_el2: 14,
        kernel_hash: 15,
        dtb_hash: 16,
        user_hash: 17,
    };
    let bytes = h.to_bytes();
    assert_eq!(BootHeader::from_bytes(&bytes), Ok(h));
    assert_eq!(
        BootHeader::from_bytes(&bytes[..HEADER_SIZE - 1]),
        Err(HeaderError::TooShort)
    );
    let mut unpacked = [0u8; HEADER_SIZE];
    unpacked[..8].copy_from_slice(&boot_header::UNPACKED_MAGIC);
    assert_eq!(
        BootHeader::from_bytes(&unpacked),
        Err(HeaderError::Unpacked)
    );
    assert_eq!(
        BootHeader::from_bytes(&[0u8; HEADER_SIZE]),
        Err(HeaderError::BadMagic)
    );
    let mut v2 = bytes;
    v2[8] = 2;
    assert_eq!(BootHeader::from_bytes(&v2), Err(HeaderError::BadVersion(2)));
}

#[test]
fn fnv_padding_matches_explicit_zero_words() {
    let data = pattern(13, 9);
    let mut a = Fnv64::new();
    a.bytes(&data);
    a.zero_words(3);
    let mut padded = data.clone();
    padded.resize(16 + 24, 0);
    let mut b = Fnv64::new();
    b.bytes(&padded);
    assert_eq!(a.finish(), b.finish());
    let mut c = Fnv64::new();
    c.bytes(&pattern(13, 10));
    assert_ne!(a.finish(), c.finish());
}

// ---- ELF checks ----

fn elf_err(bytes: &[u8]) -> ElfError {
    elf::parse(bytes, AddrSpace::Physical).unwrap_err()
}

#[test]
fn elf_rejects_non_elf_and_wrong_kinds() {
    assert_eq!(elf_err(b"MZ\x90\x00 not an elf at all"), ElfError::NotElf);
    assert_eq!(elf_err(b""), ElfError::NotElf);
    let mut b = ElfBuilder::new(0).seg(0, 0, vec![1; 8], 8);
    b.class = 1;
    assert_eq!(elf_err(&b.build()), ElfError::Not64Bit);
    b.class = 2;
    b.data_enc = 2;
    assert_eq!(elf_err(&b.build()), ElfError::NotLittleEndian);
    b.data_enc = 1;
    b.machine = 62;
    assert_eq!(elf_err(&b.build()), ElfError::WrongMachine(62));
    b.machine = 183;
    b.e_type = 3;
    assert_eq!(elf_err(&b.build()), ElfError::NotExecutable(3));
    b.e_type = 2;
    assert!(elf::parse(&b.build(), AddrSpace::Physical).is_ok());
    // Truncated header: goblin's parse error, not a panic.
    assert!(matches!(elf_err(&b.build()[..40]), ElfError::Malformed(_)));
}

#[test]
fn elf_rejects_bad_segments() {
    assert_eq!(
        elf_err(&ElfBuilder::new(0).build()),
        ElfError::NoLoadSegments
    );
    // Only an empty PT_LOAD.
    assert_eq!(
        elf_err(&ElfBuilder::new(0).seg(0, 0, vec![], 0).build()),
        ElfError::NoLoadSegments
    );

    let overlapping = ElfBuilder::new(0)
        .seg(0x1000, 0x1000, vec![1; 16], 0x2000)
        .seg(0x2000, 0x2000, vec![2; 16], 16);
    assert_eq!(
        elf_err(&overlapping.build()),
        ElfError::OverlappingSegments {
            first: 0,
            second: 1
        }
    );

    let mut bytes = ElfBuilder::new(0)
        .seg(0x1000, 0x1000, vec![1; 16], 16)
        .build();
    // p_filesz (at phdr + 32) larger than p_memsz.
    bytes[64 + 32..64 + 40].copy_from_slice(&32u64.to_le_bytes());
    assert_eq!(
        elf_err(&bytes),
        ElfError::FileSizeExceedsMemSize { index: 0 }
    );
    // p_offset (at phdr + 8) beyond the file.
    let mut bytes = ElfBuilder::new(0)
        .seg(0x1000, 0x1000, vec![1; 16], 16)
        .build();
    bytes[64 + 8..64 + 16].copy_from_slice(&0xffff_ffffu64.to_le_bytes());
    assert_eq!(elf_err(&bytes), ElfError::SegmentOutsideFile { index: 0 });
    // Address wrap-around.
    let wrap = ElfBuilder::new(0).seg(u64::MAX - 4, u64::MAX - 4, vec![1; 8], 8);
    assert_eq!(
        elf_err(&wrap.build()),
        ElfError::AddressOverflow { index: 0 }
    );
}

// ---- DTB ----

#[test]
fn dtb_inspect_reads_memory_reservations_and_uart() {
    let info = dtb::inspect(&virt_dtb()).unwrap();
    assert_eq!(info.memory, vec![0x4000_0000..0xC000_0000]);
    assert_eq!(info.reserved, vec![0x4000_0000..0x6000_0000]);
    assert_eq!(info.pl011, Some(0x0900_0000));
    assert_eq!(info.usable_memory(), vec![0x6000_0000..0xC000_0000]);
}

#[test]
fn dtb_memreserve_splits_usable_memory_and_disabled_uart_is_ignored() {
    let root = Node::new("")
        .u32_prop("#address-cells", 2)
        .u32_prop("#size-cells", 2)
        .child(
            Node::new("memory@40000000")
                .str_prop("device_type", "memory")
                .reg(&[(0x4000_0000, 0x1000_0000)]),
        )
        .child(
            Node::new("pl011@9040000")
                .prop("compatible", b"arm,pl011\0".to_vec())
                .str_prop("status", "disabled")
                .reg(&[(0x0904_0000, 0x1000)]),
        );
    let info = dtb::inspect(&build_dtb(&root, &[(0x4800_0000, 0x10_0000)])).unwrap();
    assert_eq!(info.reserved, vec![0x4800_0000..0x4810_0000]);
    assert_eq!(
        info.usable_memory(),
        vec![0x4000_0000..0x4800_0000, 0x4810_0000..0x5000_0000]
    );
    assert_eq!(info.pl011, None);
}

#[test]
fn dtb_rejects_bad_headers() {
    let good = virt_dtb();
    assert_eq!(dtb::inspect(&good[..20]), Err(DtbError::TooShort(20)));
    let mut bad_magic = good.clone();
    bad_magic[0] = 0;
    assert_eq!(
        dtb::inspect(&bad_magic),
        Err(DtbError::BadMagic(0x000d_feed))
    );
    let mut bad_total = good.clone();
    bad_total[4..8].copy_from_slice(&(good.len() as u32 + 1).to_be_bytes());
    assert_eq!(
        dtb::inspect(&bad_total),
        Err(DtbError::BadTotalSize {
            total_size: good.len() as u32 + 1,
            len: good.len()
        })
    );
    let no_memory = build_dtb(
        &Node::new("")
            .u32_prop("#address-cells", 2)
            .u32_prop("#size-cells", 2),
        &[],
    );
    assert_eq!(dtb::inspect(&no_memory), Err(DtbError::NoMemory));
}

#[test]
fn dtb_corruption_gives_errors_not_panics() {
    let good = virt_dtb();
    // Every truncation that keeps totalsize consistent, and every single
    // byte corruption, must yield Ok or a typed error.
    for len in 40..good.len() {
        let mut t = good[..len].to_vec();
        t[4..8].copy_from_slice(&(len as u32).to_be_bytes());
        let _ = dtb::inspect(&t);
    }
    for i in 0..good.len() {
        for v in [0x00u8, 0xff, 0x03, 0x09] {
            let mut c = good.clone();
            c[i] = v;
            let _ = dtb::inspect(&c);
        }
    }
}

#[test]
#[cfg_attr(
    not(has_qemu_aarch64),
    ignore = "qemu-system-aarch64 not found on PATH (apt install qemu-system-arm)"
)]
fn qemu_virt_dtb_is_understood() {
    let dtb = qemu_dtb("", "2G");
    let info = dtb::inspect(&dtb).unwrap();
    assert_eq!(info.memory, vec![0x4000_0000..0xC000_0000]);
    assert_eq!(info.pl011, Some(0x0900_0000));
    assert_eq!(install::qemu_ram_bytes(&dtb).unwrap(), 2 << 30);
    let small = qemu_dtb("", "512M");
    assert_eq!(install::qemu_ram_bytes(&small).unwrap(), 512 << 20);
}

// ---- packing ----

#[test]
fn tcr_matches_sel4_expectation() {
    // T0SZ 16, WBWA walks, inner shareable, 4K, PS, RES1 23/31.
    assert_eq!(PhysAddrBits::Bits44.tcr_el2(), 0x8084_3510);
    assert_eq!(PhysAddrBits::Bits40.tcr_el2(), 0x8082_3510);
}

#[test]
fn plan_places_dtb_and_root_task_after_kernel() {
    let inputs = Inputs::new();
    let layout = plan(&inputs.input()).unwrap();
    let h = layout.header;
    assert_eq!(layout.loader, LOADER_BASE..LOADER_BASE + 0x2000);
    assert_eq!(layout.kernel(), KERNEL_PHYS..KERNEL_PHYS + KERNEL_MEMSZ);
    assert_eq!(h.kernel_virt_start, KERNEL_VIRT);
    assert_eq!(h.kernel_entry, KERNEL_VIRT);
    assert_eq!(h.dtb_phys, KERNEL_PHYS + KERNEL_MEMSZ);
    assert_eq!(h.dtb_size, inputs.dtb.len() as u64);
    let user_start = (h.dtb_phys + h.dtb_size + 0xfff) & !0xfff;
    assert_eq!(layout.user(), user_start..user_start + 0x4000);
    assert_eq!(layout.user_virt(), 0x40_0000..0x40_4000);
    assert_eq!(h.user_pv_offset, user_start - 0x40_0000);
    assert_eq!(h.user_entry, 0x40_0010);
    assert_eq!((h.ram_start, h.ram_end), (0x4000_0000, 0xC000_0000));
    assert_eq!(h.uart_base, 0x0900_0000);
    assert_eq!(h.tcr_el2, 0x8084_3510);
}

#[test]
fn packed_image_loads_payload_where_the_header_says() {
    let inputs = Inputs::new();
    let layout = plan(&inputs.input()).unwrap();
    let image = pack(&inputs.input()).unwrap();

    let out = goblin::elf::Elf::parse(&image).unwrap();
    assert_eq!(out.header.e_entry, LOADER_BASE);
    assert_eq!(out.header.e_machine, goblin::elf::header::EM_AARCH64);

    let mem = Memory::load(&image);
    // The header inside the loader is the planned one.
    let header = BootHeader::from_bytes(mem.read(LOADER_BASE + 0x100, HEADER_SIZE as u64)).unwrap();
    assert_eq!(header, layout.header);
    // Loader code is untouched.
    assert_eq!(mem.read(LOADER_BASE, 0x100), &pattern(0x100, 1)[..]);
    // Kernel bytes at p_paddr, bss zero, and the hash the loader checks.
    assert_eq!(mem.read(KERNEL_PHYS, 0x3000), &pattern(0x3000, 2)[..]);
    assert!(mem
        .read(KERNEL_PHYS + 0x3000, KERNEL_MEMSZ - 0x3000)
        .iter()
        .all(|&b| b == 0));
    assert_eq!(mem.hash(KERNEL_PHYS, KERNEL_MEMSZ), header.kernel_hash);
    // DTB verbatim.
    assert_eq!(mem.read(header.dtb_phys, header.dtb_size), &inputs.dtb[..]);
    assert_eq!(mem.hash(header.dtb_phys, header.dtb_size), header.dtb_hash);
    // Root task: virtual layout preserved relative to user_phys_start.
    let ustart = header.user_phys_start;
    assert_eq!(mem.read(ustart, 0x1800), &pattern(0x1800, 3)[..]);
    assert_eq!(mem.read(ustart + 0x2000, 0x100), &pattern(0x100, 4)[..]);
    assert!(mem.read(ustart + 0x2100, 0x1f00).iter().all(|&b| b == 0));
    assert_eq!(
        mem.hash(ustart, header.user_phys_end - ustart),
        header.user_hash
    );
}

#[test]
fn pack_rejects_payload_outside_usable_ram() {
    let mut inputs = Inputs::new();
    // A kernel in the DTB's reserved vm-memory region.
    inputs.kernel = ElfBuilder::new(0x80_4000_0000)
        .seg(0x80_4000_0000, 0x4000_0000, vec![1; 64], 0x1000)
        .build();
    assert_eq!(
        plan(&inputs.input()),
        Err(PackError::NotInUsableRam {
            what: "kernel image",
            range: 0x4000_0000..0x4000_1000
        })
    );
}

#[test]
fn pack_rejects_root_task_reaching_the_loader() {
    let mut inputs = Inputs::new();
    // ~1.3 GiB of bss runs from after the kernel into the loader.
    inputs.root = ElfBuilder::new(0x40_0000)
        .seg(0x40_0000, 0x40_0000, vec![1; 16], 0x5000_0000)
        .build();
    assert_eq!(
        plan(&inputs.input()),
        Err(PackError::Overlap {
            first: "loader",
            second: "root-task image"
        })
    );
    // Sparse segments 500 GiB apart: rejected before any buffer is sized.
    inputs.root = ElfBuilder::new(0x40_0000)
        .seg(0x40_0000, 0x40_0000, vec![1; 16], 16)
        .seg(0x7f_0000_0000, 0x7f_0000_0000, vec![2; 16], 16)
        .build();
    assert!(matches!(
        plan(&inputs.input()),
        Err(PackError::NotInUsableRam {
            what: "root-task image",
            ..
        })
    ));
    // Even larger: beyond RAM altogether.
    inputs.root = ElfBuilder::new(0x40_0000)
        .seg(0x40_0000, 0x40_0000, vec![1; 16], 0x8000_0000)
        .build();
    assert!(matches!(
        plan(&inputs.input()),
        Err(PackError::NotInUsableRam {
            what: "root-task image",
            ..
        })
    ));
}

#[test]
fn pack_rejects_bad_loader() {
    let mut inputs = Inputs::new();
    inputs.loader = ElfBuilder::new(LOADER_BASE)
        .seg(LOADER_BASE, LOADER_BASE, vec![1; 64], 64)
        .build();
    assert_eq!(plan(&inputs.input()), Err(PackError::LoaderHeaderMissing));

    // An already packed loader: the section no longer holds the marker.
    let mut inputs = Inputs::new();
    let off = inputs
        .loader
        .windows(8)
        .position(|w| w == boot_header::UNPACKED_MAGIC)
        .unwrap();
    inputs.loader[off..off + 8].copy_from_slice(&boot_header::MAGIC);
    assert!(matches!(
        plan(&inputs.input()),
        Err(PackError::LoaderHeaderInvalid(_))
    ));

    // Section too small.
    let mut inputs = Inputs::new();
    inputs.loader = ElfBuilder::new(LOADER_BASE)
        .seg(LOADER_BASE, LOADER_BASE, vec![1; 512], 512)
        .section(boot_header::SECTION_NAME, 0, 0, 16)
        .build();
    assert!(matches!(
        plan(&inputs.input()),
        Err(PackError::LoaderHeaderInvalid(_))
    ));

    // Loader not ELF at all: the role is named.
    let mut inputs = Inputs::new();
    inputs.loader = b"garbage".to_vec();
    assert_eq!(
        plan(&inputs.input()),
        Err(PackError::Elf {
            role: ImageRole::Loader,
            error: ElfError::NotElf
        })
    );
}

#[test]
fn pack_rejects_bad_kernel_and_root_task() {
    let mut inputs = Inputs::new();
    inputs.kernel = ElfBuilder::new(KERNEL_VIRT)
        .seg(KERNEL_VIRT, KERNEL_PHYS, vec![1; 64], 0x1000)
        .seg(
            KERNEL_VIRT + 0x2000,
            KERNEL_PHYS + 0x3000,
            vec![1; 64],
            0x1000,
        )
        .build();
    assert_eq!(plan(&inputs.input()), Err(PackError::KernelOffsetMismatch));

    inputs.kernel = ElfBuilder::new(KERNEL_VIRT + 0x1000)
        .seg(KERNEL_VIRT + 0x1000, KERNEL_PHYS, vec![1; 64], 0x1000)
        .build();
    assert_eq!(
        plan(&inputs.input()),
        Err(PackError::KernelOffsetMisaligned(
            KERNEL_VIRT + 0x1000 - KERNEL_PHYS
        ))
    );

    inputs.kernel = ElfBuilder::new(0x1234)
        .seg(KERNEL_VIRT, KERNEL_PHYS, vec![1; 64], 0x1000)
        .build();
    assert_eq!(
        plan(&inputs.input()),
        Err(PackError::EntryOutsideImage {
            role: ImageRole::Kernel,
            entry: 0x1234
        })
    );

    // A kernel linked for the non-hyp window (top of the 64-bit space).
    inputs.kernel = ElfBuilder::new(0xffff_ff80_6000_0000)
        .seg(0xffff_ff80_6000_0000, KERNEL_PHYS, vec![1; 64], 0x1000)
        .build();
    assert!(matches!(
        plan(&inputs.input()),
        Err(PackError::VirtualRangeTooHigh { .. })
    ));

    let mut inputs = Inputs::new();
    inputs.root = ElfBuilder::new(0x10)
        .seg(0x40_0000, 0x40_0000, vec![1; 64], 64)
        .build();
    assert_eq!(
        plan(&inputs.input()),
        Err(PackError::EntryOutsideImage {
            role: ImageRole::RootTask,
            entry: 0x10
        })
    );
    let mut inputs = Inputs::new();
    inputs.root = {
        let mut b = ElfBuilder::new(0x40_0000).seg(0x40_0000, 0x40_0000, vec![1; 64], 64);
        b.machine = 62;
        b.build()
    };
    assert_eq!(
        plan(&inputs.input()),
        Err(PackError::Elf {
            role: ImageRole::RootTask,
            error: ElfError::WrongMachine(62)
        })
    );
}

#[test]
fn pack_rejects_bad_dtb_and_missing_uart() {
    let mut inputs = Inputs::new();
    inputs.dtb[0] ^= 0xff;
    assert!(matches!(
        plan(&inputs.input()),
        Err(PackError::Dtb(DtbError::BadMagic(_)))
    ));

    let mut inputs = Inputs::new();
    let root = Node::new("")
        .u32_prop("#address-cells", 2)
        .u32_prop("#size-cells", 2)
        .child(
            Node::new("memory@40000000")
                .str_prop("device_type", "memory")
                .reg(&[(0x4000_0000, 0x8000_0000)]),
        );
    inputs.dtb = build_dtb(&root, &[]);
    assert_eq!(plan(&inputs.input()), Err(PackError::NoUart));
}

#[test]
fn pack_error_messages_name_the_problem() {
    let e = PackError::Elf {
        role: ImageRole::Kernel,
        error: ElfError::WrongMachine(62),
    };
    assert_eq!(
        e.to_string(),
        "kernel ELF: e_machine is 62, expected 183 (AArch64)"
    );
    let e = PackError::NotInUsableRam {
        what: "DTB",
        range: 0x10..0x20,
    };
    assert_eq!(
        e.to_string(),
        "DTB [0x10..0x20) is not inside usable RAM from the DTB"
    );
}

// ---- kernel install ----

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let p = std::env::temp_dir().join(format!("sel4vm-image-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn supported_config() -> serde_json::Value {
    serde_json::json!({
        "PLAT": "qemu-arm-virt",
        "SEL4_ARCH": "aarch64",
        "ARM_HYPERVISOR_SUPPORT": true,
        "KERNEL_MCS": false,
        "MAX_NUM_NODES": "1",
        "PRINTING": true,
        "DEBUG_BUILD": true,
        "EXPORT_PTMR_USER": true,
        "VTIMER_UPDATE_VOFFSET": false,
        "TIME_SLICE": "1",
        "ARM_CORTEX_A53": false,
        "ARM_CORTEX_A57": true,
        "ARM_GIC_V3_SUPPORT": false,
        "ARM_PA_SIZE_BITS_40": false,
        "ARM_PA_SIZE_BITS_44": true
    })
}

fn write_install(dir: &Path, config: &serde_json::Value) {
    std::fs::create_dir_all(dir.join("bin")).unwrap();
    std::fs::create_dir_all(dir.join("support")).unwrap();
    std::fs::create_dir_all(dir.join("libsel4/include/kernel")).unwrap();
    std::fs::write(dir.join("bin/kernel.elf"), kernel_elf()).unwrap();
    std::fs::write(dir.join("support/kernel.dtb"), virt_dtb()).unwrap();
    std::fs::write(
        dir.join("libsel4/include/kernel/gen_config.json"),
        config.to_string(),
    )
    .unwrap();
}

#[test]
fn install_opens_supported_config_and_derives_qemu_args() {
    let tmp = TempDir::new("ok");
    write_install(&tmp.0, &supported_config());
    let install = KernelInstall::open(&tmp.0).unwrap();
    assert_eq!(install.config().cpu, "cortex-a57");
    assert_eq!(install.config().pa_bits, PhysAddrBits::Bits44);
    assert_eq!(install.ram_bytes(), 2 << 30);
    assert_eq!(
        install.qemu_args(),
        [
            "-machine",
            "virt,virtualization=on",
            "-cpu",
            "cortex-a57",
            "-m",
            "2048M"
        ]
    );
    assert!(install.pack(&loader_elf(), &root_task_elf()).is_ok());

    let mut v3 = supported_config();
    v3["ARM_GIC_V3_SUPPORT"] = true.into();
    v3["ARM_PA_SIZE_BITS_40"] = true.into();
    write_install(&tmp.0, &v3);
    let install = KernelInstall::open(&tmp.0).unwrap();
    assert_eq!(
        install.qemu_args()[1],
        "virt,virtualization=on,gic-version=3"
    );
    assert_eq!(install.config().pa_bits, PhysAddrBits::Bits40);
}

#[test]
fn install_rejects_each_unsupported_option() {
    let tmp = TempDir::new("unsupported");
    let cases: [(&str, serde_json::Value, &str, &str, &str); 10] = [
        (
            "PLAT",
            "qemu-riscv-virt".into(),
            "KernelPlatform",
            "qemu-riscv-virt",
            "qemu-arm-virt",
        ),
        (
            "SEL4_ARCH",
            "aarch32".into(),
            "KernelSel4Arch",
            "aarch32",
            "aarch64",
        ),
        (
            "ARM_HYPERVISOR_SUPPORT",
            false.into(),
            "KernelArmHypervisorSupport",
            "OFF",
            "ON",
        ),
        ("KERNEL_MCS", true.into(), "KernelIsMCS", "ON", "OFF"),
        ("MAX_NUM_NODES", "4".into(), "KernelMaxNumNodes", "4", "1"),
        ("PRINTING", false.into(), "KernelPrinting", "OFF", "ON"),
        ("DEBUG_BUILD", false.into(), "KernelDebugBuild", "OFF", "ON"),
        (
            "EXPORT_PTMR_USER",
            false.into(),
            "KernelArmExportPTMRUser",
            "OFF",
            "ON",
        ),
        ("TIME_SLICE", "5".into(), "KernelTimeSlice", "5", "1"),
        (
            "VTIMER_UPDATE_VOFFSET",
            true.into(),
            "KernelArmVtimerUpdateVOffset",
            "ON",
            "OFF",
        ),
    ];
    for (key, value, option, found, supported) in cases {
        let mut config = supported_config();
        config[key] = value;
        write_install(&tmp.0, &config);
        let err = KernelInstall::open(&tmp.0).unwrap_err();
        match &err {
            ConfigError::Unsupported {
                option: o,
                found: f,
                supported: s,
                fix,
            } => {
                assert_eq!((*o, f.as_str(), s.as_str()), (option, found, supported));
                assert_eq!(*fix, format!("-D{option}={supported}"));
            }
            other => panic!("{key}: unexpected {other:?}"),
        }
        let text = err.to_string();
        assert!(
            text.contains(option) && text.contains(found) && text.contains(supported),
            "{text}"
        );
    }
}

/// `-DKernelDebugBuild=ON` without `-DKernelVerificationBuild=OFF` installs a
/// verification build with debug and printing silently off; the error names
/// the cause and its fix, not the option the user already passed.
#[test]
fn a_verification_build_is_named_as_the_cause_with_its_fix() {
    let tmp = TempDir::new("verification");
    let mut config = supported_config();
    config["VERIFICATION_BUILD"] = true.into();
    config["DEBUG_BUILD"] = false.into();
    config["PRINTING"] = false.into();
    write_install(&tmp.0, &config);
    let e = KernelInstall::open(&tmp.0).unwrap_err().to_string();
    assert!(
        e.starts_with(
            "kernel option KernelVerificationBuild is ON, but sel4vm-rs supports only OFF; \
             reconfigure the kernel with -DKernelVerificationBuild=OFF (KernelVerificationBuild=ON, \
             the kernel's default, turns KernelDebugBuild and KernelPrinting OFF"
        ),
        "{e}"
    );
}

#[test]
fn install_reports_missing_and_malformed_files() {
    let tmp = TempDir::new("missing");
    assert!(matches!(
        KernelInstall::open(&tmp.0),
        Err(ConfigError::Io { .. })
    ));

    let mut config = supported_config();
    config.as_object_mut().unwrap().remove("KERNEL_MCS");
    write_install(&tmp.0, &config);
    let err = KernelInstall::open(&tmp.0).unwrap_err();
    assert!(matches!(
        err,
        ConfigError::MissingOption {
            option: "KernelIsMCS",
            key: "KERNEL_MCS"
        }
    ));

    write_install(&tmp.0, &supported_config());
    std::fs::write(
        tmp.0.join("libsel4/include/kernel/gen_config.json"),
        "{ not json",
    )
    .unwrap();
    assert!(matches!(
        KernelInstall::open(&tmp.0),
        Err(ConfigError::Json { .. })
    ));

    write_install(&tmp.0, &supported_config());
    std::fs::remove_file(tmp.0.join("bin/kernel.elf")).unwrap();
    match KernelInstall::open(&tmp.0) {
        Err(ConfigError::Io { path, .. }) => assert!(path.ends_with("bin/kernel.elf")),
        other => panic!("unexpected {other:?}"),
    }

    // RAM that QEMU virt cannot express with -m.
    write_install(&tmp.0, &supported_config());
    let root = Node::new("")
        .u32_prop("#address-cells", 2)
        .u32_prop("#size-cells", 2)
        .child(
            Node::new("memory@80000000")
                .str_prop("device_type", "memory")
                .reg(&[(0x8000_0000, 0x1000_0000)]),
        );
    std::fs::write(tmp.0.join("support/kernel.dtb"), build_dtb(&root, &[])).unwrap();
    assert!(matches!(
        KernelInstall::open(&tmp.0),
        Err(ConfigError::UnsupportedMemory(_))
    ));
}

// ---- the real kernel, when installed ----

#[test]
#[cfg_attr(not(sel4_prefix), ignore = "needs SEL4_PREFIX")]
fn real_install_when_sel4_prefix_is_set() {
    let prefix = std::env::var_os("SEL4_PREFIX")
        .filter(|p| !p.is_empty())
        .expect("SEL4_PREFIX is not set: this test needs an installed seL4 kernel");
    let install = KernelInstall::open(Path::new(&prefix)).unwrap();
    let cfg = install.config();
    assert_eq!(
        (cfg.platform.as_str(), cfg.sel4_arch.as_str()),
        ("qemu-arm-virt", "aarch64")
    );
    assert_eq!(cfg.cpu, "cortex-a57");
    let args = install.qemu_args();
    assert_eq!(args[0], "-machine");
    assert!(args[1].starts_with("virt,virtualization=on"));
    assert_eq!(args[1].ends_with("gic-version=3"), cfg.gic_v3);

    // Plan a real kernel with synthetic loader/root task.
    let loader = loader_elf();
    let root = root_task_elf();
    let layout = plan(&install.pack_input(&loader, &root)).unwrap();
    let h = layout.header;
    let kernel = goblin::elf::Elf::parse(install.kernel_elf()).unwrap();
    assert_eq!(h.kernel_entry, kernel.header.e_entry);
    assert!(h.kernel_phys_end <= h.dtb_phys && h.dtb_phys + h.dtb_size <= h.user_phys_start);
    assert_eq!(h.dtb_phys % 4096, 0);
    assert_eq!(h.user_phys_start % 4096, 0);
    assert!(layout
        .usable_ram
        .iter()
        .any(|r| r.start <= h.kernel_phys_start && h.user_phys_end <= r.end));
}

/// A root task whose read-write segment is all bss (filesz 0) after its text:
/// the shape `hello` has. Packing must not index past the copied file bytes.
#[test]
fn root_task_with_pure_bss_segment_packs_and_loads_zeroed() {
    let mut inputs = Inputs::new();
    inputs.root = ElfBuilder::new(0x40_0010)
        .seg(0x40_0000, 0x40_0000, pattern(0x1800, 3), 0x1800)
        .seg(0x40_2000, 0x40_2000, Vec::new(), 0x21_1040)
        .build();
    let layout = plan(&inputs.input()).expect("plan");
    let image = pack(&inputs.input()).expect("pack");
    let mem = Memory::load(&image);
    let user = layout.user();
    assert_eq!(mem.read(user.start, 0x1800), &pattern(0x1800, 3)[..]);
    let bss = mem.read(user.start + 0x2000, 0x21_1040);
    assert!(bss.iter().all(|&b| b == 0));
}
