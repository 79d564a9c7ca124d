//! The one value that describes the guest: [`VmmConfig`]. The guest
//! layout ([`Layout`]), the stage-2 mappings ([`VmmConfig::stage2`]), the
//! vGIC set-up ([`VmmConfig::vgic`]) and the device tree
//! ([`crate::devicetree`]) are all derived from it, so they cannot disagree.

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

/// QEMU `virt` addresses and interrupt numbers (hw/arm/virt.c memory map).
pub mod virt {
    /// GIC distributor.
    pub const GICD: u64 = 0x0800_0000;
    /// GICv2 CPU interface (what the guest sees as its GICC).
    pub const GICC: u64 = 0x0801_0000;
    /// GICv2 virtual CPU interface (GICV), mapped to the guest as its GICC.
    pub const GICV: u64 = 0x0804_0000;
    /// GICv3 redistributors.
    pub const GICR: u64 = 0x080a_0000;
    /// Size of one GICv3 redistributor (RD + SGI frames).
    pub const GICR_STRIDE: u64 = 0x2_0000;
    /// PL011 UART.
    pub const UART: u64 = 0x0900_0000;
    /// PL011 interrupt: SPI 1 (interrupt id 33).
    pub const UART_SPI: u32 = 1;
    /// Start of RAM; with seL4's hypervisor build the first 512 MiB are
    /// left to user level as device untyped (the `vm-memory` reservation).
    pub const RAM: u64 = 0x4000_0000;
    /// End of the region seL4 leaves to user level.
    pub const RESERVED_END: u64 = 0x6000_0000;
    /// QEMU's own virtio-mmio transports: 32 slots of 0x200 bytes, SPIs 16..=47.
    pub const VIRTIO_MMIO: u64 = 0x0a00_0000;
    /// Start of QEMU's platform bus (0x0c00_0000..0x0e00_0000).
    pub const PLATFORM_BUS: u64 = 0x0c00_0000;
}

/// Guest-physical window of the VMM's emulated devices: between QEMU's
/// virtio-mmio slots and its platform bus, where the board has nothing,
/// so emulated devices never shadow a device QEMU (or a backend driver in
/// the VMM) uses. One 4 KiB page per device, in order.
pub const DEVICE_WINDOW: u64 = 0x0b00_0000;
/// Size of [`DEVICE_WINDOW`].
pub const DEVICE_WINDOW_SIZE: u64 = 0x0100_0000;
/// SPI of the first emulated device; QEMU's own devices use SPIs below 48.
pub const DEVICE_SPI_BASE: u32 = 64;

/// What an emulated device is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceKind {
    /// virtio-console over virtio-mmio (`hvc0`).
    VirtioConsole,
    /// Transmit-only PL011 for `earlycon` before the virtio modules load.
    EarlyUart,
    /// virtio-blk over virtio-mmio (`/dev/vda`), backed by the disk the
    /// VMM drives.
    VirtioBlock,
    /// virtio-net over virtio-mmio (`eth0`), backed by the NIC the VMM
    /// drives.
    VirtioNet,
}

/// One emulated device of the guest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EmulatedDevice {
    /// Name (logs, stage-2 map).
    pub name: &'static str,
    /// Model.
    pub kind: DeviceKind,
    /// Guest-physical base.
    pub base: u64,
    /// Size of the range.
    pub size: u64,
    /// Its interrupt as an SPI number (INTID = 32 + spi), if it has one.
    pub spi: Option<u32>,
}

/// 2 MiB: kernel alignment, and the DTB's maximum size.
pub const MIB2: u64 = 2 << 20;
/// Page size.
pub const PAGE: u64 = 4096;
/// Most vCPUs a guest may have (the VMM runs on one physical core).
pub const MAX_VCPUS: u32 = 4;
/// Longest command line accepted (Linux arm64's COMMAND_LINE_SIZE).
pub const MAX_CMDLINE: usize = 2048;
/// First 2 MiB of RAM are left alone: QEMU puts its own DTB there when it
/// loads an ELF `-kernel`, and the kernel goes on the next 2 MiB boundary.
pub const LOW_GAP: u64 = MIB2;

