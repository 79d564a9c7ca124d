//! The boot parameter block: round trip, planning, and rejection of bad blocks.

use sel4vm_root_task::bootparams::{
    plan, BootParams, ParamError, FLAG_CONSOLE_PASSTHROUGH, FLAG_IN_RAM, FLAG_RAM_ANYWHERE,
    FLAG_STATS, PARAMS_ADDR, PRISTINE_BASE, STAGING_END, VERSION,
};
use sel4vm_root_task::{ConsoleMode, GicVersion, RamBacking};

fn header(image_size: u64) -> Vec<u8> {
    let mut h = vec![0u8; 4096];
    h[16..24].copy_from_slice(&image_size.to_le_bytes());
    h[24..32].copy_from_slice(&0b1010u64.to_le_bytes());
    h[0x38..0x3c].copy_from_slice(b"ARMd");
    h
}

fn sample() -> BootParams {
    BootParams {
        vcpus: 2,
        cmdline: "console=ttyAMA0 rdinit=/init".into(),
        kernel: (PRISTINE_BASE, 32 << 20),
        initrd: (PRISTINE_BASE + (34 << 20), 1_848_400),
        in_ram: Some((0x4020_0000, 0x4fc0_0000)),
        ram_anywhere: false,
        console: ConsoleMode::Virtio,
        stats: false,
    }
}

#[test]
fn round_trip() {
    let p = sample();
    let mut page = p.encode();
    page.resize(4096, 0xff); // the rest of the page is whatever was there
    assert_eq!(BootParams::decode(&page), Ok(p.clone()));
    let none = BootParams {
        in_ram: None,
        initrd: (0, 0),
        ..p
    };
    assert_eq!(BootParams::decode(&none.encode()), Ok(none));
}

/// Each flag round-trips on its own and together, lands in its own bit and
/// reaches the configuration the VMM builds.
#[test]
fn flags_round_trip_and_reach_the_config() {
    let flags_of = |p: &BootParams| {
        let b = p.encode();
        u32::from_le_bytes(b[24..28].try_into().unwrap())
    };
    let combos = (0..8).map(|i| {
        let console = if i & 2 != 0 {
            ConsoleMode::Passthrough
        } else {
            ConsoleMode::Virtio
        };
        (i & 1 != 0, console, i & 4 != 0)
    });
    for (ram_anywhere, console, stats) in combos {
        let p = BootParams {
            ram_anywhere,
            console,
            stats,
            ..sample()
        };
        let decoded = BootParams::decode(&p.encode()).unwrap();
        assert_eq!(decoded, p);
        let want = FLAG_IN_RAM
            | if ram_anywhere { FLAG_RAM_ANYWHERE } else { 0 }
            | if console == ConsoleMode::Passthrough {
                FLAG_CONSOLE_PASSTHROUGH
            } else {
                0
            }
            | if stats { FLAG_STATS } else { 0 };
        assert_eq!(flags_of(&p), want);
        let cfg = decoded.config(GicVersion::V2);
        assert_eq!(cfg.console, console);
        assert_eq!(
            cfg.ram_backing,
            if ram_anywhere {
                RamBacking::Anywhere
            } else {
                RamBacking::OneToOne
            }
        );
    }
    let flags = [
        FLAG_IN_RAM,
        FLAG_RAM_ANYWHERE,
        FLAG_CONSOLE_PASSTHROUGH,
        FLAG_STATS,
    ];
    for (i, a) in flags.iter().enumerate() {
        assert_eq!(a.count_ones(), 1, "one bit each");
        for b in &flags[i + 1..] {
            assert_eq!(a & b, 0, "distinct bits");
        }
    }
    assert_eq!(FLAG_STATS, 8);
}

/// A block written before the console flag existed (same version, bit 2
/// clear) decodes to the virtio console: the flag is a compatible addition.
#[test]
fn console_flag_is_compatible() {
    assert_eq!(VERSION, 1);
    let mut p = sample();
    p.console = ConsoleMode::Passthrough;
    let mut b = p.encode();
    // Clear the flag by hand and fix the checksum as an old writer would.
    let flags = u32::from_le_bytes(b[24..28].try_into().unwrap()) & !FLAG_CONSOLE_PASSTHROUGH;
    b[24..28].copy_from_slice(&flags.to_le_bytes());
    b[16..20].fill(0);
    let sum = b.iter().fold(0x811c_9dc5u32, |h, &x| {
        (h ^ u32::from(x)).wrapping_mul(0x0100_0193)
    });
    b[16..20].copy_from_slice(&sum.to_le_bytes());
    let old = BootParams::decode(&b).unwrap();
    assert_eq!(old.console, ConsoleMode::Virtio);
    assert_eq!(old.config(GicVersion::V2).console, ConsoleMode::Virtio);
}

