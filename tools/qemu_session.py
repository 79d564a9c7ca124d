"""A QEMU started from an ARGSFILE (`cargo xtask prof-args`, one argument per line), with its
console output collected until a marker appears. Shared by guestcmd.py, kallsyms.py and exitcount.py."""
import subprocess, time


class Session:
    def __init__(self, argsfile):
        args = [l for l in open(argsfile).read().split("\n") if l]
        self.q = subprocess.Popen(["qemu-system-aarch64"] + args, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.buf = b""

    def until(self, marker, limit=240):
        """Reads output until `marker` (bytes) was seen; exits the script on timeout or EOF."""
        end = time.time() + limit
        while marker not in self.buf:
            if time.time() > end:
                raise SystemExit(f"timeout waiting for {marker!r}; tail: {self.buf[-500:]!r}")
            self.read_more()

    def read_more(self):
        """Appends the next chunk of output; exits the script on EOF."""
        c = self.q.stdout.read1(65536)
        if not c:
            raise SystemExit("qemu exited")
        self.buf += c

    def shell_up(self):
        """Waits for GUEST-BOOTED, then for the shell to echo a marker (it may miss the first)."""
        self.until(b"GUEST-BOOTED")
        self.until(b"cpus=")
        for i in range(5):
            self.send(f"echo SH''ELL-{i}\n".encode())
            try:
                self.until(f"SHELL-{i}\r".encode(), 10)
                return
            except SystemExit:
                continue

    def send(self, line):
        self.q.stdin.write(line)
        self.q.stdin.flush()

    def close(self):
        self.q.kill()
        self.q.wait()
