"""YAML document → typed ``Config``: every key checked, every problem reported at once.

Each error names the file and the key path (``config.yaml: accounts.include[2]: ...``), so a
user fixes a file in one pass instead of one error per restart. Nothing past this package sees
raw YAML.
"""

from __future__ import annotations

import re
from dataclasses import replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Callable, Mapping, Optional

from exporter.aws.arns import ROLE_ARN as _ROLE_ARN
from exporter.aws.arns import partition
from exporter.config.durations import format_duration
from exporter.config.messages import _got, _kind, _show
from exporter.config.schema import (
    DISCOVERY_MODES,
    MAX_INTERVAL,
    MAX_LOOKBACK,
    MAX_REPORT_TIMEOUT,
    MAX_SHARDS,
    MAX_STALE_AFTER,
    MIN_DEADLINE,
    MIN_INTERVAL,
    MIN_REPORT_TIMEOUT,
    ROOT_AUDIT_MODES,
    STALE_FACTOR,
    AccountsConfig,
    AwsConfig,
    CollectionConfig,
    Config,
    ConfigError,
    RootEventsConfig,
    StaticAccount,
    _registry,
    default_config,
)
from exporter.config.validation import (
    _BAD,
    _choice,
    _duration,
    _integer,
    _Invalid,
    _line,
    _list_of,
    _matching,
    _Reader,
    _string,
)
from exporter.config.yaml_loader import read_yaml

if TYPE_CHECKING:
    from exporter.sources.registry import Registry
_ACCOUNT_ID = re.compile(r"[0-9]{12}")
_OU_ID = re.compile(r"ou-[0-9a-z]{4,32}-[0-9a-z]{8,32}")
# us-east-1, eu-central-2, ap-northeast-3, us-gov-west-1, cn-northwest-1
_REGION = re.compile(r"(?:[a-z]{2}|us-gov)-(?:north|south|east|west|central){1,2}-[0-9]{1,2}")
_ROLE_NAME = re.compile(r"(?:[\w+=,.@-]+/)*[\w+=,.@-]{1,64}", re.ASCII)
_EXTERNAL_ID = re.compile(r"[\w+=,.@:/-]{2,1224}", re.ASCII)
_SESSION_NAME = re.compile(r"[\w+=,.@-]{2,64}", re.ASCII)
# https://sqs.<region>.amazonaws.com/<account>/<name>; any host (VPC endpoints, test servers).
_QUEUE_URL = re.compile(r"https?://[^/\s]+/[0-9]{12}/[A-Za-z0-9_-]{1,80}(?:\.fifo)?")


def load_config(path: str, registry: Optional[Registry] = None) -> Config:
    """Read, parse and validate the YAML file at ``path``; an empty file means all defaults."""
    data, early = read_yaml(path)
    return _parse(data, path, early, _registry(registry))


def parse_config(data: object, source: str, registry: Optional[Registry] = None) -> Config:
    """Validate already-loaded YAML ``data``; ``source`` names it in every error message."""
    return _parse(data, source, [], _registry(registry))


def _root_audit(value: object) -> str:
    # YAML 1.1 reads plain on/off (and yes/no, true/false) as booleans: accept them as meant.
    if isinstance(value, bool):
        return "on" if value else "off"
    return _choice(ROOT_AUDIT_MODES)(value)


def _id_text(value: object, what: str) -> str:
    """The text of an id; unquoted YAML numbers are accepted only when no digit was lost."""
    if isinstance(value, int) and not isinstance(value, bool):
        digits = str(int(value))
        written = getattr(value, "text", digits)
        if written != digits:
            raise _Invalid(f'YAML reads {written} as the number {digits}, not as {what}; quote it: "{written}"')
        if value > 0 and len(digits) == 12:
            return digits
        raise _Invalid(
            f"{digits} is a number with {len(digits)} digits, not {what} (YAML drops the leading zeros "
            'of an unquoted number): quote the id exactly as AWS shows it, e.g. "012345678901"'
        )
    if isinstance(value, str):
        return value
    raise _Invalid(f"expected {what}, got {_got(value)}")


