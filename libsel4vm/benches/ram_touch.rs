//! `ram_touch` copying 64 MiB into guest RAM (host backend) versus a plain
//! `copy_from_slice` of the same bytes. Run with
//! `cargo bench -p sel4vm --bench ram_touch`. Prints medians and the ratio
//! (target: touch throughput >= 0.9 x plain copy).

use std::hint::black_box;
use std::time::{Duration, Instant};

use sel4vm::{Vm, VmConfig};
use sel4vm_host::HostBackend;

const SIZE: usize = 64 << 20;
const BASE: u64 = 0x4000_0000;
const ITERS: usize = 15;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let src: Vec<u8> = (0..SIZE).map(|i| (i as u8).wrapping_mul(31)).collect();

    let mut vm = Vm::new(HostBackend::new(), VmConfig::default()).expect("vm");
    vm.ram_register_at(BASE, SIZE as u64, false).expect("register 64 MiB");
    let mut plain = vec![0u8; SIZE];

    let touch_once = |vm: &mut Vm<HostBackend>| {
        vm.ram_touch(BASE, SIZE as u64, |a| {
            let o = a.offset as usize;
            a.bytes.copy_from_slice(&src[o..o + a.bytes.len()]);
            Ok::<(), ()>(())
        })
        .expect("touch");
    };

    // Warm up both destinations (first touch of fresh pages costs page faults).
    touch_once(&mut vm);
    plain.copy_from_slice(&src);

    let mut t_touch = Vec::new();
    let mut t_plain = Vec::new();
    // Interleave so both see the same machine conditions.
    for _ in 0..ITERS {
        let t = Instant::now();
        plain.copy_from_slice(black_box(&src));
        black_box(&plain);
        t_plain.push(t.elapsed());

        let t = Instant::now();
        touch_once(&mut vm);
        t_touch.push(t.elapsed());
    }

    // The copy really landed in guest RAM.
    let mut check = vec![0u8; 4096];
    vm.ram_read(BASE + (SIZE as u64) - 4096, &mut check).expect("read back");
    assert_eq!(check, src[SIZE - 4096..]);

    let (mp, mt) = (median(t_plain), median(t_touch));
    let gbps = |d: Duration| SIZE as f64 / d.as_secs_f64() / 1e9;
    println!("ram_touch benchmark: {} MiB, {} iterations, medians", SIZE >> 20, ITERS);
    println!("{:<22} {:>12} {:>10}", "method", "median", "GB/s");
    println!("{:<22} {:>12.3?} {:>10.2}", "copy_from_slice", mp, gbps(mp));
    println!("{:<22} {:>12.3?} {:>10.2}", "ram_touch (host)", mt, gbps(mt));
    let ratio = mp.as_secs_f64() / mt.as_secs_f64();
    println!("ratio (touch throughput / plain throughput): {ratio:.3} (target >= 0.90)");
}
