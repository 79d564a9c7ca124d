//! `linux_setup_images`: placement, in-place validation and every refusal,
//! each refusal checked to leave guest RAM untouched.

mod common;
use common::*;

use libvmm_compat::{
    linux_setup_images, Blob, ImageSrc, KernelFormat, KernelInfo, LinuxImages, SetupError,
};

const KBASE: u64 = RAM + 2 * MIB;
const DTB_AT: u64 = RAM + 8 * MIB;
const INITRD_AT: u64 = RAM + 10 * MIB;

fn initrd() -> Vec<u8> {
    let mut v: Vec<u8> = (0..100_000).map(|i| (i % 253) as u8).collect();
    v[..6].copy_from_slice(b"070701");
    v
}

fn imgs<'a>(k: &'a [u8], d: &'a [u8], i: &'a [u8]) -> LinuxImages<'a> {
    LinuxImages {
        ram_start: KBASE,
        kernel: ImageSrc::Bytes(k),
        dtb: ImageSrc::Bytes(d),
        dtb_dest: DTB_AT,
        initrd: ImageSrc::Bytes(i),
        initrd_dest: INITRD_AT,
    }
}

/// Runs a call expected to fail and checks guest RAM did not change.
fn refused(vm: &mut sel4vm::Vm<sel4vm_host::HostBackend>, i: &LinuxImages<'_>) -> SetupError {
    let before = ram_hash(vm);
    let e = linux_setup_images(vm, i).expect_err("must be refused");
    assert_eq!(
        ram_hash(vm),
        before,
        "refused call {e:?} wrote to guest RAM"
    );
    e
}

#[test]
fn image_placed_at_ram_start_plus_text_offset() {
    let mut vm = vm(1);
    let k = image(0x8_0000, 3 * MIB, FLAGS, 1_000_000);
    let i = initrd();
    let d = dtb(Some((INITRD_AT, INITRD_AT + i.len() as u64)));
    let p = linux_setup_images(&mut vm, &imgs(&k, &d, &i)).unwrap();
    assert_eq!(p.entry, KBASE + 0x8_0000);
    assert_eq!(p.kernel, (KBASE + 0x8_0000, KBASE + 0x8_0000 + 3 * MIB));
    assert_eq!(p.dtb, (DTB_AT, DTB_AT + d.len() as u64));
    assert_eq!(p.initrd, Some((INITRD_AT, INITRD_AT + i.len() as u64)));
    assert_eq!(p.bytes_copied, (k.len() + d.len() + i.len()) as u64);
    assert_eq!(read(&mut vm, p.entry, k.len()), k);
    assert_eq!(read(&mut vm, DTB_AT, d.len()), d);
    assert_eq!(read(&mut vm, INITRD_AT, i.len()), i);
    // Bytes around the kernel are untouched (no BSS zeroing for Image).
    assert_eq!(read(&mut vm, p.entry - 1, 1), [0xAA]);
    assert_eq!(read(&mut vm, p.entry + k.len() as u64, 1), [0xAA]);
}

#[test]
fn no_initrd_is_allowed() {
    let mut vm = vm(1);
    let k = image(0, MIB, FLAGS, 4096);
    let d = dtb(None);
    let p = linux_setup_images(&mut vm, &imgs(&k, &d, &[])).unwrap();
    assert_eq!(p.initrd, None);
}

/// The guest kernel `cargo xtask guest` prepares: `<target dir>/guest/Image`,
/// the target dir being the one this test binary was built in
/// (`<target dir>[/<triple>]/<profile>/deps/<test>`).
fn guest_image() -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    let mut dirs = exe.ancestors().skip(3).take(2);
    let target = dirs.next().unwrap();
    std::iter::once(target)
        .chain(dirs)
        .map(|d| d.join("guest/Image"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "no guest kernel at {}: run `cargo xtask guest` (`cargo xtask test` does)",
                target.join("guest/Image").display()
            )
        })
}

