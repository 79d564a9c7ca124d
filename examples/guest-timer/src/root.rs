//! The root task proper (target only).

use alloc::format;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::{Cell, RefCell};

use sel4_rt::objects::ObjectAllocator;
use sel4_rt::vspace::VSpaceMapper;
use sel4_rt::{println, BootInfo};
use sel4vm::vgic::GicVersion;
use sel4vm::vtimer::{CTL_ENABLE, VTIMER_PPI};
use sel4vm::{ExitReason, FaultResult, GicLayout, MemFault, UserContext, Vm, VmConfig};
use sel4vm_sel4::{Resources, Sel4Backend, Sel4Config};

use crate::guest::*;

sel4_rt::declare_main!(main);

/// Priority of the guest's vCPU thread (the root task runs at 255).
const VCPU_PRIORITY: u8 = 100;
/// Exception class of a trapped WFI/WFE in `ESR_EL2`.
const EC_WFX: u32 = 0x01;

type G = Vm<Sel4Backend>;

/// Failed checks, each printed as it happens.
#[derive(Default)]
struct Checks {
    run: u32,
    failed: u32,
}

impl Checks {
    fn check(&mut self, ok: bool, what: impl FnOnce() -> String) {
        self.run += 1;
        if !ok {
            self.failed += 1;
            println!("guest-timer: CHECK FAILED: {}", what());
        }
    }
}

/// The test device: DONE and the report of an unexpected exception.
#[derive(Default)]
struct Device {
    done: Option<u64>,
    fail: Option<(u64, u64)>,
    elr: u64,
}

impl Device {
    fn access(&mut self, vm: &mut G, f: &mut MemFault) -> FaultResult {
        if f.is_read() {
            f.set_data(0);
            return FaultResult::Handled;
        }
        match f.address().wrapping_sub(DEV_BASE) {
            DEV_DONE => {
                self.done = Some(f.data());
                vm.stop();
            }
            DEV_FAIL_ELR => self.elr = f.data(),
            DEV_FAIL => {
                self.fail = Some((f.data(), self.elr));
                vm.stop();
            }
            off => {
                println!("guest-timer: write to unknown device register +{off:#x}");
                return FaultResult::Error;
            }
        }
        FaultResult::Handled
    }
}

fn main(bi: &'static BootInfo) {
    println!("guest-timer: root task started");
    let version = if sel4_abi::labels::config::ARM_GIC_V3_SUPPORT {
        GicVersion::V3
    } else {
        GicVersion::V2
    };
    let res = Resources::new(ObjectAllocator::from_bootinfo(bi), VSpaceMapper::default()).shared();
    let mut c = Checks::default();
    if let Err(e) = run_vm(&res, version, &mut c) {
        c.check(false, || format!("{e:?}"));
    }
    if c.failed == 0 {
        println!("guest-timer: {} checks run", c.run);
        println!("guest-timer: all checks passed");
    } else {
        println!("guest-timer: {} of {} checks failed", c.failed, c.run);
    }
}

fn u64_at(r: &[u8], off: usize) -> u64 {
    r.get(off..off + 8)
        .and_then(|b| b.try_into().ok())
        .map_or(0, u64::from_le_bytes)
}

fn u32_at(r: &[u8], off: usize) -> u32 {
    r.get(off..off + 4)
        .and_then(|b| b.try_into().ok())
        .map_or(0, u32::from_le_bytes)
}

