#!/usr/bin/env python3
"""Boots ARGSFILE (from `cargo xtask prof-args`), waits for GUEST-BOOTED and the shell, runs one
shell command line and prints its output. Usage: guestcmd.py ARGSFILE 'COMMAND'
e.g. guestcmd.py vmm-4.args 'cat /proc/uptime /proc/interrupts'"""
import subprocess, sys, time

args = [l for l in open(sys.argv[1]).read().split("\n") if l]
q = subprocess.Popen(["qemu-system-aarch64"] + args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                     stderr=subprocess.STDOUT)
buf = b""


def until(m, limit=240):
    global buf
    end = time.time() + limit
    while m not in buf:
        if time.time() > end:
            raise SystemExit(f"timeout waiting for {m!r}; tail: {buf[-500:]!r}")
        c = q.stdout.read1(65536)
        if not c:
            raise SystemExit("qemu exited")
        buf += c


try:
    until(b"GUEST-BOOTED")
    until(b"cpus=")
    for i in range(5):
        q.stdin.write(f"echo SH''ELL-{i}\n".encode())
        q.stdin.flush()
        try:
            until(f"SHELL-{i}\r".encode(), 10)
            break
        except SystemExit:
            continue
    start = len(buf)
    q.stdin.write(b"echo CMD-BE''GIN; " + sys.argv[2].encode() + b"; echo CMD-E''ND\n")
    q.stdin.flush()
    until(b"CMD-END\r", 60)
    out = buf[start:].decode("latin1")
    print(out[out.index("CMD-BEGIN") + 9:out.rindex("CMD-END")].replace("\r", "").strip())
finally:
    q.kill()
    q.wait()
