//! The driver-side split queue against a hand-played device in plain memory.

use sel4vm_root_task::vq::{DmaRegion, DriverQueue};

struct Mem(Vec<u64>);

impl Mem {
    fn new(bytes: usize) -> Self {
        Mem(vec![0; bytes / 8])
    }
    fn region(&mut self) -> DmaRegion {
        DmaRegion {
            va: self.0.as_mut_ptr() as usize,
            pa: 0x8000_0000,
            len: self.0.len() * 8,
        }
    }
    fn bytes(&mut self) -> &mut [u8] {
        let n = self.0.len() * 8;
        // SAFETY: the u64 buffer viewed as bytes.
        unsafe { std::slice::from_raw_parts_mut(self.0.as_mut_ptr() as *mut u8, n) }
    }
    fn u16_at(&mut self, off: usize) -> u16 {
        u16::from_le_bytes(self.bytes()[off..off + 2].try_into().unwrap())
    }
    fn set_u16(&mut self, off: usize, v: u16) {
        self.bytes()[off..off + 2].copy_from_slice(&v.to_le_bytes());
    }
    fn set_u32(&mut self, off: usize, v: u32) {
        self.bytes()[off..off + 4].copy_from_slice(&v.to_le_bytes());
    }
}

const SIZE: u16 = 8;

#[test]
fn requests_go_out_as_indirect_descriptors_and_come_back_in_any_order() {
    let mut m = Mem::new(DriverQueue::ring_bytes(SIZE));
    let mut q = DriverQueue::new(m.region(), SIZE, false);
    let (d, a, u) = q.areas();
    assert_eq!(d, 0x8000_0000);
    assert_eq!(a - d, 16 * u64::from(SIZE));
    assert_eq!(
        (u - d) % 4096,
        0,
        "used ring on its own page (legacy layout)"
    );
    let (a, u) = ((a - d) as usize, (u - d) as usize);
    let heads: Vec<u16> = (0..3)
        .map(|i| q.push_indirect(0x9000_0000 + 0x1000 * i, 3).unwrap())
        .collect();
    assert_eq!(m.u16_at(a + 2), 3, "avail idx");
    for (i, &h) in heads.iter().enumerate() {
        assert_eq!(m.u16_at(a + 4 + 2 * i), h);
        let desc = &m.bytes()[16 * h as usize..16 * h as usize + 16];
        assert_eq!(
            u64::from_le_bytes(desc[0..8].try_into().unwrap()),
            0x9000_0000 + 0x1000 * i as u64
        );
        assert_eq!(u32::from_le_bytes(desc[8..12].try_into().unwrap()), 48);
        assert_eq!(
            u16::from_le_bytes(desc[12..14].try_into().unwrap()),
            4,
            "INDIRECT"
        );
    }
    assert_eq!(q.outstanding(), 3);
    assert!(q.should_notify(), "no NO_NOTIFY flag");
    // The device returns the second, then the first.
    assert_eq!(q.pop_used(), None);
    for (slot, h) in [(0usize, heads[1]), (1, heads[0])] {
        m.set_u32(u + 4 + 8 * slot, u32::from(h));
        m.set_u32(u + 8 + 8 * slot, 17);
    }
    m.set_u16(u + 2, 2);
    assert_eq!(q.pop_used(), Some((heads[1], 17)));
    assert_eq!(q.pop_used(), Some((heads[0], 17)));
    assert_eq!(q.pop_used(), None);
    assert_eq!(q.outstanding(), 1);
    // A full ring refuses more.
    let mut n = 0;
    while q.push_indirect(0, 1).is_some() {
        n += 1;
    }
    assert_eq!(n, SIZE as usize - 1);
}

#[test]
fn a_device_returning_a_free_head_is_ignored() {
    let mut m = Mem::new(DriverQueue::ring_bytes(SIZE));
    let mut q = DriverQueue::new(m.region(), SIZE, false);
    let (d, _, u) = q.areas();
    let u = (u - d) as usize;
    let h = q.push_indirect(0x1000, 2).unwrap();
    m.set_u32(u + 4, u32::from(h) + 1);
    m.set_u16(u + 2, 1);
    assert_eq!(q.pop_used(), None);
    assert_eq!(q.outstanding(), 1);
}

#[test]
fn event_idx_notifies_only_when_the_device_asks() {
    let mut m = Mem::new(DriverQueue::ring_bytes(SIZE));
    let mut q = DriverQueue::new(m.region(), SIZE, true);
    let (d, a, u) = q.areas();
    let (a, u) = ((a - d) as usize, (u - d) as usize);
    let avail_event = u + 4 + 8 * SIZE as usize;
    // The device wants to hear about entry 0 (avail_event = 0).
    q.push_indirect(0x1000, 2).unwrap();
    assert!(q.should_notify());
    // It is busy and asks only after entry 3: no kicks for 1 and 2.
    m.set_u16(avail_event, 3);
    q.push_indirect(0x2000, 2).unwrap();
    assert!(!q.should_notify());
    q.push_indirect(0x3000, 2).unwrap();
    assert!(!q.should_notify());
    q.push_indirect(0x4000, 2).unwrap();
    assert!(q.should_notify());
    // Popping arms used_event for the next completion.
    let h = m.u16_at(a + 4);
    m.set_u32(u + 4, u32::from(h));
    m.set_u16(u + 2, 1);
    assert!(q.pop_used().is_some());
    assert_eq!(m.u16_at(a + 4 + 2 * SIZE as usize), 1, "used_event");
}
