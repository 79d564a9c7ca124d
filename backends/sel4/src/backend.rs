//! The seL4 implementation of [`sel4vm::Backend`] (target only).

use alloc::collections::BTreeMap;
use alloc::rc::Rc;
use alloc::vec::Vec;
use core::cell::RefCell;

use sel4_abi::arch::VmAttributes;
use sel4_abi::cap::{AsidPool, CNode, Notification, Tcb, VSpace};
use sel4_abi::invocation::{encode, CacheOp};
use sel4_abi::{syscall, CNodeCapData, CPtr, CapRights, MessageInfo};
use sel4_rt::objects::{KernelError, Object, ObjectAllocator, ObjectKind, Slot};
use sel4_rt::vspace::{VSpaceMapper, VM_ATTRS_DEFAULT, VM_ATTRS_EXECUTE_NEVER};
use sel4_rt::RootKernel;
use sel4vm::backend::badge;
use sel4vm::cache::Phase;
use sel4vm::{
    Backend, BackendError, CSpaceInfo, Event, FrameHandle, KernelObject, Rights, Touch,
    UserContext, VcpuId, VcpuObjects, VcpuReg, VirqInjection, LARGE_PAGE_SIZE,
};

use crate::decode::{self, Received, VaWindow, LARGE_BITS};
use crate::source::{CapPath, HostCaps, ObjectSource, SourceObject};

/// Depth that resolves a root-CNode slot index as a CPtr.
const ROOT_DEPTH: u8 = 64;

/// Translation levels below the stage-2 root: no frame needs more tables.
const MAX_TABLES_PER_MAP: usize = 3;

/// The root task's allocators, shared by every backend (VM) in the process:
/// the default [`ObjectSource`].
///
/// Plays the role of the `vka_t` + `vspace_t` pair libsel4vm is given.
pub struct Resources {
    /// Kernel objects and CNode slots.
    pub objects: ObjectAllocator,
    /// The VMM's own address space (guest frames are mapped into a window of it).
    pub vspace: VSpaceMapper,
    /// Objects handed to backends, by cap slot (the allocator's handle).
    live: BTreeMap<Slot, Object>,
    bound: Option<SourceObject>,
}

impl Resources {
    /// Wraps the root task's allocators.
    pub fn new(objects: ObjectAllocator, vspace: VSpaceMapper) -> Self {
        Self {
            objects,
            vspace,
            live: BTreeMap::new(),
            bound: None,
        }
    }

    /// Wraps them for sharing between backends.
    pub fn shared(self) -> Rc<RefCell<Resources>> {
        Rc::new(RefCell::new(self))
    }
}

impl ObjectSource for Resources {
    fn alloc(
        &mut self,
        kind: ObjectKind,
        paddr: Option<u64>,
    ) -> Result<SourceObject, BackendError> {
        let obj = match paddr {
            None => self.objects.alloc(&mut RootKernel, kind),
            Some(pa) => self.objects.alloc_at(&mut RootKernel, kind, pa),
        }
        .map_err(|e| decode::alloc_error(e, paddr))?;
        let size = 1u64 << kind.size_bits();
        let device = self
            .objects
            .untyped_covering(obj.paddr, size)
            .is_some_and(|u| u.is_device);
        self.live.insert(obj.cap, obj);
        Ok(SourceObject {
            cap: obj.cap,
            kind,
            paddr: Some(obj.paddr),
            device,
            cookie: 0,
        })
    }

    fn free(&mut self, obj: &SourceObject) -> Result<(), BackendError> {
        let o = self
            .live
            .remove(&obj.cap)
            .ok_or(BackendError::InvalidFrame)?;
        self.objects
            .free(&mut RootKernel, o)
            .map_err(|e| decode::alloc_error(e, None))
    }

    fn alloc_slot(&mut self) -> Result<Slot, BackendError> {
        self.objects
            .alloc_slot()
            .map_err(|e| decode::alloc_error(e, None))
    }

    fn free_slot(&mut self, slot: Slot) {
        let _ = self.objects.free_slot(slot);
    }

    fn path(&self, slot: Slot) -> CapPath {
        CapPath {
            root: HostCaps::ROOT_TASK.cnode,
            index: slot,
            depth: ROOT_DEPTH,
        }
    }

    fn reserve_vmm(&mut self, size: u64, align_bits: u8) -> Result<u64, BackendError> {
        self.vspace
            .reserve(size, align_bits)
            .map_err(|e| decode::map_error(e, 0))
    }

    fn map_vmm(&mut self, frame: Slot, vaddr: u64, _size_bits: u8) -> Result<(), BackendError> {
        self.vspace
            .map_at(
                &mut RootKernel,
                &mut self.objects,
                frame,
                vaddr,
                CapRights::READ_WRITE,
                VM_ATTRS_DEFAULT | VM_ATTRS_EXECUTE_NEVER,
            )
            .map_err(|e| decode::map_error(e, vaddr))
    }

    fn unmap_vmm(&mut self, _frame: Slot, _vaddr: u64, _size_bits: u8) {
        // Deleting the frame copy removes the mapping; the range is not reused.
    }

    fn bound_notification(&self) -> Option<SourceObject> {
        self.bound
    }

    fn set_bound_notification(&mut self, n: SourceObject) {
        self.bound = Some(n);
    }

    fn coalesce(&mut self) {
        // Guest RAM split untypeds down to pages; merging the freed halves
        // gives their CNode slots back (about one per guest page).
        if let Err(e) = self.objects.coalesce(&mut RootKernel) {
            log::warn!("sel4vm-sel4: coalescing untypeds: {e}");
        }
    }
}

/// The notification bound to the VMM thread (created and bound on first use).
///
/// A thread can have only one bound notification, so all backends sharing
/// a source share it; its signals wake whichever backend is in `wait_event`.
fn bound_notification(src: &mut dyn ObjectSource) -> Result<SourceObject, BackendError> {
    if let Some(n) = src.bound_notification() {
        return Ok(n);
    }
    let n = src.alloc(ObjectKind::Notification, None)?;
    let tcb = Tcb::from_bits(src.host_caps().tcb);
    if let Err(e) = tcb.tcb_bind_notification(Notification::from_bits(n.cap)) {
        let _ = src.free(&n);
        return Err(decode::kernel_error(e));
    }
    src.set_bound_notification(n);
    Ok(n)
}

/// How the backend keeps the VMM's cached view of guest frames coherent
/// (the core's planner, [`sel4vm::cache`], decides which bytes).
pub use sel4vm::CacheMaintenance;

/// Construction parameters of a [`Sel4Backend`].
#[derive(Clone, Copy, Debug)]
pub struct Sel4Config {
    /// Bytes of VMM virtual address space reserved for guest frames: the most
    /// guest RAM (plus other guest frames) this VM can have.
    pub window_size: u64,
    /// Bind the process-wide notification to the VMM thread so that signals
    /// arrive as [`Event::Notification`] (see [`Sel4Backend::mint_notification`]).
    pub bind_notification: bool,
    /// Cache maintenance around VMM accesses to guest memory.
    pub cache: CacheMaintenance,
    /// Zero frames retyped from device untypeds (which the kernel does not
    /// clear). A VMM whose host placed guest images in that memory (QEMU
    /// `-device loader`, validated in place) turns this off.
    pub zero_device_frames: bool,
}

impl Default for Sel4Config {
    fn default() -> Self {
        Self {
            window_size: 1 << 30,
            bind_notification: true,
            cache: CacheMaintenance::Kernel,
            zero_device_frames: true,
        }
    }
}

