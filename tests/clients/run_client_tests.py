#!/usr/bin/env python3
"""Real-client interoperability tests for the example servers (tus-axum, tus-actix), in
tus 1.0.0 and in the IETF draft (tus-js-client's ietf-draft-05 mode; ietf_upload.py, a
raw-socket client of interop 9, 8 and 6 that checks the 104 where the server sends it).

    TUS_SERVER_BIN=target/debug/tus-axum python3 tests/clients/run_client_tests.py [-k SUBSTRING] [--keep]

Starts TUS_SERVER_BIN on 127.0.0.1:<free port> with a temporary --dir, uploads a seeded
50 MiB random file with tuspy and tus-js-client (Node) in several ways, and checks each
upload with HEAD (Upload-Offset == Upload-Length == file size) and GET (sha256 of the body).
Prints "ok - NAME" / "not ok - NAME: REASON" per case, then "N passed, M failed".
Exit code 0 only if every case passed. Standard library only; the clients come from
scripts/setup-clients.sh (run automatically unless TUS_CLIENTS_SKIP_SETUP=1).

Environment:
  TUS_SERVER_BIN        path to the built server binary, tus-axum or tus-actix
                        (required unless TUS_ENDPOINT; TUS_AXUM_BIN is read as a fallback)
  TUS_ENDPOINT          use an already running tus server at this 127.0.0.1 URL instead
  TUS_AXUM_ARGS         extra tus-axum flags, split like a shell would (e.g. "--s3-bucket b --s3-endpoint URL")
  TUS_IETF_VERSIONS     interop versions of the IETF draft cases (default "9,8,6"; empty: none)
  TUS_EXPECT_104        1/0: whether the server sends 104 (default: only tus-axum does)
  TUS_CLIENTS_SKIP_SETUP=1  don't run scripts/setup-clients.sh first
  TUS_CLIENT_TIMEOUT    seconds allowed per client process (default 180)
  NODE                  node binary (default: node on PATH)
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
import time
import urllib.parse
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
VENV_PY = HERE / ".venv" / "bin" / "python"
SETUP = ROOT / "scripts" / "setup-clients.sh"

FILE_SIZE = 50 * 1024 * 1024  # 52428800
MIB5 = 5 * 1024 * 1024
ODD = 1000003
SEED = 42
LOOPBACK = {"127.0.0.1", "localhost", "::1"}

CLIENT_TIMEOUT = float(os.environ.get("TUS_CLIENT_TIMEOUT", "180"))
# The interop versions the raw-socket draft client runs (TUS_IETF_VERSIONS="9,8,6"; empty: none).
IETF_VERSIONS = [v for v in os.environ.get("TUS_IETF_VERSIONS", "9,8,6").split(",") if v.strip()]


def expects_104(binary) -> bool:
    """Whether the server sends 104 (Upload Resumption Supported): tus-axum does, tus-actix
    cannot (actix-web has no API for 1xx responses). TUS_EXPECT_104=0/1 overrides."""
    forced = os.environ.get("TUS_EXPECT_104")
    if forced is not None:
        return forced == "1"
    return binary is not None and Path(binary).name == "tus-axum"


HTTP_TIMEOUT = 30.0  # per socket operation
SETUP_TIMEOUT = 900.0
SERVER_START_TIMEOUT = 30.0
SERVER_START_TRIES = 3


class CaseFailure(Exception):
    pass


def diag(msg: str) -> None:
    """Diagnostic line: prefixed so it can't be mistaken for a result line."""
    for line in str(msg).splitlines() or [""]:
        print(f"# {line}", flush=True)


def tail(text: str, n: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-n:])


# ---------------------------------------------------------------- HTTP helpers


def _split(url: str):
    u = urllib.parse.urlsplit(url)
    if u.scheme != "http" or u.hostname not in LOOPBACK:
        raise CaseFailure(f"refusing to contact non-loopback URL {url!r}")
    path = u.path or "/"
    if u.query:
        path += "?" + u.query
    return u.hostname, u.port or 80, path


def request(method: str, url: str, headers=None, timeout: float = HTTP_TIMEOUT):
    """Return (status, headers dict lower-cased, body bytes)."""
    host, port, path = _split(url)
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request(method, path, headers=headers or {})
        resp = conn.getresponse()
        body = resp.read() if method != "HEAD" else b""
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, body
    finally:
        conn.close()


