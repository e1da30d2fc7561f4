"""IAM enforcement on the fake AWS, by moto's own policy evaluator.

moto evaluates the identity policies of the caller (IAM user or assumed role) for the calls it
answers once its access control is on (``settings.INITIAL_NO_AUTH_ACTION_COUNT`` reached; its
server's ``/moto-api/reset-auth`` sets the same). ``FakeAws`` answers some calls itself, in front
of moto (the credential report, the account summary, virtual MFA devices, LookupEvents,
ListOrganizationsFeatures, AssumeRoot): ``EnforcingFakeAws`` runs the same evaluator for those,
with the resource and condition values the real call has (AssumeRoot: the target's root ARN and
``sts:TaskPolicyArn``), so every call of the exporter is judged against its principal's policy.
It also judges the calls of JSON services (Organizations...) before moto does, to answer a denial
in the shape AWS uses (moto's is XML, which botocore reads as error code "403").

IAM authorizes SQS batch calls by the single action (``DeleteMessageBatch`` by
``sqs:DeleteMessage``); moto by the call's own name: ``AUTHORIZED_AS`` maps them, for both
evaluations, and SQS calls are judged on the queue's ARN (moto's check uses ``*``).

moto checks a role's trust policy only for a role in the caller's own account, and then compares
an assumed-role session ARN with a role ARN (never equal); it also lets a ``StringEquals`` on a
key the request lacks pass. ``EnforcingFakeAws`` therefore judges every cross-account
``sts:AssumeRole`` against the target role's trust policy itself: the caller's role (or user) ARN
or its account must be the ``Principal``, and every ``StringEquals`` key (``sts:ExternalId``) must
be present and equal.

Still not evaluated, by name (the permission-contract test checks these by comparing the recorded
calls with the shipped policies): condition operators other than ``StringEquals`` (moto ignores
them) and trust conditions on keys other than ``sts:ExternalId``.
"""

from __future__ import annotations

import io
import json
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Optional
from urllib.parse import parse_qs

from fakeaws import wire
from fakeaws import FakeAws

# Calls the fake answers itself whose real counterpart needs a permission.
FAKE_ANSWERED = set(FakeAws._HANDLERS)
JSON_SERVICES = {"cloudtrail", "organizations", "sqs"}
# Batch calls IAM authorizes by the single action ("Amazon SQS API permissions" reference).
AUTHORIZED_AS = {
    ("sqs", "DeleteMessageBatch"): "DeleteMessage",
    ("sqs", "SendMessageBatch"): "SendMessage",
    ("sqs", "ChangeMessageVisibilityBatch"): "ChangeMessageVisibility",
}


def _json_params(body: bytes) -> dict[str, str]:
    """The top-level string members of a JSON request body (where resource names are)."""
    try:
        document = json.loads(body or b"{}")
    except ValueError:
        return {}
    return {k: v for k, v in document.items() if isinstance(v, str)} if isinstance(document, dict) else {}


@contextmanager
def iam_enforced() -> Iterator[None]:
    """moto's access control on (in this process: the in-process fake's server)."""
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin

    from moto.iam.access_control import IAMRequestBase

    saved = settings.INITIAL_NO_AUTH_ACTION_COUNT, ActionAuthenticatorMixin.request_count
    settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
    ActionAuthenticatorMixin.request_count = 0
    original_init = IAMRequestBase.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:  # moto judges a batch call by its own name
        original_init(self, *args, **kwargs)
        service, _, action = self._action.partition(":")
        if (service, action) in AUTHORIZED_AS:
            self._action = f"{service}:{AUTHORIZED_AS[service, action]}"

    IAMRequestBase.__init__ = init  # type: ignore[method-assign]
    try:
        yield
    finally:
        IAMRequestBase.__init__ = original_init  # type: ignore[method-assign]
        settings.INITIAL_NO_AUTH_ACTION_COUNT, ActionAuthenticatorMixin.request_count = saved


def enforcing() -> bool:
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin

    return ActionAuthenticatorMixin.request_count >= settings.INITIAL_NO_AUTH_ACTION_COUNT


def json_policies_in_moto() -> None:
    """moto's CloudFormation stores a role's inline policies as dicts; its evaluator (and the
    real IAM API) expect JSON text. Store the same documents as JSON."""
    from moto.iam.models import iam_backends

    for account in list(iam_backends.values()):
        for partition in list(account.values()):
            for role in list(partition.roles.values()):
                for name, document in list(role.policies.items()):
                    if not isinstance(document, str):
                        role.policies[name] = json.dumps(document)


def resource_and_conditions(
    service: str, action: str, params: dict[str, str], region: str = "us-east-1"
) -> tuple[str, dict[str, str]]:
    """The resource ARN and request condition values IAM evaluates a call with (``*`` otherwise)."""
    if service == "sqs" and params.get("QueueUrl", "").count("/") >= 4:
        account, name = params["QueueUrl"].rstrip("/").split("/")[-2:]
        return f"arn:aws:sqs:{region}:{account}:{name}", {}
    if (service, action) == ("sts", "AssumeRoot"):
        target = params.get("TargetPrincipal", "")
        resource = target if target.startswith("arn:") else f"arn:aws:iam::{target}:root"
        return resource, {"sts:TaskPolicyArn": params.get("TaskPolicyArn.arn", "")}
    if (service, action) == ("sts", "AssumeRole"):
        conditions = {"sts:ExternalId": params["ExternalId"]} if "ExternalId" in params else {}
        return params.get("RoleArn", "*"), conditions
    return "*", {}


