//! sel4vm-loader: the bare-metal stage between QEMU and seL4.
//!
//! `sel4vm-image` packs this binary together with seL4, a DTB and the root
//! task; QEMU places every payload at its final physical address. The loader
//! then checks it is at EL2, verifies the payload against the boot header,
//! builds EL2 page tables (identity map of RAM and the UART, plus the
//! kernel's virtual window), turns the MMU on and enters the kernel with the
//! registers seL4's `init_kernel` takes:
//!
//! | reg | value |
//! |-----|-------|
//! | x0  | root-task image physical start |
//! | x1  | root-task image physical end |
//! | x2  | pv_offset = physical start - virtual start |
//! | x3  | root-task entry (virtual) |
//! | x4  | DTB physical address |
//! | x5  | DTB size |
//!
//! Plays the part of seL4_tools' elfloader; no libsel4vm/libvmm counterpart.

#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod asm;
// Shared with sel4vm-image, which uses the encoding half.
#[cfg(target_os = "none")]
#[allow(dead_code)]
mod boot_header;
// Also built for host unit tests (`cargo test -p sel4vm-loader`).
#[cfg(any(target_os = "none", test))]
#[cfg_attr(test, allow(dead_code))]
mod mmu;
#[cfg(target_os = "none")]
mod uart;

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("sel4vm-loader is a bare-metal binary; build it with --target aarch64-unknown-none (cargo xtask)");
}

#[cfg(target_os = "none")]
mod boot {
    use core::ptr::{addr_of, addr_of_mut, read_volatile};

    use crate::asm::{self, EnterArgs};
    use crate::boot_header::{BootHeader, Fnv64, HeaderError, HEADER_SIZE};
    use crate::mmu::{Kind, MapError, PageTables, Table, MAIR_EL2, POOL};
    use crate::uart::Uart;

    /// QEMU virt's PL011, used until the header names the UART.
    const DEFAULT_UART: u64 = 0x0900_0000;
    const MIB2: u64 = 1 << 21;
    const FDT_MAGIC_BE: u32 = 0xd00d_feed;

    /// Boot page tables; seL4 replaces them during `init_kernel`, after
    /// which this memory is ordinary free RAM.
    static mut BOOT_TABLES: [Table; POOL] = [Table::EMPTY; POOL];

    fn halt() -> ! {
        loop {
            // SAFETY: waiting for an event has no memory effects.
            unsafe { core::arch::asm!("wfe") };
        }
    }

    fn fail(uart: &Uart, msg: &str) -> ! {
        uart.s("loader: ERROR: ").s(msg).s("\nloader: halted\n");
        halt()
    }

    fn read_header() -> Result<BootHeader, HeaderError> {
        let mut bytes = [0u8; HEADER_SIZE];
        // Volatile reads: the compiler must not assume pre-packing contents.
        let src = addr_of!(asm::__sel4vm_boot_header) as *const u8;
        for (i, b) in bytes.iter_mut().enumerate() {
            // SAFETY: i < HEADER_SIZE, inside the header symbol.
            *b = unsafe { read_volatile(src.add(i)) };
        }
        BootHeader::from_bytes(&bytes)
    }

    /// Hashes `len` bytes of physical memory the way the packer hashed the
    /// file data (little-endian words, zero-padded tail).
    fn hash_phys(start: u64, len: u64) -> u64 {
        let mut h = Fnv64::new();
        let words = len / 8;
        let p = start as *const u64;
        for i in 0..words {
            // SAFETY: the packer placed this region inside RAM; 8-aligned.
            h.word(unsafe { read_volatile(p.add(i as usize)) });
        }
        let tail = len % 8;
        if tail != 0 {
            let mut w = [0u8; 8];
            for (i, b) in w.iter_mut().take(tail as usize).enumerate() {
                // SAFETY: within the region.
                *b = unsafe { read_volatile((start + words * 8 + i as u64) as *const u8) };
            }
            h.word(u64::from_le_bytes(w));
        }
        h.finish()
    }

    fn current_sctlr_el2() -> u64 {
        let v: u64;
        // SAFETY: reading a system register of the current EL.
        unsafe { core::arch::asm!("mrs {}, sctlr_el2", out(reg) v) };
        v
    }

