"""The HTTP server: prometheus_client's threading WSGI server, hardened against hostile clients.

What a hostile or broken client can no longer do:
- hold a connection forever: every connection has a deadline for its TLS handshake and request
  head (``header_timeout``) and one for the whole exchange (``request_timeout``); a watchdog
  thread cuts connections past them, so trickling one byte at a time (slowloris) does not help;
- open unbounded threads: at most ``max_connections`` connections are served at once. When full,
  the connection that has waited longest for its request head is dropped to make room (idle and
  slow clients go first, a scraper that sends its request at once is served), else the newcomer
  is closed after a brief wait;
- send unbounded headers: the request head is limited to ``max_header_bytes`` (431, or close when
  the request line alone is too long);
- spin the accept loop: when the process runs out of file descriptors, accept backs off and the
  oldest idle connection is dropped, instead of retrying at full speed.
One request per connection (as prometheus_client's server does); Prometheus is fine with that.
"""

from __future__ import annotations

import errno
import http.client
import logging
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterable, Optional, Union
from wsgiref.simple_server import WSGIRequestHandler

from prometheus_client.exposition import ThreadingWSGIServer, _get_best_family

from exporter.http.auth import require_basic_auth
from exporter.http.tls import ReloadingContext
from exporter.http.webconfig import WebConfig

if TYPE_CHECKING:
    from exporter.http.openssl_tls import TlsSocket

log = logging.getLogger(__name__)
ALLOWED_METHODS = ("GET", "HEAD")
POST_PATHS = frozenset({"/-/reload"})  # the lifecycle endpoint (--web.enable-lifecycle)
DESCRIPTOR_SHORTAGE = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}


@dataclass(frozen=True)
class Limits:
    max_connections: int = 64
    header_timeout: float = 10.0  # TLS handshake plus request head
    request_timeout: float = 60.0  # the whole exchange, response included
    max_header_bytes: int = 32 * 1024
    admit_wait: float = 1.0  # how long a newcomer may wait for a free slot when none is idle


# ---------------------------------------------------------------- WSGI layers around the app


def transport_app(app: Callable, web_config: Optional[WebConfig]) -> Callable:
    """``app`` with what every response needs whatever its route: 405 for other methods, no body
    for HEAD, basic auth and the configured security headers when the web config asks."""
    inner = _only_get_and_head(app)
    if web_config is not None and web_config.users:
        inner = require_basic_auth(inner, web_config.users)
    extra = list(web_config.headers) if web_config is not None else []

    def served(environ: dict, start_response: Callable) -> Iterable[bytes]:
        def start(status: str, headers: list, exc_info=None):
            return (
                start_response(status, headers + extra, exc_info)
                if exc_info
                else start_response(status, headers + extra)
            )

        body = inner(environ, start)
        if environ.get("REQUEST_METHOD") != "HEAD":
            return body
        try:
            for _ in body:  # run the app to completion; Content-Length stays what GET would send
                pass
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()
        return []

    return served


def _only_get_and_head(app: Callable) -> Callable:
    """GET and HEAD everywhere; POST only where the app takes one (``/-/reload``, which the app
    itself answers 404 unless ``--web.enable-lifecycle``); 405 for everything else."""

    def allowed(environ: dict, start_response: Callable) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD")
        if method in ALLOWED_METHODS or (method == "POST" and environ.get("PATH_INFO") in POST_PATHS):
            return app(environ, start_response)
        body = b"Method not allowed: use GET or HEAD.\n"
        start_response(
            "405 Method Not Allowed",
            [
                ("Allow", ", ".join(ALLOWED_METHODS)),
                ("Content-Type", "text/plain; charset=utf-8"),
                ("Content-Length", str(len(body))),
            ],
        )
        return [body]

    return allowed


# ---------------------------------------------------------------- connections and their deadlines


class _Connection:
    def __init__(self, sock: socket.socket, limits: Limits):
        now = time.monotonic()
        self.accepted = sock
        self.sock: Union[socket.socket, "TlsSocket"] = sock  # the TLS one once its handshake is done
        self.head_deadline = now + limits.header_timeout
        self.deadline = now + limits.request_timeout
        self.reading_head = True
        self.cut_reason: Optional[str] = None

    def cut(self, reason: str) -> None:
        """Unblock whatever the serving thread waits for; it then closes the socket itself.
        socket.socket.shutdown, not SSLSocket's, which would drop the TLS state under the reader
        (a pyOpenSSL TlsSocket is not a socket subclass: its raw socket)."""
        self.cut_reason = reason
        try:
            sock = self.sock
            socket.socket.shutdown(sock if isinstance(sock, socket.socket) else sock.raw_socket, socket.SHUT_RDWR)
        except OSError:
            pass


