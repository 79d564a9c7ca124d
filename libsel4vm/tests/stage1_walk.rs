//! The guest stage-1 walk (`arch::stage1::translate`) against page tables
//! built for each test: every granule, both TTBRs, blocks and pages, and
//! each way a walk fails.

use std::collections::HashMap;

use sel4vm::arch::stage1::{translate, Granule, Stage1Regs, WalkError, SCTLR_EE, SCTLR_M};

/// Guest-physical memory holding page tables: 8-byte words by address.
#[derive(Default)]
struct Tables {
    words: HashMap<u64, u64>,
    next: u64,
}

const AF: u64 = 1 << 10;
const IPS_48: u64 = 5 << 32;

impl Tables {
    fn new() -> Self {
        Self {
            words: HashMap::new(),
            next: 0x4010_0000,
        }
    }

    fn table(&mut self, g: Granule) -> u64 {
        let size = 1u64 << g.shift();
        self.next = self.next.next_multiple_of(size);
        let t = self.next;
        self.next += size;
        t
    }

    fn set(&mut self, at: u64, desc: u64) {
        self.words.insert(at, desc);
    }

    /// Maps `va` to `out` with a leaf at `leaf` (3: page, else block),
    /// creating tables below `root` as needed.
    fn map(&mut self, g: Granule, va_bits: u32, root: u64, va: u64, out: u64, leaf: u32) {
        let (shift, stride) = (g.shift(), g.stride());
        let levels = (va_bits - shift).div_ceil(stride);
        let start = 4 - levels;
        let mut table = root;
        for level in start..=leaf {
            let lshift = shift + stride * (3 - level);
            let bits = if level == start {
                va_bits - lshift
            } else {
                stride
            };
            let at = table + ((va >> lshift) & ((1 << bits) - 1)) * 8;
            if level == leaf {
                let kind = if level == 3 { 3 } else { 1 };
                self.set(at, (out & !((1u64 << lshift) - 1)) | AF | kind);
                return;
            }
            table = match self.words.get(&at) {
                Some(d) => d & 0x0000_ffff_ffff_f000,
                None => {
                    let t = self.table(g);
                    self.set(at, t | 3);
                    t
                }
            };
        }
    }

    fn walk(&self, regs: &Stage1Regs, va: u64) -> Result<u64, WalkError> {
        translate(regs, va, |a| Some(*self.words.get(&a).unwrap_or(&0)))
    }
}

fn tcr0(g: Granule, t0sz: u64) -> u64 {
    let tg0 = match g {
        Granule::K4 => 0,
        Granule::K64 => 1,
        Granule::K16 => 2,
    };
    IPS_48 | (tg0 << 14) | t0sz
}

fn tcr1(g: Granule, t1sz: u64) -> u64 {
    let tg1 = match g {
        Granule::K16 => 1,
        Granule::K4 => 2,
        Granule::K64 => 3,
    };
    (tg1 << 30) | (t1sz << 16)
}

#[test]
fn mmu_off_is_the_identity() {
    let regs = Stage1Regs::default();
    assert_eq!(translate(&regs, 0x4000_1234, |_| None), Ok(0x4000_1234));
}

/// 4 KiB granule, 48-bit VA: four levels with the indices written out.
#[test]
fn four_k_four_levels_by_hand() {
    let mut m = Tables::new();
    let (l0, l1, l2, l3) = (0x4100_0000u64, 0x4100_1000, 0x4100_2000, 0x4100_3000);
    let va = 0x0000_1234_5678_9abcu64;
    m.set(l0 + ((va >> 39) & 0x1ff) * 8, l1 | 3);
    m.set(l1 + ((va >> 30) & 0x1ff) * 8, l2 | 3);
    m.set(l2 + ((va >> 21) & 0x1ff) * 8, l3 | 3);
    m.set(l3 + ((va >> 12) & 0x1ff) * 8, 0x4020_7000 | AF | 3);
    let regs = Stage1Regs {
        sctlr: SCTLR_M,
        tcr: tcr0(Granule::K4, 16),
        // An ASID in the top bits is not part of the address.
        ttbr0: (0x42u64 << 48) | l0,
        ttbr1: 0,
    };
    assert_eq!(m.walk(&regs, va), Ok(0x4020_7abc));
    // The neighbouring page has no descriptor.
    assert_eq!(
        m.walk(&regs, va + 0x1000),
        Err(WalkError::Translation { level: 3, desc: 0 })
    );
}

