// Checked-in ABI numbers for the supported configuration (qemu-arm-virt,
// aarch64, hypervisor, non-MCS, 1 node, printing, debug build), taken from the
// seL4 16.0.0 install at /opt/sel4/gicv2. Used when SEL4_PREFIX is unset;
// tests/labels.rs checks it against an install. Same shape as the output of
// build_support/kernel_facts.rs (`render`).

/// Invocation labels (`enum invocation_label` and the arch enums).
#[allow(non_upper_case_globals)]
pub mod invocation {
    /// `UntypedRetype`
    pub const UntypedRetype: u64 = 1;
    /// `TCBReadRegisters`
    pub const TCBReadRegisters: u64 = 2;
    /// `TCBWriteRegisters`
    pub const TCBWriteRegisters: u64 = 3;
    /// `TCBCopyRegisters`
    pub const TCBCopyRegisters: u64 = 4;
    /// `TCBConfigure`
    pub const TCBConfigure: u64 = 5;
    /// `TCBSetPriority`
    pub const TCBSetPriority: u64 = 6;
    /// `TCBSetMCPriority`
    pub const TCBSetMCPriority: u64 = 7;
    /// `TCBSetSchedParams`
    pub const TCBSetSchedParams: u64 = 8;
    /// `TCBSetIPCBuffer`
    pub const TCBSetIPCBuffer: u64 = 9;
    /// `TCBSetSpace`
    pub const TCBSetSpace: u64 = 10;
    /// `TCBSuspend`
    pub const TCBSuspend: u64 = 11;
    /// `TCBResume`
    pub const TCBResume: u64 = 12;
    /// `TCBBindNotification`
    pub const TCBBindNotification: u64 = 13;
    /// `TCBUnbindNotification`
    pub const TCBUnbindNotification: u64 = 14;
    /// `TCBSetTLSBase`
    pub const TCBSetTLSBase: u64 = 15;
    /// `TCBSetFlags`
    pub const TCBSetFlags: u64 = 16;
    /// `CNodeRevoke`
    pub const CNodeRevoke: u64 = 17;
    /// `CNodeDelete`
    pub const CNodeDelete: u64 = 18;
    /// `CNodeCancelBadgedSends`
    pub const CNodeCancelBadgedSends: u64 = 19;
    /// `CNodeCopy`
    pub const CNodeCopy: u64 = 20;
    /// `CNodeMint`
    pub const CNodeMint: u64 = 21;
    /// `CNodeMove`
    pub const CNodeMove: u64 = 22;
    /// `CNodeMutate`
    pub const CNodeMutate: u64 = 23;
    /// `CNodeRotate`
    pub const CNodeRotate: u64 = 24;
    /// `CNodeSaveCaller`
    pub const CNodeSaveCaller: u64 = 25;
    /// `IRQIssueIRQHandler`
    pub const IRQIssueIRQHandler: u64 = 26;
    /// `IRQAckIRQ`
    pub const IRQAckIRQ: u64 = 27;
    /// `IRQSetIRQHandler`
    pub const IRQSetIRQHandler: u64 = 28;
    /// `IRQClearIRQHandler`
    pub const IRQClearIRQHandler: u64 = 29;
    /// `DomainSetSet`
    pub const DomainSetSet: u64 = 30;
    /// `DomainScheduleConfigure`
    pub const DomainScheduleConfigure: u64 = 31;
    /// `DomainScheduleSetStart`
    pub const DomainScheduleSetStart: u64 = 32;
    /// `ARMVSpaceClean_Data`
    pub const ARMVSpaceClean_Data: u64 = 33;
    /// `ARMVSpaceInvalidate_Data`
    pub const ARMVSpaceInvalidate_Data: u64 = 34;
    /// `ARMVSpaceCleanInvalidate_Data`
    pub const ARMVSpaceCleanInvalidate_Data: u64 = 35;
    /// `ARMVSpaceUnify_Instruction`
    pub const ARMVSpaceUnify_Instruction: u64 = 36;
    /// `ARMSMCCall`
    pub const ARMSMCCall: u64 = 37;
    /// `ARMPageTableMap`
    pub const ARMPageTableMap: u64 = 38;
    /// `ARMPageTableUnmap`
    pub const ARMPageTableUnmap: u64 = 39;
    /// `ARMPageMap`
    pub const ARMPageMap: u64 = 40;
    /// `ARMPageUnmap`
    pub const ARMPageUnmap: u64 = 41;
    /// `ARMPageClean_Data`
    pub const ARMPageClean_Data: u64 = 42;
    /// `ARMPageInvalidate_Data`
    pub const ARMPageInvalidate_Data: u64 = 43;
    /// `ARMPageCleanInvalidate_Data`
    pub const ARMPageCleanInvalidate_Data: u64 = 44;
    /// `ARMPageUnify_Instruction`
    pub const ARMPageUnify_Instruction: u64 = 45;
    /// `ARMPageGetAddress`
    pub const ARMPageGetAddress: u64 = 46;
    /// `ARMASIDControlMakePool`
    pub const ARMASIDControlMakePool: u64 = 47;
    /// `ARMASIDPoolAssign`
    pub const ARMASIDPoolAssign: u64 = 48;
    /// `ARMVCPUSetTCB`
    pub const ARMVCPUSetTCB: u64 = 49;
    /// `ARMVCPUInjectIRQ`
    pub const ARMVCPUInjectIRQ: u64 = 50;
    /// `ARMVCPUReadReg`
    pub const ARMVCPUReadReg: u64 = 51;
    /// `ARMVCPUWriteReg`
    pub const ARMVCPUWriteReg: u64 = 52;
    /// `ARMVCPUAckVPPI`
    pub const ARMVCPUAckVPPI: u64 = 53;
    /// `ARMIRQIssueIRQHandlerTrigger`
    pub const ARMIRQIssueIRQHandlerTrigger: u64 = 54;
    /// `ARMIRQIssueSGISignal`
    pub const ARMIRQIssueSGISignal: u64 = 55;
}
/// All entries of [`invocation`], in numbering order.
pub const INVOCATION_LABELS: &[(&str, u64)] = &[
    ("UntypedRetype", 1),
    ("TCBReadRegisters", 2),
    ("TCBWriteRegisters", 3),
    ("TCBCopyRegisters", 4),
    ("TCBConfigure", 5),
    ("TCBSetPriority", 6),
    ("TCBSetMCPriority", 7),
    ("TCBSetSchedParams", 8),
    ("TCBSetIPCBuffer", 9),
    ("TCBSetSpace", 10),
    ("TCBSuspend", 11),
    ("TCBResume", 12),
    ("TCBBindNotification", 13),
    ("TCBUnbindNotification", 14),
    ("TCBSetTLSBase", 15),
    ("TCBSetFlags", 16),
    ("CNodeRevoke", 17),
    ("CNodeDelete", 18),
    ("CNodeCancelBadgedSends", 19),
    ("CNodeCopy", 20),
    ("CNodeMint", 21),
    ("CNodeMove", 22),
    ("CNodeMutate", 23),
    ("CNodeRotate", 24),
    ("CNodeSaveCaller", 25),
    ("IRQIssueIRQHandler", 26),
    ("IRQAckIRQ", 27),
    ("IRQSetIRQHandler", 28),
    ("IRQClearIRQHandler", 29),
    ("DomainSetSet", 30),
    ("DomainScheduleConfigure", 31),
    ("DomainScheduleSetStart", 32),
    ("ARMVSpaceClean_Data", 33),
    ("ARMVSpaceInvalidate_Data", 34),
    ("ARMVSpaceCleanInvalidate_Data", 35),
    ("ARMVSpaceUnify_Instruction", 36),
    ("ARMSMCCall", 37),
    ("ARMPageTableMap", 38),
    ("ARMPageTableUnmap", 39),
    ("ARMPageMap", 40),
    ("ARMPageUnmap", 41),
    ("ARMPageClean_Data", 42),
    ("ARMPageInvalidate_Data", 43),
    ("ARMPageCleanInvalidate_Data", 44),
    ("ARMPageUnify_Instruction", 45),
    ("ARMPageGetAddress", 46),
    ("ARMASIDControlMakePool", 47),
    ("ARMASIDPoolAssign", 48),
    ("ARMVCPUSetTCB", 49),
    ("ARMVCPUInjectIRQ", 50),
    ("ARMVCPUReadReg", 51),
    ("ARMVCPUWriteReg", 52),
    ("ARMVCPUAckVPPI", 53),
    ("ARMIRQIssueIRQHandlerTrigger", 54),
    ("ARMIRQIssueSGISignal", 55),
];

