//! PSCI 1.1 and SMCCC 1.1 for guests: function-id decoding and a state
//! machine over the power state of each vCPU.
//!
//! Pure: [`Psci::call`] takes the caller's `x0..x3` and returns a
//! [`PsciOutcome`] that the VMM carries out (start a vCPU, stop one, power
//! the VM off, reset it, or just write `x0`). Corresponds to libsel4vm's
//! `arch/arm/psci.c` (`handle_psci`), which only covers part of the
//! interface; here every call that is not implemented returns
//! `NOT_SUPPORTED` to the guest instead of failing the VMM.

use alloc::vec;
use alloc::vec::Vec;

use crate::backend::VcpuId;

/// Function ids (SMCCC "fast call" encoding: bit 31 set, bit 30 = SMC64,
/// bits 29:24 = owning entity, 15:0 = function number).
pub mod fid {
    /// `SMCCC_VERSION`.
    pub const SMCCC_VERSION: u32 = 0x8000_0000;
    /// `SMCCC_ARCH_FEATURES`.
    pub const SMCCC_ARCH_FEATURES: u32 = 0x8000_0001;
    /// `SMCCC_ARCH_SOC_ID`.
    pub const SMCCC_ARCH_SOC_ID: u32 = 0x8000_0002;
    /// `SMCCC_ARCH_WORKAROUND_1` (Spectre v2).
    pub const SMCCC_ARCH_WORKAROUND_1: u32 = 0x8000_8000;
    /// `SMCCC_ARCH_WORKAROUND_2` (SSBD).
    pub const SMCCC_ARCH_WORKAROUND_2: u32 = 0x8000_7fff;
    /// `SMCCC_ARCH_WORKAROUND_3`.
    pub const SMCCC_ARCH_WORKAROUND_3: u32 = 0x8000_3fff;

    /// `PSCI_VERSION`.
    pub const PSCI_VERSION: u32 = 0x8400_0000;
    /// `CPU_SUSPEND` (SMC32).
    pub const CPU_SUSPEND: u32 = 0x8400_0001;
    /// `CPU_SUSPEND` (SMC64).
    pub const CPU_SUSPEND64: u32 = 0xc400_0001;
    /// `CPU_OFF`.
    pub const CPU_OFF: u32 = 0x8400_0002;
    /// `CPU_ON` (SMC32).
    pub const CPU_ON: u32 = 0x8400_0003;
    /// `CPU_ON` (SMC64).
    pub const CPU_ON64: u32 = 0xc400_0003;
    /// `AFFINITY_INFO` (SMC32).
    pub const AFFINITY_INFO: u32 = 0x8400_0004;
    /// `AFFINITY_INFO` (SMC64).
    pub const AFFINITY_INFO64: u32 = 0xc400_0004;
    /// `MIGRATE` (SMC32).
    pub const MIGRATE: u32 = 0x8400_0005;
    /// `MIGRATE` (SMC64).
    pub const MIGRATE64: u32 = 0xc400_0005;
    /// `MIGRATE_INFO_TYPE`.
    pub const MIGRATE_INFO_TYPE: u32 = 0x8400_0006;
    /// `MIGRATE_INFO_UP_CPU` (SMC32).
    pub const MIGRATE_INFO_UP_CPU: u32 = 0x8400_0007;
    /// `MIGRATE_INFO_UP_CPU` (SMC64).
    pub const MIGRATE_INFO_UP_CPU64: u32 = 0xc400_0007;
    /// `SYSTEM_OFF`.
    pub const SYSTEM_OFF: u32 = 0x8400_0008;
    /// `SYSTEM_RESET`.
    pub const SYSTEM_RESET: u32 = 0x8400_0009;
    /// `PSCI_FEATURES`.
    pub const PSCI_FEATURES: u32 = 0x8400_000a;
    /// `SYSTEM_SUSPEND` (SMC64).
    pub const SYSTEM_SUSPEND64: u32 = 0xc400_000e;
    /// `SYSTEM_RESET2` (SMC32).
    pub const SYSTEM_RESET2: u32 = 0x8400_0012;
}

