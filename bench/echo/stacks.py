#!/usr/bin/env python3
"""Splits an echo server's perf samples by what their call stacks were doing.

    bench/echo/stacks.py PERF_DATA...
    bench/echo/stacks.py --json FILE --label LABEL PERF_DATA

For each perf.data written by bench/echo/profile.sh (perf record -g), prints
the share of samples in: user space (the sample's own frame outside the
kernel), sending (a stack through tcp_sendmsg; on loopback the sender's CPU
also delivers the segment to the receiving socket, shown apart as "of which
delivery": net_rx_action), receiving (tcp_recvmsg), the rest of io_uring's
submit and completion work, and the rest of the kernel. Shares are of all
samples, so two servers can be compared line by line. With --json, adds
{"label", "samples", "shares": {row: fraction}} for the one file to the list
in FILE (made if missing) instead of printing; scripts/bench.sh keeps its
profiles that way for the report.
"""
import json
import os
import subprocess
import sys

USER = "user space"
SEND = "sending (tcp_sendmsg)"
DELIVERY = "  of which delivery to the peer (net_rx_action)"
RECV = "receiving (tcp_recvmsg)"
URING = "io_uring, other (submit, task work, CQEs, wait)"
KERNEL = "kernel, other"
ROWS = [USER, SEND, DELIVERY, RECV, URING, KERNEL]


def classify(frames):
    """frames: [(symbol, dso)], innermost first. The rows the sample counts in."""
    if not frames:
        return []
    if "kernel.kallsyms" not in frames[0][1]:
        return [USER]
    syms = [s for s, _ in frames]
    if any(s.startswith("tcp_sendmsg") for s in syms):
        return [SEND, DELIVERY] if "net_rx_action" in syms else [SEND]
    if any(s.startswith("tcp_recvmsg") for s in syms):
        return [RECV]
    if any(s.startswith("io_") or s.startswith("__io_") for s in syms):
        return [URING]
    return [KERNEL]


def shares(path):
    out = subprocess.run(["perf", "script", "-i", path, "-F", "ip,sym,dso"], capture_output=True,
                         text=True, check=True).stdout
    counts = {name: 0 for name in ROWS}
    n = 0
    for block in out.split("\n\n"):
        frames = []
        for line in block.strip().splitlines():
            parts = line.split()  # address, symbol, (dso)
            if len(parts) >= 3:
                frames.append((parts[1].split("+")[0], parts[-1]))
        rows = classify(frames)
        if rows:
            n += 1
        for r in rows:
            counts[r] += 1
    return n, counts


def add_json(out, label, path):
    n, counts = shares(path)
    runs = []
    if os.path.exists(out):
        with open(out) as f:
            runs = json.load(f)
    runs.append({"label": label, "samples": n,
                 "shares": {name: counts[name] / max(n, 1) for name in ROWS}})
    with open(out, "w") as f:
        json.dump(runs, f, indent=1)


def main():
    paths = sys.argv[1:]
    if len(paths) == 5 and paths[0] == "--json" and paths[2] == "--label":
        add_json(paths[1], paths[3], paths[4])
        return
    if not paths or paths[0].startswith("-"):
        sys.exit(__doc__)
    results = [shares(p) for p in paths]
    names = [p.rsplit("/", 1)[-1].replace(".perf.data", "") for p in paths]
    print("%-50s" % "share of samples" + "".join("%16s" % n for n in names))
    for name in ROWS:
        print("%-50s" % name + "".join("%15.1f%%" % (100.0 * c[name] / max(n, 1))
                                        for n, c in results))
    print("%-50s" % "samples" + "".join("%16d" % n for n, _ in results))


if __name__ == "__main__":
    main()
