"""--web.config.file over real sockets: TLS with Python's ssl and curl, client certificates,
basic auth, security headers, certificate reload, and files refused at start."""

from __future__ import annotations

import base64
import http.client
import logging
import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path
from types import MappingProxyType

import bcrypt
import pytest

from exporter.cli import main
from exporter.http.server import Limits
from exporter.http.webconfig import WebConfigError, load_web_config
from exporter.state import Account, AccountState, Snapshot
from exporter.web import ExporterApp, serve
from tests.support.certs import Authority, server_common_name
from tests.support.net import free_port, raw_exchange, wait_for

PASSWORD = "s3cret-Pa55"
HASH = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()


def curl() -> str:
    path = shutil.which("curl")
    assert path, "curl not found: `make test` installs Debian's curl package"
    return path


def curl_metrics(ca: Authority, port: int, *options: str) -> subprocess.CompletedProcess:
    """curl ``https://127.0.0.1:PORT/metrics`` trusting ``ca``, with ``options``."""
    return subprocess.run(
        [curl(), "-sS", "--cacert", str(ca.cert), *options, f"https://127.0.0.1:{port}/metrics"],
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.fixture
def ca(tmp_path: Path) -> Authority:
    return Authority(tmp_path)


def write_config(directory: Path, text: str) -> Path:
    path = directory / "web-config.yml"
    path.write_text(text)
    return path


class Served:
    def __init__(self, config_path: Path):
        states = {"000000000001": AccountState(Account(id="000000000001", name="alpha"))}
        app = ExporterApp(lambda: Snapshot(accounts=MappingProxyType(states)), {"discovery": 3600.0}, lambda: True)
        self.port = free_port()
        self.server, self.thread = serve(app, f"127.0.0.1:{self.port}", load_web_config(str(config_path)))

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def start():
    running = []

    def starter(config_path: Path) -> Served:
        served = Served(config_path)
        running.append(served)
        return served

    yield starter
    for served in running:
        served.stop()


def tls_get(port: int, context: ssl.SSLContext, path: str = "/metrics", headers: dict | None = None):
    connection = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=10)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def client_context(ca: Authority, pair=None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(ca.cert))
    if pair is not None:
        context.load_cert_chain(str(pair.cert), str(pair.key))
    return context


def tls_config(ca: Authority, extra: str = "") -> Path:
    server = ca.issue("server", "exporter")
    return write_config(
        ca.directory, f"tls_server_config:\n  cert_file: {server.cert.name}\n  key_file: {server.key.name}\n{extra}"
    )


