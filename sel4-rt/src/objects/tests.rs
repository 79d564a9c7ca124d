use super::sim::{SimKernel, SimObject};
use super::*;

const CNODE: u64 = 4096;

fn ram(cap: Slot, paddr: u64, size_bits: u8) -> UntypedInfo {
    UntypedInfo {
        cap,
        paddr,
        size_bits,
        is_device: false,
    }
}

fn dev(cap: Slot, paddr: u64, size_bits: u8) -> UntypedInfo {
    UntypedInfo {
        cap,
        paddr,
        size_bits,
        is_device: true,
    }
}

fn setup(uts: &[UntypedInfo], first: Slot, end: Slot) -> (ObjectAllocator, SimKernel) {
    (
        ObjectAllocator::new(uts.iter().copied(), first, end),
        SimKernel::new(uts, CNODE),
    )
}

/// The allocator's idea of where an object lives must match the kernel model.
fn check(a: &Object, k: &SimKernel) {
    let c = k.cap(a.cap).expect("object cap exists");
    match a.kind {
        ObjectKind::Untyped { .. } => assert!(matches!(c.object, SimObject::Untyped { .. })),
        k => assert_eq!(c.object, SimObject::Object(k)),
    }
    assert_eq!(
        c.paddr, a.paddr,
        "predicted paddr differs from kernel placement"
    );
    assert_eq!(a.paddr % (1 << a.kind.size_bits()), 0);
    k.check_invariants().unwrap();
}

#[test]
fn page_from_large_untyped_splits_down() {
    let (mut a, mut k) = setup(&[ram(10, 0x4000_0000, 20)], 100, 200);
    let f = a.alloc(&mut k, ObjectKind::SmallPage).unwrap();
    check(&f, &k);
    assert_eq!(f.paddr, 0x4000_0000);
    // 20 -> 12: eight splits of two halves each, plus the frame.
    assert_eq!(a.stats().free_slots, 100 - 17);
    assert_eq!(a.stats().ram_free, (1 << 20) - (1 << 12));
    let g = a.alloc(&mut k, ObjectKind::SmallPage).unwrap();
    check(&g, &k);
    assert_eq!(g.paddr, 0x4000_1000, "second page reuses the free buddy");
}

#[test]
fn best_fit_prefers_smallest_sufficient_untyped() {
    let (mut a, mut k) = setup(
        &[ram(10, 0x4000_0000, 24), ram(11, 0x8000_0000, 12)],
        100,
        200,
    );
    let f = a.alloc(&mut k, ObjectKind::SmallPage).unwrap();
    check(&f, &k);
    assert_eq!(f.paddr, 0x8000_0000, "the exact-size untyped is used whole");
    assert_eq!(k.retypes, 1);
}

#[test]
fn small_objects_share_slabs_with_kernel_alignment() {
    let (mut a, mut k) = setup(&[ram(10, 0x4000_0000, 16)], 100, 400);
    let ep = a.alloc(&mut k, ObjectKind::Endpoint).unwrap();
    let ntfn = a.alloc(&mut k, ObjectKind::Notification).unwrap();
    let tcb = a.alloc(&mut k, ObjectKind::Tcb).unwrap();
    for o in [&ep, &ntfn, &tcb] {
        check(o, &k);
    }
    // Same slab; notification aligned to 32, TCB to 2048.
    assert_eq!(ep.paddr, 0x4000_0000);
    assert_eq!(ntfn.paddr, 0x4000_0020);
    assert_eq!(tcb.paddr, 0x4000_0800);
    // Slab is full at the TCB's end; next TCB goes to a fresh slab.
    let tcb2 = a.alloc(&mut k, ObjectKind::Tcb).unwrap();
    check(&tcb2, &k);
    assert_eq!(tcb2.paddr, 0x4000_1000);
    // Endpoints still fit in the second slab after the TCB.
    let ep2 = a.alloc(&mut k, ObjectKind::Endpoint).unwrap();
    check(&ep2, &k);
    assert_eq!(ep2.paddr, 0x4000_1800);
}

