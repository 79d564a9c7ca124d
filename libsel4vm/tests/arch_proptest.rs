//! Property tests for `sel4vm::arch`: the decoder is total, a small encoder
//! written from the Arm ARM encoding diagrams round-trips through it, and the
//! byte-lane helpers behave like a read-modify-write.

use proptest::prelude::*;
use sel4vm::arch::emulate::{
    complete_load, complete_store, effective_address, extract_read, merge_write, store_data,
    GuestRegs, RegisterFile,
};
use sel4vm::arch::insn::{decode_load_store, Addressing, DecodeError, Extend, MemKind};
use sel4vm::arch::syndrome::Syndrome;
use sel4vm::arch::AccessSize;

fn any_regs() -> impl Strategy<Value = RegisterFile> {
    (
        prop::array::uniform31(any::<u64>()),
        any::<u64>(),
        any::<u64>(),
    )
        .prop_map(|(x, sp, pc)| RegisterFile { x, sp, pc, spsr: 0 })
}

/// (kind, sign_extend, dest_is_64) the architecture gives a valid
/// single-register `size`/`opc` pair (V == 0, not PRFM).
fn single_semantics(size: u32, opc: u32) -> (MemKind, bool, bool) {
    match opc {
        0 => (MemKind::Store, false, size == 3),
        1 => (MemKind::Load, false, size == 3),
        2 => (MemKind::Load, true, true),
        _ => (MemKind::Load, true, false),
    }
}

