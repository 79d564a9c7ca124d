//! Virtual timer: VPPI event -> PPI 27 injection -> EOI -> AckVPPI, per vCPU.

use sel4vm::arch::AccessSize::Word;
use sel4vm::vgic::{regs, Effect, Vgic, VgicConfig};
use sel4vm::vtimer::{self, VTimer, VppiAction, VTIMER_PPI};
use sel4vm::VcpuId;

const V0: VcpuId = VcpuId(0);
const V1: VcpuId = VcpuId(1);

#[test]
fn timer_condition_helpers() {
    assert!(!vtimer::condition_met(0, 10, 20), "disabled");
    assert!(vtimer::condition_met(vtimer::CTL_ENABLE, 10, 10));
    assert!(!vtimer::condition_met(vtimer::CTL_ENABLE, 11, 10));
    assert!(vtimer::asserted(vtimer::CTL_ENABLE, 5, 10));
    assert!(!vtimer::asserted(
        vtimer::CTL_ENABLE | vtimer::CTL_IMASK,
        5,
        10
    ));
}

#[test]
fn ack_only_after_eoi_and_only_once() {
    let mut t = VTimer::new(2);
    assert_eq!(t.vppi_event(V1, VTIMER_PPI), VppiAction::Inject(VTIMER_PPI));
    assert!(t.awaiting_eoi(V1));
    assert!(!t.awaiting_eoi(V0));
    // EOI of something else, or on another vCPU: no ack.
    assert_eq!(t.eoi(V1, 33), None);
    assert_eq!(t.eoi(V0, VTIMER_PPI), None);
    assert_eq!(t.eoi(V1, VTIMER_PPI), Some(VTIMER_PPI));
    assert_eq!(t.eoi(V1, VTIMER_PPI), None);
    assert_eq!(t.fired(V1), 1);
    // Unknown PPIs and unknown vCPUs are acked at once and dropped.
    assert_eq!(t.vppi_event(V0, 30), VppiAction::AckNow(30));
    assert_eq!(
        t.vppi_event(VcpuId(5), VTIMER_PPI),
        VppiAction::AckNow(VTIMER_PPI)
    );
}

/// Drives the two components the way the run loop does: VPPI -> inject,
/// maintenance -> EOI -> ack, on two vCPUs alternately.
#[test]
fn timer_interrupt_cycles_on_two_vcpus() {
    let mut g = Vgic::new(VgicConfig::v2(2)).unwrap();
    let mut t = VTimer::new(2);
    let mut out = Vec::new();
    g.dist_write(V0, regs::GICD_CTLR, Word, 1, &mut out)
        .unwrap();
    for v in [V0, V1] {
        g.dist_write(v, regs::GICD_ISENABLER, Word, 1 << VTIMER_PPI, &mut out)
            .unwrap();
    }
    let mut acks = Vec::new();
    for round in 0..3 {
        for v in [V0, V1] {
            out.clear();
            let VppiAction::Inject(irq) = t.vppi_event(v, VTIMER_PPI) else {
                panic!()
            };
            g.inject(v, irq, &mut out).unwrap();
            let [Effect::Inject { vcpu, injection }] = out[..] else {
                panic!("{out:?}")
            };
            assert_eq!(
                (vcpu, injection.irq, injection.lr),
                (v, VTIMER_PPI, 0),
                "round {round}"
            );
            out.clear();
            g.maintenance(v, Some(0), &mut out).unwrap();
            for e in &out {
                if let Effect::Eoi { vcpu, irq } = *e {
                    if let Some(p) = t.eoi(vcpu, irq) {
                        acks.push((vcpu, p));
                    }
                }
            }
        }
    }
    assert_eq!(acks, [(V0, 27), (V1, 27)].repeat(3));
}

#[test]
fn masked_timer_ppi_waits_without_ack() {
    // The guest disabled PPI 27: the event stays pending in the vGIC, no EOI
    // comes, so no AckVPPI is sent and the kernel keeps the VPPI masked.
    let mut g = Vgic::new(VgicConfig::v2(1)).unwrap();
    let mut t = VTimer::new(1);
    let mut out = Vec::new();
    g.dist_write(V0, regs::GICD_CTLR, Word, 1, &mut out)
        .unwrap();
    let VppiAction::Inject(irq) = t.vppi_event(V0, VTIMER_PPI) else {
        panic!()
    };
    g.inject(V0, irq, &mut out).unwrap();
    assert!(out.is_empty());
    assert!(t.awaiting_eoi(V0));
    g.dist_write(V0, regs::GICD_ISENABLER, Word, 1 << VTIMER_PPI, &mut out)
        .unwrap();
    assert!(matches!(out[..], [Effect::Inject { .. }]));
}
