//! The root task proper (target only).

use alloc::boxed::Box;
use alloc::format;
use alloc::rc::Rc;
use alloc::vec::Vec;
use core::cell::RefCell;

use guest_support::vm::{resources, start_el1};
use guest_support::Checks;
use sel4_rt::{println, BootInfo};
use sel4vm::{badge, DeviceIo, ExitReason, GuestAddress, MmioDevice, MmioRegion, Vm, VmConfig};
use sel4vm_sel4::{Resources, Sel4Backend, Sel4Config};

use crate::guest::*;

sel4_rt::declare_main!(main);

/// Priority of the guest's vCPU thread (the root task runs at 255).
const VCPU_PRIORITY: u8 = 100;
/// Badge bits of the notification the VMM signals itself with.
const NOTIFY_BITS: u64 = 0x5;

/// The emulated device: 16 32-bit registers and a log of guest accesses.
struct Device {
    regs: [u32; NUM_REGS],
    log: Vec<Access>,
    done: bool,
}

impl Device {
    fn new() -> Self {
        let mut regs = [0; NUM_REGS];
        regs[0x10 / 4] = SIGNED16_INIT;
        regs[0x14 / 4] = SIGNED32_INIT;
        Self {
            regs,
            log: Vec::new(),
            done: false,
        }
    }

    /// Register index and byte lane of an access, if it fits the device.
    fn locate(offset: u64, size: u8) -> Option<(usize, u64)> {
        let i = (offset / 4) as usize;
        let fits = match size {
            8 => offset.is_multiple_of(8) && i + 1 < NUM_REGS,
            1 | 2 | 4 => i < NUM_REGS && (offset & 3) + u64::from(size) <= 4,
            _ => false,
        };
        fits.then_some((i, (offset & 3) * 8))
    }

    fn mask(size: u8) -> u64 {
        if size == 8 {
            u64::MAX
        } else {
            (1u64 << (size * 8)) - 1
        }
    }
}

/// The model the VM calls; the state stays shared with the checks.
struct Model(Rc<RefCell<Device>>);

impl MmioDevice for Model {
    fn name(&self) -> &str {
        "guest-mmio"
    }

    fn read(&mut self, offset: u64, size: u8, _io: &mut DeviceIo<'_>) -> u64 {
        let mut d = self.0.borrow_mut();
        let Some((i, shift)) = Device::locate(offset, size) else {
            println!("guest-mmio: read of {size} bytes at +{offset:#x} outside the device");
            return 0;
        };
        let v = if size == 8 {
            u64::from(d.regs[i]) | u64::from(d.regs[i + 1]) << 32
        } else {
            (u64::from(d.regs[i]) >> shift) & Device::mask(size)
        };
        d.log.push(Access {
            offset,
            size: size.into(),
            value: v,
            write: false,
        });
        v
    }

    fn write(&mut self, offset: u64, size: u8, value: u64, io: &mut DeviceIo<'_>) {
        let mut d = self.0.borrow_mut();
        let Some((i, shift)) = Device::locate(offset, size) else {
            println!("guest-mmio: write of {size} bytes at +{offset:#x} outside the device");
            return;
        };
        let v = value & Device::mask(size);
        if size == 8 {
            d.regs[i] = v as u32;
            d.regs[i + 1] = (v >> 32) as u32;
        } else {
            let m = Device::mask(size) << shift;
            d.regs[i] = ((u64::from(d.regs[i]) & !m) | (v << shift)) as u32;
        }
        d.log.push(Access {
            offset,
            size: size.into(),
            value: v,
            write: true,
        });
        if offset == DONE_OFFSET {
            d.done = true;
            io.stop_vm();
        }
    }
}

fn main(bi: &'static BootInfo) {
    println!("guest-mmio: root task started");
    let res = resources(bi);
    let mut c = Checks::new("guest-mmio");
    let start = res.borrow().objects.stats();
    println!(
        "guest-mmio: {} KiB RAM free, {} free slots",
        start.ram_free >> 10,
        start.free_slots
    );
    for (name, one_to_one) in [("1:1", true), ("ram", false), ("mmu", false)] {
        let before = res.borrow().objects.stats();
        let run = if name == "mmu" {
            run_mmu_vm(&res, &mut c)
        } else {
            run_vm(&res, name, one_to_one, &mut c)
        };
        if let Err(e) = run {
            c.check(false, || format!("{name}: {e:?}"));
        }
        let after = res.borrow().objects.stats();
        println!(
            "guest-mmio: [{name}] after teardown: {} KiB RAM free, {} free slots",
            after.ram_free >> 10,
            after.free_slots
        );
        // Only the VMM window's page tables (in the root VSpace), the
        // bound notification and the buddy halves next to them may stay.
        let kib = before.ram_free.saturating_sub(after.ram_free) >> 10;
        c.check(kib <= 64, || format!("{name}: teardown kept {kib} KiB"));
        let slots = before.free_slots.saturating_sub(after.free_slots);
        c.check(slots <= 32, || {
            format!("{name}: teardown kept {slots} slots")
        });
    }
    c.finish();
}