fn run_vm(
    res: &Rc<RefCell<Resources>>,
    version: GicVersion,
    c: &mut Checks,
) -> Result<(), sel4vm::Error> {
    let (layout, v) = match version {
        GicVersion::V2 => (GicLayout::qemu_virt_v2(), 2u64),
        GicVersion::V3 => (GicLayout::qemu_virt_v3(), 3u64),
    };
    println!("guest-timer: kernel built for GICv{v}; guest programs a vGICv{v}");
    let backend = Sel4Backend::new(res.clone(), Sel4Config::default())?;
    let config = VmConfig {
        name: "guest-timer".into(),
        ..VmConfig::default()
    };
    let mut vm = Vm::new(backend, config)?;
    let vcpu = vm.create_vcpu(VCPU_PRIORITY)?;
    vm.ram_register_at(RAM_BASE, RAM_SIZE, false)?;
    vm.create_vgic(layout)?;

    // Counts the guest's completions of the timer interrupt (run after the
    // core acknowledged the VPPI).
    let eois = Rc::new(Cell::new(0u32));
    let e = eois.clone();
    vm.register_irq(vcpu, VTIMER_PPI, move |_, _, _| e.set(e.get() + 1))?;

    let dev = Rc::new(RefCell::new(Device::default()));
    let d = dev.clone();
    vm.reserve_memory_at(DEV_BASE, DEV_SIZE, move |vm, f| {
        d.borrow_mut().access(vm, f)
    })?;

    // Count WFI traps, then let the built-in handling deal with them.
    let wfis = Rc::new(Cell::new(0u32));
    let w = wfis.clone();
    vm.register_unhandled_vcpu_fault_callback(vcpu, move |_, _, hsr| {
        if hsr >> 26 == EC_WFX {
            w.set(w.get() + 1);
        }
        None
    })?;

    for s in SEGMENTS {
        let bytes: Vec<u8> = s.words.iter().flat_map(|w| w.to_le_bytes()).collect();
        vm.ram_write(RAM_BASE + s.offset, &bytes)?;
    }
    let mut ctx = UserContext::default();
    ctx.set_pc(ENTRY);
    ctx.set_spsr(SPSR_EL1H_MASKED);
    ctx.set_x(0, v);
    vm.set_thread_context(vcpu, &ctx)?;
    vm.vcpu_start(vcpu)?;

    let reason = vm.run();
    println!("guest-timer: run returned {reason:?}");
    c.check(reason == ExitReason::Stopped, || format!("exit {reason:?}"));

    let d = dev.borrow();
    if let Some((f, elr)) = d.fail {
        c.check(false, || {
            format!(
                "guest took exception in vector slot {} (ESR {:#x}) at {elr:#x}",
                f >> 32,
                f & 0xffff_ffff
            )
        });
    }
    c.check(d.done == Some(DONE_MAGIC), || format!("DONE {:x?}", d.done));
    drop(d);

    let mut r = [0u8; RESULTS_SIZE];
    vm.ram_read(RESULTS, &mut r)?;
    let count = u64_at(&r, res::COUNT);
    let start = u64_at(&r, res::START);
    let end = u64_at(&r, res::END);
    let period = u64_at(&r, res::PERIOD);
    let iars: Vec<u32> = (0..count.min(NUM_TICKS) as usize)
        .map(|i| u32_at(&r, res::IARS + 4 * i))
        .collect();
    println!(
        "guest-timer: GICv{v}: {count} timer interrupts, IARs {iars:x?}, {} ticks elapsed (period {period}), {} WFI traps, {} EOIs seen by the VMM",
        end.wrapping_sub(start),
        wfis.get(),
        eois.get()
    );
    c.check(count == NUM_TICKS, || format!("{count} timer interrupts"));
    c.check(iars.iter().all(|&i| i & 0x3ff == VTIMER_PPI), || {
        format!("IARs {iars:x?}")
    });
    let other = u64_at(&r, res::OTHER);
    c.check(other == 0, || format!("{other} other/spurious interrupts"));
    let en = u32_at(&r, res::ENABLES);
    c.check(en & (1 << VTIMER_PPI) != 0, || {
        format!("ISENABLER0 read back {en:#x}")
    });
    let prio = u32_at(&r, res::PRIORITY);
    c.check(prio == 0xa0, || {
        format!("IPRIORITYR[27] read back {prio:#x}")
    });
    // The n-th interrupt cannot come before start + n * period.
    c.check(
        period > 0 && end.wrapping_sub(start) >= NUM_TICKS * period,
        || {
            format!(
                "only {} ticks for {NUM_TICKS} periods of {period}",
                end.wrapping_sub(start)
            )
        },
    );
    let ctl = u64_at(&r, res::CTL_END);
    c.check(ctl & CTL_ENABLE == 0, || {
        format!("timer still enabled: CTL {ctl:#x}")
    });
    c.check(u64::from(eois.get()) == NUM_TICKS, || {
        format!("VMM saw {} EOIs of PPI 27", eois.get())
    });
    c.check(wfis.get() > 0, || "WFI never trapped".into());
    let lrs = vm.list_registers(vcpu);
    c.check(lrs.iter().all(Option::is_none), || {
        format!("list registers still hold {lrs:?}")
    });
    let st = vm.vgic().and_then(|g| g.irq_status(vcpu, VTIMER_PPI));
    c.check(
        st.is_some_and(|s| s.enabled && !s.in_list_register && s.queued_on.is_none()),
        || format!("PPI 27 state {st:?}"),
    );
    vm.vcpu_stop(vcpu)?;
    Ok(())
}