/// PSCI return codes (as signed 32-bit values, sign-extended into `x0`).
pub mod ret {
    /// Success.
    pub const SUCCESS: i32 = 0;
    /// Function not implemented (also SMCCC's "unknown function").
    pub const NOT_SUPPORTED: i32 = -1;
    /// Bad argument.
    pub const INVALID_PARAMETERS: i32 = -2;
    /// Refused.
    pub const DENIED: i32 = -3;
    /// `CPU_ON` of a CPU that is on.
    pub const ALREADY_ON: i32 = -4;
    /// `CPU_ON` of a CPU that is being turned on.
    pub const ON_PENDING: i32 = -5;
    /// Implementation failure.
    pub const INTERNAL_FAILURE: i32 = -6;
    /// Not present.
    pub const NOT_PRESENT: i32 = -7;
    /// Disabled.
    pub const DISABLED: i32 = -8;
    /// Entry point is not a valid guest address.
    pub const INVALID_ADDRESS: i32 = -9;
}

/// `PSCI_VERSION` result: major 1, minor 1.
pub const PSCI_VERSION_1_1: u32 = 0x0001_0001;
/// `SMCCC_VERSION` result: 1.1.
pub const SMCCC_VERSION_1_1: u32 = 0x0001_0001;
/// `MIGRATE_INFO_TYPE` result: no Trusted OS that needs migration.
pub const MIGRATE_INFO_NO_TOS: u32 = 2;

/// `MPIDR_EL1` affinity fields (Aff3, Aff2, Aff1, Aff0).
pub const MPIDR_AFF_MASK: u64 = 0xff_00ff_ffff;

/// `MPIDR_EL1` the VMM gives vCPU `id` (through `VMPIDR_EL2`): Aff0 = id
/// (Aff1 = id / 256), bit 31 RES1. The vGIC's affinity routing and `CPU_ON`
/// use the same numbering.
///
/// Corresponds to libsel4vm setting `seL4_VCPUReg_VMPIDR_EL2` to the vCPU id.
pub fn vcpu_mpidr(id: VcpuId) -> u64 {
    let id = u64::from(id.0);
    (1 << 31) | ((id >> 8) & 0xff) << 8 | (id & 0xff)
}

/// The vCPU (of `num_vcpus`) whose affinity matches `mpidr`, ignoring the
/// non-affinity bits; `None` if there is none.
pub fn vcpu_from_mpidr(mpidr: u64, num_vcpus: u32) -> Option<VcpuId> {
    let aff = mpidr & MPIDR_AFF_MASK;
    if aff >> 16 != 0 {
        return None;
    }
    let id = ((aff >> 8) & 0xff) * 256 + (aff & 0xff);
    let id = u32::try_from(id).ok()?;
    (id < num_vcpus).then_some(VcpuId(id))
}

/// The vCPU a PSCI `target_cpu` / `target_affinity` argument names.
///
/// Bits 63:40 must be zero (PSCI 1.1, 5.1.4; they are RES0 in `MPIDR_EL1`
/// too): a call with any of them set names no CPU, rather than the one its
/// affinity bits alone would. Bits 31:24, also must-be-zero there, are
/// ignored as [`vcpu_from_mpidr`] does, so a raw `MPIDR_EL1` (bit 31 RES1)
/// still names its CPU.
pub fn psci_target(target: u64, num_vcpus: u32) -> Option<VcpuId> {
    if target >> 40 != 0 {
        return None;
    }
    vcpu_from_mpidr(target, num_vcpus)
}

/// Which instruction made the call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Conduit {
    /// `SMC #imm`.
    Smc,
    /// `HVC #imm`.
    Hvc,
}

impl core::fmt::Display for Conduit {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Conduit::Smc => "SMC",
            Conduit::Hvc => "HVC",
        })
    }
}

