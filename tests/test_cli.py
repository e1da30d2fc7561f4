"""The command line as a user meets it: the real console script in a subprocess.

``--once`` runs against a ``FakeAws`` organization over HTTP; ``--verify-config`` against every
configuration fixture in tests/configs (``*.ok.yaml`` must load, ``*.bad.yaml`` must fail with
the messages their ``# expect:`` lines name); usage errors exit 2.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Iterator, Optional

import pytest
import yaml

from fakeaws import MANAGEMENT_ACCOUNT_ID, FakeAccessKey, FakeAws, FakeCertificate, FakeRoot
from fakeaws.demo import build_detection
from tests.support.exporter import exporter_command
from tests.support.exposition import Exposition, parse

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "tests" / "configs"
OK_CONFIGS = sorted(CONFIGS.glob("*.ok.yaml"))
BAD_CONFIGS = sorted(CONFIGS.glob("*.bad.yaml"))
# Where nothing listens: a command that must not call AWS fails loudly if it tries.
NO_AWS = {
    "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
    "AWS_ACCESS_KEY_ID": "none",
    "AWS_SECRET_ACCESS_KEY": "none",
    "AWS_CONFIG_FILE": "/dev/null",
    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    "AWS_EC2_METADATA_DISABLED": "true",
}

MEMBERS = {  # id -> (name, OU, root)
    "310000000001": ("web", "Workloads", FakeRoot.with_password("virtual")),
    "310000000002": ("logs", "Security", FakeRoot.without_credentials()),
    "310000000003": (
        "batch",
        "",
        FakeRoot(password=True, access_keys=[FakeAccessKey()], certificates=[FakeCertificate()]),
    ),
}
MEMBER_ROLE_SOURCES = ("account_summary", "credential_report", "mfa_devices", "console_logins", "trail_status")


def run(
    args: list[str], env: Optional[dict[str, str]] = None, timeout: float = 60, command: Optional[list[str]] = None
) -> subprocess.CompletedProcess:
    """The exporter command with ``args``, in the repository, with the environment plus ``env``."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        (command or exporter_command()) + args,
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        cwd=REPO,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeAws]:
    """An organization in which every account and every source can be read."""
    fake = FakeAws()
    fake.start()
    try:
        fake.create_organization()
        fake.set_organization_features(root_credentials_management=True, root_sessions=True)
        fake.set_root(MANAGEMENT_ACCOUNT_ID, FakeRoot.with_password("hardware"))
        for account_id, (name, ou, root) in MEMBERS.items():
            fake.create_account(account_id, name, ou=ou, root=root)
        build_detection(fake)  # an organization trail: root activity is visible in every account
        yield fake
    finally:
        fake.stop()


