//! The root task proper (target only).

use alloc::format;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::RefCell;

use guest_support::vm::{
    kernel_gic_version, load_segments, qemu_virt_gic, resources, start_el1, ReportDevice,
};
use guest_support::{u64_at, Checks};
use sel4_abi::init;
use sel4_rt::{println, BootInfo};
use sel4vm::psci::{code, ret};
use sel4vm::vgic::GicVersion;
use sel4vm::vtimer::{CTL_ENABLE, CTL_IMASK, CTL_ISTATUS, PTIMER_PPI, VTIMER_PPI};
use sel4vm::{ExitReason, FaultResult, VcpuId, VcpuStats, Vm, VmConfig, VmStats};
use sel4vm_sel4::{Resources, Sel4Backend, Sel4Config};

use crate::guest::*;

sel4_rt::declare_main!(main);

/// Priority of the guest's vCPU threads (the root task runs at 255).
const VCPU_PRIORITY: u8 = 100;
const V0: VcpuId = VcpuId(0);
const V1: VcpuId = VcpuId(1);
/// Notification badge bit of the wake-up timer's interrupt.
const WAKEUP_BADGE: u64 = 1 << 2;
/// Exception class of a trapped WFI/WFE in `ESR_EL2`.
const EC_WFX: usize = 0x01;
/// "A handful": most exits vCPU 1 may make while it sleeps through
/// vCPU 0's busy loop (its WFI; should its deadline pass during the loop,
/// the virtual-timer event, the EOI maintenance and one more WFI).
const HANDFUL: u64 = 6;

type Res = Rc<RefCell<Resources>>;

/// A phase mark the guest wrote, with the statistics at that moment.
struct Mark {
    n: u64,
    vcpu: VcpuId,
    stats: VmStats,
}

fn main(bi: &'static BootInfo) {
    println!("guest-wfx: root task started");
    let res = resources(bi);
    Checks::run("guest-wfx", |c| run_vm(&res, kernel_gic_version(), c));
}

