//! Cache maintenance around VMM accesses to guest memory, for only the
//! bytes touched.
//!
//! The VMM sees guest frames through a cacheable mapping. A guest running
//! with its caches off (every vCPU starts with `SCTLR_EL1.C = 0`) reads and
//! writes memory directly, so the VMM must drop stale lines before it reads
//! and push its writes out (and make them visible to instruction fetch)
//! afterwards. A guest with caches on — Linux, and its virtio drivers,
//! which use ordinary cacheable memory for rings and buffers — needs none.
//! Backends turn the plans made here into kernel invocations
//! (`seL4_ARM_Page_CleanInvalidate_Data`, `seL4_ARM_Page_Unify_Instruction`);
//! the host backend records them so that tests can check them.

use alloc::vec::Vec;

/// Whether the backend maintains caches around VMM accesses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheMaintenance {
    /// None: the guest is known to use cacheable memory.
    None,
    /// Clean/invalidate the touched bytes with kernel invocations on the
    /// VMM's frame caps (one invocation per frame before a read or a write
    /// that does not cover whole cache lines; two after a write).
    Kernel,
}

/// One cache operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheOp {
    /// Write back and invalidate data lines (`seL4_ARM_Page_CleanInvalidate_Data`).
    CleanInvalidateData,
    /// Make the instruction cache coherent (`seL4_ARM_Page_Unify_Instruction`).
    UnifyInstruction,
}

/// An operation on bytes `[start, end)` of frame `frame` of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameCacheOp {
    /// Index of the frame in the run handed to the backend.
    pub frame: usize,
    /// The operation.
    pub op: CacheOp,
    /// First byte, from the start of that frame.
    pub start: u64,
    /// End (exclusive), from the start of that frame.
    pub end: u64,
}

/// The bytes of a frame run the VMM is about to touch, and how.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Touch {
    /// First byte, from the start of the run.
    pub start: u64,
    /// End (exclusive), from the start of the run.
    pub end: u64,
    /// The VMM may write (a plain read needs nothing afterwards).
    pub write: bool,
    /// The guest accesses these bytes cacheably: no maintenance needed.
    pub coherent: bool,
}

impl Touch {
    /// All of a run of `len` bytes, read and written, not known coherent.
    pub fn whole(len: u64) -> Self {
        Touch {
            start: 0,
            end: len,
            write: true,
            coherent: false,
        }
    }
}

/// Cache line size assumed for partial-line writes (Arm's smallest CWG is
/// 16 bytes; 64 covers every core QEMU and common boards have).
const LINE: u64 = 64;

/// When in the access.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Before the VMM touches the bytes.
    Before,
    /// After.
    After,
}

/// Appends to `out` the operations `policy` needs at `phase` of `touch`
/// over a run of frames of `sizes` bytes each.
pub fn plan(
    policy: CacheMaintenance,
    sizes: &[u64],
    touch: Touch,
    phase: Phase,
    out: &mut Vec<FrameCacheOp>,
) {
    if policy == CacheMaintenance::None || touch.coherent || touch.start >= touch.end {
        return;
    }
    let partial = !touch.start.is_multiple_of(LINE) || !touch.end.is_multiple_of(LINE);
    let ops: &[CacheOp] = match phase {
        // Drop stale lines before reading, and before a write that leaves
        // parts of a line to a later write-back.
        Phase::Before if !touch.write || partial => &[CacheOp::CleanInvalidateData],
        Phase::Before => &[],
        Phase::After if touch.write => &[CacheOp::CleanInvalidateData, CacheOp::UnifyInstruction],
        Phase::After => &[],
    };
    if ops.is_empty() {
        return;
    }
    let mut base = 0;
    for (i, &size) in sizes.iter().enumerate() {
        let lo = touch.start.max(base);
        let hi = touch.end.min(base + size);
        if lo < hi {
            for &op in ops {
                out.push(FrameCacheOp {
                    frame: i,
                    op,
                    start: lo - base,
                    end: hi - base,
                });
            }
        }
        base += size;
        if base >= touch.end {
            break;
        }
    }
}
