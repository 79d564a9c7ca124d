//! Tests of `sel4vm::arch::emulate`: completing decoded loads/stores on a
//! register file, with real instruction encodings (from GNU as, see
//! `tests/data/ldst_encodings.txt`).

use sel4vm::arch::emulate::{
    advance_pc, complete_load, complete_store, effective_address, extract_read, join_pair,
    load_value, merge_write, skip_instruction, split_pair, store_data, EmulateError, GuestRegs,
    RegisterFile,
};
use sel4vm::arch::insn::{decode_load_store, MemKind};
use sel4vm::arch::syndrome::{Esr, Syndrome};
use sel4vm::arch::AccessSize;

fn regs() -> RegisterFile {
    let mut r = RegisterFile::default();
    for i in 0..31u8 {
        r.set_x(i, 0xdead_0000_0000_0000 | i as u64);
    }
    r.sp = 0x8000_1000;
    r.pc = 0x4000_0000;
    r
}

/// Decodes, checks the effective address, completes a load with `data`.
fn load(word: u32, r: &mut RegisterFile, data: u128) -> u64 {
    let a = decode_load_store(word).unwrap();
    assert_eq!(a.kind, MemKind::Load);
    let addr = effective_address(r, &a).unwrap();
    complete_load(r, &a, data).unwrap();
    addr
}

#[test]
fn sign_extension_to_w_and_x() {
    let mut r = regs();
    // ldrsb w15, [x16, #3]
    load(0x39c0_0e0f, &mut r, 0x80);
    assert_eq!(r.x[15], 0x0000_0000_ffff_ff80);
    // ldrsb x17, [x18]
    load(0x3980_0251, &mut r, 0x80);
    assert_eq!(r.x[17], 0xffff_ffff_ffff_ff80);
    // ldrsh w19, [x20, #6]
    load(0x79c0_0e93, &mut r, 0x8001);
    assert_eq!(r.x[19], 0x0000_0000_ffff_8001);
    // ldrsh x21, [x22]
    load(0x7980_02d5, &mut r, 0x7fff);
    assert_eq!(r.x[21], 0x7fff);
    // ldrsw x23, [x24, #12]
    load(0xb980_0f17, &mut r, 0x8000_0000);
    assert_eq!(r.x[23], 0xffff_ffff_8000_0000);
    // ldrb w8, [x9, #1]: zero-extends, clearing stale upper bits; only the
    // access size is taken from the data.
    load(0x3940_0528, &mut r, 0xffff_ff80);
    assert_eq!(r.x[8], 0x80);
    // ldr w11, [x12, #4]
    load(0xb940_058b, &mut r, 0x1_8765_4321);
    assert_eq!(r.x[11], 0x8765_4321);
}

#[test]
fn load_value_table() {
    use sel4vm::arch::insn::{Addressing, MemAccess, Ordering};
    let mk = |size, sx, d64| MemAccess {
        kind: MemKind::Load,
        size,
        sign_extend: sx,
        dest_is_64: d64,
        rt: 0,
        rt2: None,
        addressing: Addressing::Unknown,
        ordering: Ordering::Plain,
        unprivileged: false,
    };
    use AccessSize::*;
    assert_eq!(load_value(&mk(Byte, true, false), 0x7f), 0x7f);
    assert_eq!(load_value(&mk(Byte, true, false), 0x1ff), 0xffff_ffff);
    assert_eq!(
        load_value(&mk(Half, true, true), 0xff_8000),
        0xffff_ffff_ffff_8000
    );
    assert_eq!(load_value(&mk(Word, false, true), u64::MAX), 0xffff_ffff);
    assert_eq!(load_value(&mk(Double, true, true), u64::MAX), u64::MAX);
    assert_eq!(load_value(&mk(Double, false, true), 0x1234), 0x1234);
}

#[test]
fn xzr_loads_discard_and_stores_zero() {
    let mut r = regs();
    let before = r.clone();
    // ldr xzr, [x0]
    load(0xf940_001f, &mut r, 0x1234);
    assert_eq!(r, before, "a load to XZR changes nothing");
    // str xzr, [x1, #16]
    let a = decode_load_store(0xf900_083f).unwrap();
    assert_eq!(store_data(&r, &a), Ok(0));
    // stp xzr, xzr, [x0]
    let a = decode_load_store(0xa900_7c1f).unwrap();
    assert_eq!(store_data(&r, &a), Ok(0));
}

