//! Example root task: exercises sel4-rt and sel4-abi on a real kernel.
//!
//! It prints a BootInfo summary, creates objects of every kind the VMM uses,
//! maps RAM and a device frame into its own address space, runs a second
//! thread that answers IPC calls, tears everything down again, and prints
//! `hello: all checks passed` only if every check held.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
extern crate alloc;

guest_support::root_task_main!(root);
