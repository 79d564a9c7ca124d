#!/usr/bin/env python3
"""Summarises pcsample.py output.

Usage: pcprof.py SAMPLES.jsonl KALLSYMS [--sel4 kernel.elf] [--vmm root-task.elf] [--top N]
         [--buckets SECONDS]

VMM runs (one physical CPU): each sample is classified by exception level: EL2 = seL4,
EL0 inside the root task's text = VMM, EL1 = guest kernel (symbolised as pc - VBAR_EL1 against
KALLSYMS from kallsyms.py), other EL0 = guest user. The running vCPU is VMPIDR_EL2.Aff0.
Direct runs (-smp N, thread=single): every CPU's PC is recorded at each sample; a CPU whose
PC and CPSR did not change since the previous sample is counted as "not run since" (in
TCG round-robin mode only one CPU executes at a time).
"""
import argparse, bisect, collections, json, subprocess


def load_nm(path):
    out = subprocess.run(["aarch64-linux-gnu-nm", "-n", "-C", path], capture_output=True,
                         text=True).stdout
    syms = []
    for l in out.splitlines():
        f = l.split(" ", 2)
        if len(f) == 3 and f[1] in "tTwW":
            syms.append((int(f[0], 16), f[2]))
    return syms


def load_kallsyms(path):
    syms = []
    for l in open(path):
        f = l.split()
        if len(f) >= 3 and len(f) == 3:  # built-in symbols only (module offsets vary per boot)
            syms.append((int(f[0], 16), f[2]))
    syms.sort()
    return syms


class Sym:
    def __init__(self, syms):
        self.addrs = [a for a, _ in syms]
        self.names = [n for _, n in syms]

    def __call__(self, a):
        i = bisect.bisect_right(self.addrs, a) - 1
        if i < 0:
            return "?"
        n = self.names[i]
        return n if n != "$x" else self.names[i - 1] if i else n


def short(name, n=70):
    return name if len(name) <= n else name[: n - 3] + "..."


IDLE = {"cpu_do_idle", "arch_cpu_idle", "default_idle_call", "do_idle", "cpuidle_idle_call"}

EC = {0x01: "WFI/WFE", 0x16: "HVC", 0x17: "SMC", 0x18: "MSR/MRS", 0x24: "DABT(lower)",
      0x20: "IABT(lower)", 0x15: "SVC64(VMM syscall)", 0x25: "DABT(same)", 0x07: "FP",
      0x00: "unknown/IRQ"}


