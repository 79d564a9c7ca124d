//! Setting up and running a test guest on libsel4vm (feature `vm`).

use alloc::rc::Rc;
use core::cell::RefCell;
use core::fmt;

use sel4vm::vgic::GicVersion;
use sel4vm::{Backend, FaultResult, GicLayout, MemFault, UserContext, VcpuId, Vm};

use crate::image::Segment;
use crate::Checks;
use crate::SPSR_EL1H_MASKED;
use alloc::format;

/// The GIC version the installed kernel was built for.
pub fn kernel_gic_version() -> GicVersion {
    if sel4_abi::labels::config::ARM_GIC_V3_SUPPORT {
        GicVersion::V3
    } else {
        GicVersion::V2
    }
}

/// QEMU `virt`'s GIC layout for `version`, and the version as the number
/// the guests take in x0 (2 or 3).
pub fn qemu_virt_gic(version: GicVersion) -> (GicLayout, u64) {
    match version {
        GicVersion::V2 => (GicLayout::qemu_virt_v2(), 2),
        GicVersion::V3 => (GicLayout::qemu_virt_v3(), 3),
    }
}

/// The root task's seL4 resources (all of BootInfo's untypeds and empty
/// slots), shared by every VM it creates.
#[cfg(target_os = "none")]
pub fn resources(bi: &'static sel4_rt::BootInfo) -> Rc<RefCell<sel4vm_sel4::Resources>> {
    use sel4_rt::objects::ObjectAllocator;
    use sel4_rt::vspace::VSpaceMapper;
    sel4vm_sel4::Resources::new(ObjectAllocator::from_bootinfo(bi), VSpaceMapper::default())
        .shared()
}

/// Writes every segment to guest RAM at `ram_base + offset`.
pub fn load_segments<B: Backend>(
    vm: &mut Vm<B>,
    ram_base: u64,
    segments: &[Segment],
) -> sel4vm::Result<()> {
    for s in segments {
        vm.ram_write(ram_base + s.offset, &s.bytes())?;
    }
    Ok(())
}

/// Starts `vcpu` at `pc` in EL1h with interrupts masked and `x0` set.
pub fn start_el1<B: Backend>(vm: &mut Vm<B>, vcpu: VcpuId, pc: u64, x0: u64) -> sel4vm::Result<()> {
    let mut ctx = UserContext::default();
    ctx.set_pc(pc);
    ctx.set_spsr(SPSR_EL1H_MASKED);
    ctx.set_x(0, x0);
    vm.set_thread_context(vcpu, &ctx)?;
    vm.vcpu_start(vcpu)
}

/// Register offsets of a [`ReportDevice`] (from its base).
#[derive(Clone, Copy, Debug)]
pub struct ReportRegs {
    /// The guest writes its DONE value here when it has finished.
    pub done: u64,
    /// An unexpected exception: `(vector slot << 32) | ESR_EL1`.
    pub fail: u64,
    /// `ELR_EL1` of that exception, written just before `fail`.
    pub fail_elr: u64,
}

/// An unexpected exception a guest reported through [`ReportRegs::fail`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GuestException {
    /// The vCPU that wrote the report.
    pub vcpu: VcpuId,
    /// Vector table slot (0..16) the exception was taken through.
    pub slot: u64,
    /// Its `ESR_EL1`.
    pub esr: u64,
    /// Its `ELR_EL1`.
    pub elr: u64,
}

impl fmt::Display for GuestException {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} took exception in vector slot {} (ESR {:#x}) at {:#x}",
            self.vcpu, self.slot, self.esr, self.elr
        )
    }
}

/// The test device a guest reports through: DONE, or the report of an
/// unexpected exception; either stops the VM. Reads return 0; a write to
/// another register is a guest error.
#[derive(Debug)]
pub struct ReportDevice {
    name: &'static str,
    regs: ReportRegs,
    /// Who wrote DONE, and what.
    pub done: Option<(VcpuId, u64)>,
    /// The first exception reported.
    pub fail: Option<GuestException>,
    elr: u64,
}

impl ReportDevice {
    /// A device with registers `regs`; `name` prefixes its error lines.
    pub fn new(name: &'static str, regs: ReportRegs) -> Self {
        Self {
            name,
            regs,
            done: None,
            fail: None,
            elr: 0,
        }
    }

    /// Reserves `[base, base + size)` of `vm` for a new device and returns it.
    pub fn reserve<B: Backend>(
        vm: &mut Vm<B>,
        name: &'static str,
        regs: ReportRegs,
        base: u64,
        size: u64,
    ) -> sel4vm::Result<Rc<RefCell<Self>>> {
        let dev = Rc::new(RefCell::new(Self::new(name, regs)));
        let d = dev.clone();
        vm.reserve_memory_at(base, size, move |vm, f| d.borrow_mut().access(vm, f, base))?;
        Ok(dev)
    }

