"""The WSGI application: ``/metrics``, the landing page ``/``, ``/-/healthy`` and ``/-/ready``.

Transport (TLS, basic auth, connection limits, methods) lives in ``exporter.http``."""

from __future__ import annotations

import logging
import threading
from typing import Callable, Iterable, Mapping, Optional

from prometheus_client.exposition import choose_encoder

from exporter import api, landing
from exporter.exposition import IncrementalExposition
from exporter.http.negotiation import CANONICAL_ACCEPT, gzip_accepted, negotiated_format
from exporter.http.server import HardenedServer, Limits
from exporter.http.server import serve as serve_http
from exporter.http.webconfig import WebConfig
from exporter.state import Snapshot

log = logging.getLogger(__name__)

# The Content-Type prometheus_client answers each canonical format with.
CONTENT_TYPES = {fmt: choose_encoder(accept)[1] for fmt, accept in CANONICAL_ACCEPT.items()}


def parse_listen_address(address: str) -> tuple[str, int]:
    """``:10042``, ``127.0.0.1:10042``, ``[::1]:10042`` → (host, port); host "" = every interface."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--web.listen-address {address!r}: expected [host]:port, e.g. :10042")
    return host.strip("[]"), int(port)


class ExpositionCache:
    """The encoded metrics of the current snapshot, per negotiated format and compression.

    A snapshot is immutable and replaced whole, so its exposition can be encoded once and served
    to every scrape until the next swap (Prometheus pairs scrape the same bytes twice). The key is
    the negotiated (format, gzip) pair, never a raw header: at most four bodies per snapshot.
    After a swap the body is built from pieces cached per account state (``exporter.exposition``).
    """

    def __init__(self, intervals: Mapping[str, float]):
        self._renderer = IncrementalExposition(intervals)
        self._lock = threading.Lock()
        self._snapshot: Optional[Snapshot] = None
        self._bodies: dict[tuple[str, bool], tuple[bytes, str]] = {}
        self._served: set[tuple[str, bool]] = set()  # negotiated keys asked for: at most four

    def get(self, snapshot: Snapshot, accept: str, gzipped: bool) -> tuple[bytes, str]:
        key = (negotiated_format(accept), gzipped)
        with self._lock:
            self._served.add(key)
        return self._encoded(snapshot, key)

    def warm(self, snapshot: Snapshot) -> None:
        """Encode ``snapshot`` now for every (format, gzip) scraped so far, so that the next scrape
        finds its body ready: run periodically while a collection swaps snapshots, it moves the
        rendering of changed accounts off the scrape path."""
        with self._lock:
            keys = sorted(self._served)
        for key in keys:
            self._encoded(snapshot, key)

    def _encoded(self, snapshot: Snapshot, key: tuple[str, bool]) -> tuple[bytes, str]:
        with self._lock:
            if snapshot is not self._snapshot:
                self._snapshot, self._bodies = snapshot, {}
            cached = self._bodies.get(key)
        if cached is not None:
            return cached
        body = self._renderer.render(snapshot, *key)
        content_type = CONTENT_TYPES[key[0]]
        with self._lock:
            if snapshot is self._snapshot:
                # Two scrapes may race to encode; keep the first so every scrape shares one body.
                return self._bodies.setdefault(key, (body, content_type))
        return body, content_type


class ExporterApp:
    """The WSGI application. ``ready()`` says whether every source has run once."""

    def __init__(
        self,
        snapshot: Callable[[], Snapshot],
        intervals: Mapping[str, float],
        ready: Callable[[], bool],
        reload: Optional[Callable[[], tuple[bool, str]]] = None,
    ):
        self._cache = ExpositionCache(intervals)
        self._intervals = dict(intervals)
        self._snapshot = snapshot
        self._ready = ready
        self._reload = reload  # POST /-/reload; None = not enabled (--web.enable-lifecycle)

    def warm(self) -> None:
        """Encode the current snapshot ahead of the next scrape (see ``ExpositionCache.warm``)."""
        self._cache.warm(self._snapshot())

    def _metrics(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        gzipped = gzip_accepted(environ.get("HTTP_ACCEPT_ENCODING", ""))
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
            status, page, content_type = respond(
                environ.get("QUERY_STRING", ""), self._snapshot(), self._ready(), self._intervals
            )
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
            return _reply(
                start_response,
                "503 Service Unavailable",
                "Not ready: discovery has not succeeded yet, or the first run of a source is still going on.\n",
            )
        return _reply(start_response, "404 Not Found", "Not found. See / and /metrics.\n")


class Warmer:
    """Calls ``app.warm()`` every ``every`` seconds on a daemon thread, so that while a collection
    swaps snapshots the rendering of changed accounts happens here, not in the next scrape. Costs
    nothing before the first scrape (no format to warm) or while the snapshot does not change."""

    def __init__(self, app: ExporterApp, every: float = 1.0):
        self._app = app
        self._every = every
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="exposition-warmer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()

    def _run(self) -> None:
        while not self._stopping.wait(self._every):
            try:
                self._app.warm()
            except Exception:  # noqa: BLE001 - a scrape renders the snapshot itself then
                log.exception("warming the exposition failed")


def _reply(start_response: Callable, status: str, body: str, content_type: str = "text/plain; charset=utf-8"):
    data = body.encode()
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(data)))])
    return [data]


def serve(
    app: ExporterApp, address: str, web_config: Optional[WebConfig] = None, limits: Limits = Limits()
) -> tuple[HardenedServer, threading.Thread]:
    """Start serving ``app`` on ``address`` in a daemon thread; returns the server and thread.
    The transport (TLS, auth, limits, methods) is ``exporter.http.server``'s."""
    host, port = parse_listen_address(address)
    return serve_http(app, host, port, web_config, limits)