/// Object types for `Untyped_Retype` (`seL4_ObjectType` and arch enums).
#[allow(non_upper_case_globals)]
pub mod object_type {
    /// `UntypedObject`
    pub const UntypedObject: u64 = 0;
    /// `TCBObject`
    pub const TCBObject: u64 = 1;
    /// `EndpointObject`
    pub const EndpointObject: u64 = 2;
    /// `NotificationObject`
    pub const NotificationObject: u64 = 3;
    /// `CapTableObject`
    pub const CapTableObject: u64 = 4;
    /// `NonArchObjectTypeCount`
    pub const NonArchObjectTypeCount: u64 = 5;
    /// `ARM_HugePageObject`
    pub const ARM_HugePageObject: u64 = 5;
    /// `ARM_VSpaceObject`
    pub const ARM_VSpaceObject: u64 = 6;
    /// `ModeObjectTypeCount`
    pub const ModeObjectTypeCount: u64 = 7;
    /// `ARM_SmallPageObject`
    pub const ARM_SmallPageObject: u64 = 7;
    /// `ARM_LargePageObject`
    pub const ARM_LargePageObject: u64 = 8;
    /// `ARM_PageTableObject`
    pub const ARM_PageTableObject: u64 = 9;
    /// `ARM_VCPUObject`
    pub const ARM_VCPUObject: u64 = 10;
    /// `ObjectTypeCount`
    pub const ObjectTypeCount: u64 = 11;
}
/// All entries of [`object_type`], in numbering order.
pub const OBJECT_TYPES: &[(&str, u64)] = &[
    ("UntypedObject", 0),
    ("TCBObject", 1),
    ("EndpointObject", 2),
    ("NotificationObject", 3),
    ("CapTableObject", 4),
    ("NonArchObjectTypeCount", 5),
    ("ARM_HugePageObject", 5),
    ("ARM_VSpaceObject", 6),
    ("ModeObjectTypeCount", 7),
    ("ARM_SmallPageObject", 7),
    ("ARM_LargePageObject", 8),
    ("ARM_PageTableObject", 9),
    ("ARM_VCPUObject", 10),
    ("ObjectTypeCount", 11),
];