#[test]
fn store_data_is_masked() {
    let mut r = regs();
    r.x[1] = 0x1122_3344_5566_7788;
    // strb w1, [x2, #255]!
    let a = decode_load_store(0x380f_fc41).unwrap();
    assert_eq!(store_data(&r, &a), Ok(0x88));
    // strh w5, [x6], #255
    r.x[5] = 0xffff_abcd;
    let a = decode_load_store(0x780f_f4c5).unwrap();
    assert_eq!(store_data(&r, &a), Ok(0xabcd));
    // str w4, [x5, #16380]
    r.x[4] = 0xffff_ffff_0000_0001;
    let a = decode_load_store(0xb93f_fca4).unwrap();
    assert_eq!(store_data(&r, &a), Ok(1));
}

#[test]
fn pre_and_post_index_writeback() {
    let mut r = regs();
    r.x[1] = 0x1000;
    // ldr x0, [x1, #-8]!: address = base - 8, base updated.
    let addr = load(0xf85f_8c20, &mut r, 0xaa);
    assert_eq!(addr, 0xff8);
    assert_eq!(r.x[1], 0xff8);
    assert_eq!(r.x[0], 0xaa);
    // ldr x0, [x1], #8: address = old base, then base += 8.
    r.x[1] = 0x2000;
    let addr = load(0xf840_8420, &mut r, 0xbb);
    assert_eq!(addr, 0x2000);
    assert_eq!(r.x[1], 0x2008);
    // ldrb w3, [x4], #-1
    r.x[4] = 0x10;
    load(0x385f_f483, &mut r, 0x1ff);
    assert_eq!((r.x[3], r.x[4]), (0xff, 0xf));
}

#[test]
fn sp_base_writeback_updates_sp_not_x31() {
    let mut r = regs();
    r.sp = 0x8000_0010;
    r.x[29] = 0x2929;
    r.x[30] = 0x3030;
    // stp x29, x30, [sp, #-16]!
    let a = decode_load_store(0xa9bf_7bfd).unwrap();
    assert_eq!(effective_address(&r, &a), Some(0x8000_0000));
    let data = store_data(&r, &a).unwrap();
    assert_eq!(data, 0x3030u128 << 64 | 0x2929);
    complete_store(&mut r, &a).unwrap();
    assert_eq!(r.sp, 0x8000_0000);
    assert_eq!(r.x[30], 0x3030);
    // ldp x29, x30, [sp], #16
    let a = decode_load_store(0xa8c1_7bfd).unwrap();
    complete_load(&mut r, &a, 0x1111u128 << 64 | 0x2222).unwrap();
    assert_eq!((r.x[29], r.x[30], r.sp), (0x2222, 0x1111, 0x8000_0010));
}

#[test]
fn pairs_split_and_sign_extend() {
    let mut r = regs();
    // ldp w3, w4, [x5, #252]: each 4 bytes, zero-extended.
    let a = decode_load_store(0x295f_90a3).unwrap();
    assert_eq!(a.total_bytes(), 8);
    complete_load(&mut r, &a, 0x8000_0001_ffff_fffe).unwrap();
    assert_eq!((r.x[3], r.x[4]), (0xffff_fffe, 0x8000_0001));
    // ldpsw x18, x19, [x20]: each sign-extended to 64 bits.
    let a = decode_load_store(0x6940_4e92).unwrap();
    complete_load(&mut r, &a, 0x8000_0001_7fff_fffe).unwrap();
    assert_eq!((r.x[18], r.x[19]), (0x7fff_fffe, 0xffff_ffff_8000_0001));
    // 16-byte pair round trip.
    let a = decode_load_store(0xa97f_9d06).unwrap(); // ldp x6, x7, [x8, #-8]
    assert_eq!(a.total_bytes(), 16);
    let d = join_pair(&a, 0x0102_0304_0506_0708, 0x1112_1314_1516_1718);
    assert_eq!(
        split_pair(&a, d),
        (0x0102_0304_0506_0708, 0x1112_1314_1516_1718)
    );
}

#[test]
fn rt_equals_rn_is_deterministic() {
    let mut r = regs();
    // ldr x0, [x0], #8 (CONSTRAINED UNPREDICTABLE): the loaded value wins.
    r.x[0] = 0x100;
    load(0xf840_8400, &mut r, 0x55);
    assert_eq!(r.x[0], 0x55);
    // str x1, [x1, #8]!: stored value is the base before the update.
    r.x[1] = 0x200;
    let a = decode_load_store(0xf800_8c21).unwrap();
    assert_eq!(store_data(&r, &a), Ok(0x200));
    complete_store(&mut r, &a).unwrap();
    assert_eq!(r.x[1], 0x208);
}

