#!/usr/bin/env python3
"""Crash-kill harness: concurrent uploads against a real tus server that is
killed with SIGKILL at random moments and restarted, many times.

Every upload resumes from the offset HEAD reports after each restart. At
the end every upload must be complete and its bytes (read back by GET and,
for the filesystem store, from `{dir}/{id}.bin`) must have the expected
sha256. Throughout, an offset the server acknowledged (an `Upload-Offset` in
a 2xx answer) must never be lost, and no request may get a 5xx.

The uploads mix the ways bytes arrive: plain PATCH chunks, PATCHes cut off
mid-body by the client, checksummed chunks (`Upload-Checksum`, staged by the
store), creation-with-upload and deferred length. Each upload's bytes, chunk
sizes, interruptions and the kill moments come from one seed, printed at
the start (`TUS_CRASH_SEED` or `--seed` replays the same plan; thread
scheduling still varies).

The harness answers statuses as real tus clients do (tus-js-client, tuspy):
a 409 (a stale offset, or a PATCH interrupted by a newer request for the
upload) or a 423 (locked, or the lock service unavailable) makes it ask HEAD
and go on from there; any other 4xx is a failure (tus-js-client would give
up). A 5xx from the server is a failure too, except the codes listed with
`--allow-5xx` (fault tests, where the store is down on purpose). A client
cut-off PATCH waits until the server answered or closed it, so it cannot
reach the server after the next request and interrupt it; behind a balancer
that can still happen (the balancer hangs up on the server later), and the
409 the live PATCH then gets is retried like any other.

With `--instances N` (N > 1) the server runs as N instances behind HAProxy
(round-robin, no stickiness; scripts/cluster.py) sharing `--dir` and
whatever store and locker TUS_SERVER_ARGS name; each kill cycle kills one
instance and starts it again, and a 502/503/504 answered by HAProxy itself
(not by an instance: no `ERR_` code) counts as a request lost to a kill.

Usage (from the repository root, after `cargo build -p tus-axum-example`):

    python3 scripts/crash_harness.py [--bin target/debug/tus-axum] [--seed N]
        [--cycles 40] [--uploads 6] [--max-size-mib 3] [--timeout 150]
        [--instances 1] [--allow-5xx CODE,...] [--max-request-seconds S]

Environment:
    TUS_SERVER_BIN     the server binary (default target/debug/tus-axum)
    TUS_SERVER_ARGS    extra arguments appended to the server command, split
                       like a shell would (e.g. an S3 store's flags)
    TUS_CRASH_SEED     the seed (default: random)
    TUS_CRASH_DISK_CHECK=0  skip the on-disk check (stores that are not the fs store)

The server is started as `BIN --listen 127.0.0.1:PORT --base-path /files/
--dir DIR [TUS_SERVER_ARGS...]`. Only the Python standard library is used.
"""

import argparse
import base64
import hashlib
import http.client
import os
import random
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster  # noqa: E402  (scripts/cluster.py, next to this file)
from testlib import free_port, wait_for_port  # noqa: E402

BASE = "/files/"
OOS = "application/offset+octet-stream"
# How long a final whose partials are all complete may go unassembled: a kill
# between a partial's last byte and the assembly is repaired by the next
# server that reads the final (in the background) or by a restarted one.
ASSEMBLY_REPAIR_SECONDS = 10


def log(message):
    print(f"crash-harness: {message}", flush=True)


class Failure(Exception):
    """A broken guarantee."""