/// Likewise the statistics flag: a block without bit 3 (as written before
/// the flag existed, and by `plan`) asks for no statistics.
#[test]
fn stats_flag_is_compatible() {
    let p = BootParams {
        stats: true,
        ..sample()
    };
    let mut b = p.encode();
    let flags = u32::from_le_bytes(b[24..28].try_into().unwrap());
    assert_ne!(flags & FLAG_STATS, 0);
    b[24..28].copy_from_slice(&(flags & !FLAG_STATS).to_le_bytes());
    b[16..20].fill(0);
    let sum = b.iter().fold(0x811c_9dc5u32, |h, &x| {
        (h ^ u32::from(x)).wrapping_mul(0x0100_0193)
    });
    b[16..20].copy_from_slice(&sum.to_le_bytes());
    let old = BootParams::decode(&b).unwrap();
    assert!(!old.stats);
    assert_eq!(old, sample());
    let (planned, _, _) = plan(&header(0x201_0000), 32 << 20, 0, 1, "").unwrap();
    assert!(!planned.stats, "plan asks for no statistics");
}

#[test]
fn bad_blocks_are_rejected() {
    let good = sample().encode();
    assert_eq!(BootParams::decode(&vec![0; 4096]), Err(ParamError::Missing));
    assert_eq!(BootParams::decode(&good[..40]), Err(ParamError::Missing));
    let mut flipped = good.clone();
    *flipped.last_mut().unwrap() ^= 1;
    assert_eq!(BootParams::decode(&flipped), Err(ParamError::Checksum));
    let mut v = good.clone();
    v[8] = 2;
    assert_eq!(BootParams::decode(&v), Err(ParamError::Version(2)));
    assert_eq!(
        BootParams::decode(&good[..good.len() - 1]),
        Err(ParamError::Size(good.len() as u32))
    );
    let reencode = |f: &dyn Fn(&mut BootParams)| {
        let mut p = sample();
        f(&mut p);
        BootParams::decode(&p.encode())
    };
    assert_eq!(reencode(&|p| p.vcpus = 0), Err(ParamError::Vcpus(0)));
    assert_eq!(reencode(&|p| p.vcpus = 5), Err(ParamError::Vcpus(5)));
    assert_eq!(
        reencode(&|p| p.cmdline = "a\0b".into()),
        Err(ParamError::Cmdline)
    );
    assert_eq!(
        reencode(&|p| p.kernel = (0x4000_0000, 4096)),
        Err(ParamError::Range)
    );
    assert_eq!(
        reencode(&|p| p.kernel = (PRISTINE_BASE, 0)),
        Err(ParamError::Range)
    );
    assert_eq!(
        reencode(&|p| p.initrd = (STAGING_END - 10, 11)),
        Err(ParamError::Range)
    );
    assert_eq!(
        reencode(&|p| p.initrd = (PRISTINE_BASE + 4096, 10)),
        Err(ParamError::Range)
    );
    assert_eq!(
        reencode(&|p| p.kernel = (u64::MAX - 1, 4)),
        Err(ParamError::Range)
    );
}

#[test]
fn plan_matches_the_vmm_layout() {
    let (params, layout, places) = plan(
        &header(0x201_0000),
        32_956_352,
        1_848_400,
        2,
        "console=ttyAMA0",
    )
    .unwrap();
    assert_eq!(places[0].addr, PARAMS_ADDR);
    assert_eq!(params.kernel, (PRISTINE_BASE, 32_956_352));
    assert!(params.initrd.0.is_multiple_of(2 << 20));
    assert!(params.initrd.0 >= PRISTINE_BASE + 32_956_352);
    // The VMM derives the same layout from the decoded block.
    let decoded = BootParams::decode(&params.encode()).unwrap();
    let cfg = decoded.config(GicVersion::V3);
    assert_eq!(cfg.ram_backing, RamBacking::OneToOne);
    assert_eq!(cfg.console, ConsoleMode::Virtio);
    let k = sel4vm_root_task::KernelHeader::parse(&header(0x201_0000), 32_956_352).unwrap();
    assert_eq!(cfg.layout(&k).unwrap(), layout);
    assert_eq!(
        decoded.in_ram,
        Some((layout.entry, layout.initrd.unwrap().0))
    );
    // Placements: params, kernel twice, initrd twice, none overlapping.
    assert_eq!(places.len(), 5);
    assert!(
        plan(&[0u8; 4096], 32 << 20, 0, 1, "").is_err(),
        "not a kernel"
    );
    assert!(
        plan(&header(0x201_0000), 32 << 20, 100 << 20, 1, "").is_err(),
        "initrd too big for staging"
    );
}
