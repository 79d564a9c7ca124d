//! virtio-blk over a fake asynchronous backend: requests, late and
//! out-of-order completions, flush ordering and counting, range checks,
//! read-only, a full backend, and reset with requests in flight.

mod common;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use common::*;
use sel4vm::{GuestAddress, GuestBytes};
use sel4vm_devices::block::{
    req, status, Block, BlockBackend, BlockInfo, BlockOp, Submitted, QUEUE_SIZE,
    VIRTIO_BLK_F_FLUSH, VIRTIO_BLK_F_RO,
};
use sel4vm_devices::virtio::mmio::regs;

const ALL: u64 = F_VERSION_1 | F_INDIRECT | F_EVENT_IDX;
const SECTORS: u64 = 64;

/// A disk with a volatile write cache: writes land in `cache`, a flush
/// moves them to `durable`. Completions wait until the test releases them
/// (unless `sync`).
#[derive(Default)]
struct Fake {
    durable: Vec<u8>,
    cache: BTreeMap<u64, Vec<u8>>,
    ro: bool,
    sync: bool,
    /// Most requests outstanding at once (0: no limit).
    slots: usize,
    max_request: u32,
    outstanding: BTreeMap<u32, (BlockOp, Vec<u8>)>,
    released: Vec<u32>,
    submitted: Vec<(u32, BlockOp)>,
    flushes_done: u64,
    quiesced: u64,
    /// Guest RAM the fake "device" reaches itself (zero-copy), if any.
    direct: Option<(GuestAddress, u64)>,
    /// Segments of each zero-copy request.
    direct_segs: Vec<(u32, Vec<(u64, u32)>)>,
}

impl Fake {
    fn new() -> Self {
        Fake {
            durable: (0..SECTORS * 512).map(|i| (i % 253) as u8).collect(),
            max_request: 8192,
            ..Default::default()
        }
    }
    /// What a read sees: the cache over the durable image.
    fn read(&self, sector: u64, len: u32) -> Vec<u8> {
        let mut v = self.durable[(sector * 512) as usize..][..len as usize].to_vec();
        for (&s, d) in &self.cache {
            for (i, b) in d.iter().enumerate() {
                let at = (s * 512) as i64 + i as i64 - (sector * 512) as i64;
                if at >= 0 && (at as usize) < v.len() {
                    v[at as usize] = *b;
                }
            }
        }
        v
    }
    fn run(&mut self, tag: u32) -> (bool, Vec<u8>) {
        let (op, data) = self.outstanding.remove(&tag).expect("outstanding");
        match op {
            BlockOp::Read { sector, len } => (true, self.read(sector, len)),
            BlockOp::Write { sector, .. } => {
                self.cache.insert(sector, data);
                (true, Vec::new())
            }
            BlockOp::Flush => {
                for (s, d) in std::mem::take(&mut self.cache) {
                    let at = (s * 512) as usize;
                    self.durable[at..at + d.len()].copy_from_slice(&d);
                }
                self.flushes_done += 1;
                (true, Vec::new())
            }
        }
    }
}

#[derive(Clone)]
struct Shared(Rc<RefCell<Fake>>);

