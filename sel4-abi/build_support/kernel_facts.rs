//! Derives ABI numbers (invocation labels, object types, fault labels, syscall
//! numbers) and configuration facts from an installed seL4 kernel
//! (`SEL4_PREFIX`), and renders them as Rust source.
//!
//! Shared by `build.rs` and `tests/labels.rs` through `#[path]` so the parsing
//! is written once. Uses std, `roxmltree` and `serde_json`.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::supported_config;

/// Configuration values re-exported to Rust code as `config::NAME` (all are
/// `bool` or `usize` in the output).
pub const EXPORTED_CONFIG: &[(&str, ConfigKind)] = &[
    ("MAX_NUM_BOOTINFO_UNTYPED_CAPS", ConfigKind::Usize),
    ("NUM_PRIORITIES", ConfigKind::Usize),
    ("DEBUG_BUILD", ConfigKind::Bool),
    ("PRINTING", ConfigKind::Bool),
    ("ALLOW_SMC_CALLS", ConfigKind::Bool),
    ("HARDWARE_DEBUG_API", ConfigKind::Bool),
    ("ARM_PA_SIZE_BITS_40", ConfigKind::Bool),
    ("ARM_PA_SIZE_BITS_44", ConfigKind::Bool),
    ("ARM_GIC_V3_SUPPORT", ConfigKind::Bool),
    ("ENABLE_SMP_SUPPORT", ConfigKind::Bool),
    ("FASTPATH", ConfigKind::Bool),
    ("TIMER_FREQUENCY", ConfigKind::Usize),
    ("TIMER_TICK_MS", ConfigKind::Usize),
];

/// Exported values that legitimately differ between supported installs
/// (GICv2 and GICv3 builds, the 2 ms default or recommended 10 ms tick);
/// the checked-in table holds the GICv2, 2 ms values.
pub const VARIANT_CONFIG: &[&str] = &["ARM_GIC_V3_SUPPORT", "TIMER_TICK_MS"];

/// How an exported configuration value is typed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigKind {
    Bool,
    Usize,
}

/// A value of [`EXPORTED_CONFIG`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigValue {
    Bool(bool),
    Usize(usize),
}

/// Parsed `gen_config.json`.
#[derive(Clone, Debug, Default)]
pub struct Config {
    values: BTreeMap<String, serde_json::Value>,
}

impl Config {
    /// Parses the text of `gen_config.json` (a flat object of bools/strings).
    pub fn parse(text: &str) -> Result<Config, String> {
        let v: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("gen_config.json: {e}"))?;
        let obj = v
            .as_object()
            .ok_or("gen_config.json: top level is not an object")?;
        Ok(Config {
            values: obj.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        })
    }

    /// Builds a configuration from explicit pairs (tests).
    pub fn from_pairs(pairs: &[(&str, serde_json::Value)]) -> Config {
        Config {
            values: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        }
    }

    /// Whether `CONFIG_<key>` is defined, as the C preprocessor sees it:
    /// `true` bools and non-empty strings are defined; missing keys are not.
    pub fn is_set(&self, key: &str) -> bool {
        let key = key.strip_prefix("CONFIG_").unwrap_or(key);
        match self.values.get(key) {
            Some(serde_json::Value::Bool(b)) => *b,
            Some(serde_json::Value::String(s)) => !s.is_empty(),
            Some(serde_json::Value::Number(_)) => true,
            _ => false,
        }
    }

    /// The raw value of a key.
    pub fn get(&self, key: &str) -> Option<&serde_json::Value> {
        self.values.get(key)
    }

    /// Checks the supported configuration; the error names the CMake option,
    /// the value found and the supported value.
    pub fn validate(&self) -> Result<(), String> {
        let problems: Vec<String> = supported_config::mismatches(|k| self.values.get(k))
            .iter()
            .map(|m| {
                format!(
                    "unsupported seL4 configuration: {} (CONFIG_{}) is {}, sel4-abi supports only {}; \
                     reconfigure the kernel with {}",
                    m.cmake, m.key, m.found, m.supported, m.fix
                )
            })
            .collect();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("\n"))
        }
    }

    /// Values of [`EXPORTED_CONFIG`]; a missing bool is `false`, a missing or
    /// non-numeric size is an error.
    pub fn exported(&self) -> Result<Vec<(String, ConfigValue)>, String> {
        let mut out = Vec::new();
        for &(key, kind) in EXPORTED_CONFIG {
            let v = match kind {
                ConfigKind::Bool => ConfigValue::Bool(self.is_set(key)),
                ConfigKind::Usize => {
                    let n = match self.values.get(key) {
                        Some(serde_json::Value::String(s)) => s.trim().parse::<usize>().ok(),
                        Some(serde_json::Value::Number(n)) => n.as_u64().map(|n| n as usize),
                        _ => None,
                    };
                    ConfigValue::Usize(
                        n.ok_or_else(|| format!("gen_config.json: {key} missing or not a number"))?,
                    )
                }
            };
            out.push((key.to_string(), v));
        }
        Ok(out)
    }
}

