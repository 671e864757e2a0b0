#!/usr/bin/env python3
"""Checks that an echo server binary keeps the peers' contract.

usage: check_echo.py SERVER [--conns 50] [--messages 1000]

Starts SERVER with --port 0, parses its ready line, echoes messages of 64 B and
4 KiB on many connections at once (checking every byte), streams a few MiB into
a client that does not read for a while (the server's send must block and
resume), half-closes a connection, checks command-line errors (exit status 2),
and stops the server with SIGTERM and SIGINT (exit status 0, connections
closed). Ends with one line "N passed, N failed"; exit status 0 if all passed.
"""

import argparse
import asyncio
import os
import re
import resource
import selectors
import signal
import subprocess
import sys
import tempfile
import time

READY = re.compile(r"^listening 127\.0\.0\.1:(\d+) backend=(uring-c|epoll-c|asio) loops=1$")


class Failed(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failed(what)


class Server:
    """The server under test, started with --port 0."""

    def __init__(self, binary):
        self.err = tempfile.TemporaryFile()
        self.proc = subprocess.Popen([binary, "--port", "0"], stdout=subprocess.PIPE,
                                     stderr=self.err)
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        if not sel.select(timeout=10):
            self.kill()
            raise Failed("no ready line within 10 s")
        self.line = self.proc.stdout.readline().decode(errors="replace").rstrip("\n")
        m = READY.match(self.line)
        if not m:
            self.kill()
            raise Failed(f"bad ready line {self.line!r}")
        self.port = int(m.group(1))
        self.backend = m.group(2)
        check(self.port != 0, "ready line shows port 0")

    def stderr(self):
        self.err.seek(0)
        return self.err.read().decode(errors="replace")

    def stop(self, sig):
        """Sends sig; returns the exit status (None if it did not exit in 5 s)."""
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def message(conn, i, size):
    # Unique per connection and message, so a mixed-up or reordered echo fails.
    word = i.to_bytes(4, "little") + conn.to_bytes(4, "little")
    return (word * (size // 8 + 1))[:size]


async def echo_conn(port, conn, count, sizes):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for size in sizes:
            for i in range(count):
                msg = message(conn, i, size)
                writer.write(msg)
                got = await reader.readexactly(size)
                if got != msg:
                    raise Failed(f"connection {conn}: message {i} of {size} B came back wrong")
    finally:
        writer.close()


async def echo_many(port, conns, count, sizes):
    await asyncio.gather(*(echo_conn(port, c, count, sizes) for c in range(conns)))


async def stream_blocked(port, total):
    """Writes total bytes while not reading for a while: the server's send
    buffer fills, so it must keep the rest and finish it later."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    data = os.urandom(total)

    async def write_all():
        for off in range(0, total, 65536):
            writer.write(data[off:off + 65536])
            await writer.drain()

    w = asyncio.ensure_future(write_all())
    await asyncio.sleep(0.5)  # the server stalls meanwhile
    got = await reader.readexactly(total)
    await w
    writer.close()
    check(got == data, "streamed data came back wrong")


async def half_close(port, pid):
    """Data followed by FIN: the server echoes all of it, then closes. Also
    with data and FIN both waiting when the server looks (it is stopped
    meanwhile), on an accepted connection and on one not yet accepted: one
    readiness event then reports both."""
    async def one(stop_before_connect):
        if stop_before_connect:
            os.kill(pid, signal.SIGSTOP)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        if not stop_before_connect:
            writer.write(b"ping")
            check(await reader.readexactly(4) == b"ping", "ping failed")
            os.kill(pid, signal.SIGSTOP)
        data = os.urandom(10000)
        try:
            writer.write(data)
            writer.write_eof()
            await writer.drain()
            await asyncio.sleep(0.05)
        finally:
            os.kill(pid, signal.SIGCONT)
        got = await reader.readexactly(len(data))
        check(got == data, "data before FIN came back wrong")
        try:
            end = await asyncio.wait_for(reader.read(1), 5)
        except asyncio.TimeoutError:
            raise Failed("server did not close after EOF")
        check(end == b"", "server did not close after EOF")
        writer.close()

    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    data = os.urandom(10000)
    writer.write(data)
    writer.write_eof()
    got = await reader.readexactly(len(data))
    check(got == data, "data before FIN came back wrong")
    check(await reader.read(1) == b"", "server did not close after EOF")
    writer.close()
    await one(stop_before_connect=False)
    await one(stop_before_connect=True)


async def open_idle(port, n):
    conns = [await asyncio.open_connection("127.0.0.1", port) for _ in range(n)]
    # One round trip each, so the server has surely accepted them.
    for r, w in conns:
        w.write(b"ping")
        check(await r.readexactly(4) == b"ping", "idle connection ping failed")
    return conns


async def expect_closed(conns):
    for r, w in conns:
        try:
            data = await asyncio.wait_for(r.read(1), 3)
        except ConnectionError:
            data = b""
        except asyncio.TimeoutError:
            raise Failed("a connection was left open after the server exited")
        check(data == b"", "unexpected data after shutdown")
        w.close()


def run(coro, timeout):
    async def bounded():
        try:
            return await asyncio.wait_for(coro, timeout)
        except asyncio.TimeoutError:
            raise Failed(f"timed out after {timeout} s")
    return asyncio.run(bounded())


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("server", help="server binary")
    ap.add_argument("--conns", type=int, default=50)
    ap.add_argument("--messages", type=int, default=1000)
    args = ap.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    results = []

    def test(name, fn):
        t0 = time.monotonic()
        try:
            fn()
            results.append(True)
            print(f"ok   {name} ({time.monotonic() - t0:.1f} s)", flush=True)
        except Failed as e:
            results.append(False)
            print(f"FAIL {name}: {e}", flush=True)

    def bad_flag():
        for argv in (["--no-such-flag"], ["--port", "x"], ["--port"]):
            p = subprocess.run([args.server] + argv, capture_output=True, timeout=10)
            lines = p.stderr.decode(errors="replace").splitlines()
            check(p.returncode == 2, f"{argv}: exit status {p.returncode}, want 2")
            check(len(lines) == 1 and lines[0], f"{argv}: stderr {lines!r}, want one line")
            check(p.stdout == b"", f"{argv}: wrote to stdout")

    def help_flag():
        p = subprocess.run([args.server, "--help"], capture_output=True, timeout=10)
        check(p.returncode == 0, f"--help: exit status {p.returncode}")
        check(b"--port" in p.stdout, "--help does not mention --port")

    test("bad flags exit 2 with one line on stderr", bad_flag)
    test("--help exits 0", help_flag)

    try:
        srv = Server(args.server)
    except Failed as e:
        print(f"FAIL start: {e}")
        print(f"0 passed, {results.count(False) + 1} failed")
        return 1
    print(f"     ready: {srv.line}", flush=True)
    try:
        test(f"{args.conns} connections x {args.messages} messages of 64 B and 4 KiB",
             lambda: run(echo_many(srv.port, args.conns, args.messages, (64, 4096)), 300))
        test("500 connections at once x 20 messages of 1 KiB",
             lambda: run(echo_many(srv.port, 500, 20, (1024,)), 120))
        test("8 MiB into a client that stalls (short and blocked sends)",
             lambda: run(stream_blocked(srv.port, 8 << 20), 60))
        test("half-close: echo everything, then close", lambda: run(half_close(srv.port, srv.proc.pid), 30))

        def sigterm():
            async def go():
                conns = await open_idle(srv.port, 5)
                rc = await asyncio.get_running_loop().run_in_executor(
                    None, srv.stop, signal.SIGTERM)
                check(rc == 0, f"exit status {rc} after SIGTERM, want 0")
                await expect_closed(conns)
            run(go(), 30)
        test("SIGTERM with open connections: exit 0, connections closed", sigterm)
    finally:
        srv.kill()
        err = srv.stderr()
        if err.strip() and not all(results):
            print("server stderr:\n" + err, end="")

    def sigint():
        s = Server(args.server)
        try:
            run(echo_many(s.port, 2, 10, (64,)), 20)
            rc = s.stop(signal.SIGINT)
            check(rc == 0, f"exit status {rc} after SIGINT, want 0")
        finally:
            s.kill()
    test("SIGINT: exit 0", sigint)

    print(f"{results.count(True)} passed, {results.count(False)} failed")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
