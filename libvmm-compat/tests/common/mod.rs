//! Fixtures: synthetic kernels, DTBs and a host VM with guest RAM.
#![allow(dead_code)]

use sel4vm::{Vm, VmConfig};
use sel4vm_host::HostBackend;

pub const RAM: u64 = 0x4000_0000;
pub const RAM_SIZE: u64 = 16 << 20;
pub const MIB: u64 = 1 << 20;

/// A VM with `vcpus` vCPUs and 16 MiB of RAM at 0x4000_0000, every byte 0xAA
/// (so "nothing written" and "zeroed" are both visible).
pub fn vm(vcpus: u32) -> Vm<HostBackend> {
    let mut vm = Vm::new(
        HostBackend::new(),
        VmConfig {
            max_vcpus: vcpus,
            ..Default::default()
        },
    )
    .unwrap();
    for _ in 0..vcpus {
        vm.create_vcpu(100).unwrap();
    }
    vm.ram_register_at(RAM, RAM_SIZE, false).unwrap();
    vm.guest_memory()
        .touch_spans(RAM, RAM_SIZE, |a| {
            a.bytes.fill(0xAA);
            Ok::<(), ()>(())
        })
        .unwrap();
    vm
}

/// FNV-1a over all guest RAM: cheap "unchanged" check.
pub fn ram_hash(vm: &mut Vm<HostBackend>) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    vm.guest_memory()
        .touch_spans(RAM, RAM_SIZE, |a| {
            for w in a.bytes.chunks(8) {
                let mut x = [0u8; 8];
                x[..w.len()].copy_from_slice(w);
                h = (h ^ u64::from_le_bytes(x))
                    .wrapping_mul(0x100_0000_01b3)
                    .rotate_left(5);
            }
            Ok::<(), ()>(())
        })
        .unwrap();
    h
}

pub fn read(vm: &mut Vm<HostBackend>, addr: u64, len: usize) -> Vec<u8> {
    let mut v = vec![0; len];
    vm.guest_memory().read(addr, &mut v).unwrap();
    v
}

/// An arm64 `Image` of `file_len` bytes (pattern body) with the given header fields.
pub fn image(text_offset: u64, image_size: u64, flags: u64, file_len: usize) -> Vec<u8> {
    let mut v: Vec<u8> = (0..file_len).map(|i| (i * 7 + 3) as u8).collect();
    v[..64].fill(0);
    v[8..16].copy_from_slice(&text_offset.to_le_bytes());
    v[16..24].copy_from_slice(&image_size.to_le_bytes());
    v[24..32].copy_from_slice(&flags.to_le_bytes());
    v[0x38..0x3c].copy_from_slice(b"ARMd");
    v
}

/// Flags of a little-endian, 4 KiB, place-anywhere kernel.
pub const FLAGS: u64 = 0b1010;

/// An `Image` with an EFI PE header whose only section ends at `section_end`.
pub fn pe_image(file_len: usize, section_end: u32) -> Vec<u8> {
    let mut v = image(0, 4 * MIB, FLAGS, file_len);
    v[0..2].copy_from_slice(b"MZ");
    let pe = 0x40usize;
    v[0x3c..0x40].copy_from_slice(&(pe as u32).to_le_bytes());
    v[pe..pe + 4].copy_from_slice(b"PE\0\0");
    v[pe + 6..pe + 8].copy_from_slice(&1u16.to_le_bytes()); // one section
    v[pe + 20..pe + 22].copy_from_slice(&0u16.to_le_bytes()); // no optional header
    let s = pe + 24;
    v[s..s + 40].fill(0);
    v[s..s + 5].copy_from_slice(b".text");
    v[s + 16..s + 20].copy_from_slice(&(section_end - 0x1000).to_le_bytes());
    v[s + 20..s + 24].copy_from_slice(&0x1000u32.to_le_bytes());
    v
}

