//! Writes the hand-made seeds of the committed corpus (`fuzz/corpus/`):
//! valid `image_dtb` inputs (arm64 `Image`, EFI-stub `Image`, ELF
//! `vmlinux`, DTBs with and without an initrd, every source and
//! destination choice) and `virtqueue` programs that initialise each
//! device and post chains. The other targets' seeds come from libFuzzer
//! runs (`cargo fuzz cmin`). Run: `cargo run -p sel4vm-fuzz-targets
//! --example seeds`; existing files of the same name are overwritten.

use sel4vm_fuzz_targets::generate::corpus_root;
use sel4vm_fuzz_targets::image_dtb::{
    encode, Params, DTB_IN_GUEST, INITRD, INITRD_IN_GUEST, KERNEL_ELSEWHERE, KERNEL_IN_GUEST,
    SECOND_BANK,
};

const RAM: u64 = 0x4000_0000;

fn image(text_offset: u64, image_size: u64, flags: u64, file_len: usize) -> Vec<u8> {
    let mut v: Vec<u8> = (0..file_len).map(|i| (i * 7 + 3) as u8).collect();
    v[..64].fill(0);
    v[8..16].copy_from_slice(&text_offset.to_le_bytes());
    v[16..24].copy_from_slice(&image_size.to_le_bytes());
    v[24..32].copy_from_slice(&flags.to_le_bytes());
    v[0x38..0x3c].copy_from_slice(b"ARMd");
    v
}

fn pe_image(file_len: usize, section_end: u32) -> Vec<u8> {
    let mut v = image(0, 0x2000, 0b1010, file_len);
    v[0..2].copy_from_slice(b"MZ");
    let pe = 0x40usize;
    v[0x3c..0x40].copy_from_slice(&(pe as u32).to_le_bytes());
    v[pe..pe + 4].copy_from_slice(b"PE\0\0");
    v[pe + 6..pe + 8].copy_from_slice(&1u16.to_le_bytes());
    let s = pe + 24;
    v[s..s + 5].copy_from_slice(b".text");
    v[s + 16..s + 20].copy_from_slice(&(section_end - 0x100).to_le_bytes());
    v[s + 20..s + 24].copy_from_slice(&0x100u32.to_le_bytes());
    v
}

fn vmlinux() -> Vec<u8> {
    const VBASE: u64 = 0xffff_8000_1000_0000;
    let (text_len, gap, data_len, bss) = (0x100usize, 0x100u64, 0x40usize, 0x80u64);
    let text = image(
        0,
        text_len as u64 + gap + data_len as u64 + bss,
        0b1010,
        text_len,
    );
    let (phoff, text_off) = (64u64, 0xc0u64);
    let data_off = text_off + text_len as u64;
    let mut e = vec![0u8; data_off as usize + data_len];
    e[0..4].copy_from_slice(b"\x7fELF");
    e[4] = 2;
    e[5] = 1;
    e[6] = 1;
    e[16..18].copy_from_slice(&2u16.to_le_bytes());
    e[18..20].copy_from_slice(&183u16.to_le_bytes());
    e[20..24].copy_from_slice(&1u32.to_le_bytes());
    e[24..32].copy_from_slice(&VBASE.to_le_bytes());
    e[32..40].copy_from_slice(&phoff.to_le_bytes());
    e[52..54].copy_from_slice(&64u16.to_le_bytes());
    e[54..56].copy_from_slice(&56u16.to_le_bytes());
    e[56..58].copy_from_slice(&2u16.to_le_bytes());
    let mut ph = |i: usize, off: u64, va: u64, filesz: u64, memsz: u64| {
        let p = phoff as usize + 56 * i;
        e[p..p + 4].copy_from_slice(&1u32.to_le_bytes());
        e[p + 4..p + 8].copy_from_slice(&7u32.to_le_bytes());
        e[p + 8..p + 16].copy_from_slice(&off.to_le_bytes());
        e[p + 16..p + 24].copy_from_slice(&va.to_le_bytes());
        e[p + 24..p + 32].copy_from_slice(&va.to_le_bytes());
        e[p + 32..p + 40].copy_from_slice(&filesz.to_le_bytes());
        e[p + 40..p + 48].copy_from_slice(&memsz.to_le_bytes());
    };
    ph(0, text_off, VBASE, text_len as u64, text_len as u64);
    ph(
        1,
        data_off,
        VBASE + text_len as u64 + gap,
        data_len as u64,
        data_len as u64 + bss,
    );
    e[text_off as usize..data_off as usize].copy_from_slice(&text);
    e[data_off as usize..].fill(0x5a);
    e
}