    /// Emulates one access to the device at `base`.
    pub fn access<B: Backend>(
        &mut self,
        vm: &mut Vm<B>,
        f: &mut MemFault,
        base: u64,
    ) -> FaultResult {
        if f.is_read() {
            f.set_data(0);
            return FaultResult::Handled;
        }
        let off = f.address().wrapping_sub(base);
        if off == self.regs.done {
            self.done = Some((f.vcpu, f.data()));
            vm.stop();
        } else if off == self.regs.fail_elr {
            self.elr = f.data();
        } else if off == self.regs.fail {
            let v = f.data();
            self.fail.get_or_insert(GuestException {
                vcpu: f.vcpu,
                slot: v >> 32,
                esr: v & 0xffff_ffff,
                elr: self.elr,
            });
            vm.stop();
        } else {
            sel4_rt::println!("{}: write to unknown device register +{off:#x}", self.name);
            return FaultResult::Error;
        }
        FaultResult::Handled
    }
}

impl ReportDevice {
    /// Counts the checks every run ends with: no exception was reported and
    /// `vcpu` wrote `magic` to DONE.
    pub fn check_finished(&self, c: &mut Checks, vcpu: VcpuId, magic: u64) {
        if let Some(e) = self.fail {
            c.check(false, || e);
        }
        c.check(self.done == Some((vcpu, magic)), || {
            format!("DONE {:x?}", self.done)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sel4vm::{Event, ExitReason, VmConfig};
    use sel4vm_host::HostBackend;

    const RAM: u64 = 0x4000_0000;
    const DEV: u64 = 0x2000_0000;
    const REGS: ReportRegs = ReportRegs {
        done: 0,
        fail: 8,
        fail_elr: 0x10,
    };
    const V0: VcpuId = VcpuId(0);

    fn vm() -> (Vm<HostBackend>, Rc<RefCell<ReportDevice>>) {
        let mut vm = Vm::new(HostBackend::new(), VmConfig::default()).unwrap();
        vm.ram_register_at(RAM, 0x4000, false).unwrap();
        vm.create_vcpu(100).unwrap();
        let dev = ReportDevice::reserve(&mut vm, "t", REGS, DEV, 0x1000).unwrap();
        (vm, dev)
    }

    /// A 64-bit store of x3 to `addr` (data abort with a valid syndrome).
    fn store(vm: &mut Vm<HostBackend>, addr: u64, x3: u64) -> ExitReason {
        let mut c = vm.get_thread_context(V0).unwrap();
        c.set_x(3, x3);
        vm.set_thread_context(V0, &c).unwrap();
        let fsr = (0x24 << 26) | (1 << 25) | (1 << 24) | (3 << 22) | (3 << 16) | (1 << 6);
        vm.backend_mut().push_event(Event::VmFault {
            vcpu: V0,
            ip: RAM + 0x800,
            addr,
            fsr,
            prefetch: false,
        });
        vm.run()
    }

    #[test]
    fn load_and_start_put_the_program_and_entry_state_in_place() {
        let (mut vm, _) = vm();
        let segs = [Segment {
            offset: 0x800,
            words: &[0xd503_201f, 0x1400_0000],
        }];
        load_segments(&mut vm, RAM, &segs).unwrap();
        let mut back = [0u8; 8];
        vm.ram_read(RAM + 0x800, &mut back).unwrap();
        assert_eq!(back[..], segs[0].bytes()[..]);
        start_el1(&mut vm, V0, RAM + 0x800, 3).unwrap();
        let c = vm.get_thread_context(V0).unwrap();
        assert_eq!((c.pc(), c.spsr(), c.x(0)), (RAM + 0x800, 0x3c5, Some(3)));
    }

    #[test]
    fn done_and_fail_stop_the_vm_and_are_recorded() {
        let (mut vm, dev) = vm();
        start_el1(&mut vm, V0, RAM, 0).unwrap();
        // The ELR write alone does not stop the guest.
        assert_eq!(store(&mut vm, DEV + 0x10, 0x4000_0abc), ExitReason::Idle);
        assert_eq!(
            store(&mut vm, DEV + 8, (5 << 32) | 0x9600_0010),
            ExitReason::Stopped
        );
        assert_eq!(store(&mut vm, DEV, 0x600d), ExitReason::Stopped);
        let d = dev.borrow();
        assert_eq!(d.done, Some((V0, 0x600d)));
        let e = d.fail.unwrap();
        assert_eq!((e.slot, e.esr, e.elr), (5, 0x9600_0010, 0x4000_0abc));
        let text = alloc::format!("{e}");
        assert_eq!(
            text,
            "vcpu0 took exception in vector slot 5 (ESR 0x96000010) at 0x40000abc"
        );
    }

    #[test]
    fn unknown_register_is_a_guest_error() {
        let (mut vm, dev) = vm();
        start_el1(&mut vm, V0, RAM, 0).unwrap();
        let r = store(&mut vm, DEV + 0x18, 1);
        assert!(
            matches!(r, ExitReason::MemFaultError { addr, .. } if addr == DEV + 0x18),
            "{r:?}"
        );
        assert_eq!(dev.borrow().done, None);
    }

    #[test]
    fn gic_layout_matches_version() {
        assert_eq!(qemu_virt_gic(GicVersion::V2).1, 2);
        assert_eq!(qemu_virt_gic(GicVersion::V3).1, 3);
        assert_eq!(qemu_virt_gic(GicVersion::V3).0, GicLayout::qemu_virt_v3());
    }
}
