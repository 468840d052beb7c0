# SPDX-License-Identifier: MIT
"""Check a weft thread dump in JSON (stdin) against what the test made.

usage: dump_check.py MODE [KEY=VALUE...]; exit 0 when it holds, else 1
with the reasons on stdout.
"""

import json
import sys

problems = []


def check(cond, what):
    if not cond:
        problems.append(what)
    return cond


def walk(dump):
    """Every thread with its parent group (None at the top) and depth."""
    out = []

    def thread(t, group, depth):
        out.append((t, group, depth))
        for g in t["groups"]:
            grp(g, depth + 1)

    def grp(g, depth):
        for t in g["threads"]:
            thread(t, g, depth + 1)

    for t in dump["threads"]:
        thread(t, None, 0)
    for g in dump["groups"]:
        grp(g, 0)
    return out


def functions(t):
    return [f["function"] for f in t["stack"]]


def by_function(threads, name):
    found = [x for x in threads if name in functions(x[0])]
    check(len(found) == 1, "one thread blocked in %s, not %d" %
          (name, len(found)))
    return found[0] if found else (None, None, None)


def tree(dump, a):
    threads = walk(dump)
    check(dump["complete"], "the dump is complete")
    check(len(dump["carriers"]) == 1 and dump["carriers"][0]["stopped"],
          "one carrier, stopped")
    ids = [t["id"] for t, _, _ in threads]
    check(len(ids) == len(set(ids)), "each thread once: %s" % ids)

    main, top, _ = by_function(threads, "tree_body")
    if main:
        check(main["state"] == "running", "main runs: it dumps")
        check(top is None, "main is at the top")
        check(len(main["groups"]) == 1, "main owns one group")
    g = main["groups"][0] if main and main["groups"] else None
    check(g and g["policy"] == "fail-fast" and g["state"] == "open",
          "main's group is open, fail-fast")

    def member(name, kind, **want):
        t, parent, _ = by_function(threads, name)
        if not t:
            return None
        check(parent is g, "%s is a member of main's group" % name)
        check(t["state"] == "parked", "%s is parked, not %s" %
              (name, t["state"]))
        w = t["wait"] or {}
        check(w.get("kind") == kind, "%s waits on a %s: %s" % (name, kind, w))
        for k, v in want.items():
            check(w.get(k) == v, "%s: wait %s is %r, not %r" %
                  (name, k, w.get(k), v))
        check(t["carrier"] == 0, "%s is on carrier 0" % name)
        return t

    member("blocked_reader", "io", op="READ", fd=int(a["fd"]))
    s = member("sleeper", "sleep")
    late, _, _ = by_function(threads, "late_sleeper")
    check(late and late["state"] == "parked", "the thread new in the text "
          "dump has started since")
    if s:
        check(s["deadline_ms"] and 50000 < s["deadline_ms"] <= 60000,
              "the sleeper's deadline is a minute away: %s" %
              s["deadline_ms"])
    member("locker", "mutex", address=a["mutex"])
    member("cond_waiter", "cond", address=a["cond"])
    member("sem_waiter", "sem", address=a["sem"])
    member("chan_receiver", "channel", address=a["chan"])
    j = member("joiner", "join")
    joined, parent, _ = by_function(threads, "joined_sleeper")
    if j and joined:
        check(j["wait"]["thread"] == joined["id"], "the joiner waits on "
              "the joined thread's id")
        check(parent is None and joined["group"] is None,
              "a thread spawned outside a group is at the top")
    sup = member("supervisor", "group")
    if sup:
        check(len(sup["groups"]) == 1, "the supervisor owns one group")
    if sup and sup["groups"]:
        g2 = sup["groups"][0]
        check(sup["wait"]["address"] == g2["address"],
              "the supervisor joins its own group")
        check(g2["policy"] == "supervise", "its policy is supervise")
        inner, parent, depth = by_function(threads, "inner_reader")
        if inner:
            check(parent is g2, "inner_reader is a member of the nested "
                  "group, under the supervisor")
            check(depth == 4, "nesting: main, group, supervisor, group, "
                  "inner: depth %d" % depth)
            check(inner["wait"] == {"kind": "io", "op": "READ",
                                    "fd": int(a["fd2"])},
                  "inner_reader reads the second pipe: %s" % inner["wait"])
    new = [t for t, p, _ in threads if t["state"] == "new"]
    check(len(new) == 1, "one thread not started: %d" % len(new))
    if new:
        check(new[0]["stack"] == [] and new[0]["traced"] is False and
              new[0]["carrier"] is None, "a new thread has no stack yet")
        check(new[0]["group"] == (g and g["address"]),
              "the new thread is a member of main's group")
    for t, _, _ in threads:
        if t["state"] != "new":
            check(functions(t)[-1] == "weft__ctx_start",
                  "#%d's stack ends at weft__ctx_start: %s" %
                  (t["id"], functions(t)))


