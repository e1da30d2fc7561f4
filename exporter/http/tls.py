"""TLS server contexts from the web config, rebuilt when the certificate files change."""

from __future__ import annotations

import logging
import os
import socket
import ssl
import threading
import time
from typing import TYPE_CHECKING, Union

from exporter.http.webconfig import (
    NO_CLIENT_CERT,
    REQUEST,
    REQUIRE_AND_VERIFY,
    REQUIRE_ANY,
    UNVERIFIED_CLIENT_AUTH,
    VERIFY_IF_GIVEN,
    TlsConfig,
)

if TYPE_CHECKING:
    from exporter.http.openssl_tls import OpenSSLServerContext, TlsSocket

log = logging.getLogger(__name__)
VERIFY_MODES = {
    NO_CLIENT_CERT: ssl.CERT_NONE,
    # Served by pyOpenSSL; the stdlib context built for them only checks the files.
    REQUEST: ssl.CERT_NONE,
    REQUIRE_ANY: ssl.CERT_NONE,
    VERIFY_IF_GIVEN: ssl.CERT_OPTIONAL,
    REQUIRE_AND_VERIFY: ssl.CERT_REQUIRED,
}
ServerContext = Union[ssl.SSLContext, "OpenSSLServerContext"]


class TlsError(ValueError):
    """A certificate, key or CA file that cannot serve: unreadable, mismatched, expired."""


def build_context(config: TlsConfig) -> ServerContext:
    """A server context for ``config``; TlsError naming the file and the reason otherwise.
    Python's ssl serves every client auth type it can; the two that take a client certificate
    without verifying it go through pyOpenSSL, imported only then."""
    checked = _stdlib_context(config)
    if config.client_auth_type not in UNVERIFIED_CLIENT_AUTH:
        return checked
    from OpenSSL import SSL

    from exporter.http.openssl_tls import build_openssl_context

    try:
        return build_openssl_context(config, checked)
    except SSL.Error as error:
        raise TlsError(
            f"cert_file {config.cert_file} / key_file {config.key_file}: cannot load for "
            f"{config.client_auth_type}: {error}"
        ) from None


def _stdlib_context(config: TlsConfig) -> ssl.SSLContext:
    _check_validity(config.cert_file)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = config.min_version
    if config.max_version is not None:
        context.maximum_version = config.max_version
    try:
        context.load_cert_chain(config.cert_file, config.key_file)
    except OSError as error:  # ssl.SSLError is an OSError
        raise TlsError(
            f"cert_file {config.cert_file} / key_file {config.key_file}: cannot load: {_reason(error)}"
        ) from None
    context.verify_mode = VERIFY_MODES[config.client_auth_type]
    if config.client_ca_file is not None:
        try:
            context.load_verify_locations(cafile=config.client_ca_file)
        except OSError as error:
            raise TlsError(f"client_ca_file {config.client_ca_file}: cannot load: {_reason(error)}") from None
    return context


def _check_validity(cert_file: str) -> None:
    """Refuse a server certificate outside its validity period: clients would reject every
    handshake, and the exporter would look up while nothing can scrape it."""
    try:
        # The stdlib's own certificate decoder (used by its test suite); ssl has no public one
        # for a file, and the cryptography package is not a runtime dependency.
        decoded = ssl._ssl._test_decode_cert(cert_file)  # type: ignore[attr-defined]
    except (OSError, AttributeError) as error:
        if isinstance(error, AttributeError):
            return  # an interpreter without the decoder: the handshake still checks
        raise TlsError(f"cert_file {cert_file}: cannot read a PEM certificate: {_reason(error)}") from None
    now = time.time()
    not_before = ssl.cert_time_to_seconds(decoded["notBefore"])
    not_after = ssl.cert_time_to_seconds(decoded["notAfter"])
    if now > not_after:
        raise TlsError(f"cert_file {cert_file}: certificate expired on {decoded['notAfter']}")
    if now < not_before:
        raise TlsError(f"cert_file {cert_file}: certificate not valid before {decoded['notBefore']}")


def _reason(error: OSError) -> str:
    return getattr(error, "reason", None) or error.strerror or str(error)


class ReloadingContext:
    """The current server context; rebuilt when a certificate, key or CA file's mtime or size
    changes, checked on new connections at most once a second. A change that does not load is
    logged and the previous context kept, so a half-copied renewal never stops scrapes."""

    CHECK_EVERY = 1.0

    def __init__(self, config: TlsConfig):
        self._config = config
        self._lock = threading.Lock()
        self._stamp = self._file_stamp()
        self._context = build_context(config)
        self._checked = time.monotonic()

    def _file_stamp(self) -> tuple:
        stamps = []
        for path in (self._config.cert_file, self._config.key_file, self._config.client_ca_file):
            try:
                status = os.stat(path) if path else None
                stamps.append((status.st_mtime_ns, status.st_size) if status else None)
            except OSError:
                stamps.append(None)
        return tuple(stamps)

    def current(self) -> ServerContext:
        now = time.monotonic()
        with self._lock:
            if now - self._checked < self.CHECK_EVERY:
                return self._context
            self._checked = now
            stamp = self._file_stamp()
            if stamp == self._stamp:
                return self._context
            self._stamp = stamp
            try:
                self._context = build_context(self._config)
            except TlsError as error:
                log.error("TLS certificate change not loaded, keeping the previous one", extra={"error": str(error)})
            else:
                log.info("TLS certificate reloaded", extra={"cert_file": self._config.cert_file})
            return self._context

    def wrap(self, sock: socket.socket, timeout: float) -> Union[ssl.SSLSocket, "TlsSocket"]:
        """The server side of a handshake on an accepted socket, bounded by ``timeout`` per read."""
        sock.settimeout(timeout)
        return self.current().wrap_socket(sock, server_side=True)
