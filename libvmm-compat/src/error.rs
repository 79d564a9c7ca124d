//! Typed errors. The C functions return -1 / `false` and log the reason;
//! the Rust functions return one of these.

use core::fmt;

/// Which of the three images an error is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Blob {
    /// The Linux kernel.
    Kernel,
    /// The flattened device tree.
    Dtb,
    /// The initial RAM disk.
    Initrd,
}

/// Why `linux_setup_images` refused (nothing was written to the guest).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SetupError {
    /// The kernel is neither an arm64 `Image` nor an ELF file.
    NotLinux,
    /// A blob is shorter than its own headers say.
    Truncated {
        /// Which blob.
        blob: Blob,
        /// Bytes its headers require.
        need: u64,
        /// Bytes given.
        have: u64,
    },
    /// The `Image` header has `image_size == 0` (kernels before 3.17).
    NoImageSize,
    /// A big-endian kernel; guests here run little-endian.
    BigEndianKernel,
    /// A 16 KiB-page kernel; Cortex-A57 has no 16 KiB granule.
    UnsupportedPageSize,
    /// `text_offset` is not page aligned or not below 2 MiB.
    BadTextOffset(u64),
    /// An ELF file for another machine (`e_machine`).
    WrongArchitecture(u16),
    /// The kernel headers are inconsistent.
    MalformedKernel(&'static str),
    /// An ELF `vmlinux` must be given as bytes; it cannot be loaded in place.
    ElfNotInPlace,
    /// An ELF `vmlinux` given to a build without the `elf` feature (use the
    /// arm64 `Image`, or enable the feature).
    ElfUnsupported,
    /// The kernel base is not 2 MiB aligned.
    KernelNotAligned(u64),
    /// The image asks to sit at the bottom of RAM (flags bit 3 clear) but
    /// `ram_start` is not the start of guest RAM.
    KernelNotAtRamStart(u64),
    /// The DTB header or tree is invalid.
    BadDtb(&'static str),
    /// The DTB's `totalsize` exceeds the size given (or 2 MiB).
    DtbTooLarge {
        /// Header `totalsize`.
        total_size: u64,
        /// Bytes available.
        given: u64,
    },
    /// The DTB is not 8-byte aligned in the guest.
    DtbNotAligned(u64),
    /// `/chosen` names an initrd range other than where the initrd goes.
    InitrdMismatch {
        /// `[start, end)` from the DTB.
        dtb: (u64, u64),
        /// `[start, end)` of the actual placement.
        actual: (u64, u64),
    },
    /// A destination range is not wholly inside guest RAM.
    NotInRam {
        /// Which blob.
        blob: Blob,
        /// Guest-physical start.
        addr: u64,
        /// Size in bytes.
        size: u64,
    },
    /// Two destination ranges overlap in guest-physical space.
    Overlap(Blob, Blob),
    /// A source inside guest RAM overlaps another blob's destination, so a
    /// copy would destroy it.
    SourceClobbered {
        /// The blob whose source would be overwritten.
        source: Blob,
        /// The blob whose destination overlaps it.
        by: Blob,
    },
    /// The VM core refused an access (see [`sel4vm::Error`]).
    Vm(sel4vm::Error),
}

impl From<sel4vm::Error> for SetupError {
    fn from(e: sel4vm::Error) -> Self {
        SetupError::Vm(e)
    }
}

impl fmt::Display for Blob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Blob::Kernel => "kernel",
            Blob::Dtb => "DTB",
            Blob::Initrd => "initrd",
        })
    }
}

// Hand-written messages: the derived `Debug` would pull `core::fmt`'s
// builders into the root task.
impl fmt::Display for SetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (what, arg) = match *self {
            SetupError::NotLinux => ("kernel is neither an arm64 Image nor an ELF file", None),
            SetupError::Truncated { blob, need, have } => {
                return write!(f, "{blob} truncated: needs {need} bytes, has {have}")
            }
            SetupError::NoImageSize => ("kernel Image has no image_size", None),
            SetupError::BigEndianKernel => ("big-endian kernel", None),
            SetupError::UnsupportedPageSize => ("kernel page size unsupported", None),
            SetupError::BadTextOffset(v) => ("bad kernel text_offset", Some(v)),
            SetupError::WrongArchitecture(m) => ("ELF kernel for machine", Some(m.into())),
            SetupError::MalformedKernel(why) => return write!(f, "malformed kernel: {why}"),
            SetupError::ElfNotInPlace => ("an ELF kernel cannot be used in place", None),
            SetupError::ElfUnsupported => ("ELF kernels not supported (no `elf` feature)", None),
            SetupError::KernelNotAligned(v) => ("kernel base not 2 MiB aligned:", Some(v)),
            SetupError::KernelNotAtRamStart(v) => {
                ("kernel must be at the start of RAM, not", Some(v))
            }
            SetupError::BadDtb(why) => return write!(f, "bad DTB: {why}"),
            SetupError::DtbTooLarge { total_size, given } => {
                return write!(f, "DTB totalsize {total_size:#x} exceeds {given:#x}")
            }
            SetupError::DtbNotAligned(v) => ("DTB not 8-byte aligned:", Some(v)),
            SetupError::InitrdMismatch { dtb, actual } => {
                return write!(
                    f,
                    "DTB initrd [{:#x}, {:#x}) is not the initrd at [{:#x}, {:#x})",
                    dtb.0, dtb.1, actual.0, actual.1
                )
            }
            SetupError::NotInRam { blob, addr, size } => {
                return write!(f, "{blob} [{addr:#x}, +{size:#x}) is not inside guest RAM")
            }
            SetupError::Overlap(a, b) => return write!(f, "{a} and {b} overlap"),
            SetupError::SourceClobbered { source, by } => {
                return write!(f, "{source} source would be overwritten by the {by}")
            }
            SetupError::Vm(e) => return write!(f, "VM: {e}"),
        };
        f.write_str(what)?;
        match arg {
            Some(v) => write!(f, " {v:#x}"),
            None => Ok(()),
        }
    }
}