fn dtb(initrd: Option<(u64, u64)>) -> Vec<u8> {
    let mut f = vm_fdt::FdtWriter::new().unwrap();
    let root = f.begin_node("").unwrap();
    f.property_u32("#address-cells", 2).unwrap();
    f.property_u32("#size-cells", 2).unwrap();
    let mem = f.begin_node("memory@40000000").unwrap();
    f.property_string("device_type", "memory").unwrap();
    f.property_array_u64("reg", &[RAM, 0x1_0000]).unwrap();
    f.end_node(mem).unwrap();
    let uart = f.begin_node("pl011@9000000").unwrap();
    f.property_string("compatible", "arm,pl011").unwrap();
    f.property_array_u64("reg", &[0x900_0000, 0x1000]).unwrap();
    f.end_node(uart).unwrap();
    let chosen = f.begin_node("chosen").unwrap();
    f.property_string("bootargs", "console=hvc0").unwrap();
    if let Some((s, e)) = initrd {
        f.property_u64("linux,initrd-start", s).unwrap();
        f.property_u64("linux,initrd-end", e).unwrap();
    }
    f.end_node(chosen).unwrap();
    f.end_node(root).unwrap();
    f.finish().unwrap()
}

fn write(target: &str, name: &str, bytes: &[u8]) {
    let dir = corpus_root().join(target);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), bytes).unwrap();
}

fn main() {
    // ---- image_dtb ----
    let small = image(0, 0x2000, 0b1010, 0x200);
    let low = image(0x1000, 0x2000, 0b0010, 0x100);
    let d = dtb(None);
    // The initrd (0x100 bytes) at offset 0x8000 of bank 1.
    let di = dtb(Some((RAM + 0x8000, RAM + 0x8100)));
    let p = |flags: u8, dtb_dest: u16| Params {
        flags,
        extra: 0,
        dtb_dest,
        initrd_len: 0x100,
        initrd_dest: 0x4000,
    };
    let seeds: Vec<(&str, Vec<u8>)> = vec![
        ("image-bytes", encode(&p(0, 0x2000), &small, &d)),
        (
            "image-in-place",
            encode(&p(KERNEL_IN_GUEST | DTB_IN_GUEST, 0x2000), &small, &d),
        ),
        (
            "image-moved",
            encode(&p(KERNEL_ELSEWHERE, 0x2000), &small, &d),
        ),
        ("image-text-offset", encode(&p(0, 0x2800), &low, &d)),
        (
            "image-bank2",
            encode(&p(SECOND_BANK, 0x8000 | 0x2000), &small, &d),
        ),
        ("initrd", encode(&p(INITRD, 0x2000), &small, &di)),
        (
            "initrd-in-guest",
            encode(
                &p(INITRD | INITRD_IN_GUEST | DTB_IN_GUEST, 0x2000),
                &small,
                &di,
            ),
        ),
        (
            "pe-image",
            encode(&p(0, 0x2000), &pe_image(0x200, 0x200), &d),
        ),
        ("vmlinux", encode(&p(0, 0x2000), &vmlinux(), &d)),
        ("overlap", encode(&p(0, 0x800), &small, &d)),
        (
            "truncated-kernel",
            encode(
                &Params {
                    extra: 0x100,
                    ..p(0, 0x2000)
                },
                &small[..0x40],
                &d,
            ),
        ),
    ];
    for (name, bytes) in &seeds {
        write("image_dtb", name, bytes);
    }

    // ---- virtqueue: first byte = device (0 console, 1 block, 2 net) ----
    // Step 8 is "driver init" (feature pick, queue size 2^(b % 7)); step 11
    // posts a chain; step 5 feeds the backend; step 9 acknowledges.
    let init = [8u8, 0x00, 4];
    let post = |q: u8| [11u8, q, 1, 0, 0, 0x10, 0, 8, 0, 0, 0, 0, 0, 0, 0];
    for (dev, name) in [(0u8, "console"), (1, "block"), (2, "net")] {
        let mut v = vec![dev];
        if dev == 1 {
            v.push(0); // read-write disk
        }
        v.extend(init);
        for q in [0u8, 1, 0, 1] {
            v.extend(post(q));
            v.extend([5u8, 3, 0, 0, 0x41, 0, 9]);
        }
        write("virtqueue", &format!("init-post-{name}"), &v);
    }
    println!("seeds written under {}", corpus_root().display());
}
