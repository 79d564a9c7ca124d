//! Synchronous external aborts injected into an AArch64 guest, for
//! accesses no RAM, device or handler claims: what real hardware does for
//! a bus error, so the guest kernel can kill the process (`SIGBUS`) or
//! oops, and keep running, instead of the VMM stopping the whole guest.
//!
//! Pure: [`external_abort`] turns the faulting context into the register
//! values of the exception entry (Arm ARM D1.10, "Exception entry");
//! `Vm::run` writes them. libsel4vm has no equivalent (an unhandled fault
//! there is fatal); KVM's `kvm_inject_dabt` / `kvm_inject_pabt` do the same
//! job.

/// What the VM does with a guest access that no RAM, device or fault
/// handler claims (and with a data abort it cannot decode).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum FaultPolicy {
    /// Inject a synchronous external abort into the guest (the default).
    #[default]
    InjectAbort,
    /// Suspend the faulting vCPU; the rest of the VM keeps running.
    StopVcpu,
    /// End `Vm::run` with the fault as its exit reason.
    StopGuest,
}

/// `PSTATE.M` of the modes an AArch64 abort can be taken from.
const M_EL0T: u64 = 0b0000;
const M_EL1T: u64 = 0b0100;
const M_EL1H: u64 = 0b0101;
/// `PSTATE.nRW`: the context was AArch32.
const M_AARCH32: u64 = 1 << 4;
/// `PSTATE.{D,A,I,F}`: all masked on exception entry.
const DAIF: u64 = 0b1111 << 6;

/// Exception classes (`ESR_ELx.EC`).
const EC_IABT_LOWER: u64 = 0x20;
const EC_IABT_CUR: u64 = 0x21;
const EC_DABT_LOWER: u64 = 0x24;
const EC_DABT_CUR: u64 = 0x25;
/// `ESR_ELx.IL`: a 32-bit instruction.
const ESR_IL: u64 = 1 << 25;
/// `ISS.FnV`: `FAR` is not valid (seL4 reports the guest-physical address,
/// not the virtual one the guest used).
const ISS_FNV: u64 = 1 << 10;
/// `ISS.WnR` (data aborts).
const ISS_WNR: u64 = 1 << 6;
/// `DFSC`/`IFSC`: synchronous external abort, not on a table walk.
const FSC_SEA: u64 = 0b01_0000;

/// The register values of the exception entry for an injected abort.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AbortEntry {
    /// `ESR_EL1`.
    pub esr: u64,
    /// `ELR_EL1`: the faulting instruction.
    pub elr: u64,
    /// `SPSR_EL1`: the faulting context's `PSTATE`.
    pub spsr: u64,
    /// The new PC: the vector for a synchronous exception from that context.
    pub pc: u64,
    /// The new `PSTATE`: EL1 with `SP_EL1`, D, A, I and F masked.
    pub pstate: u64,
}

/// Why an abort cannot be injected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotInjectable {
    /// The guest was in AArch32 state (not supported here).
    Aarch32,
    /// `PSTATE.M` is not EL0 or EL1 (a guest cannot be at EL2 or above).
    Mode(u64),
}

impl core::fmt::Display for NotInjectable {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            NotInjectable::Aarch32 => f.write_str("the guest is in AArch32 state"),
            NotInjectable::Mode(m) => write!(f, "PSTATE.M {m:#x} is not EL0 or EL1"),
        }
    }
}

/// The exception entry for a synchronous external abort of the
/// instruction at `pc`, taken from a context with `PSTATE` `pstate`, to
/// EL1 with vector base `vbar`: an instruction abort if `fetch`, else a
/// data abort (`write` sets WnR).
///
/// The vector offset follows the origin: 0x000 from EL1 with `SP_EL0`,
/// 0x200 from EL1 with `SP_EL1`, 0x400 from EL0 (a lower level, AArch64).
/// `ESR_EL1` has `IL`, the exception class for the origin, `FnV` and the
/// synchronous-external-abort status code; `FAR_EL1` is left alone (`FnV`).
pub fn external_abort(
    pstate: u64,
    pc: u64,
    vbar: u64,
    fetch: bool,
    write: bool,
) -> Result<AbortEntry, NotInjectable> {
    if pstate & M_AARCH32 != 0 {
        return Err(NotInjectable::Aarch32);
    }
    let (offset, lower) = match pstate & 0xf {
        M_EL0T => (0x400, true),
        M_EL1T => (0x000, false),
        M_EL1H => (0x200, false),
        m => return Err(NotInjectable::Mode(m)),
    };
    let ec = match (fetch, lower) {
        (true, true) => EC_IABT_LOWER,
        (true, false) => EC_IABT_CUR,
        (false, true) => EC_DABT_LOWER,
        (false, false) => EC_DABT_CUR,
    };
    let wnr = if write && !fetch { ISS_WNR } else { 0 };
    Ok(AbortEntry {
        esr: (ec << 26) | ESR_IL | ISS_FNV | wnr | FSC_SEA,
        elr: pc,
        spsr: pstate,
        // VBAR_EL1 bits [10:0] are RES0.
        pc: (vbar & !0x7ff) + offset,
        // NZCV kept; everything else as exception entry sets it without
        // PAN, SSBS or BTI (none of which the `virt` CPUs models implement
        // in v8.0).
        pstate: (pstate & (0xf << 28)) | DAIF | M_EL1H,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn el0_data_abort_goes_to_the_lower_el_vector() {
        let e =
            external_abort(0x6000_0000, 0x40_1000, 0xffff_8000_0801_0800, false, false).unwrap();
        assert_eq!(e.pc, 0xffff_8000_0801_0800 + 0x400);
        assert_eq!(e.esr, 0x9200_0410);
        assert_eq!(e.elr, 0x40_1000);
        assert_eq!(e.spsr, 0x6000_0000);
        assert_eq!(e.pstate, 0x6000_03c5);
    }

    #[test]
    fn el1_aborts_use_the_current_el_vectors_and_classes() {
        let h = external_abort(0x3c5, 0x1000, 0x8000, false, true).unwrap();
        assert_eq!(h.pc, 0x8200);
        assert_eq!(h.esr >> 26, EC_DABT_CUR);
        assert_ne!(h.esr & ISS_WNR, 0);
        let t = external_abort(0x3c4, 0x1000, 0x8000, true, true).unwrap();
        assert_eq!(t.pc, 0x8000);
        assert_eq!(t.esr, (EC_IABT_CUR << 26) | ESR_IL | ISS_FNV | FSC_SEA);
        let l = external_abort(0, 0x1000, 0x8000, true, false).unwrap();
        assert_eq!(l.esr >> 26, EC_IABT_LOWER);
    }

    #[test]
    fn aarch32_and_el2_contexts_are_refused() {
        assert_eq!(
            external_abort(0x10, 0, 0, false, false),
            Err(NotInjectable::Aarch32)
        );
        assert_eq!(
            external_abort(0x9, 0, 0, false, false),
            Err(NotInjectable::Mode(9))
        );
    }
}
