//! The root task proper (target only).

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::format;
use alloc::rc::Rc;
use alloc::vec;
use alloc::vec::Vec;
use core::cell::RefCell;
use core::fmt::Debug;

use guest_support::vm::{
    kernel_gic_version, load_segments, qemu_virt_gic, resources, start_el1, ReportDevice,
};
use guest_support::{u32_at, Checks};
use sel4_rt::{println, BootInfo};
use sel4vm::vgic::GicVersion;
use sel4vm::{DeviceIo, ExitReason, GuestAddress, MmioDevice, MmioRegion, Vm, VmConfig};
use sel4vm_devices::net::{
    Net, NetBackend, NetInfo, TxStatus, QUEUE_SIZE as QUEUE_MAX, VIRTIO_ID_NET, VIRTIO_NET_F_MAC,
    VIRTIO_NET_F_STATUS, VIRTIO_NET_S_LINK_UP,
};
use sel4vm_devices::virtio::mmio::{VirtioMmio, MAGIC_VALUE, VENDOR_ID, VERSION};
use sel4vm_devices::virtio::{interrupt, VIRTIO_F_VERSION_1};
use sel4vm_sel4::{Resources, Sel4Backend, Sel4Config};

use crate::guest::*;

sel4_rt::declare_main!(main);

/// Priority of the guest's vCPU thread (the root task runs at 255).
const VCPU_PRIORITY: u8 = 100;

/// A loopback link: every frame the guest sends is recorded and offered
/// back to it.
#[derive(Default)]
struct Loopback {
    /// Every frame sent, in order.
    sent: Vec<Vec<u8>>,
    /// Frames not yet delivered to the guest.
    inbox: VecDeque<Vec<u8>>,
}

impl NetBackend for Loopback {
    fn info(&self) -> NetInfo {
        NetInfo {
            mac: MAC,
            link_up: true,
        }
    }

    fn transmit(&mut self, len: usize, fill: &mut dyn FnMut(&mut [u8]) -> bool) -> TxStatus {
        let mut buf = vec![0; len];
        if !fill(&mut buf) {
            return TxStatus::Failed;
        }
        self.sent.push(buf.clone());
        self.inbox.push_back(buf);
        TxStatus::Sent
    }

    fn receive(&mut self, deliver: &mut dyn FnMut(&[u8]) -> bool) {
        while let Some(f) = self.inbox.front() {
            if !deliver(f) {
                return;
            }
            self.inbox.pop_front();
        }
    }

    fn reset(&mut self) -> u64 {
        let n = self.inbox.len() as u64;
        self.inbox.clear();
        n
    }
}

type Transport = VirtioMmio<Net<Loopback>>;

/// The transport as the VM sees it, while the root task keeps a handle to
/// read its state after the run.
struct Shared(Rc<RefCell<Transport>>);

impl MmioDevice for Shared {
    fn name(&self) -> &str {
        "virtio-net"
    }
    fn read(&mut self, offset: u64, size: u8, io: &mut DeviceIo<'_>) -> u64 {
        self.0.borrow_mut().read(offset, size, io)
    }
    fn write(&mut self, offset: u64, size: u8, value: u64, io: &mut DeviceIo<'_>) {
        let mut t = self.0.borrow_mut();
        t.write(offset, size, value, io);
        // A frame came back on the link: signal the device as a NIC's
        // receive interrupt would (the path a real backend takes).
        if !t.device().backend().inbox.is_empty() {
            t.notified(1, io);
        }
    }
    fn notified(&mut self, bits: u64, io: &mut DeviceIo<'_>) {
        self.0.borrow_mut().notified(bits, io)
    }
    fn reset(&mut self) {
        self.0.borrow_mut().reset()
    }
}

fn main(bi: &'static BootInfo) {
    println!("guest-net: root task started");
    let res = resources(bi);
    Checks::run("guest-net", |c| run_vm(&res, kernel_gic_version(), c));
}

