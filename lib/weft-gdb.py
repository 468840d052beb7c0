# SPDX-License-Identifier: MIT
"""weft's gdb extension: see and debug virtual threads.

    info weft-threads     one line per virtual thread: id, name, state,
                          what it waits on, its carrier
    weft-thread N         show parked virtual thread N's stack: `bt`
                          then prints its frames from #1 up
    weft-thread restore   back to the kernel thread's own frames

A parked thread's registers are in the frame weft__ctx_switch pushed
(lib/ctx_x86_64.S): r15, r14, r13, r12, rbx, rbp and the return address
above the FPU words at its saved sp.  weft-thread hands them to gdb as
the caller's registers of frame #0 through an unwinder, so frame #0 stays
where this kernel thread stopped and frames #1 and up are the virtual
thread's; the kernel thread's real registers are never changed, so
continuing is safe whatever is selected.  It reads the runtime's
structures from its debug info (weft__rt, the carriers' registries, run
queues, inboxes and steal queues): the program needs libweft built with
-g (the default build is), statically, shared or under the shim.

gdb loads this file by itself when it is installed as the library's
auto-load script; otherwise: source /path/to/weft-gdb.py
"""

import time

import gdb
import gdb.unwinder

OPS = (
    "NOP READV WRITEV FSYNC READ_FIXED WRITE_FIXED POLL_ADD POLL_REMOVE "
    "SYNC_FILE_RANGE SENDMSG RECVMSG TIMEOUT TIMEOUT_REMOVE ACCEPT "
    "ASYNC_CANCEL LINK_TIMEOUT CONNECT FALLOCATE OPENAT CLOSE FILES_UPDATE "
    "STATX READ WRITE FADVISE MADVISE SEND RECV OPENAT2 EPOLL_CTL SPLICE "
    "PROVIDE_BUFFERS REMOVE_BUFFERS TEE SHUTDOWN RENAMEAT UNLINKAT MKDIRAT "
    "SYMLINKAT LINKAT MSG_RING FSETXATTR SETXATTR FGETXATTR GETXATTR SOCKET "
    "URING_CMD SEND_ZC SENDMSG_ZC READ_MULTISHOT WAITID FUTEX_WAIT "
    "FUTEX_WAKE FUTEX_WAITV FIXED_FD_INSTALL FTRUNCATE BIND LISTEN RECV_ZC "
    "EPOLL_WAIT READV_FIXED WRITEV_FIXED PIPE"
).split()

# lib/obs.h's WEFT__ON_*, in order.
WAITS = ["", "io", "sleep", "mutex", "cond", "sem", "channel", "join",
         "group", "future", "pool"]

LIMIT = 10000000  # links followed in one list, against a corrupt one
TIMER_IDLE = 0xFFFFFFFF
# The saved frame at a parked thread's sp (lib/ctx.h, WEFT_FRAME_*).
FRAME = (("r15", 8), ("r14", 16), ("r13", 24), ("r12", 32), ("rbx", 40),
         ("rbp", 48))
FRAME_RET, FRAME_SIZE = 56, 64


def runtime():
    try:
        return gdb.parse_and_eval("weft__rt")
    except gdb.error:
        raise gdb.GdbError("weft: no weft runtime here, or no debug info "
                           "for it (is the program started?)")


def chain(p, next_of):
    """p, next_of(p), ... until NULL."""
    n = 0
    while int(p) != 0 and n < LIMIT:
        yield p
        p = next_of(p)
        n += 1


class Thread:
    def __init__(self, ptr, state):
        self.ptr = ptr
        self.state = state

    @property
    def id(self):
        return int(self.ptr["id"])

    def name(self):
        try:
            return self.ptr["name"].string()[:64]
        except (gdb.error, ValueError, UnicodeDecodeError):
            return "?"

    def carrier(self):
        c = self.ptr["carrier"]
        return int(c["index"]) if int(c) != 0 else None

    def wait(self):
        w = self.ptr["obs"]["wait"]
        if int(w) == 0:
            return ""
        note = w["note"]
        on = int(note["on"])
        kind = WAITS[on] if on < len(WAITS) else "?"
        obj = int(note["obj"])
        if kind == "io":
            op = int(note["op"])
            name = OPS[op] if op < len(OPS) else "op %d" % op
            if int(note["n"]) > 1:
                text = "%s on %d fds" % (name, int(note["n"]))
            elif name.startswith("FUTEX_"):
                text = "%s 0x%x" % (name, obj)
            else:
                text = "%s fd %d" % (name, int(note["fd"]))
        elif kind == "join":
            target = gdb.Value(obj).cast(self.ptr.type)
            text = "join #%d" % int(target["id"])
        elif kind in ("sleep", "pool", ""):
            text = kind
        else:
            text = "%s 0x%x" % (kind, obj)
        timer = self.ptr["timer"]
        if int(timer["idx"]) != TIMER_IDLE:
            left = (int(timer["deadline"]) - time.monotonic_ns()) / 1e6
            text += "%sdeadline in %.0f ms" % (", " if text else "", left)
        return text


