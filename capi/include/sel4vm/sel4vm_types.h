/*
 * sel4vm-rs C API: basic types shared by the <sel4vm/...> headers.
 *
 * With libsel4 on the include path (<sel4/sel4.h>) its definitions are used;
 * otherwise (host builds, tests) minimal aarch64-compatible ones are given
 * here. Likewise for libsel4vka/libsel4simple/libsel4vspace/libplatsupport:
 * with them on the include path their real types are used, otherwise
 * vka_t, cspacepath_t, reservation_t, vspace_t and vka_object_t get
 * layout-compatible definitions (members in the libraries' order; the
 * operations vm_init's adapter calls have their real prototypes), and
 * simple_t and ps_io_ops_t are incomplete types (only pointers are passed).
 * Which vka/vspace/simple operations are called, and when:
 * docs/migrating-from-libsel4vm.md, "Allocator interop".
 * Define SEL4VM_NO_LIBSEL4 / SEL4VM_NO_SEL4_UTIL_LIBS to force the minimal
 * definitions.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if !defined(SEL4VM_NO_LIBSEL4) && defined(__has_include)
#if __has_include(<sel4/sel4.h>)
#define SEL4VM_HAVE_LIBSEL4 1
#endif
#endif

#if !defined(SEL4VM_NO_SEL4_UTIL_LIBS) && defined(__has_include)
#if __has_include(<vka/vka.h>) && __has_include(<vspace/vspace.h>) && \
    __has_include(<simple/simple.h>) && __has_include(<platsupport/io.h>)
#define SEL4VM_HAVE_SEL4_UTIL_LIBS 1
#endif
#endif

#ifdef SEL4VM_HAVE_LIBSEL4
#include <sel4/sel4.h>
#else
/* 64-bit only: the library is built for aarch64 and 64-bit hosts. */
typedef unsigned long seL4_Word;
typedef seL4_Word seL4_CPtr;
#define seL4_CapNull ((seL4_CPtr)0)

/* Thread registers in the kernel's aarch64 order (word index = the `reg`
 * argument of vm_{get,set}_thread_context_reg). */
typedef struct seL4_UserContext_ {
    seL4_Word pc, sp, spsr;
    seL4_Word x0, x1, x2, x3, x4, x5, x6, x7, x8;
    seL4_Word x16, x17, x18, x29, x30;
    seL4_Word x9, x10, x11, x12, x13, x14, x15;
    seL4_Word x19, x20, x21, x22, x23, x24, x25, x26, x27, x28;
    seL4_Word tpidr_el0, tpidrro_el0;
} seL4_UserContext;

typedef struct seL4_MessageInfo { uint64_t words[1]; } seL4_MessageInfo_t;

/* Bits: 3 grant-reply, 2 grant, 1 read, 0 write. */
typedef struct seL4_CapRights { uint64_t words[1]; } seL4_CapRights_t;
#define seL4_AllRights ((seL4_CapRights_t){{0xfu}})
#define seL4_ReadWrite ((seL4_CapRights_t){{0x3u}})
#define seL4_CanRead ((seL4_CapRights_t){{0x2u}})
#define seL4_NoRights ((seL4_CapRights_t){{0x0u}})

/* Banked VCPU registers, numbered as the kernel numbers them on aarch64. */
typedef enum {
    seL4_VCPUReg_SCTLR = 0,
    seL4_VCPUReg_CPACR,
    seL4_VCPUReg_TTBR0,
    seL4_VCPUReg_TTBR1,
    seL4_VCPUReg_TCR,
    seL4_VCPUReg_MAIR,
    seL4_VCPUReg_AMAIR,
    seL4_VCPUReg_CIDR,
    seL4_VCPUReg_ACTLR,
    seL4_VCPUReg_AFSR0,
    seL4_VCPUReg_AFSR1,
    seL4_VCPUReg_ESR,
    seL4_VCPUReg_FAR,
    seL4_VCPUReg_PAR,
    seL4_VCPUReg_VBAR,
    seL4_VCPUReg_TPIDR_EL1,
    seL4_VCPUReg_VMPIDR_EL2,
    seL4_VCPUReg_SP_EL1,
    seL4_VCPUReg_ELR_EL1,
    seL4_VCPUReg_SPSR_EL1,
    seL4_VCPUReg_CNTV_CTL,
    seL4_VCPUReg_CNTV_CVAL,
    seL4_VCPUReg_CNTVOFF,
    seL4_VCPUReg_CNTKCTL_EL1,
    seL4_VCPUReg_Num
} seL4_VCPUReg;

/* Message registers of an UnknownSyscall fault (aarch64 order); libsel4vm's
 * <sel4vm/sel4_arch/processor.h> names the first one seL4_UnknownSyscall_ARG0. */
