//! The VMM proper: map what QEMU placed, build the VM from one
//! [`VmmConfig`], load the images with `linux_setup_images`, pass the
//! PL011 through, and run the guest until it powers off (restarting it on
//! PSCI `SYSTEM_RESET`).

use alloc::boxed::Box;
use alloc::format;
use alloc::rc::Rc;
use alloc::string::String;
use core::cell::RefCell;

use libvmm_compat::{handle_passthrough, EmulatedGic, Guest, ImageSrc, LinuxImages, RestartImages};
use sel4_abi::cap::IrqHandler;
use sel4_abi::{init, CapRights};
use sel4_rt::objects::ObjectAllocator;
use sel4_rt::vspace::{VSpaceMapper, VM_ATTRS_DEFAULT, VM_ATTRS_DEVICE, VM_ATTRS_EXECUTE_NEVER};
use sel4_rt::{println, BootInfo, RootKernel};
use sel4vm::{DeviceId, ExitReason, FaultPolicy, Vm, VmConfig, LARGE_PAGE_SIZE};
use sel4vm_devices::block::{Block, BlockBackend, BlockInfo, BlockOp, Submitted};
use sel4vm_devices::console::Console;
use sel4vm_devices::net::{Net, NetBackend, NetInfo, NetStats, TxStatus};
use sel4vm_devices::pl011::Pl011;
use sel4vm_devices::virtio::mmio::VirtioMmio;
use sel4vm_root_task::bootparams::{BootParams, PARAMS_ADDR, PARAMS_MAX};
use sel4vm_root_task::config::{DeviceKind, KernelHeader, RamBacking, PAGE};
use sel4vm_root_task::devicetree::device_tree;
use sel4vm_root_task::disk::{dma_frames, probe, DirectRam, DiskStats, VirtioBlkDisk};
use sel4vm_root_task::nic::{NicStats, VirtioNetNic, DMA_FRAMES as NIC_DMA_FRAMES};
use sel4vm_root_task::realise::realise;
use sel4vm_root_task::{ConsoleMode, GicVersion, VmmConfig};
use virtio_drivers::transport::mmio::{MmioTransport, VirtIOHeader};

use crate::dma::DmaHal;
use crate::uart::GuestSide;
use sel4vm_sel4::{Resources, Sel4Backend, Sel4Config};

sel4_rt::declare_main!(main);

/// vCPU threads run below the VMM (the root task runs at 255).
const VCPU_PRIORITY: u8 = 100;
/// Passthrough channel of the console UART (libvmm's `microkit_channel`).
const UART_CHANNEL: u32 = 1;
/// Notification badge bits of the UART interrupt.
const UART_BADGE: u64 = 1 << UART_CHANNEL;
/// Notification badge bit of the wake-up timer's interrupt.
const WAKEUP_BADGE: u64 = 1 << 2;
/// Notification badge bit of the disk's (QEMU virtio-blk-device) interrupt.
const DISK_BADGE: u64 = 1 << 3;
/// Notification badge bit of the NIC's (QEMU virtio-net-device) interrupt.
const NIC_BADGE: u64 = 1 << 4;
/// QEMU `virt`: 32 virtio-mmio slots of 0x200 bytes from here, SPI 16 + slot.
const VIRTIO_MMIO_BASE: u64 = 0x0a00_0000;
const VIRTIO_MMIO_SLOTS: usize = 32;
const VIRTIO_MMIO_STRIDE: usize = 0x200;
const VIRTIO_MMIO_SPI: u32 = 16;
/// INTID of the EL1 physical timer (PPI 30), the VMM's wake-up timer.
const PTIMER_INTID: u32 = sel4vm::vtimer::PTIMER_PPI;

type Res = Rc<RefCell<Resources>>;

fn main(bi: &'static BootInfo) {
    println!("VMM: sel4vm-root-task starting");
    if let Err(e) = run(bi) {
        println!("VMM: error: {e}");
    }
}

