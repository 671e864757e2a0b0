#!/usr/bin/env python3
"""Writes bench/results/RESULTS.md and the PNG charts from one bench.sh run.

    bench/report/report.py [--results bench/results] [--no-charts]

Reads, from the results folder, whatever the run produced:
  parts.tsv     one line per part: name, status (ok|skipped|failed), seconds,
                command, note (written by scripts/bench.sh)
  run.json      mode, git commit, load averages, start and end time
  echo.json     medians and ratios from bench/echo/run.py (echo_runs.csv: every run)
  echo-profile.json  perf stack splits of echo servers (bench/echo/profile.sh --json)
  micro.json    Google Benchmark JSON from bench/micro
  fs.txt        stdout of scripts/fs_bench.sh (a markdown table)
  http.txt      stdout of scripts/http_bench.sh
  http-load.txt stdout of LOADGEN=http_load scripts/http_bench.sh
  http-pipelined.txt  stdout of PIPELINE=4 scripts/http_bench.sh
  https.txt     stdout of scripts/https_bench.sh
  multi.txt     stdout of the multi-loop benchmark
and bench/report/notes.md (the analysis written by hand), which is appended.
Prints the tables (RESULTS.md without the notes) on stdout.
Python 3 standard library only; charts need gnuplot.
"""
import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ORDER = ["corio-uring", "corio-epoll", "uring-c", "epoll-c", "asio"]
SHORT = {"corio-uring": "corio io_uring", "corio-epoll": "corio epoll",
         "uring-c": "liburing C", "epoll-c": "epoll C", "asio": "Boost.Asio"}
CORE = ["pp-64-50", "pp-64-500"]  # the configs the issue's targets name
# Issue 16's four io_uring echo servers (bench/echo/run.py's names), in table order.
ISSUE16 = {"corio-uring": "corio io_uring", "corio-uring-plain": "corio before",
           "uring-c-nofixed": "plain liburing C", "uring-c-ms": "same-features liburing C"}
PLAIN_BOUND = 0.90  # issue 16: at most this share of the plain peer's CPU per message


def num(x):
    return isinstance(x, (int, float)) and x == x


def f(x, nd=2, suffix=""):
    return ("%.*f" % (nd, x)) + suffix if num(x) else "-"


def thousands(x):
    return "{:,.0f}".format(x) if num(x) else "-"


def read(path):
    try:
        with open(path) as fh:
            return fh.read()
    except OSError:
        return None


def machine():
    model = "unknown"
    for line in (read("/proc/cpuinfo") or "").splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    mem = ""
    for line in (read("/proc/meminfo") or "").splitlines():
        if line.startswith("MemTotal"):
            mem = "%.0f GiB" % (int(line.split()[1]) / 1024 / 1024)
    return {"nproc": os.cpu_count(), "cpu": model, "kernel": platform.release(),
            "memory": mem, "os": (read("/etc/debian_version") or "").strip()}


def config_title(e):
    s = "%s %s B, %d conn%s" % (e["mode"], e["size"], e["conns"], "" if e["conns"] == 1 else "s")
    if e["pipeline"] > 1:
        s += " x%d" % e["pipeline"]
    return s


def verdict(ratio, need):
    if not num(ratio):
        return "no data"
    if ratio >= need:
        return "**met**"
    return "**missed by %.1f%%**" % ((need - ratio) / need * 100)


