"""An HTTP/1.1 proxy for the tus-upload tests that logs every request and injects faults.

It understands just enough HTTP/1.1 to forward requests and answers one by one over
keep-alive connections (Content-Length and chunked bodies, trailers included), so it
can log each request (method, path, Upload-Offset, body bytes, checksum headers,
status) and fail it on purpose:

  - cut the connection in the middle of a request body every N forwarded body bytes
    (the server sees a broken PATCH, the client a reset);
  - answer a request itself with a status (5xx, 423, 429 + Retry-After, 409, ...),
    without forwarding it;
  - refuse connections for a while (the listening socket is closed, then reopened on
    the same port);
  - flip one byte of a request body (to prove the server checks checksums);
  - hide the answers' Tus-* headers (a server that speaks only the IETF draft);
  - terminate TLS with a given certificate.

Faults follow a deterministic plan (see `Plan`), so a test that uses them cannot flake.
Runs its asyncio loop in a background thread:

    proxy = FaultProxy("http://127.0.0.1:8080", plan=Plan(cut_every=3 << 20)).start()
    ... proxy.endpoint ... proxy.log ...
    proxy.stop()

Standard library only; loopback only.
"""

import asyncio
import dataclasses
import ssl
import threading
import time
import urllib.parse

READ_BLOCK = 256 * 1024
HEAD_LIMIT = 64 * 1024
REASONS = {409: "Conflict", 423: "Locked", 429: "Too Many Requests", 460: "Checksum Mismatch",
           500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}


@dataclasses.dataclass
class Plan:
    """What goes wrong, and when. Counters are over requests of `methods` (PATCH by default)."""

    # Cut the connection once this many more body bytes have been forwarded (0: never).
    cut_every: int = 0
    # Statuses answered by the proxy itself: the n-th matching request (1-based) -> status.
    statuses: dict = dataclasses.field(default_factory=dict)
    # Retry-After value sent with 429 and 503 answers.
    retry_after: str = "1"
    # Before forwarding the n-th matching request, refuse connections for this many seconds.
    refuse_at: int = 0
    refuse_seconds: float = 0.0
    # Flip one byte in the body of these matching requests (1-based).
    corrupt: tuple = ()
    # The n-th matching request stalls: nothing of it is read or forwarded for this
    # many seconds, then the connection is cut.
    stall_at: int = 0
    stall_seconds: float = 0.0
    # Which requests the counters count.
    methods: tuple = ("PATCH",)
    # Drop the answers' tus headers (Tus-*): the server then looks like one that
    # speaks only the IETF draft.
    hide_tus: bool = False


@dataclasses.dataclass
class Entry:
    """One request as the proxy saw it."""

    time: float
    connection: int
    method: str
    path: str
    headers: dict
    body_bytes: int = 0
    status: int = 0
    fault: str = ""

    @property
    def offset(self):
        value = self.headers.get("upload-offset")
        return int(value) if value is not None and value.isdigit() else None


class Cut(Exception):
    """The plan says: drop this connection now."""


