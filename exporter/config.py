"""YAML configuration → typed, immutable ``Config``.

Every key is checked, and every problem is reported at once, each with the file name and the key
path (``config.yaml: accounts.include[2]: ...``), so a user fixes a file in one pass instead of
one error per restart. Nothing past this module sees raw YAML.

YAML 1.1 (what PyYAML reads) turns some plain values into surprises: ``off`` is a boolean,
``1:30`` is the number 90, ``011111111111`` is an octal number. The loader below keeps the text
of every number it reads so such cases are reported in the user's own words.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Callable, Mapping, Optional

import yaml

SOURCES: tuple[str, ...] = (
    "discovery",
    "account_summary",
    "credential_report",
    "mfa_devices",
    "console_logins",
    "root_audit",
    "trail_status",
    "root_policies",
)

DEFAULT_INTERVALS: Mapping[str, float] = MappingProxyType(
    {
        "discovery": 3600.0,
        "account_summary": 300.0,
        "credential_report": 3600.0,
        "mfa_devices": 300.0,
        "console_logins": 300.0,
        "root_audit": 900.0,
        "trail_status": 3600.0,
        "root_policies": 3600.0,
    }
)

DISCOVERY_MODES = ("organizations", "static")
ROOT_AUDIT_MODES = ("auto", "on", "off")

MIN_INTERVAL = 10.0
# Far beyond any useful interval, and well inside what the scheduler's date arithmetic can hold
# (an interval of millions of days overflows it at start).
MAX_INTERVAL = 30 * 86400.0
MIN_DEADLINE = 1.0
STALE_FACTOR = 3  # default collection.stale_after: this many intervals of the source
MAX_STALE_AFTER = 90 * 86400.0
MAX_LOOKBACK = 90 * 86400.0  # CloudTrail LookupEvents only reaches 90 days back
MIN_REPORT_TIMEOUT = 10.0
MAX_REPORT_TIMEOUT = 3600.0

_ACCOUNT_ID = re.compile(r"[0-9]{12}")
_OU_ID = re.compile(r"ou-[0-9a-z]{4,32}-[0-9a-z]{8,32}")
# us-east-1, eu-central-2, ap-northeast-3, us-gov-west-1, cn-northwest-1
_REGION = re.compile(r"(?:[a-z]{2}|us-gov)-(?:north|south|east|west|central){1,2}-[0-9]{1,2}")
_ROLE_NAME = re.compile(r"(?:[\w+=,.@-]+/)*[\w+=,.@-]{1,64}", re.ASCII)
_ROLE_ARN = re.compile(
    r"arn:(aws|aws-cn|aws-us-gov):iam::([0-9]{12}):role/((?:[\w+=,.@-]+/)*[\w+=,.@-]{1,64})",
    re.ASCII,
)
# https://sqs.<region>.amazonaws.com/<account>/<name>; any host (VPC endpoints, test servers).
_QUEUE_URL = re.compile(r"https?://[^/\s]+/[0-9]{12}/[A-Za-z0-9_-]{1,80}(?:\.fifo)?")
_EXTERNAL_ID = re.compile(r"[\w+=,.@:/-]{2,1224}", re.ASCII)
_SESSION_NAME = re.compile(r"[\w+=,.@-]{2,64}", re.ASCII)
_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)([dhms])")
_UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


class ConfigError(Exception):
    """The configuration cannot be used; ``errors`` holds every problem found, one per entry."""

    def __init__(self, errors: list[str]):
        self.errors = list(errors)
        super().__init__("\n".join(self.errors))


@dataclass(frozen=True)
class StaticAccount:
    id: str
    name: str
    role_arn: Optional[str] = None  # None = built from accounts.role_name


@dataclass(frozen=True)
class AwsConfig:
    region: str = "us-east-1"
    max_attempts: int = 5


@dataclass(frozen=True)
class AccountsConfig:
    discovery: str = "organizations"
    role_name: str = "OrganizationAccountAccessRole"
    external_id: Optional[str] = field(default=None, repr=False)  # a secret: never shown
    session_name: str = "aws-root-exporter"
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    root_audit: str = "auto"
    static: tuple[StaticAccount, ...] = ()
    root_email_allowed: tuple[str, ...] = ()  # accounts.root_email.allowed: regexes, full match, any case


@dataclass(frozen=True)
class RootEventsConfig:
    queue_url: Optional[str] = None  # the SQS queue of the root event stream; None = stream off


@dataclass(frozen=True)
class CollectionConfig:
    concurrency: int = 8
    cloudtrail_regions: tuple[str, ...] = ("us-east-1",)
    console_login_lookback: float = 86400.0  # seconds
    credential_report_timeout: float = 120.0  # seconds
    intervals: Mapping[str, float] = field(default_factory=lambda: DEFAULT_INTERVALS)  # seconds
    # Per-account sources only: how long one account's fetch may take before it is recorded as
    # failed (DeadlineExceeded) and the run goes on without it. Default: half the interval.
    deadlines: Mapping[str, float] = field(default_factory=lambda: default_deadlines(DEFAULT_INTERVALS))
    # Every source: values whose last success is older than this are left out of /metrics and
    # marked stale on the page. Default: STALE_FACTOR times the interval.
    stale_after: Mapping[str, float] = field(default_factory=lambda: default_stale_after(DEFAULT_INTERVALS))

    root_events: RootEventsConfig = field(default_factory=RootEventsConfig)
    # This replica collects the accounts of shard ``shard_index`` of ``shard_count`` (exporter/shards.py).
    shard_index: int = 0
    shard_count: int = 1

    def deadline(self, source: str) -> float:
        return self.deadlines.get(source, self.intervals[source] / 2)


@dataclass(frozen=True)
class Config:
    aws: AwsConfig = field(default_factory=AwsConfig)
    accounts: AccountsConfig = field(default_factory=AccountsConfig)
    collection: CollectionConfig = field(default_factory=CollectionConfig)
    source: str = "<defaults>"


ACCOUNT_SOURCES: tuple[str, ...] = tuple(source for source in SOURCES if source != "discovery")


def default_deadlines(intervals: Mapping[str, float]) -> Mapping[str, float]:
    """Half of each per-account source's interval: a hung account is given up on well before the
    next run is due."""
    return MappingProxyType({source: intervals[source] / 2 for source in ACCOUNT_SOURCES})


def default_stale_after(intervals: Mapping[str, float]) -> Mapping[str, float]:
    """Three intervals of each source: two runs in a row may fail before its values go."""
    return MappingProxyType({source: STALE_FACTOR * intervals[source] for source in SOURCES})


def default_config() -> Config:
    return Config()


def partition(region: str) -> str:
    """The ARN partition of ``region``: aws, aws-cn or aws-us-gov."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def role_arn_for(config: Config, account_id: str) -> str:
    """The role the exporter assumes in ``account_id``: the static ``role_arn`` or one built from ``role_name``."""
    for account in config.accounts.static:
        if account.id == account_id and account.role_arn:
            return account.role_arn
    return f"arn:{partition(config.aws.region)}:iam::{account_id}:role/{config.accounts.role_name}"


