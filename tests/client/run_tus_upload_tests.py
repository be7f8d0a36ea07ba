#!/usr/bin/env python3
"""tus-upload (our Rust client) against tus servers nobody here wrote, and against ours.

    TUS_UPLOAD_BIN=target/debug/tus-upload TUS_AXUM_BIN=target/debug/tus-axum \\
        TUS_ACTIX_BIN=target/debug/tus-actix python3 tests/client/run_tus_upload_tests.py \\
        [-k SUBSTRING] [--servers node,tuspy,rustus,axum-fs,axum-s3]

Servers: @tus/server 2.4.5 + @tus/file-store (node), tuspyserver 4.4.3 under uvicorn,
rustus 0.5.10, and our tus-axum on the filesystem and on S3 (Garage, when TUS_S3_ENDPOINT
and TUS_S3_BUCKET are set). scripts/setup-peers.sh installs the peers.

Per server, every request goes through tests/client/fault_proxy.py, which logs it (so a
test can assert, say, that the first PATCH after a rerun starts at a non-zero offset) and,
where a scenario says so, breaks it. Scenarios per server:
  chunked        a file in small chunks (rustus also halves its chunk on 413: 256 KiB limit)
  kill-resume    kill -9 mid-upload, rerun with the same --state: the same upload continues
                 from a non-zero offset, and the server receives less than twice the file
  faults         connections cut every ~3 MB, refused for 2 s, a request held unanswered
                 (the stall watchdog), answers 503, 423, 429 with Retry-After, 409 and 500:
                 the upload finishes, one upload, never from zero
  stdin          a pipe of unknown length (creation-defer-length, Upload-Length on the last PATCH)
  parallel       3 parts (concatenation), killed and rerun: every part continues
  checksum       checksums where advertised (a flipped byte is refused, resent and
                 accepted), and never sent where not
  auto           --protocol auto chooses tus 1.0.0 (every server here advertises Tus-Version)
Once: a cookie-sticky HAProxy in front of three independent tus-axum instances (killed and
rerun, the upload finishes on the instance that created it), TLS with a self-signed CA
(--insecure, --cacert, and a refusal without them), --proxy, exit codes, Ctrl-C, and peak memory for
a large sparse file and for stdin (TUS_UPLOAD_MEMORY_SIZE, default 1 GiB in CI), and the
IETF draft (--protocol ietf): a chunked upload at interop 9, 8 and 6 against tus-axum; kill -9
and rerun (HEAD, then the same upload from a non-zero offset) at 9 and 6; connections cut and
a 409 at 8; --protocol auto choosing the draft where the proxy hides the Tus-* headers; a
creation carrying the whole file killed mid-body after its 104 named the upload,
then resumed; tus-actix (no 104) at 9, and killed and rerun at 8.

Prints "ok - NAME", "skip - NAME: REASON" or "not ok - NAME: REASON" per case, then a
summary; exits 0 only if nothing failed. Standard library only; loopback only.
"""

import argparse
import contextlib
import hashlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
PEERS = HERE / "peers"
sys.path.insert(0, str(HERE))
from fault_proxy import FaultProxy, Plan  # noqa: E402

MIB = 1 << 20
SEED = 13
START_TIMEOUT = 30.0
RUN_TIMEOUT = float(os.environ.get("TUS_UPLOAD_TIMEOUT", "120"))
# Fast retries for tests; the budget still bounds every loop.
FAST_RETRY = ["--retry-delay", "0.1", "--retry-max-delay", "1", "--stall-timeout", "15", "--retries", "40"]
# The faults scenario stalls one PATCH for STALL_HOLD s; the watchdog gives up after STALL_TIMEOUT.
STALL_TIMEOUT, STALL_HOLD = 2, 8.0


class Failure(Exception):
    pass


class Skip(Exception):
    pass


def diag(message):
    for line in str(message).splitlines() or [""]:
        print(f"# {line}", flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(MIB):
            digest.update(block)
    return digest.hexdigest()


def make_file(path, size, seed):
    rng = random.Random(seed)
    with open(path, "wb") as f:
        left = size
        while left:
            block = rng.randbytes(min(MIB, left))
            f.write(block)
            left -= len(block)
    return sha256_file(path)


def wait_http(url, timeout=START_TIMEOUT, proc=None, method="OPTIONS"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise Failure(f"server exited with {proc.returncode}")
        try:
            request = urllib.request.Request(url, method=method)
            with urllib.request.urlopen(request, timeout=2) as response:
                return response
        except urllib.error.HTTPError as error:
            return error
        except OSError as error:
            last = error
        time.sleep(0.1)
    raise Failure(f"{url} not ready within {timeout:.0f} s: {last}")


def stop_process(proc, grace=5.0):
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()  # actix (rustus) waits for hung connections on SIGTERM.
        proc.wait(10)


# ------------------------------------------------------------------ servers


class Server:
    """A tus server on 127.0.0.1, started in `workdir`."""

    name = "?"

    def __init__(self, workdir):
        self.workdir = Path(workdir) / self.name
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.data = self.workdir / "data"
        self.data.mkdir(exist_ok=True)
        self.proc = None
        self.port = None
        self.extensions = set()

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.port}/files/"

    def command(self):
        raise NotImplementedError

    def env(self):
        return None

    def start(self):
        self.port = free_port()
        log = open(self.workdir / "server.log", "ab")
        self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     env=self.env(), cwd=self.workdir)
        log.close()
        response = wait_http(self.endpoint, proc=self.proc)
        self.extensions = {e.strip() for e in (response.headers.get("Tus-Extension") or "").split(",") if e.strip()}
        diag(f"{self.name} ready at {self.endpoint}: {', '.join(sorted(self.extensions))}")

    def stop(self):
        stop_process(self.proc)
        self.proc = None

    def data_file(self, upload_id):
        return self.data / upload_id

    def sha256_of(self, url):
        upload_id = urllib.parse.urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]
        path = self.data_file(upload_id)
        if not path.exists():
            raise Failure(f"{self.name}: no data file {path} for {url}")
        return sha256_file(path)

    def log_tail(self):
        try:
            return (self.workdir / "server.log").read_text(errors="replace")[-2000:]
        except OSError:
            return ""


