//! The C-visible types of the `<sel4vm/...>` headers, with `#[repr(C)]`
//! layouts that must match the headers field for field (checked by the ABI
//! test: `_Static_assert` on the C side against [`crate::layout::table`]).
//!
//! Names follow the C headers, hence the lint exemption.
#![allow(non_camel_case_types)]

use core::ffi::{c_char, c_int, c_uint, c_void};

/// `seL4_Word` (aarch64 and 64-bit hosts: `unsigned long`).
pub type seL4_Word = u64;
/// `seL4_CPtr`.
pub type seL4_CPtr = seL4_Word;

/// Maximum number of vCPUs a `vm_t` holds (`SEL4VM_MAX_VCPUS` in the headers;
/// libsel4vm sizes this array with `CONFIG_MAX_NUM_NODES`).
pub const SEL4VM_MAX_VCPUS: usize = 8;

/// Written to `vm_t.sel4vm_magic` by `vm_init`; lets the API reject a
/// `vm_t` that was never initialised (or was copied).
pub const SEL4VM_MAGIC: u64 = 0x7365_6c34_766d_5253; // "sel4vmRS"

/// `seL4_UserContext` on aarch64: 36 words in the kernel's order (pc, sp,
/// spsr, x0-x8, x16-x18, x29, x30, x9-x15, x19-x28, tpidr_el0, tpidrro_el0).
/// Same layout as [`core_vm::UserContext`].
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct seL4_UserContext {
    /// Raw words.
    pub words: [seL4_Word; 36],
}

/// `seL4_MessageInfo_t`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct seL4_MessageInfo_t {
    /// The packed word.
    pub words: [u64; 1],
}

/// `seL4_CapRights_t`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct seL4_CapRights_t {
    /// The packed word (bit 3 grant-reply, 2 grant, 1 read, 0 write).
    pub words: [u64; 1],
}

/// libsel4vka's `vka_object_t`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct vka_object_t {
    /// Capability to the object.
    pub cptr: seL4_CPtr,
    /// Untyped cookie (0 here).
    pub ut: seL4_Word,
    /// Object type (0 here: not tracked).
    pub type_: seL4_Word,
    /// Size bits (0 here: not tracked).
    pub size_bits: seL4_Word,
}

/// libsel4vka's `cspacepath_t`: a slot as CNode invocations and
/// `Untyped_Retype` address it.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[allow(non_snake_case)]
pub struct cspacepath_t {
    /// The slot's CPtr.
    pub capPtr: seL4_CPtr,
    /// Bits of `capPtr` to resolve.
    pub capDepth: seL4_Word,
    /// CNode `capPtr` is resolved in.
    pub root: seL4_CPtr,
    /// Retype destination CNode (relative to `root`).
    pub dest: seL4_Word,
    /// Bits of `dest` to resolve.
    pub destDepth: seL4_Word,
    /// Slot offset in `dest`.
    pub offset: seL4_Word,
    /// Number of slots.
    pub window: seL4_Word,
}

/// `vka_cspace_alloc_fn`.
pub type vka_cspace_alloc_fn = Option<unsafe extern "C" fn(*mut c_void, *mut seL4_CPtr) -> c_int>;
/// `vka_cspace_make_path_fn`.
pub type vka_cspace_make_path_fn =
    Option<unsafe extern "C" fn(*mut c_void, seL4_CPtr, *mut cspacepath_t)>;
/// `vka_cspace_free_fn`.
pub type vka_cspace_free_fn = Option<unsafe extern "C" fn(*mut c_void, seL4_CPtr)>;
/// `vka_utspace_alloc_fn`.
pub type vka_utspace_alloc_fn = Option<
    unsafe extern "C" fn(
        *mut c_void,
        *const cspacepath_t,
        seL4_Word,
        seL4_Word,
        *mut seL4_Word,
    ) -> c_int,
>;
/// `vka_utspace_alloc_maybe_device_fn`.
pub type vka_utspace_alloc_maybe_device_fn = Option<
    unsafe extern "C" fn(
        *mut c_void,
        *const cspacepath_t,
        seL4_Word,
        seL4_Word,
        bool,
        *mut seL4_Word,
    ) -> c_int,
>;
/// `vka_utspace_alloc_at_fn`.
pub type vka_utspace_alloc_at_fn = Option<
    unsafe extern "C" fn(
        *mut c_void,
        *const cspacepath_t,
        seL4_Word,
        seL4_Word,
        usize,
        *mut seL4_Word,
    ) -> c_int,
>;
/// `vka_utspace_free_fn`.
pub type vka_utspace_free_fn =
    Option<unsafe extern "C" fn(*mut c_void, seL4_Word, seL4_Word, seL4_Word)>;