# ---------------------------------------------------------------- durations


def parse_duration(text: str | int | float) -> float:
    """Seconds in ``text``: ``30s``, ``5m``, ``1h30m``, ``1d``; a bare number means seconds."""
    if isinstance(text, bool):
        raise ValueError(f"{_show(text)} is not a duration: use a number with a unit, e.g. 30s, 5m, 1h")
    if isinstance(text, (int, float)):
        if not math.isfinite(text) or text < 0:
            raise ValueError(f"{text} is not a duration: it must be a finite number of seconds, 0 or more")
        return float(text)
    if not isinstance(text, str):
        raise ValueError(f"{_kind(text)} is not a duration: use a string like 30s, 5m, 1h30m")
    stripped = text.strip()
    if re.fullmatch(r"[0-9]+(?:\.[0-9]+)?", stripped):
        raise ValueError(f"{_show(text)} has no unit: write {stripped}s for seconds (units: s, m, h, d)")
    parts = _DURATION_PART.findall(stripped)
    if not stripped or "".join(n + u for n, u in parts) != stripped:
        raise ValueError(
            f"{_show(text)} is not a duration: use numbers with a unit s, m, h or d, e.g. 30s, 5m, 1h30m"
        )
    units = [unit for _, unit in parts]
    if units != sorted(set(units), key="dhms".index):
        raise ValueError(f"{_show(text)} is not a duration: write each unit once, largest first, e.g. 1h30m")
    return float(sum(float(number) * _UNIT_SECONDS[unit] for number, unit in parts))


