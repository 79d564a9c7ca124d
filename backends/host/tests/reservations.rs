mod common;
use common::*;
use sel4vm::{Backend, Error, FaultResult, MapFrame, MapMode, Rights};

const DEV: u64 = 0x9000_0000;

fn ok(_: &mut sel4vm::Vm<sel4vm_host::HostBackend>, _: &mut sel4vm::MemFault) -> FaultResult {
    FaultResult::Handled
}

#[test]
fn overlapping_reservations_are_rejected() {
    let mut vm = vm();
    vm.reserve_memory_at(DEV + 0x1000, 0x2000, ok).unwrap();
    let before = snap(&vm);
    for (a, s) in [
        (DEV, 0x2000),
        (DEV + 0x2000, 0x2000),
        (DEV + 0x1000, 0x1000),
        (DEV, 0x4000),
        (DEV + 0x2000, 0x1000),
    ] {
        assert_eq!(
            vm.reserve_memory_at(a, s, ok).unwrap_err(),
            Error::Overlap { addr: a, size: s },
            "{a:#x}+{s:#x}"
        );
    }
    assert_eq!(
        vm.reserve_memory_at(DEV, 0, ok).unwrap_err(),
        Error::ZeroSize
    );
    assert_eq!(
        vm.reserve_memory_at(DEV + 4, 0x1000, ok).unwrap_err(),
        Error::Unaligned(DEV + 4)
    );
    assert_eq!(
        vm.reserve_memory_at(DEV, 0x10, ok).unwrap_err(),
        Error::Unaligned(0x10)
    );
    assert_eq!(
        vm.reserve_memory_at(!0xfffu64, 0x2000, ok).unwrap_err(),
        Error::Overflow
    );
    assert_eq!(
        vm.memory_make_anon(DEV, 0x4000).unwrap_err(),
        Error::Overlap {
            addr: DEV,
            size: 0x4000
        }
    );
    assert_eq!(before, snap(&vm));
    // Adjacent on both sides is fine.
    let a = vm.reserve_memory_at(DEV, 0x1000, ok).unwrap();
    vm.reserve_memory_at(DEV + 0x3000, 0x1000, ok).unwrap();
    assert_eq!(a.region(), (DEV, 0x1000));
    let starts: Vec<u64> = vm.reservations().iter().map(|r| r.start()).collect();
    assert_eq!(starts, vec![DEV, DEV + 0x1000, DEV + 0x3000]);
}

#[test]
fn anon_reservations_are_aligned_first_fit_and_freeable() {
    let mut vm = vm();
    vm.memory_make_anon(0x8000_0000, 0x40000).unwrap();
    let a = vm.reserve_anon_memory(0x1800, 0x1000, ok).unwrap();
    assert_eq!(a.region(), (0x8000_0000, 0x2000)); // size rounded to pages
    let b = vm.reserve_anon_memory(0x1000, 0x10000, ok).unwrap();
    assert_eq!(b.start(), 0x8001_0000);
    let c = vm.reserve_anon_memory(0x1000, 0x1000, ok).unwrap();
    assert_eq!(c.start(), 0x8000_2000);
    let before = snap(&vm);
    assert_eq!(
        vm.reserve_anon_memory(0, 0x1000, ok).unwrap_err(),
        Error::ZeroSize
    );
    assert_eq!(
        vm.reserve_anon_memory(0x1000, 3, ok).unwrap_err(),
        Error::Unaligned(3)
    );
    assert_eq!(
        vm.reserve_anon_memory(0x1000, 0x800, ok).unwrap_err(),
        Error::Unaligned(0x800)
    );
    assert_eq!(
        vm.reserve_anon_memory(0x40000, 0x1000, ok).unwrap_err(),
        Error::NoAnonSpace
    );
    assert_eq!(
        vm.reserve_anon_memory(u64::MAX, 0x1000, ok).unwrap_err(),
        Error::Overflow
    );
    assert_eq!(before, snap(&vm));
    // Anonymous reservations can be freed and the space reused.
    vm.free_reserved_memory(a).unwrap();
    assert_eq!(vm.free_reserved_memory(a), Err(Error::NoSuchReservation));
    let d = vm.reserve_anon_memory(0x2000, 0x1000, ok).unwrap();
    assert_eq!(d.start(), 0x8000_0000);
    assert_ne!(d, a, "stale handles must not alias new reservations");
    assert_eq!(vm.free_reserved_memory(a), Err(Error::NoSuchReservation));
    assert_eq!(vm.anon_regions(), vec![(0x8000_0000, 0x40000)]);
}

