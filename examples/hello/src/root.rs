//! The root task proper (target only).

use core::fmt;
use core::ptr::{read_volatile, write_volatile};

use sel4_abi::invocation::encode;
use sel4_abi::syscall;
use sel4_abi::{init, CNodeCapData, CPtr, CapRights, MessageInfo, UserContext};
use sel4_rt::objects::{AllocError, Object, ObjectAllocator, ObjectKind};
use sel4_rt::vspace::{MapError, VSpaceMapper, VM_ATTRS_DEFAULT, VM_ATTRS_DEVICE};
use guest_support::Checks;
use sel4_rt::{println, BootInfo, RootKernel};

sel4_rt::declare_main!(main -> !);

/// PL031 real-time clock on QEMU `virt`; its PrimeCell ID proves a device mapping works.
const PL031_PADDR: u64 = 0x0901_0000;
const PRIMECELL_ID: [u32; 4] = [0x0d, 0xf0, 0x05, 0xb1];

/// Label the worker thread expects on requests (any non-zero value would do).
const REQUEST_LABEL: u64 = 7;
const WORKER_PRIORITY: u64 = 100;
const WORKER_STACK_PAGES: u64 = 4;

/// Counts a check; the message is only formatted when it fails.
macro_rules! check {
    ($c:expr, $cond:expr, $($what:tt)*) => {
        $c.check($cond, || alloc::format!($($what)*))
    };
}

/// An error that stops a test section (reported as a failed check).
#[derive(Debug)]
enum Failure {
    Alloc(AllocError),
    Map(MapError),
    Kernel(&'static str, sel4_abi::Error),
}

impl From<AllocError> for Failure {
    fn from(e: AllocError) -> Self {
        Failure::Alloc(e)
    }
}

impl From<MapError> for Failure {
    fn from(e: MapError) -> Self {
        Failure::Map(e)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Alloc(e) => write!(f, "allocation failed: {e}"),
            Failure::Map(e) => write!(f, "mapping failed: {e}"),
            Failure::Kernel(what, e) => write!(f, "{what} failed: {e}"),
        }
    }
}

fn kernel<T>(what: &'static str, r: Result<T, sel4_abi::Error>) -> Result<T, Failure> {
    r.map_err(|e| Failure::Kernel(what, e))
}

/// One group of checks; an `Err` stops the group and counts as a failed check.
type Section = fn(&mut Env, &mut Checks) -> Result<(), Failure>;

struct Env {
    k: RootKernel,
    objs: ObjectAllocator,
    vs: VSpaceMapper,
}

fn main(bi: &'static BootInfo) -> ! {
    println!("hello: root task started");
    let mut c = Checks::new("hello");
    summary(bi, &mut c);

    let mut env = Env {
        k: RootKernel,
        objs: ObjectAllocator::from_bootinfo(bi),
        vs: VSpaceMapper::default(),
    };
    let sections: [(&str, Section); 5] = [
        ("objects", objects),
        ("memory", memory),
        ("device", device),
        ("thread", thread),
        ("exhaustion", exhaustion),
    ];
    for (name, f) in sections {
        if let Err(e) = f(&mut env, &mut c) {
            check!(c, false, "{name}: {e}");
        }
    }
    let s = env.objs.stats();
    println!(
        "hello: allocator at end: {} KiB RAM free of {} KiB, {} free slots",
        s.ram_free >> 10,
        s.ram_total >> 10,
        s.free_slots
    );
    c.finish();
    // Nothing left to do; the worker thread was already torn down.
    sel4_rt::rt::suspend_self()
}

