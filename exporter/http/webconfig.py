"""``--web.config.file``: TLS, basic auth and response headers, in the exporter-toolkit format.

The file is the one Prometheus' own exporters read (``tls_server_config``, ``basic_auth_users``,
``http_server_config``), so one file can serve a fleet. Keys this exporter does not implement are
refused, never ignored: a file written for node_exporter that asks for something we cannot do
must not silently run with less protection than its author wanted. Every error is reported at
once, each naming the file and the key.
"""

from __future__ import annotations

import os
import re
import ssl
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

import yaml

TLS_VERSIONS = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}
NO_CLIENT_CERT = "NoClientCert"
REQUEST = "RequestClientCert"
REQUIRE_ANY = "RequireAnyClientCert"
VERIFY_IF_GIVEN = "VerifyClientCertIfGiven"
REQUIRE_AND_VERIFY = "RequireAndVerifyClientCert"
CLIENT_AUTH_TYPES = (NO_CLIENT_CERT, REQUEST, REQUIRE_ANY, VERIFY_IF_GIVEN, REQUIRE_AND_VERIFY)
# Client certificates asked for but not verified against client_ca_file: Python's ssl cannot do
# that, these are served through pyOpenSSL (exporter.http.openssl_tls).
UNVERIFIED_CLIENT_AUTH = (REQUEST, REQUIRE_ANY)
# The extra that brings pyOpenSSL. Not a plain dependency: once installed, botocore imports it in
# every process (about 9 MiB of VmRSS), and few deployments ask for unverified certificates.
UNVERIFIED_EXTRA = "unverified-client-certs"
TLS_KEYS = ("cert_file", "key_file", "client_ca_file", "client_auth_type", "min_version", "max_version")
# Response headers exporter-toolkit allows, and the values it allows for some of them.
SECURITY_HEADERS = {
    "strict-transport-security": "Strict-Transport-Security",
    "x-content-type-options": "X-Content-Type-Options",
    "x-frame-options": "X-Frame-Options",
    "x-xss-protection": "X-XSS-Protection",
    "content-security-policy": "Content-Security-Policy",
}
HEADER_VALUES = {"X-Content-Type-Options": ("nosniff",), "X-Frame-Options": ("deny", "sameorigin")}
BCRYPT_HASH = re.compile(r"^\$2[aby]\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}$")


class WebConfigError(ValueError):
    """Every problem of one web config file, one per line, each naming file and key."""


@dataclass(frozen=True)
class TlsConfig:
    cert_file: str
    key_file: str
    client_auth_type: str = NO_CLIENT_CERT
    client_ca_file: Optional[str] = None
    min_version: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2
    max_version: Optional[ssl.TLSVersion] = None


@dataclass(frozen=True)
class WebConfig:
    source: str
    tls: Optional[TlsConfig] = None
    users: Mapping[str, bytes] = field(default_factory=dict)  # user -> bcrypt hash
    headers: tuple[tuple[str, str], ...] = ()

    def describe(self) -> str:
        """One line for --verify-config; names no user and no hash."""
        parts = []
        if self.tls is None:
            parts.append("TLS off")
        else:
            parts.append(f"TLS on (client certificates: {self.tls.client_auth_type})")
        parts.append(f"basic auth for {len(self.users)} user(s)" if self.users else "no basic auth")
        if self.headers:
            parts.append("headers: " + ", ".join(name for name, _ in self.headers))
        return f"web config {self.source}: " + "; ".join(parts)


def load_web_config(path: str) -> WebConfig:
    """Read and check ``path``; raises WebConfigError listing every problem. Relative file names
    inside resolve against the file's directory, as exporter-toolkit does. Certificate files are
    loaded once here, so an unreadable, mismatched or expired pair fails at start."""
    try:
        with open(path, encoding="utf-8") as handle:
            raw = yaml.safe_load(handle)
    except OSError as error:
        raise WebConfigError(f"{path}: cannot read: {error.strerror or error}") from None
    except yaml.YAMLError as error:
        raise WebConfigError(f"{path}: not valid YAML: {error}") from None
    errors: list[str] = []
    config = _parse(path, raw if raw is not None else {}, errors)
    if config is not None and config.tls is not None and not errors:
        from exporter.http.tls import TlsError, build_context  # ssl set-up lives with the TLS code

        try:
            build_context(config.tls)
        except TlsError as error:
            errors.append(f"tls_server_config: {error}")
    if errors:
        raise WebConfigError("\n".join(f"{path}: {message}" for message in errors))
    assert config is not None
    return config


def _parse(path: str, raw: Any, errors: list[str]) -> Optional[WebConfig]:
    if not isinstance(raw, dict):
        errors.append("expected a mapping at the top level")
        return None
    _refuse_unknown(raw, ("tls_server_config", "basic_auth_users", "http_server_config"), "", errors)
    base = os.path.dirname(os.path.abspath(path))
    tls = _tls(raw.get("tls_server_config"), base, errors) if raw.get("tls_server_config") is not None else None
    return WebConfig(
        source=path,
        tls=tls,
        users=_users(raw.get("basic_auth_users"), errors),
        headers=_headers(raw.get("http_server_config"), errors),
    )


