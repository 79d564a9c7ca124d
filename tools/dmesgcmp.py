#!/usr/bin/env python3
"""Compares the guest kernel timestamps of two boot logs (e.g. pcsample.py's OUT.log of a VMM
and a direct run): lines matched by text (first occurrence), printed where either side's gap
since the previous matched line is >= THRESHOLD s. Usage: dmesgcmp.py A.log B.log [THRESHOLD]"""
import re, sys

def load(p):
    d = {}
    order = []
    for l in open(p, errors="replace"):
        m = re.search(r"\[\s*(\d+\.\d+)\] (.*)", l)
        if m:
            key = re.sub(r"\b(0x)?[0-9a-f]{6,}\b|\d+(\.\d+)?", "#", m.group(2))[:80]
            if key not in d:
                d[key] = float(m.group(1))
                order.append(key)
    return d, order

a, ao = load(sys.argv[1])
b, _ = load(sys.argv[2])
th = float(sys.argv[3]) if len(sys.argv) > 3 else 0.2
pa = pb = 0.0
print(f"| A (s) | dA | B (s) | dB | line |\n|---|---|---|---|---|")
for k in ao:
    if k not in b:
        continue
    ta, tb = a[k], b[k]
    if ta - pa >= th or tb - pb >= th:
        print(f"| {ta:.3f} | {ta - pa:+.3f} | {tb:.3f} | {tb - pb:+.3f} | {k[:70]} |")
    pa, pb = ta, tb
print(f"| {pa:.3f} | | {pb:.3f} | | last matched line |")
