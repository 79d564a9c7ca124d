//! GICv3: distributor under affinity routing, redistributors, ICC_SGI*R traps.

use sel4vm::arch::syndrome::{Syndrome, SysRegIss};
use sel4vm::arch::AccessSize::{self, Byte, Double, Word};
use sel4vm::vgic::{regs, Effect, SysRegOutcome, Vgic, VgicConfig, VgicError};
use sel4vm::VcpuId;

const V0: VcpuId = VcpuId(0);
const V1: VcpuId = VcpuId(1);
const SGI: u64 = regs::GICR_SGI_BASE;

fn vgic(n: u32) -> Vgic {
    Vgic::new(VgicConfig::v3(n)).unwrap()
}

fn drd(g: &mut Vgic, off: u64, s: AccessSize) -> u64 {
    g.dist_read(V0, off, s).unwrap()
}

fn dwr(g: &mut Vgic, off: u64, s: AccessSize, v: u64) -> Vec<Effect> {
    let mut out = Vec::new();
    g.dist_write(V0, off, s, v, &mut out).unwrap();
    g.check_invariants().unwrap();
    out
}

/// Redistributor access to vCPU `r`'s frames, made by vCPU 0.
fn rrd(g: &mut Vgic, r: u64, off: u64, s: AccessSize) -> u64 {
    g.redist_read(V0, r * regs::GICR_STRIDE + off, s).unwrap()
}

fn rwr(g: &mut Vgic, r: u64, off: u64, s: AccessSize, v: u64) -> Vec<Effect> {
    let mut out = Vec::new();
    g.redist_write(V0, r * regs::GICR_STRIDE + off, s, v, &mut out)
        .unwrap();
    g.check_invariants().unwrap();
    out
}

fn injects(out: &[Effect]) -> Vec<(u32, u32)> {
    out.iter()
        .filter_map(|e| match e {
            Effect::Inject { vcpu, injection } => Some((vcpu.0, injection.irq)),
            _ => None,
        })
        .collect()
}

/// MSR ICC_SGI1R_EL1 / SGI0R / ASGI1R syndrome (write), Rt = x1.
fn sgi_iss(op2: u8, read: bool) -> SysRegIss {
    let iss: u32 =
        (3 << 20) | (u32::from(op2) << 17) | (12 << 10) | (1 << 5) | (11 << 1) | u32::from(read);
    match Syndrome::decode((0x18u64 << 26) | u64::from(iss)) {
        Syndrome::SysReg(s) => s,
        s => panic!("{s:?}"),
    }
}

/// All vCPUs: distributor groups on, SGIs/PPIs group 1 and enabled.
fn ready(n: u32) -> Vgic {
    let mut g = vgic(n);
    dwr(&mut g, regs::GICD_CTLR, Word, 3);
    for r in 0..u64::from(n) {
        rwr(&mut g, r, SGI + regs::GICD_IGROUPR, Word, 0xffff_ffff);
        rwr(&mut g, r, SGI + regs::GICD_ISENABLER, Word, 0xffff_ffff);
    }
    g
}

#[test]
fn distributor_identification_and_control() {
    let mut g = vgic(2);
    // ARE and DS read as one and cannot be cleared.
    dwr(&mut g, regs::GICD_CTLR, Word, 0);
    assert_eq!(
        drd(&mut g, regs::GICD_CTLR, Word),
        u64::from(regs::CTLR_ARE | regs::CTLR_DS)
    );
    dwr(&mut g, regs::GICD_CTLR, Word, 0xffff_ffff);
    assert_eq!(drd(&mut g, regs::GICD_CTLR, Word), 0x53);
    let typer = drd(&mut g, regs::GICD_TYPER, Word);
    assert_eq!(typer & 0x1f, 7, "ITLinesNumber");
    assert_eq!(typer >> 19 & 0x1f, 9, "IDbits: 10-bit INTIDs");
    assert_ne!(typer & u64::from(regs::TYPER_NO1N), 0);
    assert_eq!(typer & (1 << 17), 0, "no LPIs");
    assert_eq!(drd(&mut g, 0xffe8, Word) >> 4 & 0xf, 3, "PIDR2.ArchRev");
    assert_eq!(drd(&mut g, regs::GICD_TYPER2, Word), 0);
    assert_eq!(g.dist_size(), 0x10000);
    assert_eq!(g.redist_size(), 2 * 0x20000);
}

