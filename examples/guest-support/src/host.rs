//! Host-side checks of a guest program (host builds only, uses std): the
//! checked-in words against their assembly source, and the shape of the
//! image every test guest shares (vector table, layout, device stores).

use std::format;
use std::path::Path;
use std::process::Command;
use std::string::String;
use std::sync::atomic::{AtomicU32, Ordering};
use std::vec::Vec;

use crate::image::{flat_image, Segment};

/// Assembles `src` with `aarch64-linux-gnu-as` and returns the flat binary
/// (`objcopy -O binary`) as words. Panics if binutils are missing or reject
/// the source: tests that call it are marked
/// `#[cfg_attr(not(has_aarch64_binutils), ignore = "...")]`.
pub fn assemble(src: &Path) -> Vec<u32> {
    static RUN: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "guest-support-as-{}-{}",
        std::process::id(),
        RUN.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let obj = dir.join("g.o");
    let bin = dir.join("g.bin");
    let status = Command::new("aarch64-linux-gnu-as")
        .arg(src)
        .arg("-o")
        .arg(&obj)
        .status()
        .unwrap_or_else(|e| {
            panic!("run aarch64-linux-gnu-as (apt install binutils-aarch64-linux-gnu): {e}")
        });
    assert!(status.success(), "aarch64-linux-gnu-as failed on {src:?}");
    let ok = Command::new("aarch64-linux-gnu-objcopy")
        .args(["-O", "binary"])
        .arg(&obj)
        .arg(&bin)
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "objcopy failed");
    let bytes = std::fs::read(&bin).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        bytes.len().is_multiple_of(4),
        "image of {} bytes",
        bytes.len()
    );
    bytes
        .chunks(4)
        .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

/// Asserts that `segments` are what `src` assembles to (needs binutils, see
/// [`assemble`]).
pub fn assert_matches_source(src: &Path, segments: &[Segment]) {
    let img = assemble(src);
    assert_eq!(
        flat_image(segments),
        img,
        "SEGMENTS are stale: re-assemble {src:?}"
    );
}

/// The value of `.equ NAME, value` in assembly `source` (decimal, `0x` hex,
/// or negative decimal). Panics if there is none or it does not parse.
pub fn equ(source: &str, name: &str) -> i64 {
    let key = format!("{name},");
    let line = source
        .lines()
        .find(|l| {
            let mut w = l.split_whitespace();
            w.next() == Some(".equ") && w.next() == Some(key.as_str())
        })
        .unwrap_or_else(|| panic!("no .equ {name}"));
    let v = line
        .split(',')
        .nth(1)
        .and_then(|v| v.split_whitespace().next())
        .unwrap_or_else(|| panic!("no value in {line:?}"));
    let parsed = match v.strip_prefix("0x") {
        // Hex constants are bit patterns: take all 64 bits.
        Some(h) => u64::from_str_radix(h, 16).ok().map(|u| u as i64),
        None => v.parse::<i64>().ok(),
    };
    parsed.unwrap_or_else(|| panic!("bad value in {line:?}"))
}

/// [`equ`] as an unsigned value.
pub fn equ_u64(source: &str, name: &str) -> u64 {
    equ(source, name) as u64
}

/// Target of the unconditional branch `word` at `pc` (`B`), else `None`.
pub fn branch_target(word: u32, pc: u64) -> Option<u64> {
    if word >> 26 != 0b000101 {
        return None;
    }
    let imm = ((word & 0x03ff_ffff) << 6) as i32 >> 4;
    Some(pc.wrapping_add(imm as i64 as u64))
}

/// Checks the vector table at offset 0 of `img`: every slot is
/// `mov x9, #slot; b fail` with one shared `fail`, except `irq_slot`, which
/// branches to a handler at or after `code_start`.
pub fn check_vector_table(
    img: &[u32],
    irq_slot: Option<usize>,
    code_start: u64,
) -> Result<(), String> {
    if img.len() < 16 * 0x80 / 4 {
        return Err(format!("image of {} words has no vector table", img.len()));
    }
    let mut fail = None;
    for slot in 0..16 {
        let at = slot * 0x80;
        let w = &img[at / 4..at / 4 + 2];
        if Some(slot) == irq_slot {
            let t =
                branch_target(w[0], at as u64).ok_or(format!("IRQ slot {slot} does not branch"))?;
            if t < code_start {
                return Err(format!("IRQ handler at {t:#x} lies before {code_start:#x}"));
            }
            continue;
        }
        if w[0] != 0xd280_0009 | ((slot as u32) << 5) {
            return Err(format!(
                "slot {slot} starts with {:#x}, not mov x9, #{slot}",
                w[0]
            ));
        }
        let t = branch_target(w[1], at as u64 + 4).ok_or(format!("slot {slot} does not branch"))?;
        if *fail.get_or_insert(t) != t {
            return Err(format!(
                "slot {slot} branches to {t:#x}, not the shared fail path"
            ));
        }
    }
    Ok(())
}