#[test]
fn slab_reuse_after_all_objects_freed() {
    let (mut a, mut k) = setup(&[ram(10, 0x4000_0000, 12)], 100, 400);
    let mut eps = Vec::new();
    for _ in 0..256 {
        let e = a.alloc(&mut k, ObjectKind::Endpoint).unwrap();
        check(&e, &k);
        eps.push(e);
    }
    assert_eq!(
        a.alloc(&mut k, ObjectKind::Endpoint),
        Err(AllocError::OutOfMemory { size_bits: 12 })
    );
    // Freeing one object does not make room (kernel watermark), freeing all does.
    let last = eps.pop().unwrap();
    a.free(&mut k, last).unwrap();
    assert!(a.alloc(&mut k, ObjectKind::Notification).is_err());
    for e in eps {
        a.free(&mut k, e).unwrap();
    }
    let t = a.alloc(&mut k, ObjectKind::Tcb).unwrap();
    check(&t, &k);
    assert_eq!(t.paddr, 0x4000_0000);
}

#[test]
fn exhaustion_is_an_error_and_state_survives() {
    let (mut a, mut k) = setup(&[ram(10, 0x4000_0000, 16)], 100, 400);
    let mut pages = Vec::new();
    for _ in 0..16 {
        pages.push(a.alloc(&mut k, ObjectKind::SmallPage).unwrap());
    }
    assert_eq!(
        a.alloc(&mut k, ObjectKind::SmallPage),
        Err(AllocError::OutOfMemory { size_bits: 12 })
    );
    assert_eq!(
        a.alloc(&mut k, ObjectKind::LargePage),
        Err(AllocError::OutOfMemory { size_bits: 21 })
    );
    let p = pages.swap_remove(5);
    a.free(&mut k, p).unwrap();
    let again = a.alloc(&mut k, ObjectKind::SmallPage).unwrap();
    check(&again, &k);
    assert_eq!(again.paddr, p.paddr);
    k.check_invariants().unwrap();
}

#[test]
fn fragmentation_then_coalesce() {
    let (mut a, mut k) = setup(&[ram(10, 0x4000_0000, 16)], 100, 400);
    let pages: Vec<_> = (0..16)
        .map(|_| a.alloc(&mut k, ObjectKind::SmallPage).unwrap())
        .collect();
    // Free every other page: 32 KiB free, but no two adjacent pages.
    let mut kept = Vec::new();
    for (i, p) in pages.into_iter().enumerate() {
        if i % 2 == 0 {
            a.free(&mut k, p).unwrap();
        } else {
            kept.push(p);
        }
    }
    assert_eq!(a.stats().ram_free, 8 << 12);
    assert_eq!(
        a.alloc(&mut k, ObjectKind::CNode { slot_bits: 8 }),
        Err(AllocError::OutOfMemory { size_bits: 13 })
    );
    for p in kept {
        a.free(&mut k, p).unwrap();
    }
    // Everything merges back into the original untyped.
    let big = a
        .alloc(&mut k, ObjectKind::Untyped { size_bits: 16 })
        .unwrap();
    check(&big, &k);
    assert_eq!(big.paddr, 0x4000_0000);
    assert_eq!(k.cap(big.cap).unwrap().parent, Some(10));
    assert_eq!(a.stats().free_slots, 300 - 1, "split slots all returned");
}

