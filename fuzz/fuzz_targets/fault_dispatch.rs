//! cargo-fuzz binary of the `fault_dispatch` target. The body, its input format and
//! its checks are `sel4vm_fuzz_targets::fault_dispatch` (fuzz/targets/src/fault_dispatch.rs), which
//! the bounded stable tests (`cargo test -p sel4vm-fuzz-targets`) run too.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    sel4vm_fuzz_targets::fault_dispatch(data);
});
