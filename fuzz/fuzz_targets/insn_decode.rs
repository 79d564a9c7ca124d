//! Decodes an arbitrary instruction word and, if it is an emulated
//! load/store, completes it on an arbitrary register file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sel4vm::arch::emulate::{
    complete_load, complete_store, effective_address, store_data, RegisterFile,
};
use sel4vm::arch::insn::{decode_load_store, DecodeError, MemKind};

fuzz_target!(|input: (u32, [u64; 31], u64, u64, u128)| {
    let (word, x, sp, pc, data) = input;
    let mut regs = RegisterFile { x, sp, pc, spsr: 0 };
    match decode_load_store(word) {
        Ok(a) => {
            assert!(a.total_bytes() <= 16);
            let _ = effective_address(&regs, &a);
            match a.kind {
                MemKind::Load => complete_load(&mut regs, &a, data).unwrap(),
                MemKind::Store => {
                    let d = store_data(&regs, &a).unwrap();
                    if a.total_bytes() < 16 {
                        assert_eq!(d >> (8 * a.total_bytes()), 0);
                    }
                    complete_store(&mut regs, &a).unwrap();
                }
            }
            // Only the transfer and base registers may change.
            assert_eq!(regs.pc, pc);
        }
        Err(e) => {
            let w = match e {
                DecodeError::NotLoadStore(w) | DecodeError::Unallocated(w) => w,
                DecodeError::Unsupported { word, .. } => word,
            };
            assert_eq!(w, word);
            let _ = e.to_string();
        }
    }
});
