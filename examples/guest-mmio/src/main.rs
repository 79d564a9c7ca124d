//! System test for libsel4vm's core on real seL4: a tiny hand-assembled
//! aarch64 guest (EL1, MMU off) does loads and stores of every width to an
//! emulated MMIO device and to its RAM; the VMM checks every emulated
//! access and the guest's registers, once with guest RAM mapped 1:1 from
//! the device untyped and once with frames from ordinary RAM, and prints
//! `guest-mmio: all checks passed`. A third VM turns its MMU on and runs
//! from a TTBR1 alias, so the VMM finds its pair instructions through the
//! guest's own page tables, and an FP load to the device aborts in the guest.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
extern crate alloc;

mod guest;
guest_support::root_task_main!(root);