def head_upload(url: str):
    status, hdrs, _ = request("HEAD", url, {"Tus-Resumable": "1.0.0"})
    return status, hdrs


def download_sha256(url: str):
    """GET url; return (status, byte count, sha256 hex, content-length header)."""
    host, port, path = _split(url)
    conn = http.client.HTTPConnection(host, port, timeout=HTTP_TIMEOUT)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        h = hashlib.sha256()
        n = 0
        deadline = time.monotonic() + 120
        if resp.status == 200:
            while True:
                if time.monotonic() > deadline:
                    raise CaseFailure(f"GET {url}: body not read within 120 s")
                block = resp.read(1 << 20)
                if not block:
                    break
                h.update(block)
                n += len(block)
        else:
            body = resp.read(4096)
            return resp.status, body, None, resp.getheader("content-length")
        return resp.status, n, h.hexdigest(), resp.getheader("content-length")
    finally:
        conn.close()


# ---------------------------------------------------------------- setup


def make_file(path: Path) -> str:
    rng = random.Random(SEED)
    h = hashlib.sha256()
    piece = 1 << 20
    with open(path, "wb") as f:
        left = FILE_SIZE
        while left > 0:
            block = rng.randbytes(min(piece, left))
            f.write(block)
            h.update(block)
            left -= len(block)
    return h.hexdigest()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, binary: str, workdir: Path):
        self.binary = binary
        self.workdir = workdir
        self.proc = None
        self.log_path = workdir / "server.log"
        self.endpoint = None

    def start(self) -> None:
        store = self.workdir / "store"
        store.mkdir(exist_ok=True)
        last_err = "not started"
        for attempt in range(SERVER_START_TRIES):
            port = free_port()
            endpoint = f"http://127.0.0.1:{port}/files/"
            cmd = [self.binary, "--listen", f"127.0.0.1:{port}", "--base-path", "/files/", "--dir", str(store)]
            cmd += shlex.split(os.environ.get("TUS_SERVER_ARGS") or os.environ.get("TUS_AXUM_ARGS", ""))
            diag(f"starting server: {' '.join(cmd)}")
            log = open(self.log_path, "ab")
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            log.close()
            deadline = time.monotonic() + SERVER_START_TIMEOUT
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    last_err = f"server exited with code {self.proc.returncode}"
                    break
                try:
                    status, _, _ = request("OPTIONS", endpoint, timeout=2)
                    if status in (200, 204):
                        self.endpoint = endpoint
                        diag(f"server ready at {endpoint} (OPTIONS -> {status})")
                        return
                    last_err = f"OPTIONS {endpoint} -> {status}"
                except (OSError, http.client.HTTPException) as e:
                    last_err = f"OPTIONS {endpoint}: {e}"
                time.sleep(0.1)
            else:
                last_err = f"not ready within {SERVER_START_TIMEOUT:.0f} s ({last_err})"
            self.stop()
            diag(f"attempt {attempt + 1}: {last_err}")
        raise CaseFailure(f"server did not start: {last_err}")

    def check_alive(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            raise CaseFailure(f"server exited with code {self.proc.returncode}")

    def stop(self) -> None:
        p, self.proc = self.proc, None
        if p is None or p.poll() is not None:
            return
        p.terminate()
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=5)

    def log_tail(self, n: int = 30) -> str:
        try:
            return tail(self.log_path.read_text(errors="replace"), n)
        except OSError:
            return ""

    def log_size(self) -> int:
        """Where the server log ends now (a case's log starts there)."""
        try:
            return self.log_path.stat().st_size
        except OSError:
            return 0

    def log_since(self, start: int, n: int = 40) -> str:
        """The last `n` lines the server logged since `start` (one case's
        lines, not the end of the run's log)."""
        try:
            with open(self.log_path, "rb") as f:
                f.seek(start)
                return tail(f.read().decode(errors="replace"), n)
        except OSError:
            return ""


# ---------------------------------------------------------------- clients


def client_env() -> dict:
    env = dict(os.environ)
    for k in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        env.pop(k, None)
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost,::1"
    return env


