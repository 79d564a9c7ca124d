//! Packs a boot image from the command line:
//! `cargo run -p sel4vm-image --example pack -- SEL4_PREFIX LOADER_ELF ROOT_TASK_ELF OUT`
//! and prints the layout and the QEMU command that boots it.

use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [prefix, loader, root_task, out] = args.as_slice() else {
        eprintln!("usage: pack SEL4_PREFIX LOADER_ELF ROOT_TASK_ELF OUT");
        return ExitCode::FAILURE;
    };
    let run = || -> Result<(), Box<dyn std::error::Error>> {
        let install = sel4vm_image::KernelInstall::open(Path::new(prefix))?;
        let loader = std::fs::read(loader)?;
        let root_task = std::fs::read(root_task)?;
        let layout = sel4vm_image::plan(&install.pack_input(&loader, &root_task))?;
        let image = install.pack(&loader, &root_task)?;
        std::fs::write(out, image)?;
        let h = &layout.header;
        println!(
            "loader    {:#x}..{:#x}",
            layout.loader.start, layout.loader.end
        );
        println!(
            "kernel    {:#x}..{:#x} (virt {:#x})",
            h.kernel_phys_start, h.kernel_phys_end, h.kernel_virt_start
        );
        println!(
            "dtb       {:#x}..{:#x}",
            h.dtb_phys,
            h.dtb_phys + h.dtb_size
        );
        println!(
            "root task {:#x}..{:#x} (pv_offset {:#x})",
            h.user_phys_start, h.user_phys_end, h.user_pv_offset
        );
        println!(
            "qemu-system-aarch64 {} -nographic -kernel {out}",
            install.qemu_args().join(" ")
        );
        Ok(())
    };
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pack: {e}");
            ExitCode::FAILURE
        }
    }
}