class NodeServer(Server):
    name = "node"

    def command(self):
        return [os.environ.get("NODE", "node"), str(PEERS / "tus_node_server.mjs"), str(self.port), str(self.data)]


class TuspyServer(Server):
    name = "tuspy"

    def command(self):
        return [str(PEERS / ".venv" / "bin" / "uvicorn"), "--app-dir", str(PEERS), "tuspyserver_app:app",
                "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning"]

    def env(self):
        return dict(os.environ, TUS_DIR=str(self.data))


class RustusServer(Server):
    name = "rustus"

    def command(self):
        binary = os.environ.get("RUSTUS_BIN") or shutil.which("rustus") or str(Path.home() / ".cargo/bin/rustus")
        # Default body limit on purpose (256 KiB): the client halves its chunk on 413.
        return [binary, "--host", "127.0.0.1", "--port", str(self.port), "--data-dir", str(self.data),
                "--info-dir", str(self.data), "--log-level", "WARN"]


class AxumServer(Server):
    name = "axum-fs"

    def __init__(self, workdir, extra=(), name=None):
        if name:
            self.name = name
        super().__init__(workdir)
        self.extra = list(extra)

    def command(self):
        return [os.environ["TUS_AXUM_BIN"], "--listen", f"127.0.0.1:{self.port}", "--dir", str(self.data),
                "--sync", "never", *self.extra]

    def data_file(self, upload_id):
        return self.data / f"{upload_id}.bin"


class ActixServer(AxumServer):
    """tus-actix (our actix-web example) on the fs store: it speaks the IETF draft without 104."""

    name = "actix-fs"

    def command(self):
        return [os.environ["TUS_ACTIX_BIN"], "--listen", f"127.0.0.1:{self.port}", "--dir", str(self.data),
                "--sync", "never", *self.extra]


class AxumS3Server(AxumServer):
    name = "axum-s3"

    def __init__(self, workdir):
        extra = ["--s3-bucket", os.environ["TUS_S3_BUCKET"], "--s3-endpoint", os.environ["TUS_S3_ENDPOINT"],
                 "--s3-region", os.environ.get("TUS_S3_REGION", "us-east-1"),
                 "--s3-prefix", f"tus-upload-{int(time.time() * 1000)}/"]
        super().__init__(workdir, extra)

    def sha256_of(self, url):
        """The upload's sha256, read back by GET from the server itself (not
        through a case's proxy). http.client returns a body cut short without
        an error, so the bytes are counted against Content-Length: a short read
        is reported as one (with the server's log) and read once more, instead
        of passing for different content."""
        direct = urllib.parse.urlsplit(url)._replace(netloc=f"127.0.0.1:{self.port}").geturl()
        got, length = 0, None
        for attempt in (1, 2):
            digest, got = hashlib.sha256(), 0
            with urllib.request.urlopen(direct, timeout=60) as response:
                length = response.headers.get("Content-Length")
                while block := response.read(MIB):
                    digest.update(block)
                    got += len(block)
            if length is None or got == int(length):
                return digest.hexdigest()
            diag(f"{self.name}: GET {direct} ended after {got} of {length} bytes (read {attempt}); "
                 f"server log:\n{self.log_tail()}")
        raise Failure(f"{self.name}: GET {direct} ended early twice ({got} of {length} bytes)")


# ------------------------------------------------------------------ running tus-upload


class Run:
    def __init__(self, proc, stdout, stderr, seconds):
        self.returncode = proc.returncode if proc else None
        self.stdout = stdout
        self.stderr = stderr
        self.seconds = seconds

    @property
    def url(self):
        lines = self.stdout.strip().splitlines()
        return lines[-1] if lines else ""

    def expect(self, code, what):
        if self.returncode != code:
            raise Failure(f"{what}: exit {self.returncode}, expected {code}\n{self.stderr[-3000:]}")
        return self


