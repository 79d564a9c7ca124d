//! The device-model layer through a VM: registration and overlaps, MMIO
//! dispatch with offsets and sizes, device effects reaching the vGIC, DMA
//! through guest memory, notification routing by badge bit.

use std::cell::RefCell;
use std::rc::Rc;

use sel4vm::{
    DeviceId, DeviceIo, Error, Event, ExitReason, GuestAddress, GuestBytesExt, MmioDevice,
    MmioRegion, UserContext, VcpuId, Vm, VmConfig,
};
use sel4vm_host::{HostAction, HostBackend};

const RAM: u64 = 0x4000_0000;
const RAM_SIZE: u64 = 0x10_0000;
const PC: u64 = 0x4000_0100;
const V0: VcpuId = VcpuId(0);
const DEV: u64 = 0x0a00_0000;
const SPI: u32 = 48;

/// What the test device saw, shared with the test.
#[derive(Default)]
struct Log {
    accesses: Vec<(bool, u64, u8, u64)>,
    notified: Vec<u64>,
    resets: usize,
}

/// A device with one register: a read returns `offset * 2 + size`; a write
/// of 1 at 0x10 raises the line, 0 lowers it; a write at 0x20 copies the
/// u64 at guest address `value` to `value + 8` (DMA through guest memory).
struct TestDev(Rc<RefCell<Log>>);

impl MmioDevice for TestDev {
    fn name(&self) -> &str {
        "test"
    }
    fn read(&mut self, offset: u64, size: u8, _io: &mut DeviceIo<'_>) -> u64 {
        self.0.borrow_mut().accesses.push((false, offset, size, 0));
        offset * 2 + u64::from(size)
    }
    fn write(&mut self, offset: u64, size: u8, value: u64, io: &mut DeviceIo<'_>) {
        self.0
            .borrow_mut()
            .accesses
            .push((true, offset, size, value));
        match offset {
            0x10 => io.set_irq(value != 0),
            0x20 => {
                let v: u64 = io.mem().read_obj(GuestAddress(value)).unwrap_or(0);
                let _ = io.mem().write_obj(GuestAddress(value + 8), &v);
            }
            _ => {}
        }
    }
    fn notified(&mut self, bits: u64, io: &mut DeviceIo<'_>) {
        self.0.borrow_mut().notified.push(bits);
        io.set_irq(true);
    }
    fn reset(&mut self) {
        self.0.borrow_mut().resets += 1;
    }
}

/// Registers a one-page device at `base` driving the test SPI.
fn page_device(
    vm: &mut Vm<HostBackend>,
    base: u64,
    dev: Box<dyn MmioDevice>,
) -> sel4vm::Result<DeviceId> {
    vm.register_mmio_device(
        MmioRegion {
            base: GuestAddress(base),
            size: 0x1000,
            irq: Some(32 + SPI),
        },
        dev,
    )
}

fn vm() -> (Vm<HostBackend>, Rc<RefCell<Log>>) {
    let (vm, log, _) = vm_with_id();
    (vm, log)
}

fn vm_with_id() -> (Vm<HostBackend>, Rc<RefCell<Log>>, DeviceId) {
    let mut vm = Vm::new(HostBackend::new(), VmConfig::default()).unwrap();
    vm.ram_register_at(RAM, RAM_SIZE, false).unwrap();
    vm.create_vcpu(100).unwrap();
    vm.create_vgic(sel4vm::GicLayout {
        vcpu_interface_paddr: 0x5ff0_0000,
        ..sel4vm::GicLayout::qemu_virt_v2()
    })
    .unwrap();
    vm.register_irq(V0, 32 + SPI, |_, _, _| {}).unwrap();
    vm.vcpu_start(V0).unwrap();
    let log = Rc::new(RefCell::new(Log::default()));
    let id = page_device(&mut vm, DEV, Box::new(TestDev(log.clone()))).unwrap();
    vm.backend_mut().take_actions();
    (vm, log, id)
}

fn set_ctx(vm: &mut Vm<HostBackend>, f: impl FnOnce(&mut UserContext)) {
    let mut c = vm.get_thread_context(V0).unwrap();
    f(&mut c);
    vm.set_thread_context(V0, &c).unwrap();
}

