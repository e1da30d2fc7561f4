"""The HTTP server: ``/metrics``, the landing page ``/``, ``/-/healthy`` and ``/-/ready``."""

from __future__ import annotations

import gzip
import logging
import socket
import threading
from socketserver import ThreadingMixIn
from typing import Callable, Iterable, Mapping, Optional
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from exporter import api, landing
from exporter.collector import exposition
from exporter.state import Snapshot

log = logging.getLogger(__name__)


def parse_listen_address(address: str) -> tuple[str, int]:
    """``:10042``, ``127.0.0.1:10042``, ``[::1]:10042`` → (host, port); host "" = every interface."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--web.listen-address {address!r}: expected [host]:port, e.g. :10042")
    return host.strip("[]"), int(port)


class ExpositionCache:
    """The encoded metrics of the current snapshot, per format and compression.

    A snapshot is immutable and replaced whole, so its exposition can be encoded once and served
    to every scrape until the next swap (Prometheus pairs scrape the same bytes twice).
    """

    def __init__(self, intervals: Mapping[str, float]):
        self._intervals = dict(intervals)
        self._lock = threading.Lock()
        self._snapshot: Optional[Snapshot] = None
        self._bodies: dict[tuple[str, bool], tuple[bytes, str]] = {}

    def get(self, snapshot: Snapshot, accept: str, gzipped: bool) -> tuple[bytes, str]:
        with self._lock:
            if snapshot is not self._snapshot:
                self._snapshot, self._bodies = snapshot, {}
            cached = self._bodies.get((accept, gzipped))
        if cached is not None:
            return cached
        body, content_type = exposition(snapshot, self._intervals, accept)
        if gzipped:
            body = gzip.compress(body, compresslevel=6)
        with self._lock:
            if snapshot is self._snapshot:
                self._bodies[(accept, gzipped)] = (body, content_type)
        return body, content_type


class ExporterApp:
    """The WSGI application. ``ready()`` says whether every source has run once."""

    def __init__(self, snapshot: Callable[[], Snapshot], intervals: Mapping[str, float], ready: Callable[[], bool],
                 reload: Optional[Callable[[], tuple[bool, str]]] = None):
        self._cache = ExpositionCache(intervals)
        self._intervals = dict(intervals)
        self._snapshot = snapshot
        self._ready = ready
        self._reload = reload  # POST /-/reload; None = not enabled (--web.enable-lifecycle)

    def _metrics(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        gzipped = "gzip" in environ.get("HTTP_ACCEPT_ENCODING", "")
        body, content_type = self._cache.get(self._snapshot(), environ.get("HTTP_ACCEPT", ""), gzipped)
        headers = [("Content-Type", content_type), ("Content-Length", str(len(body)))]
        if gzipped:
            headers.append(("Content-Encoding", "gzip"))
        start_response("200 OK", headers)
        return [body]

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        if path == "/metrics":
            return self._metrics(environ, start_response)
        if path in ("/", "/api/roots.json"):
            respond = landing.respond if path == "/" else api.respond
            status, page, content_type = respond(environ.get("QUERY_STRING", ""), self._snapshot(), self._ready(),
                                                 self._intervals)
            return _reply(start_response, status, page, content_type)
        if path == "/-/healthy":
            return _reply(start_response, "200 OK", "Healthy.\n")
        if path == "/-/reload" and self._reload is not None:
            if environ.get("REQUEST_METHOD") not in ("POST", "PUT"):
                start_response("405 Method Not Allowed", [("Allow", "POST, PUT"), ("Content-Length", "0")])
                return [b""]
            applied, text = self._reload()
            return _reply(start_response, "200 OK" if applied else "500 Internal Server Error", text + "\n")
        if path == "/-/ready":
            if self._ready():
                return _reply(start_response, "200 OK", "Ready.\n")
            return _reply(start_response, "503 Service Unavailable", "Not ready: discovery has not succeeded yet, or the first run of a source is still going on.\n")
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
