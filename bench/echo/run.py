#!/usr/bin/env python3
"""Echo macro benchmark: corio (io_uring, epoll) against the peers in bench/peers.

    bench/echo/run.py [--build build-bench] [--quick] [--reps 3] [--duration SECS]
                      [--out bench/results] [--only NAME,...] [--baseline DIR]
                      [--netns] [--name echo]

For every config (mode, message size, connections) every server runs once per
repetition; the servers are interleaved (A B C D E, then B C D E A, ...) and the
repetitions are the outer loop, so slow drifts of a shared machine's load hit
every server alike. The server is pinned to --server-cpu, the load generator
(examples/echo_bench) to --client-cpu.

Per run it records the load generator's msgs/s, p50, p99 and errors, and the
server's CPU time over the run: the sum of every server thread's on-CPU time
from /proc/PID/task/*/schedstat (nanoseconds; the same utime+stime the kernel
accounts, without the 10 ms tick granularity of /proc/PID/stat, which is
recorded too as a cross-check). CPU per message = that CPU time / messages,
messages = msgs/s x the load generator's wall time.

--netns (root): server and load generator talk over a veth pair between two
network namespaces made for the run (and removed after it), with each side's
receive processing steered to its own CPU (RPS), the way two hosts would
split it. Over loopback a send also runs the receiver's TCP receive on the
sender's CPU, so each server pays for the load generator's receives too (half
of its CPU in the profiles); between the namespaces it pays for its own.

Writes OUT/NAME_runs.csv (one row per run) and OUT/NAME.json (the medians,
ratios and the exact commands); NAME is echo unless --name says otherwise.
Prints the tables.
"""
import argparse
import csv
import json
import os
import resource
import select
import shutil
import signal
import statistics
import subprocess
import sys
import time

# name -> (path in the build dir, extra args, label)
SERVERS = {
    "corio-uring": ("examples/echo_server", ["--backend", "io_uring"], "corio io_uring"),
    "corio-uring-single": ("examples/echo_server", ["--backend", "io_uring", "--no-multishot"],
                           "corio io_uring, single-shot recv"),
    # Issue 16's "before": neither multishot receive nor registered descriptors.
    "corio-uring-plain": ("examples/echo_server",
                          ["--backend", "io_uring", "--no-multishot", "--no-fixed-files"],
                          "corio io_uring, one-shot recv, ordinary descriptors"),
    "corio-epoll": ("examples/echo_server", ["--backend", "epoll"], "corio epoll"),
    "uring-c": ("bench/peers/peer_uring_echo", [], "liburing C (peer)"),
    "epoll-c": ("bench/peers/peer_epoll_echo", [], "epoll C (peer)"),
    "asio": ("bench/peers/peer_asio_echo", [], "Boost.Asio (peer)"),
}
# Ablations for diagnosis (--servers ...), not in the default set.
SERVERS["uring-c-nofixed"] = ("bench/peers/peer_uring_echo", [], "liburing C, no fixed files")
# The same kernel features as corio's default echo_server: multishot recv
# into a provided-buffer ring, registered descriptors (issue 16's limit peer).
SERVERS["uring-c-ms"] = ("bench/peers/peer_uring_echo", [],
                         "liburing C, multishot recv + fixed files")
DEFAULT_SERVERS = list(SERVERS)
ENV = {"uring-c-nofixed": {"PEER_URING_NO_FIXED_FILES": "1"},
       "uring-c-ms": {"PEER_URING_MULTISHOT_RECV": "1"}}
# The configs the targets name: they get --core-reps repetitions.
CORE = ("pp-64-50", "pp-64-500")

