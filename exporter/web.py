"""The HTTP server: ``/metrics``, the landing page ``/``, ``/-/healthy`` and ``/-/ready``."""

from __future__ import annotations

import logging
import socket
import threading
from socketserver import ThreadingMixIn
from typing import Callable, Iterable
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app

from exporter import landing
from exporter.state import Snapshot

log = logging.getLogger(__name__)


def parse_listen_address(address: str) -> tuple[str, int]:
    """``:10042``, ``127.0.0.1:10042``, ``[::1]:10042`` → (host, port); host "" = every interface."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--web.listen-address {address!r}: expected [host]:port, e.g. :10042")
    return host.strip("[]"), int(port)


class ExporterApp:
    """The WSGI application. ``ready()`` says whether every source has run once."""

    def __init__(self, registry: CollectorRegistry, snapshot: Callable[[], Snapshot], ready: Callable[[], bool]):
        self._metrics = make_wsgi_app(registry)
        self._snapshot = snapshot
        self._ready = ready

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        if path == "/metrics":
            return self._metrics(environ, start_response)
        if path == "/":
            view = parse_qs(environ.get("QUERY_STRING", "")).get("view", ["all"])[0]
            page = landing.render(self._snapshot(), view, ready=self._ready())
            return _reply(start_response, "200 OK", page, "text/html; charset=utf-8")
        if path == "/-/healthy":
            return _reply(start_response, "200 OK", "Healthy.\n")
        if path == "/-/ready":
            if self._ready():
                return _reply(start_response, "200 OK", "Ready.\n")
            return _reply(start_response, "503 Service Unavailable", "Not ready: first collection still running.\n")
        return _reply(start_response, "404 Not Found", "Not found. See / and /metrics.\n")


def _reply(start_response: Callable, status: str, body: str, content_type: str = "text/plain; charset=utf-8"):
    data = body.encode()
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(data)))])
    return [data]


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        log.debug("http request: " + format % args)


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _ThreadingServerV6(_ThreadingServer):
    address_family = socket.AF_INET6


def serve(app: ExporterApp, address: str) -> tuple[WSGIServer, threading.Thread]:
    """Start serving ``app`` on ``address`` in a daemon thread; returns the server and thread."""
    host, port = parse_listen_address(address)
    server_class = _ThreadingServerV6 if ":" in host else _ThreadingServer
    server = make_server(host, port, app, server_class=server_class, handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="http", daemon=True)
    thread.start()
    return server, thread
