//! `fault_dispatch`: drives the real `vm_run` dispatcher (`Vm::run`) with
//! the host backend and an arbitrary stream of kernel events: every fault
//! label, arbitrary syndromes, addresses inside and outside RAM and the MMIO
//! reservation, arbitrary guest instructions at the faulting PC (ISV=0
//! decoding), unknown vCPUs and notification badges.
//!
//! Checks: no panic whatever the guest does; the loop ends with a reason
//! (never "not run yet") that `exit_reason` repeats; it never ends on a
//! backend error, since the host backend only fails when the VMM misuses it
//! (replying to a vCPU with no fault outstanding, touching an unknown vCPU).
//!
//! Reach: `deep[0]` events consumed, `deep[1]` runs that stopped on an
//! error reason, `deep[2]` MMIO callback calls, `deep[3]` runs that drained
//! the queue (`Idle`).

use core::cell::Cell;
use std::rc::Rc;

use arbitrary::{Arbitrary, Unstructured};
use sel4vm::backend::{badge, Event, VcpuId};
use sel4vm::{ExitReason, FaultResult, Vm, VmConfig};
use sel4vm_host::HostBackend;

const RAM: u64 = 0x4000_0000;
const RAM_SIZE: u64 = 0x4000;
const MMIO: u64 = 0x2000_0000;
/// Events per input (more only repeat what the fuzzer can already reach).
const MAX_EVENTS: usize = 64;

#[derive(Arbitrary, Debug)]
enum Ev {
    VmFault {
        vcpu: u8,
        ip_page: u8,
        addr: u64,
        near: u16,
        fsr: u32,
        prefetch: bool,
    },
    VcpuFault {
        vcpu: u8,
        hsr: u32,
    },
    Maintenance {
        vcpu: u8,
        lr: Option<u32>,
    },
    Vppi {
        vcpu: u8,
        irq: u32,
    },
    UnknownSyscall {
        vcpu: u8,
        ip: u64,
        syscall: u64,
    },
    UserException {
        vcpu: u8,
        ip: u64,
        number: u64,
        code: u64,
    },
    UnknownFault {
        vcpu: u8,
        label: u64,
    },
    Notification {
        bits: u64,
    },
}

#[derive(Arbitrary, Debug)]
struct Input {
    /// Guest code placed at the start of RAM (decoded when ISV=0).
    code: [u32; 8],
    /// What the MMIO callback answers, cycled.
    answers: Vec<u8>,
    events: Vec<Ev>,
}

fn vcpu(v: u8) -> VcpuId {
    // Mostly real vCPUs (0, 1), sometimes unknown ones.
    VcpuId(u32::from(v % 4))
}

fn event(ev: Ev) -> Event {
    match ev {
        Ev::VmFault {
            vcpu: v,
            ip_page,
            addr,
            near,
            fsr,
            prefetch,
        } => {
            // Bias addresses towards RAM and the reservation so the handlers run.
            let addr = match addr % 3 {
                0 => MMIO + u64::from(near % 0x1100),
                1 => RAM + u64::from(near),
                _ => addr,
            };
            let ip = RAM + u64::from(ip_page % 8) * 4;
            Event::VmFault {
                vcpu: vcpu(v),
                ip,
                addr,
                fsr,
                prefetch,
            }
        }
        Ev::VcpuFault { vcpu: v, hsr } => Event::VcpuFault { vcpu: vcpu(v), hsr },
        Ev::Maintenance { vcpu: v, lr } => Event::VgicMaintenance { vcpu: vcpu(v), lr },
        Ev::Vppi { vcpu: v, irq } => Event::VppiEvent { vcpu: vcpu(v), irq },
        Ev::UnknownSyscall {
            vcpu: v,
            ip,
            syscall,
        } => Event::UnknownSyscall {
            vcpu: vcpu(v),
            ip,
            syscall,
        },
        Ev::UserException {
            vcpu: v,
            ip,
            number,
            code,
        } => Event::UserException {
            vcpu: vcpu(v),
            ip,
            number,
            code,
        },
        Ev::UnknownFault { vcpu: v, label } => Event::UnknownFault {
            vcpu: vcpu(v),
            label,
        },
        Ev::Notification { bits } => Event::Notification {
            badge: bits | badge::NOTIFICATION_BIT,
        },
    }
}

/// Runs one input; panics on a broken invariant.
pub fn fault_dispatch(data: &[u8]) -> crate::Reach {
    let mut reach = crate::Reach::default();
    let Ok(input) = Input::arbitrary_take_rest(Unstructured::new(data)) else {
        return reach;
    };
    reach.decoded = 1;
    let mut vm = Vm::new(
        HostBackend::new(),
        VmConfig {
            max_vcpus: 2,
            ..Default::default()
        },
    )
    .expect("VM");
    for _ in 0..2 {
        let v = vm.create_vcpu(100).expect("vcpu");
        vm.vcpu_start(v).expect("start");
    }
    vm.ram_register_at(RAM, RAM_SIZE, false).expect("ram");
    let code: Vec<u8> = input.code.iter().flat_map(|w| w.to_le_bytes()).collect();
    vm.ram_write(RAM, &code).expect("code");
    let answers = if input.answers.is_empty() {
        vec![0]
    } else {
        input.answers
    };
    let calls = Rc::new(Cell::new(0u64));
    let seen = calls.clone();
    vm.reserve_memory_at(MMIO, 0x1000, move |_vm, fault| {
        let n = seen.get();
        seen.set(n + 1);
        let a = answers[n as usize % answers.len()];
        fault.set_data(u64::from(a) * 0x0101_0101);
        match a % 5 {
            0 => FaultResult::Handled,
            1 => FaultResult::Unhandled,
            2 => FaultResult::Restart,
            3 => FaultResult::Ignore,
            _ => FaultResult::Error,
        }
    })
    .expect("reservation");
    vm.register_notification_callback(|_vm, _badge| Ok(()));

    let mut queued = 0u64;
    for ev in input.events.into_iter().take(MAX_EVENTS) {
        vm.backend_mut().push_event(event(ev));
        queued += 1;
    }
    // Runs until the queue is empty or the VM stops; either way, no panic.
    let reason = vm.run();
    assert!(
        !matches!(reason, ExitReason::None),
        "run returned no reason"
    );
    assert_eq!(vm.exit_reason(), reason);
    assert!(
        !matches!(reason, ExitReason::Backend(_)),
        "the VMM misused the backend: {reason}"
    );
    reach.deep[0] = queued - vm.backend().pending_events() as u64;
    reach.deep[1] = u64::from(reason.code() < 0);
    reach.deep[2] = calls.get();
    reach.deep[3] = u64::from(matches!(reason, ExitReason::Idle));
    reach
}
