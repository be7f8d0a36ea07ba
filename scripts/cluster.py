"""Several tus server instances behind HAProxy, for scale-out and fault tests.

Used by scripts/crash_harness.py (`--instances N`) and scripts/scale_test.py;
Python standard library only, plus the `haproxy` binary (Debian's package;
the test parts install it when missing).

    cluster = Cluster(binary, instances=3, directory=..., extra_args=[...], workdir=...)
    cluster.start()                      # every instance, then HAProxy (round-robin, no stickiness)
    cluster.port                         # the balancer's port: clients talk only to it
    cluster.kill(1); cluster.restart(1)  # SIGKILL one instance, start it again on the same port
    cluster.served()                     # requests each instance answered (HAProxy's counters)
    cluster.stop()

HAProxy health-checks every instance (OPTIONS every 250 ms, down after one
failure) and re-dispatches a request whose connection was refused to another
instance, so only requests in flight on a killed instance fail (a 502 from
HAProxy, which clients retry).
"""

import os
import signal
import socket
import subprocess
import time

from testlib import free_port, wait_for_port as _wait_for_port

BASE = "/files/"


def wait_for_port(port, process, timeout, what):
    _wait_for_port(port, process, timeout, what, ClusterError)


class ClusterError(Exception):
    """A process of the cluster failed to start or died."""


class Instance:
    """One tus server process; restarted on the same port after a kill."""

    def __init__(self, name, binary, port, directory, extra_args, log_file):
        self.name = name
        self.port = port
        self.command = [binary, "--listen", f"127.0.0.1:{port}", "--base-path", BASE, "--dir", directory, *extra_args]
        self.log_file = log_file
        self.process = None
        self.starts = 0

    def start(self, timeout=30.0):
        env = dict(os.environ, RUST_LOG=os.environ.get("RUST_LOG", "warn"))
        self.process = subprocess.Popen(
            self.command, stdout=self.log_file, stderr=self.log_file, stdin=subprocess.DEVNULL, env=env
        )
        self.starts += 1
        what = f"instance {self.name} (start {self.starts})"
        wait_for_port(self.port, self.process, timeout, what)
        # Another process may have taken the port between free_port() and
        # the bind: then ours exits (address in use) while the port answers.
        time.sleep(0.05)
        if self.process.poll() is not None:
            raise ClusterError(f"{what} exited with {self.process.returncode} (port {self.port} taken?)")

    def move_to(self, port):
        """Listens on `port` from the next start (before the balancer is configured)."""
        self.command[self.command.index(f"127.0.0.1:{self.port}")] = f"127.0.0.1:{port}"
        self.port = port

    def alive(self):
        return self.process is not None and self.process.poll() is None

    def kill(self):
        if self.alive():
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self):
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


HAPROXY_CONFIG = """\
global
    maxconn 8000
    stats socket {socket} mode 600 level admin

defaults
    mode http
    timeout connect 2s
    timeout client 120s
    timeout server 120s
    timeout http-request 15s
    timeout queue 15s
    # A refused connection (a killed instance) is retried on another instance.
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response
    option httpchk
    http-check send meth OPTIONS uri {base}
    http-check expect status 200-299
    default-server inter 250ms fastinter 250ms downinter 250ms fall 1 rise 1

frontend tus
    bind 127.0.0.1:{port}
    default_backend instances

backend instances
    # Round-robin, no stickiness: any instance may serve any request of an upload.
    balance roundrobin
    http-response set-header X-Served-By %[srv_name]
{servers}
"""


class Balancer:
    """HAProxy in front of the instances."""

    def __init__(self, port, instances, workdir, log_file):
        self.port = port
        self.socket = os.path.join(workdir, "haproxy.sock")
        self.config = os.path.join(workdir, "haproxy.cfg")
        servers = "\n".join(f"    server {i.name} 127.0.0.1:{i.port} check" for i in instances)
        with open(self.config, "w") as file:
            file.write(HAPROXY_CONFIG.format(socket=self.socket, base=BASE, port=port, servers=servers))
        self.log_file = log_file
        self.process = None

    def start(self, timeout=15.0):
        self.process = subprocess.Popen(
            ["haproxy", "-f", self.config, "-db"], stdout=self.log_file, stderr=self.log_file, stdin=subprocess.DEVNULL
        )
        wait_for_port(self.port, self.process, timeout, "haproxy")

    def command(self, line):
        """Sends one command to HAProxy's stats socket; returns its answer."""
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(5)
            sock.connect(self.socket)
            sock.sendall(line.encode() + b"\n")
            chunks = []
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
        return b"".join(chunks).decode(errors="replace")

    def server_stats(self):
        """{instance name: (status, requests answered)} from `show stat`."""
        lines = self.command("show stat").splitlines()
        if not lines or not lines[0].startswith("# "):
            return {}
        header = lines[0][2:].split(",")
        stats = {}
        for line in lines[1:]:
            row = dict(zip(header, line.split(",")))
            if row.get("pxname") == "instances" and row.get("svname") not in ("BACKEND", "FRONTEND", None):
                stats[row["svname"]] = (row.get("status", "?"), int(row.get("stot") or 0))
        return stats

    def wait_status(self, name, wanted, timeout=10.0):
        """Waits until HAProxy's health check reports instance `name` as `wanted` (UP or DOWN)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                status = self.server_stats().get(name, ("?", 0))[0]
            except OSError:
                status = "?"  # the stats socket may appear a little after the port
            if status.startswith(wanted):
                return
            time.sleep(0.05)
        raise ClusterError(f"haproxy did not see {name} {wanted} within {timeout}s")

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


class Cluster:
    """`instances` tus servers sharing `directory` (and whatever store
    `extra_args` names), behind one HAProxy."""

    def __init__(self, binary, instances, directory, extra_args, workdir, log_file):
        self.instances = [
            Instance(f"s{i}", binary, free_port(), directory, extra_args, log_file) for i in range(instances)
        ]
        self.workdir = workdir
        self.log_file = log_file
        self.port = free_port()
        self.balancer = None
        self.kills = 0

    def start(self):
        for instance in self.instances:
            for attempt in range(3):
                try:
                    instance.start()
                    break
                except ClusterError:
                    if attempt == 2:
                        raise
                    instance.move_to(free_port())
        # Configured once every instance listens, so the ports are theirs.
        self.balancer = Balancer(self.port, self.instances, self.workdir, self.log_file)
        self.balancer.start()
        for instance in self.instances:
            self.balancer.wait_status(instance.name, "UP")

    def kill(self, index):
        self.instances[index].kill()
        self.kills += 1

    def restart(self, index, wait_up=True):
        instance = self.instances[index]
        instance.start()
        if wait_up:
            self.balancer.wait_status(instance.name, "UP")

    def served(self):
        """{instance name: requests HAProxy sent it}."""
        if self.balancer is None:
            return {}
        return {name: count for name, (_, count) in self.balancer.server_stats().items()}

    def stop(self):
        if self.balancer is not None:
            self.balancer.stop()
        for instance in self.instances:
            instance.stop()


def have_haproxy():
    try:
        subprocess.run(["haproxy", "-v"], capture_output=True, check=True, timeout=10)
        return True
    except (OSError, subprocess.SubprocessError):
        return False