#[test]
fn private_interrupts_not_in_distributor() {
    let mut g = vgic(1);
    dwr(&mut g, regs::GICD_ISENABLER, Word, 0xffff_ffff);
    dwr(&mut g, regs::GICD_IPRIORITYR, Word, 0xffff_ffff);
    assert_eq!(drd(&mut g, regs::GICD_ISENABLER, Word), 0);
    assert_eq!(drd(&mut g, regs::GICD_IPRIORITYR, Word), 0);
    assert_eq!(rrd(&mut g, 0, SGI + regs::GICD_ISENABLER, Word), 0);
    // ITARGETSR, SGIR, xPENDSGIR and IGRPMODR are RAZ/WI under affinity routing.
    dwr(&mut g, regs::GICD_ITARGETSR + 32, Word, 0x0101_0101);
    assert_eq!(drd(&mut g, regs::GICD_ITARGETSR + 32, Word), 0);
    let out = dwr(&mut g, regs::GICD_SGIR, Word, (2 << 24) | 1);
    assert!(out.is_empty());
    assert_eq!(drd(&mut g, regs::GICD_SPENDSGIR, Byte), 0);
    dwr(&mut g, regs::GICD_IGRPMODR + 4, Word, 0xffff_ffff);
    assert_eq!(drd(&mut g, regs::GICD_IGRPMODR + 4, Word), 0);
    // SPIs are there.
    dwr(&mut g, regs::GICD_ISENABLER + 4, Word, 0xf);
    assert_eq!(drd(&mut g, regs::GICD_ISENABLER + 4, Word), 0xf);
}

#[test]
fn irouter_widths_and_fields() {
    let mut g = vgic(2);
    let r40 = regs::GICD_IROUTER + 8 * 40;
    // IRM (bit 31) and non-affinity bits do not stick.
    dwr(&mut g, r40, Double, 0xffff_ffff_ffff_ffff);
    assert_eq!(drd(&mut g, r40, Double), 0xff_00ff_ffff);
    dwr(&mut g, r40, Word, 0x0000_0001);
    assert_eq!(drd(&mut g, r40, Double), 0xff_0000_0001);
    dwr(&mut g, r40 + 4, Word, 0);
    assert_eq!(drd(&mut g, r40, Double), 1);
    assert_eq!(drd(&mut g, r40, Word), 1);
    assert_eq!(drd(&mut g, r40 + 4, Word), 0);
    // IROUTER0..31 do not exist.
    dwr(&mut g, regs::GICD_IROUTER + 8, Double, 1);
    assert_eq!(drd(&mut g, regs::GICD_IROUTER + 8, Double), 0);
    // Byte access to IROUTER is not allowed; unaligned doubleword neither.
    assert_eq!(
        g.dist_read(V0, r40, Byte),
        Err(VgicError::BadWidth {
            offset: r40,
            size: Byte
        })
    );
    assert_eq!(
        g.dist_read(V0, r40 + 4, Double),
        Err(VgicError::Unaligned {
            offset: r40 + 4,
            size: Double
        })
    );
    // Doubleword elsewhere is refused.
    assert_eq!(
        g.dist_read(V0, 0, Double),
        Err(VgicError::BadWidth {
            offset: 0,
            size: Double
        })
    );
}

#[test]
fn spi_affinity_routing() {
    let mut g = ready(2);
    dwr(&mut g, regs::GICD_ISENABLER + 4, Word, 0xffff_ffff);
    let mut out = Vec::new();
    // IROUTER resets to affinity 0.0.0.0 = vcpu0.
    g.inject(V1, 33, &mut out).unwrap();
    assert_eq!(injects(&out), vec![(0, 33)]);
    // Route 34 to Aff0 = 1.
    dwr(&mut g, regs::GICD_IROUTER + 8 * 34, Double, 1);
    out.clear();
    g.inject(V0, 34, &mut out).unwrap();
    assert_eq!(injects(&out), vec![(1, 34)]);
    // Route to a PE that does not exist: held pending, delivered once routed.
    dwr(&mut g, regs::GICD_IROUTER + 8 * 35, Double, 1 << 8);
    out.clear();
    g.inject(V0, 35, &mut out).unwrap();
    assert!(out.is_empty());
    assert_eq!(drd(&mut g, regs::GICD_ISPENDR + 4, Word) & (1 << 3), 1 << 3);
    let out = dwr(&mut g, regs::GICD_IROUTER + 8 * 35, Double, 0);
    assert_eq!(injects(&out), vec![(0, 35)]);
}

