//! GICv2 distributor: bit-level register semantics, banking, widths and bad input.

use sel4vm::arch::AccessSize::{self, Byte, Double, Half, Word};
use sel4vm::vgic::{regs, Effect, Vgic, VgicConfig, VgicError};
use sel4vm::VcpuId;

const V0: VcpuId = VcpuId(0);
const V1: VcpuId = VcpuId(1);

fn vgic(n: u32) -> Vgic {
    Vgic::new(VgicConfig::v2(n)).unwrap()
}

fn rd(g: &mut Vgic, v: VcpuId, off: u64, s: AccessSize) -> u64 {
    g.dist_read(v, off, s).unwrap()
}

fn wr(g: &mut Vgic, v: VcpuId, off: u64, s: AccessSize, val: u64) -> Vec<Effect> {
    let mut out = Vec::new();
    g.dist_write(v, off, s, val, &mut out).unwrap();
    g.check_invariants().unwrap();
    out
}

fn injected(out: &[Effect]) -> Vec<(u32, u32, u8)> {
    out.iter()
        .filter_map(|e| match e {
            Effect::Inject { vcpu, injection } => Some((vcpu.0, injection.irq, injection.lr)),
            _ => None,
        })
        .collect()
}

#[test]
fn identification_registers() {
    let mut g = vgic(2);
    // 256 INTIDs -> ITLinesNumber 7; 2 CPUs -> CPUNumber 1; no security extensions.
    assert_eq!(rd(&mut g, V0, regs::GICD_TYPER, Word), 7 | (1 << 5));
    assert_eq!(rd(&mut g, V0, regs::GICD_IIDR, Word), u64::from(regs::IIDR));
    // PIDR2.ArchRev = 2 for GICv2.
    assert_eq!(rd(&mut g, V0, 0xfe8, Word) >> 4 & 0xf, 2);
    assert_eq!(rd(&mut g, V0, 0xff0, Word), 0x0d);
    assert_eq!(rd(&mut g, V0, 0xffc, Word), 0xb1);
}

#[test]
fn num_irqs_rounds_up_and_typer_follows() {
    let mut g = Vgic::new(VgicConfig {
        num_irqs: 70,
        ..VgicConfig::v2(1)
    })
    .unwrap();
    assert_eq!(g.config().num_irqs, 96);
    assert_eq!(rd(&mut g, V0, regs::GICD_TYPER, Word), 2);
}

#[test]
fn invalid_configs_rejected() {
    for cfg in [
        VgicConfig::v2(0),
        VgicConfig::v2(9),
        VgicConfig {
            num_list_registers: 0,
            ..VgicConfig::v2(1)
        },
        VgicConfig {
            num_list_registers: 65,
            ..VgicConfig::v2(1)
        },
        VgicConfig {
            num_irqs: 16,
            ..VgicConfig::v2(1)
        },
        VgicConfig {
            num_irqs: 1021,
            ..VgicConfig::v2(1)
        },
    ] {
        assert_eq!(
            Vgic::new(cfg).unwrap_err(),
            VgicError::InvalidConfig,
            "{cfg:?}"
        );
    }
}

#[test]
fn ctlr_only_enable_bits_writable() {
    let mut g = vgic(1);
    wr(&mut g, V0, regs::GICD_CTLR, Word, 0xffff_ffff);
    assert_eq!(rd(&mut g, V0, regs::GICD_CTLR, Word), 3);
    wr(&mut g, V0, regs::GICD_CTLR, Word, 2);
    assert_eq!(rd(&mut g, V0, regs::GICD_CTLR, Word), 2);
    assert_eq!(g.distributor_enabled(), (false, true));
}

#[test]
fn read_only_registers_reject_writes_and_keep_value() {
    let mut g = vgic(2);
    let typer = rd(&mut g, V0, regs::GICD_TYPER, Word);
    let mut out = Vec::new();
    assert_eq!(
        g.dist_write(V0, regs::GICD_TYPER, Word, 0, &mut out),
        Err(VgicError::ReadOnly {
            offset: regs::GICD_TYPER
        })
    );
    assert_eq!(
        g.dist_write(V0, regs::GICD_IIDR, Word, 0, &mut out),
        Err(VgicError::ReadOnly { offset: 8 })
    );
    assert_eq!(
        g.dist_write(V0, 0xfe8, Word, 0, &mut out),
        Err(VgicError::ReadOnly { offset: 0xfe8 })
    );
    assert_eq!(rd(&mut g, V0, regs::GICD_TYPER, Word), typer);
    assert!(out.is_empty());
}

