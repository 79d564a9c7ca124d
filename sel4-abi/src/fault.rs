//! Fault messages delivered to a thread's fault endpoint, decoded by label
//! (`seL4_getFault`), and the replies that write registers back.
//!
//! The message layouts are those of the aarch64 kernel with hypervisor
//! support. Decoding never panics: unknown labels and short messages are
//! reported as [`FaultDecodeError`].

use crate::labels::fault_label as fl;
use crate::message::MessageInfo;
use crate::Word;

/// `seL4_Fault_VMFault`: a stage-1 (thread) or stage-2 (guest) translation or
/// permission fault.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct VmFault {
    /// `seL4_VMFault_IP`: faulting instruction address.
    pub ip: Word,
    /// `seL4_VMFault_Addr`: faulting data/instruction address (IPA for a guest).
    pub addr: Word,
    /// `seL4_VMFault_PrefetchFault`: true for an instruction fetch fault.
    pub prefetch: bool,
    /// `seL4_VMFault_FSR`: the fault status (ESR) value.
    pub fsr: Word,
}

/// `seL4_Fault_UnknownSyscall`: all registers relevant to the syscall.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct UnknownSyscall {
    /// x0..x7 at the time of the syscall.
    pub x: [Word; 8],
    /// `seL4_UnknownSyscall_FaultIP`.
    pub fault_ip: Word,
    /// `seL4_UnknownSyscall_SP`.
    pub sp: Word,
    /// `seL4_UnknownSyscall_LR` (the kernel sends ELR_EL1 here).
    pub lr: Word,
    /// `seL4_UnknownSyscall_SPSR`.
    pub spsr: Word,
    /// `seL4_UnknownSyscall_Syscall`: the syscall number that was not recognised.
    pub syscall: Word,
}

/// Number of MRs in an UnknownSyscall reply (x0..x7, FaultIP, SP, LR, SPSR).
pub const UNKNOWN_SYSCALL_REPLY_LEN: usize = 12;
/// Number of MRs in a UserException reply (FaultIP, SP, SPSR).
pub const USER_EXCEPTION_REPLY_LEN: usize = 3;

impl UnknownSyscall {
    /// The MRs of a reply that writes (possibly modified) registers back.
    pub fn reply_mrs(&self) -> [Word; UNKNOWN_SYSCALL_REPLY_LEN] {
        let x = self.x;
        [
            x[0],
            x[1],
            x[2],
            x[3],
            x[4],
            x[5],
            x[6],
            x[7],
            self.fault_ip,
            self.sp,
            self.lr,
            self.spsr,
        ]
    }
    /// Reply tag: label 0 resumes the thread with the registers written back,
    /// a non-zero label leaves it suspended.
    pub const fn reply_info(resume: bool) -> MessageInfo {
        MessageInfo::new(!resume as Word, 0, 0, UNKNOWN_SYSCALL_REPLY_LEN as Word)
    }
}

/// `seL4_Fault_UserException`: an exception the kernel does not handle itself.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct UserException {
    /// `seL4_UserException_FaultIP`.
    pub fault_ip: Word,
    /// `seL4_UserException_SP`.
    pub sp: Word,
    /// `seL4_UserException_SPSR`.
    pub spsr: Word,
    /// `seL4_UserException_Number`.
    pub number: Word,
    /// `seL4_UserException_Code`.
    pub code: Word,
}

impl UserException {
    /// The MRs of a reply that writes FaultIP, SP and SPSR back.
    pub fn reply_mrs(&self) -> [Word; USER_EXCEPTION_REPLY_LEN] {
        [self.fault_ip, self.sp, self.spsr]
    }
    /// Reply tag: label 0 resumes, non-zero leaves the thread suspended.
    pub const fn reply_info(resume: bool) -> MessageInfo {
        MessageInfo::new(!resume as Word, 0, 0, USER_EXCEPTION_REPLY_LEN as Word)
    }
}

/// `seL4_Fault_VGICMaintenance`: a list register the guest finished with.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct VgicMaintenance {
    /// `seL4_VGICMaintenance_IDX`: the list-register index, or `None` when the
    /// kernel sent -1 (no valid index).
    pub idx: Option<Word>,
}

/// `seL4_Fault_VCPUFault`: a trapped guest instruction or system register access.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct VcpuFault {
    /// `seL4_VCPUFault_HSR`: the syndrome (ESR_EL2), 32 bits.
    pub hsr: u32,
}