class FaultProxy:
    def __init__(self, upstream: str, plan: Plan = None, tls: tuple = None, name: str = "proxy"):
        url = urllib.parse.urlsplit(upstream)
        if url.hostname not in ("127.0.0.1", "localhost"):
            raise ValueError(f"refusing non-loopback upstream {upstream}")
        self.upstream = (url.hostname, url.port or 80)
        self.plan = plan or Plan()
        self.tls = tls  # (certfile, keyfile) to serve https
        self.name = name
        self.log: list[Entry] = []
        self.port = None
        self.faults: list[str] = []
        self._counted = 0
        self._forwarded_since_cut = 0
        self._connections = 0
        self._lock = threading.Lock()
        self._loop = None
        self._server = None
        self._thread = None
        self._ready = threading.Event()
        self._refusing_until = 0.0

    # ------------------------------------------------------------------ control

    @property
    def endpoint(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self.port}/files/"

    def start(self):
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("proxy did not start")
        return self

    def stop(self):
        if self._loop is not None and self._loop.is_running():
            try:
                asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
            except Exception:  # noqa: BLE001 - stopping best-effort
                pass
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    async def _shutdown(self):
        """Closes the listener and every connection still open."""
        if self._server is not None:
            self._server.close()
        tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def entries(self, method=None):
        with self._lock:
            return [e for e in self.log if method is None or e.method == method]

    def forwarded_body_bytes(self, method="PATCH"):
        return sum(e.body_bytes for e in self.entries(method))

    def mark(self):
        """The log length now: later entries belong to a later run."""
        with self._lock:
            return len(self.log)

    def set_plan(self, plan: Plan):
        with self._lock:
            self.plan = plan
            self._counted = 0
            self._forwarded_since_cut = 0

    # ------------------------------------------------------------------ server

    def _run(self):
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._listen(0))
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            if self._server is not None:
                self._server.close()
            self._loop.close()

    def _ssl_context(self):
        if not self.tls:
            return None
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*self.tls)
        return context

    async def _listen(self, port):
        self._server = await asyncio.start_server(
            self._serve, "127.0.0.1", port, reuse_address=True, ssl=self._ssl_context(), limit=HEAD_LIMIT)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _refuse(self, seconds: float):
        """Closes the listening socket for `seconds`: new connections are refused."""
        self._server.close()
        await asyncio.sleep(seconds)
        for attempt in range(50):
            try:
                await self._listen(self.port)
                return
            except OSError:
                await asyncio.sleep(0.1)
        raise RuntimeError("could not listen again")

    async def _serve(self, client_reader, client_writer):
        with self._lock:
            self._connections += 1
            connection = self._connections
        upstream = None
        graceful = False
        try:
            while True:
                head = await read_head(client_reader)
                if head is None:
                    return
                request_line, headers, raw_headers = head
                method, target, _ = request_line.split(" ", 2)
                entry = Entry(time.time(), connection, method, target, headers)
                with self._lock:
                    self.log.append(entry)
                    counted = method in self.plan.methods
                    if counted:
                        self._counted += 1
                    number = self._counted if counted else 0
                    plan = self.plan
                if counted and number == plan.refuse_at and plan.refuse_seconds > 0:
                    entry.fault = f"refuse {plan.refuse_seconds}s"
                    self.faults.append(entry.fault)
                    await self._refuse(plan.refuse_seconds)
                    return  # This connection is dropped too.
                if counted and number == plan.stall_at and plan.stall_seconds > 0:
                    # Nothing reaches the server and nothing comes back: only the
                    # client's watchdog can end this.
                    entry.fault = f"stall {plan.stall_seconds}s"
                    self.faults.append(entry.fault)
                    await asyncio.sleep(plan.stall_seconds)
                    return
                status = plan.statuses.get(number) if counted else None
                if status:
                    entry.status = status
                    entry.fault = f"status {status}"
                    self.faults.append(entry.fault)
                    # Like a server: read the body, answer, close.
                    await self._forward_body(client_reader, None, headers, entry, False)
                    await answer(client_writer, status, plan.retry_after)
                    graceful = True
                    return
                if upstream is None:
                    upstream = await asyncio.open_connection(*self.upstream, limit=HEAD_LIMIT)
                up_reader, up_writer = upstream
                up_writer.write((request_line + "\r\n").encode("latin-1") + raw_headers + b"\r\n")
                corrupt = counted and number in plan.corrupt
                if corrupt:
                    entry.fault = "corrupt"
                    self.faults.append("corrupt")
                await self._forward_body(client_reader, up_writer, headers, entry, corrupt)
                keep = await forward_answer(up_reader, client_writer, method, entry, plan.hide_tus)
                if not keep:
                    return
        except Cut:
            return
        except (ConnectionError, asyncio.IncompleteReadError, OSError, ValueError):
            return
        except asyncio.CancelledError:
            return  # The proxy is stopping.
        finally:
            if graceful:
                client_writer.close()
            for writer in (None if graceful else client_writer, upstream[1] if upstream else None):
                if writer is not None:
                    try:
                        writer.transport.abort()
                    except Exception:  # noqa: BLE001 - closing best-effort
                        pass

    async def _forward_body(self, reader, writer, headers, entry, corrupt):
        """Copies a request body (Content-Length or chunked), cutting or corrupting per plan."""
        flipped = False

        def transform(block: bytes) -> bytes:
            nonlocal flipped
            if corrupt and not flipped and block:
                flipped = True
                middle = len(block) // 2
                return block[:middle] + bytes([block[middle] ^ 0xFF]) + block[middle + 1:]
            return block

        async def send(block: bytes):
            if not block:
                return
            if writer is None:  # Discarding.
                entry.body_bytes += len(block)
                return
            cut_every = self.plan.cut_every
            if entry.method in self.plan.methods and cut_every:
                with self._lock:
                    room = cut_every - self._forwarded_since_cut
                    if len(block) >= room:
                        self._forwarded_since_cut = 0
                        cut = True
                    else:
                        self._forwarded_since_cut += len(block)
                        cut = False
                if cut:
                    part = block[:max(room, 0)]
                    writer.write(part)
                    await writer.drain()
                    entry.body_bytes += len(part)
                    entry.fault = entry.fault or "cut"
                    self.faults.append("cut")
                    raise Cut()
            writer.write(block)
            await writer.drain()
            entry.body_bytes += len(block)

        def out(data: bytes):
            if writer is not None:
                writer.write(data)

        if headers.get("transfer-encoding", "").lower() == "chunked":
            while True:
                size_line = await reader.readuntil(b"\r\n")
                size = int(size_line.split(b";")[0].strip(), 16)
                out(size_line)
                if size == 0:
                    # Trailers, then the empty line.
                    while True:
                        line = await reader.readuntil(b"\r\n")
                        out(line)
                        if line == b"\r\n":
                            break
                        name = line.split(b":", 1)[0].strip().lower().decode("latin-1")
                        entry.headers["trailer:" + name] = line.split(b":", 1)[1].strip().decode("latin-1")
                    if writer is not None:
                        await writer.drain()
                    return
                left = size
                while left:
                    block = await reader.read(min(left, READ_BLOCK))
                    if not block:
                        raise ConnectionError("client closed in a chunk")
                    left -= len(block)
                    await send(transform(block))
                out(await reader.readexactly(2))
        else:
            left = int(headers.get("content-length", "0") or 0)
            while left:
                block = await reader.read(min(left, READ_BLOCK))
                if not block:
                    raise ConnectionError("client closed in the body")
                left -= len(block)
                await send(transform(block))
            if writer is not None:
                await writer.drain()


