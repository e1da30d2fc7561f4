"""Prometheus 2.42 scrapes the real ``aws-root-exporter --demo`` over TLS with basic auth, as
set up by a ``--web.config.file``; an unauthenticated Prometheus job sees the target down (401)."""

from __future__ import annotations

import base64
import http.client
import os
import ssl
import subprocess
import tempfile
from pathlib import Path

import bcrypt
import pytest
import yaml

from tests.support.certs import Authority
from tests.support.exporter import exporter_command
from tests.support.net import free_port, stop_process, wait_for
from tests.support.prometheus import PrometheusServer

pytestmark = pytest.mark.e2e
PASSWORD = "scrape-Pa55word-e2e"


def test_prometheus_scrapes_over_tls_with_basic_auth(tmp_path: Path):
    ca = Authority(tmp_path)
    server = ca.issue("server", "exporter")
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=10)).decode()
    web_config = tmp_path / "web-config.yml"
    web_config.write_text(
        yaml.safe_dump(
            {
                "tls_server_config": {"cert_file": server.cert.name, "key_file": server.key.name},
                "basic_auth_users": {"prometheus": hashed},
            }
        )
    )
    port = free_port()
    log_file = tempfile.NamedTemporaryFile(prefix="exporter-tls-", suffix=".log", delete=False)
    process = subprocess.Popen(
        exporter_command()
        + ["--demo", "--web.config.file", str(web_config), "--web.listen-address", f"127.0.0.1:{port}"],
        stdout=log_file,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=dict(os.environ),
    )
    context = ssl.create_default_context(cafile=str(ca.cert))
    auth = {"Authorization": "Basic " + base64.b64encode(f"prometheus:{PASSWORD}".encode()).decode()}

    def status(path: str, headers: dict) -> int:
        if process.poll() is not None:
            raise AssertionError(f"exporter exited {process.returncode}:\n{Path(log_file.name).read_text()}")
        connection = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=5)
        try:
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            response.read()
            return response.status
        finally:
            connection.close()

    prometheus = None
    try:
        wait_for(lambda: status("/-/ready", auth) == 200, 90, "the exporter to be ready over TLS")
        assert status("/metrics", {}) == 401
        job = {
            "scrape_interval": "1s",
            "scrape_timeout": "1s",
            "scheme": "https",
            "tls_config": {"ca_file": str(ca.cert)},
            "static_configs": [{"targets": [f"127.0.0.1:{port}"]}],
        }
        config = {
            "global": {"scrape_interval": "1s"},
            "scrape_configs": [
                {"job_name": "tls-auth", **job, "basic_auth": {"username": "prometheus", "password": PASSWORD}},
                {"job_name": "tls-no-auth", **job},
                {"job_name": "tls-wrong-auth", **job, "basic_auth": {"username": "prometheus", "password": "wrong"}},
            ],
        }
        prometheus = PrometheusServer(yaml.safe_dump(config))
        wait_for(lambda: prometheus.query('up{job="tls-auth"} == 1'), 30, "an authenticated TLS scrape")
        accounts = prometheus.query('count(root_mfa_active{job="tls-auth"})')
        assert float(accounts[0]["value"][1]) >= 10
        wait_for(lambda: prometheus.query('up{job="tls-no-auth"} == 0'), 30, "the unauthenticated job to be down")
        wait_for(lambda: prometheus.query('up{job="tls-wrong-auth"} == 0'), 30, "the wrong-password job to be down")
        assert not prometheus.query('root_mfa_active{job=~"tls-no-auth|tls-wrong-auth"}')
        targets = prometheus.get_json("/api/v1/targets")["data"]["activeTargets"]
        errors = {t["labels"]["job"]: t["lastError"] for t in targets}
        assert "401" in errors["tls-no-auth"] and errors["tls-auth"] == ""
    finally:
        if prometheus is not None:
            prometheus.stop()
        stop_process(process)
    log = Path(log_file.name).read_text()
    assert PASSWORD not in log and hashed not in log