/// Fault message labels (`seL4_Fault_tag`).
#[allow(non_upper_case_globals)]
pub mod fault_label {
    /// `NullFault`
    pub const NullFault: u64 = 0;
    /// `CapFault`
    pub const CapFault: u64 = 1;
    /// `UnknownSyscall`
    pub const UnknownSyscall: u64 = 2;
    /// `UserException`
    pub const UserException: u64 = 3;
    /// `VMFault`
    pub const VMFault: u64 = 5;
    /// `VGICMaintenance`
    pub const VGICMaintenance: u64 = 6;
    /// `VCPUFault`
    pub const VCPUFault: u64 = 7;
    /// `VPPIEvent`
    pub const VPPIEvent: u64 = 8;
}
/// All entries of [`fault_label`], in numbering order.
pub const FAULT_LABELS: &[(&str, u64)] = &[
    ("NullFault", 0),
    ("CapFault", 1),
    ("UnknownSyscall", 2),
    ("UserException", 3),
    ("VMFault", 5),
    ("VGICMaintenance", 6),
    ("VCPUFault", 7),
    ("VPPIEvent", 8),
];

/// Syscall numbers placed in x7 (`seL4_Syscall_ID`).
#[allow(non_upper_case_globals)]
pub mod syscall {
    /// `Call`
    pub const Call: i64 = -1;
    /// `ReplyRecv`
    pub const ReplyRecv: i64 = -2;
    /// `Send`
    pub const Send: i64 = -3;
    /// `NBSend`
    pub const NBSend: i64 = -4;
    /// `Recv`
    pub const Recv: i64 = -5;
    /// `Reply`
    pub const Reply: i64 = -6;
    /// `Yield`
    pub const Yield: i64 = -7;
    /// `NBRecv`
    pub const NBRecv: i64 = -8;
    /// `DebugPutChar`
    pub const DebugPutChar: i64 = -9;
    /// `DebugDumpScheduler`
    pub const DebugDumpScheduler: i64 = -10;
    /// `DebugHalt`
    pub const DebugHalt: i64 = -11;
    /// `DebugCapIdentify`
    pub const DebugCapIdentify: i64 = -12;
    /// `DebugSnapshot`
    pub const DebugSnapshot: i64 = -13;
    /// `DebugNameThread`
    pub const DebugNameThread: i64 = -14;
}
/// All entries of [`syscall`], in numbering order.
pub const SYSCALLS: &[(&str, i64)] = &[
    ("Call", -1),
    ("ReplyRecv", -2),
    ("Send", -3),
    ("NBSend", -4),
    ("Recv", -5),
    ("Reply", -6),
    ("Yield", -7),
    ("NBRecv", -8),
    ("DebugPutChar", -9),
    ("DebugDumpScheduler", -10),
    ("DebugHalt", -11),
    ("DebugCapIdentify", -12),
    ("DebugSnapshot", -13),
    ("DebugNameThread", -14),
];