async def read_head(reader):
    try:
        raw = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    lines = raw.decode("latin-1").split("\r\n")
    request_line = lines[0]
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    raw_headers = b"".join(line.encode("latin-1") + b"\r\n" for line in lines[1:] if line)
    return request_line, headers, raw_headers


async def answer(writer, status, retry_after):
    reason = REASONS.get(status, "Injected")
    body = f"injected {status} by the test proxy\n".encode()
    extra = f"Retry-After: {retry_after}\r\n" if status in (429, 503) else ""
    writer.write((f"HTTP/1.1 {status} {reason}\r\nTus-Resumable: 1.0.0\r\nContent-Type: text/plain\r\n"
                  f"{extra}Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body)
    await writer.drain()


async def forward_answer(reader, writer, method, entry, hide_tus=False):
    """Copies one answer (without its Tus-* headers if `hide_tus`); returns whether the
    connection stays open."""
    while True:
        head = await read_head(reader)
        if head is None:
            raise ConnectionError("upstream closed")
        status_line, headers, raw_headers = head
        if hide_tus:
            raw_headers = b"".join(line + b"\r\n" for line in raw_headers.split(b"\r\n")
                                   if line and not line.lower().startswith(b"tus-"))
        status = int(status_line.split(" ", 2)[1])
        writer.write((status_line + "\r\n").encode("latin-1") + raw_headers + b"\r\n")
        if status >= 200 or status == 101:
            break
        await writer.drain()  # 1xx: another head follows.
    entry.status = status
    if method == "HEAD" or status in (204, 304):
        pass
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            line = await reader.readuntil(b"\r\n")
            writer.write(line)
            size = int(line.split(b";")[0].strip(), 16)
            if size == 0:
                while True:
                    trailer = await reader.readuntil(b"\r\n")
                    writer.write(trailer)
                    if trailer == b"\r\n":
                        break
                break
            writer.write(await reader.readexactly(size + 2))
    elif "content-length" in headers:
        left = int(headers["content-length"])
        while left:
            block = await reader.read(min(left, READ_BLOCK))
            if not block:
                raise ConnectionError("upstream closed in the body")
            left -= len(block)
            writer.write(block)
    else:
        # Delimited by close.
        while True:
            block = await reader.read(READ_BLOCK)
            if not block:
                break
            writer.write(block)
        await writer.drain()
        return False
    await writer.drain()
    return headers.get("connection", "").lower() != "close"


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="logging, fault-injecting HTTP/1.1 proxy (tests only)")
    parser.add_argument("upstream")
    parser.add_argument("--cut-every", type=int, default=0)
    args = parser.parse_args()
    proxy = FaultProxy(args.upstream, Plan(cut_every=args.cut_every)).start()
    print(proxy.endpoint, flush=True)
    try:
        while True:
            time.sleep(1)
            for e in proxy.entries()[-5:]:
                pass
    except KeyboardInterrupt:
        proxy.stop()
