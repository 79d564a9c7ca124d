//! Host kernel backend for `sel4vm`: guest RAM lives in host memory, the
//! stage-2 table and register files are plain maps, and events come from a
//! queue the test fills. Every effect the VM has on the "kernel" is recorded
//! so tests can assert exactly what happened.

use std::collections::{BTreeMap, VecDeque};

use sel4vm::cache::{CacheMaintenance, FrameCacheOp, Phase, Touch};
use sel4vm::{
    badge, Backend, BackendError, CSpaceInfo, Event, FrameHandle, KernelObject, Rights,
    UserContext, VcpuId, VcpuObjects, VcpuReg, VirqInjection, LARGE_PAGE_SIZE, PAGE_SIZE,
    VM_CSPACE_ROOT_DATA, VM_CSPACE_SIZE_BITS, VM_FAULT_EP_SLOT,
};

/// Something the VM asked the host "kernel" to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostAction {
    /// Reply to `vcpu`'s fault; `pc` is its PC at that moment.
    Reply {
        /// The vCPU.
        vcpu: VcpuId,
        /// PC it resumes at.
        pc: u64,
    },
    /// A virtual IRQ was put in a list register.
    Inject {
        /// The vCPU.
        vcpu: VcpuId,
        /// What was injected.
        irq: VirqInjection,
    },
    /// A VPPI was acknowledged.
    AckVppi {
        /// The vCPU.
        vcpu: VcpuId,
        /// The PPI.
        irq: u32,
    },
    /// The vCPU thread was resumed.
    Start(VcpuId),
    /// The vCPU thread was suspended.
    Stop(VcpuId),
    /// The runnable vCPU was made to run next ([`Backend::yield_to`]).
    YieldTo(VcpuId),
}

/// Bytes of host address space in one arena: 1 GiB, the default size of
/// `sel4vm-sel4`'s VMM window. The OS commits arena pages only when they are
/// first touched, so an unused arena costs address space only.
const ARENA_SIZE: usize = 1 << 30;

/// A zeroed block of `ARENA_SIZE` bytes starting at a 2 MiB-aligned address.
struct Arena {
    /// What the allocator returned (kept for `dealloc`).
    raw: std::ptr::NonNull<u8>,
    /// `raw` rounded up to 2 MiB.
    base: *mut u8,
}

impl Arena {
    fn layout() -> std::alloc::Layout {
        // Alignment <= the allocator's minimum lets `alloc_zeroed` use
        // `calloc`, which maps fresh zero pages instead of writing zeros (a
        // 2 MiB alignment request would make std zero the whole gigabyte).
        // The extra 2 MiB is slack for aligning `base` by hand.
        std::alloc::Layout::from_size_align(
            ARENA_SIZE + LARGE_PAGE_SIZE as usize,
            std::mem::align_of::<u64>(),
        )
        .expect("arena layout")
    }

    fn new() -> Self {
        // SAFETY: the layout has non-zero size.
        let p = unsafe { std::alloc::alloc_zeroed(Self::layout()) };
        let raw = std::ptr::NonNull::new(p)
            .unwrap_or_else(|| std::alloc::handle_alloc_error(Self::layout()));
        let skip = p.align_offset(LARGE_PAGE_SIZE as usize);
        assert!(skip <= LARGE_PAGE_SIZE as usize, "arena alignment");
        // SAFETY: `skip` <= the 2 MiB of slack, so `base + ARENA_SIZE` stays
        // inside the allocation.
        let base = unsafe { p.add(skip) };
        Self { raw, base }
    }
}

impl Drop for Arena {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with the same layout.
        unsafe { std::alloc::dealloc(self.raw.as_ptr(), Self::layout()) }
    }
}

/// Where a frame's bytes live: arena index and byte offset (a multiple of
/// the frame's size). Derived ordering = address order within an arena.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Slot {
    arena: usize,
    offset: usize,
}

/// Hands out 4 KiB and 2 MiB-aligned 2 MiB slots of the arenas, the same way
/// `sel4vm-sel4`'s window allocator hands out VMM addresses: bump allocation
/// in increasing order (pages skipped to align a 2 MiB slot become 4 KiB
/// slots), freed slots reused lowest address first, so frames allocated one
/// after another sit next to each other whatever their size.
#[derive(Default)]
struct ArenaAlloc {
    arenas: Vec<Arena>,
    /// Bytes of the last arena handed out by bump allocation.
    next: usize,
    free_small: std::collections::BTreeSet<Slot>,
    free_large: std::collections::BTreeSet<Slot>,
}

