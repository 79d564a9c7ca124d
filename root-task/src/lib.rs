//! The VMM's host-testable half: one guest configuration ([`config::VmmConfig`])
//! and everything derived from it — guest layout, stage-2 map, vGIC plan,
//! the device tree ([`devicetree`]) — plus the boot parameter block QEMU
//! places for the VMM ([`bootparams`]). The seL4 program is `src/main.rs`.

#![no_std]
#![warn(missing_docs)]

extern crate alloc;

pub mod bootparams;
pub mod config;
pub mod console;
pub mod devicetree;
pub mod disk;
mod dtb;
pub mod nic;
pub mod realise;
pub mod vq;

pub use config::{
    ConsoleMode, GicVersion, KernelHeader, Layout, PsciMethod, RamBacking, VmmConfig,
};
