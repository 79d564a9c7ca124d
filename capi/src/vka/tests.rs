//! `VkaSource` against a recording mock of `vka_t`, `vspace_t` and
//! `simple_t`: which operations are called, in which order, with which
//! types and sizes, and that failures leave nothing allocated.

use super::*;
use std::cell::RefCell;
use std::collections::BTreeSet;
use std::vec;

/// The root CNode the mock's paths name (distinct from any slot number).
const ROOT: u64 = 0x77;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Call {
    CspaceAlloc(u64),
    MakePath(u64),
    UtAlloc {
        slot: u64,
        ty: u64,
        bits: u64,
    },
    UtAllocDev {
        slot: u64,
        ty: u64,
        bits: u64,
        dev: bool,
    },
    UtAllocAt {
        slot: u64,
        ty: u64,
        bits: u64,
        paddr: u64,
    },
    CspaceFree(u64),
    UtFree {
        ty: u64,
        bits: u64,
        cookie: u64,
    },
    UtPaddr {
        cookie: u64,
        ty: u64,
        bits: u64,
    },
    Delete(CapPath),
    Reserve {
        bytes: usize,
        bits: usize,
        rights: u64,
        cacheable: i32,
    },
    MapAt {
        cap: u64,
        cookies_null: bool,
        vaddr: u64,
        n: usize,
        bits: usize,
        res: usize,
    },
    Unmap {
        vaddr: u64,
        n: usize,
        bits: usize,
        vka_null: bool,
    },
    FreeRes(usize),
    InitCap(u64),
    AsidAssign(u64),
}

thread_local! {
    static LOG: RefCell<Vec<Call>> = const { RefCell::new(Vec::new()) };
}

fn log(c: Call) {
    LOG.with(|l| l.borrow_mut().push(c));
}

fn take_log() -> Vec<Call> {
    LOG.with(|l| core::mem::take(&mut *l.borrow_mut()))
}

#[derive(Default)]
struct Mock {
    next_slot: u64,
    next_cookie: u64,
    live_slots: BTreeSet<u64>,
    live_ut: BTreeSet<u64>,
    fail_cspace: bool,
    fail_ut: bool,
    fail_map: bool,
    no_paddr: bool,
    reserve_base: u64,
}

unsafe fn mock<'a>(data: *mut c_void) -> &'a mut Mock {
    // SAFETY: every test passes a live `Mock` as the cookie.
    unsafe { &mut *(data as *mut Mock) }
}

unsafe extern "C" fn cspace_alloc(data: *mut c_void, res: *mut seL4_Word) -> i32 {
    let m = unsafe { mock(data) };
    if m.fail_cspace {
        log(Call::CspaceAlloc(0));
        return -1;
    }
    m.next_slot += 1;
    let s = 100 + m.next_slot;
    m.live_slots.insert(s);
    unsafe { *res = s };
    log(Call::CspaceAlloc(s));
    0
}

unsafe extern "C" fn make_path(_data: *mut c_void, slot: seL4_Word, res: *mut cspacepath_t) {
    log(Call::MakePath(slot));
    unsafe {
        *res = cspacepath_t {
            capPtr: slot,
            capDepth: 64,
            root: ROOT,
            dest: 0,
            destDepth: 0,
            offset: slot,
            window: 1,
        }
    };
}

unsafe fn ut_common(m: &mut Mock, dest: *const cspacepath_t, res: *mut seL4_Word) -> (u64, i32) {
    let slot = unsafe { (*dest).capPtr };
    assert!(
        m.live_slots.contains(&slot),
        "retype into a slot not allocated"
    );
    if m.fail_ut {
        return (slot, -1);
    }
    m.next_cookie += 1;
    let c = 0x1000 + m.next_cookie;
    m.live_ut.insert(c);
    unsafe { *res = c };
    (slot, 0)
}

unsafe extern "C" fn ut_alloc(
    data: *mut c_void,
    dest: *const cspacepath_t,
    ty: seL4_Word,
    bits: seL4_Word,
    res: *mut seL4_Word,
) -> i32 {
    let (slot, rc) = unsafe { ut_common(mock(data), dest, res) };
    log(Call::UtAlloc { slot, ty, bits });
    rc
}