# (corio server, peer, label): ratios in the report, all oriented so that
# >= 1.0 means corio is as good or better.
RATIOS = [
    ("corio-uring", "uring-c", "corio io_uring vs liburing C"),
    ("corio-uring", "uring-c-nofixed", "corio io_uring vs liburing C, no fixed files"),
    ("corio-uring", "uring-c-ms", "corio io_uring vs liburing C, same features"),
    ("corio-uring", "corio-uring-single", "corio multishot recv vs single-shot recv"),
    ("corio-uring", "corio-uring-plain",
     "corio io_uring vs itself without multishot recv and registered descriptors"),
    ("corio-epoll", "epoll-c", "corio epoll vs epoll C"),
    ("corio-uring", "asio", "corio io_uring vs Asio"),
    ("corio-uring", "corio-epoll", "corio io_uring vs corio epoll"),
    # --baseline DIR: the same echo_server built from another commit.
    ("corio-uring", "base-uring", "corio io_uring vs the baseline build"),
    ("corio-epoll", "base-epoll", "corio epoll vs the baseline build"),
]


def configs(quick):
    """(id, mode, size, conns, pipeline, buf_size) for each config."""
    out = []
    if quick:
        for conns in (50, 500):
            out.append(("pp-64-%d" % conns, "ping-pong", 64, conns, 1, 4096))
        return out
    for mode, pipe in (("ping-pong", 1), ("pipelined", 16)):
        for size in (64, 4096):
            for conns in (1, 50, 500):
                # 16 x 4 KiB in flight per connection: a 64 KiB receive buffer
                # lets every server take what is queued in one call.
                buf = 65536 if (pipe > 1 and size >= 4096) else 4096
                cid = "%s-%d-%d" % ("pp" if pipe == 1 else "pl%d" % pipe, size, conns)
                out.append((cid, mode, size, conns, pipe, buf))
    return out


def read_cpu(pid):
    """(schedstat ns summed over threads, utime+stime ticks) of a process."""
    ns = 0
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            try:
                with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                    ns += int(f.read().split()[0])
            except (FileNotFoundError, ProcessLookupError):
                pass  # a thread that just exited
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
    except (FileNotFoundError, ProcessLookupError):
        return None
    return ns, ticks


def parse_kv(line):
    out = {}
    for tok in line.split():
        if "=" in tok:
            k, v = tok.split("=", 1)
            try:
                out[k] = float(v)
            except ValueError:
                out[k] = v
    return out


def stop(proc, grace=5.0):
    """SIGTERM, then SIGKILL after `grace` seconds; returns the exit status."""
    if proc.poll() is not None:
        return proc.returncode
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return "killed"