class Report:
    def __init__(self, res):
        self.res = res
        self.md = []
        self.targets = []  # (target, measured, verdict)
        self.parts = {}
        for line in (read(os.path.join(res, "parts.tsv")) or "").splitlines():
            cols = line.split("\t") + [""] * 5
            self.parts[cols[0]] = {"status": cols[1], "secs": cols[2], "cmd": cols[3],
                                   "note": cols[4]}
        self.run = json.loads(read(os.path.join(res, "run.json")) or "{}")
        self.echo_summary = None  # echo.json's per-config summary, once echo() read it

    def w(self, *lines):
        self.md.extend(lines)

    def part_missing(self, name, title):
        p = self.parts.get(name)
        if p and p["status"] == "ok":
            return False
        if p:
            self.w("*%s: %s.* %s" % (title, p["status"], p["note"]), "")
        else:
            self.w("*%s: not run.*" % title, "")
        return True

    def part_json(self, name, title, filename):
        """The part's JSON result, or None (saying so when the part did not run)."""
        data = read(os.path.join(self.res, filename))
        if self.part_missing(name, title) and not data:
            return None
        return json.loads(data) if data else None

    # ---- echo -------------------------------------------------------------
    def echo(self):
        self.w("## Echo: corio against the peers", "")
        data = read(os.path.join(self.res, "echo.json"))
        if self.part_missing("echo", "Echo") and not data:
            return
        if not data:
            self.w("*Echo: no echo.json.*", "")
            return
        d = json.loads(data)
        meta, summ = d["meta"], d["summary"]
        self.echo_summary = summ
        servers = [s for s in ORDER if s in meta["servers"]]
        self.w(
            "Each row: the median of %d runs of %g s%s. Runs are interleaved: every "
            "repetition runs every config on every server in turn (rotating which server "
            "goes first), so a change in the machine's load hits all servers alike. "
            "Server pinned to CPU %d, load generator (`echo_bench`, %d loop, %s backend) "
            "to CPU %d; both in sessions of their own with autogroup nice %d, so that "
            "other work on a shared machine rarely takes their cores. Every server gets the "
            "same receive buffer (4 KiB; 64 KiB for 4 KiB messages pipelined 16 deep, where "
            "16 messages wait in the socket at once)." % (
                meta["reps"], meta["duration_s"],
                " (%d for 64 B ping-pong with 50 and 500 connections, the configs the targets "
                "name)" % meta["core_reps"] if meta.get("core_reps", meta["reps"]) != meta["reps"]
                else "", meta["server_cpu"], meta["client_loops"],
                meta["client_backend"], meta["client_cpu"], meta.get("nice", 0)),
            "",
            "**CPU µs/msg** is the primary metric: the server's on-CPU time (user + "
            "system, summed over its threads from `/proc/PID/task/*/schedstat`) over the "
            "run, divided by the messages echoed. Lower is better. On 2 cores the single "
            "load generator saturates before a good server does, so msgs/s mostly measures "
            "the client; **util** (CPU seconds per wall second, of the server and of the "
            "load generator) shows which side was busy.", "")
        if meta.get("failed_runs"):
            self.w("%d run(s) failed and are left out of the medians; see echo_runs.csv." %
                   meta["failed_runs"], "")

        def table(title, key, fmtf):
            self.w("**%s**" % title, "", "| config | " + " | ".join(SHORT[s] for s in servers) + " |",
                   "|---|" + "---:|" * len(servers))
            for e in summ:
                self.w("| %s | %s |" % (config_title(e), " | ".join(
                    fmtf(e["servers"][s], key) for s in servers)))
            self.w("")

        table("Server CPU per message, µs (lower is better)", "cpu_us_per_msg",
              lambda v, k: f(v[k], 3))
        table("Messages per second (all connections; mostly the load generator's limit)",
              "msgs_per_sec", lambda v, k: thousands(v[k]))
        table("Util, server / load generator (CPU seconds per second; 1.00 = a full core)",
              "server_util", lambda v, k: "%s / %s" % (f(v[k], 2), f(v.get("client_util"), 2)))
        table("Latency p50 / p99, µs", "p50_us",
              lambda v, k: "%s / %s" % (f(v["p50_us"], 0), f(v["p99_us"], 0)))

        ratio_keys = [k for k in ("corio-uring/uring-c", "corio-epoll/epoll-c",
                                  "corio-uring/asio", "corio-uring/corio-epoll")
                      if any(k in e["ratios"] for e in summ)]
        labels = {"corio-uring/uring-c": "io_uring / liburing C",
                  "corio-epoll/epoll-c": "epoll / epoll C",
                  "corio-uring/asio": "io_uring / Asio",
                  "corio-uring/corio-epoll": "io_uring / epoll"}
        self.w("**Ratios, oriented so that ≥ 1.00 means corio is as good or better.** "
               "CPU: the peer's CPU µs/msg divided by corio's, from the medians (in brackets "
               "the lowest and highest of the per-repetition ratios, each from two runs "
               "seconds apart). msgs/s: corio's rate divided by the peer's.", "",
               "| config | " + " | ".join("%s CPU | msgs/s" % labels[k] for k in ratio_keys) + " |",
               "|---|" + "---:|---:|" * len(ratio_keys))
        for e in summ:
            cells = []
            for k in ratio_keys:
                r = e["ratios"].get(k)
                if not r:
                    cells += ["-", "-"]
                    continue
                cells.append("%s (%s–%s)" % (f(r["cpu"]), f(r["cpu_paired_min"]),
                                             f(r["cpu_paired_max"])))
                cells.append(f(r["msgs"]))
            self.w("| %s | %s |" % (config_title(e), " | ".join(cells)))
        self.w("")

        by_id = {e["config"]: e for e in summ}
        for cid in CORE:
            e = by_id.get(cid)
            if not e:
                continue
            for k, need, name in (("corio-uring/uring-c", 0.95, "corio io_uring ≥ 0.95x liburing C"),
                                  ("corio-epoll/epoll-c", 0.95, "corio epoll ≥ 0.95x epoll C"),
                                  ("corio-uring/asio", 1.0, "corio io_uring ahead of Asio")):
                r = e["ratios"].get(k)
                if not r:
                    self.targets.append(("%s, %s" % (name, config_title(e)), "peer not run",
                                         "not evaluated"))
                    continue
                v = verdict(r["cpu"], need)
                if k == "corio-uring/asio" and num(r["cpu"]) and r["cpu"] >= 1.0:
                    v = "**met** (%.0f%% less CPU)" % ((1 - 1 / r["cpu"]) * 100)
                lo, hi = r["cpu_paired_min"], r["cpu_paired_max"]
                if num(lo) and num(hi) and lo < need <= hi:
                    v += "; the per-repetition range crosses %.2f" % need
                self.targets.append((
                    "%s, %s" % (name, config_title(e)),
                    "CPU %s (%s–%s), msgs/s %s" % (f(r["cpu"]), f(r["cpu_paired_min"]),
                                                   f(r["cpu_paired_max"]), f(r["msgs"])), v))
        asio = [e["ratios"]["corio-uring/asio"]["cpu"] for e in summ
                if "corio-uring/asio" in e["ratios"] and num(e["ratios"]["corio-uring/asio"]["cpu"])]
        if len(asio) > len(CORE):
            ahead = sum(1 for x in asio if x > 1.0)
            self.targets.append(("corio io_uring ahead of Asio, every echo config",
                                 "ahead in %d of %d (CPU ratios %s to %s)" % (
                                     ahead, len(asio), f(min(asio)), f(max(asio))),
                                 "**met**" if ahead == len(asio) else "**missed in %d**" % (len(asio) - ahead)))
        self.w("Exact commands. B is the buffer size above; PORT comes from the server's ready "
               "line; --conns, --size and --pipeline follow the config. Each process is started "
               "in a session of its own (`setsid`) whose autogroup nice is set to %d "
               "(`echo %d > /proc/self/autogroup`) before the command runs:" % (
                   meta.get("nice", 0), meta.get("nice", 0)), "", "```")
        for s in servers + ["client"]:
            if s in meta["commands"]:
                self.w(meta["commands"][s])
        self.w("```", "")
        if meta.get("features"):
            self.w("What each server reported on stderr:", "", "```")
            for s in servers:
                if s in meta["features"]:
                    self.w("%s: %s" % (s, meta["features"][s]))
            self.w("```", "")
        self.w("![server CPU per message relative to the liburing peer](echo_cpu.png)", "",
               "![server CPU per message](echo_cpu_abs.png)", "",
               "![messages per second](echo_msgs.png)", "")
        self.echo_summ = summ
        self.echo_servers = servers

    # ---- micro ------------------------------------------------------------
    def micro(self):
        self.w("## Micro benchmarks (bench/micro)", "")
        d = self.part_json("micro", "Micro benchmarks", "micro.json")
        if d is None:
            return
        rows = {}
        for b in d.get("benchmarks", []):
            if b.get("aggregate_name") != "median":
                continue
            name = b.get("run_name", b["name"])
            rows[name] = b
        self.w("Google Benchmark, median of %s repetitions, pinned to one core. "
               "CPU time is the figure to read on a shared machine." %
               (next(iter(rows.values()), {}).get("repetitions", "?")), "",
               "| benchmark | label | real ns | CPU ns | items/s |", "|---|---|---:|---:|---:|")
        for name, b in rows.items():
            unit = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}[b.get("time_unit", "ns")]
            ips = b.get("items_per_second")
            self.w("| %s | %s | %s | %s | %s |" % (
                name, b.get("label", ""), f(b["real_time"] * unit, 1), f(b["cpu_time"] * unit, 1),
                thousands(ips) if ips else ""))
        self.w("")
        corio = rows.get("corio nop round trip/0")
        raw = rows.get("raw liburing nop round trip")
        if corio and raw:
            r = corio["cpu_time"] / raw["cpu_time"]
            self.w("**nop round trip, corio io_uring / raw liburing (CPU time): %.2fx** "
                   "(1.00 = as fast as the hand-written loop; higher is slower; corio "
                   "spends %+.0f ns per round trip)." % (
                       r, (corio["cpu_time"] - raw["cpu_time"])), "")
            self.micro_ratio = r

    # ---- files ------------------------------------------------------------
    def files(self):
        self.w("## Files: random 4 KiB reads of a page-cached file (scripts/fs_bench.sh)", "")
        text = read(os.path.join(self.res, "fs.txt"))
        if self.part_missing("fs", "Files") and not text:
            return
        if not text:
            return
        self.w(text.strip(), "")
        rows = {}
        for line in text.splitlines():
            m = re.match(r"\|\s*(\d+)\s*\|\s*([^|]+?)\s*\|\s*([\d,]+)\s*\|\s*([\d.]+)x\s*\|\s*([\d.]+)x", line)
            if m:
                rows[(int(m.group(1)), m.group(2))] = (float(m.group(3).replace(",", "")),
                                                        float(m.group(4)), float(m.group(5)))
        for depth in (1, 32):
            r = rows.get((depth, "corio io_uring"))
            if r:
                self.targets.append((
                    "files ≥ 0.9x fio, queue depth %d (corio io_uring vs fio io_uring)" % depth,
                    "%sx (vs fio tuned: %sx)" % (f(r[1]), f(r[2])), verdict(r[1], 0.9)))
            r = rows.get((depth, "corio io_uring, no fast path"))
            if r:
                self.targets.append((
                    "files ≥ 0.9x fio, queue depth %d (corio io_uring without the page-cache "
                    "fast path: every read through the ring)" % depth,
                    "%sx (vs fio tuned: %sx)" % (f(r[1]), f(r[2])), verdict(r[1], 0.9)))
            r = rows.get((depth, "corio epoll"))
            if r:
                self.targets.append((
                    "files ≥ 0.9x fio, queue depth %d (corio epoll vs fio io_uring)" % depth,
                    "%sx" % f(r[1]), verdict(r[1], 0.9)))
        # Issue 16: the default beats fio tuned at depth 32 and plain pread at depth 1.
        r = rows.get((32, "corio io_uring"))
        if r:
            self.targets.append((
                "files ≥ 1.0x fio tuned (fixedbufs + registerfiles + batching), queue depth 32 "
                "(corio io_uring, default configuration; issue 16)", "%sx" % f(r[2]), verdict(r[2], 1.0)))
        r, p = rows.get((1, "corio io_uring")), rows.get((1, "fio psync (plain pread)"))
        if r and p and p[0] > 0:
            ratio = r[0] / p[0]
            self.targets.append((
                "files ≥ 1.0x fio psync, queue depth 1 (corio io_uring, default configuration; issue 16)",
                "%sx" % f(ratio), verdict(ratio, 1.0)))

    # ---- http targets (issue 17) -------------------------------------------
    def http_targets(self):
        """Issue 17's HTTP targets, from the paired per-round ratios that
        scripts/http_bench.sh prints for corio io_uring."""
        pat = (r"paired per round, corio_io_uring: req/s vs nginx ([\d.]+) \[([\d.]+)-([\d.]+)\], "
               r"vs h2o ([\d.]+) \[([\d.]+)-([\d.]+)\]; CPU per request nginx/corio ([\d.]+) "
               r"\[[\d.]+-[\d.]+\], h2o/corio ([\d.]+) \[([\d.]+)-([\d.]+)\]")
        for fname, mode in (("http.txt", "keep-alive"),
                            ("http-load.txt", "keep-alive, driven by http_load"),
                            ("http-pipelined.txt", "4 requests pipelined per connection")):
            m = re.search(pat, read(os.path.join(self.res, fname)) or "")
            if not m:
                continue
            g = [float(x) for x in m.groups()]
            self.targets.append((
                "HTTP %s: http_server io_uring ≥ 1.5x nginx (one worker) requests/s "
                "(median of the per-round ratios; issue 17)" % mode,
                "%s (%s–%s); CPU per request %sx less" % (f(g[0]), f(g[1]), f(g[2]), f(g[6])),
                verdict(g[0], 1.5)))
            self.targets.append((
                "HTTP %s: http_server io_uring beats h2o (one thread) per core: CPU per request "
                "h2o ÷ corio ≥ 1.00 (issue 17)" % mode,
                "%s (%s–%s); requests/s %sx" % (f(g[7]), f(g[8]), f(g[9]), f(g[3])),
                verdict(g[7], 1.0)))

    def verbatim(self, part, title, fname, short):
        self.w("## %s" % title, "")
        text = read(os.path.join(self.res, fname))
        if self.part_missing(part, short) and not text:
            return
        if text:
            if any(l.startswith("|") for l in text.splitlines()):
                self.w(text.strip(), "")  # already a markdown table
            else:
                self.w("```", text.strip(), "```", "")

    # ---- multi-loop -------------------------------------------------------
    def multi(self):
        """bench/multi/multi_bench, run 3 times: the median of each line's numbers."""
        self.w("## Multi-loop: cross-loop messages and 1 → 2 loop scaling (bench/multi)", "")
        text = read(os.path.join(self.res, "multi.txt"))
        if self.part_missing("multi", "Multi-loop") and not text:
            return
        if not text:
            return
        thr, rt, sc = {}, {}, []
        for line in text.splitlines():
            m = re.match(r"throughput\s+(\S+)\s+([\d.]+) M msg/s.*?([\d.]+) msgs each", line)
            if m:
                thr.setdefault(m.group(1), []).append((float(m.group(2)), float(m.group(3))))
                continue
            m = re.match(r"round-trip\s+(\S+)\s+mean\s+([\d.]+) us\s+p50\s+([\d.]+)\s+p99\s+([\d.]+)", line)
            if m:
                rt.setdefault(m.group(1), []).append(tuple(float(m.group(i)) for i in (2, 3, 4)))
                continue
            m = re.match(r"scaling.*?(\d+) us/request: 1 loop\s+([\d.]+) req/s, 2 loops\s+([\d.]+)"
                         r" req/s, speed-up ([\d.]+)x", line)
            if m:
                sc.append(tuple(float(m.group(i)) for i in (1, 2, 3, 4)))
        med = statistics.median
        if not (thr or rt or sc):
            self.w("```", text.strip(), "```", "")
            return
        runs = max([len(v) for v in list(thr.values()) + list(rt.values())] + [len(sc)])
        self.w("`multi_bench --pin` (loops pinned to CPUs 0 and 1), median of %d runs." % runs, "")
        if thr:
            self.w("| cross-loop channel, 2 loops | M msgs/s | msgs per wake-up |", "|---|---:|---:|")
            for k, v in thr.items():
                self.w("| %s | %s | %s |" % (k, f(med([x[0] for x in v])), f(med([x[1] for x in v]), 1)))
            self.w("")
        if rt:
            self.w("| round trip between 2 loops | mean µs | p50 µs | p99 µs |", "|---|---:|---:|---:|")
            for k, v in rt.items():
                self.w("| %s | %s | %s | %s |" % (k, f(med([x[0] for x in v])), f(med([x[1] for x in v])),
                                                 f(med([x[2] for x in v]))))
            self.w("")
        if sc:
            self.w("| CPU-bound handler | 1 loop req/s | 2 loops req/s | speed-up |", "|---|---:|---:|---:|",
                   "| %.0f µs/request | %s | %s | %sx |" % (
                       sc[0][0], thousands(med([x[1] for x in sc])), thousands(med([x[2] for x in sc])),
                       f(med([x[3] for x in sc]))), "")
        self.w("<details><summary>raw output</summary>", "", "```", text.strip(), "```", "",
               "</details>", "")

    # ---- charts -----------------------------------------------------------
    def charts(self):
        if not getattr(self, "echo_summ", None) or not shutil.which("gnuplot"):
            return []
        servers = self.echo_servers
        header = "config " + " ".join('"%s"' % SHORT[s] for s in servers) + "\n"

        def label(e):
            return "%s/%dB/%dc" % ("pp" if e["pipeline"] == 1 else "pl%d" % e["pipeline"],
                                   e["size"], e["conns"])

        def write(name, value):
            path = os.path.join(self.res, name)
            with open(path, "w") as fh:
                fh.write(header)
                for e in self.echo_summ:
                    fh.write('"%s" %s\n' % (label(e), " ".join(value(e, s) for s in servers)))
            return path

        ref = "uring-c" if "uring-c" in servers else servers[0]

        def rel(e, s):
            a, b = e["servers"][s]["cpu_us_per_msg"], e["servers"][ref]["cpu_us_per_msg"]
            return f(a / b, 4) if num(a) and num(b) and b else "-"

        charts = [
            (write("echo_cpu_rel.dat", rel), "ratio.gp", "echo_cpu.png",
             "server CPU per message, %s = 1 (lower is better)" % SHORT[ref],
             "Echo: server CPU per message relative to %s (median of runs)" % SHORT[ref]),
            (write("echo_cpu.dat", lambda e, s: f(e["servers"][s]["cpu_us_per_msg"], 4)),
             "bars.gp", "echo_cpu_abs.png", "server CPU µs per message (lower is better)",
             "Echo: server CPU per message"),
            (write("echo_msgs.dat", lambda e, s: f(e["servers"][s]["msgs_per_sec"] / 1000, 2)),
             "bars.gp", "echo_msgs.png", "thousand messages per second",
             "Echo: messages per second (bound by the load generator)"),
        ]
        made = []
        for data, gp, png, ylabel, title in charts:
            out = os.path.join(self.res, png)
            cmd = ["gnuplot", "-e", "datafile='%s'; outfile='%s'; ylabel='%s'; title='%s'; ncols=%d"
                   % (data, out, ylabel, title, len(servers)), os.path.join(HERE, gp)]
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
            if p.returncode == 0:
                made.append(png)
            else:
                print("report: gnuplot failed: %s" % p.stderr.strip()[-300:], file=sys.stderr)
        return made

    # ---- issue 16: multishot receive and registered descriptors -------------
    def issue16(self):
        summ = self.echo_summary
        if not summ:
            return
        keys = [("corio-uring/corio-uring-plain", "after / before", None),
                ("corio-uring/uring-c-nofixed", "vs plain liburing C", 1 / PLAIN_BOUND),
                ("corio-uring/uring-c-ms", "vs same-features liburing C", 1.0)]
        keys = [k for k in keys if any(k[0] in e["ratios"] for e in summ)]
        if not keys:
            return
        self.w("## Issue 16: multishot receive and registered descriptors, against the two "
               "liburing peers", "",
               "Same runs as the echo tables. *corio io_uring* is echo_server's default "
               "(multishot receive into a buffer ring, registered descriptors); *corio before* "
               "is the same program with `--no-multishot --no-fixed-files`. *plain liburing C* "
               "is `PEER_URING_NO_FIXED_FILES=1 peer_uring_echo` (one-shot recv and send, "
               "ordinary descriptors); *same-features liburing C* is "
               "`PEER_URING_MULTISHOT_RECV=1 peer_uring_echo` (multishot accept into the "
               "registered table, multishot recv into a buffer ring, every op on the fixed "
               "file). The issue asks for at most 0.90x the plain peer's CPU per message "
               "(a ratio ≥ 1.11 below) and at most 1.00x the same-features peer's (≥ 1.00). "
               "Ratios: the other's CPU µs/msg divided by corio io_uring's (in brackets the "
               "per-repetition range).", "",
               "| config | " + " | ".join("%s µs/msg" % v for v in ISSUE16.values()) + " | " +
               " | ".join(k[1] for k in keys) + " |",
               "|---|" + "---:|" * (len(ISSUE16) + len(keys)))
        met = {k[0]: [0, 0] for k in keys}
        for e in summ:
            cells = [f(e["servers"].get(c, {}).get("cpu_us_per_msg"), 3) for c in ISSUE16]
            for k, _, need in keys:
                r = e["ratios"].get(k)
                if not r:
                    cells.append("-")
                    continue
                cell = "%s (%s–%s)" % (f(r["cpu"]), f(r["cpu_paired_min"]), f(r["cpu_paired_max"]))
                if need is not None and num(r["cpu"]) and e["conns"] >= 50:
                    met[k][1] += 1
                    if r["cpu"] >= need - 1e-9:
                        met[k][0] += 1
                        cell = "**%s**" % cell
                cells.append(cell)
            self.w("| %s | %s |" % (config_title(e), " | ".join(cells)))
        self.w("", "Bold: the issue's bound holds in that row. The issue names 50 and 500 "
               "connections; the 1-connection rows are shown, not counted.", "")
        for k, label, need in keys:
            if need is None or not met[k][1]:
                continue
            ok, n = met[k]
            ratios = [e["ratios"][k]["cpu"] for e in summ if k in e["ratios"] and e["conns"] >= 50]
            self.targets.append((
                "corio io_uring ≤ %.2fx the %s peer's CPU per message; 64 B and 4 KiB, 50 and "
                "500 conns, ping-pong and pipelined (issue 16)" % (1 / need, label.replace("vs ", "")),
                "within the bound in %d of %d (ratios %s to %s; ≥ %.2f needed)" % (
                    ok, n, f(min(ratios)), f(max(ratios)), need),
                "**met**" if ok == n else "**missed in %d**; why: see \"Where the CPU goes\" "
                "below" % (n - ok)))
        self.profile_floor(summ)

    def profile_floor(self, summ):
        """The perf stack split of echo-profile.json and what it implies for any server."""
        runs = self.part_json("echo-profile", "Where the CPU goes (echo-profile)",
                              "echo-profile.json")
        if not runs:
            return
        by = {}  # (server, config id) -> shares
        for r in runs:
            server, conns, size, pipe = (r["label"].split() + ["64", "1"])[:4]
            cid = "%s-%s-%s" % ("pp" if pipe == "1" else "pl" + pipe, size, conns)
            by[(server, cid)] = r
        titles = {e["config"]: config_title(e) for e in summ}
        rows = list(runs[0]["shares"].keys())
        tcp = [k for k in rows if k.startswith("sending") or k.startswith("receiving")]
        self.w("### Where the CPU goes: the floor under any echo server", "",
               "`perf record -e cpu-clock -g` on the server during the echo configs below "
               "(`bench/echo/profile_all.sh --json FILE --duration 3 CONNS:SIZE:PIPELINE...`, "
               "which runs `bench/echo/profile.sh` for each server; same build, "
               "right after the echo runs), each sample put in one row by its whole call stack "
               "(`bench/echo/stacks.py`). *Sending* and *receiving* are the kernel's TCP work "
               "for the messages themselves: on loopback a send also delivers the segment into "
               "the client's socket on the server's CPU. In ping-pong (one receive and one send "
               "per message) it is the same kernel code per message whatever submits it, so a "
               "runtime cannot make it smaller; what each server's run measured of it still "
               "differs (below), and the least of those is taken as the floor.", "")
        names = ISSUE16
        order = [e["config"] for e in summ]
        for conns in sorted({c for _, c in by}, key=lambda c: order.index(c) if c in order else 99):
            present = [s for s in ISSUE16 if (s, conns) in by]
            self.w("**%s: share of samples**" % titles.get(conns, conns), "",
                   "| | " + " | ".join(names[s] for s in present) + " |",
                   "|---|" + "---:|" * len(present))
            for row in rows:
                self.w("| %s | %s |" % (row.strip(), " | ".join(
                    "%.1f%%" % (100 * by[(s, conns)]["shares"][row]) for s in present)))
            self.w("| samples | %s |" % " | ".join(str(by[(s, conns)]["samples"]) for s in present),
                   "")
            e = next((x for x in summ if x["config"] == conns), None)
            if not e:
                continue
            # CPU per message (the echo runs' medians) split by the profile's shares.
            split = {}
            for sname in present:
                cpu = e["servers"].get(sname, {}).get("cpu_us_per_msg")
                if num(cpu):
                    t = sum(by[(sname, conns)]["shares"][k] for k in tcp)
                    split[sname] = (t * cpu, (1 - t) * cpu, cpu)
            if "uring-c-nofixed" not in split or "corio-uring" not in split:
                continue
            self.w("| µs per message (echo medians x shares) | %s |" % " | ".join(
                names[sname] for sname in split), "|---|" + "---:|" * len(split),
                "| TCP work (sending + receiving) | %s |" % " | ".join(
                    "%.2f" % v[0] for v in split.values()),
                "| everything else | %s |" % " | ".join("%.2f" % v[1] for v in split.values()),
                "| total | %s |" % " | ".join("%.2f" % v[2] for v in split.values()), "")
            if "uring-c-ms" in split:
                cm, pm = split["corio-uring"][1], split["uring-c-ms"][1]
                self.w("Against the same-features peer: outside the TCP work corio io_uring "
                       "spends %.2f µs per message, the peer %.2f µs. %s" % (cm, pm, (
                           "The difference is the runtime's own cost per message (a type-erased "
                           "completion dispatch and a coroutine resumption per step where the C "
                           "peer runs a `switch`: the user-space row, and the notes at the end)."
                           if cm > pm else "corio spends no more there than the C peer.")), "")
            mine = split["corio-uring"][1]
            if e["pipeline"] > 1:
                # Receiving per message (the kernel's copy-out plus the per-call cost, which
                # falls as one receive carries more messages) as measured for each server.
                recv_k = [k for k in tcp if k.startswith("receiving")]
                recv = {k: sum(by[(k, conns)]["shares"][r] for r in recv_k) * v[2]
                        for k, v in split.items()}
                ratio = e["ratios"].get("corio-uring/uring-c-nofixed", {}).get("cpu")
                self.w(
                    "%s: pipelined, so the TCP work per message depends on how many messages "
                    "one receive or send carries, which each server's timing decides (a server "
                    "that answers sooner finds fewer messages waiting); it sets no common "
                    "floor. Receiving alone, per message: %s. The TCP work as a whole: %s; "
                    "everything else: %s.%s" % (
                        titles.get(conns, conns),
                        ", ".join("%s %.2f µs" % (names[k], v) for k, v in recv.items()),
                        ", ".join("%s %.2f µs" % (names[k], v[0]) for k, v in split.items()),
                        ", ".join("%s %.2f µs" % (names[k], v[1]) for k, v in split.items()),
                        (" The row misses the 0.90x bound (%.2f) %s." % (ratio, (
                            "in the TCP work: outside it corio spends no more than the plain "
                            "peer" if mine <= split["uring-c-nofixed"][1] else
                            "in the TCP work and in corio's own cost outside it"))
                         if num(ratio) and ratio < 1 / PLAIN_BOUND else "")), "")
                continue
            # Ping-pong: what 0.90x of the plain peer leaves beside the least TCP work measured.
            peer_cpu = split["uring-c-nofixed"][2]
            low_name, low = min(((names[k], v[0]) for k, v in split.items()), key=lambda x: x[1])
            budget = PLAIN_BOUND * peer_cpu - low
            c_rest = [split[k][1] for k in ("uring-c-nofixed", "uring-c-ms") if k in split]
            if budget <= 0:
                verdict_text = ("nothing is left: the bound is below the TCP work alone, out of "
                                "reach for any server in this run.")
            elif budget < min(c_rest):
                verdict_text = ("less than either hand-written C peer spends on it (%s µs): out "
                                "of reach by anything a runtime submits differently." %
                                " and ".join("%.2f" % x for x in c_rest))
            elif budget < mine:
                verdict_text = ("corio's %.2f µs would have to fall by %.0f%%; the C peers "
                                "spend %s µs." % (mine, 100 * (1 - budget / mine),
                                                  " and ".join("%.2f" % x for x in c_rest)))
            else:
                verdict_text = "corio's %.2f µs fits, so the bound is within reach here." % mine
                r = e["ratios"].get("corio-uring/uring-c-nofixed", {}).get("cpu")
                if num(r) and r < 1 / PLAIN_BOUND and split["corio-uring"][0] > low:
                    verdict_text += (" The row's ratio (%.2f) misses because corio's TCP work "
                                     "came out at %.2f µs in its runs, not in what corio "
                                     "submits." % (r, split["corio-uring"][0]))
            self.w(
                "%s (one receive and one send per message): 0.90x the plain peer is %.2f µs per "
                "message. With the least TCP work measured for any server here (%.2f µs, %s), "
                "that leaves %.2f µs for everything else: %s The TCP work of "
                "the same messages differs by up to %.0f%% between the servers' runs: "
                "run-to-run noise, and the caches and timing each server leaves the kernel "
                "(a faster turn changes how ACKs are batched)." % (
                    titles.get(conns, conns), PLAIN_BOUND * peer_cpu, low, low_name, max(budget, 0),
                    verdict_text,
                    100 * (max(v[0] for v in split.values()) / low - 1)), "")

    def build(self, charts):
        m = machine()
        run = self.run
        head = ["# corio benchmark results", ""]
        head.append("Written by `scripts/bench.sh%s` on %s, commit `%s`%s." % (
            " --quick" if run.get("quick") else "", run.get("date", "?"),
            run.get("commit", "?"), " (with uncommitted changes in the tree)" if run.get("dirty") else ""))
        head += ["", "| machine | |", "|---|---|",
                 "| CPUs (nproc) | %s |" % m["nproc"], "| CPU model | %s |" % m["cpu"],
                 "| kernel | %s |" % m["kernel"], "| memory | %s |" % m["memory"],
                 "| Debian | %s |" % m["os"],
                 "| load average at start / end | %s / %s |" % (run.get("load_start", "?"),
                                                              run.get("load_end", "?")),
                 "| build | `%s` (meson `-Dbuildtype=release`; peers at -O2) |" % run.get("build", "?"),
                 "| time taken | %s s |" % run.get("elapsed", "?"), ""]
        if run.get("busy"):
            head += ["**The machine was busy** (load average above the core count at the start): "
                     "other processes competed for the cores. The measured processes ran at a "
                     "raised priority, and CPU per message is far less sensitive to this than "
                     "msgs/s, but treat small differences with care.", ""]
        self.echo()
        self.issue16()
        self.micro()
        self.files()
        self.verbatim("http", "HTTP: wrk against http_server and nginx (scripts/http_bench.sh)",
                      "http.txt", "HTTP")
        self.verbatim("http-load", "HTTP: examples/http_load against the same servers "
                      "(LOADGEN=http_load scripts/http_bench.sh): the servers, not the client, "
                      "are the limit", "http-load.txt", "HTTP (http_load)")
        self.verbatim("http-pipelined", "HTTP, 4 requests pipelined per connection "
                      "(PIPELINE=4 scripts/http_bench.sh): the servers, not wrk, are the limit",
                      "http-pipelined.txt", "HTTP pipelined")
        self.verbatim("https", "HTTPS: wrk against http_server --cert/--key and nginx "
                      "(scripts/https_bench.sh)", "https.txt", "HTTPS")
        self.multi()
        self.http_targets()
        tgt = ["## Targets (issues 9, 16 and 17)", "",
               "Echo ratios use server CPU per message (peer ÷ corio, ≥ 1.00 = corio as good "
               "or better); the range is the lowest and highest per-repetition ratio.", "",
               "| target | measured | verdict |", "|---|---|---|"]
        for t in self.targets:
            tgt.append("| %s | %s | %s |" % t)
        if not self.targets:
            tgt.append("| (no part that the targets need was run) | | |")
        met = sum(1 for t in self.targets if t[2].startswith("**met"))
        missed = [t for t in self.targets if t[2].startswith("**missed")]
        tgt += ["", "%d of %d targets met%s." % (
            met, len(self.targets),
            "; missed: " + "; ".join("%s (%s)" % (t[0], t[2].replace("*", "")) for t in missed)
            if missed else ""), ""]
        parts = ["## Parts run", "", "| part | status | seconds | command | note |",
                 "|---|---|---:|---|---|"]
        for name, p in self.parts.items():
            parts.append("| %s | %s | %s | `%s` | %s |" % (
                name, p["status"], p["secs"], p["cmd"].replace("|", "\\|"), p["note"]))
        parts.append("")
        body = head + tgt + self.md + parts
        notes = read(os.path.join(HERE, "notes.md"))
        full = body + ([notes.strip(), ""] if notes else [])
        with open(os.path.join(self.res, "RESULTS.md"), "w") as fh:
            fh.write("\n".join(full) + "\n")
        return "\n".join(body)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--results", default="bench/results")
    ap.add_argument("--no-charts", action="store_true")
    args = ap.parse_args()
    rep = Report(args.results)
    text = rep.build([])
    if not args.no_charts:
        rep.charts()
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
