"""HTTP basic auth against bcrypt hashes from the web config, as a WSGI middleware.

bcrypt is slow on purpose (tens of milliseconds per check at cost 10), so each verdict is cached
under a SHA-256 of (user, password, hash): a scrape every few seconds costs one bcrypt per
process, and the cache never holds a password. Checks that miss the cache run one at a time,
so a storm of wrong passwords burns at most one core. Passwords are never logged.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import threading
from collections import OrderedDict
from typing import Callable, Iterable, Mapping, Optional

import bcrypt

log = logging.getLogger(__name__)
REALM = "aws-root-exporter"
UNAUTHENTICATED_PATHS = frozenset({"/-/healthy"})  # liveness probes carry no credentials
CACHE_SIZE = 1024
# Checked for user names not in the file, so that an unknown user costs the same as a wrong password.
_DUMMY_HASH = bcrypt.hashpw(b"unused", bcrypt.gensalt(rounds=10))


class CredentialCheck:
    def __init__(self, users: Mapping[str, bytes], cache_size: int = CACHE_SIZE):
        self._users = dict(users)
        self._cache: OrderedDict[bytes, bool] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()
        self._bcrypt = threading.Lock()

    def __call__(self, user: str, password: bytes) -> bool:
        known = None
        for name, hashed in self._users.items():  # compare every name, in constant time each
            if hmac.compare_digest(name.encode(), user.encode()):
                known = hashed
        hashed = known if known is not None else _DUMMY_HASH
        key = hashlib.sha256(b"\0".join((user.encode(), password, hashed))).digest()
        with self._lock:
            verdict = self._cache.get(key)
            if verdict is not None:
                self._cache.move_to_end(key)
                return verdict and known is not None
        with self._bcrypt:
            try:
                verdict = bcrypt.checkpw(password, hashed)
            except ValueError:  # e.g. longer than bcrypt's 72 bytes
                verdict = False
        with self._lock:
            self._cache[key] = verdict
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return verdict and known is not None


def credentials(environ: dict) -> Optional[tuple[str, bytes]]:
    """(user, password) from an ``Authorization: Basic`` header; None when absent or unreadable."""
    scheme, _, value = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    user, sep, password = decoded.partition(b":")
    if not sep:
        return None
    return user.decode("utf-8", "replace"), password


def require_basic_auth(app: Callable, users: Mapping[str, bytes]) -> Callable:
    """``app`` behind basic auth for every path but ``UNAUTHENTICATED_PATHS``."""
    check = CredentialCheck(users)

    def authenticated(environ: dict, start_response: Callable) -> Iterable[bytes]:
        if environ.get("PATH_INFO") in UNAUTHENTICATED_PATHS:
            return app(environ, start_response)
        given = credentials(environ)
        if given is not None and check(*given):
            environ["REMOTE_USER"] = given[0]
            return app(environ, start_response)
        log.debug(
            "basic auth refused",
            extra={
                "path": environ.get("PATH_INFO"),
                "reason": "no credentials" if given is None else "wrong credentials",
            },
        )
        body = b"Unauthorized.\n"
        start_response(
            "401 Unauthorized",
            [
                ("WWW-Authenticate", f'Basic realm="{REALM}", charset="UTF-8"'),
                ("Content-Type", "text/plain; charset=utf-8"),
                ("Content-Length", str(len(body))),
            ],
        )
        return [body]

    return authenticated