#[test]
fn set_and_clear_enable_semantics() {
    let mut g = vgic(1);
    let isen1 = regs::GICD_ISENABLER + 4;
    let icen1 = regs::GICD_ICENABLER + 4;
    wr(&mut g, V0, isen1, Word, 0b1010);
    // Writing zeros to a set register changes nothing.
    wr(&mut g, V0, isen1, Word, 0);
    assert_eq!(rd(&mut g, V0, isen1, Word), 0b1010);
    assert_eq!(rd(&mut g, V0, icen1, Word), 0b1010);
    wr(&mut g, V0, icen1, Word, 0b0010);
    assert_eq!(rd(&mut g, V0, isen1, Word), 0b1000);
    assert!(g.irq_status(V0, 35).unwrap().enabled);
    assert!(!g.irq_status(V0, 33).unwrap().enabled);
}

#[test]
fn private_interrupts_are_banked_per_vcpu() {
    let mut g = vgic(2);
    wr(&mut g, V0, regs::GICD_ISENABLER, Word, 0x0800_0001); // SGI 0 and PPI 27 on vcpu0
    wr(&mut g, V1, regs::GICD_ISENABLER, Word, 0x0000_0002);
    assert_eq!(rd(&mut g, V0, regs::GICD_ISENABLER, Word), 0x0800_0001);
    assert_eq!(rd(&mut g, V1, regs::GICD_ISENABLER, Word), 0x0000_0002);
    // SPIs are shared.
    wr(&mut g, V1, regs::GICD_ISENABLER + 4, Word, 1);
    assert_eq!(rd(&mut g, V0, regs::GICD_ISENABLER + 4, Word), 1);
    // Priorities too.
    wr(&mut g, V0, regs::GICD_IPRIORITYR + 27, Byte, 0x40);
    assert_eq!(rd(&mut g, V0, regs::GICD_IPRIORITYR + 27, Byte), 0x40);
    assert_eq!(rd(&mut g, V1, regs::GICD_IPRIORITYR + 27, Byte), 0);
}

#[test]
fn group_register_read_write() {
    let mut g = vgic(1);
    wr(&mut g, V0, regs::GICD_IGROUPR + 4, Word, 0xdead_beef);
    assert_eq!(rd(&mut g, V0, regs::GICD_IGROUPR + 4, Word), 0xdead_beef);
    // Group is a plain register: zeros clear.
    wr(&mut g, V0, regs::GICD_IGROUPR + 4, Word, 0x0000_00ff);
    assert_eq!(rd(&mut g, V0, regs::GICD_IGROUPR + 4, Word), 0xff);
}

#[test]
fn priority_byte_and_word_access_with_five_bits() {
    let mut g = vgic(1);
    let p = regs::GICD_IPRIORITYR + 32;
    wr(&mut g, V0, p, Word, 0x1122_33ff);
    assert_eq!(rd(&mut g, V0, p, Word), 0x1020_30f8);
    assert_eq!(rd(&mut g, V0, p + 1, Byte), 0x30);
    wr(&mut g, V0, p + 2, Byte, 0xa7);
    assert_eq!(rd(&mut g, V0, p, Word), 0x10a0_30f8);
    assert_eq!(g.irq_status(V0, 34).unwrap().priority, 0xa0);
}

#[test]
fn wrong_widths_and_unaligned_accesses_are_refused_without_effect() {
    let mut g = vgic(1);
    let mut out = Vec::new();
    let p = regs::GICD_IPRIORITYR + 32;
    assert_eq!(
        g.dist_read(V0, p, Half),
        Err(VgicError::BadWidth {
            offset: p,
            size: Half
        })
    );
    assert_eq!(
        g.dist_read(V0, p, Double),
        Err(VgicError::BadWidth {
            offset: p,
            size: Double
        })
    );
    assert_eq!(
        g.dist_write(V0, p + 1, Word, 0xff, &mut out),
        Err(VgicError::Unaligned {
            offset: p + 1,
            size: Word
        })
    );
    // Bit registers are word-only.
    let isen = regs::GICD_ISENABLER + 4;
    assert_eq!(
        g.dist_write(V0, isen, Byte, 0xff, &mut out),
        Err(VgicError::BadWidth {
            offset: isen,
            size: Byte
        })
    );
    assert_eq!(
        g.dist_read(V0, regs::GICD_CTLR + 1, Half),
        Err(VgicError::Unaligned {
            offset: 1,
            size: Half
        })
    );
    assert_eq!(
        g.dist_read(V0, regs::GICD_CTLR + 2, Half),
        Err(VgicError::BadWidth {
            offset: 2,
            size: Half
        })
    );
    assert_eq!(rd(&mut g, V0, p, Word), 0);
    assert_eq!(rd(&mut g, V0, isen, Word), 0);
    assert!(out.is_empty());
}