/// A VM with guest RAM (checked) and the emulated device registered.
fn new_vm(
    res: &Rc<RefCell<Resources>>,
    name: &str,
    one_to_one: bool,
    c: &mut Checks,
) -> Result<(Vm<Sel4Backend>, Rc<RefCell<Device>>), sel4vm::Error> {
    let backend = Sel4Backend::new(res.clone(), Sel4Config::default())?;
    let (wbase, wsize) = backend.vmm_window();
    println!("guest-mmio: [{name}] VMM window {wbase:#x}+{wsize:#x}");
    let config = VmConfig {
        name: format!("guest-mmio-{name}"),
        ..VmConfig::default()
    };
    let mut vm = Vm::new(backend, config)?;
    vm.ram_register_at(RAM_BASE, RAM_SIZE, one_to_one)?;
    let pa = vm.ipa_to_pa(RAM_BASE, 0x1000)?;
    println!(
        "guest-mmio: [{name}] {} KiB guest RAM at {RAM_BASE:#x} (pa {pa:#x}), {} stage-2 tables",
        RAM_SIZE >> 10,
        vm.backend().stage2_tables()
    );
    if one_to_one {
        c.check(pa == RAM_BASE, || format!("1:1 RAM at pa {pa:#x}"));
        c.check(vm.ipa_to_pa(RAM_BASE, RAM_SIZE) == Ok(RAM_BASE), || {
            "1:1 RAM not contiguous"
        });
    } else {
        c.check(pa >= 0x6000_0000, || {
            format!("RAM frame at pa {pa:#x} is kernel RAM")
        });
    }
    c.check(vm.guest_vspace().len() as u64 == RAM_SIZE / 0x1000, || {
        format!("{name}: {} pages mapped", vm.guest_vspace().len())
    });
    let small = (RAM_SIZE as usize - LARGE_FRAMES * (2 << 20)) / 0x1000;
    c.check(vm.backend().frame_count() == LARGE_FRAMES + small, || {
        format!(
            "{name}: {} frames back guest RAM",
            vm.backend().frame_count()
        )
    });
    // Stage 2 starts at level 0 here: the large frame needs tables at
    // levels 1 and 2, the small ones one at level 3.
    c.check(vm.backend().stage2_tables() == 3, || {
        format!("{name}: {} stage-2 tables", vm.backend().stage2_tables())
    });
    // A VMM copy across the 2 MiB / 4 KiB frame boundary reads back intact.
    let edge = RAM_BASE + (2 << 20) - 0x800;
    let pattern: Vec<u8> = (0..0x1000u32).map(|i| (i * 7 + 3) as u8).collect();
    vm.ram_write(edge, &pattern)?;
    let mut again = alloc::vec![0u8; pattern.len()];
    vm.ram_read(edge, &mut again)?;
    c.check(again == pattern, || {
        format!("{name}: copy across frame sizes differs")
    });
    vm.ram_write(edge, &[0; 0x1000])?;

    let dev = Rc::new(RefCell::new(Device::new()));
    vm.register_mmio_device(
        MmioRegion {
            base: GuestAddress(MMIO_BASE),
            size: MMIO_SIZE,
            irq: None,
        },
        Box::new(Model(dev.clone())),
    )?;

    Ok((vm, dev))
}

/// Writes `words` to guest RAM at `ipa` and checks they read back.
fn load(vm: &mut Vm<Sel4Backend>, ipa: u64, words: &[u32], what: &str, c: &mut Checks) -> Result<(), sel4vm::Error> {
    let code: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    vm.ram_write(ipa, &code)?;
    let mut back = alloc::vec![0u8; code.len()];
    vm.ram_read(ipa, &mut back)?;
    c.check(back == code, || format!("{what}: read back differs"));
    Ok(())
}

/// Checks the device saw exactly `want`, in order.
fn check_log(d: &Device, name: &str, want: &[Access], c: &mut Checks) {
    c.check(d.done, || format!("{name}: guest never wrote DONE"));
    c.check(d.log.len() == want.len(), || {
        format!("{name}: {} accesses, expected {}", d.log.len(), want.len())
    });
    for (i, (got, want)) in d.log.iter().zip(want.iter()).enumerate() {
        c.check(got == want, || {
            format!("{name}: access {i}: got {got:x?}, want {want:x?}")
        });
    }
    println!("guest-mmio: [{name}] {} MMIO accesses emulated", d.log.len());
}

