#!/usr/bin/env python3
"""QEMU's `info jit` (TCG translation and softmmu TLB flush counters) at MARKER, for one boot.
Usage: jitstats.py ARGSFILE [MARKER]   (ARGSFILE from `cargo xtask prof-args`)"""
import os, socket, subprocess, sys, time

args = [l for l in open(sys.argv[1]).read().split("\n") if l]
marker = (sys.argv[2] if len(sys.argv) > 2 else "GUEST-BOOTED").encode()
sock = f"/tmp/jitstats-{os.getpid()}.sock"
t0 = time.time()
q = subprocess.Popen(["qemu-system-aarch64"] + args + ["-monitor", f"unix:{sock},server,nowait"],
                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
buf = b""
try:
    while marker not in buf and time.time() - t0 < 240:
        c = q.stdout.read1(65536)
        if not c:
            break
        buf += c
    t = time.time() - t0
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock)
    s.sendall(b"stop\ninfo jit\n")
    out = b""
    s.settimeout(2)
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            out += d
    except socket.timeout:
        pass
finally:
    q.kill()
    q.wait()
    if os.path.exists(sock):
        os.unlink(sock)
print(f"{marker.decode()} after {t:.2f} s")
stats = [l for l in buf.decode("latin1").splitlines() if "VMM: stats: " in l and "breakdown" not in l]
if stats:
    print("last VMM stats line:", stats[-1].strip())
for l in out.decode("latin1").splitlines():
    if "TLB" in l or "TB count" in l or "TB flush" in l or "TB invalidate" in l or "translated TBs" in l:
        print(l.strip())
