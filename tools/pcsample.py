#!/usr/bin/env python3
"""Sampling PC profiler for a QEMU run (seL4 + VMM, or the direct Linux boot), via QEMU's gdbstub.

Usage: pcsample.py ARGSFILE OUT.jsonl [--interval MS] [--marker GUEST-BOOTED] [--port N]

Starts qemu-system-aarch64 with the arguments in ARGSFILE (one per line, from
`cargo xtask prof-args`) plus `-gdb tcp:127.0.0.1:PORT`, logs its serial output with host
timestamps to OUT.log, and every INTERVAL ms stops the VM (gdb Ctrl-C; QEMU's virtual clock
stops too, so the guest does not see the pauses), reads PC, CPSR and a few system registers of
every CPU, and lets it continue. Stops at MARKER. Each sample is one JSON line in OUT.jsonl:
{"t": host s since start, "cpus": [{"pc":..,"cpsr":..,"VMPIDR_EL2":.., ...}, ...]}.
"""
import json, os, re, socket, subprocess, sys, time, threading, argparse
import xml.etree.ElementTree as ET

# Read for every CPU at every sample (each is one gdb round trip, ~0.1-0.2 ms).
DEFAULT_REGS = "pc,cpsr,VBAR,VMPIDR_EL2,TPIDR_EL1,ESR_EL2"


class Rsp:
    def __init__(self, port):
        for _ in range(200):
            try:
                self.s = socket.create_connection(("127.0.0.1", port))
                break
            except OSError:
                time.sleep(0.05)
        else:
            raise SystemExit("cannot connect to the gdbstub")
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.noack = False

    def _read_packet(self):
        while True:
            i = self.buf.find(b"$")
            if i >= 0:
                j = self.buf.find(b"#", i)
                if j >= 0 and len(self.buf) >= j + 3:
                    pkt = self.buf[i + 1:j]
                    self.buf = self.buf[j + 3:]
                    if not self.noack:
                        self.s.sendall(b"+")
                    return pkt.decode("latin1")
            d = self.s.recv(65536)
            if not d:
                raise EOFError
            self.buf += d

    def send(self, data, reply=True):
        cs = sum(data.encode("latin1")) & 0xFF
        self.s.sendall(b"$" + data.encode("latin1") + b"#%02x" % cs)
        if reply:
            return self._read_packet()

    def interrupt(self):
        self.s.sendall(b"\x03")
        while True:
            p = self._read_packet()
            if p.startswith("T") or p.startswith("S"):
                return p


def le_hex(h):
    return int.from_bytes(bytes.fromhex(h), "little")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("argsfile")
    ap.add_argument("out")
    ap.add_argument("--interval", type=float, default=10.0)
    ap.add_argument("--marker", default="GUEST-BOOTED")
    ap.add_argument("--port", type=int, default=12345)
    ap.add_argument("--limit", type=float, default=240)
    ap.add_argument("--regs", default=DEFAULT_REGS)
    a = ap.parse_args()
    args = [l for l in open(a.argsfile).read().split("\n") if l]
    args += ["-gdb", f"tcp:127.0.0.1:{a.port}"]
    log = open(a.out + ".log", "w")
    t0 = time.time()
    q = subprocess.Popen(["qemu-system-aarch64"] + args, stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    seen = threading.Event()

    def reader():
        line = b""
        while True:
            c = q.stdout.read1(4096)
            if not c:
                break
            line += c
            while b"\n" in line:
                l, line = line.split(b"\n", 1)
                s = l.decode("latin1", "replace").rstrip("\r")
                log.write(f"{time.time() - t0:9.3f} {s}\n")
                log.flush()
                if a.marker in s:
                    seen.set()
    threading.Thread(target=reader, daemon=True).start()

    try:
        run(a, q, t0, seen, log)
    finally:
        q.kill()
        q.wait()


def run(a, q, t0, seen, log):
    r = Rsp(a.port)
    r._read_packet()  # QEMU stops the VM on connection and says so (T02)
    r.send("qSupported:multiprocess+;xmlRegisters=aarch64")
    # Stopped: learn the register layout and threads.
    nums = {}
    feat = r.send("qXfer:features:read:target.xml:0,ffff")
    docs = {"target.xml": feat[1:]}
    for inc in re.findall(r'href="([^"]+)"', feat):
        off, body = 0, ""
        while True:
            p = r.send(f"qXfer:features:read:{inc}:{off:x},ffff")
            body += p[1:]
            off += len(p) - 1
            if p[0] == "l":
                break
        docs[inc] = body
    regnum = 0
    # Registers are numbered in the order of the included features.
    order = re.findall(r'href="([^"]+)"', docs["target.xml"])
    for inc in order:
        root = ET.fromstring(docs[inc])
        for reg in root.iter("reg"):
            if "regnum" in reg.attrib:
                regnum = int(reg.attrib["regnum"])
            nums[reg.attrib["name"]] = regnum
            regnum += 1
    want = {k: nums[k] for k in a.regs.split(",") if k in nums}
    sys.stderr.write(f"registers: {want}\n")
    threads = []
    p = r.send("qfThreadInfo")
    while p.startswith("m"):
        threads += p[1:].split(",")
        p = r.send("qsThreadInfo")
    sys.stderr.write(f"threads: {threads}\n")
    r.send("c", reply=False)

    out = open(a.out, "w")
    n = 0
    pause = 0.0
    while not seen.is_set() and time.time() - t0 < a.limit and q.poll() is None:
        time.sleep(a.interval / 1000.0)
        ts = time.time()
        r.interrupt()
        cpus = []
        for th in threads:
            r.send(f"Hg{th}")
            c = {}
            for k, num in want.items():
                v = r.send(f"p{num:x}")
                c[k] = le_hex(v) if v and not v.startswith("E") else None
            cpus.append(c)
        r.send("c", reply=False)
        pause += time.time() - ts
        out.write(json.dumps({"t": round(ts - t0, 4), "cpus": cpus}) + "\n")
        n += 1
    sys.stderr.write(f"{n} samples, marker {'seen' if seen.is_set() else 'NOT seen'} at "
                     f"{time.time() - t0:.2f} s, {pause:.2f} s paused\n")
    log.close()


if __name__ == "__main__":
    main()
