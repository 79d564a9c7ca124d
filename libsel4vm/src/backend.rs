//! The kernel-backend trait: everything the core needs from the kernel.
//!
//! The core never talks to seL4 directly. A backend turns these calls into
//! seL4 invocations (`sel4vm-sel4`) or into plain host data structures
//! (`sel4vm-host`, used by the tests). Every method is small enough to map onto
//! one or two seL4 invocations; the comments say which.

use core::fmt;

use crate::cache::Touch;
use crate::error::BackendError;

/// Size of a small frame and of the pages the core allocates and walks guest
/// memory in (4 KiB, `seL4_PageBits`).
pub const PAGE_SIZE: u64 = 4096;
/// log2 of [`PAGE_SIZE`].
pub const PAGE_BITS: u32 = 12;
/// Size of a large frame (2 MiB, `seL4_LargePageBits` on aarch64). Guest RAM
/// is backed by large frames wherever a 2 MiB-aligned 2 MiB chunk allows it
/// and the backend supports them ([`Backend::alloc_large_frame`]).
pub const LARGE_PAGE_SIZE: u64 = 1 << LARGE_PAGE_BITS;
/// log2 of [`LARGE_PAGE_SIZE`] (`seL4_LargePageBits`).
pub const LARGE_PAGE_BITS: u32 = 21;

/// Index of a vCPU inside one VM (0 is the boot vCPU).
///
/// Corresponds to `vm_vcpu.vcpu_id`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VcpuId(pub u32);

impl fmt::Display for VcpuId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "vcpu{}", self.0)
    }
}

/// Opaque handle for a frame owned by the backend (a frame cap on seL4, an
/// index into host memory on the host). A frame is either 4 KiB
/// ([`PAGE_SIZE`]) or 2 MiB ([`LARGE_PAGE_SIZE`]); the backend remembers which.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FrameHandle(pub u64);

/// Opaque handle for a kernel object (a cap slot on seL4).
///
/// Corresponds to the `cptr` of a `vka_object_t`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KernelObject(pub u64);

/// Kernel objects backing one vCPU.
///
/// Corresponds to `vm_vcpu.vcpu` plus `vm_tcb` (`tcb`, `sc`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VcpuObjects {
    /// The VCPU object.
    pub vcpu: KernelObject,
    /// The TCB running the vCPU.
    pub tcb: KernelObject,
    /// Scheduling context (MCS kernels only).
    pub sc: Option<KernelObject>,
}

/// The VM's CSpace as the backend reports it.
///
/// Corresponds to `struct vm_cspace`. libsel4vm has one CNode per VM; here
/// each vCPU thread has its own ([`crate::cspace`]), and `cspace` is vCPU
/// 0's (0 while there is none).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CSpaceInfo {
    /// vCPU 0's CNode (`cspace_obj.cptr`), or 0.
    pub cspace: KernelObject,
    /// Guard/root data it is installed with as a TCB's CSpace
    /// ([`crate::cspace::VM_CSPACE_ROOT_DATA`] when there is a CNode).
    pub root_data: u64,
}

/// Stage-2 access rights of a guest mapping.
///
/// Corresponds to `seL4_CapRights_t` as used in `vm_frame_t.rights`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Rights {
    /// Guest may read.
    pub read: bool,
    /// Guest may write.
    pub write: bool,
    /// Guest may execute.
    pub execute: bool,
}

impl Rights {
    /// Read, write and execute (`seL4_AllRights`).
    pub const ALL: Rights = Rights {
        read: true,
        write: true,
        execute: true,
    };
    /// Read-only, non-executable.
    pub const READ_ONLY: Rights = Rights {
        read: true,
        write: false,
        execute: false,
    };
}

/// Number of words in [`UserContext`] (`sizeof(seL4_UserContext) / 8` on aarch64).
pub const USER_CONTEXT_WORDS: usize = 36;

/// The vCPU thread's general registers, in seL4's aarch64 `seL4_UserContext`
/// word order so that a backend can copy it in and out unchanged.
///
/// Corresponds to `seL4_UserContext`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserContext {
    /// Raw words in `seL4_UserContext` order; use the accessors.
    pub words: [u64; USER_CONTEXT_WORDS],
}

impl Default for UserContext {
    fn default() -> Self {
        Self {
            words: [0; USER_CONTEXT_WORDS],
        }
    }
}