fn summary(bi: &BootInfo, c: &mut Checks) {
    let (mut n, mut ram, mut dev) = (0usize, 0u64, 0u64);
    for u in bi.untypeds() {
        n += 1;
        if u.is_device {
            dev += u.size();
        } else {
            ram += u.size();
        }
    }
    let empty = bi.empty();
    println!(
        "hello: BootInfo: {n} untypeds, {} MiB total",
        (ram + dev) >> 20
    );
    println!("hello:   RAM {} KiB, device {} MiB", ram >> 10, dev >> 20);
    println!(
        "hello:   empty slots {}..{} ({}), CNode size 2^{}",
        empty.start,
        empty.end,
        empty.len(),
        bi.init_thread_cnode_size_bits()
    );
    println!(
        "hello:   user image frames {}, IPC buffer at {:p}, extra BootInfo {} bytes",
        bi.user_image_frames().len(),
        bi.ipc_buffer(),
        bi.extra_len()
    );
    match bi.fdt() {
        Ok(Some(fdt)) => {
            println!("hello:   FDT in extra BootInfo: {} bytes", fdt.len());
            let magic = fdt
                .get(..4)
                .map(|m| u32::from_be_bytes([m[0], m[1], m[2], m[3]]));
            check!(c, magic == Some(0xd00d_feed), "FDT magic is {magic:x?}");
        }
        Ok(None) => println!("hello:   no FDT in extra BootInfo"),
        Err(e) => {
            check!(c, false, "extra BootInfo malformed: {e:?}");
        }
    }
    check!(c, n > 0 && ram > 0, "BootInfo lists RAM untypeds");
    check!(c, empty.len() > 100, "at least 100 empty slots");
}

fn cap_type(cap: u64) -> u32 {
    syscall::debug_cap_identify(CPtr(cap))
}

/// Every object kind the VMM uses can be created, is a real cap, and is
/// gone after free; freed memory is reused.
fn objects(env: &mut Env, c: &mut Checks) -> Result<(), Failure> {
    let kinds = [
        ObjectKind::Endpoint,
        ObjectKind::Notification,
        ObjectKind::Tcb,
        ObjectKind::CNode { slot_bits: 4 },
        ObjectKind::SmallPage,
        ObjectKind::LargePage,
        ObjectKind::PageTable,
        ObjectKind::VSpace,
        ObjectKind::Vcpu,
        ObjectKind::Untyped { size_bits: 16 },
    ];
    let mut made = alloc::vec::Vec::new();
    for kind in kinds {
        let o = env.objs.alloc(&mut env.k, kind)?;
        check!(
            c,
            cap_type(o.cap) != 0,
            "{kind:?} in slot {} is a cap",
            o.cap
        );
        check!(
            c,
            o.paddr % (1 << kind.size_bits()) == 0,
            "{kind:?} at {:#x} is aligned",
            o.paddr
        );
        made.push(o);
    }
    let ids: alloc::vec::Vec<u32> = made.iter().map(|o| cap_type(o.cap)).collect();
    println!("hello: created {} objects (cap types {ids:?})", made.len());
    for o in made.drain(..) {
        env.objs.free(&mut env.k, o)?;
        check!(
            c,
            cap_type(o.cap) == 0,
            "{:?} slot {} empty after free",
            o.kind,
            o.cap
        );
    }
    // The kernel lets a block be retyped again once its object is deleted.
    let a = env.objs.alloc(&mut env.k, ObjectKind::SmallPage)?;
    env.objs.free(&mut env.k, a)?;
    let b = env.objs.alloc(&mut env.k, ObjectKind::SmallPage)?;
    check!(
        c,
        a.paddr == b.paddr,
        "freed frame reused ({:#x} vs {:#x})",
        a.paddr,
        b.paddr
    );
    env.objs.free(&mut env.k, b)?;
    let before = env.objs.stats();
    env.objs.coalesce(&mut env.k)?;
    let after = env.objs.stats();
    check!(
        c,
        after.free_slots >= before.free_slots && after.ram_free == before.ram_free,
        "coalesce returns slots and keeps memory ({} -> {} slots)",
        before.free_slots,
        after.free_slots
    );
    Ok(())
}

