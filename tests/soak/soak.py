#!/usr/bin/env python3
# Soak of one partition under faults: the counter guest prints fast while
# services are killed, serviced, stopped and traced; then the checks.
"""Usage: soak.py BUILD_DIR SECONDS MAX_KILLS

The partition has a disk (an 8 MiB file) that the counter writes and
reads back before each line (disk=1), served by parapet-blkd.
Faults, one at a time at random intervals: kill -9 of policy, hostcomm,
diagd or blkd (host pid found as a child of the partition's init), servicing of
vmworker (parapet-diag restart vmworker), SIGSTOP then SIGCONT of a
service, a parapet-diag trace client killed mid-trace. Checks: console
numbers exactly once in order, no zombies, no fd growth in init, no socket
left in the run dir, RSS bounded, every restart in init's log with its
reason; prints restart times p50/p99. Exit 0 pass, 1 fail, 77 skip."""
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time

KILLABLE = ("policy", "hostcomm", "diagd", "blkd")
SERVICES = ("policy", "hostcomm", "vmworker", "diagd", "blkd")
RUNBASE = "/run/parapet"


def log(msg):
    print(msg, flush=True)


def fail(msg):
    log("FAIL: " + msg)
    sys.exit(1)


def skip(msg):
    log(msg)
    sys.exit(77)


class Partition:
    """One `parapet run` of the counter guest, its init and services."""

    def __init__(self, build, name, tmp):
        self.bin = os.path.join(build, "bin")
        self.name = name
        self.out = os.path.join(tmp, "console.out")
        self.err = os.path.join(tmp, "run.err")
        img = os.path.join(build, "guests", "counter.igvm")
        disk = os.path.join(tmp, "disk.img")
        with open(disk, "wb") as f:
            f.truncate(8 << 20)
        self.proc = subprocess.Popen(
            [os.path.join(self.bin, "parapet"), "run", "--name", name,
             "--disk", disk, "--guest-cmdline", "delay_ms=1 disk=1", img],
            stdout=open(self.out, "wb"), stderr=open(self.err, "ab"))
        self.dir = os.path.join(RUNBASE, name)
        self.init = None

    def wait_up(self, secs=20):
        end = time.monotonic() + secs
        while time.monotonic() < end:
            pidf = os.path.join(self.dir, "init.pid")
            if os.path.exists(pidf) and self.lines() > 5 and \
                    all(self.pid(s) for s in SERVICES) and self.diag_ok():
                self.init = int(open(pidf).read())
                return True
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        return False

    def diag(self, *args, timeout=15):
        return subprocess.run(
            [os.path.join(self.bin, "parapet-diag"), "--vm", self.name]
            + list(args), capture_output=True, text=True, timeout=timeout)

    def diag_ok(self):
        try:
            return self.diag("ps").returncode == 0
        except subprocess.TimeoutExpired:
            return False

    def lines(self):
        try:
            with open(self.out, "rb") as f:
                return f.read().count(b"\n")
        except OSError:
            return 0

    def children(self):
        """{service: host pid} of init's children."""
        init = self.init or int(open(os.path.join(self.dir, "init.pid")).read())
        res = {}
        try:
            kids = open("/proc/%d/task/%d/children" % (init, init)).read()
        except OSError:
            return res
        for p in kids.split():
            try:
                exe = os.readlink("/proc/%s/exe" % p)
            except OSError:
                continue
            # " (deleted)": the binary was replaced (a rebuild) while it ran
            base = os.path.basename(exe).replace(" (deleted)", "")
            if base.startswith("parapet-"):
                res[base[len("parapet-"):]] = int(p)
        return res

    def pid(self, svc):
        return self.children().get(svc)

    def errlog(self, start=0):
        with open(self.err, errors="replace") as f:
            f.seek(start)
            return f.read()


def status_field(pid, key):
    try:
        for line in open("/proc/%d/status" % pid):
            if line.startswith(key + ":"):
                return line.split()[1]
    except OSError:
        pass
    return None


def rss_kib(pid):
    v = status_field(pid, "VmRSS")
    return int(v) if v else 0


def sanitized(pid):
    """True when pid runs a sanitizer build (AddressSanitizer mapped)."""
    try:
        with open("/proc/%d/maps" % pid) as f:
            return "libasan" in f.read()
    except OSError:
        return False


def fd_count(pid):
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return -1


def tree(pid):
    """pid and all its descendants (host pids)."""
    out, pending = [], [pid]
    while pending:
        p = pending.pop()
        out.append(p)
        try:
            for t in os.listdir("/proc/%d/task" % p):
                kids = open("/proc/%d/task/%s/children" % (p, t)).read()
                pending.extend(int(k) for k in kids.split())
        except OSError:
            pass
    return out


def zombies(pids):
    return [p for p in pids if status_field(p, "State") == "Z"]


