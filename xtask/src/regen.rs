//! `cargo xtask regen ldst-table`: rewrites the encoding column of
//! `libsel4vm/tests/data/ldst_encodings.txt` with what GNU as produces for the
//! assembly column. The test `arch_insn_table::table_matches_assembler` only
//! checks the stored column; this command is the one place that writes it.

use crate::target::workspace_root;
use crate::Result;

#[path = "../../libsel4vm/tests/support/ldst_table.rs"]
mod ldst_table;

/// What `regen` can regenerate.
pub const WHAT: &str = "ldst-table";

pub fn regen(args: &[String]) -> Result<()> {
    match args {
        [w] if w == "ldst-table" => ldst(),
        _ => Err(format!("usage: cargo xtask regen {WHAT}")),
    }
}

fn ldst() -> Result<()> {
    let path = workspace_root().join("libsel4vm").join(ldst_table::TABLE);
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let rows = ldst_table::rows(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let work = crate::target::target_dir().join("tmp/regen-ldst");
    let words = ldst_table::assemble(&rows, &work)?;
    let changed = rows
        .iter()
        .zip(&words)
        .filter(|(r, w)| r.encoding != Some(**w))
        .count();
    let out = ldst_table::with_encodings(&text, &words);
    if out != text {
        std::fs::write(&path, out).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    println!(
        "regen: {}: {} rows, {changed} encodings changed",
        path.display(),
        rows.len()
    );
    Ok(())
}
