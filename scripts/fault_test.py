#!/usr/bin/env python3
"""Dependency faults: the store or the lock service fails under running
uploads, comes back, and every acknowledged byte is still there.

    python3 scripts/fault_test.py --bin target/debug/tus-axum [--cases garage,redis,disk-full] [--long]

Cases:
  garage     tus-axum on S3 (its own Garage, on free loopback ports) while the
             crash harness's workers upload; Garage is stopped and started again
             (SIGTERM), or hung (SIGSTOP, then SIGCONT), several times. Requests
             during the outage get a retryable 500 promptly (every request must
             answer within --max-request-seconds 25: the S3 client's timeouts), and
             every upload completes with the right sha256 afterwards, no
             acknowledged offset lost.
  redis      three tus-axum instances behind HAProxy on S3 with `--locker redis`,
             and a Redis of its own that is stopped and started again (empty: no
             persistence) several times. Locking fails closed: HEAD and PATCH get
             423 ERR_LOCK_UNAVAILABLE (retried), a PATCH in flight is stopped (409),
             no 5xx; every upload completes with the right sha256.
  disk-full  tus-axum on the filesystem store in a 16 MiB filesystem of its own
             (tmpfs, else a loop-mounted ext4 image; needs root), filled up: a
             PATCH gets 507 ERR_STORAGE_FULL promptly, HEAD reports the bytes that
             fit, which are intact on disk, and once space is freed the upload
             goes on. Then tus-js-client uploads into a filling disk, the space is
             freed while it retries, and it completes.

A slow or stalled store is covered by examples/axum/tests/slow_store.rs.
Prints "ok - NAME" / "not ok - NAME: REASON"; exits non-zero if any failed.
"""

import argparse
import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
import crash_harness  # noqa: E402
from testlib import diag, free_port, request, wait_for_port  # noqa: E402

OOS = "application/offset+octet-stream"


class CaseFailure(Exception):
    pass


