//! List-register manager: injection/EOI cycles with more pending interrupts
//! than list registers, priority order, level/edge semantics, gating.

use proptest::prelude::*;
use sel4vm::arch::AccessSize::{Byte, Word};
use sel4vm::vgic::{regs, Effect, GicVersion, Vgic, VgicConfig, VgicError};
use sel4vm::VcpuId;

const V0: VcpuId = VcpuId(0);

fn wr(g: &mut Vgic, off: u64, val: u64) -> Vec<Effect> {
    let mut out = Vec::new();
    g.dist_write(V0, off, Word, val, &mut out).unwrap();
    out
}

/// One vCPU, distributor on, SPIs 32..64 enabled, group 0.
fn ready(num_lrs: u8) -> Vgic {
    let mut g = Vgic::new(VgicConfig {
        num_list_registers: num_lrs,
        ..VgicConfig::v2(1)
    })
    .unwrap();
    wr(&mut g, regs::GICD_CTLR, 1);
    wr(&mut g, regs::GICD_ISENABLER + 4, 0xffff_ffff);
    wr(&mut g, regs::GICD_ISENABLER, 0xffff_ffff);
    g
}

fn set_prio(g: &mut Vgic, irq: u32, prio: u8) {
    let mut out = Vec::new();
    g.dist_write(
        V0,
        regs::GICD_IPRIORITYR + u64::from(irq),
        Byte,
        u64::from(prio),
        &mut out,
    )
    .unwrap();
}

fn injects(out: &[Effect]) -> Vec<(u32, u8)> {
    out.iter()
        .filter_map(|e| match e {
            Effect::Inject { injection, .. } => Some((injection.irq, injection.lr)),
            _ => None,
        })
        .collect()
}

fn eoi(g: &mut Vgic, lr: u32) -> Vec<Effect> {
    let mut out = Vec::new();
    g.maintenance(V0, Some(lr), &mut out).unwrap();
    g.check_invariants().unwrap();
    out
}

#[test]
fn overflow_drains_in_priority_order() {
    let mut g = ready(4);
    let mut out = Vec::new();
    for irq in 32..36 {
        g.inject(V0, irq, &mut out).unwrap();
    }
    assert_eq!(injects(&out), vec![(32, 0), (33, 1), (34, 2), (35, 3)]);
    // LRs full: the next ones queue. Priorities: 40 -> 0xa0, 41 -> 0x20, 42 -> 0x60, 43 -> 0x20.
    for (irq, p) in [(40, 0xa0), (41, 0x20), (42, 0x60), (43, 0x20)] {
        set_prio(&mut g, irq, p);
        out.clear();
        g.inject(V0, irq, &mut out).unwrap();
        assert!(out.is_empty());
    }
    assert_eq!(g.queued(V0), vec![41, 43, 42, 40]);
    g.check_invariants().unwrap();
    // Each EOI frees one LR and the best queued interrupt takes it.
    let mut order = Vec::new();
    for lr in [2, 0, 3, 1] {
        let out = eoi(&mut g, lr);
        assert!(matches!(out[0], Effect::Eoi { vcpu: V0, .. }));
        let inj = injects(&out);
        assert_eq!(inj.len(), 1);
        assert_eq!(inj[0].1, lr as u8, "refill uses the freed LR");
        order.push(inj[0].0);
    }
    assert_eq!(order, vec![41, 43, 42, 40]);
    assert!(g.queued(V0).is_empty());
}

#[test]
fn eoi_reports_the_completed_interrupt_once() {
    let mut g = ready(2);
    let mut out = Vec::new();
    g.inject(V0, 50, &mut out).unwrap();
    assert_eq!(eoi(&mut g, 0), vec![Effect::Eoi { vcpu: V0, irq: 50 }]);
    // The LR is empty now: another maintenance for it reports nothing.
    assert!(eoi(&mut g, 0).is_empty());
    assert_eq!(
        g.maintenance(V0, Some(2), &mut out),
        Err(VgicError::InvalidListRegister(2))
    );
    assert_eq!(g.maintenance(V0, None, &mut out), Ok(()));
    assert_eq!(
        g.maintenance(VcpuId(1), Some(0), &mut out),
        Err(VgicError::InvalidVcpu(VcpuId(1)))
    );
}

