#!/usr/bin/env python3
"""Alternating boot timings: QEMU start to MARKER for each ARGSFILE (from `cargo xtask prof-args`),
ROUNDS rounds, one QEMU at a time; prints each run, then medians, and the guest's `Run /init`
timestamp. Usage: boottime.py [--idle] ROUNDS NAME=ARGSFILE [NAME=ARGSFILE ...]
--idle: after GUEST-BOOTED, waits 3 s and reports QEMU's host CPU over the next 5 s."""
import os, re, statistics, subprocess, sys, time

idle = "--idle" in sys.argv
argv = [a for a in sys.argv[1:] if a != "--idle"]
rounds = int(argv[0])
sides = [a.split("=", 1) for a in argv[1:]]
idl = {n: [] for n, _ in sides}


def ticks(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])
res = {n: [] for n, _ in sides}
ini = {n: [] for n, _ in sides}
for r in range(rounds):
    for name, f in sides:
        args = [l for l in open(f).read().split("\n") if l]
        t0 = time.time()
        q = subprocess.Popen(["qemu-system-aarch64"] + args, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        buf = b""
        try:
            while b"GUEST-BOOTED" not in buf and time.time() - t0 < 240:
                c = q.stdout.read1(65536)
                if not c:
                    break
                buf += c
            t = time.time() - t0
            if idle:
                time.sleep(3)
                c0, w0 = ticks(q.pid), time.time()
                time.sleep(5)
                idl[name].append(100 * (ticks(q.pid) - c0) / os.sysconf("SC_CLK_TCK") /
                                 (time.time() - w0))
        finally:
            q.kill()
            q.wait()
        m = re.search(rb"\[\s*(\d+\.\d+)\] Run /init", buf)
        res[name].append(t)
        ini[name].append(float(m.group(1)) if m else float("nan"))
        extra = f", idle {idl[name][-1]:.0f} % CPU" if idle else ""
        print(f"round {r + 1} {name}: {t:.2f} s (guest Run /init {ini[name][-1]:.2f} s){extra}",
              flush=True)
for name, _ in sides:
    print(f"{name}: median {statistics.median(res[name]):.2f} s, runs "
          f"{[round(x, 2) for x in res[name]]}, Run /init median {statistics.median(ini[name]):.2f}"
          + (f", idle CPU median {statistics.median(idl[name]):.0f} %" if idle else ""))
