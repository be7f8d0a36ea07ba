"""Helpers shared by the Python test scripts (crash_harness.py, cluster.py,
scale_test.py, hardening_test.py, fault_test.py, soak_test.py): loopback
ports, waiting for a server, one tus request. Standard library only."""

import http.client
import socket
import time


def diag(message):
    """A diagnostic line, prefixed so it is not taken for a result line."""
    for line in str(message).splitlines() or [""]:
        print(f"# {line}", flush=True)


def free_port():
    """A loopback port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port, process, timeout, what, error=RuntimeError):
    """Waits until `port` accepts connections; raises `error` if `process`
    exits first or the time is up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise error(f"{what} exited with {process.returncode} while starting")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.02)
    raise error(f"{what} did not accept connections on port {port} within {timeout}s")


def request(port, method, path, headers=None, body=b"", timeout=30.0):
    """One tus request on a fresh connection: (status, lower-cased headers, body)."""
    headers = {"Tus-Resumable": "1.0.0", "Content-Length": str(len(body)), **(headers or {})}
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        payload = response.read() if method != "HEAD" else b""
        return response.status, {k.lower(): v for k, v in response.getheaders()}, payload
    finally:
        connection.close()