class Garage:
    """A Garage of the test's own on free ports (scripts/garage.sh), so
    stopping it disturbs nothing else."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="tus-fault-garage-")
        env = dict(os.environ, GARAGE_S3_ADDR=f"127.0.0.1:{free_port()}", GARAGE_RPC_ADDR=f"127.0.0.1:{free_port()}",
                   GARAGE_ADMIN_ADDR=f"127.0.0.1:{free_port()}")
        result = subprocess.run(["bash", str(HERE / "garage.sh"), "start", self.dir], env=env, capture_output=True,
                                text=True, timeout=120)
        if result.returncode != 0:
            raise CaseFailure(f"garage did not start: {result.stderr[-500:]}")
        self.env = {}
        for line in result.stdout.splitlines():
            name, _, value = line.removeprefix("export ").partition("=")
            self.env[name] = value
        os.environ.update({k: v for k, v in self.env.items() if k.startswith("AWS_")})
        self.outages = {"stopped": 0, "hung": 0}

    def server_args(self, prefix):
        return ["--s3-bucket", self.env["TUS_S3_BUCKET"], "--s3-endpoint", self.env["TUS_S3_ENDPOINT"],
                "--s3-region", self.env.get("TUS_S3_REGION", "us-east-1"), "--s3-prefix", prefix]

    def pid(self):
        return int(Path(self.dir, "garage.pid").read_text())

    def script(self, command):
        subprocess.run(["bash", str(HERE / "garage.sh"), command, self.dir], check=True, capture_output=True,
                       timeout=120)

    def disrupt(self, plan):
        """One outage: stopped (connections refused) or hung (SIGSTOP: connections
        accepted by the kernel, never answered), for 1 to 2.5 s."""
        if plan.random() < 0.5:
            self.script("stop")
            time.sleep(plan.uniform(1.0, 2.5))
            self.script("resume")
            self.outages["stopped"] += 1
        else:
            pid = self.pid()
            os.kill(pid, signal.SIGSTOP)
            try:
                time.sleep(plan.uniform(1.0, 2.5))
            finally:
                os.kill(pid, signal.SIGCONT)
            self.outages["hung"] += 1

    def describe(self):
        return f"garage outages {self.outages}"

    def close(self):
        try:
            os.kill(self.pid(), signal.SIGCONT)
        except (OSError, ValueError):
            pass
        subprocess.run(["bash", str(HERE / "garage.sh"), "stop", self.dir], capture_output=True, timeout=60)
        shutil.rmtree(self.dir, ignore_errors=True)


class Redis:
    """A redis-server of the test's own on a free port, stopped and started again."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="tus-fault-redis-")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/"
        self.process = None
        self.outages = 0
        self.start()

    def start(self):
        self.process = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no",
             "--dir", self.dir], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        wait_for_port(self.port, self.process, 15, "redis-server", CaseFailure)

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=15)

    def disrupt(self, plan):
        self.stop()
        time.sleep(plan.uniform(1.0, 2.5))
        self.start()
        self.outages += 1

    def describe(self):
        return f"{self.outages} redis outages"

    def close(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def harness_args(args, cycles, extra):
    argv = ["--bin", args.binary, "--cycles", str(cycles), "--max-kill-delay", "2.0", "--timeout", "150", *extra]
    if args.seed is not None:
        argv += ["--seed", str(args.seed)]
    parsed = crash_harness.parse_args(argv)
    parsed.disk_check = False
    return parsed


def case_garage(args, garage):
    cycles = 12 if args.long else 4
    harness = harness_args(
        args, cycles, ["--allow-5xx", "ERR_INTERNAL_SERVER_ERROR,ERR_STORAGE_UNAVAILABLE", "--max-request-seconds", "25"]
    )
    harness.server_args = garage.server_args(f"fault-garage-{time.time_ns()}/")
    if crash_harness.Harness(harness).run(disruptor=garage) != 0:
        raise CaseFailure("the crash harness failed during Garage outages (see above)")


def case_redis(args, garage):
    if shutil.which("redis-server") is None:
        raise CaseFailure("redis-server not found (scripts/test.d/25-redis.sh installs it)")
    redis = Redis()
    try:
        cycles = 12 if args.long else 4
        harness = harness_args(args, cycles, ["--instances", "3", "--max-request-seconds", "25"])
        harness.server_args = garage.server_args(f"fault-redis-{time.time_ns()}/") + [
            "--locker", "redis", "--redis-url", redis.url]
        if crash_harness.Harness(harness).run(disruptor=redis) != 0:
            raise CaseFailure("the crash harness failed during Redis outages (see above)")
    finally:
        redis.close()


# ------------------------------------------------------------------ disk full


class SmallFilesystem:
    """A 16 MiB filesystem mounted for the test: tmpfs, else an ext4 image on a loop device."""

    SIZE = 16 << 20

    def __init__(self):
        self.root = tempfile.mkdtemp(prefix="tus-fault-disk-")
        self.mount = os.path.join(self.root, "mnt")
        os.mkdir(self.mount)
        self.kind = None
        tried = []
        result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={self.SIZE}", "tmpfs", self.mount],
                                capture_output=True, text=True)
        if result.returncode == 0:
            self.kind = "tmpfs"
            return
        tried.append(f"tmpfs: {result.stderr.strip()}")
        image = os.path.join(self.root, "disk.img")
        with open(image, "wb") as file:
            file.truncate(self.SIZE)
        for command in (["mkfs.ext4", "-q", "-F", image], ["mount", "-o", "loop", image, self.mount]):
            result = subprocess.run(command, capture_output=True, text=True)
            if result.returncode != 0:
                tried.append(f"{command[0]}: {result.stderr.strip()}")
                shutil.rmtree(self.root, ignore_errors=True)
                raise CaseFailure("cannot mount a small filesystem (run as root): " + "; ".join(tried))
        self.kind = "ext4 on a loop device"

    def free(self):
        stats = os.statvfs(self.mount)
        return stats.f_bavail * stats.f_frsize

    def fill(self, leave):
        """Writes a filler file so that about `leave` bytes stay free."""
        size = max(0, self.free() - leave)
        with open(os.path.join(self.mount, "filler"), "wb") as file:
            block = b"\0" * (1 << 20)
            while size > 0:
                try:
                    size -= file.write(block[: min(size, len(block))])
                except OSError:
                    break
        return self.free()

    def unfill(self):
        try:
            os.unlink(os.path.join(self.mount, "filler"))
        except FileNotFoundError:
            pass

    def close(self):
        subprocess.run(["umount", self.mount], capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)


