mod common;
use common::*;
use sel4vm::{BackendError, Error, RamRegion, TouchError};

#[test]
fn register_at_keeps_regions_sorted_and_merged() {
    let mut vm = vm();
    vm.ram_register_at(RAM + 0x10000, 2 * PAGE, false).unwrap();
    vm.ram_register_at(RAM, PAGE, false).unwrap();
    vm.ram_register_at(RAM + 0x12000, PAGE, false).unwrap(); // adjacent to the first
    vm.ram_register_at(RAM + 0xf000, PAGE, false).unwrap(); // adjacent below the first
    assert_eq!(
        vm.ram_regions(),
        vec![
            RamRegion {
                start: RAM,
                size: PAGE,
                allocated: false
            },
            RamRegion {
                start: RAM + 0xf000,
                size: 4 * PAGE,
                allocated: false
            },
        ]
    );
    assert_eq!(vm.guest_vspace().len(), 5);
    assert_eq!(vm.backend().stage2().len(), 5);
    assert_eq!(vm.backend().live_frames(), 5);
}

#[test]
fn register_at_rejects_bad_input_and_leaves_vm_unchanged() {
    let mut vm = vm();
    vm.ram_register_at(RAM, 4 * PAGE, false).unwrap();
    vm.reserve_memory_at(0x9000_0000, PAGE, |_, _| sel4vm::FaultResult::Handled)
        .unwrap();
    let before = snap(&vm);
    assert_eq!(
        vm.ram_register_at(RAM + 0x10000, 0, false),
        Err(Error::ZeroSize)
    );
    assert_eq!(
        vm.ram_register_at(RAM + 0x10800, PAGE, false),
        Err(Error::Unaligned(RAM + 0x10800))
    );
    assert_eq!(
        vm.ram_register_at(RAM + 0x10000, 0x800, false),
        Err(Error::Unaligned(0x800))
    );
    assert_eq!(
        vm.ram_register_at(u64::MAX - 0xfff, 2 * PAGE, false),
        Err(Error::Overflow)
    );
    assert_eq!(
        vm.ram_register_at(u64::MAX - 0xfff, PAGE, false),
        Err(Error::Overflow)
    );
    assert_eq!(
        vm.ram_register_at(RAM + 3 * PAGE, 2 * PAGE, false),
        Err(Error::Overlap {
            addr: RAM + 3 * PAGE,
            size: 2 * PAGE
        })
    );
    assert_eq!(
        vm.ram_register_at(RAM - PAGE, 8 * PAGE, false),
        Err(Error::Overlap {
            addr: RAM - PAGE,
            size: 8 * PAGE
        })
    );
    assert!(matches!(
        vm.ram_register_at(0x9000_0000, PAGE, false),
        Err(Error::Overlap { .. })
    ));
    assert_eq!(before, snap(&vm));
}

#[test]
fn register_at_one_to_one_uses_matching_physical_frames() {
    let mut vm = vm();
    vm.ram_register_at(RAM + 0x20000, 4 * PAGE, true).unwrap();
    assert_eq!(
        vm.ipa_to_pa(RAM + 0x20010, 3 * PAGE).unwrap(),
        RAM + 0x20010
    );
    for i in 0..4 {
        let e = vm.guest_vspace().lookup(RAM + 0x20000 + i * PAGE).unwrap();
        assert_eq!(
            vm.backend_mut().frame_paddr(e.frame),
            Ok(RAM + 0x20000 + i * PAGE)
        );
    }
    // Outside the untyped window: typed error, nothing left behind.
    let before = snap(&vm);
    assert_eq!(
        vm.ram_register_at(0x7000_0000, 2 * PAGE, true),
        Err(Error::Backend(BackendError::PhysUnavailable(0x7000_0000)))
    );
    // Window ends inside the range: first page succeeds, second fails, rollback.
    let end = sel4vm_host::DEFAULT_PHYS_BASE + sel4vm_host::DEFAULT_PHYS_SIZE;
    assert_eq!(
        vm.ram_register_at(end - PAGE, 2 * PAGE, true),
        Err(Error::Backend(BackendError::PhysUnavailable(end)))
    );
    assert_eq!(before, snap(&vm));
}