impl BlockBackend for Shared {
    fn info(&self) -> BlockInfo {
        let f = self.0.borrow();
        BlockInfo {
            capacity: SECTORS,
            blk_size: 512,
            read_only: f.ro,
            flush: true,
            max_request: f.max_request,
        }
    }
    fn submit(
        &mut self,
        tag: u32,
        op: BlockOp,
        fill: &mut dyn FnMut(&mut [u8]) -> bool,
    ) -> Submitted {
        let mut f = self.0.borrow_mut();
        if f.slots != 0 && f.outstanding.len() >= f.slots {
            return Submitted::Busy;
        }
        let mut data = Vec::new();
        if let BlockOp::Write { len, .. } = op {
            data = vec![0; len as usize];
            if !fill(&mut data) {
                return Submitted::Failed;
            }
        }
        f.submitted.push((tag, op));
        f.outstanding.insert(tag, (op, data));
        if f.sync {
            f.released.push(tag);
        }
        Submitted::Started
    }
    fn direct_ram(&self) -> Option<(GuestAddress, u64)> {
        self.0.borrow().direct
    }
    fn submit_direct(&mut self, tag: u32, op: BlockOp, segs: &[(GuestAddress, u32)]) -> Submitted {
        let mut f = self.0.borrow_mut();
        f.submitted.push((tag, op));
        f.direct_segs
            .push((tag, segs.iter().map(|s| (s.0 .0, s.1)).collect()));
        // The "device" moves the data itself: the test plays that part.
        f.outstanding.insert(tag, (BlockOp::Flush, Vec::new()));
        Submitted::Started
    }
    fn complete(&mut self, done: &mut dyn FnMut(u32, bool, &[u8])) {
        let tags = std::mem::take(&mut self.0.borrow_mut().released);
        for t in tags {
            let direct = self.0.borrow().direct_segs.iter().any(|d| d.0 == t);
            if direct {
                self.0.borrow_mut().outstanding.remove(&t);
                done(t, true, &[]);
                continue;
            }
            let (ok, data) = self.0.borrow_mut().run(t);
            done(t, ok, &data);
        }
    }
    fn quiesce(&mut self) {
        let mut f = self.0.borrow_mut();
        f.quiesced += 1;
        // Finish everything on the "device", hand nothing back.
        let tags: Vec<u32> = f.outstanding.keys().copied().collect();
        for t in tags {
            f.run(t);
        }
        f.released.clear();
    }
}

fn disk(f: Fake) -> (Driver<Block<Shared>>, Rc<RefCell<Fake>>) {
    let s = Shared(Rc::new(RefCell::new(f)));
    let mut d = Driver::new(Block::new(s.clone(), "sel4vm-test-disk"));
    d.init(ALL, 1, 64);
    (d, s.0)
}

fn header(kind: u32, sector: u64) -> Vec<u8> {
    let mut h = kind.to_le_bytes().to_vec();
    h.extend([0; 4]);
    h.extend(sector.to_le_bytes());
    h
}

fn read_req(d: &mut Driver<Block<Shared>>, sector: u64, len: u32) -> Posted {
    d.post(
        0,
        &[
            Buf::Read(header(req::IN, sector)),
            Buf::Write(len),
            Buf::Write(1),
        ],
        true,
    )
}

fn write_req(d: &mut Driver<Block<Shared>>, sector: u64, data: &[u8]) -> Posted {
    d.post(
        0,
        &[
            Buf::Read(header(req::OUT, sector)),
            Buf::Read(data.to_vec()),
            Buf::Write(1),
        ],
        false,
    )
}

fn flush_req(d: &mut Driver<Block<Shared>>) -> Posted {
    d.post(0, &[Buf::Read(header(req::FLUSH, 0)), Buf::Write(1)], false)
}

fn status_of(d: &Driver<Block<Shared>>, p: &Posted) -> u8 {
    let (a, l, _) = *p.segs.last().unwrap();
    d.bytes(a + u64::from(l) - 1, 1)[0]
}

fn release(f: &Rc<RefCell<Fake>>, tags: &[u32]) {
    f.borrow_mut().released.extend(tags);
}

#[test]
fn configuration_space_and_features() {
    let (mut d, _) = disk(Fake::new());
    let cap = d.read_sized(regs::CONFIG, 8);
    assert_eq!(cap, SECTORS);
    assert_eq!(d.read(regs::CONFIG + 8), 4096, "size_max");
    assert_eq!(d.read(regs::CONFIG + 12), 2, "seg_max = 8192 / 4096");
    assert_eq!(d.read(regs::CONFIG + 20), 512, "blk_size");
    let f = d.device_features();
    assert_ne!(f & (1 << VIRTIO_BLK_F_FLUSH), 0);
    assert_eq!(f & (1 << VIRTIO_BLK_F_RO), 0);
    assert_eq!(d.read(regs::QUEUE_NUM_MAX), u32::from(QUEUE_SIZE));
}