/// Debian's arm64 kernel, as `cargo xtask guest` prepares it (the other
/// tests use synthetic headers).
#[test]
fn the_real_debian_kernel_validates() {
    let k = std::fs::read(guest_image()).unwrap();
    let info = KernelInfo::parse(&k[..4096], k.len() as u64).unwrap();
    assert_eq!(info.format, KernelFormat::Image);
    assert!(info.place_anywhere);
    assert!(info.image_size >= k.len() as u64 - 4096);
    // Cut inside the PE sections (EFI-signed kernels carry a signature
    // after them, so cut 64 KiB): detected as truncation.
    let cut = k.len() as u64 - 0x10000;
    let short = KernelInfo::parse(&k[..4096], cut).unwrap_err();
    assert!(
        matches!(short, SetupError::Truncated { blob: Blob::Kernel, need, have } if have == cut && need > cut)
    );
    let e = KernelInfo::parse(&k[..4096], 0x100_0000).unwrap_err();
    assert!(
        matches!(
            e,
            SetupError::Truncated {
                blob: Blob::Kernel,
                have: 0x100_0000,
                ..
            }
        ),
        "{e:?}"
    );
}

#[test]
fn kernel_header_errors() {
    let mut vm = vm(1);
    let d = dtb(None);
    let cases: Vec<(Vec<u8>, SetupError)> = vec![
        (vec![0x55; 4096], SetupError::NotLinux),
        (
            image(0, MIB, FLAGS, 4096)[..40].to_vec(),
            SetupError::Truncated {
                blob: Blob::Kernel,
                need: 64,
                have: 40,
            },
        ),
        (image(0, 0, FLAGS, 4096), SetupError::NoImageSize),
        // An image_size that overflows (or leaves the 48-bit space) once
        // text_offset is added (image_dtb long-run finding).
        (
            image(4096, u64::MAX - 0xef, FLAGS, 4096),
            SetupError::MalformedKernel("image_size does not fit the address space"),
        ),
        (
            image(0, (1 << 48) + 1, FLAGS, 4096),
            SetupError::MalformedKernel("image_size does not fit the address space"),
        ),
        (image(0, MIB, FLAGS | 1, 4096), SetupError::BigEndianKernel),
        (image(0, MIB, 0b1100, 4096), SetupError::UnsupportedPageSize),
        (
            image(0x123, MIB, FLAGS, 4096),
            SetupError::BadTextOffset(0x123),
        ),
        (
            image(2 * MIB, MIB, FLAGS, 4096),
            SetupError::BadTextOffset(2 * MIB),
        ),
        (
            pe_image(0x3000, 0x4000),
            SetupError::Truncated {
                blob: Blob::Kernel,
                need: 0x4000,
                have: 0x3000,
            },
        ),
    ];
    for (k, want) in cases {
        assert_eq!(refused(&mut vm, &imgs(&k, &d, &[])), want);
    }
    // A complete PE image passes.
    let k = pe_image(0x4000, 0x4000);
    linux_setup_images(&mut vm, &imgs(&k, &d, &[])).unwrap();
}

#[test]
fn placement_rules() {
    let mut vm = vm(1);
    let k = image(0, MIB, FLAGS, 4096);
    let d = dtb(None);
    let mut i = imgs(&k, &d, &[]);
    i.ram_start = KBASE + 4096;
    assert_eq!(
        refused(&mut vm, &i),
        SetupError::KernelNotAligned(KBASE + 4096)
    );
    // Flags bit 3 clear: the kernel must be at the bottom of RAM.
    let low = image(0, MIB, 0b0010, 4096);
    let i = imgs(&low, &d, &[]);
    assert_eq!(refused(&mut vm, &i), SetupError::KernelNotAtRamStart(KBASE));
    let i = LinuxImages {
        ram_start: RAM,
        ..imgs(&low, &d, &[])
    };
    assert_eq!(linux_setup_images(&mut vm, &i).unwrap().entry, RAM);
}