/// Data abort with a valid syndrome: `1 << size_log2` bytes, register `srt`.
fn dabt(size_log2: u32, srt: u32, write: bool) -> u32 {
    (0x24 << 26)
        | (1 << 25)
        | (1 << 24)
        | (size_log2 << 22)
        | (srt << 16)
        | ((write as u32) << 6)
        | 0x07
}

fn access(vm: &mut Vm<HostBackend>, addr: u64, size_log2: u32, write: Option<u64>) -> ExitReason {
    set_ctx(vm, |c| {
        c.set_pc(PC);
        c.set_x(1, write.unwrap_or(0xdead));
    });
    vm.backend_mut().push_event(Event::VmFault {
        vcpu: V0,
        ip: PC,
        addr,
        fsr: dabt(size_log2, 1, write.is_some()),
        prefetch: false,
    });
    vm.run()
}

fn x1(vm: &mut Vm<HostBackend>) -> u64 {
    vm.get_thread_context(V0).unwrap().x(1).unwrap()
}

/// Enables the distributor and SPI so that line changes become injections.
fn enable_spi(vm: &mut Vm<HostBackend>) {
    let gicd = 0x0800_0000;
    assert_eq!(access(vm, gicd, 2, Some(1)), ExitReason::Idle);
    let isenabler = gicd + 0x100 + u64::from((32 + SPI) / 32) * 4;
    assert_eq!(
        access(vm, isenabler, 2, Some(1 << ((32 + SPI) % 32))),
        ExitReason::Idle
    );
    // GICv2: route the SPI to CPU 0.
    let itargets = gicd + 0x800 + u64::from(32 + SPI);
    assert_eq!(access(vm, itargets, 0, Some(1)), ExitReason::Idle);
    vm.backend_mut().take_actions();
}

fn injected(vm: &mut Vm<HostBackend>) -> Vec<u32> {
    vm.backend_mut()
        .take_actions()
        .into_iter()
        .filter_map(|a| match a {
            HostAction::Inject { irq, .. } => Some(irq.irq),
            _ => None,
        })
        .collect()
}

#[test]
fn reads_and_writes_reach_the_device_with_offset_and_size() {
    let (mut vm, log) = vm();
    for (log2, size) in [(0, 1u8), (1, 2), (2, 4), (3, 8)] {
        assert_eq!(access(&mut vm, DEV + 0x40, log2, None), ExitReason::Idle);
        assert_eq!(x1(&mut vm), 0x80 + u64::from(size), "read of {size}");
    }
    assert_eq!(
        access(&mut vm, DEV + 0x48, 3, Some(0x1122_3344_5566_7788)),
        ExitReason::Idle
    );
    let l = log.borrow();
    assert_eq!(l.accesses.len(), 5);
    assert_eq!(l.accesses[4], (true, 0x48, 8, 0x1122_3344_5566_7788));
    assert_eq!(l.accesses[1], (false, 0x40, 2, 0));
    drop(l);
    // The access was emulated and stepped over.
    assert_eq!(vm.get_thread_context(V0).unwrap().pc(), PC + 4);
}

#[test]
fn overlapping_registrations_are_refused() {
    let (mut vm, _) = vm();
    let dup = |base: u64, size: u64| MmioRegion {
        base: GuestAddress(base),
        size,
        irq: None,
    };
    let other = Rc::new(RefCell::new(Log::default()));
    for (base, size) in [(DEV, 0x1000), (DEV - 0x1000, 0x2000), (RAM, 0x1000)] {
        assert_eq!(
            vm.register_mmio_device(dup(base, size), Box::new(TestDev(other.clone()))),
            Err(Error::Overlap { addr: base, size }),
            "{base:#x}+{size:#x}"
        );
    }
    assert!(matches!(
        vm.register_mmio_device(dup(DEV + 1, 0x1000), Box::new(TestDev(other.clone()))),
        Err(Error::Unaligned(_))
    ));
    // An adjacent one is fine.
    assert!(vm
        .register_mmio_device(dup(DEV + 0x1000, 0x1000), Box::new(TestDev(other)))
        .is_ok());
}

