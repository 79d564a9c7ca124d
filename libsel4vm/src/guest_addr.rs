//! Typed guest-physical addresses and the byte-access trait device models
//! use, modelled on rust-vmm `vm-memory`'s `GuestAddress` and
//! `Bytes<GuestAddress>`.
//!
//! [`GuestBytes`] is what a device model sees of guest memory: the VM's
//! [`crate::GuestMemory`] implements it, and so does [`VecGuestMemory`],
//! a plain buffer for host tests of devices without a VM.

use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use zerocopy::{FromBytes, Immutable, IntoBytes};

use crate::error::{Error, Result};

/// A guest-physical address (an IPA on Arm).
///
/// Corresponds to the `uintptr_t addr` arguments of libsel4vm's guest-RAM
/// functions; rust-vmm calls it `GuestAddress`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(transparent)]
pub struct GuestAddress(pub u64);

impl GuestAddress {
    /// The raw address.
    pub const fn raw(self) -> u64 {
        self.0
    }

    /// `self + off`, or `None` on overflow.
    pub fn checked_add(self, off: u64) -> Option<GuestAddress> {
        self.0.checked_add(off).map(GuestAddress)
    }

    /// `self - base`, or `None` if `base` is above `self`.
    pub fn offset_from(self, base: GuestAddress) -> Option<u64> {
        self.0.checked_sub(base.0)
    }
}

impl fmt::Display for GuestAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

impl From<u64> for GuestAddress {
    fn from(v: u64) -> Self {
        GuestAddress(v)
    }
}

/// Byte access to guest memory; every range is checked to lie wholly in
/// guest RAM before a byte is touched, and [`Error::NotRam`] is returned
/// otherwise.
///
/// Corresponds to libsel4vm's `vm_guest_ram_read_callback` /
/// `vm_guest_ram_write_callback` pair (rust-vmm: `Bytes<GuestAddress>`).
pub trait GuestBytes {
    /// Checks that `[addr, addr + len)` is wholly guest RAM.
    fn check(&self, addr: GuestAddress, len: u64) -> Result<()>;
    /// Copies guest memory at `addr` into `buf`.
    fn read(&mut self, addr: GuestAddress, buf: &mut [u8]) -> Result<()>;
    /// Copies `data` into guest memory at `addr`.
    fn write(&mut self, addr: GuestAddress, data: &[u8]) -> Result<()>;
}

/// Typed helpers over any [`GuestBytes`], also usable on `dyn GuestBytes`.
///
/// Corresponds to rust-vmm's `Bytes::read_obj` / `write_obj`.
pub trait GuestBytesExt: GuestBytes {
    /// Reads a plain-data value (little-endian layout as in guest memory).
    fn read_obj<T: FromBytes + IntoBytes>(&mut self, addr: GuestAddress) -> Result<T> {
        let mut v = T::new_zeroed();
        self.read(addr, v.as_mut_bytes())?;
        Ok(v)
    }
    /// Writes a plain-data value.
    fn write_obj<T: IntoBytes + Immutable>(&mut self, addr: GuestAddress, v: &T) -> Result<()> {
        self.write(addr, v.as_bytes())
    }
}

impl<M: GuestBytes + ?Sized> GuestBytesExt for M {}

/// Guest RAM held in one host buffer: device-model host tests and fuzzing.
pub struct VecGuestMemory {
    base: GuestAddress,
    bytes: Vec<u8>,
}

impl VecGuestMemory {
    /// `size` zeroed bytes of RAM at `base`.
    pub fn new(base: GuestAddress, size: usize) -> Self {
        Self {
            base,
            bytes: vec![0; size],
        }
    }

    /// The whole RAM.
    pub fn as_slice(&self) -> &[u8] {
        &self.bytes
    }

    /// The whole RAM, writable.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        &mut self.bytes
    }

    fn span(&self, addr: GuestAddress, len: u64) -> Result<core::ops::Range<usize>> {
        let bad = Error::NotRam {
            addr: addr.0,
            size: len,
        };
        let lo = addr.offset_from(self.base).ok_or(bad)?;
        let hi = lo.checked_add(len).ok_or(bad)?;
        if hi > self.bytes.len() as u64 {
            return Err(bad);
        }
        Ok(lo as usize..hi as usize)
    }
}

impl GuestBytes for VecGuestMemory {
    fn check(&self, addr: GuestAddress, len: u64) -> Result<()> {
        self.span(addr, len).map(|_| ())
    }
    fn read(&mut self, addr: GuestAddress, buf: &mut [u8]) -> Result<()> {
        let r = self.span(addr, buf.len() as u64)?;
        buf.copy_from_slice(&self.bytes[r]);
        Ok(())
    }
    fn write(&mut self, addr: GuestAddress, data: &[u8]) -> Result<()> {
        let r = self.span(addr, data.len() as u64)?;
        self.bytes[r].copy_from_slice(data);
        Ok(())
    }
}