use sel4vm::Backend;

#[test]
fn register_failure_midway_rolls_back() {
    let mut vm = vm();
    vm.backend_mut().set_frame_limit(Some(3));
    let before = snap(&vm);
    assert_eq!(
        vm.ram_register_at(RAM, 4 * PAGE, false),
        Err(Error::Backend(BackendError::OutOfMemory))
    );
    assert_eq!(before, snap(&vm));
    vm.backend_mut().set_frame_limit(None);
    vm.backend_mut().fail_map_at(Some(RAM + 2 * PAGE));
    assert_eq!(
        vm.ram_register_at(RAM, 4 * PAGE, false),
        Err(Error::Backend(BackendError::InvalidAddress(RAM + 2 * PAGE)))
    );
    assert_eq!(before, snap(&vm));
    vm.backend_mut().fail_map_at(None);
    vm.ram_register_at(RAM, 4 * PAGE, false).unwrap();
}

#[test]
fn ram_register_takes_space_from_anon_regions() {
    let mut vm = vm();
    assert_eq!(vm.ram_register(2 * PAGE), Err(Error::NoAnonSpace));
    vm.memory_make_anon(0x8000_0000, 0x10000).unwrap();
    assert_eq!(vm.ram_register(0), Err(Error::ZeroSize));
    assert_eq!(vm.ram_register(0x800), Err(Error::Unaligned(0x800)));
    let a = vm.ram_register(2 * PAGE).unwrap();
    let b = vm.ram_register(3 * PAGE).unwrap();
    assert_eq!((a, b), (0x8000_0000, 0x8000_2000));
    assert_eq!(
        vm.ram_regions(),
        vec![RamRegion {
            start: a,
            size: 5 * PAGE,
            allocated: false
        }]
    );
    let before = snap(&vm);
    assert_eq!(vm.ram_register(0x10000), Err(Error::NoAnonSpace));
    assert_eq!(before, snap(&vm));
    // RAM reservations cannot be freed as plain reservations.
    let r = vm.reservations()[0];
    assert_eq!(vm.free_reserved_memory(r), Err(Error::ReservationIsRam));
}

#[test]
fn mark_allocate_free_and_largest() {
    let mut vm = vm();
    vm.ram_register_at(RAM, 16 * PAGE, false).unwrap();
    assert_eq!(vm.ram_find_largest_free_region(), Some((RAM, 16 * PAGE)));
    // Unaligned range covers pages 1 and 2.
    vm.ram_mark_allocated(RAM + 0x1800, 0x1000).unwrap();
    assert_eq!(
        vm.ram_regions(),
        vec![
            RamRegion {
                start: RAM,
                size: PAGE,
                allocated: false
            },
            RamRegion {
                start: RAM + PAGE,
                size: 2 * PAGE,
                allocated: true
            },
            RamRegion {
                start: RAM + 3 * PAGE,
                size: 13 * PAGE,
                allocated: false
            },
        ]
    );
    // Marking again is harmless.
    vm.ram_mark_allocated(RAM + PAGE, PAGE).unwrap();
    // First fit skips the one-page hole.
    assert_eq!(vm.ram_allocate(0x1001), Ok(RAM + 3 * PAGE));
    assert_eq!(vm.ram_allocate(1), Ok(RAM));
    assert_eq!(
        vm.ram_find_largest_free_region(),
        Some((RAM + 5 * PAGE, 11 * PAGE))
    );

    let before = snap(&vm);
    assert_eq!(vm.ram_allocate(0), Err(Error::ZeroSize));
    assert_eq!(vm.ram_allocate(12 * PAGE), Err(Error::OutOfRam));
    assert_eq!(vm.ram_allocate(u64::MAX), Err(Error::OutOfRam));
    assert_eq!(
        vm.ram_free(RAM + 0x800, PAGE),
        Err(Error::Unaligned(RAM + 0x800))
    );
    assert_eq!(vm.ram_free(RAM, 0), Err(Error::ZeroSize));
    assert_eq!(
        vm.ram_free(RAM + 4 * PAGE, 2 * PAGE),
        Err(Error::NotAllocated(RAM + 5 * PAGE))
    );
    assert_eq!(
        vm.ram_free(RAM + 15 * PAGE, 2 * PAGE),
        Err(Error::NotRam {
            addr: RAM + 15 * PAGE,
            size: 2 * PAGE
        })
    );
    assert_eq!(
        vm.ram_mark_allocated(RAM + 15 * PAGE, 2 * PAGE),
        Err(Error::NotRam {
            addr: RAM + 15 * PAGE,
            size: 2 * PAGE
        })
    );
    assert_eq!(vm.ram_mark_allocated(RAM, 0), Err(Error::ZeroSize));
    assert_eq!(vm.ram_mark_allocated(u64::MAX, 2), Err(Error::Overflow));
    assert_eq!(before, snap(&vm));

    // Freeing really frees: the space can be allocated again.
    vm.ram_free(RAM + PAGE, 2 * PAGE).unwrap();
    assert_eq!(vm.ram_allocate(2 * PAGE), Ok(RAM + PAGE));
    // Everything allocated: no free region.
    vm.ram_mark_allocated(RAM, 16 * PAGE).unwrap();
    assert_eq!(vm.ram_find_largest_free_region(), None);
    assert_eq!(vm.ram_allocate(1), Err(Error::OutOfRam));
}