/// One guest frame (4 KiB or 2 MiB): the cap mapped into the guest, and a
/// copy mapped into the VMM.
#[derive(Clone, Copy, Debug)]
struct GuestFrame {
    obj: SourceObject,
    vmm_cap: Slot,
    vmm_va: u64,
    guest_ipa: Option<u64>,
    /// `obj.cap` is our copy of a caller's frame cap
    /// ([`Sel4Backend::adopt_frame`]): freeing deletes the copy only.
    adopted: bool,
}

impl GuestFrame {
    fn bits(&self) -> u32 {
        u32::from(self.obj.kind.size_bits())
    }
    fn size(&self) -> u64 {
        1 << self.bits()
    }
}

/// log2 of the slot count of a vCPU thread's CSpace (libsel4vm's
/// `VM_CSPACE_SIZE_BITS`).
const VCPU_CSPACE_BITS: u8 = sel4vm::VM_CSPACE_SIZE_BITS;
/// Where the fault endpoint sits in a vCPU thread's CSpace (slot 0 stays
/// empty, so a null CPtr never names it; libsel4vm's `VM_FAULT_EP_SLOT`).
const VCPU_FAULT_EP: u64 = sel4vm::VM_FAULT_EP_SLOT;

/// Kernel objects and slots of one vCPU.
#[derive(Clone, Copy, Debug)]
struct VcpuSlots {
    vcpu: SourceObject,
    tcb: SourceObject,
    /// The vCPU thread's own CSpace: a CNode of 2^`VM_CSPACE_SIZE_BITS`
    /// slots holding its badged fault endpoint (at [`VCPU_FAULT_EP`]) and
    /// the installed services, nothing else (see `sel4vm::cspace`).
    cspace: SourceObject,
    /// Where the reply cap of the vCPU's current fault is saved.
    reply: Slot,
    /// `reply` as a CNode path (used on every fault).
    reply_path: CapPath,
    reply_pending: bool,
    priority: u8,
}

/// `seL4_CNode_Copy` between two slots of the VMM's CSpace.
fn copy_cap(dest: CapPath, src: CapPath, rights: CapRights) -> Result<(), KernelError> {
    CNode::from_bits(dest.root).cnode_copy(
        dest.index,
        dest.depth,
        CNode::from_bits(src.root),
        src.index,
        src.depth,
        rights,
    )
}

/// `seL4_CNode_Mint` between two slots of the VMM's CSpace.
fn mint_cap(dest: CapPath, src: CapPath, rights: CapRights, badge: u64) -> Result<(), KernelError> {
    CNode::from_bits(dest.root).cnode_mint(
        dest.index,
        dest.depth,
        CNode::from_bits(src.root),
        src.index,
        src.depth,
        rights,
        badge,
    )
}

/// `seL4_CNode_Delete` (deleting an empty slot succeeds).
fn delete_cap(slot: CapPath) -> Result<(), KernelError> {
    CNode::from_bits(slot.root).cnode_delete(slot.index, slot.depth)
}

/// `seL4_CNode_SaveCaller`: moves the reply cap of the last received call
/// into `dest` (non-MCS kernels). The ABI crate has no encoder for it; the
/// message is just (index, depth).
fn save_caller(dest: CapPath) -> Result<(), KernelError> {
    let mut mrs = [dest.index, u64::from(dest.depth), 0, 0];
    let info = MessageInfo::new(sel4_abi::labels::invocation::CNodeSaveCaller, 0, 0, 2);
    let reply = syscall::call_with_mrs(CPtr(dest.root), info, &mut mrs);
    sel4_abi::Error::check(reply.label())
}

/// The seL4 kernel backend: one guest VSpace, its vCPUs, and the VMM
/// endpoint their faults arrive on.
///
/// Corresponds to what libsel4vm does with seL4 directly in `vm_init`,
/// `vm_create_vcpu`, `vm_run` and its memory code.
///
/// # Design
/// * **Guest VSpace**: an `seL4_ARM_VSpaceObject` assigned to the root task's
///   ASID pool. Stage-2 tables (4 levels, starting at level 0 with the 44-bit
///   IPA configuration) are added when `Page_Map` reports `seL4_FailedLookup`.
/// * **Guest frames**: 4 KiB (`alloc_frame`) or 2 MiB (`alloc_large_frame`)
///   frames from RAM untypeds, or retyped at exactly the requested physical
///   address (1:1 guest RAM, e.g. from the device untyped at
///   0x4000_0000..0x6000_0000 on QEMU `virt`); device-memory frames are zeroed.
/// * **VMM access to guest frames**: each guest frame cap is copied
///   (`CNode_Copy`, one cap maps once) and the copy is mapped read-write,
///   cacheable and non-executable into a VMM virtual window reserved at
///   creation ([`Sel4Config::window_size`]), permanently, until the frame is
///   freed. Frames allocated one after another get adjacent window
///   addresses, so `contiguous_frames`/`access_frames` can hand guest RAM to
///   the core as one slice. Cost: two CNode slots per frame (plus the
///   allocator's split untypeds), which is why large frames matter.
/// * **Caches**: with [`CacheMaintenance::Kernel`] every access cleans and
///   invalidates the whole frame(s) before and after (2 MiB for a large
///   frame); use [`CacheMaintenance::None`] once the guest runs with its
///   caches on.
/// * **vCPUs**: a VCPU object and a TCB in the VMM's CSpace and the guest
///   VSpace; the fault endpoint is a copy of the VMM endpoint minted with
///   badge [`badge::for_vcpu`]; `VCPU_SetTCB` binds them.
/// * **vCPU CSpaces**: seL4 runs a guest HVC as a system call (x7) with the
///   vCPU thread's CSpace, so each vCPU thread gets a CNode of its own of
///   2^`VM_CSPACE_SIZE_BITS` slots, guarded so that CPtr `n` is slot `n`:
///   its own fault endpoint at `VM_FAULT_EP_SLOT` and the services of
///   [`sel4vm::Vm::install_service`], never a VMM cap, another vCPU's
///   endpoint or the CNode itself (libsel4vm's `VM_CSPACE_SLOT` stays empty).
///   [`Backend::cspace_info`] reports vCPU 0's CNode.
/// * **Replies** (non-MCS): after each vCPU fault is received, its reply cap
///   is moved with `CNode_SaveCaller` into a slot owned by that vCPU, so the
///   core can reply in any order; `reply` sends an empty message on it
///   (`seL4_NBSend`, so a stale slot can never fault the VMM).
/// * **Notifications**: the process-wide notification is bound to the VMM
///   thread; [`Sel4Backend::mint_notification`] hands out copies badged with
///   [`badge::NOTIFICATION_BIT`] set, so they can never be mistaken for vCPUs.
pub struct Sel4Backend {
    res: Rc<RefCell<dyn ObjectSource>>,
    vspace: SourceObject,
    /// Stage-2 translation tables, freed with the backend.
    stage2: Vec<SourceObject>,
    endpoint: SourceObject,
    notification: Option<SourceObject>,
    minted: Vec<Slot>,
    frames: BTreeMap<u64, GuestFrame>,
    window: VaWindow,
    /// By vCPU id, sorted (a handful; a `Vec` is smaller code than a B-tree).
    vcpus: Vec<(u32, VcpuSlots)>,
    cache: CacheMaintenance,
    zero_device_frames: bool,
    wakeup: Option<WakeupTimer>,
    /// Notification bits that arrived with a wake-up and are still to be reported.
    pending_bits: u64,
    /// The vCPU whose reply cap is still in the VMM thread's caller slot
    /// (saved to its own slot only if another receive comes first).
    caller: Option<VcpuId>,
    /// The reply to `caller` rides on the next receive (`seL4_ReplyRecv`).
    fused_reply: bool,
    /// Installed services `(index, VMM cap, badge)`, minted into every
    /// vCPU's CNode, including those created later.
    services: Vec<(u64, u64, u64)>,
}