class Server:
    """The server process; restarted over the same directory after each kill."""

    behind_balancer = False

    def __init__(self, binary, port, directory, extra_args, log_file):
        self.command = [
            binary,
            "--listen",
            f"127.0.0.1:{port}",
            "--base-path",
            BASE,
            "--dir",
            directory,
            *extra_args,
        ]
        self.port = port
        self.log_file = log_file
        self.process = None
        self.starts = 0

    def start(self, timeout=30.0):
        env = dict(os.environ, RUST_LOG=os.environ.get("RUST_LOG", "warn"))
        self.process = subprocess.Popen(
            self.command, stdout=self.log_file, stderr=self.log_file, env=env
        )
        self.starts += 1
        wait_for_port(self.port, self.process, timeout, f"server (start {self.starts})", Failure)

    def kill(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def disrupt(self, plan):
        """One kill cycle: SIGKILL, a short pause, start again."""
        self.kill()
        time.sleep(plan.uniform(0.0, 0.2))
        self.start()

    def describe(self):
        return f"{self.starts} server starts ({self.starts - 1} kills)"


class Balanced:
    """N instances behind HAProxy; a kill cycle kills one of them."""

    behind_balancer = True

    def __init__(self, binary, instances, directory, extra_args, log_file):
        self.workdir = tempfile.mkdtemp(prefix="tus-cluster-")
        self.cluster = cluster.Cluster(binary, instances, directory, extra_args, self.workdir, log_file)
        self.port = self.cluster.port

    def start(self):
        try:
            self.cluster.start()
        except (cluster.ClusterError, OSError) as error:
            raise Failure(str(error)) from error

    def disrupt(self, plan):
        """Kills one instance, pauses, starts it again (one at a time)."""
        index = plan.randrange(len(self.cluster.instances))
        self.cluster.kill(index)
        time.sleep(plan.uniform(0.0, 0.5))
        try:
            self.cluster.restart(index, wait_up=False)
        except cluster.ClusterError as error:
            raise Failure(str(error)) from error

    def stop(self):
        self.cluster.stop()
        try:
            os.unlink(os.path.join(self.workdir, "haproxy.sock"))
        except OSError:
            pass
        for name in os.listdir(self.workdir):
            os.unlink(os.path.join(self.workdir, name))
        os.rmdir(self.workdir)

    def describe(self):
        served = self.cluster.served()
        return (f"{len(self.cluster.instances)} instances behind haproxy, {self.cluster.kills} kills; "
                f"requests per instance {served}")


class Upload:
    """One upload's plan and client state; driven by one worker thread."""

    MODES = ("plain", "checksum", "with-upload", "deferred", "interrupting", "concat")

    def __init__(self, index, rng, mode, data):
        self.index = index
        self.rng = rng
        self.mode = mode
        self.data = data
        self.sha256 = hashlib.sha256(data).hexdigest()
        self.parts = []  # the partial uploads of a "concat" upload
        self.assembly_deadline = None  # see ASSEMBLY_REPAIR_SECONDS
        self.path = None
        self.acknowledged = 0  # highest offset the server confirmed in a 2xx
        self.done = False
        self.failed = False  # a broken guarantee was reported; not checked further
        self.requests = 0
        self.interrupted = 0
        self.retries = 0
        self.lost = 0  # PATCHes that got no answer (the server died under them)

    @classmethod
    def plan(cls, worker, upload_round, seed, max_size):
        """The upload a worker makes in a round: its mode, bytes and (for
        concatenation) partials all follow from the seed."""
        rng = random.Random(f"{seed}/{worker}/{upload_round}")
        mode = cls.MODES[(worker + upload_round) % len(cls.MODES)]
        data = rng.randbytes(rng.randint(max_size // 4, max_size))
        upload = cls(f"{worker}.{upload_round}", rng, mode, data)
        if mode == "concat":
            cuts = sorted(rng.sample(range(1, len(data)), 2))
            bounds = [0, *cuts, len(data)]
            upload.parts = [
                cls(f"{upload.index}/{i}", rng, "partial", data[start:end])
                for i, (start, end) in enumerate(zip(bounds, bounds[1:]))
            ]
        return upload

    def name(self):
        return f"upload {self.index} ({self.mode}, {len(self.data)} bytes, {self.path})"

    def chunk_size(self):
        return self.rng.choice((4096, 65536, 300_007, 1 << 20))


# The status of each 5xx code `--allow-5xx` may name (to recognise a bodiless HEAD answer).
CODE_STATUS = {
    "ERR_INTERNAL_SERVER_ERROR": 500,
    "ERR_SERVER_SHUTTING_DOWN": 503,
    "ERR_STORAGE_UNAVAILABLE": 503,
    "ERR_STORAGE_FULL": 507,
}

PACE_BYTES = 32 * 1024
PACE_SECONDS = 0.01


def paced(body):
    """The body in 32 KiB pieces, 10 ms apart (about 3 MiB/s), so kills land mid-body."""
    for start in range(0, len(body), PACE_BYTES):
        if start:
            time.sleep(PACE_SECONDS)
        yield body[start : start + PACE_BYTES]


class Client:
    """One HTTP/1.1 connection per request, so a kill never poisons a pool."""

    def __init__(self, port, stop, observe=None):
        self.port = port
        self.stop = stop
        self.observe = observe  # called with (method, seconds) after every request

    def request(self, method, path, headers=None, body=b""):
        """Sends one request; returns (status, headers) or None if the server is down."""
        headers = {"Tus-Resumable": "1.0.0", "Content-Length": str(len(body)), **(headers or {})}
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        started = time.monotonic()
        try:
            connection.request(method, path, body=paced(body), headers=headers)
            response = connection.getresponse()
            payload = response.read()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, payload
        except (OSError, http.client.HTTPException):
            return None
        finally:
            connection.close()
            if self.observe is not None:
                self.observe(method, time.monotonic() - started)

    def interrupted_patch(self, path, offset, declared, sent):
        """Announces `declared` bytes, sends only `sent`, and hangs up its
        sending side; then waits (at most 5 s) until the server answered or
        closed the connection, so this request cannot reach the server after
        the next one (where it would interrupt it)."""
        head = (
            f"PATCH {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nTus-Resumable: 1.0.0\r\n"
            f"Upload-Offset: {offset}\r\nContent-Type: {OOS}\r\nContent-Length: {declared}\r\n\r\n"
        ).encode()
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=5) as sock:
                sock.sendall(head + sent)
                sock.shutdown(socket.SHUT_WR)
                deadline = time.monotonic() + 5
                while time.monotonic() < deadline and sock.recv(4096):
                    pass
        except OSError:
            pass


class Harness:
    def __init__(self, args):
        self.args = args
        self.failures = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.kills_over = threading.Event()
        self.deadline = time.monotonic() + args.timeout
        self.behind_balancer = False
        self.allowed_5xx = {}  # "status CODE" -> how often an allowed 5xx was answered
        self.slowest = (0.0, None)  # the longest request (seconds, method)

    def observe(self, method, seconds):
        """Records a request's duration; with --max-request-seconds, a longer one is a failure (a hang)."""
        with self.lock:
            if seconds > self.slowest[0]:
                self.slowest = (seconds, method)
        limit = self.args.max_request_seconds
        if limit and seconds > limit:
            self.fail(f"a {method} took {seconds:.1f}s, over --max-request-seconds {limit}")

    def fail(self, message, upload=None):
        """Records a broken guarantee; the upload it concerns is given up."""
        with self.lock:
            self.failures.append(message)
            if len(self.failures) <= 50:
                log(f"FAIL: {message}")
        if upload is not None:
            upload.failed = upload.done = True

    def check_offset(self, upload, offset, what):
        """An acknowledged offset never goes back; no offset passes the size."""
        if offset < upload.acknowledged:
            self.fail(f"{upload.name()}: {what} reports offset {offset} below the acknowledged {upload.acknowledged}", upload)
        if offset > len(upload.data):
            self.fail(f"{upload.name()}: {what} reports offset {offset} past the size {len(upload.data)}", upload)
        return not upload.failed

    def acknowledge(self, upload, offset):
        if self.check_offset(upload, offset, "a 2xx"):
            upload.acknowledged = max(upload.acknowledged, offset)

    def classify(self, upload, status, body, what):
        """What a client does with an answer: "ok" (2xx), "retry" (ask HEAD
        again: 409, 423, an allowed 5xx), "lost" (the balancer's own 5xx: the
        instance died under the request) or "failed" (recorded)."""
        if 200 <= status < 300:
            return "ok"
        if status in (409, 423):
            upload.retries += 1
            return "retry"
        if status >= 500:
            code = body.split(b":", 1)[0].decode(errors="replace")
            if not body and what.startswith("HEAD"):
                # A HEAD answer has no body: go by the status of the allowed codes.
                code = next((c for c in self.args.allow_5xx if CODE_STATUS.get(c) == status), code)
            if self.behind_balancer and status in (502, 503, 504) and not code.startswith("ERR_"):
                upload.lost += 1
                return "lost"
            if code in self.args.allow_5xx:
                upload.retries += 1
                with self.lock:
                    self.allowed_5xx[f"{status} {code}"] = self.allowed_5xx.get(f"{status} {code}", 0) + 1
                return "retry"
        self.fail(f"{upload.name()}: {what} answered {status}: {body[:200]!r}", upload)
        return "failed"

    def pause(self):
        time.sleep(0.02)

    def create(self, client, upload):
        size = len(upload.data)
        headers = {"Upload-Metadata": f"index {base64.b64encode(str(upload.index).encode()).decode()}"}
        body = b""
        if upload.mode == "deferred":
            headers["Upload-Defer-Length"] = "1"
        else:
            headers["Upload-Length"] = str(size)
        if upload.mode == "partial":
            headers["Upload-Concat"] = "partial"
        if upload.mode == "with-upload":
            body = upload.data[: upload.chunk_size()]
            headers["Content-Type"] = OOS
        answer = client.request("POST", BASE, headers, body)
        if answer is None:
            return
        status, response_headers, payload = answer
        if self.classify(upload, status, payload, "POST") != "ok":
            return
        if status != 201:
            self.fail(f"{upload.name()}: POST answered {status}", upload)
            return
        location = response_headers.get("location", "")
        upload.path = urllib.parse.urlsplit(location).path
        if "upload-offset" in response_headers:
            self.acknowledge(upload, int(response_headers["upload-offset"]))

    def step(self, client, upload):
        """One round: HEAD, then send the next chunk from the reported offset."""
        answer = client.request("HEAD", upload.path)
        if answer is None:
            return
        status, headers, payload = answer
        if self.classify(upload, status, payload, "HEAD") != "ok":
            return
        if status != 200 or "upload-offset" not in headers:
            self.fail(f"{upload.name()}: HEAD answered {status} without Upload-Offset", upload)
            return
        offset = int(headers["upload-offset"])
        if not self.check_offset(upload, offset, "HEAD"):
            return
        upload.acknowledged = max(upload.acknowledged, offset)
        size = len(upload.data)
        length_known = "upload-length" in headers
        if offset == size and (length_known or upload.mode != "deferred"):
            upload.done = True
            return
        chunk = upload.data[offset : offset + upload.chunk_size()]
        upload.requests += 1
        if upload.mode in ("interrupting", "partial") and upload.rng.random() < 0.4 and len(chunk) > 1:
            cut = upload.rng.randint(1, len(chunk) - 1)
            client.interrupted_patch(upload.path, offset, len(chunk), chunk[:cut])
            upload.interrupted += 1
            return
        headers = {"Content-Type": OOS, "Upload-Offset": str(offset)}
        if upload.mode == "deferred" and not length_known and offset + len(chunk) == size:
            headers["Upload-Length"] = str(size)
        if upload.mode == "checksum" or (upload.mode != "deferred" and upload.rng.random() < 0.3):
            digest = base64.b64encode(hashlib.sha1(chunk).digest()).decode()
            headers["Upload-Checksum"] = f"sha1 {digest}"
        answer = client.request("PATCH", upload.path, headers, chunk)
        if answer is None:
            upload.lost += 1
            return
        status, response_headers, payload = answer
        verdict = self.classify(upload, status, payload, f"PATCH at {offset}")
        if verdict == "ok" and status == 204:
            self.acknowledge(upload, int(response_headers["upload-offset"]))
        elif verdict == "ok":
            self.fail(f"{upload.name()}: PATCH at {offset} answered {status}: {payload[:200]!r}", upload)
        elif verdict == "retry":
            self.pause()  # ask HEAD again, as clients do

    def assembly_pending(self, upload):
        """Whether the final may still be assembled by a repair: allowed for
        a bounded time after its partials were all seen complete."""
        now = time.monotonic()
        if upload.assembly_deadline is None:
            upload.assembly_deadline = now + ASSEMBLY_REPAIR_SECONDS
        return now < upload.assembly_deadline

    def concat_step(self, client, upload):
        """Partials first, then the final upload (while they are unfinished),
        then the partials' bytes; done when HEAD of the final shows it whole."""
        for part in upload.parts:
            if part.path is None:
                self.create(client, part)
                return
        if upload.path is None:
            references = " ".join(part.path for part in upload.parts)
            answer = client.request("POST", BASE, {"Upload-Concat": f"final;{references}"})
            if answer is None:
                return
            upload.requests += 1
            status, headers, payload = answer
            if self.classify(upload, status, payload, "POST final") != "ok":
                return
            if status == 201:
                upload.path = urllib.parse.urlsplit(headers.get("location", "")).path
            else:
                self.fail(f"{upload.name()}: POST of the final answered {status}: {payload[:200]!r}", upload)
            return
        for part in upload.parts:
            if part.failed:
                self.fail(f"{upload.name()}: partial {part.index} failed", upload)
                return
            if not part.done:
                before = part.requests
                self.step(client, part)
                upload.requests += part.requests - before
                return
        answer = client.request("HEAD", upload.path)
        if answer is None:
            return
        status, headers, payload = answer
        if self.classify(upload, status, payload, "HEAD final") != "ok":
            return
        offset = headers.get("upload-offset")
        if status == 200 and offset == str(len(upload.data)):
            upload.done = True
        elif status == 200 and offset is None and self.assembly_pending(upload):
            # A kill between a partial's last byte and the assembly: the
            # server that reads the final next assembles it in the background
            # (or at its start after a kill). Ask again shortly.
            self.pause()
        else:
            # Every partial is complete: the final must be assembled by now
            # (by the PATCH that completed the last one, or by the server's
            # recovery sweep when it starts again after a kill).
            self.fail(
                f"{upload.name()}: HEAD of the final answered {status}, offset {offset} after its partials completed",
                upload,
            )

    def work(self, worker, uploads):
        """Drives uploads one after another until the kills are over, then
        finishes the current one; every upload it started goes into `uploads`."""
        client = Client(self.args.port, self.stop, self.observe)
        upload_round = 0
        while not self.stop.is_set() and time.monotonic() < self.deadline:
            upload = Upload.plan(worker, upload_round, self.args.seed, self.args.max_size_mib << 20)
            uploads.append(upload)
            upload_round += 1
            while not self.stop.is_set() and not upload.done and time.monotonic() < self.deadline:
                before = upload.requests
                if upload.mode == "concat":
                    self.concat_step(client, upload)
                elif upload.path is None:
                    self.create(client, upload)
                else:
                    self.step(client, upload)
                if upload.requests == before:
                    self.pause()
            if self.kills_over.is_set():
                return

    def verify(self, uploads, directory):
        client = Client(self.args.port, self.stop)
        for upload in uploads:
            if upload.failed:
                continue
            if upload.path is None or not upload.done:
                self.fail(f"{upload.name()}: not finished within the time limit")
                continue
            answer = client.request("GET", upload.path)
            if answer is None:
                self.fail(f"{upload.name()}: GET got no answer")
                continue
            status, _, body = answer
            if status != 200 or hashlib.sha256(body).hexdigest() != upload.sha256:
                self.fail(f"{upload.name()}: GET answered {status} with {len(body)} bytes, sha256 differs")
            if self.args.disk_check:
                upload_id = upload.path.rstrip("/").rsplit("/", 1)[-1]
                try:
                    with open(os.path.join(directory, f"{upload_id}.bin"), "rb") as file:
                        on_disk = hashlib.sha256(file.read()).hexdigest()
                except OSError as error:
                    self.fail(f"{upload.name()}: data file unreadable: {error}")
                    continue
                if on_disk != upload.sha256:
                    self.fail(f"{upload.name()}: the data file's sha256 differs")

    def topology(self, directory, log_file):
        """The server(s) the harness talks to: one process, or instances behind HAProxy."""
        args = self.args
        if args.instances > 1:
            if not cluster.have_haproxy():
                raise Failure("--instances needs haproxy (apt-get install -y haproxy)")
            self.behind_balancer = True
            return Balanced(args.binary, args.instances, directory, args.server_args, log_file)
        server = Server(args.binary, free_port(), directory, args.server_args, log_file)
        return server

    def run(self, disruptor=None, directory=None):
        """Runs the workers while `disruptor.disrupt(plan)` is called
        `--cycles` times (default: kill cycles of the topology), then checks
        every upload. `directory` is the servers' `--dir` (default: a fresh
        temporary one). Returns the exit code."""
        args = self.args
        log(f"seed {args.seed} (replay with TUS_CRASH_SEED={args.seed}); {args.cycles} disruption cycles, "
            f"{args.uploads} uploads of up to {args.max_size_mib} MiB"
            + (f", {args.instances} instances behind haproxy" if args.instances > 1 else ""))
        plan = random.Random(args.seed)
        per_worker = [[] for _ in range(args.uploads)]
        server_log = tempfile.NamedTemporaryFile(prefix=f"tus-crash-{args.seed}-", suffix=".log", delete=False)
        scratch = None if directory else tempfile.TemporaryDirectory(prefix="tus-crash-")
        directory = directory or scratch.name
        topology = None
        started = time.monotonic()
        with server_log:
            try:
                topology = self.topology(directory, server_log)
                args.port = topology.port
                disruptor = disruptor or topology
                workers = [
                    threading.Thread(target=self.work, args=(i, per_worker[i]), daemon=True)
                    for i in range(args.uploads)
                ]
                topology.start()
                for worker in workers:
                    worker.start()
                for cycle in range(args.cycles):
                    if time.monotonic() > self.deadline:
                        log(f"time is up after {cycle} disruption cycles")
                        break
                    time.sleep(plan.uniform(0.05, args.max_kill_delay))
                    disruptor.disrupt(plan)
                # The last start keeps running: every upload in flight must now finish.
                self.kills_over.set()
                for worker in workers:
                    worker.join(timeout=max(0.0, self.deadline - time.monotonic()))
                self.stop.set()
                uploads = [upload for uploads in per_worker for upload in uploads]
                self.verify(uploads, directory)
            except Failure as error:
                self.fail(str(error))
            finally:
                self.stop.set()
                description = ""
                if topology is not None:
                    try:
                        description = (disruptor or topology).describe()
                    except (OSError, ValueError):
                        description = "(no statistics)"
                    topology.stop()
            elapsed = time.monotonic() - started
            uploads = [upload for uploads in per_worker for upload in uploads]
            total = len(uploads)
            requests = [part for upload in uploads for part in upload.parts] + uploads
            log(f"{total} uploads, {sum(len(u.data) for u in uploads) / (1 << 20):.1f} MiB: "
                f"{sum(u.requests for u in uploads)} PATCH/POST requests, "
                f"{sum(u.interrupted for u in requests)} cut off by the client, "
                f"{sum(u.lost for u in requests)} cut off by a kill, "
                f"{sum(u.retries for u in requests)} retried after 409/423/allowed 5xx, "
                f"{sum(1 for u in uploads if u.done)} done")
            if self.allowed_5xx:
                log(f"allowed 5xx answers: {self.allowed_5xx}")
            log(f"slowest request: {self.slowest[1]} in {self.slowest[0]:.2f}s")
            log(f"{description} in {elapsed:.1f}s")
            leftovers = sorted(n for n in os.listdir(directory) if not n.endswith((".bin", ".info", ".lock")))
            if leftovers:
                # Harmless: a stage file is reused or removed by the upload's next
                # checksummed append or its termination; a sidecar temp file belongs
                # to a creation that never completed.
                log(f"{len(leftovers)} temporary file(s) left by kills: {', '.join(leftovers[:3])}...")
        if scratch is not None:
            scratch.cleanup()
        if self.failures:
            log(f"{len(self.failures)} failure(s) with seed {args.seed}; server log kept at {server_log.name}")
            return 1
        os.unlink(server_log.name)
        log(f"all {total} uploads complete with the right sha256")
        return 0


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", dest="binary", default=os.environ.get("TUS_SERVER_BIN", "target/debug/tus-axum"))
    parser.add_argument("--seed", type=int, default=int(os.environ.get("TUS_CRASH_SEED", random.randrange(1 << 32))))
    parser.add_argument("--cycles", type=int, default=40, help="kill/restart cycles (at most)")
    parser.add_argument("--uploads", type=int, default=6, help="concurrent uploads (one worker each)")
    parser.add_argument("--max-size-mib", type=int, default=2, help="largest upload, in MiB")
    parser.add_argument("--max-kill-delay", type=float, default=1.0, help="longest run between kills, seconds")
    parser.add_argument("--timeout", type=float, default=150.0, help="overall time limit, seconds")
    parser.add_argument("--instances", type=int, default=1, help="server instances (more than 1: behind haproxy)")
    # A storage backend that is briefly unreachable (an S3 call timing out on a
    # loaded machine) is a retryable answer every client resumes from, not a
    # broken guarantee: it is counted and reported, not failed.
    parser.add_argument("--allow-5xx", default="ERR_STORAGE_UNAVAILABLE",
                        help="comma-separated ERR_ codes whose 5xx is retried, not a failure")
    parser.add_argument("--max-request-seconds", type=float, default=0.0,
                        help="a request taking longer is a failure (a hang); 0: no limit")
    args = parser.parse_args(argv)
    args.server_args = shlex.split(os.environ.get("TUS_SERVER_ARGS", ""))
    args.disk_check = os.environ.get("TUS_CRASH_DISK_CHECK", "1") != "0"
    args.allow_5xx = {code for code in args.allow_5xx.split(",") if code}
    return args


def main():
    args = parse_args()
    # Turn SIGTERM (a CI timeout) into an exception, so the server is stopped on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if not os.access(args.binary, os.X_OK):
        log(f"server binary {args.binary!r} not found; build it with `cargo build -p tus-axum-example`")
        return 2
    return Harness(args).run()


if __name__ == "__main__":
    sys.exit(main())