#[test]
fn injection_carries_lr_priority_and_group() {
    let mut g = ready(4);
    set_prio(&mut g, 45, 0xa8);
    wr(&mut g, regs::GICD_IGROUPR + 4, 1 << 13);
    wr(&mut g, regs::GICD_CTLR, 3);
    let mut out = Vec::new();
    g.inject(V0, 45, &mut out).unwrap();
    match out[..] {
        [Effect::Inject { vcpu, injection }] => {
            assert_eq!(vcpu, V0);
            assert_eq!(injection.irq, 45);
            assert_eq!(injection.priority, 0xa8 >> 3);
            assert_eq!(injection.group, 1);
        }
        _ => panic!("{out:?}"),
    }
}

#[test]
fn repeated_edge_while_pending_is_one_interrupt() {
    let mut g = ready(1);
    let mut out = Vec::new();
    g.inject(V0, 32, &mut out).unwrap(); // occupies the only LR
    g.inject(V0, 33, &mut out).unwrap();
    g.inject(V0, 33, &mut out).unwrap();
    assert_eq!(g.queued(V0), vec![33]);
    // While 32 is in the LR, injecting it again latches it for after the EOI.
    g.inject(V0, 32, &mut out).unwrap();
    assert_eq!(g.queued(V0), vec![33]);
    assert!(g.irq_status(V0, 32).unwrap().latched);
    let out = eoi(&mut g, 0);
    assert_eq!(out[0], Effect::Eoi { vcpu: V0, irq: 32 });
    // Equal priority: the lower INTID goes first.
    assert_eq!(injects(&out), vec![(32, 0)]);
    assert_eq!(g.queued(V0), vec![33]);
}

#[test]
fn level_interrupt_redelivered_while_line_high() {
    let mut g = ready(4);
    let mut out = Vec::new();
    g.set_level(V0, 40, true, &mut out).unwrap();
    assert_eq!(injects(&out), vec![(40, 0)]);
    // Still high at EOI: delivered again.
    let out = eoi(&mut g, 0);
    assert_eq!(out[0], Effect::Eoi { vcpu: V0, irq: 40 });
    assert_eq!(injects(&out), vec![(40, 0)]);
    // Line drops while in the LR: after EOI it is not delivered again.
    let mut out = Vec::new();
    g.set_level(V0, 40, false, &mut out).unwrap();
    assert!(out.is_empty());
    assert_eq!(eoi(&mut g, 0), vec![Effect::Eoi { vcpu: V0, irq: 40 }]);
    assert_eq!(g.dist_read(V0, regs::GICD_ISPENDR + 4, Word).unwrap(), 0);
}

#[test]
fn level_line_dropping_withdraws_queued_interrupt() {
    let mut g = ready(1);
    let mut out = Vec::new();
    g.inject(V0, 32, &mut out).unwrap();
    g.set_level(V0, 41, true, &mut out).unwrap();
    assert_eq!(g.queued(V0), vec![41]);
    assert_eq!(
        g.dist_read(V0, regs::GICD_ISPENDR + 4, Word).unwrap(),
        (1 << 9) | 1
    );
    g.set_level(V0, 41, false, &mut out).unwrap();
    assert!(g.queued(V0).is_empty());
    g.check_invariants().unwrap();
}

#[test]
fn edge_interrupt_latches_on_rising_edge_only() {
    let mut g = ready(1);
    wr(&mut g, regs::GICD_ICFGR + 8, 2 << (2 * 10)); // INTID 42 edge
    let mut out = Vec::new();
    g.inject(V0, 32, &mut out).unwrap(); // fill the LR
    g.set_level(V0, 42, true, &mut out).unwrap();
    assert_eq!(g.queued(V0), vec![42]);
    // Line falls: the latched edge stays pending.
    g.set_level(V0, 42, false, &mut out).unwrap();
    assert_eq!(g.queued(V0), vec![42]);
    let out = eoi(&mut g, 0);
    assert_eq!(injects(&out), vec![(42, 0)]);
    // Delivered once; no re-delivery at EOI without a new edge.
    assert_eq!(eoi(&mut g, 0), vec![Effect::Eoi { vcpu: V0, irq: 42 }]);
    let mut out = Vec::new();
    g.set_level(V0, 42, true, &mut out).unwrap();
    g.set_level(V0, 42, true, &mut out).unwrap(); // no new edge
    assert_eq!(injects(&out), vec![(42, 0)]);
}

#[test]
fn sgis_have_no_line() {
    let mut g = ready(1);
    let mut out = Vec::new();
    assert_eq!(
        g.set_level(V0, 3, true, &mut out),
        Err(VgicError::InvalidIrq(3))
    );
}