class _Connections:
    """The open connections, oldest first, with the watchdog that enforces their deadlines."""

    def __init__(self, limits: Limits):
        self._limits = limits
        self._changed = threading.Condition()
        self._open: dict[int, _Connection] = {}
        self._stop = threading.Event()
        self._watchdog = threading.Thread(target=self._watch, name="http-watchdog", daemon=True)
        self._watchdog.start()

    def __len__(self) -> int:
        with self._changed:
            return len(self._open)

    def admit(self, sock: socket.socket) -> Optional[_Connection]:
        with self._changed:
            if len(self._open) >= self._limits.max_connections:
                self._evict_oldest_idle("connection limit reached")
                self._changed.wait_for(
                    lambda: len(self._open) < self._limits.max_connections, timeout=self._limits.admit_wait
                )
            if len(self._open) >= self._limits.max_connections:
                return None
            connection = _Connection(sock, self._limits)
            self._open[id(connection)] = connection
            return connection

    def release(self, connection: _Connection) -> None:
        with self._changed:
            self._open.pop(id(connection), None)
            self._changed.notify_all()

    def evict_oldest_idle(self, reason: str) -> bool:
        with self._changed:
            return self._evict_oldest_idle(reason)

    def _evict_oldest_idle(self, reason: str) -> bool:
        for connection in self._open.values():  # insertion order: oldest first
            if connection.reading_head and connection.cut_reason is None:
                connection.cut(reason)
                return True
        return False

    def _watch(self) -> None:
        while not self._stop.wait(0.25):
            now = time.monotonic()
            with self._changed:
                for connection in self._open.values():
                    if connection.cut_reason is not None:
                        continue
                    if connection.reading_head and now > connection.head_deadline:
                        connection.cut("header timeout")
                    elif now > connection.deadline:
                        connection.cut("request timeout")

    def stop(self) -> None:
        self._stop.set()
        with self._changed:
            for connection in self._open.values():
                connection.cut("server stopping")


class _HeadBudget:
    """The request's read stream, limited to ``limit`` bytes until the head has been read."""

    def __init__(self, stream, limit: int):
        self._stream = stream
        self._left: Optional[int] = limit

    def head_read(self) -> None:
        self._left = None

    def readline(self, size: int = -1) -> bytes:
        if self._left is None:
            return self._stream.readline(size)
        allowed = self._left + 1 if size < 0 else min(size, self._left + 1)
        line = self._stream.readline(allowed)
        self._left -= len(line)
        if self._left < 0:
            raise http.client.LineTooLong("request head")
        return line

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