/// Maps `[paddr, paddr + size)` of the staging area read-only into the VMM
/// with 2 MiB frames and returns it as a slice (it lives until the end).
fn map_staging(res: &Res, paddr: u64, size: u64) -> Result<&'static [u8], String> {
    let base = paddr & !(LARGE_PAGE_SIZE - 1);
    let end = (paddr + size).next_multiple_of(LARGE_PAGE_SIZE);
    let mut r = res.borrow_mut();
    let r = &mut *r;
    let va = r
        .vspace
        .reserve(end - base, 21)
        .map_err(|e| format!("staging VA: {e}"))?;
    let mut pa = base;
    while pa < end {
        let f = r
            .objects
            .alloc_device_frame(&mut RootKernel, pa, 21)
            .map_err(|e| format!("staging frame {pa:#x}: {e}"))?;
        let attrs = VM_ATTRS_DEFAULT | VM_ATTRS_EXECUTE_NEVER;
        r.vspace
            .map_at(
                &mut RootKernel,
                &mut r.objects,
                f.cap,
                va + (pa - base),
                CapRights::READ,
                attrs,
            )
            .map_err(|e| format!("mapping staging {pa:#x}: {e}"))?;
        pa += LARGE_PAGE_SIZE;
    }
    // SAFETY: mapped read-only above for the rest of the program; nothing writes it.
    Ok(unsafe { core::slice::from_raw_parts((va + (paddr - base)) as *const u8, size as usize) })
}

