//! An installed seL4 kernel (`SEL4_PREFIX`): its files, its configuration,
//! the check that the configuration is the one sel4vm-rs supports, and the
//! QEMU machine that matches it.

use crate::supported_config;
use core::fmt;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::dtb::{self, DtbError};
use crate::pack::{self, PackError, PackInput, PhysAddrBits};

/// Base of RAM on QEMU's `virt` machine; `-m` sizes RAM from here.
pub const QEMU_VIRT_RAM_BASE: u64 = 0x4000_0000;

/// Why a kernel install cannot be used.
#[derive(Debug)]
pub enum ConfigError {
    /// A file could not be read.
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// `gen_config.json` is not valid JSON (or not an object).
    Json {
        /// The file.
        path: PathBuf,
        /// Parser message.
        message: String,
    },
    /// A required option is absent from `gen_config.json`.
    MissingOption {
        /// CMake name of the option.
        option: &'static str,
        /// Key in `gen_config.json`.
        key: &'static str,
    },
    /// The kernel was configured differently from what sel4vm-rs supports.
    Unsupported {
        /// CMake name of the option.
        option: &'static str,
        /// The value found in the install.
        found: String,
        /// The value sel4vm-rs needs.
        supported: String,
        /// The CMake flag(s) that fix it.
        fix: String,
    },
    /// `kernel.dtb` is unusable.
    Dtb(DtbError),
    /// The DTB's memory layout cannot be expressed as QEMU `virt` `-m`.
    UnsupportedMemory(String),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Io { path, source } => {
                write!(f, "cannot read {}: {source}", path.display())
            }
            ConfigError::Json { path, message } => {
                write!(f, "{}: invalid JSON: {message}", path.display())
            }
            ConfigError::MissingOption { option, key } => {
                write!(
                    f,
                    "kernel option {option} ({key}) is missing from gen_config.json"
                )
            }
            ConfigError::Unsupported {
                option,
                found,
                supported,
                fix,
            } => write!(
                f,
                "kernel option {option} is {found}, but sel4vm-rs supports only {supported}; \
                 reconfigure the kernel with {fix} (docs/kernel.md lists every option)"
            ),
            ConfigError::Dtb(e) => write!(f, "kernel.dtb: {e}"),
            ConfigError::UnsupportedMemory(why) => write!(f, "kernel.dtb memory: {why}"),
        }
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConfigError::Io { source, .. } => Some(source),
            ConfigError::Dtb(e) => Some(e),
            _ => None,
        }
    }
}

/// The kernel configuration facts sel4vm-rs cares about, read from
/// `libsel4/include/kernel/gen_config.json`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelConfig {
    /// `KernelPlatform` (`PLAT`).
    pub platform: String,
    /// `KernelSel4Arch` (`SEL4_ARCH`).
    pub sel4_arch: String,
    /// `KernelArmHypervisorSupport` (`ARM_HYPERVISOR_SUPPORT`).
    pub hypervisor: bool,
    /// `KernelIsMCS` (`KERNEL_MCS`).
    pub mcs: bool,
    /// `KernelMaxNumNodes` (`MAX_NUM_NODES`).
    pub max_num_nodes: u64,
    /// `KernelPrinting` (`PRINTING`).
    pub printing: bool,
    /// `KernelDebugBuild` (`DEBUG_BUILD`).
    pub debug_build: bool,
    /// `KernelArmCPU` as a QEMU `-cpu` name, from the `ARM_CORTEX_*` flags.
    pub cpu: String,
    /// `KernelArmGicV3` (`ARM_GIC_V3_SUPPORT`).
    pub gic_v3: bool,
    /// `KernelArmPASizeBits40` / `...44`.
    pub pa_bits: PhysAddrBits,
}

fn get<'a>(
    map: &'a serde_json::Map<String, Value>,
    option: &'static str,
    key: &'static str,
) -> Result<&'a Value, ConfigError> {
    map.get(key)
        .ok_or(ConfigError::MissingOption { option, key })
}

fn get_bool(
    map: &serde_json::Map<String, Value>,
    option: &'static str,
    key: &'static str,
) -> Result<bool, ConfigError> {
    match get(map, option, key)? {
        Value::Bool(b) => Ok(*b),
        // CMake booleans occasionally arrive as strings.
        Value::String(s) if s == "ON" || s == "1" || s == "true" => Ok(true),
        Value::String(s) if s == "OFF" || s == "0" || s == "false" || s.is_empty() => Ok(false),
        other => Err(ConfigError::Unsupported {
            option,
            found: other.to_string(),
            supported: "a boolean".into(),
            fix: format!("-D{option}=ON or OFF"),
        }),
    }
}

