"""The HTTP transport over real sockets: methods, HEAD, and the app served as clients see it."""

from __future__ import annotations

import http.client
from types import MappingProxyType

import pytest

from exporter.state import Account, AccountState, Snapshot
from exporter.web import ExporterApp, serve
from tests.support.net import free_port, raw_exchange

INTERVALS = {"discovery": 3600.0}


def snapshot_of(*names: str) -> Snapshot:
    states = {f"{i:012d}": AccountState(Account(id=f"{i:012d}", name=name)) for i, name in enumerate(names, 1)}
    return Snapshot(accounts=MappingProxyType(states))


@pytest.fixture(scope="module")
def server():
    app = ExporterApp(lambda: snapshot_of("alpha"), INTERVALS, lambda: True)
    port = free_port()
    running, thread = serve(app, f"127.0.0.1:{port}")
    yield port
    running.shutdown()
    running.server_close()
    thread.join(timeout=5)


def request(port: int, method: str, path: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(method, path, headers=headers or {})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


@pytest.mark.parametrize("path", ["/metrics", "/", "/-/healthy", "/-/ready", "/nope"])
def test_head_sends_the_get_headers_and_no_body(server, path):
    # http.client never reads a HEAD body, so the exchange is judged on the raw bytes.
    get_status, get_headers, get_body = request(server, "GET", path)
    raw = raw_exchange(server, f"HEAD {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.split(b"\r\n")[0].split(b" ")[1] == str(get_status).encode()
    assert body == b"", f"HEAD {path} sent a body of {len(body)} bytes"
    assert f"content-length: {len(get_body)}".encode() in head.lower()


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "BREW"])
def test_methods_other_than_get_and_head_get_405_with_allow(server, method):
    status, headers, body = request(server, method, "/metrics")
    assert status == 405
    assert headers["allow"] == "GET, HEAD"
    assert b"# HELP" not in body