#[test]
fn touch_walks_pages_across_region_boundaries() {
    let mut vm = vm();
    vm.ram_register_at(RAM, 2 * PAGE, false).unwrap();
    vm.ram_register_at(RAM + 2 * PAGE, 2 * PAGE, false).unwrap();
    let mut seen = Vec::new();
    vm.ram_touch(RAM + 0x0ff0, 0x2020, |a| {
        seen.push((a.guest_addr, a.offset, a.bytes.len()));
        Ok::<(), ()>(())
    })
    .unwrap();
    assert_eq!(
        seen,
        vec![
            (RAM + 0xff0, 0, 0x10),
            (RAM + 0x1000, 0x10, 0x1000),
            (RAM + 0x2000, 0x1010, 0x1000),
            (RAM + 0x3000, 0x2010, 0x10)
        ]
    );
    // Write through touch, read back through the host's own view of the frames.
    let data: Vec<u8> = (0..0x2020u32).map(|i| (i * 7) as u8).collect();
    vm.ram_write(RAM + 0xff0, &data).unwrap();
    let mut back = vec![0; data.len()];
    vm.ram_read(RAM + 0xff0, &mut back).unwrap();
    assert_eq!(back, data);
    assert_eq!(
        vm.backend().guest_page(RAM + 0x2000).unwrap()[0],
        data[0x1010]
    );
    assert_eq!(
        vm.guest_memory().read_u32(RAM + 0xffe).unwrap(),
        u32::from_le_bytes([data[14], data[15], data[16], data[17]])
    );
    // Zero size: nothing called.
    vm.ram_touch(RAM, 0, |_| Err::<(), _>(())).unwrap();
}

#[test]
fn touch_rejects_ranges_outside_ram_before_any_callback() {
    let mut vm = vm();
    vm.ram_register_at(RAM, 2 * PAGE, false).unwrap();
    vm.ram_register_at(RAM + 3 * PAGE, PAGE, false).unwrap(); // hole at page 2
    let mut calls = 0;
    let mut cb = |_: sel4vm::TouchAccess<'_>| {
        calls += 1;
        Ok::<(), ()>(())
    };
    assert_eq!(
        vm.ram_touch(RAM + PAGE, 2 * PAGE, &mut cb),
        Err(TouchError::Vm(Error::NotRam {
            addr: RAM + PAGE,
            size: 2 * PAGE
        }))
    );
    assert_eq!(
        vm.ram_touch(RAM - 1, 2, &mut cb),
        Err(TouchError::Vm(Error::NotRam {
            addr: RAM - 1,
            size: 2
        }))
    );
    assert_eq!(
        vm.ram_touch(u64::MAX - 1, 4, &mut cb),
        Err(TouchError::Vm(Error::Overflow))
    );
    assert_eq!(
        vm.ram_touch(RAM + 4 * PAGE, 1, &mut cb),
        Err(TouchError::Vm(Error::NotRam {
            addr: RAM + 4 * PAGE,
            size: 1
        }))
    );
    assert_eq!(calls, 0);
    let mut buf = [0u8; 8];
    assert_eq!(
        vm.ram_read(RAM + 2 * PAGE - 4, &mut buf),
        Err(Error::NotRam {
            addr: RAM + 2 * PAGE - 4,
            size: 8
        })
    );
}