/// Selected kernel configuration values (`CONFIG_*`).
pub mod config {
    /// `CONFIG_MAX_NUM_BOOTINFO_UNTYPED_CAPS`
    pub const MAX_NUM_BOOTINFO_UNTYPED_CAPS: usize = 230;
    /// `CONFIG_NUM_PRIORITIES`
    pub const NUM_PRIORITIES: usize = 256;
    /// `CONFIG_DEBUG_BUILD`
    pub const DEBUG_BUILD: bool = true;
    /// `CONFIG_PRINTING`
    pub const PRINTING: bool = true;
    /// `CONFIG_ALLOW_SMC_CALLS`
    pub const ALLOW_SMC_CALLS: bool = true;
    /// `CONFIG_HARDWARE_DEBUG_API`
    pub const HARDWARE_DEBUG_API: bool = false;
    /// `CONFIG_ARM_PA_SIZE_BITS_40`
    pub const ARM_PA_SIZE_BITS_40: bool = false;
    /// `CONFIG_ARM_PA_SIZE_BITS_44`
    pub const ARM_PA_SIZE_BITS_44: bool = true;
    /// `CONFIG_ARM_GIC_V3_SUPPORT`
    pub const ARM_GIC_V3_SUPPORT: bool = false;
    /// `CONFIG_ENABLE_SMP_SUPPORT`
    pub const ENABLE_SMP_SUPPORT: bool = false;
    /// `CONFIG_FASTPATH`
    pub const FASTPATH: bool = true;
    /// `CONFIG_TIMER_FREQUENCY`
    pub const TIMER_FREQUENCY: usize = 62500000;
    /// `CONFIG_TIMER_TICK_MS`
    pub const TIMER_TICK_MS: usize = 2;
}
/// [`config`] as (name, value) text pairs, for logs and checks.
pub const CONFIG_TABLE: &[(&str, &str)] = &[
    ("MAX_NUM_BOOTINFO_UNTYPED_CAPS", "230"),
    ("NUM_PRIORITIES", "256"),
    ("DEBUG_BUILD", "true"),
    ("PRINTING", "true"),
    ("ALLOW_SMC_CALLS", "true"),
    ("HARDWARE_DEBUG_API", "false"),
    ("ARM_PA_SIZE_BITS_40", "false"),
    ("ARM_PA_SIZE_BITS_44", "true"),
    ("ARM_GIC_V3_SUPPORT", "false"),
    ("ENABLE_SMP_SUPPORT", "false"),
    ("FASTPATH", "true"),
    ("TIMER_FREQUENCY", "62500000"),
    ("TIMER_TICK_MS", "2"),
];
