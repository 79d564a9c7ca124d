//! cargo-fuzz binary of the `insn_decode` target. The body, its input format and
//! its checks are `sel4vm_fuzz_targets::insn_decode` (fuzz/targets/src/insn_decode.rs), which
//! the bounded stable tests (`cargo test -p sel4vm-fuzz-targets`) run too.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    sel4vm_fuzz_targets::insn_decode(data);
});