#[test]
fn touch_callback_error_stops_walk_and_leaves_vm_unchanged() {
    let mut vm = vm();
    vm.ram_register_at(RAM, 4 * PAGE, false).unwrap();
    vm.ram_mark_allocated(RAM, PAGE).unwrap();
    let before = snap(&vm);
    let mut pieces = 0;
    let r = vm.ram_touch(RAM + 0x800, 3 * PAGE, |a| {
        pieces += 1;
        if a.guest_addr >= RAM + 2 * PAGE {
            Err("device said no")
        } else {
            a.bytes.fill(0xaa);
            Ok(())
        }
    });
    assert_eq!(
        r,
        Err(TouchError::Callback {
            guest_addr: RAM + 2 * PAGE,
            error: "device said no"
        })
    );
    assert_eq!(pieces, 3);
    assert_eq!(before, snap(&vm));
    // The pieces before the failure were processed.
    assert_eq!(vm.backend().guest_page(RAM + PAGE).unwrap()[0], 0xaa);
    assert_eq!(vm.backend().guest_page(RAM + 2 * PAGE).unwrap()[0], 0);
}

#[test]
fn touch_spans_coalesce_only_contiguous_frames() {
    use sel4vm::{MapFrame, Rights};
    let mut vm = vm();
    vm.ram_register_at(RAM, 4 * PAGE, false).unwrap();
    let mut pieces = Vec::new();
    vm.guest_memory()
        .touch_spans(RAM + 0x10, 4 * PAGE - 0x20, |a| {
            pieces.push((a.guest_addr, a.offset, a.bytes.len()));
            Ok::<(), ()>(())
        })
        .unwrap();
    assert_eq!(pieces, vec![(RAM + 0x10, 0, 4 * PAGE as usize - 0x20)]);
    // RAM whose frames are not adjacent in the VMM: one piece per page.
    let frames: Vec<_> = (0..3)
        .map(|_| vm.backend_mut().alloc_frame(None).unwrap())
        .collect();
    let rev: Vec<_> = frames.iter().rev().copied().collect();
    vm.ram_register_at_custom_iterator(0x5000_0000, 3 * PAGE, move |_, a| {
        Ok(MapFrame {
            frame: rev[((a - 0x5000_0000) / PAGE) as usize],
            rights: Rights::ALL,
            owned: true,
        })
    })
    .unwrap();
    let mut pieces = Vec::new();
    vm.guest_memory()
        .touch_spans(0x5000_0000, 3 * PAGE, |a| {
            pieces.push((a.guest_addr, a.bytes.len()));
            Ok::<(), ()>(())
        })
        .unwrap();
    assert_eq!(
        pieces,
        vec![
            (0x5000_0000, 4096),
            (0x5000_1000, 4096),
            (0x5000_2000, 4096)
        ]
    );
    // Bytes land in the right frames either way.
    let data: Vec<u8> = (0..3 * PAGE as usize)
        .map(|i| (i / 4096) as u8 + 1)
        .collect();
    vm.ram_write(0x5000_0000, &data).unwrap();
    assert_eq!(vm.backend().frame_bytes(frames[2]).unwrap()[0], 1);
    assert_eq!(vm.backend().frame_bytes(frames[0]).unwrap()[0], 3);
    let mut seen = Vec::new();
    vm.ram_touch(0x5000_0000, 3 * PAGE, |a| {
        seen.push(a.bytes[0]);
        Ok::<(), ()>(())
    })
    .unwrap();
    assert_eq!(seen, vec![1, 2, 3]);
    // Errors: same checks as touch, before any callback.
    assert_eq!(
        vm.guest_memory()
            .touch_spans(RAM + 3 * PAGE, 2 * PAGE, |_| Err::<(), ()>(())),
        Err(TouchError::Vm(Error::NotRam {
            addr: RAM + 3 * PAGE,
            size: 2 * PAGE
        }))
    );
}