#[test]
fn reserved_offsets_and_v3_only_registers() {
    let mut g = vgic(1);
    let mut out = Vec::new();
    for off in [
        0x00c, 0x010, 0x040, 0x7fc, 0xd00, 0xf04, 0xf30, 0x6100, 0x1000, !3u64,
    ] {
        assert_eq!(
            g.dist_read(V0, off, Word),
            Err(VgicError::Reserved { offset: off }),
            "{off:#x}"
        );
        assert_eq!(
            g.dist_write(V0, off, Word, 1, &mut out),
            Err(VgicError::Reserved { offset: off })
        );
    }
    // NSACR: RAZ/WI without security extensions.
    wr(&mut g, V0, regs::GICD_NSACR + 8, Word, 0xffff_ffff);
    assert_eq!(rd(&mut g, V0, regs::GICD_NSACR + 8, Word), 0);
    assert!(out.is_empty());
}

#[test]
fn out_of_range_interrupts_are_raz_wi() {
    let mut g = Vgic::new(VgicConfig {
        num_irqs: 64,
        ..VgicConfig::v2(1)
    })
    .unwrap();
    let isen2 = regs::GICD_ISENABLER + 8; // INTIDs 64..95: not implemented
    wr(&mut g, V0, isen2, Word, 0xffff_ffff);
    assert_eq!(rd(&mut g, V0, isen2, Word), 0);
    wr(&mut g, V0, regs::GICD_IPRIORITYR + 64, Word, 0xffff_ffff);
    assert_eq!(rd(&mut g, V0, regs::GICD_IPRIORITYR + 64, Word), 0);
    let mut out = Vec::new();
    assert_eq!(g.inject(V0, 64, &mut out), Err(VgicError::InvalidIrq(64)));
    assert_eq!(
        g.inject(V0, 1023, &mut out),
        Err(VgicError::InvalidIrq(1023))
    );
    assert_eq!(
        g.inject(VcpuId(1), 40, &mut out),
        Err(VgicError::InvalidVcpu(VcpuId(1)))
    );
    assert_eq!(
        g.dist_read(VcpuId(3), 0, Word),
        Err(VgicError::InvalidVcpu(VcpuId(3)))
    );
}

#[test]
fn targets_banked_read_only_and_masked() {
    let mut g = vgic(2);
    // ITARGETSR0..7 read as the reading CPU's own bit, in every byte.
    assert_eq!(rd(&mut g, V0, regs::GICD_ITARGETSR, Word), 0x0101_0101);
    assert_eq!(rd(&mut g, V1, regs::GICD_ITARGETSR + 28, Word), 0x0202_0202);
    wr(&mut g, V0, regs::GICD_ITARGETSR, Word, 0);
    assert_eq!(rd(&mut g, V0, regs::GICD_ITARGETSR, Word), 0x0101_0101);
    // SPI targets: only existing CPUs stick.
    wr(&mut g, V0, regs::GICD_ITARGETSR + 32, Word, 0xff02_0301);
    assert_eq!(rd(&mut g, V0, regs::GICD_ITARGETSR + 32, Word), 0x0302_0301);
    assert_eq!(rd(&mut g, V1, regs::GICD_ITARGETSR + 33, Byte), 0x03);
}

#[test]
fn uniprocessor_targets_raz_wi_and_spis_go_to_cpu0() {
    let mut g = vgic(1);
    wr(&mut g, V0, regs::GICD_ITARGETSR + 32, Word, 0x0101_0101);
    assert_eq!(rd(&mut g, V0, regs::GICD_ITARGETSR + 32, Word), 0);
    assert_eq!(rd(&mut g, V0, regs::GICD_ITARGETSR, Word), 0);
    wr(&mut g, V0, regs::GICD_CTLR, Word, 1);
    wr(&mut g, V0, regs::GICD_ISENABLER + 4, Word, 1 << 1);
    let mut out = Vec::new();
    g.inject(V0, 33, &mut out).unwrap();
    assert_eq!(injected(&out), vec![(0, 33, 0)]);
}