/// Errors of the guest control and interrupt functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum GuestError {
    /// `virq_controller_init` has not been called.
    NoController,
    /// `virq_controller_init` was called already.
    ControllerExists,
    /// The IRQ number is outside what the interrupt controller serves.
    InvalidIrq(u32),
    /// The IRQ is registered already on that vCPU.
    AlreadyRegistered(u32),
    /// The IRQ was never registered on that vCPU.
    NotRegistered(u32),
    /// The channel already has a passthrough IRQ.
    ChannelInUse(u32),
    /// No passthrough IRQ uses this channel.
    UnknownChannel(u32),
    /// The boot vCPU id names no vCPU.
    InvalidVcpu(u32),
    /// `guest_restart` without images to reload.
    NoImages,
    /// C ABI: `virq_register_passthrough` before `libvmm_set_passthrough_ack`.
    NoPassthroughAck,
    /// C ABI: no default guest installed.
    NoDefaultGuest,
    /// C ABI: a libvmm function was called from inside another one on the
    /// default guest (e.g. from an ack callback).
    Reentrant,
    /// C ABI: a null pointer or a negative IRQ number.
    BadArgument,
    /// libvmm 0.2.0 C ABI: a guest RAM region was refused (the reason).
    BadRamRegion(&'static str),
    /// libvmm 0.2.0 C ABI: `guest_init` has not recorded any guest RAM.
    NoGuestRam,
    /// libvmm 0.2.0 C ABI: an `irq_routing_info_t` that is not an ARM GIC route.
    NotArmGicRoute(u32),
    /// A libvmm feature this layer does not offer (named).
    Unsupported(&'static str),
    /// Reloading the images failed.
    Setup(SetupError),
    /// The VM core failed.
    Vm(sel4vm::Error),
}

impl From<sel4vm::Error> for GuestError {
    fn from(e: sel4vm::Error) -> Self {
        match e {
            sel4vm::Error::NoIrqController => GuestError::NoController,
            sel4vm::Error::IrqControllerExists => GuestError::ControllerExists,
            sel4vm::Error::IrqAlreadyRegistered(i) => GuestError::AlreadyRegistered(i),
            sel4vm::Error::IrqNotRegistered(i) => GuestError::NotRegistered(i),
            sel4vm::Error::InvalidVcpu(v) => GuestError::InvalidVcpu(v.0),
            e => GuestError::Vm(e),
        }
    }
}

impl From<SetupError> for GuestError {
    fn from(e: SetupError) -> Self {
        GuestError::Setup(e)
    }
}

impl fmt::Display for GuestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (what, irq) = match *self {
            GuestError::NoController => ("virq_controller_init has not been called", None),
            GuestError::ControllerExists => ("virq_controller_init was called already", None),
            GuestError::InvalidIrq(i) => ("invalid IRQ", Some(i)),
            GuestError::AlreadyRegistered(i) => ("IRQ already registered:", Some(i)),
            GuestError::NotRegistered(i) => ("IRQ not registered:", Some(i)),
            GuestError::ChannelInUse(c) => ("channel already in use:", Some(c)),
            GuestError::UnknownChannel(c) => ("no passthrough IRQ on channel", Some(c)),
            GuestError::InvalidVcpu(v) => ("no vcpu", Some(v)),
            GuestError::NoImages => ("no images to reload", None),
            GuestError::NoPassthroughAck => ("libvmm_set_passthrough_ack not called", None),
            GuestError::NoDefaultGuest => ("no default guest", None),
            GuestError::Reentrant => ("reentrant call", None),
            GuestError::BadArgument => ("bad argument", None),
            GuestError::BadRamRegion(why) => return write!(f, "guest RAM region: {why}"),
            GuestError::NoGuestRam => ("guest_init has not recorded guest RAM", None),
            GuestError::NotArmGicRoute(t) => ("IRQ route is not IRQ_TYPE_ARM_GIC, type", Some(t)),
            GuestError::Unsupported(what) => return write!(f, "not supported: {what}"),
            GuestError::Setup(e) => return write!(f, "images: {e}"),
            GuestError::Vm(e) => return write!(f, "VM: {e}"),
        };
        f.write_str(what)?;
        match irq {
            Some(v) => write!(f, " {v}"),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::string::ToString;

    use super::*;

    #[test]
    fn messages_name_the_blob_and_values() {
        let e = SetupError::Truncated {
            blob: Blob::Dtb,
            need: 64,
            have: 40,
        };
        assert_eq!(e.to_string(), "DTB truncated: needs 64 bytes, has 40");
        let e = SetupError::NotInRam {
            blob: Blob::Initrd,
            addr: 0x4800_0000,
            size: 0x1000,
        };
        assert_eq!(
            e.to_string(),
            "initrd [0x48000000, +0x1000) is not inside guest RAM"
        );
        assert_eq!(
            SetupError::Overlap(Blob::Kernel, Blob::Dtb).to_string(),
            "kernel and DTB overlap"
        );
        assert_eq!(
            GuestError::Setup(SetupError::KernelNotAligned(0x4010_0000)).to_string(),
            "images: kernel base not 2 MiB aligned: 0x40100000"
        );
        assert_eq!(GuestError::InvalidIrq(1020).to_string(), "invalid IRQ 1020");
    }
}