def run_client(cmd) -> str:
    """Run a client script; return the last stdout line (the upload URL)."""
    t0 = time.monotonic()
    try:
        r = subprocess.run(
            [str(c) for c in cmd],
            cwd=HERE,
            env=client_env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=CLIENT_TIMEOUT,
        )
    except subprocess.TimeoutExpired as e:
        err = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else (e.stderr or "")
        diag(tail(err))
        raise CaseFailure(f"{Path(str(cmd[1])).name} timed out after {CLIENT_TIMEOUT:.0f} s")
    dt = time.monotonic() - t0
    lines = [l for l in r.stdout.splitlines() if l.strip()]
    summary = [l for l in r.stderr.splitlines() if not l.startswith("progress ")]
    if r.returncode != 0:
        diag(tail("\n".join(summary)))
        last = summary[-1] if summary else "(no stderr)"
        raise CaseFailure(f"{Path(str(cmd[1])).name} exited {r.returncode}: {last}")
    if not lines:
        raise CaseFailure(f"{Path(str(cmd[1])).name} printed no upload URL")
    diag(f"{Path(str(cmd[1])).name} {' '.join(str(c) for c in cmd[4:])} took {dt:.1f} s; " + "; ".join(summary[-3:]))
    # On loopback nothing should make a client retry: a retry means the
    # server failed a request, even when the upload then succeeds.
    retries = [line for line in summary if line.startswith("retry ")]
    if retries:
        for line in retries:
            diag(line)
        raise CaseFailure(f"{Path(str(cmd[1])).name} retried {len(retries)} time(s): {retries[0]}")
    return lines[-1].strip()


def verify_upload(url: str, sha: str) -> None:
    status, hdrs = head_upload(url)
    if status not in (200, 204):
        raise CaseFailure(f"HEAD {url} -> {status}")
    off, length = hdrs.get("upload-offset"), hdrs.get("upload-length")
    if off != str(FILE_SIZE) or length != str(FILE_SIZE):
        raise CaseFailure(f"HEAD {url}: Upload-Offset={off} Upload-Length={length}, want both {FILE_SIZE}")
    status, n, got, clen = download_sha256(url)
    if status != 200:
        raise CaseFailure(f"GET {url} -> {status}: {n[:200]!r}")
    if n != FILE_SIZE:
        raise CaseFailure(f"GET {url}: {n} bytes (Content-Length {clen}), want {FILE_SIZE}")
    if got != sha:
        raise CaseFailure(f"GET {url}: sha256 {got} != {sha}")


def interrupted_patch(endpoint: str, data: Path, cut_at: int) -> str:
    """POST a new upload, then PATCH the whole file but close the connection after
    `cut_at` body bytes (a client that dies mid-request). Returns the upload URL."""
    status, hdrs, body = request(
        "POST",
        endpoint,
        {"Tus-Resumable": "1.0.0", "Upload-Length": str(FILE_SIZE), "Content-Length": "0"},
    )
    if status != 201 or "location" not in hdrs:
        raise CaseFailure(f"POST {endpoint} -> {status}, Location {hdrs.get('location')}: {body[:200]!r}")
    url = urllib.parse.urljoin(endpoint, hdrs["location"])
    host, port, path = _split(url)
    sock = socket.create_connection((host, port), timeout=HTTP_TIMEOUT)
    try:
        head = (
            f"PATCH {path} HTTP/1.1\r\nHost: {host}:{port}\r\nTus-Resumable: 1.0.0\r\n"
            f"Upload-Offset: 0\r\nContent-Type: application/offset+octet-stream\r\n"
            f"Content-Length: {FILE_SIZE}\r\n\r\n"
        )
        sock.sendall(head.encode())
        with open(data, "rb") as f:
            left = cut_at
            while left > 0:
                block = f.read(min(1 << 20, left))
                sock.sendall(block)
                left -= len(block)
    finally:
        sock.close()
    return url


def settled_offset(url: str) -> int:
    prev = None
    for _ in range(20):
        status, hdrs = head_upload(url)
        if status not in (200, 204) or hdrs.get("upload-offset") is None:
            raise CaseFailure(f"HEAD {url} -> {status}, Upload-Offset {hdrs.get('upload-offset')}")
        off = int(hdrs["upload-offset"])
        if off == prev:
            return off
        prev = off
        time.sleep(0.3)
    raise CaseFailure(f"Upload-Offset of {url} did not settle")