/// Where guest RAM comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RamBacking {
    /// Guest-physical == physical: frames retyped from the device untyped
    /// seL4 leaves at 0x4000_0000 (QEMU-placed images are already inside).
    OneToOne,
    /// Frames from ordinary kernel RAM; images are copied in.
    Anywhere,
}

/// Who owns the physical PL011 and what the guest's console is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConsoleMode {
    /// The VMM drives the PL011; the guest gets a virtio-console (`hvc0`)
    /// and, for messages before the virtio modules load, an emulated
    /// transmit-only PL011 at the UART's address (`earlycon`).
    Virtio,
    /// The PL011 frame and its interrupt are passed through to the guest
    /// (`ttyAMA0`).
    Passthrough,
}

/// GIC version presented to the guest (the core's type).
pub use sel4vm::vgic::GicVersion;

/// Interrupt numbers of the architected timer (PPI numbers, id = 16 + n).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimerPpis {
    /// Secure physical timer.
    pub secure_phys: u32,
    /// Non-secure physical timer.
    pub phys: u32,
    /// Virtual timer (the one a guest at EL1 uses).
    pub virt: u32,
    /// Hypervisor timer.
    pub hyp: u32,
}

impl TimerPpis {
    /// The standard assignment (SBSA; what QEMU `virt` uses).
    pub const STANDARD: TimerPpis = TimerPpis {
        secure_phys: 13,
        phys: 14,
        virt: 11,
        hyp: 10,
    };
}

/// How the guest calls PSCI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PsciMethod {
    /// `HVC #0`. seL4 reports a guest HVC as an *unknown syscall* fault,
    /// not as a VCPU fault, so the core's PSCI handler never sees it.
    Hvc,
    /// `SMC #0` (trapped because seL4 sets `HCR_EL2.TSC`).
    Smc,
}

impl PsciMethod {
    /// The `method` property value.
    pub fn as_str(self) -> &'static str {
        match self {
            PsciMethod::Hvc => "hvc",
            PsciMethod::Smc => "smc",
        }
    }
}

/// The kernel facts placement depends on (from the `Image` header).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KernelHeader {
    /// `text_offset`.
    pub text_offset: u64,
    /// `image_size` (memory footprint including BSS).
    pub image_size: u64,
    /// Flags bit 3: the kernel may sit anywhere in RAM.
    pub place_anywhere: bool,
}

impl KernelHeader {
    /// Reads the header of an arm64 `Image` or `vmlinux` with
    /// `libvmm_compat`'s validating parser.
    pub fn parse(head: &[u8], total_len: u64) -> Result<Self, libvmm_compat::SetupError> {
        let k = libvmm_compat::KernelInfo::parse(head, total_len)?;
        Ok(KernelHeader {
            text_offset: k.text_offset,
            image_size: k.image_size,
            place_anywhere: k.place_anywhere,
        })
    }
}

/// The whole guest configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VmmConfig {
    /// Guest-physical start of RAM (2 MiB aligned).
    pub ram_base: u64,
    /// Bytes of RAM (multiple of 2 MiB).
    pub ram_size: u64,
    /// Where RAM frames come from.
    pub ram_backing: RamBacking,
    /// Number of vCPUs (1..=[`MAX_VCPUS`]).
    pub vcpus: u32,
    /// GIC version.
    pub gic: GicVersion,
    /// Console arrangement.
    pub console: ConsoleMode,
    /// PL011 base (passed through 1:1, or driven by the VMM).
    pub uart_base: u64,
    /// PL011 SPI number.
    pub uart_spi: u32,
    /// Timer PPIs.
    pub timer: TimerPpis,
    /// PSCI conduit.
    pub psci: PsciMethod,
    /// Kernel command line.
    pub cmdline: String,
    /// Size of the initrd in bytes (0: none); sets the `chosen` range.
    pub initrd_size: u64,
    /// The guest gets a virtio-blk disk (the VMM found a backend for it).
    pub disk: bool,
    /// The guest gets a virtio-net NIC (the VMM found a backend for it).
    pub net: bool,
}