// ---- 2 MiB frames ----

const MIB2: u64 = 0x20_0000;

fn vm_small_only() -> sel4vm::Vm<sel4vm_host::HostBackend> {
    let mut vm = vm();
    vm.backend_mut().set_large_frames(false);
    vm
}

/// Stage-2 layout as (ipa, size) per mapping.
fn layout(vm: &sel4vm::Vm<sel4vm_host::HostBackend>) -> Vec<(u64, u64)> {
    vm.guest_vspace().iter().map(|(a, e)| (a, e.size)).collect()
}

#[test]
fn aligned_ram_uses_only_large_frames() {
    let mut vm = vm();
    vm.ram_register_at(RAM, 8 << 20, false).unwrap();
    assert_eq!(vm.backend().live_large_frames(), 4);
    assert_eq!(vm.backend().live_small_frames(), 0);
    assert_eq!(
        layout(&vm),
        (0..4).map(|i| (RAM + i * MIB2, MIB2)).collect::<Vec<_>>()
    );
    assert_eq!(vm.backend().stage2().len(), 4);
    // Still counted in 4 KiB pages, and allocation stays page granular.
    assert_eq!(vm.guest_vspace().len(), 2048);
    assert_eq!(vm.ram_allocate(1), Ok(RAM));
    assert_eq!(vm.ram_allocate(MIB2), Ok(RAM + PAGE));
    vm.ram_free(RAM, PAGE).unwrap();
    assert_eq!(
        vm.ram_regions(),
        vec![
            RamRegion {
                start: RAM,
                size: PAGE,
                allocated: false
            },
            RamRegion {
                start: RAM + PAGE,
                size: MIB2,
                allocated: true
            },
            RamRegion {
                start: RAM + PAGE + MIB2,
                size: (8 << 20) - PAGE - MIB2,
                allocated: false
            },
        ]
    );
    // A lookup inside a large mapping finds it.
    let e = vm.guest_vspace().lookup(RAM + 3 * MIB2 + 0x1234).unwrap();
    assert_eq!(e.size, MIB2);
    assert_eq!(
        vm.guest_vspace().lookup_mapping(RAM + 3 * MIB2 + 0x1234),
        Some((RAM + 3 * MIB2, e))
    );

    // Same request without large frames: 2048 small frames.
    let mut vm = vm_small_only();
    vm.ram_register_at(RAM, 8 << 20, false).unwrap();
    assert_eq!(vm.backend().live_large_frames(), 0);
    assert_eq!(vm.backend().live_small_frames(), 2048);
    assert_eq!(vm.guest_vspace().len(), 2048);
}