/// `vka_utspace_paddr_fn`.
pub type vka_utspace_paddr_fn =
    Option<unsafe extern "C" fn(*mut c_void, seL4_Word, seL4_Word, seL4_Word) -> usize>;

/// `VKA_NO_PADDR`: what `utspace_paddr` returns when it cannot tell.
pub const VKA_NO_PADDR: usize = 1;

/// libsel4vka's `vka_t`: the allocator's cookie and its operations, in
/// libsel4vka's order. Which ones the library calls, and when, is listed in
/// docs/migrating-from-libsel4vm.md.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct vka_t {
    /// Passed as the first argument of every operation.
    pub data: *mut c_void,
    /// Takes an empty slot.
    pub cspace_alloc: vka_cspace_alloc_fn,
    /// Slot to `cspacepath_t`.
    pub cspace_make_path: vka_cspace_make_path_fn,
    /// Retypes an object into a slot.
    pub utspace_alloc: vka_utspace_alloc_fn,
    /// Same, optionally from device memory.
    pub utspace_alloc_maybe_device: vka_utspace_alloc_maybe_device_fn,
    /// Same, at a physical address.
    pub utspace_alloc_at: vka_utspace_alloc_at_fn,
    /// Returns an empty slot.
    pub cspace_free: vka_cspace_free_fn,
    /// Returns an object's memory (its caps are already deleted).
    pub utspace_free: vka_utspace_free_fn,
    /// Physical address of an allocation.
    pub utspace_paddr: vka_utspace_paddr_fn,
}

/// libsel4vspace's `reservation_t`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct reservation_t {
    /// Implementation handle; NULL means failure.
    pub res: *mut c_void,
}

/// `vspace_map_pages_at_vaddr_fn`.
pub type vspace_map_pages_at_vaddr_fn = Option<
    unsafe extern "C" fn(
        *mut vspace_t,
        *mut seL4_CPtr,
        *mut usize,
        *mut c_void,
        usize,
        usize,
        reservation_t,
    ) -> c_int,
>;
/// `vspace_unmap_pages_fn`.
pub type vspace_unmap_pages_fn =
    Option<unsafe extern "C" fn(*mut vspace_t, *mut c_void, usize, usize, *mut vka_t)>;
/// `vspace_reserve_range_aligned_fn`.
pub type vspace_reserve_range_aligned_fn = Option<
    unsafe extern "C" fn(
        *mut vspace_t,
        usize,
        usize,
        seL4_CapRights_t,
        c_int,
        *mut *mut c_void,
    ) -> reservation_t,
>;
/// `vspace_free_reservation_fn`.
pub type vspace_free_reservation_fn = Option<unsafe extern "C" fn(*mut vspace_t, reservation_t)>;
/// An operation of `vspace_t` the library never calls.
pub type vspace_unused_fn = Option<unsafe extern "C" fn()>;

/// libsel4vspace's `vspace_t`: `data`, 17 operation pointers and the
/// allocated-object cookie, in libsel4vspace's order. Only the four typed
/// operations are ever called (see docs/migrating-from-libsel4vm.md).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct vspace_t {
    /// Implementation data.
    pub data: *mut c_void,
    /// `new_pages` (unused).
    pub new_pages: vspace_unused_fn,
    /// `map_pages` (unused).
    pub map_pages: vspace_unused_fn,
    /// `new_pages_at_vaddr` (unused).
    pub new_pages_at_vaddr: vspace_unused_fn,
    /// `map_pages_at_vaddr`: maps each guest frame's VMM copy.
    pub map_pages_at_vaddr: vspace_map_pages_at_vaddr_fn,
    /// `deferred_rights_map_pages_at_vaddr` (unused).
    pub deferred_rights_map_pages_at_vaddr: vspace_unused_fn,
    /// `unmap_pages`: before a guest frame's VMM copy is deleted.
    pub unmap_pages: vspace_unmap_pages_fn,
    /// `tear_down` (unused).
    pub tear_down: vspace_unused_fn,
    /// `reserve_range_aligned`: the VMM window of each VM.
    pub reserve_range_aligned: vspace_reserve_range_aligned_fn,
    /// `reserve_range_at` (unused).
    pub reserve_range_at: vspace_unused_fn,
    /// `reserve_deferred_rights_range_at` (unused).
    pub reserve_deferred_rights_range_at: vspace_unused_fn,
    /// `free_reservation`: the windows, when the adapter is dropped.
    pub free_reservation: vspace_free_reservation_fn,
    /// `free_reservation_by_vaddr` (unused).
    pub free_reservation_by_vaddr: vspace_unused_fn,
    /// `get_cap` (unused).
    pub get_cap: vspace_unused_fn,
    /// `get_root` (unused).
    pub get_root: vspace_unused_fn,
    /// `get_cookie` (unused).
    pub get_cookie: vspace_unused_fn,
    /// `share_mem_at_vaddr` (unused).
    pub share_mem_at_vaddr: vspace_unused_fn,
    /// `allocated_object` (unused).
    pub allocated_object: vspace_unused_fn,
    /// `allocated_object_cookie`.
    pub allocated_object_cookie: *mut c_void,
}