#[test]
fn irq_effects_drive_the_vgic_line() {
    let (mut vm, _) = vm();
    enable_spi(&mut vm);
    assert_eq!(access(&mut vm, DEV + 0x10, 2, Some(1)), ExitReason::Idle);
    assert_eq!(injected(&mut vm), vec![32 + SPI]);
    let st = vm.vgic().unwrap().irq_status(V0, 32 + SPI).unwrap();
    assert!(st.line, "line high");
    assert_eq!(access(&mut vm, DEV + 0x10, 2, Some(0)), ExitReason::Idle);
    let st = vm.vgic().unwrap().irq_status(V0, 32 + SPI).unwrap();
    assert!(!st.line, "line low");
}

#[test]
fn devices_reach_guest_ram_and_outside_ram_is_refused() {
    let (mut vm, _) = vm();
    vm.guest_memory()
        .write_u64(RAM + 0x800, 0xfeed_f00d)
        .unwrap();
    assert_eq!(
        access(&mut vm, DEV + 0x20, 3, Some(RAM + 0x800)),
        ExitReason::Idle
    );
    assert_eq!(
        vm.guest_memory().read_u64(RAM + 0x808).unwrap(),
        0xfeed_f00d
    );
    // Past the end of RAM: the device's read fails, nothing is written, the VM runs on.
    let end = RAM + RAM_SIZE - 8;
    assert_eq!(access(&mut vm, DEV + 0x20, 3, Some(end)), ExitReason::Idle);
}

#[test]
fn notifications_are_routed_by_badge_bit() {
    let (mut vm, log, dev) = vm_with_id();
    enable_spi(&mut vm);
    let seen = Rc::new(RefCell::new(Vec::new()));
    let s2 = seen.clone();
    vm.route_notification(0b100, move |_, bits| {
        s2.borrow_mut().push(bits);
        Ok(())
    })
    .unwrap();
    let fallback = Rc::new(RefCell::new(Vec::new()));
    let f2 = fallback.clone();
    vm.register_notification_callback(move |_, b| {
        f2.borrow_mut().push(b);
        Ok(())
    });
    // Overlapping routes are refused.
    assert!(vm.route_notification(0b110, |_, _| Ok(())).is_err());
    vm.route_notification_to_device(0b10, dev).unwrap();

    let badge = sel4vm::badge::for_notification(0b111).unwrap();
    vm.backend_mut().push_event(Event::Notification { badge });
    assert_eq!(vm.run(), ExitReason::Idle);
    assert_eq!(log.borrow().notified, vec![0b10]);
    assert_eq!(*seen.borrow(), vec![0b100]);
    assert_eq!(
        *fallback.borrow(),
        vec![sel4vm::badge::for_notification(0b1).unwrap()],
        "unclaimed bits reach the callback"
    );
    // All bits routed: the callback is not called.
    let badge = sel4vm::badge::for_notification(0b110).unwrap();
    vm.backend_mut().push_event(Event::Notification { badge });
    assert_eq!(vm.run(), ExitReason::Idle);
    assert_eq!(fallback.borrow().len(), 1);
    assert_eq!(
        injected(&mut vm),
        vec![32 + SPI],
        "the device raised its line"
    );

    vm.reset_devices();
    assert_eq!(log.borrow().resets, 1);
}