class Context:
    def __init__(self, workdir):
        self.workdir = Path(workdir)
        self.binary = os.environ["TUS_UPLOAD_BIN"]
        self.files = {}

    def file(self, size):
        if size not in self.files:
            path = self.workdir / f"source-{size}.bin"
            self.files[size] = (path, make_file(path, size, SEED + size))
        return self.files[size]

    def state(self, name):
        path = self.workdir / f"{name}.state.json"
        path.unlink(missing_ok=True)
        return path

    def command(self, endpoint, source, *args):
        return [self.binary, "--endpoint", endpoint, "--no-proxy", *args, str(source)]

    def run(self, endpoint, source, *args, stdin=None, timeout=RUN_TIMEOUT):
        start = time.monotonic()
        try:
            proc = subprocess.run(self.command(endpoint, source, *args), stdin=stdin or subprocess.DEVNULL,
                                  capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as error:
            raise Failure(f"tus-upload did not finish within {timeout:.0f} s\n{(error.stderr or b'')[-2000:]}")
        return Run(proc, proc.stdout, proc.stderr, time.monotonic() - start)

    def start(self, endpoint, source, *args, stdin=None):
        return subprocess.Popen(self.command(endpoint, source, *args), stdin=stdin or subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def kill_when(proc, condition, what, timeout=60.0, sig=signal.SIGKILL):
    """Sends `sig` to `proc` once `condition()` holds; fails if it ends first."""
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None:
            out, err = proc.communicate()
            raise Failure(f"tus-upload ended (exit {proc.returncode}) before {what}\n{err[-2000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            proc.communicate()
            raise Failure(f"timed out waiting for {what}")
        time.sleep(0.02)
    proc.send_signal(sig)
    try:
        out, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    return Run(proc, out, err, 0)


def stored_url(state):
    """The single upload URL in a state file, if any."""
    try:
        uploads = json.loads(state.read_text())["uploads"]
    except (OSError, ValueError, KeyError):
        return None
    urls = [entry.get("upload_url") for entry in uploads.values() if entry.get("upload_url")]
    return urls[0] if len(urls) == 1 else None


def body_bytes(entries):
    return sum(e.body_bytes for e in entries if e.method in ("PATCH", "POST"))


def kill_and_rerun(ctx, proxy, path, args, condition, what):
    """Starts tus-upload, kills it with SIGKILL once `condition()` holds, reruns the same
    command to the end. Returns the rerun and the proxy log mark between the two runs."""
    proc = ctx.start(proxy.endpoint, path, *args)
    kill_when(proc, condition, what)
    mark = proxy.mark()
    return ctx.run(proxy.endpoint, path, *args).expect(0, "the rerun"), mark


def check_continued(proxy, mark, size, start=0):
    """The requests after `mark` continued an upload: no creation, the first PATCH at a
    non-zero offset, and less than twice the file sent since `start`. Returns that offset."""
    later = proxy.entries()[mark:]
    if any(e.method == "POST" for e in later):
        raise Failure("the rerun created a new upload")
    first_patch = next((e for e in later if e.method == "PATCH"), None)
    if first_patch is None or not first_patch.offset:
        raise Failure(f"the rerun's first PATCH starts at offset {first_patch.offset if first_patch else None}")
    total = body_bytes(proxy.entries()[start:])
    if total >= 2 * size:
        raise Failure(f"the server received {total} bytes for a {size}-byte file")
    return first_patch.offset


def check_sha(server, url, expected):
    got = server.sha256_of(url)
    if got != expected:
        raise Failure(f"{server.name}: content of {url} differs (sha256 {got[:16]}…, expected {expected[:16]}…)")


def proxied(server, plan=None):
    return FaultProxy(f"http://127.0.0.1:{server.port}", plan or Plan(), name=f"proxy-{server.name}").start()


# ------------------------------------------------------------------ scenarios per server


def chunked(ctx, server):
    path, sha = ctx.file(12 * MIB + 4321)
    proxy = proxied(server)
    try:
        run = ctx.run(proxy.endpoint, path, "--state", str(ctx.state(f"{server.name}-chunked")), "--chunk-size", "1M",
                      *FAST_RETRY).expect(0, "upload")
        check_sha(server, run.url, sha)
        patches = proxy.entries("PATCH")
        if any(e.body_bytes > MIB for e in patches):
            raise Failure("a PATCH carried more than --chunk-size")
        offsets = [e.offset for e in patches if e.status in (200, 204)]
        if offsets != sorted(offsets) or len(set(offsets)) != len(offsets):
            raise Failure(f"PATCH offsets are not increasing: {offsets}")
        # Every request names the protocol version (but OPTIONS, as the spec says).
        missing = [e.method for e in proxy.entries()
                   if e.method not in ("OPTIONS", "GET") and "tus-resumable" not in e.headers]
        if missing:
            raise Failure(f"requests without Tus-Resumable: {missing}")
        return f"{len(patches)} PATCHes, {run.seconds:.1f} s"
    finally:
        proxy.stop()


def kill_resume(ctx, server):
    size = 24 * MIB + 77
    path, sha = ctx.file(size)
    proxy = proxied(server)
    state = ctx.state(f"{server.name}-kill")
    args = ("--state", str(state), "--chunk-size", "1M", "--limit-rate", "12M", *FAST_RETRY)
    try:
        run, mark = kill_and_rerun(ctx, proxy, path, args, lambda: body_bytes(proxy.entries()) >= size * 0.4,
                                   "40% sent")
        check_sha(server, run.url, sha)
        offset = check_continued(proxy, mark, size)
        killed_after = body_bytes(proxy.entries()[:mark])
        total = body_bytes(proxy.entries())
        return f"killed after {killed_after >> 20} MiB, rerun from offset {offset}, {total / size:.2f}x sent"
    finally:
        proxy.stop()


def faults(ctx, server):
    size = 16 * MIB + 999
    path, sha = ctx.file(size)
    plan = Plan(cut_every=3 * MIB + 12345, statuses={3: 503, 5: 423, 7: 429, 9: 409, 11: 500},
                refuse_at=13, refuse_seconds=2.0, stall_at=15, stall_seconds=STALL_HOLD)
    proxy = proxied(server, plan)
    try:
        run = ctx.run(proxy.endpoint, path, "--state", str(ctx.state(f"{server.name}-faults")), "--chunk-size", "1M",
                      *FAST_RETRY, "--stall-timeout", str(STALL_TIMEOUT)).expect(0, "upload through faults")
        check_sha(server, run.url, sha)
        seen = set(proxy.faults)
        wanted = {"status 503", "status 423", "status 429", "status 409", "status 500", "refuse 2.0s", "cut",
                  f"stall {STALL_HOLD}s"}
        if not wanted <= seen:
            raise Failure(f"faults not all injected: missing {sorted(wanted - seen)} (the upload was too short?)")
        if sum(1 for e in proxy.entries("POST")) != 1:
            raise Failure("more than one upload was created")
        entries = proxy.entries()
        for index, entry in enumerate(entries):
            if entry.fault == "status 409":
                following = next((e for e in entries[index + 1:] if e.method in ("HEAD", "PATCH")), None)
                if following is None or following.method != "HEAD":
                    raise Failure("a 409 was not followed by a HEAD")
            if entry.fault == "status 429":
                following = next((e for e in entries[index + 1:]), None)
                if following is None or following.time - entry.time < 0.9:
                    raise Failure("Retry-After: 1 was not honoured")
        stalled = next(e for e in entries if e.fault.startswith("stall"))
        after_stall = next((e for e in entries if e.time > stalled.time and e.connection != stalled.connection), None)
        if after_stall is None or after_stall.time - stalled.time > STALL_HOLD - 1:
            raise Failure("the stalled request was not abandoned by the watchdog")
        total = body_bytes(entries)
        if total >= 2 * size:
            raise Failure(f"the server received {total} bytes for a {size}-byte file")
        cuts = proxy.faults.count("cut")
        return f"{cuts} cuts, {len(proxy.faults) - cuts} other faults, {run.seconds:.1f} s, {total / size:.2f}x sent"
    finally:
        proxy.stop()


def stdin(ctx, server):
    path, sha = ctx.file(6 * MIB + 5)
    proxy = proxied(server)
    try:
        cat = subprocess.Popen(["cat", str(path)], stdout=subprocess.PIPE)
        try:
            run = ctx.run(proxy.endpoint, "-", "--chunk-size", "1M", *FAST_RETRY, stdin=cat.stdout)
        finally:
            cat.stdout.close()
            cat.wait(10)
        run.expect(0, "upload from stdin")
        check_sha(server, run.url, sha)
        post = proxy.entries("POST")[0]
        if post.headers.get("upload-defer-length") != "1":
            raise Failure("the creation did not defer the length")
        declared = [e for e in proxy.entries("PATCH") if "upload-length" in e.headers]
        if not declared or declared[-1].headers["upload-length"] != str(6 * MIB + 5):
            raise Failure("no PATCH declared the final Upload-Length")
        return f"{len(proxy.entries('PATCH'))} PATCHes, length declared at offset {declared[-1].offset}"
    finally:
        proxy.stop()


def parallel(ctx, server):
    if "concatenation" not in server.extensions:
        raise Skip(f"{server.name} does not advertise concatenation")
    size = 18 * MIB + 3
    path, sha = ctx.file(size)
    proxy = proxied(server)
    state = ctx.state(f"{server.name}-parallel")
    args = ("--state", str(state), "--parallel", "3", "--chunk-size", "1M", "--limit-rate", "12M", *FAST_RETRY)
    try:
        def parts_created_and_40_percent():
            posts = [e for e in proxy.entries("POST") if e.status == 201]
            return len(posts) >= 3 and body_bytes(proxy.entries()) >= size * 0.4

        run, mark = kill_and_rerun(ctx, proxy, path, args, parts_created_and_40_percent, "3 parts and 40% sent")
        check_sha(server, run.url, sha)
        later = proxy.entries()[mark:]
        partial = [e for e in later if e.method == "POST" and e.headers.get("upload-concat") == "partial"]
        final = [e for e in later if e.method == "POST" and e.headers.get("upload-concat", "").startswith("final;")]
        if partial:
            raise Failure(f"the rerun created {len(partial)} new parts")
        if len(final) != 1:
            raise Failure(f"expected one final concatenation, got {len(final)}")
        resumed = {e.path for e in later if e.method == "PATCH" and e.offset}
        total = body_bytes(proxy.entries())
        if total >= 2 * size:
            raise Failure(f"the server received {total} bytes for a {size}-byte file")
        return f"{len(resumed)} parts continued from a non-zero offset, {total / size:.2f}x sent"
    finally:
        proxy.stop()


def checksum(ctx, server):
    path, sha = ctx.file(4 * MIB + 1)
    advertised = "checksum" in server.extensions
    modes = [()]
    if "checksum-trailer" in server.extensions:
        modes.append(("--checksum-trailer",))
    details = []
    for extra in modes:
        proxy = proxied(server, Plan(corrupt=(2,)) if advertised else Plan())
        try:
            run = ctx.run(proxy.endpoint, path, "--no-state", "--chunk-size", "256K", "--checksum", "auto", *extra,
                          *FAST_RETRY).expect(0, f"upload with --checksum auto {' '.join(extra)}")
            check_sha(server, run.url, sha)
            patches = proxy.entries("PATCH")
            sent = [e for e in patches if "upload-checksum" in e.headers or "trailer:upload-checksum" in e.headers]
            if not advertised:
                if sent:
                    raise Failure("a checksum was sent to a server that does not advertise the extension")
                refused = ctx.run(proxy.endpoint, path, "--no-state", "--checksum", "sha1", *FAST_RETRY)
                refused.expect(3, "--checksum sha1 against a server without checksums")
                raise Skip(f"{server.name} does not advertise checksum (checked: none sent, and an explicit "
                           "--checksum sha1 is refused with exit 3)")
            if len(sent) != len(patches):
                raise Failure(f"{len(patches) - len(sent)} PATCHes without a checksum")
            corrupted = [e for e in patches if e.fault == "corrupt"]
            if not corrupted or corrupted[0].status not in (460, 417):
                raise Failure(f"the corrupted PATCH was answered {corrupted[0].status if corrupted else None}")
            trailer = "trailer:upload-checksum" in patches[0].headers
            if trailer != bool(extra):
                raise Failure(f"checksum in a {'trailer' if trailer else 'header'} with {extra or 'defaults'}")
            value = patches[0].headers.get("trailer:upload-checksum") or patches[0].headers["upload-checksum"]
            details.append(f"{value.split()[0]} in a {'trailer' if trailer else 'header'}, "
                           f"flipped byte refused ({corrupted[0].status}) and resent")
        finally:
            proxy.stop()
    return "; ".join(details)


def auto(ctx, server):
    """--protocol auto picks tus 1.0.0 where the server advertises it (every server here does)."""
    path, sha = ctx.file(MIB + 3)
    proxy = proxied(server)
    try:
        run = ctx.run(proxy.endpoint, path, "--no-state", "--protocol", "auto", *FAST_RETRY).expect(0, "upload")
        check_sha(server, run.url, sha)
        if "protocol: tus 1.0.0" not in run.stderr:
            raise Failure(f"auto did not report choosing tus: {run.stderr.strip()[-500:]}")
        writes = [e for e in proxy.entries() if e.method in ("POST", "PATCH", "HEAD")]
        if not writes or not all("tus-resumable" in e.headers for e in writes):
            raise Failure("a request of the upload lacks Tus-Resumable")
        if any("upload-draft-interop-version" in e.headers for e in writes):
            raise Failure("a request of the upload speaks the IETF draft")
        probes = len(proxy.entries("OPTIONS"))
        return f"tus 1.0.0 after {probes} OPTIONS"
    finally:
        proxy.stop()


SCENARIOS = [chunked, kill_resume, faults, stdin, parallel, checksum, auto]


# ------------------------------------------------------------------ once


def sticky_load_balancer(ctx, workdir):
    haproxy = os.environ.get("HAPROXY_BIN") or shutil.which("haproxy") or "/usr/sbin/haproxy"
    if not Path(haproxy).exists():
        raise Failure("haproxy is not installed (scripts/setup-peers.sh installs it)")
    backends = [AxumServer(workdir, name=f"lb-axum-{i}") for i in range(1, 4)]
    lb_dir = Path(workdir) / "haproxy"
    lb_dir.mkdir(exist_ok=True)
    lb = None
    proxy = None
    try:
        for backend in backends:
            backend.start()
        port = free_port()
        servers = "\n".join(f"    server s{i} 127.0.0.1:{b.port} cookie s{i}" for i, b in enumerate(backends, 1))
        config = lb_dir / "haproxy.cfg"
        config.write_text(f"""global
    maxconn 256
defaults
    mode http
    timeout connect 5s
    timeout client 60s
    timeout server 60s
frontend tus
    bind 127.0.0.1:{port}
    default_backend axums
backend axums
    balance roundrobin
    cookie SRV insert indirect nocache
{servers}
""")
        subprocess.run([haproxy, "-c", "-q", "-f", str(config)], check=True, timeout=30)
        lb = subprocess.Popen([haproxy, "-db", "-f", str(config)], stdout=open(lb_dir / "haproxy.log", "wb"),
                              stderr=subprocess.STDOUT)
        wait_http(f"http://127.0.0.1:{port}/files/", proc=lb)
        proxy = FaultProxy(f"http://127.0.0.1:{port}", name="proxy-lb").start()
        size = 24 * MIB + 11
        path, sha = ctx.file(size)
        state = ctx.state("sticky")
        args = ("--state", str(state), "--chunk-size", "1M", "--limit-rate", "12M", *FAST_RETRY)
        run, mark = kill_and_rerun(ctx, proxy, path, args, lambda: body_bytes(proxy.entries()) >= size * 0.4,
                                   "40% sent")
        offset = check_continued(proxy, mark, size)
        upload_id = run.url.rstrip("/").rsplit("/", 1)[-1]
        holders = [b for b in backends if (b.data / f"{upload_id}.bin").exists()]
        if len(holders) != 1:
            raise Failure(f"the upload is on {len(holders)} instances")
        check_sha(holders[0], run.url, sha)
        if "SRV" not in state.read_text():
            raise Failure("the state file holds no SRV cookie")
        # Control: without the cookie, round robin sends a HEAD elsewhere (404).
        statuses = set()
        for _ in range(3):
            request = urllib.request.Request(run.url.replace(str(proxy.port), str(port)), method="HEAD",
                                             headers={"Tus-Resumable": "1.0.0"})
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    statuses.add(response.status)
            except urllib.error.HTTPError as error:
                statuses.add(error.code)
        if 404 not in statuses:
            raise Failure(f"control failed: without the cookie every HEAD got {statuses}")
        return f"finished on {holders[0].name} from offset {offset}; without the cookie: {sorted(statuses)}"
    finally:
        if proxy:
            proxy.stop()
        stop_process(lb)
        for backend in backends:
            backend.stop()


def tls(ctx, workdir):
    openssl = shutil.which("openssl")
    if not openssl:
        raise Failure("openssl is not installed")
    tls_dir = Path(workdir) / "tls"
    tls_dir.mkdir(exist_ok=True)
    ca_key, ca_cert = tls_dir / "ca.key", tls_dir / "ca.pem"
    key, csr, cert = tls_dir / "server.key", tls_dir / "server.csr", tls_dir / "server.pem"
    ext = tls_dir / "ext.cnf"
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
                   "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n")
    quiet = {"check": True, "timeout": 60, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca_key), "-out",
                    str(ca_cert), "-days", "2", "-subj", "/CN=tus-rs test CA"], **quiet)
    subprocess.run([openssl, "req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr),
                    "-subj", "/CN=127.0.0.1"], **quiet)
    subprocess.run([openssl, "x509", "-req", "-in", str(csr), "-CA", str(ca_cert), "-CAkey", str(ca_key),
                    "-CAcreateserial", "-out", str(cert), "-days", "2", "-extfile", str(ext)], **quiet)
    server = AxumServer(workdir, ["--relative-location"], name="tls-axum")
    proxy = None
    try:
        server.start()
        proxy = FaultProxy(f"http://127.0.0.1:{server.port}", tls=(str(cert), str(key)), name="proxy-tls").start()
        path, sha = ctx.file(2 * MIB + 9)
        refused = ctx.run(proxy.endpoint, path, "--no-state", "--retries", "2", "--retry-delay", "0.05")
        refused.expect(6, "a self-signed certificate without --cacert or --insecure")
        insecure = ctx.run(proxy.endpoint, path, "--no-state", "--insecure").expect(0, "--insecure")
        check_sha(server, insecure.url, sha)
        trusted = ctx.run(proxy.endpoint, path, "--no-state", "--cacert", str(ca_cert)).expect(0, "--cacert")
        check_sha(server, trusted.url, sha)
        if not trusted.url.startswith("https://"):
            raise Failure(f"the upload URL {trusted.url} is not https (relative Location resolved wrongly)")
        # The IETF dialect's creation goes over its own HTTP/1.1 connection (to read the 104).
        ctx.run(proxy.endpoint, path, "--no-state", "--protocol", "ietf", "--retries", "2", "--retry-delay",
                "0.05").expect(6, "--protocol ietf without --cacert or --insecure")
        for trust in (("--insecure",), ("--cacert", str(ca_cert))):
            draft = ctx.run(proxy.endpoint, path, "--no-state", "--protocol", "ietf", *trust)
            check_sha(server, draft.expect(0, f"--protocol ietf {trust[0]}").url, sha)
        return ("refused without trust (exit 6), accepted with --insecure and with --cacert; the same with "
                "--protocol ietf")
    finally:
        if proxy:
            proxy.stop()
        server.stop()


