//! Host kernel backend for `sel4vm`: guest RAM lives in host memory, the
//! stage-2 table and register files are plain maps, and events come from a
//! queue the test fills. Every effect the VM has on the "kernel" is recorded
//! so tests can assert exactly what happened.

use std::collections::{BTreeMap, VecDeque};

use sel4vm::{
    Backend, BackendError, CSpaceInfo, Event, FrameHandle, KernelObject, Rights, UserContext,
    VcpuId, VcpuObjects, VcpuReg, VirqInjection, LARGE_PAGE_SIZE, PAGE_SIZE,
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
}

/// Frames are carved from page-aligned slabs of this many contiguous pages
/// (16 MiB; the OS commits memory only when a page is first touched).
const SLAB_PAGES: usize = 4096;

/// A zeroed, page-aligned block of `SLAB_PAGES` pages.
struct Slab {
    ptr: std::ptr::NonNull<u8>,
}

impl Slab {
    fn layout() -> std::alloc::Layout {
        std::alloc::Layout::from_size_align(SLAB_PAGES * PAGE_SIZE as usize, PAGE_SIZE as usize)
            .expect("slab layout")
    }
    fn new() -> Self {
        // SAFETY: the layout has non-zero size.
        let p = unsafe { std::alloc::alloc_zeroed(Self::layout()) };
        let ptr = std::ptr::NonNull::new(p)
            .unwrap_or_else(|| std::alloc::handle_alloc_error(Self::layout()));
        Self { ptr }
    }
    /// Pages `first..first + n` as one slice.
    fn pages(&self, first: usize, n: usize) -> &[u8] {
        assert!(first + n <= SLAB_PAGES);
        // SAFETY: in bounds of the allocation; `&self` prevents concurrent `&mut`.
        unsafe {
            std::slice::from_raw_parts(
                self.ptr.as_ptr().add(first * PAGE_SIZE as usize),
                n * PAGE_SIZE as usize,
            )
        }
    }
    fn pages_mut(&mut self, first: usize, n: usize) -> &mut [u8] {
        assert!(first + n <= SLAB_PAGES);
        // SAFETY: in bounds; `&mut self` gives exclusive access.
        unsafe {
            std::slice::from_raw_parts_mut(
                self.ptr.as_ptr().add(first * PAGE_SIZE as usize),
                n * PAGE_SIZE as usize,
            )
        }
    }
}

impl Drop for Slab {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with the same layout.
        unsafe { std::alloc::dealloc(self.ptr.as_ptr(), Self::layout()) }
    }
}

struct HostFrame {
    slab: usize,
    page: usize,
    paddr: u64,
}

/// Set in the handle of every 2 MiB frame; the rest is an index into
/// `HostBackend::large`. Small handles index the slab pages and never get
/// near this bit, so the two kinds cannot collide.
const LARGE_HANDLE_BIT: u64 = 1 << 62;

/// A zeroed, 2 MiB-aligned 2 MiB block backing one large frame.
struct LargeFrame {
    ptr: std::ptr::NonNull<u8>,
    paddr: u64,
}

impl LargeFrame {
    fn layout() -> std::alloc::Layout {
        std::alloc::Layout::from_size_align(LARGE_PAGE_SIZE as usize, LARGE_PAGE_SIZE as usize)
            .expect("large frame layout")
    }
    fn new(paddr: u64) -> Self {
        // SAFETY: the layout has non-zero size.
        let p = unsafe { std::alloc::alloc_zeroed(Self::layout()) };
        let ptr = std::ptr::NonNull::new(p)
            .unwrap_or_else(|| std::alloc::handle_alloc_error(Self::layout()));
        Self { ptr, paddr }
    }
    fn bytes(&self) -> &[u8] {
        // SAFETY: the allocation is LARGE_PAGE_SIZE bytes; `&self` prevents concurrent `&mut`.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), LARGE_PAGE_SIZE as usize) }
    }
    fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as above; `&mut self` gives exclusive access.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), LARGE_PAGE_SIZE as usize) }
    }
}

impl Drop for LargeFrame {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with the same layout.
        unsafe { std::alloc::dealloc(self.ptr.as_ptr(), Self::layout()) }
    }
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
}

/// Base of the default "untyped" window for 1:1 frames (as on QEMU virt).
pub const DEFAULT_PHYS_BASE: u64 = 0x4000_0000;
/// Size of the default 1:1 window.
pub const DEFAULT_PHYS_SIZE: u64 = 0x2000_0000;
/// Physical addresses handed to frames allocated "anywhere" start here.
const ANYWHERE_PA_BASE: u64 = 0x1_0000_0000;