    fn map_err_text(e: MapError) -> &'static str {
        match e {
            MapError::Misaligned => "boot page tables: mapping not 2 MiB aligned",
            MapError::OutOfRange => "boot page tables: mapping beyond 48-bit VA",
            MapError::OutOfTables => "boot page tables: table pool exhausted",
            MapError::AlreadyMapped => "boot page tables: overlapping mappings",
        }
    }

    fn round_down(x: u64) -> u64 {
        x & !(MIB2 - 1)
    }

    fn round_up(x: u64) -> u64 {
        x.saturating_add(MIB2 - 1) & !(MIB2 - 1)
    }

    fn build_tables(h: &BootHeader) -> Result<PageTables<'static>, MapError> {
        // SAFETY: called once; the loader is single-threaded.
        let mut pt = PageTables::new(unsafe { &mut *addr_of_mut!(BOOT_TABLES) });
        // RAM identity map: the loader keeps running right after MMU-on.
        let ram = round_down(h.ram_start);
        pt.map(ram, ram, round_up(h.ram_end) - ram, Kind::Normal)?;
        // The UART, so a message after MMU-on would still work.
        let uart = round_down(h.uart_base);
        if uart + MIB2 <= ram || uart >= round_up(h.ram_end) {
            pt.map(uart, uart, MIB2, Kind::Device)?;
        }
        // The kernel window: kernel virtual range -> kernel physical range.
        // The packer guarantees the offset is 2 MiB aligned.
        let offset = h.kernel_virt_start.wrapping_sub(h.kernel_phys_start);
        let pstart = round_down(h.kernel_phys_start);
        let pend = round_up(h.kernel_phys_end);
        pt.map(
            pstart.wrapping_add(offset),
            pstart,
            pend - pstart,
            Kind::Normal,
        )?;
        Ok(pt)
    }

    #[no_mangle]
    extern "C" fn loader_main(el: u64) -> ! {
        let early = Uart::new(DEFAULT_UART);
        early.s("\nsel4vm-loader: started at EL").s(match el {
            0 => "0",
            1 => "1",
            2 => "2",
            _ => "3",
        });
        early.s("\n");
        if el != 2 {
            fail(
                &early,
                "seL4 is built with hypervisor support and must be entered at EL2; \
                 run QEMU with -machine virt,virtualization=on",
            );
        }
        if current_sctlr_el2() & 1 != 0 {
            // A previous stage left the MMU on; our tables are built with it off.
            // SAFETY: we run from identity-mapped (or physical) memory.
            unsafe { asm::loader_mmu_off() };
        }

        let h = match read_header() {
            Ok(h) => h,
            Err(HeaderError::Unpacked) => {
                fail(&early, "this loader was not packed (use sel4vm-image)")
            }
            Err(HeaderError::BadVersion(_)) => {
                fail(&early, "boot header version mismatch (repack the image)")
            }
            Err(_) => fail(&early, "boot header is corrupt"),
        };
        let uart = Uart::new(h.uart_base);
        let (lstart, lend) = (
            addr_of!(asm::__loader_start) as u64,
            addr_of!(asm::__loader_end) as u64,
        );
        uart.s("loader: image ")
            .range(lstart, lend)
            .s(", RAM ")
            .range(h.ram_start, h.ram_end)
            .s("\n");
        uart.s("loader: kernel at ")
            .range(h.kernel_phys_start, h.kernel_phys_end)
            .s(" virt ")
            .hex(h.kernel_virt_start)
            .s(" entry ")
            .hex(h.kernel_entry)
            .s("\n");
        uart.s("loader: dtb at ")
            .hex(h.dtb_phys)
            .s(" size ")
            .hex(h.dtb_size)
            .s("\n");
        uart.s("loader: root task at ")
            .range(h.user_phys_start, h.user_phys_end)
            .s(" pv_offset ")
            .hex(h.user_pv_offset)
            .s(" entry ")
            .hex(h.user_entry)
            .s("\n");

        if hash_phys(h.kernel_phys_start, h.kernel_phys_end - h.kernel_phys_start) != h.kernel_hash
        {
            fail(
                &uart,
                "kernel image in memory does not match the packed image",
            );
        }
        if hash_phys(h.dtb_phys, h.dtb_size) != h.dtb_hash {
            fail(&uart, "DTB in memory does not match the packed image");
        }
        if hash_phys(h.user_phys_start, h.user_phys_end - h.user_phys_start) != h.user_hash {
            fail(
                &uart,
                "root-task image in memory does not match the packed image",
            );
        }
        // SAFETY: the DTB region was just verified.
        let magic = unsafe { read_volatile(h.dtb_phys as *const u32) };
        if u32::from_be(magic) != FDT_MAGIC_BE {
            fail(&uart, "no DTB magic at the DTB address");
        }
        uart.s("loader: payload verified\n");

        let tables = match build_tables(&h) {
            Ok(t) => t,
            Err(e) => fail(&uart, map_err_text(e)),
        };
        let args = EnterArgs {
            regs: [
                h.user_phys_start,
                h.user_phys_end,
                h.user_pv_offset,
                h.user_entry,
                h.dtb_phys,
                h.dtb_size,
            ],
            entry: h.kernel_entry,
            ttbr0: tables.root(),
            mair: MAIR_EL2,
            tcr: h.tcr_el2,
        };
        uart.s("loader: entering kernel at ")
            .hex(h.kernel_entry)
            .s("\n\n");
        // SAFETY: the tables map the loader, RAM and the kernel window; args
        // lives on our (identity-mapped) stack.
        unsafe { asm::loader_enter_kernel(&args) }
    }

    #[no_mangle]
    extern "C" fn loader_exception(vector: u64, esr: u64, elr: u64, far: u64) -> ! {
        Uart::new(DEFAULT_UART)
            .s("\nloader: unexpected exception, vector ")
            .hex(vector)
            .s(" ESR_EL2 ")
            .hex(esr)
            .s(" ELR_EL2 ")
            .hex(elr)
            .s(" FAR_EL2 ")
            .hex(far)
            .s("\nloader: halted\n");
        halt()
    }

    #[panic_handler]
    fn panic(_info: &core::panic::PanicInfo<'_>) -> ! {
        fail(&Uart::new(DEFAULT_UART), "internal panic")
    }
}