/// A decoded SMCCC function id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Function {
    /// `SMCCC_VERSION`.
    SmcccVersion,
    /// `SMCCC_ARCH_FEATURES`.
    SmcccArchFeatures,
    /// `PSCI_VERSION`.
    Version,
    /// `CPU_SUSPEND`.
    CpuSuspend,
    /// `CPU_OFF`.
    CpuOff,
    /// `CPU_ON`.
    CpuOn,
    /// `AFFINITY_INFO`.
    AffinityInfo,
    /// `MIGRATE_INFO_TYPE`.
    MigrateInfoType,
    /// `SYSTEM_OFF`.
    SystemOff,
    /// `SYSTEM_RESET`.
    SystemReset,
    /// `PSCI_FEATURES`.
    Features,
    /// Any id this implementation does not provide.
    Unknown(u32),
}

impl Function {
    /// Decodes the function id in `w0`. Only the low 32 bits count (SMCCC).
    pub fn decode(x0: u64) -> Function {
        match x0 as u32 {
            fid::SMCCC_VERSION => Function::SmcccVersion,
            fid::SMCCC_ARCH_FEATURES => Function::SmcccArchFeatures,
            fid::PSCI_VERSION => Function::Version,
            fid::CPU_SUSPEND | fid::CPU_SUSPEND64 => Function::CpuSuspend,
            fid::CPU_OFF => Function::CpuOff,
            fid::CPU_ON | fid::CPU_ON64 => Function::CpuOn,
            fid::AFFINITY_INFO | fid::AFFINITY_INFO64 => Function::AffinityInfo,
            fid::MIGRATE_INFO_TYPE => Function::MigrateInfoType,
            fid::SYSTEM_OFF => Function::SystemOff,
            fid::SYSTEM_RESET => Function::SystemReset,
            fid::PSCI_FEATURES => Function::Features,
            other => Function::Unknown(other),
        }
    }
}

/// True if `fid` uses the SMC64/HVC64 convention (64-bit arguments).
pub fn is_64bit(fid: u32) -> bool {
    fid & (1 << 30) != 0
}

/// Power state of one vCPU as PSCI sees it (`AFFINITY_INFO` values).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PowerState {
    /// Running.
    On,
    /// Off (never started, or `CPU_OFF`).
    Off,
    /// `CPU_ON` accepted, the VMM has not confirmed the start yet.
    OnPending,
}

impl PowerState {
    /// The `AFFINITY_INFO` return value.
    pub fn affinity_info(self) -> u64 {
        match self {
            PowerState::On => 0,
            PowerState::Off => 1,
            PowerState::OnPending => 2,
        }
    }
}

/// What the VMM must do after a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PsciOutcome {
    /// Write the value to the caller's `x0` and continue it.
    Return(u64),
    /// Start `target` at `entry` with `x0 = context_id`, MMU and caches off,
    /// EL1h with DAIF masked, and `VMPIDR_EL2 = mpidr`; then call
    /// [`Psci::vcpu_started`] (or [`Psci::vcpu_start_failed`]). The caller
    /// gets `x0 = SUCCESS`.
    StartVcpu {
        /// vCPU to start.
        target: VcpuId,
        /// Guest-physical entry point.
        entry: u64,
        /// Value for the target's `x0`.
        context_id: u64,
        /// `MPIDR` of the target.
        mpidr: u64,
    },
    /// Suspend the calling vCPU; it does not return from the call.
    StopVcpu {
        /// The caller.
        vcpu: VcpuId,
        /// True if no vCPU of the VM is on any more.
        last: bool,
    },
    /// `CPU_SUSPEND`: treat like WFI (wait for an interrupt), then continue
    /// the caller with `x0 = SUCCESS` (a standby state; power-down requests
    /// are downgraded to standby, which PSCI allows).
    Suspend,
    /// Power the VM off (`SYSTEM_OFF`).
    SystemOff,
    /// Restart the VM (`SYSTEM_RESET`).
    SystemReset,
}

/// Sign-extends a PSCI return code into `x0`.
pub fn code(c: i32) -> u64 {
    i64::from(c) as u64
}

/// PSCI state of one VM.
///
/// Corresponds to the vCPU on/off bookkeeping libsel4vm keeps in
/// `vm_vcpu.vcpu_online` for `handle_psci`.
#[derive(Clone, Debug)]
pub struct Psci {
    states: Vec<PowerState>,
    /// Calls with a non-zero immediate so far (their warning is rate-limited:
    /// a guest can make them at will).
    bad_imm: u64,
}