/// The host backend.
pub struct HostBackend {
    slabs: Vec<Slab>,
    frames: Vec<Option<HostFrame>>,
    free_slots: Vec<usize>,
    large: Vec<Option<LargeFrame>>,
    large_free_slots: Vec<usize>,
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
            slabs: Vec::new(),
            frames: Vec::new(),
            free_slots: Vec::new(),
            large: Vec::new(),
            large_free_slots: Vec::new(),
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
        }
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
        if frame.0 & LARGE_HANDLE_BIT != 0 {
            self.large_frame(frame).ok().map(|_| LARGE_PAGE_SIZE)
        } else {
            self.frame(frame).ok().map(|_| PAGE_SIZE)
        }
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
        if frame.0 & LARGE_HANDLE_BIT != 0 {
            return self.large_frame(frame).ok().map(LargeFrame::bytes);
        }
        self.frame(frame)
            .ok()
            .map(|f| self.slabs[f.slab].pages(f.page, 1))
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

    fn large_frame(&self, frame: FrameHandle) -> Result<&LargeFrame, BackendError> {
        let i =
            usize::try_from(frame.0 & !LARGE_HANDLE_BIT).map_err(|_| BackendError::InvalidFrame)?;
        if frame.0 & LARGE_HANDLE_BIT == 0 {
            return Err(BackendError::InvalidFrame);
        }
        self.large
            .get(i)
            .and_then(Option::as_ref)
            .ok_or(BackendError::InvalidFrame)
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
        if frame.0 & LARGE_HANDLE_BIT != 0 {
            return Err(BackendError::InvalidFrame);
        }
        self.frames
            .get(usize::try_from(frame.0).map_err(|_| BackendError::InvalidFrame)?)
            .and_then(Option::as_ref)
            .ok_or(BackendError::InvalidFrame)
    }

    fn vcpu_state(&mut self, vcpu: VcpuId) -> Result<&mut HostVcpu, BackendError> {
        self.vcpus
            .get_mut(&vcpu)
            .ok_or(BackendError::InvalidVcpu(vcpu))
    }
}

impl Backend for HostBackend {
    fn alloc_frame(&mut self, paddr: Option<u64>) -> Result<FrameHandle, BackendError> {
        if self.frame_limit.is_some_and(|l| self.live_frames >= l) {
            return Err(BackendError::OutOfMemory);
        }
        let pa = match paddr {
            Some(pa) => {
                self.check_phys(pa, PAGE_SIZE)?;
                pa
            }
            None => {
                let pa = self.next_anywhere_pa;
                self.next_anywhere_pa += PAGE_SIZE;
                pa
            }
        };
        // Handle i always owns page i of the slab array; freed handles are reused.
        // New frames read as zero, like frames retyped from untyped memory:
        // fresh slab pages are zero already, reused ones are cleared.
        let (idx, reused) = match self.free_slots.pop() {
            Some(i) => (i, true),
            None => {
                let i = self.frames.len();
                if i.is_multiple_of(SLAB_PAGES) {
                    self.slabs.push(Slab::new());
                }
                self.frames.push(None);
                (i, false)
            }
        };
        let frame = HostFrame {
            slab: idx / SLAB_PAGES,
            page: idx % SLAB_PAGES,
            paddr: pa,
        };
        if reused {
            self.slabs[frame.slab].pages_mut(frame.page, 1).fill(0);
        }
        self.frames[idx] = Some(frame);
        let h = FrameHandle(idx as u64);
        if paddr.is_some() {
            self.phys_used.insert(pa, (h, PAGE_SIZE));
        }
        self.live_frames += 1;
        Ok(h)
    }