/// The EL1 physical timer (`CNTP`, PPI 30) as the VMM's wake-up timer;
/// user level may program it when the kernel exports it
/// (`KernelArmExportPTMRUser`).
#[derive(Clone, Copy, Debug)]
struct WakeupTimer {
    /// `IRQHandler` of INTID 30, bound to the notification with `bit`.
    handler: sel4_abi::cap::IrqHandler,
    bit: u64,
    /// The interrupt fired and is masked until acknowledged.
    ack_owed: bool,
}

/// `CNTP_CTL_EL0`, `CNTP_CVAL_EL0` from user level.
mod cntp {
    /// `CNTP_CTL_EL0.ENABLE`.
    pub const ENABLE: u64 = 1;
    /// `CNTP_CTL_EL0` and `CNTP_CVAL_EL0`.
    #[cfg(all(target_arch = "aarch64", target_os = "none"))]
    fn ctl_cval() -> (u64, u64) {
        let (ctl, cval): (u64, u64);
        // SAFETY: reads of registers the kernel exports to user level.
        unsafe {
            core::arch::asm!(
                "mrs {ctl}, cntp_ctl_el0",
                "mrs {cval}, cntp_cval_el0",
                ctl = out(reg) ctl,
                cval = out(reg) cval,
                options(nostack, preserves_flags, nomem),
            );
        }
        (ctl, cval)
    }

    /// Arms the timer at `cval` (no writes if it already is: the guest
    /// may have moved it, so it is read back rather than remembered).
    #[cfg(all(target_arch = "aarch64", target_os = "none"))]
    pub fn arm(cval: u64) {
        let (ctl, cur) = ctl_cval();
        if cur == cval && ctl & (ENABLE | IMASK) == ENABLE {
            return;
        }
        // SAFETY: plain system-register accesses the kernel exports to
        // user level; they touch no memory.
        unsafe {
            core::arch::asm!(
                "msr cntp_cval_el0, {cval}",
                "msr cntp_ctl_el0, {en}",
                "isb",
                cval = in(reg) cval,
                en = in(reg) ENABLE,
                options(nostack, preserves_flags),
            );
        }
    }

    /// `CNTP_CTL_EL0.IMASK`.
    const IMASK: u64 = 2;
    /// `CNTP_CTL_EL0.ISTATUS`.
    const ISTATUS: u64 = 4;

    /// Stops the timer interrupting: masked, but left enabled so that
    /// [`count`]'s fast path keeps working.
    #[cfg(all(target_arch = "aarch64", target_os = "none"))]
    pub fn disarm() {
        // SAFETY: as in `arm`.
        unsafe {
            core::arch::asm!(
                "msr cntp_ctl_el0, {ctl}",
                "isb",
                ctl = in(reg) ENABLE | IMASK,
                options(nostack, preserves_flags)
            );
        }
    }

    /// Largest distance (ticks) between the count and an armed deadline:
    /// [`count`]'s fast path reads `CVAL - count` as a signed 32-bit
    /// `TVAL`, so the deadline armed by [`arm`] is never further away than
    /// this; a later deadline fires early and is armed again.
    pub const MAX_AHEAD: u64 = 1 << 30;

    /// The last count [`count`] returned.
    static LAST: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

    /// The physical count (`CNTPCT_EL0` is not exported to user level).
    ///
    /// Fast path, while the timer is enabled: `CNTP_TVAL_EL0` reads as
    /// `(CVAL - count)[31:0]`, so register reads give the count. It is
    /// taken only if the result neither goes back nor jumps ahead by 2^31
    /// ticks or more from the last one, and agrees with `ISTATUS` (a
    /// deadline 2^31 ticks or more away, e.g. one the guest set, wraps
    /// `TVAL`; the checks catch that and fall back). The slow path writes
    /// `CNTP_TVAL_EL0 = 0`, which sets `CNTP_CVAL_EL0` to the count, with
    /// the timer masked meanwhile; an armed timer gets its compare value
    /// and control back, a disarmed one is left masked at the count (so the
    /// fast path works again). Each write reprograms QEMU's timer and the
    /// GIC's input line, and this runs several times per exit.
    #[cfg(all(target_arch = "aarch64", target_os = "none"))]
    pub fn count() -> u64 {
        use core::sync::atomic::Ordering::Relaxed;
        let (ctl, cval) = ctl_cval();
        let tval: u64;
        // SAFETY: a read of a register the kernel exports to user level.
        unsafe {
            core::arch::asm!(
                "mrs {tval}, cntp_tval_el0",
                tval = out(reg) tval,
                options(nostack, preserves_flags, nomem),
            );
        }
        let last = LAST.load(Relaxed);
        if ctl & ENABLE != 0 {
            let now = cval.wrapping_sub(tval as u32 as i32 as i64 as u64);
            let met = ctl & ISTATUS != 0;
            if now >= last && now - last < 1 << 31 && met == (now >= cval) {
                LAST.store(now, Relaxed);
                return now;
            }
        }
        let now = count_slow();
        LAST.store(now, Relaxed);
        now
    }

    /// [`count`] by writing `CNTP_TVAL_EL0 = 0` (see there).
    #[cfg(all(target_arch = "aarch64", target_os = "none"))]
    fn count_slow() -> u64 {
        let (ctl, cval, now): (u64, u64, u64);
        // SAFETY: as in `arm`.
        unsafe {
            core::arch::asm!(
                "mrs {ctl}, cntp_ctl_el0",
                "mrs {cval}, cntp_cval_el0",
                "orr {tmp}, {ctl}, #3",
                "msr cntp_ctl_el0, {tmp}",
                "isb",
                "msr cntp_tval_el0, xzr",
                "isb",
                "mrs {now}, cntp_cval_el0",
                ctl = out(reg) ctl,
                cval = out(reg) cval,
                now = out(reg) now,
                tmp = out(reg) _,
                options(nostack, preserves_flags),
            );
        }
        if ctl & (ENABLE | IMASK) == ENABLE {
            // Armed: put the deadline back.
            // SAFETY: as in `arm`.
            unsafe {
                core::arch::asm!(
                    "msr cntp_cval_el0, {cval}",
                    "isb",
                    "msr cntp_ctl_el0, {ctl}",
                    "isb",
                    cval = in(reg) cval,
                    ctl = in(reg) ctl,
                    options(nostack, preserves_flags),
                );
            }
        }
        now
    }

    #[cfg(not(all(target_arch = "aarch64", target_os = "none")))]
    pub fn count() -> u64 {
        0
    }

    #[cfg(not(all(target_arch = "aarch64", target_os = "none")))]
    pub fn arm(_cval: u64) {}

    #[cfg(not(all(target_arch = "aarch64", target_os = "none")))]
    pub fn disarm() {}
}

impl Sel4Backend {
    /// Creates the guest VSpace (assigned to the root task's ASID pool), the
    /// VMM endpoint, the VMM window and (optionally) binds the notification,
    /// with everything from the root task's `sel4-rt` allocators.
    ///
    /// Corresponds to the kernel-object part of `vm_init`.
    pub fn new(res: Rc<RefCell<Resources>>, config: Sel4Config) -> Result<Self, BackendError> {
        Self::with_source(res, config)
    }