impl ArenaAlloc {
    /// A zeroed slot of `size` bytes (`PAGE_SIZE` or `LARGE_PAGE_SIZE`).
    fn alloc(&mut self, size: usize) -> Slot {
        let free = if size == PAGE_SIZE as usize {
            &mut self.free_small
        } else {
            &mut self.free_large
        };
        if let Some(slot) = free.pop_first() {
            // Used before (or at least not known to be untouched): clear it,
            // as a frame retyped from untyped memory reads as zero.
            self.bytes_mut(slot, size).fill(0);
            return slot;
        }
        let mut start = self.next.next_multiple_of(size);
        if self.arenas.is_empty() || start + size > ARENA_SIZE {
            // Whatever 4 KiB slots remain at the end stay usable.
            self.release_gap(ARENA_SIZE);
            self.arenas.push(Arena::new());
            self.next = 0;
            start = 0;
        }
        self.release_gap(start);
        self.next = start + size;
        // Never handed out before: still zero from `alloc_zeroed`.
        Slot {
            arena: self.arenas.len() - 1,
            offset: start,
        }
    }

    /// Moves the untouched pages of the last arena between `next` and `to`
    /// to the free 4 KiB list.
    fn release_gap(&mut self, to: usize) {
        if let Some(arena) = self.arenas.len().checked_sub(1) {
            let page = PAGE_SIZE as usize;
            self.free_small.extend(
                (self.next..to)
                    .step_by(page)
                    .map(|offset| Slot { arena, offset }),
            );
            self.next = to;
        }
    }

    fn free(&mut self, slot: Slot, size: usize) {
        if size == PAGE_SIZE as usize {
            self.free_small.insert(slot);
        } else {
            self.free_large.insert(slot);
        }
    }

    fn ptr(&self, slot: Slot) -> *mut u8 {
        debug_assert!(slot.offset < ARENA_SIZE);
        // SAFETY: slots lie within the arena's `ARENA_SIZE` bytes.
        unsafe { self.arenas[slot.arena].base.add(slot.offset) }
    }

    /// `len` bytes from `slot` (which may cover several adjacent slots).
    fn bytes(&self, slot: Slot, len: usize) -> &[u8] {
        assert!(slot.offset + len <= ARENA_SIZE);
        // SAFETY: in bounds of the arena; `&self` prevents concurrent `&mut`.
        unsafe { std::slice::from_raw_parts(self.ptr(slot), len) }
    }

    fn bytes_mut(&mut self, slot: Slot, len: usize) -> &mut [u8] {
        assert!(slot.offset + len <= ARENA_SIZE);
        // SAFETY: in bounds of the arena; `&mut self` gives exclusive access.
        unsafe { std::slice::from_raw_parts_mut(self.ptr(slot), len) }
    }
}

struct HostFrame {
    slot: Slot,
    /// `PAGE_SIZE` or `LARGE_PAGE_SIZE`.
    size: u64,
    paddr: u64,
}

/// Per-vCPU state of the host "kernel".
#[derive(Clone, Debug, Default)]
pub struct HostVcpu {
    /// Thread registers.
    pub ctx: UserContext,
    /// Banked VCPU registers, by `seL4_VCPUReg` number.
    pub regs: [u64; VcpuReg::COUNT as usize],
    /// Thread resumed and not suspended.
    pub running: bool,
    /// A fault was delivered and not yet replied to.
    pub awaiting_reply: bool,
    /// The vCPU thread's CNode: slot -> cap, as the seL4 backend fills it.
    pub cnode: BTreeMap<u64, HostCap>,
}

/// A cap in a host vCPU's CNode ([`HostVcpu::cnode`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostCap {
    /// The vCPU's fault endpoint, badged [`badge::for_vcpu`].
    FaultEndpoint {
        /// Its badge.
        badge: u64,
    },
    /// A copy of a VMM cap minted by [`Backend::install_service`].
    Service {
        /// The VMM cap it was minted from.
        cap: KernelObject,
        /// Its badge.
        badge: u64,
    },
}

/// Handle of vCPU `id`'s CNode in the host model (the VCPU and TCB
/// objects are `0x100 + 2 * id` and `0x101 + 2 * id`).
pub fn host_cnode(id: VcpuId) -> KernelObject {
    KernelObject(0x200 + u64::from(id.0))
}

/// Base of the default "untyped" window for 1:1 frames (as on QEMU virt).
pub const DEFAULT_PHYS_BASE: u64 = 0x4000_0000;
/// Size of the default 1:1 window.
pub const DEFAULT_PHYS_SIZE: u64 = 0x2000_0000;
/// Physical addresses handed to frames allocated "anywhere" start here.
const ANYWHERE_PA_BASE: u64 = 0x1_0000_0000;