/// Valid (size, opc) pairs for single-register loads/stores, minus PRFM.
fn size_opc() -> impl Strategy<Value = (u32, u32)> {
    (0u32..4, 0u32..4).prop_filter("allocated, not prefetch", |&(size, opc)| match opc {
        0 | 1 => true,
        2 => size <= 2,
        _ => size <= 1,
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn decode_is_total_and_emulation_never_panics(
        word in any::<u32>(),
        mut regs in any_regs(),
        data in any::<u128>(),
    ) {
        let in_group = (word >> 25) & 1 == 0 && (word >> 27) & 1 == 1;
        match decode_load_store(word) {
            Ok(a) => {
                prop_assert!(in_group);
                prop_assert!(a.rt < 32 && a.rt2.is_none_or(|r| r < 32));
                prop_assert!(a.total_bytes() <= 16);
                let _ = effective_address(&regs, &a);
                match a.kind {
                    MemKind::Load => complete_load(&mut regs, &a, data).unwrap(),
                    MemKind::Store => {
                        let d = store_data(&regs, &a).unwrap();
                        if a.total_bytes() < 16 {
                            prop_assert_eq!(d >> (8 * a.total_bytes()), 0, "store data wider than the access");
                        }
                        complete_store(&mut regs, &a).unwrap();
                    }
                }
            }
            Err(DecodeError::NotLoadStore(w)) => {
                prop_assert_eq!(w, word);
                prop_assert!(!in_group);
            }
            Err(DecodeError::Unallocated(w)) | Err(DecodeError::Unsupported { word: w, .. }) => {
                prop_assert_eq!(w, word);
                prop_assert!(in_group);
            }
        }
    }

    #[test]
    fn unsigned_offset_roundtrip(
        (size, opc) in size_opc(), imm12 in 0u32..4096, rn in 0u32..32, rt in 0u32..32,
    ) {
        let word = size << 30 | 0b111 << 27 | 0b01 << 24 | opc << 22 | imm12 << 10 | rn << 5 | rt;
        let a = decode_load_store(word).unwrap();
        let (kind, sx, d64) = single_semantics(size, opc);
        prop_assert_eq!((a.kind, a.sign_extend, a.dest_is_64), (kind, sx, d64));
        prop_assert_eq!(a.size, AccessSize::from_log2(size));
        prop_assert_eq!(a.rt as u32, rt);
        prop_assert_eq!(a.rt2, None);
        prop_assert_eq!(
            a.addressing,
            Addressing::Offset { base: rn as u8, offset: (imm12 as i64) << size }
        );
    }

    #[test]
    fn imm9_forms_roundtrip(
        (size, opc) in size_opc(), mode in 0u32..4, imm9 in -256i64..256,
        rn in 0u32..32, rt in 0u32..32,
    ) {
        // mode: 00 unscaled, 01 post-index, 10 unprivileged, 11 pre-index.
        let word = size << 30 | 0b111 << 27 | opc << 22 | ((imm9 as u32) & 0x1ff) << 12
            | mode << 10 | rn << 5 | rt;
        let a = decode_load_store(word).unwrap();
        let (kind, sx, d64) = single_semantics(size, opc);
        prop_assert_eq!((a.kind, a.sign_extend, a.dest_is_64), (kind, sx, d64));
        prop_assert_eq!(a.size, AccessSize::from_log2(size));
        prop_assert_eq!(a.rt as u32, rt);
        prop_assert_eq!(a.unprivileged, mode == 0b10);
        let base = rn as u8;
        let want = match mode {
            0b00 | 0b10 => Addressing::Offset { base, offset: imm9 },
            0b01 => Addressing::PostIndex { base, offset: imm9 },
            _ => Addressing::PreIndex { base, offset: imm9 },
        };
        prop_assert_eq!(a.addressing, want);
        prop_assert_eq!(a.writeback().map(|w| (w.base, w.offset, w.post_index)),
            match mode { 0b01 => Some((base, imm9, true)), 0b11 => Some((base, imm9, false)), _ => None });
    }

    #[test]
    fn register_offset_roundtrip(
        (size, opc) in size_opc(), option in prop::sample::select(vec![2u32, 3, 6, 7]),
        s in 0u32..2, rm in 0u32..32, rn in 0u32..32, rt in 0u32..32,
    ) {
        let word = size << 30 | 0b111 << 27 | opc << 22 | 1 << 21 | rm << 16 | option << 13
            | s << 12 | 0b10 << 10 | rn << 5 | rt;
        let a = decode_load_store(word).unwrap();
        let extend = match option { 2 => Extend::Uxtw, 3 => Extend::Lsl, 6 => Extend::Sxtw, _ => Extend::Sxtx };
        prop_assert_eq!(a.addressing, Addressing::Register {
            base: rn as u8, index: rm as u8, extend, shift: (s * size) as u8,
        });
        prop_assert_eq!(a.writeback(), None);
        prop_assert_eq!(a.rt as u32, rt);
    }

    #[test]
    fn pair_roundtrip(
        variant in 0u32..3, mode in 0u32..4, load in any::<bool>(), imm7 in -64i64..64,
        rt in 0u32..32, rt2 in 0u32..32, rn in 0u32..32,
    ) {
        // variant: 0 = 32-bit, 1 = 64-bit, 2 = LDPSW (load only, no LDNP form).
        let load = load || variant == 2;
        let mode = if variant == 2 && mode == 0 { 2 } else { mode };
        let opc = [0b00, 0b10, 0b01][variant as usize];
        let word = opc << 30 | 0b101 << 27 | mode << 23 | (load as u32) << 22
            | ((imm7 as u32) & 0x7f) << 15 | rt2 << 10 | rn << 5 | rt;
        let a = decode_load_store(word).unwrap();
        let (size, sx, d64) = match variant {
            0 => (AccessSize::Word, false, false),
            1 => (AccessSize::Double, false, true),
            _ => (AccessSize::Word, true, true),
        };
        prop_assert_eq!(a.kind, if load { MemKind::Load } else { MemKind::Store });
        prop_assert_eq!((a.size, a.sign_extend, a.dest_is_64), (size, sx, d64));
        prop_assert_eq!((a.rt as u32, a.rt2.map(u32::from)), (rt, Some(rt2)));
        let offset = imm7 << size.log2();
        let base = rn as u8;
        let want = match mode {
            0b00 | 0b10 => Addressing::Offset { base, offset },
            0b01 => Addressing::PostIndex { base, offset },
            _ => Addressing::PreIndex { base, offset },
        };
        prop_assert_eq!(a.addressing, want);
        prop_assert_eq!(a.total_bytes(), 2 * size.bytes());
    }

    #[test]
    fn literal_roundtrip(opc in 0u32..3, imm19 in -(1i64 << 18)..(1i64 << 18), rt in 0u32..32) {
        let word = opc << 30 | 0b011 << 27 | ((imm19 as u32) & 0x7ffff) << 5 | rt;
        let a = decode_load_store(word).unwrap();
        prop_assert_eq!(a.addressing, Addressing::Literal { offset: imm19 * 4 });
        prop_assert_eq!(a.kind, MemKind::Load);
        prop_assert_eq!(a.size, if opc == 1 { AccessSize::Double } else { AccessSize::Word });
        prop_assert_eq!(a.sign_extend, opc == 2);
    }

    #[test]
    fn simd_forms_are_unsupported(size in 0u32..4, opc in 0u32..2, imm12 in 0u32..4096, rn in 0u32..32, rt in 0u32..32) {
        // LDR/STR (SIMD&FP, unsigned offset) with V == 1.
        let word = size << 30 | 0b111 << 27 | 1 << 26 | 0b01 << 24 | opc << 22 | imm12 << 10 | rn << 5 | rt;
        let is_simd = matches!(
            decode_load_store(word),
            Err(DecodeError::Unsupported { what: sel4vm::arch::insn::Unsupported::SimdFp, .. })
        );
        prop_assert!(is_simd);
    }

    #[test]
    fn merge_then_extract(old in any::<u64>(), new in any::<u64>(), log2 in 0u32..4, off in 0u64..8) {
        let size = AccessSize::from_log2(log2);
        let merged = merge_write(old, new, off, size);
        if off as usize + size.bytes() <= 8 {
            prop_assert_eq!(extract_read(merged, off, size), new & size.mask());
        }
        // Bytes outside the written lane are untouched.
        for byte in 0..8u64 {
            if byte < off || byte >= off + size.bytes() as u64 {
                prop_assert_eq!((merged >> (8 * byte)) & 0xff, (old >> (8 * byte)) & 0xff);
            }
        }
        // Writing back what was read is the identity.
        prop_assert_eq!(merge_write(old, extract_read(old, off, size), off, size), old);
    }

    #[test]
    fn lane_helpers_total(old in any::<u64>(), new in any::<u64>(), log2 in 0u32..4, off in any::<u64>()) {
        let size = AccessSize::from_log2(log2);
        let _ = merge_write(old, new, off, size);
        let _ = extract_read(old, off, size);
    }

    #[test]
    fn syndrome_decode_total_and_dabt_fields(esr in any::<u64>()) {
        let s = Syndrome::decode(esr);
        let ec = (esr >> 26) & 0x3f;
        if let Syndrome::DataAbort { lower_el, iss } = s {
            prop_assert!(ec == 0x24 || ec == 0x25);
            prop_assert_eq!(lower_el, ec == 0x24);
            prop_assert_eq!(iss.access.is_some(), (esr >> 24) & 1 == 1);
            prop_assert_eq!(iss.write, (esr >> 6) & 1 == 1);
            if let Some(a) = iss.access {
                prop_assert_eq!(a.srt as u64, (esr >> 16) & 0x1f);
                prop_assert_eq!(a.size.log2() as u64, (esr >> 22) & 3);
            }
        }
    }

    #[test]
    fn writeback_adds_offset_to_base(mut regs in any_regs(), rn in 0u32..32, imm9 in -256i64..256) {
        // ldr x0, [Xn|SP, #imm9]!
        let word = 3 << 30 | 0b111 << 27 | 1 << 22 | ((imm9 as u32) & 0x1ff) << 12 | 0b11 << 10 | rn << 5;
        let a = decode_load_store(word).unwrap();
        let base_before = if rn == 31 { regs.sp } else { regs.x(rn as u8) };
        prop_assert_eq!(effective_address(&regs, &a), Some(base_before.wrapping_add(imm9 as u64)));
        complete_load(&mut regs, &a, 0x42).unwrap();
        if rn != 0 {
            let base_after = if rn == 31 { regs.sp } else { regs.x(rn as u8) };
            prop_assert_eq!(base_after, base_before.wrapping_add(imm9 as u64));
        }
        prop_assert_eq!(regs.x[0], 0x42);
    }
}