def exit_codes(ctx, workdir):
    server = AxumServer(workdir, ["--auth-token", "s3cret=alice"], name="auth-axum")
    proxy = None
    try:
        server.start()
        path, sha = ctx.file(2 * MIB + 9)
        checks = []
        ctx.run(server.endpoint, ctx.workdir / "missing.bin", "--no-state").expect(5, "a missing file")
        broken = ctx.workdir / "broken.state.json"
        broken.write_text("{ not json")
        ctx.run(server.endpoint, path, "--state", str(broken)).expect(5, "a corrupt state file")
        if broken.read_text() != "{ not json":
            raise Failure("a corrupt state file was overwritten")
        checks.append("local I/O 5")
        ctx.run(server.endpoint, path, "--no-state").expect(3, "creation without the token (401)")
        checks.append("refused 3")
        closed = f"http://127.0.0.1:{free_port()}/files/"
        gave_up = ctx.run(closed, path, "--no-state", "--retries", "2", "--retry-delay", "0.05")
        gave_up.expect(4, "nothing listening")
        checks.append("retries exhausted 4")
        ietf = ctx.run(server.endpoint, path, "--no-state", "--protocol", "ietf", "--parallel", "3")
        ietf.expect(1, "--protocol ietf --parallel 3")
        if "no concatenation" not in ietf.stderr:
            raise Failure(f"--protocol ietf --parallel 3 said: {ietf.stderr.strip()}")
        checks.append("ietf with --parallel 1")
        forward = FaultProxy(f"http://127.0.0.1:{server.port}", name="forward-proxy").start()
        try:
            via = subprocess.run([ctx.binary, "--endpoint", server.endpoint, "--no-state", "--proxy",
                                  f"http://127.0.0.1:{forward.port}", "--header", "Authorization: Bearer s3cret",
                                  str(path)], capture_output=True, text=True, timeout=RUN_TIMEOUT)
            Run(via, via.stdout, via.stderr, 0).expect(0, "--proxy")
            if not forward.entries("PATCH") or not all(e.path.startswith("http://") for e in forward.entries()):
                raise Failure("--proxy: the requests did not go through the proxy in absolute form")
        finally:
            forward.stop()
        checks.append("--proxy used")
        # Ctrl-C saves the state; a 401 on the rerun's HEAD keeps it; the next rerun continues.
        size = 12 * MIB + 1
        big, big_sha = ctx.file(size)
        state = ctx.state("sigint")
        proxy = proxied(server)
        args = ("--state", str(state), "--header", "Authorization: Bearer s3cret", "--chunk-size", "1M",
                "--limit-rate", "8M", *FAST_RETRY)
        proc = ctx.start(proxy.endpoint, big, *args)
        kill_when(proc, lambda: body_bytes(proxy.entries()) >= size // 3, "a third sent",
                  sig=signal.SIGINT).expect(130, "Ctrl-C")
        if not stored_url(state):
            raise Failure("Ctrl-C left no upload URL in the state file")
        proxy.set_plan(Plan(methods=("HEAD",), statuses={1: 401}))
        ctx.run(proxy.endpoint, big, *args).expect(3, "a rerun whose HEAD gets 401")
        if not stored_url(state):
            raise Failure("a 401 made the client forget the upload")
        proxy.set_plan(Plan())
        mark = proxy.mark()
        rerun = ctx.run(proxy.endpoint, big, *args).expect(0, "the next rerun")
        offset = check_continued(proxy, mark, size)
        check_sha(server, rerun.url, big_sha)
        checks.append(f"Ctrl-C 130, kept after a 401, resumed at {offset}")
        return ", ".join(checks)
    finally:
        if proxy:
            proxy.stop()
        server.stop()