fn run_vm(res: &Res, version: GicVersion, c: &mut Checks) -> Result<(), String> {
    let (layout, v) = qemu_virt_gic(version);
    let hz = sel4_abi::labels::config::TIMER_FREQUENCY as u64;
    // As the Linux VMM: 100 µs, long enough for a lock owner to leave a
    // short critical section.
    let slice = hz / 10_000;
    println!("guest-wfx: kernel built for GICv{v}; 2 vCPUs, vGICv{v}, WFE parks for {slice} ticks");
    let backend = Sel4Backend::new(res.clone(), Sel4Config::default()).map_err(err("backend"))?;
    let config = VmConfig {
        name: "guest-wfx".into(),
        max_vcpus: 2,
        wfe_yield_ticks: slice,
        ..VmConfig::default()
    };
    let mut vm = Vm::new(backend, config).map_err(err("vm"))?;
    for _ in 0..2 {
        vm.create_vcpu(VCPU_PRIORITY).map_err(err("vcpu"))?;
    }
    // The wake-up timer, as the Linux VMM sets it up: the EL1 physical
    // timer's interrupt bound to a notification bit of the VMM.
    let b = vm.backend_mut();
    let handler = b
        .bind_irq(init::IRQ_CONTROL.cptr(), PTIMER_PPI, WAKEUP_BADGE)
        .map_err(err("wake-up timer IRQ"))?;
    b.enable_wakeup_timer(handler, WAKEUP_BADGE);
    vm.ram_register_at(RAM_BASE, RAM_SIZE, false)
        .map_err(err("RAM"))?;
    vm.create_vgic(layout).map_err(err("vGIC"))?;

    // The test device: DONE / FAIL, and the phase marks, where the exit
    // statistics are taken (before the mark's own exit is counted).
    let dev = Rc::new(RefCell::new(ReportDevice::new("guest-wfx", DEV_REGS)));
    let marks: Rc<RefCell<Vec<Mark>>> = Rc::default();
    let (d, m) = (dev.clone(), marks.clone());
    vm.reserve_memory_at(DEV_BASE, DEV_SIZE, move |vm, f| {
        if !f.is_read() && f.address() == DEV_BASE + MARK_REG {
            m.borrow_mut().push(Mark {
                n: f.data(),
                vcpu: f.vcpu,
                stats: vm.stats().clone(),
            });
            return FaultResult::Handled;
        }
        d.borrow_mut().access(vm, f, DEV_BASE)
    })
    .map_err(err("test device"))?;

    load_segments(&mut vm, RAM_BASE, SEGMENTS).map_err(err("load"))?;
    // Only vCPU 0 starts; vCPU 1 waits for PSCI CPU_ON.
    start_el1(&mut vm, V0, ENTRY0, v).map_err(err("start"))?;

    let reason = vm.run();
    println!("guest-wfx: run returned {reason:?}");
    c.check(reason == ExitReason::Stopped, || format!("exit {reason:?}"));
    dev.borrow().check_finished(c, V0, DONE_MAGIC);

    let mut r = [0u8; RESULTS_SIZE];
    vm.ram_read(RESULTS, &mut r).map_err(err("results"))?;
    let get = |o| u64_at(&r, o);
    check_common(c, &vm, &r, v)?;

    let marks = marks.borrow();
    let seen: Vec<(u64, VcpuId)> = marks.iter().map(|m| (m.n, m.vcpu)).collect();
    let want: Vec<(u64, VcpuId)> = mark::ALL.iter().map(|&n| (n, V0)).collect();
    if !c.check(seen == want, || {
        format!("phase marks {seen:?}, want {want:?}")
    }) {
        println!("guest-wfx: stats: {}", vm.stats());
        return Ok(());
    }
    let at = |n: u64| &marks[(n - 1) as usize].stats;
    let end = vm.stats().clone();

    // ---- phase 1: an SGI wakes vCPU 1 asleep in WFI with no deadline ----
    let w = Window::new(at(mark::IPI), at(mark::BUSY));
    let (iar, wfis) = (get(res::P1_IAR), get(res::P1_WFIS));
    println!(
        "guest-wfx: [ipi] vCPU1: {} exits, {} WFx, {} WFI sleeps; VM: {} wake-ups; guest: {wfis} WFI, IAR {iar:#x}, took it {} ticks after the SGI; vCPU0 read STAGE {} times until then",
        w.v1.exits,
        w.v1.vcpu_faults[EC_WFX],
        w.v1.wfi_sleeps,
        w.wakeups,
        get(res::P1_AT).wrapping_sub(get(res::SGI_AT)),
        get(res::SGI_POLLS),
    );
    c.check(iar >> 31 == 1 && iar & 0x3ff == u64::from(SGI_TO_1), || {
        format!("[ipi] vCPU 1 IAR {iar:#x}, want SGI {SGI_TO_1}")
    });
    c.check(w.v1.wfi_sleeps >= 1, || {
        format!(
            "[ipi] vCPU 1's WFI never slept ({} WFI sleeps)",
            w.v1.wfi_sleeps
        )
    });
    c.check(w.wakeups == 0, || {
        format!(
            "[ipi] {} wake-up timer fires; the SGI alone must wake vCPU 1",
            w.wakeups
        )
    });
    c.check(wfis == 1, || {
        format!("[ipi] vCPU 1 executed {wfis} WFIs; the first must sleep until the SGI")
    });

    // ---- phase 2: vCPU 0 busy, vCPU 1 asleep on a deadline 1 s ahead ----
    let busy = Window::new(at(mark::BUSY), at(mark::BUSY_END));
    let woke = Window::new(at(mark::BUSY), at(mark::TIMER_WOKE));
    let (cval, ctl, took) = (get(res::P2_CVAL), get(res::P2_CTL), get(res::P2_AT));
    let (iar, wfis) = (get(res::P2_IAR), get(res::P2_WFIS));
    let busy_ticks = get(res::BUSY_END).wrapping_sub(get(res::BUSY_START));
    println!(
        "guest-wfx: [busy] vCPU0: {BUSY_ITERS} iterations in {busy_ticks} ticks, {} exits; vCPU1 meanwhile: {} exits, {} WFx, {} WFI sleeps; deadline {}",
        busy.v0.exits,
        busy.v1.exits,
        busy.v1.vcpu_faults[EC_WFX],
        busy.v1.wfi_sleeps,
        if cval > get(res::BUSY_END) {
            "after the loop"
        } else {
            "passed during the loop"
        },
    );
    println!(
        "guest-wfx: [timer] vCPU1: {} exits, {} vppi, {} WFI sleeps; VM: {} wake-ups; guest: {wfis} WFI, IAR {iar:#x}, CNTV_CTL {ctl:#x}, took it {} ticks after the deadline",
        woke.v1.exits,
        woke.v1.vppi,
        woke.v1.wfi_sleeps,
        woke.wakeups,
        took.wrapping_sub(cval),
    );
    c.check(busy.v1.exits <= HANDFUL, || {
        format!(
            "[busy] vCPU 1 made {} exits while asleep, want at most {HANDFUL}",
            busy.v1.exits
        )
    });
    c.check(busy.v1.vcpu_faults[EC_WFX] <= 2, || {
        format!(
            "[busy] vCPU 1's WFI trapped {} times, want at most 2",
            busy.v1.vcpu_faults[EC_WFX]
        )
    });
    c.check(busy.v1.wfi_sleeps >= 1, || {
        "[busy] vCPU 1's WFI never slept"
    });
    c.check(
        iar >> 31 == 1 && iar & 0x3ff == u64::from(VTIMER_PPI),
        || format!("[timer] vCPU 1 IAR {iar:#x}, want PPI {VTIMER_PPI}"),
    );
    c.check(
        ctl & (CTL_ENABLE | CTL_ISTATUS | CTL_IMASK) == CTL_ENABLE | CTL_ISTATUS,
        || format!("[timer] CNTV_CTL {ctl:#x} in the handler, want ENABLE and ISTATUS"),
    );
    c.check(took >= cval, || {
        format!("[timer] interrupt at count {took:#x}, before the deadline {cval:#x}")
    });
    c.check(woke.wakeups >= 1, || {
        "[timer] the wake-up timer never fired for vCPU 1's deadline"
    });
    c.check(woke.v1.vppi >= 1, || {
        "[timer] no virtual-timer event from vCPU 1"
    });
    c.check(wfis <= 3, || {
        format!("[timer] vCPU 1 executed {wfis} WFIs, want at most 3")
    });

    // ---- phase 3: vCPU 1 waits in WFE for the lock vCPU 0 holds ----
    let cs = Window::new(at(mark::CS), at(mark::CS_END));
    let cs_ticks = get(res::CS_END).wrapping_sub(get(res::CS_START));
    // Each trapped WFE parks vCPU 1 for `slice` ticks while vCPU 0 runs:
    // the critical section allows about cs_ticks / slice of them; an
    // immediate return would allow one per trap round trip.
    let bound = 2 * (cs_ticks / slice.max(1)) + 16;
    let wfes = get(res::P3_WFES);
    let traps = cs.v1.vcpu_faults[EC_WFX];
    // The owner's loop speed against the busy loop's with vCPU 1 asleep
    // (for the log only: timings are not checked).
    let share = (CS_ITERS * busy_ticks.max(1) * 100)
        .checked_div(BUSY_ITERS * cs_ticks.max(1))
        .unwrap_or(0);
    println!(
        "guest-wfx: [lock] vCPU0: {CS_ITERS} iterations in {cs_ticks} ticks ({share}% of its speed in phase 2), {} exits; vCPU1 meanwhile: {} exits, {traps} WFE traps (bound {bound}); guest: {wfes} WFEs executed, DATA {:#x} under the lock",
        cs.v0.exits,
        cs.v1.exits,
        get(res::P3_DATA),
    );
    c.check(traps <= bound, || {
        format!(
            "[lock] vCPU 1's WFE trapped {traps} times in {cs_ticks} ticks, want at most {bound}"
        )
    });
    c.check(get(res::P3_DATA) == DATA_MAGIC, || {
        format!(
            "[lock] vCPU 1 found DATA {:#x} under the lock, want the owner's {DATA_MAGIC:#x}",
            get(res::P3_DATA)
        )
    });
    c.check(wfes >= 1, || "[lock] vCPU 1 never waited in WFE");
    let mut shared = [0u8; 0x100];
    vm.ram_read(SHARED, &mut shared).map_err(err("shared"))?;
    let lock = u64_at(&shared, (LOCK - SHARED) as usize) & 0xffff_ffff;
    let stage = u64_at(&shared, (STAGE - SHARED) as usize);
    c.check(lock == 0 && stage == 6, || {
        format!("[lock] lock {lock} and stage {stage} at the end, want 0 and 6")
    });

    let total = Window::new(&VmStats::default(), &end);
    println!(
        "guest-wfx: whole run: vCPU0 {} exits, vCPU1 {} exits ({} WFx, {} WFI sleeps), {} wake-ups",
        total.v0.exits,
        total.v1.exits,
        total.v1.vcpu_faults[EC_WFX],
        total.v1.wfi_sleeps,
        total.wakeups
    );
    println!("guest-wfx: stats: {end}");
    vm.vcpu_stop(V0).map_err(err("stop"))?;
    Ok(())
}