impl Psci {
    /// A VM with `num_vcpus` vCPUs where only the boot vCPU (0) is on.
    pub fn new(num_vcpus: u32) -> Self {
        let mut states = vec![PowerState::Off; num_vcpus as usize];
        if let Some(s) = states.first_mut() {
            *s = PowerState::On;
        }
        Self { states, bad_imm: 0 }
    }

    /// Back to the power-on state (boot vCPU on, others off), e.g. for a reset.
    pub fn reset(&mut self) {
        for (i, s) in self.states.iter_mut().enumerate() {
            *s = if i == 0 {
                PowerState::On
            } else {
                PowerState::Off
            };
        }
    }

    /// Number of vCPUs.
    pub fn num_vcpus(&self) -> u32 {
        self.states.len() as u32
    }

    /// Power state of `vcpu`.
    pub fn state(&self, vcpu: VcpuId) -> Option<PowerState> {
        self.states.get(vcpu.0 as usize).copied()
    }

    /// Records a state changed outside PSCI (e.g. the VMM started a vCPU itself).
    pub fn set_state(&mut self, vcpu: VcpuId, state: PowerState) -> bool {
        match self.states.get_mut(vcpu.0 as usize) {
            Some(s) => {
                *s = state;
                true
            }
            None => false,
        }
    }

    /// The VMM started `vcpu` after [`PsciOutcome::StartVcpu`].
    pub fn vcpu_started(&mut self, vcpu: VcpuId) {
        self.set_state(vcpu, PowerState::On);
    }

    /// The VMM could not start `vcpu`; it is off again.
    pub fn vcpu_start_failed(&mut self, vcpu: VcpuId) {
        self.set_state(vcpu, PowerState::Off);
    }

    /// Handles one call. `x` is the caller's `x0..=x3` (function id, then
    /// arguments); `imm` the instruction's immediate (must be 0 for SMCCC);
    /// `valid_entry` says whether a `CPU_ON` entry point is guest RAM.
    ///
    /// Never fails: unknown ids, bad arguments and impossible transitions all
    /// come back as [`PsciOutcome::Return`] with the architected error code.
    pub fn call(
        &mut self,
        caller: VcpuId,
        conduit: Conduit,
        imm: u16,
        x: [u64; 4],
        valid_entry: impl Fn(u64) -> bool,
    ) -> PsciOutcome {
        use PsciOutcome::Return;
        let not_supported = Return(code(ret::NOT_SUPPORTED));
        if imm != 0 {
            self.bad_imm += 1;
            let n = self.bad_imm;
            if n <= 16 || n.is_power_of_two() {
                log::warn!(
                    "{caller}: {conduit} #{imm:#x} is not an SMCCC call; NOT_SUPPORTED ({n} so far)"
                );
            }
            return not_supported;
        }
        // A running caller is on, whatever the table said (e.g. the VMM started it directly).
        match self.states.get_mut(caller.0 as usize) {
            Some(s) => *s = PowerState::On,
            None => return not_supported,
        }
        let fid = x[0] as u32;
        // SMC32 calls pass 32-bit arguments; the upper halves are not defined.
        let arg = |i: usize| {
            if is_64bit(fid) {
                x[i]
            } else {
                x[i] & 0xffff_ffff
            }
        };
        match Function::decode(x[0]) {
            Function::SmcccVersion => Return(u64::from(SMCCC_VERSION_1_1)),
            Function::SmcccArchFeatures => Return(code(smccc_feature(arg(1) as u32))),
            Function::Version => Return(u64::from(PSCI_VERSION_1_1)),
            Function::Features => Return(code(psci_feature(arg(1) as u32))),
            Function::MigrateInfoType => Return(u64::from(MIGRATE_INFO_NO_TOS)),
            Function::CpuSuspend => PsciOutcome::Suspend,
            Function::CpuOff => {
                self.states[caller.0 as usize] = PowerState::Off;
                let last = self.states.iter().all(|&s| s == PowerState::Off);
                PsciOutcome::StopVcpu { vcpu: caller, last }
            }
            Function::CpuOn => self.cpu_on(arg(1), arg(2), arg(3), valid_entry),
            Function::AffinityInfo => {
                if arg(2) != 0 {
                    // Only affinity level 0 (single vCPUs) is described.
                    return Return(code(ret::INVALID_PARAMETERS));
                }
                match psci_target(arg(1), self.num_vcpus()) {
                    Some(t) => Return(self.states[t.0 as usize].affinity_info()),
                    None => Return(code(ret::INVALID_PARAMETERS)),
                }
            }
            Function::SystemOff => PsciOutcome::SystemOff,
            Function::SystemReset => PsciOutcome::SystemReset,
            Function::Unknown(f) => {
                log::debug!("{caller}: unknown SMCCC function {f:#x} via {conduit}; NOT_SUPPORTED");
                not_supported
            }
        }
    }