def memory(ctx, workdir):
    size_text = os.environ.get("TUS_UPLOAD_MEMORY_SIZE", "1G")
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    size = int(size_text[:-1]) * units[size_text[-1]] if size_text[-1] in units else int(size_text)
    limit_mib = int(os.environ.get("TUS_UPLOAD_MEMORY_LIMIT_MIB", "64"))
    server = AxumServer(workdir, name="memory-axum")
    sparse = ctx.workdir / "sparse.bin"
    try:
        server.start()
        with open(sparse, "wb") as f:
            f.truncate(size)

        def peak(command, stdin=None):
            start = time.monotonic()
            proc = subprocess.Popen(command, stdin=stdin or subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE)
            result = {}

            def reap():
                _, status, usage = os.wait4(proc.pid, 0)
                result["status"] = os.waitstatus_to_exitcode(status)
                result["rss_mib"] = usage.ru_maxrss / 1024
            reaper = threading.Thread(target=reap)
            reaper.start()
            out = proc.stdout.read()
            err = proc.stderr.read()
            reaper.join(RUN_TIMEOUT)
            if reaper.is_alive():
                proc.kill()
                raise Failure("tus-upload did not finish")
            proc.returncode = result["status"]
            if result["status"] != 0:
                raise Failure(f"exit {result['status']}: {err.decode(errors='replace')[-1500:]}")
            return result["rss_mib"], out.decode().strip().splitlines()[-1], time.monotonic() - start

        # No checksums: a debug-build server hashing a GiB would take minutes, and
        # the digest changes nothing in the client's memory.
        file_rss, file_url, file_seconds = peak(ctx.command(server.endpoint, sparse, "--no-state", "--checksum", "none"))
        (server.data_file(file_url.rsplit("/", 1)[-1])).unlink()
        head = subprocess.Popen(["head", "-c", str(size), "/dev/zero"], stdout=subprocess.PIPE)
        try:
            stdin_rss, stdin_url, stdin_seconds = peak(ctx.command(server.endpoint, "-", "--checksum", "none"),
                                                       stdin=head.stdout)
        finally:
            head.stdout.close()
            head.wait(10)
        stored = server.data_file(stdin_url.rsplit("/", 1)[-1])
        if stored.stat().st_size != size:
            raise Failure(f"stdin upload stored {stored.stat().st_size} bytes, not {size}")
        stored.unlink()
        summary = (f"{size_text}: file peak RSS {file_rss:.0f} MiB ({file_seconds:.1f} s), "
                   f"stdin {stdin_rss:.0f} MiB ({stdin_seconds:.1f} s), limit {limit_mib} MiB")
        if max(file_rss, stdin_rss) > limit_mib:
            raise Failure(summary)
        return summary
    finally:
        sparse.unlink(missing_ok=True)
        server.stop()


