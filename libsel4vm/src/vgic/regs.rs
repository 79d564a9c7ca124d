//! Register offsets of the GIC distributor (v2 and v3) and the GICv3
//! redistributor, from the GIC architecture specifications.

/// `GICD_CTLR`.
pub const GICD_CTLR: u64 = 0x000;
/// `GICD_TYPER`.
pub const GICD_TYPER: u64 = 0x004;
/// `GICD_IIDR`.
pub const GICD_IIDR: u64 = 0x008;
/// `GICD_TYPER2` (v3).
pub const GICD_TYPER2: u64 = 0x00c;
/// `GICD_STATUSR` (v3).
pub const GICD_STATUSR: u64 = 0x010;
/// `GICD_IGROUPR<n>`.
pub const GICD_IGROUPR: u64 = 0x080;
/// `GICD_ISENABLER<n>`.
pub const GICD_ISENABLER: u64 = 0x100;
/// `GICD_ICENABLER<n>`.
pub const GICD_ICENABLER: u64 = 0x180;
/// `GICD_ISPENDR<n>`.
pub const GICD_ISPENDR: u64 = 0x200;
/// `GICD_ICPENDR<n>`.
pub const GICD_ICPENDR: u64 = 0x280;
/// `GICD_ISACTIVER<n>`.
pub const GICD_ISACTIVER: u64 = 0x300;
/// `GICD_ICACTIVER<n>`.
pub const GICD_ICACTIVER: u64 = 0x380;
/// `GICD_IPRIORITYR<n>` (byte array, 0x400..0x7fc).
pub const GICD_IPRIORITYR: u64 = 0x400;
/// `GICD_ITARGETSR<n>` (byte array, 0x800..0xbfc).
pub const GICD_ITARGETSR: u64 = 0x800;
/// `GICD_ICFGR<n>` (2 bits per interrupt, 0xc00..0xcfc).
pub const GICD_ICFGR: u64 = 0xc00;
/// `GICD_IGRPMODR<n>` (v3).
pub const GICD_IGRPMODR: u64 = 0xd00;
/// `GICD_NSACR<n>`.
pub const GICD_NSACR: u64 = 0xe00;
/// `GICD_SGIR` (v2, write-only).
pub const GICD_SGIR: u64 = 0xf00;
/// `GICD_CPENDSGIR<n>` (v2, byte array, 0xf10..0xf1c).
pub const GICD_CPENDSGIR: u64 = 0xf10;
/// `GICD_SPENDSGIR<n>` (v2, byte array, 0xf20..0xf2c).
pub const GICD_SPENDSGIR: u64 = 0xf20;
/// `GICD_IROUTER<n>` (v3, 64-bit, n >= 32).
pub const GICD_IROUTER: u64 = 0x6000;

/// Start of the v2 identification registers (`GICD_PIDR4` .. `GICD_CIDR3`).
pub const GICD_ID_V2: u64 = 0xfd0;
/// Start of the v3 identification registers.
pub const GICD_ID_V3: u64 = 0xffd0;

/// Size of the v2 distributor frame.
pub const GICD_SIZE_V2: u64 = 0x1000;
/// Size of the v3 distributor frame.
pub const GICD_SIZE_V3: u64 = 0x10000;

/// `GICR_CTLR` (RD_base).
pub const GICR_CTLR: u64 = 0x0000;
/// `GICR_IIDR` (RD_base).
pub const GICR_IIDR: u64 = 0x0004;
/// `GICR_TYPER` (RD_base, 64-bit).
pub const GICR_TYPER: u64 = 0x0008;
/// `GICR_STATUSR` (RD_base).
pub const GICR_STATUSR: u64 = 0x0010;
/// `GICR_WAKER` (RD_base).
pub const GICR_WAKER: u64 = 0x0014;
/// `GICR_PROPBASER` (RD_base, 64-bit).
pub const GICR_PROPBASER: u64 = 0x0070;
/// `GICR_PENDBASER` (RD_base, 64-bit).
pub const GICR_PENDBASER: u64 = 0x0078;
/// `GICR_SYNCR` (RD_base).
pub const GICR_SYNCR: u64 = 0x00c0;
/// Start of the SGI_base frame inside one redistributor.
pub const GICR_SGI_BASE: u64 = 0x1_0000;
/// Size of one redistributor (RD_base + SGI_base frames).
pub const GICR_STRIDE: u64 = 0x2_0000;

/// `GICR_WAKER.ProcessorSleep`.
pub const WAKER_PROCESSOR_SLEEP: u32 = 1 << 1;
/// `GICR_WAKER.ChildrenAsleep`.
pub const WAKER_CHILDREN_ASLEEP: u32 = 1 << 2;
/// `GICR_TYPER.Last`.
pub const GICR_TYPER_LAST: u64 = 1 << 4;

/// `GICD_CTLR.EnableGrp0`.
pub const CTLR_ENABLE_GRP0: u32 = 1 << 0;
/// `GICD_CTLR.EnableGrp1`.
pub const CTLR_ENABLE_GRP1: u32 = 1 << 1;
/// `GICD_CTLR.ARE` (v3, single security state).
pub const CTLR_ARE: u32 = 1 << 4;
/// `GICD_CTLR.DS` (v3: single security state).
pub const CTLR_DS: u32 = 1 << 6;

/// `GICD_TYPER.No1N` (v3: 1-of-N routing not supported).
pub const TYPER_NO1N: u32 = 1 << 25;

/// `ICC_SGI1R_EL1` as `op0, op1, CRn, CRm, op2`.
pub const ICC_SGI1R_EL1: (u8, u8, u8, u8, u8) = (3, 0, 12, 11, 5);
/// `ICC_ASGI1R_EL1`.
pub const ICC_ASGI1R_EL1: (u8, u8, u8, u8, u8) = (3, 0, 12, 11, 6);
/// `ICC_SGI0R_EL1`.
pub const ICC_SGI0R_EL1: (u8, u8, u8, u8, u8) = (3, 0, 12, 11, 7);

/// Implementer (Arm, JEP106 0x43b) with product id 0x53 ("S" for seL4 VMM).
pub const IIDR: u32 = 0x5300_043b;

/// Identification registers `PIDR4..PIDR7, PIDR0..PIDR3, CIDR0..CIDR3`, one
/// word each, with `PIDR2.ArchRev` = `arch_rev`.
pub fn id_register(index: u64, arch_rev: u32) -> u32 {
    match index {
        0 => 0x04,                   // PIDR4: 4 KiB count, JEP106 continuation 4 (Arm)
        4 => 0x92,                   // PIDR0: part number low
        5 => 0xb4,                   // PIDR1: part number high, JEP106 id low
        6 => (arch_rev << 4) | 0x0b, // PIDR2: ArchRev, JEDEC, JEP106 id high
        8 => 0x0d,                   // CIDR0..3: the CoreSight/PrimeCell preamble
        9 => 0xf0,
        10 => 0x05,
        11 => 0xb1,
        _ => 0,
    }
}
