//! The root task proper (target only).

use alloc::format;
use alloc::rc::Rc;
use alloc::vec::Vec;
use core::cell::{Cell, RefCell};

use guest_support::vm::{
    kernel_gic_version, load_segments, qemu_virt_gic, resources, start_el1, ReportDevice,
};
use guest_support::{u32_at, u64_at, Checks};
use sel4_rt::{println, BootInfo};
use sel4vm::vgic::GicVersion;
use sel4vm::vtimer::{CTL_ENABLE, VTIMER_PPI};
use sel4vm::{ExitReason, Vm, VmConfig};
use sel4vm_sel4::{Resources, Sel4Backend, Sel4Config};

use crate::guest::*;

sel4_rt::declare_main!(main);

/// Priority of the guest's vCPU thread (the root task runs at 255).
const VCPU_PRIORITY: u8 = 100;
/// Exception class of a trapped WFI/WFE in `ESR_EL2`.
const EC_WFX: u32 = 0x01;

fn main(bi: &'static BootInfo) {
    println!("guest-timer: root task started");
    let res = resources(bi);
    Checks::run("guest-timer", |c| run_vm(&res, kernel_gic_version(), c));
}

fn run_vm(
    res: &Rc<RefCell<Resources>>,
    version: GicVersion,
    c: &mut Checks,
) -> Result<(), sel4vm::Error> {
    let (layout, v) = qemu_virt_gic(version);
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

    let dev = ReportDevice::reserve(&mut vm, "guest-timer", DEV_REGS, DEV_BASE, DEV_SIZE)?;

    // Count WFI traps, then let the built-in handling deal with them.
    let wfis = Rc::new(Cell::new(0u32));
    let w = wfis.clone();
    vm.register_unhandled_vcpu_fault_callback(vcpu, move |_, _, hsr| {
        if hsr >> 26 == EC_WFX {
            w.set(w.get() + 1);
        }
        None
    })?;

    load_segments(&mut vm, RAM_BASE, SEGMENTS)?;
    start_el1(&mut vm, vcpu, ENTRY, v)?;

    let reason = vm.run();
    println!("guest-timer: run returned {reason:?}");
    c.check(reason == ExitReason::Stopped, || format!("exit {reason:?}"));

    dev.borrow().check_finished(c, vcpu, DONE_MAGIC);

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
    c.check(wfis.get() > 0, || "WFI never trapped");
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
