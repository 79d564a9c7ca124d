//! Sizes and field offsets of the C-visible structs as Rust lays them out.
//! The ABI test writes these into a generated header and `_Static_assert`s
//! them against `sizeof` / `offsetof` of the C headers.

use core::mem::{offset_of, size_of};

use crate::types::*;

/// `(name, value)` pairs: `size_<type>` or `off_<type>_<field path>`; the
/// field path uses `__` for nested members.
pub fn table() -> &'static [(&'static str, usize)] {
    macro_rules! off {
        ($t:ty, $($f:tt).+) => {
            (concat!("off_", stringify!($t), "_", $(stringify!($f), "__",)+), offset_of!($t, $($f).+))
        };
    }
    macro_rules! fsz {
        ($t:ty, $($f:tt).+) => {
            (concat!("fsize_", stringify!($t), "_", $(stringify!($f), "__",)+), field_size(|x: &$t| &x.$($f).+))
        };
    }
    const T: &[(&str, usize)] = &[
        ("size_seL4_UserContext", size_of::<seL4_UserContext>()),
        ("size_seL4_MessageInfo_t", size_of::<seL4_MessageInfo_t>()),
        ("size_seL4_CapRights_t", size_of::<seL4_CapRights_t>()),
        ("size_vka_object_t", size_of::<vka_object_t>()),
        ("size_vspace_t", size_of::<vspace_t>()),
        ("size_vka_t", size_of::<vka_t>()),
        ("size_cspacepath_t", size_of::<cspacepath_t>()),
        ("size_reservation_t", size_of::<reservation_t>()),
        ("size_vm_frame_t", size_of::<vm_frame_t>()),
        ("size_vm_ram_region", size_of::<vm_ram_region>()),
        ("size_vm_mem", size_of::<vm_mem>()),
        ("size_vm_tcb", size_of::<vm_tcb>()),
        ("size_vm_vcpu_arch", size_of::<vm_vcpu_arch>()),
        ("size_vm_vcpu_t", size_of::<vm_vcpu_t>()),
        ("size_vm_run", size_of::<vm_run>()),
        ("size_vm_cspace", size_of::<vm_cspace>()),
        ("size_vm_arch", size_of::<vm_arch>()),
        ("size_vm_t", size_of::<vm_t>()),
        off!(vka_object_t, cptr),
        off!(vka_object_t, size_bits),
        off!(vspace_t, data),
        off!(vspace_t, map_pages_at_vaddr),
        off!(vspace_t, unmap_pages),
        off!(vspace_t, reserve_range_aligned),
        off!(vspace_t, free_reservation),
        off!(vspace_t, allocated_object_cookie),
        off!(vka_t, data),
        off!(vka_t, cspace_alloc),
        off!(vka_t, cspace_make_path),
        off!(vka_t, utspace_alloc),
        off!(vka_t, utspace_alloc_maybe_device),
        off!(vka_t, utspace_alloc_at),
        off!(vka_t, cspace_free),
        off!(vka_t, utspace_free),
        off!(vka_t, utspace_paddr),
        off!(cspacepath_t, capPtr),
        off!(cspacepath_t, capDepth),
        off!(cspacepath_t, root),
        off!(cspacepath_t, dest),
        off!(cspacepath_t, destDepth),
        off!(cspacepath_t, offset),
        off!(cspacepath_t, window),
        off!(vm_frame_t, cptr),
        off!(vm_frame_t, rights),
        off!(vm_frame_t, vaddr),
        off!(vm_frame_t, size_bits),
        off!(vm_ram_region, start),
        off!(vm_ram_region, size),
        off!(vm_ram_region, allocated),
        off!(vm_mem, vm_vspace),
        off!(vm_mem, vm_vspace_root),
        off!(vm_mem, vmm_vspace),
        off!(vm_mem, num_ram_regions),
        off!(vm_mem, ram_regions),
        off!(vm_mem, reservation_cookie),
        off!(vm_mem, unhandled_mem_fault_handler),
        off!(vm_mem, unhandled_mem_fault_cookie),
        off!(vm_mem, clean_cache),
        off!(vm_mem, map_one_to_one),
        off!(vm_tcb, tcb),
        off!(vm_tcb, sc),
        off!(vm_tcb, sched_ctrl),
        off!(vm_tcb, priority),
        off!(vm_vcpu_arch, fault),
        off!(vm_vcpu_arch, unhandled_vcpu_callback),
        off!(vm_vcpu_arch, unhandled_vcpu_callback_cookie),
        off!(vm_vcpu_t, vm),
        off!(vm_vcpu_t, vcpu),
        off!(vm_vcpu_t, tcb),
        off!(vm_vcpu_t, tcb.tcb.cptr),
        off!(vm_vcpu_t, tcb.priority),
        off!(vm_vcpu_t, vcpu_id),
        off!(vm_vcpu_t, target_cpu),
        off!(vm_vcpu_t, vcpu_online),
        off!(vm_vcpu_t, vcpu_arch),
        off!(vm_run, exit_reason),
        off!(vm_run, notification_callback),
        off!(vm_run, notification_callback_cookie),
        off!(vm_cspace, cspace_obj),
        off!(vm_cspace, cspace_root_data),
        off!(vm_arch, vm_smc_handler),
        off!(vm_t, arch),
        off!(vm_t, num_vcpus),
        off!(vm_t, vcpus),
        off!(vm_t, mem),
        off!(vm_t, mem.num_ram_regions),
        off!(vm_t, mem.ram_regions),
        off!(vm_t, run),
        off!(vm_t, run.exit_reason),
        off!(vm_t, cspace),
        off!(vm_t, host_endpoint),
        off!(vm_t, vka),
        off!(vm_t, io_ops),
        off!(vm_t, simple),
        off!(vm_t, entry),
        off!(vm_t, vm_name),
        off!(vm_t, vm_id),
        off!(vm_t, vm_initialised),
        off!(vm_t, sel4vm_magic),
        off!(vm_t, sel4vm_impl),
        // Field sizes catch type changes that padding would hide.
        fsz!(vm_ram_region, allocated),
        fsz!(vm_mem, num_ram_regions),
        fsz!(vm_mem, clean_cache),
        fsz!(vm_tcb, priority),
        fsz!(vm_vcpu_t, vcpu_id),
        fsz!(vm_vcpu_t, target_cpu),
        fsz!(vm_vcpu_t, vcpu_online),
        fsz!(vm_run, exit_reason),
        fsz!(vm_t, num_vcpus),
        fsz!(vm_t, vcpus),
        fsz!(vm_t, host_endpoint),
        fsz!(vm_t, entry),
        fsz!(vm_t, vm_id),
        fsz!(vm_t, vm_initialised),
        fsz!(vm_t, sel4vm_magic),
        fsz!(vm_frame_t, size_bits),
    ];
    T
}