#[test]
fn seg_max_leaves_room_for_header_and_status_in_the_queue() {
    let mut f = Fake::new();
    f.max_request = 16 << 20;
    let (mut d, _) = disk(f);
    assert_eq!(d.read(regs::CONFIG + 12), u32::from(QUEUE_SIZE) - 2);
}

#[test]
fn write_then_read_back_with_a_synchronous_backend() {
    let mut f = Fake::new();
    f.sync = true;
    let (mut d, _) = disk(f);
    let data: Vec<u8> = (0..1024u32).map(|i| (i * 7) as u8).collect();
    let w = write_req(&mut d, 3, &data);
    d.notify(0);
    assert_eq!(status_of(&d, &w), status::OK);
    let r = read_req(&mut d, 3, 1024);
    d.notify(0);
    assert_eq!(status_of(&d, &r), status::OK);
    assert_eq!(d.bytes(r.segs[1].0, 1024), data);
    let used = d.take_used(0);
    assert_eq!(
        used,
        vec![(u32::from(w.head), 1), (u32::from(r.head), 1025)]
    );
    let s = d.dev.device().stats();
    assert_eq!(
        (s.reads, s.writes, s.read_bytes, s.written_bytes),
        (1, 1, 1024, 1024)
    );
    assert_eq!(s.in_flight, 0);
}

#[test]
fn late_out_of_order_completions_reach_the_right_chains() {
    let (mut d, f) = disk(Fake::new());
    let posted: Vec<Posted> = (0..3).map(|i| read_req(&mut d, 10 * i, 512)).collect();
    d.notify(0);
    // Submitted, nothing done yet: no used entries, no interrupt.
    assert_eq!(f.borrow().submitted.len(), 3);
    assert!(d.take_used(0).is_empty());
    assert!(!d.line());
    assert_eq!(d.dev.device().stats().in_flight, 3);
    let tags: Vec<u32> = f.borrow().submitted.iter().map(|s| s.0).collect();
    for &i in &[2usize, 0, 1] {
        release(&f, &[tags[i]]);
        d.notified();
        assert!(d.line(), "completion {i} interrupts");
        d.ack();
        let used = d.take_used(0);
        assert_eq!(used, vec![(u32::from(posted[i].head), 513)]);
        let want = f.borrow().read(10 * i as u64, 512);
        assert_eq!(d.bytes(posted[i].segs[1].0, 512), want);
        assert_eq!(status_of(&d, &posted[i]), status::OK);
    }
    assert_eq!(d.dev.device().stats().reads, 3);
}

#[test]
fn a_flush_completes_only_after_the_backend_flushed() {
    let (mut d, f) = disk(Fake::new());
    let data = vec![0xabu8; 512];
    let w = write_req(&mut d, 5, &data);
    d.notify(0);
    let wt = f.borrow().submitted[0].0;
    release(&f, &[wt]);
    d.notified();
    assert_eq!(d.take_used(0), vec![(u32::from(w.head), 1)]);
    // Written but not durable.
    assert_ne!(&f.borrow().durable[5 * 512..6 * 512], &data[..]);
    let fl = flush_req(&mut d);
    d.notify(0);
    assert_eq!(f.borrow().submitted[1].1, BlockOp::Flush);
    assert!(d.take_used(0).is_empty(), "flush must wait for the backend");
    assert_eq!(d.dev.device().stats().flushes, 0);
    let ft = f.borrow().submitted[1].0;
    release(&f, &[ft]);
    d.notified();
    assert_eq!(d.take_used(0), vec![(u32::from(fl.head), 1)]);
    assert_eq!(status_of(&d, &fl), status::OK);
    assert_eq!(&f.borrow().durable[5 * 512..6 * 512], &data[..]);
    assert_eq!(f.borrow().flushes_done, 1);
    assert_eq!(d.dev.device().stats().flushes, 1);
}