/// Evaluates a `<condition>` element of the interface XML against `cfg`.
fn condition_holds(method: roxmltree::Node, cfg: &Config) -> Result<bool, String> {
    let conds: Vec<_> = method
        .children()
        .filter(|c| c.is_element() && c.has_tag_name("condition"))
        .collect();
    match conds.len() {
        0 => Ok(true),
        1 => {
            let mut kids = conds[0].children().filter(|c| c.is_element());
            match (kids.next(), kids.next()) {
                (None, _) => Ok(true),
                (Some(e), None) => eval_expr(e, cfg),
                _ => Err("<condition> with more than one child".into()),
            }
        }
        _ => Err("more than one <condition>".into()),
    }
}

fn eval_expr(e: roxmltree::Node, cfg: &Config) -> Result<bool, String> {
    let kids: Vec<_> = e.children().filter(|c| c.is_element()).collect();
    match e.tag_name().name() {
        "config" => {
            let var = e.attribute("var").ok_or("<config> without var")?;
            Ok(cfg.is_set(var))
        }
        "not" => {
            if kids.len() != 1 {
                return Err("<not> needs exactly one child".into());
            }
            Ok(!eval_expr(kids[0], cfg)?)
        }
        "and" => {
            for k in kids {
                if !eval_expr(k, cfg)? {
                    return Ok(false);
                }
            }
            Ok(true)
        }
        "or" => {
            for k in kids {
                if eval_expr(k, cfg)? {
                    return Ok(true);
                }
            }
            Ok(false)
        }
        other => Err(format!("unknown condition element <{other}>")),
    }
}

/// Invocation labels: methods of the generic, then seL4-arch, then arch
/// interface files, numbered from 1 in document order; methods whose condition
/// is false are left out and a label seen before is not numbered again.
pub fn invocation_labels(
    generic_xml: &str,
    sel4_arch_xml: &str,
    arch_xml: &str,
    cfg: &Config,
) -> Result<Vec<(String, u64)>, String> {
    let mut out: Vec<(String, u64)> = Vec::new();
    let mut next = 1u64;
    for (name, text) in [
        ("object-api.xml", generic_xml),
        ("object-api-sel4-arch.xml", sel4_arch_xml),
        ("object-api-arch.xml", arch_xml),
    ] {
        let doc = roxmltree::Document::parse(text).map_err(|e| format!("{name}: {e}"))?;
        for m in doc
            .descendants()
            .filter(|n| n.is_element() && n.has_tag_name("method"))
        {
            let id = m
                .attribute("id")
                .ok_or_else(|| format!("{name}: <method> without id"))?;
            if condition_holds(m, cfg).map_err(|e| format!("{name}: {id}: {e}"))?
                && !out.iter().any(|(l, _)| l == id)
            {
                out.push((id.to_string(), next));
                next += 1;
            }
        }
    }
    if out.is_empty() {
        return Err("no invocation methods found".into());
    }
    Ok(out)
}