def _account_id(value: object) -> str:
    text = _id_text(value, "a 12-digit account id")
    if not _ACCOUNT_ID.fullmatch(text):
        raise _Invalid(f"{_show(text)} is not a 12-digit account id")
    return text


def _account_or_ou(value: object) -> str:
    text = _id_text(value, "a 12-digit account id")
    if not (_ACCOUNT_ID.fullmatch(text) or _OU_ID.fullmatch(text)):
        raise _Invalid(f"{_show(text)} is neither a 12-digit account id nor an OU id (ou-...)")
    return text


def _external_id(value: object) -> Optional[str]:
    if value is None:
        return None
    if not isinstance(value, str):
        raise _Invalid(f"expected a quoted string, got {_kind(value)}")  # no value: it is a secret
    if not _EXTERNAL_ID.fullmatch(value):
        raise _Invalid(
            f"must be 2 to 1224 characters of letters, digits and +=,.@:/- "
            f"(got {len(value)} characters; the value is a secret and is not shown)"
        )
    return value


def _role_arn(value: object) -> Optional[str]:
    if value is None:
        return None
    text = _string(value)
    if not _ROLE_ARN.fullmatch(text):
        raise _Invalid(f"{_show(text)} is not an IAM role ARN like arn:aws:iam::123456789012:role/Name")
    return text


_STATIC_KEYS = ("id", "name", "role_arn")


def _static_account(value: object) -> StaticAccount:
    if not isinstance(value, dict):
        raise _Invalid(f"expected a mapping with keys id, name, role_arn, got {_kind(value)}")
    reader = _Reader()
    entry = reader.section(value, "", _STATIC_KEYS)
    if "id" not in entry:
        reader.problems.append((".id", "missing: every static account needs its 12-digit id"))
    account_id = reader.get(entry, "id", None, _account_id, ".id")
    name = reader.get(entry, "name", None, _optional_name, ".name")
    role_arn = reader.get(entry, "role_arn", None, _role_arn, ".role_arn")
    if reader.problems:
        raise _Invalid(problems=reader.problems)
    return StaticAccount(id=account_id, name=name or account_id, role_arn=role_arn)


def _optional_name(value: object) -> Optional[str]:
    if value is None:
        return None
    text = _string(value)
    if not text.strip():
        raise _Invalid("is empty; remove it to use the account id as the name")
    return text


def _parse(data: object, source: str, early: list[str], registry: Registry) -> Config:
    defaults = default_config(registry)
    reader = _Reader()
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(early + [f"{source}: expected a mapping with aws, accounts, collection, got {_kind(data)}"])
    top = reader.section(data, "", ("aws", "accounts", "collection"))
    aws = _parse_aws(reader, top.get("aws"), defaults.aws)
    accounts = _parse_accounts(reader, top.get("accounts"), defaults.accounts)
    collection = _parse_collection(
        reader, top.get("collection"), defaults.collection, registry.interval_names, registry.account_source_names
    )
    _check_partitions(reader, aws, accounts, collection)
    errors = early + [_line(source, path, message) for path, message in reader.problems]
    if errors:
        raise ConfigError(errors)
    return Config(aws=aws, accounts=accounts, collection=collection, source=source)


def _parse_aws(reader: _Reader, value: object, default: AwsConfig) -> AwsConfig:
    section = reader.section(value, "aws", ("region", "max_attempts"))
    return AwsConfig(
        region=reader.get(section, "region", default.region, _REGION_CONVERT, "aws.region"),
        max_attempts=reader.get(section, "max_attempts", default.max_attempts, _integer(1, 20), "aws.max_attempts"),
    )


_REGION_CONVERT = _matching(_REGION, "an AWS region like us-east-1, eu-central-2, us-gov-west-1 or cn-north-1")
_ROLE_NAME_CONVERT = _matching(
    _ROLE_NAME, "an IAM role name (up to 64 of letters, digits and +=,.@_-, after an optional path/)"
)
_SESSION_NAME_CONVERT = _matching(_SESSION_NAME, "a role session name (2 to 64 of letters, digits and +=,.@_-)")
_ACCOUNT_KEYS = (
    "discovery",
    "role_name",
    "external_id",
    "session_name",
    "include",
    "exclude",
    "root_audit",
    "static",
    "root_email",
)