/// Fresh frames are zeroed, mapped RAM reads back what was written.
fn memory(env: &mut Env, c: &mut Checks) -> Result<(), Failure> {
    for kind in [ObjectKind::SmallPage, ObjectKind::LargePage] {
        let f = env.objs.alloc(&mut env.k, kind)?;
        let va = env.vs.map(
            &mut env.k,
            &mut env.objs,
            &f,
            CapRights::READ_WRITE,
            VM_ATTRS_DEFAULT,
        )?;
        let words = (1usize << kind.size_bits()) / 8;
        let p = va as *mut u64;
        // SAFETY: the frame was just mapped read-write at `va` and nothing
        // else refers to it.
        let zero = (0..words).all(|i| unsafe { read_volatile(p.add(i)) } == 0);
        check!(c, zero, "new {kind:?} at {va:#x} is zeroed");
        let pattern = |i: usize| (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ f.paddr;
        for i in 0..words {
            // SAFETY: as above.
            unsafe { write_volatile(p.add(i), pattern(i)) };
        }
        // SAFETY: as above.
        let bad = (0..words).find(|&i| unsafe { read_volatile(p.add(i)) } != pattern(i));
        check!(
            c,
            bad.is_none(),
            "{kind:?} at {va:#x}: pattern mismatch at word {bad:?}"
        );
        println!(
            "hello: {kind:?} paddr {:#x} mapped at {va:#x}, pattern ok",
            f.paddr
        );
    }
    println!("hello: page tables created: {}", env.vs.page_tables().len());
    check!(
        c,
        !env.vs.page_tables().is_empty(),
        "page tables were created on demand"
    );
    Ok(())
}

/// A device frame at a fixed physical address is found, mapped uncached and readable.
fn device(env: &mut Env, c: &mut Checks) -> Result<(), Failure> {
    let ut = env.objs.untyped_covering(PL031_PADDR, 0x1000);
    check!(
        c,
        ut.is_some_and(|u| u.is_device),
        "a device untyped covers the PL031 at {PL031_PADDR:#x}: {ut:?}"
    );
    let f = env.objs.alloc_device_frame(&mut env.k, PL031_PADDR, 12)?;
    check!(c, f.paddr == PL031_PADDR, "device frame at {:#x}", f.paddr);
    let again = env.objs.alloc_device_frame(&mut env.k, PL031_PADDR, 12);
    check!(
        c,
        again == Err(AllocError::AddressInUse { paddr: PL031_PADDR }),
        "second claim of the PL031 frame refused: {again:?}"
    );
    let va = env.vs.map(
        &mut env.k,
        &mut env.objs,
        &f,
        CapRights::READ_WRITE,
        VM_ATTRS_DEVICE,
    )?;
    let regs = va as *const u32;
    // SAFETY: the PL031 register page is mapped uncached at `va`; the ID
    // registers at 0xff0.. are read-only and side-effect free.
    let id: [u32; 4] =
        core::array::from_fn(|i| unsafe { read_volatile(regs.add(0xff0 / 4 + i)) } & 0xff);
    check!(c, id == PRIMECELL_ID, "PL031 PrimeCell ID {id:x?}");
    println!("hello: PL031 mapped at {va:#x}, PrimeCell ID {id:x?}");
    Ok(())
}

/// A second thread in our CSpace/VSpace answers `n` with `n + 1`.
fn thread(env: &mut Env, c: &mut Checks) -> Result<(), Failure> {
    let ep = env.objs.alloc(&mut env.k, ObjectKind::Endpoint)?;
    let tcb = env.objs.alloc(&mut env.k, ObjectKind::Tcb)?;
    let ipc = env.objs.alloc(&mut env.k, ObjectKind::SmallPage)?;
    let ipc_va = env.vs.map(
        &mut env.k,
        &mut env.objs,
        &ipc,
        CapRights::READ_WRITE,
        VM_ATTRS_DEFAULT,
    )?;
    // Stack below an unmapped guard page.
    let stack_base = env.vs.reserve((WORKER_STACK_PAGES + 1) << 12, 12)? + 0x1000;
    let mut stack_frames: alloc::vec::Vec<Object> = alloc::vec::Vec::new();
    for i in 0..WORKER_STACK_PAGES {
        let f = env.objs.alloc(&mut env.k, ObjectKind::SmallPage)?;
        env.vs.map_at(
            &mut env.k,
            &mut env.objs,
            f.cap,
            stack_base + (i << 12),
            CapRights::READ_WRITE,
            VM_ATTRS_DEFAULT,
        )?;
        stack_frames.push(f);
    }
    let stack_top = stack_base + (WORKER_STACK_PAGES << 12);

    let t = CPtr(tcb.cap);
    kernel(
        "TCB_Configure",
        encode::tcb_configure(
            CPtr::NULL,
            init::CNODE,
            CNodeCapData::new(0, 0),
            init::VSPACE,
            0,
            ipc_va,
            CPtr(ipc.cap),
        )
        .perform(t),
    )?;
    kernel(
        "TCB_SetPriority",
        encode::tcb_set_priority(init::TCB, WORKER_PRIORITY).perform(t),
    )?;
    let regs = UserContext {
        pc: worker as *const () as usize as u64,
        sp: stack_top,
        x0: ep.cap,
        x1: ipc_va,
        tpidrro_el0: ipc_va,
        ..Default::default()
    };
    kernel(
        "TCB_WriteRegisters",
        encode::tcb_write_registers(false, 0, UserContext::WORDS, &regs).perform(t),
    )?;
    syscall::debug_name_thread(t, "hello-worker");
    kernel("TCB_Resume", encode::tcb_resume().perform(t))?;

    for n in [0u64, 41, 0xffff_ffff, u64::MAX - 1] {
        let mut mrs = [n, 0, 0, 0];
        let reply = syscall::call_with_mrs(
            CPtr(ep.cap),
            MessageInfo::new(REQUEST_LABEL, 0, 0, 1),
            &mut mrs,
        );
        check!(
            c,
            reply.label() == 0 && reply.length() == 2 && mrs[0] == n + 1,
            "worker answered {n} with {} (label {}, len {})",
            mrs[0],
            reply.label(),
            reply.length()
        );
        check!(
            c,
            mrs[1] == 1,
            "worker found its own IPC buffer (flag {})",
            mrs[1]
        );
    }
    // A request with the wrong label is answered with an error label.
    let mut mrs = [5, 0, 0, 0];
    let reply = syscall::call_with_mrs(CPtr(ep.cap), MessageInfo::new(1, 0, 0, 1), &mut mrs);
    check!(
        c,
        reply.label() == 1,
        "worker rejects unknown label (got {})",
        reply.label()
    );
    println!("hello: worker thread answered all calls");

    // Tear down: stop the thread, delete everything, slots come back.
    let slots_before = env.objs.stats().free_slots;
    kernel("TCB_Suspend", sel4_rt::tcb_suspend(t))?;
    env.objs.free(&mut env.k, tcb)?;
    env.objs.free(&mut env.k, ep)?;
    env.objs.free(&mut env.k, ipc)?;
    for f in stack_frames {
        env.objs.free(&mut env.k, f)?;
    }
    check!(c, cap_type(t.0) == 0, "TCB deleted");
    check!(
        c,
        env.objs.stats().free_slots == slots_before + 3 + WORKER_STACK_PAGES as usize,
        "all worker slots returned"
    );
    Ok(())
}

/// The worker: `x0` = endpoint, `x1` = the IPC buffer address it was given.
extern "C" fn worker(ep: u64, ipc_va: u64) -> ! {
    let own_buffer = sel4_abi::ipc_buffer_ptr() as u64 == ipc_va;
    let ep = CPtr(ep);
    let (mut info, _badge, mut mrs) = syscall::recv_with_mrs(ep);
    loop {
        let reply = if info.label() == REQUEST_LABEL && info.length() == 1 {
            mrs = [mrs[0].wrapping_add(1), own_buffer as u64, 0, 0];
            MessageInfo::new(0, 0, 0, 2)
        } else {
            mrs = [0; 4];
            MessageInfo::new(1, 0, 0, 0)
        };
        (info, _) = syscall::reply_recv_with_mrs(ep, reply, &mut mrs);
    }
}

/// Running out is an error value, and memory/slots come back afterwards.
fn exhaustion(env: &mut Env, c: &mut Checks) -> Result<(), Failure> {
    let start = env.objs.stats();
    let mut got: alloc::vec::Vec<Object> = alloc::vec::Vec::new();
    // Large pages until memory or slots run out.
    let err = loop {
        match env.objs.alloc(&mut env.k, ObjectKind::LargePage) {
            Ok(o) => got.push(o),
            Err(e) => break e,
        }
    };
    check!(
        c,
        matches!(
            err,
            AllocError::OutOfMemory { size_bits: 21 } | AllocError::OutOfSlots
        ),
        "exhaustion reported as a typed error: {err:?}"
    );
    println!("hello: exhausted after {} large pages: {err}", got.len());
    for o in got {
        env.objs.free(&mut env.k, o)?;
    }
    env.objs.coalesce(&mut env.k)?;
    let end = env.objs.stats();
    check!(
        c,
        end.ram_free == start.ram_free,
        "all memory back after exhaustion ({} vs {})",
        end.ram_free,
        start.ram_free
    );
    check!(
        c,
        end.free_slots >= start.free_slots,
        "all slots back after exhaustion"
    );
    Ok(())
}