/// Syscall numbers: -1, -2, ... over every syscall listed for the non-MCS API
/// and then the debug section, whether enabled or not; only enabled ones are
/// returned.
pub fn syscalls(syscall_xml: &str, cfg: &Config) -> Result<Vec<(String, i64)>, String> {
    let doc = roxmltree::Document::parse(syscall_xml).map_err(|e| format!("syscall.xml: {e}"))?;
    let root = doc.root_element();
    let api_tag = if cfg.is_set("KERNEL_MCS") {
        "api-mcs"
    } else {
        "api-master"
    };
    let mut out = Vec::new();
    let mut n = -1i64;
    for section in [api_tag, "debug"] {
        let sec = root
            .children()
            .find(|c| c.is_element() && c.has_tag_name(section))
            .ok_or_else(|| format!("syscall.xml: no <{section}>"))?;
        for config in sec
            .children()
            .filter(|c| c.is_element() && c.has_tag_name("config"))
        {
            let enabled = condition_holds(config, cfg)?;
            for s in config
                .children()
                .filter(|c| c.is_element() && c.has_tag_name("syscall"))
            {
                let name = s
                    .attribute("name")
                    .ok_or("syscall.xml: <syscall> without name")?;
                if enabled {
                    out.push((name.to_string(), n));
                }
                n -= 1;
            }
        }
    }
    Ok(out)
}

/// Enumerators of the C enums in a header, with `#ifdef`/`#ifndef`/`#else`/
/// `#endif` (and `#if defined(X)`) evaluated against `cfg`. `known` carries
/// values from earlier headers so `= seL4_NonArchObjectTypeCount` resolves.
/// Names are returned without the `seL4_` prefix.
pub fn header_enums(
    header: &str,
    cfg: &Config,
    known: &[(String, u64)],
) -> Result<Vec<(String, u64)>, String> {
    let mut out = Vec::new();
    let mut stack: Vec<(bool, bool)> = Vec::new(); // (this branch active, parent active)
    let mut in_enum = false;
    let mut next = 0u64;
    let active = |stack: &Vec<(bool, bool)>| stack.iter().all(|&(a, _)| a);
    let text = strip_c_comments(header);
    for raw in text.lines() {
        let line = raw.trim();
        if let Some(rest) = line.strip_prefix('#') {
            let rest = rest.trim();
            let (dir, arg) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            let arg = arg.trim();
            match dir {
                "ifdef" => stack.push((cfg.is_set(arg), true)),
                "ifndef" => stack.push((!cfg.is_set(arg), true)),
                "if" => {
                    let v = eval_if(arg, cfg)?;
                    stack.push((v, true));
                }
                "else" => {
                    let top = stack.last_mut().ok_or("#else without #if")?;
                    top.0 = !top.0;
                }
                "endif" => {
                    stack.pop().ok_or("#endif without #if")?;
                }
                _ => {}
            }
            continue;
        }
        if !active(&stack) {
            continue;
        }
        if !in_enum {
            if line.starts_with("typedef enum") || (line.starts_with("enum") && line.contains('{'))
            {
                in_enum = true;
                next = 0;
            }
            continue;
        }
        if line.starts_with('}') {
            in_enum = false;
            continue;
        }
        if line.is_empty() || line == "{" || line.starts_with("SEL4_FORCE_LONG_ENUM") {
            continue;
        }
        let item = line.trim_end_matches(',').trim();
        let (name, value) = match item.split_once('=') {
            Some((n, v)) => {
                let v = v.trim();
                let val = parse_c_int(v)
                    .or_else(|| {
                        let key = v.strip_prefix("seL4_").unwrap_or(v);
                        out.iter()
                            .chain(known.iter())
                            .find(|(k, _)| k == key)
                            .map(|(_, x)| *x)
                    })
                    .ok_or_else(|| format!("cannot resolve enum value `{v}`"))?;
                (n.trim(), val)
            }
            None => (item, next),
        };
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("unexpected enum line `{line}`"));
        }
        out.push((
            name.strip_prefix("seL4_").unwrap_or(name).to_string(),
            value,
        ));
        next = value + 1;
    }
    if !stack.is_empty() {
        return Err("unterminated #if".into());
    }
    Ok(out)
}

