//! Builds the C parts against the headers and the static library with the
//! host C compiler and runs them: the C VMM example, the bad-input test, the
//! ABI check (prototypes, symbols, struct layouts on both sides), and the
//! CMake package. Without the C compiler (or cmake) on PATH at build time the
//! tests that need it are ignored (`cfg(has_cc)`, `cfg(has_cmake)`).

mod support;
use support::{host_staticlib, include_dir, repo, tmp};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn cc() -> String {
    std::env::var("CC").unwrap_or_else(|_| "cc".into())
}

const LIBS: &[&str] = &["-lpthread", "-ldl", "-lm"];

/// Compiles and links `sources` (+ the library) into `out`; panics with
/// the compiler output on failure.
fn build(sources: &[PathBuf], extra_includes: &[PathBuf], out: &Path) {
    let mut cmd = Command::new(cc());
    cmd.args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-O1"])
        .arg("-I")
        .arg(include_dir());
    for i in extra_includes {
        cmd.arg("-I").arg(i);
    }
    cmd.args(sources)
        .arg(host_staticlib())
        .args(LIBS)
        .arg("-o")
        .arg(out);
    let o = cmd.output().expect("run the C compiler");
    assert!(
        o.status.success(),
        "{cmd:?} failed:\n{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

fn run(exe: &Path) -> String {
    let o = Command::new(exe).output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "{} failed ({}):\n{out}\n{}",
        exe.display(),
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

#[test]
#[cfg_attr(
    not(has_cc),
    ignore = "no C compiler on PATH (cc or $CC, and nm; apt install gcc)"
)]
fn c_vmm_example_runs_on_host_backend() {
    let d = tmp("c-vmm");
    let ex = repo().join("examples/c-vmm");
    let exe = d.join("c-vmm");
    build(
        &[ex.join("vmm.c"), ex.join("host_main.c")],
        std::slice::from_ref(&ex),
        &exe,
    );
    let out = run(&exe);
    assert!(out.contains("c-vmm: all checks passed"), "{out}");
    assert!(!out.contains("CHECK FAILED"), "{out}");
}

#[test]
#[cfg_attr(
    not(has_cc),
    ignore = "no C compiler on PATH (cc or $CC, and nm; apt install gcc)"
)]
fn bad_input_returns_error_values() {
    let d = tmp("bad-input");
    let exe = d.join("bad_input");
    build(&[repo().join("capi/tests/c/bad_input.c")], &[], &exe);
    let out = run(&exe);
    assert!(out.contains(", 0 failed"), "{out}");
}

/// Function names declared in the library headers (prototypes at the start
/// of a line, outside typedefs), excluding the application-defined entry.
fn declared_functions() -> Vec<String> {
    let mut names = Vec::new();
    let mut files = Vec::new();
    for sub in ["", "arch", "sel4_arch"] {
        for e in std::fs::read_dir(include_dir().join("sel4vm").join(sub)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "h") {
                files.push(p);
            }
        }
    }
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let mut in_comment = false;
        for line in text.lines() {
            let l = line.trim_start();
            if in_comment {
                in_comment = !l.contains("*/");
                continue;
            }
            if l.starts_with("/*") {
                in_comment = !l.contains("*/");
                continue;
            }
            if line.starts_with(' ')
                || l.starts_with("typedef")
                || l.starts_with('#')
                || l.starts_with("static")
            {
                continue;
            }
            // `ret name(args` with a name before the first '('.
            let Some(open) = l.find('(') else { continue };
            if l[..open].contains('=') || l[..open].contains("(*") {
                continue;
            }
            let name = l[..open].rsplit([' ', '*']).next().unwrap_or("");
            if !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && l[..open].contains(' ')
                // Defined by the application / only in the seL4 root-task
                // build (the seL4 C example links both).
                && !["sel4vm_root_main", "sel4vm_bootinfo"].contains(&name)
            {
                names.push(name.to_string());
            }
        }
    }
    names.sort();
    names.dedup();
    names
}

