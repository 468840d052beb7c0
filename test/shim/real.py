# SPDX-License-Identifier: MIT
# Helpers for real.sh, run by Debian's /usr/bin/python3:
#   data BYTES          deterministic mixed data (text, random, runs) on stdout
#   threads STATSFILE   1,000 threading.Threads sleeping 0.5 s, started then
#                       joined; prints one fixed line, and writes the wall
#                       time and the peak of Threads: in /proc/self/status
#                       to STATSFILE as "wall SECONDS" and "peak N"
#   multiprocessing     a Pool, a Queue fed by Processes, and a Lock, an
#                       Event, a Condition and a Semaphore shared between
#                       processes (named POSIX semaphores underneath); prints
#                       fixed lines
#   serve DIR PORTFILE  HTTP/1.1 server on 127.0.0.1, a free port written to
#                       PORTFILE; GET serves DIR, POST answers the sha256 of
#                       the body
import hashlib
import http.server
import multiprocessing as mp
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


def square(x):
    return x * x


def feed(q, base):
    for i in range(100):
        q.put(base + i)


def count(lock, total, n):
    for _ in range(n):
        with lock:
            total.value += 1


def ping(cond, flag, ready):
    ready.set()
    with cond:
        cond.wait_for(lambda: flag.value == 1)
        flag.value = 2
        cond.notify_all()


def multiprocessing():
    mp.set_start_method("fork")
    with mp.Pool(4) as pool:
        print("pool:", sum(pool.map(square, range(1000))))
    q = mp.Queue()
    ps = [mp.Process(target=feed, args=(q, 1000 * k)) for k in range(3)]
    for p in ps:
        p.start()
    print("queue:", sum(q.get(timeout=60) for _ in range(300)))
    for p in ps:
        p.join()
    lock = mp.Lock()
    total = mp.Value("i", 0, lock=False)
    ps = [mp.Process(target=count, args=(lock, total, 2000)) for _ in range(4)]
    for p in ps:
        p.start()
    for p in ps:
        p.join()
    print("lock:", total.value)
    cond, flag, ready = mp.Condition(), mp.Value("i", 0), mp.Event()
    p = mp.Process(target=ping, args=(cond, flag, ready))
    p.start()
    ready.wait(60)
    with cond:
        flag.value = 1
        cond.notify_all()
        cond.wait_for(lambda: flag.value == 2, 60)
    p.join()
    print("condition:", flag.value, "exit", p.exitcode)
    sem = mp.Semaphore(0)
    t0 = time.monotonic()
    got = sem.acquire(timeout=0.2)
    waited = time.monotonic() - t0
    print("semaphore timeout:", got, waited >= 0.2 and waited < 10)
    sem.release()
    print("semaphore:", sem.acquire(timeout=1))


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
    elif cmd == "multiprocessing":
        multiprocessing()
    elif cmd == "serve":
        serve(sys.argv[2], sys.argv[3])
    else:
        sys.exit(f"real.py: unknown command {cmd!r}")