#[test]
fn unaligned_ram_gets_small_head_large_middle_small_tail() {
    let mut vm = vm();
    // 5 MiB at +1 MiB: 1 MiB of small frames, then two large frames.
    vm.ram_register_at(RAM + 0x10_0000, 5 << 20, false).unwrap();
    assert_eq!(vm.backend().live_small_frames(), 256);
    assert_eq!(vm.backend().live_large_frames(), 2);
    let mut want: Vec<(u64, u64)> = (0..256)
        .map(|i| (RAM + 0x10_0000 + i * PAGE, PAGE))
        .collect();
    want.push((RAM + MIB2, MIB2));
    want.push((RAM + 2 * MIB2, MIB2));
    assert_eq!(layout(&vm), want);

    // With a tail too: 0x4070_0000 .. 0x40a0_3000.
    let mut vm = common::vm();
    let start = RAM + 0x70_0000;
    vm.ram_register_at(start, 0x30_3000, false).unwrap();
    let l = layout(&vm);
    assert_eq!(l.len(), 256 + 1 + 3);
    assert!(l[..256].iter().all(|&(_, s)| s == PAGE));
    assert_eq!(l[256], (RAM + 4 * MIB2, MIB2));
    assert_eq!(
        l[257..],
        [
            (RAM + 5 * MIB2, PAGE),
            (RAM + 5 * MIB2 + PAGE, PAGE),
            (RAM + 5 * MIB2 + 2 * PAGE, PAGE)
        ]
    );
    assert_eq!(vm.backend().live_frames(), 260);
    // Less than 2 MiB but 2 MiB aligned: small frames only.
    vm.ram_register_at(RAM + 0x100_0000, MIB2 - PAGE, false)
        .unwrap();
    assert_eq!(vm.backend().live_large_frames(), 1);
}

/// RAM with a small head, two large frames and a small tail.
fn mixed_vm(large: bool) -> sel4vm::Vm<sel4vm_host::HostBackend> {
    let mut vm = vm();
    vm.backend_mut().set_large_frames(large);
    vm.ram_register_at(RAM + MIB2 - 4 * PAGE, 2 * MIB2 + 8 * PAGE, false)
        .unwrap();
    vm
}

#[test]
fn touch_across_large_and_small_frames() {
    for large in [true, false] {
        let mut vm = mixed_vm(large);
        assert_eq!(vm.backend().live_large_frames(), if large { 2 } else { 0 });
        // small -> large -> large -> small, two bytes into each boundary.
        for (boundary, what) in [
            (RAM + MIB2, "small/large"),
            (RAM + 2 * MIB2, "large/large"),
            (RAM + 3 * MIB2, "large/small"),
        ] {
            let start = boundary - PAGE - 0x10;
            let mut seen = Vec::new();
            vm.ram_touch(start, 2 * PAGE + 0x20, |a| {
                seen.push((a.guest_addr, a.offset, a.bytes.len()));
                a.bytes.fill(a.offset as u8 + 1);
                Ok::<(), ()>(())
            })
            .unwrap();
            assert_eq!(
                seen,
                vec![
                    (start, 0, 0x10),
                    (boundary - PAGE, 0x10, 0x1000),
                    (boundary, 0x1010, 0x1000),
                    (boundary + PAGE, 0x2010, 0x10)
                ],
                "{what}, large={large}"
            );
            // Each piece landed in the right guest page.
            assert_eq!(vm.backend().guest_page(start).unwrap()[0xff0], 1);
            assert_eq!(vm.backend().guest_page(boundary - 1).unwrap()[0xfff], 0x11);
            assert_eq!(vm.backend().guest_page(boundary).unwrap()[0], 0x11);
            assert_eq!(vm.backend().guest_page(boundary + PAGE).unwrap()[0xf], 0x11);
            assert_eq!(vm.backend().guest_page(boundary + PAGE).unwrap()[0x10], 0);
        }
        // Read/write round trip over everything, unaligned at both ends.
        let (start, len) = (RAM + MIB2 - 4 * PAGE + 3, 2 * MIB2 + 8 * PAGE - 7);
        let data: Vec<u8> = (0..len).map(|i| (i * 13 + i / 4096) as u8).collect();
        vm.ram_write(start, &data).unwrap();
        let mut back = vec![0; data.len()];
        vm.ram_read(start, &mut back).unwrap();
        assert!(back == data, "round trip, large={large}");
        // Per-page walk sees the same bytes.
        let mut again = Vec::new();
        vm.ram_touch(start, len, |a| {
            assert!(a.bytes.len() <= PAGE as usize);
            again.extend_from_slice(a.bytes);
            Ok::<(), ()>(())
        })
        .unwrap();
        assert!(again == data);
        // The host's own view of the large frame agrees.
        if large {
            let f = vm.guest_vspace().lookup(RAM + 2 * MIB2 + 5).unwrap().frame;
            let off = (RAM + 2 * MIB2 + 0x1234 - start) as usize;
            assert_eq!(vm.backend().frame_bytes(f).unwrap().len(), MIB2 as usize);
            assert_eq!(vm.backend().frame_bytes(f).unwrap()[0x1234], data[off]);
        }
        assert_eq!(
            vm.guest_memory().read_u64(RAM + 2 * MIB2 - 4).unwrap(),
            u64::from_le_bytes(
                data[(RAM + 2 * MIB2 - 4 - start) as usize..][..8]
                    .try_into()
                    .unwrap()
            )
        );
    }
}

