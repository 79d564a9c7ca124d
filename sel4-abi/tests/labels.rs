//! Checks the checked-in ABI table (`src/labels_default.rs`) against the
//! installed kernel named by `SEL4_PREFIX`, and exercises the parsers shared
//! with `build.rs` on small synthetic inputs.

#[path = "../build_support/kernel_facts.rs"]
mod kernel_facts;
#[path = "../build_support/supported_config.rs"]
mod supported_config;

#[allow(dead_code)]
mod checked_in {
    // include! (not #[path] mod) so rustfmt leaves the table's shape alone.
    include!("../src/labels_default.rs");
}

use kernel_facts::{Config, KernelFacts};
use serde_json::json;

fn owned<T: Copy>(t: &[(&str, T)]) -> Vec<(String, T)> {
    t.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

#[test]
#[cfg_attr(not(sel4_prefix), ignore = "needs SEL4_PREFIX")]
fn checked_in_table_matches_install() {
    let prefix = std::env::var_os("SEL4_PREFIX")
        .filter(|p| !p.is_empty())
        .expect("SEL4_PREFIX is not set: this test needs an installed seL4 kernel");
    let prefix = std::path::PathBuf::from(prefix);
    let cfg = kernel_facts::read_config(&prefix).unwrap();
    cfg.validate().unwrap();
    let KernelFacts {
        invocation_labels,
        object_types,
        fault_labels,
        syscalls,
        config,
    } = kernel_facts::derive(&prefix).unwrap();
    assert_eq!(
        invocation_labels,
        owned(checked_in::INVOCATION_LABELS),
        "invocation labels differ"
    );
    assert_eq!(
        object_types,
        owned(checked_in::OBJECT_TYPES),
        "object types differ"
    );
    assert_eq!(
        fault_labels,
        owned(checked_in::FAULT_LABELS),
        "fault labels differ"
    );
    assert_eq!(
        syscalls,
        owned(checked_in::SYSCALLS),
        "syscall numbers differ"
    );
    // Build variants (GIC version) may differ from the checked-in GICv2 values.
    let fixed = |k: &str| !kernel_facts::VARIANT_CONFIG.contains(&k);
    let config: Vec<(String, String)> = config
        .iter()
        .filter(|(k, _)| fixed(k))
        .map(|(k, v)| (k.clone(), kernel_facts::config_text(v)))
        .collect();
    let want: Vec<(String, String)> = checked_in::CONFIG_TABLE
        .iter()
        .filter(|(k, _)| fixed(k))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(config, want, "configuration values differ");
    println!("label check against {} passed", prefix.display());
}

#[test]
fn checked_in_table_is_self_consistent() {
    // Labels are numbered 1.. without gaps; names are unique.
    for (i, (_, v)) in checked_in::INVOCATION_LABELS.iter().enumerate() {
        assert_eq!(*v, i as u64 + 1);
    }
    for (i, (_, v)) in checked_in::SYSCALLS.iter().take(8).enumerate() {
        assert_eq!(*v, -(i as i64) - 1);
    }
    assert_eq!(checked_in::invocation::ARMVCPUInjectIRQ, 50);
    assert_eq!(checked_in::object_type::ARM_VCPUObject, 10);
    assert_eq!(checked_in::fault_label::VPPIEvent, 8);
    assert_eq!(checked_in::syscall::DebugPutChar, -9);
}

fn cfg(mcs: bool, hyp: bool, smp: bool) -> Config {
    Config::from_pairs(&[
        ("KERNEL_MCS", json!(mcs)),
        ("ARM_HYPERVISOR_SUPPORT", json!(hyp)),
        ("ENABLE_SMP_SUPPORT", json!(smp)),
        ("PRINTING", json!(true)),
        ("DEBUG_BUILD", json!(true)),
    ])
}

const GENERIC: &str = r#"<api>
  <interface name="seL4_TCB">
    <method id="TCBConfigure" name="Configure">
      <condition><not><config var="CONFIG_KERNEL_MCS"/></not></condition>
    </method>
    <method id="TCBConfigure" name="Configure">
      <condition><config var="CONFIG_KERNEL_MCS"/></condition>
    </method>
    <method id="TCBSetAffinity" name="SetAffinity">
      <condition><and><not><config var="CONFIG_KERNEL_MCS"/></not><config var="CONFIG_ENABLE_SMP_SUPPORT"/></and></condition>
    </method>
    <method id="TCBResume" name="Resume"/>
  </interface>
</api>"#;
const SEL4_ARCH: &str =
    r#"<api><interface name="x"><method id="ARMSMCCall" name="Call"/></interface></api>"#;
const ARCH: &str = r#"<api><interface name="y">
  <method id="ARMVCPUSetTCB" name="SetTCB"><condition><config var="CONFIG_ARM_HYPERVISOR_SUPPORT"/></condition></method>
  <method id="ARMPageMap" name="Map"/>
</interface></api>"#;

#[test]
fn invocation_numbering_follows_conditions() {
    let l = kernel_facts::invocation_labels(GENERIC, SEL4_ARCH, ARCH, &cfg(false, true, false))
        .unwrap();
    let names: Vec<_> = l.iter().map(|(n, v)| (n.as_str(), *v)).collect();
    assert_eq!(
        names,
        [
            ("TCBConfigure", 1),
            ("TCBResume", 2),
            ("ARMSMCCall", 3),
            ("ARMVCPUSetTCB", 4),
            ("ARMPageMap", 5)
        ]
    );

    // SMP adds SetAffinity, no hypervisor removes SetTCB: later labels shift.
    let l = kernel_facts::invocation_labels(GENERIC, SEL4_ARCH, ARCH, &cfg(false, false, true))
        .unwrap();
    let names: Vec<_> = l.iter().map(|(n, v)| (n.as_str(), *v)).collect();
    assert_eq!(
        names,
        [
            ("TCBConfigure", 1),
            ("TCBSetAffinity", 2),
            ("TCBResume", 3),
            ("ARMSMCCall", 4),
            ("ARMPageMap", 5)
        ]
    );

    // MCS picks the other Configure (numbered once) and drops SetAffinity.
    let l =
        kernel_facts::invocation_labels(GENERIC, SEL4_ARCH, ARCH, &cfg(true, true, true)).unwrap();
    assert_eq!(l[0], ("TCBConfigure".to_string(), 1));
    assert_eq!(l[1], ("TCBResume".to_string(), 2));
    assert_eq!(l.len(), 5);

    assert!(
        kernel_facts::invocation_labels("<api>", SEL4_ARCH, ARCH, &cfg(false, true, false))
            .is_err()
    );
    let bad = r#"<api><method id="X"><condition><xor/></condition></method></api>"#;
    assert!(
        kernel_facts::invocation_labels(bad, SEL4_ARCH, ARCH, &cfg(false, true, false)).is_err()
    );
}

#[test]
fn syscall_numbers_count_disabled_entries() {
    let xml = r#"<syscalls>
      <api-master><config><syscall name="Call"/><syscall name="ReplyRecv"/></config></api-master>
      <api-mcs><config><syscall name="Call"/><syscall name="Wait"/><syscall name="NBWait"/></config></api-mcs>
      <debug>
        <config><condition><config var="CONFIG_NOT_SET"/></condition><syscall name="Hidden"/></config>
        <config><condition><config var="CONFIG_PRINTING"/></condition><syscall name="DebugPutChar"/></config>
      </debug>
    </syscalls>"#;
    let s = kernel_facts::syscalls(xml, &cfg(false, true, false)).unwrap();
    assert_eq!(
        s,
        vec![
            ("Call".into(), -1),
            ("ReplyRecv".into(), -2),
            ("DebugPutChar".into(), -4)
        ]
    );
    let s = kernel_facts::syscalls(xml, &cfg(true, true, false)).unwrap();
    assert_eq!(s.last().unwrap(), &("DebugPutChar".to_string(), -5));
}

#[test]
fn header_enums_follow_ifdefs_and_references() {
    let base = "typedef enum api_object {\n  seL4_UntypedObject,\n  seL4_TCBObject,\n#ifdef CONFIG_KERNEL_MCS\n  seL4_SchedContextObject,\n#endif\n  seL4_NonArchObjectTypeCount,\n} seL4_ObjectType;\n";
    let b = kernel_facts::header_enums(base, &cfg(false, true, false), &[]).unwrap();
    assert_eq!(
        b.last().unwrap(),
        &("NonArchObjectTypeCount".to_string(), 2)
    );
    let arch = "/* c */\ntypedef enum _object {\n    seL4_ARM_SmallPageObject = seL4_NonArchObjectTypeCount, // x\n#ifndef CONFIG_ARM_HYPERVISOR_SUPPORT\n    seL4_Nope,\n#else\n    seL4_ARM_VCPUObject,\n#endif\n    seL4_ObjectTypeCount\n} seL4_ArchObjectType;\n#ifndef CONFIG_ARM_HYPERVISOR_SUPPORT\n#define seL4_ARM_VCPUObject 0xfffe\n#endif\n";
    let a = kernel_facts::header_enums(arch, &cfg(false, true, false), &b).unwrap();
    let names: Vec<_> = a.iter().map(|(n, v)| (n.as_str(), *v)).collect();
    assert_eq!(
        names,
        [
            ("ARM_SmallPageObject", 2),
            ("ARM_VCPUObject", 3),
            ("ObjectTypeCount", 4)
        ]
    );
    assert!(kernel_facts::header_enums(
        "enum x {\n a = UNKNOWN,\n};\n",
        &cfg(false, true, false),
        &[]
    )
    .is_err());
    assert!(kernel_facts::header_enums("#ifdef X\n", &cfg(false, true, false), &[]).is_err());
}

#[test]
fn fault_tag_enum_is_parsed() {
    let h = "struct x;\nenum seL4_Fault_tag {\n    seL4_Fault_NullFault = 0,\n    seL4_Fault_VMFault = 5,\n    seL4_Fault_VPPIEvent = 8\n};\n";
    let f = kernel_facts::fault_labels(h).unwrap();
    assert_eq!(
        f,
        vec![
            ("NullFault".into(), 0),
            ("VMFault".into(), 5),
            ("VPPIEvent".into(), 8)
        ]
    );
    assert!(kernel_facts::fault_labels("enum other {};").is_err());
}

/// `-DKernelDebugBuild=ON` without `-DKernelVerificationBuild=OFF` installs
/// a verification build with debug and printing off: every line names the
/// real fix, not the option the user already passed.
#[test]
fn a_verification_build_names_kernel_verification_build_off() {
    let cfg = Config::from_pairs(&[
        ("PLAT", json!("qemu-arm-virt")),
        ("SEL4_ARCH", json!("aarch64")),
        ("ARM_HYPERVISOR_SUPPORT", json!(true)),
        ("KERNEL_MCS", json!(false)),
        ("MAX_NUM_NODES", json!("1")),
        ("VERIFICATION_BUILD", json!(true)),
        ("DEBUG_BUILD", json!(false)),
        ("PRINTING", json!(false)),
        ("EXPORT_PTMR_USER", json!(true)),
        ("VTIMER_UPDATE_VOFFSET", json!(false)),
        ("TIME_SLICE", json!("1")),
    ]);
    let e = cfg.validate().unwrap_err();
    let lines: Vec<&str> = e.lines().collect();
    assert_eq!(lines.len(), 3, "{e}");
    assert!(lines[0].starts_with(
        "unsupported seL4 configuration: KernelVerificationBuild (CONFIG_VERIFICATION_BUILD) is ON"
    ));
    for l in &lines {
        assert!(
            l.contains("reconfigure the kernel with -DKernelVerificationBuild=OFF"),
            "{l}"
        );
    }
    assert!(lines[1].contains("KernelDebugBuild (CONFIG_DEBUG_BUILD) is OFF"));
}

#[test]
fn validation_names_option_found_and_supported_value() {
    let good = Config::from_pairs(&[
        ("PLAT", json!("qemu-arm-virt")),
        ("SEL4_ARCH", json!("aarch64")),
        ("ARM_HYPERVISOR_SUPPORT", json!(true)),
        ("KERNEL_MCS", json!(false)),
        ("MAX_NUM_NODES", json!("1")),
        ("DEBUG_BUILD", json!(true)),
        ("PRINTING", json!(true)),
        ("EXPORT_PTMR_USER", json!(true)),
        ("VTIMER_UPDATE_VOFFSET", json!(false)),
        ("TIME_SLICE", json!("1")),
    ]);
    good.validate().unwrap();
    let bad = Config::from_pairs(&[
        ("PLAT", json!("qemu-arm-virt")),
        ("SEL4_ARCH", json!("aarch64")),
        ("ARM_HYPERVISOR_SUPPORT", json!(true)),
        ("KERNEL_MCS", json!(true)),
        ("MAX_NUM_NODES", json!("4")),
    ]);
    let e = bad.validate().unwrap_err();
    assert!(
        e.contains("KernelIsMCS (CONFIG_KERNEL_MCS) is ON, sel4-abi supports only OFF"),
        "{e}"
    );
    assert!(
        e.contains("KernelMaxNumNodes (CONFIG_MAX_NUM_NODES) is 4, sel4-abi supports only 1"),
        "{e}"
    );
    assert!(
        e.contains("KernelPrinting (CONFIG_PRINTING) is <not set>, sel4-abi supports only ON"),
        "{e}"
    );
    assert!(
        e.contains(
            "KernelArmExportPTMRUser (CONFIG_EXPORT_PTMR_USER) is <not set>, sel4-abi supports only ON"
        ),
        "{e}"
    );
    let voff = Config::from_pairs(&[
        ("PLAT", json!("qemu-arm-virt")),
        ("SEL4_ARCH", json!("aarch64")),
        ("ARM_HYPERVISOR_SUPPORT", json!(true)),
        ("KERNEL_MCS", json!(false)),
        ("MAX_NUM_NODES", json!("1")),
        ("DEBUG_BUILD", json!(true)),
        ("PRINTING", json!(true)),
        ("EXPORT_PTMR_USER", json!(true)),
        ("VTIMER_UPDATE_VOFFSET", json!(true)),
    ]);
    let e = voff.validate().unwrap_err();
    assert!(
        e.contains("KernelArmVtimerUpdateVOffset (CONFIG_VTIMER_UPDATE_VOFFSET) is ON, sel4-abi supports only OFF"),
        "{e}"
    );
    assert!(Config::parse("[1,2]").is_err());
    assert!(Config::parse("{").is_err());
}

/// The CMake package stages exactly these files from a seL4 build that
/// configures the kernel in-tree (`cmake/sel4vm.cmake`, `SEL4VM_KERNEL_FILES`),
/// so its list must be the one `build.rs` reads.
#[test]
fn cmake_package_stages_the_install_files() {
    let cmake = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../cmake/sel4vm.cmake"),
    )
    .unwrap();
    let start = cmake
        .find("set(SEL4VM_KERNEL_FILES")
        .expect("SEL4VM_KERNEL_FILES in cmake/sel4vm.cmake");
    let body = &cmake[start + "set(SEL4VM_KERNEL_FILES".len()..];
    let listed: Vec<&str> = body[..body.find(')').unwrap()].split_whitespace().collect();
    assert_eq!(listed, kernel_facts::INSTALL_FILES);
}