def evaluate(policies: list[Any], action: str, resource: str, conditions: dict[str, str]) -> bool:
    """moto's evaluation of identity policies: an explicit deny wins, else any allow."""
    from moto.iam.access_control import IAMPolicy, PermissionResult

    permitted = False
    for policy in policies:
        result = IAMPolicy(policy).is_action_permitted(action, resource, None, conditions)
        if result == PermissionResult.DENIED:
            return False
        permitted = permitted or result == PermissionResult.PERMITTED
    return permitted


def trust_allows(trust: dict[str, Any], caller_arn: str, caller_account: str, request: dict[str, str]) -> bool:
    """Does ``trust`` (a role's trust policy) let ``caller_arn`` assume the role with ``request``?"""
    for statement in trust["Statement"] if isinstance(trust["Statement"], list) else [trust["Statement"]]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        if statement["Effect"] != "Allow" or "sts:AssumeRole" not in actions:
            continue
        principals = statement.get("Principal", {}).get("AWS", [])
        principals = principals if isinstance(principals, list) else [principals]
        if not {caller_arn, f"arn:aws:iam::{caller_account}:root", caller_account, "*"} & set(principals):
            continue
        unknown = set(statement.get("Condition", {})) - {"StringEquals"}
        equals = statement.get("Condition", {}).get("StringEquals", {})
        values = {"sts:ExternalId": request.get("ExternalId")}
        if unknown or any(
            values.get(k) is None or values[k] not in ([v] if isinstance(v, str) else v) for k, v in equals.items()
        ):
            continue
        return True
    return False


class EnforcingFakeAws(FakeAws):
    """``FakeAws`` whose own answers are subject to the caller's IAM policies while moto enforces."""

    def _handle(self, environ: dict[str, Any], start_response: Callable, moto_app: Any) -> Any:
        denial = self._denial(environ) if enforcing() else None
        if denial is None:
            return super()._handle(environ, start_response, moto_app)
        status, headers, body = denial
        start_response(f"{status} Forbidden", headers + [("Content-Length", str(len(body)))])
        return [body]

    def _denial(self, environ: dict[str, Any]) -> Optional[wire.Response]:
        from moto.iam.access_control import IAMRequest
        from moto.iam.models import get_account_id_from
        from werkzeug.datastructures import EnvironHeaders

        auth = environ.get("HTTP_AUTHORIZATION", "")
        if "Credential=" not in auth:
            return None
        key, _, region, service, _ = auth.split("Credential=", 1)[1].split(",", 1)[0].strip().split("/")
        with self._lock:
            if key in self._sessions:  # an AssumeRoot session: its task policy governs (the fake checks it)
                return None
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length > 0 else b""
        environ["wsgi.input"] = io.BytesIO(body)
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if target:
            action, params = target.rsplit(".", 1)[-1], _json_params(body)
        else:
            query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
            query.update(parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True))
            params = {k: v[-1] for k, v in query.items()}
            action = params.get("Action", "")
        if (service, action) == ("sts", "AssumeRole"):
            return self._trust_denial(key, environ, body, params)
        # moto denies calls of JSON services with an XML body that botocore cannot read (error code
        # "403"); real AWS answers AccessDeniedException in JSON: judge those here too, same evaluator.
        if (service, action) not in FAKE_ANSWERED and service not in JSON_SERVICES:
            return None
        path = environ.get("PATH_INFO", "/") + (f"?{environ['QUERY_STRING']}" if environ.get("QUERY_STRING") else "")
        request = IAMRequest(
            account_id=get_account_id_from(key),
            method=environ["REQUEST_METHOD"],
            path=path,
            data={k: [v] for k, v in params.items()},
            body=body,
            headers=EnvironHeaders(environ),
            action=action,
        )
        request.check_signature()
        resource, conditions = resource_and_conditions(service, action, params, region)
        permission = f"{service}:{AUTHORIZED_AS.get((service, action), action)}"
        if evaluate(request._access_key.collect_policies(), permission, resource, conditions):
            return None
        return _denied(service, request._access_key.arn, permission, resource)

    def _trust_denial(
        self, key: str, environ: dict[str, Any], body: bytes, params: dict[str, str]
    ) -> Optional[wire.Response]:
        """A cross-account AssumeRole: the target role's trust policy decides (moto would not)."""
        from moto.iam.models import get_account_id_from, iam_backends

        role_arn = params.get("RoleArn", "")
        target, caller_account = role_arn.split(":")[4] if role_arn.count(":") >= 5 else "", get_account_id_from(key)
        if not target or target == caller_account:
            return None  # moto evaluates these itself
        caller = self._caller_arn(key, caller_account)
        try:
            role = iam_backends[target]["aws"].get_role_by_arn(role_arn)
        except Exception:  # noqa: BLE001 - no such role: AWS answers AccessDenied too
            return _denied("sts", caller, "sts:AssumeRole", role_arn)
        trust = json.loads(role.assume_role_policy_document)
        if trust_allows(trust, caller, caller_account, params):
            return None
        return _denied("sts", caller, "sts:AssumeRole", role_arn)

    @staticmethod
    def _caller_arn(key: str, account: str) -> str:
        """The role (not session) or user ARN behind an access key, as trust policies name it."""
        from moto.iam.models import iam_backends
        from moto.sts.models import sts_backends

        for assumed in sts_backends[account]["aws"].assumed_roles:
            if assumed.access_key_id == key:
                return assumed.role_arn
        for user in iam_backends[account]["aws"].users.values():
            if any(k.access_key_id == key for k in user.access_keys):
                return user.arn
        return f"arn:aws:iam::{account}:root"


def _denied(service: str, caller: str, action: str, resource: str) -> wire.Response:
    message = f"User: {caller} is not authorized to perform: {action} on resource: {resource}"
    if service in JSON_SERVICES:
        return wire.json_error("AccessDeniedException", message, 403)
    return wire.query_error(service, "AccessDenied", message, 403)
