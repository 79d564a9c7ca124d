#!/usr/bin/env python3
"""Dumps the guest kernel's text symbols, relative to `vectors` (= VBAR_EL1), from a direct boot.

Usage: kallsyms.py ARGSFILE OUT   (ARGSFILE: target/prof/direct-N.args from `cargo xtask prof-args`)
Debian's System.map is a stub, and the kernel is KASLR-randomised; pcsample.py records VBAR_EL1,
so a sampled PC maps to (pc - VBAR_EL1) in this table. Lines: `offset_hex type name [module]`.
"""
import sys, time

from qemu_session import Session

q = Session(sys.argv[1])

try:
    q.until(b"GUEST-BOOTED", 120)
    q.until(b"/ # ", 120)
    time.sleep(1)
    q.send(b"echo 0 > /proc/sys/kernel/kptr_restrict; echo KS-BE''GIN; "
           b"grep -i ' [tw] ' /proc/kallsyms; echo KS-E''ND\n")
    q.until(b"KS-END\r\n", 600)
    text = q.buf[q.buf.index(b"KS-BEGIN"):q.buf.rindex(b"KS-END")].decode("latin1")
finally:
    q.close()
syms = []
for l in text.splitlines()[1:]:
    f = l.split()
    if len(f) >= 3:
        try:
            syms.append((int(f[0], 16), f[1], f[2], f[3] if len(f) > 3 else ""))
        except ValueError:
            pass
vec = [s[0] for s in syms if s[2] == "vectors"]
if not vec:
    raise SystemExit("no `vectors` symbol")
with open(sys.argv[2], "w") as o:
    for addr, t, name, mod in sorted(syms):
        o.write(f"{addr - vec[0]:x} {t} {name} {mod}\n".rstrip() + "\n")
print(f"{len(syms)} symbols, vectors at {vec[0]:#x}")
