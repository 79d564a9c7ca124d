//! The root task proper (target only).

use alloc::format;
use alloc::rc::Rc;
use alloc::vec::Vec;
use core::cell::RefCell;

use sel4_abi::cap::{init, CNode, Tcb};
use sel4_abi::{syscall, CPtr, CapRights, MessageInfo};
use guest_support::vm::{load_segments, resources, start_el1};
use guest_support::Checks;
use sel4_rt::{println, BootInfo};
use sel4_rt::objects::ObjectKind;
use sel4vm::{ExitReason, FaultResult, KernelObject, MemFault, VcpuId, Vm, VmConfig};
use sel4vm_sel4::{ObjectSource, Resources, Sel4Backend, Sel4Config};

use crate::guest::*;

sel4_rt::declare_main!(main);

/// Priority of the guest's vCPU thread (the root task runs at 255).
const VCPU_PRIORITY: u8 = 100;
/// The root task's own priority.
const ROOT_PRIORITY: u64 = 255;
const V0: VcpuId = VcpuId(0);
/// Root CNode slots whose caps must survive every attempt.
const WATCHED: [u64; 6] = [1, 2, 3, 4, 5, 6];

/// The test device: every register write, in order.
#[derive(Default)]
struct Device {
    writes: Vec<(u64, u64)>,
}

impl Device {
    fn access(&mut self, vm: &mut Vm<Sel4Backend>, f: &mut MemFault) -> FaultResult {
        if f.is_read() {
            f.set_data(0);
            return FaultResult::Handled;
        }
        let off = f.address().wrapping_sub(DEV_BASE);
        self.writes.push((off, f.data()));
        if off == DEV_DONE || off == DEV_FAIL {
            vm.stop();
        }
        FaultResult::Handled
    }
}

/// The kernel's cap type tags of the watched root CNode slots.
fn cap_types() -> [u32; WATCHED.len()] {
    WATCHED.map(|s| sel4_abi::syscall::debug_cap_identify(CPtr(s)))
}

fn main(bi: &'static BootInfo) {
    println!("guest-escape: root task started");
    let res = resources(bi);
    let mut c = Checks::new("guest-escape");
    let caps = cap_types();
    println!("guest-escape: root CNode slots {WATCHED:?} hold cap types {caps:?}");
    c.check(caps.iter().all(|&t| t != 0), || {
        format!("a watched slot is empty at start: {caps:?}")
    });
    // The service: an endpoint of the root task's, installed in every VM.
    let ep = res
        .borrow_mut()
        .alloc(ObjectKind::Endpoint, None)
        .expect("service endpoint");
    // A scratch slot for looking into the vCPU's CSpace.
    let scratch = res.borrow_mut().alloc_slot().expect("scratch slot");
    for a in ATTEMPTS {
        let before = res.borrow().objects.stats();
        if let Err(e) = run_vm(&res, a, ep.cap, scratch, &mut c) {
            c.check(false, || format!("[{}] {e:?}", a.number));
        }
        // The VMM is still in control: its caps are unchanged and work.
        let now = cap_types();
        c.check(now == caps, || {
            format!("[{}] root caps changed: {now:?}, were {caps:?}", a.number)
        });
        let prio = init::TCB.tcb_set_priority(Tcb::from_bits(init::TCB.bits()), ROOT_PRIORITY);
        c.check(prio.is_ok(), || {
            format!("[{}] root TCB cap unusable: {prio:?}", a.number)
        });
        let after = res.borrow().objects.stats();
        let kib = before.ram_free.saturating_sub(after.ram_free) >> 10;
        let slots = before.free_slots.saturating_sub(after.free_slots);
        println!(
            "guest-escape: [{}] VMM alive; root caps intact; teardown kept {kib} KiB, {slots} slots",
            a.number
        );
        c.check(kib <= 64 && slots <= 32, || {
            format!("[{}] teardown kept {kib} KiB, {slots} slots", a.number)
        });
    }
    c.finish();
}

/// The kernel's cap type tags of the 16 slots of vCPU 0's CNode (0 =
/// empty), copied one by one into `scratch` of the root CNode.
fn vcpu_cspace_types(cnode: u64, scratch: u64) -> [u32; 16] {
    let root = init::CNODE;
    core::array::from_fn(|i| {
        let copied = root.cnode_copy(
            scratch,
            64,
            CNode::from_bits(cnode),
            i as u64,
            sel4vm::VM_CSPACE_SIZE_BITS,
            CapRights::ALL,
        );
        let t = sel4_abi::syscall::debug_cap_identify(CPtr(scratch));
        let _ = root.cnode_delete(scratch, 64);
        if copied.is_ok() {
            t
        } else {
            0
        }
    })
}

