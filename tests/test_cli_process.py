"""The serving process as an operator meets it: not ready while it cannot see AWS, recovers
without waiting for the next hourly discovery, stops promptly on SIGTERM even with a call in
flight, survives SIGHUP, and says how to install the fake when --demo cannot start it."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path
from typing import Iterator

import pytest

from fakeaws import MANAGEMENT_ACCOUNT_ID, FakeAws, FakeRoot
from tests.support.exporter import start_exporter
from tests.support.exposition import parse
from tests.support.net import free_port, http_get, wait_for
from tests.test_cli import NO_AWS, run

MEMBER = "320000000001"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeAws]:
    with FakeAws() as fake:
        fake.create_organization()
        fake.create_account(MEMBER, "member", root=FakeRoot.with_password("virtual"))
        yield fake


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text("aws:\n  max_attempts: 1\ncollection:\n  credential_report_timeout: 30s\n")
    return path


def test_not_ready_and_says_why_while_aws_cannot_be_reached(config: Path):
    endpoint = f"http://127.0.0.1:{free_port()}"
    running = start_exporter(
        ["--config.file", str(config)], env={**NO_AWS, "AWS_ENDPOINT_URL": endpoint}, wait_ready=False
    )
    try:
        wait_for(lambda: "retrying" in running.log(), 20, "a failed discovery")
        time.sleep(1)  # every source would have finished a (vacuous) run by now
        assert http_get(running.url + "/-/ready")[0] == 503
        status, body = http_get(running.url + "/metrics")
        metrics = parse(body)
        assert metrics.value("root_exporter_discovery_success") == 0.0
        assert 'account_id=""' not in body and 'account_name=""' not in body
        log = running.log()
        assert "EndpointConnectionError" in log and endpoint in log
        assert "Troubleshooting credentials" in log and "retry_in_seconds=5" in log
    finally:
        assert running.stop() == 0, running.log()[-3000:]


def test_recovers_from_a_failed_first_discovery_without_waiting_an_interval(fake: FakeAws, config: Path):
    fake.fail(MANAGEMENT_ACCOUNT_ID, "ListRoots", "AccessDeniedException", times=1)
    started = time.monotonic()
    running = start_exporter(["--config.file", str(config)], env=fake.env(), ready_timeout=60)
    try:
        took = time.monotonic() - started
        assert took < 30, took  # the default discovery interval is 1h; the first retry comes after 5s
        metrics = parse(http_get(running.url + "/metrics")[1])
        assert metrics.label_values("root_account_info", "account_id") == {MANAGEMENT_ACCOUNT_ID, MEMBER}
        assert metrics.value("root_exporter_discovery_success") == 1.0
        assert "discovery failed; retrying" in running.log()
    finally:
        fake.clear_failures(MANAGEMENT_ACCOUNT_ID)
        assert running.stop() == 0, running.log()[-3000:]


def test_sigterm_with_a_call_in_flight_stops_within_seconds_with_exit_0(fake: FakeAws, config: Path):
    fake.set_latency(120.0, account_id=MEMBER)
    fake.clear_calls()
    running = start_exporter(["--config.file", str(config)], env=fake.env(), wait_ready=False)
    try:
        wait_for(
            lambda: [c for c in fake.calls_to("AssumeRole") if MEMBER in c.params.get("RoleArn", "")],
            30,
            "a call for the hung member",
        )
        sent = time.monotonic()
        running.process.send_signal(signal.SIGTERM)
        try:
            code = running.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pytest.fail(f"still running 10 s after SIGTERM\n{running.log()[-3000:]}")
        assert code == 0, running.log()[-3000:]
        assert time.monotonic() - sent < 5
    finally:
        fake.clear_latency()
        running.stop()


def test_sighup_does_not_kill_and_a_broken_new_file_is_refused(fake: FakeAws, config: Path):
    running = start_exporter(["--config.file", str(config)], env=fake.env())
    try:
        config.write_text("collection:\n  concurrency: many\n")
        running.process.send_signal(signal.SIGHUP)
        wait_for(lambda: "reload" in running.log(), 10, "a log line about the reload")
        assert running.process.poll() is None, running.log()[-3000:]
        assert http_get(running.url + "/-/ready")[0] == 200
        log = running.log()
        assert "collection.concurrency" in log and "keeping the running configuration" in log
        assert "configuration reloaded" not in log
    finally:
        assert running.stop() == 0, running.log()[-3000:]


def test_demo_without_the_fake_installed_says_how_to_install_it_and_exits_2(tmp_path: Path):
    # A directory first on the path where `import moto` fails as it does when moto is not installed.
    hidden = tmp_path / "hide-moto"
    (hidden / "moto").mkdir(parents=True)
    (hidden / "moto" / "__init__.py").write_text("raise ModuleNotFoundError(\"No module named 'moto'\", name='moto')\n")
    result = run(["--demo"], env={"PYTHONPATH": str(hidden)}, timeout=60)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert "make demo" in result.stderr and "pip install ./fakeaws" in result.stderr
    assert "No module named 'moto'" in result.stderr


def test_sighup_applies_a_valid_changed_file_without_a_restart(fake: FakeAws, config: Path):
    running = start_exporter(["--config.file", str(config)], env=fake.env())
    try:

        def metrics():
            return parse(http_get(running.url + "/metrics")[1])

        assert metrics().value("root_exporter_collection_interval_seconds", source="account_summary") == 300.0
        assert MEMBER in metrics().label_values("root_account_info", "account_id")
        config.write_text(
            config.read_text() + f'  intervals:\n    account_summary: 20s\naccounts:\n  exclude: ["{MEMBER}"]\n'
        )
        running.process.send_signal(signal.SIGHUP)
        wait_for(
            lambda: metrics().value("root_exporter_collection_interval_seconds", source="account_summary") == 20.0,
            15,
            "the new interval in /metrics",
        )
        wait_for(
            lambda: MEMBER not in metrics().label_values("root_account_info", "account_id"),
            15,
            "the excluded member to leave /metrics",
        )
        assert running.process.poll() is None
        assert http_get(running.url + "/-/ready")[0] == 200
        assert "configuration reloaded" in running.log()
    finally:
        assert running.stop() == 0, running.log()[-3000:]


def _request(url: str, method: str) -> tuple[int, str]:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(urllib.request.Request(url, method=method, data=b""), timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_post_reload_is_not_served_without_the_lifecycle_flag(fake: FakeAws, config: Path):
    running = start_exporter(["--config.file", str(config)], env=fake.env(), wait_ready=False)
    try:
        assert _request(running.url + "/-/reload", "POST")[0] == 404
        assert "configuration unchanged" not in running.log() and "configuration reloaded" not in running.log()
    finally:
        assert running.stop() == 0, running.log()[-3000:]


def test_post_reload_with_the_lifecycle_flag_applies_or_refuses_the_file(fake: FakeAws, config: Path):
    running = start_exporter(["--config.file", str(config), "--web.enable-lifecycle"], env=fake.env())
    try:

        def interval():
            return parse(http_get(running.url + "/metrics")[1]).value(
                "root_exporter_collection_interval_seconds", source="account_summary"
            )

        assert _request(running.url + "/-/reload", "GET")[0] == 405
        assert _request(running.url + "/-/reload", "POST") == (200, "configuration unchanged\n")
        good = config.read_text()
        config.write_text("collection:\n  concurrency: many\n")
        status, body = _request(running.url + "/-/reload", "POST")
        assert status == 500 and "collection.concurrency" in body and str(config) in body, body
        assert interval() == 300.0 and running.process.poll() is None
        config.write_text(good + "  intervals:\n    account_summary: 20s\n")
        assert _request(running.url + "/-/reload", "POST") == (200, "configuration reloaded\n")
        assert interval() == 20.0
        assert _request(running.url + "/-/reload", "POST")[0] == 200  # the new app serves it too
        assert http_get(running.url + "/-/ready")[0] == 200
    finally:
        assert running.stop() == 0, running.log()[-3000:]
