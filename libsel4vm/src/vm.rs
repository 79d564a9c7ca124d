//! The VM object: vCPUs, memory, run state, and the boot-time API
//! (`boot.h`, `guest_vm_util.h`, `arch/guest_arm_context.h`,
//! `arch/guest_vm_arch.h`, `arch/guest_memory_arch.h`, `guest_iospace.h`).

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use crate::backend::{
    badge, Backend, CSpaceInfo, FrameHandle, KernelObject, Rights, UserContext, VcpuId,
    VcpuObjects, VcpuReg, PAGE_BITS, PAGE_SIZE, USER_CONTEXT_WORDS,
};
use crate::error::{Error, Result};
use crate::fault::MemFault;
use crate::irq::IrqController;
use crate::memory::GuestMemory;
use crate::reservation::Reservations;
use crate::run::{Action, ExitReason};

/// Id of the boot vCPU.
///
/// Corresponds to `BOOT_VCPU`.
pub const BOOT_VCPU: VcpuId = VcpuId(0);

/// Settings fixed when the VM is created.
#[derive(Clone, Debug)]
pub struct VmConfig {
    /// Name used in log messages (`vm_name`).
    pub name: String,
    /// Numeric id used in log messages (`vm_id`).
    pub id: u32,
    /// Maximum number of vCPUs (`CONFIG_MAX_NUM_NODES` in libsel4vm).
    pub max_vcpus: u32,
    /// GIC list registers per vCPU available for injection.
    pub num_list_registers: u8,
    /// How long (physical-counter ticks) a vCPU in WFE may be parked while
    /// another vCPU of the VM is runnable, so that a spinning waiter gives
    /// the core to the lock owner. 0: WFE returns at once (libsel4vm).
    pub wfe_yield_ticks: u64,
    /// While two or more vCPUs are runnable, the next one gets the core
    /// after this many physical-counter ticks (on the wake-up timer), so
    /// that a vCPU spinning without trapping (a `yield` loop, or WFE where
    /// it does not trap) waits one quantum, not the kernel's time slice,
    /// for the vCPU it waits for. 0: only the kernel's time slice.
    pub vcpu_quantum_ticks: u64,
}

impl Default for VmConfig {
    fn default() -> Self {
        Self {
            name: String::from("vm"),
            id: 0,
            max_vcpus: 1,
            num_list_registers: 4,
            wfe_yield_ticks: 0,
            vcpu_quantum_ticks: 0,
        }
    }
}

/// Scheduling parameters and TCB of a vCPU.
///
/// Corresponds to `struct vm_tcb`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VmTcb {
    /// The TCB object.
    pub tcb: KernelObject,
    /// Scheduling context (MCS only).
    pub sc: Option<KernelObject>,
    /// Scheduling priority.
    pub priority: u8,
}

/// Where a vCPU is in its fault/reply cycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VcpuState {
    /// Created, never started, or stopped.
    Offline,
    /// Running guest code (no fault outstanding).
    Running,
    /// Blocked in a fault the VMM has not replied to (a handler returned
    /// [`Action::Stay`] for something other than WFI).
    Pending,
    /// Blocked in WFI; replied to (and advanced) when an IRQ is injected.
    WaitingForIrq,
}

/// One virtual CPU.
///
/// Corresponds to `struct vm_vcpu`.
#[derive(Clone, Debug)]
pub struct Vcpu {
    id: VcpuId,
    objects: VcpuObjects,
    tcb: VmTcb,
    target_cpu: Option<u32>,
    pub(crate) state: VcpuState,
    pub(crate) last_fault: Option<MemFault>,
    /// While asleep in WFI: the physical-counter deadline of its virtual
    /// timer (`None`: only an interrupt wakes it).
    pub(crate) wake_at: Option<u64>,
}