def sockets_in(path):
    res = []
    for root, _, files in os.walk(path):
        for f in files:
            full = os.path.join(root, f)
            try:
                if (os.lstat(full).st_mode & 0o170000) == 0o140000:
                    res.append(os.path.relpath(full, path))
            except OSError:
                pass
    return sorted(res)


def pct(vals, q):
    if not vals:
        return float("nan")
    s = sorted(vals)
    return s[min(len(s) - 1, int(q * len(s)))]


class Soak:
    def __init__(self, part, secs, max_kills):
        self.p = part
        self.secs = secs
        self.max_kills = max_kills
        self.kills = {s: 0 for s in KILLABLE}
        self.servicings = 0
        self.stops = 0
        self.traces = 0
        self.restart_ms = []
        self.servicing_ms = []
        self.last_spawn = {s: time.monotonic() for s in SERVICES}
        self.zombie_seen = []
        self.failures = []
        self.log_from = 0

    def wait_new(self, svc, old, secs=30):
        """Until init logged svc ready and it runs with a pid other than
        old. The log is watched, not /proc: scanning /proc every few ms
        slows the kernel's reaping of the killed process (release_task
        flushes its /proc dentries while the scan adds more), which showed
        as 1.5-3 s restarts here that were the soak's own doing."""
        end = time.monotonic() + secs
        while time.monotonic() < end:
            if self.ready(svc):
                p = self.p.pid(svc)
                if p and p != old:
                    return p
            time.sleep(0.005)
        return None

    def ready(self, svc):
        """init logged "svc: ready" after the last start of svc."""
        txt = self.p.errlog(self.log_from)
        i = txt.rfind("%s: started (pid" % svc)
        return i >= 0 and txt.find("%s: ready (pid" % svc, i) >= 0

    def kill9(self):
        ok = [s for s in KILLABLE
              if time.monotonic() - self.last_spawn[s] > 1.1]
        if not ok:
            time.sleep(0.1)
            return
        svc = random.choice(ok)
        old = self.p.pid(svc)
        if not old:
            fail("%s not running before its kill" % svc)
        self.note("kill -9 %s (pid %d)" % (svc, old))
        self.log_from = os.path.getsize(self.p.err)
        t0 = time.monotonic()
        os.kill(old, signal.SIGKILL)
        new = self.wait_new(svc, old)
        if not new:
            fail("%s not back within 30 s after kill -9" % svc)
        self.restart_ms.append((time.monotonic() - t0) * 1000)
        self.note("%s back in %.0f ms" % (svc, self.restart_ms[-1]))
        self.last_spawn[svc] = time.monotonic()
        self.kills[svc] += 1
        if svc == "diagd":
            self.wait_diag()

    def wait_diag(self):
        end = time.monotonic() + 15
        while time.monotonic() < end:
            if self.p.diag_ok():
                return
            time.sleep(0.05)
        fail("diagd does not answer")

    def servicing(self):
        if time.monotonic() - self.last_spawn["vmworker"] < 1.1:
            return
        old = self.p.pid("vmworker")
        self.log_from = os.path.getsize(self.p.err)
        t0 = time.monotonic()
        try:
            r = self.p.diag("restart", "vmworker", timeout=60)
        except subprocess.TimeoutExpired:
            self.failures.append("restart vmworker: no answer in 60 s "
                                 "(at %d kills)" % self.total_kills())
            self.note("servicing: no answer in 60 s")
            return
        if r.returncode != 0 or "servicing" not in r.stdout:
            self.failures.append("restart vmworker: %s %s" % (
                r.stdout.strip(), r.stderr.strip()))
            self.note("servicing failed")
        new = self.wait_new("vmworker", old)
        if not new:
            fail("vmworker not back after servicing")
        self.servicing_ms.append((time.monotonic() - t0) * 1000)
        self.last_spawn["vmworker"] = time.monotonic()
        self.servicings += 1

    def stopcont(self):
        svc = random.choice(SERVICES)
        pid = self.p.pid(svc)
        if not pid:
            return
        self.note("SIGSTOP %s" % svc)
        os.kill(pid, signal.SIGSTOP)
        time.sleep(random.uniform(0.1, 1.0))
        os.kill(pid, signal.SIGCONT)
        self.stops += 1

    def trace(self):
        t = subprocess.Popen(
            [os.path.join(self.p.bin, "parapet-diag"), "--vm", self.p.name,
             "trace", "-c", "100000"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(random.uniform(0.1, 0.8))
        t.send_signal(random.choice((signal.SIGKILL, signal.SIGTERM,
                                     signal.SIGINT)))
        t.wait()
        self.traces += 1

    def note(self, what):
        """Writes the action into parapet run's stderr log, in order."""
        with open(self.p.err, "a") as f:
            f.write("soak: %s\n" % what)

    def total_kills(self):
        return sum(self.kills.values())

    def run(self):
        end = time.monotonic() + self.secs
        acts = [self.kill9] * 6 + [self.servicing, self.stopcont, self.trace]
        n = 0
        while time.monotonic() < end and self.total_kills() < self.max_kills:
            if self.p.proc.poll() is not None:
                fail("the partition ended mid-soak (parapet run exit %d): "
                     "%s" % (self.p.proc.returncode, self.p.errlog()[-1500:]))
            act = random.choice(acts)
            self.note(act.__name__)
            act()
            time.sleep(random.uniform(0.0, 0.2))
            n += 1
            if n % 20 == 0:
                z = zombies(tree(self.p.init))
                if z:
                    time.sleep(0.5)  # init reaps at once: give it a moment
                    z = zombies(tree(self.p.init))
                    if z:
                        self.zombie_seen.append(z)
                if n % 100 == 0:
                    log("  %5.0f s: %d kills, %d servicings, %d lines" % (
                        self.secs - (end - time.monotonic()),
                        self.total_kills(), self.servicings, self.p.lines()))


# A service's instance may differ after the faults (restarted): its fd
# count is held to a loose bound.
FD_SLACK = 8


def snapshot(p):
    kids = p.children()
    snap = {s: {"pid": kids.get(s), "rss": rss_kib(kids[s]) if s in kids
                else 0, "fds": fd_count(kids[s]) if s in kids else -1}
            for s in SERVICES}
    snap["init"] = {"pid": p.init, "rss": rss_kib(p.init),
                    "fds": fd_count(p.init)}
    snap["san"] = sanitized(p.init)
    root = "/proc/%d/root" % p.init
    snap["sockets"] = sockets_in(p.dir) + [
        "ipc/" + s for s in sockets_in(root + "/run/parapet/ipc")]
    return snap


def fd_grown(before, after):
    """Services whose fd count grew past the bound report() applies."""
    return [k for k in SERVICES
            if after[k]["fds"] > before[k]["fds"] + FD_SLACK]


def fd_kinds(pid):
    """What a process's descriptors point at, counted by kind."""
    kinds = {}
    try:
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                t = os.readlink("/proc/%d/fd/%s" % (pid, fd)).split(":")[0]
            except OSError:
                continue
            kinds[t] = kinds.get(t, 0) + 1
    except OSError:
        pass
    return kinds


def settled_snapshot(p, before):
    """The snapshot after the faults. Descriptors of connections still in
    their handshake (a peer that was stopped, a servicing just done) come
    and go: growth must last 5 s to count, and is then described."""
    after = snapshot(p)
    deadline = time.monotonic() + 5
    while fd_grown(before, after) and time.monotonic() < deadline:
        time.sleep(0.5)
        after = snapshot(p)
    for k in fd_grown(before, after):
        log("%s descriptors: %s" % (k, fd_kinds(after[k]["pid"])))
    return after


def check_console(path):
    data = open(path, "rb").read().decode(errors="replace")
    lines = data.split("\n")
    nums = lines[:-1]  # the part after the last newline is incomplete
    bad = [i for i, v in enumerate(nums) if v != str(i)]
    if bad:
        i = bad[0]
        return "console: line %d is %r (want %d); around: %r" % (
            i, nums[i], i, nums[max(0, i - 3):i + 3]), len(nums)
    return None, len(nums)


def check_log(errlog, s):
    problems = []
    for svc in KILLABLE:
        n = errlog.count("%s: killed by signal 9; restarting" % svc)
        if n < s.kills[svc]:
            problems.append("%s: %d kills, %d logged with reason" % (
                svc, s.kills[svc], n))
    req = errlog.count("vmworker: exited 0; restarting as requested")
    if req < s.servicings:
        problems.append("%d servicings, %d 'restarting as requested'" % (
            s.servicings, req))
    other = [l for l in errlog.splitlines() if "restarting" in l and
             "killed by signal 9" not in l and "as requested" not in l]
    if other:
        problems.append("unexpected restarts: %s" % other[:5])
    return problems


def main():
    if len(sys.argv) != 4:
        skip(__doc__)
    build, secs, max_kills = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
    if os.geteuid() != 0:
        skip("the soak creates a partition: needs root")
    for b in ("parapet", "parapet-diag", "parapet-policy", "parapet-hostcomm",
              "parapet-vmworker", "parapet-diagd", "parapet-blkd"):
        if not os.access(os.path.join(build, "bin", b), os.X_OK):
            skip("%s/bin/%s not built" % (build, b))
    tmp = tempfile.mkdtemp(prefix="parapet-soak.")
    name = "soak%d" % os.getpid()
    p = Partition(build, name, tmp)
    try:
        soak_one(p, secs, max_kills)
    finally:
        if p.proc.poll() is None:
            p.proc.terminate()
            try:
                p.proc.wait(10)
            except subprocess.TimeoutExpired:
                p.proc.kill()
        log("logs kept in %s" % tmp)


def soak_one(p, secs, max_kills):
    if not p.wait_up():
        fail("partition did not come up: %s" % p.errlog()[-2000:])
    time.sleep(1.2)
    before = snapshot(p)
    s = Soak(p, secs, max_kills)
    t0 = time.monotonic()
    s.run()
    time.sleep(1.2)
    after = settled_snapshot(p, before)
    elapsed = time.monotonic() - t0
    pids = tree(p.init)
    z_end = zombies(pids)
    r = subprocess.run([os.path.join(p.bin, "parapet"), "ctl", p.name,
                        "poweroff"], capture_output=True, text=True,
                       timeout=30)
    try:
        rc = p.proc.wait(30)
    except subprocess.TimeoutExpired:
        fail("parapet run did not end after ctl poweroff")
    time.sleep(0.2)
    problems = report(p, s, before, after, elapsed, z_end, pids, rc, r)
    if problems:
        for x in problems:
            log("FAIL: " + x)
        sys.exit(1)
    log("PASS")


def report(p, s, before, after, elapsed, z_end, pids, rc, r):
    problems = []
    err, nlines = check_console(p.out)
    if err:
        problems.append(err)
    if r.returncode != 0:
        problems.append("ctl poweroff: %s%s" % (r.stdout, r.stderr))
    if rc != 0:
        problems.append("parapet run exited %d" % rc)
    if z_end or s.zombie_seen:
        problems.append("zombies: end %s, during %s" % (z_end,
                                                        s.zombie_seen[:3]))
    left = [q for q in pids if os.path.exists("/proc/%d" % q) and
            status_field(q, "State") is not None]
    if left:
        problems.append("processes left after poweroff: %s" % left)
    if os.path.exists(p.dir):
        problems.append("run dir left: %s" % os.listdir(p.dir))
    if after["sockets"] != before["sockets"]:
        problems.append("sockets before %s, after %s" % (
            before["sockets"], after["sockets"]))
    if after["init"]["fds"] > before["init"]["fds"]:
        problems.append("init fds %d -> %d" % (before["init"]["fds"],
                                               after["init"]["fds"]))
    # ASan keeps freed memory in quarantine (up to 256 MiB a process), so
    # RSS there measures the allocator, not Parapet: a sanitizer build is
    # held to LeakSanitizer instead, the RSS bound to the plain build.
    san = before["san"]
    if san:
        log("RSS bound not checked: sanitizer build (ASan quarantine)")
    for k in SERVICES + ("init",):
        b, a = before[k]["rss"], after[k]["rss"]
        if not san and a > b * 1.5 + 4096:
            problems.append("%s RSS %d -> %d KiB" % (k, b, a))
        if k != "init" and k in fd_grown(before, after):
            problems.append("%s fds %d -> %d" % (k, before[k]["fds"],
                                                 after[k]["fds"]))
    m = re.search(r"(ERROR: (Address|Leak)Sanitizer|runtime error: ).*",
                  p.errlog())
    if m:
        problems.append("sanitizer report: %s" % m.group(0))
    problems += check_log(p.errlog(), s) + s.failures
    log("soak: %.0f s, %d console lines, kill -9: %d (%s), servicings: %d, "
        "SIGSTOP/CONT: %d, trace clients killed: %d" % (
            elapsed, nlines, s.total_kills(),
            ", ".join("%s %d" % kv for kv in s.kills.items()),
            s.servicings, s.stops, s.traces))
    log("restart after kill -9 (kill to ready): p50 %.0f ms, p99 %.0f ms, "
        "max %.0f ms" % (pct(s.restart_ms, .5), pct(s.restart_ms, .99),
                         max(s.restart_ms or [0])))
    init_ms = [int(m) for m in re.findall(
        r"parapet-init: (?:%s): ready \(pid \d+, (\d+) ms" % "|".join(
            KILLABLE), p.errlog())][len(KILLABLE):]
    log("restart in init's log (spawn to ready): p50 %.0f ms, p99 %.0f ms" % (
        pct(init_ms, .5), pct(init_ms, .99)))
    log("servicing (diag restart to ready): p50 %.0f ms, p99 %.0f ms" % (
        pct(s.servicing_ms, .5), pct(s.servicing_ms, .99)))
    for k in ("init",) + SERVICES:
        log("  %-8s RSS %6d -> %6d KiB, fds %3d -> %3d" % (
            k, before[k]["rss"], after[k]["rss"], before[k]["fds"],
            after[k]["fds"]))
    log("  sockets: %s" % " ".join(after["sockets"]))
    return problems


if __name__ == "__main__":
    main()
