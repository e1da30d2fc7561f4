"""Log lines as an operator reads them: logfmt and JSON shapes, quoting, exceptions, no secrets."""

from __future__ import annotations

import io
import json
import logging
import re

import pytest

from exporter.logs import redact, setup_logging

SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
SESSION_TOKEN = "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQD+abc/def+ghi=="
SIGNATURE = "fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024"
TS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


@pytest.fixture
def logged():
    """setup_logging into a buffer; yields a function (level, fmt) -> the buffer; restores the root logger."""
    root = logging.getLogger()
    saved = (root.level, list(root.handlers))
    noisy = {name: logging.getLogger(name).level for name in ("botocore", "urllib3", "apscheduler")}

    def configure(level: str = "info", fmt: str = "logfmt") -> io.StringIO:
        buffer = io.StringIO()
        setup_logging(level, fmt, stream=buffer)
        return buffer

    yield configure
    root.handlers[:] = saved[1]
    root.setLevel(saved[0])
    for name, level in noisy.items():
        logging.getLogger(name).setLevel(level)


def _lines(buffer: io.StringIO) -> list[str]:
    return buffer.getvalue().splitlines()


def test_logfmt_line_has_fixed_keys_then_extras(logged):
    out = logged("info", "logfmt")
    logging.getLogger("exporter.scheduler").info(
        "collected source",
        extra={"source": "account_summary", "account_id": "333333333333", "duration_seconds": 0.12},
    )
    [line] = _lines(out)
    ts, rest = line.split(" ", 1)
    assert TS.fullmatch(ts.removeprefix("ts="))
    assert rest == (
        'level=info logger=exporter.scheduler msg="collected source" '
        "source=account_summary account_id=333333333333 duration_seconds=0.12"
    )


def test_logfmt_quotes_only_when_needed_and_escapes(logged):
    out = logged("info", "logfmt")
    logging.getLogger("t").warning(
        "plain",
        extra={
            "empty": "",
            "spaced": "a b",
            "quoted": 'say "hi"',
            "multi": "one\ntwo",
            "eq": "a=b",
            "flag": True,
            "none": None,
            "count": 3,
            "path": "Root/Workloads/Prod",
            "ids": ["1", "2"],
        },
    )
    [line] = _lines(out)
    assert " level=warn " in line
    assert " msg=plain " in line
    assert ' empty="" ' in line
    assert ' spaced="a b" ' in line
    assert r' quoted="say \"hi\"" ' in line
    assert r' multi="one\ntwo" ' in line
    assert ' eq="a=b" ' in line
    assert " flag=true none=null count=3 path=Root/Workloads/Prod " in line
    assert line.endswith(r' ids="[\"1\", \"2\"]"')


def test_json_line_has_the_same_keys(logged):
    out = logged("info", "json")
    logging.getLogger("exporter.scheduler").info(
        "collected %s", "source", extra={"source": "mfa_devices", "account_id": "333333333333", "ok": True}
    )
    [line] = _lines(out)
    record = json.loads(line)
    assert list(record) == ["ts", "level", "logger", "msg", "source", "account_id", "ok"]
    assert TS.fullmatch(record["ts"])
    assert record["level"] == "info"
    assert record["msg"] == "collected source"
    assert record["ok"] is True


def test_exception_is_one_field_in_logfmt(logged):
    out = logged("info", "logfmt")
    try:
        raise RuntimeError("AccessDenied: not allowed\nsecond line")
    except RuntimeError:
        logging.getLogger("exporter.sources").exception("fetch failed", extra={"account_id": "111111111111"})
    lines = _lines(out)
    assert len(lines) == 1, "a traceback must not spill over several lines"
    assert lines[0].endswith(
        r'level=error logger=exporter.sources msg="fetch failed" account_id=111111111111 '
        r'exc="RuntimeError: AccessDenied: not allowed\nsecond line"'
    )


def test_exception_in_json_has_exc_and_traceback(logged):
    out = logged("info", "json")
    try:
        raise KeyError("Credentials")
    except KeyError:
        logging.getLogger("t").error("boom", exc_info=True)
    [line] = _lines(out)
    record = json.loads(line)
    assert record["exc"] == "KeyError: 'Credentials'"
    assert record["traceback"].startswith("Traceback (most recent call last):")
    assert record["traceback"].endswith("KeyError: 'Credentials'")


