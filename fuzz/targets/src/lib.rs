//! The fuzz target bodies of sel4vm-rs, in one place.
//!
//! Each target is a `pub fn NAME(data: &[u8]) -> Reach`: the cargo-fuzz
//! binaries in `fuzz/fuzz_targets/` call it on libFuzzer's input, and the
//! bounded stable-toolchain tests in `tests/` call it on the committed
//! corpus (`fuzz/corpus/NAME/`) plus inputs from the seeded generator
//! ([`generate`]). A panic (including a failed invariant assertion) is a finding.
//!
//! | target | what it drives |
//! |---|---|
//! | [`insn_decode`] | the A64 load/store decoder and the emulation that completes an access |
//! | [`fault_dispatch`] | the real `Vm::run` loop with the host backend and a stream of kernel events |
//! | [`vgic_mmio`] | the vGIC (v2 and v3) through guest MMIO, system registers, injections, maintenance |
//! | [`image_dtb`] | the Linux `Image`/ELF kernel header, DTB and placement checks of `linux_setup_images`, and the packer's DTB inspection |
//! | [`virtqueue`] | the virtio-mmio transport and split virtqueues under the console, block and net device models |
//!
//! The returned [`Reach`] says how deep an input got, so the bounded
//! tests can check the generator is not stuck at the front door.

pub mod fault_dispatch;
pub mod generate;
pub mod image_dtb;
pub mod insn_decode;
pub mod vgic_mmio;
pub mod virtqueue;

pub use fault_dispatch::fault_dispatch;
pub use image_dtb::image_dtb;
pub use insn_decode::insn_decode;
pub use vgic_mmio::vgic_mmio;
pub use virtqueue::virtqueue;

/// How deep one input got: named counters, summed over a run by the tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Reach {
    /// The input decoded into the target's structure (else it was too short).
    pub decoded: u64,
    /// Target-specific milestones, see each target's documentation.
    pub deep: [u64; 4],
}

impl Reach {
    /// Adds another input's counters.
    pub fn add(&mut self, o: &Reach) {
        self.decoded += o.decoded;
        for (a, b) in self.deep.iter_mut().zip(o.deep) {
            *a += b;
        }
    }
}

/// A target body: what the tests and the cargo-fuzz binaries call.
pub type Target = fn(&[u8]) -> Reach;

/// Every target by name (the corpus directory and cargo-fuzz binary name).
pub const TARGETS: &[(&str, Target)] = &[
    ("insn_decode", insn_decode),
    ("fault_dispatch", fault_dispatch),
    ("vgic_mmio", vgic_mmio),
    ("image_dtb", image_dtb),
    ("virtqueue", virtqueue),
];
