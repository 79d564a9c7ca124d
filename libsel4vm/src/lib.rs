//! libsel4vm's object model in Rust: a VM with vCPUs, guest RAM, memory
//! reservations with fault callbacks, virtual IRQ delivery and the `vm_run`
//! event loop, generic over a kernel [`Backend`].
//!
//! `no_std` + `alloc`; no global state, so several VMs can share a process.
//! Each public item names the libsel4vm function it corresponds to; the full
//! table is in `docs/libsel4vm-api.md`.

#![no_std]
#![warn(missing_docs)]

extern crate alloc;

pub mod abort;
pub mod arch;
pub mod backend;
pub mod cache;
pub mod cspace;
pub mod device;
pub mod error;
pub mod fault;
pub mod guest_addr;
mod interval;
pub mod irq;
pub mod memory;
pub mod psci;
pub mod ram;
pub mod reservation;
pub mod run;
pub(crate) mod sleep;
pub mod stats;
pub mod vgic;
pub mod vm;
pub mod vtimer;

pub use abort::FaultPolicy;
pub use backend::{
    badge, Backend, CSpaceInfo, Event, FrameHandle, KernelObject, Rights, UserContext, VcpuId,
    VcpuObjects, VcpuReg, VirqInjection, LARGE_PAGE_BITS, LARGE_PAGE_SIZE, PAGE_BITS, PAGE_SIZE,
};
pub use cache::{CacheMaintenance, Touch};
pub use cspace::{
    vm_cspace_slot, Service, VM_CSPACE_ROOT_DATA, VM_CSPACE_SIZE_BITS, VM_FAULT_EP_SLOT,
};
pub use device::{DeviceEffect, DeviceId, DeviceIo, MmioDevice, MmioRegion};
pub use error::{BackendError, Error, Result};
pub use fault::{AccessKind, MemFault};
pub use guest_addr::{GuestAddress, GuestBytes, GuestBytesExt, VecGuestMemory};
pub use irq::{GicLayout, IrqAckHandler};
pub use memory::{GuestMemory, TouchAccess, TouchError};
pub use ram::{GuestRam, RamRegion};
pub use reservation::{
    default_error_fault_callback, FaultResult, MapFrame, MapIterator, MapMode, MemFaultHandler,
    Reservation,
};
pub use run::{Action, ExitReason};
pub use stats::{VcpuStats, VmStats};
pub use vm::{
    NotificationHandler, SmcHandler, Stage2, Stage2Entry, Vcpu, VcpuFaultHandler, VcpuState, Vm,
    VmConfig, VmMem, VmRun, VmTcb, BOOT_VCPU,
};