/// Receives the guest's call on the service endpoint, checks it and replies.
fn serve(ep: u64, c: &mut Checks) {
    let (info, badge, mrs) = syscall::recv_with_mrs(CPtr(ep));
    println!(
        "guest-escape: [{SERVICE_ATTEMPT}] service got badge {:#x}, label {:#x}, length {}, mr0 {:#x}",
        badge.0,
        info.label(),
        info.length(),
        mrs[0]
    );
    c.check(
        badge.0 == service::BADGE
            && info.label() == service::LABEL
            && info.length() == 1
            && mrs[0] == service::MR,
        || format!("service message: badge {:#x} info {info:?} mr0 {:#x}", badge.0, mrs[0]),
    );
    let mut reply: syscall::FastMrs = Default::default();
    reply[0] = service::REPLY_MR;
    syscall::reply_with_mrs(MessageInfo::new(0, 0, 0, 1), reply);
}

fn run_vm(
    res: &Rc<RefCell<Resources>>,
    a: &Attempt,
    ep: u64,
    scratch: u64,
    c: &mut Checks,
) -> Result<(), sel4vm::Error> {
    let n = a.number;
    println!("guest-escape: [{n}] guest tries {}", a.what);
    let backend = Sel4Backend::new(res.clone(), Sel4Config::default())?;
    let config = VmConfig {
        name: format!("guest-escape-{n}"),
        ..VmConfig::default()
    };
    let mut vm = Vm::new(backend, config)?;
    vm.ram_register_at(RAM_BASE, RAM_SIZE, false)?;
    let dev = Rc::new(RefCell::new(Device::default()));
    let d = dev.clone();
    vm.reserve_memory_at(DEV_BASE, DEV_SIZE, move |vm, f| {
        d.borrow_mut().access(vm, f)
    })?;
    load_segments(&mut vm, RAM_BASE, SEGMENTS)?;
    // Before and after the vCPU exists: both paths must mint.
    let before_vcpu = n.is_multiple_of(2);
    if before_vcpu {
        vm.install_service(KernelObject(ep), service::SLOT, service::BADGE)?;
    }
    let vcpu = vm.create_vcpu(VCPU_PRIORITY)?;
    if !before_vcpu {
        vm.install_service(KernelObject(ep), service::SLOT, service::BADGE)?;
    }
    // The vCPU's CSpace: its fault endpoint at 1, the service at 5,
    // nothing else (no CNode cap at VM_CSPACE_SLOT).
    let cs = vm.cspace();
    let types = vcpu_cspace_types(cs.cspace.0, scratch);
    let ep_type = sel4_abi::syscall::debug_cap_identify(CPtr(ep));
    println!("guest-escape: [{n}] vCPU CSpace cap types {types:?} (root data {})", cs.root_data);
    let want: [u32; 16] = core::array::from_fn(|i| match i as u64 {
        1 | service::SLOT => ep_type,
        _ => 0,
    });
    c.check(types == want && ep_type != 0 && cs.root_data == sel4vm::VM_CSPACE_ROOT_DATA, || {
        format!("[{n}] vCPU CSpace {types:?}, want {want:?}")
    });
    start_el1(&mut vm, vcpu, ENTRY, n)?;
    if n == SERVICE_ATTEMPT {
        // The guest calls the service before anything else; the vCPU
        // thread runs while the root task waits here.
        serve(ep, c);
    }

    let reason = vm.run();
    let writes = dev.borrow().writes.clone();
    println!("guest-escape: [{n}] run returned {reason:?}; device writes {writes:x?}");
    let started = (DEV_START, n);
    match a.outcome {
        Outcome::Forged { label } => {
            c.check(
                reason == ExitReason::UnknownFault { vcpu: V0, label },
                || format!("[{n}] exit {reason:?}, want UnknownFault label {label}"),
            );
            // Stopped at the message: the guest never ran on.
            c.check(writes == [started], || {
                format!("[{n}] guest went on: {writes:x?}")
            });
        }
        Outcome::Continues { x0 } => {
            c.check(reason == ExitReason::Stopped, || {
                format!("[{n}] exit {reason:?}, want Stopped")
            });
            let want = [
                started,
                (DEV_RESULT, x0),
                (DEV_AFTER, n),
                (DEV_DONE, DONE_MAGIC),
            ];
            c.check(writes == want, || {
                format!("[{n}] device writes {writes:x?}, want {want:x?}")
            });
        }
    }
    // The guest did not change its CSpace.
    let after = vcpu_cspace_types(cs.cspace.0, scratch);
    c.check(after == want, || {
        format!("[{n}] vCPU CSpace after the run {after:?}, want {want:?}")
    });
    vm.vcpu_stop(vcpu)?;
    Ok(())
}
