//! `image_dtb`: the checks `linux_setup_images` makes on the untrusted
//! blobs it is given (libvmm-compat: the arm64 `Image` / ELF `vmlinux`
//! header, the DTB header and tree, the initrd and where they all go), and
//! the packer's DTB inspection (`sel4vm_image::dtb::inspect`).
//!
//! Input: an 11-byte header, then the kernel (its length is in the
//! header), then the DTB (the rest); see [`encode`]. The header chooses
//! where the blobs come from (VMM bytes or guest RAM, in place or not),
//! where they go, and the initrd.
//!
//! Checks: no panic; a kernel the parser accepts has a 4 KiB aligned
//! `text_offset` below 2 MiB and segments that fit the file, do not
//! overlap and end inside `text_offset + image_size` without overflow; a
//! DTB accepted has `totalsize` within what was given and 2 MiB; a
//! placement returned is inside guest RAM, aligned, without overlaps, and
//! the bytes landed there; a refused call leaves guest memory as it was.
//!
//! Reach: `deep[0]` kernels parsed, `deep[1]` DTBs checked (header and
//! tree), `deep[2]` images placed, `deep[3]` DTBs the packer accepted.

use libvmm_compat::image::{DtbInfo, KernelFormat, KernelInfo, DTB_MAX_SIZE, KERNEL_ALIGN};
use libvmm_compat::{linux_setup_images, ImageSrc, LinuxImages};
use sel4vm::{Vm, VmConfig};
use sel4vm_host::HostBackend;

/// Guest RAM: two small banks, each at a 2 MiB boundary (small, so that
/// building a VM per input stays cheap; kernels in the corpus are small).
const BANKS: [(u64, u64); 2] = [(0x4000_0000, 0x1_0000), (0x4020_0000, 0x1_0000)];
/// Bytes of the input header.
pub const HEADER: usize = 11;
/// How many bytes of each destination are compared after a refusal.
const SNAPSHOT: u64 = 0x1000;

/// Header flag: the kernel is in guest RAM, at its destination.
pub const KERNEL_IN_GUEST: u8 = 1;
/// Header flag: the DTB is in guest RAM, at its destination.
pub const DTB_IN_GUEST: u8 = 2;
/// Header flag: there is an initrd (its length and destination in the header).
pub const INITRD: u8 = 4;
/// Header flag: the initrd is in guest RAM, at its destination.
pub const INITRD_IN_GUEST: u8 = 8;
/// Header flag: `ram_start` is the second bank (else the first).
pub const SECOND_BANK: u8 = 16;
/// Header flag: the kernel is in guest RAM elsewhere (at the end of bank 2) and moved.
pub const KERNEL_ELSEWHERE: u8 = 32;

/// What the header says.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Params {
    /// The flags above.
    pub flags: u8,
    /// Extra length claimed for the kernel beyond its bytes (for `parse`).
    pub extra: u16,
    /// DTB destination (see [`ram_addr`]).
    pub dtb_dest: u16,
    /// Initrd length.
    pub initrd_len: u16,
    /// Initrd destination (see [`ram_addr`]).
    pub initrd_dest: u16,
}

/// Builds an input from its parts (the inverse of what [`image_dtb`] reads).
pub fn encode(p: &Params, kernel: &[u8], dtb: &[u8]) -> Vec<u8> {
    let mut v = vec![p.flags];
    v.extend((kernel.len() as u16).to_le_bytes());
    v.extend(p.extra.to_le_bytes());
    v.extend(p.dtb_dest.to_le_bytes());
    v.extend(p.initrd_len.to_le_bytes());
    v.extend(p.initrd_dest.to_le_bytes());
    v.extend(kernel);
    v.extend(dtb);
    v
}

fn decode(data: &[u8]) -> Option<(Params, &[u8], &[u8])> {
    let h = data.get(..HEADER)?;
    let u16_at = |i: usize| u16::from_le_bytes([h[i], h[i + 1]]);
    let p = Params {
        flags: h[0],
        extra: u16_at(3),
        dtb_dest: u16_at(5),
        initrd_len: u16_at(7),
        initrd_dest: u16_at(9),
    };
    let rest = &data[HEADER..];
    let k = usize::from(u16_at(1)).min(rest.len());
    Some((p, &rest[..k], &rest[k..]))
}