/// Why a configuration cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// vCPU count outside 1..=[`MAX_VCPUS`].
    Vcpus(u32),
    /// RAM base or size not 2 MiB aligned, or empty.
    RamAlignment,
    /// 1:1 RAM must lie in the region seL4 leaves to user level.
    RamNotReserved,
    /// Command line too long or containing NUL.
    Cmdline,
    /// Kernel, DTB and initrd do not fit in RAM together.
    NoRoom {
        /// Bytes needed.
        need: u64,
        /// Bytes available.
        have: u64,
    },
    /// The DTB could not be built (the writer's reason).
    Fdt(String),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Vcpus(n) => write!(f, "{n} vCPUs (1..={MAX_VCPUS} allowed)"),
            ConfigError::RamAlignment => f.write_str("RAM base and size must be 2 MiB aligned"),
            ConfigError::RamNotReserved => f.write_str("1:1 RAM outside the reserved region"),
            ConfigError::Cmdline => f.write_str("command line too long or contains NUL"),
            ConfigError::NoRoom { need, have } => {
                write!(f, "images need {need:#x} bytes of RAM, {have:#x} available")
            }
            ConfigError::Fdt(e) => write!(f, "DTB: {e}"),
        }
    }
}

/// Where things go in guest-physical memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// 2 MiB aligned kernel base: `ram_start` of `linux_setup_images`.
    pub kernel_base: u64,
    /// Entry point: `kernel_base + text_offset`.
    pub entry: u64,
    /// End of the kernel's footprint (`entry + image_size`).
    pub kernel_end: u64,
    /// The DTB's address (the top 2 MiB of RAM).
    pub dtb: u64,
    /// `[start, end)` of the initrd, right below the DTB.
    pub initrd: Option<(u64, u64)>,
}

/// One stage-2 region of the guest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage2Kind {
    /// Guest RAM.
    Ram(RamBacking),
    /// A device frame mapped 1:1 from its physical address `paddr`.
    Device {
        /// Physical address of the frame(s).
        paddr: u64,
    },
    /// Not mapped: accesses fault to the VMM, which emulates the device.
    Emulated,
    /// Set up by the core's vGIC (`Vm::create_vgic` from
    /// [`VmmConfig::gic_layout`]): the emulated distributor and
    /// redistributors, and the GICv2 CPU interface mapped from GICV.
    Vgic,
}

/// A named guest-physical region.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stage2Region {
    /// What it is.
    pub name: &'static str,
    /// Guest-physical start.
    pub ipa: u64,
    /// Size in bytes.
    pub size: u64,
    /// How it is backed.
    pub kind: Stage2Kind,
}