#[test]
fn icfgr_sgis_fixed_edge_spis_programmable() {
    let mut g = vgic(1);
    assert_eq!(rd(&mut g, V0, regs::GICD_ICFGR, Word), 0xaaaa_aaaa);
    wr(&mut g, V0, regs::GICD_ICFGR, Word, 0);
    assert_eq!(rd(&mut g, V0, regs::GICD_ICFGR, Word), 0xaaaa_aaaa);
    // PPIs and SPIs reset to level and take the edge bit (2n+1) only.
    assert_eq!(rd(&mut g, V0, regs::GICD_ICFGR + 8, Word), 0);
    wr(&mut g, V0, regs::GICD_ICFGR + 8, Word, 0xffff_ffff);
    assert_eq!(rd(&mut g, V0, regs::GICD_ICFGR + 8, Word), 0xaaaa_aaaa);
    assert!(g.irq_status(V0, 40).unwrap().edge);
    wr(&mut g, V0, regs::GICD_ICFGR + 4, Word, 1 << 23); // PPI 27: edge bit 2*11+1 of ICFGR1
    assert!(g.irq_status(V0, 27).unwrap().edge);
    assert!(!g.irq_status(V0, 26).unwrap().edge);
}

fn enabled_v2(n: u32) -> Vgic {
    let mut g = vgic(n);
    wr(&mut g, V0, regs::GICD_CTLR, Word, 1);
    for v in 0..n {
        wr(&mut g, VcpuId(v), regs::GICD_ISENABLER, Word, 0xffff);
    }
    g
}

#[test]
fn sgir_target_list_and_filters() {
    let mut g = enabled_v2(3);
    // Target list {1, 2}, SGI 5, from vcpu0.
    let out = wr(&mut g, V0, regs::GICD_SGIR, Word, (0b110 << 16) | 5);
    assert_eq!(injected(&out), vec![(1, 5, 0), (2, 5, 0)]);
    // Filter 1: everyone but the sender.
    let out = wr(&mut g, V1, regs::GICD_SGIR, Word, (1 << 24) | 6);
    assert_eq!(injected(&out), vec![(0, 6, 0), (2, 6, 1)]);
    // Filter 2: only the sender.
    let out = wr(&mut g, VcpuId(2), regs::GICD_SGIR, Word, (2 << 24) | 7);
    assert_eq!(injected(&out), vec![(2, 7, 2)]);
    // Filter 3 is reserved: nothing happens.
    let out = wr(&mut g, V0, regs::GICD_SGIR, Word, (3 << 24) | 0xff_0001);
    assert!(out.is_empty());
    // Targets beyond the CPU count are dropped.
    let out = wr(&mut g, V0, regs::GICD_SGIR, Word, (0xf8 << 16) | 1);
    assert!(out.is_empty());
    // Write-only.
    assert_eq!(
        g.dist_read(V0, regs::GICD_SGIR, Word),
        Err(VgicError::WriteOnly {
            offset: regs::GICD_SGIR
        })
    );
}

#[test]
fn sgi_pending_per_source_via_spendsgir_cpendsgir() {
    let mut g = vgic(2); // distributor disabled: nothing is forwarded
    wr(&mut g, V1, regs::GICD_SGIR, Word, (1 << 16) | 3); // vcpu1 -> vcpu0, SGI 3
    wr(&mut g, V0, regs::GICD_SGIR, Word, (1 << 16) | 3); // vcpu0 -> vcpu0, SGI 3
                                                          // SPENDSGIR0 byte 3 holds the source mask of SGI 3 on vcpu0.
    assert_eq!(rd(&mut g, V0, regs::GICD_SPENDSGIR, Word), 0x0300_0000);
    assert_eq!(rd(&mut g, V0, regs::GICD_CPENDSGIR + 3, Byte), 0x03);
    assert_eq!(rd(&mut g, V1, regs::GICD_SPENDSGIR, Word), 0);
    assert_eq!(rd(&mut g, V0, regs::GICD_ISPENDR, Word), 1 << 3);
    // ISPENDR/ICPENDR cannot change SGI state on GICv2.
    wr(&mut g, V0, regs::GICD_ICPENDR, Word, 0xffff);
    assert_eq!(rd(&mut g, V0, regs::GICD_ISPENDR, Word), 1 << 3);
    wr(&mut g, V0, regs::GICD_CPENDSGIR + 3, Byte, 0x01);
    assert_eq!(rd(&mut g, V0, regs::GICD_SPENDSGIR + 3, Byte), 0x02);
    wr(&mut g, V0, regs::GICD_CPENDSGIR, Word, 0xffff_ffff);
    assert_eq!(rd(&mut g, V0, regs::GICD_ISPENDR, Word), 0);
    // SPENDSGIR only accepts existing source CPUs.
    wr(&mut g, V1, regs::GICD_SPENDSGIR + 8, Byte, 0xff);
    assert_eq!(rd(&mut g, V1, regs::GICD_SPENDSGIR + 8, Byte), 0x03);
}

