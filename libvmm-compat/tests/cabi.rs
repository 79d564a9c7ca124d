//! The C ABI on the default guest. One test: the default guest is global.

mod common;
use common::*;

use std::ffi::c_void;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

use libvmm_compat::cabi::{self, DefaultGuest};
use libvmm_compat::{CoreIrqOnly, Guest, GuestError};
use sel4vm::{Event, VcpuId};
use sel4vm_host::HostBackend;

static ACKS: AtomicUsize = AtomicUsize::new(0);
static LAST_CH: AtomicU32 = AtomicU32::new(0);

extern "C" fn ack(_vcpu: usize, _irq: i32, cookie: *mut c_void) {
    ACKS.fetch_add(cookie as usize, Ordering::SeqCst);
}
extern "C" fn hw_ack(ch: u32) {
    LAST_CH.store(ch, Ordering::SeqCst);
}

#[test]
fn c_functions_follow_libvmm_conventions() {
    // No default guest yet: every call fails cleanly.
    assert!(!cabi::virq_controller_init(0));
    assert_eq!(
        cabi::with_default(|_| Ok(())),
        Err(GuestError::NoDefaultGuest)
    );

    let g: Box<dyn DefaultGuest> = Box::new(Guest::new(vm(2), Box::new(CoreIrqOnly)).unwrap());
    assert!(cabi::set_default_guest(Some(g)).unwrap().is_none());

    let k = image(0, 2 * MIB, FLAGS, 40_000);
    let i = vec![7u8; 5000];
    let (kbase, dtb_at, initrd_at) = (RAM + 2 * MIB, RAM + 8 * MIB, RAM + 10 * MIB);
    let d = dtb(Some((initrd_at, initrd_at + i.len() as u64)));
    let call = |k: &[u8]| unsafe {
        cabi::linux_setup_images(
            kbase as usize,
            k.as_ptr() as usize,
            k.len(),
            d.as_ptr() as usize,
            dtb_at as usize,
            d.len(),
            i.as_ptr() as usize,
            initrd_at as usize,
            i.len(),
        )
    };
    assert_eq!(call(&[0u8; 100]), usize::MAX, "not a kernel: -1");
    assert_eq!(call(&k), kbase as usize);
    let null = unsafe { cabi::linux_setup_images(kbase as usize, 0, 10, 0, 0, 0, 0, 0, 0) };
    assert_eq!(null, usize::MAX);

    assert!(
        !cabi::virq_register(0, 40, Some(ack), std::ptr::null_mut()),
        "before controller init"
    );
    assert!(cabi::virq_controller_init(0));
    assert!(!cabi::virq_controller_init(0));
    assert!(cabi::virq_register(0, 40, Some(ack), 3 as *mut c_void));
    assert!(
        !cabi::virq_register(0, 40, Some(ack), std::ptr::null_mut()),
        "registered twice"
    );
    assert!(
        !cabi::virq_register(0, 41, None, std::ptr::null_mut()),
        "null ack"
    );
    assert!(!cabi::virq_inject(0, 41), "unregistered");
    assert!(!cabi::virq_inject(0, -1), "negative");
    assert!(
        !cabi::virq_register_passthrough(0, 33, 2),
        "no hardware ack hook yet"
    );
    cabi::libvmm_set_passthrough_ack(Some(hw_ack));
    assert!(cabi::virq_register_passthrough(0, 33, 2));
    assert!(!cabi::virq_handle_passthrough(3));

    assert!(!cabi::guest_start(9, 0, 0, 0));
    assert!(cabi::guest_start(0, kbase as usize, dtb_at as usize, 0));
    assert!(cabi::virq_inject(0, 40));
    assert!(cabi::virq_handle_passthrough(2));

    // The guest completes both IRQs (vGIC maintenance for LRs 0 and 1):
    // the C ack gets its cookie, the passthrough hook its channel.
    cabi::with_default(|g| {
        let g = g.as_any_mut().downcast_mut::<Guest<HostBackend>>().unwrap();
        for lr in [0, 1] {
            g.vm_mut().backend_mut().push_event(Event::VgicMaintenance {
                vcpu: VcpuId(0),
                lr: Some(lr),
            });
        }
        g.vm_mut().run();
        Ok(())
    })
    .unwrap();
    assert_eq!(ACKS.load(Ordering::SeqCst), 3);
    assert_eq!(LAST_CH.load(Ordering::SeqCst), 2);

    // Restart needs RAM that exists.
    assert!(!cabi::guest_restart(0, 0x1000, 4096));
    assert!(cabi::guest_restart(0, RAM as usize, RAM_SIZE as usize));
    cabi::with_default(|g| {
        let g = g.as_any_mut().downcast_mut::<Guest<HostBackend>>().unwrap();
        assert_eq!(
            read(g.vm_mut(), kbase, k.len()),
            k,
            "kernel reloaded from its source"
        );
        assert_eq!(
            g.vm_mut().get_thread_context(VcpuId(0)).unwrap().pc(),
            kbase
        );
        Ok(())
    })
    .unwrap();
    cabi::guest_stop(0);
    assert!(cabi::guest_start(0, kbase as usize, dtb_at as usize, 0));

    // Re-entry from inside a call is refused, not aliased.
    let r = cabi::with_default(|_| Ok(cabi::virq_controller_init(0)));
    assert_eq!(r, Ok(false));
    assert_eq!(
        cabi::with_default(|_| cabi::with_default(|_| Ok(()))),
        Err(GuestError::Reentrant)
    );
    cabi::set_default_guest(None).unwrap();
}

