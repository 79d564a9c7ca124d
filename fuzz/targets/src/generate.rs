//! The seeded input generator of the bounded tests: corpus entries with a
//! few libFuzzer-style mutations applied (bit flips, interesting values,
//! inserted, erased and duplicated ranges, splices of two entries), and
//! now and then plain random bytes.
//!
//! Mutating corpus entries rather than only drawing random bytes is what
//! gets deep: the targets decode their input into structures (with
//! `arbitrary` or their own header), so a mutated seed is a nearby valid
//! structure. The mutator is a few lines over `fastrand` (a seeded PRNG
//! already in the lock file): libFuzzer's mutator needs nightly and a
//! sanitizer runtime, and no stable crate does byte-level mutation for
//! a plain `#[test]` without pulling in a fuzzing engine.

use std::path::{Path, PathBuf};

/// Longest input generated (libFuzzer's default `-max_len` for a fresh
/// corpus is 4096 too).
pub const MAX_LEN: usize = 4096;

/// Deterministic inputs from a seed and a corpus.
pub struct Generator {
    rng: fastrand::Rng,
    corpus: Vec<Vec<u8>>,
}

/// Values libFuzzer also likes to plant.
const INTERESTING: [u8; 8] = [0, 1, 0x7f, 0x80, 0xff, 0x10, 0x20, 0x40];

impl Generator {
    /// A generator over `corpus` (may be empty: then random bytes only).
    pub fn new(seed: u64, corpus: Vec<Vec<u8>>) -> Self {
        Self {
            rng: fastrand::Rng::with_seed(seed),
            corpus,
        }
    }

    fn random_bytes(&mut self, out: &mut Vec<u8>) {
        let n = self.rng.usize(..=512);
        out.extend((0..n).map(|_| self.rng.u8(..)));
    }

    /// The next input, into `out`.
    pub fn next_into(&mut self, out: &mut Vec<u8>) {
        out.clear();
        if self.corpus.is_empty() || self.rng.u8(..) < 16 {
            self.random_bytes(out);
            return;
        }
        let base = self.rng.usize(..self.corpus.len());
        out.extend_from_slice(&self.corpus[base]);
        for _ in 0..1 + self.rng.usize(..4) {
            self.mutate(out);
        }
        out.truncate(MAX_LEN);
    }

    fn mutate(&mut self, v: &mut Vec<u8>) {
        let r = &mut self.rng;
        if v.is_empty() {
            v.push(r.u8(..));
            return;
        }
        let at = r.usize(..v.len());
        match r.u8(..8) {
            0 => v[at] ^= 1 << r.u8(..8),
            1 => v[at] = r.u8(..),
            2 => v[at] = INTERESTING[r.usize(..INTERESTING.len())],
            3 => {
                // A small integer into a 16- or 32-bit field.
                let w = if r.bool() { 2 } else { 4 };
                let val = (r.u32(..64)).to_le_bytes();
                for (i, b) in val.iter().take(w).enumerate() {
                    if let Some(x) = v.get_mut(at + i) {
                        *x = *b;
                    }
                }
            }
            4 => {
                let n = 1 + r.usize(..16);
                let bytes: Vec<u8> = (0..n).map(|_| r.u8(..)).collect();
                v.splice(at..at, bytes);
            }
            5 => {
                let end = (at + 1 + r.usize(..32)).min(v.len());
                v.drain(at..end);
            }
            6 => {
                // Duplicate a range (repeats a step of a program).
                let end = (at + 1 + r.usize(..64)).min(v.len());
                let chunk = v[at..end].to_vec();
                let to = r.usize(..=v.len());
                v.splice(to..to, chunk);
            }
            _ => {
                // Splice: our head, another entry's tail.
                let other = &self.corpus[r.usize(..self.corpus.len())];
                if !other.is_empty() {
                    let from = r.usize(..other.len());
                    v.truncate(at);
                    v.extend_from_slice(&other[from..]);
                }
            }
        }
    }
}

/// `fuzz/corpus/` of this repository.
pub fn corpus_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("fuzz/targets lives in fuzz/")
        .join("corpus")
}

/// Every file of `fuzz/corpus/<target>/`, sorted by name (an error if the
/// directory is missing).
pub fn load_corpus(target: &str) -> std::io::Result<Vec<(String, Vec<u8>)>> {
    let dir = corpus_root().join(target);
    let mut files = Vec::new();
    for e in std::fs::read_dir(&dir)? {
        let e = e?;
        if e.file_type()?.is_file() {
            files.push((
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path())?,
            ));
        }
    }
    files.sort();
    Ok(files)
}