#[test]
fn register_offset_and_literal_addresses() {
    let mut r = regs();
    r.x[19] = 0x1000;
    r.x[20] = 0xffff_ffff; // w20 = -1
                           // ldrsw x18, [x19, w20, sxtw #2]
    let a = decode_load_store(0xb8b4_da72).unwrap();
    assert_eq!(effective_address(&r, &a), Some(0x1000 - 4));
    // ldr w3, [x4, w5, uxtw #2]
    r.x[4] = 0x1000;
    r.x[5] = 0xdead_beef_0000_0001;
    let a = decode_load_store(0xb865_5883).unwrap();
    assert_eq!(effective_address(&r, &a), Some(0x1004));
    // str x21, [x22, xzr]: XZR index reads as 0.
    r.x[22] = 0x3000;
    let a = decode_load_store(0xf83f_6ad5).unwrap();
    assert_eq!(effective_address(&r, &a), Some(0x3000));
    // ldr x1, .-4
    r.pc = 0x4000_0100;
    let a = decode_load_store(0x58ff_ffe1).unwrap();
    assert_eq!(effective_address(&r, &a), Some(0x4000_00fc));
    // Register-offset forms never write back.
    let before = r.x[19];
    complete_load(&mut r, &decode_load_store(0xb8b4_da72).unwrap(), 7).unwrap();
    assert_eq!(r.x[19], before);
    assert_eq!(r.x[18], 7);
}

#[test]
fn kind_mismatch_is_an_error() {
    let mut r = regs();
    let ld = decode_load_store(0xf940_0020).unwrap(); // ldr x0, [x1]
    let st = decode_load_store(0xf900_083f).unwrap(); // str xzr, [x1, #16]
    assert_eq!(
        store_data(&r, &ld),
        Err(EmulateError::KindMismatch {
            expected: MemKind::Store
        })
    );
    assert!(complete_store(&mut r, &ld).is_err());
    assert_eq!(
        complete_load(&mut r, &st, 0),
        Err(EmulateError::KindMismatch {
            expected: MemKind::Load
        })
    );
}

#[test]
fn pc_helpers() {
    let mut r = regs();
    advance_pc(&mut r);
    assert_eq!(r.pc, 0x4000_0004);
    skip_instruction(&mut r, Esr(0x9381_0046));
    assert_eq!(r.pc, 0x4000_0008);
    skip_instruction(&mut r, Esr(0x0400_0000)); // IL=0: 16-bit T32
    assert_eq!(r.pc, 0x4000_000a);
    r.pc = u64::MAX - 1;
    advance_pc(&mut r);
    assert_eq!(r.pc, 2, "wraps instead of panicking");
}

#[test]
fn syndrome_driven_store_and_load() {
    // str w1, [x0] with a valid syndrome: no instruction fetch needed.
    let Syndrome::DataAbort { iss, .. } = Syndrome::decode(0x9381_0046) else {
        panic!()
    };
    let a = iss.mem_access().unwrap();
    let mut r = regs();
    r.x[1] = 0xffff_ffff_cafe_f00d;
    assert_eq!(store_data(&r, &a), Ok(0xcafe_f00d));
    let before = r.clone();
    complete_store(&mut r, &a).unwrap();
    assert_eq!(r, before);
    // ldrsh x2 via syndrome: ISV, SAS=1, SSE, SRT=2, SF.
    let iss = 1 << 24 | 1 << 22 | 1 << 21 | 2 << 16 | 1 << 15 | 0x07;
    let Syndrome::DataAbort { iss, .. } = Syndrome::decode(0x9200_0000 | iss) else {
        panic!()
    };
    let a = iss.mem_access().unwrap();
    complete_load(&mut r, &a, 0x9000).unwrap();
    assert_eq!(r.x[2], 0xffff_ffff_ffff_9000);
}

#[test]
fn device_register_byte_lanes() {
    // A 32-bit device register written byte by byte via merge_write.
    let mut reg = 0u64;
    for (off, b) in [0x78u64, 0x56, 0x34, 0x12].into_iter().enumerate() {
        reg = merge_write(reg, 0xffff_ff00 | b, off as u64, AccessSize::Byte);
    }
    assert_eq!(reg, 0x1234_5678);
    // Half-word write at offset 2 keeps the low half.
    assert_eq!(merge_write(reg, 0xbeef, 2, AccessSize::Half), 0xbeef_5678);
    // Reading each byte back.
    for off in 0..4 {
        assert_eq!(
            extract_read(reg, off, AccessSize::Byte),
            (0x1234_5678u64 >> (8 * off)) & 0xff
        );
    }
    assert_eq!(extract_read(reg, 0, AccessSize::Double), 0x1234_5678);
}