/// Word index of `xN` inside `seL4_UserContext` (aarch64 puts x16-x18 and
/// x29/x30 before x9, hence the table).
const GPR_INDEX: [usize; 31] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, // x0..x8
    17, 18, 19, 20, 21, 22, 23, // x9..x15
    12, 13, 14, // x16..x18
    24, 25, 26, 27, 28, 29, 30, 31, 32, 33, // x19..x28
    15, 16, // x29, x30
];

impl UserContext {
    /// Word index of the program counter.
    pub const PC: usize = 0;
    /// Word index of the stack pointer (SP_EL0/SP_EL1 as seen by the thread).
    pub const SP: usize = 1;
    /// Word index of SPSR.
    pub const SPSR: usize = 2;
    /// Word index of TPIDR_EL0.
    pub const TPIDR_EL0: usize = 34;
    /// Word index of TPIDRRO_EL0.
    pub const TPIDRRO_EL0: usize = 35;

    /// Program counter.
    pub fn pc(&self) -> u64 {
        self.words[Self::PC]
    }
    /// Sets the program counter.
    pub fn set_pc(&mut self, v: u64) {
        self.words[Self::PC] = v;
    }
    /// Stack pointer.
    pub fn sp(&self) -> u64 {
        self.words[Self::SP]
    }
    /// Sets the stack pointer.
    pub fn set_sp(&mut self, v: u64) {
        self.words[Self::SP] = v;
    }
    /// Saved program status register.
    pub fn spsr(&self) -> u64 {
        self.words[Self::SPSR]
    }
    /// Sets SPSR.
    pub fn set_spsr(&mut self, v: u64) {
        self.words[Self::SPSR] = v;
    }
    /// General register `xN` (0..=30); `None` for N > 30.
    pub fn x(&self, n: usize) -> Option<u64> {
        GPR_INDEX.get(n).map(|&i| self.words[i])
    }
    /// Sets `xN` (0..=30); returns false for N > 30.
    pub fn set_x(&mut self, n: usize, v: u64) -> bool {
        match GPR_INDEX.get(n) {
            Some(&i) => {
                self.words[i] = v;
                true
            }
            None => false,
        }
    }
    /// Register `n` as a load/store *data* operand: 31 is XZR (reads 0).
    pub fn data_reg(&self, n: u8) -> u64 {
        self.x(n as usize).unwrap_or(0)
    }
    /// Writes a load/store data operand; writes to 31 (XZR) are discarded.
    pub fn set_data_reg(&mut self, n: u8, v: u64) {
        self.set_x(n as usize, v);
    }
    /// Register `n` as an address *base*: 31 is SP.
    pub fn base_reg(&self, n: u8) -> u64 {
        if n == 31 {
            self.sp()
        } else {
            self.x(n as usize).unwrap_or(0)
        }
    }
    /// Writes an address base register (31 is SP).
    pub fn set_base_reg(&mut self, n: u8, v: u64) {
        if n == 31 {
            self.set_sp(v)
        } else {
            self.set_x(n as usize, v);
        }
    }
}

/// Banked EL1 registers and timer state held in the VCPU object, numbered as
/// seL4's `seL4_VCPUReg` on aarch64.
///
/// Corresponds to the `reg` argument of `vm_get_arm_vcpu_reg` / `vm_set_arm_vcpu_reg`.
#[allow(missing_docs)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u32)]
pub enum VcpuReg {
    Sctlr = 0,
    Cpacr = 1,
    Ttbr0 = 2,
    Ttbr1 = 3,
    Tcr = 4,
    Mair = 5,
    Amair = 6,
    Cidr = 7,
    Actlr = 8,
    Afsr0 = 9,
    Afsr1 = 10,
    Esr = 11,
    Far = 12,
    Par = 13,
    Vbar = 14,
    TpidrEl1 = 15,
    VmpidrEl2 = 16,
    SpEl1 = 17,
    ElrEl1 = 18,
    SpsrEl1 = 19,
    CntvCtl = 20,
    CntvCval = 21,
    Cntvoff = 22,
    CntkctlEl1 = 23,
}

impl VcpuReg {
    /// Number of registers (`seL4_VCPUReg_Num`).
    pub const COUNT: u32 = 24;