def format_duration(seconds: float) -> str:
    """The shortest ``parse_duration`` text for ``seconds``: 3600 -> "1h", 90 -> "1m30s"."""
    if isinstance(seconds, bool) or not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"{seconds!r} is not a duration in seconds")
    milliseconds = round(seconds * 1000)
    whole, fraction = divmod(milliseconds, 1000)
    out = []
    for unit in "dhm":
        count, whole = divmod(whole, _UNIT_SECONDS[unit])
        if count:
            out.append(f"{count}{unit}")
    if whole or fraction or not out:
        text = f"{whole}.{fraction:03d}".rstrip("0").rstrip(".") if fraction else str(whole)
        out.append(f"{text}s")
    return "".join(out)


# ---------------------------------------------------------------- YAML loading


class _YamlInt(int):
    """An int read from YAML that remembers how it was written (``011111111111``, ``1:30``)."""

    text: str

    def __new__(cls, value: int, text: str) -> "_YamlInt":
        obj = super().__new__(cls, value)
        obj.text = text
        return obj


class _Loader(yaml.SafeLoader):
    """SafeLoader that keeps number texts and notes keys written twice (PyYAML keeps the last)."""

    def __init__(self, stream):
        super().__init__(stream)
        self.duplicates: list[str] = []

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen: dict[tuple[str, str], int] = {}
            for key_node, _ in node.value:
                if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = (key_node.tag, key_node.value)
                line = key_node.start_mark.line + 1
                if key in seen:
                    self.duplicates.append(
                        f"line {line}: key {_show(key_node.value)} is repeated (first on line {seen[key]}); "
                        "only one may stay"
                    )
                else:
                    seen[key] = line
        return super().construct_mapping(node, deep=deep)


def _construct_int(loader: _Loader, node: yaml.ScalarNode) -> _YamlInt:
    return _YamlInt(yaml.SafeLoader.construct_yaml_int(loader, node), node.value)


_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)


