"""Prometheus 2.42 scrapes the real ``aws-root-exporter --demo`` over TLS with basic auth, as
set up by a ``--web.config.file``; an unauthenticated Prometheus job sees the target down (401)."""

from __future__ import annotations

import base64
import contextlib
import http.client
import ssl
from pathlib import Path
from typing import Optional

import bcrypt
import pytest
import yaml

from tests.support.certs import Authority
from tests.support.exporter import start_exporter
from tests.support.net import wait_for
from tests.support.prometheus import PrometheusServer

pytestmark = pytest.mark.e2e
PASSWORD = "scrape-Pa55word-e2e"


def https_status(port: int, context: ssl.SSLContext, path: str, headers: Optional[dict] = None) -> int:
    connection = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=5)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def client_context(ca: Authority, client=None) -> ssl.SSLContext:
    """Trusts ``ca``; presents ``client``'s certificate, if given."""
    context = ssl.create_default_context(cafile=str(ca.cert))
    if client is not None:
        context.load_cert_chain(str(client.cert), str(client.key))
    return context


@contextlib.contextmanager
def tls_exporter(tmp_path: Path, web_config: dict, context: ssl.SSLContext, headers: Optional[dict] = None):
    """``aws-root-exporter --demo`` behind ``web_config``, ready over TLS (``context`` and
    ``headers`` make the readiness probe)."""
    path = tmp_path / "web-config.yml"
    path.write_text(yaml.safe_dump(web_config))
    running = start_exporter(
        ["--demo", "--web.config.file", str(path)],
        probe=lambda running, probed: https_status(running.port, context, probed, headers) == 200,
    )
    try:
        yield running
    finally:
        running.stop()


def scrape_job(port: int, ca: Authority) -> dict:
    return {
        "scrape_interval": "1s",
        "scrape_timeout": "1s",
        "scheme": "https",
        "tls_config": {"ca_file": str(ca.cert)},
        "static_configs": [{"targets": [f"127.0.0.1:{port}"]}],
    }


def test_prometheus_scrapes_over_tls_with_basic_auth(tmp_path: Path):
    ca = Authority(tmp_path)
    server = ca.issue("server", "exporter")
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=10)).decode()
    web_config = {
        "tls_server_config": {"cert_file": server.cert.name, "key_file": server.key.name},
        "basic_auth_users": {"prometheus": hashed},
    }
    auth = {"Authorization": "Basic " + base64.b64encode(f"prometheus:{PASSWORD}".encode()).decode()}
    prometheus = None
    context = client_context(ca)
    with tls_exporter(tmp_path, web_config, context, auth) as exporter:
        try:
            assert https_status(exporter.port, context, "/metrics") == 401
            job = scrape_job(exporter.port, ca)
            config = {
                "global": {"scrape_interval": "1s"},
                "scrape_configs": [
                    {"job_name": "tls-auth", **job, "basic_auth": {"username": "prometheus", "password": PASSWORD}},
                    {"job_name": "tls-no-auth", **job},
                    {
                        "job_name": "tls-wrong-auth",
                        **job,
                        "basic_auth": {"username": "prometheus", "password": "wrong"},
                    },
                ],
            }
            prometheus = PrometheusServer(yaml.safe_dump(config))
            wait_for(lambda: prometheus.query('up{job="tls-auth"} == 1'), 30, "an authenticated TLS scrape")
            accounts = prometheus.query('count(root_mfa_active{job="tls-auth"})')
            assert float(accounts[0]["value"][1]) >= 10
            wait_for(lambda: prometheus.query('up{job="tls-no-auth"} == 0'), 30, "the unauthenticated job to be down")
            wait_for(lambda: prometheus.query('up{job="tls-wrong-auth"} == 0'), 30, "the wrong-password job down")
            assert not prometheus.query('root_mfa_active{job=~"tls-no-auth|tls-wrong-auth"}')
            targets = prometheus.get_json("/api/v1/targets")["data"]["activeTargets"]
            errors = {t["labels"]["job"]: t["lastError"] for t in targets}
            assert "401" in errors["tls-no-auth"] and errors["tls-auth"] == ""
        finally:
            if prometheus is not None:
                prometheus.stop()
    log = exporter.log()
    assert PASSWORD not in log and hashed not in log


def test_prometheus_scrapes_with_any_client_certificate(tmp_path: Path):
    """RequireAnyClientCert, served through pyOpenSSL: Prometheus (Go's TLS client) with a client
    certificate from a CA the exporter does not know scrapes; a job without one is down."""
    ca = Authority(tmp_path)
    server = ca.issue("server", "exporter")
    (tmp_path / "other").mkdir()
    client = Authority(tmp_path / "other", "other CA").issue("client", "prometheus", server=False)
    web_config = {
        "tls_server_config": {
            "cert_file": server.cert.name,
            "key_file": server.key.name,
            "client_auth_type": "RequireAnyClientCert",
        }
    }
    prometheus = None
    with tls_exporter(tmp_path, web_config, client_context(ca, client)) as exporter:
        try:
            job = scrape_job(exporter.port, ca)
            with_cert = {**job["tls_config"], "cert_file": str(client.cert), "key_file": str(client.key)}
            config = {
                "global": {"scrape_interval": "1s"},
                "scrape_configs": [
                    {"job_name": "client-cert", **job, "tls_config": with_cert},
                    {"job_name": "no-client-cert", **job},
                ],
            }
            prometheus = PrometheusServer(yaml.safe_dump(config))
            wait_for(lambda: prometheus.query('up{job="client-cert"} == 1'), 30, "a scrape with a client certificate")
            accounts = prometheus.query('count(root_mfa_active{job="client-cert"})')
            assert float(accounts[0]["value"][1]) >= 10
            wait_for(lambda: prometheus.query('up{job="no-client-cert"} == 0'), 30, "the job without one to be down")
            assert not prometheus.query('root_mfa_active{job="no-client-cert"}')
        finally:
            if prometheus is not None:
                prometheus.stop()