    /// Looks a register up by its `seL4_VCPUReg` number.
    pub fn from_index(i: u64) -> Option<VcpuReg> {
        use VcpuReg::*;
        const ALL: [VcpuReg; 24] = [
            Sctlr, Cpacr, Ttbr0, Ttbr1, Tcr, Mair, Amair, Cidr, Actlr, Afsr0, Afsr1, Esr, Far, Par,
            Vbar, TpidrEl1, VmpidrEl2, SpEl1, ElrEl1, SpsrEl1, CntvCtl, CntvCval, Cntvoff,
            CntkctlEl1,
        ];
        ALL.get(usize::try_from(i).ok()?).copied()
    }
}

/// One virtual interrupt to place in a GIC list register.
///
/// Corresponds to the arguments of `seL4_ARM_VCPU_InjectIRQ`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VirqInjection {
    /// Virtual IRQ number.
    pub irq: u32,
    /// List-register priority, 0..=31 (the kernel's 5-bit field; 0 = highest).
    pub priority: u8,
    /// GIC group (0 or 1).
    pub group: u8,
    /// List-register index to use.
    pub lr: u8,
}

/// What the kernel told the VMM; one value per received message, already
/// decoded from the fault message registers by the backend.
///
/// vCPU-originated events carry the vCPU index derived from the badge with
/// [`badge`]; the core checks it against the VM's vCPUs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// Stage-2 fault (`seL4_Fault_VMFault`).
    VmFault {
        /// Faulting vCPU.
        vcpu: VcpuId,
        /// Guest PC (a guest *virtual* address).
        ip: u64,
        /// Faulting guest-physical address.
        addr: u64,
        /// Syndrome (ESR_EL2/HSR value).
        fsr: u32,
        /// True for an instruction fetch abort.
        prefetch: bool,
    },
    /// Trapped instruction or system event (`seL4_Fault_VCPUFault`), e.g. WFI, HVC, SMC.
    VcpuFault {
        /// Faulting vCPU.
        vcpu: VcpuId,
        /// Syndrome (ESR_EL2/HSR value).
        hsr: u32,
    },
    /// vGIC maintenance interrupt (`seL4_Fault_VGICMaintenance`): a list register became free.
    VgicMaintenance {
        /// vCPU whose list register emptied.
        vcpu: VcpuId,
        /// Index of the list register, if the kernel knew it.
        lr: Option<u32>,
    },
    /// A virtual PPI (e.g. the virtual timer) fired for a vCPU (`seL4_Fault_VPPIEvent`).
    VppiEvent {
        /// Target vCPU.
        vcpu: VcpuId,
        /// The PPI number.
        irq: u32,
    },
    /// `seL4_Fault_UnknownSyscall` from a vCPU thread.
    UnknownSyscall {
        /// Faulting vCPU.
        vcpu: VcpuId,
        /// Guest PC.
        ip: u64,
        /// Syscall number reported by the kernel.
        syscall: u64,
    },
    /// `seL4_Fault_CapFault` from a vCPU thread. A vCPU thread makes seL4
    /// system calls only by accident: seL4 takes a guest HVC whose x7 is
    /// one of its syscall numbers as that syscall, and the cap the guest's
    /// x0 names is not in the thread's CSpace (16 slots holding only its
    /// fault endpoint and installed services; see [`crate::cspace`]). The
    /// guest meant a hypervisor call. No libsel4vm
    /// counterpart (it stops on any other fault label).
    SyscallCapFault {
        /// Faulting vCPU.
        vcpu: VcpuId,
        /// Guest PC: the HVC instruction.
        ip: u64,
        /// The capability address that failed to resolve (the guest's x0).
        cptr: u64,
    },
    /// `seL4_Fault_UserException` from a vCPU thread.
    UserException {
        /// Faulting vCPU.
        vcpu: VcpuId,
        /// Guest PC.
        ip: u64,
        /// Exception number.
        number: u64,
        /// Exception code.
        code: u64,
    },
    /// A vCPU thread faulted with a label the backend does not know.
    UnknownFault {
        /// Faulting vCPU.
        vcpu: VcpuId,
        /// Raw message label.
        label: u64,
    },
    /// A notification (or a non-vCPU sender) arrived with this badge.
    Notification {
        /// Badge, with `badge::NOTIFICATION_BIT` set.
        badge: u64,
    },
    /// The wake-up timer armed with [`Backend::set_wakeup`] fired.
    Wakeup,
}