def load_config(path: str) -> Config:
    """Read, parse and validate the YAML file at ``path``; an empty file means all defaults."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        raise ConfigError([f"{path}: no such file"]) from None
    except IsADirectoryError:
        raise ConfigError([f"{path}: is a directory, not a YAML file"]) from None
    except PermissionError:
        raise ConfigError([f"{path}: permission denied"]) from None
    except UnicodeDecodeError as error:
        raise ConfigError([f"{path}: not UTF-8 text (byte {error.start})"]) from None
    loader = None
    try:
        loader = _Loader(text)  # its reader refuses control characters here already
        data = loader.get_single_data()
    except yaml.MarkedYAMLError as error:
        raise ConfigError([_yaml_error(path, error)]) from None
    except yaml.reader.ReaderError as error:
        before = text[:error.position]
        where = f"line {before.count(chr(10)) + 1}, column {len(before) - before.rfind(chr(10))}"
        code = error.character if isinstance(error.character, int) else ord(error.character)
        raise ConfigError([f"{path}: {where}: invalid YAML: character U+{code:04X} is not allowed in YAML "
                           "(control characters and lone surrogates are refused)"]) from None
    except yaml.YAMLError as error:
        raise ConfigError([f"{path}: invalid YAML: {error}"]) from None
    finally:
        if loader is not None:
            loader.dispose()
    early = [f"{path}: {problem}" for problem in loader.duplicates]
    return _parse(data, path, early)


def _yaml_error(path: str, error: yaml.MarkedYAMLError) -> str:
    mark = error.problem_mark or error.context_mark
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
    problem = error.problem or "syntax error"
    context = ""
    if error.context and error.context_mark and error.context_mark is not mark:
        context = f" ({error.context} on line {error.context_mark.line + 1})"
    return f"{path}: {where}invalid YAML: {problem}{context}"


def parse_config(data: object, source: str) -> Config:
    """Validate already-loaded YAML ``data``; ``source`` names it in every error message."""
    return _parse(data, source, [])


# ---------------------------------------------------------------- validation


class _Invalid(Exception):
    """One or more problems with a value, each as (path suffix, message)."""

    def __init__(self, message: str = "", problems: Optional[list[tuple[str, str]]] = None):
        super().__init__(message)
        self.problems = problems if problems is not None else [("", message)]


_BAD = object()  # a value that failed validation; cross-checks skip it


def _kind(value: object) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _show(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, _YamlInt):
        return value.text
    if value is None:
        return "null"
    return str(value)


def _got(value: object) -> str:
    """``value`` as "got ..." text: the kind, and the value itself for a scalar."""
    if value is None or isinstance(value, (list, tuple, dict)):
        return _kind(value)
    return f"{_kind(value)} {_show(value)}"


def _plain_int(value: object) -> Optional[int]:
    """``value`` as an int when YAML read it as one, refusing texts whose digits YAML changed."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    written = getattr(value, "text", str(int(value))).strip().lstrip("+")
    if written != str(int(value)):
        raise _Invalid(f"YAML reads {written} as the number {int(value)}; write {int(value)} if that is what you mean")
    return int(value)


def _suggest(word: object, known) -> str:
    close = difflib.get_close_matches(str(word), list(known), n=1, cutoff=0.6)
    return f' (did you mean "{close[0]}"?)' if close else ""