    /// As [`Sel4Backend::new`], with objects, slots and VMM mappings from
    /// any [`ObjectSource`] (the C API's adapter over `vka_t`/`vspace_t`).
    pub fn with_source(
        res: Rc<RefCell<dyn ObjectSource>>,
        config: Sel4Config,
    ) -> Result<Self, BackendError> {
        // Whole 2 MiB slots only, so large frames fit anywhere in it.
        let window_size = config.window_size & !(LARGE_PAGE_SIZE - 1);
        if window_size == 0 {
            return Err(BackendError::OutOfMemory);
        }
        let mut guard = res.borrow_mut();
        let r = &mut *guard;
        let window_base = r.reserve_vmm(window_size, LARGE_BITS as u8)?;
        let vspace = r.alloc(ObjectKind::VSpace, None)?;
        let assigned = r.assign_asid(vspace.cap).unwrap_or_else(|| {
            AsidPool::from_bits(r.host_caps().asid_pool)
                .asid_pool_assign(VSpace::from_bits(vspace.cap))
                .map_err(decode::kernel_error)
        });
        if let Err(e) = assigned {
            let _ = r.free(&vspace);
            return Err(e);
        }
        let endpoint = match r.alloc(ObjectKind::Endpoint, None) {
            Ok(o) => o,
            Err(e) => {
                let _ = r.free(&vspace);
                return Err(e);
            }
        };
        let notification = if config.bind_notification {
            match bound_notification(r) {
                Ok(n) => Some(n),
                Err(e) => {
                    let _ = r.free(&endpoint);
                    let _ = r.free(&vspace);
                    return Err(e);
                }
            }
        } else {
            None
        };
        drop(guard);
        Ok(Self {
            res,
            vspace,
            stage2: Vec::new(),
            endpoint,
            notification,
            minted: Vec::new(),
            frames: BTreeMap::new(),
            window: VaWindow::new(window_base, window_size),
            vcpus: Vec::new(),
            cache: config.cache,
            zero_device_frames: config.zero_device_frames,
            wakeup: None,
            pending_bits: 0,
            caller: None,
            fused_reply: false,
            services: Vec::new(),
        })
    }

    /// The VMM endpoint vCPU faults arrive on (unbadged original cap).
    pub fn endpoint(&self) -> CPtr {
        CPtr(self.endpoint.cap)
    }

    /// The guest VSpace cap.
    pub fn guest_vspace(&self) -> CPtr {
        CPtr(self.vspace.cap)
    }

    /// The notification bound to the VMM thread, if one was bound.
    pub fn notification(&self) -> Option<CPtr> {
        self.notification.map(|n| CPtr(n.cap))
    }

    /// Mints a copy of the bound notification with badge
    /// `bits | NOTIFICATION_BIT`, for an IRQ handler
    /// (`IRQHandler_SetNotification`) or another thread to signal. The cap
    /// stays owned by the backend and is deleted with it.
    ///
    /// Corresponds to minting the badged notification caps libsel4vm hands
    /// to `vm_register_irq` users.
    pub fn mint_notification(&mut self, bits: u64) -> sel4vm::Result<CPtr> {
        let badge = badge::for_notification(bits)?;
        let n = self.notification.ok_or(BackendError::Unsupported)?;
        let mut res = self.res.borrow_mut();
        let slot = res.alloc_slot()?;
        if let Err(e) = mint_cap(res.path(slot), res.path(n.cap), CapRights::ALL, badge) {
            res.free_slot(slot);
            return Err(decode::kernel_error(e).into());
        }
        self.minted.push(slot);
        Ok(CPtr(slot))
    }

    /// The VMM address a guest frame is mapped at.
    pub fn vmm_vaddr(&self, frame: FrameHandle) -> Option<u64> {
        self.frames.get(&frame.0).map(|f| f.vmm_va)
    }

    /// The frame cap mapped into the guest (the handle is its slot).
    pub fn frame_cap(&self, frame: FrameHandle) -> Option<CPtr> {
        self.frames.get(&frame.0).map(|f| CPtr(f.obj.cap))
    }

    /// Number of live guest frames.
    pub fn frame_count(&self) -> usize {
        self.frames.len()
    }

    /// Number of stage-2 page tables created so far.
    pub fn stage2_tables(&self) -> usize {
        self.stage2.len()
    }

    /// `(base, size)` of the VMM window guest frames are mapped into.
    pub fn vmm_window(&self) -> (u64, u64) {
        (self.window.base(), self.window.size())
    }

    /// Takes the `IRQHandler` of `intid` from `irq_control` into a new slot
    /// and binds it to a notification minted with badge bit `bit`, so the
    /// interrupt arrives as [`Event::Notification`] with that bit. Returns
    /// the handler cap (acknowledge it with `IRQHandler_Ack`).
    pub fn bind_irq(&mut self, irq_control: CPtr, intid: u32, bit: u64) -> sel4vm::Result<CPtr> {
        let ntfn = self.mint_notification(bit)?;
        let r = self.bind_irq_to(irq_control, intid, ntfn);
        if r.is_err() {
            // Nothing half-made stays behind: the minted badge goes too.
            let mut res = self.res.borrow_mut();
            let _ = delete_cap(res.path(ntfn.0));
            res.free_slot(ntfn.0);
            self.minted.retain(|&s| s != ntfn.0);
        }
        r
    }

    fn bind_irq_to(&mut self, irq_control: CPtr, intid: u32, ntfn: CPtr) -> sel4vm::Result<CPtr> {
        let mut res = self.res.borrow_mut();
        let slot = res.alloc_slot()?;
        let path = res.path(slot);
        let got = sel4_abi::cap::IrqControl::from_bits(irq_control.0).irq_control_get(
            u64::from(intid),
            CNode::from_bits(path.root),
            path.index,
            path.depth,
        );
        if let Err(e) = got {
            res.free_slot(slot);
            return Err(decode::kernel_error(e).into());
        }
        let handler = sel4_abi::cap::IrqHandler::from_bits(slot);
        if let Err(e) = handler.irq_handler_set_notification(Notification::from_bits(ntfn.0)) {
            let _ = delete_cap(path);
            res.free_slot(slot);
            return Err(decode::kernel_error(e).into());
        }
        Ok(CPtr(slot))
    }

    /// Makes the EL1 physical timer the VMM's wake-up timer
    /// ([`Backend::set_wakeup`]): `handler` is the `IRQHandler` of INTID 30
    /// (PPI 30, from `IRQControl_Get`), already bound to the notification
    /// minted with `bit` ([`Sel4Backend::mint_notification`]). Needs a
    /// kernel built with `KernelArmExportPTMRUser`.
    pub fn enable_wakeup_timer(&mut self, handler: CPtr, bit: u64) {
        cntp::disarm();
        self.wakeup = Some(WakeupTimer {
            handler: sel4_abi::cap::IrqHandler::from_bits(handler.0),
            bit,
            ack_owed: false,
        });
    }

    /// Changes the cache maintenance done around VMM accesses.
    pub fn set_cache_maintenance(&mut self, cache: CacheMaintenance) {
        self.cache = cache;
    }

    fn frame(&self, frame: FrameHandle) -> Result<GuestFrame, BackendError> {
        self.frames
            .get(&frame.0)
            .copied()
            .ok_or(BackendError::InvalidFrame)
    }

