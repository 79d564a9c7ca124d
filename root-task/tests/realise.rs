//! The VM the root task builds is the plan: RAM, vGIC and every emulated
//! device of `VmmConfig` answer where the plan (and so the DTB) puts them.

use std::cell::RefCell;
use std::rc::Rc;

use sel4vm::{DeviceIo, Event, ExitReason, MmioDevice, VcpuId, Vm, VmConfig};
use sel4vm_host::HostBackend;
use sel4vm_root_task::config::Stage2Kind;
use sel4vm_root_task::realise::realise;
use sel4vm_root_task::{ConsoleMode, GicVersion, VmmConfig};

/// Records `(device name, offset)` of each read.
struct Probe(&'static str, Rc<RefCell<Vec<(&'static str, u64)>>>);

impl MmioDevice for Probe {
    fn name(&self) -> &str {
        self.0
    }
    fn read(&mut self, offset: u64, _: u8, _: &mut DeviceIo<'_>) -> u64 {
        self.1.borrow_mut().push((self.0, offset));
        0
    }
    fn write(&mut self, _: u64, _: u8, _: u64, _: &mut DeviceIo<'_>) {}
}

fn read_at(vm: &mut Vm<HostBackend>, addr: u64) -> ExitReason {
    let pc = 0x4000_0100;
    let mut c = vm.get_thread_context(VcpuId(0)).unwrap();
    c.set_pc(pc);
    vm.set_thread_context(VcpuId(0), &c).unwrap();
    vm.backend_mut().push_event(Event::VmFault {
        vcpu: VcpuId(0),
        ip: pc,
        addr,
        // 32-bit load into x2, valid syndrome.
        fsr: (0x24 << 26) | (1 << 25) | (1 << 24) | (2 << 22) | (2 << 16) | 7,
        prefetch: false,
    });
    vm.run()
}

#[test]
fn every_planned_region_is_backed_in_the_vm() {
    for gic in [GicVersion::V2, GicVersion::V3] {
        let cfg = VmmConfig::qemu_virt(gic, 2, "", 0);
        assert_eq!(cfg.console, ConsoleMode::Virtio);
        // 1:1 frames from the GIC's GICV up to the end of guest RAM.
        let mut b = HostBackend::new();
        b.set_phys_window(0x0800_0000, 0x5800_0000);
        let mut vm = Vm::new(
            b,
            VmConfig {
                max_vcpus: 2,
                ..Default::default()
            },
        )
        .unwrap();
        for _ in 0..2 {
            vm.create_vcpu(100).unwrap();
        }
        let seen = Rc::new(RefCell::new(Vec::new()));
        let s2 = seen.clone();
        let done = realise(&mut vm, &cfg, |d| Box::new(Probe(d.name, s2.clone()))).unwrap();
        vm.vcpu_start(VcpuId(0)).unwrap();
        for r in cfg.stage2() {
            match r.kind {
                Stage2Kind::Ram(_) => vm.guest_memory().check_range(r.ipa, r.size).unwrap(),
                Stage2Kind::Emulated => {
                    seen.borrow_mut().clear();
                    assert_eq!(read_at(&mut vm, r.ipa + r.size - 4), ExitReason::Idle);
                    assert_eq!(*seen.borrow(), vec![(r.name, r.size - 4)], "{}", r.name);
                }
                // The distributor answers (a read of GICD_CTLR is emulated).
                Stage2Kind::Vgic if r.name == "gicd" => {
                    assert_eq!(read_at(&mut vm, r.ipa), ExitReason::Idle)
                }
                Stage2Kind::Vgic | Stage2Kind::Device { .. } => {}
            }
        }
        assert_eq!(vm.gic_layout(), Some(cfg.gic_layout()));
        assert!(done.device("virtio-console").is_some());
        assert!(done.device("earlycon").is_some());
        // Outside every region: an abort for the guest by default, the
        // fault itself with the libsel4vm policy.
        let aborts = vm.stats().injected_aborts;
        assert_eq!(read_at(&mut vm, 0x0e00_0000), ExitReason::Idle);
        assert_eq!(vm.stats().injected_aborts, aborts + 1);
        vm.set_fault_policy(sel4vm::FaultPolicy::StopGuest);
        assert!(matches!(
            read_at(&mut vm, 0x0e00_0000),
            ExitReason::UnhandledMemFault { .. }
        ));
    }
}

#[test]
fn a_vgic_made_elsewhere_must_be_the_planned_one() {
    let cfg = VmmConfig::qemu_virt(GicVersion::V2, 1, "", 0);
    let mut vm = Vm::new(HostBackend::new(), VmConfig::default()).unwrap();
    vm.create_vcpu(100).unwrap();
    vm.create_vgic(sel4vm::irq::GicLayout::qemu_virt_v3())
        .unwrap();
    let err = realise(&mut vm, &cfg, |d| {
        Box::new(Probe(d.name, Rc::new(RefCell::new(Vec::new()))))
    })
    .err()
    .unwrap();
    assert!(err.contains("not the planned one"), "{err}");
}
