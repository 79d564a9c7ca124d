//! ABI numbers that depend on the kernel configuration: invocation labels,
//! object types, fault labels, syscall numbers and selected `CONFIG_*` values.
//!
//! With `SEL4_PREFIX` set at build time they are generated from the installed
//! kernel (see `build.rs`); otherwise the checked-in table for the supported
//! configuration is used. Both have the same shape.

#[cfg(sel4_abi_generated_labels)]
include!(concat!(env!("OUT_DIR"), "/labels.rs"));

#[cfg(not(sel4_abi_generated_labels))]
include!("labels_default.rs");
