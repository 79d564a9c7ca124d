//! The guest DTB, read back with the `fdt` crate and with `dtc`.

use sel4vm_root_task::config::{
    virt, ConfigError, DeviceKind, KernelHeader, Stage2Kind, DEVICE_SPI_BASE, DEVICE_WINDOW,
    DEVICE_WINDOW_SIZE,
};
use sel4vm_root_task::devicetree::device_tree;
use sel4vm_root_task::{ConsoleMode, GicVersion, PsciMethod, RamBacking, VmmConfig};

const DEBIAN_LIKE: KernelHeader = KernelHeader {
    text_offset: 0,
    image_size: 0x201_0000,
    place_anywhere: true,
};
const INITRD: u64 = 1_848_400;

fn be32(b: &[u8], i: usize) -> u32 {
    u32::from_be_bytes(b[4 * i..4 * i + 4].try_into().unwrap())
}
fn be64(b: &[u8], i: usize) -> u64 {
    (u64::from(be32(b, 2 * i)) << 32) | u64::from(be32(b, 2 * i + 1))
}
fn cells(b: &[u8]) -> Vec<u32> {
    (0..b.len() / 4).map(|i| be32(b, i)).collect()
}

fn dtb(gic: GicVersion, vcpus: u32, initrd: u64) -> (VmmConfig, Vec<u8>) {
    let mut cfg = VmmConfig::qemu_virt(gic, vcpus, "console=ttyAMA0 earlycon quiet", initrd);
    cfg.console = ConsoleMode::Passthrough;
    let layout = cfg.layout(&DEBIAN_LIKE).unwrap();
    let d = device_tree(&cfg, &layout).unwrap();
    (cfg, d)
}

#[test]
fn memory_chosen_and_initrd_from_the_real_size() {
    let (cfg, d) = dtb(GicVersion::V2, 1, INITRD);
    let t = fdt::Fdt::new(&d).unwrap();
    let mem = t.find_node("/memory@40000000").unwrap();
    assert_eq!(
        mem.property("device_type").unwrap().as_str(),
        Some("memory")
    );
    let reg = mem.property("reg").unwrap().value;
    assert_eq!((be64(reg, 0), be64(reg, 1)), (0x4000_0000, 256 << 20));
    let chosen = t.find_node("/chosen").unwrap();
    assert_eq!(
        chosen.property("bootargs").unwrap().as_str(),
        Some("console=ttyAMA0 earlycon quiet")
    );
    assert_eq!(
        chosen.property("stdout-path").unwrap().as_str(),
        Some("/pl011@9000000")
    );
    let start = be64(chosen.property("linux,initrd-start").unwrap().value, 0);
    let end = be64(chosen.property("linux,initrd-end").unwrap().value, 0);
    assert_eq!(end - start, INITRD, "range comes from the real size");
    let layout = cfg.layout(&DEBIAN_LIKE).unwrap();
    assert_eq!(Some((start, end)), layout.initrd);
    assert!(start.is_multiple_of(4096) && end <= layout.dtb && start >= layout.kernel_end);
    // No initrd: no chosen properties.
    let (_, d) = dtb(GicVersion::V2, 1, 0);
    let t = fdt::Fdt::new(&d).unwrap();
    assert!(t
        .find_node("/chosen")
        .unwrap()
        .property("linux,initrd-start")
        .is_none());
}

#[test]
fn cpus_have_mpidr_regs_and_psci() {
    for n in 1..=4 {
        let (_, d) = dtb(GicVersion::V2, n, INITRD);
        let t = fdt::Fdt::new(&d).unwrap();
        let cpus: Vec<_> = t.find_node("/cpus").unwrap().children().collect();
        assert_eq!(cpus.len(), n as usize);
        for (i, c) in cpus.iter().enumerate() {
            assert_eq!(c.name, format!("cpu@{i:x}"));
            assert_eq!(be32(c.property("reg").unwrap().value, 0), i as u32);
            assert_eq!(c.property("enable-method").unwrap().as_str(), Some("psci"));
            assert_eq!(c.property("device_type").unwrap().as_str(), Some("cpu"));
        }
        let psci = t.find_node("/psci").unwrap();
        assert_eq!(psci.property("method").unwrap().as_str(), Some("smc"));
        assert!(psci
            .compatible()
            .unwrap()
            .all()
            .any(|c| c == "arm,psci-0.2"));
    }
    let mut cfg = VmmConfig::qemu_virt(GicVersion::V2, 1, "", 0);
    cfg.psci = PsciMethod::Smc;
    let d = device_tree(&cfg, &cfg.layout(&DEBIAN_LIKE).unwrap()).unwrap();
    let t = fdt::Fdt::new(&d).unwrap();
    assert_eq!(
        t.find_node("/psci")
            .unwrap()
            .property("method")
            .unwrap()
            .as_str(),
        Some("smc")
    );
}