/// Device accesses go through a few cached frame views: small reads and
/// writes in one frame, in several frames in turn (more than the views
/// kept), across a frame boundary and at the end of RAM all agree with the
/// frame-by-frame path.
#[test]
fn device_memory_views_agree_with_the_frame_path() {
    let mut vm = Vm::new(HostBackend::new(), VmConfig::default()).unwrap();
    // 4 KiB frames, so a walk crosses many.
    vm.ram_register_at(RAM, 16 * 0x1000, false).unwrap();
    let mut expect = vec![0u8; 16 * 0x1000];
    let mut mem = vm.device_memory();
    let mut s = 0x9e37_79b9u64;
    for i in 0..2000u64 {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        let len = [1, 2, 8, 12, 100, 1518, 5000][(s % 7) as usize];
        let off = (s >> 8) % (expect.len() as u64 - len as u64 + 1);
        let data: Vec<u8> = (0..len).map(|j| (i as u8).wrapping_add(j as u8)).collect();
        mem.write(RAM + off, &data).unwrap();
        expect[off as usize..off as usize + len].copy_from_slice(&data);
        let mut back = vec![0u8; len];
        mem.read(RAM + off, &mut back).unwrap();
        assert_eq!(back, data);
    }
    // The last byte of RAM, and one past it.
    mem.write(RAM + 16 * 0x1000 - 1, &[7]).unwrap();
    expect[16 * 0x1000 - 1] = 7;
    assert!(mem.write(RAM + 16 * 0x1000 - 1, &[7, 7]).is_err());
    assert!(mem.read(RAM + 16 * 0x1000, &mut [0]).is_err());
    // What the frame path (a touch walk) sees is what was written.
    let mut all = vec![0u8; expect.len()];
    mem.touch(RAM, expect.len() as u64, |a| {
        all[a.offset as usize..a.offset as usize + a.bytes.len()].copy_from_slice(a.bytes);
        Ok::<(), ()>(())
    })
    .unwrap();
    assert_eq!(all, expect);
}

/// A one-register device whose reads are constant: the VM maps its page
/// read-only, so reads never exit, while writes still reach the model.
struct Constant(Rc<RefCell<Log>>);

impl MmioDevice for Constant {
    fn name(&self) -> &str {
        "constant"
    }
    fn read(&mut self, offset: u64, size: u8, _io: &mut DeviceIo<'_>) -> u64 {
        self.0.borrow_mut().accesses.push((false, offset, size, 0));
        if offset == 0x18 {
            0x90
        } else {
            0
        }
    }
    fn write(&mut self, offset: u64, size: u8, value: u64, _io: &mut DeviceIo<'_>) {
        self.0
            .borrow_mut()
            .accesses
            .push((true, offset, size, value));
    }
    fn read_image(&self, page: &mut [u8]) -> usize {
        page[0x18] = 0x90;
        0x20
    }
}

#[test]
fn read_images_are_a_read_only_page_and_writes_still_trap() {
    let (mut vm, _) = vm();
    let log = Rc::new(RefCell::new(Log::default()));
    let base = 0x0900_0000;
    let before = vm.backend().live_frames();
    vm.register_mmio_device(
        MmioRegion {
            base: GuestAddress(base),
            size: 0x1000,
            irq: None,
        },
        Box::new(Constant(log.clone())),
    )
    .unwrap();
    assert_eq!(vm.backend().live_frames(), before + 1, "one frame made");
    let (frame, rights) = *vm.backend().stage2().get(&base).expect("page mapped");
    assert_eq!(rights, sel4vm::Rights::READ_ONLY);
    let page = vm.backend().frame_bytes(frame).unwrap();
    assert_eq!((page[0x18], page[0x19], page[0]), (0x90, 0, 0));
    // A write faults (a permission fault on the mapped page) to the model.
    assert_eq!(
        access(&mut vm, base, 0, Some(u64::from(b'A'))),
        ExitReason::Idle
    );
    assert_eq!(log.borrow().accesses, [(true, 0, 1, u64::from(b'A'))]);
    // A device without constant reads maps nothing.
    assert!(!vm.backend().stage2().contains_key(&DEV));
}

#[test]
fn a_device_spanning_pages_keeps_trapping_reads() {
    let (mut vm, _) = vm();
    let log = Rc::new(RefCell::new(Log::default()));
    vm.register_mmio_device(
        MmioRegion {
            base: GuestAddress(0x0900_0000),
            size: 0x2000,
            irq: None,
        },
        Box::new(Constant(log.clone())),
    )
    .unwrap();
    assert!(!vm.backend().stage2().contains_key(&0x0900_0000));
    assert_eq!(access(&mut vm, 0x0900_0018, 2, None), ExitReason::Idle);
    assert_eq!(x1(&mut vm), 0x90);
}

/// A device whose reads change: `0x0` holds the last value written at
/// `0x0` (the model says [`DeviceIo::reads_changed`]), `0x40` counts the
/// notifications and raises the line; a write at `0x80` changes `0x80` but
/// does not say so (the VM must then keep the old image).
const LIVE: u64 = 0x0a00_4000;