fn run(bi: &'static BootInfo) -> Result<(), String> {
    let res = Resources::new(ObjectAllocator::from_bootinfo(bi), VSpaceMapper::default()).shared();

    // ---- what the host placed (see bootparams.rs) ----
    let page = map_staging(&res, PARAMS_ADDR, PARAMS_MAX as u64)?;
    let params = BootParams::decode(page).map_err(|e| {
        format!("boot parameters at {PARAMS_ADDR:#x}: {e} (start the VMM with `cargo xtask run`)")
    })?;
    let kernel = map_staging(&res, params.kernel.0, params.kernel.1)?;
    let initrd: &'static [u8] = if params.initrd.1 > 0 {
        map_staging(&res, params.initrd.0, params.initrd.1)?
    } else {
        &[]
    };
    let gic = if sel4_abi::labels::config::ARM_GIC_V3_SUPPORT {
        GicVersion::V3
    } else {
        GicVersion::V2
    };
    let mut cfg = params.config(gic);
    let khdr = KernelHeader::parse(&kernel[..kernel.len().min(4096)], kernel.len() as u64)
        .map_err(|e| format!("guest kernel: {e}"))?;
    let layout = cfg
        .layout(&khdr)
        .map_err(|e| format!("guest layout: {e}"))?;
    println!(
        "VMM: {} vCPU(s), GIC{}, {} MiB RAM at {:#x} ({}), cmdline \"{}\"",
        cfg.vcpus,
        if gic == GicVersion::V3 { "v3" } else { "v2" },
        cfg.ram_size >> 20,
        cfg.ram_base,
        if cfg.ram_backing == RamBacking::OneToOne {
            "1:1"
        } else {
            "ordinary RAM"
        },
        cfg.cmdline
    );

    // ---- the disk and NIC QEMU offers, if any ----
    let (disk, nic) = open_backends(&res, &cfg)?;
    cfg.disk = disk.is_some();
    cfg.net = nic.is_some();

    // ---- the VM ----
    let window = cfg.ram_size + 4 * LARGE_PAGE_SIZE;
    // Device frames keep their contents: the kernel and initrd QEMU placed
    // in guest RAM are used in place (guest_restart zeroes RAM itself).
    let sel4_cfg = Sel4Config {
        window_size: window,
        zero_device_frames: false,
        ..Sel4Config::default()
    };
    let backend = Sel4Backend::new(res.clone(), sel4_cfg).map_err(|e| format!("backend: {e}"))?;
    let vm_cfg = VmConfig {
        name: "linux".into(),
        id: 0,
        max_vcpus: cfg.vcpus,
        num_list_registers: 4,
        // 100 µs: long enough for a lock owner to leave a short critical section.
        wfe_yield_ticks: sel4_abi::labels::config::TIMER_FREQUENCY as u64 / 10_000,
        vcpu_quantum_ticks: vcpu_quantum_ticks(),
    };
    if cfg.vcpus > 1 {
        let hz = sel4_abi::labels::config::TIMER_FREQUENCY as u64;
        let slice = sel4_abi::labels::config::TIMER_TICK_MS;
        match vm_cfg.vcpu_quantum_ticks * 1000 / hz {
            0 => println!("VMM: runnable vCPUs take turns each {slice} ms kernel time slice"),
            q => println!(
                "VMM: runnable vCPUs take turns each {q} ms (kernel time slice {slice} ms)"
            ),
        }
    }
    let mut vm = Vm::new(backend, vm_cfg).map_err(|e| format!("vm: {e}"))?;
    for _ in 0..cfg.vcpus {
        vm.create_vcpu(VCPU_PRIORITY)
            .map_err(|e| format!("vcpu: {e}"))?;
    }
    // vCPUs in WFI sleep until an interrupt or their timer's deadline; the
    // EL1 physical timer wakes the VMM at that deadline (docs/kernel.md).
    let b = vm.backend_mut();
    let handler = b
        .bind_irq(init::IRQ_CONTROL.cptr(), PTIMER_INTID, WAKEUP_BADGE)
        .map_err(|e| format!("wake-up timer IRQ {PTIMER_INTID}: {e}"))?;
    b.enable_wakeup_timer(handler, WAKEUP_BADGE);
    // Accesses nothing backs become synchronous external aborts in the
    // guest (the core's default policy, logged rate-limited): a stray
    // `devmem` gets SIGBUS, the guest keeps running.
    vm.set_fault_policy(FaultPolicy::InjectAbort);

    let mut guest = Guest::new(vm, Box::new(EmulatedGic(cfg.gic_layout())))
        .map_err(|e| format!("guest: {e}"))?;
    guest
        .virq_controller_init(0)
        .map_err(|e| format!("virq_controller_init: {e}"))?;
    let mut disk = match disk {
        Some((d, slot)) => {
            let intid = 32 + VIRTIO_MMIO_SPI + slot as u32;
            let h = guest
                .vm_mut()
                .backend_mut()
                .bind_irq(init::IRQ_CONTROL.cptr(), intid, DISK_BADGE)
                .map_err(|e| format!("disk IRQ {intid}: {e}"))?;
            Some(Sel4Disk {
                inner: d,
                irq: IrqHandler::from_bits(h.0),
                stats: Rc::new(core::cell::Cell::new(DiskStats::default())),
            })
        }
        None => None,
    };
    let disk_stats = disk.as_ref().map(|d| d.stats.clone());
    let mut nic = match nic {
        Some((n, slot)) => {
            let intid = 32 + VIRTIO_MMIO_SPI + slot as u32;
            let h = guest
                .vm_mut()
                .backend_mut()
                .bind_irq(init::IRQ_CONTROL.cptr(), intid, NIC_BADGE)
                .map_err(|e| format!("NIC IRQ {intid}: {e}"))?;
            Some(Sel4Nic {
                inner: n,
                irq: IrqHandler::from_bits(h.0),
                stats: Rc::new(core::cell::Cell::new(NicStats::default())),
            })
        }
        None => None,
    };
    let nic_stats = nic.as_ref().map(|n| n.stats.clone());
    // RAM, passthrough frames, devices: all from the plan.
    let built = realise(guest.vm_mut(), &cfg, |d| match d.kind {
        DeviceKind::EarlyUart => Box::new(Pl011::new(GuestSide)),
        DeviceKind::VirtioConsole => Box::new(VirtioMmio::new(Console::new(GuestSide))),
        DeviceKind::VirtioBlock => Box::new(VirtioMmio::new(Block::new(
            disk.take().expect("one disk in the plan"),
            "sel4vm-disk",
        ))),
        DeviceKind::VirtioNet => Box::new(VirtioMmio::new(Net::new(
            nic.take().expect("one NIC in the plan"),
        ))),
    })?;
    let net_id = built.device("virtio-net");
    if let Some(id) = net_id {
        guest
            .vm_mut()
            .route_notification_to_device(NIC_BADGE, id)
            .map_err(|e| format!("NIC notification route: {e}"))?;
    }
    // The model's counters, read through the VM's device table.
    let net_stats = move |vm: &mut Vm<Sel4Backend>| -> Option<NetStats> {
        vm.with_device(net_id?, |d| {
            let n = d.as_any()?.downcast_ref::<VirtioMmio<Net<Sel4Nic>>>()?;
            Some(n.device().stats())
        })?
    };
    let print_net = move |vm: &mut Vm<Sel4Backend>| {
        if let (Some(m), Some(n)) = (net_stats(vm), nic_stats.as_ref()) {
            print_nic_stats(m, n.get());
        }
    };
    if let Some(id) = built.device("virtio-blk") {
        guest
            .vm_mut()
            .route_notification_to_device(DISK_BADGE, id)
            .map_err(|e| format!("disk notification route: {e}"))?;
    }
    match cfg.console {
        ConsoleMode::Passthrough => console_irq(&mut guest, &cfg)?,
        ConsoleMode::Virtio => {
            let con = built
                .device("virtio-console")
                .ok_or("the plan has no virtio-console")?;
            drive_uart(&res, &mut guest, &cfg, con)?;
        }
    }

    // ---- images ----
    let dtb = device_tree(&cfg, &layout).map_err(|e| format!("device tree: {e}"))?;
    let in_place = cfg.ram_backing == RamBacking::OneToOne;
    let (k_src, i_src) = match params.in_ram {
        Some((k, i)) if in_place && k == layout.entry && layout.initrd.is_none_or(|r| r.0 == i) => {
            (
                ImageSrc::Guest {
                    addr: k,
                    size: kernel.len() as u64,
                },
                ImageSrc::Guest {
                    addr: i,
                    size: initrd.len() as u64,
                },
            )
        }
        _ => {
            println!("VMM: copying kernel and initrd into guest RAM");
            (ImageSrc::Bytes(kernel), ImageSrc::Bytes(initrd))
        }
    };
    let initrd_dest = layout.initrd.map_or(0, |r| r.0);
    let imgs = LinuxImages {
        ram_start: layout.kernel_base,
        kernel: k_src,
        dtb: ImageSrc::Bytes(&dtb),
        dtb_dest: layout.dtb,
        initrd: i_src,
        initrd_dest,
    };
    let entry = guest
        .linux_setup_images(&imgs)
        .map_err(|e| format!("linux_setup_images: {e}"))?;
    let copied = guest.placement().map_or(0, |p| p.bytes_copied);
    println!(
        "VMM: kernel entry {entry:#x}, DTB {:#x}, initrd {initrd_dest:#x}, {copied} bytes copied",
        layout.dtb
    );
    guest.set_restart_images(RestartImages {
        ram_start: layout.kernel_base,
        kernel,
        dtb,
        dtb_dest: layout.dtb,
        initrd,
        initrd_dest,
    });

    if params.stats {
        print_stats_periodically(guest.vm_mut())?;
    }
    guest
        .guest_start(0, entry, layout.dtb, initrd_dest)
        .map_err(|e| format!("guest_start: {e}"))?;
    loop {
        let reason = guest.vm_mut().run();
        match reason {
            ExitReason::SystemReset { .. } => {
                println!("VMM: guest restarting (PSCI SYSTEM_RESET)");
                guest
                    .guest_restart(0)
                    .map_err(|e| format!("guest_restart: {e}"))?;
                if let Some(s) = &disk_stats {
                    print_disk_stats(s.get());
                }
                print_net(guest.vm_mut());
            }
            ExitReason::SystemOff { .. } => {
                // Requests still at the real disk finish before the VMM ends.
                guest.vm_mut().reset_devices();
                println!("VMM: guest powered off");
                println!("VMM: exit statistics: {}", guest.vm().stats());
                if let Some(s) = &disk_stats {
                    print_disk_stats(s.get());
                }
                print_net(guest.vm_mut());
                return Ok(());
            }
            other => {
                // Already logged with vCPU, PC and address; end it cleanly.
                println!("VMM: error: guest stopped: {other}");
                guest.vm_mut().reset_devices();
                match guest.guest_stop(0) {
                    Ok(()) => println!("VMM: guest stopped cleanly"),
                    Err(e) => println!("VMM: error: guest_stop: {e}"),
                }
                return Ok(());
            }
        }
    }
}