unsafe extern "C" fn ut_alloc_dev(
    data: *mut c_void,
    dest: *const cspacepath_t,
    ty: seL4_Word,
    bits: seL4_Word,
    dev: bool,
    res: *mut seL4_Word,
) -> i32 {
    let (slot, rc) = unsafe { ut_common(mock(data), dest, res) };
    log(Call::UtAllocDev {
        slot,
        ty,
        bits,
        dev,
    });
    rc
}

unsafe extern "C" fn ut_alloc_at(
    data: *mut c_void,
    dest: *const cspacepath_t,
    ty: seL4_Word,
    bits: seL4_Word,
    paddr: usize,
    res: *mut seL4_Word,
) -> i32 {
    let (slot, rc) = unsafe { ut_common(mock(data), dest, res) };
    log(Call::UtAllocAt {
        slot,
        ty,
        bits,
        paddr: paddr as u64,
    });
    rc
}

unsafe extern "C" fn cspace_free(data: *mut c_void, slot: seL4_Word) {
    let m = unsafe { mock(data) };
    assert!(
        m.live_slots.remove(&slot),
        "double or unknown slot free {slot}"
    );
    log(Call::CspaceFree(slot));
}

unsafe extern "C" fn ut_free(data: *mut c_void, ty: seL4_Word, bits: seL4_Word, cookie: seL4_Word) {
    let m = unsafe { mock(data) };
    assert!(m.live_ut.remove(&cookie), "double or unknown utspace free");
    log(Call::UtFree { ty, bits, cookie });
}

unsafe extern "C" fn ut_paddr(
    data: *mut c_void,
    cookie: seL4_Word,
    ty: seL4_Word,
    bits: seL4_Word,
) -> usize {
    let m = unsafe { mock(data) };
    log(Call::UtPaddr { cookie, ty, bits });
    if m.no_paddr {
        VKA_NO_PADDR
    } else {
        0x4000_0000 + (cookie as usize - 0x1000) * 0x1000
    }
}

fn delete_ok(p: &CapPath) -> Result<(), BackendError> {
    log(Call::Delete(*p));
    Ok(())
}

fn delete_fails(p: &CapPath) -> Result<(), BackendError> {
    log(Call::Delete(*p));
    Err(BackendError::Kernel(3))
}

unsafe extern "C" fn reserve(
    vs: *mut vspace_t,
    bytes: usize,
    bits: usize,
    rights: seL4_CapRights_t,
    cacheable: i32,
    vaddr: *mut *mut c_void,
) -> reservation_t {
    let m = unsafe { mock((*vs).data) };
    log(Call::Reserve {
        bytes,
        bits,
        rights: rights.words[0],
        cacheable,
    });
    if m.reserve_base == 0 {
        return reservation_t {
            res: ptr::null_mut(),
        };
    }
    unsafe { *vaddr = m.reserve_base as *mut c_void };
    reservation_t {
        res: 0xabc0 as *mut c_void,
    }
}

unsafe extern "C" fn map_at(
    vs: *mut vspace_t,
    caps: *mut seL4_Word,
    cookies: *mut usize,
    vaddr: *mut c_void,
    n: usize,
    bits: usize,
    res: reservation_t,
) -> i32 {
    let m = unsafe { mock((*vs).data) };
    log(Call::MapAt {
        cap: unsafe { *caps },
        cookies_null: cookies.is_null(),
        vaddr: vaddr as u64,
        n,
        bits,
        res: res.res as usize,
    });
    if m.fail_map {
        -1
    } else {
        0
    }
}

unsafe extern "C" fn unmap(
    _vs: *mut vspace_t,
    vaddr: *mut c_void,
    n: usize,
    bits: usize,
    free: *mut vka_t,
) {
    log(Call::Unmap {
        vaddr: vaddr as u64,
        n,
        bits,
        vka_null: free.is_null(),
    });
}

unsafe extern "C" fn free_res(_vs: *mut vspace_t, r: reservation_t) {
    log(Call::FreeRes(r.res as usize));
}

unsafe extern "C" fn init_cap(_data: *mut c_void, cap: seL4_Word) -> seL4_Word {
    log(Call::InitCap(cap));
    0x500 + cap
}

unsafe extern "C" fn asid_assign(_data: *mut c_void, vspace: seL4_Word) -> i32 {
    log(Call::AsidAssign(vspace));
    if vspace == 0 {
        1
    } else {
        0
    }
}

