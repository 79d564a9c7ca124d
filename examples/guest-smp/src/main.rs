//! System test for PSCI and SGIs between vCPUs on real seL4: a
//! hand-assembled two-vCPU EL1 guest. vCPU 0 programs the vGIC (v2 or v3,
//! whichever the kernel was built for), queries the VMM's PSCI/SMCCC
//! firmware over SMC and HVC (VERSION, FEATURES, AFFINITY_INFO, an unknown
//! function id), turns vCPU 1 on with `CPU_ON`; vCPU 1 signals back through
//! shared RAM; they exchange SGIs (`GICD_SGIR` or `ICC_SGI1R_EL1`) and
//! vCPU 1 calls `CPU_OFF`. The root task checks what both recorded and
//! prints `guest-smp: all checks passed`.
#![cfg_attr(target_os = "none", no_std, no_main)]

extern crate alloc;

mod guest;
guest_support::root_task_main!(root);
