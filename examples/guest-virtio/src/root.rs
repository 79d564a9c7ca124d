//! The root task proper (target only).

use alloc::boxed::Box;
use alloc::format;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::RefCell;

use guest_support::vm::{
    kernel_gic_version, load_segments, qemu_virt_gic, resources, start_el1, ReportDevice,
};
use guest_support::{u32_at, Checks};
use sel4_rt::{println, BootInfo};
use sel4vm::vgic::GicVersion;
use sel4vm::{DeviceIo, ExitReason, GuestAddress, MmioDevice, MmioRegion, Vm, VmConfig};
use sel4vm_devices::console::{Console, ConsoleBackend, QUEUE_SIZE as QUEUE_MAX};
use sel4vm_devices::virtio::mmio::{VirtioMmio, MAGIC_VALUE, VENDOR_ID, VERSION};
use sel4vm_devices::virtio::{VIRTIO_F_VERSION_1, VIRTIO_ID_CONSOLE};
use sel4vm_sel4::{Resources, Sel4Backend, Sel4Config};

use crate::guest::*;

sel4_rt::declare_main!(main);

/// Priority of the guest's vCPU thread (the root task runs at 255).
const VCPU_PRIORITY: u8 = 100;

/// The console backend: records what the guest transmits; no input.
#[derive(Default)]
struct Recorder(Vec<u8>);

impl ConsoleBackend for Recorder {
    fn write(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }
    fn read(&mut self, _buf: &mut [u8]) -> usize {
        0
    }
}

type Transport = VirtioMmio<Console<Rc<RefCell<Recorder>>>>;

/// The transport as the VM sees it, while the root task keeps a handle to
/// read its state after the run.
struct Shared(Rc<RefCell<Transport>>);

impl MmioDevice for Shared {
    fn name(&self) -> &str {
        "virtio-console"
    }
    fn read(&mut self, offset: u64, size: u8, io: &mut DeviceIo<'_>) -> u64 {
        self.0.borrow_mut().read(offset, size, io)
    }
    fn write(&mut self, offset: u64, size: u8, value: u64, io: &mut DeviceIo<'_>) {
        self.0.borrow_mut().write(offset, size, value, io)
    }
    fn notified(&mut self, bits: u64, io: &mut DeviceIo<'_>) {
        self.0.borrow_mut().notified(bits, io)
    }
    fn reset(&mut self) {
        self.0.borrow_mut().reset()
    }
}

fn main(bi: &'static BootInfo) {
    println!("guest-virtio: root task started");
    let res = resources(bi);
    Checks::run("guest-virtio", |c| run_vm(&res, kernel_gic_version(), c));
}

