#!/usr/bin/env python3
"""Boots ARGSFILE (from `cargo xtask prof-args`), waits for GUEST-BOOTED and the shell, runs one
shell command line and prints its output. Usage: guestcmd.py ARGSFILE 'COMMAND'
e.g. guestcmd.py vmm-4.args 'cat /proc/uptime /proc/interrupts'"""
import sys

from qemu_session import Session

s = Session(sys.argv[1])

try:
    s.shell_up()
    start = len(s.buf)
    s.send(b"echo CMD-BE''GIN; " + sys.argv[2].encode() + b"; echo CMD-E''ND\n")
    s.until(b"CMD-END\r", 60)
    out = s.buf[start:].decode("latin1")
    print(out[out.index("CMD-BEGIN") + 9:out.rindex("CMD-END")].replace("\r", "").strip())
finally:
    s.close()
