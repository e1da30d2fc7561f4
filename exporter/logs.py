"""Log formatting: one line per record, logfmt or JSON, with structured fields and no secrets.

Structured fields come from ``extra={...}`` on the log call::

    log.info("collected source", extra={"source": "account_summary", "account_id": "333333333333"})

gives ``ts=... level=info logger=exporter.scheduler msg="collected source" source=account_summary
account_id=333333333333``. Every value passes through ``redact`` first: AWS secret keys, session
tokens, request signatures and external ids are replaced wherever a known key names them, so a
boto3 error message or a credentials dict put into a log line cannot leak them.
"""

from __future__ import annotations

import json
import logging
import math
import re
import sys
import traceback
from datetime import datetime, timezone
from typing import IO, Optional

LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}
FORMATS = ("logfmt", "json")
NOISY_LOGGERS = ("botocore", "boto3", "urllib3", "s3transfer", "apscheduler")
WIRE_LOGGERS = ("botocore.endpoint", "botocore.parsers", "botocore.auth", "urllib3.connectionpool")
REDACTED = "[REDACTED]"

_STANDARD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}
_FIXED_KEYS = ("ts", "level", "logger", "msg")
_LEVEL_NAMES = {logging.WARNING: "warn", logging.CRITICAL: "critical"}

# Keys whose value is a secret, compared lower-case without "-" and "_".
_SECRET_KEYS = frozenset(
    {
        "awssecretaccesskey",
        "secretaccesskey",
        "secretkey",
        "awssessiontoken",
        "sessiontoken",
        "awssecuritytoken",
        "securitytoken",
        "xamzsecuritytoken",
        "xamzsignature",
        "signature",
        "authorization",
        "externalid",
    }
)
_SECRET_IN_TEXT = re.compile(
    r"(?P<key>\b(?:aws_?secret_?access_?key|secret_?access_?key|aws_?session_?token|session_?token"
    r"|aws_?security_?token|x-amz-security-token|x-amz-signature|signature|external_?id)\b)"
    r"(?P<sep>\\?[\"']?\s*[:=]\s*b?\\?[\"']?)"
    r"(?P<value>[A-Za-z0-9/+=%_.:@-]+)",
    re.IGNORECASE,
)


# The same secrets as XML elements, as in STS responses: <SessionToken>...</SessionToken>.
_SECRET_IN_XML = re.compile(r"<(?P<tag>SecretAccessKey|SessionToken|SecurityToken)>[^<]*</(?P=tag)>", re.IGNORECASE)
# Access key ids are not secrets by AWS's account, but nothing here needs them either.
_ACCESS_KEY_ID = re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b")


def redact(text: str) -> str:
    """``text`` with the value after every known secret key (``SessionToken=...``) and every
    access key id replaced."""
    text = _SECRET_IN_TEXT.sub(lambda m: f"{m['key']}{m['sep']}{REDACTED}", text)
    text = _SECRET_IN_XML.sub(lambda m: f"<{m['tag']}>{REDACTED}</{m['tag']}>", text)
    return _ACCESS_KEY_ID.sub(REDACTED, text)