impl Vcpu {
    /// The vCPU's index in its VM.
    ///
    /// Corresponds to `vm_vcpu.vcpu_id`.
    pub fn id(&self) -> VcpuId {
        self.id
    }
    /// The kernel objects behind the vCPU.
    pub fn objects(&self) -> VcpuObjects {
        self.objects
    }
    /// TCB and scheduling parameters.
    ///
    /// Corresponds to `vm_vcpu.tcb`.
    pub fn tcb(&self) -> VmTcb {
        self.tcb
    }
    /// Physical CPU this vCPU is assigned to, if any.
    ///
    /// Corresponds to `vm_vcpu.target_cpu` (-1 = `None`).
    pub fn target_cpu(&self) -> Option<u32> {
        self.target_cpu
    }
    /// True once started and not stopped.
    ///
    /// Corresponds to `is_vcpu_online`.
    pub fn is_online(&self) -> bool {
        self.state != VcpuState::Offline
    }
    /// Fault/reply state.
    pub fn state(&self) -> VcpuState {
        self.state
    }
    /// The most recent memory fault of this vCPU (kept after it completed).
    ///
    /// Corresponds to `vm_vcpu.vcpu_arch.fault`, read by the `get_vcpu_fault_*` functions.
    pub fn last_fault(&self) -> Option<&MemFault> {
        self.last_fault.as_ref()
    }
}

/// One stage-2 mapping made by the core.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stage2Entry {
    /// Backing frame.
    pub frame: FrameHandle,
    /// Guest access rights.
    pub rights: Rights,
    /// Size of the mapping in bytes: the frame's size, 4 KiB or 2 MiB.
    pub size: u64,
}

/// The guest's stage-2 address space as the core mapped it: one entry per
/// mapped frame (4 KiB or 2 MiB), keyed by the IPA it starts at.
///
/// Corresponds to `vm_mem.vm_vspace` (returned by `vm_get_vspace`).
#[derive(Default, Debug)]
pub struct Stage2 {
    pub(crate) map: BTreeMap<u64, Stage2Entry>,
}

impl Stage2 {
    /// Mapping covering `ipa`.
    pub fn lookup(&self, ipa: u64) -> Option<Stage2Entry> {
        self.lookup_mapping(ipa).map(|(_, e)| e)
    }
    /// Mapping covering `ipa`, with the IPA the mapping starts at.
    pub fn lookup_mapping(&self, ipa: u64) -> Option<(u64, Stage2Entry)> {
        let (&base, &e) = self.map.range(..=ipa).next_back()?;
        (ipa - base < e.size).then_some((base, e))
    }
    /// Number of mapped 4 KiB pages (a 2 MiB mapping counts 512).
    pub fn len(&self) -> usize {
        self.map
            .values()
            .map(|e| (e.size >> PAGE_BITS) as usize)
            .sum()
    }
    /// True if nothing is mapped.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
    /// All mappings as `(start ipa, entry)`, in address order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, Stage2Entry)> + '_ {
        self.map.iter().map(|(&a, &e)| (a, e))
    }
}

/// Callback for unhandled vCPU faults: `(vm, vcpu, hsr)`; `None` means
/// "not mine" and the built-in handling applies.
///
/// Corresponds to `unhandled_vcpu_fault_callback_fn`.
pub type VcpuFaultHandler<B> = Box<dyn FnMut(&mut Vm<B>, VcpuId, u32) -> Option<Action>>;

/// Callback for SMC/HVC traps with the vCPU's registers (written back after).
///
/// Corresponds to `smc_handler_callback_fn`.
pub type SmcHandler<B> = Box<dyn FnMut(&mut Vm<B>, VcpuId, &mut UserContext) -> Result<()>>;

/// Callback for notifications: `(vm, badge)`.
///
/// Corresponds to `notification_callback_fn`.
pub type NotificationHandler<B> = Box<dyn FnMut(&mut Vm<B>, u64) -> Result<()>>;

/// Memory management state.
///
/// Corresponds to `struct vm_mem`.
pub struct VmMem<B: Backend> {
    pub(crate) ram: crate::ram::GuestRam,
    pub(crate) reservations: Reservations<B>,
    pub(crate) stage2: Stage2,
    pub(crate) unhandled: Option<crate::reservation::MemFaultHandler<B>>,
    /// What unclaimed accesses do ([`Vm::set_fault_policy`]).
    pub(crate) fault_policy: crate::abort::FaultPolicy,
    /// Per-range overrides `(start, end, policy)` ([`Vm::set_region_fault_policy`]).
    pub(crate) region_policies: Vec<(u64, u64, crate::abort::FaultPolicy)>,
}

