# SPDX-License-Identifier: MIT
# Helpers for real.sh, run by Debian's /usr/bin/python3:
#   data BYTES          deterministic mixed data (text, random, runs) on stdout
#   threads STATSFILE   1,000 threading.Threads sleeping 0.5 s, started then
#                       joined; prints one fixed line, and writes the wall
#                       time and the peak of Threads: in /proc/self/status
#                       to STATSFILE as "wall SECONDS" and "peak N"
#   serve DIR PORTFILE  HTTP/1.1 server on 127.0.0.1, a free port written to
#                       PORTFILE; GET serves DIR, POST answers the sha256 of
#                       the body
import hashlib
import http.server
import os
import random
import sys
import threading
import time


def data(size):
    r = random.Random(20240601)
    words = [bytes(r.choice(b"etaoinshrdlucmfw") for _ in range(r.randint(1, 9)))
             for _ in range(800)]
    out = bytearray()
    while len(out) < size:
        k = r.random()
        if k < 0.55:  # text: compresses well
            out += b" ".join(r.choice(words) for _ in range(r.randint(5, 30)))
            out += b"\n"
        elif k < 0.85:  # random: does not compress
            out += r.randbytes(r.randint(1, 512))
        else:  # runs of one byte
            out += bytes([r.randrange(256)]) * r.randint(1, 2000)
    sys.stdout.buffer.write(out[:size])


def kernel_threads():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("Threads:"):
                return int(line.split()[1])
    raise RuntimeError("no Threads: in /proc/self/status")


def threads(stats):
    n = 1000
    done = threading.Event()
    peak = kernel_threads()

    def sampler():
        nonlocal peak
        while not done.is_set():
            peak = max(peak, kernel_threads())
            done.wait(0.01)

    def sleeper(i, woke):
        time.sleep(0.5)
        woke[i] = True

    s = threading.Thread(target=sampler)
    s.start()
    woke = [False] * n
    t0 = time.monotonic()
    ts = [threading.Thread(target=sleeper, args=(i, woke)) for i in range(n)]
    for t in ts:
        t.start()
    peak = max(peak, kernel_threads())
    for t in ts:
        t.join()
    wall = time.monotonic() - t0
    done.set()
    s.join()
    with open(stats, "w") as f:
        f.write(f"wall {wall:.3f}\npeak {peak}\n")
    print(f"{sum(woke)} of {n} threads slept and were joined")


class Handler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        left = int(self.headers["Content-Length"])
        h = hashlib.sha256()
        while left > 0:
            chunk = self.rfile.read(min(left, 65536))
            if not chunk:
                break
            h.update(chunk)
            left -= len(chunk)
        body = (h.hexdigest() + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def serve(root, portfile):
    def handler(*args, **kw):
        return Handler(*args, directory=root, **kw)

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    with open(portfile + ".tmp", "w") as f:
        f.write(f"{srv.server_address[1]}\n")
    os.rename(portfile + ".tmp", portfile)
    srv.serve_forever()


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "data":
        data(int(sys.argv[2]))
    elif cmd == "threads":
        threads(sys.argv[2])
    elif cmd == "serve":
        serve(sys.argv[2], sys.argv[3])
    else:
        sys.exit(f"real.py: unknown command {cmd!r}")