/// The host backend.
///
/// Frame memory models `sel4vm-sel4`'s VMM window: every frame, 4 KiB or
/// 2 MiB, is a slot of one big host arena (a further arena is added when one
/// fills up), handed out in increasing address order, so frames allocated
/// one after another are adjacent in host memory and
/// [`Backend::contiguous_frames`] / [`Backend::access_frames`] present whole
/// runs of guest RAM, across frame sizes, as one slice, as on seL4.
pub struct HostBackend {
    mem: ArenaAlloc,
    /// Frame handle `i` is `frames[i]`; freed handles are reused.
    frames: Vec<Option<HostFrame>>,
    free_handles: Vec<usize>,
    large_enabled: bool,
    live_frames: usize,
    live_large: usize,
    frame_limit: Option<usize>,
    phys_window: (u64, u64),
    /// 1:1 frames by physical start: (handle, size).
    phys_used: BTreeMap<u64, (FrameHandle, u64)>,
    next_anywhere_pa: u64,
    stage2: BTreeMap<u64, (FrameHandle, Rights)>,
    fail_map_at: Option<u64>,
    vcpus: BTreeMap<VcpuId, HostVcpu>,
    events: VecDeque<Event>,
    actions: Vec<HostAction>,
    iospaces: Vec<KernelObject>,
    iospace_supported: bool,
    cache: CacheMaintenance,
    cache_log: Vec<(FrameHandle, FrameCacheOp)>,
    /// Wake-up timer: supported?, the physical counter, the armed deadline.
    wakeup_supported: bool,
    counter: u64,
    wakeup: Option<u64>,
    /// Installed services `(index, cap, badge)`, in install order.
    services: Vec<(u64, KernelObject, u64)>,
}

impl Default for HostBackend {
    fn default() -> Self {
        Self::new()
    }
}

impl HostBackend {
    /// An empty backend with the default 1:1 window.
    pub fn new() -> Self {
        Self {
            mem: ArenaAlloc::default(),
            frames: Vec::new(),
            free_handles: Vec::new(),
            large_enabled: true,
            live_frames: 0,
            live_large: 0,
            frame_limit: None,
            phys_window: (DEFAULT_PHYS_BASE, DEFAULT_PHYS_SIZE),
            phys_used: BTreeMap::new(),
            next_anywhere_pa: ANYWHERE_PA_BASE,
            stage2: BTreeMap::new(),
            fail_map_at: None,
            vcpus: BTreeMap::new(),
            events: VecDeque::new(),
            actions: Vec::new(),
            iospaces: Vec::new(),
            iospace_supported: false,
            cache: CacheMaintenance::None,
            cache_log: Vec::new(),
            wakeup_supported: false,
            counter: 0,
            wakeup: None,
            services: Vec::new(),
        }
    }

    /// Services installed with [`Backend::install_service`]: `(index, cap,
    /// badge)`, in install order.
    pub fn services(&self) -> &[(u64, KernelObject, u64)] {
        &self.services
    }

    /// Lets `set_wakeup` work (off by default, like a kernel without an
    /// exported timer).
    pub fn support_wakeup(&mut self, yes: bool) {
        self.wakeup_supported = yes;
    }

    /// Moves the physical counter to `now`; an armed wake-up whose deadline
    /// has come fires once (queues [`Event::Wakeup`]), like the interrupt.
    pub fn set_counter(&mut self, now: u64) {
        self.counter = now;
        if self.wakeup.is_some_and(|at| at <= now) {
            self.wakeup = None;
            self.events.push_back(Event::Wakeup);
        }
    }

    /// The armed wake-up deadline.
    pub fn wakeup(&self) -> Option<u64> {
        self.wakeup
    }

    /// Plans cache maintenance like the seL4 backend with this policy and
    /// records the operations it would invoke (default: none).
    pub fn set_cache_maintenance(&mut self, cache: CacheMaintenance) {
        self.cache = cache;
    }

    /// The cache operations planned since the last call, in order, with
    /// the frame each applies to.
    pub fn take_cache_log(&mut self) -> Vec<(FrameHandle, FrameCacheOp)> {
        core::mem::take(&mut self.cache_log)
    }

    fn log_cache(&mut self, frames: &[FrameHandle], touch: Touch, phase: Phase) {
        if self.cache == CacheMaintenance::None {
            return;
        }
        let sizes: Vec<u64> = frames
            .iter()
            .map(|h| self.frame(*h).map_or(0, |f| f.size))
            .collect();
        let mut ops = Vec::new();
        sel4vm::cache::plan(self.cache, &sizes, touch, phase, &mut ops);
        self.cache_log
            .extend(ops.into_iter().map(|o| (frames[o.frame], o)));
    }

    /// Sets the physical window 1:1 frames may come from.
    pub fn set_phys_window(&mut self, base: u64, size: u64) {
        self.phys_window = (base, size);
    }

