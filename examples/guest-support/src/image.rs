//! A guest program as checked-in runs of instruction words.

use alloc::vec;
use alloc::vec::Vec;

/// One run of non-zero instruction words of a guest's flat binary.
#[derive(Clone, Copy, Debug)]
pub struct Segment {
    /// Byte offset from the guest's RAM base.
    pub offset: u64,
    /// Little-endian instruction words.
    pub words: &'static [u32],
}

impl Segment {
    /// The words as the bytes the guest sees in RAM.
    pub fn bytes(&self) -> Vec<u8> {
        self.words.iter().flat_map(|w| w.to_le_bytes()).collect()
    }

    /// Byte offset just past the last word.
    pub fn end(&self) -> u64 {
        self.offset + 4 * self.words.len() as u64
    }
}

/// The program as a flat image of words from offset 0, gaps zero-filled
/// (what `objcopy -O binary` makes of the source). Later segments win where
/// segments overlap.
pub fn flat_image(segments: &[Segment]) -> Vec<u32> {
    let end = segments
        .iter()
        .map(|s| s.offset as usize / 4 + s.words.len())
        .max()
        .unwrap_or(0);
    let mut img = vec![0u32; end];
    for s in segments {
        let at = s.offset as usize / 4;
        img[at..at + s.words.len()].copy_from_slice(s.words);
    }
    img
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_image_fills_gaps_with_zero() {
        let segs = [
            Segment {
                offset: 0x8,
                words: &[1, 2],
            },
            Segment {
                offset: 0x0,
                words: &[3],
            },
        ];
        assert_eq!(flat_image(&segs), [3, 0, 1, 2]);
        assert_eq!(flat_image(&[]), [] as [u32; 0]);
        assert_eq!(segs[0].bytes(), [1, 0, 0, 0, 2, 0, 0, 0]);
        assert_eq!(segs[0].end(), 0x10);
    }
}
