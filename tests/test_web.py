"""The WSGI app: /metrics encoding and caching, readiness, routing. Called in-process through
wsgiref's test utilities; the full HTTP path is covered by the end-to-end tests."""

from __future__ import annotations

import gzip
import io
from types import MappingProxyType
from wsgiref.util import setup_testing_defaults

from exporter.state import Account, AccountState, Snapshot
from exporter.web import ExporterApp, parse_listen_address
from tests.support.exposition import parse

INTERVALS = {"discovery": 3600.0}


def snapshot_of(*names: str) -> Snapshot:
    states = {f"{i:012d}": AccountState(Account(id=f"{i:012d}", name=name)) for i, name in enumerate(names, 1)}
    return Snapshot(accounts=MappingProxyType(states))


def call(app: ExporterApp, path: str, **headers: str) -> tuple[str, dict[str, str], bytes]:
    environ: dict = {"PATH_INFO": path, "wsgi.input": io.BytesIO()}
    environ.update({f"HTTP_{k.upper()}": v for k, v in headers.items()})
    setup_testing_defaults(environ)
    captured = {}

    def start_response(status, response_headers):
        captured["status"], captured["headers"] = status, dict(response_headers)

    body = b"".join(app(environ, start_response))
    return captured["status"], captured["headers"], body


def account_names(text: str) -> set[str]:
    return parse(text).label_values("root_account_info", "account_name")


def test_metrics_follow_the_current_snapshot():
    current = {"snapshot": snapshot_of("alpha")}
    app = ExporterApp(lambda: current["snapshot"], INTERVALS, lambda: True)
    status, headers, body = call(app, "/metrics")
    assert status == "200 OK" and headers["Content-Type"].startswith("text/plain")
    assert account_names(body.decode()) == {"alpha"}
    assert call(app, "/metrics")[2] == body  # same snapshot, same bytes
    current["snapshot"] = snapshot_of("alpha", "bravo")  # a swap
    assert account_names(call(app, "/metrics")[2].decode()) == {"alpha", "bravo"}


def test_gzip_when_asked_and_same_content():
    app = ExporterApp(lambda: snapshot_of("alpha", "bravo"), INTERVALS, lambda: True)
    plain = call(app, "/metrics")[2]
    status, headers, body = call(app, "/metrics", accept_encoding="gzip, deflate")
    assert headers["Content-Encoding"] == "gzip"
    assert int(headers["Content-Length"]) == len(body)
    assert gzip.decompress(body) == plain


def test_openmetrics_when_asked():
    app = ExporterApp(lambda: snapshot_of("alpha"), INTERVALS, lambda: True)
    _, headers, body = call(app, "/metrics", accept="application/openmetrics-text; version=1.0.0")
    assert headers["Content-Type"].startswith("application/openmetrics-text")
    assert body.rstrip().endswith(b"# EOF")


def test_ready_only_after_first_runs_and_healthy_always():
    state = {"ready": False}
    app = ExporterApp(lambda: Snapshot(), INTERVALS, lambda: state["ready"])
    assert call(app, "/-/ready")[0].startswith("503")
    assert call(app, "/-/healthy")[0] == "200 OK"
    state["ready"] = True
    assert call(app, "/-/ready")[0] == "200 OK"


def test_landing_and_unknown_paths():
    app = ExporterApp(lambda: snapshot_of("alpha"), INTERVALS, lambda: True)
    status, headers, body = call(app, "/")
    assert status == "200 OK" and headers["Content-Type"].startswith("text/html")
    assert b'href="/metrics"' in body and b"alpha" in body
    assert call(app, "/nope")[0].startswith("404")


def test_listen_addresses():
    assert parse_listen_address(":10042") == ("", 10042)
    assert parse_listen_address("127.0.0.1:9") == ("127.0.0.1", 9)
    assert parse_listen_address("[::1]:10042") == ("::1", 10042)
    for bad in ("10042", "host:", "host:70000", "host:abc"):
        try:
            parse_listen_address(bad)
        except ValueError as error:
            assert bad in str(error)
        else:
            raise AssertionError(f"{bad!r} was accepted")


def served_object(app: ExporterApp, **headers: str) -> bytes:
    """The bytes object the app hands to the server for /metrics (identity shows sharing)."""
    environ: dict = {"PATH_INFO": "/metrics", "wsgi.input": io.BytesIO()}
    environ.update({f"HTTP_{k.upper()}": v for k, v in headers.items()})
    setup_testing_defaults(environ)
    (body,) = app(environ, lambda status, headers: None)
    return body


def test_cache_keeps_one_body_per_negotiated_format_not_per_raw_accept_header():
    # 1,000 scrapes with varied Accept headers took the process from 358 MB to 988 MB: each raw
    # header was a cache key holding its own copy of the encoded exposition.
    snapshot = snapshot_of(*(f"acct{i}" for i in range(50)))
    app = ExporterApp(lambda: snapshot, INTERVALS, lambda: True)
    bodies = [served_object(app, accept=f"text/plain;version=0.0.4;x={i}") for i in range(50)]
    bodies += [served_object(app, accept=f"application/openmetrics-text;version=1.0.{'0' * i}") for i in range(1, 50)]
    text, openmetrics = bodies[0], bodies[50]
    assert openmetrics.rstrip().endswith(b"# EOF") and not text.rstrip().endswith(b"# EOF")
    assert all(body is text for body in bodies[:50]), "a distinct raw Accept header stored its own copy"
    assert all(body is openmetrics for body in bodies[50:]), "a distinct OpenMetrics version stored its own copy"
    for i in range(1, 50):  # the content type never echoes what the client sent
        headers = call(app, "/metrics", accept=f"application/openmetrics-text;version=1.0.{'0' * i}")[1]
        assert headers["Content-Type"].startswith("application/openmetrics-text; version=1.0.0; charset=utf-8")


def test_gzip_refused_with_q_zero_and_honoured_with_q_above_zero():
    app = ExporterApp(lambda: snapshot_of("alpha"), INTERVALS, lambda: True)
    for refused in ("gzip;q=0", "gzip; q=0.0, identity", "GZIP;Q=0.000", "*;q=0, identity", "identity", "deflate"):
        headers, body = call(app, "/metrics", accept_encoding=refused)[1:]
        assert "Content-Encoding" not in headers, refused
        assert body.startswith(b"# HELP"), refused
    for wanted in ("gzip", "gzip;q=0.5", "deflate, gzip;q=1.0", "*", "identity;q=0.5, *;q=0.1"):
        headers, body = call(app, "/metrics", accept_encoding=wanted)[1:]
        assert headers.get("Content-Encoding") == "gzip", wanted
        assert gzip.decompress(body).startswith(b"# HELP"), wanted
    headers = call(app, "/metrics", accept_encoding="*, gzip;q=0")[1]
    assert "Content-Encoding" not in headers  # an explicit gzip;q=0 beats the wildcard