def _expect_mapping(value: object, known: tuple[str, ...]) -> dict:
    """``value`` as a mapping with only ``known`` keys; null means empty (all defaults)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _Invalid(f"expected a mapping with keys {', '.join(known)}, got {_kind(value)}")
    unknown = [
        (f".{key}", f"unknown key{_suggest(key, known)}; known keys: {', '.join(known)}")
        for key in value
        if key not in known
    ]
    if unknown:
        raise _Invalid(problems=unknown)
    return value


def _string(value: object) -> str:
    if not isinstance(value, str):
        raise _Invalid(f"expected a string, got {_got(value)}")
    return value


def _matching(pattern: re.Pattern, what: str) -> Callable[[object], str]:
    def convert(value: object) -> str:
        text = _string(value)
        if not pattern.fullmatch(text):
            raise _Invalid(f"{_show(text)} is not {what}")
        return text

    return convert


def _choice(choices: tuple[str, ...]) -> Callable[[object], str]:
    def convert(value: object) -> str:
        text = _string(value)
        if text not in choices:
            raise _Invalid(f"{_show(text)} is not one of {', '.join(choices)}{_suggest(text, choices)}")
        return text

    return convert


def _root_audit(value: object) -> str:
    # YAML 1.1 reads plain on/off (and yes/no, true/false) as booleans: accept them as meant.
    if isinstance(value, bool):
        return "on" if value else "off"
    return _choice(ROOT_AUDIT_MODES)(value)


def _integer(low: int, high: int) -> Callable[[object], int]:
    def convert(value: object) -> int:
        number = _plain_int(value)
        if number is None:
            raise _Invalid(f"expected a whole number from {low} to {high}, got {_got(value)}")
        if not low <= number <= high:
            raise _Invalid(f"{number} is out of range: it must be from {low} to {high}")
        return number

    return convert


def _duration(low: float, high: Optional[float] = None) -> Callable[[object], float]:
    def convert(value: object) -> float:
        if isinstance(value, _YamlInt) and value.text.strip().lstrip("+") != str(int(value)):
            raise _Invalid(f"YAML reads {value.text} as the number {int(value)}; write a duration like 30s, 5m, 1h30m")
        try:
            seconds = parse_duration(value)  # type: ignore[arg-type]
        except ValueError as error:
            raise _Invalid(str(error)) from None
        if seconds < low:
            raise _Invalid(f"{_show(value)} is below the minimum of {format_duration(low)}")
        if high is not None and seconds > high:
            raise _Invalid(f"{_show(value)} is above the maximum of {format_duration(high)}")
        return seconds

    return convert


def _id_text(value: object, what: str) -> str:
    """The text of an id; unquoted YAML numbers are accepted only when no digit was lost."""
    if isinstance(value, int) and not isinstance(value, bool):
        digits = str(int(value))
        written = getattr(value, "text", digits)
        if written != digits:
            raise _Invalid(f"YAML reads {written} as the number {digits}, not as {what}; quote it: \"{written}\"")
        if value > 0 and len(digits) == 12:
            return digits
        raise _Invalid(
            f"{digits} is a number with {len(digits)} digits, not {what} (YAML drops the leading zeros "
            "of an unquoted number): quote the id exactly as AWS shows it, e.g. \"012345678901\""
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


def _list_of(item: Callable[[object], object], what: str) -> Callable[[object], tuple]:
    def convert(value: object) -> tuple:
        if value is None:
            return ()
        if not isinstance(value, list):
            hint = f"; write [{_show(value)}] for a list of one" if isinstance(value, (str, int)) else ""
            raise _Invalid(f"expected a list of {what}, got {_kind(value)}{hint}")
        out, problems = [], []
        for index, element in enumerate(value):
            try:
                out.append(item(element))
            except _Invalid as error:
                problems += [(f"[{index}]{suffix}", message) for suffix, message in error.problems]
        if problems:
            raise _Invalid(problems=problems)
        return tuple(out)

    return convert


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


class _Reader:
    """Reads keys of a mapping through converters, collecting problems instead of stopping."""

    def __init__(self) -> None:
        self.problems: list[tuple[str, str]] = []

    def section(self, value: object, path: str, known: tuple[str, ...]) -> dict:
        try:
            return _expect_mapping(value, known)
        except _Invalid as error:
            self.problems += [(path + suffix, message) for suffix, message in error.problems]
            return value if isinstance(value, dict) else {}

    def get(self, mapping: dict, key: str, default: object, convert: Callable, path: str) -> object:
        if key not in mapping:
            return default
        try:
            return convert(mapping[key])
        except _Invalid as error:
            self.problems += [(path + suffix, message) for suffix, message in error.problems]
            return _BAD

    def error(self, path: str, message: str) -> None:
        self.problems.append((path, message))


def _parse(data: object, source: str, early: list[str]) -> Config:
    defaults = default_config()
    reader = _Reader()
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(early + [f"{source}: expected a mapping with aws, accounts, collection, got {_kind(data)}"])
    top = reader.section(data, "", ("aws", "accounts", "collection"))
    aws = _parse_aws(reader, top.get("aws"), defaults.aws)
    accounts = _parse_accounts(reader, top.get("accounts"), defaults.accounts)
    collection = _parse_collection(reader, top.get("collection"), defaults.collection)
    _check_partitions(reader, aws, accounts, collection)
    errors = early + [_line(source, path, message) for path, message in reader.problems]
    if errors:
        raise ConfigError(errors)
    return Config(aws=aws, accounts=accounts, collection=collection, source=source)


def _line(source: str, path: str, message: str) -> str:
    path = path.lstrip(".")
    return f"{source}: {path}: {message}" if path else f"{source}: {message}"


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
    "discovery", "role_name", "external_id", "session_name", "include", "exclude", "root_audit", "static",
    "root_email",
)


def _parse_accounts(reader: _Reader, value: object, default: AccountsConfig) -> AccountsConfig:
    section = reader.section(value, "accounts", _ACCOUNT_KEYS)

    def get(key: str, convert: Callable) -> object:
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
    allowed = reader.get(section, "allowed", (), _list_of(_email_pattern, "regular expressions"),
                         "accounts.root_email.allowed")
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
            reader.error(f"{path}.id", f"{_show(account.id)} is listed twice (also accounts.static[{first[account.id]}])")
        first.setdefault(account.id, index)
        match = _ROLE_ARN.fullmatch(account.role_arn or "")
        if match and match.group(2) != account.id:
            reader.error(
                f"{path}.role_arn",
                f"the role is in account {match.group(2)}, not {account.id}: "
                "the exporter must assume a role inside the account it reads",
            )


_COLLECTION_KEYS = (
    "concurrency", "cloudtrail_regions", "console_login_lookback", "credential_report_timeout", "intervals",
    "deadlines", "stale_after", "shard",
    "root_events",
)
MAX_SHARDS = 1024


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


_QUEUE_URL_CONVERT = _matching(_QUEUE_URL, "an SQS queue URL like https://sqs.us-east-1.amazonaws.com/111111111111/root-events")


def _queue_url(value: object) -> Optional[str]:
    return None if value is None else _QUEUE_URL_CONVERT(value)


def _parse_collection(reader: _Reader, value: object, default: CollectionConfig) -> CollectionConfig:
    section = reader.section(value, "collection", _COLLECTION_KEYS)

    def get(key: str, convert: Callable) -> object:
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
    intervals_section = reader.section(section.get("intervals"), "collection.intervals", SOURCES)
    interval = _duration(MIN_INTERVAL, MAX_INTERVAL)
    intervals = {
        source: reader.get(
            intervals_section, source, default.intervals[source], interval, f"collection.intervals.{source}"
        )
        for source in SOURCES
    }
    deadlines = _parse_deadlines(reader, section.get("deadlines"), intervals, report_timeout)
    events_section = reader.section(section.get("root_events"), "collection.root_events", ("queue_url",))
    queue_url = reader.get(events_section, "queue_url", default.root_events.queue_url, _queue_url,
                           "collection.root_events.queue_url")
    stale_after = _parse_stale_after(reader, section.get("stale_after"), intervals, deadlines)
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


def _per_source(reader: _Reader, value: object, key: str, sources: tuple[str, ...], convert: Callable,
                default: Callable[[str], float]) -> tuple[dict[str, float], dict[str, float]]:
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


def _parse_deadlines(reader: _Reader, value: object, intervals: dict, report_timeout: object) -> Mapping[str, float]:
    """``collection.deadlines``: given ones must end before the source's next run is due (and,
    for the credential report, leave time after the wait for generation); missing ones are half
    the interval."""
    deadlines, given = _per_source(reader, value, "deadlines", ACCOUNT_SOURCES, _duration(MIN_DEADLINE, MAX_INTERVAL),
                                   lambda source: _interval_or_zero(intervals, source, 0.5))
    for source, seconds in given.items():
        path, interval, written = f"collection.deadlines.{source}", intervals[source], _show(value[source])
        if interval is not _BAD and seconds >= interval:
            reader.error(path, f"{written} is not shorter than collection.intervals.{source} "
                               f"({format_duration(interval)}): a run must give up on a hung account before the "
                               "next run is due")
        if source == "credential_report" and report_timeout is not _BAD and seconds <= report_timeout:
            reader.error(path, f"{written} is not longer than collection.credential_report_timeout "
                               f"({format_duration(report_timeout)}): every slow report would be cut off")
    return MappingProxyType(deadlines)


def _parse_stale_after(reader: _Reader, value: object, intervals: dict, deadlines: Mapping[str, float]
                       ) -> Mapping[str, float]:
    """``collection.stale_after``: a given one must outlast an on-time run (the interval, plus
    the deadline for a per-account source); missing ones are ``STALE_FACTOR`` intervals."""
    stale_after, given = _per_source(reader, value, "stale_after", SOURCES, _duration(MIN_INTERVAL, MAX_STALE_AFTER),
                                     lambda source: _interval_or_zero(intervals, source, STALE_FACTOR))
    for source, seconds in given.items():
        interval, deadline = intervals[source], deadlines.get(source, 0.0)
        if interval is not _BAD and seconds <= interval + deadline:
            plus = f" plus its deadline ({format_duration(deadline)})" if deadline else ""
            reader.error(f"collection.stale_after.{source}",
                         f"{_show(value[source])} is not longer than collection.intervals.{source} "
                         f"({format_duration(interval)}){plus}: data from every on-time run would look "
                         "stale before the next one is due")
    return MappingProxyType(stale_after)


def _check_partitions(
    reader: _Reader, aws: AwsConfig, accounts: AccountsConfig, collection: CollectionConfig
) -> None:
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


# ---------------------------------------------------------------- describe


def describe(config: Config) -> str:
    """What the exporter would collect with ``config``, for ``--verify-config``; hides the external id."""
    aws, accounts, collection = config.aws, config.accounts, config.collection
    lines = [
        f"config: {config.source}",
        f"aws region: {aws.region} (partition {partition(aws.region)}), up to {aws.max_attempts} attempts per call",
    ]
    if accounts.discovery == "organizations":
        lines += [
            "discovery: organizations (the accounts that Organizations ListAccounts returns)",
            f"  include: {', '.join(accounts.include) or 'every account'}",
            f"  exclude: {', '.join(accounts.exclude) or 'none'}",
        ]
    else:
        count = len(accounts.static)
        lines.append(f"discovery: static ({count} account{'' if count == 1 else 's'})")
        lines += [f"  {a.id} {a.name}: {role_arn_for(config, a.id)}" for a in accounts.static]
    lines += [
        f"role: {role_arn_for(config, '<account id>')}",
        f"  session name: {accounts.session_name}",
        f"  external id: {'set' if accounts.external_id else 'not set'}",
        f"root audit: {_ROOT_AUDIT_TEXT[accounts.root_audit]}",
        f"root e-mail policy: {' | '.join(accounts.root_email_allowed) or 'none'}",
        f"concurrency: {collection.concurrency} accounts at once per source",
        f"shard: {collection.shard_index} of {collection.shard_count} (shards 0 to {collection.shard_count - 1})"
        if collection.shard_count > 1 else "shard: none (this replica collects every account)",
        f"cloudtrail regions: {', '.join(collection.cloudtrail_regions)}",
        f"console login lookback: {format_duration(collection.console_login_lookback)} on the first look-up",
        f"credential report timeout: {format_duration(collection.credential_report_timeout)}",
        f"root event stream: {collection.root_events.queue_url or 'off (collection.root_events.queue_url unset)'}",
        "sources:",
    ]
    width = max(map(len, SOURCES))
    lines += [f"  {name:<{width}}  every {format_duration(collection.intervals[name])}" for name in SOURCES]
    lines.append("deadline per account (a hung account is recorded as failed and the run goes on):")
    lines += [f"  {name:<{width}}  {format_duration(collection.deadline(name))}" for name in ACCOUNT_SOURCES]
    lines.append("stale after (values older than this are left out of /metrics and marked stale on the page):")
    lines += [f"  {name:<{width}}  {format_duration(collection.stale_after[name])}" for name in SOURCES]
    return "\n".join(lines)


_ROOT_AUDIT_TEXT = {
    "auto": "auto (sts:AssumeRoot when the organization has RootCredentialsManagement enabled)",
    "on": "on (sts:AssumeRoot in every member account)",
    "off": "off (no sts:AssumeRoot)",
}
