//! Data aborts without a valid syndrome (`ISV == 0`) while the guest's MMU
//! is on: `Vm::run` walks the guest's page tables (in guest RAM) to fetch
//! the instruction, emulates pairs against a device, and turns a PC that
//! does not translate, or an instruction it cannot emulate, into an abort
//! injected into the guest.

use std::cell::RefCell;
use std::rc::Rc;

use sel4vm::{
    DeviceIo, Event, ExitReason, GuestAddress, MmioDevice, MmioRegion, VcpuId, VcpuReg, Vm,
    VmConfig,
};
use sel4vm_host::HostBackend;

const RAM: u64 = 0x4000_0000;
const RAM_SIZE: u64 = 0x20_0000;
const V0: VcpuId = VcpuId(0);
const DEV: u64 = 0x0a00_0000;
const VBAR: u64 = 0xffff_ff80_0000_0800;
/// Where the code lives in guest RAM, and the TTBR1 address it runs at.
const CODE_IPA: u64 = RAM + 0x8000;
const CODE_VA: u64 = 0xffff_ff80_0004_2000;
/// Page tables (4 KiB granule, 39-bit VA: levels 1 to 3).
const L1_TTBR1: u64 = RAM + 0x1000;
const L2: u64 = RAM + 0x2000;
const L3: u64 = RAM + 0x3000;
const L1_TTBR0: u64 = RAM + 0x4000;

const LDP_X1_X2_X0: u32 = 0xa940_0801; // ldp x1, x2, [x0]
const STP_W3_W4_X0_8: u32 = 0x2901_1003; // stp w3, w4, [x0, #8]
const LDP_X5_X6_X0_16_PRE: u32 = 0xa9c1_1805; // ldp x5, x6, [x0, #16]!
const LDR_Q0_X0: u32 = 0x3dc0_0000; // ldr q0, [x0]
const LDXR_X1_X0: u32 = 0xc85f_7c01; // ldxr x1, [x0]

type Log = Rc<RefCell<Vec<(bool, u64, u8, u64)>>>;

/// Reads return `0x1000 + offset`; every access is logged.
struct Dev(Log);

impl MmioDevice for Dev {
    fn name(&self) -> &str {
        "pairs"
    }
    fn read(&mut self, offset: u64, size: u8, _io: &mut DeviceIo<'_>) -> u64 {
        self.0.borrow_mut().push((false, offset, size, 0));
        0x1000 + offset
    }
    fn write(&mut self, offset: u64, size: u8, value: u64, _io: &mut DeviceIo<'_>) {
        self.0.borrow_mut().push((true, offset, size, value));
    }
}

/// A VM whose vCPU runs with the MMU on: TTBR1 maps `CODE_VA` to
/// `CODE_IPA` through three levels; TTBR0 maps the first 2 GiB 1:1 with
/// 1 GiB blocks.
fn vm() -> (Vm<HostBackend>, Log) {
    let mut vm = Vm::new(HostBackend::new(), VmConfig::default()).unwrap();
    vm.ram_register_at(RAM, RAM_SIZE, false).unwrap();
    vm.create_vcpu(100).unwrap();
    vm.vcpu_start(V0).unwrap();
    let log = Log::default();
    vm.register_mmio_device(
        MmioRegion {
            base: GuestAddress(DEV),
            size: 0x1000,
            irq: None,
        },
        Box::new(Dev(log.clone())),
    )
    .unwrap();
    let af = 1 << 10;
    let idx = |va: u64, shift: u32| (va >> shift) & 0x1ff;
    let mut mem = vm.guest_memory();
    mem.write_u64(L1_TTBR1 + idx(CODE_VA, 30) * 8, L2 | 3)
        .unwrap();
    mem.write_u64(L2 + idx(CODE_VA, 21) * 8, L3 | 3).unwrap();
    mem.write_u64(L3 + idx(CODE_VA, 12) * 8, CODE_IPA | af | 3)
        .unwrap();
    mem.write_u64(L1_TTBR0, af | 1).unwrap();
    mem.write_u64(L1_TTBR0 + 8, 0x4000_0000 | af | 1).unwrap();
    // T0SZ = T1SZ = 25, TG0 = 4K, TG1 = 4K, IPS = 40 bits.
    let tcr = 25 | (25 << 16) | (2 << 30) | (2 << 32);
    for (r, v) in [
        (VcpuReg::Tcr, tcr),
        (VcpuReg::Ttbr0, L1_TTBR0),
        (VcpuReg::Ttbr1, (7 << 48) | L1_TTBR1),
        (VcpuReg::Sctlr, 0x30d0_1805),
        (VcpuReg::Vbar, VBAR),
    ] {
        vm.set_arm_vcpu_reg(V0, r, v).unwrap();
    }
    vm.backend_mut().take_actions();
    (vm, log)
}

/// Puts `insn` at `CODE_VA + off` and raises an ISV=0 data abort for it
/// at `addr` (EL1h).
fn run(vm: &mut Vm<HostBackend>, off: u64, insn: u32, addr: u64, write: bool) -> ExitReason {
    vm.guest_memory().write_u32(CODE_IPA + off, insn).unwrap();
    let mut c = vm.get_thread_context(V0).unwrap();
    c.set_pc(CODE_VA + off);
    c.set_spsr(0x3c5);
    c.set_x(0, DEV);
    c.set_x(3, 0x3333_3333);
    c.set_x(4, 0x4444_4444);
    vm.set_thread_context(V0, &c).unwrap();
    // EC 0x24 (lower EL), IL, no ISV, WnR, DFSC translation level 3.
    let fsr = (0x24 << 26) | (1 << 25) | (u32::from(write) << 6) | 0x07;
    vm.backend_mut().push_event(Event::VmFault {
        vcpu: V0,
        ip: CODE_VA + off,
        addr,
        fsr,
        prefetch: false,
    });
    vm.run()
}