/// Guest-physical address named by a destination field: bit 15 picks the
/// bank, the low 15 bits count 2-byte units into it (so odd addresses are
/// out of reach, misaligned ones are not).
pub fn ram_addr(off: u16) -> u64 {
    BANKS[usize::from(off >> 15)].0 + 2 * u64::from(off & 0x7fff)
}

fn in_ram(a: u64, len: u64) -> bool {
    BANKS
        .iter()
        .any(|&(s, n)| a >= s && a.checked_add(len).is_some_and(|e| e <= s + n))
}

fn check_kernel(k: &KernelInfo, total_len: u64) {
    assert!(k.text_offset.is_multiple_of(4096) && k.text_offset < KERNEL_ALIGN);
    assert!(k.image_size > 0);
    let end = k.text_offset.checked_add(k.image_size);
    assert!(end.is_some(), "text_offset + image_size overflows: {k:?}");
    let mut last = 0;
    for s in &k.segments {
        assert!(s.file_len <= s.mem_len, "{s:?}");
        assert!(
            s.file_offset
                .checked_add(s.file_len)
                .is_some_and(|e| e <= total_len),
            "segment outside the file: {s:?}"
        );
        let s_end = s.mem_offset.checked_add(s.mem_len);
        assert!(
            s.mem_offset >= last && s_end.is_some_and(|e| Some(e) <= end),
            "segments overlap or leave the image: {k:?}"
        );
        last = s_end.unwrap();
    }
    if k.format == KernelFormat::Image {
        assert_eq!(k.segments.len(), 1);
    }
}