/// Checks that no two segments overlap and all end by `limit` (a byte offset).
pub fn check_layout(segments: &[Segment], limit: u64) -> Result<(), String> {
    let mut spans: Vec<(u64, u64)> = segments.iter().map(|s| (s.offset, s.end())).collect();
    spans.sort();
    for w in spans.windows(2) {
        if w[0].1 > w[1].0 {
            return Err(format!("segments overlap: {w:x?}"));
        }
    }
    match spans.last() {
        Some(&(_, end)) if end > limit => {
            Err(format!("program ends at {end:#x}, after {limit:#x}"))
        }
        _ => Ok(()),
    }
}

/// Widths in bytes of the stores in `img` whose base register is one of
/// `bases`, in program order (what a test device must accept).
#[cfg(feature = "vm")]
pub fn store_widths(img: &[u32], bases: &[u8]) -> Vec<usize> {
    use sel4vm::arch::insn::{decode_load_store, MemKind};
    img.iter()
        .filter_map(|&w| decode_load_store(w).ok())
        .filter(|a| a.kind == MemKind::Store && a.base().is_some_and(|b| bases.contains(&b)))
        .map(|a| a.total_bytes())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec;

    const SRC: &str = "        .equ RAM,   0x40000000   // base\n\
                       \t.equ NEG, -7\n\
                       // .equ FAKE, 1\n\
                       .equ DEC,5\n";

    #[test]
    fn equ_reads_hex_decimal_and_negative() {
        assert_eq!(equ(SRC, "RAM"), 0x4000_0000);
        assert_eq!(equ(SRC, "NEG"), -7);
        assert_eq!(equ_u64(SRC, "NEG"), -7i64 as u64);
    }

    #[test]
    #[should_panic(expected = "no .equ FAKE")]
    fn equ_ignores_comments() {
        equ(SRC, "FAKE");
    }

    #[test]
    #[should_panic(expected = "no .equ DEC")]
    fn equ_needs_the_spaced_form() {
        // `.equ DEC,5` is not written the way the guests write constants.
        equ(SRC, "DEC");
    }

    #[test]
    fn branch_targets_forward_and_back() {
        assert_eq!(branch_target(0x1400_0002, 0x100), Some(0x108));
        assert_eq!(branch_target(0x17ff_ffff, 0x100), Some(0xfc));
        assert_eq!(branch_target(0x1400_0000, 0x100), Some(0x100));
        assert_eq!(branch_target(0xd503_201f, 0x100), None);
    }

    /// A vector table whose slots branch to `fail` at 0x800 (words), with
    /// slot 5 branching to 0x804.
    fn table() -> Vec<u32> {
        let mut img = vec![0u32; 0x808 / 4];
        for slot in 0..16u32 {
            let at = slot as usize * 0x80 / 4;
            img[at] = 0xd280_0009 | (slot << 5);
            img[at + 1] = 0x1400_0000 | ((0x800 - (slot * 0x80 + 4)) / 4);
        }
        img[5 * 0x80 / 4] = 0x1400_0000 | ((0x804 - 5 * 0x80) / 4);
        img
    }

    #[test]
    fn vector_table_check_accepts_and_rejects() {
        let img = table();
        assert_eq!(check_vector_table(&img, Some(5), 0x800), Ok(()));
        assert!(check_vector_table(&img, Some(5), 0x808).is_err());
        // Slot 5 is not `mov x9, #5; b fail`.
        assert!(check_vector_table(&img, None, 0x800).is_err());
        let mut bad = img.clone();
        bad[3 * 0x80 / 4 + 1] += 1;
        assert!(check_vector_table(&bad, Some(5), 0x800).is_err());
        assert!(check_vector_table(&img[..10], None, 0).is_err());
    }

    #[test]
    fn layout_check() {
        let a = Segment {
            offset: 0,
            words: &[1, 2],
        };
        let b = Segment {
            offset: 8,
            words: &[3],
        };
        assert_eq!(check_layout(&[b, a], 12), Ok(()));
        assert!(check_layout(&[a, b], 11).is_err());
        let c = Segment {
            offset: 4,
            words: &[9],
        };
        assert!(check_layout(&[a, c], 0x100).is_err());
    }

    #[cfg(feature = "vm")]
    #[test]
    fn store_widths_by_base() {
        // str w3, [x1]; str x11, [x12, #16]; ldr w4, [x1]; stp x8, x9, [x1]
        let img = [0xb900_0023, 0xf900_098b, 0xb940_0024, 0xa900_2428];
        assert_eq!(store_widths(&img, &[1, 12]), [4, 8, 16]);
        assert_eq!(store_widths(&img, &[12]), [8]);
    }

    #[test]
    #[cfg_attr(
        not(has_aarch64_binutils),
        ignore = "aarch64-linux-gnu-as not found on PATH (apt install binutils-aarch64-linux-gnu)"
    )]
    fn assembles_a_small_source() {
        let dir = std::env::temp_dir().join(format!("guest-support-src-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let src = dir.join("t.S");
        std::fs::write(
            &src,
            "        .text\n        nop\n        .org 0x8\n        b .\n",
        )
        .unwrap();
        let img = assemble(&src);
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(img, [0xd503_201f, 0, 0x1400_0000]);
        let segs = [
            Segment {
                offset: 0,
                words: &[0xd503_201f],
            },
            Segment {
                offset: 8,
                words: &[0x1400_0000],
            },
        ];
        assert_eq!(flat_image(&segs), img);
    }
}
