#!/usr/bin/env python3
"""Alternating boot timings: QEMU start to MARKER for each ARGSFILE (from `cargo xtask prof-args`),
ROUNDS rounds, one QEMU at a time; prints each run, then medians, and the guest's `Run /init`
timestamp. Usage: boottime.py ROUNDS NAME=ARGSFILE [NAME=ARGSFILE ...]"""
import re, statistics, subprocess, sys, time

rounds = int(sys.argv[1])
sides = [a.split("=", 1) for a in sys.argv[2:]]
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
        finally:
            q.kill()
            q.wait()
        m = re.search(rb"\[\s*(\d+\.\d+)\] Run /init", buf)
        res[name].append(t)
        ini[name].append(float(m.group(1)) if m else float("nan"))
        print(f"round {r + 1} {name}: {t:.2f} s (guest Run /init {ini[name][-1]:.2f} s)", flush=True)
for name, _ in sides:
    print(f"{name}: median {statistics.median(res[name]):.2f} s, runs "
          f"{[round(x, 2) for x in res[name]]}, Run /init median {statistics.median(ini[name]):.2f}")