impl Event {
    /// The vCPU the event is about, if any.
    pub fn vcpu(&self) -> Option<VcpuId> {
        match *self {
            Event::VmFault { vcpu, .. }
            | Event::VcpuFault { vcpu, .. }
            | Event::VgicMaintenance { vcpu, .. }
            | Event::VppiEvent { vcpu, .. }
            | Event::UnknownSyscall { vcpu, .. }
            | Event::SyscallCapFault { vcpu, .. }
            | Event::UserException { vcpu, .. }
            | Event::UnknownFault { vcpu, .. } => Some(vcpu),
            Event::Notification { .. } | Event::Wakeup => None,
        }
    }
}

/// Badge scheme on the VMM endpoint.
///
/// vCPU fault endpoints are badged `index + 1` (so badge 0, an unbadged send,
/// is never a vCPU). Notifications bound to or sent to the VMM endpoint must set
/// [`badge::NOTIFICATION_BIT`], so the two ranges cannot collide whatever the number
/// of vCPUs. Corresponds to libsel4vm's `VCPU_BADGE_CREATE` / `VCPU_BADGE_IDX`.
pub mod badge {
    use super::VcpuId;
    use crate::error::Error;

    /// Set in every notification badge; never set in a vCPU badge.
    pub const NOTIFICATION_BIT: u64 = 1 << 63;

    /// What a received badge denotes.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Sender {
        /// A vCPU's fault endpoint.
        Vcpu(VcpuId),
        /// A notification; the value is the full badge.
        Notification(u64),
        /// Badge 0 (unbadged): not something the VMM handed out.
        Unbadged,
    }

    /// Badge for vCPU `id`'s fault endpoint.
    pub fn for_vcpu(id: VcpuId) -> u64 {
        u64::from(id.0) + 1
    }

    /// Badge for a notification source carrying `bits`; fails if `bits` uses
    /// the reserved top bit or is zero.
    pub fn for_notification(bits: u64) -> Result<u64, Error> {
        if bits == 0 || bits & NOTIFICATION_BIT != 0 {
            return Err(Error::InvalidBadge(bits));
        }
        Ok(bits | NOTIFICATION_BIT)
    }

    /// Classifies a received badge.
    pub fn decode(badge: u64) -> Sender {
        if badge & NOTIFICATION_BIT != 0 {
            Sender::Notification(badge)
        } else if badge == 0 {
            Sender::Unbadged
        } else {
            // Badges above u32::MAX + 1 are clamped so they stay unknown vCPUs.
            Sender::Vcpu(VcpuId(u32::try_from(badge - 1).unwrap_or(u32::MAX)))
        }
    }
}