fn print_disk_stats(s: DiskStats) {
    println!(
        "VMM: disk: {} reads, {} writes, {} flushes, {} errors, {} interrupts, {} quiesced, {} zero-copy, {} bounced",
        s.reads, s.writes, s.flushes, s.errors, s.interrupts, s.quiesced, s.zero_copy, s.bounced
    );
}

type DiskDriver = VirtioBlkDisk<MmioTransport<'static>>;
type NicDriver = VirtioNetNic<MmioTransport<'static>>;

fn print_nic_stats(m: NetStats, n: NicStats) {
    println!("VMM: net: {m}");
    println!(
        "VMM: net device: {} rx, {} tx, {} interrupts, {} rx errors, {} tx ring full",
        n.rx_frames, n.tx_frames, n.interrupts, n.rx_errors, n.tx_full
    );
}

/// Maps QEMU's virtio-mmio slots, finds a block and a network device and
/// starts a driver for each (with the DMA pool); `None` for what QEMU
/// does not offer.
#[allow(clippy::type_complexity)]
fn open_backends(
    res: &Res,
    cfg: &VmmConfig,
) -> Result<(Option<(DiskDriver, usize)>, Option<(NicDriver, usize)>), String> {
    let pages = (VIRTIO_MMIO_SLOTS * VIRTIO_MMIO_STRIDE) as u64 / PAGE;
    let mut va = 0;
    for i in 0..pages {
        let v = map_device(res, VIRTIO_MMIO_BASE + i * PAGE)?;
        if i == 0 {
            va = v;
        } else if v != va + (i * PAGE) as usize {
            return Err("virtio-mmio slots: pages not contiguous in the VMM".into());
        }
    }
    // SAFETY: [va, va + 16 KiB) maps the slots' registers uncached; reads
    // of magic, version and device ID have no side effects.
    let read32 = |off: usize| unsafe { ((va + off) as *const u32).read_volatile() };
    let first = |id: u32, what: &str| {
        let found = probe(VIRTIO_MMIO_SLOTS, VIRTIO_MMIO_STRIDE, read32, id);
        if found.len() > 1 {
            println!(
                "VMM: {} {what}s found; using the one in slot {}",
                found.len(),
                found[0]
            );
        }
        found.first().copied()
    };
    let disk_slot = first(2, "disk");
    let nic_slot = first(1, "NIC");
    if disk_slot.is_none() {
        println!("VMM: no virtio-blk device on the board: the guest gets no disk");
    }
    if nic_slot.is_none() {
        println!("VMM: no virtio-net device on the board: the guest gets no network");
    }
    // 1:1 guest RAM is reachable by the device at its own address: the
    // disk moves guest data without copies (docs/devices.md).
    let direct = (cfg.ram_backing == RamBacking::OneToOne).then_some(DirectRam {
        gpa: cfg.ram_base,
        len: cfg.ram_size,
        pa: cfg.ram_base,
    });
    let frames = disk_slot.map_or(0, |_| dma_frames(direct.is_some()))
        + nic_slot.map_or(0, |_| NIC_DMA_FRAMES);
    if frames > 0 {
        crate::dma::init(&mut res.borrow_mut(), frames)?;
    }
    let transport = |slot: usize| {
        let hdr = va + slot * VIRTIO_MMIO_STRIDE;
        // SAFETY: the slot's 0x200 bytes are mapped for the program's life
        // and only this transport touches them.
        unsafe {
            MmioTransport::new(
                core::ptr::NonNull::new(hdr as *mut VirtIOHeader).ok_or("null slot")?,
                VIRTIO_MMIO_STRIDE,
            )
        }
        .map_err(|e| format!("virtio-mmio slot {slot}: {e}"))
    };
    let disk = match disk_slot {
        Some(slot) => {
            let t = transport(slot)?;
            let version = t.version();
            let d = DiskDriver::new::<DmaHal>(t, direct)
                .map_err(|e| format!("disk in slot {slot}: {e}"))?;
            let i = d.info();
            println!(
                "VMM: disk: slot {slot} ({version:?} virtio-mmio), {} MiB{}{}, {}",
                i.capacity / 2048,
                if i.read_only { ", read-only" } else { "" },
                if i.flush { ", write cache (flush)" } else { "" },
                if direct.is_some() {
                    "zero-copy"
                } else {
                    "bounce buffers"
                },
            );
            Some((d, slot))
        }
        None => None,
    };
    let nic = match nic_slot {
        Some(slot) => {
            let t = transport(slot)?;
            let version = t.version();
            let n = NicDriver::new::<DmaHal>(t).map_err(|e| format!("NIC in slot {slot}: {e}"))?;
            let NetInfo { mac: m, link_up } = n.info();
            println!(
                "VMM: net: slot {slot} ({version:?} virtio-mmio), MAC {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}, link {}",
                m[0],
                m[1],
                m[2],
                m[3],
                m[4],
                m[5],
                if link_up { "up" } else { "down" }
            );
            Some((n, slot))
        }
        None => None,
    };
    Ok((disk, nic))
}