    fn vcpu(&self, vcpu: VcpuId) -> Result<VcpuSlots, BackendError> {
        let i = self
            .vcpu_index(vcpu)
            .map_err(|_| BackendError::InvalidVcpu(vcpu))?;
        Ok(self.vcpus[i].1)
    }

    /// Position of `vcpu` in `vcpus` (`Err`: where it would go).
    fn vcpu_index(&self, vcpu: VcpuId) -> Result<usize, usize> {
        self.vcpus.binary_search_by_key(&vcpu.0, |v| v.0)
    }

    fn vcpu_mut(&mut self, vcpu: VcpuId) -> Option<&mut VcpuSlots> {
        let i = self.vcpu_index(vcpu).ok()?;
        Some(&mut self.vcpus[i].1)
    }

    /// The cache maintenance [`sel4vm::cache::plan`] asks for at `phase`
    /// of `touch`, as `seL4_ARM_Page_*` invocations on the VMM's caps.
    fn maintain(&self, run: &[GuestFrame], touch: Touch, phase: Phase) -> Result<(), BackendError> {
        if self.cache == CacheMaintenance::None || touch.coherent {
            return Ok(());
        }
        let sizes: Vec<u64> = run.iter().map(GuestFrame::size).collect();
        let mut ops = Vec::new();
        sel4vm::cache::plan(self.cache, &sizes, touch, phase, &mut ops);
        for o in ops {
            let op = match o.op {
                sel4vm::cache::CacheOp::CleanInvalidateData => CacheOp::CleanInvalidateData,
                sel4vm::cache::CacheOp::UnifyInstruction => CacheOp::UnifyInstruction,
            };
            sel4_abi::cap::Frame::from_bits(run[o.frame].vmm_cap)
                .frame_cache_op(op, o.start, o.end)
                .map_err(decode::kernel_error)?;
        }
        Ok(())
    }

    /// Allocates a frame of `kind` (anywhere or at `paddr`), maps its VMM
    /// copy and zeroes it if it came from device memory.
    fn alloc_guest_frame(
        &mut self,
        kind: ObjectKind,
        paddr: Option<u64>,
    ) -> Result<FrameHandle, BackendError> {
        let obj = self.res.borrow_mut().alloc(kind, paddr)?;
        let f = match self.map_into_vmm(obj) {
            Ok(f) => f,
            Err(e) => {
                let _ = self.res.borrow_mut().free(&obj);
                return Err(e);
            }
        };
        self.frames.insert(obj.cap, f);
        // Frames from device untypeds are not zeroed by the kernel and may
        // hold a previous guest's data.
        if obj.device && self.zero_device_frames {
            let size = self.frames.get(&obj.cap).map_or(0, GuestFrame::size);
            let r = self.access_frame(FrameHandle(obj.cap), Touch::whole(size), |b| b.fill(0));
            if let Err(e) = r {
                self.free_frame(FrameHandle(obj.cap));
                return Err(e);
            }
        }
        Ok(FrameHandle(obj.cap))
    }

    /// A 4 KiB frame cap the application owns (`cptr` in the VMM's CSpace,
    /// as its allocator names it), for libsel4vm's caller-provided frames
    /// (`vm_map_reservation_frames`, custom memory iterators). The backend
    /// maps two copies of the cap, one for the guest and one for the VMM,
    /// so the caller's cap stays unmapped and its own; freeing the handle
    /// deletes the copies and never the memory.
    pub fn adopt_frame(&mut self, cptr: u64) -> Result<FrameHandle, BackendError> {
        let (slot, paddr) = {
            let mut res = self.res.borrow_mut();
            let r = &mut *res;
            let slot = r.alloc_slot()?;
            let copied =
                copy_cap(r.path(slot), r.path(cptr), CapRights::ALL).map_err(decode::kernel_error);
            let paddr = copied.and_then(|()| {
                sel4_abi::cap::Frame::from_bits(slot)
                    .frame_get_address()
                    .map_err(decode::kernel_error)
            });
            match paddr {
                Ok(pa) => (slot, pa),
                Err(e) => {
                    log::error!(
                        "sel4vm-sel4: cap {cptr:#x} is not a frame cap the VMM can copy: {e}"
                    );
                    let _ = delete_cap(r.path(slot));
                    r.free_slot(slot);
                    return Err(BackendError::InvalidFrame);
                }
            }
        };
        let obj = SourceObject {
            cap: slot,
            kind: ObjectKind::SmallPage,
            paddr: Some(paddr),
            device: false,
            cookie: 0,
        };
        match self.map_into_vmm(obj) {
            Ok(mut f) => {
                f.adopted = true;
                self.frames.insert(obj.cap, f);
                Ok(FrameHandle(obj.cap))
            }
            Err(e) => {
                let mut res = self.res.borrow_mut();
                let _ = delete_cap(res.path(obj.cap));
                res.free_slot(obj.cap);
                Err(e)
            }
        }
    }

    /// Maps the VMM copy of a new frame; undoes itself on failure.
    fn map_into_vmm(&mut self, obj: SourceObject) -> Result<GuestFrame, BackendError> {
        let bits = obj.kind.size_bits();
        let va = self
            .window
            .alloc(u32::from(bits))
            .ok_or(BackendError::OutOfMemory)?;
        let mut res = self.res.borrow_mut();
        let r = &mut *res;
        let slot = match r.alloc_slot() {
            Ok(s) => s,
            Err(e) => {
                self.window.free(va, u32::from(bits));
                return Err(e);
            }
        };
        let mapped = copy_cap(r.path(slot), r.path(obj.cap), CapRights::READ_WRITE)
            .map_err(decode::kernel_error)
            .and_then(|()| r.map_vmm(slot, va, bits));
        if let Err(e) = mapped {
            let _ = delete_cap(r.path(slot));
            r.free_slot(slot);
            self.window.free(va, u32::from(bits));
            return Err(e);
        }
        Ok(GuestFrame {
            obj,
            vmm_cap: slot,
            vmm_va: va,
            guest_ipa: None,
            adopted: false,
        })
    }

    /// Deletes the VMM copy (which unmaps it) and returns slot and address.
    fn unmap_from_vmm(&mut self, f: &GuestFrame) {
        let mut res = self.res.borrow_mut();
        res.unmap_vmm(f.vmm_cap, f.vmm_va, f.obj.kind.size_bits());
        if let Err(e) = delete_cap(res.path(f.vmm_cap)) {
            log::warn!("sel4vm-sel4: deleting VMM frame copy {}: {e}", f.vmm_cap);
            return;
        }
        res.free_slot(f.vmm_cap);
        self.window.free(f.vmm_va, f.bits());
    }

    /// Maps `frame` into the guest at `ipa`, adding stage-2 tables from the
    /// source while the kernel reports `seL4_FailedLookup`.
    fn map_stage2(
        &mut self,
        frame: Slot,
        ipa: u64,
        rights: CapRights,
        attrs: VmAttributes,
    ) -> Result<(), BackendError> {
        let vs = VSpace::from_bits(self.vspace.cap);
        for _ in 0..=MAX_TABLES_PER_MAP {
            match encode::page_map(vs, ipa, rights, attrs).perform(CPtr(frame)) {
                Ok(_) => return Ok(()),
                Err(KernelError::FailedLookup) => {}
                Err(KernelError::DeleteFirst) => return Err(BackendError::InvalidAddress(ipa)),
                Err(e) => return Err(decode::kernel_error(e)),
            }
            let mut res = self.res.borrow_mut();
            let pt = res.alloc(ObjectKind::PageTable, None)?;
            match encode::page_table_map(vs, ipa, VmAttributes::DEFAULT).perform(CPtr(pt.cap)) {
                Ok(_) => self.stage2.push(pt),
                Err(e) => {
                    let _ = res.free(&pt);
                    return Err(match e {
                        KernelError::DeleteFirst => BackendError::InvalidAddress(ipa),
                        e => decode::kernel_error(e),
                    });
                }
            }
        }
        Err(decode::kernel_error(KernelError::FailedLookup))
    }