#[test]
fn redistributor_typer_waker_and_layout() {
    let mut g = vgic(3);
    for r in 0..3u64 {
        let t = rrd(&mut g, r, regs::GICR_TYPER, Double);
        assert_eq!(t >> 32, r, "affinity = Aff0 of vcpu {r}");
        assert_eq!(t >> 8 & 0xffff, r, "processor number");
        assert_eq!(
            t & regs::GICR_TYPER_LAST != 0,
            r == 2,
            "Last only on the final frame"
        );
        assert_eq!(rrd(&mut g, r, regs::GICR_TYPER + 4, Word), r);
        assert_eq!(rrd(&mut g, r, regs::GICR_TYPER, Word), t & 0xffff_ffff);
        assert_eq!(rrd(&mut g, r, 0xffe8, Word) >> 4 & 0xf, 3);
    }
    // Waker: asleep at reset; clearing ProcessorSleep wakes the children.
    let asleep = u64::from(regs::WAKER_PROCESSOR_SLEEP | regs::WAKER_CHILDREN_ASLEEP);
    assert_eq!(rrd(&mut g, 1, regs::GICR_WAKER, Word), asleep);
    rwr(&mut g, 1, regs::GICR_WAKER, Word, 0);
    assert_eq!(rrd(&mut g, 1, regs::GICR_WAKER, Word), 0);
    assert_eq!(rrd(&mut g, 0, regs::GICR_WAKER, Word), asleep);
    // Read-only and out-of-range.
    let mut out = Vec::new();
    assert_eq!(
        g.redist_write(V0, regs::GICR_TYPER, Double, 0, &mut out),
        Err(VgicError::ReadOnly {
            offset: regs::GICR_TYPER
        })
    );
    assert_eq!(
        g.redist_read(V0, 3 * regs::GICR_STRIDE, Word),
        Err(VgicError::Reserved { offset: 0x60000 })
    );
    assert_eq!(
        g.redist_read(V0, 0x40, Word),
        Err(VgicError::Reserved { offset: 0x40 })
    );
    // LPI registers: RAZ/WI.
    rwr(&mut g, 0, regs::GICR_PROPBASER, Double, u64::MAX);
    assert_eq!(rrd(&mut g, 0, regs::GICR_PROPBASER, Double), 0);
    rwr(&mut g, 0, regs::GICR_CTLR, Word, 1);
    assert_eq!(rrd(&mut g, 0, regs::GICR_CTLR, Word), 0);
}

#[test]
fn redistributor_sgi_frame_is_per_vcpu() {
    let mut g = vgic(2);
    rwr(&mut g, 1, SGI + regs::GICD_ISENABLER, Word, 0x0800_0000);
    assert_eq!(
        rrd(&mut g, 1, SGI + regs::GICD_ISENABLER, Word),
        0x0800_0000
    );
    assert_eq!(rrd(&mut g, 0, SGI + regs::GICD_ISENABLER, Word), 0);
    assert!(g.irq_status(V1, 27).unwrap().enabled);
    // Priorities, bytes and words.
    rwr(&mut g, 1, SGI + regs::GICD_IPRIORITYR + 27, Byte, 0x80);
    assert_eq!(
        rrd(&mut g, 1, SGI + regs::GICD_IPRIORITYR + 24, Word),
        0x8000_0000
    );
    // ICFGR0: SGIs fixed edge; ICFGR1: PPIs programmable.
    rwr(&mut g, 1, SGI + regs::GICD_ICFGR, Word, 0);
    assert_eq!(rrd(&mut g, 1, SGI + regs::GICD_ICFGR, Word), 0xaaaa_aaaa);
    rwr(&mut g, 1, SGI + regs::GICD_ICFGR + 4, Word, 1 << 23);
    assert!(g.irq_status(V1, 27).unwrap().edge);
    // v3 SGI pending bits are writable through the redistributor.
    rwr(&mut g, 0, SGI + regs::GICD_ISPENDR, Word, 1 << 2);
    assert!(g.irq_status(V0, 2).unwrap().latched);
}