#[test]
fn requests_beyond_the_capacity_fail_without_reaching_the_backend() {
    let mut f = Fake::new();
    f.sync = true;
    let (mut d, f) = disk(f);
    let cases = [
        read_req(&mut d, SECTORS, 512),
        read_req(&mut d, SECTORS - 1, 1024),
        read_req(&mut d, u64::MAX, 512),
        write_req(&mut d, SECTORS - 1, &[0; 1024]),
        // Not a whole sector.
        read_req(&mut d, 0, 100),
        // Larger than the backend takes (max_request 8192).
        read_req(&mut d, 0, 16384),
    ];
    d.notify(0);
    for p in &cases {
        assert_eq!(status_of(&d, p), status::IOERR);
    }
    assert!(f.borrow().submitted.is_empty());
    assert_eq!(d.take_used(0).len(), cases.len());
    assert_eq!(d.dev.device().stats().errors, cases.len() as u64);
    // The last sector itself is fine.
    let ok = read_req(&mut d, SECTORS - 1, 512);
    d.notify(0);
    assert_eq!(status_of(&d, &ok), status::OK);
}

#[test]
fn read_only_disk_refuses_writes_and_still_reads() {
    let mut f = Fake::new();
    f.ro = true;
    f.sync = true;
    let (mut d, f) = disk(f);
    assert_ne!(d.device_features() & (1 << VIRTIO_BLK_F_RO), 0);
    let before = f.borrow().durable.clone();
    let w = write_req(&mut d, 0, &[1; 512]);
    let r = read_req(&mut d, 0, 512);
    d.notify(0);
    assert_eq!(status_of(&d, &w), status::IOERR);
    assert_eq!(status_of(&d, &r), status::OK);
    assert_eq!(f.borrow().durable, before);
    assert!(f
        .borrow()
        .submitted
        .iter()
        .all(|s| !matches!(s.1, BlockOp::Write { .. })));
}

#[test]
fn a_full_backend_delays_requests_in_order() {
    let mut f = Fake::new();
    f.slots = 1;
    let (mut d, f) = disk(f);
    let posted: Vec<Posted> = (0..3).map(|i| read_req(&mut d, i, 512)).collect();
    d.notify(0);
    assert_eq!(f.borrow().submitted.len(), 1);
    for n in 1..=3 {
        let t = f.borrow().submitted[n - 1].0;
        release(&f, &[t]);
        d.notified();
        assert_eq!(d.take_used(0), vec![(u32::from(posted[n - 1].head), 513)]);
        assert_eq!(f.borrow().submitted.len(), 3.min(n + 1));
    }
    assert!(d.dev.device().stats().busy >= 2);
    assert_eq!(d.dev.device().stats().reads, 3);
}

#[test]
fn reset_quiesces_the_backend_and_drops_late_results() {
    let (mut d, f) = disk(Fake::new());
    let r = read_req(&mut d, 0, 512);
    let w = write_req(&mut d, 1, &[9; 512]);
    d.notify(0);
    assert_eq!(d.dev.device().stats().in_flight, 2);
    let q0 = f.borrow().quiesced;
    // The driver resets the device (status 0).
    d.write(regs::STATUS, 0);
    assert_eq!(f.borrow().quiesced, q0 + 1);
    assert!(f.borrow().outstanding.is_empty());
    assert_eq!(d.dev.device().stats().in_flight, 0);
    // Nothing was written into the old buffers.
    assert_eq!(d.bytes(r.segs[1].0, 512), vec![0; 512]);
    assert_eq!(status_of(&d, &w), 0);
    // A new driver gets a working device.
    d.init(ALL, 1, 64);
    f.borrow_mut().sync = true;
    let r2 = read_req(&mut d, 1, 512);
    d.notify(0);
    assert_eq!(status_of(&d, &r2), status::OK);
    assert_eq!(
        d.bytes(r2.segs[1].0, 512),
        vec![9; 512],
        "the write completed on the device"
    );
}