#[test]
fn device_frames_at_exact_addresses() {
    let uart = 0x0900_0000;
    let (mut a, mut k) = setup(
        &[dev(5, 0x0800_0000, 27), ram(6, 0x4000_0000, 20)],
        100,
        400,
    );
    let f = a.alloc_device_frame(&mut k, uart, 12).unwrap();
    check(&f, &k);
    assert_eq!(f.paddr, uart);
    assert!(k.cap(f.cap).unwrap().device);
    let g = a.alloc_device_frame(&mut k, uart + 0x3000, 12).unwrap();
    check(&g, &k);
    assert_eq!(g.paddr, uart + 0x3000);
    assert_eq!(
        a.alloc_device_frame(&mut k, uart, 12),
        Err(AllocError::AddressInUse { paddr: uart })
    );
    assert_eq!(
        a.alloc_device_frame(&mut k, 0x1000_0000, 12),
        Err(AllocError::NoDeviceUntyped { paddr: 0x1000_0000 })
    );
    assert!(matches!(
        a.alloc_device_frame(&mut k, uart + 0x10, 12),
        Err(AllocError::InvalidRequest(_))
    ));
    assert!(matches!(
        a.alloc_at(&mut k, ObjectKind::Tcb, 0x0a00_0000),
        Err(AllocError::InvalidRequest(_))
    ));
    // Large device frame elsewhere in the same untyped.
    let l = a.alloc_device_frame(&mut k, 0x0a00_0000, 21).unwrap();
    check(&l, &k);
    // Device memory never serves ordinary allocations.
    let r = a.alloc(&mut k, ObjectKind::SmallPage).unwrap();
    assert!(!k.cap(r.cap).unwrap().device);
    // Free and take again.
    a.free(&mut k, f).unwrap();
    let f2 = a.alloc_device_frame(&mut k, uart, 12).unwrap();
    check(&f2, &k);
    assert_eq!(a.untyped_covering(uart, 0x1000).unwrap().cap, 5);
    assert_eq!(a.untyped_covering(0x0fff_f000, 0x2000), None);
}

#[test]
fn ram_at_fixed_address_for_identity_mapping() {
    let (mut a, mut k) = setup(&[ram(6, 0x4000_0000, 24)], 100, 400);
    let lp = a
        .alloc_at(&mut k, ObjectKind::LargePage, 0x4060_0000)
        .unwrap();
    check(&lp, &k);
    assert_eq!(lp.paddr, 0x4060_0000);
    let sp = a
        .alloc_at(&mut k, ObjectKind::SmallPage, 0x4020_1000)
        .unwrap();
    check(&sp, &k);
    // General allocations avoid the taken ranges.
    for _ in 0..5 {
        let x = a.alloc(&mut k, ObjectKind::LargePage).unwrap();
        check(&x, &k);
        assert_ne!(x.paddr, 0x4060_0000);
        assert_ne!(x.paddr, 0x4020_0000);
    }
    assert_eq!(
        a.alloc_at(&mut k, ObjectKind::SmallPage, 0x4060_0000),
        Err(AllocError::AddressInUse { paddr: 0x4060_0000 })
    );
}

#[test]
fn slot_exhaustion_leaves_allocator_consistent() {
    // 20 -> 12 needs 16 slots of splits plus one for the frame.
    let (mut a, mut k) = setup(&[ram(10, 0x4000_0000, 20)], 100, 110);
    assert_eq!(
        a.alloc(&mut k, ObjectKind::SmallPage),
        Err(AllocError::OutOfSlots)
    );
    k.check_invariants().unwrap();
    assert_eq!(
        a.stats().free_slots,
        10,
        "failed request left no splits behind"
    );
    assert_eq!(k.caps.len(), 1);
    // A larger object needs fewer splits and still fits.
    let big = a
        .alloc(&mut k, ObjectKind::Untyped { size_bits: 17 })
        .unwrap();
    check(&big, &k);
    a.free(&mut k, big).unwrap();
    a.coalesce(&mut k).unwrap();
    assert_eq!(a.stats().free_slots, 10);
    assert_eq!(a.stats().ram_free, 1 << 20);
    let again = a
        .alloc(&mut k, ObjectKind::Untyped { size_bits: 20 })
        .unwrap();
    check(&again, &k);
}

#[test]
fn kernel_failure_rolls_back() {
    let (mut a, mut k) = setup(&[ram(10, 0x4000_0000, 12)], 100, 110);
    k.fail_next_retype = Some(KernelError::NotEnoughMemory);
    assert_eq!(
        a.alloc(&mut k, ObjectKind::SmallPage),
        Err(AllocError::Kernel(KernelError::NotEnoughMemory))
    );
    assert_eq!(a.stats().free_slots, 10);
    let f = a.alloc(&mut k, ObjectKind::SmallPage).unwrap();
    check(&f, &k);
}