/// A DTB with a memory node and, optionally, `/chosen` initrd properties.
pub fn dtb(initrd: Option<(u64, u64)>) -> Vec<u8> {
    let mut f = vm_fdt::FdtWriter::new().unwrap();
    let root = f.begin_node("").unwrap();
    f.property_u32("#address-cells", 2).unwrap();
    f.property_u32("#size-cells", 2).unwrap();
    let mem = f.begin_node("memory@40000000").unwrap();
    f.property_string("device_type", "memory").unwrap();
    f.property_array_u64("reg", &[RAM, RAM_SIZE]).unwrap();
    f.end_node(mem).unwrap();
    let chosen = f.begin_node("chosen").unwrap();
    f.property_string("bootargs", "console=ttyAMA0").unwrap();
    if let Some((s, e)) = initrd {
        f.property_u64("linux,initrd-start", s).unwrap();
        f.property_u64("linux,initrd-end", e).unwrap();
    }
    f.end_node(chosen).unwrap();
    f.end_node(root).unwrap();
    f.finish().unwrap()
}

/// A 64-bit little-endian aarch64 ELF `vmlinux` with two PT_LOAD segments
/// at kernel virtual addresses: text (starting with an Image header) and
/// data with `bss` bytes of BSS. Returns (elf, text bytes, data bytes).
pub fn vmlinux(
    text_len: usize,
    gap: u64,
    data_len: usize,
    bss: u64,
) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    const VBASE: u64 = 0xffff_8000_1000_0000;
    let image_size = text_len as u64 + gap + data_len as u64 + bss;
    let text = image(0, image_size, FLAGS, text_len);
    let data: Vec<u8> = (0..data_len).map(|i| (i % 251) as u8 ^ 0x5a).collect();
    let phoff = 64u64;
    let text_off = 0x1000u64;
    let data_off = text_off + text_len as u64;
    let mut e = vec![0u8; data_off as usize + data_len];
    e[0..4].copy_from_slice(b"\x7fELF");
    e[4] = 2; // 64-bit
    e[5] = 1; // little-endian
    e[6] = 1;
    e[16..18].copy_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    e[18..20].copy_from_slice(&183u16.to_le_bytes()); // EM_AARCH64
    e[20..24].copy_from_slice(&1u32.to_le_bytes());
    e[24..32].copy_from_slice(&VBASE.to_le_bytes()); // e_entry = _text
    e[32..40].copy_from_slice(&phoff.to_le_bytes());
    e[52..54].copy_from_slice(&64u16.to_le_bytes()); // e_ehsize
    e[54..56].copy_from_slice(&56u16.to_le_bytes()); // e_phentsize
    e[56..58].copy_from_slice(&2u16.to_le_bytes()); // e_phnum
    let ph = |e: &mut Vec<u8>, i: usize, off: u64, va: u64, filesz: u64, memsz: u64| {
        let p = phoff as usize + 56 * i;
        e[p..p + 4].copy_from_slice(&1u32.to_le_bytes()); // PT_LOAD
        e[p + 4..p + 8].copy_from_slice(&7u32.to_le_bytes());
        e[p + 8..p + 16].copy_from_slice(&off.to_le_bytes());
        e[p + 16..p + 24].copy_from_slice(&va.to_le_bytes());
        e[p + 24..p + 32].copy_from_slice(&va.to_le_bytes());
        e[p + 32..p + 40].copy_from_slice(&filesz.to_le_bytes());
        e[p + 40..p + 48].copy_from_slice(&memsz.to_le_bytes());
        e[p + 48..p + 56].copy_from_slice(&0x1000u64.to_le_bytes());
    };
    ph(&mut e, 0, text_off, VBASE, text_len as u64, text_len as u64);
    let dva = VBASE + text_len as u64 + gap;
    ph(
        &mut e,
        1,
        data_off,
        dva,
        data_len as u64,
        data_len as u64 + bss,
    );
    e[text_off as usize..data_off as usize].copy_from_slice(&text);
    e[data_off as usize..].copy_from_slice(&data);
    (e, text, data)
}
