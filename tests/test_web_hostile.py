"""Hostile connections against the real server: idle floods, slowloris, huge headers, running out
of file descriptors. Whatever they do, /metrics keeps answering."""

from __future__ import annotations

import http.client
import os
import resource
import socket
import subprocess
import sys
import textwrap
import threading
import time
from types import MappingProxyType

import pytest

from exporter.http.server import Limits
from exporter.state import Account, AccountState, Snapshot
from exporter.web import ExporterApp, serve
from tests.support.net import free_port, raw_exchange, wait_for

STATES = {"000000000001": AccountState(Account(id="000000000001", name="alpha"))}


def app() -> ExporterApp:
    return ExporterApp(lambda: Snapshot(accounts=MappingProxyType(STATES)), {"discovery": 3600.0}, lambda: True)


@pytest.fixture
def start():
    running = []

    def starter(limits: Limits = Limits()) -> int:
        port = free_port()
        running.append(serve(app(), f"127.0.0.1:{port}", limits=limits))
        return port

    yield starter
    for server, thread in running:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def metrics_status(port: int, timeout: float = 5.0) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", "/metrics")
        response = connection.getresponse()
        body = response.read()
        assert response.status != 200 or b"root_account_info" in body
        return response.status
    finally:
        connection.close()


def open_idle(port: int, count: int, first_bytes: bytes = b"") -> list[socket.socket]:
    sockets = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        if first_bytes:
            sock.sendall(first_bytes)
        sockets.append(sock)
    return sockets


def closed_by_server(sock: socket.socket) -> bool:
    sock.settimeout(0.01)
    try:
        return sock.recv(1) == b""
    except (socket.timeout, BlockingIOError):
        return False
    except OSError:
        return True


def test_many_idle_connections_do_not_lock_out_metrics(start):
    port = start()
    idle = open_idle(port, 300)  # far above the connection limit; nothing sent
    try:
        for _ in range(5):
            assert metrics_status(port) == 200
        # One thread per held connection would be 300 threads; the limit bounds them.
        assert threading.active_count() <= Limits().max_connections + 20
    finally:
        for sock in idle:
            sock.close()


def test_slowloris_is_cut_at_the_header_deadline_and_metrics_keep_answering(start):
    port = start(Limits(header_timeout=1.0))
    slow = open_idle(port, 50, b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
    stop = threading.Event()

    def trickle() -> None:  # one header byte each 0.2s per connection: every read succeeds
        while not stop.wait(0.2):
            for sock in slow:
                try:
                    sock.send(b"X")
                except OSError:
                    pass

    trickler = threading.Thread(target=trickle, daemon=True)
    trickler.start()
    try:
        assert metrics_status(port) == 200
        wait_for(lambda: all(closed_by_server(sock) for sock in slow), 5, "slow connections to be cut")
        assert metrics_status(port) == 200
    finally:
        stop.set()
        trickler.join()
        for sock in slow:
            sock.close()


def test_slow_clients_beyond_the_limit_make_room_for_a_scrape(start):
    port = start(Limits(max_connections=8, header_timeout=30.0))
    slow = open_idle(port, 20, b"GET /metrics HTTP/1.1\r\n")  # stuck in their heads, long deadline
    try:
        started = time.monotonic()
        assert metrics_status(port) == 200
        assert time.monotonic() - started < 3
    finally:
        for sock in slow:
            sock.close()


def test_huge_request_head_gets_431_or_close_and_is_not_buffered(start):
    port = start()
    for head in (
        b"GET /metrics HTTP/1.1\r\nX-Big: " + b"a" * 60_000 + b"\r\n\r\n",
        b"GET /metrics HTTP/1.1\r\n" + b"".join(b"X-%d: %s\r\n" % (i, b"b" * 900) for i in range(90)) + b"\r\n",
        b"GET /" + b"c" * 70_000 + b" HTTP/1.1\r\n\r\n",
    ):
        answer = raw_exchange(port, head)
        assert answer == b"" or answer.split(b"\r\n")[0].split(b" ")[1] in (b"431", b"414", b"400"), answer[:200]
        assert b"root_account_info" not in answer
    assert metrics_status(port) == 200


EMFILE_SERVER = textwrap.dedent("""
    import resource, sys, time
    from types import MappingProxyType
    from exporter.state import Account, AccountState, Snapshot
    from exporter.web import ExporterApp, serve
    from exporter.http.server import Limits
    states = {"000000000001": AccountState(Account(id="000000000001", name="alpha"))}
    app = ExporterApp(lambda: Snapshot(accounts=MappingProxyType(states)), {"discovery": 3600.0}, lambda: True)
    server, thread = serve(app, "127.0.0.1:" + sys.argv[1])
    print("listening", flush=True)
    time.sleep(600)
""")


def cpu_seconds(pid: int) -> float:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_out_of_file_descriptors_backs_off_and_recovers():
    port = free_port()

    def low_fd_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (48, 48))

    process = subprocess.Popen(
        [sys.executable, "-c", EMFILE_SERVER, str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        preexec_fn=low_fd_limit,
    )
    idle = []
    try:
        assert process.stdout.readline().strip() == b"listening"
        idle = open_idle(port, 100)  # more than the process has descriptors for
        time.sleep(0.5)
        before = cpu_seconds(process.pid)
        time.sleep(2.0)
        spent = cpu_seconds(process.pid) - before
        assert spent < 0.5, f"the accept loop spun: {spent:.2f}s of CPU in 2s"
        assert metrics_status(port, timeout=10) == 200
        assert process.poll() is None
    finally:
        for sock in idle:
            sock.close()
        process.kill()
        process.wait()