#[test]
#[cfg_attr(
    not(has_cc),
    ignore = "no C compiler on PATH (cc or $CC, and nm; apt install gcc)"
)]
fn abi_check_prototypes_symbols_and_layouts() {
    let d = tmp("abi");
    let src = repo().join("capi/tests/c/abi_check.c");
    let text = std::fs::read_to_string(&src).unwrap();
    // Every declared function must be in the check list.
    let listed: Vec<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("F("))
        .map(|l| l.split(", ").nth(1).unwrap().to_string())
        .collect();
    let declared = declared_functions();
    assert!(
        declared.len() >= 57 + 3,
        "header scan found only {declared:?}"
    );
    for name in &declared {
        assert!(
            listed.contains(name),
            "{name} is declared in the headers but not in abi_check.c"
        );
    }
    // The 57 libsel4vm functions are all there.
    let libsel4vm_count = declared
        .iter()
        .filter(|n| !n.starts_with("sel4vm_"))
        .count();
    assert_eq!(
        libsel4vm_count, 57,
        "libsel4vm functions in the headers: {declared:?}"
    );

    // Generated: the function list and the Rust layout table.
    let inc: String = listed.iter().map(|n| format!("P({n})\n")).collect();
    std::fs::write(d.join("abi_functions.inc"), inc).unwrap();
    let table = sel4vm::layout::table();
    let mut h =
        String::from("/* generated by capi/tests/c_api.rs from sel4vm_capi::layout::table() */\n");
    h.push_str("#include <stddef.h>\n");
    let mut rows = String::new();
    for (name, value) in table {
        let expr =
            sel4vm::layout::c_expr(name).unwrap_or_else(|| panic!("no C expression for {name}"));
        h.push_str(&format!(
            "_Static_assert({expr} == {value}, \"{name}: Rust says {value}\");\n"
        ));
        rows.push_str(&format!("    {{\"{name}\", {expr}}},\n"));
    }
    h.push_str("static const struct { const char *name; size_t c_value; } sel4vm_layout[] = {\n");
    h.push_str(&rows);
    h.push_str("};\n");
    std::fs::write(d.join("sel4vm_layout.h"), h).unwrap();

    let exe = d.join("abi_check");
    build(&[src], std::slice::from_ref(&d), &exe);
    let out = run(&exe);
    // The C side's values, compared on the Rust side too.
    let c: BTreeMap<&str, usize> = out
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k, v.parse().ok()?))
        })
        .collect();
    assert_eq!(c.get("functions"), Some(&listed.len()));
    for (name, value) in table {
        assert_eq!(
            c.get(name),
            Some(value),
            "{name}: C and Rust layouts differ"
        );
    }

    // Every listed function is a defined global symbol of the archive.
    let o = Command::new("nm")
        .args(["-g", "--defined-only"])
        .arg(host_staticlib())
        .output()
        .expect("run nm (apt install binutils)");
    assert!(
        o.status.success(),
        "nm failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let syms = String::from_utf8_lossy(&o.stdout);
    let defined: std::collections::BTreeSet<&str> = syms
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2))
        .collect();
    for n in &listed {
        assert!(
            defined.contains(n.as_str()),
            "{n} is not exported by libsel4vm.a"
        );
    }
}

#[test]
fn layout_table_has_no_duplicates() {
    let t = sel4vm::layout::table();
    let mut names: Vec<_> = t.iter().map(|(n, _)| *n).collect();
    names.sort();
    let before = names.len();
    names.dedup();
    assert_eq!(before, names.len());
    assert!(t.iter().any(|(n, v)| *n == "off_vm_t_vcpus__" && *v > 0));
}

/// Configures and builds the C VMM example through the CMake package, both
/// as `find_package(sel4vm CONFIG)` and as `add_subdirectory`, and runs it.
#[test]
#[cfg_attr(
    not(all(has_cmake, has_cc)),
    ignore = "cmake or the C compiler not found on PATH (apt install cmake gcc)"
)]
fn cmake_package_builds_and_links_the_example() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    // Own cargo target dir (the outer cargo holds the lock on ours); kept
    // between runs so only the first one compiles the crates.
    let cargo_target = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cmake-cargo");
    let repo = repo();
    for (variant, import) in [
        (
            "find-package",
            format!(
                "find_package(sel4vm 0.1 CONFIG REQUIRED PATHS \"{}/cmake\" NO_DEFAULT_PATH)",
                repo.display()
            ),
        ),
        (
            "add-subdirectory",
            format!("add_subdirectory(\"{}/cmake\" sel4vm)", repo.display()),
        ),
    ] {
        let d = tmp(&format!("cmake-{variant}"));
        let ex = repo.join("examples/c-vmm");
        let lists = format!(
            "cmake_minimum_required(VERSION 3.16)\n\
             project(c_vmm_{v} C)\n\
             {import}\n\
             add_executable(c-vmm \"{ex}/vmm.c\" \"{ex}/host_main.c\")\n\
             target_include_directories(c-vmm PRIVATE \"{ex}\")\n\
             target_compile_options(c-vmm PRIVATE -Wall -Wextra -Werror)\n\
             target_link_libraries(c-vmm PRIVATE sel4vm::sel4vm)\n",
            v = variant.replace('-', "_"),
            ex = ex.display(),
        );
        std::fs::write(d.join("CMakeLists.txt"), lists).unwrap();
        let build = d.join("build");
        let status = |c: &mut Command| {
            let o = c.output().unwrap();
            assert!(
                o.status.success(),
                "{c:?}:\n{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
        };
        status(
            Command::new("cmake")
                .arg("-S")
                .arg(&d)
                .arg("-B")
                .arg(&build)
                .arg(format!("-DSEL4VM_CARGO={cargo}"))
                .arg("-DSEL4VM_CARGO_PROFILE=dev")
                .arg(format!(
                    "-DSEL4VM_CARGO_TARGET_DIR={}",
                    cargo_target.display()
                ))
                .env_remove("SEL4_PREFIX"),
        );
        status(
            Command::new("cmake")
                .arg("--build")
                .arg(&build)
                .env("CARGO_NET_OFFLINE", "true")
                .env_remove("SEL4_PREFIX"),
        );
        let out = run(&build.join("c-vmm"));
        assert!(out.contains("c-vmm: all checks passed"), "{variant}: {out}");
    }
}
