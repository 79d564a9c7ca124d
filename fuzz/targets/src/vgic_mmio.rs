//! `vgic_mmio`: drives a vGIC (v2 or v3) with an arbitrary sequence of guest
//! MMIO accesses (distributor and redistributor, any offset and width), SGI
//! system-register writes, VMM injections and maintenance events.
//!
//! Checks, after every step: no busy list register is handed out; every
//! EOI names what was injected in that list register; injections carry a
//! valid INTID, priority and group; the list registers the vGIC reports
//! match a shadow kept from its effects; its internal queues stay
//! consistent (`check_invariants`).
//!
//! The input may start from a driver's set-up (distributor on, interrupts
//! enabled and routed), given as ordinary steps of the program.
//!
//! Reach: `deep[0]` steps, `deep[1]` injections, `deep[2]` EOIs,
//! `deep[3]` accesses refused with an error.

use arbitrary::{Arbitrary, Unstructured};
use sel4vm::arch::syndrome::SysRegIss;
use sel4vm::arch::AccessSize;
use sel4vm::vgic::{regs, Effect, GicVersion, Vgic, VgicConfig};
use sel4vm::VcpuId;

const VCPUS: u32 = 3;
const LRS: u8 = 4;

#[derive(Arbitrary, Debug)]
struct Input {
    /// Bit 0: GICv3 (else v2). Bit 1: start from a driver's set-up
    /// (distributor on, every interrupt enabled, SPIs routed), so that
    /// injections and EOIs are reached at once.
    mode: u8,
    /// `(kind, selector, a, b)`: what to do, vCPU/width, offset/IRQ, value.
    ops: Vec<(u8, u8, u32, u64)>,
}

/// Selector of a 32-bit access by vCPU `v`.
const fn word(v: u8) -> u8 {
    (2 << 2) | v
}

/// A driver's set-up as ops of the program (`kind` 1: distributor write,
/// 3: redistributor write).
fn setup(v3: bool) -> Vec<(u8, u8, u32, u64)> {
    let all = u64::from(u32::MAX);
    let mut ops = Vec::new();
    // SPIs 32..96: enabled, group 1 on v3.
    for i in 1..3u32 {
        ops.push((1, word(0), regs::GICD_ISENABLER as u32 + 4 * i, all));
        if v3 {
            ops.push((1, word(0), regs::GICD_IGROUPR as u32 + 4 * i, all));
        }
    }
    if v3 {
        for r in 0..VCPUS {
            let frame = r * regs::GICR_STRIDE as u32 + regs::GICR_SGI_BASE as u32;
            ops.push((3, word(0), frame + regs::GICD_IGROUPR as u32, all));
            ops.push((3, word(0), frame + regs::GICD_ISENABLER as u32, all));
        }
        ops.push((1, word(0), regs::GICD_CTLR as u32, 3));
    } else {
        for v in 0..VCPUS as u8 {
            ops.push((1, word(v), regs::GICD_ISENABLER as u32, all));
        }
        // SPIs to vCPU 0 and 1 alternately.
        for i in 8..24u32 {
            let t = if i % 2 == 0 { 0x0101_0101 } else { 0x0202_0202 };
            ops.push((1, word(0), regs::GICD_ITARGETSR as u32 + 4 * i, t));
        }
        ops.push((1, word(0), regs::GICD_CTLR as u32, 1));
    }
    ops
}

/// Runs one input; panics on a broken invariant.
pub fn vgic_mmio(data: &[u8]) -> crate::Reach {
    let mut reach = crate::Reach::default();
    let Ok(Input { mode, ops }) = Input::arbitrary_take_rest(Unstructured::new(data)) else {
        return reach;
    };
    reach.decoded = 1;
    let v3 = mode & 1 != 0;
    let mut prefix = if mode & 2 != 0 { setup(v3) } else { Vec::new() };
    prefix.extend(ops);
    let ops = prefix;
    let version = if v3 { GicVersion::V3 } else { GicVersion::V2 };
    let cfg = VgicConfig {
        version,
        num_vcpus: VCPUS,
        num_irqs: 96,
        num_list_registers: LRS,
    };
    let mut g = Vgic::new(cfg).unwrap();
    let mut shadow = [[None::<u32>; LRS as usize]; VCPUS as usize];
    let mut out = Vec::new();
    for (kind, sel, a, b) in ops {
        reach.deep[0] += 1;
        out.clear();
        // vCPU index includes one invalid value to exercise the checks.
        let v = VcpuId(u32::from(sel & 3));
        let size = AccessSize::from_log2(u32::from(sel >> 2));
        let mut expect_eoi = None;
        let r = match kind % 8 {
            0 => g.dist_read(v, u64::from(a), size).map(drop),
            1 => g.dist_write(v, u64::from(a), size, b, &mut out),
            2 => g.redist_read(v, u64::from(a), size).map(drop),
            3 => g.redist_write(v, u64::from(a), size, b, &mut out),
            4 => g.inject(v, a % 1100, &mut out),
            5 => g.set_level(v, a % 1100, b & 1 != 0, &mut out),
            6 => {
                let lr = a % 6;
                if (v.0 as usize) < shadow.len() {
                    expect_eoi = shadow[v.0 as usize]
                        .get_mut(lr as usize)
                        .and_then(Option::take)
                        .map(|irq| (v, irq));
                }
                g.maintenance(v, Some(lr), &mut out)
            }
            _ => {
                let iss = SysRegIss {
                    op0: 3,
                    op1: 0,
                    crn: 12,
                    crm: 11,
                    op2: 5 + (sel >> 6) % 3,
                    rt: 0,
                    read: a & 1 != 0,
                };
                g.sysreg_access(v, &iss, b, &mut out).map(drop)
            }
        };
        reach.deep[3] += u64::from(r.is_err());
        let eois: Vec<_> = out
            .iter()
            .filter_map(|e| match *e {
                Effect::Eoi { vcpu, irq } => Some((vcpu, irq)),
                _ => None,
            })
            .collect();
        assert_eq!(eois, expect_eoi.into_iter().collect::<Vec<_>>());
        reach.deep[2] += eois.len() as u64;
        for e in &out {
            if let Effect::Inject { vcpu, injection } = *e {
                reach.deep[1] += 1;
                let slot = &mut shadow[vcpu.0 as usize][injection.lr as usize];
                assert!(slot.is_none(), "busy list register handed out");
                assert!(injection.priority <= 31 && injection.group <= 1 && injection.irq < 1020);
                *slot = Some(injection.irq);
            }
        }
        for (c, s) in shadow.iter().enumerate() {
            assert_eq!(g.list_registers(VcpuId(c as u32)), &s[..]);
        }
        g.check_invariants().unwrap();
    }
    reach
}