#[test]
fn disabled_or_group_disabled_interrupts_wait() {
    let mut g = ready(4);
    wr(&mut g, regs::GICD_ICENABLER + 4, 1 << 4); // disable 36
    let mut out = Vec::new();
    g.inject(V0, 36, &mut out).unwrap();
    assert!(out.is_empty());
    assert!(!g.has_inflight(V0));
    let out = wr(&mut g, regs::GICD_ISENABLER + 4, 1 << 4);
    assert_eq!(injects(&out), vec![(36, 0)]);
    // Distributor off: held until it is switched on.
    wr(&mut g, regs::GICD_CTLR, 0);
    let mut out = Vec::new();
    g.inject(V0, 37, &mut out).unwrap();
    assert!(out.is_empty());
    let out = wr(&mut g, regs::GICD_CTLR, 1);
    assert_eq!(injects(&out), vec![(37, 1)]);
    // Group 1 interrupt with only group 0 enabled: held.
    wr(&mut g, regs::GICD_IGROUPR + 4, 1 << 6);
    let mut out = Vec::new();
    g.inject(V0, 38, &mut out).unwrap();
    assert!(out.is_empty());
    let out = wr(&mut g, regs::GICD_CTLR, 3);
    assert_eq!(injects(&out), vec![(38, 2)]);
}

#[test]
fn disabling_or_clearing_a_queued_interrupt_dequeues_it() {
    let mut g = ready(1);
    let mut out = Vec::new();
    for irq in [32, 33, 34] {
        g.inject(V0, irq, &mut out).unwrap();
    }
    assert_eq!(g.queued(V0), vec![33, 34]);
    wr(&mut g, regs::GICD_ICENABLER + 4, 1 << 1);
    assert_eq!(g.queued(V0), vec![34]);
    wr(&mut g, regs::GICD_ICPENDR + 4, 1 << 2);
    assert!(g.queued(V0).is_empty());
    g.check_invariants().unwrap();
    // 33 is still latched: re-enabling queues it again.
    wr(&mut g, regs::GICD_ISENABLER + 4, 1 << 1);
    assert_eq!(g.queued(V0), vec![33]);
    // ICPENDR cannot pull an interrupt back out of a list register.
    wr(&mut g, regs::GICD_ICPENDR + 4, 1);
    assert_eq!(g.list_registers(V0), &[Some(32)]);
}

#[test]
fn ispendr_makes_pending_and_delivers() {
    let mut g = ready(4);
    let out = wr(&mut g, regs::GICD_ISPENDR + 4, 0b101);
    assert_eq!(injects(&out), vec![(32, 0), (34, 1)]);
}

#[test]
fn reset_forgets_everything() {
    let mut g = ready(1);
    let mut out = Vec::new();
    g.inject(V0, 32, &mut out).unwrap();
    g.inject(V0, 33, &mut out).unwrap();
    g.reset();
    assert_eq!(g.list_registers(V0), &[None]);
    assert!(g.queued(V0).is_empty());
    assert_eq!(g.dist_read(V0, regs::GICD_CTLR, Word).unwrap(), 0);
    assert_eq!(g.dist_read(V0, regs::GICD_ISENABLER + 4, Word).unwrap(), 0);
}

/// Random operation on a vGIC, for the model test.
#[derive(Clone, Debug)]
enum Op {
    Inject(u32, u32),
    Level(u32, u32, bool),
    Eoi(u32, u8),
    Write(u32, u16, u8, u32),
    RedistWrite(u32, u64, u16, u8, u32),
    Sgi(u32, u64),
    Read(u32, u16, u8),
}

const BASES: [u16; 14] = [
    0x0, 0x80, 0x100, 0x180, 0x200, 0x280, 0x300, 0x380, 0x400, 0x800, 0xc00, 0xf00, 0xf10, 0xf20,
];

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..3u32, 0..70u32).prop_map(|(v, i)| Op::Inject(v, i)),
        (0..3u32, 30..40u32).prop_map(|(v, i)| Op::Inject(v, i)),
        (0..3u32, 16..80u32, any::<bool>()).prop_map(|(v, i, l)| Op::Level(v, i, l)),
        (0..3u32, 0..5u8).prop_map(|(v, l)| Op::Eoi(v, l)),
        (0..3u32, 0..0x1000u16, 0..4u8, any::<u32>())
            .prop_map(|(v, o, s, x)| Op::Write(v, o, s, x)),
        // Mostly well-formed word writes to the interesting registers.
        (
            0..3u32,
            prop::sample::select(BASES.to_vec()),
            0..3u16,
            any::<u32>()
        )
            .prop_map(|(v, b, i, x)| Op::Write(v, b + 4 * i, 2, x)),
        (
            0..3u32,
            prop::sample::select(BASES.to_vec()),
            0..3u16,
            any::<u32>()
        )
            .prop_map(|(v, b, i, x)| Op::Write(v, b + 4 * i, 2, x)),
        (0..3u32, 0..0x1000u16, 0..4u8).prop_map(|(v, o, s)| Op::Read(v, o, s)),
        (0..3u32, 0..3u64, 0..0x1000u16, 0..4u8, any::<u32>())
            .prop_map(|(v, r, o, s, x)| Op::RedistWrite(v, r, o, s, x)),
        (0..3u32, any::<u64>()).prop_map(|(v, x)| Op::Sgi(v, x)),
    ]
}