# ------------------------------------------------------------------ the IETF draft (once)
# Against tus-axum (interop 9, 8 and 6 on one endpoint, with 104) and tus-actix (no 104).

IETF = ("--protocol", "ietf")


def check_ietf_wire(entries, version):
    """The upload's requests speak the draft at `version`, never tus; appends are partial
    uploads at the offset that was acknowledged; only the last says Upload-Complete: ?1."""
    upload = [e for e in entries if e.method in ("POST", "PATCH", "HEAD")]
    if not upload:
        raise Failure("no request of the upload reached the server")
    for entry in upload:
        if entry.headers.get("upload-draft-interop-version") != version:
            raise Failure(f"{entry.method} carries Upload-Draft-Interop-Version "
                          f"{entry.headers.get('upload-draft-interop-version')!r}, expected {version}")
        if "tus-resumable" in entry.headers:
            raise Failure(f"{entry.method} carries Tus-Resumable in the IETF dialect")
    patches = [e for e in upload if e.method == "PATCH"]
    for patch in patches:
        if patch.headers.get("content-type") != "application/partial-upload" or patch.offset is None:
            raise Failure(f"a PATCH without partial-upload/Upload-Offset: {patch.headers}")
    # A cut request has no status: only answered ones count.
    completes = [i for i, e in enumerate(upload) if e.headers.get("upload-complete") == "?1" and 200 <= e.status < 300]
    if len(completes) != 1 or any(200 <= e.status < 300 for e in upload[completes[0] + 1:] if e.method != "HEAD"):
        raise Failure("Upload-Complete: ?1 was not on the last accepted request alone")
    return patches


