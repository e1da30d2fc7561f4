"""Turn AWS failures into short, secret-free descriptions that name the error code."""

from __future__ import annotations

from botocore.exceptions import ClientError

from exporter.logs import redact


class SourceError(Exception):
    """A source could not produce a value for an account; ``code`` is the AWS error code or a
    short code of ours (``ReportTimeout``, ``ReportUnparsable``)."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def error_code(error: BaseException) -> str:
    """The AWS error code of ``error`` (``AccessDenied``, ``Throttling``…) or its class name."""
    if isinstance(error, SourceError):
        return error.code
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code") or "ClientError")
    return type(error).__name__


MAX_MESSAGE = 300


def describe_error(error: BaseException) -> str:
    """``"<code> (<operation>): <message>"`` on one line, shortened, with secrets redacted."""
    if isinstance(error, SourceError):
        text = str(error)
    elif isinstance(error, ClientError):
        operation = getattr(error, "operation_name", "")
        message = error.response.get("Error", {}).get("Message") or ""
        text = f"{error_code(error)}{f' ({operation})' if operation else ''}: {message}".rstrip(": ")
    else:
        text = f"{type(error).__name__}: {error}"
    # Redact before shortening: a cut could separate a secret from the key name that marks it.
    text = redact(" ".join(text.split()))
    return text if len(text) <= MAX_MESSAGE else text[:MAX_MESSAGE - 1] + "…"