    fn destroy_vcpu(&mut self, v: VcpuSlots) {
        let mut res = self.res.borrow_mut();
        let _ = Tcb::from_bits(v.tcb.cap).tcb_suspend();
        let _ = delete_cap(res.path(v.reply));
        res.free_slot(v.reply);
        // Deleting the CNode's only cap also deletes the caps in it (fault
        // endpoint, services).
        for o in [v.tcb, v.cspace, v.vcpu] {
            if let Err(e) = res.free(&o) {
                log::warn!("sel4vm-sel4: freeing vCPU object {}: {e}", o.cap);
            }
        }
    }
}

impl Backend for Sel4Backend {
    fn cspace_info(&self) -> CSpaceInfo {
        // libsel4vm's one VM CNode is one per vCPU here; vCPU 0's stands
        // for it (what vm_t.cspace shows C code).
        match self.vcpus.first() {
            Some((0, v)) => CSpaceInfo {
                cspace: KernelObject(v.cspace.cap),
                root_data: sel4vm::VM_CSPACE_ROOT_DATA,
            },
            _ => CSpaceInfo::default(),
        }
    }

    fn install_service(
        &mut self,
        service: KernelObject,
        index: u64,
        badge: u64,
    ) -> Result<(), BackendError> {
        let res = self.res.borrow();
        let src = res.path(service.0);
        let mut done: Vec<CapPath> = Vec::new();
        for (_, v) in &self.vcpus {
            let dest = CapPath {
                root: v.cspace.cap,
                index,
                depth: VCPU_CSPACE_BITS,
            };
            // All rights, as libsel4vmmplatsupport's vmm_install_service.
            if let Err(e) = mint_cap(dest, src, CapRights::ALL, badge) {
                for d in done {
                    let _ = delete_cap(d);
                }
                return Err(decode::kernel_error(e));
            }
            done.push(dest);
        }
        drop(res);
        self.services.push((index, service.0, badge));
        Ok(())
    }

    fn alloc_frame(&mut self, paddr: Option<u64>) -> Result<FrameHandle, BackendError> {
        self.alloc_guest_frame(ObjectKind::SmallPage, paddr)
    }

    fn alloc_large_frame(&mut self, paddr: Option<u64>) -> Result<FrameHandle, BackendError> {
        self.alloc_guest_frame(ObjectKind::LargePage, paddr)
    }

    fn free_frame(&mut self, frame: FrameHandle) {
        let Some(f) = self.frames.remove(&frame.0) else {
            log::warn!("sel4vm-sel4: free of unknown frame {:#x}", frame.0);
            return;
        };
        self.unmap_from_vmm(&f);
        if f.adopted {
            // Our copy only; deleting it removes its stage-2 mapping.
            let mut res = self.res.borrow_mut();
            match delete_cap(res.path(f.obj.cap)) {
                Ok(()) => res.free_slot(f.obj.cap),
                Err(e) => log::warn!("sel4vm-sel4: deleting frame copy {}: {e}", f.obj.cap),
            }
            return;
        }
        // Deleting the last cap also removes a stage-2 mapping that was left.
        if let Err(e) = self.res.borrow_mut().free(&f.obj) {
            log::warn!("sel4vm-sel4: freeing frame {}: {e}", f.obj.cap);
        }
    }

    fn frame_paddr(&mut self, frame: FrameHandle) -> Result<u64, BackendError> {
        // A `vka_t` without `utspace_paddr` cannot tell.
        self.frame(frame)?
            .obj
            .paddr
            .ok_or(BackendError::Unsupported)
    }

    fn map_guest(
        &mut self,
        frame: FrameHandle,
        ipa: u64,
        rights: Rights,
    ) -> Result<(), BackendError> {
        let f = self.frame(frame)?;
        if f.guest_ipa.is_some() || !ipa.is_multiple_of(f.size()) {
            return Err(BackendError::InvalidAddress(ipa));
        }
        let (cap_rights, attrs) = decode::stage2_rights(rights);
        self.map_stage2(f.obj.cap, ipa, cap_rights, attrs)?;
        if let Some(g) = self.frames.get_mut(&frame.0) {
            g.guest_ipa = Some(ipa);
        }
        Ok(())
    }

    fn unmap_guest(&mut self, frame: FrameHandle, ipa: u64) -> Result<(), BackendError> {
        let f = self.frame(frame)?;
        if f.guest_ipa != Some(ipa) {
            return Err(BackendError::InvalidAddress(ipa));
        }
        sel4_abi::cap::Frame::from_bits(f.obj.cap)
            .frame_unmap()
            .map_err(decode::kernel_error)?;
        if let Some(g) = self.frames.get_mut(&frame.0) {
            g.guest_ipa = None;
        }
        Ok(())
    }

    fn access_frame<R>(
        &mut self,
        frame: FrameHandle,
        touch: Touch,
        f: impl FnOnce(&mut [u8]) -> R,
    ) -> Result<R, BackendError> {
        self.access_frames(&[frame], touch, f)
    }

    fn contiguous_frames(&mut self, frames: &[FrameHandle]) -> usize {
        let mut run = 1;
        let Some(mut prev) = frames.first().and_then(|h| self.frames.get(&h.0)) else {
            return 1;
        };
        for h in &frames[1..] {
            match self.frames.get(&h.0) {
                Some(g) if g.vmm_va == prev.vmm_va + prev.size() => {
                    run += 1;
                    prev = g;
                }
                _ => break,
            }
        }
        run
    }

    fn frame_view(&mut self, frame: FrameHandle, coherent: bool) -> Option<core::ptr::NonNull<u8>> {
        // Mapped at `vmm_va` while registered; a view is only safe when no
        // cache maintenance would be needed around an access.
        if self.cache != CacheMaintenance::None && !coherent {
            return None;
        }
        let g = self.frame(frame).ok()?;
        core::ptr::NonNull::new(g.vmm_va as *mut u8)
    }

    fn access_frames<R>(
        &mut self,
        frames: &[FrameHandle],
        touch: Touch,
        f: impl FnOnce(&mut [u8]) -> R,
    ) -> Result<R, BackendError> {
        // One frame (nearly every device access): no run to build.
        if let [h] = frames {
            let g = self.frame(*h)?;
            self.maintain(core::slice::from_ref(&g), touch, Phase::Before)?;
            // SAFETY: as below, for a single frame.
            let bytes =
                unsafe { core::slice::from_raw_parts_mut(g.vmm_va as *mut u8, g.size() as usize) };
            let out = f(bytes);
            self.maintain(core::slice::from_ref(&g), touch, Phase::After)?;
            return Ok(out);
        }
        let mut run: Vec<GuestFrame> = Vec::with_capacity(frames.len());
        for h in frames {
            let g = self.frame(*h)?;
            if let Some(p) = run.last() {
                if g.vmm_va != p.vmm_va + p.size() {
                    return Err(BackendError::Unsupported);
                }
            }
            run.push(g);
        }
        let (Some(first), Some(last)) = (run.first(), run.last()) else {
            return Err(BackendError::InvalidFrame);
        };
        let len = (last.vmm_va + last.size() - first.vmm_va) as usize;
        self.maintain(&run, touch, Phase::Before)?;
        // SAFETY: each frame's VMM copy is mapped read-write at its `vmm_va`
        // for as long as it is in `self.frames`, the run was checked to be
        // contiguous, and it is only reachable through `&mut self`; on one
        // core the guest is not running while the VMM executes this.
        let bytes = unsafe { core::slice::from_raw_parts_mut(first.vmm_va as *mut u8, len) };
        let out = f(bytes);
        self.maintain(&run, touch, Phase::After)?;
        Ok(out)
    }