def _parse_accounts(reader: _Reader, value: object, default: AccountsConfig) -> AccountsConfig:
    section = reader.section(value, "accounts", _ACCOUNT_KEYS)

    def get(key: str, convert: Callable) -> Any:
        return reader.get(section, key, getattr(default, key), convert, f"accounts.{key}")

    accounts = AccountsConfig(
        discovery=get("discovery", _choice(DISCOVERY_MODES)),
        role_name=get("role_name", _ROLE_NAME_CONVERT),
        external_id=get("external_id", _external_id),
        session_name=get("session_name", _SESSION_NAME_CONVERT),
        include=get("include", _list_of(_account_or_ou, "account ids or OU ids")),
        exclude=get("exclude", _list_of(_account_or_ou, "account ids or OU ids")),
        root_audit=get("root_audit", _root_audit),
        static=get("static", _list_of(_static_account, "accounts (id, name, role_arn)")),
        root_email_allowed=_root_email_allowed(reader, section.get("root_email")),
    )
    _check_accounts(reader, accounts)
    return accounts


def _email_pattern(value: object) -> str:
    text = _string(value)
    try:
        re.compile(text)
    except re.error as error:
        raise _Invalid(f"{_show(text)} is not a regular expression: {error}") from None
    return text


def _root_email_allowed(reader: _Reader, value: object) -> tuple[str, ...]:
    section = reader.section(value, "accounts.root_email", ("allowed",))
    allowed = reader.get(
        section, "allowed", (), _list_of(_email_pattern, "regular expressions"), "accounts.root_email.allowed"
    )
    return () if allowed is _BAD else allowed


def _check_accounts(reader: _Reader, accounts: AccountsConfig) -> None:
    """Checks across keys; a key that already failed is skipped so one mistake reads as one error."""
    if accounts.discovery == "static" and accounts.static == ():
        reader.error("accounts.static", "discovery is static but no static accounts are listed")
    # Static accounts with organizations discovery would be silently ignored, and include/exclude
    # with static discovery would only filter the list the user wrote: both are errors, because a
    # setting that the exporter ignores reads as if it took effect.
    if accounts.discovery == "organizations" and accounts.static not in ((), _BAD):
        reader.error(
            "accounts.static",
            "is only used when accounts.discovery is static; set discovery: static or remove the list",
        )
    if accounts.discovery == "static":
        for key in ("include", "exclude"):
            if getattr(accounts, key) not in ((), _BAD):
                reader.error(
                    f"accounts.{key}",
                    "applies to organizations discovery only; with static discovery, "
                    "list just the accounts to collect in accounts.static",
                )
    if accounts.include is not _BAD and accounts.exclude is not _BAD:
        for index, item in enumerate(accounts.exclude):
            if item in accounts.include:
                reader.error(f"accounts.exclude[{index}]", f"{_show(item)} is also in accounts.include; keep one")
    if accounts.static is not _BAD:
        _check_static(reader, accounts.static)


def _check_static(reader: _Reader, static: tuple[StaticAccount, ...]) -> None:
    first: dict[str, int] = {}
    for index, account in enumerate(static):
        path = f"accounts.static[{index}]"
        if account.id in first:
            reader.error(
                f"{path}.id", f"{_show(account.id)} is listed twice (also accounts.static[{first[account.id]}])"
            )
        first.setdefault(account.id, index)
        match = _ROLE_ARN.fullmatch(account.role_arn or "")
        if match and match.group(2) != account.id:
            reader.error(
                f"{path}.role_arn",
                f"the role is in account {match.group(2)}, not {account.id}: "
                "the exporter must assume a role inside the account it reads",
            )


_COLLECTION_KEYS = (
    "concurrency",
    "cloudtrail_regions",
    "console_login_lookback",
    "credential_report_timeout",
    "intervals",
    "deadlines",
    "stale_after",
    "shard",
    "root_events",
)


def shard_problem(index: object, count: object, index_name: str, count_name: str) -> Optional[str]:
    """Why (``index``, ``count``) is no shard, or None: ``count`` from 1, ``index`` below it."""
    if isinstance(count, int) and isinstance(index, int) and not index < count:
        return f"{index} is not below {count_name} ({count}): the shards are numbered 0 to {count - 1}"
    return None


