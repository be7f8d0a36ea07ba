#!/usr/bin/env python3
"""Soak: many concurrent uploads through a fault-injecting proxy for a
bounded time; the server's memory and open file descriptors stay flat and
no upload is lost.

    python3 scripts/soak_test.py --bin target/debug/tus-axum [--uploads 200] [--seconds 40]

`--long` (or TUS_SOAK_LONG=1) runs 200 uploads for 300 s. TUS_SERVER_ARGS
adds server flags (e.g. an S3 store). Python standard library only.

Each of `--uploads` workers uploads one file after another (64 KiB to
1 MiB, random chunks of 16 to 256 KiB) through a TCP proxy that, per
connection, adds latency, stalls for a while (2%) or cuts the connection
after a random number of bytes (5%). After every failure a worker asks HEAD
and resumes, as tus clients do: an acknowledged offset must never go back,
and the server may answer 409 or 423 (retried) but never a 5xx. Every
finished upload is downloaded, checked by sha256 and deleted.

The server's resident memory and open file descriptors are sampled every
second. After the warm-up (the first quarter), they must not grow: the
median of the last quarter of the run is within 25% + 16 MiB (memory) and
20% + 32 (descriptors) of the median of the second quarter, and once every
client has stopped the descriptors are back to within 16 of the count
before the run. The figures are printed.
"""

import argparse
import asyncio
import hashlib
import os
import random
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import free_port, wait_for_port  # noqa: E402

BASE = "/files/"
OOS = "application/offset+octet-stream"
REQUEST_TIMEOUT = 30.0


def log(message):
    print(f"soak: {message}", flush=True)


class Stats:
    def __init__(self):
        self.completed = 0
        self.bytes = 0
        self.requests = 0
        self.resumes = 0
        self.cut = 0
        self.statuses = {}
        self.failures = []

    def fail(self, message):
        if len(self.failures) < 20:
            log(f"FAIL: {message}")
        self.failures.append(message)


# ---------------------------------------------------------------- the proxy


class FaultProxy:
    """Forwards loopback connections to the server, injecting faults."""

    def __init__(self, target_port, seed):
        self.target_port = target_port
        self.rng = random.Random(seed)
        self.connections = 0
        self.faults = {"cut": 0, "stall": 0}
        self.handlers = set()

    async def start(self):
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def close(self):
        """Stops accepting and ends every connection still open."""
        self.server.close()
        for handler in list(self.handlers):
            handler.cancel()
        await asyncio.gather(*self.handlers, return_exceptions=True)

    async def handle(self, client_reader, client_writer):
        task = asyncio.current_task()
        self.handlers.add(task)
        try:
            await self.forward(client_reader, client_writer)
        except asyncio.CancelledError:
            # Closed by `close`: end quietly (asyncio logs a handler that ends cancelled).
            client_writer.transport.abort()
        finally:
            self.handlers.discard(task)

    async def forward(self, client_reader, client_writer):
        self.connections += 1
        roll = self.rng.random()
        cut_after = self.rng.randint(1, 400_000) if roll < 0.05 else None
        stall_after = self.rng.randint(1, 300_000) if 0.05 <= roll < 0.07 else None
        latency = self.rng.uniform(0, 0.004)
        try:
            server_reader, server_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            client_writer.transport.abort()
            return
        budget = {"sent": 0}

        async def pipe(reader, writer, upstream):
            try:
                while True:
                    data = await reader.read(65536)
                    if not data:
                        break
                    if latency:
                        await asyncio.sleep(latency)
                    if upstream:
                        before = budget["sent"]
                        budget["sent"] += len(data)
                        if stall_after is not None and before < stall_after <= budget["sent"]:
                            self.faults["stall"] += 1
                            await asyncio.sleep(self.rng.uniform(1.0, 3.0))
                        if cut_after is not None and budget["sent"] >= cut_after:
                            self.faults["cut"] += 1
                            writer.write(data[: max(0, len(data) - (budget["sent"] - cut_after))])
                            raise ConnectionResetError("cut by the proxy")
                    writer.write(data)
                    await writer.drain()
                if writer.can_write_eof():
                    writer.write_eof()
            except (OSError, ConnectionError):
                client_writer.transport.abort()
                server_writer.transport.abort()

        await asyncio.gather(
            pipe(client_reader, server_writer, True), pipe(server_reader, client_writer, False)
        )
        client_writer.close()
        server_writer.close()


# ---------------------------------------------------------------- the client


