#!/usr/bin/env python3
"""Exits a guest command costs under the VMM, from its `--stats` lines (counts, not times: the same
on a loaded host). Usage: exitcount.py ARGSFILE 'COMMAND' [UNITS]
Boots ARGSFILE (a `cargo xtask prof-args` VMM line list, which has --stats), waits for the shell and
a stats line, runs COMMAND, waits for the next stats line after it ends, and prints the exits,
kernel calls and wake-ups in between (about 20 idle exits/s of the up to 4 s around it included),
per UNIT if given, and the last per-reason breakdown the VMM printed during it."""
import re, sys, time

from qemu_session import Session

STATS = re.compile(rb"VMM: stats: (\d+) ms, (\d+) exits, (\d+) kernel calls, (\d+) wake-ups")


def last_stats(buf):
    m = list(STATS.finditer(buf))
    return m[-1] if m else None


s = Session(sys.argv[1])
units = float(sys.argv[3]) if len(sys.argv) > 3 else None
try:
    s.shell_up()
    n = len(STATS.findall(s.buf))
    while len(STATS.findall(s.buf)) <= n:
        s.read_more()
    a = last_stats(s.buf)
    start = len(s.buf)
    s.send(b"echo CMD-BE''GIN; " + sys.argv[2].encode() + b"; echo CMD-E''ND\n")
    s.until(b"CMD-END\r", 600)
    end = len(s.buf)
    while last_stats(s.buf).start() < end:
        s.read_more()
    b = last_stats(s.buf)
    d = [int(b.group(i)) - int(a.group(i)) for i in range(1, 5)]
    out = s.buf[start:end].decode("latin1")
    print(out[out.index("CMD-BEGIN") + 9:out.rindex("CMD-END")].replace("\r", "").strip())
    print(f"window {d[0]} ms: {d[1]} exits, {d[2]} kernel calls, {d[3]} wake-ups")
    if units:
        print(f"per unit ({units:g}): {d[1] / units:.2f} exits, {d[2] / units:.2f} kernel calls, "
              f"{d[3] / units:.2f} wake-ups")
    bd = [l for l in s.buf[start:].decode("latin1").splitlines() if "stats: breakdown" in l]
    if bd:
        print("last breakdown:", bd[-1].strip())
finally:
    s.close()