def with_shard(config: Config, index: Optional[int], count: Optional[int]) -> Config:
    """``config`` with the shard of the ``--shard.index`` / ``--shard.count`` flags (None = as
    configured); a ValueError names the flag and value that make no shard."""
    for flag, value in (("--shard.index", index), ("--shard.count", count)):
        low = 0 if flag == "--shard.index" else 1
        high = MAX_SHARDS - 1 if low == 0 else MAX_SHARDS
        if value is not None and not low <= value <= high:
            raise ValueError(f"{flag} {value}: must be from {low} to {high}")
    new_index = config.collection.shard_index if index is None else index
    new_count = config.collection.shard_count if count is None else count
    problem = shard_problem(new_index, new_count, "--shard.index", "--shard.count")
    if problem:
        raise ValueError(f"--shard.index {problem}")
    return replace(config, collection=replace(config.collection, shard_index=new_index, shard_count=new_count))


_QUEUE_URL_CONVERT = _matching(
    _QUEUE_URL, "an SQS queue URL like https://sqs.us-east-1.amazonaws.com/111111111111/root-events"
)


def _queue_url(value: object) -> Optional[str]:
    return None if value is None else _QUEUE_URL_CONVERT(value)


def _parse_collection(
    reader: _Reader,
    value: object,
    default: CollectionConfig,
    sources: tuple[str, ...],
    account_sources: tuple[str, ...],
) -> CollectionConfig:
    section = reader.section(value, "collection", _COLLECTION_KEYS)

    def get(key: str, convert: Callable) -> Any:
        return reader.get(section, key, getattr(default, key), convert, f"collection.{key}")

    concurrency = get("concurrency", _integer(1, 256))
    regions = get("cloudtrail_regions", _list_of(_REGION_CONVERT, "AWS regions"))
    if regions == ():
        reader.error("collection.cloudtrail_regions", "is empty: list at least one region to read root sign-ins from")
    elif regions is not _BAD:
        for index, region in enumerate(regions):
            if region in regions[:index]:
                reader.error(f"collection.cloudtrail_regions[{index}]", f"{_show(region)} is listed twice")
    lookback = get("console_login_lookback", _duration(1.0, MAX_LOOKBACK))
    report_timeout = get("credential_report_timeout", _duration(MIN_REPORT_TIMEOUT, MAX_REPORT_TIMEOUT))
    intervals_section = reader.section(section.get("intervals"), "collection.intervals", sources)
    interval = _duration(MIN_INTERVAL, MAX_INTERVAL)
    intervals = {
        source: reader.get(
            intervals_section, source, default.intervals[source], interval, f"collection.intervals.{source}"
        )
        for source in sources
    }
    deadlines = _parse_deadlines(reader, section.get("deadlines"), intervals, report_timeout, account_sources)
    events_section = reader.section(section.get("root_events"), "collection.root_events", ("queue_url",))
    queue_url = reader.get(
        events_section, "queue_url", default.root_events.queue_url, _queue_url, "collection.root_events.queue_url"
    )
    stale_after = _parse_stale_after(reader, section.get("stale_after"), intervals, deadlines, sources)
    shard = reader.section(section.get("shard", {}), "collection.shard", ("index", "count"))
    shard_count = reader.get(shard, "count", default.shard_count, _integer(1, MAX_SHARDS), "collection.shard.count")
    shard_index = reader.get(shard, "index", default.shard_index, _integer(0, MAX_SHARDS - 1), "collection.shard.index")
    problem = shard_problem(shard_index, shard_count, "collection.shard.index", "collection.shard.count")
    if problem:
        reader.error("collection.shard.index", problem)
    return CollectionConfig(
        root_events=RootEventsConfig(queue_url=queue_url),
        concurrency=concurrency,
        cloudtrail_regions=regions,
        console_login_lookback=lookback,
        credential_report_timeout=report_timeout,
        intervals=MappingProxyType(intervals),
        deadlines=deadlines,
        stale_after=stale_after,
        shard_index=shard_index,
        shard_count=shard_count,
    )