def test_level_filters_and_noisy_libraries_are_quiet(logged):
    out = logged("warn", "logfmt")
    logging.getLogger("exporter").info("hidden")
    logging.getLogger("exporter").warning("shown")
    assert [line.split(" msg=")[1] for line in _lines(out)] == ["shown"]

    out = logged("info", "logfmt")
    logging.getLogger("botocore.credentials").info("Found credentials in environment variables.")
    logging.getLogger("apscheduler.scheduler").info("Added job")
    logging.getLogger("urllib3.connectionpool").warning("Retrying")
    assert [line.split(" msg=")[1] for line in _lines(out)] == ["Retrying"]

    out = logged("debug", "logfmt")
    logging.getLogger("botocore.credentials").debug("Looking for credentials")
    assert len(_lines(out)) == 1


def test_setup_twice_replaces_instead_of_duplicating(logged):
    first = logged("info", "logfmt")
    second = logged("info", "json")
    logging.getLogger("t").info("once")
    assert first.getvalue() == ""
    assert len(_lines(second)) == 1


@pytest.mark.parametrize("level, fmt", [("verbose", "logfmt"), ("info", "text"), ("", "json")])
def test_unknown_level_or_format_is_refused(level, fmt):
    with pytest.raises(ValueError):
        setup_logging(level, fmt, stream=io.StringIO())


# ---------------------------------------------------------------- secrets


LEAKY_TEXTS = [
    f"aws_secret_access_key={SECRET_KEY}",
    f"aws_session_token = {SESSION_TOKEN}",
    f"{{'AccessKeyId': 'ASIAEXAMPLE', 'SecretAccessKey': '{SECRET_KEY}', 'SessionToken': '{SESSION_TOKEN}'}}",
    f'{{"Credentials": {{"SecretAccessKey": "{SECRET_KEY}", "SessionToken": "{SESSION_TOKEN}"}}}}',
    f"https://sts.amazonaws.com/?Action=GetCallerIdentity&X-Amz-Security-Token={SESSION_TOKEN}"
    f"&X-Amz-Signature={SIGNATURE}",
    f"X-Amz-Security-Token: {SESSION_TOKEN}",
    "Authorization: AWS4-HMAC-SHA256 Credential=ASIAEXAMPLE/20261128/us-east-1/sts/aws4_request, "
    f"SignedHeaders=host;x-amz-date, Signature={SIGNATURE}",
    # An STS response body, as botocore dumps it at debug level.
    f"<Credentials><SecretAccessKey>{SECRET_KEY}</SecretAccessKey><SessionToken>{SESSION_TOKEN}"
    "</SessionToken></Credentials>",
    # Request headers as botocore dumps them: values are bytes literals.
    f"{{'X-Amz-Security-Token': b'{SESSION_TOKEN}', 'X-Amz-Date': b'20261128T000000Z'}}",
]


@pytest.mark.parametrize("text", LEAKY_TEXTS)
def test_redact_removes_every_secret_value(text):
    clean = redact(text)
    for secret in (SECRET_KEY, SESSION_TOKEN, SIGNATURE):
        assert secret not in clean
    assert "[REDACTED]" in clean


def test_redact_keeps_the_rest_of_the_text():
    text = f"AssumeRole failed for 111111111111: SessionToken={SESSION_TOKEN} expired; AccessKeyId=ASIAEXAMPLE"
    assert (
        redact(text) == "AssumeRole failed for 111111111111: SessionToken=[REDACTED] expired; AccessKeyId=ASIAEXAMPLE"
    )


@pytest.mark.parametrize("fmt", ["logfmt", "json"])
def test_secrets_never_reach_the_log_output(logged, fmt):
    out = logged("debug", fmt)
    log = logging.getLogger("exporter.aws.sessions")
    for text in LEAKY_TEXTS:
        log.info("call: %s", text)
    log.info(
        "credentials",
        extra={
            "credentials": {"SecretAccessKey": SECRET_KEY, "SessionToken": SESSION_TOKEN},
            "aws_session_token": SESSION_TOKEN,
            "external_id": "tenant-secret-42",
        },
    )
    try:
        raise ValueError(f"bad request: X-Amz-Security-Token={SESSION_TOKEN}")
    except ValueError:
        log.exception("failed")
    text = out.getvalue()
    assert len(_lines(out)) == len(LEAKY_TEXTS) + 2
    for secret in (SECRET_KEY, SESSION_TOKEN, SIGNATURE, "tenant-secret-42"):
        assert secret not in text
    assert "ASIAEXAMPLE" in text  # an access key id is not a secret and helps find the key


def test_debug_level_keeps_botocore_wire_dumps_out():
    stream = io.StringIO()
    setup_logging("debug", "logfmt", stream=stream)
    logging.getLogger("botocore.parsers").debug("Response body: <SessionToken>%s</SessionToken>", SESSION_TOKEN)
    logging.getLogger("botocore.endpoint").debug("Sending http request: %s", SESSION_TOKEN)
    logging.getLogger("exporter.scheduler").debug("still here")
    output = stream.getvalue()
    assert SESSION_TOKEN not in output
    assert "still here" in output