impl Default for vspace_t {
    fn default() -> Self {
        // SAFETY: all-zero is NULL for every pointer and `None` for every
        // `Option<fn>`.
        unsafe { core::mem::zeroed() }
    }
}

/// The leading members of libsel4simple's `simple_t` (data and its first 7
/// operations), the only part the library reads. Never held by value: the
/// real struct is longer.
#[repr(C)]
pub struct simple_prefix_t {
    /// Passed as the first argument of every operation.
    pub data: *mut c_void,
    /// `frame_cap`, `frame_mapping`, `frame_info` (unused).
    pub unused0: [vspace_unused_fn; 3],
    /// `ASID_assign(data, vspace)`: assigns the guest VSpace.
    pub asid_assign: Option<unsafe extern "C" fn(*mut c_void, seL4_CPtr) -> c_int>,
    /// `cap_count`, `nth_cap` (unused).
    pub unused1: [vspace_unused_fn; 2],
    /// `init_cap(data, cap)`: the VMM's TCB and CNode.
    pub init_cap: Option<unsafe extern "C" fn(*mut c_void, seL4_CPtr) -> seL4_CPtr>,
}

/// Opaque `ps_io_ops_t` (only the pointer is stored).
#[repr(C)]
pub struct Opaque {
    _p: [u8; 0],
}

/// `memory_fault_result_t` values.
pub mod fault_result {
    /// `FAULT_HANDLED`
    pub const HANDLED: u32 = 0;
    /// `FAULT_UNHANDLED`
    pub const UNHANDLED: u32 = 1;
    /// `FAULT_RESTART`
    pub const RESTART: u32 = 2;
    /// `FAULT_IGNORE`
    pub const IGNORE: u32 = 3;
    /// `FAULT_ERROR`
    pub const ERROR: u32 = 4;
}

/// `memory_fault_callback_fn` (also `unhandled_mem_fault_callback_fn`).
pub type memory_fault_callback_fn =
    Option<unsafe extern "C" fn(*mut vm_t, *mut vm_vcpu_t, usize, usize, *mut c_void) -> c_uint>;
/// `notification_callback_fn`.
pub type notification_callback_fn =
    Option<unsafe extern "C" fn(*mut vm_t, seL4_Word, seL4_MessageInfo_t, *mut c_void) -> c_int>;
/// `ram_touch_callback_fn`.
pub type ram_touch_callback_fn =
    Option<unsafe extern "C" fn(*mut vm_t, usize, *mut c_void, usize, usize, *mut c_void) -> c_int>;
/// `memory_map_iterator_fn`.
pub type memory_map_iterator_fn = Option<unsafe extern "C" fn(usize, *mut c_void) -> vm_frame_t>;
/// `irq_ack_fn_t`.
pub type irq_ack_fn_t = Option<unsafe extern "C" fn(*mut vm_vcpu_t, c_int, *mut c_void)>;
/// `smc_handler_callback_fn`.
pub type smc_handler_callback_fn =
    Option<unsafe extern "C" fn(*mut vm_vcpu_t, *mut seL4_UserContext) -> c_int>;
/// `unhandled_vcpu_fault_callback_fn`.
pub type unhandled_vcpu_fault_callback_fn =
    Option<unsafe extern "C" fn(*mut vm_vcpu_t, u32, *mut c_void) -> c_int>;

/// `vm_frame_t`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct vm_frame_t {
    /// Frame capability (host build: a frame handle from `sel4vm_host_alloc_frame`).
    pub cptr: seL4_CPtr,
    /// Stage-2 rights.
    pub rights: seL4_CapRights_t,
    /// Guest address the frame is for.
    pub vaddr: usize,
    /// log2 of the frame size (only 12 is supported).
    pub size_bits: usize,
}

/// `struct vm_ram_region`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct vm_ram_region {
    /// Guest-physical start.
    pub start: usize,
    /// Size in bytes.
    pub size: usize,
    /// Non-zero if allocated.
    pub allocated: c_int,
}

