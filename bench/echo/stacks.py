#!/usr/bin/env python3
"""Splits an echo server's perf samples by what their call stacks were doing.

    bench/echo/stacks.py PERF_DATA...

For each perf.data written by bench/echo/profile.sh (perf record -g), prints
the share of samples in: user space (the sample's own frame outside the
kernel), sending (a stack through tcp_sendmsg; on loopback the sender's CPU
also delivers the segment to the receiving socket, shown apart as "of which
delivery": net_rx_action), receiving (tcp_recvmsg), the rest of io_uring's
submit and completion work, and the rest of the kernel. Shares are of all
samples, so two servers can be compared line by line.
"""
import subprocess
import sys

ROWS = [
    ("user space", None),
    ("sending (tcp_sendmsg)", "tcp_sendmsg"),
    ("  of which delivery to the peer (net_rx_action)", "net_rx_action"),
    ("receiving (tcp_recvmsg)", "tcp_recvmsg"),
    ("io_uring, other (submit, task work, CQEs, wait)", "io_uring"),
    ("kernel, other", None),
]


def classify(frames):
    """frames: [(symbol, dso)], innermost first."""
    if not frames:
        return None
    if "kernel.kallsyms" not in frames[0][1]:
        return ["user space"]
    syms = [s for s, _ in frames]
    if any(s.startswith("tcp_sendmsg") for s in syms):
        out = ["sending (tcp_sendmsg)"]
        if "net_rx_action" in syms:
            out.append("  of which delivery to the peer (net_rx_action)")
        return out
    if any(s.startswith("tcp_recvmsg") for s in syms):
        return ["receiving (tcp_recvmsg)"]
    if any(s.startswith("io_") or s.startswith("__io_") for s in syms):
        return ["io_uring, other (submit, task work, CQEs, wait)"]
    return ["kernel, other"]


def shares(path):
    out = subprocess.run(["perf", "script", "-i", path, "-F", "ip,sym,dso"], capture_output=True,
                         text=True, check=True).stdout
    counts = {name: 0 for name, _ in ROWS}
    n = 0
    for block in out.split("\n\n"):
        frames = []
        for line in block.strip().splitlines():
            parts = line.split()  # address, symbol, (dso)
            if len(parts) >= 3:
                frames.append((parts[1].split("+")[0], parts[-1]))
        rows = classify(frames)
        if rows is None:
            continue
        n += 1
        for r in rows:
            counts[r] += 1
    return n, counts


def main():
    paths = sys.argv[1:]
    if not paths:
        sys.exit(__doc__)
    results = [shares(p) for p in paths]
    names = [p.rsplit("/", 1)[-1].replace(".perf.data", "") for p in paths]
    print("%-50s" % "share of samples" + "".join("%16s" % n for n in names))
    for name, _ in ROWS:
        print("%-50s" % name + "".join("%15.1f%%" % (100.0 * c[name] / max(n, 1))
                                        for n, c in results))
    print("%-50s" % "samples" + "".join("%16d" % n for n, _ in results))


if __name__ == "__main__":
    main()