#[test]
fn touch_spans_use_whole_large_frames() {
    let mut vm = mixed_vm(true);
    let head = RAM + MIB2 - 4 * PAGE;
    let mut pieces = Vec::new();
    vm.guest_memory()
        .touch_spans(head + 0x10, 2 * MIB2 + 8 * PAGE - 0x20, |a| {
            pieces.push((a.guest_addr, a.offset, a.bytes.len() as u64));
            Ok::<(), ()>(())
        })
        .unwrap();
    // The two large frames are adjacent in the host arena (as in the seL4
    // VMM window): one 4 MiB piece. The small head and tail frames are not
    // next to them (allocated apart / 2 MiB alignment gap).
    assert_eq!(
        pieces,
        vec![
            (head + 0x10, 0, 4 * PAGE - 0x10),
            (RAM + MIB2, 4 * PAGE - 0x10, 2 * MIB2),
            (RAM + 3 * MIB2, 4 * PAGE - 0x10 + 2 * MIB2, 4 * PAGE - 0x10),
        ]
    );
    // Starting and ending inside one large frame: one piece.
    let mut pieces = Vec::new();
    vm.guest_memory()
        .touch_spans(RAM + MIB2 + 0x123, 0x10_0000, |a| {
            pieces.push((a.guest_addr, a.bytes.len() as u64));
            Ok::<(), ()>(())
        })
        .unwrap();
    assert_eq!(pieces, vec![(RAM + MIB2 + 0x123, 0x10_0000)]);
    // A callback error inside a large frame stops the per-page walk there.
    let mut calls = 0;
    let r = vm.ram_touch(RAM + MIB2, 4 * PAGE, |a| {
        calls += 1;
        if a.guest_addr == RAM + MIB2 + 2 * PAGE {
            Err(7)
        } else {
            Ok(())
        }
    });
    assert_eq!(
        r,
        Err(TouchError::Callback {
            guest_addr: RAM + MIB2 + 2 * PAGE,
            error: 7
        })
    );
    assert_eq!(calls, 3);
}

#[test]
fn large_frame_failure_midway_rolls_back() {
    let mut vm = vm();
    vm.ram_register_at(0x3000_0000, 2 * PAGE, false).unwrap();
    let before = snap(&vm);
    // Two frames already live: the limit is hit at the third large frame.
    vm.backend_mut().set_frame_limit(Some(4));
    assert_eq!(
        vm.ram_register_at(RAM, 8 << 20, false),
        Err(Error::Backend(BackendError::OutOfMemory))
    );
    assert_eq!(before, snap(&vm));
    assert_eq!(vm.backend().live_large_frames(), 0);
    // Mixed: head of small frames, then the limit hits the first large frame.
    vm.backend_mut().set_frame_limit(Some(2 + 16));
    assert_eq!(
        vm.ram_register_at(RAM + MIB2 - 16 * PAGE, MIB2 + 16 * PAGE, false),
        Err(Error::Backend(BackendError::OutOfMemory))
    );
    assert_eq!(before, snap(&vm));
    vm.backend_mut().set_frame_limit(None);
    // Mapping the third large frame fails.
    vm.backend_mut()
        .fail_map_at(Some(RAM + 2 * MIB2 + 5 * PAGE));
    assert_eq!(
        vm.ram_register_at(RAM + MIB2 - PAGE, 4 * MIB2, false),
        Err(Error::Backend(BackendError::InvalidAddress(RAM + 2 * MIB2)))
    );
    assert_eq!(before, snap(&vm));
    assert_eq!(vm.backend().live_frames(), 2);
    vm.backend_mut().fail_map_at(None);
    vm.ram_register_at(RAM + MIB2 - PAGE, 4 * MIB2, false)
        .unwrap();
    assert_eq!(vm.backend().live_large_frames(), 3);
    assert_eq!(vm.backend().live_small_frames(), 2 + 1 + 511);
}