/// Run-time state.
///
/// Corresponds to `struct vm_run`.
pub struct VmRun<B: Backend> {
    pub(crate) exit_reason: ExitReason,
    pub(crate) notification: Option<NotificationHandler<B>>,
    pub(crate) stop: bool,
    /// Deadline the wake-up timer is armed at, if any.
    pub(crate) wakeup_at: Option<u64>,
    pub(crate) periodic: Option<crate::sleep::Periodic<B>>,
    /// A runnable vCPU that got an interrupt while handling this event:
    /// it should run next.
    pub(crate) yield_to: Option<VcpuId>,
    /// When the running vCPU's quantum ends, while two or more are
    /// runnable ([`VmConfig::vcpu_quantum_ticks`]).
    pub(crate) quantum_at: Option<u64>,
    /// The vCPU that last had the core as far as the VMM knows: the last
    /// to exit, or the last given the core.
    pub(crate) last_ran: Option<VcpuId>,
    /// Inside [`Vm::run`]'s loop: replies may ride on the next receive.
    pub(crate) in_loop: bool,
}

/// A virtual machine, generic over its kernel backend. Several VMs can live
/// in one process; nothing is global.
///
/// Corresponds to `struct vm`.
pub struct Vm<B: Backend> {
    pub(crate) backend: B,
    config: VmConfig,
    pub(crate) vcpus: Vec<Vcpu>,
    pub(crate) vcpu_fault_handlers: Vec<Option<VcpuFaultHandler<B>>>,
    pub(crate) smc_handler: Option<SmcHandler<B>>,
    pub(crate) mem: VmMem<B>,
    pub(crate) run: VmRun<B>,
    pub(crate) irq: Option<IrqController<B>>,
    pub(crate) psci: crate::psci::Psci,
    pub(crate) devices: crate::device::Devices<B>,
    pub(crate) stats: crate::stats::VmStats,
    pub(crate) services: crate::cspace::Services,
    iospaces: Vec<KernelObject>,
}

impl<B: Backend> Vm<B> {
    /// Creates a VM over `backend`. Memory management is ready at once
    /// (libsel4vm's `vm_memory_init` is part of this).
    ///
    /// Corresponds to `vm_init`.
    pub fn new(backend: B, config: VmConfig) -> Result<Self> {
        if config.max_vcpus == 0 || u64::from(config.max_vcpus) >= badge::NOTIFICATION_BIT - 1 {
            return Err(Error::TooManyVcpus);
        }
        Ok(Self {
            backend,
            config,
            vcpus: Vec::new(),
            vcpu_fault_handlers: Vec::new(),
            smc_handler: None,
            mem: VmMem {
                ram: Default::default(),
                reservations: Reservations::default(),
                stage2: Stage2::default(),
                unhandled: None,
                fault_policy: Default::default(),
                region_policies: Vec::new(),
            },
            run: VmRun {
                exit_reason: ExitReason::None,
                notification: None,
                stop: false,
                wakeup_at: None,
                periodic: None,
                yield_to: None,
                quantum_at: None,
                last_ran: None,
                in_loop: false,
            },
            irq: None,
            psci: crate::psci::Psci::new(0),
            devices: Default::default(),
            stats: Default::default(),
            services: Vec::new(),
            iospaces: Vec::new(),
        })
    }

    /// The VM's name.
    ///
    /// Corresponds to `vm.vm_name`.
    pub fn name(&self) -> &str {
        &self.config.name
    }
    /// The VM's id.
    ///
    /// Corresponds to `vm.vm_id`.
    pub fn id(&self) -> u32 {
        self.config.id
    }
    /// Configuration the VM was created with.
    pub fn config(&self) -> &VmConfig {
        &self.config
    }
    /// The backend.
    pub fn backend(&self) -> &B {
        &self.backend
    }
    /// The backend, mutably (for backend-specific set-up).
    pub fn backend_mut(&mut self) -> &mut B {
        &mut self.backend
    }
    /// The VM's CSpace as the backend reports it now: each vCPU has a CNode
    /// of its own (see [`crate::cspace`]); this is vCPU 0's, and
    /// [`KernelObject`] 0 until vCPU 0 exists.
    ///
    /// Corresponds to `vm.cspace`.
    pub fn cspace(&self) -> CSpaceInfo {
        self.backend.cspace_info()
    }
    /// IOMMU spaces added with [`Vm::guest_add_iospace`].
    pub fn iospaces(&self) -> &[KernelObject] {
        &self.iospaces
    }