def threads():
    """Every virtual thread, with its state, in id order."""
    rt = runtime()
    found = {}

    def add(ptr, state):
        key = int(ptr)
        if key not in found or found[key].state == "parked":
            found[key] = Thread(ptr, state)

    cs = rt["carriers"]
    for i in range(int(rt["nr_carriers"]) if int(cs) != 0 else 0):
        c = cs[i].dereference()
        for t in chain(c["obs"]["own"]["registry"], lambda t: t["obs"]["next"]):
            add(t, "parked")
        for t in chain(c["runq"]["head"], lambda t: t["next"]):
            add(t, "runnable")
        for t in chain(c["inbox"], lambda t: t["next"]):
            add(t, "runnable")
        for t in chain(c["stealq"]["head"], lambda t: t["next"]):
            add(t, "runnable" if int(t["carrier"]) != 0 else "new")
        if int(c["current"]) != 0:
            found[int(c["current"])] = Thread(c["current"], "running")
    try:
        mig = gdb.parse_and_eval("weft__migratable")
    except gdb.error:
        mig = None
    if mig is not None:
        for t in chain(mig, lambda t: t["obs"]["next"]):
            add(t, "parked")
    return sorted(found.values(), key=lambda t: t.id)


class FrameId:
    def __init__(self, sp, pc):
        self.sp = sp
        self.pc = pc


class WeftUnwinder(gdb.unwinder.Unwinder):
    """Frame #0's caller is the selected virtual thread's context."""

    def __init__(self):
        super().__init__("weft")
        self.regs = None  # register name -> gdb.Value, while one is shown

    def __call__(self, pending_frame):
        if self.regs is None or pending_frame.level() != 0:
            return None
        sp = pending_frame.read_register("rsp")
        pc = pending_frame.read_register("rip")
        # gdb stops a backtrace whose next frame is inner to (below) this
        # one, as a virtual thread's stack may be to the kernel thread's:
        # frame #0 claims the lowest stack address while one is shown.
        info = pending_frame.create_unwind_info(
            FrameId(gdb.Value(1).cast(sp.type), pc))
        for name, value in self.regs.items():
            info.add_saved_register(name, value)
        return info


unwinder = WeftUnwinder()
gdb.unwinder.register_unwinder(None, unwinder, replace=True)


def saved_registers(t):
    """The registers of parked thread t, from its saved frame."""
    u64 = gdb.lookup_type("unsigned long").pointer()
    sp = int(t.ptr["sp"])

    def at(off):
        return gdb.Value(sp + off).cast(u64).dereference()

    regs = {name: at(off) for name, off in FRAME}
    regs["rip"] = at(FRAME_RET).cast(gdb.lookup_type("long"))
    regs["rsp"] = gdb.Value(sp + FRAME_SIZE).cast(gdb.lookup_type("long"))
    return regs


class InfoWeftThreads(gdb.Command):
    """One line per virtual thread: id, name, state, wait, carrier."""

    def __init__(self):
        super().__init__("info weft-threads", gdb.COMMAND_STATUS)

    def invoke(self, arg, from_tty):
        ts = threads()
        print("%6s  %-16s %-9s %-8s %s" % ("id", "name", "state", "carrier",
                                           "wait"))
        for t in ts:
            c = t.carrier()
            print("%6d  %-16s %-9s %-8s %s" % (
                t.id, t.name(), t.state, "-" if c is None else c,
                t.wait() if t.state in ("parked", "runnable") else ""))
        print("%d virtual thread%s" % (len(ts), "" if len(ts) == 1 else "s"))


class WeftThread(gdb.Command):
    """weft-thread N: show parked virtual thread N's stack (then `bt`).
weft-thread restore: back to the kernel thread's own frames."""

    def __init__(self):
        super().__init__("weft-thread", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        arg = arg.strip()
        if arg == "restore":
            unwinder.regs = None
            gdb.invalidate_cached_frames()
            print("[weft] the kernel thread's own frames")
            return
        if not arg.isdigit():
            raise gdb.GdbError("usage: weft-thread N | weft-thread restore")
        if gdb.selected_inferior().architecture().name() != "i386:x86-64":
            raise gdb.GdbError("weft-thread: x86-64 only, for now")
        want = int(arg)
        for t in threads():
            if t.id != want:
                continue
            if t.state == "running":
                raise gdb.GdbError(
                    "weft: #%d is running on carrier %s: its frames are "
                    "that kernel thread's (info threads)" % (want, t.carrier()))
            if t.state == "new":
                raise gdb.GdbError("weft: #%d has not started: no stack yet"
                                   % want)
            unwinder.regs = saved_registers(t)
            gdb.invalidate_cached_frames()
            print("[weft] frames #1 and up are virtual thread #%d \"%s\" "
                  "(%s); weft-thread restore to leave" % (
                      want, t.name(), t.state))
            return
        raise gdb.GdbError("weft: no virtual thread #%d" % want)


def forget(event):
    """The program ran on: the frames shown are stale."""
    unwinder.regs = None


InfoWeftThreads()
WeftThread()
gdb.events.cont.connect(forget)