/// Kernel services the VM core needs. `'static` because callbacks stored in
/// the VM name the backend type.
///
/// Guest memory is handled in frames of two sizes: 4 KiB ([`PAGE_SIZE`],
/// always available) and 2 MiB ([`LARGE_PAGE_SIZE`], optional, see
/// [`Backend::alloc_large_frame`]). The frame methods (`free_frame`,
/// `frame_paddr`, `map_guest`, `unmap_guest`, `access_frame`,
/// `contiguous_frames`, `access_frames`) accept frames of either size; the
/// backend knows each frame's size. Implementations must be deterministic
/// with respect to errors: a failed call leaves no partial kernel state
/// behind (the core undoes its own earlier steps).
pub trait Backend: 'static {
    /// Allocates a 4 KiB guest frame. `paddr: None` takes memory from anywhere;
    /// `Some(pa)` asks for the frame at exactly physical address `pa` (retyped
    /// from the untyped that covers it) for 1:1 guest RAM.
    fn alloc_frame(&mut self, paddr: Option<u64>) -> Result<FrameHandle, BackendError>;

    /// Allocates a 2 MiB guest frame (`seL4_ARM_LargePageObject`,
    /// `seL4_LargePageBits` = 21). `paddr` as for [`Backend::alloc_frame`];
    /// `Some(pa)` is 2 MiB aligned. New frames read as zero.
    ///
    /// The default reports [`BackendError::Unsupported`]; the core then backs
    /// guest RAM with 4 KiB frames only. Any other error makes the core fall
    /// back to 4 KiB frames for that 2 MiB chunk. Large frames cut the number
    /// of frame caps (and mappings) for big guests by 512.
    fn alloc_large_frame(&mut self, paddr: Option<u64>) -> Result<FrameHandle, BackendError> {
        let _ = paddr;
        Err(BackendError::Unsupported)
    }

    /// Returns a frame (of either size); it must not be mapped anywhere.
    fn free_frame(&mut self, frame: FrameHandle);

    /// Physical address of the start of a frame (`seL4_ARM_Page_GetAddress`).
    fn frame_paddr(&mut self, frame: FrameHandle) -> Result<u64, BackendError>;

    /// Maps `frame` into the guest's stage-2 address space at `ipa`, which is
    /// aligned to the frame's size (4 KiB or 2 MiB). One mapping covers the
    /// whole frame.
    fn map_guest(
        &mut self,
        frame: FrameHandle,
        ipa: u64,
        rights: Rights,
    ) -> Result<(), BackendError>;

    /// Removes the stage-2 mapping of `frame` at `ipa` (the address it was
    /// mapped at).
    fn unmap_guest(&mut self, frame: FrameHandle, ipa: u64) -> Result<(), BackendError>;

    /// Runs `f` with all of the frame's bytes (4096 or 2 MiB, by its size)
    /// visible in the VMM; `f` touches only the bytes `touch` names, and
    /// the backend keeps caches coherent for those ([`crate::cache`]).
    ///
    /// The backend chooses how: a permanent VMM mapping made once, or map,
    /// call, unmap. The slice must not outlive the call. On seL4 the guest
    /// cannot run concurrently on a single core while the VMM is in here.
    fn access_frame<R>(
        &mut self,
        frame: FrameHandle,
        touch: Touch,
        f: impl FnOnce(&mut [u8]) -> R,
    ) -> Result<R, BackendError>;

    /// How many of `frames` (frames backing consecutive guest memory, at
    /// least one, possibly of mixed sizes) the backend can present as one
    /// contiguous VMM slice starting with `frames[0]`. The default, 1, means
    /// frame by frame.
    fn contiguous_frames(&mut self, frames: &[FrameHandle]) -> usize {
        let _ = frames;
        1
    }

    /// A VMM pointer to the whole of `frame` that stays valid, without any
    /// cache maintenance, for as long as the frame is registered and the
    /// caller holds the backend borrowed: the fast path for small device
    /// accesses ([`crate::GuestMemory`] keeps a few). `coherent`: the guest
    /// maps this memory cacheably. `None` (the default): every access goes
    /// through [`Backend::access_frames`].
    fn frame_view(&mut self, frame: FrameHandle, coherent: bool) -> Option<core::ptr::NonNull<u8>> {
        let _ = (frame, coherent);
        None
    }

    /// Runs `f` with the bytes of `frames` as one slice (its length is the
    /// sum of the frames' sizes); only called with a run accepted by
    /// [`Backend::contiguous_frames`]. The default handles a single frame.
    fn access_frames<R>(
        &mut self,
        frames: &[FrameHandle],
        touch: Touch,
        f: impl FnOnce(&mut [u8]) -> R,
    ) -> Result<R, BackendError> {
        match frames {
            [one] => self.access_frame(*one, touch, f),
            _ => Err(BackendError::Unsupported),
        }
    }

    /// Creates the VCPU object and its TCB (bound to each other, fault endpoint
    /// badged with [`badge::for_vcpu`]), at `priority`; the thread stays suspended.
    fn create_vcpu(&mut self, vcpu: VcpuId, priority: u8) -> Result<VcpuObjects, BackendError>;

    /// Resumes the vCPU thread (`seL4_TCB_Resume`).
    fn start_vcpu(&mut self, vcpu: VcpuId) -> Result<(), BackendError>;

    /// Suspends the vCPU thread (`seL4_TCB_Suspend`); a pending reply is dropped.
    fn stop_vcpu(&mut self, vcpu: VcpuId) -> Result<(), BackendError>;

    /// Reads the thread registers (`seL4_TCB_ReadRegisters`).
    fn read_context(&mut self, vcpu: VcpuId) -> Result<UserContext, BackendError>;

    /// Writes the thread registers (`seL4_TCB_WriteRegisters`, no resume).
    fn write_context(&mut self, vcpu: VcpuId, ctx: &UserContext) -> Result<(), BackendError>;

    /// Reads a banked VCPU register (`seL4_ARM_VCPU_ReadRegs`).
    fn read_vcpu_reg(&mut self, vcpu: VcpuId, reg: VcpuReg) -> Result<u64, BackendError>;

    /// Writes a banked VCPU register (`seL4_ARM_VCPU_WriteRegs`).
    fn write_vcpu_reg(
        &mut self,
        vcpu: VcpuId,
        reg: VcpuReg,
        value: u64,
    ) -> Result<(), BackendError>;

    /// Puts a virtual IRQ into a list register (`seL4_ARM_VCPU_InjectIRQ`).
    fn inject_irq(&mut self, vcpu: VcpuId, irq: VirqInjection) -> Result<(), BackendError>;

    /// Acknowledges a virtual PPI so the kernel unmasks it (`seL4_ARM_VCPU_AckVPPI`).
    fn ack_vppi(&mut self, vcpu: VcpuId, irq: u32) -> Result<(), BackendError>;

    /// Blocks until the next event on the VMM endpoint (`seL4_Recv`).
    ///
    /// The backend must keep the reply capability of each faulting vCPU
    /// (`seL4_CNode_SaveCaller` on non-MCS kernels) so that [`Backend::reply`]
    /// works after later events were received. Returns
    /// [`BackendError::NoEvent`] when no event can ever arrive (host backend).
    fn wait_event(&mut self) -> Result<Event, BackendError>;

    /// Replies to `vcpu`'s outstanding fault with an empty message so the vCPU
    /// continues at the PC currently in its registers (the core has already
    /// written any register changes, including a PC advance).
    fn reply(&mut self, vcpu: VcpuId) -> Result<(), BackendError>;

    /// Arms the VMM's one-shot wake-up timer to fire (as [`Event::Wakeup`])
    /// once the physical counter (`CNTPCT_EL0`) reaches `at`, or disarms it
    /// (`None`). Returns true if `at` has already passed (no event follows
    /// then). Arming again replaces the previous deadline; arming after a
    /// [`Event::Wakeup`] also re-enables the timer's interrupt.
    ///
    /// The default reports [`BackendError::Unsupported`]: the core then
    /// lets a WFI with the guest's timer armed return at once.
    fn set_wakeup(&mut self, at: Option<u64>) -> Result<bool, BackendError> {
        let _ = at;
        Err(BackendError::Unsupported)
    }

    /// Lets runnable `vcpu` run before the other vCPUs of its priority
    /// (it just got an interrupt, or its quantum turn came). A vCPU the VMM
    /// is about to reply to may still run first: seL4 switches straight to
    /// a replied-to thread. The default does nothing.
    fn yield_to(&mut self, vcpu: VcpuId) -> Result<(), BackendError> {
        let _ = vcpu;
        Ok(())
    }

    /// The physical counter (`CNTPCT_EL0`) now, if the backend can read it.
    fn counter(&mut self) -> Option<u64> {
        None
    }

    /// Kernel calls made so far (a running count), for the exit
    /// statistics; 0 if the backend does not count.
    fn kernel_calls(&self) -> u64 {
        0
    }

    /// Like [`Backend::reply`], but the backend may hold the reply back
    /// until the next [`Backend::wait_event`], to send both in one system
    /// call, or until [`Backend::flush_replies`]. The default replies now.
    fn reply_deferred(&mut self, vcpu: VcpuId) -> Result<(), BackendError> {
        self.reply(vcpu)
    }

    /// Sends a reply held back by [`Backend::reply_deferred`].
    fn flush_replies(&mut self) -> Result<(), BackendError> {
        Ok(())
    }

    /// The VM's CSpace: vCPU 0's CNode and its root data, or the default
    /// (nothing) while vCPU 0 does not exist or the backend makes none.
    fn cspace_info(&self) -> CSpaceInfo {
        CSpaceInfo::default()
    }

    /// Mints a copy of `service` (a cap of the VMM), with all rights and
    /// badged `badge`, at slot `index` of every vCPU thread's CNode (depth
    /// [`crate::cspace::VM_CSPACE_SIZE_BITS`]) and of every vCPU created
    /// later. The core has checked `index` (free, not reserved). On error
    /// nothing is left installed. The copies are deleted with the vCPUs.
    /// The default reports [`BackendError::Unsupported`].
    ///
    /// Corresponds to the `vka_cnode_mint` of libsel4vmmplatsupport's
    /// `vmm_install_service`.
    fn install_service(
        &mut self,
        service: KernelObject,
        index: u64,
        badge: u64,
    ) -> Result<(), BackendError> {
        let _ = (service, index, badge);
        Err(BackendError::Unsupported)
    }

    /// Adds an IOMMU address space that should mirror guest RAM mappings.
    /// The default reports [`BackendError::Unsupported`] (aarch64 has no SMMU support).
    fn add_iospace(&mut self, iospace: KernelObject) -> Result<(), BackendError> {
        let _ = iospace;
        Err(BackendError::Unsupported)
    }
}