    // ---- vCPUs (boot.h, guest_vm_util.h) ----

    /// Creates a vCPU with the given scheduling priority; it stays offline
    /// until [`Vm::vcpu_start`]. Ids are per VM, starting at 0.
    ///
    /// Corresponds to `vm_create_vcpu`.
    pub fn create_vcpu(&mut self, priority: u8) -> Result<VcpuId> {
        if self.vcpus.len() as u64 >= u64::from(self.config.max_vcpus) {
            return Err(Error::TooManyVcpus);
        }
        let id = VcpuId(self.vcpus.len() as u32);
        let objects = self.backend.create_vcpu(id, priority)?;
        self.vcpus.push(Vcpu {
            id,
            objects,
            tcb: VmTcb {
                tcb: objects.tcb,
                sc: objects.sc,
                priority,
            },
            target_cpu: None,
            state: VcpuState::Offline,
            last_fault: None,
            wake_at: None,
        });
        self.stats.vcpus.push(Default::default());
        self.vcpu_fault_handlers.push(None);
        Ok(id)
    }

    /// Assigns `vcpu` to physical CPU `target_cpu`; fails if another vCPU has it.
    ///
    /// Corresponds to `vm_assign_vcpu_target`.
    pub fn assign_vcpu_target(&mut self, vcpu: VcpuId, target_cpu: u32) -> Result<()> {
        self.check_vcpu(vcpu)?;
        if let Some(other) = self.vcpu_for_target_cpu(target_cpu) {
            if other != vcpu {
                return Err(Error::TargetCpuTaken(target_cpu));
            }
        }
        self.vcpus[vcpu.0 as usize].target_cpu = Some(target_cpu);
        Ok(())
    }

    /// All vCPUs, by id.
    ///
    /// Corresponds to `vm.vcpus` / `vm.num_vcpus`.
    pub fn vcpus(&self) -> &[Vcpu] {
        &self.vcpus
    }

    /// One vCPU.
    pub fn vcpu(&self, vcpu: VcpuId) -> Result<&Vcpu> {
        self.vcpus
            .get(vcpu.0 as usize)
            .ok_or(Error::InvalidVcpu(vcpu))
    }

    pub(crate) fn check_vcpu(&self, vcpu: VcpuId) -> Result<()> {
        self.vcpu(vcpu).map(|_| ())
    }

    /// Sets VMPIDR (boot vCPU: MT and "multiprocessor extensions" bits;
    /// others: the target CPU) and resumes the vCPU thread.
    ///
    /// Corresponds to `vcpu_start`.
    pub fn vcpu_start(&mut self, vcpu: VcpuId) -> Result<()> {
        let v = self.vcpu(vcpu)?;
        let vmpidr = if vcpu == BOOT_VCPU {
            (1 << 31) | (1 << 24)
        } else {
            u64::from(v.target_cpu.unwrap_or(vcpu.0))
        };
        self.backend
            .write_vcpu_reg(vcpu, VcpuReg::VmpidrEl2, vmpidr)?;
        self.backend.start_vcpu(vcpu)?;
        self.vcpus[vcpu.0 as usize].state = VcpuState::Running;
        Ok(())
    }

    /// Suspends a vCPU thread and marks it offline (any pending reply is dropped).
    pub fn vcpu_stop(&mut self, vcpu: VcpuId) -> Result<()> {
        self.check_vcpu(vcpu)?;
        self.backend.stop_vcpu(vcpu)?;
        self.vcpus[vcpu.0 as usize].state = VcpuState::Offline;
        Ok(())
    }

    /// The vCPU's TCB object.
    ///
    /// Corresponds to `vm_get_vcpu_tcb`.
    pub fn vcpu_tcb(&self, vcpu: VcpuId) -> Result<KernelObject> {
        Ok(self.vcpu(vcpu)?.tcb.tcb)
    }

    /// The vCPU's VCPU object, `None` for an unknown id (C returns `seL4_CapNull`).
    ///
    /// Corresponds to `vm_get_vcpu`.
    pub fn vcpu_object(&self, vcpu: VcpuId) -> Option<KernelObject> {
        self.vcpu(vcpu).ok().map(|v| v.objects.vcpu)
    }