/// Compiles the header with the host C compiler (`$CC`, else `cc`) against
/// libvmm's documented prototypes.
#[test]
#[cfg_attr(
    not(has_cc),
    ignore = "no C compiler on PATH (cc or $CC; apt install gcc)"
)]
fn header_matches_the_libvmm_signatures() {
    syntax_check(
        "libvmm-header",
        &[],
        r#"#include <libvmm/libvmm.h>
uintptr_t (*p0)(uintptr_t, uintptr_t, size_t, uintptr_t, uintptr_t, size_t, uintptr_t, uintptr_t, size_t) = linux_setup_images;
bool (*p1)(size_t) = virq_controller_init;
bool (*p2)(size_t, size_t, virq_ack_fn_t, void *) = virq_register;
bool (*p3)(size_t, int) = virq_inject;
bool (*p4)(size_t, size_t, microkit_channel) = virq_register_passthrough;
bool (*p5)(microkit_channel) = virq_handle_passthrough;
bool (*p6)(size_t, uintptr_t, uintptr_t, uintptr_t) = guest_start;
void (*p7)(size_t) = guest_stop;
bool (*p8)(size_t, uintptr_t, size_t) = guest_restart;
void (*p9)(void (*)(microkit_channel)) = libvmm_set_passthrough_ack;
typedef char ack_is_size_int_ptr[sizeof(virq_ack_fn_t) == sizeof(void *) ? 1 : -1];
"#,
    );
}

/// Every function the crate exports is declared in the header.
#[test]
fn header_declares_every_export() {
    let inc = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("include");
    let mut text = String::new();
    for f in ["linux.h", "virq.h", "guest.h"] {
        text += &std::fs::read_to_string(inc.join("libvmm").join(f)).unwrap();
    }
    for name in cabi::EXPORTS {
        assert!(
            text.contains(&format!("{name}(")),
            "{name} missing from the header"
        );
    }
}