fn run_vm(
    res: &Rc<RefCell<Resources>>,
    version: GicVersion,
    c: &mut Checks,
) -> Result<(), sel4vm::Error> {
    let (layout, v) = qemu_virt_gic(version);
    println!(
        "guest-virtio: kernel built for GICv{v}; virtio-console at {VIRTIO_BASE:#x}, SPI {VIRTIO_IRQ}"
    );
    let backend = Sel4Backend::new(res.clone(), Sel4Config::default())?;
    let config = VmConfig {
        name: "guest-virtio".into(),
        ..VmConfig::default()
    };
    let mut vm = Vm::new(backend, config)?;
    let vcpu = vm.create_vcpu(VCPU_PRIORITY)?;
    vm.ram_register_at(RAM_BASE, RAM_SIZE, false)?;
    vm.create_vgic(layout)?;

    // The console's line; the guest polls and never enables it.
    vm.register_irq(vcpu, VIRTIO_IRQ, |_, _, _| {})?;
    let out = Rc::new(RefCell::new(Recorder::default()));
    let virtio: Rc<RefCell<Transport>> =
        Rc::new(RefCell::new(VirtioMmio::new(Console::new(out.clone()))));
    vm.register_mmio_device(
        MmioRegion {
            base: GuestAddress(VIRTIO_BASE),
            size: VIRTIO_SIZE,
            irq: Some(VIRTIO_IRQ),
        },
        Box::new(Shared(virtio.clone())),
    )?;
    let dev = ReportDevice::reserve(&mut vm, "guest-virtio", DEV_REGS, DEV_BASE, DEV_SIZE)?;

    load_segments(&mut vm, RAM_BASE, SEGMENTS)?;
    start_el1(&mut vm, vcpu, ENTRY, 0)?;

    // Every guest access, the corrupt chains included, is handled inside
    // this one run: the VMM must neither stop nor fail before DONE.
    let reason = vm.run();
    println!("guest-virtio: run returned {reason:?}");
    c.check(reason == ExitReason::Stopped, || format!("exit {reason:?}"));
    dev.borrow().check_finished(c, vcpu, DONE_MAGIC);

    let mut r = [0u8; RESULTS_SIZE];
    vm.ram_read(RESULTS, &mut r)?;
    check_identification(c, &r);
    for p in &PHASES {
        check_phase(c, &r, p);
    }

    // The console received exactly the valid buffer's bytes.
    let text = out.borrow().0.clone();
    let shown = String::from_utf8_lossy(&text);
    // One line, whatever arrived: inner newlines and control bytes escaped.
    println!(
        "guest-virtio: console: {}",
        shown.trim_end_matches('\n').escape_debug()
    );
    c.check(text == MESSAGE, || {
        format!(
            "console received {shown:?}, want {:?}",
            String::from_utf8_lossy(MESSAGE)
        )
    });

    // The used ring holds the one valid chain (head 0, nothing written).
    let mut used = [0u8; 12];
    vm.ram_read(USED, &mut used)?;
    let (idx, id, len) = (u32_at(&used, 0) >> 16, u32_at(&used, 4), u32_at(&used, 8));
    c.check((idx, id, len) == (1, 0, 0), || {
        format!("used ring: idx {idx}, first element id {id} len {len}")
    });

    // The transport: live again, two needs-reset events, one chain.
    let t = virtio.borrow();
    let s = t.stats();
    println!(
        "guest-virtio: transport: status {:#x}, needs reset {}, {} needs-reset events, {} notifies, {} chains, {} config / {} used interrupts, line raised {} times",
        t.status(),
        t.needs_reset(),
        s.needs_reset,
        s.queue_notifications,
        s.chains,
        s.config_interrupts,
        s.used_interrupts,
        s.irq_raised
    );
    c.check(t.status() == status::LIVE && !t.needs_reset(), || {
        format!(
            "device ends with status {:#x}, needs reset {}",
            t.status(),
            t.needs_reset()
        )
    });
    c.check(t.interrupt_status() == 0, || {
        format!("InterruptStatus {:#x} at the end", t.interrupt_status())
    });
    c.check(s.needs_reset == 2, || {
        format!("{} needs-reset events, want 2", s.needs_reset)
    });
    c.check(s.queue_notifications == 3, || {
        format!("{} queue notifications, want 3", s.queue_notifications)
    });
    c.check(s.chains == 1 && s.used_bytes == 0, || {
        format!("{} chains, {} used bytes", s.chains, s.used_bytes)
    });
    c.check(s.config_interrupts == 2 && s.used_interrupts == 1, || {
        format!(
            "{} config / {} used interrupts",
            s.config_interrupts, s.used_interrupts
        )
    });
    c.check(s.irq_raised == 3, || {
        format!("line raised {} times, want 3", s.irq_raised)
    });
    c.check(s.bad_accesses == 0, || {
        format!("{} bad register accesses", s.bad_accesses)
    });
    let q = t.queue(TXQ);
    c.check(
        q.is_some_and(|q| q.is_ready() && q.size() == QUEUE_SIZE && q.next_used() == 1),
        || format!("transmitq {q:?}"),
    );
    let tx = t.device().stats().tx_bytes;
    c.check(tx == MESSAGE.len() as u64, || {
        format!("console counted {tx} bytes sent")
    });
    drop(t);

    // The guest acknowledged every interrupt: the line is low again.
    let st = vm.vgic().and_then(|g| g.irq_status(vcpu, VIRTIO_IRQ));
    c.check(st.is_some_and(|s| !s.line), || {
        format!("SPI {VIRTIO_IRQ} state {st:?}")
    });
    vm.vcpu_stop(vcpu)?;
    Ok(())
}