    fn create_vcpu(&mut self, vcpu: VcpuId, priority: u8) -> Result<VcpuObjects, BackendError> {
        let Err(at) = self.vcpu_index(vcpu) else {
            return Err(BackendError::InvalidVcpu(vcpu));
        };
        let mut res = self.res.borrow_mut();
        let r = &mut *res;
        let host = r.host_caps();
        let mut objs: Vec<SourceObject> = Vec::new();
        let mut slots: Vec<Slot> = Vec::new();
        let result = (|| {
            let vo = r.alloc(ObjectKind::Vcpu, None)?;
            objs.push(vo);
            let tcb = r.alloc(ObjectKind::Tcb, None)?;
            objs.push(tcb);
            let cspace = r.alloc(
                ObjectKind::CNode {
                    slot_bits: VCPU_CSPACE_BITS,
                },
                None,
            )?;
            objs.push(cspace);
            let reply = r.alloc_slot()?;
            slots.push(reply);
            // Faults may only be sent (and carry a reply cap); no receive right.
            let ep_rights = CapRights::new(true, true, false, true);
            let in_vcpu_cspace = CapPath {
                root: cspace.cap,
                index: VCPU_FAULT_EP,
                depth: VCPU_CSPACE_BITS,
            };
            mint_cap(
                in_vcpu_cspace,
                r.path(self.endpoint.cap),
                ep_rights,
                badge::for_vcpu(vcpu),
            )
            .map_err(decode::kernel_error)?;
            for &(index, cap, badge) in &self.services {
                let dest = CapPath {
                    index,
                    ..in_vcpu_cspace
                };
                mint_cap(dest, r.path(cap), CapRights::ALL, badge).map_err(decode::kernel_error)?;
            }
            let t = Tcb::from_bits(tcb.cap);
            // The vCPU thread gets a CSpace of its own holding nothing but its
            // fault endpoint and the installed services: seL4 takes a guest
            // HVC as a system call (number in x7) made with the thread's
            // CSpace, so with the VMM's CSpace a guest could invoke the VMM's
            // caps. The guard makes the CNode resolve all 64 bits of a CPtr.
            t.tcb_configure(
                CPtr(VCPU_FAULT_EP),
                CNode::from_bits(cspace.cap),
                CNodeCapData::new(0, u32::from(64 - VCPU_CSPACE_BITS)),
                VSpace::from_bits(self.vspace.cap),
                0,
                0,
                CPtr::NULL,
            )
            .map_err(decode::kernel_error)?;
            t.tcb_set_priority(Tcb::from_bits(host.tcb), u64::from(priority))
                .map_err(decode::kernel_error)?;
            sel4_abi::cap::Vcpu::from_bits(vo.cap)
                .vcpu_set_tcb(t)
                .map_err(decode::kernel_error)?;
            Ok(VcpuSlots {
                vcpu: vo,
                tcb,
                cspace,
                reply,
                reply_path: r.path(reply),
                reply_pending: false,
                priority,
            })
        })();
        match result {
            Ok(v) => {
                self.vcpus.insert(at, (vcpu.0, v));
                Ok(VcpuObjects {
                    vcpu: KernelObject(v.vcpu.cap),
                    tcb: KernelObject(v.tcb.cap),
                    sc: None,
                })
            }
            Err(e) => {
                for s in slots {
                    let _ = delete_cap(r.path(s));
                    r.free_slot(s);
                }
                for o in objs.iter().rev() {
                    let _ = r.free(o);
                }
                Err(e)
            }
        }
    }

    fn start_vcpu(&mut self, vcpu: VcpuId) -> Result<(), BackendError> {
        let v = self.vcpu(vcpu)?;
        Tcb::from_bits(v.tcb.cap)
            .tcb_resume()
            .map_err(decode::kernel_error)
    }

    fn stop_vcpu(&mut self, vcpu: VcpuId) -> Result<(), BackendError> {
        let v = self.vcpu(vcpu)?;
        Tcb::from_bits(v.tcb.cap)
            .tcb_suspend()
            .map_err(decode::kernel_error)?;
        // Suspending cancels the pending fault; make sure no stale reply cap stays.
        delete_cap(v.reply_path).map_err(decode::kernel_error)?;
        if self.caller == Some(vcpu) {
            self.caller = None;
            self.fused_reply = false;
        }
        if let Some(s) = self.vcpu_mut(vcpu) {
            s.reply_pending = false;
        }
        Ok(())
    }

    fn read_context(&mut self, vcpu: VcpuId) -> Result<UserContext, BackendError> {
        let v = self.vcpu(vcpu)?;
        let ctx = Tcb::from_bits(v.tcb.cap)
            .tcb_read_registers(false, sel4_abi::UserContext::WORDS)
            .map_err(decode::kernel_error)?;
        let mut out = UserContext::default();
        out.words.copy_from_slice(&ctx.as_words());
        Ok(out)
    }

    fn write_context(&mut self, vcpu: VcpuId, ctx: &UserContext) -> Result<(), BackendError> {
        let v = self.vcpu(vcpu)?;
        let regs = sel4_abi::UserContext::from_words(&ctx.words);
        Tcb::from_bits(v.tcb.cap)
            .tcb_write_registers(false, sel4_abi::UserContext::WORDS, &regs)
            .map_err(decode::kernel_error)
    }

    fn read_vcpu_reg(&mut self, vcpu: VcpuId, reg: VcpuReg) -> Result<u64, BackendError> {
        let v = self.vcpu(vcpu)?;
        sel4_abi::cap::Vcpu::from_bits(v.vcpu.cap)
            .vcpu_read_reg(decode::vcpu_reg(reg))
            .map_err(decode::kernel_error)
    }

    fn write_vcpu_reg(
        &mut self,
        vcpu: VcpuId,
        reg: VcpuReg,
        value: u64,
    ) -> Result<(), BackendError> {
        let v = self.vcpu(vcpu)?;
        sel4_abi::cap::Vcpu::from_bits(v.vcpu.cap)
            .vcpu_write_reg(decode::vcpu_reg(reg), value)
            .map_err(decode::kernel_error)
    }

    fn inject_irq(&mut self, vcpu: VcpuId, irq: VirqInjection) -> Result<(), BackendError> {
        let v = self.vcpu(vcpu)?;
        // The kernel takes a 16-bit virtual IRQ number.
        let virq = u16::try_from(irq.irq)
            .map_err(|_| decode::kernel_error(sel4_abi::Error::InvalidArgument))?;
        sel4_abi::cap::Vcpu::from_bits(v.vcpu.cap)
            .vcpu_inject_irq(virq, irq.priority, irq.group, irq.lr)
            .map_err(decode::kernel_error)
    }

    fn ack_vppi(&mut self, vcpu: VcpuId, irq: u32) -> Result<(), BackendError> {
        let v = self.vcpu(vcpu)?;
        sel4_abi::cap::Vcpu::from_bits(v.vcpu.cap)
            .vcpu_ack_vppi(u64::from(irq))
            .map_err(decode::kernel_error)
    }