/// Runs one input; panics on a broken invariant.
pub fn image_dtb(data: &[u8]) -> crate::Reach {
    let mut reach = crate::Reach::default();
    let Some((p, kernel, dtb)) = decode(data) else {
        return reach;
    };
    reach.decoded = 1;

    // ---- the parsers on their own ----
    let total = kernel.len() as u64 + u64::from(p.extra);
    let is_elf = kernel.starts_with(b"\x7fELF");
    let kernel_ok =
        match KernelInfo::parse(kernel, if is_elf { kernel.len() as u64 } else { total }) {
            Ok(k) => {
                check_kernel(&k, total);
                reach.deep[0] = 1;
                true
            }
            Err(e) => {
                assert!(!e.to_string().is_empty());
                false
            }
        };
    let given = dtb.len() as u64;
    if let Ok(h) = DtbInfo::check_header(dtb, given) {
        assert!(h.total_size <= given && h.total_size <= DTB_MAX_SIZE && h.version >= 16);
    }
    if let Ok((h, _initrd)) = DtbInfo::check(dtb) {
        assert!(h.total_size <= given);
        reach.deep[1] = 1;
    }
    if let Ok(info) = sel4vm_image::dtb::inspect(dtb) {
        reach.deep[3] = 1;
        assert!(!info.usable_memory().iter().any(|r| r.is_empty()));
    }

    // ---- linux_setup_images in a VM ----
    if !kernel_ok && p.flags & 0x80 == 0 {
        // Most inputs whose kernel fails stop here (the setup refuses them
        // first thing); one in two high-bit inputs goes on anyway.
        return reach;
    }
    let mut vm = Vm::new(HostBackend::new(), VmConfig::default()).expect("VM");
    for (s, n) in BANKS {
        vm.ram_register_at(s, n, false).expect("ram");
    }
    let ram_start = BANKS[usize::from(p.flags & SECOND_BANK != 0)].0;
    // Where an `Image` goes: ram_start + text_offset (as far as the header says).
    let text = kernel
        .get(8..16)
        .map_or(0, |b| u64::from_le_bytes(b.try_into().unwrap()))
        & (KERNEL_ALIGN - 1);
    let kdest = ram_start + text;
    let dtb_dest = ram_addr(p.dtb_dest);
    let initrd_dest = ram_addr(p.initrd_dest);
    let initrd_bytes: Vec<u8> = (0..p.initrd_len).map(|i| i as u8 ^ 0x5a).collect();

    // Blobs "already in guest RAM" are written there first; a failed write
    // (not RAM) makes that source a plain out-of-RAM address.
    let mut put = |addr: u64, bytes: &[u8]| {
        let _ = vm.ram_write(addr, bytes);
    };
    let kernel_src = if p.flags & KERNEL_ELSEWHERE != 0 {
        let at = (BANKS[1].0 + BANKS[1].1).saturating_sub(kernel.len() as u64) & !7;
        put(at, kernel);
        ImageSrc::Guest {
            addr: at,
            size: kernel.len() as u64,
        }
    } else if p.flags & KERNEL_IN_GUEST != 0 && !is_elf {
        // In place: the Image's file starts at ram_start + text_offset.
        let at = kdest;
        put(at, kernel);
        ImageSrc::Guest {
            addr: at,
            size: kernel.len() as u64,
        }
    } else {
        ImageSrc::Bytes(kernel)
    };
    let dtb_src = if p.flags & DTB_IN_GUEST != 0 {
        put(dtb_dest, dtb);
        ImageSrc::Guest {
            addr: dtb_dest,
            size: given,
        }
    } else {
        ImageSrc::Bytes(dtb)
    };
    let initrd_src = if p.flags & INITRD == 0 {
        ImageSrc::Bytes(&[])
    } else if p.flags & INITRD_IN_GUEST != 0 {
        put(initrd_dest, &initrd_bytes);
        ImageSrc::Guest {
            addr: initrd_dest,
            size: initrd_bytes.len() as u64,
        }
    } else {
        ImageSrc::Bytes(&initrd_bytes)
    };
    let imgs = LinuxImages {
        ram_start,
        kernel: kernel_src,
        dtb: dtb_src,
        dtb_dest,
        initrd: initrd_src,
        initrd_dest,
    };
    // What the destinations hold before (compared if the call is refused).
    let snap = |vm: &mut Vm<HostBackend>| -> Vec<Option<Vec<u8>>> {
        [ram_start, kdest, dtb_dest, initrd_dest]
            .iter()
            .map(|&a| {
                let mut b = vec![0; SNAPSHOT as usize];
                vm.ram_read(a, &mut b).ok().map(|()| b)
            })
            .collect()
    };
    let before = snap(&mut vm);
    match linux_setup_images(&mut vm, &imgs) {
        Ok(pl) => {
            reach.deep[2] = 1;
            assert!(kernel_ok, "placed a kernel the parser refuses");
            let (k0, k1) = pl.kernel;
            assert_eq!(pl.entry, k0);
            assert!(k0 >= ram_start && k0 - ram_start < KERNEL_ALIGN && k0 < k1);
            assert!(in_ram(k0, k1 - k0), "{pl:?}");
            let (d0, d1) = pl.dtb;
            assert_eq!(d0, dtb_dest);
            assert!(d0.is_multiple_of(8) && in_ram(d0, d1 - d0), "{pl:?}");
            let mut ranges = vec![pl.kernel, pl.dtb];
            if let Some((i0, i1)) = pl.initrd {
                assert_eq!((i0, i1 - i0), (initrd_dest, initrd_bytes.len() as u64));
                assert!(in_ram(i0, i1 - i0));
                let mut b = vec![0; initrd_bytes.len()];
                vm.ram_read(i0, &mut b).unwrap();
                assert_eq!(b, initrd_bytes, "initrd not where it was placed");
                ranges.push((i0, i1));
            }
            for (i, a) in ranges.iter().enumerate() {
                for b in &ranges[i + 1..] {
                    assert!(a.1 <= b.0 || b.1 <= a.0, "overlap: {pl:?}");
                }
            }
            let mut b = vec![0; (d1 - d0) as usize];
            vm.ram_read(d0, &mut b).unwrap();
            assert_eq!(b, dtb[..b.len()], "DTB not where it was placed");
        }
        Err(e) => {
            assert!(!e.to_string().is_empty());
            assert_eq!(
                snap(&mut vm),
                before,
                "a refused setup changed guest RAM: {e}"
            );
        }
    }
    reach
}