const fn field_size<T, F>(_: fn(&T) -> &F) -> usize {
    size_of::<F>()
}

/// The C expression that computes the same value as entry `name` of
/// [`table`] (`sizeof(...)` or `offsetof(...)`), for the generated check.
pub fn c_expr(name: &str) -> Option<alloc::string::String> {
    use alloc::format;
    if let Some(t) = name.strip_prefix("size_") {
        let ty = match t {
            "vm_ram_region" | "vm_mem" | "vm_tcb" | "vm_vcpu_arch" | "vm_run" | "vm_cspace"
            | "vm_arch" => format!("struct {t}"),
            _ => t.into(),
        };
        return Some(format!("sizeof({ty})"));
    }
    let (rest, fsize) = match name.strip_prefix("off_") {
        Some(r) => (r, false),
        None => (name.strip_prefix("fsize_")?, true),
    };
    // Type names contain '_', so match the known ones (longest first).
    const TYPES: &[&str] = &[
        "vka_object_t",
        "vka_t",
        "cspacepath_t",
        "vspace_t",
        "vm_frame_t",
        "vm_ram_region",
        "vm_mem",
        "vm_tcb",
        "vm_vcpu_arch",
        "vm_vcpu_t",
        "vm_run",
        "vm_cspace",
        "vm_arch",
        "vm_t",
    ];
    let mut best: Option<&str> = None;
    for t in TYPES {
        if rest.starts_with(t)
            && rest.as_bytes().get(t.len()) == Some(&b'_')
            && best.is_none_or(|b| t.len() > b.len())
        {
            best = Some(t);
        }
    }
    let t = best?;
    let path = rest[t.len() + 1..]
        .trim_end_matches("__")
        .replace("__", ".");
    let ty = match t {
        "vm_ram_region" | "vm_mem" | "vm_tcb" | "vm_vcpu_arch" | "vm_run" | "vm_cspace"
        | "vm_arch" => {
            format!("struct {t}")
        }
        _ => t.into(),
    };
    if fsize {
        return Some(format!("sizeof((({ty} *)0)->{path})"));
    }
    Some(format!("offsetof({ty}, {path})"))
}