/// Prints `what`, then counts it as a check that `got == want`.
fn expect<T: PartialEq + Debug>(c: &mut Checks, what: &str, got: T, want: T) {
    let ok = got == want;
    println!(
        "guest-net: {what}: {got:?}{}",
        if ok { "" } else { " (unexpected)" }
    );
    c.check(ok, || format!("{what}: {got:?}, want {want:?}"));
}

fn run_vm(
    res: &Rc<RefCell<Resources>>,
    version: GicVersion,
    c: &mut Checks,
) -> Result<(), sel4vm::Error> {
    let (layout, v) = qemu_virt_gic(version);
    println!(
        "guest-net: kernel built for GICv{v}; virtio-net at {VIRTIO_BASE:#x}, SPI {VIRTIO_IRQ}"
    );
    let backend = Sel4Backend::new(res.clone(), Sel4Config::default())?;
    let config = VmConfig {
        name: "guest-net".into(),
        ..VmConfig::default()
    };
    let mut vm = Vm::new(backend, config)?;
    let vcpu = vm.create_vcpu(VCPU_PRIORITY)?;
    vm.ram_register_at(RAM_BASE, RAM_SIZE, false)?;
    vm.create_vgic(layout)?;

    // The device's line; the guest polls and never enables it.
    vm.register_irq(vcpu, VIRTIO_IRQ, |_, _, _| {})?;
    let virtio: Rc<RefCell<Transport>> =
        Rc::new(RefCell::new(VirtioMmio::new(Net::new(Loopback::default()))));
    vm.register_mmio_device(
        MmioRegion {
            base: GuestAddress(VIRTIO_BASE),
            size: VIRTIO_SIZE,
            irq: Some(VIRTIO_IRQ),
        },
        Box::new(Shared(virtio.clone())),
    )?;
    let dev = ReportDevice::reserve(&mut vm, "guest-net", DEV_REGS, DEV_BASE, DEV_SIZE)?;

    load_segments(&mut vm, RAM_BASE, SEGMENTS)?;
    start_el1(&mut vm, vcpu, ENTRY, 0)?;

    // Every guest access, the bad chains included, is handled inside this
    // one run: the VMM must neither stop nor fail before DONE.
    let reason = vm.run();
    println!("guest-net: run returned {reason:?}");
    c.check(reason == ExitReason::Stopped, || format!("exit {reason:?}"));
    dev.borrow().check_finished(c, vcpu, DONE_MAGIC);

    let mut r = [0u8; RESULTS_SIZE];
    vm.ram_read(RESULTS, &mut r)?;
    check_setup(c, &r);

    // The bad batch: all five chains returned, the device still live.
    let (st, int, used) = (
        u32_at(&r, res::BAD_STATUS),
        u32_at(&r, res::BAD_INT),
        u32_at(&r, res::BAD_USED),
    );
    println!(
        "guest-net: [bad chains] status {st:#x} (DEVICE_NEEDS_RESET {}), InterruptStatus {int:#x}, transmit used idx {used}",
        if st & status::DEVICE_NEEDS_RESET != 0 { "set" } else { "clear" }
    );
    c.check(st == status::LIVE, || {
        format!("status {st:#x} after the bad chains")
    });
    c.check(int == interrupt::USED_BUFFER, || {
        format!("InterruptStatus {int:#x} after the bad chains")
    });
    c.check(used == BAD_CHAINS, || {
        format!("transmit used idx {used} after the bad chains, want {BAD_CHAINS}")
    });

    // The valid frame: sent, received back, byte for byte.
    let at = |off| u32_at(&r, off);
    let (st, int) = (at(res::STATUS), at(res::INT));
    let (tx_used, rx_used) = (at(res::TX_USED), at(res::RX_USED));
    let (rx_id, rx_len, nbufs, diff) = (
        at(res::RX_ID),
        at(res::RX_LEN),
        at(res::RX_NUM_BUFS),
        at(res::MISMATCH),
    );
    println!(
        "guest-net: [valid frame] status {st:#x}, InterruptStatus {int:#x}, transmit used idx {tx_used}, receive used idx {rx_used} (id {rx_id}, len {rx_len}), num_buffers {nbufs}, {diff} bytes differ"
    );
    c.check(st == status::LIVE, || {
        format!("status {st:#x} after the valid frame")
    });
    c.check(int == interrupt::USED_BUFFER, || {
        format!("InterruptStatus {int:#x} after the valid frame")
    });
    c.check(tx_used == BAD_CHAINS + 1, || {
        format!("transmit used idx {tx_used}")
    });
    c.check(
        (rx_used, rx_id, rx_len) == (1, 0, FRAME_TOTAL as u32),
        || format!("receive used idx {rx_used}, first element id {rx_id} len {rx_len}"),
    );
    c.check(nbufs == 1 && diff == 0, || {
        format!("received header num_buffers {nbufs}, {diff} frame bytes differ")
    });
    let mut rx = [0u8; FRAME_TOTAL];
    vm.ram_read(RX_BUF, &mut rx)?;
    let hdr = &rx[..NET_HDR];
    c.check(hdr == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0], || {
        format!("received header {hdr:x?}")
    });
    c.check(rx[NET_HDR..] == frame(), || {
        format!("received frame {:x?}", &rx[NET_HDR..])
    });

    // Every transmit chain came back, in order, with nothing written.
    let mut ring = [0u8; 4 + 8 * TX_CHAINS.len()];
    vm.ram_read(TX_RINGS + USED, &mut ring)?;
    for (i, (name, head)) in TX_CHAINS.iter().enumerate() {
        let (id, len) = (u32_at(&ring, 4 + 8 * i), u32_at(&ring, 8 + 8 * i));
        c.check((id, len) == (u32::from(*head), 0), || {
            format!("transmit used element {i} ({name}): id {id} len {len}, want id {head} len 0")
        });
    }

    // The device's counters: every bad chain dropped and counted.
    let t = virtio.borrow();
    let s = t.device().stats();
    println!("guest-net: net: {s}");
    expect(
        c,
        "tx_malformed (loop, past-ram, writable, runt)",
        s.tx_malformed,
        4,
    );
    expect(c, "tx_dropped (oversize)", s.tx_dropped, 1);
    expect(c, "tx_frames", s.tx_frames, 1);
    expect(c, "tx_bytes", s.tx_bytes, FRAME_LEN as u64);
    expect(c, "rx_frames", s.rx_frames, 1);
    expect(c, "rx_bytes", s.rx_bytes, FRAME_LEN as u64);
    expect(
        c,
        "rx_dropped, rx_malformed, tx_errors, tx_busy, rx_no_buffer",
        (
            s.rx_dropped,
            s.rx_malformed,
            s.tx_errors,
            s.tx_busy,
            s.rx_no_buffer,
        ),
        (0, 0, 0, 0, 0),
    );
    let link = t.device().backend();
    c.check(link.sent.len() == 1 && link.sent[0] == frame(), || {
        format!("the link carried {:x?}", link.sent)
    });
    c.check(link.inbox.is_empty(), || {
        format!("{} frames not delivered", link.inbox.len())
    });

    // The transport: never needed a reset, live and quiet at the end.
    let ts = t.stats();
    println!(
        "guest-net: transport: status {:#x}, needs reset {}, {} needs-reset events, {} notifies, {} backend notifications, {} chains, {} used bytes, {} used / {} config interrupts, line raised {} times",
        t.status(),
        t.needs_reset(),
        ts.needs_reset,
        ts.queue_notifications,
        ts.backend_notifications,
        ts.chains,
        ts.used_bytes,
        ts.used_interrupts,
        ts.config_interrupts,
        ts.irq_raised
    );
    expect(c, "transport needs_reset()", t.needs_reset(), false);
    expect(c, "transport needs-reset events", ts.needs_reset, 0);
    c.check(
        t.status() == status::LIVE && t.interrupt_status() == 0,
        || {
            format!(
                "device ends with status {:#x}, InterruptStatus {:#x}",
                t.status(),
                t.interrupt_status()
            )
        },
    );
    // Notifies: the receive buffers, the bad batch, the valid frame; one
    // backend notification for the frame coming back.
    c.check(
        ts.queue_notifications == 3 && ts.backend_notifications == 1,
        || {
            format!(
                "{} queue notifications, {} backend notifications",
                ts.queue_notifications, ts.backend_notifications
            )
        },
    );
    // Six transmit chains and one receive chain; only the latter written.
    c.check(
        ts.chains == 7 && ts.used_bytes == FRAME_TOTAL as u64,
        || format!("{} chains, {} used bytes", ts.chains, ts.used_bytes),
    );
    c.check(ts.config_interrupts == 0 && ts.irq_raised == 2, || {
        format!(
            "{} config interrupts, line raised {} times",
            ts.config_interrupts, ts.irq_raised
        )
    });
    c.check(ts.bad_accesses == 0, || {
        format!("{} bad register accesses", ts.bad_accesses)
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

/// Identification, negotiation, queue set-up and configuration space as
/// the guest read them.
fn check_setup(c: &mut Checks, r: &[u8]) {
    let at = |off| u32_at(r, off);
    let (magic, version, id, vendor) = (
        at(res::MAGIC),
        at(res::VERSION),
        at(res::DEVICE_ID),
        at(res::VENDOR_ID),
    );
    let (lo, hi) = (at(res::FEATURES_LO), at(res::FEATURES_HI));
    println!(
        "guest-net: guest read magic {magic:#x}, version {version}, device {id}, vendor {vendor:#x}, features {hi:#x}:{lo:#x}"
    );
    c.check(magic == MAGIC_VALUE, || format!("MagicValue {magic:#x}"));
    c.check(version == VERSION, || format!("Version {version}"));
    c.check(id == VIRTIO_ID_NET, || format!("DeviceID {id}"));
    c.check(vendor == VENDOR_ID, || format!("VendorID {vendor:#x}"));
    let want = 1 << VIRTIO_NET_F_MAC | 1 << VIRTIO_NET_F_STATUS;
    c.check(lo & want == want, || {
        format!("DeviceFeatures[0..32] {lo:#x} lacks MAC or STATUS")
    });
    c.check(hi & 1 << (VIRTIO_F_VERSION_1 - 32) != 0, || {
        format!("DeviceFeatures[32..64] {hi:#x} lacks VERSION_1")
    });
    for (what, off, want) in [
        (
            "status after FEATURES_OK",
            res::FEATURES_OK,
            status::FEATURES_DONE,
        ),
        ("receive QueueNumMax", res::RX_NUM_MAX, u32::from(QUEUE_MAX)),
        ("receive QueueReady", res::RX_READY, 1),
        (
            "transmit QueueNumMax",
            res::TX_NUM_MAX,
            u32::from(QUEUE_MAX),
        ),
        ("transmit QueueReady", res::TX_READY, 1),
        ("status after DRIVER_OK", res::DRIVER_OK, status::LIVE),
    ] {
        let got = at(off);
        c.check(got == want, || format!("{what} {got:#x}, want {want:#x}"));
    }
    let (cfg_lo, cfg_hi) = (at(res::CONFIG_LO), at(res::CONFIG_HI));
    let mut mac = [0u8; 6];
    mac[..4].copy_from_slice(&cfg_lo.to_le_bytes());
    mac[4..].copy_from_slice(&cfg_hi.to_le_bytes()[..2]);
    let link = (cfg_hi >> 16) as u16;
    println!(
        "guest-net: guest read MAC {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}, link status {link:#x}",
        mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]
    );
    c.check(mac == MAC, || format!("MAC {mac:x?}, want {MAC:x?}"));
    c.check(link == VIRTIO_NET_S_LINK_UP, || {
        format!("link status {link:#x}")
    });
}
