"""Dispatch: parse a request, record it, apply injected latency and errors, route it to the
fake's handler for (service, action) or to moto; errors leave in the service's wire format."""

from __future__ import annotations

import io
import json
import logging
import re
import time as _time
from datetime import timedelta
from types import MappingProxyType
from typing import Any, Callable, Mapping, Optional
from urllib.parse import parse_qs

from fakeaws import wire
from fakeaws.base import FakeBase
from fakeaws.model import MANAGEMENT_ACCOUNT_ID, FakeCall, _AwsError, _now

_log = logging.getLogger(__name__)

_JSON_SERVICES = {"cloudtrail", "organizations"}
# Query parameters that carry a request's signature or credentials (presigned URLs, SigV2): they
# are never recorded in ``FakeCall.params``. Compared in lower case.
_SIGNING_PARAMS = frozenset(
    {
        "x-amz-algorithm",
        "x-amz-credential",
        "x-amz-date",
        "x-amz-expires",
        "x-amz-security-token",
        "x-amz-signature",
        "x-amz-signedheaders",
        "awsaccesskeyid",
        "securitytoken",
        "signature",
        "signaturemethod",
        "signatureversion",
    }
)


class _Request:
    def __init__(self, environ: dict[str, Any]):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        self.body = environ["wsgi.input"].read(length) if length > 0 else b""
        environ["wsgi.input"] = io.BytesIO(self.body)
        environ["CONTENT_LENGTH"] = str(len(self.body))
        self.access_key = ""
        self.region = "us-east-1"
        self.service = ""
        auth = environ.get("HTTP_AUTHORIZATION", "")
        if "Credential=" in auth:
            scope = auth.split("Credential=", 1)[1].split(",", 1)[0].strip().split("/")
            if len(scope) == 5:
                self.access_key, _, self.region, self.service, _ = scope
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        self.params: dict[str, Any] = {}
        self.action = ""
        if target:
            self.action = target.rsplit(".", 1)[-1]
            try:
                loaded = json.loads(self.body or b"{}")
                self.params = loaded if isinstance(loaded, dict) else {}
            except ValueError:
                self.params = {}
        else:
            query = environ.get("QUERY_STRING", "")
            form = self.body.decode("utf-8", "replace")
            if "urlencoded" not in environ.get("CONTENT_TYPE", ""):
                form = ""
            merged = parse_qs(query, keep_blank_values=True)
            for key, values in parse_qs(form, keep_blank_values=True).items():
                merged[key] = values
            self.params = {key: values[-1] for key, values in merged.items()}
            self.action = self.params.get("Action", "")

    def recorded_params(self) -> Mapping[str, str]:
        """``params`` as ``FakeCall.params`` keeps them: strings, without signing parameters."""
        recorded = {
            str(key): value
            if isinstance(value, str)
            else json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
            for key, value in self.params.items()
            if str(key).lower() not in _SIGNING_PARAMS
        }
        return MappingProxyType(recorded)

    def target_account(self) -> Optional[str]:
        """RoleArn's account for AssumeRole, TargetPrincipal's for AssumeRoot, else None."""
        if self.action == "AssumeRole":
            parts = str(self.params.get("RoleArn", "")).split(":")
            return (parts[4] or None) if len(parts) > 4 else None
        if self.action == "AssumeRoot":
            principal = str(self.params.get("TargetPrincipal", ""))
            if principal.startswith("arn:"):  # AWS also takes the member's root ARN
                parts = principal.split(":")
                return (parts[4] or None) if len(parts) > 4 else None
            return principal or None
        return None


