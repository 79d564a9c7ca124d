//! Copying 64 MiB into guest RAM (host backend) versus a plain
//! `copy_from_slice` of the same bytes. Run with
//! `cargo bench -p sel4vm --bench ram_touch`. Prints one table of medians and
//! ratios to the plain copy (target: >= 0.90) and says which rows meet it.
//!
//! Rows, each with guest RAM in 4 KiB frames and in 2 MiB frames:
//! - `ram_touch`: page-by-page callback (`vm_ram_touch` semantics, one 4 KiB
//!   piece per call);
//! - `ram_write`: the bulk copy (`vm_guest_ram_write_callback` path),
//!   through `GuestMemory::touch_spans`;
//! - `touch_spans`: the span walk itself with a copying callback.
//!
//! The host backend, like the seL4 backend's VMM window, places frames
//! allocated in sequence next to each other, so the span paths see guest RAM
//! as long runs. A 4 KiB-chunked copy of the same bytes is also shown: it is
//! what any page-granular copy costs on this machine (small memcpys do not
//! use the non-temporal stores a single huge memcpy does).

use std::hint::black_box;
use std::time::{Duration, Instant};

use sel4vm::{Vm, VmConfig};
use sel4vm_host::HostBackend;

const SIZE: usize = 64 << 20;
const BASE: u64 = 0x4000_0000;
const ITERS: usize = 21;
const TARGET: f64 = 0.9;

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

fn write_once(vm: &mut Vm<HostBackend>, src: &[u8]) {
    vm.ram_write(BASE, src).expect("ram_write");
}

/// Returns the number of pieces the walk handed out.
fn spans_once(vm: &mut Vm<HostBackend>, src: &[u8]) -> usize {
    let mut pieces = 0;
    vm.guest_memory()
        .touch_spans(BASE, SIZE as u64, |a| {
            let o = a.offset as usize;
            a.bytes.copy_from_slice(&src[o..o + a.bytes.len()]);
            pieces += 1;
            Ok::<(), ()>(())
        })
        .expect("touch_spans");
    pieces
}

type Method = fn(&mut Vm<HostBackend>, &[u8]);

const METHODS: [(&str, Method); 3] = [
    ("ram_touch", touch_once),
    ("ram_write", write_once),
    ("touch_spans", |vm, src| {
        black_box(spans_once(vm, src));
    }),
];

fn main() {
    let src: Vec<u8> = (0..SIZE).map(|i| (i as u8).wrapping_mul(31)).collect();

    let mut vms = [make_vm(false), make_vm(true)];
    let mut plain = vec![0u8; SIZE];

    // Warm up every destination the same way: one full copy (first touch
    // of fresh pages costs page faults).
    let pieces: Vec<usize> = vms.iter_mut().map(|vm| spans_once(vm, &src)).collect();
    plain.copy_from_slice(&src);

    let mut t_plain = Vec::new();
    let mut t_chunk = Vec::new();
    // [4 KiB frames, 2 MiB frames] x METHODS
    let mut t_vm: [[Vec<Duration>; 3]; 2] = Default::default();
    // Interleave so all see the same machine conditions.
    for _ in 0..ITERS {
        let t = Instant::now();
        plain.copy_from_slice(black_box(&src));
        black_box(&plain);
        t_plain.push(t.elapsed());

        let t = Instant::now();
        for (d, s) in plain.chunks_mut(4096).zip(src.chunks(4096)) {
            black_box(&mut *d).copy_from_slice(black_box(s));
        }
        black_box(&plain);
        t_chunk.push(t.elapsed());

        for (vm, times) in vms.iter_mut().zip(t_vm.iter_mut()) {
            for ((_, run), t_m) in METHODS.iter().zip(times.iter_mut()) {
                let t = Instant::now();
                run(vm, black_box(&src));
                t_m.push(t.elapsed());
            }
        }
    }

    // The copy really landed in guest RAM.
    for vm in &mut vms {
        let mut check = vec![0u8; SIZE];
        vm.ram_read(BASE, &mut check).expect("read back");
        assert!(check == src, "guest RAM differs from the source");
    }

    let (mp, mc) = (median(t_plain), median(t_chunk));
    let gbps = |d: Duration| SIZE as f64 / d.as_secs_f64() / 1e9;
    let ratio = |d: Duration| mp.as_secs_f64() / d.as_secs_f64();
    let mut rows = vec![("copy 4 KiB chunks".to_string(), mc)];
    for (frames, times) in ["4 KiB frames", "2 MiB frames"].iter().zip(t_vm) {
        for ((method, _), t) in METHODS.iter().zip(times) {
            rows.push((format!("{method} ({frames})"), median(t)));
        }
    }

    println!(
        "ram_touch benchmark: {} MiB, {ITERS} iterations interleaved, medians",
        SIZE >> 20
    );
    println!(
        "span walk pieces for 64 MiB: {} (4 KiB frames), {} (2 MiB frames)",
        pieces[0], pieces[1]
    );
    println!(
        "{:<30} {:>12} {:>8} {:>12} {:>6}",
        "method", "median", "GB/s", "ratio/plain", ">=0.9"
    );
    println!(
        "{:<30} {:>12.3?} {:>8.2} {:>12} {:>6}",
        "copy_from_slice (64 MiB)",
        mp,
        gbps(mp),
        "1.000",
        "-"
    );
    let mut met = Vec::new();
    let mut missed = Vec::new();
    for (name, m) in &rows {
        let r = ratio(*m);
        let ok = r >= TARGET;
        println!(
            "{name:<30} {m:>12.3?} {:>8.2} {r:>12.3} {:>6}",
            gbps(*m),
            if ok { "yes" } else { "no" }
        );
        if ok { &mut met } else { &mut missed }.push(name.as_str());
    }
    println!("target {TARGET:.2} met by: {}", list(&met));
    println!("target {TARGET:.2} missed by: {}", list(&missed));
}

fn list(names: &[&str]) -> String {
    if names.is_empty() {
        "(none)".into()
    } else {
        names.join(", ")
    }
}
