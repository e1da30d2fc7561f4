"""When the exporter cannot see AWS at all (no credentials, an expired SSO session, an unknown
profile, an endpoint nobody answers on) discovery fails with a description of what is wrong and
advice on what to do, and that advice is in the snapshot for the landing page."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess

import pytest

from tests.integration.conftest import MGMT, Harness, new_account, only
from tests.support.exporter import exporter_command
from tests.support.net import free_port

README_SECTION = "Troubleshooting credentials"


@pytest.fixture
def no_credentials(monkeypatch, tmp_path):
    """An environment in which the standard credential chain finds nothing."""
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_ROLE_ARN",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return tmp_path


def failed_discovery(harness: Harness):
    assert harness.run("discovery") is False
    status = harness.snapshot.discovery
    assert status.success is False and status.last_success is None
    assert harness.snapshot.accounts == {}
    return status


def test_no_credentials_at_all(fake, no_credentials, caplog):
    status = failed_discovery(Harness(aws={"max_attempts": 1}))
    assert status.error.startswith("NoCredentialsError")
    assert "credential chain" in status.hint and "AWS_PROFILE" in status.hint
    assert README_SECTION in status.hint
    logged = [r for r in caplog.records if getattr(r, "source", None) == "discovery" and r.levelname == "WARNING"]
    assert logged and logged[-1].hint == status.hint  # the log line says the same


def test_expired_sso_session(fake, no_credentials):
    """In a subprocess: botocore fixes the SSO token cache directory from HOME when imported."""
    start_url = "https://example.awsapps.com/start"
    (no_credentials / "config").write_text(
        f"[profile dev]\nsso_start_url = {start_url}\nsso_region = us-east-1\nsso_account_id = {MGMT}\n"
        "sso_role_name = ReadOnly\nregion = us-east-1\n"
    )
    cache = no_credentials / ".aws" / "sso" / "cache"
    cache.mkdir(parents=True)
    (cache / f"{hashlib.sha1(start_url.encode()).hexdigest()}.json").write_text(
        json.dumps(
            {
                "startUrl": start_url,
                "region": "us-east-1",
                "accessToken": "expired-token",
                "expiresAt": "2020-01-01T00:00:00Z",
            }
        )
    )
    result = subprocess.run(
        exporter_command() + ["--once"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "AWS_PROFILE": "dev"},
        cwd=no_credentials,
    )
    assert result.returncode == 1, result.stderr
    assert "UnauthorizedSSOTokenError" in result.stderr
    assert "aws sso login --profile dev" in result.stderr and README_SECTION in result.stderr
    assert "expired-token" not in result.stderr + result.stdout
    assert 'account_id=""' not in result.stdout


def test_profile_that_does_not_exist(fake, no_credentials, monkeypatch):
    monkeypatch.setenv("AWS_PROFILE", "production-admin")
    harness = Harness(aws={"max_attempts": 1})  # used to raise ProfileNotFound here, at start
    status = failed_discovery(harness)
    assert "ProfileNotFound" in status.error
    assert "AWS_PROFILE" in status.hint and "production-admin" in status.hint and README_SECTION in status.hint


def test_unreachable_endpoint(fake, monkeypatch):
    endpoint = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    status = failed_discovery(Harness(aws={"max_attempts": 1}))
    assert "EndpointConnectionError" in status.error
    assert endpoint in status.hint and "AWS_ENDPOINT_URL" in status.hint and README_SECTION in status.hint


def test_expired_credentials(fake):
    fake.fail(
        MGMT, "GetCallerIdentity", "ExpiredToken", "The security token included in the request is expired", status=400
    )
    try:
        status = failed_discovery(Harness(aws={"max_attempts": 1}))
    finally:
        fake.clear_failures(MGMT)
    assert status.error.startswith("ExpiredToken (GetCallerIdentity)")
    assert "expired" in status.hint and README_SECTION in status.hint


def test_not_allowed_to_list_accounts(fake):
    fake.fail(MGMT, "ListRoots", "AccessDeniedException")
    try:
        status = failed_discovery(Harness(aws={"max_attempts": 1}))
    finally:
        fake.clear_failures(MGMT)
    assert "organizations:ListRoots" in status.hint and "delegated administrator" in status.hint


def test_success_after_a_failure_clears_the_hint(fake):
    member = new_account(fake)
    fake.fail(MGMT, "ListRoots", "AccessDeniedException")
    harness = Harness(accounts=only(member), aws={"max_attempts": 1})
    try:
        assert harness.run("discovery") is False
    finally:
        fake.clear_failures(MGMT)
    assert harness.snapshot.discovery.hint
    assert harness.run("discovery")
    assert harness.snapshot.discovery.hint is None and harness.snapshot.discovery.error is None
