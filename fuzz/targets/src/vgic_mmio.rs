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
//! Reach: `deep[0]` steps, `deep[1]` injections, `deep[2]` EOIs,
//! `deep[3]` accesses refused with an error.

use arbitrary::{Arbitrary, Unstructured};
use sel4vm::arch::syndrome::SysRegIss;
use sel4vm::arch::AccessSize;
use sel4vm::vgic::{Effect, GicVersion, Vgic, VgicConfig};
use sel4vm::VcpuId;

const VCPUS: u32 = 3;
const LRS: u8 = 4;

#[derive(Arbitrary, Debug)]
struct Input {
    v3: bool,
    /// `(kind, selector, a, b)`: what to do, vCPU/width, offset/IRQ, value.
    ops: Vec<(u8, u8, u32, u64)>,
}

/// Runs one input; panics on a broken invariant.
pub fn vgic_mmio(data: &[u8]) -> crate::Reach {
    let mut reach = crate::Reach::default();
    let Ok(Input { v3, ops }) = Input::arbitrary_take_rest(Unstructured::new(data)) else {
        return reach;
    };
    reach.decoded = 1;
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