def redact_value(value: object) -> object:
    """``value`` with secrets removed: strings through ``redact``, mappings by key, recursively."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: REDACTED if _is_secret_key(key) else redact_value(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [redact_value(item) for item in value]
    if isinstance(value, (bool, int, float)) or value is None:
        return value
    return redact(str(value))


def _is_secret_key(key: object) -> bool:
    return str(key).lower().replace("-", "").replace("_", "") in _SECRET_KEYS


def _extras(record: logging.LogRecord) -> list[tuple[str, object]]:
    return [(key, value) for key, value in vars(record).items() if key not in _STANDARD_ATTRIBUTES]


def _timestamp(created: float) -> str:
    milliseconds = int(created * 1000)
    seconds, fraction = divmod(milliseconds, 1000)
    moment = datetime.fromtimestamp(seconds, tz=timezone.utc)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{fraction:03d}Z"


def _exception_text(exc_info) -> str:
    """``Type: message`` of the logged exception, on one line of meaning."""
    kind, error = exc_info[0], exc_info[1]
    name = kind.__name__ if kind is not None else "Exception"
    message = str(error) if error is not None else ""
    return f"{name}: {message}" if message else name


def record_fields(record: logging.LogRecord) -> dict[str, object]:
    """The fields of one log line, in order, secrets redacted; ``exc`` when an exception is attached."""
    fields: dict[str, object] = {
        "ts": _timestamp(record.created),
        "level": _LEVEL_NAMES.get(record.levelno, record.levelname.lower()),
        "logger": record.name,
        "msg": redact(record.getMessage()),
    }
    for key, value in _extras(record):
        name = key if key not in _FIXED_KEYS and key not in ("exc", "traceback") else f"extra_{key}"
        fields[name] = REDACTED if _is_secret_key(key) else redact_value(value)
    if record.exc_info and record.exc_info[0] is not None:
        fields["exc"] = redact(_exception_text(record.exc_info))
    return fields


class LogfmtFormatter(logging.Formatter):
    """``key=value`` pairs on one line; values are quoted only when they must be."""

    def format(self, record: logging.LogRecord) -> str:
        return " ".join(f"{_logfmt_key(key)}={_logfmt_value(value)}" for key, value in record_fields(record).items())


class JsonFormatter(logging.Formatter):
    """One JSON object per line with the logfmt keys, plus ``traceback`` when an exception is attached."""

    def format(self, record: logging.LogRecord) -> str:
        fields = {key: _json_value(value) for key, value in record_fields(record).items()}
        if record.exc_info and record.exc_info[0] is not None:
            fields["traceback"] = redact("".join(traceback.format_exception(*record.exc_info)).rstrip("\n"))
        return json.dumps(fields, ensure_ascii=False)


_BARE_KEY = re.compile(r"[^\s=\"\\]+")


def _logfmt_key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else re.sub(r"[\s=\"\\]", "_", key) or "_"


def _logfmt_value(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    if text and _BARE_KEY.fullmatch(text) and text.isprintable():
        return text
    return json.dumps(text, ensure_ascii=False)


def _json_value(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {str(key): _json_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_value(item) for item in value]
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    return str(value)


class _Handler(logging.StreamHandler):
    """The handler ``setup_logging`` installs; its type lets a second call replace it."""


def setup_logging(level: str, fmt: str, stream: Optional[IO[str]] = None) -> None:
    """Send every log record to ``stream`` (stderr by default) as ``fmt`` lines at ``level`` and above.

    Calling it again replaces the previous setup. botocore, urllib3 and apscheduler stay at warning
    unless ``level`` is debug: their info lines say nothing about root users.
    """
    levelno = LEVELS.get(str(level).lower())
    if levelno is None:
        raise ValueError(f"log level {level!r} is not one of debug, info, warn, error")
    if fmt not in FORMATS:
        raise ValueError(f"log format {fmt!r} is not one of {', '.join(FORMATS)}")
    handler = _Handler(stream if stream is not None else sys.stderr)
    handler.setFormatter(LogfmtFormatter() if fmt == "logfmt" else JsonFormatter())
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _Handler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(levelno)
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET if levelno <= logging.DEBUG else logging.WARNING)
    # botocore's wire dumps (request headers, response bodies) carry credentials; redaction is the
    # second line of defence, not emitting them at all is the first, even at debug.
    for name in WIRE_LOGGERS:
        logging.getLogger(name).setLevel(logging.INFO)
    # A failed AssumeRole is logged by the scheduler with account, source and error code; botocore's
    # own warning about the failed credential refresh would only repeat it.
    logging.getLogger("botocore.credentials").setLevel(logging.NOTSET if levelno <= logging.DEBUG else logging.ERROR)
