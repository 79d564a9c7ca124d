//! System test: a guest that makes seL4 system calls through HVC cannot
//! reach the VMM's caps. seL4 takes a guest HVC into its system-call path
//! with x7 as the syscall number, run with the vCPU thread's CSpace; that
//! CSpace holds only the vCPU's fault endpoint. Each attempt (a Call on
//! the VMM's TCB slot, a CNodeDelete on its CNode slot, a Send on its ASID
//! pool slot, a Yield, a Recv on the fault endpoint) runs in a fresh VM; the
//! root task checks each VM's exit, that its own caps are intact and that
//! it keeps running, and prints `guest-escape: all checks passed`.
#![cfg_attr(target_os = "none", no_std, no_main)]

extern crate alloc;

mod guest;
guest_support::root_task_main!(root);