#[test]
fn one_to_one_large_frames_have_paddr_equal_ipa() {
    let mut vm = vm();
    vm.ram_register_at(RAM + MIB2 - PAGE, 2 * MIB2 + 2 * PAGE, true)
        .unwrap();
    assert_eq!(vm.backend().live_large_frames(), 2);
    for (ipa, e) in vm.guest_vspace().iter().collect::<Vec<_>>() {
        assert_eq!(vm.backend_mut().frame_paddr(e.frame), Ok(ipa));
    }
    // Contiguous across small/large and large/large boundaries.
    assert_eq!(
        vm.ipa_to_pa(RAM + MIB2 - 0x10, 2 * MIB2 + 0x20).unwrap(),
        RAM + MIB2 - 0x10
    );
    assert_eq!(
        vm.ipa_to_pa(RAM + 2 * MIB2 + 0x1234, 4).unwrap(),
        RAM + 2 * MIB2 + 0x1234
    );
    // A 1:1 small frame already sits inside the next 2 MiB chunk: the large
    // frame cannot be had, the fallback hits the same page, all rolled back.
    let taken = vm
        .backend_mut()
        .alloc_frame(Some(RAM + 4 * MIB2 + 7 * PAGE))
        .unwrap();
    let before = snap(&vm);
    assert_eq!(
        vm.ram_register_at(RAM + 4 * MIB2, MIB2, true),
        Err(Error::Backend(BackendError::PhysUnavailable(
            RAM + 4 * MIB2 + 7 * PAGE
        )))
    );
    assert_eq!(before, snap(&vm));
    // Once it is gone the chunk gets a large frame at PA == IPA.
    vm.backend_mut().free_frame(taken);
    vm.ram_register_at(RAM + 4 * MIB2, MIB2, true).unwrap();
    let e = vm.guest_vspace().lookup(RAM + 4 * MIB2).unwrap();
    assert_eq!(e.size, MIB2);
    assert_eq!(vm.backend_mut().frame_paddr(e.frame), Ok(RAM + 4 * MIB2));
    // Small 1:1 frames cannot be carved out of a live large one.
    assert_eq!(
        vm.backend_mut().alloc_frame(Some(RAM + 4 * MIB2 + PAGE)),
        Err(BackendError::PhysUnavailable(RAM + 4 * MIB2 + PAGE))
    );
}

#[test]
fn ram_register_prefers_2mib_alignment() {
    let mut vm = vm();
    vm.memory_make_anon(0x8010_0000, 0x100_0000).unwrap();
    let a = vm.ram_register(2 * MIB2).unwrap();
    assert_eq!(a, 0x8020_0000);
    assert_eq!(vm.backend().live_large_frames(), 2);
    assert_eq!(vm.backend().live_small_frames(), 0);
    // Small registrations still take the first page-aligned gap.
    assert_eq!(vm.ram_register(PAGE).unwrap(), 0x8010_0000);
    // A region too small for an aligned fit: falls back to page alignment
    // (and so to small frames).
    let mut vm2 = common::vm();
    vm2.memory_make_anon(0x9010_0000, MIB2).unwrap();
    assert_eq!(vm2.ram_register(MIB2).unwrap(), 0x9010_0000);
    assert_eq!(vm2.backend().live_small_frames(), 512);
    // Frames are freed with the VM state rolled back on failure.
    let live = vm.backend().live_frames();
    vm.backend_mut().set_frame_limit(Some(live + 1));
    let before = snap(&vm);
    assert_eq!(
        vm.ram_register(2 * MIB2),
        Err(Error::Backend(BackendError::OutOfMemory))
    );
    assert_eq!(before, snap(&vm));
}