/// vGIC parameters derived from the configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VgicPlan {
    /// GIC version.
    pub version: GicVersion,
    /// Distributor base (emulated).
    pub dist: u64,
    /// GICv3 redistributor base (emulated), one frame pair per vCPU.
    pub redist: Option<u64>,
    /// Number of vCPUs the vGIC serves.
    pub vcpus: u32,
    /// Interrupt id of the virtual timer PPI, registered on every vCPU.
    pub vtimer_irq: u32,
    /// Hardware interrupts passed through: `(interrupt id, name)`.
    pub passthrough: Vec<(u32, &'static str)>,
    /// Interrupts of emulated devices: `(interrupt id, device name)`.
    pub emulated: Vec<(u32, &'static str)>,
}

const fn align_up(v: u64, a: u64) -> u64 {
    (v + a - 1) & !(a - 1)
}
const fn align_down(v: u64, a: u64) -> u64 {
    v & !(a - 1)
}

impl VmmConfig {
    /// The standard guest on QEMU `virt`: 256 MiB of 1:1 RAM at 0x4000_0000,
    /// PL011 passthrough, PSCI over SMC.
    pub fn qemu_virt(gic: GicVersion, vcpus: u32, cmdline: &str, initrd_size: u64) -> Self {
        VmmConfig {
            ram_base: virt::RAM,
            ram_size: 256 << 20,
            ram_backing: RamBacking::OneToOne,
            vcpus,
            gic,
            console: ConsoleMode::Virtio,
            uart_base: virt::UART,
            uart_spi: virt::UART_SPI,
            timer: TimerPpis::STANDARD,
            psci: PsciMethod::Smc,
            cmdline: String::from(cmdline),
            initrd_size,
            disk: false,
            net: false,
        }
    }

    /// End of RAM.
    pub fn ram_end(&self) -> u64 {
        self.ram_base + self.ram_size
    }

    /// Checks the configuration on its own.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(1..=MAX_VCPUS).contains(&self.vcpus) {
            return Err(ConfigError::Vcpus(self.vcpus));
        }
        if self.ram_size == 0
            || !self.ram_base.is_multiple_of(MIB2)
            || !self.ram_size.is_multiple_of(MIB2)
        {
            return Err(ConfigError::RamAlignment);
        }
        let end = self
            .ram_base
            .checked_add(self.ram_size)
            .ok_or(ConfigError::RamAlignment)?;
        if self.ram_backing == RamBacking::OneToOne
            && (self.ram_base < virt::RAM || end > virt::RESERVED_END)
        {
            return Err(ConfigError::RamNotReserved);
        }
        if self.cmdline.len() >= MAX_CMDLINE || self.cmdline.contains('\0') {
            return Err(ConfigError::Cmdline);
        }
        Ok(())
    }

    /// Places kernel, DTB and initrd: kernel on the first 2 MiB boundary
    /// after [`LOW_GAP`] (or at the bottom of RAM if the kernel insists),
    /// DTB in the top 2 MiB, initrd page-aligned right below the DTB.
    pub fn layout(&self, k: &KernelHeader) -> Result<Layout, ConfigError> {
        self.validate()?;
        let kernel_base = if k.place_anywhere {
            self.ram_base + LOW_GAP
        } else {
            self.ram_base
        };
        let entry = kernel_base + k.text_offset;
        let kernel_end = entry + k.image_size;
        let dtb = self.ram_end() - MIB2;
        let initrd_start = align_down(dtb.saturating_sub(self.initrd_size), PAGE);
        let need = (kernel_end - self.ram_base) + align_up(self.initrd_size, PAGE) + MIB2;
        if initrd_start < kernel_end || dtb < kernel_end {
            return Err(ConfigError::NoRoom {
                need,
                have: self.ram_size,
            });
        }
        let initrd =
            (self.initrd_size > 0).then_some((initrd_start, initrd_start + self.initrd_size));
        Ok(Layout {
            kernel_base,
            entry,
            kernel_end,
            dtb,
            initrd,
        })
    }

    /// The emulated devices, in the [`DEVICE_WINDOW`] (the early UART sits
    /// at the PL011's own address, which the guest otherwise lacks).
    pub fn devices(&self) -> Vec<EmulatedDevice> {
        let mut v = Vec::new();
        let mut next = DEVICE_WINDOW;
        let mut spi = DEVICE_SPI_BASE;
        let mut add = |v: &mut Vec<EmulatedDevice>, name, kind| {
            v.push(EmulatedDevice {
                name,
                kind,
                base: next,
                size: PAGE,
                spi: Some(spi),
            });
            next += PAGE;
            spi += 1;
        };
        if self.console == ConsoleMode::Virtio {
            v.push(EmulatedDevice {
                name: "earlycon",
                kind: DeviceKind::EarlyUart,
                base: self.uart_base,
                size: PAGE,
                spi: None,
            });
            add(&mut v, "virtio-console", DeviceKind::VirtioConsole);
        }
        if self.disk {
            add(&mut v, "virtio-blk", DeviceKind::VirtioBlock);
        }
        if self.net {
            add(&mut v, "virtio-net", DeviceKind::VirtioNet);
        }
        v
    }

    /// The guest's physical address map.
    pub fn stage2(&self) -> Vec<Stage2Region> {
        let mut v = vec![
            Stage2Region {
                name: "ram",
                ipa: self.ram_base,
                size: self.ram_size,
                kind: Stage2Kind::Ram(self.ram_backing),
            },
            Stage2Region {
                name: "gicd",
                ipa: virt::GICD,
                size: self.gicd_size(),
                kind: Stage2Kind::Vgic,
            },
        ];
        if self.console == ConsoleMode::Passthrough {
            v.push(Stage2Region {
                name: "uart",
                ipa: self.uart_base,
                size: PAGE,
                kind: Stage2Kind::Device {
                    paddr: self.uart_base,
                },
            });
        }
        v.extend(self.devices().iter().map(|d| Stage2Region {
            name: d.name,
            ipa: d.base,
            size: d.size,
            kind: Stage2Kind::Emulated,
        }));
        match self.gic {
            GicVersion::V2 => v.push(Stage2Region {
                name: "gicc",
                ipa: virt::GICC,
                size: self.gicc_size(),
                kind: Stage2Kind::Vgic,
            }),
            GicVersion::V3 => v.push(Stage2Region {
                name: "gicr",
                ipa: virt::GICR,
                size: virt::GICR_STRIDE * u64::from(self.vcpus),
                kind: Stage2Kind::Vgic,
            }),
        }
        v.sort_by_key(|r| r.ipa);
        v
    }

    /// Size of the distributor the core emulates for this GIC version.
    pub fn gicd_size(&self) -> u64 {
        sel4vm::vgic::dist_size(self.gic)
    }

    /// Size of the GICv2 CPU interface given to the guest (GICC_DIR is at 0x1000).
    pub fn gicc_size(&self) -> u64 {
        0x2000
    }

    /// What the vGIC needs to know.
    pub fn vgic(&self) -> VgicPlan {
        VgicPlan {
            version: self.gic,
            dist: virt::GICD,
            redist: (self.gic == GicVersion::V3).then_some(virt::GICR),
            vcpus: self.vcpus,
            vtimer_irq: 16 + self.timer.virt,
            passthrough: match self.console {
                ConsoleMode::Passthrough => vec![(32 + self.uart_spi, "uart")],
                ConsoleMode::Virtio => Vec::new(),
            },
            emulated: self
                .devices()
                .iter()
                .filter_map(|d| Some((32 + d.spi?, d.name)))
                .collect(),
        }
    }

    /// The emulated GIC's guest layout for the core (`Vm::create_vgic`).
    pub fn gic_layout(&self) -> sel4vm::irq::GicLayout {
        let v2 = self.gic == GicVersion::V2;
        sel4vm::irq::GicLayout {
            version: self.gic,
            dist_base: virt::GICD,
            cpu_interface: if v2 { virt::GICC } else { 0 },
            vcpu_interface_paddr: if v2 { virt::GICV } else { 0 },
            redist_base: if v2 { 0 } else { virt::GICR },
            // 32 private + 256 SPIs: QEMU virt's SPIs all fit.
            num_irqs: 288,
        }
    }

    /// `MPIDR` affinity of vCPU `n` (the `reg` of its cpu node, and what
    /// `CPU_ON` names): Aff0 = n.
    pub fn mpidr(n: u32) -> u64 {
        u64::from(n)
    }
}
