//! Table-driven tests of `sel4vm::arch::insn::decode_load_store` against real
//! encodings from `tests/data/ldst_encodings.txt` (produced by GNU as).
//!
//! * `table_decodes_as_expected` checks every row's decode against the
//!   expectation column (no external tools needed).
//! * `table_matches_assembler` re-assembles the assembly column and checks
//!   the stored encodings, so the table cannot drift; it is ignored when
//!   aarch64 binutils were not on PATH at build time (`cfg(has_aarch64_binutils)`).
//!   It never rewrites the table: after editing the assembly column,
//!   `cargo xtask regen ldst-table` rewrites the encoding column.

#[path = "support/ldst_table.rs"]
mod ldst_table;

use ldst_table::Row;
use sel4vm::arch::insn::{
    decode_load_store, Addressing, DecodeError, Extend, MemAccess, MemKind, Ordering, Unsupported,
};
use sel4vm::arch::AccessSize;
use std::collections::BTreeSet;
use std::path::PathBuf;

fn rows() -> Vec<Row> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(ldst_table::TABLE);
    let text = std::fs::read_to_string(path).expect("read encoding table");
    ldst_table::rows(&text).unwrap()
}

#[derive(Debug, PartialEq)]
enum Expected {
    Access(MemAccess),
    Error(&'static str),
}

/// Parses `x5`, `w5`, `xzr`, `wzr`, `sp` into (number, is 64-bit).
fn parse_reg(s: &str) -> (u8, bool) {
    match s {
        "sp" | "xzr" => (31, true),
        "wzr" => (31, false),
        _ => {
            let (w, n) = s.split_at(1);
            let n: u8 = n.parse().unwrap_or_else(|_| panic!("bad register {s}"));
            assert!(n < 31, "bad register {s}");
            (n, w == "x")
        }
    }
}

fn parse_signed(s: &str) -> i64 {
    s.parse().unwrap_or_else(|_| panic!("bad offset {s}"))
}

/// `[base+off]`, `[base-off]!`, `[base]+off`, `[base,index,extend,shift]`,
/// `lit+off`.
fn parse_addressing(s: &str) -> Addressing {
    if let Some(off) = s.strip_prefix("lit") {
        return Addressing::Literal {
            offset: parse_signed(off.trim_start_matches('+')),
        };
    }
    let inner_end = s.find(']').expect("missing ]");
    let inner = &s[1..inner_end];
    let tail = &s[inner_end + 1..];
    if inner.contains(',') {
        let p: Vec<&str> = inner.split(',').collect();
        let extend = match p[2] {
            "uxtw" => Extend::Uxtw,
            "lsl" => Extend::Lsl,
            "sxtw" => Extend::Sxtw,
            "sxtx" => Extend::Sxtx,
            e => panic!("bad extend {e}"),
        };
        return Addressing::Register {
            base: parse_reg(p[0]).0,
            index: parse_reg(p[1]).0,
            extend,
            shift: p[3].parse().unwrap(),
        };
    }
    if !tail.is_empty() && tail != "!" {
        return Addressing::PostIndex {
            base: parse_reg(inner).0,
            offset: parse_signed(tail.trim_start_matches('+')),
        };
    }
    let split = inner.find(['+', '-']).expect("offset sign");
    let base = parse_reg(&inner[..split]).0;
    let offset = parse_signed(inner[split..].trim_start_matches('+'));
    if s.ends_with('!') {
        Addressing::PreIndex { base, offset }
    } else {
        Addressing::Offset { base, offset }
    }
}

fn parse_expect(s: &str) -> Expected {
    if let Some(e) = s.strip_prefix('!') {
        let e: &'static str = match e {
            "simd" => "simd",
            "excl" => "excl",
            "atomic" => "atomic",
            "prefetch" => "prefetch",
            "pac" => "pac",
            "mte" => "mte",
            "mops" => "mops",
            "unalloc" => "unalloc",
            "notls" => "notls",
            other => panic!("unknown error tag {other}"),
        };
        return Expected::Error(e);
    }
    let mut toks = s.split_whitespace();
    let head = toks.next().expect("kind/size");
    let (kind, size) = head.split_at(2);
    let kind = match kind {
        "ld" => MemKind::Load,
        "st" => MemKind::Store,
        k => panic!("bad kind {k}"),
    };
    let size = match size {
        "b" => AccessSize::Byte,
        "h" => AccessSize::Half,
        "w" => AccessSize::Word,
        "x" => AccessSize::Double,
        z => panic!("bad size {z}"),
    };
    let mut a = MemAccess {
        kind,
        size,
        sign_extend: false,
        dest_is_64: false,
        rt: 0,
        rt2: None,
        addressing: Addressing::Unknown,
        ordering: Ordering::Plain,
        unprivileged: false,
    };
    for t in toks {
        match t {
            "sx" => a.sign_extend = true,
            "acq" => a.ordering = Ordering::Acquire,
            "acqpc" => a.ordering = Ordering::AcquirePc,
            "rel" => a.ordering = Ordering::Release,
            "unpriv" => a.unprivileged = true,
            _ if t.starts_with("rt=") => {
                let (n, w) = parse_reg(&t[3..]);
                a.rt = n;
                a.dest_is_64 = w;
            }
            _ if t.starts_with("rt2=") => a.rt2 = Some(parse_reg(&t[4..]).0),
            _ => a.addressing = parse_addressing(t),
        }
    }
    assert_ne!(a.addressing, Addressing::Unknown, "no addressing in {s}");
    Expected::Access(a)
}