fn vka_for(m: &mut Mock) -> vka_t {
    vka_t {
        data: m as *mut Mock as *mut c_void,
        cspace_alloc: Some(cspace_alloc),
        cspace_make_path: Some(make_path),
        utspace_alloc: Some(ut_alloc),
        utspace_alloc_maybe_device: Some(ut_alloc_dev),
        utspace_alloc_at: Some(ut_alloc_at),
        cspace_free: Some(cspace_free),
        utspace_free: Some(ut_free),
        utspace_paddr: Some(ut_paddr),
    }
}

fn vspace_for(m: &mut Mock) -> vspace_t {
    vspace_t {
        data: m as *mut Mock as *mut c_void,
        map_pages_at_vaddr: Some(map_at),
        unmap_pages: Some(unmap),
        reserve_range_aligned: Some(reserve),
        free_reservation: Some(free_res),
        ..vspace_t::default()
    }
}

fn path(slot: u64) -> CapPath {
    CapPath {
        root: ROOT,
        index: slot,
        depth: 64,
    }
}

#[test]
fn object_lifecycle_calls_vka_like_libsel4vka() {
    let mut m = Mock::default();
    let mut vka = vka_for(&mut m);
    let vs = vspace_for(&mut m);
    let mut src = unsafe { VkaSource::new(&mut vka, vs, ptr::null_mut(), delete_ok) }.unwrap();
    take_log();

    let tcb = src.alloc(ObjectKind::Tcb, None).unwrap();
    assert_eq!(
        take_log(),
        vec![
            Call::CspaceAlloc(101),
            Call::MakePath(101),
            // seL4_TCBObject = 1, seL4_TCBBits = 11; RAM only.
            Call::UtAllocDev {
                slot: 101,
                ty: 1,
                bits: 11,
                dev: false
            },
        ]
    );
    assert_eq!(tcb.cap, 101);
    assert_eq!(tcb.paddr, None, "no utspace_paddr query for non-frames");

    let cn = src.alloc(ObjectKind::CNode { slot_bits: 8 }, None).unwrap();
    let log = take_log();
    // CapTable: size_bits is the slot count (retype argument), not the bytes.
    assert_eq!(
        log[2],
        Call::UtAllocDev {
            slot: cn.cap,
            ty: 4,
            bits: 8,
            dev: false
        }
    );

    let f = src.alloc(ObjectKind::SmallPage, None).unwrap();
    let log = take_log();
    assert_eq!(
        log[2],
        Call::UtAllocDev {
            slot: f.cap,
            ty: 7,
            bits: 12,
            dev: false
        }
    );
    assert_eq!(
        log[3],
        Call::UtPaddr {
            cookie: f.cookie,
            ty: 7,
            bits: 12
        }
    );
    assert!(f.paddr.is_some() && !f.device);

    let lp = src.alloc(ObjectKind::LargePage, Some(0x4020_0000)).unwrap();
    assert_eq!(
        take_log(),
        vec![
            Call::CspaceAlloc(lp.cap),
            Call::MakePath(lp.cap),
            Call::UtAllocAt {
                slot: lp.cap,
                ty: 8,
                bits: 21,
                paddr: 0x4020_0000
            },
        ]
    );
    assert_eq!(lp.paddr, Some(0x4020_0000));
    assert!(
        lp.device,
        "frames at an address may be device memory: zeroed"
    );

    src.free(&tcb).unwrap();
    assert_eq!(
        take_log(),
        vec![
            Call::MakePath(101),
            Call::Delete(path(101)),
            Call::CspaceFree(101),
            Call::UtFree {
                ty: 1,
                bits: 11,
                cookie: tcb.cookie
            },
        ]
    );
    for o in [cn, f, lp] {
        src.free(&o).unwrap();
    }
    assert!(m.live_slots.is_empty() && m.live_ut.is_empty());
}

#[test]
fn plain_utspace_alloc_when_maybe_device_is_missing() {
    let mut m = Mock::default();
    let mut vka = vka_for(&mut m);
    vka.utspace_alloc_maybe_device = None;
    let vs = vspace_for(&mut m);
    let mut src = unsafe { VkaSource::new(&mut vka, vs, ptr::null_mut(), delete_ok) }.unwrap();
    take_log();
    let ep = src.alloc(ObjectKind::Endpoint, None).unwrap();
    assert_eq!(
        take_log()[2],
        Call::UtAlloc {
            slot: ep.cap,
            ty: 2,
            bits: 4
        }
    );
}

