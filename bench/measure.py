#!/usr/bin/env python3
"""Measurements for bench/run.sh: file trees, change drivers, /proc readings, statistics, report.

Subcommands (each prints its figures on stdout, problems on stderr, exits 1 when a measurement
failed rather than producing a wrong number):

  tree DIR COUNT SIZE          COUNT files of SIZE bytes, 100 per folder: DIR/d000/f000000.conf
  changes latency|burst ...    atomic rewrites in the watched folders of one or more sidecars;
                               "durable" is read from the S3 server's request log (bench/s3rver.js)
  requests ...                 server-side request count per one-file change (moto_server's log)
  maxrss -- CMD...             runs CMD, prints the peak RSS of it (and its children) in KiB
  startup --url URL -- CMD...  starts CMD, times start -> URL answers 200, prints the figures
  cpu PID... / mem PID         CPU ticks + context switches / VmHWM RssAnon RssFile VmRSS (KiB)
  stats p50|p99|median|min|max numbers on stdin (nearest-rank percentiles)
  report ...                   the markdown table from the results file

Clock: every time here is time.monotonic_ns(), CLOCK_MONOTONIC, the clock bench/s3rver.js stamps
its request log with (process.hrtime), so a rename here and a PUT there share one time line.
"""

import argparse
import hashlib
import math
import os
import re
import resource
import secrets
import signal
import socket
import subprocess
import sys
import time

POLL = 0.005  # seconds between reads of the logs while waiting; does not limit the resolution


def die(msg):
    print(f"measure.py: {msg}", file=sys.stderr)
    sys.exit(1)


def now():
    return time.monotonic_ns()


# ---------------------------------------------------------------------------------------------
# Trees


