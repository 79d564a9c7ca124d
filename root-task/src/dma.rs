//! DMA memory for the drivers the VMM runs (today the disk): a few 2 MiB
//! RAM frames mapped into the VMM, with their physical addresses, handed
//! out by `virtio_drivers::Hal`. The real device is only ever given
//! addresses inside this pool.
//!
//! Mapped cacheable: QEMU's devices are cache-coherent. A board whose DMA
//! is not coherent would need the pool mapped uncached (or cache
//! maintenance around each request).

use alloc::vec::Vec;
use core::cell::RefCell;
use core::ptr::NonNull;

use sel4_abi::CapRights;
use sel4_rt::objects::ObjectKind;
use sel4_rt::vspace::{VM_ATTRS_DEFAULT, VM_ATTRS_EXECUTE_NEVER};
use sel4_rt::RootKernel;
use sel4vm_sel4::Resources;
use virtio_drivers::{BufferDirection, Hal, PhysAddr, PAGE_SIZE};

const FRAME_BITS: u8 = 21;
const FRAME: usize = 1 << FRAME_BITS;

struct Pool {
    va: usize,
    /// Physical address of each 2 MiB frame, in VA order.
    frames: Vec<u64>,
    /// Bump pointer (offset from `va`); memory is never given back.
    next: usize,
}

struct Global(RefCell<Option<Pool>>);
// SAFETY: the root task is one thread; nothing here is reached from another
// thread or an interrupt context.
unsafe impl Sync for Global {}

static POOL: Global = Global(RefCell::new(None));

/// Allocates and maps `frames` 2 MiB frames as the DMA pool.
pub fn init(res: &mut Resources, frames: usize) -> Result<(), alloc::string::String> {
    use alloc::format;
    let kind = ObjectKind::frame(FRAME_BITS).ok_or("no 2 MiB frames")?;
    let va = res
        .vspace
        .reserve((frames * FRAME) as u64, FRAME_BITS)
        .map_err(|e| format!("DMA pool VA: {e}"))?;
    let mut pas = Vec::with_capacity(frames);
    for i in 0..frames {
        let f = res
            .objects
            .alloc(&mut RootKernel, kind)
            .map_err(|e| format!("DMA pool frame: {e}"))?;
        res.vspace
            .map_at(
                &mut RootKernel,
                &mut res.objects,
                f.cap,
                va + (i * FRAME) as u64,
                CapRights::READ_WRITE,
                VM_ATTRS_DEFAULT | VM_ATTRS_EXECUTE_NEVER,
            )
            .map_err(|e| format!("mapping DMA pool: {e}"))?;
        pas.push(f.paddr);
    }
    *POOL.0.borrow_mut() = Some(Pool {
        va: va as usize,
        frames: pas,
        next: 0,
    });
    Ok(())
}

/// The `Hal` of the VMM's drivers.
pub struct DmaHal;

fn translate(p: &Pool, addr: usize, len: usize) -> Option<u64> {
    let off = addr.checked_sub(p.va)?;
    let frame = off / FRAME;
    // A buffer must not cross a frame: frames are not physically adjacent.
    if len == 0 || (off + len - 1) / FRAME != frame {
        return None;
    }
    Some(*p.frames.get(frame)? + (off % FRAME) as u64)
}

// SAFETY: dma_alloc returns zeroed, page-aligned memory of the pool that is
// never handed out twice; share translates only addresses inside it.
unsafe impl Hal for DmaHal {
    fn dma_alloc(pages: usize, _dir: BufferDirection) -> (PhysAddr, NonNull<u8>) {
        let mut g = POOL.0.borrow_mut();
        let p = g.as_mut().expect("DMA pool used before dma::init");
        let len = pages * PAGE_SIZE;
        assert!(
            len <= FRAME,
            "DMA allocation of {len} bytes exceeds a frame"
        );
        let mut off = p.next;
        if off / FRAME != (off + len - 1) / FRAME {
            off = off.next_multiple_of(FRAME);
        }
        assert!(
            off + len <= p.frames.len() * FRAME,
            "DMA pool exhausted ({pages} pages)"
        );
        p.next = off + len;
        let va = p.va + off;
        // SAFETY: [va, va + len) is pool memory nobody else was given.
        unsafe { core::ptr::write_bytes(va as *mut u8, 0, len) };
        let pa = translate(p, va, len).expect("inside the pool");
        (
            pa as PhysAddr,
            NonNull::new(va as *mut u8).expect("non-null"),
        )
    }

    unsafe fn dma_dealloc(_paddr: PhysAddr, _vaddr: NonNull<u8>, _pages: usize) -> i32 {
        // The disk lives as long as the VMM; the pool is never reused.
        0
    }

    unsafe fn mmio_phys_to_virt(paddr: PhysAddr, _size: usize) -> NonNull<u8> {
        // Only the PCI transport asks; the VMM uses MMIO transports.
        panic!("mmio_phys_to_virt({paddr:#x}) without a PCI transport");
    }

    unsafe fn share(buffer: NonNull<[u8]>, _dir: BufferDirection) -> PhysAddr {
        let g = POOL.0.borrow();
        let p = g.as_ref().expect("DMA pool used before dma::init");
        let addr = buffer.as_ptr() as *mut u8 as usize;
        // The drivers only queue buffers they took from dma_alloc.
        translate(p, addr, buffer.len()).unwrap_or_else(|| {
            panic!(
                "DMA of a buffer outside the pool ({addr:#x}, {} bytes)",
                buffer.len()
            )
        }) as PhysAddr
    }

    unsafe fn unshare(_paddr: PhysAddr, _buffer: NonNull<[u8]>, _dir: BufferDirection) {}
}
