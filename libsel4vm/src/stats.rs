//! Exit statistics: why the guest left guest mode, per VM and per vCPU,
//! and how many kernel calls the VMM made for it.
//!
//! No libsel4vm counterpart (libvmm has none either); the C accessor is
//! `sel4vm_get_exit_stats` in `<sel4vm/sel4vm_ext.h>`.

use alloc::vec::Vec;
use core::fmt;

use crate::backend::{Backend, Event, VcpuId};
use crate::vm::Vm;

/// Counters of one vCPU.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VcpuStats {
    /// Every event from this vCPU.
    pub exits: u64,
    /// Stage-2 faults (MMIO and others).
    pub mem_faults: u64,
    /// VCPU faults by exception class (`ESR_EL2.EC`, 6 bits): WFI/WFE is
    /// 0x01, HVC 0x16, SMC 0x17, MSR/MRS 0x18.
    pub vcpu_faults: [u64; 64],
    /// Virtual PPI events (the virtual timer).
    pub vppi: u64,
    /// vGIC maintenance events.
    pub maintenance: u64,
    /// Unknown-syscall faults (guest HVCs as seL4 delivers them) and
    /// syscall cap faults.
    pub unknown_syscalls: u64,
    /// Anything else (user exceptions, unknown labels).
    pub other: u64,
    /// WFIs that left the vCPU asleep (the rest returned at once).
    pub wfi_sleeps: u64,
    /// Kernel calls the VMM made handling this vCPU's exits (the receive
    /// included), when the backend counts them.
    pub kernel_calls: u64,
}

impl Default for VcpuStats {
    fn default() -> Self {
        Self {
            exits: 0,
            mem_faults: 0,
            vcpu_faults: [0; 64],
            vppi: 0,
            maintenance: 0,
            unknown_syscalls: 0,
            other: 0,
            wfi_sleeps: 0,
            kernel_calls: 0,
        }
    }
}

/// Counters of one VM.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VmStats {
    /// Per vCPU, by index.
    pub vcpus: Vec<VcpuStats>,
    /// Notifications received.
    pub notifications: u64,
    /// Wake-up timer events.
    pub wakeups: u64,
    /// Times a vCPU quantum ended with another vCPU given the core
    /// ([`crate::VmConfig::vcpu_quantum_ticks`]).
    pub quantum_turns: u64,
    /// Kernel calls for notifications and wake-ups.
    pub kernel_calls_other: u64,
    /// Guest accesses per emulated device, by `DeviceId` order.
    pub device_accesses: Vec<u64>,
    /// Memory faults in reservations that are not devices (e.g. the vGIC).
    pub reservation_faults: u64,
    /// Synchronous external aborts injected into the guest for accesses
    /// nothing claims ([`crate::FaultPolicy::InjectAbort`]).
    pub injected_aborts: u64,
    /// Data aborts whose instruction could not be fetched (its PC does not
    /// translate) or emulated (FP/SIMD, exclusive, atomic, ...); each also
    /// goes through the fault policy.
    pub undecodable_aborts: u64,
    /// Counter ticks the VMM spent handling events (from an event's arrival
    /// to the next wait; the kernel's reply and receive are not included).
    /// 0 when the backend has no counter ([`crate::Backend::counter`]).
    pub busy_ticks: u64,
}

impl VmStats {
    /// Exits of all vCPUs.
    pub fn exits(&self) -> u64 {
        self.vcpus.iter().map(|v| v.exits).sum()
    }

    /// Kernel calls of all kinds.
    pub fn kernel_calls(&self) -> u64 {
        self.kernel_calls_other + self.vcpus.iter().map(|v| v.kernel_calls).sum::<u64>()
    }
}

/// The exception classes named in the summary.
fn ec_name(ec: usize) -> &'static str {
    match ec {
        0x01 => "WFx",
        0x16 => "HVC",
        0x17 => "SMC",
        0x18 => "sysreg",
        _ => "other",
    }
}

impl fmt::Display for VmStats {
    /// A few lines: totals, then one line per vCPU.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let exits = self.exits();
        let calls = self.kernel_calls();
        write!(
            f,
            "{exits} exits, {calls} kernel calls ({}.{:02} per exit), {} notifications, {} wake-ups, \
             {} quantum turns",
            calls.checked_div(exits).unwrap_or(0),
            (calls * 100).checked_div(exits).unwrap_or(0) % 100,
            self.notifications,
            self.wakeups,
            self.quantum_turns
        )?;
        for (i, v) in self.vcpus.iter().enumerate() {
            write!(
                f,
                "\n  vcpu{i}: {} exits: {} mmio, {} vppi, {} maintenance, {} hvc",
                v.exits, v.mem_faults, v.vppi, v.maintenance, v.unknown_syscalls
            )?;
            for (ec, n) in v.vcpu_faults.iter().enumerate().filter(|(_, n)| **n > 0) {
                write!(f, ", {n} {}({ec:#x})", ec_name(ec))?;
            }
            write!(f, ", {} WFI sleeps", v.wfi_sleeps)?;
        }
        if !self.device_accesses.is_empty() {
            write!(f, "\n  devices:")?;
            for (i, n) in self.device_accesses.iter().enumerate() {
                write!(f, " #{i} {n}")?;
            }
            write!(f, "; other reservations {}", self.reservation_faults)?;
        }
        if self.injected_aborts > 0 {
            write!(
                f,
                "\n  injected aborts: {} ({} undecodable)",
                self.injected_aborts, self.undecodable_aborts
            )?;
        }
        Ok(())
    }
}

impl<B: Backend> Vm<B> {
    /// The exit statistics since the VM was created or [`Vm::reset_stats`].
    pub fn stats(&self) -> &VmStats {
        &self.stats
    }

    /// Zeroes the statistics.
    pub fn reset_stats(&mut self) {
        let n = self.vcpus.len();
        let d = self.stats.device_accesses.len();
        self.stats = VmStats::default();
        self.stats.vcpus.resize(n, VcpuStats::default());
        self.stats.device_accesses.resize(d, 0);
    }

    pub(crate) fn vcpu_stats(&mut self, vcpu: VcpuId) -> Option<&mut VcpuStats> {
        let i = vcpu.0 as usize;
        if self.stats.vcpus.len() <= i {
            self.stats.vcpus.resize(i + 1, VcpuStats::default());
        }
        self.stats.vcpus.get_mut(i)
    }

    /// Counts `event`, with `calls` kernel calls made for it.
    pub(crate) fn count_event(&mut self, event: &Event, calls: u64) {
        let Some(vcpu) = event.vcpu() else {
            match event {
                Event::Wakeup => self.stats.wakeups += 1,
                _ => self.stats.notifications += 1,
            }
            self.stats.kernel_calls_other += calls;
            return;
        };
        let Some(s) = self.vcpu_stats(vcpu) else {
            return;
        };
        s.exits += 1;
        s.kernel_calls += calls;
        match *event {
            Event::VmFault { .. } => s.mem_faults += 1,
            Event::VcpuFault { hsr, .. } => s.vcpu_faults[(hsr >> 26) as usize & 63] += 1,
            Event::VgicMaintenance { .. } => s.maintenance += 1,
            Event::VppiEvent { .. } => s.vppi += 1,
            Event::UnknownSyscall { .. } | Event::SyscallCapFault { .. } => s.unknown_syscalls += 1,
            _ => s.other += 1,
        }
    }
}
