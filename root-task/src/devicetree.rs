//! The guest device tree, generated from [`VmmConfig`] and its [`Layout`]
//! with the crate's own [`crate::dtb`] writer.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::config::{virt, ConfigError, ConsoleMode, DeviceKind, GicVersion, Layout, VmmConfig};
use crate::dtb::DtbWriter;

const PHANDLE_GIC: u32 = 1;
const PHANDLE_CLK: u32 = 2;

/// GIC interrupt specifier types.
const GIC_SPI: u32 = 0;
const GIC_PPI: u32 = 1;
/// Level-high trigger.
const IRQ_LEVEL_HIGH: u32 = 4;

/// Name of the console node (a child of the root).
fn uart_node(cfg: &VmmConfig) -> String {
    format!("pl011@{:x}", cfg.uart_base)
}

/// Path of the console node (for `stdout-path` and the `serial0` alias).
pub fn uart_path(cfg: &VmmConfig) -> String {
    format!("/{}", uart_node(cfg))
}

/// Builds the DTB: memory, `chosen` (bootargs, stdout, initrd range from
/// the real size), cpus with their MPIDRs, PSCI, GIC, timer, PL011.
pub fn device_tree(cfg: &VmmConfig, layout: &Layout) -> Result<Vec<u8>, ConfigError> {
    cfg.validate()?;
    build(cfg, layout)
        .finish()
        .map_err(|e| ConfigError::Fdt(e.to_string()))
}

fn build(cfg: &VmmConfig, layout: &Layout) -> DtbWriter {
    let mut f = DtbWriter::new();
    f.begin_node("");
    f.property_string("compatible", "linux,dummy-virt");
    f.property_string("model", "sel4vm-rs guest on QEMU virt");
    f.property_u32("#address-cells", 2);
    f.property_u32("#size-cells", 2);
    f.property_u32("interrupt-parent", PHANDLE_GIC);

    let passthrough = cfg.console == ConsoleMode::Passthrough;
    if passthrough {
        f.begin_node("aliases");
        f.property_string("serial0", &uart_path(cfg));
        f.end_node();
    }

    f.begin_node("chosen");
    f.property_string("bootargs", &cfg.cmdline);
    if passthrough {
        f.property_string("stdout-path", &uart_path(cfg));
    }
    if let Some((start, end)) = layout.initrd {
        f.property_u64("linux,initrd-start", start);
        f.property_u64("linux,initrd-end", end);
    }
    f.end_node();

    f.begin_node(&format!("memory@{:x}", cfg.ram_base));
    f.property_string("device_type", "memory");
    f.property_u64s("reg", &[cfg.ram_base, cfg.ram_size]);
    f.end_node();

    f.begin_node("cpus");
    f.property_u32("#address-cells", 1);
    f.property_u32("#size-cells", 0);
    for n in 0..cfg.vcpus {
        let mpidr = VmmConfig::mpidr(n) as u32;
        f.begin_node(&format!("cpu@{mpidr:x}"));
        f.property_string("device_type", "cpu");
        f.property_string("compatible", "arm,cortex-a57");
        f.property_u32("reg", mpidr);
        f.property_string("enable-method", "psci");
        f.end_node();
    }
    f.end_node();

    f.begin_node("psci");
    f.property_strings("compatible", &["arm,psci-1.0", "arm,psci-0.2"]);
    f.property_string("method", cfg.psci.as_str());
    f.end_node();

    f.begin_node(&format!("intc@{:x}", virt::GICD));
    match cfg.gic {
        GicVersion::V2 => {
            f.property_string("compatible", "arm,cortex-a15-gic");
            f.property_u64s(
                "reg",
                &[virt::GICD, cfg.gicd_size(), virt::GICC, cfg.gicc_size()],
            );
        }
        GicVersion::V3 => {
            f.property_string("compatible", "arm,gic-v3");
            f.property_u32("#redistributor-regions", 1);
            let redist = virt::GICR_STRIDE * u64::from(cfg.vcpus);
            f.property_u64s("reg", &[virt::GICD, cfg.gicd_size(), virt::GICR, redist]);
        }
    }
    f.property_u32("#interrupt-cells", 3);
    // No child nodes; stated because dtc expects it of interrupt providers.
    f.property_u32("#address-cells", 0);
    f.property_null("interrupt-controller");
    f.property_u32("phandle", PHANDLE_GIC);
    f.end_node();

    // GICv2 PPI specifiers carry a CPU mask in bits 8-15.
    let ppi_flags = match cfg.gic {
        GicVersion::V2 => (((1u32 << cfg.vcpus) - 1) << 8) | IRQ_LEVEL_HIGH,
        GicVersion::V3 => IRQ_LEVEL_HIGH,
    };
    let t = cfg.timer;
    f.begin_node("timer");
    f.property_string("compatible", "arm,armv8-timer");
    let mut irqs = Vec::new();
    for ppi in [t.secure_phys, t.phys, t.virt, t.hyp] {
        irqs.extend_from_slice(&[GIC_PPI, ppi, ppi_flags]);
    }
    f.property_u32s("interrupts", &irqs);
    f.property_null("always-on");
    f.end_node();

    f.begin_node("apb-pclk");
    f.property_string("compatible", "fixed-clock");
    f.property_u32("#clock-cells", 0);
    f.property_u32("clock-frequency", 24_000_000);
    f.property_string("clock-output-names", "clk24mhz");
    f.property_u32("phandle", PHANDLE_CLK);
    f.end_node();

    if passthrough {
        f.begin_node(&uart_node(cfg));
        f.property_strings("compatible", &["arm,pl011", "arm,primecell"]);
        f.property_u64s("reg", &[cfg.uart_base, 0x1000]);
        f.property_u32s("interrupts", &[GIC_SPI, cfg.uart_spi, IRQ_LEVEL_HIGH]);
        f.property_u32s("clocks", &[PHANDLE_CLK, PHANDLE_CLK]);
        f.property_strings("clock-names", &["uartclk", "apb_pclk"]);
        f.end_node();
    }

    // The early UART is left out on purpose: it only serves `earlycon`,
    // and a pl011 node would bind the full driver to a transmit-only model.
    for d in cfg.devices() {
        if d.kind == DeviceKind::EarlyUart {
            continue;
        }
        f.begin_node(&format!("virtio_mmio@{:x}", d.base));
        f.property_string("compatible", "virtio,mmio");
        f.property_u64s("reg", &[d.base, d.size]);
        if let Some(spi) = d.spi {
            f.property_u32s("interrupts", &[GIC_SPI, spi, IRQ_LEVEL_HIGH]);
        }
        // Virtio drivers keep rings and buffers in cacheable memory.
        f.property_null("dma-coherent");
        f.end_node();
    }

    f.end_node();
    f
}