fn eval_if(expr: &str, cfg: &Config) -> Result<bool, String> {
    // Only `defined(X)`, `!defined(X)` and `||`/`&&` chains of them occur in
    // the headers we read.
    let e = expr.trim();
    if let Some((a, b)) = e.split_once("||") {
        return Ok(eval_if(a, cfg)? || eval_if(b, cfg)?);
    }
    if let Some((a, b)) = e.split_once("&&") {
        return Ok(eval_if(a, cfg)? && eval_if(b, cfg)?);
    }
    if let Some(inner) = e.strip_prefix('!') {
        return Ok(!eval_if(inner, cfg)?);
    }
    let inner = e
        .strip_prefix("defined")
        .map(|s| {
            s.trim()
                .trim_start_matches('(')
                .trim_end_matches(')')
                .trim()
        })
        .ok_or_else(|| format!("unsupported #if expression `{expr}`"))?;
    Ok(cfg.is_set(inner))
}

fn parse_c_int(s: &str) -> Option<u64> {
    let s = s.trim().trim_end_matches(['u', 'U', 'l', 'L']);
    if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u64::from_str_radix(h, 16).ok()
    } else {
        s.parse().ok()
    }
}

fn strip_c_comments(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
            match s[i + 2..].find("*/") {
                Some(end) => {
                    // Keep line structure for the line-based parser.
                    out.extend(s[i..i + 2 + end + 2].chars().filter(|&c| c == '\n'));
                    i += 2 + end + 2;
                }
                None => break,
            }
        } else if b[i] == b'/' && b.get(i + 1) == Some(&b'/') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else {
            let ch = s[i..].chars().next().unwrap_or(' ');
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

/// Fault labels from the generated `seL4_Fault_tag` enum
/// (`sel4/sel4_arch/types_gen.h`), names without the `seL4_Fault_` prefix.
pub fn fault_labels(shared_types_gen_h: &str) -> Result<Vec<(String, u64)>, String> {
    let start = shared_types_gen_h
        .find("enum seL4_Fault_tag")
        .ok_or("types_gen.h: no `enum seL4_Fault_tag`")?;
    let body = &shared_types_gen_h[start..];
    let open = body.find('{').ok_or("seL4_Fault_tag: no `{`")?;
    let close = body.find('}').ok_or("seL4_Fault_tag: no `}`")?;
    let mut out = Vec::new();
    for item in body[open + 1..close].split(',') {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let (name, value) = item
            .split_once('=')
            .ok_or_else(|| format!("seL4_Fault_tag: `{item}`"))?;
        let name = name.trim();
        let name = name.strip_prefix("seL4_Fault_").unwrap_or(name);
        let value = parse_c_int(value).ok_or_else(|| format!("seL4_Fault_tag: value `{value}`"))?;
        out.push((name.to_string(), value));
    }
    Ok(out)
}

/// Everything this crate takes from the installed kernel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelFacts {
    pub invocation_labels: Vec<(String, u64)>,
    pub object_types: Vec<(String, u64)>,
    pub fault_labels: Vec<(String, u64)>,
    pub syscalls: Vec<(String, i64)>,
    pub config: Vec<(String, ConfigValue)>,
}

/// The files read from an install, relative to `SEL4_PREFIX`.
pub const INSTALL_FILES: &[&str] = &[
    "libsel4/include/kernel/gen_config.json",
    "libsel4/include/interfaces/object-api.xml",
    "libsel4/include/interfaces/object-api-sel4-arch.xml",
    "libsel4/include/interfaces/object-api-arch.xml",
    "libsel4/include/api/syscall.xml",
    "libsel4/include/sel4/objecttype.h",
    "libsel4/include/sel4/sel4_arch/objecttype.h",
    "libsel4/include/sel4/arch/objecttype.h",
    "libsel4/include/sel4/sel4_arch/types_gen.h",
];

fn read(prefix: &Path, rel: &str) -> Result<String, String> {
    let p: PathBuf = prefix.join(rel);
    std::fs::read_to_string(&p).map_err(|e| format!("cannot read {}: {e}", p.display()))
}

/// Reads the installed kernel's configuration only.
pub fn read_config(prefix: &Path) -> Result<Config, String> {
    Config::parse(&read(prefix, INSTALL_FILES[0])?)
}

