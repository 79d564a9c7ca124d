//! Property test: RAM allocate/free/mark/touch against a simple page model,
//! with 2 MiB frames enabled and disabled in the host backend.
mod common;
use common::*;
use proptest::prelude::*;
use sel4vm::Error;

/// Two extents (not contiguous), as `(start, pages)`:
/// 4 small pages, one 2 MiB frame, 4 small pages; then one 2 MiB frame and 3
/// small pages (when large frames are enabled).
const EXTENTS: [(u64, u64); 2] = [(RAM + 0x1f_c000, 520), (RAM + 0x60_0000, 515)];

/// Addresses where frames or extents meet; ops cluster around them.
const EDGES: [u64; 7] = [
    RAM + 0x1f_c000,
    RAM + 0x20_0000,
    RAM + 0x40_0000,
    RAM + 0x40_4000,
    RAM + 0x60_0000,
    RAM + 0x80_0000,
    RAM + 0x80_3000,
];

#[derive(Clone, Debug)]
enum Op {
    Allocate(u64),
    Free(u64, u64),
    Mark(u64, u64),
    Write(u64, Vec<u8>),
    Read(u64, usize),
}

fn addr() -> impl Strategy<Value = u64> {
    prop_oneof![
        4 => (0..EDGES.len(), 0u64..0x6000).prop_map(|(i, o)| EDGES[i] - 0x3000 + o),
        2 => (0u64..0x90_0000).prop_map(|o| RAM + 0x1f_0000 + o),
        1 => any::<u64>(),
    ]
}

fn size() -> impl Strategy<Value = u64> {
    prop_oneof![4 => 0u64..0x6000, 1 => 0u64..0x30_0000]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        size().prop_map(Op::Allocate),
        (addr(), size()).prop_map(|(a, s)| Op::Free(a & !0xfff, s)),
        (addr(), size()).prop_map(|(a, s)| Op::Mark(a, s)),
        (addr(), proptest::collection::vec(any::<u8>(), 0..9000))
            .prop_map(|(a, d)| Op::Write(a, d)),
        (addr(), 0usize..9000).prop_map(|(a, n)| Op::Read(a, n)),
    ]
}

struct Model {
    pages: Vec<(u64, bool)>, // (page address, allocated), sorted
    mem: std::collections::HashMap<u64, u8>,
}

impl Model {
    fn inside(&self, a: u64, s: u64) -> bool {
        let Some(end) = a.checked_add(s) else {
            return false;
        };
        EXTENTS
            .iter()
            .any(|&(b, n)| a >= b && end <= b + n * PAGE && a < b + n * PAGE)
    }
    fn idx(&self, a: u64) -> usize {
        self.pages.iter().position(|p| p.0 == a & !0xfff).unwrap()
    }
    fn allocate(&mut self, bytes: u64) -> Result<u64, Error> {
        if bytes == 0 {
            return Err(Error::ZeroSize);
        }
        let want = bytes.div_ceil(PAGE) as usize;
        let mut run = 0;
        for i in 0..self.pages.len() {
            let contiguous = i > 0 && self.pages[i - 1].0 + PAGE == self.pages[i].0;
            if !contiguous {
                run = 0;
            }
            if self.pages[i].1 {
                run = 0;
            } else {
                run += 1;
                if run == want {
                    let s = i + 1 - want;
                    for p in &mut self.pages[s..=i] {
                        p.1 = true;
                    }
                    return Ok(self.pages[s].0);
                }
            }
        }
        Err(Error::OutOfRam)
    }
}

fn run_model(ops: Vec<Op>, large: bool) -> Result<(), TestCaseError> {
    let mut vm = vm();
    vm.backend_mut().set_large_frames(large);
    for (b, n) in EXTENTS {
        vm.ram_register_at(b, n * PAGE, false).unwrap();
    }
    let want_large = if large { 2 } else { 0 };
    prop_assert_eq!(vm.backend().live_large_frames(), want_large);
    prop_assert_eq!(vm.backend().live_small_frames(), 1035 - 512 * want_large);
    let mut m = Model {
        pages: EXTENTS
            .iter()
            .flat_map(|&(b, n)| (0..n).map(move |i| (b + i * PAGE, false)))
            .collect(),
        mem: Default::default(),
    };
    for op in ops {
        match op {
            Op::Allocate(n) => prop_assert_eq!(vm.ram_allocate(n), m.allocate(n)),
            Op::Free(a, s) => {
                let r = vm.ram_free(a, s);
                let size = s.div_ceil(PAGE) * PAGE;
                if s == 0 || !m.inside(a, size) {
                    prop_assert!(r.is_err());
                } else {
                    let first = m.idx(a);
                    let n = (size / PAGE) as usize;
                    let all = m.pages[first..first + n].iter().all(|p| p.1);
                    prop_assert_eq!(r.is_ok(), all);
                    if all {
                        for p in &mut m.pages[first..first + n] {
                            p.1 = false;
                        }
                    }
                }
            }
            Op::Mark(a, s) => {
                let r = vm.ram_mark_allocated(a, s);
                prop_assert_eq!(r.is_ok(), s > 0 && m.inside(a, s));
                if r.is_ok() {
                    let (f, l) = (m.idx(a), m.idx(a + s - 1));
                    for p in &mut m.pages[f..=l] {
                        p.1 = true;
                    }
                }
            }
            Op::Write(a, d) => {
                let r = vm.ram_write(a, &d);
                prop_assert_eq!(r.is_ok(), d.is_empty() || m.inside(a, d.len() as u64));
                if r.is_ok() {
                    for (i, b) in d.iter().enumerate() {
                        m.mem.insert(a + i as u64, *b);
                    }
                }
            }
            Op::Read(a, n) => {
                let mut buf = vec![0x5a; n];
                let r = vm.ram_read(a, &mut buf);
                prop_assert_eq!(r.is_ok(), n == 0 || m.inside(a, n as u64));
                if r.is_ok() {
                    let want: Vec<u8> = (0..n)
                        .map(|i| *m.mem.get(&(a + i as u64)).unwrap_or(&0))
                        .collect();
                    prop_assert_eq!(buf, want);
                } else {
                    prop_assert!(
                        buf.iter().all(|&b| b == 0x5a),
                        "failed read must not write the buffer"
                    );
                }
            }
        }
        // Region view agrees with the model after every step.
        let mut expect = Vec::new();
        for &(pa, al) in &m.pages {
            match expect.last_mut() {
                Some(sel4vm::RamRegion {
                    start,
                    size,
                    allocated,
                }) if *allocated == al && *start + *size == pa => *size += PAGE,
                _ => expect.push(sel4vm::RamRegion {
                    start: pa,
                    size: PAGE,
                    allocated: al,
                }),
            }
        }
        prop_assert_eq!(vm.ram_regions(), expect);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]
    #[test]
    fn ram_matches_model_with_large_frames(ops in proptest::collection::vec(op(), 1..40)) {
        run_model(ops, true)?;
    }

    #[test]
    fn ram_matches_model_with_small_frames_only(ops in proptest::collection::vec(op(), 1..40)) {
        run_model(ops, false)?;
    }
}
