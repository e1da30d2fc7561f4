"""Turn AWS failures into short, secret-free descriptions that name the error code."""

from __future__ import annotations

import os
import re

from botocore import exceptions as bx
from botocore.exceptions import ClientError

from exporter.aws.untrusted import clean
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


OTHER_CODE = "Other"
_METRIC_CODE = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}")


def metric_code(error: BaseException) -> str:
    """``error_code(error)`` as a label value: AWS codes and our own as they are, anything that
    does not look like a code (it comes from whatever answered on the endpoint) as ``Other``."""
    code = error_code(error)
    return code if _METRIC_CODE.fullmatch(code) else OTHER_CODE


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
    # The message comes from AWS (or whatever answers on its endpoint): clean it like any AWS text.
    text = clean(redact(" ".join(text.split())), limit=len(text) + 1)
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


# ---------------------------------------------------------------- what to do about it

SEE_README = 'see README section "Troubleshooting credentials"'
_CHAIN = (
    "the standard AWS credential chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE with "
    "~/.aws/config, SSO, a web identity token, a container or instance role)"
)
_EXPIRED_CODES = {"ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired"}
_REJECTED_CODES = {
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "SignatureDoesNotMatch",
    "InvalidAccessKeyId",
    "AuthFailure",
    "IncompleteSignature",
}
_DENIED_CODES = {"AccessDenied", "AccessDeniedException"}


def remedy(error: BaseException) -> str:
    """What a person can do about ``error``, in one sentence that ends by pointing to the README;
    "" when there is nothing better to say than the error itself.

    Written for failures that leave the exporter blind (discovery, the exporter's own account);
    shown in the log line, on the landing page and in ``SourceStatus.hint``.
    """
    advice = _advice(error)
    return clean(f"{advice}; {SEE_README}", limit=1000) if advice else ""


def _advice(error: BaseException) -> str:
    if isinstance(error, bx.ProfileNotFound):
        profile = error.kwargs.get("profile", "")
        return (
            f"AWS_PROFILE (or --profile) names the profile {profile!r}, which is not in the AWS config "
            "file (~/.aws/config or AWS_CONFIG_FILE): fix the name or unset AWS_PROFILE"
        )
    if isinstance(error, (bx.UnauthorizedSSOTokenError, bx.SSOTokenLoadError, bx.TokenRetrievalError)):
        profile = os.environ.get("AWS_PROFILE") or os.environ.get("AWS_DEFAULT_PROFILE")
        login = f"aws sso login --profile {profile}" if profile else "aws sso login --profile <profile>"
        return f"the AWS SSO session has expired or was never started: run `{login}` and the exporter retries"
    if isinstance(error, (bx.NoCredentialsError, bx.PartialCredentialsError, bx.CredentialRetrievalError)):
        return (
            f"no usable AWS credentials were found through {_CHAIN}: give the exporter credentials of the "
            "management account or of a delegated administrator"
        )
    if isinstance(error, (bx.EndpointConnectionError, bx.ConnectTimeoutError, bx.ProxyConnectionError)):
        endpoint = error.kwargs.get("endpoint_url") or error.kwargs.get("proxy_url") or "the AWS endpoint"
        return (
            f"cannot connect to {endpoint}: check the network, proxy settings (HTTPS_PROXY), aws.region "
            "and AWS_ENDPOINT_URL"
        )
    if isinstance(error, bx.ReadTimeoutError):
        endpoint = error.kwargs.get("endpoint_url") or "the AWS endpoint"
        return f"{endpoint} did not answer in time: check the network and proxy; the exporter retries"
    code = error_code(error)
    if code in _EXPIRED_CODES:
        return (
            "the AWS credentials have expired: refresh them (for SSO `aws sso login`), or use a source "
            "that renews itself (an instance, task or web identity role)"
        )
    if code in _REJECTED_CODES:
        return (
            "AWS rejected the credentials (unknown or deleted access key, or a wrong secret): check which "
            f"credentials {_CHAIN} picks up"
        )
    operation = getattr(error, "operation_name", "")
    if code in _DENIED_CODES and operation in DISCOVERY_OPERATIONS:
        return (
            f"the exporter's credentials may not call organizations:{operation}: run it in the "
            "organization's management account or a delegated administrator account with the policy "
            'in README "Required IAM permissions", or use accounts.discovery: static'
        )
    if code == "AWSOrganizationsNotInUseException":
        return "the exporter's account is not in an organization: use accounts.discovery: static and list the accounts"
    return ""


# The Organizations calls of discovery (its walk of the OU tree).
DISCOVERY_OPERATIONS = ("ListRoots", "ListOrganizationalUnitsForParent", "ListAccountsForParent")