def _refuse_unknown(section: dict, known: tuple[str, ...], prefix: str, errors: list[str]) -> None:
    for key in section:
        if key not in known:
            errors.append(f"{prefix}{key}: not supported by aws-root-exporter (supported here: {', '.join(known)})")


def _pyopenssl_installed() -> bool:
    try:
        import OpenSSL.SSL  # noqa: F401
    except ImportError:
        return False
    return True


def _tls(raw: Any, base: str, errors: list[str]) -> Optional[TlsConfig]:
    if not isinstance(raw, dict):
        errors.append("tls_server_config: expected a mapping")
        return None
    _refuse_unknown(raw, TLS_KEYS, "tls_server_config.", errors)

    def file_key(key: str, required: bool) -> Optional[str]:
        value = raw.get(key)
        if value is None:
            if required:
                errors.append(f"tls_server_config.{key}: required when tls_server_config is set")
            return None
        if not isinstance(value, str) or not value:
            errors.append(f"tls_server_config.{key}: expected a file name, got {value!r}")
            return None
        return os.path.join(base, value)

    cert, key = file_key("cert_file", True), file_key("key_file", True)
    auth = raw.get("client_auth_type", NO_CLIENT_CERT)
    if auth not in CLIENT_AUTH_TYPES:
        errors.append(f"tls_server_config.client_auth_type: {auth!r} is not one of {', '.join(CLIENT_AUTH_TYPES)}")
    elif auth in UNVERIFIED_CLIENT_AUTH and not _pyopenssl_installed():
        errors.append(
            f"tls_server_config.client_auth_type: {auth!r} needs pyOpenSSL, which is not installed: "
            f"pip install 'aws-root-exporter[{UNVERIFIED_EXTRA}]' (or pip install pyOpenSSL)"
        )
    ca = file_key("client_ca_file", auth in (REQUIRE_AND_VERIFY, VERIFY_IF_GIVEN))
    versions = {}
    for name, default in (("min_version", "TLS12"), ("max_version", None)):
        value = raw.get(name, default)
        if value is not None and value not in TLS_VERSIONS:
            errors.append(f"tls_server_config.{name}: {value!r} is not one of {', '.join(TLS_VERSIONS)}")
            value = None
        versions[name] = TLS_VERSIONS[value] if value is not None else None
    if versions["min_version"] and versions["max_version"] and versions["min_version"] > versions["max_version"]:
        errors.append("tls_server_config: min_version is above max_version")
    if cert is None or key is None:
        return None
    return TlsConfig(
        cert_file=cert,
        key_file=key,
        client_auth_type=auth if auth in CLIENT_AUTH_TYPES else NO_CLIENT_CERT,
        client_ca_file=ca,
        min_version=versions["min_version"] or ssl.TLSVersion.TLSv1_2,
        max_version=versions["max_version"],
    )


def _users(raw: Any, errors: list[str]) -> dict[str, bytes]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        errors.append("basic_auth_users: expected a mapping of user name to bcrypt hash")
        return {}
    users = {}
    for user, hashed in raw.items():
        if not isinstance(user, str) or not user or ":" in user:
            errors.append(f"basic_auth_users: user name {user!r} must be a non-empty string without ':'")
        elif not isinstance(hashed, str) or not BCRYPT_HASH.match(hashed):
            # Never echo the value: someone may have pasted a password instead of its hash.
            errors.append(
                f"basic_auth_users.{user}: not a bcrypt hash ($2a$, $2b$ or $2y$, cost 04-31); "
                "create one with: htpasswd -nBC 12 '' | tr -d ':\\n'"
            )
        else:
            users[user] = hashed.encode()
    return users


def _headers(raw: Any, errors: list[str]) -> tuple[tuple[str, str], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        errors.append("http_server_config: expected a mapping")
        return ()
    _refuse_unknown(raw, ("headers",), "http_server_config.", errors)
    headers = raw.get("headers") or {}
    if not isinstance(headers, dict):
        errors.append("http_server_config.headers: expected a mapping of header name to value")
        return ()
    result = []
    for name, value in headers.items():
        canonical = SECURITY_HEADERS.get(str(name).lower())
        if canonical is None:
            errors.append(
                f"http_server_config.headers.{name}: not supported (supported: {', '.join(SECURITY_HEADERS.values())})"
            )
        elif not isinstance(value, str) or not value or any(c in value for c in "\r\n\0"):
            errors.append(f"http_server_config.headers.{name}: expected a one-line string, got {value!r}")
        elif canonical in HEADER_VALUES and value.lower() not in HEADER_VALUES[canonical]:
            errors.append(
                f"http_server_config.headers.{name}: {value!r} is not one of {', '.join(HEADER_VALUES[canonical])}"
            )
        else:
            result.append((canonical, value))
    return tuple(result)