#[test]
fn dtb_errors() {
    let mut vm = vm(1);
    let k = image(0, MIB, FLAGS, 4096);
    let good = dtb(None);
    let mut bad_magic = good.clone();
    bad_magic[0] = 0;
    assert_eq!(
        refused(&mut vm, &imgs(&k, &bad_magic, &[])),
        SetupError::BadDtb("bad magic")
    );
    // totalsize larger than the bytes given.
    let short = &good[..good.len() - 8];
    assert_eq!(
        refused(&mut vm, &imgs(&k, short, &[])),
        SetupError::DtbTooLarge {
            total_size: good.len() as u64,
            given: short.len() as u64
        }
    );
    let mut old = good.clone();
    old[20..24].copy_from_slice(&15u32.to_be_bytes());
    assert_eq!(
        refused(&mut vm, &imgs(&k, &old, &[])),
        SetupError::BadDtb("unsupported version")
    );
    let mut outside = good.clone();
    outside[8..12].copy_from_slice(&(good.len() as u32).to_be_bytes()); // off_dt_struct past the end
    assert_eq!(
        refused(&mut vm, &imgs(&k, &outside, &[])),
        SetupError::BadDtb("block outside totalsize")
    );
    assert!(matches!(
        refused(&mut vm, &imgs(&k, &good[..20], &[])),
        SetupError::Truncated {
            blob: Blob::Dtb,
            ..
        }
    ));
    let mut unaligned = imgs(&k, &good, &[]);
    unaligned.dtb_dest += 4;
    assert_eq!(
        refused(&mut vm, &unaligned),
        SetupError::DtbNotAligned(DTB_AT + 4)
    );
    // A DTB given more room than it needs: only totalsize is copied.
    let mut roomy = good.clone();
    roomy.resize(good.len() + 4096, 0xEE);
    let p = linux_setup_images(&mut vm, &imgs(&k, &roomy, &[])).unwrap();
    assert_eq!(p.dtb.1 - p.dtb.0, good.len() as u64);
    assert_eq!(read(&mut vm, p.dtb.1, 1), [0xAA]);
}

/// Fuzz finding (`fuzz/corpus/image_dtb/crash-dtb-property-length`): a
/// property whose length runs past the structure block made the `fdt`
/// crate panic inside `DtbInfo::check`; now the structural walk refuses it.
#[test]
fn dtb_with_a_property_past_the_structure_block_is_refused() {
    let mut vm = vm(1);
    let k = image(0, MIB, FLAGS, 4096);
    let good = dtb(None);
    // The `bootargs` value ("console=ttyAMA0\0", 16 bytes): its FDT_PROP
    // length word sits 8 bytes before it.
    let at = good
        .windows(16)
        .position(|w| w == b"console=ttyAMA0\0")
        .unwrap();
    assert_eq!(good[at - 8..at - 4], 16u32.to_be_bytes());
    for len in [0x2000_0010u32, u32::MAX, good.len() as u32] {
        let mut bad = good.clone();
        bad[at - 8..at - 4].copy_from_slice(&len.to_be_bytes());
        assert_eq!(
            libvmm_compat::DtbInfo::check(&bad),
            Err(SetupError::BadDtb("property value outside structure block"))
        );
        assert_eq!(
            refused(&mut vm, &imgs(&k, &bad, &[])),
            SetupError::BadDtb("property value outside structure block")
        );
    }
    // A name offset outside the strings block is refused too.
    let mut bad = good.clone();
    bad[at - 4..at].copy_from_slice(&0x7fff_0000u32.to_be_bytes());
    assert_eq!(
        libvmm_compat::DtbInfo::check(&bad),
        Err(SetupError::BadDtb("bad property name offset"))
    );
}