    fn cpu_on(
        &mut self,
        target: u64,
        entry: u64,
        context_id: u64,
        valid_entry: impl Fn(u64) -> bool,
    ) -> PsciOutcome {
        use PsciOutcome::Return;
        let Some(t) = psci_target(target, self.num_vcpus()) else {
            return Return(code(ret::INVALID_PARAMETERS));
        };
        match self.states[t.0 as usize] {
            PowerState::On => return Return(code(ret::ALREADY_ON)),
            PowerState::OnPending => return Return(code(ret::ON_PENDING)),
            PowerState::Off => {}
        }
        // AArch64 entry points are instruction aligned and must lie in guest RAM.
        if entry & 3 != 0 || !valid_entry(entry) {
            return Return(code(ret::INVALID_ADDRESS));
        }
        self.states[t.0 as usize] = PowerState::OnPending;
        PsciOutcome::StartVcpu {
            target: t,
            entry,
            context_id,
            mpidr: vcpu_mpidr(t),
        }
    }
}

/// `PSCI_FEATURES` result for `f`: 0 (no feature flags) if implemented.
fn psci_feature(f: u32) -> i32 {
    match Function::decode(u64::from(f)) {
        Function::SmcccArchFeatures => ret::NOT_SUPPORTED,
        Function::Unknown(_) => ret::NOT_SUPPORTED,
        // CPU_SUSPEND: original power_state format, no OS-initiated mode -> 0.
        _ => ret::SUCCESS,
    }
}

/// `SMCCC_ARCH_FEATURES` result for `f`.
fn smccc_feature(f: u32) -> i32 {
    match f {
        fid::SMCCC_VERSION | fid::SMCCC_ARCH_FEATURES => ret::SUCCESS,
        // No firmware mitigations or SoC id behind this conduit.
        _ => ret::NOT_SUPPORTED,
    }
}

/// `SPSR_EL2` for a vCPU started by `CPU_ON`: EL1h, D, A, I, F masked.
pub const CPU_ON_SPSR: u64 = 0x3c5;
/// `SCTLR_EL1` for a vCPU started by `CPU_ON`: MMU, caches and alignment
/// checks off; only the ARMv8.0 RES1 bits set.
pub const CPU_ON_SCTLR: u64 = 0x30d0_0800;

// ---- integration with the VM event loop ----

use crate::backend::{Backend, UserContext, VcpuReg};
use crate::run::{Action, ExitReason};
use crate::vm::{VcpuState, Vm};

impl Psci {
    /// Takes the power states from the VM: `online[i]` for vCPU `i`
    /// (the VM is the source of truth; a `CPU_ON` start is synchronous).
    fn sync(&mut self, online: impl Iterator<Item = bool>) {
        self.states = online
            .map(|on| if on { PowerState::On } else { PowerState::Off })
            .collect();
    }
}