#[test]
fn failures_give_everything_back() {
    let mut m = Mock::default();
    let mut vka = vka_for(&mut m);
    let vs = vspace_for(&mut m);
    let vp: *mut vka_t = &mut vka;
    let mut src = unsafe { VkaSource::new(vp, vs, ptr::null_mut(), delete_ok) }.unwrap();

    // Retype fails: the slot goes back.
    unsafe { mock((*vp).data) }.fail_ut = true;
    take_log();
    assert_eq!(
        src.alloc(ObjectKind::Vcpu, None),
        Err(BackendError::OutOfMemory)
    );
    assert_eq!(
        take_log(),
        vec![
            Call::CspaceAlloc(101),
            Call::MakePath(101),
            Call::UtAllocDev {
                slot: 101,
                ty: 10,
                bits: 12,
                dev: false
            },
            Call::CspaceFree(101),
        ]
    );
    assert_eq!(
        src.alloc(ObjectKind::SmallPage, Some(0x9000_0000)),
        Err(BackendError::PhysUnavailable(0x9000_0000))
    );
    assert!(unsafe { mock((*vp).data) }.live_slots.is_empty());

    // No slot: no retype attempted.
    let m2 = unsafe { mock((*vp).data) };
    m2.fail_ut = false;
    m2.fail_cspace = true;
    take_log();
    assert_eq!(
        src.alloc(ObjectKind::Tcb, None),
        Err(BackendError::OutOfMemory)
    );
    assert_eq!(take_log(), vec![Call::CspaceAlloc(0)]);
    assert_eq!(src.alloc_slot(), Err(BackendError::OutOfMemory));
    unsafe { mock((*vp).data) }.fail_cspace = false;

    // No utspace_alloc_at: at-address requests fail cleanly.
    unsafe { (*vp).utspace_alloc_at = None };
    take_log();
    assert!(src.alloc(ObjectKind::SmallPage, Some(0x4000_0000)).is_err());
    assert_eq!(
        take_log(),
        vec![
            Call::CspaceAlloc(103),
            Call::MakePath(103),
            Call::CspaceFree(103)
        ]
    );
    assert!(m.live_slots.is_empty() && m.live_ut.is_empty());
}

#[test]
fn unknown_paddr_is_none() {
    let mut m = Mock {
        no_paddr: true,
        ..Mock::default()
    };
    let mut vka = vka_for(&mut m);
    let vs = vspace_for(&mut m);
    let vp: *mut vka_t = &mut vka;
    let mut src = unsafe { VkaSource::new(vp, vs, ptr::null_mut(), delete_ok) }.unwrap();
    let f = src.alloc(ObjectKind::SmallPage, None).unwrap();
    assert_eq!(f.paddr, None);
    unsafe { (*vp).utspace_paddr = None };
    let g = src.alloc(ObjectKind::SmallPage, None).unwrap();
    assert_eq!(g.paddr, None);
}

#[test]
fn failed_cap_delete_keeps_slot_and_memory() {
    let mut m = Mock::default();
    let mut vka = vka_for(&mut m);
    let vs = vspace_for(&mut m);
    let mut src = unsafe { VkaSource::new(&mut vka, vs, ptr::null_mut(), delete_fails) }.unwrap();
    let o = src.alloc(ObjectKind::Notification, None).unwrap();
    take_log();
    assert_eq!(src.free(&o), Err(BackendError::Kernel(3)));
    // Reusing a slot or memory whose cap may still exist would be worse than a leak.
    assert_eq!(
        take_log(),
        vec![Call::MakePath(o.cap), Call::Delete(path(o.cap))]
    );
    assert_eq!(m.live_slots.len(), 1);
}