/// `seL4_Fault_VPPIEvent`: a virtual PPI (e.g. the virtual timer) fired.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct VppiEvent {
    /// `seL4_VPPIEvent_IRQ`.
    pub irq: Word,
}

/// Why a capability lookup failed (`seL4_LookupFailureType` + its data).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum LookupFailure {
    /// `seL4_NoFailure`.
    NoFailure,
    /// `seL4_InvalidRoot`.
    InvalidRoot,
    /// `seL4_MissingCapability`.
    MissingCapability {
        /// Bits left to resolve.
        bits_left: Word,
    },
    /// `seL4_DepthMismatch`.
    DepthMismatch {
        /// Bits left to resolve.
        bits_left: Word,
        /// Bits the CNode would have resolved.
        bits_found: Word,
    },
    /// `seL4_GuardMismatch`.
    GuardMismatch {
        /// Bits left to resolve.
        bits_left: Word,
        /// Guard of the CNode.
        guard_found: Word,
        /// Size of that guard.
        bits_found: Word,
    },
}

/// `seL4_Fault_CapFault`: a capability lookup for IPC failed.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct CapFault {
    /// `seL4_CapFault_IP`.
    pub ip: Word,
    /// `seL4_CapFault_Addr`: the capability address that failed.
    pub addr: Word,
    /// `seL4_CapFault_InRecvPhase`.
    pub in_recv_phase: bool,
    /// Details of the failure.
    pub lookup_failure: LookupFailure,
}

/// A decoded fault message (`seL4_Fault_t`). Corresponds to the fault kinds
/// libsel4vm's `vm_run` dispatches on.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Fault {
    /// `seL4_Fault_NullFault` (label 0): not a fault (an ordinary message).
    Null,
    /// `seL4_Fault_CapFault`.
    Cap(CapFault),
    /// `seL4_Fault_UnknownSyscall`.
    UnknownSyscall(UnknownSyscall),
    /// `seL4_Fault_UserException`.
    UserException(UserException),
    /// `seL4_Fault_VMFault`.
    Vm(VmFault),
    /// `seL4_Fault_VGICMaintenance`.
    VgicMaintenance(VgicMaintenance),
    /// `seL4_Fault_VCPUFault`.
    Vcpu(VcpuFault),
    /// `seL4_Fault_VPPIEvent`.
    VppiEvent(VppiEvent),
}

/// Why a message could not be decoded as a fault.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum FaultDecodeError {
    /// The label is not a fault label of this kernel configuration.
    UnknownLabel(Word),
    /// Fewer message registers than the fault kind carries.
    TooShort {
        /// The fault label.
        label: Word,
        /// MRs needed.
        needed: usize,
        /// MRs given.
        got: usize,
    },
    /// A CapFault with an out-of-range lookup failure type.
    BadLookupFailureType(Word),
}

impl core::fmt::Display for FaultDecodeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            Self::UnknownLabel(l) => write!(f, "unknown fault label {l}"),
            Self::TooShort { label, needed, got } => {
                write!(
                    f,
                    "fault label {label}: need {needed} message registers, got {got}"
                )
            }
            Self::BadLookupFailureType(t) => write!(f, "CapFault with lookup failure type {t}"),
        }
    }
}

fn need(label: Word, msgs: &[Word], n: usize) -> Result<(), FaultDecodeError> {
    if msgs.len() < n {
        Err(FaultDecodeError::TooShort {
            label,
            needed: n,
            got: msgs.len(),
        })
    } else {
        Ok(())
    }
}

impl Fault {
    /// Message length the kernel uses for each fault kind (CapFault: the
    /// minimum; its tail depends on the lookup failure).
    pub const fn message_length(label: Word) -> Option<usize> {
        Some(match label {
            fl::NullFault => 0,
            fl::CapFault => 4,
            fl::UnknownSyscall => 13,
            fl::UserException => 5,
            fl::VMFault => 4,
            fl::VGICMaintenance | fl::VCPUFault | fl::VPPIEvent => 1,
            _ => return None,
        })
    }

