//! Device models for sel4vm guests: the virtio-mmio transport and split
//! virtqueue ([`virtio`]), a virtio console ([`console`]), a virtio block
//! device ([`block`]), a network device ([`net`]) and a
//! transmit-only PL011 for `earlycon` ([`pl011`]).
//!
//! Every model is an [`sel4vm::MmioDevice`]: it sees register accesses and
//! guest memory through [`sel4vm::DeviceIo`] and drives its interrupt line
//! as an effect, so all of them are tested on the host with
//! [`sel4vm::VecGuestMemory`] and fake backends.
//!
//! Corresponds to libvmm's `virtio/` directory and libsel4vmmplatsupport's
//! `virtio_con`; none of their code is used.
#![no_std]
#![warn(missing_docs)]

extern crate alloc;

pub mod block;
pub mod console;
#[doc(hidden)]
pub mod fuzz;
pub mod net;
pub mod pl011;
pub mod virtio;

pub use block::{Block, BlockBackend, BlockInfo, BlockOp, BlockStats, Submitted};
pub use console::{Console, ConsoleBackend, ConsoleStats};
pub use net::{Net, NetBackend, NetInfo, NetStats, TxStatus};
pub use pl011::Pl011;
pub use virtio::{VirtioDevice, VirtioMmio};