def table(counter, total, top, title):
    print(f"\n{title} (samples, % of all {total})")
    print("| # | function | samples | % |")
    print("|---|---|---|---|")
    for i, (k, v) in enumerate(counter.most_common(top), 1):
        print(f"| {i} | `{short(k)}` | {v} | {100 * v / total:.1f} |")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("samples")
    ap.add_argument("kallsyms")
    ap.add_argument("--sel4")
    ap.add_argument("--vmm")
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--buckets", type=float, default=0)
    a = ap.parse_args()
    ks = Sym(load_kallsyms(a.kallsyms))
    sel4 = Sym(load_nm(a.sel4)) if a.sel4 else None
    vmm_syms = load_nm(a.vmm) if a.vmm else []
    vmm = Sym(vmm_syms) if vmm_syms else None
    vmm_lo = vmm_syms[0][0] if vmm_syms else 1
    vmm_hi = vmm_syms[-1][0] + 0x10000 if vmm_syms else 0
    samples = [json.loads(l) for l in open(a.samples)]
    ncpu = len(samples[0]["cpus"])

    def guest(c):
        vbar = c.get("VBAR")
        if vbar is None or vbar < 0xFFFF000000000000:
            return "?(no VBAR)"
        off = c["pc"] - vbar
        if off < -0x8000000:
            return "[module]"
        return ks(off)

    if ncpu == 1:
        where = collections.Counter()
        g = collections.Counter()
        per_vcpu = collections.defaultdict(collections.Counter)
        vc = collections.Counter()
        s4 = collections.Counter()
        ec = collections.Counter()
        vm = collections.Counter()
        buckets = collections.defaultdict(collections.Counter)
        for s in samples:
            c = s["cpus"][0]
            el = (c["cpsr"] >> 2) & 3
            v = (c.get("VMPIDR_EL2") or 0) & 0xFF
            if el == 2:
                w = "seL4 (EL2)"
                s4[sel4(c["pc"]) if sel4 else hex(c["pc"])] += 1
                ec[EC.get((c.get("ESR_EL2") or 0) >> 26, hex((c.get("ESR_EL2") or 0) >> 26))] += 1
                f = "[seL4]"
            elif el == 0 and vmm_lo <= c["pc"] < vmm_hi:
                w = "VMM (EL0 root task)"
                vm[vmm(c["pc"])] += 1
                f = "[VMM]"
            elif el == 1:
                w = "guest kernel (EL1)"
                f = guest(c)
                g[f] += 1
                per_vcpu[v][f] += 1
                vc[v] += 1
            else:
                w = "guest user (EL0)"
                f = "[guest user]"
                vc[v] += 1
                per_vcpu[v][f] += 1
            where[w] += 1
            if a.buckets:
                buckets[int(s["t"] // a.buckets)][f] += 1
        n = len(samples)
        print(f"{n} samples over {samples[-1]['t']:.2f} s (host, incl. sampling pauses)")
        print("\n| where | samples | % |\n|---|---|---|")
        for k, v in where.most_common():
            print(f"| {k} | {v} | {100 * v / n:.1f} |")
        table(g, n, a.top, "Guest kernel functions (EL1)")
        print("\nGuest samples (EL1+EL0) by running vCPU (VMPIDR_EL2.Aff0):")
        for v in sorted(vc):
            top = ", ".join(f"{short(k, 40)} {100 * x / vc[v]:.0f}%" for k, x in
                            per_vcpu[v].most_common(4))
            print(f"- vCPU {v}: {vc[v]} ({100 * vc[v] / n:.1f} %): {top}")
        table(s4, n, 10, "seL4 functions")
        print("\nseL4 samples by ESR_EL2 class (last exception taken to EL2; IRQs do not set it):")
        print(", ".join(f"{k} {v}" for k, v in ec.most_common()))
        table(vm, n, 10, "VMM functions")
        if a.buckets:
            print(f"\nPer {a.buckets} s of host time: top functions")
            for b in sorted(buckets):
                tot = sum(buckets[b].values())
                top = ", ".join(f"{short(k, 32)} {100 * x / tot:.0f}%" for k, x in
                                buckets[b].most_common(4))
                print(f"- {b * a.buckets:5.1f}s ({tot}): {top}")
    else:
        allc = collections.Counter()
        moved = collections.Counter()
        nmoved = collections.Counter()
        busy = collections.Counter()
        prev = None
        for s in samples:
            nb = 0
            mv = 0
            for i, c in enumerate(s["cpus"]):
                el = (c["cpsr"] >> 2) & 3
                f = guest(c) if el == 1 else "[guest user]" if el == 0 else f"[EL{el}]"
                allc[f] += 1
                if f not in IDLE:
                    nb += 1
                if prev is not None:
                    p = prev["cpus"][i]
                    if (p["pc"], p["cpsr"]) != (c["pc"], c["cpsr"]):
                        moved[f] += 1
                        mv += 1
            busy[nb] += 1
            nmoved[mv] += 1
            prev = s
        n = len(samples)
        print(f"{n} samples x {ncpu} CPUs over {samples[-1]['t']:.2f} s (host, incl. pauses)")
        print("CPUs not in the idle loop, per sample: " +
              ", ".join(f"{k}: {100 * v / n:.0f}%" for k, v in sorted(busy.items())))
        print("CPUs whose PC moved since the previous sample: " +
              ", ".join(f"{k}: {100 * v / n:.0f}%" for k, v in sorted(nmoved.items())))
        table(allc, n * ncpu, a.top, "All CPUs' states (every CPU at every sample)")
        table(moved, sum(moved.values()), a.top, "CPUs that ran since the previous sample")


main()