/// A version 16 header has no `size_dt_struct`, but the `fdt` crate reads
/// that word anyway; a value shorter than the tree ran it off the end of
/// its structure block (a panic, found by the `image_dtb` long run). The
/// walk now checks the block `fdt` will use.
#[test]
fn version_16_dtb_with_a_short_structure_size_is_refused() {
    let mut vm = vm(1);
    let k = image(0, MIB, FLAGS, 4096);
    let good = dtb(None);
    let mut bad = good.clone();
    bad[20..24].copy_from_slice(&16u32.to_be_bytes()); // version
    bad[24..28].copy_from_slice(&16u32.to_be_bytes()); // last_comp_version
    bad[36..40].copy_from_slice(&24u32.to_be_bytes()); // "size_dt_struct"
    let want = SetupError::BadDtb("structure block ends without FDT_END");
    assert_eq!(libvmm_compat::DtbInfo::check(&bad), Err(want));
    assert_eq!(refused(&mut vm, &imgs(&k, &bad, &[])), want);
}

/// A version 17 FDT whose structure block is `tokens` (big-endian words)
/// and whose strings block is "a\0".
fn raw_fdt(tokens: &[u32]) -> Vec<u8> {
    let (off_rsv, off_struct) = (40u32, 56u32);
    let size_struct = 4 * tokens.len() as u32;
    let off_strings = off_struct + size_struct;
    let total = off_strings + 4;
    let mut b = Vec::new();
    for w in [
        0xd00d_feed,
        total,
        off_struct,
        off_strings,
        off_rsv,
        17,
        16,
        0,
        2,
        size_struct,
    ] {
        b.extend_from_slice(&u32::to_be_bytes(w));
    }
    b.extend_from_slice(&[0; 16]); // empty reservation map
    for t in tokens {
        b.extend_from_slice(&t.to_be_bytes());
    }
    b.extend_from_slice(b"a\0\0\0");
    b
}

/// The `fdt` crate asserts that a node's properties come before its
/// children, and recurses once per nesting level: a property after a child
/// crashed the VMM (image_dtb long-run finding), and deep nesting would
/// exhaust its stack. Both are refused before it sees the blob.
#[test]
fn dtb_property_after_a_child_nops_and_deep_nesting_are_refused() {
    const BEGIN: u32 = 1;
    const END_NODE: u32 = 2;
    const PROP: u32 = 3;
    const END: u32 = 9;
    // Node names are "" (one zero word each); a property of length 0 named "a".
    let ok = raw_fdt(&[BEGIN, 0, PROP, 0, 0, BEGIN, 0, END_NODE, END_NODE, END]);
    assert!(libvmm_compat::DtbInfo::check(&ok).is_ok());
    let bad = raw_fdt(&[BEGIN, 0, BEGIN, 0, END_NODE, PROP, 0, 0, END_NODE, END]);
    assert_eq!(
        libvmm_compat::DtbInfo::check(&bad),
        Err(SetupError::BadDtb("property after a child node"))
    );
    let nest = |n: usize| {
        let mut t = Vec::new();
        for _ in 0..n {
            t.extend([BEGIN, 0]);
        }
        t.extend(std::iter::repeat_n(END_NODE, n));
        t.push(END);
        raw_fdt(&t)
    };
    // FDT_NOP only where `fdt` skips it: before a node or FDT_END_NODE
    // (another image_dtb long-run finding: NOP between two properties).
    const NOP: u32 = 4;
    let nop_ok = raw_fdt(&[NOP, BEGIN, 0, PROP, 0, 0, NOP, END_NODE, END]);
    assert!(libvmm_compat::DtbInfo::check(&nop_ok).is_ok());
    for t in [
        &[BEGIN, 0, PROP, 0, 0, NOP, PROP, 0, 0, END_NODE, END][..],
        &[BEGIN, 0, NOP, BEGIN, 0, END_NODE, END_NODE, END][..],
    ] {
        assert_eq!(
            libvmm_compat::DtbInfo::check(&raw_fdt(t)),
            Err(SetupError::BadDtb(
                "FDT_NOP before a property or child node"
            ))
        );
    }
    assert!(libvmm_compat::DtbInfo::check(&nest(63)).is_ok());
    assert_eq!(
        libvmm_compat::DtbInfo::check(&nest(64)),
        Err(SetupError::BadDtb("nodes nested too deep"))
    );
}