class _HangUpsAsBrokenPipe:
    """The response stream; a TLS error while writing (the client closed the connection without
    a close_notify, or sent an alert) becomes the BrokenPipeError wsgiref takes for a client that
    went away, as over plain HTTP, instead of a traceback on stderr for each one."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, data) -> int:
        try:
            return self._stream.write(data)
        except ssl.SSLError as error:
            raise BrokenPipeError(errno.EPIPE, f"TLS connection ended: {error.reason}") from None

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


class _Handler(WSGIRequestHandler):
    server: "HardenedServer"

    def setup(self) -> None:
        self.connection_state: _Connection = self.request
        self.request = self.connection_state.sock
        self.timeout = self.server.limits.header_timeout  # type: ignore[misc]  # per read; the watchdog bounds the total
        super().setup()
        self.rfile = _HeadBudget(self.rfile, self.server.limits.max_header_bytes)  # type: ignore[assignment]
        self.wfile = _HangUpsAsBrokenPipe(self.wfile)  # type: ignore[assignment]

    def parse_request(self) -> bool:
        ok = super().parse_request()
        if ok:
            self.rfile.head_read()  # type: ignore[attr-defined]
            self.connection_state.reading_head = False
        return ok

    def address_string(self) -> str:
        return str(self.client_address[0])

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        log.debug("http request: " + format % args)


class HardenedServer(ThreadingWSGIServer):
    """One thread per admitted connection, at most ``limits.max_connections`` of them. ``app``
    is the bare application; ``use_web_config`` puts the transport layers around it."""

    request_queue_size = 128

    def __init__(self, host: str, port: int, app: Callable, limits: Limits = Limits()):
        self.limits = limits
        self.tls: Optional[ReloadingContext] = None
        self._dual_stack = host == "" and socket.has_dualstack_ipv6()
        if self._dual_stack:
            self.address_family, host = socket.AF_INET6, "::"
        else:
            # getaddrinfo's first answer, as prometheus_client's start_http_server does.
            self.address_family, host = _get_best_family(host or None, port)
        self.connections = _Connections(limits)
        self._backoff = 0.0
        self._last_shortage_log = 0.0
        super().__init__((host, port), _Handler)
        self._plain_app = app
        self._web_config: Optional[WebConfig] = None
        self.set_app(transport_app(app, None))

    def use_web_config(self, web_config: Optional[WebConfig]) -> None:
        """Switch to a new (already validated) web config for the connections that follow: what
        a SIGHUP reload calls. Connections being served keep the config they started with."""
        if web_config is self._web_config and self.get_app() is not None:
            return
        self._web_config = web_config
        self.tls = ReloadingContext(web_config.tls) if web_config is not None and web_config.tls is not None else None
        self.set_app(transport_app(self._plain_app, web_config))

    def use_app(self, app: Callable) -> None:
        """Serve a new bare application (a configuration reload) behind the same transport layers:
        TLS, basic auth, headers, methods. Never ``set_app`` directly, which would drop them."""
        self._plain_app = app
        self.set_app(transport_app(app, self._web_config))

    def server_bind(self) -> None:
        if self._dual_stack:
            self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()

    def get_request(self):
        try:
            accepted = super().get_request()
        except OSError as error:
            if error.errno in DESCRIPTOR_SHORTAGE:
                self._descriptor_shortage(error)
            raise
        self._backoff = 0.0
        return accepted

    def _descriptor_shortage(self, error: OSError) -> None:
        """Out of file descriptors: free one (the oldest idle connection) and back off, doubling
        up to half a second, instead of retrying accept at full speed."""
        self.connections.evict_oldest_idle("out of file descriptors")
        now = time.monotonic()
        if now - self._last_shortage_log > 10:
            self._last_shortage_log = now
            log.warning(
                "cannot accept connections: out of file descriptors, backing off",
                extra={"error": error.strerror, "open_connections": len(self.connections)},
            )
        self._backoff = min(0.5, max(0.01, self._backoff * 2))
        time.sleep(self._backoff)

    def process_request(self, request, client_address) -> None:
        connection = self.connections.admit(request)
        if connection is None:
            log.debug("connection refused: limit reached", extra={"limit": self.limits.max_connections})
            self.shutdown_request(request)
            return
        thread = threading.Thread(target=self._serve, args=(connection, client_address), name="http-conn", daemon=True)
        try:
            thread.start()
        except RuntimeError:  # cannot start a thread now
            self.connections.release(connection)
            self.shutdown_request(request)

    def _serve(self, connection: _Connection, client_address) -> None:
        try:
            if self.tls is not None:
                connection.sock = self.tls.wrap(connection.accepted, self.limits.header_timeout)
            self.RequestHandlerClass(connection, client_address, self)  # type: ignore[arg-type]
        except Exception as error:  # noqa: BLE001 - a client that fails its handshake or hangs up is routine
            log.debug(
                "connection ended",
                extra={"client": client_address[0], "error": str(error), "cut": connection.cut_reason},
            )
        finally:
            self.connections.release(connection)
            self.shutdown_request(connection.sock)  # type: ignore[arg-type]  # a TlsSocket has shutdown and close

    def server_close(self) -> None:
        self.connections.stop()
        super().server_close()


def serve(
    app: Callable, host: str, port: int, web_config: Optional[WebConfig] = None, limits: Limits = Limits()
) -> tuple[HardenedServer, threading.Thread]:
    """Serve ``app`` (with the transport layers) on ``host:port`` from a daemon thread."""
    server = HardenedServer(host, port, app, limits)
    server.use_web_config(web_config)
    thread = threading.Thread(target=server.serve_forever, name="http", daemon=True)
    thread.start()
    return server, thread