    /// Decodes a fault from its label and message registers (`msgs[i]` is MR i).
    /// Extra trailing MRs are ignored.
    pub fn decode(label: Word, msgs: &[Word]) -> Result<Fault, FaultDecodeError> {
        let min = Self::message_length(label).ok_or(FaultDecodeError::UnknownLabel(label))?;
        need(label, msgs, min)?;
        let m = msgs;
        Ok(match label {
            fl::NullFault => Fault::Null,
            fl::CapFault => {
                let lookup_failure = match m[3] {
                    0 => LookupFailure::NoFailure,
                    1 => LookupFailure::InvalidRoot,
                    2 => {
                        need(label, m, 5)?;
                        LookupFailure::MissingCapability { bits_left: m[4] }
                    }
                    3 => {
                        need(label, m, 6)?;
                        LookupFailure::DepthMismatch {
                            bits_left: m[4],
                            bits_found: m[5],
                        }
                    }
                    4 => {
                        need(label, m, 7)?;
                        LookupFailure::GuardMismatch {
                            bits_left: m[4],
                            guard_found: m[5],
                            bits_found: m[6],
                        }
                    }
                    t => return Err(FaultDecodeError::BadLookupFailureType(t)),
                };
                Fault::Cap(CapFault {
                    ip: m[0],
                    addr: m[1],
                    in_recv_phase: m[2] != 0,
                    lookup_failure,
                })
            }
            fl::UnknownSyscall => Fault::UnknownSyscall(UnknownSyscall {
                x: [m[0], m[1], m[2], m[3], m[4], m[5], m[6], m[7]],
                fault_ip: m[8],
                sp: m[9],
                lr: m[10],
                spsr: m[11],
                syscall: m[12],
            }),
            fl::UserException => Fault::UserException(UserException {
                fault_ip: m[0],
                sp: m[1],
                spsr: m[2],
                number: m[3],
                code: m[4],
            }),
            fl::VMFault => Fault::Vm(VmFault {
                ip: m[0],
                addr: m[1],
                prefetch: m[2] != 0,
                fsr: m[3],
            }),
            fl::VGICMaintenance => Fault::VgicMaintenance(VgicMaintenance {
                // The kernel sends -1 when the maintenance IRQ had no single LR.
                idx: if m[0] == Word::MAX { None } else { Some(m[0]) },
            }),
            // HSR is a 32-bit field in the kernel's fault record.
            fl::VCPUFault => Fault::Vcpu(VcpuFault { hsr: m[0] as u32 }),
            fl::VPPIEvent => Fault::VppiEvent(VppiEvent { irq: m[0] }),
            _ => return Err(FaultDecodeError::UnknownLabel(label)),
        })
    }

    /// Decodes using the tag's label and only the MRs its length covers.
    pub fn decode_message(info: MessageInfo, msgs: &[Word]) -> Result<Fault, FaultDecodeError> {
        let n = info.length().min(msgs.len());
        Self::decode(info.label(), &msgs[..n])
    }