#[test]
fn sgi_from_two_sources_is_delivered_twice() {
    let mut g = enabled_v2(2);
    wr(&mut g, V0, regs::GICD_CTLR, Word, 0); // hold it
    wr(&mut g, V0, regs::GICD_SGIR, Word, (2 << 24) | 4);
    wr(&mut g, V1, regs::GICD_SGIR, Word, (1 << 16) | 4);
    let out = wr(&mut g, V0, regs::GICD_CTLR, Word, 1);
    assert_eq!(injected(&out), vec![(0, 4, 0)]);
    assert_eq!(rd(&mut g, V0, regs::GICD_SPENDSGIR + 4, Byte), 0x02);
    let mut out = Vec::new();
    g.maintenance(V0, Some(0), &mut out).unwrap();
    assert_eq!(out[0], Effect::Eoi { vcpu: V0, irq: 4 });
    assert_eq!(injected(&out), vec![(0, 4, 0)]);
    out.clear();
    g.maintenance(V0, Some(0), &mut out).unwrap();
    assert_eq!(out, vec![Effect::Eoi { vcpu: V0, irq: 4 }]);
    assert!(!g.has_inflight(V0));
}

#[test]
fn spi_routed_by_targets() {
    let mut g = enabled_v2(2);
    wr(&mut g, V0, regs::GICD_ISENABLER + 4, Word, 1 << 8); // SPI 40
    let mut out = Vec::new();
    // No target yet: stays pending, not forwarded.
    g.inject(V0, 40, &mut out).unwrap();
    assert!(out.is_empty());
    assert_eq!(rd(&mut g, V0, regs::GICD_ISPENDR + 4, Word), 1 << 8);
    let out = wr(&mut g, V0, regs::GICD_ITARGETSR + 40, Byte, 0x02);
    assert_eq!(injected(&out), vec![(1, 40, 0)]);
    assert_eq!(g.list_registers(V1), &[Some(40), None, None, None]);
}

#[test]
fn retargeting_a_queued_spi_moves_it() {
    let mut g = Vgic::new(VgicConfig {
        num_list_registers: 1,
        ..VgicConfig::v2(2)
    })
    .unwrap();
    wr(&mut g, V0, regs::GICD_CTLR, Word, 1);
    wr(&mut g, V0, regs::GICD_ISENABLER + 4, Word, 0b11);
    wr(&mut g, V0, regs::GICD_ITARGETSR + 32, Word, 0x0101);
    let mut out = Vec::new();
    g.inject(V0, 32, &mut out).unwrap();
    g.inject(V0, 33, &mut out).unwrap();
    assert_eq!(g.queued(V0), vec![33]);
    let out = wr(&mut g, V0, regs::GICD_ITARGETSR + 33, Byte, 0x02);
    assert_eq!(injected(&out), vec![(1, 33, 0)]);
    assert!(g.queued(V0).is_empty());
}

#[test]
fn active_bits_set_and_clear() {
    let mut g = vgic(1);
    wr(&mut g, V0, regs::GICD_ISACTIVER + 4, Word, 0xf0);
    wr(&mut g, V0, regs::GICD_ICACTIVER + 4, Word, 0x30);
    assert_eq!(rd(&mut g, V0, regs::GICD_ISACTIVER + 4, Word), 0xc0);
    assert_eq!(rd(&mut g, V0, regs::GICD_ICACTIVER + 4, Word), 0xc0);
}
