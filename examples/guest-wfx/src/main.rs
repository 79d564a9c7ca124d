//! System test for idle vCPUs on real seL4 (WFI that sleeps, WFE that
//! yields): a hand-assembled two-vCPU EL1 guest. vCPU 1 sleeps in WFI with
//! its virtual timer off until vCPU 0's SGI wakes it; sleeps in WFI on a
//! deadline one second ahead while vCPU 0 runs a long busy loop, and is
//! woken by the VMM's wake-up timer (the EL1 physical timer, INTID 30);
//! then waits in WFE for a spinlock vCPU 0 holds through a long critical
//! section. vCPU 0 marks each phase on the test device, where the root
//! task takes a snapshot of the VMM's exit statistics; the root task
//! checks the guest's records against them and prints
//! `guest-wfx: all checks passed`.
#![cfg_attr(target_os = "none", no_std, no_main)]

extern crate alloc;

mod guest;
guest_support::root_task_main!(root);