@pytest.fixture(scope="module")
def config(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "config.yaml"
    path.write_text("collection:\n  credential_report_timeout: 30s\n")
    return path


def success_by_account(metrics: Exposition) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for labels, value in metrics.series("root_exporter_collection_success").items():
        labels = dict(labels)
        out.setdefault(labels["account_id"], {})[labels["source"]] = value
    return out


# ---------------------------------------------------------------- --once


def test_once_exits_0_and_prints_the_metrics_when_everything_succeeds(fake: FakeAws, config: Path):
    result = run(["--config.file", str(config), "--once"], env=fake.env())
    assert result.returncode == 0, result.stderr
    metrics = parse(result.stdout)  # stdout is exposition text only: logs go to stderr
    assert metrics.label_values("root_account_info", "account_id") == {MANAGEMENT_ACCOUNT_ID, *MEMBERS}
    expected = {MANAGEMENT_ACCOUNT_ID: dict.fromkeys((*MEMBER_ROLE_SOURCES, "discovery", "org_features"), 1.0)}
    for account_id, (_, _, root) in MEMBERS.items():
        # Where the live summary says root has no MFA, the virtual MFA listing is skipped;
        # root_policies is read from the exporter's account and applies to members only.
        sources = [s for s in MEMBER_ROLE_SOURCES if s != "mfa_devices" or root.mfa_active]
        expected[account_id] = dict.fromkeys((*sources, "root_audit", "root_policies"), 1.0)
    assert success_by_account(metrics) == expected
    assert metrics.value("root_credentials_present", account_id="310000000002", account_name="logs") == 0.0
    assert metrics.value("root_access_key_active", account_id="310000000003", account_name="batch", key="1") == 1.0


def test_once_logs_the_findings_and_keeps_stdout_an_exposition(fake: FakeAws, config: Path):
    result = run(["--config.file", str(config), "--once", "--log.format", "json"], env=fake.env())
    assert result.returncode == 0, result.stderr
    parse(result.stdout)  # still nothing but the exposition
    records = [json.loads(line) for line in result.stderr.splitlines() if line.strip()]
    findings = [r for r in records if "finding" in r]
    batch = {r["finding"]: r for r in findings if r["account_id"] == "310000000003"}
    assert batch["root_without_mfa"] == {
        **batch["root_without_mfa"],
        "level": "warn",
        "severity": "critical",
        "msg": "Root has credentials but no MFA",
        "account_name": "batch",
        "alert": "AWSRootCredentialsWithoutMFA",
        "cis_control": "1.5",
        "securityhub_control": "IAM.9",
    }
    assert batch["access_key_present"]["alert"] == "AWSRootAccessKeyPresent"
    assert not [r for r in findings if r["account_id"] == "310000000002"]  # no root credentials: compliant
    (counts,) = [r for r in records if r["msg"] == "findings"]
    assert (counts["accounts"], counts["critical"], counts["warning"], counts["info"]) == (4, 2, 5, 0)
    assert [r["account_id"] for r in findings][0] == "310000000003"  # worst account first


def test_switched_off_collectors_neither_run_nor_report(fake: FakeAws, config: Path):
    fake.clear_calls()
    result = run(
        [
            "--config.file",
            str(config),
            "--once",
            "--no-collector.console_logins",
            "--no-collector.root_audit",
            "--no-collector.root_policies",
        ],
        env=fake.env(),
    )
    assert result.returncode == 0, result.stderr
    metrics = parse(result.stdout)
    reported = {source for sources in success_by_account(metrics).values() for source in sources}
    assert reported == {
        "discovery",
        "org_features",
        "account_summary",
        "credential_report",
        "mfa_devices",
        "trail_status",
    }
    assert metrics.label_values("root_exporter_collection_interval_seconds", "source") == {
        "discovery",
        "account_summary",
        "credential_report",
        "mfa_devices",
        "trail_status",
    }
    assert fake.calls_to("LookupEvents") == [] and fake.calls_to("AssumeRoot") == []
    assert fake.calls_to("ListPolicies") == []


def test_once_exits_1_when_one_member_is_denied(fake: FakeAws, config: Path):
    denied = "310000000001"
    fake.fail(denied, "AssumeRole", "AccessDenied")
    try:
        result = run(["--config.file", str(config), "--once"], env=fake.env())
    finally:
        fake.clear_failures(denied)
    assert result.returncode == 1, result.stderr
    success = success_by_account(parse(result.stdout))
    assert success[denied] == {**dict.fromkeys(MEMBER_ROLE_SOURCES, 0.0), "root_audit": 1.0, "root_policies": 1.0}
    for account_id, sources in success.items():
        if account_id != denied:
            assert set(sources.values()) == {1.0}, (account_id, sources)
    assert f"account_id={denied}" in result.stderr and "AccessDenied" in result.stderr


def test_log_format_json_writes_one_json_object_per_line(fake: FakeAws, config: Path):
    result = run(["--config.file", str(config), "--once", "--log.format", "json"], env=fake.env())
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines, "no log lines"
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except ValueError:
            pytest.fail(f"not a JSON log line: {line!r}")
    assert all(isinstance(r, dict) and {"ts", "level", "logger", "msg"} <= set(r) for r in records), records[:3]
    assert any(r.get("source") == "discovery" and r["level"] == "info" for r in records), records
    parse(result.stdout)


# ---------------------------------------------------------------- --verify-config


def _leading_comments(path: Path, directive: str) -> list[str]:
    """The ``# <directive>: text`` lines of the file's leading comment block."""
    found = []
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            break
        match = re.match(rf"#\s*{directive}:\s?(.*)$", line)
        if match:
            found.append(match.group(1).rstrip())
    return found


def _default_intervals() -> dict[str, str]:
    """source -> default interval, from README's sources table (checked against the registry
    by tests/test_registry.py); org_features runs with discovery and has none."""
    table = (REPO / "README.md").read_text().split("### Sources", 1)[1].split("\n\n", 2)[1]
    found = dict(re.findall(r"^\| `([a-z_]+)` \| (?:(?:on|off), )?every ([0-9]+[smhd]) \|", table, re.MULTILINE))
    assert {"discovery", "account_summary", "root_audit"} <= set(found), found
    return found


@pytest.mark.parametrize("path", OK_CONFIGS, ids=lambda p: p.name)
def test_verify_config_accepts_good_files_and_says_what_it_would_collect(path: Path):
    result = run(["--config.file", str(path), "--verify-config"], env=NO_AWS, timeout=30)
    assert result.returncode == 0, result.stderr
    data = yaml.safe_load(path.read_text()) or {}
    accounts = data.get("accounts") or {}
    mode = accounts.get("discovery", "organizations")
    assert re.search(rf"^discovery: {mode}\b", result.stdout, re.MULTILINE), result.stdout
    for entry in accounts.get("static") or []:
        assert str(entry["id"]) in result.stdout
    intervals = {**_default_intervals(), **((data.get("collection") or {}).get("intervals") or {})}
    for source, interval in intervals.items():
        assert re.search(rf"^\s*{source}\b.*\b{re.escape(str(interval))}$", result.stdout, re.MULTILINE), (
            f"{source} every {interval} not in:\n{result.stdout}"
        )
    if accounts.get("external_id"):
        assert accounts["external_id"] not in result.stdout + result.stderr


@pytest.mark.parametrize("path", BAD_CONFIGS, ids=lambda p: p.name)
def test_verify_config_rejects_bad_files_with_every_expected_message(path: Path):
    expected = _leading_comments(path, "expect")
    assert expected, f"{path.name} has no '# expect:' line"
    result = run(["--config.file", str(path), "--verify-config"], env=NO_AWS, timeout=30)
    assert result.returncode == 2, result.stdout + result.stderr
    missing = [text for text in expected if text not in result.stderr]
    assert not missing, f"stderr lacks {missing}:\n{result.stderr}"
    for text in _leading_comments(path, "absent"):
        assert text not in result.stderr + result.stdout


# ---------------------------------------------------------------- usage errors


@pytest.mark.parametrize("mode", [[], ["--verify-config"], ["--once"]], ids=["serve", "verify-config", "once"])
def test_a_missing_config_file_exits_2_naming_the_path(tmp_path: Path, mode: list[str]):
    missing = tmp_path / "no-such-dir" / "exporter.yaml"
    result = run(["--config.file", str(missing), *mode], env=NO_AWS, timeout=30)
    assert result.returncode == 2, result.stdout + result.stderr
    assert str(missing) in result.stderr


@pytest.mark.parametrize("address", ["localhost", ":99999", "127.0.0.1:http", ""])
def test_a_bad_listen_address_exits_2(address: str):
    result = run(
        ["--config.file", str(CONFIGS / "empty.ok.yaml"), "--web.listen-address", address], env=NO_AWS, timeout=30
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "--web.listen-address" in result.stderr


@pytest.mark.parametrize(
    "args",
    [["--collector.bogus"], ["--log.format", "xml"], ["--log.level", "loud"], ["--once", "--verify-config"]],
    ids=["unknown-flag", "log-format", "log-level", "once-and-verify"],
)
def test_usage_errors_exit_2(args: list[str]):
    result = run(["--config.file", str(CONFIGS / "empty.ok.yaml"), *args], env=NO_AWS, timeout=30)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "usage:" in result.stderr and args[0] in result.stderr


def test_python_dash_m_exporter_version():
    result = run(["--version"], command=[sys.executable, "-m", "exporter"], timeout=30)
    assert result.returncode == 0, result.stderr
    assert importlib.metadata.version("aws-root-exporter") in result.stdout


def test_demo_ignores_the_default_config_file_but_not_an_explicit_one(tmp_path):
    # A config.yaml tailored to a real organization sits in the working directory.
    (tmp_path / "config.yaml").write_text(
        'accounts:\n  discovery: static\n  static:\n    - id: "111122223333"\n      name: real-prod\n'
    )
    plain = subprocess.run(
        exporter_command() + ["--verify-config"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert plain.returncode == 0 and "discovery: static" in plain.stdout
    demo = subprocess.run(
        exporter_command() + ["--demo", "--verify-config"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert demo.returncode == 0, demo.stderr
    assert "discovery: organizations" in demo.stdout and "real-prod" not in demo.stdout
    explicit = subprocess.run(
        exporter_command() + ["--demo", "--verify-config", "--config.file", "config.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert explicit.returncode == 0 and "discovery: static" in explicit.stdout


def test_demo_works_despite_the_users_own_aws_settings(tmp_path):
    # A developer's shell often names a profile and carries a session token; the demo must still
    # reach its fake organization and collect every source.
    env = {
        "AWS_PROFILE": "production-admin",
        "AWS_SESSION_TOKEN": "users-own-token",
        "AWS_ACCESS_KEY_ID": "AKIAUSERSOWNKEY00000",
        "AWS_SECRET_ACCESS_KEY": "users-own-secret",
    }
    result = run(["--demo", "--once"], env=env, timeout=120)
    metrics = parse(result.stdout)
    assert len(metrics.label_values("root_account_info", "account_id")) == 10, result.stderr
    successes = success_by_account(metrics)
    assert successes["123456789012"]["account_summary"] == 1.0


def test_an_interval_too_long_to_schedule_is_refused_at_start_not_with_a_traceback(tmp_path: Path):
    # --verify-config used to accept 3000000d, and the start then crashed in the scheduler.
    path = tmp_path / "config.yaml"
    path.write_text("collection:\n  intervals:\n    account_summary: 3000000d\n")
    for mode in (["--verify-config"], []):
        result = run(["--config.file", str(path), *mode], env=NO_AWS, timeout=30)
        assert result.returncode == 2, result.stdout + result.stderr
        assert "Traceback" not in result.stderr
        assert f'{path}: collection.intervals.account_summary: "3000000d" is above the maximum of 30d' in result.stderr


def test_shard_flags_that_make_no_shard_exit_2_naming_the_flag():
    result = run(["--shard.index", "3", "--shard.count", "3", "--verify-config"])
    assert result.returncode == 2
    assert "--shard.index 3 is not below --shard.count (3)" in result.stderr
    result = run(["--shard.index", "1", "--shard.count", "3", "--verify-config"])
    assert result.returncode == 0, result.stderr
    assert "shard: 1 of 3" in result.stdout