def ietf_upload(ctx, proxy, version, size, *extra, server=None):
    """An upload at interop `version` through `proxy`; byte-exact when `server` is given."""
    path, sha = ctx.file(size)
    mark = proxy.mark()
    run = ctx.run(proxy.endpoint, path, *IETF, "--ietf-version", version, "--chunk-size", "1M", *FAST_RETRY,
                  *extra).expect(0, f"upload at interop {version}")
    if server is not None:
        check_sha(server, run.url, sha)
    if f"interop {version}" not in run.stderr:
        raise Failure(f"tus-upload did not report interop {version}: {run.stderr.strip()[-300:]}")
    return run, check_ietf_wire(proxy.entries()[mark:], version)


@contextlib.contextmanager
def served(server, plan=None):
    """Starts `server` and a logging proxy in front of it; stops both afterwards."""
    proxy = None
    try:
        server.start()
        proxy = proxied(server, plan)
        yield proxy
    finally:
        if proxy:
            proxy.stop()
        server.stop()


def ietf_versions(ctx, workdir):
    """A chunked upload at each interop version, byte-exact on the server."""
    details = []
    server = AxumServer(workdir, name="ietf-axum")
    with served(server) as proxy:
        for version in ("9", "8", "6"):
            run, patches = ietf_upload(ctx, proxy, version, 5 * MIB + int(version), "--no-state", server=server)
            details.append(f"{version}: {len(patches)} PATCHes {run.seconds:.1f} s")
    return ", ".join(details) + "; " + ietf_limit(ctx, workdir)


def ietf_limit(ctx, workdir):
    """Upload-Limit: max-size from OPTIONS: a larger file is refused (exit 3) before any creation."""
    with served(AxumServer(workdir, ["--max-size", str(MIB)], name="ietf-limit-axum")) as proxy:
        path, _ = ctx.file(2 * MIB + 9)
        run = ctx.run(proxy.endpoint, path, *IETF, "--no-state", *FAST_RETRY).expect(3, "a file over max-size")
        if "maximum size" not in run.stderr:
            raise Failure(f"the refusal does not name the limit: {run.stderr.strip()[-300:]}")
        if [e.method for e in proxy.entries()] != ["OPTIONS"]:
            raise Failure(f"requests sent despite the limit: {[e.method for e in proxy.entries()]}")
    return "a file over Upload-Limit max-size refused after OPTIONS alone"


def ietf_kill_resume(ctx, workdir):
    """kill -9 mid-upload, rerun: HEAD reads the offset, the same upload continues from it
    (interop 9 and 6: their appends answer differently)."""
    size = 16 * MIB + 5
    path, sha = ctx.file(size)
    details = []
    server = AxumServer(workdir, name="ietf-kill-axum")
    with served(server) as proxy:
        for version in ("9", "6"):
            state = ctx.state(f"ietf-kill-{version}")
            args = (*IETF, "--ietf-version", version, "--state", str(state), "--chunk-size", "1M", "--limit-rate",
                    "12M", *FAST_RETRY)
            start = proxy.mark()
            run, mark = kill_and_rerun(ctx, proxy, path, args,
                                       lambda: body_bytes(proxy.entries()[start:]) >= size * 0.4, "40% sent")
            check_sha(server, run.url, sha)
            later = proxy.entries()[mark:]
            first = next((e for e in later if e.method in ("HEAD", "PATCH")), None)
            if first is None or first.method != "HEAD":
                raise Failure(f"interop {version}: the rerun did not start with HEAD (offset retrieval)")
            check_ietf_wire(later, version)
            offset = check_continued(proxy, mark, size, start)
            details.append(f"{version}: rerun from {offset}")
    return "; ".join(details)


def ietf_faults(ctx, workdir):
    """Connections cut every ~3 MB, a 503 and a 409 (interop 8): each is followed by HEAD,
    one upload in all, less than twice the file sent."""
    size = 16 * MIB + 5
    plan = Plan(cut_every=3 * MIB + 4321, statuses={2: 503, 4: 409})
    server = AxumServer(workdir, name="ietf-faults-axum")
    with served(server, plan) as proxy:
        ietf_upload(ctx, proxy, "8", size, "--state", str(ctx.state("ietf-faults")), server=server)
        entries = proxy.entries()
        if proxy.faults.count("cut") < 3 or "status 409" not in proxy.faults:
            raise Failure(f"faults not injected: {proxy.faults}")
        if sum(1 for e in entries if e.method == "POST") != 1:
            raise Failure("the cuts made the client create more than one upload")
        for index, entry in enumerate(entries):
            if entry.fault in ("cut", "status 409"):
                following = next((e for e in entries[index + 1:] if e.method in ("HEAD", "PATCH")), None)
                if following is None or following.method != "HEAD":
                    raise Failure(f"a {entry.fault} was not followed by a HEAD")
        total = body_bytes(entries)
        if total >= 2 * size:
            raise Failure(f"the server received {total} bytes for {size}")
        return f"{proxy.faults.count('cut')} cuts, a 503 and a 409, {total / size:.2f}x sent"


def ietf_auto(ctx, workdir):
    """--protocol auto against a server that advertises only the draft (tus-axum behind a
    proxy that hides its Tus-* headers): the draft is chosen after a second OPTIONS, and
    the upload is byte-exact."""
    server = AxumServer(workdir, name="ietf-auto-axum")
    with served(server, Plan(hide_tus=True)) as proxy:
        path, sha = ctx.file(3 * MIB + 1)
        run = ctx.run(proxy.endpoint, path, "--no-state", "--protocol", "auto", "--chunk-size", "1M",
                      *FAST_RETRY).expect(0, "auto against a draft-only server")
        check_sha(server, run.url, sha)
        if "interop 9" not in run.stderr:
            raise Failure(f"auto did not report the draft: {run.stderr.strip()[-300:]}")
        options = proxy.entries("OPTIONS")
        if len(options) != 2 or "upload-draft-interop-version" not in options[1].headers:
            raise Failure(f"expected a plain OPTIONS, then the draft's: {[e.headers for e in options]}")
        check_ietf_wire(proxy.entries(), "9")
        return "the draft (interop 9) chosen after a plain OPTIONS showed no tus"