/// The NIC driver plus its seL4 interrupt: acknowledged once the device's
/// own interrupt status was cleared (in `receive`).
struct Sel4Nic {
    inner: NicDriver,
    irq: IrqHandler,
    stats: Rc<core::cell::Cell<NicStats>>,
}

impl NetBackend for Sel4Nic {
    fn info(&self) -> NetInfo {
        self.inner.info()
    }
    fn transmit(&mut self, len: usize, fill: &mut dyn FnMut(&mut [u8]) -> bool) -> TxStatus {
        let r = self.inner.transmit(len, fill);
        self.stats.set(self.inner.stats());
        r
    }
    fn receive(&mut self, deliver: &mut dyn FnMut(&[u8]) -> bool) {
        let before = self.inner.stats().interrupts;
        self.inner.receive(deliver);
        let s = self.inner.stats();
        if s.interrupts != before {
            if let Err(e) = self.irq.irq_handler_ack() {
                println!("VMM: NIC IRQHandler_Ack: {e}");
            }
        }
        self.stats.set(s);
    }
    fn reset(&mut self) -> u64 {
        self.inner.reset()
    }
}

/// The disk driver plus its seL4 interrupt: acknowledged once the device's
/// own interrupt status was cleared.
struct Sel4Disk {
    inner: DiskDriver,
    irq: IrqHandler,
    stats: Rc<core::cell::Cell<DiskStats>>,
}