/// Checks the guest's PC and `(n, xN)` registers.
fn check_regs(
    vm: &mut Vm<Sel4Backend>,
    vcpu: sel4vm::VcpuId,
    name: &str,
    pc: u64,
    want: &[(usize, u64)],
    c: &mut Checks,
) -> Result<(), sel4vm::Error> {
    let regs = vm.get_thread_context(vcpu)?;
    c.check(regs.pc() == pc, || format!("{name}: guest pc {:#x}", regs.pc()));
    for &(n, want) in want {
        let got = regs.x(n).unwrap_or(0);
        c.check(got == want, || format!("{name}: x{n} = {got:#x}, want {want:#x}"));
    }
    Ok(())
}

/// The MMU-off program, with every load/store width.
fn run_vm(
    res: &Rc<RefCell<Resources>>,
    name: &str,
    one_to_one: bool,
    c: &mut Checks,
) -> Result<(), sel4vm::Error> {
    let (mut vm, dev) = new_vm(res, name, one_to_one, c)?;
    load(&mut vm, PROG_IPA, &PROGRAM, name, c)?;

    let vcpu = vm.create_vcpu(VCPU_PRIORITY)?;
    start_el1(&mut vm, vcpu, PROG_IPA, 0)?;

    // A notification signalled before the run must arrive through the
    // bound notification, badged with NOTIFICATION_BIT, between guest faults.
    let ntfn = vm.backend_mut().mint_notification(NOTIFY_BITS)?;
    let seen = Rc::new(RefCell::new(Vec::new()));
    let s = seen.clone();
    vm.register_notification_callback(move |_, badge| {
        s.borrow_mut().push(badge);
        Ok(())
    });
    sel4_abi::syscall::signal(ntfn);

    let reason = vm.run();
    println!("guest-mmio: [{name}] run returned {reason:?}");
    c.check(reason == ExitReason::Stopped, || {
        format!("{name}: exit {reason:?}")
    });

    let want = badge::for_notification(NOTIFY_BITS)?;
    c.check(*seen.borrow() == [want], || {
        format!(
            "{name}: notifications {:x?}, want [{want:#x}]",
            seen.borrow()
        )
    });

    check_log(&dev.borrow(), name, &EXPECTED, c);
    check_regs(&mut vm, vcpu, name, FINAL_PC, &EXPECTED_REGS, c)?;
    let mut scratch = [0u8; 16];
    vm.ram_read(SCRATCH_IPA, &mut scratch)?;
    let got = [
        u64::from_le_bytes(scratch[..8].try_into().unwrap_or_default()),
        u64::from_le_bytes(scratch[8..].try_into().unwrap_or_default()),
    ];
    c.check(got == EXPECTED_SCRATCH, || {
        format!("{name}: guest RAM store pair left {got:x?}")
    });
    vm.vcpu_stop(vcpu)?;
    println!("guest-mmio: [{name}] guest registers and RAM checked");
    Ok(())
}

/// The MMU-on program: its PC is a TTBR1 address and its device accesses
/// have no syndrome, so each is found through its own page tables.
fn run_mmu_vm(res: &Rc<RefCell<Resources>>, c: &mut Checks) -> Result<(), sel4vm::Error> {
    let name = "mmu";
    let (mut vm, dev) = new_vm(res, name, false, c)?;
    load(&mut vm, PROG_IPA, &MMU_PROGRAM, name, c)?;
    load(&mut vm, PROG_IPA + MMU_VECTOR_OFFSET as u64, &MMU_VECTOR, name, c)?;
    for (ipa, desc) in MMU_TABLES {
        vm.ram_write(ipa, &desc.to_le_bytes())?;
    }
    let vcpu = vm.create_vcpu(VCPU_PRIORITY)?;
    start_el1(&mut vm, vcpu, PROG_IPA, 0)?;
    let reason = vm.run();
    println!("guest-mmio: [{name}] run returned {reason:?}");
    c.check(reason == ExitReason::Stopped, || format!("{name}: exit {reason:?}"));
    check_log(&dev.borrow(), name, &EXPECTED_MMU, c);
    check_regs(&mut vm, vcpu, name, MMU_FINAL_PC, &EXPECTED_MMU_REGS, c)?;
    let (aborts, undecodable) = (vm.stats().injected_aborts, vm.stats().undecodable_aborts);
    c.check(aborts == 1 && undecodable == 1, || {
        format!("{name}: {aborts} aborts injected, {undecodable} undecodable; want 1 and 1")
    });
    vm.vcpu_stop(vcpu)?;
    println!("guest-mmio: [{name}] MMU on: pairs through the guest's tables, FP load aborted in the guest");
    Ok(())
}