    /// Enables or disables 2 MiB frames (enabled by default). When disabled,
    /// `alloc_large_frame` reports `Unsupported`, as a backend without large
    /// frames would.
    pub fn set_large_frames(&mut self, enabled: bool) {
        self.large_enabled = enabled;
    }

    /// Limits how many frames (of either size) may be live at once (None = unlimited).
    pub fn set_frame_limit(&mut self, limit: Option<usize>) {
        self.frame_limit = limit;
    }

    /// Makes `map_guest` fail for a mapping covering this IPA (to test rollback).
    pub fn fail_map_at(&mut self, ipa: Option<u64>) {
        self.fail_map_at = ipa;
    }

    /// Lets `add_iospace` succeed.
    pub fn support_iospaces(&mut self, yes: bool) {
        self.iospace_supported = yes;
    }

    /// Queues an event for `wait_event`.
    pub fn push_event(&mut self, e: Event) {
        self.events.push_back(e);
    }

    /// Events not yet consumed.
    pub fn pending_events(&self) -> usize {
        self.events.len()
    }

    /// Everything recorded so far.
    pub fn actions(&self) -> &[HostAction] {
        &self.actions
    }

    /// Returns and clears the record.
    pub fn take_actions(&mut self) -> Vec<HostAction> {
        std::mem::take(&mut self.actions)
    }

    /// Replies recorded so far, as `(vcpu, pc)`.
    pub fn replies(&self) -> Vec<(VcpuId, u64)> {
        self.actions
            .iter()
            .filter_map(|a| match *a {
                HostAction::Reply { vcpu, pc } => Some((vcpu, pc)),
                _ => None,
            })
            .collect()
    }

    /// Current stage-2 mappings: start ipa -> (frame, rights); a 2 MiB
    /// frame is one entry.
    pub fn stage2(&self) -> &BTreeMap<u64, (FrameHandle, Rights)> {
        &self.stage2
    }

    /// Number of frames (of either size) allocated and not freed.
    pub fn live_frames(&self) -> usize {
        self.live_frames
    }

    /// Number of live 4 KiB frames.
    pub fn live_small_frames(&self) -> usize {
        self.live_frames - self.live_large
    }

    /// Number of live 2 MiB frames.
    pub fn live_large_frames(&self) -> usize {
        self.live_large
    }

    /// Size in bytes of a live frame.
    pub fn frame_size(&self, frame: FrameHandle) -> Option<u64> {
        self.frame(frame).ok().map(|f| f.size)
    }

    /// A vCPU's state.
    pub fn vcpu(&self, vcpu: VcpuId) -> Option<&HostVcpu> {
        self.vcpus.get(&vcpu)
    }

    /// A vCPU's state, mutably (to set up registers before a fault).
    pub fn vcpu_mut(&mut self, vcpu: VcpuId) -> Option<&mut HostVcpu> {
        self.vcpus.get_mut(&vcpu)
    }

    /// All bytes of a frame (4 KiB or 2 MiB).
    pub fn frame_bytes(&self, frame: FrameHandle) -> Option<&[u8]> {
        let f = self.frame(frame).ok()?;
        Some(self.mem.bytes(f.slot, f.size as usize))
    }

    /// Bytes of the 4 KiB guest page containing `ipa`, via stage 2.
    pub fn guest_page(&self, ipa: u64) -> Option<&[u8]> {
        let (base, f, size) = self.mapping_at(ipa)?;
        let page = ((ipa & !(PAGE_SIZE - 1)) - base) as usize;
        self.frame_bytes(f)?
            .get(page..page + PAGE_SIZE as usize)
            .filter(|_| ipa - base < size)
    }

    /// The stage-2 mapping covering `ipa` as (start, frame, size).
    fn mapping_at(&self, ipa: u64) -> Option<(u64, FrameHandle, u64)> {
        let (&base, &(f, _)) = self.stage2.range(..=ipa).next_back()?;
        let size = self.frame_size(f).unwrap_or(PAGE_SIZE);
        (ipa - base < size).then_some((base, f, size))
    }

    /// Checks a 1:1 request for `[pa, pa + size)`: inside the window, aligned,
    /// not overlapping any live 1:1 frame.
    fn check_phys(&self, pa: u64, size: u64) -> Result<(), BackendError> {
        let (base, wsize) = self.phys_window;
        let end = pa
            .checked_add(size)
            .ok_or(BackendError::PhysUnavailable(pa))?;
        let overlaps = self.phys_used.range(pa..end).next().is_some()
            || self
                .phys_used
                .range(..pa)
                .next_back()
                .is_some_and(|(&p, &(_, s))| p + s > pa);
        if !pa.is_multiple_of(size) || pa < base || end - base > wsize || overlaps {
            return Err(BackendError::PhysUnavailable(pa));
        }
        Ok(())
    }