# ---------------------------------------------------------------- main


def main() -> int:
    ap = argparse.ArgumentParser(description="tus real-client tests")
    ap.add_argument("-k", dest="select", default=None, help="only run cases whose name contains this")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args()

    endpoint_env = os.environ.get("TUS_ENDPOINT")
    binary = os.environ.get("TUS_SERVER_BIN") or os.environ.get("TUS_AXUM_BIN")
    node = os.environ.get("NODE") or shutil.which("node") or "node"
    py = str(VENV_PY)

    cases = [
        ("tuspy 5 MiB chunks", "tuspy", MIB5),
        ("tuspy 1000003-byte chunks", "tuspy", ODD),
        ("tus-js-client 5 MiB chunks", "tusjs", MIB5),
        ("tus-js-client 1000003-byte chunks", "tusjs", ODD),
        ("tus-js-client resume after abort", "tusjs-resume", ODD),
        ("tus-js-client abort, tuspy resume", "cross-resume", MIB5),
        ("PATCH cut mid-body, tus-js-client resumes", "cut-resume", MIB5),
        ("tus-js-client parallelUploads: 4 (concatenation)", "tusjs-parallel", MIB5),
        # The IETF draft on the same endpoint: tus-js-client's draft mode (interop 6)...
        ("tus-js-client ietf-draft-05 5 MiB chunks", "tusjs-draft", MIB5),
        ("tus-js-client ietf-draft-05 resume after abort", "tusjs-draft-resume", ODD),
        ("tus-js-client ietf-draft-05 uploadDataDuringCreation", "tusjs-draft-creation", MIB5),
        # ...and a raw-socket draft client for interop 9, 8 and 6 (104 checked where sent).
    ] + [
        (f"IETF interop {v}: {what}", f"ietf-{mode}-{v}", 0)
        for v in IETF_VERSIONS
        for mode, what in (("one", "one request"), ("parts", "chunked parts"),
                           ("resume", "interrupted, resumed"))
    ]
    if args.select:
        cases = [c for c in cases if args.select in c[0]]

    results = []

    def report(name, err):
        results.append(err is None)
        print(f"ok - {name}" if err is None else f"not ok - {name}: {err}", flush=True)

    def finish() -> int:
        passed = sum(results)
        failed = len(results) - passed
        print(f"{passed} passed, {failed} failed", flush=True)
        return 0 if failed == 0 and passed > 0 else 1

    # Turn SIGTERM into an exception so the finally blocks stop the server.
    def on_term(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_term)

    fatal = None
    if not endpoint_env and not binary:
        fatal = "TUS_SERVER_BIN is not set (path to the built tus-axum or tus-actix binary)"
    elif binary and not endpoint_env and not os.access(binary, os.X_OK):
        fatal = f"TUS_SERVER_BIN={binary} is not an executable file"
    elif endpoint_env:
        try:
            _split(endpoint_env)
        except CaseFailure as e:
            fatal = f"TUS_ENDPOINT: {e}"
    if fatal is None and os.environ.get("TUS_CLIENTS_SKIP_SETUP") != "1":
        try:
            r = subprocess.run(["bash", str(SETUP)], capture_output=True, text=True, timeout=SETUP_TIMEOUT,
                               stdin=subprocess.DEVNULL)
            if r.returncode != 0:
                diag(tail(r.stdout + r.stderr))
                fatal = f"scripts/setup-clients.sh failed with exit code {r.returncode}"
        except subprocess.TimeoutExpired:
            fatal = f"scripts/setup-clients.sh timed out after {SETUP_TIMEOUT:.0f} s"
    if fatal is None and not VENV_PY.exists():
        fatal = f"{VENV_PY} missing: run scripts/setup-clients.sh"
    if fatal is None and not (HERE / "node_modules" / "tus-js-client").is_dir():
        fatal = "tests/clients/node_modules missing: run scripts/setup-clients.sh"
    if fatal is not None:
        for name, _, _ in cases:
            report(name, fatal)
        return finish()

    workdir = Path(tempfile.mkdtemp(prefix="tus-client-tests-"))
    server = None
    try:
        data = workdir / "rand50M.bin"
        t0 = time.monotonic()
        sha = make_file(data)
        diag(f"test file {data}: {FILE_SIZE} bytes, sha256 {sha} ({time.monotonic() - t0:.1f} s)")

        if endpoint_env:
            endpoint = endpoint_env
            diag(f"using running server at {endpoint}")
        else:
            server = Server(binary, workdir)
            try:
                server.start()
            except CaseFailure as e:
                diag(server.log_tail())
                for name, _, _ in cases:
                    report(name, str(e))
                return finish()
            endpoint = server.endpoint

        for name, kind, chunk in cases:
            case_log = server.log_size() if server is not None else 0
            try:
                if server is not None:
                    server.check_alive()
                if kind == "tuspy":
                    url = run_client([py, HERE / "tuspy_upload.py", endpoint, data, chunk])
                elif kind == "tusjs":
                    url = run_client([node, HERE / "tusjs_upload.mjs", endpoint, data, chunk])
                elif kind == "tusjs-parallel":
                    url = run_client([node, HERE / "tusjs_upload.mjs", endpoint, data, chunk, "--parallel", 4])
                elif kind == "tusjs-resume":
                    url = run_client([node, HERE / "tusjs_resume.mjs", endpoint, data, chunk])
                elif kind == "tusjs-draft":
                    url = run_client([node, HERE / "tusjs_upload.mjs", endpoint, data, chunk, "--protocol", "ietf-draft-05"])
                elif kind == "tusjs-draft-creation":
                    url = run_client([node, HERE / "tusjs_upload.mjs", endpoint, data, chunk, "--protocol", "ietf-draft-05",
                                      "--data-during-creation", 1])
                elif kind == "tusjs-draft-resume":
                    url = run_client([node, HERE / "tusjs_resume.mjs", endpoint, data, chunk, "--protocol", "ietf-draft-05"])
                elif kind.startswith("ietf-"):
                    _, mode, version = kind.split("-")
                    cmd = [sys.executable, HERE / "ietf_upload.py", endpoint, data, version, mode]
                    url = run_client(cmd + (["--expect-104"] if expects_104(binary) else []))
                elif kind == "cross-resume":
                    abort_at = 20_000_000
                    url1 = run_client([node, HERE / "tusjs_upload.mjs", endpoint, data, ODD, "--abort-at", abort_at])
                    off = settled_offset(url1)
                    if not 0 < off < FILE_SIZE:
                        raise CaseFailure(f"offset after abort is {off}, want 0 < offset < {FILE_SIZE}")
                    diag(f"aborted at server offset {off}; resuming with tuspy")
                    url = run_client([py, HERE / "tuspy_upload.py", endpoint, data, chunk, "--upload-url", url1])
                    if url != url1:
                        raise CaseFailure(f"tuspy resumed into a different URL: {url1} -> {url}")
                elif kind == "cut-resume":
                    cut_at = FILE_SIZE // 2 + 12345
                    url1 = interrupted_patch(endpoint, data, cut_at)
                    off = settled_offset(url1)
                    # tus 1.0: the server SHOULD store as much of the received data as possible.
                    if not 0 < off <= cut_at:
                        raise CaseFailure(f"offset after a PATCH cut at {cut_at} bytes is {off}, want 0 < offset <= {cut_at}")
                    diag(f"PATCH cut after {cut_at} body bytes; server kept {off}; resuming with tus-js-client")
                    url = run_client([node, HERE / "tusjs_upload.mjs", endpoint, data, chunk, "--upload-url", url1])
                    if url != url1:
                        raise CaseFailure(f"tus-js-client resumed into a different URL: {url1} -> {url}")
                else:
                    raise AssertionError(kind)
                verify_upload(url, sha)
                report(name, None)
            except CaseFailure as e:
                if server is not None:
                    # This case's own server lines (the run's last lines
                    # belong to later cases and once misled a diagnosis).
                    diag(f"server log during this case:\n{server.log_since(case_log)}")
                report(name, str(e))
            except (OSError, http.client.HTTPException, ValueError) as e:
                report(name, f"{type(e).__name__}: {e}")
    finally:
        if server is not None:
            if server.endpoint is not None and not all(results):
                diag("server log tail (the last case's; each failed case printed its own above):")
                diag(server.log_tail())
            server.stop()
        if args.keep:
            diag(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return finish()


if __name__ == "__main__":
    sys.exit(main())
