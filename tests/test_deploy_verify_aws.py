"""``--verify-config.aws``: the real command against the fake AWS, each missing permission named."""

from __future__ import annotations

import os
import subprocess
from typing import Iterator

import pytest

from fakeaws import MANAGEMENT_ACCOUNT_ID, FakeAws
from tests.support.exporter import exporter_command

MEMBER = "330000000001"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeAws]:
    with FakeAws() as fake:
        fake.create_organization()
        fake.create_account(MEMBER, "web", ou="Workloads")
        yield fake


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("accounts:\n  role_name: AwsRootExporterRead\n  external_id: verify-me\n")
    return path


def test_every_check_passes_with_the_needed_permissions(fake, config):
    fake.clear_failures()
    fake.clear_calls()
    result = subprocess.run(
        exporter_command() + ["--verify-config.aws", "--config.file", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **fake.env()},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith("aws: ")]
    assert [line.split(":")[1].strip() for line in lines] == ["ok sts", "ok organizations", "ok sts"], lines
    assert f"arn:aws:iam::{MEMBER}:role/AwsRootExporterRead" in lines[2]
    (assume,) = fake.calls_to("AssumeRole")
    assert assume.params["ExternalId"] == "verify-me" and assume.target_account == MEMBER
    assert "verify-me" not in result.stdout + result.stderr, "the ExternalId is a secret"


@pytest.mark.parametrize(
    "account, action, named",
    [
        (MANAGEMENT_ACCOUNT_ID, "ListAccounts", "missing permission organizations:ListAccounts"),
        (MEMBER, "AssumeRole", f"missing permission sts:AssumeRole on arn:aws:iam::{MEMBER}:role/AwsRootExporterRead"),
    ],
)
def test_a_denied_call_is_named_with_its_permission(fake, config, account, action, named):
    fake.clear_failures()
    fake.fail(account, action)
    result = subprocess.run(
        exporter_command() + ["--verify-config", "--verify-config.aws", "--config.file", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **fake.env()},
    )
    fake.clear_failures()
    assert result.returncode == 1, result.stdout + result.stderr
    (failure,) = [line for line in result.stdout.splitlines() if line.startswith("aws: FAIL")]
    assert named in failure and "AccessDenied" in failure, failure


def test_unusable_credentials_are_reported_as_such(fake, config):
    fake.fail(
        MANAGEMENT_ACCOUNT_ID,
        "GetCallerIdentity",
        code="InvalidClientTokenId",
        message="The security token included in the request is invalid.",
    )
    try:
        result = subprocess.run(
            exporter_command() + ["--verify-config.aws", "--config.file", str(config)],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, **fake.env()},
        )
    finally:
        fake.clear_failures()
    assert result.returncode == 1
    assert "aws: FAIL sts:GetCallerIdentity: InvalidClientTokenId" in result.stdout, result.stdout
    assert "organizations:ListAccounts" not in result.stdout