/// 16 KiB granule, 48-bit VA: level 0 has two entries (bit 47).
#[test]
fn sixteen_k_with_a_two_entry_level_zero() {
    let mut m = Tables::new();
    let (l0, l1, l2, l3) = (0x4100_0000u64, 0x4100_4000, 0x4100_8000, 0x4100_c000);
    let va = 0x0000_8765_4321_2345u64;
    m.set(l0 + ((va >> 47) & 1) * 8, l1 | 3);
    m.set(l1 + ((va >> 36) & 0x7ff) * 8, l2 | 3);
    m.set(l2 + ((va >> 25) & 0x7ff) * 8, l3 | 3);
    m.set(l3 + ((va >> 14) & 0x7ff) * 8, 0x4024_0000 | AF | 3);
    let regs = Stage1Regs {
        sctlr: SCTLR_M,
        tcr: tcr0(Granule::K16, 16),
        ttbr0: l0,
        ttbr1: 0,
    };
    assert_eq!(m.walk(&regs, va), Ok(0x4024_0000 | (va & 0x3fff)));
}

/// 64 KiB granule, 42-bit VA: two levels, a 512 MiB block at level 2.
#[test]
fn sixty_four_k_block_and_page_by_hand() {
    let mut m = Tables::new();
    let (l2, l3) = (0x4100_0000u64, 0x4101_0000);
    let page_va = 0x0000_0123_4567_8abcu64 & ((1 << 42) - 1);
    let block_va = 0x0000_0200_1234_5678u64;
    m.set(l2 + ((page_va >> 29) & 0x1fff) * 8, l3 | 3);
    m.set(l3 + ((page_va >> 16) & 0x1fff) * 8, 0x4103_0000 | AF | 3);
    m.set(l2 + ((block_va >> 29) & 0x1fff) * 8, 0x6000_0000 | AF | 1);
    let regs = Stage1Regs {
        sctlr: SCTLR_M,
        tcr: tcr0(Granule::K64, 22),
        ttbr0: l2,
        ttbr1: 0,
    };
    assert_eq!(m.walk(&regs, page_va), Ok(0x4103_0000 | (page_va & 0xffff)));
    assert_eq!(
        m.walk(&regs, block_va),
        Ok(0x6000_0000 | (block_va & 0x1fff_ffff))
    );
}

/// Every granule and VA size, both halves, pages and every allowed block
/// level, against the builder.
#[test]
fn all_granules_both_halves_pages_and_blocks() {
    for g in [Granule::K4, Granule::K16, Granule::K64] {
        for tsz in [16u64, 25, 33, 39] {
            let va_bits = 64 - tsz as u32;
            let levels = (va_bits - g.shift()).div_ceil(g.stride());
            let start = 4 - levels;
            let first_block = if g == Granule::K4 { 1 } else { 2 };
            let mut n = 0;
            for leaf in start.max(first_block)..=3 {
                // Fresh tables per leaf level: a block high up would cover
                // the other cases' addresses.
                let mut m = Tables::new();
                let (root0, root1) = (m.table(g), m.table(g));
                let regs = Stage1Regs {
                    sctlr: SCTLR_M,
                    tcr: tcr0(g, tsz) | tcr1(g, tsz),
                    ttbr0: root0,
                    ttbr1: root1,
                };
                let span = 1u64 << (g.shift() + g.stride() * (3 - leaf));
                for (i, half) in [0u64, 1].into_iter().enumerate() {
                    // Distinct, in-range VAs per case: n in the top bits.
                    let off = ((n as u64 + 1) << (va_bits - 3))
                        | (0x0123_4567_89ab_u64 & ((1u64 << (va_bits - 3)) - 1));
                    let va = if half == 1 {
                        !((1u64 << va_bits) - 1) | off
                    } else {
                        off
                    };
                    let out = 0x8000_0000 + span * (2 * n as u64 + i as u64 + 1);
                    let root = if half == 1 { root1 } else { root0 };
                    m.map(g, va_bits, root, va, out, leaf);
                    let want = (out & !(span - 1)) | (va & (span - 1));
                    assert_eq!(
                        m.walk(&regs, va),
                        Ok(want),
                        "{g:?} T{half}SZ={tsz} leaf level {leaf} va {va:#x}"
                    );
                }
                n += 1;
            }
            assert!(n >= 1, "{g:?}/{tsz}: no case ran");
        }
    }
}

