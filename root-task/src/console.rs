//! One UART, two writers: the VMM's log lines and the guest's console
//! output. [`LineMux`] keeps them from sharing a line: when the other
//! writer is in the middle of a line, a line break is put in first.

/// Who writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// The VMM's own messages.
    Vmm,
    /// The guest's console.
    Guest,
}

/// Line state of the shared output.
#[derive(Clone, Copy, Debug)]
pub struct LineMux {
    last: Source,
    mid_line: bool,
}

impl Default for LineMux {
    fn default() -> Self {
        Self::new()
    }
}

impl LineMux {
    /// At the start of a line.
    pub const fn new() -> Self {
        LineMux {
            last: Source::Vmm,
            mid_line: false,
        }
    }

    /// Writes `bytes` from `src` through `out`, breaking the line first if
    /// the other source left one unfinished.
    pub fn write(&mut self, src: Source, bytes: &[u8], mut out: impl FnMut(&[u8])) {
        if bytes.is_empty() {
            return;
        }
        if src != self.last && self.mid_line {
            out(b"\r\n");
        }
        out(bytes);
        self.last = src;
        self.mid_line = !matches!(bytes.last(), Some(b'\n'));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::vec::Vec;

    fn run(writes: &[(Source, &str)]) -> std::string::String {
        let mut m = LineMux::new();
        let mut out = Vec::new();
        for (s, b) in writes {
            m.write(*s, b.as_bytes(), |x| out.extend_from_slice(x));
        }
        std::string::String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_vmm_line_never_lands_inside_a_guest_line() {
        let s = run(&[
            (Source::Guest, "# "),
            (Source::Vmm, "VMM: hello\n"),
            (Source::Guest, "echo 1\n"),
        ]);
        assert_eq!(s, "# \r\nVMM: hello\necho 1\n");
    }

    #[test]
    fn whole_lines_pass_unchanged() {
        let s = run(&[
            (Source::Guest, "a\n"),
            (Source::Vmm, "VMM: "),
            (Source::Vmm, "b\n"),
            (Source::Guest, "c"),
            (Source::Guest, "d\n"),
        ]);
        assert_eq!(s, "a\nVMM: b\ncd\n");
    }

    #[test]
    fn a_guest_write_after_an_unfinished_vmm_line_starts_a_new_line() {
        let s = run(&[(Source::Vmm, "VMM: x"), (Source::Guest, "y\n")]);
        assert_eq!(s, "VMM: x\r\ny\n");
    }
}