    /// IOMMU spaces added.
    pub fn iospaces(&self) -> &[KernelObject] {
        &self.iospaces
    }

    fn frame(&self, frame: FrameHandle) -> Result<&HostFrame, BackendError> {
        self.frames
            .get(usize::try_from(frame.0).map_err(|_| BackendError::InvalidFrame)?)
            .and_then(Option::as_ref)
            .ok_or(BackendError::InvalidFrame)
    }

    /// Allocates a frame of `size` bytes (4 KiB or 2 MiB), zeroed.
    fn alloc_sized(&mut self, size: u64, paddr: Option<u64>) -> Result<FrameHandle, BackendError> {
        if self.frame_limit.is_some_and(|l| self.live_frames >= l) {
            return Err(BackendError::OutOfMemory);
        }
        let pa = match paddr {
            Some(pa) => {
                self.check_phys(pa, size)?;
                pa
            }
            None => {
                let pa = self.next_anywhere_pa.next_multiple_of(size);
                self.next_anywhere_pa = pa + size;
                pa
            }
        };
        let frame = HostFrame {
            slot: self.mem.alloc(size as usize),
            size,
            paddr: pa,
        };
        let idx = match self.free_handles.pop() {
            Some(i) => i,
            None => {
                self.frames.push(None);
                self.frames.len() - 1
            }
        };
        self.frames[idx] = Some(frame);
        let h = FrameHandle(idx as u64);
        if paddr.is_some() {
            self.phys_used.insert(pa, (h, size));
        }
        self.live_frames += 1;
        if size == LARGE_PAGE_SIZE {
            self.live_large += 1;
        }
        Ok(h)
    }

    /// How many of `frames`, from the first, are live and adjacent in the
    /// arenas (each starting where the previous one ends), and their total
    /// size in bytes.
    fn run_len(&self, frames: &[FrameHandle]) -> (usize, usize) {
        let mut n = 0;
        let mut len = 0;
        let mut end: Option<Slot> = None;
        for h in frames {
            let Ok(f) = self.frame(*h) else { break };
            if end.is_some_and(|e| e != f.slot) {
                break;
            }
            n += 1;
            len += f.size as usize;
            end = Some(Slot {
                arena: f.slot.arena,
                offset: f.slot.offset + f.size as usize,
            });
        }
        (n, len)
    }

    fn vcpu_state(&mut self, vcpu: VcpuId) -> Result<&mut HostVcpu, BackendError> {
        self.vcpus
            .get_mut(&vcpu)
            .ok_or(BackendError::InvalidVcpu(vcpu))
    }
}

impl Backend for HostBackend {
    fn alloc_frame(&mut self, paddr: Option<u64>) -> Result<FrameHandle, BackendError> {
        self.alloc_sized(PAGE_SIZE, paddr)
    }

    fn alloc_large_frame(&mut self, paddr: Option<u64>) -> Result<FrameHandle, BackendError> {
        if !self.large_enabled {
            return Err(BackendError::Unsupported);
        }
        self.alloc_sized(LARGE_PAGE_SIZE, paddr)
    }

    fn free_frame(&mut self, frame: FrameHandle) {
        let Ok(i) = usize::try_from(frame.0) else {
            return;
        };
        if let Some(f) = self.frames.get_mut(i).and_then(Option::take) {
            if self
                .phys_used
                .get(&f.paddr)
                .is_some_and(|&(h, _)| h == frame)
            {
                self.phys_used.remove(&f.paddr);
            }
            self.mem.free(f.slot, f.size as usize);
            self.free_handles.push(i);
            self.live_frames -= 1;
            if f.size == LARGE_PAGE_SIZE {
                self.live_large -= 1;
            }
        }
    }

    fn frame_paddr(&mut self, frame: FrameHandle) -> Result<u64, BackendError> {
        Ok(self.frame(frame)?.paddr)
    }

    fn map_guest(
        &mut self,
        frame: FrameHandle,
        ipa: u64,
        rights: Rights,
    ) -> Result<(), BackendError> {
        let size = self.frame_size(frame).ok_or(BackendError::InvalidFrame)?;
        let end = ipa
            .checked_add(size)
            .ok_or(BackendError::InvalidAddress(ipa))?;
        if self.fail_map_at.is_some_and(|a| a >= ipa && a < end)
            || !ipa.is_multiple_of(size)
            || self.stage2.range(ipa..end).next().is_some()
            || ipa
                .checked_sub(1)
                .and_then(|a| self.mapping_at(a))
                .is_some_and(|(b, _, s)| b + s > ipa)
        {
            return Err(BackendError::InvalidAddress(ipa));
        }
        self.stage2.insert(ipa, (frame, rights));
        Ok(())
    }