#[derive(Default)]
struct Live {
    reg: u32,
    notes: u32,
    quiet: u32,
}

impl MmioDevice for Live {
    fn name(&self) -> &str {
        "live"
    }
    fn read(&mut self, offset: u64, _size: u8, _io: &mut DeviceIo<'_>) -> u64 {
        let mut page = [0u8; 0x100];
        self.read_image(&mut page);
        page.get(offset as usize).copied().map_or(0, u64::from)
    }
    fn write(&mut self, offset: u64, _size: u8, value: u64, io: &mut DeviceIo<'_>) {
        match offset {
            0x0 => {
                self.reg = value as u32;
                io.reads_changed();
            }
            0x80 => self.quiet = value as u32,
            _ => {}
        }
    }
    fn notified(&mut self, _bits: u64, io: &mut DeviceIo<'_>) {
        self.notes += 1;
        io.reads_changed();
        io.set_irq(true);
    }
    fn reset(&mut self) {
        *self = Live::default();
    }
    fn read_image(&self, page: &mut [u8]) -> usize {
        page[0..4].copy_from_slice(&self.reg.to_le_bytes());
        page[0x40..0x44].copy_from_slice(&self.notes.to_le_bytes());
        page[0x80..0x84].copy_from_slice(&self.quiet.to_le_bytes());
        0x100
    }
}

fn word(vm: &Vm<HostBackend>, off: usize) -> u32 {
    let page = vm.backend().guest_page(LIVE).expect("image mapped");
    u32::from_le_bytes(page[off..off + 4].try_into().unwrap())
}

/// The mapped page follows the model: writes that change reads, a
/// notification (before the interrupt it raises is seen), `reset_devices`;
/// only the cache lines that changed are written back, and a write whose
/// model says nothing leaves the page as it was.
#[test]
fn read_images_follow_the_model_after_writes_notifications_and_reset() {
    let (mut vm, _) = vm();
    vm.backend_mut()
        .set_cache_maintenance(sel4vm::CacheMaintenance::Kernel);
    let id = page_device(&mut vm, LIVE, Box::<Live>::default()).unwrap();
    vm.route_notification_to_device(0b10, id).unwrap();
    enable_spi(&mut vm);
    let (frame, rights) = *vm.backend().stage2().get(&LIVE).expect("page mapped");
    assert_eq!(rights, sel4vm::Rights::READ_ONLY);
    assert_eq!(word(&vm, 0), 0);
    vm.backend_mut().take_cache_log();

    assert_eq!(
        access(&mut vm, LIVE, 2, Some(0x1234_5678)),
        ExitReason::Idle
    );
    assert_eq!(word(&vm, 0), 0x1234_5678);
    let ops = vm.backend_mut().take_cache_log();
    assert!(
        !ops.is_empty(),
        "the guest reads the page uncached: cleaned"
    );
    assert!(
        ops.iter()
            .all(|(f, op)| *f == frame && op.start == 0 && op.end == 64),
        "only the changed line is written back: {ops:?}"
    );

    let badge = sel4vm::badge::for_notification(0b10).unwrap();
    vm.backend_mut().push_event(Event::Notification { badge });
    assert_eq!(vm.run(), ExitReason::Idle);
    assert_eq!(word(&vm, 0x40), 1);
    assert_eq!(injected(&mut vm), vec![32 + SPI]);

    vm.backend_mut().take_cache_log();
    assert_eq!(
        access(&mut vm, LIVE, 2, Some(0x1234_5678)),
        ExitReason::Idle
    );
    assert!(
        vm.backend_mut().take_cache_log().is_empty(),
        "same value: nothing written"
    );
    // The model changed 0x80 without saying so: the page keeps the old value
    // until a call that says so.
    assert_eq!(access(&mut vm, LIVE + 0x80, 2, Some(7)), ExitReason::Idle);
    assert_eq!(word(&vm, 0x80), 0);
    assert_eq!(access(&mut vm, LIVE, 2, Some(1)), ExitReason::Idle);
    assert_eq!((word(&vm, 0), word(&vm, 0x80)), (1, 7));

    vm.reset_devices();
    assert_eq!((word(&vm, 0), word(&vm, 0x40), word(&vm, 0x80)), (0, 0, 0));
}
