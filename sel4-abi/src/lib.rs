//! seL4 ABI layer for aarch64 (hypervisor, non-MCS kernel on `qemu-arm-virt`).
//!
//! This is the bottom of the stack: raw syscalls, the IPC buffer, message tags,
//! BootInfo parsing, fault-message decoding, ABI numbers taken from the
//! installed kernel, and typed invocation wrappers. It plays the role libsel4
//! plays for C code; no libsel4vm item corresponds to it directly.
//!
//! Modules:
//! * `syscall` (target only): `call`, `send`, `recv`, `reply_recv`, `signal`,
//!   `wait`, `yield_now`, `debug_put_char`, ... (`svc #0`, number in x7).
//! * [`message`]: [`MessageInfo`], [`CapRights`], [`CNodeCapData`].
//! * [`cap`]: [`CPtr`], typed [`Cap<T>`](Cap) with aliases (`cap::Tcb`,
//!   `cap::Vcpu`, ...), [`Badge`], the root task's fixed slots ([`init`]).
//! * [`ipc_buffer`]: [`IpcBuffer`] and how each thread finds its own
//!   (`TPIDRRO_EL0`, falling back to [`set_ipc_buffer`] for the root thread).
//! * [`bootinfo`]: [`BootInfoView`] over the BootInfo frame (untypeds, empty
//!   slots, extra chunks such as the FDT).
//! * [`fault`]: [`Fault::decode`] for VM/VCPU/VGIC/VPPI/UnknownSyscall/
//!   UserException/Cap faults, plus reply layouts.
//! * [`labels`]: invocation labels, object types, fault labels, syscall
//!   numbers and `CONFIG_*` values from the installed kernel (`SEL4_PREFIX`)
//!   or the checked-in table.
//! * [`arch`]: page and object sizes, [`VmAttributes`], [`UserContext`],
//!   [`SmcContext`], [`VcpuReg`]; [`object`]: [`ObjectType`].
//! * [`invocation`]: pure encoders (`invocation::encode::*`) and
//!   `Invocation::perform` (target only). On the target each cap type also
//!   has methods such as `Untyped::untyped_retype`, `Tcb::tcb_configure`,
//!   `Frame::frame_map`, `Vcpu::vcpu_inject_irq`.
//!
//! Everything except the trap itself is plain data manipulation and is
//! compiled and tested on the host. The parts that execute `svc` are only
//! built for `aarch64` bare-metal targets (`target_os = "none"`).
#![cfg_attr(not(test), no_std)]
#![warn(missing_docs)]

/// A machine word (`seL4_Word`).
pub type Word = u64;

pub mod arch;
pub mod bootinfo;
pub mod cap;
pub mod error;
pub mod fault;
pub mod invocation;
pub mod ipc_buffer;
pub mod labels;
pub mod message;
pub mod object;

#[cfg(all(target_arch = "aarch64", target_os = "none"))]
mod methods;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
pub mod syscall;

pub use arch::{SmcContext, UserContext, VcpuReg, VmAttributes};
pub use bootinfo::{BootInfo, BootInfoView, SlotRegion, UntypedDesc, UntypedInfo};
pub use cap::{cap_type, init, Badge, CPtr, Cap, CapType};
pub use error::Error;
pub use fault::{Fault, FaultDecodeError};
pub use invocation::{CacheOp, Invocation, Reply};
pub use ipc_buffer::{ipc_buffer_ptr, set_ipc_buffer, with_ipc_buffer, IpcBuffer};
pub use message::{CNodeCapData, CapRights, MessageInfo};
pub use object::ObjectType;