    fn unmap_guest(&mut self, frame: FrameHandle, ipa: u64) -> Result<(), BackendError> {
        match self.stage2.get(&ipa) {
            Some((f, _)) if *f == frame => {
                self.stage2.remove(&ipa);
                Ok(())
            }
            _ => Err(BackendError::InvalidAddress(ipa)),
        }
    }

    #[inline]
    fn access_frame<R>(
        &mut self,
        frame: FrameHandle,
        touch: Touch,
        f: impl FnOnce(&mut [u8]) -> R,
    ) -> Result<R, BackendError> {
        self.access_frames(&[frame], touch, f)
    }

    fn contiguous_frames(&mut self, frames: &[FrameHandle]) -> usize {
        self.run_len(frames).0
    }

    fn frame_view(&mut self, frame: FrameHandle, coherent: bool) -> Option<std::ptr::NonNull<u8>> {
        // As on seL4: only where no cache maintenance would be logged.
        if self.cache != CacheMaintenance::None && !coherent {
            return None;
        }
        let slot = self.frame(frame).ok()?.slot;
        std::ptr::NonNull::new(self.mem.ptr(slot))
    }

    fn access_frames<R>(
        &mut self,
        frames: &[FrameHandle],
        touch: Touch,
        f: impl FnOnce(&mut [u8]) -> R,
    ) -> Result<R, BackendError> {
        let (n, len) = self.run_len(frames);
        if n == 0 || n != frames.len() {
            return Err(BackendError::InvalidFrame);
        }
        let slot = self.frame(frames[0])?.slot;
        self.log_cache(frames, touch, Phase::Before);
        let out = f(self.mem.bytes_mut(slot, len));
        self.log_cache(frames, touch, Phase::After);
        Ok(out)
    }

    fn yield_to(&mut self, vcpu: VcpuId) -> Result<(), BackendError> {
        self.vcpu_state(vcpu)?;
        self.actions.push(HostAction::YieldTo(vcpu));
        Ok(())
    }

    fn counter(&mut self) -> Option<u64> {
        self.wakeup_supported.then_some(self.counter)
    }

    fn set_wakeup(&mut self, at: Option<u64>) -> Result<bool, BackendError> {
        if !self.wakeup_supported {
            return Err(BackendError::Unsupported);
        }
        let past = at.is_some_and(|t| t <= self.counter);
        self.wakeup = at.filter(|_| !past);
        Ok(past)
    }

    fn create_vcpu(&mut self, vcpu: VcpuId, _priority: u8) -> Result<VcpuObjects, BackendError> {
        if self.vcpus.contains_key(&vcpu) {
            return Err(BackendError::InvalidVcpu(vcpu));
        }
        // As on seL4: the fault endpoint at VM_FAULT_EP_SLOT, then every
        // service installed so far.
        let mut cnode = BTreeMap::new();
        cnode.insert(
            VM_FAULT_EP_SLOT,
            HostCap::FaultEndpoint {
                badge: badge::for_vcpu(vcpu),
            },
        );
        for &(index, cap, badge) in &self.services {
            cnode.insert(index, HostCap::Service { cap, badge });
        }
        self.vcpus.insert(
            vcpu,
            HostVcpu {
                cnode,
                ..HostVcpu::default()
            },
        );
        let base = 0x100 + u64::from(vcpu.0) * 2;
        Ok(VcpuObjects {
            vcpu: KernelObject(base),
            tcb: KernelObject(base + 1),
            sc: None,
        })
    }

    fn start_vcpu(&mut self, vcpu: VcpuId) -> Result<(), BackendError> {
        self.vcpu_state(vcpu)?.running = true;
        self.actions.push(HostAction::Start(vcpu));
        Ok(())
    }

    fn stop_vcpu(&mut self, vcpu: VcpuId) -> Result<(), BackendError> {
        let v = self.vcpu_state(vcpu)?;
        v.running = false;
        v.awaiting_reply = false;
        self.actions.push(HostAction::Stop(vcpu));
        Ok(())
    }

    fn read_context(&mut self, vcpu: VcpuId) -> Result<UserContext, BackendError> {
        Ok(self.vcpu_state(vcpu)?.ctx)
    }

    fn write_context(&mut self, vcpu: VcpuId, ctx: &UserContext) -> Result<(), BackendError> {
        self.vcpu_state(vcpu)?.ctx = *ctx;
        Ok(())
    }

    fn read_vcpu_reg(&mut self, vcpu: VcpuId, reg: VcpuReg) -> Result<u64, BackendError> {
        Ok(self.vcpu_state(vcpu)?.regs[reg as usize])
    }