#[test]
fn failures_are_the_faults_the_guest_mmu_would_raise() {
    let g = Granule::K4;
    let mut m = Tables::new();
    let root = m.table(g);
    let regs = Stage1Regs {
        sctlr: SCTLR_M,
        tcr: tcr0(g, 25) | tcr1(g, 25),
        ttbr0: root,
        ttbr1: root,
    };
    // Not canonical for a 39-bit range.
    assert_eq!(
        m.walk(&regs, 0x0000_8000_0000_0000),
        Err(WalkError::OutOfRange {
            va: 0x0000_8000_0000_0000
        })
    );
    // Top-byte-ignore for TTBR0 lets a tagged address through.
    m.map(g, 39, root, 0x1000, 0x4000_0000, 3);
    let tagged = 0x5a00_0000_0000_1000;
    assert!(matches!(
        m.walk(&regs, tagged),
        Err(WalkError::OutOfRange { .. })
    ));
    let tbi = Stage1Regs {
        tcr: regs.tcr | (1 << 37),
        ..regs
    };
    assert_eq!(m.walk(&tbi, tagged), Ok(0x4000_0000));
    // EPD1 disables TTBR1 walks.
    let epd1 = Stage1Regs {
        tcr: regs.tcr | (1 << 23),
        ..regs
    };
    assert_eq!(
        m.walk(&epd1, 0xffff_ffff_ffff_f000),
        Err(WalkError::WalkDisabled { ttbr: 1 })
    );
    // TG1 == 0 is reserved.
    let bad_tg1 = Stage1Regs {
        tcr: regs.tcr & !(3 << 30),
        ..regs
    };
    assert_eq!(
        m.walk(&bad_tg1, 0xffff_ffff_ffff_f000),
        Err(WalkError::ReservedGranule { ttbr: 1 })
    );
    // A block at level 3 (bits 1:0 == 0b01) is reserved.
    let l1 = root + 8; // VA 1 GiB: index 1 at level 1.
    let l2 = m.table(g);
    let l3 = m.table(g);
    m.set(l1, l2 | 3);
    m.set(l2, l3 | 3);
    m.set(l3, 0x4000_0000 | AF | 1);
    assert_eq!(
        m.walk(&regs, 0x4000_0000),
        Err(WalkError::Translation {
            level: 3,
            desc: 0x4000_0000 | AF | 1
        })
    );
    // No block at level 0 with 4 KiB pages (48-bit VA starts there).
    let mut m = Tables::new();
    let root = m.table(g);
    m.set(root, AF | 1);
    let r48 = Stage1Regs {
        tcr: tcr0(g, 16),
        ttbr0: root,
        ..regs
    };
    assert_eq!(
        m.walk(&r48, 0x1000),
        Err(WalkError::Translation {
            level: 0,
            desc: AF | 1
        })
    );
    // A descriptor outside guest RAM.
    let unreadable = translate(&r48, 0x1000, |_| None);
    assert_eq!(unreadable, Err(WalkError::Unreadable { ipa: root }));
    // An output beyond IPS (32 bits here).
    let mut m = Tables::new();
    let root = m.table(g);
    m.map(g, 39, root, 0x2000, 0x1_0000_0000, 3);
    let ips32 = Stage1Regs {
        tcr: tcr0(g, 25) & !(7 << 32),
        ttbr0: root,
        ..regs
    };
    assert_eq!(
        m.walk(&ips32, 0x2000),
        Err(WalkError::AddressSize {
            addr: 0x1_0000_0000
        })
    );
}

#[test]
fn big_endian_tables_are_byte_swapped() {
    let g = Granule::K4;
    let mut m = Tables::new();
    let root = m.table(g);
    m.map(g, 39, root, 0x5000, 0x4567_8000, 3);
    let swapped: HashMap<u64, u64> = m.words.iter().map(|(a, d)| (*a, d.swap_bytes())).collect();
    let regs = Stage1Regs {
        sctlr: SCTLR_M | SCTLR_EE,
        tcr: tcr0(g, 25),
        ttbr0: root,
        ttbr1: 0,
    };
    let got = translate(&regs, 0x5123, |a| Some(*swapped.get(&a).unwrap_or(&0)));
    assert_eq!(got, Ok(0x4567_8123));
}