def patch_reading_early_answer(port, path, offset, data, timeout=30.0):
    """A PATCH whose answer is read while the body is still being sent: the
    server answers a full disk before the body ends. Returns (status, body
    start), or (None, error) if the connection broke before an answer."""
    import socket

    head = (f"PATCH {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nTus-Resumable: 1.0.0\r\n"
            f"Upload-Offset: {offset}\r\nContent-Type: {OOS}\r\nContent-Length: {len(data)}\r\n\r\n").encode()
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)

    def send():
        try:
            sock.sendall(head)
            for start in range(0, len(data), 65536):
                sock.sendall(data[start : start + 65536])
        except OSError:
            pass

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    answer = b""
    try:
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
        if b"\r\n\r\n" in answer:
            sock.settimeout(1)
            try:
                answer += sock.recv(4096)
            except OSError:
                pass
    except OSError as error:
        return None, str(error)
    finally:
        sock.close()
        sender.join(10)
    if not answer:
        return None, "closed without an answer"
    status = int(answer.split(b" ", 2)[1])
    return status, answer.split(b"\r\n\r\n", 1)[-1][:200]


def upload_path(headers):
    return urllib.parse.urlsplit(headers["location"]).path


def get_sha256(port, path):
    status, _, body = request(port, "GET", path, timeout=60)
    return status, hashlib.sha256(body).hexdigest(), len(body)