    fn write_vcpu_reg(
        &mut self,
        vcpu: VcpuId,
        reg: VcpuReg,
        value: u64,
    ) -> Result<(), BackendError> {
        self.vcpu_state(vcpu)?.regs[reg as usize] = value;
        Ok(())
    }

    fn inject_irq(&mut self, vcpu: VcpuId, irq: VirqInjection) -> Result<(), BackendError> {
        self.vcpu_state(vcpu)?;
        self.actions.push(HostAction::Inject { vcpu, irq });
        Ok(())
    }

    fn ack_vppi(&mut self, vcpu: VcpuId, irq: u32) -> Result<(), BackendError> {
        self.vcpu_state(vcpu)?;
        self.actions.push(HostAction::AckVppi { vcpu, irq });
        Ok(())
    }

    fn wait_event(&mut self) -> Result<Event, BackendError> {
        let e = self.events.pop_front().ok_or(BackendError::NoEvent)?;
        // Events from unknown vCPUs are passed on: the core must reject them.
        if let Some(v) = e.vcpu().and_then(|v| self.vcpus.get_mut(&v)) {
            v.awaiting_reply = true;
        }
        Ok(e)
    }

    fn reply(&mut self, vcpu: VcpuId) -> Result<(), BackendError> {
        let v = self.vcpu_state(vcpu)?;
        if !v.awaiting_reply {
            // A reply without an outstanding fault is a VMM bug.
            return Err(BackendError::Kernel(3));
        }
        v.awaiting_reply = false;
        let pc = v.ctx.pc();
        self.actions.push(HostAction::Reply { vcpu, pc });
        Ok(())
    }

    fn cspace_info(&self) -> CSpaceInfo {
        // As the seL4 backend: vCPU 0's CNode, nothing before it exists.
        if self.vcpus.contains_key(&VcpuId(0)) {
            CSpaceInfo {
                cspace: host_cnode(VcpuId(0)),
                root_data: VM_CSPACE_ROOT_DATA,
            }
        } else {
            CSpaceInfo::default()
        }
    }

    fn install_service(
        &mut self,
        service: KernelObject,
        index: u64,
        badge: u64,
    ) -> Result<(), BackendError> {
        // The kernel would refuse a slot outside the CNode or a full one
        // (seL4_RangeError = 4, seL4_DeleteFirst = 8), for every vCPU alike.
        if index >> VM_CSPACE_SIZE_BITS != 0 {
            return Err(BackendError::Kernel(4));
        }
        if self.services.iter().any(|s| s.0 == index)
            || self.vcpus.values().any(|v| v.cnode.contains_key(&index))
        {
            return Err(BackendError::Kernel(8));
        }
        for v in self.vcpus.values_mut() {
            v.cnode.insert(
                index,
                HostCap::Service {
                    cap: service,
                    badge,
                },
            );
        }
        self.services.push((index, service, badge));
        Ok(())
    }