class NetNs:
    """Two network namespaces joined by a veth pair: the server's at
    SERVER_ADDR, the load generator's at CLIENT_ADDR. Each side's receive
    processing runs on that side's CPU (RPS on its end of the pair)."""
    SERVER_ADDR = "10.231.0.1"
    CLIENT_ADDR = "10.231.0.2"

    def __init__(self, server_cpu, client_cpu):
        tag = os.getpid() % 100000
        self.server, self.client = "corio-echo-s%d" % tag, "corio-echo-c%d" % tag
        self.made = []
        s_if, c_if = "ces%d" % tag, "cec%d" % tag
        try:
            for ns in (self.server, self.client):
                self.ip("netns", "add", ns)
                self.made.append(ns)
            self.ip("link", "add", s_if, "type", "veth", "peer", "name", c_if)
            for ns, ifc, addr, cpu in ((self.server, s_if, self.SERVER_ADDR, server_cpu),
                                       (self.client, c_if, self.CLIENT_ADDR, client_cpu)):
                self.ip("link", "set", ifc, "netns", ns)
                self.ip("-n", ns, "addr", "add", addr + "/30", "dev", ifc)
                self.ip("-n", ns, "link", "set", ifc, "up")
                self.ip("-n", ns, "link", "set", "lo", "up")
                # sysfs shows a namespace's devices only from inside it.
                self.ip("netns", "exec", ns, "sh", "-c",
                        "echo %x > /sys/class/net/%s/queues/rx-0/rps_cpus" % (1 << cpu, ifc))
        except Exception:
            self.close()
            raise

    @staticmethod
    def ip(*argv):
        r = subprocess.run(["ip"] + list(argv), capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError("ip %s: %s" % (" ".join(argv), r.stderr.strip()))

    def prefix(self, side):
        return ["ip", "netns", "exec", self.server if side == "server" else self.client]

    def close(self):
        for ns in self.made:  # deleting a namespace deletes its end of the pair, and the pair
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        self.made = []


class Runner:
    def __init__(self, args):
        self.args = args
        self.build = args.build
        self.clk = os.sysconf("SC_CLK_TCK")
        self.live = []  # processes to stop on the way out
        # A raised priority keeps a busy machine's other work (compiles) off
        # the two measured processes' cores most of the time.
        self.nice = ["nice", "-n", str(args.nice)] if args.nice else []
        # `ip netns exec` execs the command (no fork): the pid stays the server's.
        self.netns = NetNs(args.server_cpu, args.client_cpu) if args.netns else None
        self.host = NetNs.SERVER_ADDR if self.netns else "127.0.0.1"

    def prefix(self, side):
        return self.netns.prefix(side) if self.netns else []

    def preexec(self):
        # With sched_autogroup_enabled, nice counts only inside a session's
        # group; a session of its own with its group's nice raised is what
        # gives the measured process its core on a shared machine.
        os.setsid()
        if self.args.nice:
            try:
                with open("/proc/self/autogroup", "w") as f:
                    f.write(str(self.args.nice))
            except OSError:
                pass

    def server_cmd(self, name, buf):
        path, extra, _ = SERVERS[name]
        return (self.prefix("server") + self.nice +
                ["taskset", "-c", str(self.args.server_cpu), os.path.join(self.build, path),
                 "--host", self.host, "--port", "0", "--buf-size", str(buf)] + extra)

    def client_cmd(self, port, size, conns, pipe, duration):
        return self.prefix("client") + self.nice + ["taskset", "-c", str(self.args.client_cpu),
                os.path.join(self.build, "examples/echo_bench"), "--host", self.host,
                "--port", str(port),
                "--conns", str(conns), "--size", str(size), "--duration", str(duration),
                "--pipeline", str(pipe), "--loops", str(self.args.client_loops),
                "--backend", self.args.client_backend]

    def start_server(self, name, buf):
        cmd = self.server_cmd(name, buf)
        errf = open(os.path.join(self.args.tmp, "server.err"), "w+")
        env = dict(os.environ, **ENV[name]) if name in ENV else None
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=errf, text=True,
                                preexec_fn=self.preexec, env=env)
        self.live.append(proc)
        ready = select.select([proc.stdout], [], [], 15)[0]
        line = proc.stdout.readline() if ready else ""
        if not line.startswith("listening "):
            stop(proc)
            self.live.remove(proc)
            errf.seek(0)
            raise RuntimeError("%s did not start: %s %s" % (name, line.strip(),
                                                            errf.read().strip()[-300:]))
        port = int(line.split()[1].rsplit(":", 1)[1])
        return proc, port, line.strip(), errf

    def run_one(self, name, cfg, duration):
        cid, mode, size, conns, pipe, buf = cfg
        proc, port, ready, errf = self.start_server(name, buf)
        row = {"config": cid, "mode": mode, "size": size, "conns": conns, "pipeline": pipe,
               "buf_size": buf, "server": name, "ready": ready}
        try:
            time.sleep(0.05)
            before = read_cpu(proc.pid)
            ccmd = self.client_cmd(port, size, conns, pipe, duration)
            ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.monotonic()
            client = subprocess.Popen(ccmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True, preexec_fn=self.preexec)
            self.live.append(client)
            try:
                out, err = client.communicate(timeout=duration + 60)
            except subprocess.TimeoutExpired:
                client.kill()
                out, err = client.communicate()
                err += " (load generator killed after %ss)" % (duration + 60)
            t1 = time.monotonic()
            ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            self.live.remove(client)
            after = read_cpu(proc.pid)
        finally:
            status = stop(proc)
            self.live.remove(proc)
        errf.seek(0)
        features = " ".join(l.strip() for l in errf.read().splitlines()[:3])
        errf.close()
        kv = parse_kv(out.strip().splitlines()[-1] if out.strip() else "")
        wall = t1 - t0
        rate = kv.get("msgs_per_sec", 0.0)
        msgs = rate * wall
        row.update({
            "msgs_per_sec": rate,
            "p50_us": kv.get("p50_us", float("nan")),
            "p99_us": kv.get("p99_us", float("nan")),
            "errors": int(kv.get("errors", -1)) if kv else -1,
            "client_status": client.returncode,
            "client_stderr": err.strip()[-300:],
            "wall_s": round(wall, 4),
            "server_status": status,
            "server_stderr": features,
            # The load generator is the only child reaped in the window.
            "client_util": (ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime) / wall,
        })
        if before and after and msgs > 0:
            cpu_ns = after[0] - before[0]
            ticks = after[1] - before[1]
            row["server_cpu_s"] = cpu_ns / 1e9
            row["server_cpu_tick_s"] = ticks / self.clk
            row["cpu_us_per_msg"] = cpu_ns / 1e3 / msgs
            row["cpu_tick_us_per_msg"] = ticks / self.clk * 1e6 / msgs
            row["server_util"] = cpu_ns / 1e9 / wall
        else:
            for k in ("server_cpu_s", "server_cpu_tick_s", "cpu_us_per_msg",
                      "cpu_tick_us_per_msg", "server_util"):
                row[k] = float("nan")
        row["client_cmd"] = " ".join(ccmd).replace(" --port %d " % port, " --port PORT ")
        row["server_cmd"] = " ".join(self.server_cmd(name, buf))
        return row

    def cleanup(self):
        for p in self.live:
            try:
                p.kill()
                p.wait(5)
            except Exception:
                pass
        if self.netns:
            self.netns.close()