def case_disk_full(args):
    disk = SmallFilesystem()
    store = os.path.join(disk.mount, "store")
    port = free_port()
    log_path = os.path.join(disk.root, "server.log")
    log = open(log_path, "wb")
    server = subprocess.Popen([args.binary, "--listen", f"127.0.0.1:{port}", "--base-path", "/files/", "--dir", store],
                              stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        wait_for_port(port, server, 30, "tus-axum", CaseFailure)
        rng = random.Random(args.seed or 7)
        size = 8 << 20
        data = rng.randbytes(size)

        # 1. A PATCH into a full disk: 507 at once, the prefix that fit is kept.
        free = disk.fill(leave=3 << 20)
        status, headers, body = request(port, "POST", "/files/", {"Upload-Length": str(size)})
        if status != 201:
            raise CaseFailure(f"POST answered {status}: {body[:200]!r}")
        path = upload_path(headers)
        started = time.monotonic()
        status, body = patch_reading_early_answer(port, path, 0, data)
        took = time.monotonic() - started
        diag(f"{disk.kind}, {free >> 10} KiB free: a PATCH of {size >> 20} MiB answered {status} in {took:.2f}s: "
             f"{body[:100]!r}")
        if status != 507 or b"ERR_STORAGE_FULL" not in body or took > 10:
            raise CaseFailure(f"PATCH into a full disk answered {status} after {took:.1f}s, want 507 ERR_STORAGE_FULL")
        status, headers, _ = request(port, "HEAD", path)
        offset = int(headers.get("upload-offset", -1))
        if status != 200 or not 0 < offset < size:
            raise CaseFailure(f"HEAD after the full disk answered {status}, offset {offset}")
        with open(os.path.join(store, path.rsplit("/", 1)[-1] + ".bin"), "rb") as file:
            on_disk = file.read()
        if on_disk != data[:offset]:
            raise CaseFailure(f"the {len(on_disk)} bytes on disk are not the first {offset} bytes sent")
        status, _, body = request(port, "POST", "/files/", {"Upload-Length": "10"})
        diag(f"HEAD reports {offset} bytes kept, intact on disk; a POST while full answered {status}")
        if status not in (201, 507):
            raise CaseFailure(f"POST while the disk is full answered {status}: {body[:100]!r}")

        # 2. Space freed: the upload goes on from HEAD.
        disk.unfill()
        status, headers, body = request(port, "PATCH", path, {"Upload-Offset": str(offset), "Content-Type": OOS},
                                        data[offset:])
        if status != 204 or headers.get("upload-offset") != str(size):
            raise CaseFailure(f"PATCH after freeing space answered {status}: {body[:100]!r}")
        status, digest, _ = get_sha256(port, path)
        if status != 200 or digest != hashlib.sha256(data).hexdigest():
            raise CaseFailure(f"GET after resuming answered {status}, sha256 differs")
        request(port, "DELETE", path)

        # 3. tus-js-client into a filling disk; space is freed while it retries.
        source = os.path.join(disk.root, "upload.bin")
        with open(source, "wb") as file:
            file.write(data)
        disk.fill(leave=3 << 20)
        freed = threading.Event()

        def free_when_full():
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and disk.free() > (256 << 10):
                time.sleep(0.05)
            time.sleep(1.5)
            disk.unfill()
            freed.set()

        watcher = threading.Thread(target=free_when_full, daemon=True)
        watcher.start()
        clients = ROOT / "tests" / "clients"
        node = os.environ.get("NODE") or shutil.which("node") or "node"
        result = subprocess.run(
            [node, str(clients / "tusjs_upload.mjs"), f"http://127.0.0.1:{port}/files/", source, str(1 << 20),
             "--retry-delays", "default", "--timeout", "60"],
            cwd=clients, capture_output=True, text=True, timeout=90, stdin=subprocess.DEVNULL)
        watcher.join(70)
        summary = [line for line in result.stderr.splitlines() if not line.startswith("progress ")]
        if result.returncode != 0 or not freed.is_set():
            diag("\n".join(summary[-6:]))
            raise CaseFailure(f"tus-js-client exited {result.returncode} (space freed: {freed.is_set()})")
        url = result.stdout.strip().splitlines()[-1]
        status, digest, _ = get_sha256(port, urllib.parse.urlsplit(url).path)
        diag(f"tus-js-client through a full disk: {'; '.join(summary[-2:])}")
        if status != 200 or digest != hashlib.sha256(data).hexdigest():
            raise CaseFailure(f"GET of the tus-js-client upload answered {status}, sha256 differs")
        if "HEAD=" not in " ".join(summary):
            raise CaseFailure("tus-js-client never had to resume: the disk did not fill up?")
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=15)
        log.close()
        disk.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", dest="binary", default=os.environ.get("TUS_SERVER_BIN", "target/debug/tus-axum"))
    parser.add_argument("--cases", default="garage,redis,disk-full")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--long", action="store_true", default=os.environ.get("TUS_FAULT_LONG") == "1")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    cases = [c for c in args.cases.split(",") if c]
    results = []
    garage = None
    try:
        for name in cases:
            started = time.monotonic()
            try:
                if name in ("garage", "redis") and garage is None:
                    garage = Garage()
                if name == "garage":
                    case_garage(args, garage)
                elif name == "redis":
                    case_redis(args, garage)
                elif name == "disk-full":
                    case_disk_full(args)
                else:
                    raise CaseFailure(f"unknown case {name}")
                results.append(True)
                print(f"ok - fault {name} ({time.monotonic() - started:.1f}s)", flush=True)
            except (CaseFailure, OSError, subprocess.SubprocessError, KeyError, ValueError) as error:
                results.append(False)
                print(f"not ok - fault {name}: {error}", flush=True)
    finally:
        if garage is not None:
            garage.close()
    failed = results.count(False)
    print(f"{len(results) - failed} passed, {failed} failed", flush=True)
    return 1 if failed or not results else 0


if __name__ == "__main__":
    sys.exit(main())