    fn add_iospace(&mut self, iospace: KernelObject) -> Result<(), BackendError> {
        if !self.iospace_supported {
            return Err(BackendError::Unsupported);
        }
        self.iospaces.push(iospace);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const L: usize = LARGE_PAGE_SIZE as usize;
    const P: usize = PAGE_SIZE as usize;

    fn small(b: &mut HostBackend) -> FrameHandle {
        b.alloc_frame(None).unwrap()
    }

    fn large(b: &mut HostBackend) -> FrameHandle {
        b.alloc_large_frame(None).unwrap()
    }

    #[test]
    fn frames_in_sequence_form_one_slice_across_sizes() {
        let mut b = HostBackend::new();
        let f = [large(&mut b), large(&mut b), small(&mut b), small(&mut b)];
        assert_eq!(b.contiguous_frames(&f), 4);
        assert_eq!(b.contiguous_frames(&f[1..]), 3);
        let len = b
            .access_frames(&f, Touch::whole(0), |s| {
                s[0] = 1;
                s[L - 1] = 2;
                s[L] = 3;
                s[2 * L] = 4;
                s[2 * L + P] = 5;
                s.len()
            })
            .unwrap();
        assert_eq!(len, 2 * L + 2 * P);
        // The slice really is the frames' memory, in order.
        let first = |h| b.frame_bytes(h).unwrap()[0];
        assert_eq!(
            [first(f[0]), first(f[1]), first(f[2]), first(f[3])],
            [1, 3, 4, 5]
        );
        assert_eq!(b.frame_bytes(f[0]).unwrap()[L - 1], 2);
        assert_eq!(b.frame_bytes(f[0]).unwrap().len(), L);
        assert_eq!(b.frame_bytes(f[3]).unwrap().len(), P);
    }

    #[test]
    fn runs_stop_at_gaps_wrong_order_and_dead_frames() {
        let mut b = HostBackend::new();
        let s0 = small(&mut b);
        // Aligning the large frame skips pages 1..512; the next small
        // frame takes page 1, next to `s0`.
        let l0 = large(&mut b);
        let s1 = small(&mut b);
        assert_eq!(b.contiguous_frames(&[s0, s1]), 2);
        assert_eq!(b.contiguous_frames(&[s0, l0]), 1);
        assert_eq!(b.contiguous_frames(&[s1, s0]), 1);
        assert_eq!(
            b.access_frames(&[s1, s0], Touch::whole(0), |_| ()),
            Err(BackendError::InvalidFrame)
        );
        assert_eq!(
            b.access_frames(&[], Touch::whole(0), |_| ()),
            Err(BackendError::InvalidFrame)
        );
        b.free_frame(s1);
        assert_eq!(b.contiguous_frames(&[s0, s1]), 1);
        assert_eq!(b.contiguous_frames(&[s1, s0]), 0);
        assert_eq!(
            b.access_frames(&[s1], Touch::whole(0), |_| ()),
            Err(BackendError::InvalidFrame)
        );
        assert_eq!(
            b.access_frame(s1, Touch::whole(0), |_| ()),
            Err(BackendError::InvalidFrame)
        );
        assert_eq!(b.frame_size(s1), None);
        assert_eq!(b.frame_size(l0), Some(LARGE_PAGE_SIZE));
    }

    #[test]
    fn freed_frames_are_reused_zeroed_and_lowest_first() {
        let mut b = HostBackend::new();
        let s: Vec<_> = (0..3).map(|_| small(&mut b)).collect();
        let l = [large(&mut b), large(&mut b)];
        for &h in s.iter().chain(&l) {
            b.access_frame(h, Touch::whole(0), |m| m.fill(0xee))
                .unwrap();
        }
        for &h in s.iter().chain(&l) {
            b.free_frame(h);
        }
        assert_eq!((b.live_small_frames(), b.live_large_frames()), (0, 0));
        // Reallocated in address order whatever order they were freed in, so
        // the runs re-form; contents read as zero again.
        let s2: Vec<_> = (0..3).map(|_| small(&mut b)).collect();
        let l2 = [large(&mut b), large(&mut b)];
        assert_eq!(b.contiguous_frames(&s2), 3);
        assert_eq!(b.contiguous_frames(&l2), 2);
        for &h in s2.iter().chain(&l2) {
            assert!(b.frame_bytes(h).unwrap().iter().all(|&x| x == 0));
        }
        assert_eq!((b.live_small_frames(), b.live_large_frames()), (3, 2));
    }

    #[test]
    fn full_arena_continues_in_a_new_one() {
        let mut b = HostBackend::new();
        let n = ARENA_SIZE / L;
        let f: Vec<_> = (0..=n).map(|_| large(&mut b)).collect();
        assert_eq!(b.contiguous_frames(&f), n);
        assert_eq!(b.contiguous_frames(&f[n - 1..]), 1);
        // Both ends are usable memory (only these pages get committed).
        b.access_frame(f[n - 1], Touch::whole(0), |m| m[L - 1] = 9)
            .unwrap();
        b.access_frame(f[n], Touch::whole(0), |m| m[0] = 8).unwrap();
        assert_eq!(b.frame_bytes(f[n - 1]).unwrap()[L - 1], 9);
        assert_eq!(b.frame_bytes(f[n]).unwrap()[0], 8);
        assert_eq!(b.live_large_frames(), n + 1);
    }

    #[test]
    fn limit_and_disabled_large_frames_still_apply() {
        let mut b = HostBackend::new();
        b.set_frame_limit(Some(2));
        let _ = (small(&mut b), large(&mut b));
        assert_eq!(b.alloc_frame(None), Err(BackendError::OutOfMemory));
        assert_eq!(b.alloc_large_frame(None), Err(BackendError::OutOfMemory));
        b.set_large_frames(false);
        assert_eq!(b.alloc_large_frame(None), Err(BackendError::Unsupported));
        // 1:1 frames keep their physical address and window checks.
        b.set_frame_limit(None);
        let pa = DEFAULT_PHYS_BASE + 0x3000;
        let h = b.alloc_frame(Some(pa)).unwrap();
        assert_eq!(b.frame_paddr(h), Ok(pa));
        assert_eq!(
            b.alloc_frame(Some(pa)),
            Err(BackendError::PhysUnavailable(pa))
        );
        b.free_frame(h);
        assert!(b.alloc_frame(Some(pa)).is_ok());
    }
}