fn get_str(
    map: &serde_json::Map<String, Value>,
    option: &'static str,
    key: &'static str,
) -> Result<String, ConfigError> {
    match get(map, option, key)? {
        Value::String(s) => Ok(s.clone()),
        other => Ok(other.to_string()),
    }
}

impl KernelConfig {
    /// Reads the facts from a parsed `gen_config.json` object.
    pub fn from_json(map: &serde_json::Map<String, Value>) -> Result<Self, ConfigError> {
        let nodes_str = get_str(map, "KernelMaxNumNodes", "MAX_NUM_NODES")?;
        let max_num_nodes = nodes_str.parse().map_err(|_| ConfigError::Unsupported {
            option: "KernelMaxNumNodes",
            found: nodes_str.clone(),
            supported: "1".into(),
            fix: "-DKernelMaxNumNodes=1".into(),
        })?;
        const CPUS: [(&str, &str); 6] = [
            ("ARM_CORTEX_A35", "cortex-a35"),
            ("ARM_CORTEX_A53", "cortex-a53"),
            ("ARM_CORTEX_A55", "cortex-a55"),
            ("ARM_CORTEX_A57", "cortex-a57"),
            ("ARM_CORTEX_A72", "cortex-a72"),
            ("ARM_CORTEX_A76", "cortex-a76"),
        ];
        let cpu = CPUS
            .iter()
            .find(|(key, _)| map.get(*key) == Some(&Value::Bool(true)))
            .map(|(_, name)| name.to_string())
            .ok_or(ConfigError::Unsupported {
                option: "KernelArmCPU",
                found: "none of the 64-bit Cortex-A CPUs".into(),
                supported: "a Cortex-A CPU QEMU can emulate (cortex-a57)".into(),
                fix: "-DARM_CPU=cortex-a57".into(),
            })?;
        let pa_bits = if map.get("ARM_PA_SIZE_BITS_40") == Some(&Value::Bool(true)) {
            PhysAddrBits::Bits40
        } else {
            PhysAddrBits::Bits44
        };
        Ok(Self {
            platform: get_str(map, "KernelPlatform", "PLAT")?,
            sel4_arch: get_str(map, "KernelSel4Arch", "SEL4_ARCH")?,
            hypervisor: get_bool(map, "KernelArmHypervisorSupport", "ARM_HYPERVISOR_SUPPORT")?,
            mcs: get_bool(map, "KernelIsMCS", "KERNEL_MCS")?,
            max_num_nodes,
            printing: get_bool(map, "KernelPrinting", "PRINTING")?,
            debug_build: get_bool(map, "KernelDebugBuild", "DEBUG_BUILD")?,
            cpu,
            gic_v3: get_bool(map, "KernelArmGicV3", "ARM_GIC_V3_SUPPORT").unwrap_or(false),
            pa_bits,
        })
    }

    /// Checks `gen_config.json` against the supported configuration (the
    /// project's one table, shared with `sel4-abi`'s build script): the error
    /// names the first option that differs.
    pub fn check_supported(map: &serde_json::Map<String, Value>) -> Result<(), ConfigError> {
        match supported_config::mismatches(|k| map.get(k))
            .into_iter()
            .next()
        {
            None => Ok(()),
            Some(m) => Err(ConfigError::Unsupported {
                option: m.cmake,
                found: m.found,
                supported: m.supported,
                fix: m.fix,
            }),
        }
    }
}

/// A validated kernel install: `bin/kernel.elf`, a DTB (default
/// `support/kernel.dtb`) and `libsel4/include/kernel/gen_config.json`.
#[derive(Clone, Debug)]
pub struct KernelInstall {
    prefix: PathBuf,
    kernel_elf_path: PathBuf,
    dtb_path: PathBuf,
    gen_config_path: PathBuf,
    config: KernelConfig,
    kernel_elf: Vec<u8>,
    dtb: Vec<u8>,
    ram_bytes: u64,
}

fn read(path: &Path) -> Result<Vec<u8>, ConfigError> {
    std::fs::read(path).map_err(|source| ConfigError::Io {
        path: path.to_path_buf(),
        source,
    })
}

impl KernelInstall {
    /// Opens the install at `prefix` with its own `support/kernel.dtb`.
    pub fn open(prefix: &Path) -> Result<Self, ConfigError> {
        Self::open_with_dtb(prefix, None)
    }