#[test]
fn bad_handles_and_sizes() {
    let (mut a, mut k) = setup(&[ram(10, 0x4000_0000, 16)], 100, 110);
    let f = a.alloc(&mut k, ObjectKind::SmallPage).unwrap();
    a.free(&mut k, f).unwrap();
    assert_eq!(a.free(&mut k, f), Err(AllocError::InvalidHandle));
    assert!(matches!(
        a.alloc(&mut k, ObjectKind::Untyped { size_bits: 2 }),
        Err(AllocError::InvalidRequest(_))
    ));
    assert!(matches!(
        a.alloc(&mut k, ObjectKind::CNode { slot_bits: 0 }),
        Err(AllocError::InvalidRequest(_))
    ));
    // Misaligned / oversized BootInfo entries are ignored.
    let b = ObjectAllocator::new([ram(1, 0x1000, 16), ram(2, 0, 60)], 10, 20);
    assert!(b.untypeds().is_empty());
}

mod model {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Op {
        Alloc(u8),
        AllocAt(u8, u64),
        Free(usize),
    }

    const KINDS: [ObjectKind; 8] = [
        ObjectKind::Endpoint,
        ObjectKind::Notification,
        ObjectKind::Tcb,
        ObjectKind::SmallPage,
        ObjectKind::PageTable,
        ObjectKind::CNode { slot_bits: 4 },
        ObjectKind::CNode { slot_bits: 9 },
        ObjectKind::Untyped { size_bits: 15 },
    ];

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0u8..8).prop_map(Op::Alloc),
            1 => (0u8..2, 0u64..64).prop_map(|(k, p)| Op::AllocAt(k, p)),
            3 => any::<usize>().prop_map(Op::Free),
        ]
    }

    proptest! {
        #[test]
        fn random_alloc_free_matches_kernel_model(ops in prop::collection::vec(op(), 1..120)) {
            let uts = [ram(1, 0x4000_0000, 18), ram(2, 0x4010_0000, 14), dev(3, 0x0900_0000, 18)];
            let (mut a, mut k) = setup(&uts, 100, 700);
            let mut live: Vec<Object> = Vec::new();
            for op in ops {
                match op {
                    Op::Alloc(i) => match a.alloc(&mut k, KINDS[i as usize]) {
                        Ok(o) => { check(&o, &k); live.push(o); }
                        Err(AllocError::OutOfMemory { .. }) | Err(AllocError::OutOfSlots) => {}
                        Err(e) => panic!("unexpected {e:?}"),
                    },
                    Op::AllocAt(which, page) => {
                        let base = if which == 0 { 0x0900_0000 } else { 0x4000_0000 };
                        match a.alloc_at(&mut k, ObjectKind::SmallPage, base + page * 0x1000) {
                            Ok(o) => { check(&o, &k); live.push(o); }
                            Err(AllocError::AddressInUse { .. }) | Err(AllocError::OutOfSlots) => {}
                            Err(e) => panic!("unexpected {e:?}"),
                        }
                    }
                    Op::Free(i) => {
                        if !live.is_empty() {
                            let o = live.swap_remove(i % live.len());
                            a.free(&mut k, o).unwrap();
                        }
                    }
                }
                k.check_invariants().map_err(TestCaseError::fail)?;
                let non_untyped = live.iter().filter(|o| !matches!(o.kind, ObjectKind::Untyped { .. })).count();
                prop_assert_eq!(k.live_objects(), non_untyped);
            }
            for o in live.drain(..) {
                a.free(&mut k, o).unwrap();
            }
            a.coalesce(&mut k).unwrap();
            // Everything is whole again: every slot back, every untyped allocatable at full size.
            prop_assert_eq!(a.stats().free_slots, 600);
            prop_assert_eq!(a.stats().ram_free, (1 << 18) + (1 << 14));
            let whole = a.alloc(&mut k, ObjectKind::Untyped { size_bits: 18 }).unwrap();
            check(&whole, &k);
            let dev_whole = a.alloc_at(&mut k, ObjectKind::Untyped { size_bits: 18 }, 0x0900_0000).unwrap();
            check(&dev_whole, &k);
        }
    }
}
