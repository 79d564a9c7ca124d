#![allow(dead_code)]
use sel4vm::{RamRegion, Reservation, Stage2Entry, UserContext, VcpuId, Vm, VmConfig};
use sel4vm_host::HostBackend;

pub const RAM: u64 = 0x4000_0000;
pub const PAGE: u64 = 4096;

pub fn vm() -> Vm<HostBackend> {
    Vm::new(
        HostBackend::new(),
        VmConfig {
            max_vcpus: 2,
            ..Default::default()
        },
    )
    .unwrap()
}

pub fn vm_with_vcpu() -> (Vm<HostBackend>, VcpuId) {
    let mut vm = vm();
    let v = vm.create_vcpu(100).unwrap();
    vm.vcpu_start(v).unwrap();
    (vm, v)
}

/// Everything observable about memory state, to assert "unchanged".
#[derive(Debug, PartialEq)]
pub struct Snapshot {
    pub ram: Vec<RamRegion>,
    pub res: Vec<Reservation>,
    pub anon: Vec<(u64, u64)>,
    pub s2: Vec<(u64, Stage2Entry)>,
    pub host_s2: usize,
    pub frames: usize,
}

pub fn snap(vm: &Vm<HostBackend>) -> Snapshot {
    Snapshot {
        ram: vm.ram_regions(),
        res: vm.reservations(),
        anon: vm.anon_regions(),
        s2: vm.guest_vspace().iter().collect(),
        host_s2: vm.backend().stage2().len(),
        frames: vm.backend().live_frames(),
    }
}

pub fn set_ctx(vm: &mut Vm<HostBackend>, v: VcpuId, f: impl FnOnce(&mut UserContext)) {
    let mut c = vm.get_thread_context(v).unwrap();
    f(&mut c);
    vm.set_thread_context(v, &c).unwrap();
}

/// Data-abort syndrome with a valid ISS.
pub fn dabt(size_log2: u32, srt: u32, write: bool, sse: bool, sf: bool) -> u32 {
    (0x24 << 26)
        | (1 << 25)
        | (1 << 24)
        | (size_log2 << 22)
        | ((sse as u32) << 21)
        | (srt << 16)
        | ((sf as u32) << 15)
        | ((write as u32) << 6)
        | 0x07
}

/// Data-abort syndrome without ISV (instruction must be decoded).
pub fn dabt_no_isv(write: bool) -> u32 {
    (0x24 << 26) | (1 << 25) | ((write as u32) << 6) | 0x07
}