impl<B: Backend> Vm<B> {
    /// Handles a trapped SMC or HVC (no SMC handler registered) as a
    /// PSCI/SMCCC call and says what the loop does next. Errors come back
    /// to the guest as PSCI codes; only `SYSTEM_OFF`/`SYSTEM_RESET` (and the
    /// last vCPU turning itself off) end the run.
    ///
    /// `step` is how to return past the instruction ([`Action::Advance`]
    /// if the vCPU's PC is still on it, else [`Action::Resume`]).
    ///
    /// Corresponds to libsel4vm's `handle_smc` → `handle_psci`.
    pub(crate) fn psci_trap(
        &mut self,
        vcpu: VcpuId,
        conduit: Conduit,
        imm: u16,
        step: Action,
    ) -> core::result::Result<(Action, Option<UserContext>), ExitReason> {
        let mut ctx = self.backend.read_context(vcpu)?;
        let x = [0, 1, 2, 3].map(|i| ctx.x(i).unwrap_or(0));
        let online: Vec<bool> = self.vcpus.iter().map(|v| v.is_online()).collect();
        self.psci.sync(online.into_iter());
        let ram = &self.mem.ram;
        let outcome = self
            .psci
            .call(vcpu, conduit, imm, x, |a| ram.contains(a, 4));
        let x0 = match outcome {
            PsciOutcome::Return(v) => v,
            PsciOutcome::Suspend => code(ret::SUCCESS),
            PsciOutcome::StartVcpu {
                target,
                entry,
                context_id,
                ..
            } => match self.psci_start_vcpu(target, entry, context_id) {
                Ok(()) => {
                    self.psci.vcpu_started(target);
                    log::info!(
                        "{}: PSCI CPU_ON {target} at {entry:#x} from {vcpu}",
                        self.name()
                    );
                    code(ret::SUCCESS)
                }
                Err(e) => {
                    self.psci.vcpu_start_failed(target);
                    log::error!("{}: PSCI CPU_ON {target} failed: {e}", self.name());
                    code(ret::INTERNAL_FAILURE)
                }
            },
            PsciOutcome::StopVcpu { vcpu, last } => {
                if last {
                    log::info!(
                        "{}: last vCPU {vcpu} called CPU_OFF: system off",
                        self.name()
                    );
                    self.stop_all_vcpus();
                    return Err(ExitReason::SystemOff { vcpu });
                }
                return Ok((Action::StopVcpu, None));
            }
            PsciOutcome::SystemOff => {
                log::info!("{}: PSCI SYSTEM_OFF from {vcpu}", self.name());
                self.stop_all_vcpus();
                return Err(ExitReason::SystemOff { vcpu });
            }
            PsciOutcome::SystemReset => {
                log::info!("{}: PSCI SYSTEM_RESET from {vcpu}", self.name());
                self.stop_all_vcpus();
                return Err(ExitReason::SystemReset { vcpu });
            }
        };
        ctx.set_x(0, x0);
        Ok((step, Some(ctx)))
    }

    /// Starts `target` the way PSCI `CPU_ON` specifies: at `entry` in EL1h
    /// with DAIF masked, MMU and caches off, `x0 = context_id`, other
    /// registers zero, MPIDR from [`vcpu_mpidr`], the timer disabled.
    fn psci_start_vcpu(
        &mut self,
        target: VcpuId,
        entry: u64,
        context_id: u64,
    ) -> crate::Result<()> {
        let mut ctx = UserContext::default();
        ctx.set_pc(entry);
        ctx.set_spsr(CPU_ON_SPSR);
        ctx.set_x(0, context_id);
        self.backend.write_context(target, &ctx)?;
        self.backend
            .write_vcpu_reg(target, VcpuReg::Sctlr, CPU_ON_SCTLR)?;
        for (reg, v) in crate::vtimer::RESET_REGISTERS {
            self.backend.write_vcpu_reg(target, reg, v)?;
        }
        // Sets VMPIDR_EL2 and resumes the thread.
        self.vcpu_start(target)
    }

    fn stop_all_vcpus(&mut self) {
        for i in 0..self.vcpus.len() {
            if self.vcpus[i].state != VcpuState::Offline {
                if let Err(e) = self.vcpu_stop(VcpuId(i as u32)) {
                    log::error!("{}: stopping vcpu{i}: {e}", self.name());
                }
            }
        }
    }
}