fn error_tag(e: &DecodeError) -> &'static str {
    match e {
        DecodeError::NotLoadStore(_) => "notls",
        DecodeError::Unallocated(_) => "unalloc",
        DecodeError::Unsupported { what, .. } => match what {
            Unsupported::SimdFp => "simd",
            Unsupported::Exclusive => "excl",
            Unsupported::Atomic => "atomic",
            Unsupported::Prefetch => "prefetch",
            Unsupported::PointerAuth => "pac",
            Unsupported::MemoryTagging => "mte",
            Unsupported::MemCopySet => "mops",
        },
    }
}

#[test]
fn table_decodes_as_expected() {
    let rows = rows();
    assert!(rows.len() > 150, "table unexpectedly small");
    let mut failures = Vec::new();
    for r in &rows {
        let word = r
            .encoding
            .unwrap_or_else(|| panic!("line {}: no encoding (regenerate the table)", r.line));
        let got = match decode_load_store(word) {
            Ok(a) => Expected::Access(a),
            Err(e) => {
                // Errors carry the word they were given.
                match e {
                    DecodeError::NotLoadStore(w) | DecodeError::Unallocated(w) => {
                        assert_eq!(w, word)
                    }
                    DecodeError::Unsupported { word: w, .. } => assert_eq!(w, word),
                }
                Expected::Error(error_tag(&e))
            }
        };
        let want = parse_expect(&r.expect);
        if got != want {
            failures.push(format!(
                "line {} {:08x} `{}`:\n   want {:?}\n    got {:?}",
                r.line, word, r.asm, want, got
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The table must keep covering every width, addressing mode and
/// sign-extension variant the decoder supports.
#[test]
fn table_covers_all_forms() {
    let mut seen = BTreeSet::new();
    let mut errors = BTreeSet::new();
    for r in rows() {
        match parse_expect(&r.expect) {
            Expected::Error(e) => {
                errors.insert(e);
            }
            Expected::Access(a) => {
                let mode = match a.addressing {
                    Addressing::Offset { .. } => "off",
                    Addressing::PreIndex { .. } => "pre",
                    Addressing::PostIndex { .. } => "post",
                    Addressing::Register { .. } => "reg",
                    Addressing::Literal { .. } => "lit",
                    Addressing::Unknown => "unknown",
                };
                let pair = if a.rt2.is_some() { "pair" } else { "single" };
                seen.insert(format!(
                    "{:?} {:?} sx={} d64={} {} {}",
                    a.kind, a.size, a.sign_extend, a.dest_is_64, pair, mode
                ));
                if a.rt == 31 || a.rt2 == Some(31) {
                    seen.insert(format!("{:?} zr", a.kind));
                }
                if a.base() == Some(31) {
                    seen.insert(format!("{:?} sp-base {}", a.kind, mode));
                }
                if a.writeback().is_some_and(|w| w.offset < 0) {
                    seen.insert(format!("{:?} negative writeback", a.kind));
                }
                if a.unprivileged {
                    seen.insert("unpriv".into());
                }
                seen.insert(format!("{:?}", a.ordering));
            }
        }
    }
    let mut missing = Vec::new();
    let mut need = |k: String| {
        if !seen.contains(&k) {
            missing.push(k);
        }
    };
    use AccessSize::*;
    for mode in ["off", "pre", "post", "reg"] {
        for (size, d64) in [(Byte, false), (Half, false), (Word, false), (Double, true)] {
            need(format!("Load {size:?} sx=false d64={d64} single {mode}"));
            need(format!("Store {size:?} sx=false d64={d64} single {mode}"));
        }
        for (size, d64s) in [
            (Byte, &[false, true][..]),
            (Half, &[false, true]),
            (Word, &[true]),
        ] {
            for d64 in d64s {
                need(format!("Load {size:?} sx=true d64={d64} single {mode}"));
            }
        }
    }
    for mode in ["off", "pre", "post"] {
        for (size, d64) in [(Word, false), (Double, true)] {
            need(format!("Load {size:?} sx=false d64={d64} pair {mode}"));
            need(format!("Store {size:?} sx=false d64={d64} pair {mode}"));
        }
        need(format!("Load Word sx=true d64=true pair {mode}"));
        need(format!("Load sp-base {mode}"));
        need(format!("Store sp-base {mode}"));
    }
    need("Load Word sx=false d64=false single lit".into());
    need("Load Double sx=false d64=true single lit".into());
    need("Load Word sx=true d64=true single lit".into());
    for k in [
        "Load zr",
        "Store zr",
        "Load negative writeback",
        "Store negative writeback",
    ] {
        need(k.into());
    }
    for k in ["unpriv", "Plain", "Acquire", "AcquirePc", "Release"] {
        need(k.into());
    }
    for e in [
        "simd", "excl", "atomic", "prefetch", "pac", "mte", "mops", "unalloc", "notls",
    ] {
        if !errors.contains(e) {
            missing.push(format!("error {e}"));
        }
    }
    assert!(missing.is_empty(), "table lacks: {missing:#?}");
}

#[test]
#[cfg_attr(
    not(has_aarch64_binutils),
    ignore = "aarch64-linux-gnu-as/objcopy not found on PATH (apt install binutils-aarch64-linux-gnu)"
)]
fn table_matches_assembler() {
    let rows = rows();
    let work = std::env::temp_dir().join(format!("sel4vm-ldst-{}", std::process::id()));
    let words = ldst_table::assemble(&rows, &work).unwrap();
    let mut bad = Vec::new();
    for (r, w) in rows.iter().zip(&words) {
        if r.encoding != Some(*w) {
            bad.push(format!(
                "line {} `{}`: table {}, assembler {:08x}",
                r.line,
                r.asm,
                r.encoding.map_or("missing".into(), |e| format!("{e:08x}")),
                w
            ));
        }
    }
    assert!(
        bad.is_empty(),
        "{}\n(after editing the assembly column: cargo xtask regen ldst-table)",
        bad.join("\n")
    );
}