def many(dump, a):
    threads = walk(dump)
    n = int(a["carriers"])
    check(dump["complete"], "the dump is complete")
    check([c["stopped"] for c in dump["carriers"]] == [True] * n,
          "%d carriers, all stopped: %s" % (n, dump["carriers"]))
    sleepers = [t for t, _, _ in threads if "many_sleeper" in functions(t)]
    check(len(sleepers) == int(a["sleepers"]),
          "%s sleepers, not %d" % (a["sleepers"], len(sleepers)))
    check(all(t["state"] == "parked" and t["wait"]["kind"] == "sleep"
              for t in sleepers), "every sleeper parked in a sleep")
    spawners = [t for t, _, _ in threads if "spawner" in functions(t)]
    on = sorted(t["carrier"] for t in spawners)
    check(on == list(range(n)), "one spawner on each carrier: %s" % on)
    mig = [t for t, _, _ in threads if "mig_sleeper" in functions(t)]
    check(len(mig) == int(a["migratable"]),
          "%s migratable sleepers, not %d" % (a["migratable"], len(mig)))
    check(all(p is None for _, p, _ in threads), "no groups")


def stuck(dump, a):
    threads = walk(dump)
    check(not dump["complete"], "not complete: a carrier is stuck")
    stuck = [c for c in dump["carriers"] if not c["stopped"]]
    check(len(stuck) == 1, "one carrier did not stop: %s" % dump["carriers"])
    if stuck:
        check(stuck[0].get("running", {}).get("id") == int(a["spinner"]),
              "it runs the spinner: %s" % stuck[0])
        check(all(t["carrier"] != stuck[0]["index"] for t, _, _ in threads),
              "no thread of the stuck carrier is shown")
    check(all("spinner" not in functions(t) for t, _, _ in threads),
          "the spinner is not traced")


def signal(dump, a):
    threads = walk(dump)
    check(any("signal_sleeper" in functions(t) for t, _, _ in threads),
          "the sleeper is in the signal's dump")


def shim(dump, a):
    """A blocking pthread program under the shim (test/shim/dumpme.c)."""
    threads = walk(dump)
    check(dump["complete"], "the dump is complete")

    def one(name, kind, **want):
        t, _, _ = by_function(threads, name)
        if not t:
            return
        w = t["wait"] or {}
        check(t["state"] == "parked", "%s parked, not %s" %
              (name, t["state"]))
        check(w.get("kind") == kind, "%s waits on %s: %s" % (name, kind, w))
        for k, v in want.items():
            check(w.get(k) == v, "%s: %s is %r, not %r" %
                  (name, k, w.get(k), v))

    one("reader_main", "io", op="READ", fd=int(a["fd"]))
    one("locker_main", "mutex")
    one("sleeper_main", "sleep")
    one("main", "join")


def main():
    mode = sys.argv[1]
    args = dict(kv.split("=", 1) for kv in sys.argv[2:])
    text = sys.stdin.read()
    try:
        dump = json.loads(text)
    except ValueError as e:
        print("not JSON (%s): %.400s" % (e, text))
        return 1
    {"tree": tree, "many": many, "stuck": stuck, "signal": signal,
     "shim": shim}[mode](dump, args)
    for p in problems:
        print("FAIL:", p)
    if problems:
        print("the dump: %.3000s" % text)
    return 1 if problems else 0


sys.exit(main())
