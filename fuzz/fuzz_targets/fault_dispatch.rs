//! A stand-in for the VMM's fault dispatch: decodes an arbitrary ESR_EL2
//! and, for data aborts, the faulting instruction (when the syndrome is not
//! valid), then applies the access to a register file with a fake device.
//! Meant to grow into driving `vm_run` with the host backend.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sel4vm::arch::emulate::{
    advance_pc, complete_load, complete_store, extract_read, merge_write, skip_instruction,
    store_data, write_xzr, RegisterFile,
};
use sel4vm::arch::insn::{decode_load_store, MemKind};
use sel4vm::arch::syndrome::{Esr, Syndrome};

fuzz_target!(|input: (u64, u32, u64, [u64; 31], u64, u64, u64)| {
    let (esr, word, fault_addr, x, sp, pc, mut device_reg) = input;
    let mut regs = RegisterFile { x, sp, pc, spsr: 0 };
    match Syndrome::decode(esr) {
        Syndrome::DataAbort { iss, .. } => {
            let access = match iss.mem_access() {
                Some(a) => Some(a),
                None => decode_load_store(word).ok(),
            };
            let Some(a) = access else { return };
            // A 64-bit device register; bytes beyond it are dropped.
            let offset = fault_addr & 7;
            match a.kind {
                MemKind::Load => {
                    let v = extract_read(device_reg, offset, a.size);
                    complete_load(&mut regs, &a, v as u128).unwrap();
                }
                MemKind::Store => {
                    let d = store_data(&regs, &a).unwrap();
                    device_reg = merge_write(device_reg, d as u64, offset, a.size);
                    complete_store(&mut regs, &a).unwrap();
                }
            }
            let _ = device_reg;
            advance_pc(&mut regs);
        }
        Syndrome::SysReg(s) => {
            // Reads of unknown registers return zero (RAZ/WI).
            if s.read {
                write_xzr(&mut regs, s.rt, 0);
            }
            skip_instruction(&mut regs, Esr(esr));
        }
        Syndrome::Wfx(_) | Syndrome::Hvc64 { .. } | Syndrome::Smc64 { .. } => {
            skip_instruction(&mut regs, Esr(esr));
        }
        _ => {}
    }
});
