#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The fault sweep: every injection point of lib/fault.h, failed in turn.

For a scenario (a program that exits 0 when every result was right, 3
after a clean resource error it reported, 1 on a wrong result), first
count how often each site is reached (WEFT_FAULT_COUNT), then fail the
Nth call of each site reached: every N up to --dense (50), then --spread
(12) values spread evenly up to the count and the count itself; and for
sites whose failure can persist (memory, mappings, threads), every call
from the first, the middle and the last.  Each run must end within
--timeout seconds, with no signal and no sanitizer report (LeakSanitizer
runs at exit in the sanitized build), with exit 0, or 3 where the site
may surface an error; the scenario itself checks bytes, values and the
fds, mappings and kernel threads left.  Prints one line per failed run
and a summary; exits 1 if any run failed.

    sweep.py --api build/test/fault/fault_scenario
    sweep.py --shim build/shim/weft-run build/test/fault/fault_shimprog
    sweep.py --api ... --sites alloc_chan,sq_full --dense 5 --spread 2
"""
import argparse
import concurrent.futures
import os
import subprocess
import sys
import tempfile
import time

# Sites where "every call from the Nth" is not tried: io_uring_enter
# failing for ever leaves nothing to retry towards.  Every other site can
# stay failed (memory, mappings, threads; an SQ that is always full, a CQ
# that always overflows) and the runtime must live with it.
TRANSIENT = {"enter_busy", "enter_eagain", "enter_eintr"}

# Runs that fail several sites at once from the Nth call on: a ring whose
# CQ overflows at every poll while its SQ fills at every SQE, so that the
# kernel refuses SQEs while completions wait in the CQ.
STORMS = [("cq_overflow", "sq_full")]

SANITIZER = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
             "runtime error:", "WARNING: ThreadSanitizer")

# Lines the runtime may print on stderr after an injected failure.
ALLOWED_STDERR = (
    # the shim, when the runtime cannot start: the documented fallback
    "weft: cannot start the runtime; running natively",
)


def read_counts(path):
    counts = {}
    with open(path) as f:
        for line in f:
            name, n, kind, fired = line.split()
            counts[name] = (int(n), kind, int(fired))
    return counts


def run(cmd, env, timeout):
    """One run: (status, stdout, stderr, counts); status None on a hang."""
    with tempfile.NamedTemporaryFile(prefix="weft-fault-", delete=False) as t:
        count_file = t.name
    e = dict(os.environ, **env, WEFT_FAULT_COUNT=count_file)
    try:
        p = subprocess.Popen(cmd, env=e, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True,
                             errors="replace", start_new_session=True)
        try:
            out, err = p.communicate(timeout=timeout)
            status = p.returncode
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, 9)
            out, err = p.communicate()
            status = None
        try:
            counts = read_counts(count_file)
        except (OSError, ValueError):
            counts = {}
        return status, out, err, counts
    finally:
        try:
            os.unlink(count_file)
        except OSError:
            pass


def plan(counts, dense, spread, only):
    """The (site, spec) runs: spec is "N" or "N+"."""
    runs = []
    for site, (n, kind, _) in counts.items():
        if n == 0 or (only and site not in only):
            continue
        ns = list(range(1, min(n, dense) + 1))
        if n > dense:
            step = (n - dense) / (spread + 1)
            ns += sorted({dense + round(step * (i + 1))
                          for i in range(spread)} | {n})
        runs += [(site, kind, f"{site}:{k}") for k in ns]
        if site not in TRANSIENT:
            runs += [(site, kind, f"{site}:{k}+")
                     for k in sorted({1, (n + 1) // 2, n})]
    for storm in STORMS:
        n = min(counts.get(s, (0,))[0] for s in storm)
        if n == 0 or (only and not only & set(storm)):
            continue
        for k in sorted({1, (n + 1) // 2, n}):
            runs.append(("+".join(storm), "ok",
                         ",".join(f"{s}:{k}+" for s in storm)))
    return runs


def judge(kind, status, out, err):
    """None if the run was clean, else what was wrong."""
    if status is None:
        return "hang"
    if status < 0:
        return f"killed by signal {-status}"
    for s in SANITIZER:
        if s in err:
            return "sanitizer: " + s
    extra = [l for l in err.splitlines()
             if l.strip() and l not in ALLOWED_STDERR]
    if status == 0 and not extra:
        return None
    if status == 3 and kind == "err" and not extra:
        return None
    if status == 3:
        return "an error surfaced from a site that must absorb it"
    if extra:
        return "unexpected stderr"
    return f"exit status {status}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--api", metavar="SCENARIO")
    mode.add_argument("--shim", nargs=2, metavar=("WEFT_RUN", "PROGRAM"))
    ap.add_argument("--dense", type=int, default=50)
    ap.add_argument("--spread", type=int, default=12)
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--sites", default="")
    ap.add_argument("--carriers", default="2")
    args = ap.parse_args()

    if args.api:
        cmd, what = [args.api], "API"
    else:
        cmd, what = [args.shim[0], "--", args.shim[1]], "shim"
    env = {"WEFT_CARRIERS": args.carriers,
           "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:exitcode=99",
           "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1"}
    env = {k: v for k, v in env.items() if k not in os.environ or
           k == "WEFT_CARRIERS"}
    os.environ.pop("WEFT_FAULT", None)

    start = time.monotonic()
    status, out, err, counts = run(cmd, env, args.timeout)
    bad = judge("ok", status, out, err)
    if bad or not counts:
        print(f"the {what} scenario fails with no fault injected: "
              f"{bad or 'no counts written'}")
        print(out[-2000:], err[-2000:], sep="\n")
        return 1
    only = set(args.sites.split(",")) - {""}
    runs = plan(counts, args.dense, args.spread, only)
    reached = sorted(s for s, (n, _, _) in counts.items() if n)
    never = sorted(s for s, (n, _, _) in counts.items() if not n)
    failed = []
    fired = 0

    def one(r):
        site, kind, spec = r
        return r, run(cmd, dict(env, WEFT_FAULT=spec), args.timeout)

    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        for (site, kind, spec), (st, o, e, c) in pool.map(one, runs):
            fired += any(c.get(s, (0, "", 0))[2] for s in site.split("+"))
            bad = judge(kind, st, o, e)
            if bad:
                failed.append(spec)
                print(f"FAIL {spec} ({kind}): {bad}")
                tail = (o.strip().splitlines() + e.strip().splitlines())
                for line in tail[-12:]:
                    print("    " + line)
    took = time.monotonic() - start
    print(f"{what} fault sweep: {len(reached)} of {len(counts)} injection "
          f"points reached, {len(runs)} (site, N) runs ({fired} injected a "
          f"failure; every N up to {args.dense}, then {args.spread} spread "
          f"to the count; N+ for lasting failures; {len(STORMS)} storms "
          f"of several at once), {len(failed)} failed, {took:.0f} s")
    if never:
        print("not reached: " + " ".join(never))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