#[test]
fn gic_timer_and_uart_nodes() {
    let (_, d) = dtb(GicVersion::V2, 2, INITRD);
    let t = fdt::Fdt::new(&d).unwrap();
    let gic = t.find_node("/intc@8000000").unwrap();
    assert_eq!(gic.compatible().unwrap().first(), "arm,cortex-a15-gic");
    let reg = gic.property("reg").unwrap().value;
    assert_eq!(
        (be64(reg, 0), be64(reg, 1), be64(reg, 2), be64(reg, 3)),
        (virt::GICD, 0x1000, virt::GICC, 0x2000)
    );
    assert!(gic.property("interrupt-controller").is_some());
    let ph = be32(gic.property("phandle").unwrap().value, 0);
    assert_eq!(
        be32(
            t.find_node("/")
                .unwrap()
                .property("interrupt-parent")
                .unwrap()
                .value,
            0
        ),
        ph
    );
    // Timer: PPIs 13, 14, 11, 10, level high, CPU mask for 2 CPUs (GICv2).
    let timer = t.find_node("/timer").unwrap();
    assert_eq!(
        cells(timer.property("interrupts").unwrap().value),
        vec![1, 13, 0x304, 1, 14, 0x304, 1, 11, 0x304, 1, 10, 0x304]
    );
    let uart = t.find_node("/pl011@9000000").unwrap();
    assert_eq!(
        uart.compatible().unwrap().all().collect::<Vec<_>>(),
        vec!["arm,pl011", "arm,primecell"]
    );
    let reg = uart.property("reg").unwrap().value;
    assert_eq!((be64(reg, 0), be64(reg, 1)), (0x0900_0000, 0x1000));
    assert_eq!(
        cells(uart.property("interrupts").unwrap().value),
        vec![0, 1, 4]
    );
    let clk = be32(uart.property("clocks").unwrap().value, 0);
    let pclk = t.find_node("/apb-pclk").unwrap();
    assert_eq!(be32(pclk.property("phandle").unwrap().value, 0), clk);
    assert_eq!(
        t.find_node("/aliases")
            .unwrap()
            .property("serial0")
            .unwrap()
            .as_str(),
        Some("/pl011@9000000")
    );

    let (_, d) = dtb(GicVersion::V3, 3, INITRD);
    let t = fdt::Fdt::new(&d).unwrap();
    let gic = t.find_node("/intc@8000000").unwrap();
    assert_eq!(gic.compatible().unwrap().first(), "arm,gic-v3");
    let reg = gic.property("reg").unwrap().value;
    assert_eq!(
        (be64(reg, 0), be64(reg, 2), be64(reg, 3)),
        (virt::GICD, virt::GICR, 3 * virt::GICR_STRIDE)
    );
    assert_eq!(
        cells(
            t.find_node("/timer")
                .unwrap()
                .property("interrupts")
                .unwrap()
                .value
        )[..3],
        [1, 13, 4]
    );
}

