#!/usr/bin/env python3
"""Scale-out tests: three tus-axum instances behind HAProxy (round-robin, no
stickiness) sharing one store, while instances are killed and restarted one
at a time. Every byte is verified (sha256 of a GET through the balancer).

Topologies (`--topology`):
  s3-redis  the instances share one S3 bucket (TUS_S3_ENDPOINT, TUS_S3_BUCKET,
            AWS_* from scripts/test.d/20-s3-server.sh) and one Redis
            (`--locker redis`, TUS_TEST_REDIS_URL from 25-redis.sh)
  fs-file   the instances share one directory on this host (`--locker file`)

Cases (`--cases`, comma-separated; default all):
  takeover  an instance is killed mid-PATCH (the PATCH goes straight to it);
            a HEAD through the balancer must answer, from another instance,
            within the limit (redis: 5 s, the 3 s lease plus slack; file: 2 s);
            the upload is then finished through the balancer and verified.
            The times are printed.
  clients   tus-js-client (chunked, and parallelUploads: 4, i.e. concatenation)
            and tuspy (chunked) upload at once through the balancer while a
            chaos thread kills and restarts one instance at a time; each
            upload is verified, and every instance must have served requests.
  harness   scripts/crash_harness.py --instances 3 (its own kill cycles).

    python3 scripts/scale_test.py --bin target/debug/tus-axum --topology fs-file [--cases takeover]
        [--size-mib 24] [--takeovers 3] [--harness-cycles 15] [--long]

`--long` (or TUS_SCALE_LONG=1) runs bigger uploads and more kill cycles.
Prints "ok - NAME" / "not ok - NAME: REASON"; exits non-zero if any failed.
Needs haproxy, node and tests/clients (scripts/setup-clients.sh).
"""

import argparse
import hashlib
import http.client
import os
import random
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CLIENTS = ROOT / "tests" / "clients"
sys.path.insert(0, str(HERE))
import cluster  # noqa: E402
from testlib import diag, request  # noqa: E402

BASE = cluster.BASE
OOS = "application/offset+octet-stream"
TAKEOVER_LIMIT = {"s3-redis": 5.0, "fs-file": 2.0}


class CaseFailure(Exception):
    pass


def head_until_answered(port, path, timeout=30.0):
    """HEAD through the balancer until it answers 200 (retrying 423 and the
    balancer's 5xx, as clients do); returns (offset, seconds waited)."""
    started = time.monotonic()
    deadline = started + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            status, headers, _ = request(port, "HEAD", path)
            if status == 200:
                return int(headers["upload-offset"]), time.monotonic() - started, headers.get("x-served-by")
            last = status
            if status not in (423, 502, 503, 504):
                raise CaseFailure(f"HEAD {path} answered {status}")
        except (OSError, http.client.HTTPException) as error:
            last = error
        time.sleep(0.05)
    raise CaseFailure(f"HEAD {path} not answered 200 within {timeout}s (last: {last})")


def get_sha256(port, path):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        digest = hashlib.sha256()
        size = 0
        while True:
            block = response.read(1 << 20)
            if not block:
                break
            digest.update(block)
            size += len(block)
        return response.status, size, digest.hexdigest()
    finally:
        connection.close()


def verify(port, path, size, sha256):
    offset, _, _ = head_until_answered(port, path)
    if offset != size:
        raise CaseFailure(f"{path}: offset {offset}, want {size}")
    status, got_size, got = get_sha256(port, path)
    if status != 200 or got_size != size or got != sha256:
        raise CaseFailure(f"{path}: GET {status}, {got_size} bytes, sha256 {'ok' if got == sha256 else 'differs'}")