/// The 0.2.0 headers (`LIBVMM_API_VERSION=2`) against libvmm 0.2.0's
/// aarch64 prototypes, and the 0.1.0 ones still the default.
#[test]
#[cfg_attr(
    not(has_cc),
    ignore = "no C compiler on PATH (cc or $CC; apt install gcc)"
)]
fn v2_header_matches_the_libvmm_0_2_0_signatures() {
    syntax_check(
        "libvmm2-header",
        &["-Wextra"],
        r#"#define LIBVMM_API_VERSION 2
#include <libvmm/libvmm.h>
bool (*q0)(arch_guest_init_t) = guest_init;
bool (*q1)(uintptr_t, uintptr_t, uintptr_t) = guest_start;
void (*q2)(void) = guest_stop;
bool (*q3)(uintptr_t, size_t) = guest_restart;
bool (*q4)(void) = virq_controller_init;
bool (*q5)(irq_routing_info_t) = virq_inject;
bool (*q6)(irq_routing_info_t, bool) = virq_set_level;
bool (*q7)(irq_routing_info_t, virq_ack_fn_t, void *) = virq_register;
bool (*q8)(irq_routing_info_t) = virq_deregister;
bool (*q9)(irq_routing_info_t, microkit_channel) = virq_register_passthrough;
bool (*q10)(microkit_channel) = virq_handle_passthrough;
uint64_t (*q11)(uint64_t, uintptr_t, size_t, uintptr_t, uint64_t, size_t, uintptr_t, uint64_t, size_t) = linux_setup_images;
bool (*q12)(struct guest_ram_region) = guest_ram_add_region;
void *(*q13)(uint64_t, size_t) = gpa_to_hva;
struct guest_ram_region *(*q14)(int *) = guest_ram_get_regions;
bool (*q15)(size_t) = vcpu_is_on;
int (*q16)(uint64_t) = fault_get_width_bytes;
uint64_t (*q17)(uint64_t, uint64_t) = fault_get_data_mask;
bool (*q18)(uint64_t) = fault_is_write;
bool (*q19)(uint64_t) = fault_is_read;
void (*q20)(irq_routing_info_t, void *) = (virq_ack_fn_t)0;
typedef char route_layout[sizeof(irq_routing_info_t) == 12 ? 1 : -1];
typedef char region_layout[sizeof(struct guest_ram_region) == 8 + 8 + sizeof(void *) ? 1 : -1];
typedef char init_layout[sizeof(arch_guest_init_t) == 2 * sizeof(size_t) + 3 * sizeof(struct guest_ram_region) + 32 ? 1 : -1];
"#,
    );
}

/// Every 0.2.0 export is what some 0.2.0 header maps a libvmm name to.
#[test]
fn v2_headers_map_every_export() {
    let inc = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("include/libvmm");
    let mut text = String::new();
    for f in [
        "v2/guest.h",
        "v2/virq.h",
        "guest_ram.h",
        "vcpu.h",
        "arch/aarch64/linux.h",
        "arch/aarch64/fault.h",
    ] {
        text += &std::fs::read_to_string(inc.join(f)).unwrap();
    }
    for sym in libvmm_compat::cabi2::EXPORTS {
        let name = sym.strip_prefix("libvmm2_").unwrap();
        assert!(
            text.contains(&format!("#define {name} {sym}\n")),
            "{sym} not mapped"
        );
        assert!(text.contains(&format!("{name}(")), "{name} not declared");
    }
}

/// The Rust view of the 0.2.0 C types matches their C layout.
#[test]
fn v2_type_layouts() {
    use libvmm_compat::cabi2::{ArchGuestInit, IrqRoutingInfo};
    assert_eq!(std::mem::size_of::<IrqRoutingInfo>(), 12);
    assert_eq!(std::mem::size_of::<libvmm_compat::RamView>(), 24);
    assert_eq!(std::mem::size_of::<ArchGuestInit>(), 16 + 3 * 24 + 32);
    let r = IrqRoutingInfo::arm_gic(1, 40);
    assert_eq!(r.to_arm(), Ok((1, 40)));
    let mut bad = r;
    bad.kind = libvmm_compat::cabi2::IRQ_TYPE_X86_IOAPIC;
    assert_eq!(bad.to_arm(), Err(GuestError::NotArmGicRoute(2)));
}

/// Compiles `src` (`-fsyntax-only`, C11, `-Wall -Werror` and `extra`)
/// with the host C compiler (`$CC`, else `cc`) against `include/`;
/// panics with the diagnostics if it does not compile.
fn syntax_check(name: &str, extra: &[&str], src: &str) {
    let inc = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("include");
    let probe = std::env::temp_dir().join(format!("{name}-{}.c", std::process::id()));
    std::fs::write(&probe, src).unwrap();
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let out = std::process::Command::new(&cc)
        .args(["-std=c11", "-Wall", "-Werror", "-fsyntax-only"])
        .args(extra)
        .arg("-I")
        .arg(&inc)
        .arg(&probe)
        .output();
    let _ = std::fs::remove_file(&probe);
    let o = out.unwrap_or_else(|e| panic!("run the C compiler `{cc}`: {e}"));
    assert!(
        o.status.success(),
        "{name}: header check failed:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
}