#[test]
fn initrd_must_match_the_dtb() {
    let mut vm = vm(1);
    let k = image(0, MIB, FLAGS, 4096);
    let i = initrd();
    let d = dtb(Some((INITRD_AT, INITRD_AT + i.len() as u64 - 1)));
    assert_eq!(
        refused(&mut vm, &imgs(&k, &d, &i)),
        SetupError::InitrdMismatch {
            dtb: (INITRD_AT, INITRD_AT + i.len() as u64 - 1),
            actual: (INITRD_AT, INITRD_AT + i.len() as u64)
        }
    );
    // The DTB names an initrd but none is given.
    assert!(matches!(
        refused(&mut vm, &imgs(&k, &d, &[])),
        SetupError::InitrdMismatch { actual: (0, 0), .. }
    ));
}

#[test]
fn ranges_outside_ram_or_overlapping() {
    let mut vm = vm(1);
    let k = image(0, 4 * MIB, FLAGS, 4096);
    let i = initrd();
    let d = dtb(None);
    let il = i.len() as u64;
    let mut x = imgs(&k, &d, &i);
    x.ram_start = RAM + RAM_SIZE - 2 * MIB; // 4 MiB kernel runs past the end
    assert_eq!(
        refused(&mut vm, &x),
        SetupError::NotInRam {
            blob: Blob::Kernel,
            addr: x.ram_start,
            size: 4 * MIB
        }
    );
    let mut x = imgs(&k, &d, &i);
    x.dtb_dest = RAM + RAM_SIZE - 8;
    assert!(matches!(
        refused(&mut vm, &x),
        SetupError::NotInRam {
            blob: Blob::Dtb,
            ..
        }
    ));
    let mut x = imgs(&k, &d, &i);
    x.initrd_dest = RAM - 4096;
    assert_eq!(
        refused(&mut vm, &x),
        SetupError::NotInRam {
            blob: Blob::Initrd,
            addr: RAM - 4096,
            size: il
        }
    );
    // Initrd inside the kernel's BSS (beyond the file, within image_size).
    let mut x = imgs(&k, &d, &i);
    x.initrd_dest = KBASE + 2 * MIB;
    assert_eq!(
        refused(&mut vm, &x),
        SetupError::Overlap(Blob::Kernel, Blob::Initrd)
    );
    let mut x = imgs(&k, &d, &i);
    x.dtb_dest = INITRD_AT + il - 8;
    assert_eq!(
        refused(&mut vm, &x),
        SetupError::Overlap(Blob::Dtb, Blob::Initrd)
    );
    let mut x = imgs(&k, &d, &i);
    x.dtb_dest = KBASE;
    assert_eq!(
        refused(&mut vm, &x),
        SetupError::Overlap(Blob::Kernel, Blob::Dtb)
    );
    // Adjacent is fine.
    let mut x = imgs(&k, &d, &i);
    x.initrd_dest = KBASE + 4 * MIB;
    linux_setup_images(&mut vm, &x).unwrap();
}

fn put(vm: &mut sel4vm::Vm<sel4vm_host::HostBackend>, addr: u64, b: &[u8]) {
    vm.guest_memory().write(addr, b).unwrap();
}