#[test]
fn get_id_unsupported_types_and_malformed_chains() {
    let mut f = Fake::new();
    f.sync = true;
    let (mut d, f) = disk(f);
    let id = d.post(
        0,
        &[
            Buf::Read(header(req::GET_ID, 0)),
            Buf::Write(20),
            Buf::Write(1),
        ],
        false,
    );
    let discard = d.post(0, &[Buf::Read(header(11, 0)), Buf::Write(1)], false);
    // No status byte at all, and a short header.
    let nostatus = d.post(0, &[Buf::Read(header(req::IN, 0))], false);
    let short = d.post(0, &[Buf::Read(vec![0; 8]), Buf::Write(1)], false);
    // Read with a readable data buffer, write with writable data.
    let bad_in = d.post(
        0,
        &[
            Buf::Read(header(req::IN, 0)),
            Buf::Read(vec![0; 512]),
            Buf::Write(513),
        ],
        true,
    );
    let bad_out = d.post(0, &[Buf::Read(header(req::OUT, 0)), Buf::Write(513)], true);
    d.notify(0);
    assert_eq!(status_of(&d, &id), status::OK);
    assert_eq!(&d.bytes(id.segs[1].0, 16), b"sel4vm-test-disk");
    assert_eq!(status_of(&d, &discard), status::UNSUPP);
    assert_eq!(status_of(&d, &short), status::IOERR);
    assert_eq!(status_of(&d, &bad_in), status::IOERR);
    assert_eq!(status_of(&d, &bad_out), status::IOERR);
    let used = d.take_used(0);
    assert_eq!(used.len(), 6);
    assert!(used.contains(&(u32::from(nostatus.head), 0)));
    assert!(f.borrow().submitted.is_empty());
    assert!(!d.dev.needs_reset());
}

#[test]
fn zero_copy_hands_the_guest_segments_to_the_backend() {
    let mut f = Fake::new();
    f.direct = Some((GuestAddress(RAM_BASE), RAM_SIZE));
    let (mut d, f) = disk(f);
    // A write whose data is split over two buffers, a read over three.
    let w = d.post(
        0,
        &[
            Buf::Read(header(req::OUT, 2)),
            Buf::Read(vec![1; 512]),
            Buf::Read(vec![2; 1024]),
            Buf::Write(1),
        ],
        true,
    );
    let r = d.post(
        0,
        &[
            Buf::Read(header(req::IN, 4)),
            Buf::Write(512),
            Buf::Write(1024),
            Buf::Write(1),
        ],
        true,
    );
    d.notify(0);
    let segs = f.borrow().direct_segs.clone();
    assert_eq!(segs.len(), 2);
    assert_eq!(segs[0].1, vec![(w.segs[1].0, 512), (w.segs[2].0, 1024)]);
    assert_eq!(segs[1].1, vec![(r.segs[1].0, 512), (r.segs[2].0, 1024)]);
    assert_eq!(
        f.borrow().submitted[1].1,
        BlockOp::Read {
            sector: 4,
            len: 1536
        }
    );
    // The "device" writes the read data in place, then completes both.
    d.mem.write(GuestAddress(r.segs[1].0), &[7; 512]).unwrap();
    d.mem.write(GuestAddress(r.segs[2].0), &[8; 1024]).unwrap();
    let tags: Vec<u32> = segs.iter().map(|s| s.0).collect();
    release(&f, &tags);
    d.notified();
    let used = d.take_used(0);
    assert_eq!(
        used,
        vec![(u32::from(w.head), 1), (u32::from(r.head), 1537)]
    );
    assert_eq!(status_of(&d, &w), status::OK);
    assert_eq!(status_of(&d, &r), status::OK);
    assert_eq!(d.bytes(r.segs[1].0, 512), vec![7; 512]);
    assert_eq!(d.bytes(r.segs[2].0, 1024), vec![8; 1024]);
    let s = d.dev.device().stats();
    assert_eq!(
        (s.zero_copy, s.reads, s.writes, s.read_bytes),
        (2, 1, 1, 1536)
    );
}

#[test]
fn data_outside_the_direct_range_is_copied() {
    let mut f = Fake::new();
    f.sync = true;
    // Only the first 64 KiB of RAM is reachable: the buffers are above it.
    f.direct = Some((GuestAddress(RAM_BASE), 0x1_0000));
    let (mut d, f) = disk(f);
    let w = write_req(&mut d, 1, &[3; 512]);
    d.notify(0);
    assert_eq!(status_of(&d, &w), status::OK);
    assert!(f.borrow().direct_segs.is_empty());
    assert_eq!(f.borrow().read(1, 512), vec![3; 512]);
    assert_eq!(d.dev.device().stats().zero_copy, 0);
}

