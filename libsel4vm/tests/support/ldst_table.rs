//! The A64 load/store table `tests/data/ldst_encodings.txt` and its encodings
//! as GNU as produces them. Shared by `tests/arch_insn_table.rs` (which checks
//! the stored encodings) and `cargo xtask regen ldst-table` (which rewrites
//! them); both include this file by path.

// Each includer uses part of it.
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

/// The table, relative to the libsel4vm crate.
pub const TABLE: &str = "tests/data/ldst_encodings.txt";

/// One row: `encoding | assembly | expected decode`.
#[derive(Debug)]
pub struct Row {
    /// 1-based line number in the table.
    pub line: usize,
    /// The stored encoding (`None` if the column does not parse).
    pub encoding: Option<u32>,
    pub asm: String,
    pub expect: String,
}

/// The rows of `text` (blank lines and `#` comments skipped).
pub fn rows(text: &str) -> Result<Vec<Row>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let cols: Vec<&str> = line.split('|').map(str::trim).collect();
        if cols.len() != 3 {
            return Err(format!("line {}: expected 3 columns", i + 1));
        }
        out.push(Row {
            line: i + 1,
            encoding: u32::from_str_radix(cols[0], 16).ok(),
            asm: cols[1].to_string(),
            expect: cols[2].to_string(),
        });
    }
    Ok(out)
}

/// The command to run: `$var` if set, else `default`.
pub fn tool(var: &str, default: &str) -> String {
    std::env::var(var)
        .ok()
        .filter(|c| !c.trim().is_empty())
        .unwrap_or_else(|| default.to_string())
}

/// Assembles the assembly column with GNU as (`$SEL4VM_AARCH64_AS`, else
/// `aarch64-linux-gnu-as`) and objcopy; one word per row. `work` is a
/// scratch directory (created, then removed).
pub fn assemble(rows: &[Row], work: &Path) -> Result<Vec<u32>, String> {
    let as_ = tool("SEL4VM_AARCH64_AS", "aarch64-linux-gnu-as");
    let objcopy = tool("SEL4VM_AARCH64_OBJCOPY", "aarch64-linux-gnu-objcopy");
    std::fs::create_dir_all(work).map_err(|e| format!("{}: {e}", work.display()))?;
    let src: String = rows.iter().map(|r| format!("{}\n", r.asm)).collect();
    let (s, o, bin) = (work.join("t.s"), work.join("t.o"), work.join("t.bin"));
    std::fs::write(&s, src).map_err(|e| e.to_string())?;
    let run = |c: &mut Command, name: &str| -> Result<(), String> {
        let out = c.output().map_err(|e| format!("cannot run {name}: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{name} failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    };
    let result = run(
        Command::new(&as_)
            .args(["-march=armv8.8-a+memtag+ls64", "-o"])
            .arg(&o)
            .arg(&s),
        &as_,
    )
    .and_then(|()| {
        run(
            Command::new(&objcopy)
                .args(["-O", "binary", "-j", ".text"])
                .arg(&o)
                .arg(&bin),
            &objcopy,
        )
    })
    .and_then(|()| std::fs::read(&bin).map_err(|e| e.to_string()));
    let _ = std::fs::remove_dir_all(work);
    let bin = result?;
    if bin.len() != rows.len() * 4 {
        return Err(format!(
            "{} bytes of code for {} rows: one instruction per row",
            bin.len(),
            rows.len()
        ));
    }
    Ok(bin
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

/// `text` with the encoding column of its rows replaced by `words`, in order.
pub fn with_encodings(text: &str, words: &[u32]) -> String {
    let mut it = words.iter();
    text.lines()
        .map(|l| {
            let t = l.trim();
            if t.is_empty() || t.starts_with('#') {
                format!("{l}\n")
            } else {
                let (_, rest) = t.split_once('|').expect("a row has columns");
                let w = it.next().expect("one word per row");
                format!("{w:08x} |{rest}\n")
            }
        })
        .collect()
}