#[test]
fn images_already_in_guest_ram_are_validated_in_place() {
    let mut vm = vm(1);
    let k = image(0, 4 * MIB, FLAGS, 300_000);
    let i = initrd();
    put(&mut vm, KBASE, &k);
    put(&mut vm, INITRD_AT, &i);
    let d = dtb(Some((INITRD_AT, INITRD_AT + i.len() as u64)));
    let x = LinuxImages {
        kernel: ImageSrc::Guest {
            addr: KBASE,
            size: k.len() as u64,
        },
        initrd: ImageSrc::Guest {
            addr: INITRD_AT,
            size: i.len() as u64,
        },
        ..imgs(&k, &d, &i)
    };
    let p = linux_setup_images(&mut vm, &x).unwrap();
    assert_eq!(p.bytes_copied, d.len() as u64, "only the DTB is copied");
    assert_eq!(read(&mut vm, KBASE, k.len()), k);
    assert_eq!(read(&mut vm, INITRD_AT, i.len()), i);
    // A corrupted in-place kernel is still refused.
    put(&mut vm, KBASE + 0x38, b"XXXX");
    assert_eq!(refused(&mut vm, &x), SetupError::NotLinux);
}

#[test]
fn vmm_pointer_to_the_destination_counts_as_in_place() {
    let mut vm = vm(1);
    let k = image(0, MIB, FLAGS, 8192);
    put(&mut vm, KBASE, &k);
    // The VMM's own view of the kernel's destination (as a C caller would pass it).
    let mut ptr = std::ptr::null();
    vm.guest_memory()
        .touch_spans(KBASE, 1, |a| {
            ptr = a.bytes.as_ptr();
            Ok::<(), ()>(())
        })
        .unwrap();
    assert!(libvmm_compat::is_vmm_view_of(&mut vm, KBASE, 4096, ptr));
    assert!(!libvmm_compat::is_vmm_view_of(
        &mut vm,
        KBASE,
        4096,
        k.as_ptr()
    ));
    assert!(!libvmm_compat::is_vmm_view_of(
        &mut vm,
        KBASE + 4096,
        4096,
        ptr
    ));
}

#[test]
fn guest_sources_elsewhere_are_moved_unless_that_destroys_them() {
    let mut vm = vm(1);
    let k = image(0, 2 * MIB, FLAGS, 200_000);
    let i = initrd();
    let d = dtb(None);
    // Kernel staged 1 MiB above its destination (overlapping move).
    put(&mut vm, KBASE + MIB, &k);
    let x = LinuxImages {
        kernel: ImageSrc::Guest {
            addr: KBASE + MIB,
            size: k.len() as u64,
        },
        ..imgs(&k, &d, &i)
    };
    let p = linux_setup_images(&mut vm, &x).unwrap();
    assert_eq!(read(&mut vm, KBASE, k.len()), k);
    assert_eq!(p.bytes_copied, (k.len() + d.len() + i.len()) as u64);
    // Initrd staged where the DTB goes: the DTB copy would destroy it.
    put(&mut vm, DTB_AT, &i);
    let x = LinuxImages {
        initrd: ImageSrc::Guest {
            addr: DTB_AT,
            size: i.len() as u64,
        },
        ..imgs(&k, &d, &i)
    };
    assert_eq!(
        refused(&mut vm, &x),
        SetupError::SourceClobbered {
            source: Blob::Initrd,
            by: Blob::Dtb
        }
    );
    // A guest source outside RAM.
    let x = LinuxImages {
        initrd: ImageSrc::Guest {
            addr: 0x1000,
            size: 10,
        },
        ..imgs(&k, &d, &i)
    };
    assert!(matches!(
        refused(&mut vm, &x),
        SetupError::NotInRam {
            blob: Blob::Initrd,
            ..
        }
    ));
}