def med(rows, key):
    vals = [r[key] for r in rows if isinstance(r.get(key), (int, float)) and r[key] == r[key]]
    return statistics.median(vals) if vals else float("nan")


def summarize(rows, cfgs, servers):
    """Medians per (config, server) and ratios per config."""
    summary = []
    for cfg in cfgs:
        cid = cfg[0]
        entry = {"config": cid, "mode": cfg[1], "size": cfg[2], "conns": cfg[3],
                 "pipeline": cfg[4], "buf_size": cfg[5], "servers": {}, "ratios": {}}
        for s in servers:
            rs = [r for r in rows if r["config"] == cid and r["server"] == s]
            ok = [r for r in rs if r["errors"] == 0 and r["msgs_per_sec"] > 0]
            entry["servers"][s] = {
                "runs": len(rs), "ok_runs": len(ok),
                "msgs_per_sec": med(ok, "msgs_per_sec"),
                "p50_us": med(ok, "p50_us"), "p99_us": med(ok, "p99_us"),
                "cpu_us_per_msg": med(ok, "cpu_us_per_msg"),
                "cpu_tick_us_per_msg": med(ok, "cpu_tick_us_per_msg"),
                "server_util": med(ok, "server_util"),
                "client_util": med(ok, "client_util"),
                "cpu_us_per_msg_all": [round(r["cpu_us_per_msg"], 4) for r in ok],
                "msgs_per_sec_all": [r["msgs_per_sec"] for r in ok],
            }
        for a, b, label in RATIOS:
            if a not in servers or b not in servers:
                continue
            sa, sb = entry["servers"][a], entry["servers"][b]
            # CPU: peer / corio (>= 1: corio spends no more CPU per message).
            cpu = sb["cpu_us_per_msg"] / sa["cpu_us_per_msg"] if sa["cpu_us_per_msg"] else float("nan")
            # Throughput: corio / peer (>= 1: corio echoes at least as many).
            thr = sa["msgs_per_sec"] / sb["msgs_per_sec"] if sb["msgs_per_sec"] else float("nan")
            # Paired per repetition (the two ran seconds apart): the spread.
            pa = {r["rep"]: r for r in rows if r["config"] == cid and r["server"] == a and r["errors"] == 0}
            pb = {r["rep"]: r for r in rows if r["config"] == cid and r["server"] == b and r["errors"] == 0}
            paired = sorted(pb[k]["cpu_us_per_msg"] / pa[k]["cpu_us_per_msg"]
                            for k in pa if k in pb and pa[k]["cpu_us_per_msg"] > 0)
            entry["ratios"][a + "/" + b] = {
                "label": label, "cpu": cpu, "msgs": thr,
                "cpu_paired_min": paired[0] if paired else float("nan"),
                "cpu_paired_max": paired[-1] if paired else float("nan"),
            }
        summary.append(entry)
    return summary