impl BlockBackend for Sel4Disk {
    fn info(&self) -> BlockInfo {
        self.inner.info()
    }
    fn submit(
        &mut self,
        tag: u32,
        op: BlockOp,
        fill: &mut dyn FnMut(&mut [u8]) -> bool,
    ) -> Submitted {
        self.inner.submit(tag, op, fill)
    }
    fn direct_ram(&self) -> Option<(sel4vm::GuestAddress, u64)> {
        self.inner.direct_ram()
    }
    fn submit_direct(
        &mut self,
        tag: u32,
        op: BlockOp,
        segments: &[(sel4vm::GuestAddress, u32)],
    ) -> Submitted {
        self.inner.submit_direct(tag, op, segments)
    }
    fn complete(&mut self, done: &mut dyn FnMut(u32, bool, &[u8])) {
        let before = self.inner.stats().interrupts;
        self.inner.complete(done);
        let s = self.inner.stats();
        if s.interrupts != before {
            if let Err(e) = self.irq.irq_handler_ack() {
                println!("VMM: disk IRQHandler_Ack: {e}");
            }
        }
        self.stats.set(s);
    }
    fn quiesce(&mut self) {
        self.inner.quiesce();
        // Its interrupt status was cleared: let the next one through.
        if let Err(e) = self.irq.irq_handler_ack() {
            println!("VMM: disk IRQHandler_Ack: {e}");
        }
        self.stats.set(self.inner.stats());
    }
}

/// `--stats`: a line every 2 s with the uptime and the exits so far.
fn print_stats_periodically(vm: &mut Vm<Sel4Backend>) -> Result<(), String> {
    let hz = sel4_abi::labels::config::TIMER_FREQUENCY as u64;
    let t0 = sel4vm::Backend::counter(vm.backend_mut()).ok_or("no counter")?;
    let mut last_exits = 0;
    vm.set_periodic(2 * hz, move |vm, at| {
        let ms = (at - t0) * 1000 / hz;
        let s = vm.stats();
        // More than 1000 exits/s: say which, to tell a storm from work.
        if s.exits() - last_exits > 2000 {
            println!("VMM: stats: breakdown: {s}");
        }
        last_exits = s.exits();
        println!(
            "VMM: stats: {ms} ms, {} exits, {} kernel calls, {} wake-ups, {} ms busy",
            s.exits(),
            s.kernel_calls(),
            s.wakeups,
            s.busy_ticks * 1000 / hz
        );
    })
    .map_err(|e| format!("periodic statistics: {e}"))
}

