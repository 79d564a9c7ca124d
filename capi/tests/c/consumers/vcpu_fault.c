/*
 * ARM vCPU exception handling shaped like libsel4vmmplatsupport's: one
 * handler per exception class in a table indexed by HSR_EXCEPTION_CLASS(),
 * registered as the unhandled-vCPU-fault callback of every vCPU, plus an
 * SMC handler implementing the PSCI calls a Linux guest makes to bring up
 * its secondary CPUs.
 */
#include "consumer.h"

typedef int (*cons_exception_handler_fn)(vm_vcpu_t *vcpu, uint32_t hsr);

static int unknown_exception(vm_vcpu_t *vcpu, uint32_t hsr)
{
    (void)vcpu;
    /* hsr_reasons names the class (always a string: every class has one). */
    sel4vm_puts("consumers: unhandled vCPU exception class:");
    sel4vm_puts(hsr_reasons[HSR_EXCEPTION_CLASS(hsr)]);
    return -1;
}

static int ignore_exception(vm_vcpu_t *vcpu, uint32_t hsr)
{
    (void)hsr;
    advance_vcpu_fault(vcpu);
    return 0;
}

/* ISS of a trapped MSR/MRS (EC 0x18): Op0 21:20, Op2 19:17, Op1 16:14,
 * CRn 13:10, Rt 9:5, CRm 4:1, direction 0 (1 = read). */
#define SYSREG_ISS_RT(iss) (((iss) >> 5) & 0x1f)
#define SYSREG_ISS_READ(iss) ((iss) & 1)
/* Op0, Op1, CRn, CRm, Op2: the register's identity (Rt and direction cleared). */
#define SYSREG_ISS_ID_MASK (HSR_ISS_MASK & ~((0x1fu << 5) | 1u))

/* seL4_UserContext word index of x<n> (the kernel's aarch64 order). */
static int xreg_index(unsigned int n)
{
    if (n <= 8) {
        return 3 + (int)n;
    }
    if (n <= 15) {
        return 17 + (int)(n - 9);
    }
    switch (n) {
    case 16: return 12;
    case 17: return 13;
    case 18: return 14;
    case 29: return 15;
    case 30: return 16;
    default: break;
    }
    if (n >= 19 && n <= 28) {
        return 24 + (int)(n - 19);
    }
    return -1; /* xzr */
}

/* Reads of unimplemented system registers return a fixed value; writes are ignored. */
static int sysreg_exception(vm_vcpu_t *vcpu, uint32_t hsr)
{
    uint32_t iss = hsr & HSR_ISS_MASK;
    cons.sysreg_traps++;
    cons.last_sysreg_iss = iss & SYSREG_ISS_ID_MASK;
    if (SYSREG_ISS_READ(iss)) {
        int idx = xreg_index(SYSREG_ISS_RT(iss));
        if (idx >= 0 && vm_set_thread_context_reg(vcpu, (unsigned int)idx, CONS_SYSREG_READ_VALUE) != 0) {
            return -1;
        }
    }
    advance_vcpu_fault(vcpu);
    return 0;
}

static cons_exception_handler_fn handlers[HSR_MAX_EXCEPTION + 1];

static int register_exception_handler(uint32_t ec_class, cons_exception_handler_fn fn)
{
    if (ec_class > HSR_MAX_EXCEPTION) {
        return -1;
    }
    handlers[ec_class] = fn;
    return 0;
}

int cons_handle_vcpu_exception(vm_vcpu_t *vcpu, uint32_t hsr, void *cookie)
{
    (void)cookie;
    uint32_t ec = HSR_EXCEPTION_CLASS(hsr);
    cons_exception_handler_fn fn = handlers[ec];
    if (!fn) {
        return unknown_exception(vcpu, hsr);
    }
    return fn(vcpu, hsr);
}

/* PSCI CPU_ON: x1 target MPIDR (Aff0 = target CPU), x2 entry, x3 context id. */
static long psci_cpu_on(vm_vcpu_t *caller, seL4_Word target, seL4_Word entry, seL4_Word context)
{
    vm_t *vm = caller->vm;
    vm_vcpu_t *vcpu = vm_vcpu_for_target_cpu(vm, (int)(target & 0xff));
    if (!vcpu) {
        vcpu = vm_find_free_unassigned_vcpu(vm);
        if (!vcpu || vm_assign_vcpu_target(vcpu, (int)(target & 0xff)) != 0) {
            return PSCI_INVALID_PARAMETERS;
        }
    }
    if (is_vcpu_online(vcpu)) {
        return PSCI_ALREADY_ON;
    }
    seL4_UserContext regs;
    if (vm_get_thread_context(vcpu, &regs) != 0) {
        return PSCI_INVALID_PARAMETERS;
    }
    regs.pc = entry;
    regs.x0 = context;
    regs.spsr = PMODE_EL1h | (0xful << 6); /* DAIF masked */
    if (vm_set_thread_context(vcpu, regs) != 0 || vcpu_start(vcpu) != 0) {
        return PSCI_INVALID_PARAMETERS;
    }
    return PSCI_SUCCESS;
}

static int smc_handler(vm_vcpu_t *vcpu, seL4_UserContext *regs)
{
    long ret;
    cons.smc_calls++;
    switch ((uint32_t)regs->x0) {
    case PSCI_VERSION:
        ret = 0x10000; /* 1.0 */
        break;
    case PSCI_FEATURES:
        ret = ((uint32_t)regs->x1 == PSCI_CPU_ON_64) ? PSCI_SUCCESS : PSCI_NOT_SUPPORTED;
        break;
    case PSCI_CPU_ON_64:
        ret = psci_cpu_on(vcpu, regs->x1, regs->x2, regs->x3);
        break;
    case PSCI_AFFINITY_INFO_64: {
        vm_vcpu_t *t = vm_vcpu_for_target_cpu(vcpu->vm, (int)(regs->x1 & 0xff));
        ret = t ? (is_vcpu_online(t) ? 0 : 1) : PSCI_INVALID_PARAMETERS;
        break;
    }
    default:
        ret = PSCI_NOT_SUPPORTED;
        break;
    }
    regs->x0 = (seL4_Word)ret;
    return 0;
}

int cons_install_fault_handlers(void)
{
    int err = 0;
    err |= register_exception_handler(HSR_WFx_EXCEPTION, ignore_exception);
    err |= register_exception_handler(HSR_SYSREG_64_EXCEPTION, sysreg_exception);
    err |= register_exception_handler(HSR_SWBRK_64_EXCEPTION, ignore_exception);
    /* Out of range: refused, as libsel4vmmplatsupport refuses it. */
    cons_check(register_exception_handler(HSR_MAX_EXCEPTION + 1, ignore_exception) == -1,
               "exception class above HSR_MAX_EXCEPTION refused");
    for (unsigned int i = 0; i < cons.vm.num_vcpus; i++) {
        err |= vm_register_unhandled_vcpu_fault_callback(cons.vm.vcpus[i], cons_handle_vcpu_exception, NULL);
    }
    err |= vm_register_smc_handler_callback(&cons.vm, smc_handler);
    return err ? -1 : 0;
}