def file_body(i, size):
    head = f"# config file {i}\nkey{i}=value\n"
    filler = "abcdefghijklmnopqrstuvwxyz0123456789"
    body = head + (filler * (size // len(filler) + 1))
    return (body[: size - 1] + "\n") if size > 0 else ""


def tree_path(root, i):
    return os.path.join(root, f"d{i // 100:03d}", f"f{i:06d}.conf")


def cmd_tree(args):
    for i in range(args.count):
        path = tree_path(args.dir, i)
        if i % 100 == 0:
            os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(file_body(i, args.size))


# ---------------------------------------------------------------------------------------------
# Logs and processes


class LogTail:
    """Reads complete lines appended to a file since the last call."""

    def __init__(self, path, from_end=True):
        self.path = path
        self.offset = os.path.getsize(path) if (from_end and os.path.exists(path)) else 0
        self.partial = b""

    def lines(self):
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return []
        self.offset += len(data)
        data = self.partial + data
        parts = data.split(b"\n")
        self.partial = parts.pop()
        return [p.decode("utf-8", "replace") for p in parts]


def children(pid):
    """(pid, comm) of PID's children."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            kids = [int(x) for x in f.read().split()]
    except OSError:  # a kernel without CONFIG_PROC_CHILDREN: look for the parent pid instead
        kids = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            if int(stat[stat.rindex(")") + 2 :].split()[1]) == pid:
                kids.append(int(entry))
    out = []
    for k in kids:
        try:
            with open(f"/proc/{k}/comm") as f:
                out.append((k, f.read().strip()))
        except OSError:
            pass
    return out


def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False


def proc_status(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return fields


def kib(value):
    return int(value.split()[0])


def cpu_ticks(pid):
    """utime + stime (all threads) in clock ticks, and voluntary + involuntary context switches
    of every thread (a wake-up count: shows a timer even when CPU time rounds to 0)."""
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    rest = stat[stat.rindex(")") + 2 :].split()
    ticks = int(rest[11]) + int(rest[12])  # fields 14 and 15 of proc(5)
    switches = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            st = proc_status(f"{pid}/task/{tid}")
        except OSError:
            continue
        switches += int(st.get("voluntary_ctxt_switches", 0)) + int(st.get("nonvoluntary_ctxt_switches", 0))
    return ticks, switches


# ---------------------------------------------------------------------------------------------
# Sidecars under test


class Target:
    """One sidecar and the folder it watches.

    spec: name=N,kind=cfgsync|loop,dir=D,prefix=BUCKET/PATH[,pid=P,errlog=F][,rewrites=N]
    A loop target's pid is the loop's shell; errlog its stderr (inotifywait's "Watches
    established." lines). rewrites caps the rewrites of this target in a latency run."""

    def __init__(self, spec):
        kv = dict(item.split("=", 1) for item in spec.split(","))
        self.name = kv["name"]
        self.kind = kv["kind"]
        self.dir = kv["dir"]
        self.prefix = kv["prefix"].strip("/")
        self.pid = int(kv["pid"]) if "pid" in kv else None
        self.max_rewrites = int(kv["rewrites"]) if "rewrites" in kv else None
        self.errlog = LogTail(kv["errlog"], from_end=False) if "errlog" in kv else None
        self.established_at = []  # when each "Watches established." line was seen
        self.last_change = 0
        if self.kind == "loop" and (self.pid is None or self.errlog is None):
            die(f"target {self.name}: a loop needs pid= and errlog=")

    def poll(self):
        if self.errlog:
            t = now()
            for line in self.errlog.lines():
                if "Watches established" in line:
                    self.established_at.append(t)
        if self.pid is not None and not alive(self.pid):
            die(f"{self.name}: the sidecar (pid {self.pid}) is gone")

    def rclone_running(self):
        return any(comm == "rclone" for _, comm in children(self.pid))

    def idle(self):
        """Ready for a change: cfgsync always (the caller waited for the previous push); the
        loop once an inotifywait started after our last change has its watches, and no rclone
        runs."""
        if self.kind != "loop":
            return True
        fresh = self.established_at and self.established_at[-1] > self.last_change
        watching = any(comm == "inotifywait" for _, comm in children(self.pid))
        return bool(fresh and watching and not self.rclone_running())

    def settled(self):
        return self.kind != "loop" or not self.rclone_running()


class Waiter:
    def __init__(self, targets, poll_fn=None):
        self.targets = targets
        self.poll_fn = poll_fn

    def poll(self):
        for t in self.targets:
            t.poll()
        if self.poll_fn:
            self.poll_fn()

    def until(self, cond, timeout, what):
        deadline = time.monotonic() + timeout
        while True:
            self.poll()
            if cond():
                return
            if time.monotonic() > deadline:
                die(f"timed out after {timeout:g} s waiting for {what}")
            time.sleep(POLL)

    def sleep_until(self, t_ns):
        while now() < t_ns:
            self.poll()
            time.sleep(min(POLL, max(0, (t_ns - now()) / 1e9)))


def rewrite(target, rel, tag):
    """Atomic rewrite of target.dir/rel (temp file in the same folder, then rename over).
    Returns (t_rename_ns, md5 hex of the new content)."""
    path = os.path.join(target.dir, rel)
    tmp = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.tmp")
    body = f"# {tag}\nrevision={tag}\nnonce={secrets.token_hex(16)}\n" + "x=" + "y" * 200 + "\n"
    data = body.encode()
    with open(tmp, "wb") as f:
        f.write(data)
    t0 = now()
    os.rename(tmp, path)
    target.last_change = t0
    return t0, hashlib.md5(data).hexdigest()


class S3rverLog:
    """bench/s3rver.js's request log: T_END T_START METHOD PATH STATUS ETAG."""

    def __init__(self, path):
        self.tail = LogTail(path)
        self.puts = {}  # path -> [(t_end, t_start, etag)]
        self.bad = []  # 5xx answers: a broken measurement (404s on HEAD/GET are normal probes)

    def poll(self):
        for line in self.tail.lines():
            parts = line.split(" ")
            if len(parts) != 6:
                continue
            t_end, t_start, method, path, status, etag = parts
            if method == "PUT" and status == "200":
                self.puts.setdefault(path, []).append((int(t_end), int(t_start), etag))
            elif status.startswith("5"):
                self.bad.append(line)

    def put_of(self, path, md5, since):
        """(end, start) of the first PUT of PATH with this content that ended after SINCE, or
        None. The end is when the object became durable; the start, when the request reached
        the server (what came before is the sidecar's share)."""
        for t_end, t_start, etag in self.puts.get(path, []):
            if t_end >= since and etag == md5:
                return t_end, t_start
        return None

    def durable_at(self, path, md5, since):
        put = self.put_of(path, md5, since)
        return put[0] if put else None


def cmd_changes(args):
    targets = [Target(s) for s in args.target]
    log = S3rverLog(args.log)
    w = Waiter(targets, log.poll)
    os.makedirs(args.out_dir, exist_ok=True)

    def key_path(t, rel):
        return f"/{t.prefix}/{rel}"

    def wait_idle(t):
        w.until(t.idle, args.timeout, f"{t.name} to be idle")

    if args.mode == "latency":
        results = {t.name: [] for t in targets}
        reached = {t.name: [] for t in targets}
        for i in range(args.rewrites):
            for t in targets:
                if t.max_rewrites is not None and i >= t.max_rewrites:
                    continue
                wait_idle(t)
                time.sleep(args.gap)  # let the previous push's tail (sockets, logs) finish
                t0, md5 = rewrite(t, args.file, f"{t.name}-{i}")
                path = key_path(t, args.file)
                w.until(lambda: log.durable_at(path, md5, t0) is not None, args.timeout,
                        f"{t.name}: PUT of {path} with the new content")
                t_end, t_start = log.put_of(path, md5, t0)
                results[t.name].append((t_end - t0) / 1e6)
                reached[t.name].append((t_start - t0) / 1e6)
                w.until(t.settled, args.timeout, f"{t.name} to finish its sync")
        for t in targets:
            with open(os.path.join(args.out_dir, f"{t.name}.ms"), "w") as f:
                f.writelines(f"{v:.3f}\n" for v in results[t.name])
            with open(os.path.join(args.out_dir, f"{t.name}.reached.ms"), "w") as f:
                f.writelines(f"{v:.3f}\n" for v in reached[t.name])
    else:  # burst
        files = args.files.split(",")
        for t in targets:
            wait_idle(t)
        time.sleep(args.gap)
        start = now()
        changes = {t.name: [] for t in targets}  # (rel, t0, md5)
        for k, rel in enumerate(files):
            w.sleep_until(start + int(k * args.spacing * 1e9))
            for t in targets:
                t0, md5 = rewrite(t, rel, f"{t.name}-burst-{k}")
                changes[t.name].append((rel, t0, md5))
        last = {t.name: changes[t.name][-1][1] for t in targets}
        w.sleep_until(max(last.values()) + int(args.window * 1e9) + 300_000_000)
        for t in targets:
            deadline = last[t.name] + int(args.window * 1e9)
            durable = 0
            detail = []
            for rel, t0, md5 in changes[t.name]:
                t_end = log.durable_at(key_path(t, rel), md5, t0)
                ok = t_end is not None and t_end <= deadline
                durable += ok
                detail.append(f"{rel}:{'%.0fms' % ((t_end - t0) / 1e6) if t_end else 'not-durable'}")
            with open(os.path.join(args.out_dir, f"{t.name}.burst"), "a") as f:
                f.write(f"{durable} {' '.join(detail)}\n")
        # Leave every sidecar idle for whatever runs next (the loop wakes only on a new event).
        for t in targets:
            w.until(t.settled, args.timeout, f"{t.name} to finish its sync")
    if log.bad:
        die(f"the server answered 5xx during the measurement: {log.bad[:3]}")


# ---------------------------------------------------------------------------------------------
# Requests per change, counted in moto_server's log


MOTO_LINE = re.compile(r'"([A-Z]+) (\S+) HTTP/[0-9.]+" (\d{3})')


def cmd_requests(args):
    t = Target(args.target)
    tail = LogTail(args.log)
    lines = []  # (t_seen, method, path, status)
    last_seen = [now()]  # when the last request line appeared (or when we started looking)

    def poll():
        ts = now()
        for line in tail.lines():
            m = MOTO_LINE.search(line)
            if m:
                lines.append((ts, m.group(1), m.group(2), m.group(3)))
                last_seen[0] = ts

    def quiet():
        return now() - last_seen[0] >= args.quiet * 1e9

    w = Waiter([t], poll)
    put_path = f"/{t.prefix}/{args.file}"
    for i in range(args.rounds):
        w.until(t.idle, args.timeout, f"{t.name} to be idle")
        time.sleep(args.gap)
        # Nothing may still be talking to the server when the window opens (a start-up
        # reconcile's tail, the previous round's stragglers).
        w.until(quiet, args.timeout, "a quiet server")
        start = len(lines)
        rewrite(t, args.file, f"{t.name}-req-{i}")
        w.until(lambda: any(m == "PUT" and p == put_path and s == "200" for _, m, p, s in lines[start:]),
                args.timeout, f"{t.name}: PUT of {put_path}")
        if t.kind == "loop":
            # The window closes when `rclone sync` exits: nothing else talks to this server.
            w.until(t.settled, args.timeout, f"{t.name}: rclone to exit")
            time.sleep(0.2)
            w.poll()
        else:
            # cfgsync has no process boundary per push: the window closes after QUIET seconds
            # without a request (longer than its debounce, so a late follow-up would be seen).
            w.until(quiet, args.timeout, "a quiet server")
        window = lines[start:]
        errors = [x for x in window if x[3].startswith("5")]
        if errors:
            die(f"{t.name}: server errors during the count: {errors[:3]}")
        methods = {}
        for _, m, _, _ in window:
            methods[m] = methods.get(m, 0) + 1
        print(f"{len(window)} {' '.join(f'{k}={v}' for k, v in sorted(methods.items()))}", flush=True)


# ---------------------------------------------------------------------------------------------
# Memory, CPU, start-up


def cmd_maxrss(args):
    rc = subprocess.run(args.cmd).returncode
    if rc != 0:
        die(f"{args.cmd[0]} exited {rc}")
    print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)


def http_status(host, port, path):
    try:
        with socket.create_connection((host, port), timeout=2) as s:
            s.sendall(f"GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
            head = s.recv(64).decode("latin-1")
        return int(head.split()[1]) if head.startswith("HTTP/") else 0
    except (OSError, ValueError, IndexError):
        return 0


def cmd_startup(args):
    m = re.match(r"http://([^:/]+):(\d+)(/.*)$", args.url)
    if not m:
        die(f"bad url {args.url}")
    host, port, path = m.group(1), int(m.group(2)), m.group(3)
    log = open(args.log, "ab")
    t0 = now()
    proc = subprocess.Popen(args.cmd, stdout=log, stderr=log)
    deadline = time.monotonic() + args.timeout
    while http_status(host, port, path) != 200:
        if proc.poll() is not None:
            die(f"{args.cmd[0]} exited {proc.returncode} before it was ready (log: {args.log})")
        if time.monotonic() > deadline:
            proc.kill()
            die(f"{args.cmd[0]} not ready within {args.timeout} s")
        time.sleep(0.01)
    secs = (now() - t0) / 1e9
    st = proc_status(proc.pid)
    proc.send_signal(signal.SIGTERM)
    try:
        rc = proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        die(f"{args.cmd[0]} did not stop within 60 s of SIGTERM")
    if rc != 0:
        die(f"{args.cmd[0]} exited {rc} after SIGTERM (log: {args.log})")
    print(f"{secs:.3f} {kib(st['VmHWM'])} {kib(st['RssAnon'])} {kib(st['RssFile'])} {kib(st['VmRSS'])}")


def cmd_cpu(args):
    ticks = switches = 0
    for pid in args.pids:
        t, s = cpu_ticks(pid)
        ticks += t
        switches += s
    print(ticks, switches)


def cmd_mem(args):
    st = proc_status(args.pid)
    print(kib(st["VmHWM"]), kib(st["RssAnon"]), kib(st["RssFile"]), kib(st["VmRSS"]))


# ---------------------------------------------------------------------------------------------
# Statistics


def percentile(values, p):
    """Nearest rank: the smallest value with at least p% of the values at or below it."""
    s = sorted(values)
    return s[max(0, math.ceil(p / 100 * len(s)) - 1)]


def median(values):
    s = sorted(values)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def cmd_stats(args):
    values = [float(x) for x in sys.stdin.read().split()]
    if not values:
        die("stats: no values")
    fn = {"p50": lambda v: percentile(v, 50), "p99": lambda v: percentile(v, 99), "median": median,
          "min": min, "max": max}[args.what]
    print(f"{fn(values):.6g}")


# ---------------------------------------------------------------------------------------------
# Report


def load_results(path):
    res = {}
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if "=" in line:
                k, v = line.split("=", 1)
                res[k] = v
    return res


def cmd_report(args):
    r = load_results(args.results)
    m = load_results(args.machine)
    rows = []

    def g(key):
        return r.get(key)

    def num(key):
        v = g(key)
        return float(v) if v not in (None, "") else None

    def verdict(value, ok):
        if value is None:
            return "not measured"
        return "met" if ok(value) else "missed"

    def fmt(v, spec, unit=""):
        return "—" if v is None else f"{format(v, spec)}{unit}"

    def mib(k):
        v = num(k)
        return None if v is None else v / 1024

    n_small, n_big, n_huge = r.get("n_small", "50"), r.get("n_big", "2000"), r.get("n_huge", "100000")

    # change -> durable
    loop_lat = f"{fmt(num('lat_loop_p50'), '.0f', ' ms')} / {fmt(num('lat_loop_p99'), '.0f', ' ms')}"
    p50, p99 = num("lat_d0_p50"), num("lat_d0_p99")
    rows.append((f"change → durable, p50 / p99: cfgsync `--debounce 0` ({int(n_small)} files, s3rver)",
                 "p50 < 20 ms", f"{fmt(p50, '.1f', ' ms')} / {fmt(p99, '.1f', ' ms')}", loop_lat,
                 verdict(p50, lambda v: v < 20)))
    rows.append(("… of which: change → the PUT reaches the server, p50 (the rest is the server's)", "—",
                 fmt(num("lat_d0_reached_p50"), ".1f", " ms"), fmt(num("lat_loop_reached_p50"), ".0f", " ms"),
                 "info"))
    p50, p99 = num("lat_def_p50"), num("lat_def_p99")
    rows.append(("change → durable, p50 / p99: cfgsync defaults (`--debounce 500ms`)", "—",
                 f"{fmt(p50, '.1f', ' ms')} / {fmt(p99, '.1f', ' ms')}", "(the same loop: row above)", "info"))
    b_c, b_l = num("burst_cfgsync"), num("burst_loop")
    rows.append(("burst: 3 files changed 1 s apart, durable 5 s after the last (cfgsync defaults)",
                 "3 of 3", fmt(b_c, ".0f", " of 3"), fmt(b_l, ".0f", " of 3"), verdict(b_c, lambda v: v == 3)))
    for n_key, n in (("small", n_small), ("big", n_big)):
        c, l = num(f"req_{n_key}_cfgsync"), num(f"req_{n_key}_loop")
        rows.append((f"HTTP requests per 1-file change, {int(n):,} files (moto's log)", "1",
                     fmt(c, ".0f"), fmt(l, ".0f"), verdict(c, lambda v: v <= 1)))
    rc_, rr, rcu = num("restore_cfgsync_s"), num("restore_rclone_s"), num("restore_curl_s")
    rows.append((f"restore {int(n_big):,} × 2 KB (s3rver): cfgsync / `rclone copy --transfers 4` / curl ×16",
                 "—", fmt(rc_, ".2f", " s"), f"rclone {fmt(rr, '.2f', ' s')}; curl {fmt(rcu, '.2f', ' s')}",
                 "info"))
    q1, q2 = num("restore_ratio_curl"), num("restore_ratio_rclone")
    n_rr = r.get("restore_rounds", "?")
    rows.append((f"restore time ratio cfgsync / curl (median of {n_rr} per-round ratios)", "≤ 1.15",
                 fmt(q1, ".3f", "×"), "—", verdict(q1, lambda v: v <= 1.15)))
    rows.append((f"… the same, against curl's listing of the prefix + curl's GETs (median of {n_rr} rounds;"
                 f" listing alone: {fmt(num('restore_list_s'), '.2f', ' s')})", "—",
                 fmt(num("restore_ratio_curl_listed"), ".3f", "×"), "—", "info"))
    rows.append((f"restore time ratio cfgsync / rclone (median of {n_rr} per-round ratios)", "< 1",
                 fmt(q2, ".3f", "×"), f"{fmt(None if q2 in (None, 0) else 1 / q2, '.2f', '×')} (rclone / cfgsync)",
                 verdict(q2, lambda v: v < 1)))
    r_hwm = mib("restore_cfgsync_hwm_kib")
    rows.append((f"peak RSS of `cfgsync restore`, {int(n_big):,} × 2 KB", "< 16 MiB", fmt(r_hwm, ".1f", " MiB"),
                 "—", verdict(r_hwm, lambda v: v < 16)))
    hwm = mib("rss_cfgsync_hwm")
    loop_total = mib("rss_loop_total")
    rows.append((f"peak RSS of the sidecar, {int(n_big):,} files", "< 8 MiB", fmt(hwm, ".1f", " MiB"),
                 f"{fmt(loop_total, '.1f', ' MiB')} (rclone sync {fmt(mib('rss_loop_rclone'), '.1f')}"
                 f" + inotifywait {fmt(mib('rss_loop_inotifywait'), '.1f')} + shell {fmt(mib('rss_loop_shell'), '.1f')})",
                 verdict(hwm, lambda v: v < 8)))
    rows.append(("cfgsync RSS at the end: RssAnon / RssFile (shared-library pages are RssFile)", "—",
                 f"{fmt(mib('rss_cfgsync_anon'), '.1f', ' MiB')} / {fmt(mib('rss_cfgsync_file'), '.1f', ' MiB')}",
                 "—", "info"))
    idle = r.get("idle_secs", "60")
    c_cpu, l_cpu = num("idle_cfgsync_cpu"), num("idle_loop_cpu")
    rows.append((f"CPU while idle for {idle} s (utime+stime; wake-ups)", "0 s",
                 f"{fmt(c_cpu, '.2f', ' s')} ({fmt(num('idle_cfgsync_wakeups'), '.0f')})",
                 f"{fmt(l_cpu, '.2f', ' s')} ({fmt(num('idle_loop_wakeups'), '.0f')})",
                 verdict(c_cpu, lambda v: v == 0)))
    if g("huge_skipped"):
        rows.append((f"{int(n_huge):,}-file tree", "—", "skipped", "—", "info"))
    else:
        rows.append((f"{int(n_huge):,}-file tree, local-directory remote: `watch` start → ready (backup in sync)",
                     "—", fmt(num("huge_ready_s"), ".2f", " s"), "— (no initial sync)", "info"))
        rows.append((f"{int(n_huge):,}-file tree: first backup, `cfgsync sync` to an empty remote", "—",
                     fmt(num("huge_first_sync_s"), ".1f", " s"), "—", "info"))
        rows.append((f"{int(n_huge):,}-file tree: peak RSS (at ~0 files)", "—",
                     f"{fmt(mib('huge_hwm'), '.1f', ' MiB')} ({fmt(mib('huge_base_hwm'), '.1f', ' MiB')})", "—", "info"))
        bpf = num("huge_bytes_per_file")
        rows.append(("memory per file = (peak RSS at N − peak RSS at ~0) / N", "< 300 B",
                     fmt(bpf, ".0f", " B"), "—", verdict(bpf, lambda v: v < 300)))

    out = []
    title = "quick run (reduced sizes, one round; figures indicative only)" if args.mode == "quick" else \
        f"full run (median of {r.get('rounds', '?')} rounds)"
    out.append(f"## cfgsync vs the rclone + inotifywait loop — {title}\n")
    out.append("| figure | target | cfgsync | rclone + inotifywait loop | cfgsync vs target |")
    out.append("|---|---|---|---|---|")
    for row in rows:
        out.append("| " + " | ".join(row) + " |")
    out.append("")
    out.append(f"Machine: {m.get('cpu', '?')}, {m.get('cores', '?')} cores, {m.get('ram', '?')} RAM, "
               f"kernel {m.get('kernel', '?')}, {m.get('os', '?')}; load average at start {m.get('load', '?')}.")
    out.append(f"Versions: cfgsync {m.get('cfgsync', '?')}; rclone {m.get('rclone', '?')}; "
               f"inotifywait {m.get('inotifywait', '?')}; s3rver {m.get('s3rver', '?')} (Node {m.get('node', '?')}); "
               f"moto {m.get('moto', '?')}; curl {m.get('curl', '?')}.")
    out.append(f"Date: {m.get('date', '?')}; duration {r.get('duration_s', '?')} s; "
               f"samples: {r.get('lat_samples', '?')} rewrites per cfgsync latency figure "
               f"({r.get('lat_loop_samples', '?')} for the loop), {r.get('rounds', '?')} round(s) otherwise.")
    if r.get("failed"):
        out.append("")
        out.append(f"**Incomplete run**, stopped at: {r['failed']} (the figures from there on were not taken).")
    print("\n".join(out))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="sub", required=True)

    s = sub.add_parser("tree")
    s.add_argument("dir")
    s.add_argument("count", type=int)
    s.add_argument("size", type=int)
    s.set_defaults(fn=cmd_tree)

    s = sub.add_parser("changes")
    s.add_argument("mode", choices=["latency", "burst"])
    s.add_argument("--log", required=True, help="bench/s3rver.js request log")
    s.add_argument("--target", action="append", required=True)
    s.add_argument("--out-dir", required=True)
    s.add_argument("--file", help="latency: the file rewritten (relative to each target's dir)")
    s.add_argument("--rewrites", type=int, default=30)
    s.add_argument("--files", default="d000/f000001.conf,d000/f000002.conf,d000/f000003.conf")
    s.add_argument("--spacing", type=float, default=1.0)
    s.add_argument("--window", type=float, default=5.0)
    s.add_argument("--gap", type=float, default=0.3)
    s.add_argument("--timeout", type=float, default=120)
    s.set_defaults(fn=cmd_changes)

    s = sub.add_parser("requests")
    s.add_argument("--log", required=True, help="moto_server's log")
    s.add_argument("--target", required=True)
    s.add_argument("--file", required=True)
    s.add_argument("--rounds", type=int, default=3)
    s.add_argument("--quiet", type=float, default=1.5)
    s.add_argument("--gap", type=float, default=0.3)
    s.add_argument("--timeout", type=float, default=180)
    s.set_defaults(fn=cmd_requests)

    s = sub.add_parser("maxrss")
    s.add_argument("cmd", nargs=argparse.REMAINDER)
    s.set_defaults(fn=cmd_maxrss)

    s = sub.add_parser("startup")
    s.add_argument("--url", required=True)
    s.add_argument("--log", required=True)
    s.add_argument("--timeout", type=float, default=600)
    s.add_argument("cmd", nargs=argparse.REMAINDER)
    s.set_defaults(fn=cmd_startup)

    s = sub.add_parser("cpu")
    s.add_argument("pids", type=int, nargs="+")
    s.set_defaults(fn=cmd_cpu)

    s = sub.add_parser("mem")
    s.add_argument("pid", type=int)
    s.set_defaults(fn=cmd_mem)

    s = sub.add_parser("stats")
    s.add_argument("what", choices=["p50", "p99", "median", "min", "max"])
    s.set_defaults(fn=cmd_stats)

    s = sub.add_parser("report")
    s.add_argument("--results", required=True)
    s.add_argument("--machine", required=True)
    s.add_argument("--mode", choices=["quick", "full"], required=True)
    s.set_defaults(fn=cmd_report)

    args = p.parse_args()
    if isinstance(getattr(args, "cmd", None), list):
        if args.cmd and args.cmd[0] == "--":
            args.cmd = args.cmd[1:]
        if not args.cmd:
            die("missing command")
    args.fn(args)


if __name__ == "__main__":
    main()