    fn wait_event(&mut self) -> Result<Event, BackendError> {
        if self.pending_bits != 0 {
            let badge = core::mem::take(&mut self.pending_bits) | badge::NOTIFICATION_BIT;
            return Ok(Event::Notification { badge });
        }
        loop {
            let ep = CPtr(self.endpoint.cap);
            let (info, badge_word, fast) = if core::mem::take(&mut self.fused_reply) {
                // Reply to the last caller and receive, in one call.
                self.caller = None;
                let mut mrs = [0; 4];
                let (info, badge) =
                    syscall::reply_recv_with_mrs(ep, MessageInfo::new(0, 0, 0, 0), &mut mrs);
                (info, badge, mrs)
            } else {
                // The caller's reply cap would be lost: keep it in its slot.
                if let Some(v) = self.caller.take() {
                    if let Some(s) = self.vcpu_mut(v) {
                        if s.reply_pending {
                            let path = s.reply_path;
                            save_caller(path).map_err(decode::kernel_error)?;
                        }
                    }
                }
                syscall::recv_with_mrs(ep)
            };
            // Copy the whole message out before any invocation reuses the IPC buffer.
            let mut mrs = [0u64; sel4_abi::fault::UNKNOWN_SYSCALL_REPLY_LEN + 1];
            let n = info.length().min(mrs.len());
            let nfast = n.min(fast.len());
            mrs[..nfast].copy_from_slice(&fast[..nfast]);
            if n > nfast {
                sel4_abi::with_ipc_buffer(|b| mrs[nfast..n].copy_from_slice(&b.msg[nfast..n]));
            }
            let event = match decode::decode_message(info.label(), badge_word.0, &mrs[..n]) {
                Received::Event(e) => e,
                Received::Unbadged { label } => {
                    log::warn!("sel4vm-sel4: dropping unbadged message (label {label})");
                    continue;
                }
            };
            if let (Event::Notification { badge }, Some(t)) = (event, self.wakeup.as_mut()) {
                if badge & t.bit != 0 {
                    t.ack_owed = true;
                    self.pending_bits = badge & !t.bit & !badge::NOTIFICATION_BIT;
                    return Ok(Event::Wakeup);
                }
            }
            if let Some(vcpu) = event.vcpu() {
                if let Some(v) = self.vcpu_mut(vcpu) {
                    if v.reply_pending {
                        // A vCPU cannot fault twice without a reply; clear a stale cap.
                        let _ = delete_cap(v.reply_path);
                    }
                    v.reply_pending = true;
                    self.caller = Some(vcpu);
                }
                // Unknown vCPUs: the core rejects the event; the reply cap is dropped.
            }
            return Ok(event);
        }
    }

    fn yield_to(&mut self, vcpu: VcpuId) -> Result<(), BackendError> {
        let v = self.vcpu(vcpu)?;
        let (tcb, prio) = (v.tcb.cap, v.priority);
        let host = self.res.borrow().host_caps();
        // Setting a runnable thread's priority re-queues it at the head of
        // its ready queue: it runs next among the vCPUs.
        Tcb::from_bits(tcb)
            .tcb_set_priority(Tcb::from_bits(host.tcb), u64::from(prio))
            .map_err(decode::kernel_error)
    }

    fn counter(&mut self) -> Option<u64> {
        self.wakeup.is_some().then(cntp::count)
    }

    fn kernel_calls(&self) -> u64 {
        syscall::count()
    }

    fn set_wakeup(&mut self, at: Option<u64>) -> Result<bool, BackendError> {
        let t = self.wakeup.as_mut().ok_or(BackendError::Unsupported)?;
        let now = at.map(|_| cntp::count());
        let past = match (at, now) {
            // Compared with the count rather than read back from
            // `CNTP_CTL_EL0.ISTATUS`, which was seen to report a future
            // deadline as met under QEMU. A deadline that passes between the
            // two fires at once as an interrupt.
            (Some(cval), Some(now)) if cval <= now => {
                cntp::disarm();
                true
            }
            (Some(cval), Some(now)) => {
                // Never further than `cntp::count`'s fast path can see; an
                // early fire only re-arms.
                cntp::arm(cval.min(now.saturating_add(cntp::MAX_AHEAD)));
                false
            }
            _ => {
                cntp::disarm();
                false
            }
        };
        // Re-enable the interrupt only once the timer no longer asserts it.
        if t.ack_owed {
            t.ack_owed = false;
            t.handler.irq_handler_ack().map_err(decode::kernel_error)?;
        }
        Ok(past)
    }

    fn reply(&mut self, vcpu: VcpuId) -> Result<(), BackendError> {
        let v = self.vcpu_mut(vcpu).ok_or(BackendError::InvalidVcpu(vcpu))?;
        if !v.reply_pending {
            // A reply without an outstanding fault is a VMM bug.
            return Err(decode::kernel_error(sel4_abi::Error::IllegalOperation));
        }
        v.reply_pending = false;
        let saved = v.reply;
        // An empty reply with label 0 restarts the thread at its current PC.
        if self.caller == Some(vcpu) {
            self.caller = None;
            syscall::reply_with_mrs(MessageInfo::new(0, 0, 0, 0), [0; 4]);
        } else {
            syscall::nb_send_with_mrs(CPtr(saved), MessageInfo::new(0, 0, 0, 0), [0; 4]);
        }
        Ok(())
    }

    fn reply_deferred(&mut self, vcpu: VcpuId) -> Result<(), BackendError> {
        if self.caller != Some(vcpu) || self.fused_reply {
            return self.reply(vcpu);
        }
        let v = self.vcpu_mut(vcpu).ok_or(BackendError::InvalidVcpu(vcpu))?;
        if !v.reply_pending {
            return Err(decode::kernel_error(sel4_abi::Error::IllegalOperation));
        }
        v.reply_pending = false;
        self.fused_reply = true;
        Ok(())
    }

    fn flush_replies(&mut self) -> Result<(), BackendError> {
        if core::mem::take(&mut self.fused_reply) {
            self.caller = None;
            syscall::reply_with_mrs(MessageInfo::new(0, 0, 0, 0), [0; 4]);
        }
        Ok(())
    }
}

impl Drop for Sel4Backend {
    /// Suspends and deletes the vCPUs, frees every frame, the stage-2 tables,
    /// the VSpace, the endpoint and the minted notification caps, then
    /// coalesces the allocator. Memory and slots go back to the shared
    /// source; the VMM window's address range (and the VMM page tables
    /// covering it) are not reused.
    fn drop(&mut self) {
        for (_, v) in core::mem::take(&mut self.vcpus) {
            self.destroy_vcpu(v);
        }
        let frames: Vec<u64> = self.frames.keys().copied().collect();
        for f in frames {
            self.free_frame(FrameHandle(f));
        }
        let mut res = self.res.borrow_mut();
        for slot in self.minted.drain(..) {
            let _ = delete_cap(res.path(slot));
            res.free_slot(slot);
        }
        for pt in self.stage2.drain(..) {
            if let Err(e) = res.free(&pt) {
                log::warn!("sel4vm-sel4: freeing stage-2 table: {e}");
            }
        }
        for o in [self.endpoint, self.vspace] {
            if let Err(e) = res.free(&o) {
                log::warn!("sel4vm-sel4: freeing object {}: {e}", o.cap);
            }
        }
        res.coalesce();
    }
}
