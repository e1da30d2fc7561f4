"""TLS through pyOpenSSL, for the client auth types Python's ``ssl`` cannot serve.

``RequestClientCert`` and ``RequireAnyClientCert`` (exporter-toolkit's names for Go's
``tls.RequestClientCert`` / ``tls.RequireAnyClientCert``) ask the client for a certificate and do
not verify it against a CA: whoever fronts the exporter checks the certificate, or the holder of
any key pair is enough. Python's ``ssl`` can only request a client certificate together with its
verification, so these two types use OpenSSL through pyOpenSSL, with a verify callback that
accepts the chain. TLS 1.3 and 1.2 still make the client prove it holds the certificate's key.
Everything else about the connection (versions, cipher policy, certificate files) is what the
stdlib context of ``exporter.http.tls`` has, which checked the files first. pyOpenSSL comes with
the ``unverified-client-certs`` extra; the web config refuses these types without it.

``TlsSocket`` gives the server the part of the socket interface the stdlib handlers use
(``makefile("rb")``, ``sendall``, ``settimeout``, ``shutdown``, ``close``), with the per-read
timeout of a blocking socket: OpenSSL works on a non-blocking descriptor and every wait for the
peer is a ``poll`` bounded by the timeout.
"""

from __future__ import annotations

import errno
import io
import os
import select
import socket
import ssl
import time
from typing import Optional

from OpenSSL import SSL

from exporter.http.webconfig import REQUIRE_ANY, TlsConfig

SESSION_ID_CONTEXT = b"aws-root-exporter"
WRITE_CHUNK = 16 * 1024  # one TLS record


class OpenSSLServerContext:
    """A server context with the one method of ``ssl.SSLContext`` the server calls."""

    def __init__(self, context: SSL.Context):
        self._context = context

    def wrap_socket(self, sock: socket.socket, server_side: bool = True) -> "TlsSocket":
        """The handshake on an accepted socket, each wait bounded by the socket's timeout."""
        tls = TlsSocket(self._context, sock, sock.gettimeout())
        tls.do_handshake()
        return tls


def build_openssl_context(config: TlsConfig, checked: ssl.SSLContext) -> OpenSSLServerContext:
    """The pyOpenSSL context for ``config``; ``checked`` is the stdlib context already built from
    the same files (so they load and match), whose cipher policy this one takes over. SSL.Error
    if OpenSSL refuses a file all the same."""
    context = SSL.Context(SSL.TLS_SERVER_METHOD)
    context.set_min_proto_version(int(config.min_version))  # ssl.TLSVersion values are OpenSSL's
    if config.max_version is not None:
        context.set_max_proto_version(int(config.max_version))
    no_renegotiation = getattr(SSL, "OP_NO_RENEGOTIATION", 0)  # absent from builds on OpenSSL < 1.1.1
    context.set_options(SSL.OP_NO_COMPRESSION | SSL.OP_CIPHER_SERVER_PREFERENCE | no_renegotiation)
    tls12 = [cipher["name"] for cipher in checked.get_ciphers() if cipher["protocol"] != "TLSv1.3"]
    if tls12:
        context.set_cipher_list(":".join(tls12).encode())
    context.use_certificate_chain_file(config.cert_file)
    context.use_privatekey_file(config.key_file)
    context.check_privatekey()
    if config.client_ca_file is not None:
        context.load_client_ca(config.client_ca_file.encode())  # names sent in the request only
    mode = SSL.VERIFY_PEER | (SSL.VERIFY_FAIL_IF_NO_PEER_CERT if config.client_auth_type == REQUIRE_ANY else 0)
    context.set_verify(mode, _accept_any_chain)
    context.set_session_id(SESSION_ID_CONTEXT)
    return OpenSSLServerContext(context)


class _EndOfFile(Exception):
    """The peer closed the connection without a close_notify."""


def _accept_any_chain(connection: SSL.Connection, certificate: object, error: int, depth: int, ok: int) -> bool:
    return True


class TlsSocket:
    """The server side of one pyOpenSSL connection over an accepted socket."""

    def __init__(self, context: SSL.Context, sock: socket.socket, timeout: Optional[float]):
        self.raw_socket = sock
        self._timeout = timeout
        sock.setblocking(False)
        self._connection = SSL.Connection(context, sock)
        self._connection.set_accept_state()

    # ------------------------------------------------------------ what the server and handler call

    def do_handshake(self) -> None:
        self._retry(self._connection.do_handshake)

    def settimeout(self, timeout: Optional[float]) -> None:
        self._timeout = timeout

    def fileno(self) -> int:
        return self.raw_socket.fileno()

    def recv_into(self, buffer, nbytes: int = 0) -> int:
        try:
            return self._retry(self._connection.recv_into, buffer, nbytes or None)
        except (SSL.ZeroReturnError, _EndOfFile):  # the client's close_notify, or a bare close
            return 0

    def send(self, data) -> int:
        try:
            return self._retry(self._connection.send, data)
        except _EndOfFile:
            raise BrokenPipeError(errno.EPIPE, "the client closed the connection") from None

    def sendall(self, data) -> None:
        view = memoryview(data).cast("B")
        while view:
            sent = self.send(view[:WRITE_CHUNK])
            view = view[sent:]

    def makefile(self, mode: str = "rb", buffering: Optional[int] = None, **_: object) -> io.BufferedReader:
        if mode != "rb":
            raise ValueError(f"TlsSocket.makefile: only 'rb', not {mode!r}")  # the handler writes with sendall
        raw = socket.SocketIO(self, "rb")  # type: ignore[arg-type]  # duck-typed: recv_into and _decref_socketios
        return io.BufferedReader(raw, buffering if buffering and buffering > 0 else io.DEFAULT_BUFFER_SIZE)

    def _decref_socketios(self) -> None:
        """SocketIO's close calls this; the handler closes the socket itself."""

    def shutdown(self, how: int) -> None:
        try:
            self._connection.shutdown()  # close_notify, if the socket takes it now; no wait for the peer's
        except SSL.Error:
            pass
        self.raw_socket.shutdown(how)

    def close(self) -> None:
        self.raw_socket.close()

    # ------------------------------------------------------------ waiting for the peer

    def _retry(self, operation, *args):
        """``operation`` until OpenSSL needs no more of the peer, each wait bounded by the
        timeout. A failed system call becomes the OSError the stdlib would raise (so a client
        that hangs up is a BrokenPipeError or ConnectionResetError to the handlers), an end of
        file _EndOfFile, and any other TLS failure (an alert, a bad record) ConnectionResetError
        with OpenSSL's reason: the connection is over either way."""
        deadline = None if self._timeout is None else time.monotonic() + self._timeout
        while True:
            try:
                return operation(*args)
            except SSL.WantReadError:
                self._wait(select.POLLIN, deadline)
            except SSL.WantWriteError:
                self._wait(select.POLLOUT, deadline)
            except SSL.SysCallError as error:
                code = error.args[0] if error.args and isinstance(error.args[0], int) else -1
                if code > 0:
                    raise OSError(code, os.strerror(code)) from None  # the errno's own subclass
                raise _EndOfFile() from None
            except SSL.ZeroReturnError:
                raise
            except SSL.Error as error:
                raise ConnectionResetError(errno.ECONNRESET, f"TLS: {error}") from None

    def _wait(self, event: int, deadline: Optional[float]) -> None:
        poller = select.poll()
        poller.register(self.raw_socket.fileno(), event)
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            raise TimeoutError("timed out")
        if not poller.poll(None if left is None else left * 1000):
            raise TimeoutError("timed out")