def _per_source(
    reader: _Reader,
    value: object,
    key: str,
    sources: tuple[str, ...],
    convert: Callable,
    default: Callable[[str], float],
) -> tuple[dict[str, float], dict[str, float]]:
    """``collection.<key>.<source>`` for each of ``sources``: (the value of every source, a
    missing or invalid one being ``default(source)``; the valid given ones, for cross-checks)."""
    section = reader.section(value, f"collection.{key}", sources)
    values, given = {}, {}
    for source in sources:
        found = reader.get(section, source, None, convert, f"collection.{key}.{source}")
        if found is None or found is _BAD:
            values[source] = default(source)
        else:
            values[source] = given[source] = found
    return values, given


def _interval_or_zero(intervals: dict, source: str, factor: float) -> float:
    return factor * intervals[source] if intervals[source] is not _BAD else 0.0


def _parse_deadlines(
    reader: _Reader, value: Any, intervals: dict, report_timeout: Any, account_sources: tuple[str, ...]
) -> Mapping[str, float]:
    """``collection.deadlines``: given ones must end before the source's next run is due (and,
    for the credential report, leave time after the wait for generation); missing ones are half
    the interval."""
    from exporter.sources import credential_report  # lazy: the sources read the configuration types

    deadlines, given = _per_source(
        reader,
        value,
        "deadlines",
        account_sources,
        _duration(MIN_DEADLINE, MAX_INTERVAL),
        lambda source: _interval_or_zero(intervals, source, 0.5),
    )
    for source, seconds in given.items():
        path, interval, written = f"collection.deadlines.{source}", intervals[source], _show(value[source])
        if interval is not _BAD and seconds >= interval:
            reader.error(
                path,
                f"{written} is not shorter than collection.intervals.{source} "
                f"({format_duration(interval)}): a run must give up on a hung account before the "
                "next run is due",
            )
        if source == credential_report.NAME and report_timeout is not _BAD and seconds <= report_timeout:
            reader.error(
                path,
                f"{written} is not longer than collection.credential_report_timeout "
                f"({format_duration(report_timeout)}): every slow report would be cut off",
            )
    return MappingProxyType(deadlines)


def _parse_stale_after(
    reader: _Reader, value: Any, intervals: dict, deadlines: Mapping[str, float], sources: tuple[str, ...]
) -> Mapping[str, float]:
    """``collection.stale_after``: a given one must outlast an on-time run (the interval, plus
    the deadline for a per-account source); missing ones are ``STALE_FACTOR`` intervals."""
    stale_after, given = _per_source(
        reader,
        value,
        "stale_after",
        sources,
        _duration(MIN_INTERVAL, MAX_STALE_AFTER),
        lambda source: _interval_or_zero(intervals, source, STALE_FACTOR),
    )
    for source, seconds in given.items():
        interval, deadline = intervals[source], deadlines.get(source, 0.0)
        if interval is not _BAD and seconds <= interval + deadline:
            plus = f" plus its deadline ({format_duration(deadline)})" if deadline else ""
            reader.error(
                f"collection.stale_after.{source}",
                f"{_show(value[source])} is not longer than collection.intervals.{source} "
                f"({format_duration(interval)}){plus}: data from every on-time run would look "
                "stale before the next one is due",
            )
    return MappingProxyType(stale_after)


def _check_partitions(reader: _Reader, aws: AwsConfig, accounts: AccountsConfig, collection: CollectionConfig) -> None:
    """Credentials of one partition cannot reach another: regions and ARNs must share aws.region's."""
    if aws.region is _BAD:
        return
    home = partition(aws.region)
    mismatch = f"but aws.region {aws.region} is in {home}"
    if collection.cloudtrail_regions is not _BAD:
        for index, region in enumerate(collection.cloudtrail_regions):
            if partition(region) != home:
                reader.error(
                    f"collection.cloudtrail_regions[{index}]",
                    f"{_show(region)} is in partition {partition(region)}, {mismatch}",
                )
    if accounts.static is not _BAD:
        for index, account in enumerate(accounts.static):
            match = _ROLE_ARN.fullmatch(account.role_arn or "")
            if match and match.group(1) != home:
                reader.error(f"accounts.static[{index}].role_arn", f"is in partition {match.group(1)}, {mismatch}")