#[test]
fn map_now_free_and_frames() {
    let mut vm = vm();
    let r = vm.reserve_memory_at(DEV, 3 * PAGE, ok).unwrap();
    vm.map_reservation(
        r,
        |b: &mut sel4vm_host::HostBackend, _| {
            Ok(MapFrame {
                frame: b.alloc_frame(None)?,
                rights: Rights::READ_ONLY,
                owned: true,
            })
        },
        MapMode::Now,
    )
    .unwrap();
    assert_eq!(vm.backend().stage2().len(), 3);
    assert_eq!(
        vm.guest_vspace().lookup(DEV + 0x1234).unwrap().rights,
        Rights::READ_ONLY
    );
    assert_eq!(
        vm.map_reservation(
            r,
            |_: &mut sel4vm_host::HostBackend, a| Err(Error::BadFrame(a)),
            MapMode::Now
        ),
        Err(Error::AlreadyMapped)
    );
    vm.free_reserved_memory(r).unwrap();
    assert_eq!(vm.backend().stage2().len(), 0);
    assert_eq!(vm.backend().live_frames(), 0, "owned frames freed");
    assert!(vm.reservations().is_empty());

    // Caller-owned frames: not freed with the reservation.
    let f: Vec<_> = (0..2)
        .map(|_| vm.backend_mut().alloc_frame(None).unwrap())
        .collect();
    let r = vm.reserve_memory_at(DEV, 2 * PAGE, ok).unwrap();
    let before = snap(&vm);
    assert_eq!(
        vm.map_reservation_frames(r, &f[..1]),
        Err(Error::BadFrame(DEV + PAGE))
    );
    assert_eq!(before, snap(&vm));
    vm.map_reservation_frames(r, &[f[1], f[0]]).unwrap();
    assert_eq!(vm.guest_vspace().lookup(DEV).unwrap().frame, f[1]);
    // Frames in reverse physical order: not contiguous.
    assert_eq!(
        vm.ipa_to_pa(DEV, 2 * PAGE),
        Err(Error::NotContiguous(DEV + PAGE))
    );
    assert_eq!(
        vm.ipa_to_pa(DEV + 0x10, 8),
        Ok(vm.backend_mut().frame_paddr(f[1]).unwrap() + 0x10)
    );
    assert_eq!(
        vm.ipa_to_pa(DEV + 2 * PAGE, 1),
        Err(Error::NotMapped(DEV + 2 * PAGE))
    );
    assert_eq!(vm.ipa_to_pa(DEV, 0), Err(Error::ZeroSize));
    vm.free_reserved_memory(r).unwrap();
    assert_eq!(vm.backend().live_frames(), 2);
}

#[test]
fn failing_iterator_rolls_back_mapping() {
    let mut vm = vm();
    let r = vm.reserve_memory_at(DEV, 4 * PAGE, ok).unwrap();
    let before = snap(&vm);
    let res = vm.map_reservation(
        r,
        |b: &mut sel4vm_host::HostBackend, a| {
            if a == DEV + 2 * PAGE {
                Err(Error::BadFrame(a))
            } else {
                Ok(MapFrame {
                    frame: b.alloc_frame(None)?,
                    rights: Rights::ALL,
                    owned: true,
                })
            }
        },
        MapMode::Now,
    );
    assert_eq!(res, Err(Error::BadFrame(DEV + 2 * PAGE)));
    assert_eq!(before, snap(&vm));
    // Still mappable afterwards.
    vm.map_reservation(
        r,
        |b: &mut sel4vm_host::HostBackend, _| {
            Ok(MapFrame {
                frame: b.alloc_frame(None)?,
                rights: Rights::ALL,
                owned: true,
            })
        },
        MapMode::Now,
    )
    .unwrap();
}

#[test]
fn get_reservation_region_and_iospace() {
    let mut vm = vm();
    let r = vm
        .reserve_memory_at(DEV, 0x5000, sel4vm::default_error_fault_callback)
        .unwrap();
    assert_eq!(r.region(), (DEV, 0x5000));
    assert_eq!(
        vm.guest_add_iospace(sel4vm::KernelObject(7)),
        Err(Error::Backend(sel4vm::BackendError::Unsupported))
    );
    assert!(vm.iospaces().is_empty());
    vm.backend_mut().support_iospaces(true);
    vm.guest_add_iospace(sel4vm::KernelObject(7)).unwrap();
    assert_eq!(vm.iospaces(), &[sel4vm::KernelObject(7)]);
    assert_eq!(vm.backend().iospaces(), &[sel4vm::KernelObject(7)]);
}
