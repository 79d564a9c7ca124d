//! Cache maintenance covers only the bytes the VMM touches, and none for
//! coherent device DMA: the host backend records the operations the seL4
//! backend would invoke (both use `sel4vm::cache::plan`).

use sel4vm::cache::{CacheMaintenance, CacheOp, FrameCacheOp};
use sel4vm::{
    DeviceIo, Event, ExitReason, FrameHandle, GuestAddress, GuestBytesExt, MmioDevice, MmioRegion,
    VcpuId, Vm, VmConfig, LARGE_PAGE_SIZE,
};
use sel4vm_host::HostBackend;

const RAM: u64 = 0x4000_0000;

fn vm() -> Vm<HostBackend> {
    let mut b = HostBackend::new();
    b.set_cache_maintenance(CacheMaintenance::Kernel);
    let mut vm = Vm::new(b, VmConfig::default()).unwrap();
    // Two 2 MiB frames.
    vm.ram_register_at(RAM, 2 * LARGE_PAGE_SIZE, false).unwrap();
    vm.backend_mut().take_cache_log();
    vm
}

fn ops(vm: &mut Vm<HostBackend>) -> Vec<(FrameHandle, CacheOp, u64, u64)> {
    vm.backend_mut()
        .take_cache_log()
        .into_iter()
        .map(|(f, FrameCacheOp { op, start, end, .. })| (f, op, start, end))
        .collect()
}

#[test]
fn a_16_byte_read_cleans_16_bytes_once() {
    let mut vm = vm();
    let mut b = [0u8; 16];
    vm.guest_memory().read(RAM + 0x1230, &mut b).unwrap();
    let o = ops(&mut vm);
    assert_eq!(o.len(), 1, "{o:?}");
    assert_eq!(
        (o[0].1, o[0].2, o[0].3),
        (CacheOp::CleanInvalidateData, 0x1230, 0x1240)
    );
}

#[test]
fn a_partial_line_write_is_invalidated_before_and_cleaned_after() {
    let mut vm = vm();
    vm.guest_memory().write(RAM + 0x1230, &[1; 16]).unwrap();
    let o: Vec<_> = ops(&mut vm)
        .into_iter()
        .map(|(_, op, s, e)| (op, s, e))
        .collect();
    assert_eq!(
        o,
        vec![
            (CacheOp::CleanInvalidateData, 0x1230, 0x1240),
            (CacheOp::CleanInvalidateData, 0x1230, 0x1240),
            (CacheOp::UnifyInstruction, 0x1230, 0x1240),
        ]
    );
}

#[test]
fn a_whole_line_write_needs_nothing_before() {
    let mut vm = vm();
    vm.guest_memory().write(RAM + 0x1000, &[1; 128]).unwrap();
    let o: Vec<_> = ops(&mut vm)
        .into_iter()
        .map(|(_, op, s, e)| (op, s, e))
        .collect();
    assert_eq!(
        o,
        vec![
            (CacheOp::CleanInvalidateData, 0x1000, 0x1080),
            (CacheOp::UnifyInstruction, 0x1000, 0x1080),
        ]
    );
}

#[test]
fn an_access_across_frames_is_split_per_frame() {
    let mut vm = vm();
    let mut b = [0u8; 32];
    vm.guest_memory()
        .read(RAM + LARGE_PAGE_SIZE - 16, &mut b)
        .unwrap();
    let o = ops(&mut vm);
    assert_eq!(o.len(), 2, "{o:?}");
    assert_ne!(o[0].0, o[1].0, "two frames");
    assert_eq!((o[0].2, o[0].3), (LARGE_PAGE_SIZE - 16, LARGE_PAGE_SIZE));
    assert_eq!((o[1].2, o[1].3), (0, 16));
}

#[test]
fn no_policy_means_no_operations() {
    let mut vm = vm();
    vm.backend_mut()
        .set_cache_maintenance(CacheMaintenance::None);
    vm.guest_memory().write(RAM, &[1; 16]).unwrap();
    assert!(ops(&mut vm).is_empty());
}

/// Copies the u64 at the guest address written to it 8 bytes further on.
struct Dma;
impl MmioDevice for Dma {
    fn name(&self) -> &str {
        "dma"
    }
    fn read(&mut self, _: u64, _: u8, _: &mut DeviceIo<'_>) -> u64 {
        0
    }
    fn write(&mut self, _: u64, _: u8, addr: u64, io: &mut DeviceIo<'_>) {
        let v: u64 = io.mem().read_obj(GuestAddress(addr)).unwrap();
        io.mem().write_obj(GuestAddress(addr + 8), &v).unwrap();
    }
}

fn dma_once(vm: &mut Vm<HostBackend>) {
    let pc = RAM + 0x100;
    let mut c = vm.get_thread_context(VcpuId(0)).unwrap();
    c.set_pc(pc);
    c.set_x(1, RAM + 0x2000);
    vm.set_thread_context(VcpuId(0), &c).unwrap();
    vm.backend_mut().push_event(Event::VmFault {
        vcpu: VcpuId(0),
        ip: pc,
        addr: 0x0a00_0000,
        // 64-bit store from x1, valid syndrome.
        fsr: (0x24 << 26) | (1 << 25) | (1 << 24) | (3 << 22) | (1 << 16) | (1 << 6) | 7,
        prefetch: false,
    });
    assert_eq!(vm.run(), ExitReason::Idle);
}

#[test]
fn device_dma_is_coherent_unless_told_otherwise() {
    let mut vm = vm();
    vm.create_vcpu(100).unwrap();
    vm.vcpu_start(VcpuId(0)).unwrap();
    vm.register_mmio_device(
        MmioRegion {
            base: GuestAddress(0x0a00_0000),
            size: 0x1000,
            irq: None,
        },
        Box::new(Dma),
    )
    .unwrap();
    vm.guest_memory().write_u64(RAM + 0x2000, 77).unwrap();
    ops(&mut vm);
    dma_once(&mut vm);
    assert!(
        ops(&mut vm).is_empty(),
        "coherent device DMA: no maintenance"
    );
    assert_eq!(vm.guest_memory().read_u64(RAM + 0x2008).unwrap(), 77);
    assert_eq!(ops(&mut vm).len(), 1, "the VMM's own read is maintained");
    vm.set_device_dma_coherent(false);
    dma_once(&mut vm);
    let o = ops(&mut vm);
    assert_eq!(
        o.len(),
        4,
        "read: 1 before; partial write: 1 before, 2 after: {o:?}"
    );
    assert_eq!((o[0].2, o[0].3), (0x2000, 0x2008));
}