proptest! {
    /// Whatever the guest and VMM do, the vGIC never hands out a busy list
    /// register, never reports an EOI for an interrupt it did not inject,
    /// and its queues stay consistent.
    #[test]
    fn list_register_model(v3 in any::<bool>(), ops in proptest::collection::vec(op(), 1..200)) {
        let version = if v3 { GicVersion::V3 } else { GicVersion::V2 };
        let cfg = VgicConfig { version, num_vcpus: 3, num_irqs: 64, num_list_registers: 4 };
        let mut g = Vgic::new(cfg).unwrap();
        // Shadow of what the "kernel" holds in each list register.
        let mut shadow = [[None::<u32>; 4]; 3];
        // Turn things on so that traffic flows.
        let mut out = Vec::new();
        g.dist_write(V0, 0, Word, 3, &mut out).unwrap();
        for v in 0..3 {
            g.dist_write(VcpuId(v), regs::GICD_ISENABLER, Word, u64::from(u32::MAX), &mut out).unwrap();
            let _ = g.redist_write(V0, u64::from(v) * regs::GICR_STRIDE + regs::GICR_SGI_BASE + regs::GICD_ISENABLER, Word, u64::from(u32::MAX), &mut out);
        }
        g.dist_write(V0, regs::GICD_ISENABLER + 4, Word, u64::from(u32::MAX), &mut out).unwrap();
        g.dist_write(V0, regs::GICD_ITARGETSR + 32, Word, 0x0403_0201, &mut out).unwrap();
        out.clear();
        for op in ops {
            out.clear();
            let size = |s: u8| sel4vm::arch::AccessSize::from_log2(u32::from(s));
            let _ = match op {
                Op::Inject(v, i) => g.inject(VcpuId(v), i, &mut out).map(|_| ()),
                Op::Level(v, i, l) => g.set_level(VcpuId(v), i, l, &mut out),
                Op::Eoi(v, lr) => {
                    let freed = shadow[v as usize].get_mut(lr as usize).and_then(Option::take);
                    let r = g.maintenance(VcpuId(v), Some(u32::from(lr)), &mut out);
                    let eois: Vec<_> = out.iter().filter(|e| matches!(e, Effect::Eoi { .. })).cloned().collect();
                    match freed {
                        Some(irq) => prop_assert_eq!(eois, vec![Effect::Eoi { vcpu: VcpuId(v), irq }]),
                        None => prop_assert!(eois.is_empty()),
                    }
                    r
                }
                Op::Write(v, o, s, x) => g.dist_write(VcpuId(v), u64::from(o), size(s), u64::from(x), &mut out),
                Op::RedistWrite(v, r, o, s, x) => {
                    let off = r * regs::GICR_STRIDE + regs::GICR_SGI_BASE + u64::from(o);
                    g.redist_write(VcpuId(v), off, size(s), u64::from(x), &mut out)
                }
                Op::Sgi(v, x) => {
                    let iss = sel4vm::arch::syndrome::SysRegIss { op0: 3, op1: 0, crn: 12, crm: 11, op2: 5, rt: 1, read: false };
                    g.sysreg_access(VcpuId(v), &iss, x & 0xffff_ffff_ff00_0007, &mut out).map(|_| ())
                }
                Op::Read(v, o, s) => g.dist_read(VcpuId(v), u64::from(o), size(s)).map(|_| ()),
            };
            for e in &out {
                if let Effect::Inject { vcpu, injection } = e {
                    let slot = &mut shadow[vcpu.0 as usize][injection.lr as usize];
                    prop_assert!(slot.is_none(), "LR {} of {} was busy", injection.lr, vcpu);
                    prop_assert!(injection.priority <= 31);
                    *slot = Some(injection.irq);
                }
            }
            for v in 0..3 {
                prop_assert_eq!(g.list_registers(VcpuId(v)), &shadow[v as usize][..]);
            }
            prop_assert_eq!(g.check_invariants(), Ok(()));
        }
    }
}