#[cfg(feature = "elf")]
#[test]
fn elf_vmlinux_segments_and_bss() {
    let mut vm = vm(1);
    let (elf, text, data) = vmlinux(20_000, 0x3000, 9_000, 5_000);
    let d = dtb(None);
    let info = KernelInfo::parse(&elf, elf.len() as u64).unwrap();
    assert_eq!(info.format, KernelFormat::Elf);
    assert_eq!(info.segments.len(), 2);
    let p = linux_setup_images(&mut vm, &imgs(&elf, &d, &[])).unwrap();
    assert_eq!(p.entry, KBASE);
    assert_eq!(read(&mut vm, KBASE, text.len()), text);
    let dstart = KBASE + text.len() as u64 + 0x3000;
    assert_eq!(read(&mut vm, dstart, data.len()), data);
    assert_eq!(
        read(&mut vm, dstart + data.len() as u64, 5_000),
        vec![0; 5_000],
        "BSS zeroed"
    );
    assert_eq!(read(&mut vm, dstart + data.len() as u64 + 5_000, 1), [0xAA]);
    assert_eq!(
        read(&mut vm, KBASE + text.len() as u64, 1),
        [0xAA],
        "gap untouched"
    );
}

/// Without the `elf` feature (the root task's build) a `vmlinux` is refused
/// up front with a typed error and nothing is written to the guest.
#[cfg(not(feature = "elf"))]
#[test]
fn elf_refused_without_feature() {
    let mut vm = vm(1);
    let (elf, ..) = vmlinux(20_000, 0x3000, 9_000, 5_000);
    let d = dtb(None);
    assert_eq!(
        KernelInfo::parse(&elf, elf.len() as u64),
        Err(SetupError::ElfUnsupported)
    );
    assert_eq!(
        refused(&mut vm, &imgs(&elf, &d, &[])),
        SetupError::ElfUnsupported
    );
}

#[cfg(feature = "elf")]
#[test]
fn elf_errors() {
    let mut vm = vm(1);
    let d = dtb(None);
    let (elf, ..) = vmlinux(20_000, 0, 9_000, 0);
    let mut wrong_machine = elf.clone();
    wrong_machine[18..20].copy_from_slice(&62u16.to_le_bytes());
    assert_eq!(
        refused(&mut vm, &imgs(&wrong_machine, &d, &[])),
        SetupError::WrongArchitecture(62)
    );
    let truncated = &elf[..elf.len() - 100];
    assert!(matches!(
        refused(&mut vm, &imgs(truncated, &d, &[])),
        SetupError::Truncated {
            blob: Blob::Kernel,
            ..
        }
    ));
    let mut bad_entry = elf.clone();
    bad_entry[24] ^= 0x40;
    assert!(matches!(
        refused(&mut vm, &imgs(&bad_entry, &d, &[])),
        SetupError::MalformedKernel(_)
    ));
    let mut class32 = elf.clone();
    class32[4] = 1;
    assert!(matches!(
        refused(&mut vm, &imgs(&class32, &d, &[])),
        SetupError::MalformedKernel(_)
    ));
    let mut no_header = elf.clone();
    no_header[0x1000 + 0x38] = 0;
    assert_eq!(
        refused(&mut vm, &imgs(&no_header, &d, &[])),
        SetupError::NotLinux
    );
    assert_eq!(
        refused(&mut vm, &imgs(&elf[..30], &d, &[])),
        SetupError::MalformedKernel("ELF header truncated")
    );
    // An ELF in guest RAM cannot be "in place".
    put(&mut vm, RAM + 12 * MIB, &elf);
    let x = LinuxImages {
        kernel: ImageSrc::Guest {
            addr: RAM + 12 * MIB,
            size: elf.len() as u64,
        },
        ..imgs(&elf, &d, &[])
    };
    assert_eq!(refused(&mut vm, &x), SetupError::ElfNotInPlace);
}

#[test]
fn dtb_check_reports_chosen_initrd() {
    let d = dtb(Some((0x4800_0000, 0x4810_0000)));
    let (info, initrd) = libvmm_compat::DtbInfo::check(&d).unwrap();
    assert_eq!(info.total_size, d.len() as u64);
    assert_eq!(initrd, Some((0x4800_0000, 0x4810_0000)));
    assert_eq!(libvmm_compat::DtbInfo::check(&dtb(None)).unwrap().1, None);
}
