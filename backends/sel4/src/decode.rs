//! Pure translations between seL4 values and the core's backend types:
//! received messages to [`Event`]s, kernel/allocator errors to
//! [`BackendError`], stage-2 rights to seL4 rights and attributes, and the
//! VMM address window for guest frames. No kernel calls here, so all of it
//! is tested on the host.

use alloc::vec::Vec;

use sel4_abi::arch::VmAttributes;
use sel4_abi::fault::{Fault, VgicMaintenance};
use sel4_abi::CapRights;
use sel4_rt::objects::AllocError;
use sel4_rt::vspace::MapError;
use sel4vm::backend::badge::{self, Sender};
use sel4vm::{BackendError, Event, Rights, VcpuId, VcpuReg, PAGE_SIZE};

/// What one `seL4_Recv` on the VMM endpoint delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Received {
    /// An event for the core. For vCPU events the sender waits for a reply.
    Event(Event),
    /// A message with badge 0: no cap the backend handed out sends those;
    /// the backend drops it and keeps waiting.
    Unbadged {
        /// The message label.
        label: u64,
    },
}

/// Decodes a received message: the badge says who sent it (see
/// [`sel4vm::backend::badge`]), the label and MRs say what happened.
///
/// A notification delivered through the bound notification arrives with
/// the notification word as badge and label 0; its badge always has
/// [`badge::NOTIFICATION_BIT`] set, so it is classified before the label is
/// looked at. A cap fault is a guest HVC that the kernel took as a seL4
/// call ([`Event::SyscallCapFault`]). Labels the kernel never sends for a
/// vCPU thread and malformed messages (a guest can forge both by calling
/// its own fault endpoint) become [`Event::UnknownFault`] so the core can
/// stop the VM with a reason instead of the VMM crashing.
pub fn decode_message(label: u64, badge_word: u64, mrs: &[u64]) -> Received {
    let vcpu = match badge::decode(badge_word) {
        Sender::Notification(b) => return Received::Event(Event::Notification { badge: b }),
        Sender::Unbadged => return Received::Unbadged { label },
        Sender::Vcpu(v) => v,
    };
    Received::Event(fault_event(vcpu, label, mrs))
}

fn fault_event(vcpu: VcpuId, label: u64, mrs: &[u64]) -> Event {
    let unknown = Event::UnknownFault { vcpu, label };
    match Fault::decode(label, mrs) {
        Ok(Fault::Vm(f)) => Event::VmFault {
            vcpu,
            ip: f.ip,
            addr: f.addr,
            // ESR_EL2 is a 32-bit syndrome; the kernel sends it in a word.
            fsr: f.fsr as u32,
            prefetch: f.prefetch,
        },
        Ok(Fault::Vcpu(f)) => Event::VcpuFault { vcpu, hsr: f.hsr },
        Ok(Fault::VgicMaintenance(VgicMaintenance { idx })) => Event::VgicMaintenance {
            vcpu,
            lr: idx.and_then(|i| u32::try_from(i).ok()),
        },
        Ok(Fault::VppiEvent(e)) => match u32::try_from(e.irq) {
            Ok(irq) => Event::VppiEvent { vcpu, irq },
            Err(_) => unknown,
        },
        Ok(Fault::UnknownSyscall(s)) => Event::UnknownSyscall {
            vcpu,
            ip: s.fault_ip,
            syscall: s.syscall,
        },
        Ok(Fault::UserException(e)) => Event::UserException {
            vcpu,
            ip: e.fault_ip,
            number: e.number,
            code: e.code,
        },
        Ok(Fault::Cap(c)) => Event::SyscallCapFault {
            vcpu,
            ip: c.ip,
            cptr: c.addr,
        },
        Ok(Fault::Null) | Err(_) => unknown,
    }
}

/// Maps a kernel error to the core's error type (the seL4 error number).
pub fn kernel_error(e: sel4_abi::Error) -> BackendError {
    BackendError::Kernel(u32::try_from(e.code()).unwrap_or(u32::MAX))
}

/// Maps an allocator failure; `paddr` is the physical address asked for, if any.
pub fn alloc_error(e: AllocError, paddr: Option<u64>) -> BackendError {
    match e {
        AllocError::OutOfMemory { .. } | AllocError::OutOfSlots => BackendError::OutOfMemory,
        AllocError::NoDeviceUntyped { paddr } | AllocError::AddressInUse { paddr } => {
            BackendError::PhysUnavailable(paddr)
        }
        AllocError::InvalidRequest(_) => match paddr {
            Some(pa) => BackendError::PhysUnavailable(pa),
            None => BackendError::Unsupported,
        },
        AllocError::InvalidHandle => BackendError::InvalidFrame,
        AllocError::Kernel(k) => kernel_error(k),
    }
}

