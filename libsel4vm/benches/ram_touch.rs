//! `ram_touch` copying 64 MiB into guest RAM (host backend) versus a plain
//! `copy_from_slice` of the same bytes. Run with
//! `cargo bench -p sel4vm --bench ram_touch`. Prints medians and the ratios
//! (target: touch throughput >= 0.9 x plain copy). Both the page-by-page
//! `ram_touch` and `touch_spans` (VMM-contiguous runs of pages, what
//! `ram_read`/`ram_write` use) are measured.

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

fn main() {
    let src: Vec<u8> = (0..SIZE).map(|i| (i as u8).wrapping_mul(31)).collect();

    let mut vm = Vm::new(HostBackend::new(), VmConfig::default()).expect("vm");
    vm.ram_register_at(BASE, SIZE as u64, false)
        .expect("register 64 MiB");
    let mut plain = vec![0u8; SIZE];

    let touch_once = |vm: &mut Vm<HostBackend>| {
        vm.ram_touch(BASE, SIZE as u64, |a| {
            let o = a.offset as usize;
            a.bytes.copy_from_slice(&src[o..o + a.bytes.len()]);
            Ok::<(), ()>(())
        })
        .expect("touch");
    };
    let spans_once = |vm: &mut Vm<HostBackend>| {
        vm.guest_memory()
            .touch_spans(BASE, SIZE as u64, |a| {
                let o = a.offset as usize;
                a.bytes.copy_from_slice(&src[o..o + a.bytes.len()]);
                Ok::<(), ()>(())
            })
            .expect("touch_spans");
    };

    // Warm up both destinations (first touch of fresh pages costs page faults).
    touch_once(&mut vm);
    plain.copy_from_slice(&src);

    let mut t_touch = Vec::new();
    let mut t_spans = Vec::new();
    let mut t_plain = Vec::new();
    let mut t_chunk = Vec::new();
    // Interleave so both see the same machine conditions.
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

        let t = Instant::now();
        touch_once(&mut vm);
        t_touch.push(t.elapsed());

        let t = Instant::now();
        spans_once(&mut vm);
        t_spans.push(t.elapsed());
    }

    // The copy really landed in guest RAM.
    let mut check = vec![0u8; 4096];
    vm.ram_read(BASE + (SIZE as u64) - 4096, &mut check)
        .expect("read back");
    assert_eq!(check, src[SIZE - 4096..]);

    let (mp, mc, mt, ms) = (
        median(t_plain),
        median(t_chunk),
        median(t_touch),
        median(t_spans),
    );
    let gbps = |d: Duration| SIZE as f64 / d.as_secs_f64() / 1e9;
    println!(
        "ram_touch benchmark: {} MiB, {} iterations, medians",
        SIZE >> 20,
        ITERS
    );
    println!("{:<22} {:>12} {:>10}", "method", "median", "GB/s");
    println!("{:<22} {:>12.3?} {:>10.2}", "copy_from_slice", mp, gbps(mp));
    println!(
        "{:<22} {:>12.3?} {:>10.2}",
        "copy 4 KiB chunks",
        mc,
        gbps(mc)
    );
    println!(
        "{:<22} {:>12.3?} {:>10.2}",
        "ram_touch (per page)",
        mt,
        gbps(mt)
    );
    println!("{:<22} {:>12.3?} {:>10.2}", "touch_spans", ms, gbps(ms));
    let ratio = |d: Duration| mp.as_secs_f64() / d.as_secs_f64();
    println!(
        "ratio ram_touch / plain:   {:.3} (target >= 0.90)",
        ratio(mt)
    );
    println!(
        "ratio touch_spans / plain: {:.3} (target >= 0.90)",
        ratio(ms)
    );
    println!(
        "ratio ram_touch / 4 KiB chunked copy: {:.3}",
        mc.as_secs_f64() / mt.as_secs_f64()
    );
}