#[test]
fn pairs_at_a_ttbr1_pc_are_fetched_through_the_guest_tables() {
    let (mut vm, log) = vm();
    assert_eq!(
        run(&mut vm, 0x10, LDP_X1_X2_X0, DEV, false),
        ExitReason::Idle
    );
    assert_eq!(
        *log.borrow(),
        [(false, 0, 8, 0), (false, 8, 8, 0)],
        "two 8-byte reads"
    );
    let c = vm.get_thread_context(V0).unwrap();
    assert_eq!((c.x(1), c.x(2)), (Some(0x1000), Some(0x1008)));
    assert_eq!(c.pc(), CODE_VA + 0x14, "advanced past the ldp");

    log.borrow_mut().clear();
    assert_eq!(
        run(&mut vm, 0x20, STP_W3_W4_X0_8, DEV + 8, true),
        ExitReason::Idle
    );
    assert_eq!(
        *log.borrow(),
        [(true, 8, 4, 0x3333_3333), (true, 12, 4, 0x4444_4444)]
    );

    log.borrow_mut().clear();
    assert_eq!(
        run(&mut vm, 0x30, LDP_X5_X6_X0_16_PRE, DEV + 16, false),
        ExitReason::Idle
    );
    let c = vm.get_thread_context(V0).unwrap();
    assert_eq!((c.x(5), c.x(6)), (Some(0x1010), Some(0x1018)));
    assert_eq!(c.x(0), Some(DEV + 16), "pre-index writeback");
    assert_eq!(vm.stats().injected_aborts, 0);
    assert_eq!(vm.stats().undecodable_aborts, 0);
}

fn aborted_at_vector(vm: &mut Vm<HostBackend>, pc: u64) {
    let c = vm.get_thread_context(V0).unwrap();
    assert_eq!(c.pc(), VBAR + 0x200, "current EL, SP_EL1, synchronous");
    assert_eq!(vm.get_arm_vcpu_reg(V0, VcpuReg::ElrEl1).unwrap(), pc);
}

#[test]
fn instructions_that_cannot_be_emulated_abort_in_the_guest() {
    let (mut vm, log) = vm();
    assert_eq!(run(&mut vm, 0x40, LDR_Q0_X0, DEV, false), ExitReason::Idle);
    aborted_at_vector(&mut vm, CODE_VA + 0x40);
    assert_eq!(run(&mut vm, 0x44, LDXR_X1_X0, DEV, false), ExitReason::Idle);
    aborted_at_vector(&mut vm, CODE_VA + 0x44);
    assert!(log.borrow().is_empty(), "the device saw nothing");
    assert_eq!(vm.stats().injected_aborts, 2);
    assert_eq!(vm.stats().undecodable_aborts, 2);
}

#[test]
fn a_pc_that_does_not_translate_aborts_in_the_guest() {
    let (mut vm, log) = vm();
    // The next 2 MiB of TTBR1 space has no level-3 table.
    let mut c = vm.get_thread_context(V0).unwrap();
    let pc = CODE_VA + 0x20_0000;
    c.set_pc(pc);
    c.set_spsr(0x3c5);
    vm.set_thread_context(V0, &c).unwrap();
    vm.backend_mut().push_event(Event::VmFault {
        vcpu: V0,
        ip: pc,
        addr: DEV,
        fsr: (0x24 << 26) | (1 << 25) | 0x07,
        prefetch: false,
    });
    assert_eq!(vm.run(), ExitReason::Idle);
    aborted_at_vector(&mut vm, pc);
    // Tables outside guest RAM: point TTBR1 at the device.
    vm.set_arm_vcpu_reg(V0, VcpuReg::Ttbr1, DEV).unwrap();
    assert_eq!(
        run(&mut vm, 0x10, LDP_X1_X2_X0, DEV, false),
        ExitReason::Idle
    );
    aborted_at_vector(&mut vm, CODE_VA + 0x10);
    assert!(log.borrow().is_empty());
    assert_eq!(vm.stats().injected_aborts, 2);
    assert_eq!(vm.stats().undecodable_aborts, 2);
}

#[test]
fn with_the_mmu_off_the_pc_is_the_address() {
    let (mut vm, log) = vm();
    vm.set_arm_vcpu_reg(V0, VcpuReg::Sctlr, 0x30d0_0800)
        .unwrap();
    vm.guest_memory().write_u32(CODE_IPA, LDP_X1_X2_X0).unwrap();
    let mut c = vm.get_thread_context(V0).unwrap();
    c.set_pc(CODE_IPA);
    c.set_spsr(0x3c5);
    c.set_x(0, DEV);
    vm.set_thread_context(V0, &c).unwrap();
    vm.backend_mut().push_event(Event::VmFault {
        vcpu: V0,
        ip: CODE_IPA,
        addr: DEV,
        fsr: (0x24 << 26) | (1 << 25) | 0x07,
        prefetch: false,
    });
    assert_eq!(vm.run(), ExitReason::Idle);
    assert_eq!(log.borrow().len(), 2);
    let c = vm.get_thread_context(V0).unwrap();
    assert_eq!((c.x(1), c.x(2)), (Some(0x1000), Some(0x1008)));
}
