//! System test for the virtual timer and the vGIC on real seL4: a
//! hand-assembled EL1 guest programs the GIC distributor and CPU interface
//! itself (GICv2 or GICv3, whichever the kernel was built for), arms
//! `CNTV_CVAL`/`CNTV_CTL`, waits in WFI and takes timer interrupts,
//! acknowledging each through `GICC_IAR`/`GICC_EOIR` or
//! `ICC_IAR1_EL1`/`ICC_EOIR1_EL1`. The root task checks what the guest
//! recorded and prints `guest-timer: all checks passed`.
#![cfg_attr(target_os = "none", no_std, no_main)]

extern crate alloc;

mod guest;
guest_support::root_task_main!(root);