#[test]
#[cfg_attr(
    not(has_dtc),
    ignore = "dtc not found on PATH (apt install device-tree-compiler)"
)]
fn dtc_decompiles_it() {
    let (_, d) = dtb(GicVersion::V2, 2, INITRD);
    let path = std::env::temp_dir().join(format!("sel4vm-guest-{}.dtb", std::process::id()));
    std::fs::write(&path, &d).unwrap();
    let out = std::process::Command::new("dtc")
        .args(["-I", "dtb", "-O", "dts"])
        .arg(&path)
        .output();
    let _ = std::fs::remove_file(&path);
    let out = out.unwrap_or_else(|e| panic!("run dtc (apt install device-tree-compiler): {e}"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dts = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("Warning"), "dtc warnings:\n{stderr}");
    for needle in [
        "memory@40000000 {",
        "reg = <0x00 0x40000000 0x00 0x10000000>;",
        "bootargs = \"console=ttyAMA0 earlycon quiet\";",
        "linux,initrd-start = <0x00 ",
        "compatible = \"arm,cortex-a15-gic\";",
        "method = \"smc\";",
        "cpu@1 {",
        "compatible = \"arm,pl011\\0arm,primecell\";",
        "interrupts = <0x00 0x01 0x04>;",
        "compatible = \"arm,armv8-timer\";",
    ] {
        assert!(dts.contains(needle), "`{needle}` missing from:\n{dts}");
    }
}

#[test]
fn layout_rules() {
    let cfg = VmmConfig::qemu_virt(GicVersion::V2, 1, "", INITRD);
    let l = cfg.layout(&DEBIAN_LIKE).unwrap();
    assert_eq!(
        l.kernel_base, 0x4020_0000,
        "first 2 MiB left to QEMU's own DTB"
    );
    assert_eq!(l.entry, 0x4020_0000);
    assert_eq!(l.kernel_end, 0x4020_0000 + 0x201_0000);
    assert_eq!(l.dtb, 0x5000_0000 - (2 << 20));
    let low = KernelHeader {
        place_anywhere: false,
        text_offset: 0x8_0000,
        ..DEBIAN_LIKE
    };
    let l = cfg.layout(&low).unwrap();
    assert_eq!((l.kernel_base, l.entry), (0x4000_0000, 0x4008_0000));
    // A 250 MiB initrd does not fit next to a 32 MiB kernel in 256 MiB.
    let big = VmmConfig::qemu_virt(GicVersion::V2, 1, "", 250 << 20);
    assert!(matches!(
        big.layout(&DEBIAN_LIKE),
        Err(ConfigError::NoRoom { .. })
    ));
    for (bad, e) in [
        (
            VmmConfig {
                vcpus: 0,
                ..cfg.clone()
            },
            ConfigError::Vcpus(0),
        ),
        (
            VmmConfig {
                vcpus: 5,
                ..cfg.clone()
            },
            ConfigError::Vcpus(5),
        ),
        (
            VmmConfig {
                ram_size: 3 << 20,
                ..cfg.clone()
            },
            ConfigError::RamAlignment,
        ),
        (
            VmmConfig {
                ram_base: 0x3000_0000,
                ..cfg.clone()
            },
            ConfigError::RamNotReserved,
        ),
        (
            VmmConfig {
                ram_size: 0x2100_0000,
                ..cfg.clone()
            },
            ConfigError::RamNotReserved,
        ),
        (
            VmmConfig {
                cmdline: "a\0b".into(),
                ..cfg.clone()
            },
            ConfigError::Cmdline,
        ),
    ] {
        assert_eq!(bad.layout(&DEBIAN_LIKE), Err(e.clone()));
        assert_eq!(
            device_tree(&bad, &cfg.layout(&DEBIAN_LIKE).unwrap()),
            Err(e)
        );
    }
    // Ordinary-RAM backing may live anywhere.
    let anywhere = VmmConfig {
        ram_base: 0x8000_0000,
        ram_backing: RamBacking::Anywhere,
        ..cfg.clone()
    };
    assert!(anywhere.layout(&DEBIAN_LIKE).is_ok());
}

#[test]
fn stage2_and_vgic_follow_the_config() {
    let mut cfg = VmmConfig::qemu_virt(GicVersion::V2, 2, "", 0);
    cfg.console = ConsoleMode::Passthrough;
    let s2 = cfg.stage2();
    let find = |n: &str| s2.iter().find(|r| r.name == n).copied().unwrap();
    assert_eq!(find("ram").kind, Stage2Kind::Ram(RamBacking::OneToOne));
    assert_eq!(
        (find("ram").ipa, find("ram").size),
        (0x4000_0000, 256 << 20)
    );
    assert_eq!(find("uart").kind, Stage2Kind::Device { paddr: 0x0900_0000 });
    assert_eq!(find("gicc").kind, Stage2Kind::Vgic);
    assert_eq!(find("gicd").kind, Stage2Kind::Vgic);
    assert!(
        s2.windows(2).all(|w| w[0].ipa + w[0].size <= w[1].ipa),
        "no overlaps: {s2:?}"
    );
    let v = cfg.vgic();
    assert_eq!(v.vtimer_irq, 27);
    assert_eq!(v.passthrough, vec![(33, "uart")]);
    assert_eq!(v.redist, None);
    let cfg3 = VmmConfig::qemu_virt(GicVersion::V3, 4, "", 0);
    let gicr = cfg3
        .stage2()
        .into_iter()
        .find(|r| r.name == "gicr")
        .unwrap();
    assert_eq!(
        (gicr.ipa, gicr.size, gicr.kind),
        (virt::GICR, 4 * virt::GICR_STRIDE, Stage2Kind::Vgic)
    );
    assert_eq!(cfg3.vgic().redist, Some(virt::GICR));
    // The core's GIC layout agrees with the stage-2 map and the DTB.
    let l = cfg.gic_layout();
    assert_eq!(
        (l.dist_base, l.cpu_interface, l.vcpu_interface_paddr),
        (find("gicd").ipa, find("gicc").ipa, virt::GICV)
    );
    assert_eq!(cfg3.gic_layout().redist_base, gicr.ipa);
    assert_eq!(
        (
            sel4vm::irq::GicLayout::qemu_virt_v2(),
            sel4vm::irq::GicLayout::qemu_virt_v3()
        ),
        (cfg.gic_layout(), cfg3.gic_layout())
    );
}

#[test]
fn virtio_console_mode_has_devices_in_the_window_and_no_pl011() {
    let cfg = VmmConfig::qemu_virt(GicVersion::V3, 1, "console=hvc0", 0);
    assert_eq!(cfg.console, ConsoleMode::Virtio);
    let devs = cfg.devices();
    let con = devs
        .iter()
        .find(|d| d.kind == DeviceKind::VirtioConsole)
        .unwrap();
    assert!(con.base >= DEVICE_WINDOW && con.base + con.size <= DEVICE_WINDOW + DEVICE_WINDOW_SIZE);
    const {
        assert!(
            DEVICE_WINDOW >= virt::VIRTIO_MMIO + 0x200 * 32
                && DEVICE_WINDOW + DEVICE_WINDOW_SIZE <= virt::PLATFORM_BUS
        )
    };
    let early = devs
        .iter()
        .find(|d| d.kind == DeviceKind::EarlyUart)
        .unwrap();
    assert_eq!(early.base, virt::UART);
    // Stage 2: nothing passed through; every device emulated; no overlaps.
    let s2 = cfg.stage2();
    assert!(!s2
        .iter()
        .any(|r| matches!(r.kind, Stage2Kind::Device { paddr } if paddr == virt::UART)));
    for d in &devs {
        assert!(s2
            .iter()
            .any(|r| r.ipa == d.base && r.size == d.size && r.kind == Stage2Kind::Emulated));
    }
    assert!(
        s2.windows(2).all(|w| w[0].ipa + w[0].size <= w[1].ipa),
        "{s2:?}"
    );
    let v = cfg.vgic();
    assert!(v.passthrough.is_empty());
    assert_eq!(v.emulated, vec![(32 + DEVICE_SPI_BASE, "virtio-console")]);
    // DTB: a virtio,mmio node with the device's reg and SPI; no pl011, no stdout-path.
    let layout = cfg.layout(&DEBIAN_LIKE).unwrap();
    let d = device_tree(&cfg, &layout).unwrap();
    let t = fdt::Fdt::new(&d).unwrap();
    let n = t
        .find_node(&format!("/virtio_mmio@{:x}", con.base))
        .expect("virtio node");
    assert_eq!(n.compatible().unwrap().first(), "virtio,mmio");
    let reg = n.property("reg").unwrap().value;
    assert_eq!((be64(reg, 0), be64(reg, 1)), (con.base, con.size));
    assert_eq!(
        cells(n.property("interrupts").unwrap().value),
        vec![0, DEVICE_SPI_BASE, 4]
    );
    assert!(n.property("dma-coherent").is_some());
    assert!(t.find_node("/pl011@9000000").is_none());
    assert!(t
        .find_node("/chosen")
        .unwrap()
        .property("stdout-path")
        .is_none());
    // The GIC reg sizes are the ones the core emulates.
    let gic = t.find_node("/intc@8000000").unwrap();
    assert_eq!(be64(gic.property("reg").unwrap().value, 1), 0x10000);
}

#[test]
fn a_disk_gets_the_next_device_page_and_spi_and_a_dtb_node() {
    for (console, at) in [(ConsoleMode::Virtio, 1u64), (ConsoleMode::Passthrough, 0)] {
        let mut cfg = VmmConfig::qemu_virt(GicVersion::V2, 1, "console=hvc0", INITRD);
        cfg.console = console;
        assert!(cfg
            .devices()
            .iter()
            .all(|d| d.kind != DeviceKind::VirtioBlock));
        cfg.disk = true;
        let blk = cfg
            .devices()
            .into_iter()
            .find(|d| d.kind == DeviceKind::VirtioBlock)
            .unwrap();
        assert_eq!(blk.base, DEVICE_WINDOW + at * 0x1000);
        assert_eq!(blk.spi, Some(DEVICE_SPI_BASE + at as u32));
        let d = device_tree(&cfg, &cfg.layout(&DEBIAN_LIKE).unwrap()).unwrap();
        let t = fdt::Fdt::new(&d).unwrap();
        let n = t
            .find_node(&format!("/virtio_mmio@{:x}", blk.base))
            .unwrap();
        assert_eq!(n.compatible().unwrap().first(), "virtio,mmio");
        assert_eq!(
            cells(n.property("interrupts").unwrap().value),
            [0, DEVICE_SPI_BASE + at as u32, 4]
        );
        assert!(n.property("dma-coherent").is_some());
    }
}

#[test]
fn a_nic_follows_the_disk_and_gets_a_dtb_node() {
    let mut cfg = VmmConfig::qemu_virt(GicVersion::V2, 1, "console=hvc0", INITRD);
    cfg.disk = true;
    cfg.net = true;
    let devs = cfg.devices();
    let blk = devs
        .iter()
        .find(|d| d.kind == DeviceKind::VirtioBlock)
        .unwrap();
    let net = devs
        .iter()
        .find(|d| d.kind == DeviceKind::VirtioNet)
        .unwrap();
    assert_eq!(net.base, blk.base + 0x1000);
    assert_eq!(net.spi, blk.spi.map(|s| s + 1));
    // Without a disk the NIC takes the disk's place.
    cfg.disk = false;
    let alone = cfg
        .devices()
        .into_iter()
        .find(|d| d.kind == DeviceKind::VirtioNet)
        .unwrap();
    assert_eq!((alone.base, alone.spi), (blk.base, blk.spi));
    cfg.disk = true;
    let d = device_tree(&cfg, &cfg.layout(&DEBIAN_LIKE).unwrap()).unwrap();
    let t = fdt::Fdt::new(&d).unwrap();
    let n = t
        .find_node(&format!("/virtio_mmio@{:x}", net.base))
        .unwrap();
    assert_eq!(
        cells(n.property("interrupts").unwrap().value),
        [0, net.spi.unwrap(), 4]
    );
}

#[test]
fn probe_finds_block_devices_in_any_slot() {
    use sel4vm_root_task::disk::probe;
    // 32 slots of 0x200 bytes: magic, version, device ID.
    let mut regs = vec![0u32; 32 * 0x80];
    let mut put = |slot: usize, version: u32, id: u32| {
        regs[slot * 0x80] = 0x7472_6976;
        regs[slot * 0x80 + 1] = version;
        regs[slot * 0x80 + 2] = id;
    };
    put(31, 2, 2);
    put(30, 1, 2);
    put(29, 2, 1);
    put(28, 2, 0);
    put(5, 3, 2);
    let read = |off: usize| regs[off / 4];
    assert_eq!(probe(32, 0x200, read, 2), vec![30, 31]);
    assert_eq!(probe(32, 0x200, read, 1), vec![29]);
    assert!(probe(32, 0x200, |_| 0, 2).is_empty());
}