#[test]
fn icc_sgi1r_target_list_irm_and_rs() {
    let mut g = ready(3);
    let mut out = Vec::new();
    // SGI 9 to Aff0 in {1, 2}.
    let r = g
        .sysreg_access(V0, &sgi_iss(5, false), (9 << 24) | 0b110, &mut out)
        .unwrap();
    assert_eq!(r, SysRegOutcome::Handled);
    assert_eq!(injects(&out), vec![(1, 9), (2, 9)]);
    // IRM: everyone but the sender.
    out.clear();
    g.sysreg_access(V1, &sgi_iss(5, false), (1 << 40) | (2 << 24), &mut out)
        .unwrap();
    assert_eq!(injects(&out), vec![(0, 2), (2, 2)]);
    // RS = 1 means Aff0 16..31: no such vCPUs.
    out.clear();
    g.sysreg_access(
        V0,
        &sgi_iss(5, false),
        (1 << 44) | (3 << 24) | 0xffff,
        &mut out,
    )
    .unwrap();
    assert!(out.is_empty());
    // Aff1 = 1: nobody there either.
    g.sysreg_access(V0, &sgi_iss(5, false), (1 << 16) | (3 << 24) | 1, &mut out)
        .unwrap();
    assert!(out.is_empty());
    // ASGI1R behaves like SGI1R here.
    g.sysreg_access(V0, &sgi_iss(6, false), (4 << 24) | 1, &mut out)
        .unwrap();
    assert_eq!(injects(&out), vec![(0, 4)]);
}

#[test]
fn icc_sgi0r_only_pends_group0_sgis() {
    let mut g = ready(2);
    // SGI 1 of vcpu1 back to group 0.
    rwr(&mut g, 1, SGI + regs::GICD_IGROUPR, Word, 0xffff_fffd);
    let mut out = Vec::new();
    g.sysreg_access(V0, &sgi_iss(7, false), (1 << 24) | 0b11, &mut out)
        .unwrap();
    assert_eq!(injects(&out), vec![(1, 1)]);
    assert!(!g.irq_status(V0, 1).unwrap().latched);
}

#[test]
fn sysreg_reads_and_foreign_registers() {
    let mut g = ready(1);
    let mut out = Vec::new();
    assert_eq!(
        g.sysreg_access(V0, &sgi_iss(5, true), 0, &mut out),
        Ok(SysRegOutcome::Read(0))
    );
    // CNTV_CTL_EL0 is not a GIC register.
    let cntv = SysRegIss {
        op0: 3,
        op1: 3,
        crn: 14,
        crm: 3,
        op2: 1,
        rt: 0,
        read: false,
    };
    assert_eq!(
        g.sysreg_access(V0, &cntv, 0, &mut out),
        Ok(SysRegOutcome::NotMine)
    );
    assert!(out.is_empty());
    // A v2 vGIC does not claim the v3 SGI registers.
    let mut g2 = Vgic::new(VgicConfig::v2(1)).unwrap();
    assert_eq!(
        g2.sysreg_access(V0, &sgi_iss(5, false), 1, &mut out),
        Ok(SysRegOutcome::NotMine)
    );
    assert_eq!(g2.redist_read(V0, 0, Word), Err(VgicError::WrongVersion));
}

#[test]
fn sgi_exchange_between_vcpus_with_eoi() {
    let mut g = ready(2);
    let mut out = Vec::new();
    g.sysreg_access(V0, &sgi_iss(5, false), (1 << 24) | 0b10, &mut out)
        .unwrap();
    assert_eq!(injects(&out), vec![(1, 1)]);
    out.clear();
    g.maintenance(V1, Some(0), &mut out).unwrap();
    assert_eq!(out, vec![Effect::Eoi { vcpu: V1, irq: 1 }]);
    // Reply from vcpu1 to vcpu0.
    out.clear();
    g.sysreg_access(V1, &sgi_iss(5, false), (1 << 24) | 0b01, &mut out)
        .unwrap();
    assert_eq!(injects(&out), vec![(0, 1)]);
}