def ietf_104(ctx, workdir):
    """The whole file in the creation request, killed mid-body: the 104 named the upload,
    the state file kept it, and the rerun continues it (no proxy: it relays 104 late)."""
    server = AxumServer(workdir, name="ietf-104-axum")
    try:
        server.start()
        size = 16 * MIB + 1
        path, sha = ctx.file(size)
        state = ctx.state("ietf-104")
        args = (*IETF, "--state", str(state), "--chunk-size", "64M", "--limit-rate", "8M", *FAST_RETRY)

        def named_and_forty_percent():
            url = stored_url(state)
            if not url:
                return False
            stored = server.data_file(url.rstrip("/").rsplit("/", 1)[-1])
            return stored.exists() and stored.stat().st_size >= size * 0.4

        proc = ctx.start(server.endpoint, path, *args)
        killed = kill_when(proc, named_and_forty_percent, "the 104 saved and 40% stored")
        if "created" not in killed.stderr:
            raise Failure(f"the killed run did not report the upload: {killed.stderr[-500:]}")
        rerun = ctx.run(server.endpoint, path, *args).expect(0, "the rerun")
        check_sha(server, rerun.url, sha)
        if "created" in rerun.stderr:
            raise Failure("the rerun created a new upload")
        resumed = [line for line in rerun.stderr.splitlines() if "resuming" in line]
        offset = int(resumed[0].rsplit(" ", 1)[-1]) if resumed else 0
        if not offset:
            raise Failure(f"the rerun did not resume from a non-zero offset: {rerun.stderr[-500:]}")
        uploads = list(server.data.glob("*.bin"))
        if len(uploads) != 1:
            raise Failure(f"{len(uploads)} uploads on the server")
        return f"creation killed with {offset} bytes stored, resumed from there"
    finally:
        server.stop()


def ietf_actix(ctx, workdir):
    """tus-actix (no 104): an upload at interop 9, and one killed and rerun at interop 8."""
    server = ActixServer(workdir)
    with served(server) as proxy:
        _, patches = ietf_upload(ctx, proxy, "9", 5 * MIB + 17, "--no-state", server=server)
        size = 12 * MIB + 3
        path, sha = ctx.file(size)
        args = (*IETF, "--ietf-version", "8", "--state", str(ctx.state("ietf-actix")), "--chunk-size", "1M",
                "--limit-rate", "8M", *FAST_RETRY)
        start = proxy.mark()
        rerun, mark = kill_and_rerun(ctx, proxy, path, args, lambda: body_bytes(proxy.entries()[start:]) >= size * 0.4,
                                     "40% sent")
        check_sha(server, rerun.url, sha)
        offset = check_continued(proxy, mark, size, start)
        check_ietf_wire(proxy.entries()[mark:], "8")
        return f"9: {len(patches)} PATCHes; 8: killed and rerun from offset {offset}"


ONCE = [sticky_load_balancer, tls, exit_codes, memory,
        ietf_versions, ietf_kill_resume, ietf_faults, ietf_auto, ietf_104, ietf_actix]


# ------------------------------------------------------------------ main


def server_classes():
    classes = [NodeServer, TuspyServer, RustusServer, AxumServer]
    if os.environ.get("TUS_S3_ENDPOINT") and os.environ.get("TUS_S3_BUCKET"):
        classes.append(AxumS3Server)
    return classes


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-k", default="", help="run only cases whose name contains this")
    parser.add_argument("--servers", default="", help="comma-separated server names (default: all)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    for variable in ("TUS_UPLOAD_BIN", "TUS_AXUM_BIN"):
        if not os.environ.get(variable):
            sys.exit(f"{variable} is not set")
    wanted_servers = {s for s in args.servers.split(",") if s}
    if os.environ.get("TUS_REQUIRE_S3") == "1" and not os.environ.get("TUS_S3_ENDPOINT"):
        sys.exit("TUS_REQUIRE_S3=1 but TUS_S3_ENDPOINT is not set")
    workdir = Path(tempfile.mkdtemp(prefix="tus-upload-tests-"))
    ctx = Context(workdir)
    results = {"ok": 0, "skip": 0, "not ok": 0}
    started = time.monotonic()

    def case(name, function, *function_args):
        if args.k and args.k not in name:
            return
        began = time.monotonic()
        try:
            detail = function(*function_args)
            print(f"ok - {name} ({time.monotonic() - began:.1f} s): {detail}", flush=True)
            results["ok"] += 1
        except Skip as skip:
            print(f"skip - {name}: {skip}", flush=True)
            results["skip"] += 1
        except Exception as error:  # noqa: BLE001 - reported, then counted
            print(f"not ok - {name}: {error}", flush=True)
            if not isinstance(error, Failure):
                diag(traceback.format_exc())
            results["not ok"] += 1

    try:
        for cls in server_classes():
            if wanted_servers and cls.name not in wanted_servers:
                continue
            names = [f"{cls.name}/{scenario.__name__.replace('_', '-')}" for scenario in SCENARIOS]
            if args.k and not any(args.k in name for name in names):
                continue
            server = cls(workdir)
            try:
                server.start()
            except Exception as error:  # noqa: BLE001
                print(f"not ok - {cls.name}/start: {error}\n# {server.log_tail()}", flush=True)
                results["not ok"] += 1
                server.stop()
                continue
            try:
                for scenario, name in zip(SCENARIOS, names):
                    case(name, scenario, ctx, server)
            finally:
                server.stop()
        if not wanted_servers:
            for function in ONCE:
                case(function.__name__.replace("_", "-"), function, ctx, workdir)
    finally:
        if args.keep:
            diag(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print(f"{results['ok']} passed, {results['skip']} skipped, {results['not ok']} failed "
          f"in {time.monotonic() - started:.0f} s", flush=True)
    sys.exit(1 if results["not ok"] else 0)


if __name__ == "__main__":
    main()