/// One random request: type, sector, data buffers (lengths), their
/// direction, and whether a status byte is present.
#[derive(Clone, Debug)]
struct RandReq {
    kind: u32,
    sector: u64,
    bufs: Vec<(u16, bool)>,
    status: bool,
}

fn rand_req() -> impl proptest::strategy::Strategy<Value = RandReq> {
    use proptest::prelude::*;
    (
        prop_oneof![
            Just(req::IN),
            Just(req::OUT),
            Just(req::FLUSH),
            Just(req::GET_ID),
            0u32..16
        ],
        prop_oneof![0u64..SECTORS + 2, Just(u64::MAX - 1)],
        proptest::collection::vec((prop_oneof![Just(512u16), 1u16..3000], any::<bool>()), 0..4),
        proptest::bool::weighted(0.9),
    )
        .prop_map(|(kind, sector, bufs, status)| RandReq {
            kind,
            sector,
            bufs,
            status,
        })
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
    /// Whatever the guest posts and in whatever order the backend finishes,
    /// the model never panics, never sends the backend an operation outside
    /// the disk or larger than it takes, answers every chain exactly once
    /// (or drops it at a reset), and only writes status values 0..=2.
    #[test]
    fn random_requests_and_completion_orders(
        reqs in proptest::collection::vec(rand_req(), 1..12),
        order in proptest::collection::vec(proptest::prelude::any::<u8>(), 12),
        reset_at in proptest::option::of(0usize..12),
        direct in proptest::prelude::any::<bool>(),
    ) {
        let mut f = Fake::new();
        f.slots = 3;
        if direct {
            f.direct = Some((GuestAddress(RAM_BASE), RAM_SIZE));
        }
        let (mut d, f) = disk(f);
        let mut posted = Vec::new();
        for (i, r) in reqs.iter().enumerate() {
            if reset_at == Some(i) {
                d.write(regs::STATUS, 0);
                d.init(ALL, 1, 64);
                posted.clear();
            }
            let mut bufs = vec![Buf::Read(header(r.kind, r.sector))];
            // Readable before writable, as the split ring requires (chains
            // breaking that are the transport's to refuse: malformed.rs).
            let mut rb = r.bufs.clone();
            rb.sort_by_key(|b| b.1);
            for &(len, w) in &rb {
                bufs.push(if w { Buf::Write(u32::from(len)) } else { Buf::Read(vec![0x11; usize::from(len)]) });
            }
            if r.status {
                bufs.push(Buf::Write(1));
            }
            posted.push(d.post(0, &bufs, true));
            d.notify(0);
            // Finish some outstanding requests, in a shuffled order.
            let mut out: Vec<u32> = f.borrow().outstanding.keys().copied().collect();
            let k = usize::from(order[i % order.len()]);
            if !out.is_empty() {
                let n = out.len();
                out.rotate_left(k % n);
                out.truncate(1 + k % 3);
                release(&f, &out);
                d.notified();
            }
        }
        // Drain.
        for _ in 0..64 {
            let out: Vec<u32> = f.borrow().outstanding.keys().copied().collect();
            if out.is_empty() {
                break;
            }
            release(&f, &out);
            d.notified();
        }
        assert!(!d.dev.needs_reset());
        for (_, op) in &f.borrow().submitted {
            if let BlockOp::Read { sector, len } | BlockOp::Write { sector, len } = *op {
                assert!(len > 0 && len % 512 == 0 && len <= 8192);
                assert!(sector + u64::from(len) / 512 <= SECTORS);
            }
        }
        let used = d.take_used(0);
        assert_eq!(used.len(), posted.len(), "every chain since the last reset answered once");
        for p in &posted {
            assert!(used.iter().any(|u| u.0 == u32::from(p.head)));
            if p.segs.last().is_some_and(|s| s.2 && s.1 == 1) {
                assert!(status_of(&d, p) <= status::UNSUPP);
            }
        }
        assert_eq!(d.dev.device().stats().in_flight, 0);
    }
}