/// The UART's interrupt as a badged notification bound to the VMM thread.
fn uart_irq(guest: &mut Guest<Sel4Backend>, cfg: &VmmConfig) -> Result<IrqHandler, String> {
    let intid = 32 + cfg.uart_spi;
    let h = guest
        .vm_mut()
        .backend_mut()
        .bind_irq(init::IRQ_CONTROL.cptr(), intid, UART_BADGE)
        .map_err(|e| format!("UART IRQ {intid}: {e}"))?;
    Ok(IrqHandler::from_bits(h.0))
}

/// Virtio-console mode: the VMM maps the PL011 for itself, prints through
/// it, and hands input to the console device when the UART interrupts.
fn drive_uart(
    res: &Res,
    guest: &mut Guest<Sel4Backend>,
    cfg: &VmmConfig,
    console: DeviceId,
) -> Result<(), String> {
    let va = map_device(res, cfg.uart_base)?;
    crate::uart::init(va);
    crate::uart::set_irq_handler(uart_irq(guest, cfg)?);
    guest
        .vm_mut()
        .route_notification_to_device(UART_BADGE, console)
        .map_err(|e| format!("UART notification route: {e}"))
}

/// Maps the device frame at `paddr` uncached into the VMM.
fn map_device(res: &Res, paddr: u64) -> Result<usize, String> {
    let mut r = res.borrow_mut();
    let r = &mut *r;
    let va = r
        .vspace
        .reserve(PAGE, 12)
        .map_err(|e| format!("device VA: {e}"))?;
    let f = r
        .objects
        .alloc_device_frame(&mut RootKernel, paddr, 12)
        .map_err(|e| format!("device frame {paddr:#x}: {e}"))?;
    r.vspace
        .map_at(
            &mut RootKernel,
            &mut r.objects,
            f.cap,
            va,
            CapRights::READ_WRITE,
            VM_ATTRS_DEVICE | VM_ATTRS_EXECUTE_NEVER,
        )
        .map_err(|e| format!("mapping {paddr:#x}: {e}"))?;
    Ok(va as usize)
}

/// Passthrough mode: the UART interrupt goes to the guest through
/// `virq_handle_passthrough`.
fn console_irq(guest: &mut Guest<Sel4Backend>, cfg: &VmmConfig) -> Result<(), String> {
    let intid = 32 + cfg.uart_spi;
    let handler = uart_irq(guest, cfg)?;
    guest
        .virq_register_passthrough(0, intid, UART_CHANNEL, move |_| {
            if let Err(e) = handler.irq_handler_ack() {
                println!("VMM: UART IRQHandler_Ack: {e}");
            }
        })
        .map_err(|e| format!("virq_register_passthrough: {e}"))?;
    let table = guest.passthrough_table();
    guest
        .vm_mut()
        .route_notification(UART_BADGE, move |vm, _| {
            handle_passthrough(vm, &table, UART_CHANNEL).map_err(|e| {
                println!("VMM: virq_handle_passthrough: {e}");
                sel4vm::Error::Callback
            })
        })
        .map_err(|e| format!("UART notification route: {e}"))
}

/// [`VmConfig::vcpu_quantum_ticks`]: 4 ms while the kernel's time slice is
/// longer (the supported configuration's slice is one tick; 10 ms with the
/// recommended tick). A guest vCPU that spins without trapping (Linux's
/// `stop_machine`, `yield` loops; WFE under QEMU, which does not trap it)
/// would otherwise hold the core for a whole slice while the vCPU it waits
/// for cannot run. Each turn costs a VMM wake-up, so none when the kernel
/// already rotates as often (docs/kernel.md).
fn vcpu_quantum_ticks() -> u64 {
    const QUANTUM_MS: u64 = 4;
    let slice_ms = sel4_abi::labels::config::TIMER_TICK_MS as u64;
    if slice_ms > QUANTUM_MS {
        sel4_abi::labels::config::TIMER_FREQUENCY as u64 * QUANTUM_MS / 1000
    } else {
        0
    }
}