    /// The vCPU assigned to physical CPU `target_cpu`.
    ///
    /// Corresponds to `vm_vcpu_for_target_cpu`.
    pub fn vcpu_for_target_cpu(&self, target_cpu: u32) -> Option<VcpuId> {
        self.vcpus
            .iter()
            .find(|v| v.target_cpu == Some(target_cpu))
            .map(|v| v.id)
    }

    /// The first vCPU without a target CPU.
    ///
    /// Corresponds to `vm_find_free_unassigned_vcpu`.
    pub fn find_free_unassigned_vcpu(&self) -> Option<VcpuId> {
        self.vcpus
            .iter()
            .find(|v| v.target_cpu.is_none())
            .map(|v| v.id)
    }

    /// True if the vCPU exists and is online.
    ///
    /// Corresponds to `is_vcpu_online`.
    pub fn is_vcpu_online(&self, vcpu: VcpuId) -> bool {
        self.vcpu(vcpu).map(|v| v.is_online()).unwrap_or(false)
    }

    /// The guest's stage-2 address space.
    ///
    /// Corresponds to `vm_get_vspace`.
    pub fn guest_vspace(&self) -> &Stage2 {
        &self.mem.stage2
    }

    /// Guest RAM as the VMM sees it: the single guest-memory accessor.
    ///
    /// Corresponds to `vm_get_vmm_vspace` (the VMM-side view of guest memory).
    pub fn guest_memory(&mut self) -> GuestMemory<'_, B> {
        GuestMemory::new(&self.mem.ram, &mut self.backend, false)
    }

    /// Guest RAM as devices see it: like [`Vm::guest_memory`], but without
    /// cache maintenance when the VM's devices do coherent DMA (see
    /// [`Vm::set_device_dma_coherent`]).
    pub fn device_memory(&mut self) -> GuestMemory<'_, B> {
        let coherent = self.devices.dma_coherent;
        GuestMemory::new(&self.mem.ram, &mut self.backend, coherent)
    }

    /// Whether guest drivers keep device buffers in cacheable memory, so
    /// that device models need no cache maintenance (default: true; virtio
    /// drivers without `VIRTIO_F_ACCESS_PLATFORM` do). Turn it off for a
    /// guest that drives devices with its caches off.
    pub fn set_device_dma_coherent(&mut self, coherent: bool) {
        self.devices.dma_coherent = coherent;
    }

    // ---- registers (arch/guest_arm_context.h) ----

    /// Writes all thread registers.
    ///
    /// Corresponds to `vm_set_thread_context`.
    pub fn set_thread_context(&mut self, vcpu: VcpuId, ctx: &UserContext) -> Result<()> {
        self.check_vcpu(vcpu)?;
        Ok(self.backend.write_context(vcpu, ctx)?)
    }

    /// Writes one thread register by its `seL4_UserContext` word index.
    ///
    /// Corresponds to `vm_set_thread_context_reg`.
    pub fn set_thread_context_reg(&mut self, vcpu: VcpuId, reg: u32, value: u64) -> Result<()> {
        self.check_vcpu(vcpu)?;
        let i = reg as usize;
        if i >= USER_CONTEXT_WORDS {
            return Err(Error::InvalidRegister(u64::from(reg)));
        }
        let mut ctx = self.backend.read_context(vcpu)?;
        ctx.words[i] = value;
        Ok(self.backend.write_context(vcpu, &ctx)?)
    }

    /// Reads all thread registers.
    ///
    /// Corresponds to `vm_get_thread_context`.
    pub fn get_thread_context(&mut self, vcpu: VcpuId) -> Result<UserContext> {
        self.check_vcpu(vcpu)?;
        Ok(self.backend.read_context(vcpu)?)
    }

    /// Reads one thread register by its `seL4_UserContext` word index.
    ///
    /// Corresponds to `vm_get_thread_context_reg`.
    pub fn get_thread_context_reg(&mut self, vcpu: VcpuId, reg: u32) -> Result<u64> {
        self.check_vcpu(vcpu)?;
        let i = reg as usize;
        if i >= USER_CONTEXT_WORDS {
            return Err(Error::InvalidRegister(u64::from(reg)));
        }
        Ok(self.backend.read_context(vcpu)?.words[i])
    }

    /// Writes a banked VCPU register.
    ///
    /// Corresponds to `vm_set_arm_vcpu_reg`.
    pub fn set_arm_vcpu_reg(&mut self, vcpu: VcpuId, reg: VcpuReg, value: u64) -> Result<()> {
        self.check_vcpu(vcpu)?;
        Ok(self.backend.write_vcpu_reg(vcpu, reg, value)?)
    }

    /// Reads a banked VCPU register.
    ///
    /// Corresponds to `vm_get_arm_vcpu_reg`.
    pub fn get_arm_vcpu_reg(&mut self, vcpu: VcpuId, reg: VcpuReg) -> Result<u64> {
        self.check_vcpu(vcpu)?;
        Ok(self.backend.read_vcpu_reg(vcpu, reg)?)
    }

    // ---- arch callbacks (arch/guest_vm_arch.h) ----

    /// Sets the handler consulted first for every VCPU fault of `vcpu`.
    ///
    /// Corresponds to `vm_register_unhandled_vcpu_fault_callback`.
    pub fn register_unhandled_vcpu_fault_callback(
        &mut self,
        vcpu: VcpuId,
        handler: impl FnMut(&mut Vm<B>, VcpuId, u32) -> Option<Action> + 'static,
    ) -> Result<()> {
        self.check_vcpu(vcpu)?;
        self.vcpu_fault_handlers[vcpu.0 as usize] = Some(Box::new(handler));
        Ok(())
    }

    /// Sets the handler for guest SMC (and HVC) calls. On success the loop
    /// writes the registers back and steps over an SMC (HVC already returns
    /// past the instruction).
    ///
    /// Corresponds to `vm_register_smc_handler_callback`.
    pub fn register_smc_handler_callback(
        &mut self,
        handler: impl FnMut(&mut Vm<B>, VcpuId, &mut UserContext) -> Result<()> + 'static,
    ) {
        self.smc_handler = Some(Box::new(handler));
    }

    // ---- arch memory (arch/guest_memory_arch.h), iospace ----

    /// Physical address behind `[ipa, ipa + size)`, which must be mapped to
    /// physically contiguous frames.
    ///
    /// Corresponds to `vm_arm_ipa_to_pa` (which returns 0 on failure).
    pub fn ipa_to_pa(&mut self, ipa: u64, size: u64) -> Result<u64> {
        if size == 0 {
            return Err(Error::ZeroSize);
        }
        let end = ipa.checked_add(size).ok_or(Error::Overflow)?;
        let page_of = |a: u64| a & !(PAGE_SIZE - 1);
        // Walk mapping by mapping (a 2 MiB frame is one step).
        let mut cur = ipa;
        let mut pa_start = None;
        while cur < end {
            let (base, e) = self
                .mem
                .stage2
                .lookup_mapping(cur)
                .ok_or(Error::NotMapped(page_of(cur)))?;
            let pa = self
                .backend
                .frame_paddr(e.frame)?
                .checked_add(cur - base)
                .ok_or(Error::Overflow)?;
            match pa_start {
                None => pa_start = Some(pa),
                Some(p) if p.checked_add(cur - ipa) != Some(pa) => {
                    return Err(Error::NotContiguous(page_of(cur)))
                }
                Some(_) => {}
            }
            cur = match base.checked_add(e.size) {
                Some(next) => next,
                None => break,
            };
        }
        pa_start.ok_or(Error::ZeroSize)
    }

    /// Adds an IOMMU address space for DMA by passed-through devices.
    ///
    /// Corresponds to `vm_guest_add_iospace`.
    pub fn guest_add_iospace(&mut self, iospace: KernelObject) -> Result<()> {
        self.backend.add_iospace(iospace)?;
        self.iospaces.push(iospace);
        Ok(())
    }

    // ---- helpers shared by memory code ----

    /// Validates a page-aligned, non-empty, non-wrapping range.
    pub(crate) fn check_page_range(addr: u64, size: u64) -> Result<()> {
        if size == 0 {
            return Err(Error::ZeroSize);
        }
        if !addr.is_multiple_of(PAGE_SIZE) {
            return Err(Error::Unaligned(addr));
        }
        if !size.is_multiple_of(PAGE_SIZE) {
            return Err(Error::Unaligned(size));
        }
        addr.checked_add(size).ok_or(Error::Overflow)?;
        Ok(())
    }

    pub(crate) fn pages(size: u64) -> u64 {
        size >> PAGE_BITS
    }
}