/// Maps a mapping failure at `addr` (an IPA or a VMM address).
pub fn map_error(e: MapError, addr: u64) -> BackendError {
    match e {
        MapError::Alloc(a) => alloc_error(a, None),
        MapError::AlreadyMapped { .. } | MapError::NoVirtualSpace => {
            BackendError::InvalidAddress(addr)
        }
        MapError::Kernel(sel4_abi::Error::DeleteFirst) => BackendError::InvalidAddress(addr),
        MapError::Kernel(k) => kernel_error(k),
    }
}

/// seL4 rights and attributes for a stage-2 mapping with `rights`.
///
/// Guest RAM is mapped cacheable (the guest picks its own memory types with
/// its stage-1 tables; stage 2 only limits them). Execute permission maps to
/// the absence of `seL4_ARM_ExecuteNever`.
pub fn stage2_rights(rights: Rights) -> (CapRights, VmAttributes) {
    let r = CapRights::new(false, false, rights.read, rights.write);
    let mut attrs = VmAttributes::DEFAULT;
    if !rights.execute {
        attrs = attrs | VmAttributes::EXECUTE_NEVER;
    }
    (r, attrs)
}

/// The ABI crate's register number for a core [`VcpuReg`].
pub fn vcpu_reg(reg: VcpuReg) -> sel4_abi::VcpuReg {
    use sel4_abi::VcpuReg as R;
    match reg {
        VcpuReg::Sctlr => R::Sctlr,
        VcpuReg::Cpacr => R::Cpacr,
        VcpuReg::Ttbr0 => R::Ttbr0,
        VcpuReg::Ttbr1 => R::Ttbr1,
        VcpuReg::Tcr => R::Tcr,
        VcpuReg::Mair => R::Mair,
        VcpuReg::Amair => R::Amair,
        VcpuReg::Cidr => R::Cidr,
        VcpuReg::Actlr => R::Actlr,
        VcpuReg::Afsr0 => R::Afsr0,
        VcpuReg::Afsr1 => R::Afsr1,
        VcpuReg::Esr => R::Esr,
        VcpuReg::Far => R::Far,
        VcpuReg::Par => R::Par,
        VcpuReg::Vbar => R::Vbar,
        VcpuReg::TpidrEl1 => R::TpidrEl1,
        VcpuReg::VmpidrEl2 => R::VmpidrEl2,
        VcpuReg::SpEl1 => R::SpEl1,
        VcpuReg::ElrEl1 => R::ElrEl1,
        VcpuReg::SpsrEl1 => R::SpsrEl1,
        VcpuReg::CntvCtl => R::CntvCtl,
        VcpuReg::CntvCval => R::CntvCval,
        VcpuReg::Cntvoff => R::Cntvoff,
        VcpuReg::CntkctlEl1 => R::CntkctlEl1,
    }
}

/// Allocator for the VMM virtual window that guest frames are permanently
/// mapped into: 4 KiB slots and 2 MiB-aligned 2 MiB slots. Addresses are
/// handed out in increasing order while the window is fresh, so frames
/// allocated one after another (guest RAM) are contiguous in the VMM too;
/// freed slots are reused last-freed first.
#[derive(Debug)]
pub struct VaWindow {
    base: u64,
    size: u64,
    /// Bytes from `base` handed out by bump allocation.
    next: u64,
    free_small: Vec<u64>,
    free_large: Vec<u64>,
    in_use: u64,
}

/// log2 of the 4 KiB page size.
pub const SMALL_BITS: u32 = 12;
/// log2 of the 2 MiB large page size.
pub const LARGE_BITS: u32 = 21;

impl VaWindow {
    /// A window of `size` bytes at `base`; `base` must be 2 MiB aligned for
    /// large slots to be naturally aligned.
    pub fn new(base: u64, size: u64) -> Self {
        Self {
            base,
            size,
            next: 0,
            free_small: Vec::new(),
            free_large: Vec::new(),
            in_use: 0,
        }
    }

    /// First address of the window.
    pub fn base(&self) -> u64 {
        self.base
    }

    /// Size of the window in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Takes a free, naturally aligned slot of `2^bits` bytes (`bits` is
    /// [`SMALL_BITS`] or [`LARGE_BITS`]); `None` when the window is full.
    pub fn alloc(&mut self, bits: u32) -> Option<u64> {
        let list = match bits {
            SMALL_BITS => &mut self.free_small,
            LARGE_BITS => &mut self.free_large,
            _ => return None,
        };
        let bytes = 1u64 << bits;
        if let Some(va) = list.pop() {
            self.in_use += bytes;
            return Some(va);
        }
        let start = (self.base + self.next).next_multiple_of(bytes) - self.base;
        if start.checked_add(bytes)? > self.size {
            return None;
        }
        // Pages skipped for alignment stay usable for small frames (highest
        // first on the list so the lowest is reused first).
        let mut gap = start;
        while gap > self.next {
            gap -= PAGE_SIZE;
            self.free_small.push(self.base + gap);
        }
        self.next = start + bytes;
        self.in_use += bytes;
        Some(self.base + start)
    }