typedef enum {
    seL4_UnknownSyscall_X0 = 0,
    seL4_UnknownSyscall_X1,
    seL4_UnknownSyscall_X2,
    seL4_UnknownSyscall_X3,
    seL4_UnknownSyscall_X4,
    seL4_UnknownSyscall_X5,
    seL4_UnknownSyscall_X6,
    seL4_UnknownSyscall_X7,
    seL4_UnknownSyscall_FaultIP,
    seL4_UnknownSyscall_SP,
    seL4_UnknownSyscall_LR,
    seL4_UnknownSyscall_SPSR,
    seL4_UnknownSyscall_Syscall,
    seL4_UnknownSyscall_Length
} seL4_UnknownSyscall_Msg;
#endif /* SEL4VM_HAVE_LIBSEL4 */

#ifdef SEL4VM_HAVE_SEL4_UTIL_LIBS
#include <vka/vka.h>
#include <vka/object.h>
#include <simple/simple.h>
#include <vspace/vspace.h>
#include <platsupport/io.h>
#else
/* Only pointers to these are passed. The library reads the first members
 * of a real libsel4simple simple_t (data, ASID_assign, init_cap); without
 * libsel4simple there is no simple_t to pass, so pass NULL. */
typedef struct simple_t simple_t;
typedef struct ps_io_ops ps_io_ops_t;

/* libsel4vka's slot descriptor (same layout). */
typedef struct _cspacepath_t {
    seL4_CPtr capPtr;
    seL4_Word capDepth;
    seL4_CPtr root;
    seL4_Word dest;
    seL4_Word destDepth;
    seL4_Word offset;
    seL4_Word window;
} cspacepath_t;

/* Returned by utspace_paddr when the address is unknown. */
#define VKA_NO_PADDR 1

/* libsel4vka's allocator interface (same layout and prototypes). `data` is
 * passed as the first argument of every operation. */
typedef struct vka {
    void *data;
    int (*cspace_alloc)(void *data, seL4_CPtr *res);
    void (*cspace_make_path)(void *data, seL4_CPtr slot, cspacepath_t *res);
    int (*utspace_alloc)(void *data, const cspacepath_t *dest, seL4_Word type, seL4_Word size_bits,
                         seL4_Word *res);
    int (*utspace_alloc_maybe_device)(void *data, const cspacepath_t *dest, seL4_Word type,
                                      seL4_Word size_bits, bool can_use_dev, seL4_Word *res);
    int (*utspace_alloc_at)(void *data, const cspacepath_t *dest, seL4_Word type, seL4_Word size_bits,
                            uintptr_t paddr, seL4_Word *cookie);
    void (*cspace_free)(void *data, seL4_CPtr slot);
    void (*utspace_free)(void *data, seL4_Word type, seL4_Word size_bits, seL4_Word target);
    uintptr_t (*utspace_paddr)(void *data, seL4_Word target, seL4_Word type, seL4_Word size_bits);
} vka_t;

/* libsel4vka's object descriptor (same layout). */
typedef struct vka_object {
    seL4_CPtr cptr;
    seL4_Word ut;
    seL4_Word type;
    seL4_Word size_bits;
} vka_object_t;

/* libsel4vspace's reservation handle (same layout); NULL res = failure. */
typedef struct reservation {
    void *res;
} reservation_t;

/* libsel4vspace's vspace_t, layout-compatible (the data pointer, 17
 * operations, the allocated-object cookie). The four operations vm_init's
 * adapter calls have libsel4vspace's prototypes; the others are opaque
 * (never called). */
typedef void (*sel4vm_vspace_op_fn)(void);
typedef struct vspace vspace_t;
struct vspace {
    void *data;
    sel4vm_vspace_op_fn new_pages;
    sel4vm_vspace_op_fn map_pages;
    sel4vm_vspace_op_fn new_pages_at_vaddr;
    int (*map_pages_at_vaddr)(vspace_t *vspace, seL4_CPtr caps[], uintptr_t cookies[], void *vaddr,
                              size_t num_pages, size_t size_bits, reservation_t reservation);
    sel4vm_vspace_op_fn deferred_rights_map_pages_at_vaddr;
    void (*unmap_pages)(vspace_t *vspace, void *vaddr, size_t num_pages, size_t size_bits, vka_t *free);
    sel4vm_vspace_op_fn tear_down;
    reservation_t (*reserve_range_aligned)(vspace_t *vspace, size_t bytes, size_t size_bits,
                                           seL4_CapRights_t rights, int cacheable, void **vaddr);
    sel4vm_vspace_op_fn reserve_range_at;
    sel4vm_vspace_op_fn reserve_deferred_rights_range_at;
    void (*free_reservation)(vspace_t *vspace, reservation_t reservation);
    sel4vm_vspace_op_fn free_reservation_by_vaddr;
    sel4vm_vspace_op_fn get_cap;
    sel4vm_vspace_op_fn get_root;
    sel4vm_vspace_op_fn get_cookie;
    sel4vm_vspace_op_fn share_mem_at_vaddr;
    sel4vm_vspace_op_fn allocated_object;
    void *allocated_object_cookie;
};
#endif /* SEL4VM_HAVE_SEL4_UTIL_LIBS */

_Static_assert(sizeof(void *) == 8 && sizeof(seL4_Word) == 8,
               "the sel4vm C API is built for 64-bit targets only");

/* Forward declarations used across the headers. */
typedef struct vm vm_t;
typedef struct vm_vcpu vm_vcpu_t;