def fmt(x, nd=2):
    if not isinstance(x, (int, float)) or x != x:
        return "-"
    return "%.*f" % (nd, x)


def print_tables(summary, servers):
    for e in summary:
        print("\n%s, %d B, %d conns%s (buffer %d B)" % (
            e["mode"], e["size"], e["conns"],
            ", %d in flight" % e["pipeline"] if e["pipeline"] > 1 else "", e["buf_size"]))
        print("  %-20s %11s %9s %9s %11s %6s" % ("server", "msgs/s", "p50 us", "p99 us",
                                                 "cpu us/msg", "util"))
        for s in servers:
            v = e["servers"][s]
            print("  %-20s %11s %9s %9s %11s %6s" % (
                SERVERS[s][2], fmt(v["msgs_per_sec"], 0), fmt(v["p50_us"], 1),
                fmt(v["p99_us"], 1), fmt(v["cpu_us_per_msg"], 3), fmt(v["server_util"], 2)))
        for k, r in e["ratios"].items():
            print("  %-34s cpu %s (paired %s..%s)  msgs/s %s" % (
                r["label"], fmt(r["cpu"]), fmt(r["cpu_paired_min"]), fmt(r["cpu_paired_max"]),
                fmt(r["msgs"])))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build-bench")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--duration", type=float, default=None,
                    help="seconds per run (default 2, --quick 1)")
    ap.add_argument("--out", default="bench/results")
    ap.add_argument("--only", default="", help="comma-separated config ids")
    ap.add_argument("--core-reps", type=int, default=None,
                    help="repetitions of the 64 B ping-pong 50/500 configs (default: --reps, "
                    "5 in a full run)")
    ap.add_argument("--servers", default=",".join(DEFAULT_SERVERS))
    ap.add_argument("--baseline", default=None, metavar="DIR",
                    help="a build dir of another commit: adds servers base-uring and "
                         "base-epoll (its echo_server), for before/after comparisons")
    ap.add_argument("--server-cpu", type=int, default=0)
    ap.add_argument("--client-cpu", type=int, default=1)
    ap.add_argument("--client-loops", type=int, default=1)
    ap.add_argument("--client-backend", default="io_uring")
    ap.add_argument("--netns", action="store_true",
                    help="over a veth pair between two network namespaces (root; see above)")
    ap.add_argument("--name", default="echo", help="output files: OUT/NAME.json, OUT/NAME_runs.csv")
    ap.add_argument("--nice", type=int, default=-20 if os.geteuid() == 0 else 0,
                    help="nice value for server and load generator (default -20 as root)")
    args = ap.parse_args()
    if args.baseline:
        base = os.path.abspath(os.path.join(args.baseline, "examples/echo_server"))
        SERVERS["base-uring"] = (base, ["--backend", "io_uring"], "baseline io_uring")
        SERVERS["base-epoll"] = (base, ["--backend", "epoll"], "baseline epoll")
    duration = args.duration or (1.0 if args.quick else 2.0)
    core_reps = args.core_reps or (args.reps if args.quick else max(args.reps, 5))

    servers = []
    for s in args.servers.split(","):
        if s not in SERVERS:
            ap.error("unknown server %s" % s)
        if os.access(os.path.join(args.build, SERVERS[s][0]), os.X_OK):
            servers.append(s)
        else:
            print("echo: %s not built (%s), left out" % (s, SERVERS[s][0]), file=sys.stderr)
    if not os.access(os.path.join(args.build, "examples/echo_bench"), os.X_OK):
        sys.exit("echo: %s/examples/echo_bench is not built" % args.build)
    cfgs = configs(args.quick)
    if args.only:
        want = set(args.only.split(","))
        cfgs = [c for c in cfgs if c[0] in want]
    os.makedirs(args.out, exist_ok=True)
    if args.netns and (os.geteuid() != 0 or not shutil.which("ip")):
        sys.exit("echo: --netns needs root and ip(8) (iproute2)")
    args.tmp = os.path.join(args.out, args.name + ".tmp")
    os.makedirs(args.tmp, exist_ok=True)

    try:
        runner = Runner(args)
    except RuntimeError as e:
        sys.exit("echo: network namespaces: %s" % e)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    rows = []
    plan = [[c for c in cfgs if rep < args.reps or (c[0] in CORE and rep < core_reps)]
            for rep in range(max(args.reps, core_reps))]
    total = sum(len(p) for p in plan) * len(servers)
    started = time.monotonic()
    try:
        for rep, rep_cfgs in enumerate(plan):
            for cfg in rep_cfgs:
                k = rep % len(servers)
                for s in servers[k:] + servers[:k]:  # rotate the order each repetition
                    try:
                        row = runner.run_one(s, cfg, duration)
                    except RuntimeError as e:
                        print("echo: %s" % e, file=sys.stderr)
                        row = {"config": cfg[0], "server": s, "errors": -1, "msgs_per_sec": 0}
                    row["rep"] = rep
                    rows.append(row)
                    if row.get("errors") != 0:
                        print("echo: %s %s rep %d: errors=%s %s" % (
                            cfg[0], s, rep, row.get("errors"), row.get("client_stderr", "")),
                            file=sys.stderr)
                print("echo: rep %d/%d %s done (%d/%d runs, %.0fs)" % (
                    rep + 1, len(plan), cfg[0], len(rows), total, time.monotonic() - started),
                    file=sys.stderr)
    finally:
        runner.cleanup()

    fields = ["rep", "config", "mode", "size", "conns", "pipeline", "buf_size", "server",
              "msgs_per_sec", "p50_us", "p99_us", "errors", "cpu_us_per_msg",
              "cpu_tick_us_per_msg", "server_cpu_s", "server_cpu_tick_s", "server_util", "client_util",
              "wall_s", "client_status", "server_status", "client_stderr", "server_stderr",
              "ready"]
    with open(os.path.join(args.out, args.name + "_runs.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()})

    summary = summarize(rows, cfgs, servers)
    commands = {}
    for r in rows:
        if "server_cmd" in r:
            commands.setdefault(r["server"], r["server_cmd"].replace(
                "--buf-size %d" % r["buf_size"], "--buf-size B"))
            commands.setdefault("client", r["client_cmd"])
    features = {}
    for r in rows:
        if r.get("server_stderr"):
            features.setdefault(r["server"], r["server_stderr"])
    meta = {"reps": args.reps, "core_reps": core_reps, "duration_s": duration, "quick": args.quick,
            "server_cpu": args.server_cpu, "client_cpu": args.client_cpu,
            "client_loops": args.client_loops, "client_backend": args.client_backend,
            "nice": args.nice,
            "network": "veth between two namespaces, RPS per side" if args.netns else "loopback",
            "servers": {s: SERVERS[s][2] for s in servers}, "commands": commands,
            "features": features, "elapsed_s": round(time.monotonic() - started, 1),
            "failed_runs": sum(1 for r in rows if r.get("errors") != 0)}
    with open(os.path.join(args.out, args.name + ".json"), "w") as f:
        json.dump({"meta": meta, "summary": summary}, f, indent=1)
    try:
        os.remove(os.path.join(args.tmp, "server.err"))
        os.rmdir(args.tmp)
    except OSError:
        pass
    print_tables(summary, servers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