/// Derives all facts from an install (does not validate the configuration).
pub fn derive(prefix: &Path) -> Result<KernelFacts, String> {
    let cfg = read_config(prefix)?;
    let f = |i: usize| read(prefix, INSTALL_FILES[i]);
    let invocation_labels = invocation_labels(&f(1)?, &f(2)?, &f(3)?, &cfg)?;
    let syscalls = syscalls(&f(4)?, &cfg)?;
    let mut object_types = header_enums(&f(5)?, &cfg, &[])?;
    let mode = header_enums(&f(6)?, &cfg, &object_types)?;
    object_types.extend(mode);
    let arch = header_enums(&f(7)?, &cfg, &object_types)?;
    object_types.extend(arch);
    let fault_labels = fault_labels(&f(8)?)?;
    Ok(KernelFacts {
        invocation_labels,
        object_types,
        fault_labels,
        syscalls,
        config: cfg.exported()?,
    })
}

/// Renders the facts as the Rust module included by `src/labels.rs`.
pub fn render(f: &KernelFacts) -> String {
    let mut s = String::new();
    s.push_str(
        "// Generated by sel4-abi/build.rs from the installed seL4 kernel. Do not edit.\n\n",
    );
    let table = |s: &mut String,
                 doc: &str,
                 module: &str,
                 table: &str,
                 ty: &str,
                 items: Vec<(String, String)>| {
        let _ = writeln!(s, "/// {doc}");
        let _ = writeln!(s, "#[allow(non_upper_case_globals)]");
        let _ = writeln!(s, "pub mod {module} {{");
        for (k, v) in &items {
            let _ = writeln!(s, "    /// `{k}`");
            let _ = writeln!(s, "    pub const {k}: {ty} = {v};");
        }
        let _ = writeln!(s, "}}");
        let _ = writeln!(s, "/// All entries of [`{module}`], in numbering order.");
        let _ = writeln!(s, "pub const {table}: &[(&str, {ty})] = &[");
        for (k, v) in &items {
            let _ = writeln!(s, "    (\"{k}\", {v}),");
        }
        let _ = writeln!(s, "];\n");
    };
    let fmt_u = |v: &[(String, u64)]| v.iter().map(|(k, n)| (k.clone(), n.to_string())).collect();
    table(
        &mut s,
        "Invocation labels (`enum invocation_label` and the arch enums).",
        "invocation",
        "INVOCATION_LABELS",
        "u64",
        fmt_u(&f.invocation_labels),
    );
    table(
        &mut s,
        "Object types for `Untyped_Retype` (`seL4_ObjectType` and arch enums).",
        "object_type",
        "OBJECT_TYPES",
        "u64",
        fmt_u(&f.object_types),
    );
    table(
        &mut s,
        "Fault message labels (`seL4_Fault_tag`).",
        "fault_label",
        "FAULT_LABELS",
        "u64",
        fmt_u(&f.fault_labels),
    );
    table(
        &mut s,
        "Syscall numbers placed in x7 (`seL4_Syscall_ID`).",
        "syscall",
        "SYSCALLS",
        "i64",
        f.syscalls
            .iter()
            .map(|(k, n)| (k.clone(), n.to_string()))
            .collect(),
    );
    let _ = writeln!(s, "/// Selected kernel configuration values (`CONFIG_*`).");
    let _ = writeln!(s, "pub mod config {{");
    for (k, v) in &f.config {
        let _ = writeln!(s, "    /// `CONFIG_{k}`");
        match v {
            ConfigValue::Bool(b) => {
                let _ = writeln!(s, "    pub const {k}: bool = {b};");
            }
            ConfigValue::Usize(n) => {
                let _ = writeln!(s, "    pub const {k}: usize = {n};");
            }
        }
    }
    let _ = writeln!(s, "}}");
    let _ = writeln!(
        s,
        "/// [`config`] as (name, value) text pairs, for logs and checks."
    );
    let _ = writeln!(s, "pub const CONFIG_TABLE: &[(&str, &str)] = &[");
    for (k, v) in &f.config {
        let _ = writeln!(s, "    (\"{k}\", \"{}\"),", config_text(v));
    }
    let _ = writeln!(s, "];");
    s
}

/// The text form of a configuration value used in `CONFIG_TABLE`.
pub fn config_text(v: &ConfigValue) -> String {
    match v {
        ConfigValue::Bool(b) => b.to_string(),
        ConfigValue::Usize(n) => n.to_string(),
    }
}