class Dispatch(FakeBase):
    def _handle(self, environ: dict[str, Any], start_response: Callable, moto_app: Any) -> Any:
        request = _Request(environ)
        session = None
        with self._lock:
            session = self._sessions.get(request.access_key)
        if session is not None:
            account_id = session.account_id
        elif request.access_key:
            from moto.iam.models import get_account_id_from

            account_id = get_account_id_from(request.access_key)
        else:
            account_id = MANAGEMENT_ACCOUNT_ID
        target = request.target_account()
        call = FakeCall(
            request.service,
            request.action,
            account_id,
            request.region,
            _time.time(),
            session is not None,
            request.recorded_params(),
            target,
        )
        keyed = _keyed_account(request, account_id, target)
        with self._lock:
            self._calls.append(call)
            delay = self._latency_for(request.action, keyed)
        if delay > 0:
            _time.sleep(delay)  # outside the lock: other requests go on meanwhile
        try:
            with self._lock:
                role_expiry = self._role_expiry.get(request.access_key)
            if (session is not None and session.expiration <= _now()) or (role_expiry and role_expiry <= _now()):
                raise _AwsError("ExpiredToken", "The security token included in the request is expired", 400)
            self._raise_injected(request, account_id, keyed)
            handler = None
            if session is not None:
                handler = self._root_session_handler(request, session)
            else:
                handler = self._HANDLERS.get((request.service, request.action))
            if handler is None:
                if (request.service, request.action) == ("sts", "AssumeRole") and self._role_lifetime is not None:
                    return self._short_lived_assume_role(environ, start_response, moto_app)
                return moto_app(environ, start_response)
            result = handler(self, request, account_id)
            if result is None:  # the handler leaves this request to moto
                return moto_app(environ, start_response)
        except Exception as exc:  # noqa: BLE001 - a bug here must still reach the client as an AWS error
            error = exc if isinstance(exc, _AwsError) else _AwsError("InternalFailure", repr(exc), 500)
            if not isinstance(exc, _AwsError):
                _log.exception("fake AWS failed to answer %s:%s", request.service, request.action)
            if request.service in _JSON_SERVICES:
                result = wire.json_error(error.code, error.message, error.status)
            else:
                result = wire.query_error(request.service, error.code, error.message, error.status)
        status, headers, body = result
        headers = headers + [("Content-Length", str(len(body)))]
        start_response(f"{status} {_REASONS.get(status, 'Status')}", headers)
        return [body]

    def _short_lived_assume_role(self, environ: dict[str, Any], start_response: Callable, moto_app: Any) -> Any:
        """moto's AssumeRole answer with the credentials' Expiration moved to the lifetime set,
        remembered so that later requests with them can be refused once expired."""
        answer: dict[str, Any] = {}

        def capture(status: str, headers: list, exc_info: Any = None) -> None:
            answer.update(status=status, headers=headers)

        text = b"".join(moto_app(environ, capture)).decode()
        key = re.search(r"<AccessKeyId>([^<]+)</AccessKeyId>", text)
        if key and answer["status"].startswith("200"):
            with self._lock:
                expiry = _now() + timedelta(seconds=self._role_lifetime or 0)
                self._role_expiry[key.group(1)] = expiry
            text = re.sub(
                r"<Expiration>[^<]*</Expiration>",
                f"<Expiration>{expiry.strftime('%Y-%m-%dT%H:%M:%S.%fZ')}</Expiration>",
                text,
            )
        body = text.encode()
        headers = [(k, v) for k, v in answer["headers"] if k.lower() != "content-length"]
        start_response(answer["status"], headers + [("Content-Length", str(len(body)))])
        return [body]

    def _latency_for(self, action: str, account_id: str) -> float:
        """The latency of the most specific matching setting (0 = none); call with the lock."""
        if not self._latency:
            return 0.0
        for key in ((action, account_id), (None, account_id), (action, None), (None, None)):
            seconds = self._latency.get(key)
            if seconds is not None:
                return seconds
        return 0.0

    def _raise_injected(self, request: _Request, caller: str, key_account: str) -> None:
        with self._lock:
            failure = self._failures.get((key_account, request.action))
            if failure is None:
                return
            if failure.remaining is not None:
                failure.remaining -= 1
                if failure.remaining <= 0:
                    del self._failures[(key_account, request.action)]
        json_service = request.service in _JSON_SERVICES
        code = failure.code or ("AccessDeniedException" if json_service else "AccessDenied")
        message = failure.message
        if message is None:
            if code.startswith("AccessDenied"):
                message = (
                    f"User: arn:aws:sts::{caller}:assumed-role/exporter/session is not authorized "
                    f"to perform: {request.service}:{request.action}"
                )
                if request.action == "AssumeRole":
                    message += f" on resource: {request.params.get('RoleArn')}"
            elif "Throttl" in code:
                message = "Rate exceeded"
            else:
                message = f"injected {code}"
        raise _AwsError(code, message, failure.status)


class _Middleware:
    def __init__(self, fake: Dispatch, moto_app: Any):
        self.fake = fake
        self.moto_app = moto_app

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Any:
        return self.fake._handle(environ, start_response, self.moto_app)


def _keyed_account(request: _Request, caller: str, target: Optional[str]) -> str:
    """The account ``fail`` and ``set_latency`` match a request by (see ``fail``)."""
    if request.action == "AssumeRoot":
        return target or ""
    if request.action == "AssumeRole" and target:
        return target
    return caller


_REASONS = {
    200: "OK",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    410: "Gone",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