    /// Opens the install at `prefix`, optionally with a different DTB.
    pub fn open_with_dtb(prefix: &Path, dtb: Option<&Path>) -> Result<Self, ConfigError> {
        let kernel_elf_path = prefix.join("bin/kernel.elf");
        let dtb_path = dtb.map_or_else(|| prefix.join("support/kernel.dtb"), Path::to_path_buf);
        let gen_config_path = prefix.join("libsel4/include/kernel/gen_config.json");

        let json_bytes = read(&gen_config_path)?;
        let json: Value = serde_json::from_slice(&json_bytes).map_err(|e| ConfigError::Json {
            path: gen_config_path.clone(),
            message: e.to_string(),
        })?;
        let map = json.as_object().ok_or_else(|| ConfigError::Json {
            path: gen_config_path.clone(),
            message: "top level is not an object".into(),
        })?;
        KernelConfig::check_supported(map)?;
        let config = KernelConfig::from_json(map)?;

        let kernel_elf = read(&kernel_elf_path)?;
        let dtb_bytes = read(&dtb_path)?;
        let ram_bytes = qemu_ram_bytes(&dtb_bytes)?;
        Ok(Self {
            prefix: prefix.to_path_buf(),
            kernel_elf_path,
            dtb_path,
            gen_config_path,
            config,
            kernel_elf,
            dtb: dtb_bytes,
            ram_bytes,
        })
    }

    /// The install prefix.
    pub fn prefix(&self) -> &Path {
        &self.prefix
    }
    /// `bin/kernel.elf`.
    pub fn kernel_elf_path(&self) -> &Path {
        &self.kernel_elf_path
    }
    /// The DTB given to the kernel.
    pub fn dtb_path(&self) -> &Path {
        &self.dtb_path
    }
    /// `libsel4/include/kernel/gen_config.json`.
    pub fn gen_config_path(&self) -> &Path {
        &self.gen_config_path
    }
    /// `libsel4/include` (for the ABI crate's generated headers).
    pub fn libsel4_include(&self) -> PathBuf {
        self.prefix.join("libsel4/include")
    }
    /// The configuration facts.
    pub fn config(&self) -> &KernelConfig {
        &self.config
    }
    /// Contents of `kernel.elf`.
    pub fn kernel_elf(&self) -> &[u8] {
        &self.kernel_elf
    }
    /// Contents of the DTB.
    pub fn dtb(&self) -> &[u8] {
        &self.dtb
    }
    /// Machine RAM size QEMU must be given (from the DTB memory node).
    pub fn ram_bytes(&self) -> u64 {
        self.ram_bytes
    }

    /// QEMU arguments describing the machine this kernel was built for:
    /// `-machine virt,virtualization=on[,gic-version=3] -cpu CPU -m SIZE`.
    /// The caller adds `-nographic`/`-serial` and `-kernel IMAGE`.
    pub fn qemu_args(&self) -> Vec<String> {
        let mut machine = String::from("virt,virtualization=on");
        if self.config.gic_v3 {
            machine.push_str(",gic-version=3");
        }
        vec![
            "-machine".into(),
            machine,
            "-cpu".into(),
            self.config.cpu.clone(),
            "-m".into(),
            format!("{}M", self.ram_bytes >> 20),
        ]
    }

    /// Packs a boot image from this kernel and its DTB (see [`pack::pack`]).
    pub fn pack(&self, loader_elf: &[u8], root_task_elf: &[u8]) -> Result<Vec<u8>, PackError> {
        pack::pack(&self.pack_input(loader_elf, root_task_elf))
    }

    /// The [`PackInput`] for this kernel, e.g. for [`pack::plan`].
    pub fn pack_input<'a>(
        &'a self,
        loader_elf: &'a [u8],
        root_task_elf: &'a [u8],
    ) -> PackInput<'a> {
        PackInput {
            loader_elf,
            kernel_elf: &self.kernel_elf,
            dtb: &self.dtb,
            root_task_elf,
            pa_bits: self.config.pa_bits,
        }
    }
}

/// RAM size for `-m`: QEMU `virt` has one RAM bank at 0x4000_0000, so the
/// DTB must describe exactly that, in whole MiB.
pub fn qemu_ram_bytes(dtb_bytes: &[u8]) -> Result<u64, ConfigError> {
    let info = dtb::inspect(dtb_bytes).map_err(ConfigError::Dtb)?;
    match info.memory.as_slice() {
        [only] if only.start == QEMU_VIRT_RAM_BASE && (only.end - only.start) % (1 << 20) == 0 => {
            Ok(only.end - only.start)
        }
        [only] => Err(ConfigError::UnsupportedMemory(format!(
            "memory [{:#x}..{:#x}) is not a whole number of MiB starting at {QEMU_VIRT_RAM_BASE:#x}",
            only.start, only.end
        ))),
        many => Err(ConfigError::UnsupportedMemory(format!(
            "{} memory ranges; QEMU virt has a single RAM bank",
            many.len()
        ))),
    }
}