class Runner:
    def __init__(self, args):
        self.args = args
        self.results = []
        self.workdir = Path(tempfile.mkdtemp(prefix="tus-scale-"))
        self.store_dir = self.workdir / "store"
        self.store_dir.mkdir()
        self.log_path = self.workdir / "servers.log"
        self.log_file = open(self.log_path, "ab")
        self.server_args = self.topology_args()
        self.cluster = None

    def topology_args(self):
        if self.args.topology == "fs-file":
            return ["--locker", "file"]
        missing = [name for name in ("TUS_S3_ENDPOINT", "TUS_S3_BUCKET", "TUS_TEST_REDIS_URL") if not os.environ.get(name)]
        if missing:
            raise SystemExit(f"scale_test: --topology s3-redis needs {', '.join(missing)} (scripts/test.d/20, 25)")
        prefix = f"scale-{time.time_ns()}/"
        return [
            "--s3-bucket", os.environ["TUS_S3_BUCKET"],
            "--s3-endpoint", os.environ["TUS_S3_ENDPOINT"],
            "--s3-region", os.environ.get("TUS_S3_REGION", "us-east-1"),
            "--s3-prefix", prefix,
            "--locker", "redis",
            "--redis-url", os.environ["TUS_TEST_REDIS_URL"],
        ]

    def report(self, name, error):
        self.results.append(error is None)
        print(f"ok - {name}" if error is None else f"not ok - {name}: {error}", flush=True)

    def start_cluster(self):
        self.cluster = cluster.Cluster(
            self.args.binary, 3, str(self.store_dir), self.server_args, str(self.workdir), self.log_file
        )
        self.cluster.start()
        diag(f"3 instances behind haproxy at 127.0.0.1:{self.cluster.port} ({self.args.topology})")

    # ------------------------------------------------------------ takeover

    def paced_patch(self, port, path, data, sent_event, stop_event):
        """PATCHes `data` straight to one instance, 64 KiB every 20 ms, until
        the connection breaks (the instance is killed)."""
        head = (
            f"PATCH {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nTus-Resumable: 1.0.0\r\n"
            f"Upload-Offset: 0\r\nContent-Type: {OOS}\r\nContent-Length: {len(data)}\r\n\r\n"
        ).encode()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                sock.sendall(head)
                for start in range(0, len(data), 65536):
                    if stop_event.is_set():
                        return
                    sock.sendall(data[start : start + 65536])
                    if start >= 512 * 1024:
                        sent_event.set()
                    time.sleep(0.02)
        except OSError:
            pass
        finally:
            sent_event.set()

    def takeover(self):
        times = []
        rng = random.Random(self.args.seed)
        for round_ in range(self.args.takeovers):
            index = round_ % len(self.cluster.instances)
            victim = self.cluster.instances[index]
            data = rng.randbytes(4 << 20)
            status, headers, body = request(self.cluster.port, "POST", BASE, {"Upload-Length": str(len(data))})
            if status != 201:
                raise CaseFailure(f"POST answered {status}: {body[:200]!r}")
            path = urllib.parse.urlsplit(headers["location"]).path
            sent, stop = threading.Event(), threading.Event()
            sender = threading.Thread(target=self.paced_patch, args=(victim.port, path, data, sent, stop), daemon=True)
            sender.start()
            if not sent.wait(30):
                raise CaseFailure("the paced PATCH did not get going")
            self.cluster.kill(index)
            killed = time.monotonic()
            offset, _, served_by = head_until_answered(self.cluster.port, path)
            waited = time.monotonic() - killed
            stop.set()
            sender.join(10)
            times.append(waited)
            diag(f"takeover {round_ + 1}: {victim.name} killed mid-PATCH; HEAD answered by {served_by} "
                 f"after {waited:.2f}s at offset {offset}")
            if served_by == victim.name:
                raise CaseFailure(f"HEAD answered by the killed instance {victim.name}")
            status, headers, body = request(
                self.cluster.port, "PATCH", path, {"Upload-Offset": str(offset), "Content-Type": OOS}, data[offset:]
            )
            if status != 204 or headers.get("upload-offset") != str(len(data)):
                raise CaseFailure(f"PATCH of the rest answered {status}: {body[:200]!r}")
            verify(self.cluster.port, path, len(data), hashlib.sha256(data).hexdigest())
            self.cluster.restart(index)
        limit = TAKEOVER_LIMIT[self.args.topology]
        ordered = sorted(times)
        diag(f"takeover times ({self.args.topology}): {', '.join(f'{t:.2f}s' for t in times)}; "
             f"median {ordered[len(ordered) // 2]:.2f}s, max {ordered[-1]:.2f}s (limit {limit}s)")
        if ordered[-1] > limit:
            raise CaseFailure(f"a takeover took {ordered[-1]:.2f}s, over the {limit}s limit")

    # ------------------------------------------------------------ clients

    def chaos(self, done, rng, kills):
        """Kills one instance at a time, then starts it again, until `done`:
        the first kill soon after the uploads started, then every 0.2-0.6 s
        (fs) or 0.5-1.5 s (S3, where uploads are slower)."""
        gap = (0.2, 0.6) if self.args.topology == "fs-file" else (0.5, 1.5)
        first = True
        while not done.wait(rng.uniform(0.1, 0.3) if first else rng.uniform(*gap)):
            first = False
            index = rng.randrange(len(self.cluster.instances))
            self.cluster.kill(index)
            kills.append(self.cluster.instances[index].name)
            time.sleep(rng.uniform(0.1, 0.5))
            self.cluster.restart(index)

    def clients(self):
        size = self.args.size_mib << 20
        data = self.workdir / "upload.bin"
        rng = random.Random(self.args.seed)
        with open(data, "wb") as file:
            file.write(rng.randbytes(size))
        sha256 = hashlib.sha256(data.read_bytes()).hexdigest()
        endpoint = f"http://127.0.0.1:{self.cluster.port}{BASE}"
        node = os.environ.get("NODE") or shutil.which("node") or "node"
        python = str(CLIENTS / ".venv" / "bin" / "python")
        timeout = str(self.args.client_timeout)
        commands = {
            "tus-js-client 2 MiB chunks": [node, CLIENTS / "tusjs_upload.mjs", endpoint, data, 2 << 20,
                                           "--retry-delays", "default", "--timeout", timeout],
            "tus-js-client parallelUploads: 4": [node, CLIENTS / "tusjs_upload.mjs", endpoint, data, 5 << 20,
                                                 "--parallel", 4, "--retry-delays", "default", "--timeout", timeout],
            "tuspy 1000003-byte chunks": [python, CLIENTS / "tuspy_upload.py", endpoint, data, 1000003,
                                          "--retries", 6, "--retry-delay", 1, "--timeout", timeout],
        }
        before = self.cluster.served()
        done, kills = threading.Event(), []
        chaos = threading.Thread(target=self.chaos, args=(done, random.Random(self.args.seed + 1), kills), daemon=True)
        env = dict(os.environ, NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost")
        started = time.monotonic()
        processes = {
            name: subprocess.Popen([str(c) for c in command], cwd=CLIENTS, env=env, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for name, command in commands.items()
        }
        chaos.start()
        outputs = {}
        try:
            for name, process in processes.items():
                try:
                    outputs[name] = process.communicate(timeout=self.args.client_timeout + 30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    outputs[name] = process.communicate()
                    outputs[name] = (outputs[name][0], outputs[name][1] + "\nkilled: timeout")
        finally:
            done.set()
            chaos.join(30)
        elapsed = time.monotonic() - started
        served = {name: count - before.get(name, 0) for name, count in self.cluster.served().items()}
        diag(f"clients took {elapsed:.1f}s; {len(kills)} kills ({', '.join(kills)}); requests per instance {served}")
        for name, process in processes.items():
            stdout, stderr = outputs[name]
            summary = [line for line in stderr.splitlines() if not line.startswith("progress ")]
            try:
                if process.returncode != 0:
                    diag("\n".join(summary[-8:]))
                    raise CaseFailure(f"exited {process.returncode}")
                url = stdout.strip().splitlines()[-1]
                path = urllib.parse.urlsplit(url).path
                verify(self.cluster.port, path, size, sha256)
                diag(f"{name}: {'; '.join(summary[-2:])}")
                self.report(f"{self.args.topology}: {name} through the balancer while instances die", None)
            except (CaseFailure, IndexError, OSError, http.client.HTTPException) as error:
                self.report(f"{self.args.topology}: {name} through the balancer while instances die", error)
        if not kills:
            raise CaseFailure("no instance was killed during the uploads: use a larger --size-mib")
        idle = [name for name, count in served.items() if count == 0]
        if idle:
            raise CaseFailure(f"instances {idle} served no request: the balancer is not spreading requests")

    # ------------------------------------------------------------ harness

    def harness(self):
        env = dict(os.environ, TUS_SERVER_ARGS=shlex.join(self.server_args))
        if self.args.topology != "fs-file":
            env["TUS_CRASH_DISK_CHECK"] = "0"
        command = [
            sys.executable, str(HERE / "crash_harness.py"), "--bin", self.args.binary, "--instances", "3",
            "--cycles", str(self.args.harness_cycles), "--timeout", "150",
        ]
        result = subprocess.run(command, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                timeout=240)
        for line in result.stdout.splitlines()[-60:]:
            diag(line[:400])
        if result.returncode != 0:
            diag(result.stderr[-3000:])
            raise CaseFailure(f"crash harness exited {result.returncode}")

    # ------------------------------------------------------------ main

    def run(self):
        cases = {"takeover": self.takeover, "clients": self.clients, "harness": self.harness}
        selected = [c for c in self.args.cases.split(",") if c]
        unknown = [c for c in selected if c not in cases]
        if unknown:
            raise SystemExit(f"scale_test: unknown cases {unknown}")
        try:
            if any(c != "harness" for c in selected):
                try:
                    self.start_cluster()
                except cluster.ClusterError as error:
                    self.report(f"{self.args.topology}: the cluster starts", error)
                    diag("\n".join(self.log_path.read_text(errors="replace").splitlines()[-15:]))
                    selected = [c for c in selected if c == "harness"]
            for name in selected:
                started = time.monotonic()
                try:
                    cases[name]()
                    if name != "clients":
                        self.report(f"{self.args.topology}: {name} ({time.monotonic() - started:.1f}s)", None)
                except (CaseFailure, cluster.ClusterError, OSError, http.client.HTTPException) as error:
                    self.report(f"{self.args.topology}: {name}", error)
                    diag("server log tail:")
                    diag("\n".join(self.log_path.read_text(errors="replace").splitlines()[-15:]))
        finally:
            if self.cluster is not None:
                self.cluster.stop()
            self.log_file.close()
            shutil.rmtree(self.workdir, ignore_errors=True)
        passed = sum(self.results)
        print(f"{passed} passed, {len(self.results) - passed} failed", flush=True)
        return 0 if self.results and all(self.results) else 1


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", dest="binary", default=os.environ.get("TUS_SERVER_BIN", "target/debug/tus-axum"))
    parser.add_argument("--topology", choices=["s3-redis", "fs-file"], required=True)
    parser.add_argument("--cases", default="takeover,clients,harness")
    parser.add_argument("--seed", type=int, default=int(os.environ.get("TUS_SCALE_SEED", random.randrange(1 << 31))))
    parser.add_argument("--size-mib", type=int, default=0, help="size of each client upload (default: 128 fs, 24 s3)")
    parser.add_argument("--takeovers", type=int, default=3)
    parser.add_argument("--harness-cycles", type=int, default=15)
    parser.add_argument("--client-timeout", type=int, default=180)
    parser.add_argument("--long", action="store_true", default=os.environ.get("TUS_SCALE_LONG") == "1")
    args = parser.parse_args()
    if not args.size_mib:
        args.size_mib = 128 if args.topology == "fs-file" else 24
    if args.long:
        args.size_mib = max(args.size_mib, 96)
        args.takeovers = max(args.takeovers, 9)
        args.harness_cycles = max(args.harness_cycles, 60)
        args.client_timeout = max(args.client_timeout, 600)
    if not cluster.have_haproxy():
        raise SystemExit("scale_test: haproxy not found (apt-get install -y haproxy)")
    print(f"# seed {args.seed} (TUS_SCALE_SEED={args.seed} replays the kill plan)", flush=True)
    # SIGTERM (a CI timeout) unwinds through the finally blocks, which stop every process.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    return Runner(args).run()


if __name__ == "__main__":
    sys.exit(main())