def test_tls_serves_python_ssl_and_curl_and_refuses_plain_http(ca, start):
    served = start(tls_config(ca))
    status, _, body = tls_get(served.port, client_context(ca))
    assert status == 200 and b"root_account_info" in body
    result = curl_metrics(ca, served.port)
    assert result.returncode == 0 and "root_account_info" in result.stdout, result.stderr
    # Plain HTTP to the TLS port gets no HTTP answer at all, certainly not the metrics.
    answer = raw_exchange(served.port, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    assert b"root_account_info" not in answer and not answer.startswith(b"HTTP/1.1 200")
    result = subprocess.run(
        [curl(), "-sS", f"http://127.0.0.1:{served.port}/metrics"], capture_output=True, text=True, timeout=30
    )
    assert result.returncode != 0 and "root_account_info" not in result.stdout


def test_tls_min_version_is_enforced(ca, start):
    served = start(tls_config(ca, "  min_version: TLS13\n"))
    old = client_context(ca)
    old.maximum_version = ssl.TLSVersion.TLSv1_2
    with pytest.raises(ssl.SSLError):
        tls_get(served.port, old)
    assert tls_get(served.port, client_context(ca))[0] == 200


def test_require_and_verify_client_cert(ca, start):
    (ca.directory / "other").mkdir()
    other = Authority(ca.directory / "other", "other CA")
    served = start(
        tls_config(ca, f"  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: {ca.cert.name}\n")
    )
    with pytest.raises((ssl.SSLError, ConnectionResetError, BrokenPipeError)):
        tls_get(served.port, client_context(ca))  # no certificate
    stranger = other.issue("stranger", "stranger", server=False)
    with pytest.raises((ssl.SSLError, ConnectionResetError, BrokenPipeError)):
        tls_get(served.port, client_context(ca, stranger))  # signed by another CA
    client = ca.issue("client", "prometheus", server=False)
    assert tls_get(served.port, client_context(ca, client))[0] == 200
    without = curl_metrics(ca, served.port)
    assert without.returncode != 0 and "root_account_info" not in without.stdout
    with_cert = curl_metrics(ca, served.port, "--cert", str(client.cert), "--key", str(client.key))
    assert with_cert.returncode == 0 and "root_account_info" in with_cert.stdout, with_cert.stderr


def test_verify_client_cert_if_given(ca, start):
    (ca.directory / "other").mkdir()
    stranger = Authority(ca.directory / "other", "other CA").issue("stranger", "stranger", server=False)
    served = start(tls_config(ca, f"  client_auth_type: VerifyClientCertIfGiven\n  client_ca_file: {ca.cert.name}\n"))
    assert tls_get(served.port, client_context(ca))[0] == 200  # no certificate: fine
    assert tls_get(served.port, client_context(ca, ca.issue("client", "prometheus", server=False)))[0] == 200
    with pytest.raises((ssl.SSLError, ConnectionResetError, BrokenPipeError)):
        tls_get(served.port, client_context(ca, stranger))  # a certificate that does not verify


def test_require_any_client_cert(ca, start):
    """RequireAnyClientCert: a client must present a certificate, but any will do (no CA checks
    it): one from a CA the exporter has never seen is served; none at all is refused, with Python's
    ssl and with curl. Plain HTTP still gets no answer."""
    (ca.directory / "other").mkdir()
    stranger = Authority(ca.directory / "other", "other CA").issue("stranger", "stranger", server=False)
    served = start(tls_config(ca, "  client_auth_type: RequireAnyClientCert\n"))
    with pytest.raises((ssl.SSLError, ConnectionResetError, BrokenPipeError)):
        tls_get(served.port, client_context(ca))
    status, _, body = tls_get(served.port, client_context(ca, stranger))
    assert status == 200 and b"root_account_info" in body
    without = curl_metrics(ca, served.port)
    assert without.returncode != 0 and "root_account_info" not in without.stdout
    for version in ("--tlsv1.2", "--tlsv1.3"):
        with_cert = curl_metrics(ca, served.port, version, "--cert", str(stranger.cert), "--key", str(stranger.key))
        assert with_cert.returncode == 0 and "root_account_info" in with_cert.stdout, with_cert.stderr
    answer = raw_exchange(served.port, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    assert b"root_account_info" not in answer and not answer.startswith(b"HTTP/1.1 200")


@pytest.mark.parametrize("auth", ["RequireAnyClientCert", "RequestClientCert"])
def test_unverified_client_auth_without_pyopenssl_is_refused_naming_the_extra(ca, capsys, monkeypatch, auth):
    """pyOpenSSL is an extra (it costs every process ~9 MiB once installed, because botocore then
    imports it too): without it, the two types that need it are refused at start, exit 2, with
    the file, the key and what to install; never served with less than the file asks."""
    monkeypatch.setitem(sys.modules, "OpenSSL", None)  # as if not installed: importing it fails
    path = tls_config(ca, f"  client_auth_type: {auth}\n")
    message = refused(path, capsys)
    assert f"{path}: tls_server_config.client_auth_type" in message
    assert "pyOpenSSL" in message and "aws-root-exporter[unverified-client-certs]" in message


def test_request_client_cert_serves_with_and_without_one(ca, start):
    (ca.directory / "other").mkdir()
    stranger = Authority(ca.directory / "other", "other CA").issue("stranger", "stranger", server=False)
    served = start(tls_config(ca, "  client_auth_type: RequestClientCert\n  max_version: TLS12\n"))
    assert tls_get(served.port, client_context(ca))[0] == 200
    assert tls_get(served.port, client_context(ca, stranger))[0] == 200
    newer = client_context(ca, stranger)
    newer.minimum_version = ssl.TLSVersion.TLSv1_3
    with pytest.raises(ssl.SSLError):  # max_version holds on this path too
        tls_get(served.port, newer)


LARGE = 20_000  # accounts: a /metrics of 3.4 MB


def large_app() -> ExporterApp:
    states = {f"{n:012d}": AccountState(Account(id=f"{n:012d}", name=f"account-{n}-" + "x" * 40)) for n in range(LARGE)}
    return ExporterApp(lambda: Snapshot(accounts=MappingProxyType(states)), {"discovery": 3600.0}, lambda: True)


def test_unverified_client_cert_connections_keep_their_deadlines(ca):
    """The pyOpenSSL connections of RequireAnyClientCert are bounded like the others: a client
    that never sends its ClientHello and one that stops inside its request head are both cut at
    the head deadline, and a large /metrics arrives whole."""
    client = ca.issue("client", "prometheus", server=False)
    app = large_app()
    port = free_port()
    config = load_web_config(str(tls_config(ca, "  client_auth_type: RequireAnyClientCert\n")))
    server, thread = serve(app, f"127.0.0.1:{port}", config, Limits(header_timeout=1.0))
    try:
        silent = socket.create_connection(("127.0.0.1", port), timeout=10)
        stalled = client_context(ca, client).wrap_socket(
            socket.create_connection(("127.0.0.1", port), timeout=10), server_hostname="127.0.0.1"
        )
        stalled.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
        started = time.monotonic()
        status, _, body = tls_get(port, client_context(ca, client))
        assert status == 200 and body.count(b"\nroot_account_info{") == LARGE
        assert len(body) > 3_000_000  # many TLS records, far more than the socket buffers hold
        for sock in (silent, stalled):
            try:
                assert sock.recv(1) == b""
            except (ssl.SSLError, ConnectionResetError):
                pass
        assert time.monotonic() - started < 5  # cut at the 1 s deadline (watchdog checks 4 times a second)
        silent.close()
        stalled.close()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.mark.parametrize("auth", ["NoClientCert", "RequireAnyClientCert"])
def test_a_client_hanging_up_mid_response_writes_no_traceback(ca, auth, capfd):
    """A scraper that goes away halfway through a large /metrics over TLS is routine, as it is
    over plain HTTP: no traceback on stderr for every one (which any client could use to flood
    the logs), and the next scrape is served."""
    app = large_app()
    port = free_port()
    server, thread = serve(
        app, f"127.0.0.1:{port}", load_web_config(str(tls_config(ca, f"  client_auth_type: {auth}\n")))
    )
    context = client_context(ca, ca.issue("client", "prometheus", server=False))
    try:
        for _ in range(3):
            with context.wrap_socket(
                socket.create_connection(("127.0.0.1", port), timeout=10), server_hostname="127.0.0.1"
            ) as tls:
                tls.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
                assert tls.recv(100).startswith(b"HTTP/1.0 200")
        wait_for(lambda: len(server.connections) == 0, 10, "the abandoned responses to end")
        assert tls_get(port, context)[0] == 200
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    assert "Traceback" not in capfd.readouterr().err


def basic(user: str, password: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_basic_auth_right_and_wrong_pairs(ca, start, caplog):
    caplog.set_level(logging.DEBUG)
    served = start(
        tls_config(
            ca,
            f"basic_auth_users:\n  prometheus: '{HASH}'\n"
            "http_server_config:\n  headers:\n    X-Frame-Options: deny\n"
            "    Strict-Transport-Security: max-age=31536000\n",
        )
    )
    context = client_context(ca)
    status, headers, body = tls_get(served.port, context, headers=basic("prometheus", PASSWORD))
    assert status == 200 and b"root_account_info" in body
    assert headers["x-frame-options"] == "deny" and headers["strict-transport-security"] == "max-age=31536000"
    for path in ("/metrics", "/", "/-/ready", "/nope"):
        for wrong in (
            {},
            basic("prometheus", "wrong-Guess-1"),
            basic("nobody", PASSWORD),
            basic("prometheus", PASSWORD + "x"),
            {"Authorization": "Basic !!!"},
            {"Authorization": "Bearer " + PASSWORD},
        ):
            status, headers, body = tls_get(served.port, context, path, headers=wrong)
            assert status == 401, (path, wrong)
            assert headers["www-authenticate"].startswith('Basic realm="aws-root-exporter"')
            assert b"root_account_info" not in body and b"alpha" not in body
            assert headers["x-frame-options"] == "deny"  # security headers on refusals too
    assert tls_get(served.port, context, "/-/healthy")[0] == 200  # probes need no credentials
    result = curl_metrics(ca, served.port, "-u", f"prometheus:{PASSWORD}")
    assert "root_account_info" in result.stdout, result.stderr
    assert "wrong-Guess-1" not in caplog.text and PASSWORD not in caplog.text


@pytest.mark.parametrize("auth", ["NoClientCert", "RequireAnyClientCert"])
def test_certificate_reload_on_file_change(ca, start, auth):
    served = start(tls_config(ca, f"  client_auth_type: {auth}\n"))
    client = client_context(ca, ca.issue("client", "prometheus", server=False))

    def served_name() -> str | None:
        with socket.create_connection(("127.0.0.1", served.port), timeout=10) as raw:
            with client.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                return server_common_name(tls.getpeercert(binary_form=True))

    assert served_name() == "exporter"
    renewed = ca.issue("renewed", "exporter-renewed")
    time.sleep(0.05)
    os.replace(renewed.key, ca.directory / "server.key")
    os.replace(renewed.cert, ca.directory / "server.crt")
    wait_for(lambda: served_name() == "exporter-renewed", 10, "the renewed certificate to be served")
    # A broken change is refused and the last good certificate stays in use.
    (ca.directory / "server.crt").write_text("not a certificate")
    time.sleep(1.2)
    assert served_name() == "exporter-renewed"


def refused(path: Path, capsys) -> str:
    assert main(["--verify-config", "--web.config.file", str(path)]) == 2
    return capsys.readouterr().err


def test_files_refused_at_start(ca, capsys):
    expired = ca.issue("expired", "exporter", expired=True)
    message = refused(
        write_config(
            ca.directory, f"tls_server_config:\n  cert_file: {expired.cert.name}\n  key_file: {expired.key.name}\n"
        ),
        capsys,
    )
    assert "web-config.yml" in message and "expired" in message and "expired.crt" in message
    one, two = ca.issue("one", "exporter"), ca.issue("two", "exporter")
    message = refused(
        write_config(ca.directory, f"tls_server_config:\n  cert_file: {one.cert.name}\n  key_file: {two.key.name}\n"),
        capsys,
    )
    assert "one.crt" in message and "two.key" in message and "cannot load" in message
    message = refused(
        write_config(ca.directory, "tls_server_config:\n  cert_file: missing.crt\n  key_file: missing.key\n"), capsys
    )
    assert "missing.crt" in message


@pytest.mark.parametrize(
    "text, key",
    [
        (
            "tls_server_config:\n  cert_file: a\n  key_file: b\n  cipher_suites: [TLS_AES_128_GCM_SHA256]\n",
            "tls_server_config.cipher_suites",
        ),
        (
            "tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: RequireAnyCert\n",
            "tls_server_config.client_auth_type",
        ),
        (
            "tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: RequireAndVerifyClientCert\n",
            "tls_server_config.client_ca_file",
        ),
        ("tls_server_config:\n  cert_file: a\n  key_file: b\n  min_version: TLS14\n", "tls_server_config.min_version"),
        ("http_server_config:\n  http2: true\n", "http_server_config.http2"),
        ("http_server_config:\n  headers:\n    Server: nope\n", "http_server_config.headers.Server"),
        ("http_server_config:\n  headers:\n    X-Frame-Options: allow\n", "http_server_config.headers.X-Frame-Options"),
        ("basic_auth_users:\n  alice: plaintext-password\n", "basic_auth_users.alice"),
        ("rate_limit:\n  interval: 1s\n", "rate_limit"),
    ],
)
def test_unsupported_or_wrong_keys_refused_naming_file_and_key(tmp_path, capsys, text, key):
    path = write_config(tmp_path, text)
    with pytest.raises(WebConfigError) as error:
        load_web_config(str(path))
    assert f"{path}: {key}" in str(error.value)
    message = refused(path, capsys)
    assert key in message and str(path) in message
    assert "plaintext-password" not in message  # a pasted password is never echoed


def test_verify_config_describes_the_web_config(ca, capsys):
    path = tls_config(ca, f"basic_auth_users:\n  prometheus: '{HASH}'\n")
    assert main(["--verify-config", "--web.config.file", str(path)]) == 0
    out = capsys.readouterr().out
    assert "TLS on" in out and "basic auth for 1 user" in out and HASH not in out


def test_shipped_example_web_config_works_as_documented(ca, start):
    example = Path(__file__).resolve().parents[1] / "web-config.example.yml"
    server, client = ca.issue("exporter", "exporter"), ca.issue("client", "prometheus", server=False)
    shutil.copy(ca.cert, ca.directory / "ca.crt")
    path = write_config(ca.directory, example.read_text())
    served = start(path)
    status, headers, body = tls_get(
        served.port, client_context(ca, client), headers=basic("prometheus", "example-only-change-me")
    )
    assert status == 200 and b"root_account_info" in body
    assert headers["x-content-type-options"] == "nosniff" and "default-src" in headers["content-security-policy"]
    assert tls_get(served.port, client_context(ca, client))[0] == 401
    with pytest.raises((ssl.SSLError, ConnectionResetError, BrokenPipeError)):
        tls_get(served.port, client_context(ca), headers=basic("prometheus", "example-only-change-me"))
    assert server.cert.exists()


def test_a_new_web_config_applies_to_the_next_connections(ca, tmp_path):
    served = Served(write_config(tmp_path, "{}\n"))
    try:
        plain = http.client.HTTPConnection("127.0.0.1", served.port, timeout=10)
        plain.request("GET", "/metrics")
        assert plain.getresponse().status == 200
        plain.close()
        served.server.use_web_config(
            load_web_config(str(tls_config(ca, f"basic_auth_users:\n  prometheus: '{HASH}'\n")))
        )
        assert tls_get(served.port, client_context(ca))[0] == 401
        assert tls_get(served.port, client_context(ca), headers=basic("prometheus", PASSWORD))[0] == 200
    finally:
        served.stop()


def test_a_configuration_reload_keeps_tls_and_basic_auth_in_front_of_the_new_app(ca, start):
    """SIGHUP swaps the WSGI app (new schedule, new intervals); the transport layers stay: the new
    app is served over the same TLS and still refuses a scrape without credentials."""
    served = start(tls_config(ca, f"basic_auth_users:\n  prometheus: '{HASH}'\n"))
    states = {"000000000002": AccountState(Account(id="000000000002", name="beta"))}
    served.server.use_app(
        ExporterApp(lambda: Snapshot(accounts=MappingProxyType(states)), {"discovery": 60.0}, lambda: True)
    )
    context = client_context(ca)
    status, _, body = tls_get(served.port, context)
    assert status == 401 and b"beta" not in body
    status, _, body = tls_get(served.port, context, headers=basic("prometheus", PASSWORD))
    assert status == 200 and b'account_name="beta"' in body


def test_post_reload_needs_the_credentials_too(ca, start):
    """With --web.enable-lifecycle behind basic auth, an anonymous POST /-/reload is refused
    before it reaches the reload; with the right pair it reloads."""
    served = start(tls_config(ca, f"basic_auth_users:\n  prometheus: '{HASH}'\n"))
    reloads = []
    served.server.use_app(
        ExporterApp(
            lambda: Snapshot(),
            {"discovery": 60.0},
            lambda: True,
            lambda: reloads.append(1) or (True, "configuration unchanged"),
        )
    )
    connection = http.client.HTTPSConnection("127.0.0.1", served.port, context=client_context(ca), timeout=10)
    try:
        connection.request("POST", "/-/reload")
        assert connection.getresponse().status == 401 and reloads == []
    finally:
        connection.close()
    connection = http.client.HTTPSConnection("127.0.0.1", served.port, context=client_context(ca), timeout=10)
    try:
        connection.request("POST", "/-/reload", headers=basic("prometheus", PASSWORD))
        response = connection.getresponse()
        assert (response.status, response.read()) == (200, b"configuration unchanged\n") and reloads == [1]
    finally:
        connection.close()