async def read_body(reader, headers):
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while True:
            size = int((await reader.readline()).strip().split(b";")[0] or b"0", 16)
            if size == 0:
                await reader.readline()
                return body
            body += await reader.readexactly(size)
            await reader.readline()
    length = int(headers.get("content-length", "0"))
    return await reader.readexactly(length) if length else b""


async def http(port, method, path, headers=None, body=b""):
    """One request on a fresh connection: (status, headers, body); raises on a broken connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nTus-Resumable: 1.0.0\r\nContent-Length: {len(body)}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items()) + "\r\n"
        writer.write(head.encode())
        for start in range(0, len(body), 65536):
            writer.write(body[start : start + 65536])
            await writer.drain()
        await writer.drain()
        status_line = await reader.readline()
        if not status_line:
            raise ConnectionError("closed without an answer")
        status = int(status_line.split()[1])
        response_headers = {}
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            response_headers[name.strip().lower()] = value.strip()
        payload = b"" if method == "HEAD" else await read_body(reader, response_headers)
        return status, response_headers, payload
    finally:
        writer.transport.abort()


class Worker:
    def __init__(self, index, port, stats, seed, stop_at):
        self.port = port
        self.stats = stats
        self.rng = random.Random(f"{seed}/{index}")
        self.stop_at = stop_at

    async def call(self, method, path, headers=None, body=b""):
        self.stats.requests += 1
        try:
            answer = await asyncio.wait_for(http(self.port, method, path, headers, body), REQUEST_TIMEOUT)
        except (OSError, ConnectionError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError, IndexError):
            self.stats.cut += 1
            return None
        status = answer[0]
        self.stats.statuses[status] = self.stats.statuses.get(status, 0) + 1
        if status >= 500:
            self.stats.fail(f"{method} {path} answered {status}: {answer[2][:120]!r}")
        return answer

    async def upload_one(self):
        data = self.rng.randbytes(self.rng.randint(64 << 10, 1 << 20))
        path = None
        for _ in range(50):
            answer = await self.call("POST", BASE, {"Upload-Length": str(len(data))})
            if answer and answer[0] == 201:
                location = answer[1]["location"]
                path = location[location.index(BASE):]
                break
            await asyncio.sleep(0.05)
        if path is None:
            self.stats.fail("could not create an upload in 50 tries")
            return
        acknowledged, offset = 0, 0
        for _ in range(500):
            if offset >= len(data):
                break
            chunk = data[offset : offset + self.rng.randint(16 << 10, 256 << 10)]
            answer = await self.call("PATCH", path, {"Upload-Offset": str(offset), "Content-Type": OOS}, chunk)
            if answer and answer[0] == 204:
                offset = int(answer[1]["upload-offset"])
                acknowledged = max(acknowledged, offset)
                continue
            # Cut, interrupted (409), locked (423): ask HEAD and go on from there.
            self.stats.resumes += 1
            for _ in range(100):
                answer = await self.call("HEAD", path)
                if answer and answer[0] == 200:
                    offset = int(answer[1]["upload-offset"])
                    break
                await asyncio.sleep(0.05)
            if offset < acknowledged:
                self.stats.fail(f"{path}: HEAD reports {offset}, below the acknowledged {acknowledged}")
                return
        if offset != len(data):
            self.stats.fail(f"{path}: not finished after 500 requests")
            return
        for _ in range(20):
            answer = await self.call("GET", path)
            if answer and answer[0] == 200:
                if hashlib.sha256(answer[2]).digest() != hashlib.sha256(data).digest():
                    self.stats.fail(f"{path}: downloaded bytes differ")
                    return
                break
        else:
            self.stats.fail(f"{path}: could not be downloaded")
            return
        for _ in range(20):
            answer = await self.call("DELETE", path)
            if answer and answer[0] in (204, 404):
                break
        self.stats.completed += 1
        self.stats.bytes += len(data)

    async def run(self):
        while time.monotonic() < self.stop_at:
            await self.upload_one()


# ---------------------------------------------------------------- sampling


def sample(pid):
    """(resident memory in bytes, open file descriptors) of the process."""
    rss = 0
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) * 1024
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


async def sampler(pid, samples, stop):
    while not stop.is_set():
        samples.append((time.monotonic(), *sample(pid)))
        try:
            await asyncio.wait_for(stop.wait(), 1.0)
        except asyncio.TimeoutError:
            pass


async def soak(args, pid, server_port):
    stats = Stats()
    proxy = FaultProxy(server_port, args.seed)
    await proxy.start()
    samples = []
    stop = asyncio.Event()
    baseline_fds = sample(pid)[1]
    started = time.monotonic()
    watcher = asyncio.create_task(sampler(pid, samples, stop))
    workers = [Worker(i, proxy.port, stats, args.seed, started + args.seconds) for i in range(args.uploads)]
    await asyncio.wait_for(asyncio.gather(*(w.run() for w in workers)), args.seconds + 240)
    elapsed = time.monotonic() - started
    stop.set()
    await watcher
    await proxy.close()
    await asyncio.sleep(2.0)
    after_fds = sample(pid)[1]
    return stats, proxy, samples, baseline_fds, after_fds, elapsed


def quarter_median(samples, start, column):
    values = [s[column] for s in samples if start[0] <= s[0] - samples[0][0] < start[1]]
    return statistics.median(values) if values else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", dest="binary", default=os.environ.get("TUS_SERVER_BIN", "target/debug/tus-axum"))
    parser.add_argument("--uploads", type=int, default=200, help="concurrent uploads")
    parser.add_argument("--seconds", type=float, default=40.0, help="how long new uploads start")
    parser.add_argument("--seed", type=int, default=int(os.environ.get("TUS_SOAK_SEED", random.randrange(1 << 31))))
    parser.add_argument("--long", action="store_true", default=os.environ.get("TUS_SOAK_LONG") == "1")
    args = parser.parse_args()
    if args.long:
        args.seconds = max(args.seconds, 300.0)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    log(f"seed {args.seed} (TUS_SOAK_SEED); {args.uploads} concurrent uploads for {args.seconds:.0f}s "
        f"through a fault-injecting proxy")
    workdir = tempfile.mkdtemp(prefix="tus-soak-")
    port = free_port()
    server_log = open(os.path.join(workdir, "server.log"), "wb")
    command = [args.binary, "--listen", f"127.0.0.1:{port}", "--base-path", BASE, "--dir",
               os.path.join(workdir, "store"), *shlex.split(os.environ.get("TUS_SERVER_ARGS", ""))]
    server = subprocess.Popen(command, stdout=server_log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                              env=dict(os.environ, RUST_LOG=os.environ.get("RUST_LOG", "warn")))
    failed = []
    try:
        wait_for_port(port, server, 30, "server")
        stats, proxy, samples, baseline_fds, after_fds, elapsed = asyncio.run(soak(args, server.pid, port))
        mib = 1 << 20
        warm_rss, last_rss = quarter_median(samples, (elapsed / 4, elapsed / 2), 1), quarter_median(
            samples, (elapsed * 3 / 4, elapsed + 1), 1)
        warm_fds, last_fds = quarter_median(samples, (elapsed / 4, elapsed / 2), 2), quarter_median(
            samples, (elapsed * 3 / 4, elapsed + 1), 2)
        peak_rss = max(s[1] for s in samples)
        peak_fds = max(s[2] for s in samples)
        log(f"{stats.completed} uploads ({stats.bytes / mib:.0f} MiB) done and verified in {elapsed:.0f}s; "
            f"{stats.requests} requests, {stats.cut} cut or timed out, {stats.resumes} resumes; "
            f"statuses {dict(sorted(stats.statuses.items()))}")
        log(f"proxy: {proxy.connections} connections, faults {proxy.faults}")
        log(f"server memory (RSS): median {warm_rss / mib:.1f} MiB after warm-up, {last_rss / mib:.1f} MiB "
            f"in the last quarter, peak {peak_rss / mib:.1f} MiB")
        log(f"server file descriptors: {baseline_fds} before, median {warm_fds:.0f} after warm-up, "
            f"{last_fds:.0f} in the last quarter, peak {peak_fds}, {after_fds} after the clients stopped")
        failed += stats.failures[:5]
        if stats.completed < args.uploads:
            failed.append(f"only {stats.completed} uploads completed")
        if last_rss > warm_rss * 1.25 + 16 * mib:
            failed.append(f"memory grew from {warm_rss / mib:.1f} to {last_rss / mib:.1f} MiB")
        if last_fds > warm_fds * 1.2 + 32:
            failed.append(f"file descriptors grew from {warm_fds:.0f} to {last_fds:.0f}")
        if after_fds > baseline_fds + 16:
            failed.append(f"{after_fds} file descriptors after the run, {baseline_fds} before: a leak")
        if server.poll() is not None:
            failed.append(f"the server exited with {server.returncode}")
    except (RuntimeError, OSError, asyncio.TimeoutError) as error:
        failed.append(str(error))
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=15)
        server_log.close()
        if failed:
            log(f"server log kept in {workdir}")
        else:
            subprocess.run(["rm", "-rf", workdir])
    for failure in failed:
        log(f"not ok: {failure}")
    log("ok" if not failed else f"{len(failed)} failure(s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