/// What does not belong to one phase: PSCI, entry state, the MMU, the end.
fn check_common(c: &mut Checks, vm: &Vm<Sel4Backend>, r: &[u8], v: u64) -> Result<(), String> {
    let get = |o| u64_at(r, o);
    let want: [(&str, usize, u64); 5] = [
        ("CPU_ON", res::CPU_ON, code(ret::SUCCESS)),
        ("AFFINITY_INFO after CPU_OFF", res::AFF_OFF, 1),
        ("vCPU 1 x0 (context id)", res::X0_1, CONTEXT_TAG | v),
        ("CPU_OFF return (none)", res::CPU_OFF_RET, 0),
        ("other interrupts on vCPU 1", res::OTHER, 0),
    ];
    for (what, off, val) in want {
        let got = get(off);
        c.check(got == val, || format!("{what}: {got:#x}, want {val:#x}"));
    }
    for (vc, off) in [(V0, res::SCTLR0), (V1, res::SCTLR1)] {
        let s = get(off);
        c.check(s & SCTLR_ON == SCTLR_ON && s & SCTLR_WXN == 0, || {
            format!("{vc}: SCTLR_EL1 {s:#x}: MMU and caches not on")
        });
    }
    c.check(!vm.is_vcpu_online(V1), || {
        "vCPU 1 still online after CPU_OFF"
    });
    c.check(vm.is_vcpu_online(V0), || "vCPU 0 went offline");
    for vc in [V0, V1] {
        let lrs = vm.list_registers(vc);
        c.check(lrs.iter().all(Option::is_none), || {
            format!("{vc}: list registers still hold {lrs:?}")
        });
    }
    Ok(())
}

