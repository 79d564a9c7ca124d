//! `ram_touch` copying 64 MiB into guest RAM (host backend) versus a plain
//! `copy_from_slice` of the same bytes. Run with
//! `cargo bench -p sel4vm --bench ram_touch`. Prints medians and the ratios
//! (target: touch throughput >= 0.9 x plain copy). Both the page-by-page
//! `ram_touch` and `touch_spans` (whole frames or VMM-contiguous runs of
//! frames, what `ram_read`/`ram_write` use) are measured, with guest RAM
//! backed by 4 KiB frames only and by 2 MiB frames.

use std::hint::black_box;
use std::time::{Duration, Instant};

use sel4vm::{Vm, VmConfig};
use sel4vm_host::HostBackend;

const SIZE: usize = 64 << 20;
const BASE: u64 = 0x4000_0000;
const ITERS: usize = 21;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// A VM with 64 MiB of RAM at `BASE`, 2 MiB frames on or off.
fn make_vm(large: bool) -> Vm<HostBackend> {
    let mut backend = HostBackend::new();
    backend.set_large_frames(large);
    let mut vm = Vm::new(backend, VmConfig::default()).expect("vm");
    vm.ram_register_at(BASE, SIZE as u64, false)
        .expect("register 64 MiB");
    let want_large = if large { SIZE >> 21 } else { 0 };
    assert_eq!(vm.backend().live_large_frames(), want_large);
    vm
}

fn touch_once(vm: &mut Vm<HostBackend>, src: &[u8]) {
    vm.ram_touch(BASE, SIZE as u64, |a| {
        let o = a.offset as usize;
        a.bytes.copy_from_slice(&src[o..o + a.bytes.len()]);
        Ok::<(), ()>(())
    })
    .expect("touch");
}

fn spans_once(vm: &mut Vm<HostBackend>, src: &[u8]) {
    vm.guest_memory()
        .touch_spans(BASE, SIZE as u64, |a| {
            let o = a.offset as usize;
            a.bytes.copy_from_slice(&src[o..o + a.bytes.len()]);
            Ok::<(), ()>(())
        })
        .expect("touch_spans");
}

fn main() {
    let src: Vec<u8> = (0..SIZE).map(|i| (i as u8).wrapping_mul(31)).collect();

    let mut vms = [make_vm(false), make_vm(true)];
    let mut plain = vec![0u8; SIZE];

    // Warm up all destinations (first touch of fresh pages costs page faults).
    for vm in &mut vms {
        touch_once(vm, &src);
    }
    plain.copy_from_slice(&src);

    let mut t_plain = Vec::new();
    let mut t_chunk = Vec::new();
    // [small, large] x [ram_touch, touch_spans]
    let mut t_vm: [[Vec<Duration>; 2]; 2] = Default::default();
    // Interleave so all see the same machine conditions.
    for _ in 0..ITERS {
        let t = Instant::now();
        plain.copy_from_slice(black_box(&src));
        black_box(&plain);
        t_plain.push(t.elapsed());

        // Same bytes, same destination, 4 KiB at a time: the baseline for any
        // page-granular copy (large memcpys switch to non-temporal stores).
        let t = Instant::now();
        for (d, s) in plain.chunks_mut(4096).zip(src.chunks(4096)) {
            black_box(&mut *d).copy_from_slice(black_box(s));
        }
        black_box(&plain);
        t_chunk.push(t.elapsed());

        for (vm, times) in vms.iter_mut().zip(t_vm.iter_mut()) {
            let t = Instant::now();
            touch_once(vm, &src);
            times[0].push(t.elapsed());

            let t = Instant::now();
            spans_once(vm, &src);
            times[1].push(t.elapsed());
        }
    }

    // The copy really landed in guest RAM.
    for vm in &mut vms {
        let mut check = vec![0u8; 4096];
        vm.ram_read(BASE + (SIZE as u64) - 4096, &mut check)
            .expect("read back");
        assert_eq!(check, src[SIZE - 4096..]);
    }

    let (mp, mc) = (median(t_plain), median(t_chunk));
    let gbps = |d: Duration| SIZE as f64 / d.as_secs_f64() / 1e9;
    let ratio = |d: Duration| mp.as_secs_f64() / d.as_secs_f64();
    println!(
        "ram_touch benchmark: {} MiB, {} iterations, medians",
        SIZE >> 20,
        ITERS
    );
    println!(
        "{:<30} {:>12} {:>8} {:>14}",
        "method", "median", "GB/s", "ratio/plain"
    );
    println!(
        "{:<30} {:>12.3?} {:>8.2} {:>14}",
        "copy_from_slice",
        mp,
        gbps(mp),
        "1.000"
    );
    println!(
        "{:<30} {:>12.3?} {:>8.2} {:>14.3}",
        "copy 4 KiB chunks",
        mc,
        gbps(mc),
        ratio(mc)
    );
    for (frames, times) in ["4 KiB frames", "2 MiB frames"].iter().zip(t_vm) {
        for (method, t) in ["ram_touch", "touch_spans"].iter().zip(times) {
            let m = median(t);
            println!(
                "{:<30} {:>12.3?} {:>8.2} {:>14.3}",
                format!("{method} ({frames})"),
                m,
                gbps(m),
                ratio(m)
            );
        }
    }
    println!("target: ratio >= 0.90 for ram_touch and touch_spans");
}