    /// The label this fault was decoded from.
    pub const fn label(&self) -> Word {
        match self {
            Fault::Null => fl::NullFault,
            Fault::Cap(_) => fl::CapFault,
            Fault::UnknownSyscall(_) => fl::UnknownSyscall,
            Fault::UserException(_) => fl::UserException,
            Fault::Vm(_) => fl::VMFault,
            Fault::VgicMaintenance(_) => fl::VGICMaintenance,
            Fault::Vcpu(_) => fl::VCPUFault,
            Fault::VppiEvent(_) => fl::VPPIEvent,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_the_hypervisor_non_mcs_ones() {
        assert_eq!(
            (
                fl::VMFault,
                fl::VGICMaintenance,
                fl::VCPUFault,
                fl::VPPIEvent
            ),
            (5, 6, 7, 8)
        );
    }

    #[test]
    fn decodes_vm_fault() {
        let f = Fault::decode(5, &[0x4000_1000, 0x900_0000, 0, 0x9200_0046]).unwrap();
        assert_eq!(
            f,
            Fault::Vm(VmFault {
                ip: 0x4000_1000,
                addr: 0x900_0000,
                prefetch: false,
                fsr: 0x9200_0046
            })
        );
        assert_eq!(f.label(), 5);
        let f = Fault::decode(5, &[1, 2, 1, 3, 99]).unwrap();
        assert!(matches!(f, Fault::Vm(VmFault { prefetch: true, .. })));
    }

    #[test]
    fn decodes_hyp_faults() {
        assert_eq!(
            Fault::decode(6, &[2]).unwrap(),
            Fault::VgicMaintenance(VgicMaintenance { idx: Some(2) })
        );
        assert_eq!(
            Fault::decode(6, &[u64::MAX]).unwrap(),
            Fault::VgicMaintenance(VgicMaintenance { idx: None })
        );
        assert_eq!(
            Fault::decode(7, &[0x5e00_0000]).unwrap(),
            Fault::Vcpu(VcpuFault { hsr: 0x5e00_0000 })
        );
        assert_eq!(
            Fault::decode(8, &[27]).unwrap(),
            Fault::VppiEvent(VppiEvent { irq: 27 })
        );
    }

    #[test]
    fn unknown_syscall_roundtrips_into_reply() {
        let msgs: std::vec::Vec<Word> = (0..13).map(|i| 100 + i).collect();
        let Fault::UnknownSyscall(u) = Fault::decode(2, &msgs).unwrap() else {
            panic!("wrong kind")
        };
        assert_eq!(u.x, [100, 101, 102, 103, 104, 105, 106, 107]);
        assert_eq!(
            (u.fault_ip, u.sp, u.lr, u.spsr, u.syscall),
            (108, 109, 110, 111, 112)
        );
        assert_eq!(u.reply_mrs().to_vec(), msgs[..12].to_vec());
        let info = UnknownSyscall::reply_info(true);
        assert_eq!((info.label(), info.length()), (0, 12));
        assert_eq!(UnknownSyscall::reply_info(false).label(), 1);
    }

    #[test]
    fn user_exception_and_cap_fault() {
        let Fault::UserException(e) = Fault::decode(3, &[1, 2, 3, 4, 5]).unwrap() else {
            panic!()
        };
        assert_eq!(
            (e.fault_ip, e.sp, e.spsr, e.number, e.code),
            (1, 2, 3, 4, 5)
        );
        assert_eq!(e.reply_mrs(), [1, 2, 3]);

        let f = Fault::decode(1, &[0x10, 0x20, 1, 4, 7, 0x3, 2]).unwrap();
        assert_eq!(
            f,
            Fault::Cap(CapFault {
                ip: 0x10,
                addr: 0x20,
                in_recv_phase: true,
                lookup_failure: LookupFailure::GuardMismatch {
                    bits_left: 7,
                    guard_found: 3,
                    bits_found: 2
                },
            })
        );
        assert!(matches!(
            Fault::decode(1, &[0, 0, 0, 2, 5]).unwrap(),
            Fault::Cap(CapFault {
                lookup_failure: LookupFailure::MissingCapability { bits_left: 5 },
                ..
            })
        ));
        assert!(matches!(
            Fault::decode(1, &[0, 0, 0, 1]).unwrap(),
            Fault::Cap(CapFault {
                lookup_failure: LookupFailure::InvalidRoot,
                ..
            })
        ));
    }

    #[test]
    fn bad_messages_are_errors() {
        assert_eq!(
            Fault::decode(4, &[0; 8]),
            Err(FaultDecodeError::UnknownLabel(4))
        );
        assert_eq!(
            Fault::decode(99, &[]),
            Err(FaultDecodeError::UnknownLabel(99))
        );
        assert_eq!(
            Fault::decode(5, &[1, 2, 3]),
            Err(FaultDecodeError::TooShort {
                label: 5,
                needed: 4,
                got: 3
            })
        );
        assert_eq!(
            Fault::decode(2, &[0; 12]),
            Err(FaultDecodeError::TooShort {
                label: 2,
                needed: 13,
                got: 12
            })
        );
        assert_eq!(
            Fault::decode(7, &[]),
            Err(FaultDecodeError::TooShort {
                label: 7,
                needed: 1,
                got: 0
            })
        );
        assert_eq!(
            Fault::decode(1, &[0, 0, 0, 4, 1]),
            Err(FaultDecodeError::TooShort {
                label: 1,
                needed: 7,
                got: 5
            })
        );
        assert_eq!(
            Fault::decode(1, &[0, 0, 0, 9]),
            Err(FaultDecodeError::BadLookupFailureType(9))
        );
        // decode_message honours the tag's length even if more MRs are supplied.
        let info = MessageInfo::new(5, 0, 0, 2);
        assert!(matches!(
            Fault::decode_message(info, &[1, 2, 3, 4]),
            Err(FaultDecodeError::TooShort { .. })
        ));
        assert_eq!(Fault::decode(0, &[]), Ok(Fault::Null));
    }
}