/// The identification registers as the guest read them.
fn check_identification(c: &mut Checks, r: &[u8]) {
    let magic = u32_at(r, res::MAGIC);
    let version = u32_at(r, res::VERSION);
    let id = u32_at(r, res::DEVICE_ID);
    let vendor = u32_at(r, res::VENDOR_ID);
    let hi = u32_at(r, res::FEATURES_HI);
    println!(
        "guest-virtio: guest read magic {magic:#x}, version {version}, device {id}, vendor {vendor:#x}, features[32..64] {hi:#x}"
    );
    c.check(magic == MAGIC_VALUE, || format!("MagicValue {magic:#x}"));
    c.check(version == VERSION, || format!("Version {version}"));
    c.check(id == VIRTIO_ID_CONSOLE, || format!("DeviceID {id}"));
    c.check(vendor == VENDOR_ID, || format!("VendorID {vendor:#x}"));
    c.check(hi & 1 << (VIRTIO_F_VERSION_1 - 32) != 0, || {
        format!("DeviceFeatures[32..64] {hi:#x} lacks VERSION_1")
    });
    let gen = u32_at(r, res::CONFIG_GEN);
    c.check(gen == 0, || format!("ConfigGeneration {gen}"));
    let ports = u32_at(r, res::MAX_PORTS);
    c.check(ports == 1, || format!("max_nr_ports {ports}"));
}

/// One phase's record against what the device must have answered.
fn check_phase(c: &mut Checks, r: &[u8], p: &Phase) {
    let at = |off: usize| u32_at(r, p.record + off);
    let (st, int, used) = (at(res::P_STATUS), at(res::P_INT), at(res::P_USED_IDX));
    let reset = at(res::P_RESET);
    println!(
        "guest-virtio: [{}] status {st:#x} after the notify (DEVICE_NEEDS_RESET {}), InterruptStatus {int:#x}, used idx {used}{}",
        p.name,
        if st & status::DEVICE_NEEDS_RESET != 0 { "set" } else { "clear" },
        match p.reset {
            Some(_) => format!(", status {reset:#x} after the reset"),
            None => String::new(),
        }
    );
    let name = p.name;
    let init = [
        (
            "status after FEATURES_OK",
            res::P_FEATURES_OK,
            status::FEATURES_DONE,
        ),
        ("QueueNumMax", res::P_NUM_MAX, u32::from(QUEUE_MAX)),
        ("QueueReady", res::P_READY, 1),
        ("status after DRIVER_OK", res::P_DRIVER_OK, status::LIVE),
        ("InterruptStatus after the ACK", res::P_INT_ACKED, 0),
    ];
    for (what, off, want) in init {
        let got = at(off);
        c.check(got == want, || {
            format!("[{name}] {what} {got:#x}, want {want:#x}")
        });
    }
    c.check(st == p.status, || {
        format!(
            "[{name}] status {st:#x} after the notify, want {:#x}",
            p.status
        )
    });
    c.check(int == p.int_status, || {
        format!(
            "[{name}] InterruptStatus {int:#x} after the notify, want {:#x}",
            p.int_status
        )
    });
    c.check(used == p.used_idx, || {
        format!("[{name}] used idx {used}, want {}", p.used_idx)
    });
    if let Some(want) = p.reset {
        c.check(reset == want, || {
            format!("[{name}] status {reset:#x} after the reset, want {want:#x}")
        });
    }
}