    /// Returns a slot from [`VaWindow::alloc`] with the same `bits`; addresses
    /// outside the window, misaligned or already free are ignored.
    pub fn free(&mut self, va: u64, bits: u32) {
        let (list, bytes) = match bits {
            SMALL_BITS => (&mut self.free_small, PAGE_SIZE),
            LARGE_BITS => (&mut self.free_large, 1u64 << LARGE_BITS),
            _ => return,
        };
        let inside = va >= self.base && va - self.base < self.next && va.is_multiple_of(bytes);
        if inside && !list.contains(&va) {
            list.push(va);
            self.in_use -= bytes;
        }
    }

    /// Bytes currently handed out.
    pub fn in_use(&self) -> u64 {
        self.in_use
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VCPU0: u64 = 1; // badge::for_vcpu(VcpuId(0))

    #[test]
    fn vm_fault_from_vcpu_badge() {
        let r = decode_message(5, VCPU0, &[0x4000_0010, 0x2000_0004, 0, 0x9300_0046]);
        assert_eq!(
            r,
            Received::Event(Event::VmFault {
                vcpu: VcpuId(0),
                ip: 0x4000_0010,
                addr: 0x2000_0004,
                fsr: 0x9300_0046,
                prefetch: false
            })
        );
        let r = decode_message(5, 3, &[1, 2, 1, 0x8200_0006]);
        assert!(matches!(
            r,
            Received::Event(Event::VmFault {
                vcpu: VcpuId(2),
                prefetch: true,
                ..
            })
        ));
    }

    #[test]
    fn hyp_faults() {
        assert_eq!(
            decode_message(7, VCPU0, &[0x5a00_0000]),
            Received::Event(Event::VcpuFault {
                vcpu: VcpuId(0),
                hsr: 0x5a00_0000
            })
        );
        assert_eq!(
            decode_message(6, VCPU0, &[u64::MAX]),
            Received::Event(Event::VgicMaintenance {
                vcpu: VcpuId(0),
                lr: None
            })
        );
        assert_eq!(
            decode_message(6, VCPU0, &[3]),
            Received::Event(Event::VgicMaintenance {
                vcpu: VcpuId(0),
                lr: Some(3)
            })
        );
        assert_eq!(
            decode_message(8, VCPU0, &[27]),
            Received::Event(Event::VppiEvent {
                vcpu: VcpuId(0),
                irq: 27
            })
        );
        // An IRQ number that does not fit is not silently truncated.
        assert_eq!(
            decode_message(8, VCPU0, &[1 << 40]),
            Received::Event(Event::UnknownFault {
                vcpu: VcpuId(0),
                label: 8
            })
        );
    }

    #[test]
    fn syscall_and_exception() {
        let mut m = [0u64; 13];
        m[8] = 0x4000_0100;
        m[12] = 42;
        assert_eq!(
            decode_message(2, VCPU0, &m),
            Received::Event(Event::UnknownSyscall {
                vcpu: VcpuId(0),
                ip: 0x4000_0100,
                syscall: 42
            })
        );
        assert_eq!(
            decode_message(3, VCPU0, &[0x10, 0x20, 0x3c5, 4, 5]),
            Received::Event(Event::UserException {
                vcpu: VcpuId(0),
                ip: 0x10,
                number: 4,
                code: 5
            })
        );
    }

    #[test]
    fn malformed_and_foreign_messages() {
        // Too short for a VM fault.
        assert_eq!(
            decode_message(5, VCPU0, &[1, 2]),
            Received::Event(Event::UnknownFault {
                vcpu: VcpuId(0),
                label: 5
            })
        );
        // Unknown label.
        assert_eq!(
            decode_message(99, VCPU0, &[]),
            Received::Event(Event::UnknownFault {
                vcpu: VcpuId(0),
                label: 99
            })
        );
        // A cap fault is a guest HVC the kernel took as a seL4 call.
        assert_eq!(
            decode_message(1, VCPU0, &[0x4000_0100, 2, 0, 1]),
            Received::Event(Event::SyscallCapFault {
                vcpu: VcpuId(0),
                ip: 0x4000_0100,
                cptr: 2
            })
        );
        // So is one with a truncated lookup failure.
        assert!(matches!(
            decode_message(1, VCPU0, &[0, 0]),
            Received::Event(Event::UnknownFault { label: 1, .. })
        ));
        assert_eq!(
            decode_message(5, 0, &[1, 2, 3, 4]),
            Received::Unbadged { label: 5 }
        );
    }

    #[test]
    fn notifications_win_over_labels() {
        let b = badge::for_notification(0b101).unwrap();
        // Label and MRs are leftovers from the Recv arguments; ignored.
        assert_eq!(
            decode_message(0, b, &[]),
            Received::Event(Event::Notification { badge: b })
        );
        assert_eq!(
            decode_message(5, b, &[1, 2, 3, 4]),
            Received::Event(Event::Notification { badge: b })
        );
    }

    #[test]
    fn errors_map_to_backend_errors() {
        assert_eq!(
            kernel_error(sel4_abi::Error::FailedLookup),
            BackendError::Kernel(6)
        );
        assert_eq!(
            alloc_error(AllocError::OutOfSlots, None),
            BackendError::OutOfMemory
        );
        assert_eq!(
            alloc_error(
                AllocError::AddressInUse { paddr: 0x4000_0000 },
                Some(0x4000_0000)
            ),
            BackendError::PhysUnavailable(0x4000_0000)
        );
        assert_eq!(
            alloc_error(AllocError::InvalidRequest("x"), Some(0x123)),
            BackendError::PhysUnavailable(0x123)
        );
        assert_eq!(
            map_error(MapError::AlreadyMapped { vaddr: 0x1000 }, 0x1000),
            BackendError::InvalidAddress(0x1000)
        );
        assert_eq!(
            map_error(MapError::Kernel(sel4_abi::Error::DeleteFirst), 0x2000),
            BackendError::InvalidAddress(0x2000)
        );
        assert_eq!(
            map_error(
                MapError::Alloc(AllocError::OutOfMemory { size_bits: 12 }),
                0
            ),
            BackendError::OutOfMemory
        );
    }

    #[test]
    fn rights_and_registers() {
        let (r, a) = stage2_rights(Rights::ALL);
        assert!(r.can_read() && r.can_write() && !r.can_grant());
        assert_eq!(a, VmAttributes::DEFAULT);
        let (r, a) = stage2_rights(Rights::READ_ONLY);
        assert!(r.can_read() && !r.can_write());
        assert_eq!(a.into_word(), 3 | 4);
        for i in 0..u64::from(VcpuReg::COUNT) {
            let reg = VcpuReg::from_index(i).unwrap();
            assert_eq!(vcpu_reg(reg).raw(), i);
        }
    }

    #[test]
    fn window_allocates_reuses_and_fills_up() {
        const B: u64 = 0x20_0000_0000;
        let mut w = VaWindow::new(B, 3 * PAGE_SIZE);
        let a = w.alloc(SMALL_BITS).unwrap();
        let b = w.alloc(SMALL_BITS).unwrap();
        assert_eq!((a, b), (B, B + 0x1000));
        w.free(a, SMALL_BITS);
        w.free(a, SMALL_BITS); // double free ignored
        w.free(0x1234, SMALL_BITS); // foreign address ignored
        w.free(B + 0x2000, SMALL_BITS); // never handed out: ignored
        assert_eq!(w.in_use(), PAGE_SIZE);
        assert_eq!(w.alloc(SMALL_BITS), Some(a));
        assert_eq!(w.alloc(SMALL_BITS), Some(B + 0x2000));
        assert_eq!(w.alloc(SMALL_BITS), None);
        assert_eq!(w.alloc(LARGE_BITS), None);
        assert_eq!(w.alloc(13), None);
        assert_eq!(w.size(), 3 * PAGE_SIZE);
    }

    #[test]
    fn window_large_slots_are_aligned_and_gaps_reused() {
        const B: u64 = 0x20_0000_0000;
        const L: u64 = 1 << LARGE_BITS;
        let mut w = VaWindow::new(B, 4 * L);
        // Consecutive large slots are contiguous.
        assert_eq!(w.alloc(LARGE_BITS), Some(B));
        assert_eq!(w.alloc(LARGE_BITS), Some(B + L));
        // A small one, then a large one skips to the next 2 MiB boundary...
        assert_eq!(w.alloc(SMALL_BITS), Some(B + 2 * L));
        assert_eq!(w.alloc(LARGE_BITS), Some(B + 3 * L));
        // ...and the skipped pages serve small requests, lowest first.
        assert_eq!(w.alloc(SMALL_BITS), Some(B + 2 * L + PAGE_SIZE));
        assert_eq!(w.alloc(SMALL_BITS), Some(B + 2 * L + 2 * PAGE_SIZE));
        assert_eq!(w.alloc(LARGE_BITS), None);
        w.free(B + L, LARGE_BITS);
        assert_eq!(w.alloc(LARGE_BITS), Some(B + L));
        assert_eq!(w.in_use(), 3 * L + 3 * PAGE_SIZE);
    }
}