/// The exit statistics between two marks.
struct Window {
    v0: VcpuStats,
    v1: VcpuStats,
    wakeups: u64,
}

impl Window {
    fn new(a: &VmStats, b: &VmStats) -> Self {
        let vcpu = |s: &VmStats, i: usize| s.vcpus.get(i).cloned().unwrap_or_default();
        Self {
            v0: sub(&vcpu(b, 0), &vcpu(a, 0)),
            v1: sub(&vcpu(b, 1), &vcpu(a, 1)),
            wakeups: b.wakeups.saturating_sub(a.wakeups),
        }
    }
}

/// `b - a`, counter by counter (the ones this test looks at).
fn sub(b: &VcpuStats, a: &VcpuStats) -> VcpuStats {
    let mut d = b.clone();
    d.exits = b.exits.saturating_sub(a.exits);
    d.mem_faults = b.mem_faults.saturating_sub(a.mem_faults);
    for (x, y) in d.vcpu_faults.iter_mut().zip(a.vcpu_faults.iter()) {
        *x = x.saturating_sub(*y);
    }
    d.vppi = b.vppi.saturating_sub(a.vppi);
    d.maintenance = b.maintenance.saturating_sub(a.maintenance);
    d.wfi_sleeps = b.wfi_sleeps.saturating_sub(a.wfi_sleeps);
    d
}

/// Maps an error to `what: error`.
fn err<E: core::fmt::Display>(what: &'static str) -> impl FnOnce(E) -> String {
    move |e| format!("{what}: {e}")
}
