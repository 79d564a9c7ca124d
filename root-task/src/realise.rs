//! Builds a VM from the plan: every stage-2 region of
//! [`VmmConfig::stage2`], the vGIC of [`VmmConfig::gic_layout`] and the
//! devices of [`VmmConfig::devices`], so that what runs is what the guest's
//! device tree describes. Generic over the kernel backend: the root task
//! runs it on seL4, the tests on the host backend.

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use sel4vm::{
    Backend, DeviceId, FaultResult, GuestAddress, MapFrame, MapMode, MmioDevice, MmioRegion,
    Rights, Vm, BOOT_VCPU,
};

use crate::config::{EmulatedDevice, RamBacking, Stage2Kind, VmmConfig};

/// What [`realise`] set up.
pub struct Realised {
    /// Each emulated device and its id in the VM.
    pub devices: Vec<(EmulatedDevice, DeviceId)>,
}

impl Realised {
    /// The id of the device called `name`.
    pub fn device(&self, name: &str) -> Option<DeviceId> {
        self.devices
            .iter()
            .find(|(d, _)| d.name == name)
            .map(|(_, id)| *id)
    }
}

/// Registers RAM, passes device frames through, creates the vGIC (or
/// checks the one there), and registers one model from `make` per
/// emulated device (with its SPI).
pub fn realise<B: Backend>(
    vm: &mut Vm<B>,
    cfg: &VmmConfig,
    mut make: impl FnMut(&EmulatedDevice) -> Box<dyn MmioDevice>,
) -> Result<Realised, String> {
    cfg.validate().map_err(|e| format!("configuration: {e}"))?;
    let devices = cfg.devices();
    for r in cfg.stage2() {
        match r.kind {
            Stage2Kind::Ram(backing) => vm
                .ram_register_at(r.ipa, r.size, backing == RamBacking::OneToOne)
                .map_err(|e| format!("guest RAM: {e}"))?,
            Stage2Kind::Device { paddr } => pass_through(vm, r.name, r.ipa, paddr, r.size)?,
            // Below, once the vGIC exists (device lines need it).
            Stage2Kind::Emulated | Stage2Kind::Vgic => {}
        }
    }
    // libvmm's `virq_controller_init` may have made it already; it must
    // then be the planned one.
    match vm.gic_layout() {
        None => vm
            .create_vgic(cfg.gic_layout())
            .map_err(|e| format!("vGIC: {e}"))?,
        Some(l) if l == cfg.gic_layout() => {}
        Some(l) => return Err(format!("the VM's GIC {l:?} is not the planned one")),
    }
    let mut out = Realised {
        devices: Vec::new(),
    };
    for d in devices {
        let irq = d.spi.map(|s| 32 + s);
        if let Some(irq) = irq {
            // Level-sensitive: the model lowers the line; nothing to ack.
            vm.register_irq(BOOT_VCPU, irq, |_, _, _| {})
                .map_err(|e| format!("{}: IRQ {irq}: {e}", d.name))?;
        }
        let region = MmioRegion {
            base: GuestAddress(d.base),
            size: d.size,
            irq,
        };
        let id = vm
            .register_mmio_device(region, make(&d))
            .map_err(|e| format!("{} at {:#x}: {e}", d.name, d.base))?;
        out.devices.push((d, id));
    }
    Ok(out)
}

/// Maps `[paddr, paddr + size)` 1:1 at `ipa` (device memory, no execute);
/// a fault there afterwards is a VMM bug and stops the guest.
fn pass_through<B: Backend>(
    vm: &mut Vm<B>,
    name: &'static str,
    ipa: u64,
    paddr: u64,
    size: u64,
) -> Result<(), String> {
    let r = vm
        .reserve_memory_at(ipa, size, move |vm, f| {
            log::error!(
                "{}: unexpected fault on passed-through {name}: {} at {:#x}",
                vm.name(),
                f.vcpu,
                f.addr
            );
            FaultResult::Error
        })
        .map_err(|e| format!("{name} reservation: {e}"))?;
    let rights = Rights {
        read: true,
        write: true,
        execute: false,
    };
    vm.map_reservation(
        r,
        move |b: &mut B, at| {
            let frame = b.alloc_frame(Some(paddr + (at - ipa)))?;
            Ok(MapFrame {
                frame,
                rights,
                owned: true,
            })
        },
        MapMode::Now,
    )
    .map_err(|e| format!("{name} mapping: {e}"))
}