#[test]
fn vmm_window_maps_through_the_reservation() {
    let mut m = Mock {
        reserve_base: 0x20_0000_0000,
        ..Mock::default()
    };
    let mut vka = vka_for(&mut m);
    let vs = vspace_for(&mut m);
    let mut src = unsafe { VkaSource::new(&mut vka, vs, ptr::null_mut(), delete_ok) }.unwrap();
    take_log();
    let base = src.reserve_vmm(1 << 30, 21).unwrap();
    assert_eq!(base, 0x20_0000_0000);
    assert_eq!(
        take_log(),
        vec![Call::Reserve {
            bytes: 1 << 30,
            bits: 21,
            rights: 0x3,
            cacheable: 1
        }]
    );
    src.map_vmm(555, base + 0x20_0000, 21).unwrap();
    src.unmap_vmm(555, base + 0x20_0000, 21);
    assert_eq!(
        take_log(),
        vec![
            Call::MapAt {
                cap: 555,
                cookies_null: true,
                vaddr: base + 0x20_0000,
                n: 1,
                bits: 21,
                res: 0xabc0,
            },
            Call::Unmap {
                vaddr: base + 0x20_0000,
                n: 1,
                bits: 21,
                vka_null: true
            },
        ]
    );
    // Outside every window: refused without calling the vspace.
    assert_eq!(
        src.map_vmm(555, base + (1 << 30), 12),
        Err(BackendError::InvalidAddress(base + (1 << 30)))
    );
    assert!(take_log().is_empty());
    unsafe { mock(vka.data) }.fail_map = true;
    assert_eq!(
        src.map_vmm(555, base, 12),
        Err(BackendError::InvalidAddress(base))
    );
    take_log();
    drop(src);
    assert_eq!(take_log(), vec![Call::FreeRes(0xabc0)]);

    // A vspace that cannot reserve.
    let mut m = Mock::default();
    let mut vka = vka_for(&mut m);
    let vs = vspace_for(&mut m);
    let mut src = unsafe { VkaSource::new(&mut vka, vs, ptr::null_mut(), delete_ok) }.unwrap();
    assert_eq!(src.reserve_vmm(1 << 21, 21), Err(BackendError::OutOfMemory));
}

#[test]
fn simple_supplies_host_caps_and_asid_assignment() {
    let mut m = Mock::default();
    let mut vka = vka_for(&mut m);
    let vs = vspace_for(&mut m);
    let mut src = unsafe { VkaSource::new(&mut vka, vs, ptr::null_mut(), delete_ok) }.unwrap();
    assert_eq!(src.host_caps(), HostCaps::ROOT_TASK);
    assert!(src.assign_asid(9).is_none());

    let mut simple = simple_prefix_t {
        data: ptr::null_mut(),
        unused0: [None; 3],
        asid_assign: Some(asid_assign),
        unused1: [None; 2],
        init_cap: Some(init_cap),
    };
    let mut src = unsafe { VkaSource::new(&mut vka, vs, &mut simple, delete_ok) }.unwrap();
    take_log();
    assert_eq!(
        src.host_caps(),
        HostCaps {
            tcb: 0x501,
            cnode: 0x502,
            asid_pool: 0x506
        }
    );
    assert_eq!(src.assign_asid(9), Some(Ok(())));
    assert_eq!(src.assign_asid(0), Some(Err(BackendError::Kernel(1))));
    assert_eq!(
        take_log(),
        vec![
            Call::InitCap(1),
            Call::InitCap(2),
            Call::InitCap(6),
            Call::AsidAssign(9),
            Call::AsidAssign(0),
        ]
    );
}

#[test]
fn incomplete_structs_are_rejected() {
    let mut m = Mock::default();
    let vs = vspace_for(&mut m);
    assert!(unsafe { VkaSource::new(ptr::null_mut(), vs, ptr::null_mut(), delete_ok) }.is_err());
    let full = vka_for(&mut m);
    for strip in 0..5 {
        let mut v = full;
        match strip {
            0 => v.cspace_alloc = None,
            1 => v.cspace_make_path = None,
            2 => v.cspace_free = None,
            3 => v.utspace_free = None,
            _ => {
                v.utspace_alloc = None;
                v.utspace_alloc_maybe_device = None;
            }
        }
        assert!(unsafe { VkaSource::new(&mut v, vs, ptr::null_mut(), delete_ok) }.is_err());
    }
    let mut v = full;
    let mut bad = vs;
    bad.map_pages_at_vaddr = None;
    assert!(unsafe { VkaSource::new(&mut v, bad, ptr::null_mut(), delete_ok) }.is_err());
    assert!(unsafe { VkaSource::new(&mut v, vs, ptr::null_mut(), delete_ok) }.is_ok());
}
