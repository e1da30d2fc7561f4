"""A source is one module and one registry line: flags, intervals, --verify-config and docs follow.

The toy source below is declared here and nowhere else; adding it to a registry must give it a
``--[no-]collector.toy`` flag, a ``collection.intervals.toy`` key with its default, a
``--verify-config`` line and a run in ``--once`` (the last failed with a KeyError in cli.py when
the source list and the configuration's interval list were kept apart).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from exporter.cli import build_parser, describe, enabled_sources
from exporter.config import ConfigError, default_config, parse_config
from exporter.sources import REGISTRY
from exporter.sources.base import AccountSource
from exporter.sources.registry import EXPORTER, MEMBER_ROLE, AwsCall, Registry, SourceSpec
from fakeaws import FakeAws

REPO = Path(__file__).resolve().parents[1]
TOY_SPEC = SourceSpec(
    "toy",
    "a source that fetches nothing",
    calls=(AwsCall("iam:GetUser", MEMBER_ROLE),),
    interval=42.0,
    default_on=False,
)
TOY = AccountSource(TOY_SPEC, lambda context, account, previous: None)


def test_a_toy_source_gets_a_flag_with_its_default():
    registry = REGISTRY.with_source(TOY)
    parser = build_parser(registry)
    assert [s.name for s in enabled_sources(parser.parse_args([]), registry)] == list(REGISTRY.account_source_names)
    on = enabled_sources(parser.parse_args(["--collector.toy"]), registry)
    assert TOY in on
    assert "a source that fetches nothing (default: off)" in parser.format_help()
    with pytest.raises(SystemExit):
        build_parser(REGISTRY).parse_args(["--collector.toy"])


def test_a_toy_source_gets_an_interval_key_with_its_default():
    registry = REGISTRY.with_source(TOY)
    assert default_config(registry).collection.intervals["toy"] == 42.0
    config = parse_config({"collection": {"intervals": {"toy": "1m"}}}, "config.yaml", registry)
    assert config.collection.intervals["toy"] == 60.0
    with pytest.raises(ConfigError, match=r"collection\.intervals\.toy: unknown key"):
        parse_config({"collection": {"intervals": {"toy": "1m"}}}, "config.yaml")


def test_a_toy_source_gets_a_verify_config_line():
    registry = REGISTRY.with_source(TOY)
    text = describe(default_config(registry), registry)
    assert re.search(r"^  toy +every 42s$", text, re.MULTILINE), text
    off = describe(default_config(registry), registry, frozenset({"toy"}))
    assert re.search(r"^  toy +off \(--no-collector\.toy\)$", off, re.MULTILINE), off


TOY_MAIN = """
import sys
from exporter.cli import main
from exporter.sources import REGISTRY
from exporter.sources.base import AccountSource
from exporter.sources.registry import SourceSpec

toy = AccountSource(SourceSpec("toy", "does nothing", calls=(), interval=60.0),
                    lambda context, account, previous: None)
sys.exit(main(sys.argv[1:], REGISTRY.with_source(toy)))
"""


def test_once_runs_a_do_nothing_source_that_only_the_registry_knows(tmp_path: Path):
    with FakeAws() as fake:
        fake.create_organization()
        result = subprocess.run(
            [
                sys.executable,
                "-c",
                TOY_MAIN,
                "--once",
                "--no-collector.credential_report",
                "--no-collector.console_logins",
                "--no-collector.root_audit",
            ],
            capture_output=True,
            text=True,
            env={**os.environ, **fake.env()},
            cwd=tmp_path,
            timeout=60,
        )
    assert result.returncode == 0, result.stderr
    assert 'root_exporter_collection_interval_seconds{source="toy"} 60.0' in result.stdout
    assert re.search(r'root_exporter_collection_success\{[^}]*source="toy"\} 1\.0', result.stdout), result.stdout


def test_a_source_cannot_be_declared_twice_or_without_an_interval():
    with pytest.raises(ValueError, match="declared twice: toy"):
        REGISTRY.with_source(TOY).with_source(TOY)
    with pytest.raises(ValueError, match="need an interval"):
        Registry((), (AccountSource(SourceSpec("x", "", (), interval=None, runs="with y"), TOY.fetch),))
    with pytest.raises(ValueError, match="unknown principal"):
        AwsCall("iam:GetUser", "someone")


# ---------------------------------------------------------------- README from the registry


README = (REPO / "README.md").read_text()


def test_readme_sources_table_is_the_registrys():
    assert REGISTRY.markdown_table() in README, (
        "README's sources table differs from the registry; paste this:\n" + REGISTRY.markdown_table()
    )


def test_readme_permissions_table_is_the_registrys():
    assert REGISTRY.permissions_table() in README, (
        "README's IAM actions table differs from the registry; paste this:\n" + REGISTRY.permissions_table()
    )


# ---------------------------------------------------------------- deploy/aws/policies from the registry

POLICIES = REPO / "deploy" / "aws" / "policies"
# Granted by the shipped exporter policy for work no source declares, each with its reason;
# tests/test_deploy_permissions.py (VERIFY_ONLY, AWAITING_SOURCE) names the same.
SHIPPED_AHEAD = {
    "organizations:ListAccounts": "--verify-config.aws's one page (VERIFY_ONLY in tests/test_deploy_permissions.py)",
}


def _policy_actions(name: str) -> set[str]:
    actions: set[str] = set()
    for statement in json.loads((POLICIES / name).read_text())["Statement"]:
        action = statement["Action"]
        actions.update([action] if isinstance(action, str) else action)
    return actions


def test_member_policy_grants_exactly_the_member_roles_calls():
    assert _policy_actions("member-policy.json") == set(REGISTRY.permissions(MEMBER_ROLE))


def test_exporter_policy_grants_the_exporters_calls_and_nothing_undeclared():
    # The exporter makes its own calls, assumes the member role, and in its own account makes the
    # member role's calls with its own credentials.
    needed = set(REGISTRY.permissions(EXPORTER)) | {"sts:AssumeRole"} | set(REGISTRY.permissions(MEMBER_ROLE))
    granted = _policy_actions("exporter-policy.json")
    assert needed - granted == set(), "the shipped exporter policy lacks calls a source declares"
    assert granted - needed == set(SHIPPED_AHEAD), "the shipped exporter policy grants calls no source declares"


def test_a_call_declares_the_iam_action_that_allows_it():
    call = AwsCall("sqs:DeleteMessageBatch", EXPORTER, permission="sqs:DeleteMessage")
    assert call.action == "sqs:DeleteMessage"
    registry = Registry((SourceSpec("batch", "", (call,), interval=None, runs="never"),), ())
    assert registry.operations(EXPORTER) == ("sqs:DeleteMessageBatch",)
    assert registry.permissions(EXPORTER) == ("sqs:DeleteMessage",)
    with pytest.raises(ValueError, match="say when it runs"):
        SourceSpec("x", "", (), interval=None)


def test_every_source_with_an_interval_has_a_stale_after_default():
    collection = default_config().collection
    assert tuple(collection.stale_after) == REGISTRY.interval_names
    assert all(collection.stale_after[name] == 3 * collection.intervals[name] for name in REGISTRY.interval_names)