    fn alloc_large_frame(&mut self, paddr: Option<u64>) -> Result<FrameHandle, BackendError> {
        if !self.large_enabled {
            return Err(BackendError::Unsupported);
        }
        if self.frame_limit.is_some_and(|l| self.live_frames >= l) {
            return Err(BackendError::OutOfMemory);
        }
        let pa = match paddr {
            Some(pa) => {
                self.check_phys(pa, LARGE_PAGE_SIZE)?;
                pa
            }
            None => {
                let pa = self.next_anywhere_pa.next_multiple_of(LARGE_PAGE_SIZE);
                self.next_anywhere_pa = pa + LARGE_PAGE_SIZE;
                pa
            }
        };
        // Fresh zeroed memory each time, like a frame retyped from untyped.
        let frame = Some(LargeFrame::new(pa));
        let idx = match self.large_free_slots.pop() {
            Some(i) => {
                self.large[i] = frame;
                i
            }
            None => {
                self.large.push(frame);
                self.large.len() - 1
            }
        };
        let h = FrameHandle(LARGE_HANDLE_BIT | idx as u64);
        if paddr.is_some() {
            self.phys_used.insert(pa, (h, LARGE_PAGE_SIZE));
        }
        self.live_frames += 1;
        self.live_large += 1;
        Ok(h)
    }

    fn free_frame(&mut self, frame: FrameHandle) {
        if frame.0 & LARGE_HANDLE_BIT != 0 {
            let Ok(i) = usize::try_from(frame.0 & !LARGE_HANDLE_BIT) else {
                return;
            };
            if let Some(f) = self.large.get_mut(i).and_then(Option::take) {
                self.phys_used.remove(&f.paddr);
                self.large_free_slots.push(i);
                self.live_frames -= 1;
                self.live_large -= 1;
            }
            return;
        }
        let Ok(i) = usize::try_from(frame.0) else {
            return;
        };
        if let Some(f) = self.frames.get_mut(i).and_then(Option::take) {
            self.phys_used.remove(&f.paddr);
            self.free_slots.push(i);
            self.live_frames -= 1;
        }
    }

    fn frame_paddr(&mut self, frame: FrameHandle) -> Result<u64, BackendError> {
        if frame.0 & LARGE_HANDLE_BIT != 0 {
            return Ok(self.large_frame(frame)?.paddr);
        }
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
        f: impl FnOnce(&mut [u8]) -> R,
    ) -> Result<R, BackendError> {
        if frame.0 & LARGE_HANDLE_BIT != 0 {
            self.large_frame(frame)?;
            let i = (frame.0 & !LARGE_HANDLE_BIT) as usize;
            let lf = self.large[i].as_mut().ok_or(BackendError::InvalidFrame)?;
            return Ok(f(lf.bytes_mut()));
        }
        let slot = self
            .frames
            .get(frame.0 as usize)
            .and_then(Option::as_ref)
            .ok_or(BackendError::InvalidFrame)?;
        Ok(f(self.slabs[slot.slab].pages_mut(slot.page, 1)))
    }

    fn contiguous_frames(&mut self, frames: &[FrameHandle]) -> usize {
        // Handles i, i+1, ... in one slab are adjacent in host memory.
        let Some(first) = frames.first() else {
            return 0;
        };
        // Each large frame is a separate host allocation.
        if first.0 & LARGE_HANDLE_BIT != 0 {
            return usize::from(self.large_frame(*first).is_ok());
        }
        let base = first.0;
        let room = SLAB_PAGES - (base as usize % SLAB_PAGES);
        frames
            .iter()
            .take(room)
            .enumerate()
            .take_while(|(k, f)| f.0 == base + *k as u64 && self.frame(**f).is_ok())
            .count()
    }

    fn access_frames<R>(
        &mut self,
        frames: &[FrameHandle],
        f: impl FnOnce(&mut [u8]) -> R,
    ) -> Result<R, BackendError> {
        let n = frames.len();
        if n == 0 || self.contiguous_frames(frames) != n {
            return Err(BackendError::InvalidFrame);
        }
        if n == 1 {
            return self.access_frame(frames[0], f);
        }
        let slot = self.frame(frames[0])?;
        let (s, p) = (slot.slab, slot.page);
        Ok(f(self.slabs[s].pages_mut(p, n)))
    }

    fn create_vcpu(&mut self, vcpu: VcpuId, _priority: u8) -> Result<VcpuObjects, BackendError> {
        if self.vcpus.contains_key(&vcpu) {
            return Err(BackendError::InvalidVcpu(vcpu));
        }
        self.vcpus.insert(vcpu, HostVcpu::default());
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
        CSpaceInfo {
            cspace: KernelObject(0x10),
            root_data: 0,
        }
    }

    fn add_iospace(&mut self, iospace: KernelObject) -> Result<(), BackendError> {
        if !self.iospace_supported {
            return Err(BackendError::Unsupported);
        }
        self.iospaces.push(iospace);
        Ok(())
    }
}
