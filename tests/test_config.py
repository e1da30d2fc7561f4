"""The configuration loader: defaults, the shipped example, and the fixtures in tests/configs.

Each ``*.bad.yaml`` lists the errors it must produce in leading ``# expect: <substring>`` lines
(and text that must never appear in ``# absent: <substring>`` lines); the file must fail with
exactly those errors, all in one ConfigError.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from exporter.config import (
    AccountsConfig,
    Config,
    ConfigError,
    StaticAccount,
    default_config,
    format_duration,
    load_config,
    parse_config,
    parse_duration,
    role_arn_for,
    with_shard,
)
from exporter.cli import describe
from exporter.sources import REGISTRY

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = Path(__file__).resolve().parent / "configs"
OK_FILES = sorted(CONFIGS.glob("*.ok.yaml"))
BAD_FILES = sorted(CONFIGS.glob("*.bad.yaml"))


def _directives(path: Path, name: str) -> list[str]:
    prefix = f"# {name}: "
    return [line[len(prefix) :].rstrip("\n") for line in path.read_text().splitlines() if line.startswith(prefix)]


def _load_failing(path) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_config(str(path))
    return caught.value


# ---------------------------------------------------------------- defaults


def test_defaults_match_the_documented_schema():
    config = default_config()
    assert config.source == "<defaults>"
    assert (config.aws.region, config.aws.max_attempts) == ("us-east-1", 5)
    accounts = config.accounts
    assert accounts.discovery == "organizations"
    assert accounts.role_name == "OrganizationAccountAccessRole"
    assert accounts.external_id is None
    assert accounts.session_name == "aws-root-exporter"
    assert (accounts.include, accounts.exclude, accounts.static) == ((), (), ())
    assert accounts.root_audit == "auto"
    collection = config.collection
    assert collection.concurrency == 8
    assert collection.cloudtrail_regions == ("us-east-1",)
    assert collection.console_login_lookback == 24 * 3600
    assert collection.credential_report_timeout == 120
    assert dict(collection.intervals) == {
        "discovery": 3600,
        "account_summary": 300,
        "credential_report": 3600,
        "mfa_devices": 300,
        "console_logins": 300,
        "root_audit": 1800,
        "trail_status": 3600,
        "root_policies": 3600,
    }
    assert tuple(collection.intervals) == REGISTRY.interval_names
    assert collection.root_events.queue_url is None  # the event stream is off unless configured


def test_config_is_immutable():
    config = default_config()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.aws.region = "eu-west-1"  # type: ignore[misc]
    with pytest.raises(TypeError):
        config.collection.intervals["discovery"] = 1  # type: ignore[index]


def test_empty_document_means_all_defaults(tmp_path):
    path = tmp_path / "empty.yaml"
    path.write_text("")
    config = load_config(str(path))
    assert config == dataclasses.replace(default_config(), source=str(path))


def test_shipped_config_loads_and_shows_the_defaults():
    path = ROOT / "config.yaml"
    assert load_config(str(path)) == dataclasses.replace(default_config(), source=str(path))


def test_shipped_config_shows_every_key():
    text = (ROOT / "config.yaml").read_text()
    keys = [
        "region",
        "max_attempts",
        "discovery",
        "role_name",
        "external_id",
        "session_name",
        "include",
        "exclude",
        "root_audit",
        "root_email",
        "allowed",
        "static",
        "concurrency",
        "cloudtrail_regions",
        "console_login_lookback",
        "credential_report_timeout",
        "intervals",
        "deadlines",
        "stale_after",
        *REGISTRY.interval_names,
    ]
    missing = [key for key in keys if f"\n  {key}:" not in text and f"\n    {key}:" not in text]
    assert missing == []


# ---------------------------------------------------------------- fixture files


def test_fixture_sets_are_not_empty():
    assert len(OK_FILES) >= 4 and len(BAD_FILES) >= 8


@pytest.mark.parametrize("path", OK_FILES, ids=lambda p: p.name)
def test_ok_file_loads(path):
    config = load_config(str(path))
    assert config.source == str(path)
    assert set(config.collection.intervals) == set(REGISTRY.interval_names)


@pytest.mark.parametrize("path", BAD_FILES, ids=lambda p: p.name)
def test_bad_file_reports_exactly_its_expected_errors_at_once(path):
    expected = _directives(path, "expect")
    assert expected, f"{path.name} has no '# expect:' lines"
    error = _load_failing(path)
    text = str(error)
    assert text == "\n".join(error.errors)
    for substring in expected:
        assert substring in text
    for substring in _directives(path, "absent"):
        assert substring not in text
    # every reported error is one the file expects, and each starts with the file name
    for line in error.errors:
        assert line.startswith(f"{path}: ")
        assert any(substring in line for substring in expected), f"unexpected error: {line}"
    assert len(error.errors) == len(expected)


def test_ok_fixtures_read_as_written():
    static = load_config(str(CONFIGS / "static-role-arn.ok.yaml"))
    assert static.accounts.discovery == "static"
    assert static.accounts.static == (
        StaticAccount("111111111111", "prod", "arn:aws-us-gov:iam::111111111111:role/security/RootReader"),
        StaticAccount("012345678901", "staging", None),
        StaticAccount("222222222222", "222222222222", None),
    )
    assert role_arn_for(static, "012345678901") == "arn:aws-us-gov:iam::012345678901:role/audit/RootExporter"
    assert role_arn_for(static, "111111111111") == "arn:aws-us-gov:iam::111111111111:role/security/RootReader"

    unquoted = load_config(str(CONFIGS / "unquoted-id.ok.yaml"))
    assert [a.id for a in unquoted.accounts.static] == ["111111111111", "222222222222"]

    orgs = load_config(str(CONFIGS / "organizations-ous.ok.yaml"))
    assert orgs.accounts.include == ("ou-ab12-cdef3456", "333333333333")
    assert orgs.accounts.exclude == ("ou-ab12-99998888zz", "444444444444")
    assert orgs.accounts.root_audit == "on"  # plain `on` is a YAML boolean
    assert orgs.collection.intervals["account_summary"] == 90
    assert orgs.collection.intervals["mfa_devices"] == 300  # not given: default

    email = load_config(str(CONFIGS / "root-email.ok.yaml"))
    assert email.accounts.root_email_allowed == (r"aws\+[a-z0-9-]+@example\.com", r"legacy-billing@example\.org")

    off = load_config(str(CONFIGS / "root-audit-off.ok.yaml"))
    assert off.accounts.root_audit == "off"
    assert off.collection.credential_report_timeout == 90


# ---------------------------------------------------------------- loading


def test_missing_file_is_a_clear_error(tmp_path):
    error = _load_failing(tmp_path / "nope.yaml")
    assert error.errors == [f"{tmp_path / 'nope.yaml'}: no such file"]


def test_top_level_must_be_a_mapping(tmp_path):
    path = tmp_path / "list.yaml"
    path.write_text("- aws\n- accounts\n")
    assert "expected a mapping with aws, accounts, collection, got a list" in str(_load_failing(path))


def test_parse_config_names_the_source_in_every_error():
    with pytest.raises(ConfigError) as caught:
        parse_config({"accounts": {"include": ["12345"]}, "aws": {"region": "moon-1"}}, "inline")
    assert caught.value.errors == [
        'inline: aws.region: "moon-1" is not an AWS region like us-east-1, eu-central-2, us-gov-west-1 or cn-north-1',
        'inline: accounts.include[0]: "12345" is neither a 12-digit account id nor an OU id (ou-...)',
    ]


def test_parse_config_accepts_plain_yaml_numbers_for_ids():
    # What yaml.safe_load gives for an unquoted id: a 12-digit int is fine, a short one is not.
    config = parse_config({"accounts": {"include": [111111111111]}}, "inline")
    assert config.accounts.include == ("111111111111",)
    with pytest.raises(ConfigError, match=r"1227133513 is a number with 10 digits.*quote the id"):
        parse_config({"accounts": {"include": [0o11111111111]}}, "inline")


@pytest.mark.parametrize(
    "region", ["us-east-1", "eu-central-2", "ap-northeast-3", "us-gov-west-1", "cn-north-1", "cn-northwest-1"]
)
def test_real_region_shapes_are_accepted(region):
    data = {"aws": {"region": region}, "collection": {"cloudtrail_regions": [region]}}
    assert parse_config(data, "inline").aws.region == region


@pytest.mark.parametrize("region", ["us-east", "US-EAST-1", "useast1", "us-middle-1", "eu-central-"])
def test_malformed_regions_are_rejected(region):
    with pytest.raises(ConfigError, match="is not an AWS region"):
        parse_config({"aws": {"region": region}}, "inline")


@pytest.mark.parametrize("value", ["5", 5.0, True, None, [5]])
def test_integers_must_be_integers(value):
    with pytest.raises(ConfigError, match="aws.max_attempts: expected a whole number from 1 to 20"):
        parse_config({"aws": {"max_attempts": value}}, "inline")


def test_null_sections_and_lists_mean_defaults():
    config = parse_config({"aws": None, "accounts": {"include": None}, "collection": {"intervals": None}}, "x")
    assert dataclasses.replace(config, source="<defaults>") == default_config()


# ---------------------------------------------------------------- describe


def test_describe_says_what_would_be_collected_and_hides_the_external_id():
    config = parse_config(
        {
            "accounts": {"external_id": "very-secret-value", "include": ["ou-ab12-cdef3456"]},
            "collection": {"intervals": {"mfa_devices": "1h30m"}},
        },
        "config.yaml",
    )
    text = describe(config)
    assert "very-secret-value" not in text
    assert "very-secret-value" not in repr(config)
    assert "external id: set" in text
    assert "discovery: organizations" in text
    assert "include: ou-ab12-cdef3456" in text
    assert "role: arn:aws:iam::<account id>:role/OrganizationAccountAccessRole" in text
    assert "root audit: auto" in text
    assert "mfa_devices        every 1h30m" in text
    assert "console_logins     every 5m" in text
    assert "external id: not set" in describe(default_config())


def test_describe_lists_static_accounts_with_their_roles():
    config = load_config(str(CONFIGS / "static-role-arn.ok.yaml"))
    text = describe(config)
    assert "discovery: static (3 accounts)" in text
    assert "111111111111 prod: arn:aws-us-gov:iam::111111111111:role/security/RootReader" in text
    assert "012345678901 staging: arn:aws-us-gov:iam::012345678901:role/audit/RootExporter" in text


def test_accounts_config_can_be_built_directly():
    # Other modules and tests build configs in code; the defaults match the loader's.
    accounts = AccountsConfig(discovery="static", static=(StaticAccount("111111111111", "prod"),))
    config = Config(accounts=accounts)
    assert config.accounts.role_name == "OrganizationAccountAccessRole"


# ---------------------------------------------------------------- durations


@pytest.mark.parametrize(
    "text, seconds",
    [
        ("30s", 30),
        ("5m", 300),
        ("1h", 3600),
        ("1d", 86400),
        ("1h30m", 5400),
        ("1d2h3m4s", 93784),
        ("1.5h", 5400),
        ("0s", 0),
        (45, 45),
        (2.5, 2.5),
    ],
)
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "text, message",
    [
        ("5", "has no unit: write 5s"),
        ("5 minutes", "is not a duration"),
        ("30m1h", "largest first"),
        ("1h1h", "each unit once"),
        ("", "is not a duration"),
        ("-5s", "is not a duration"),
        ("5M", "not a duration"),
        (True, "is not a duration"),
        (-1, "0 or more"),
        (float("inf"), "finite"),
    ],
)
def test_parse_duration_rejects(text, message):
    with pytest.raises(ValueError, match=message):
        parse_duration(text)


@pytest.mark.parametrize(
    "seconds, text",
    [(3600, "1h"), (90, "1m30s"), (0, "0s"), (86400, "1d"), (93784, "1d2h3m4s"), (0.12, "0.12s"), (5400, "1h30m")],
)
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


@pytest.mark.parametrize("seconds", [0, 1, 10, 59, 60, 61, 3599, 3600, 3661, 86399, 86400, 90061, 7776000, 1.5])
def test_duration_round_trip(seconds):
    assert parse_duration(format_duration(seconds)) == seconds


@pytest.mark.parametrize("text", ["30s", "5m", "1h30m", "1d", "2d12h", "1m0.5s"])
def test_canonical_text_round_trip(text):
    assert format_duration(parse_duration(text)) == text


def test_deadlines_default_to_half_the_interval_and_follow_a_changed_interval():
    assert dict(default_config().collection.deadlines) == {
        "account_summary": 150,
        "credential_report": 1800,
        "mfa_devices": 150,
        "console_logins": 150,
        "root_audit": 900,
        "trail_status": 1800,
        "root_policies": 1800,
    }
    config = load_config(str(CONFIGS / "deadlines.ok.yaml")).collection
    assert (config.deadline("account_summary"), config.deadline("root_audit")) == (30, 300)
    assert config.deadline("console_logins") == 300  # half of the 10m given
    assert config.deadline("mfa_devices") == 150


def test_verify_config_shows_the_deadlines():
    text = describe(load_config(str(CONFIGS / "deadlines.ok.yaml")))
    assert "  account_summary    30s" in text and "  console_logins     5m" in text


def test_root_events_queue_url_is_read(tmp_path):
    path = ROOT / "tests" / "configs" / "root-events.ok.yaml"
    config = load_config(str(path))
    assert config.collection.root_events.queue_url == "https://sqs.us-east-1.amazonaws.com/111111111111/root-events"
    assert config.collection.intervals["console_logins"] == 3600
    assert "root event stream: https://sqs.us-east-1.amazonaws.com/111111111111/root-events" in describe(config)
    assert "root event stream: off" in describe(default_config())


def test_stale_after_defaults_to_three_intervals_and_follows_a_changed_interval():
    assert dict(default_config().collection.stale_after) == {
        source: 3 * interval for source, interval in default_config().collection.intervals.items()
    }
    config = load_config(str(CONFIGS / "stale-after.ok.yaml")).collection
    assert (config.stale_after["account_summary"], config.stale_after["discovery"]) == (3600, 86400)
    assert config.stale_after["mfa_devices"] == 1800  # 3 x the 10m given
    assert config.stale_after["credential_report"] == 3 * 3600


def test_verify_config_shows_stale_after():
    text = describe(load_config(str(CONFIGS / "stale-after.ok.yaml")))
    assert "values older than this are left out of /metrics" in text
    assert "  account_summary    1h" in text and "  mfa_devices        30m" in text


def test_a_control_character_in_the_file_is_a_config_error(tmp_path):
    """Found by tests/test_properties.py: PyYAML's reader refused the text before the loader's
    error handling (ReaderError escaped with a traceback)."""
    path = tmp_path / "config.yaml"
    path.write_text("collection:\n  concurrency: 4\x1f\n")
    with pytest.raises(ConfigError) as caught:
        load_config(str(path))
    assert caught.value.errors == [
        f"{path}: line 2, column 17: invalid YAML: character U+001F is not allowed in "
        "YAML (control characters and lone surrogates are refused)"
    ]


def test_shard_from_the_file_and_from_the_flags():
    config = load_config(str(CONFIGS / "shard.ok.yaml"))
    assert (config.collection.shard_index, config.collection.shard_count) == (1, 3)
    assert "shard: 1 of 3" in describe(config)
    assert (default_config().collection.shard_index, default_config().collection.shard_count) == (0, 1)
    flagged = with_shard(config, 2, None)  # a flag overrides its key only
    assert (flagged.collection.shard_index, flagged.collection.shard_count) == (2, 3)
    with pytest.raises(ValueError, match=r"--shard.index 3 is not below --shard.count \(3\)"):
        with_shard(config, 3, None)
    with pytest.raises(ValueError, match="--shard.count 0: must be from 1 to 1024"):
        with_shard(config, None, 0)
