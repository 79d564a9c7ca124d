//! `insn_decode`: decodes an arbitrary instruction word with
//! `arch::insn::decode_load_store` and, if it is an emulated load/store,
//! completes it on an arbitrary register file.
//!
//! Checks: at most 16 bytes move; store data fits the access and
//! `split_pair`/`join_pair` round-trip; only the transfer registers and the
//! writeback base change, the base by exactly the offset; the PC never
//! changes; errors name the word decoded.
//!
//! Reach: `deep[0]` loads, `deep[1]` stores, `deep[2]` with writeback,
//! `deep[3]` refused words.

use arbitrary::{Arbitrary, Unstructured};
use sel4vm::arch::emulate::{
    complete_load, complete_store, effective_address, join_pair, read_xsp, split_pair, store_data,
    RegisterFile,
};
use sel4vm::arch::insn::{decode_load_store, DecodeError, MemKind};

#[derive(Arbitrary, Debug)]
struct Input {
    word: u32,
    x: [u64; 31],
    sp: u64,
    pc: u64,
    data: u128,
}

/// Runs one input; panics on a broken invariant.
pub fn insn_decode(data: &[u8]) -> crate::Reach {
    let mut reach = crate::Reach::default();
    let Ok(Input {
        word,
        x,
        sp,
        pc,
        data,
    }) = Input::arbitrary_take_rest(Unstructured::new(data))
    else {
        return reach;
    };
    reach.decoded = 1;
    let before = RegisterFile { x, sp, pc, spsr: 0 };
    let mut regs = before.clone();
    match decode_load_store(word) {
        Ok(a) => {
            let n = a.total_bytes();
            assert!(n <= 16 && n > 0, "{a:?}");
            assert_eq!(decode_load_store(word), Ok(a), "decoding is a function");
            let mask = if n == 16 {
                u128::MAX
            } else {
                (1u128 << (8 * n)) - 1
            };
            let (first, second) = split_pair(&a, data);
            assert_eq!(join_pair(&a, first, second), data & mask, "{a:?}");
            let _ = effective_address(&regs, &a);
            match a.kind {
                MemKind::Load => {
                    reach.deep[0] = 1;
                    complete_load(&mut regs, &a, data).unwrap();
                    assert!(store_data(&regs, &a).is_err());
                }
                MemKind::Store => {
                    reach.deep[1] = 1;
                    assert!(!a.sign_extend);
                    let d = store_data(&regs, &a).unwrap();
                    assert_eq!(d & !mask, 0, "store data wider than the access");
                    complete_store(&mut regs, &a).unwrap();
                    assert!(complete_load(&mut regs.clone(), &a, data).is_err());
                }
            }
            let wb = a.writeback();
            if let Some(wb) = wb {
                reach.deep[2] = 1;
                // A load into its own base: the loaded value wins.
                let overwritten = a.kind == MemKind::Load
                    && wb.base != 31
                    && (a.rt == wb.base || a.rt2 == Some(wb.base));
                if !overwritten {
                    assert_eq!(
                        read_xsp(&regs, wb.base),
                        read_xsp(&before, wb.base).wrapping_add(wb.offset as u64),
                        "{a:?}"
                    );
                }
            }
            // Nothing else changes.
            let changes = |r: u8| {
                (a.kind == MemKind::Load && (r == a.rt || Some(r) == a.rt2))
                    || wb.is_some_and(|w| w.base == r)
            };
            for r in 0..31u8 {
                if !changes(r) {
                    assert_eq!(
                        regs.x[usize::from(r)],
                        before.x[usize::from(r)],
                        "x{r} {a:?}"
                    );
                }
            }
            if wb.is_none_or(|w| w.base != 31) {
                assert_eq!(regs.sp, before.sp, "{a:?}");
            }
            assert_eq!(regs.pc, pc);
        }
        Err(e) => {
            reach.deep[3] = 1;
            let w = match e {
                DecodeError::NotLoadStore(w) | DecodeError::Unallocated(w) => w,
                DecodeError::Unsupported { word, .. } => word,
            };
            assert_eq!(w, word);
            assert!(!e.to_string().is_empty());
        }
    }
    reach
}