/// `struct vm_mem`.
#[repr(C)]
pub struct vm_mem {
    /// `vm_vspace` (not functional: zeroed).
    pub vm_vspace: vspace_t,
    /// `vm_vspace_root` (not tracked: zeroed).
    pub vm_vspace_root: vka_object_t,
    /// `vmm_vspace` (the vspace passed to `vm_init`, copied).
    pub vmm_vspace: vspace_t,
    /// Number of entries in `ram_regions`.
    pub num_ram_regions: c_int,
    /// Guest RAM as sorted runs of equal allocation state.
    pub ram_regions: *mut vm_ram_region,
    /// Opaque (NULL).
    pub reservation_cookie: *mut c_void,
    /// Registered unhandled-fault callback.
    pub unhandled_mem_fault_handler: memory_fault_callback_fn,
    /// Its cookie.
    pub unhandled_mem_fault_cookie: *mut c_void,
    /// Always 0.
    pub clean_cache: c_int,
    /// Always 0.
    pub map_one_to_one: c_int,
}

/// `struct vm_tcb`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct vm_tcb {
    /// The TCB.
    pub tcb: vka_object_t,
    /// Scheduling context (MCS only; zero otherwise).
    pub sc: vka_object_t,
    /// Scheduling control (zero).
    pub sched_ctrl: vka_object_t,
    /// Priority.
    pub priority: c_int,
}

/// `struct vm_vcpu_arch`.
#[repr(C)]
pub struct vm_vcpu_arch {
    /// Opaque (NULL); use the `get_vcpu_fault_*` functions.
    pub fault: *mut c_void,
    /// Registered unhandled-VCPU-fault callback.
    pub unhandled_vcpu_callback: unhandled_vcpu_fault_callback_fn,
    /// Its cookie.
    pub unhandled_vcpu_callback_cookie: *mut c_void,
}

/// `struct vm_vcpu` (`vm_vcpu_t`).
#[repr(C)]
pub struct vm_vcpu_t {
    /// Parent VM.
    pub vm: *mut vm_t,
    /// The VCPU object.
    pub vcpu: vka_object_t,
    /// TCB and priority.
    pub tcb: vm_tcb,
    /// Index in the VM.
    pub vcpu_id: c_uint,
    /// Assigned physical CPU, -1 if none.
    pub target_cpu: c_int,
    /// Started and not stopped.
    pub vcpu_online: bool,
    /// Arch part.
    pub vcpu_arch: vm_vcpu_arch,
}

/// `struct vm_run`.
#[repr(C)]
pub struct vm_run {
    /// Exit code of the last `vm_run` (`vm_exit_codes_t` or -1).
    pub exit_reason: c_int,
    /// Registered notification callback.
    pub notification_callback: notification_callback_fn,
    /// Its cookie.
    pub notification_callback_cookie: *mut c_void,
}

/// `struct vm_cspace`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct vm_cspace {
    /// The CNode.
    pub cspace_obj: vka_object_t,
    /// Root data for installing it.
    pub cspace_root_data: seL4_Word,
}

/// `struct vm_arch`.
#[repr(C)]
pub struct vm_arch {
    /// Registered SMC handler.
    pub vm_smc_handler: smc_handler_callback_fn,
}

/// `struct vm` (`vm_t`).
#[repr(C)]
pub struct vm_t {
    /// Arch part.
    pub arch: vm_arch,
    /// Number of vCPUs created.
    pub num_vcpus: c_uint,
    /// The vCPUs, by id.
    pub vcpus: [*mut vm_vcpu_t; SEL4VM_MAX_VCPUS],
    /// Memory state.
    pub mem: vm_mem,
    /// Run state.
    pub run: vm_run,
    /// The VM's CSpace.
    pub cspace: vm_cspace,
    /// Endpoint `vm_run` receives on.
    pub host_endpoint: seL4_CPtr,
    /// As passed to `vm_init`.
    pub vka: *mut vka_t,
    /// As passed to `vm_init`.
    pub io_ops: *mut Opaque,
    /// As passed to `vm_init`.
    pub simple: *mut simple_prefix_t,
    /// Guest entry point: owned by the application, never touched by the library.
    pub entry: seL4_Word,
    /// NUL-terminated copy of the name.
    pub vm_name: *mut c_char,
    /// Process-wide VM number.
    pub vm_id: c_uint,
    /// True after a successful `vm_init`.
    pub vm_initialised: bool,
    /// [`SEL4VM_MAGIC`] after `vm_init`.
    pub sel4vm_magic: u64,
    /// The Rust side (`crate::state::Priv`).
    pub sel4vm_impl: *mut c_void,
}

/// Opaque reservation handle handed to C (`vm_memory_reservation_t *`).
pub struct vm_memory_reservation_t {
    pub(crate) res: core_vm::Reservation,
}
