"""A fake AWS organization: moto's server, extended with what moto lacks for root-user state.

``FakeAws`` runs moto's WSGI application in a thread on a loopback port, behind a middleware that
answers the calls moto does not know or gets wrong for the root user, and hands every other call
to moto unchanged:

* ``iam:GetAccountSummary`` with the root user's MFA, keys, certificates and password;
* the credential report with a ``<root_account>`` row, a real ``GeneratedTime``, four-hour reuse,
  ``ReportInProgress`` and ``ReportExpired``;
* ``iam:ListVirtualMFADevices`` including root's virtual devices;
* ``sts:AssumeRoot`` and the calls made with its credentials (the root-task policies);
* ``iam:ListOrganizationsFeatures``;
* ``cloudtrail:LookupEvents`` over console sign-in events;
* the organization's trails in members' ``DescribeTrails``, ``GetTrailStatus``, ``GetEventSelectors``;
* injected errors (``fail``) and latency (``set_latency``) for any action;
* short-lived AssumeRole credentials, refused once expired (``set_assume_role_lifetime``).

Every request is recorded as a ``FakeCall`` (``calls``) with the parameters it was sent with.

The root user of every account is a mutable ``FakeRoot``; the fake answers from it on each call.
moto keeps its state in module-level dictionaries, so one process runs one ``FakeAws`` at a time:
``start`` resets moto and refuses to run while another instance is running.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
import math
import random
import re
import secrets
import string
import threading
import time as _time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from types import MappingProxyType
from typing import Any, Callable, Iterable, Mapping, Optional
from unittest import mock
from urllib.parse import parse_qs

from exporter.demo import responses as wire
from exporter.demo.responses import XmlMap

_log = logging.getLogger(__name__)

MANAGEMENT_ACCOUNT_ID = "123456789012"
ROOT_TASK_POLICY_PREFIX = "arn:aws:iam::aws:policy/root-task/"
AUDIT_POLICY = ROOT_TASK_POLICY_PREFIX + "IAMAuditRootUserCredentials"
_AUDIT_ACTIONS = frozenset(
    {
        "GetAccountSummary",
        "GetAccessKeyLastUsed",
        "GetLoginProfile",
        "GetUser",
        "ListAccessKeys",
        "ListMFADevices",
        "ListSigningCertificates",
    }
)
# The read actions each root-task policy allows in an AssumeRoot session, as far as this fake
# answers them (the write actions of the credential tasks are not implemented: AccessDenied).
ROOT_TASK_POLICIES: dict[str, frozenset[str]] = {
    AUDIT_POLICY: _AUDIT_ACTIONS,
    ROOT_TASK_POLICY_PREFIX + "IAMCreateRootUserPassword": frozenset({"GetLoginProfile"}),
    ROOT_TASK_POLICY_PREFIX + "IAMDeleteRootUserCredentials": _AUDIT_ACTIONS,
    ROOT_TASK_POLICY_PREFIX + "S3UnlockBucketPolicy": frozenset(),
    ROOT_TASK_POLICY_PREFIX + "SQSUnlockQueuePolicy": frozenset(),
}
FEATURE_ROOT_CREDENTIALS_MANAGEMENT = "RootCredentialsManagement"
FEATURE_ROOT_SESSIONS = "RootSessions"
REPORT_COLUMNS = (
    "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,"
    "password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,"
    "access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,"
    "access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,"
    "access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,"
    "cert_1_last_rotated,cert_2_active,cert_2_last_rotated"
)
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
_EMPTY_PARAMS: Mapping[str, str] = MappingProxyType({})
_LOOKUP_KEYS = {
    "EventId",
    "EventName",
    "ReadOnly",
    "Username",
    "ResourceType",
    "ResourceName",
    "EventSource",
    "AccessKeyId",
}
_STATUS_FOR_STATE = {
    "ACTIVE": "ACTIVE",
    "PENDING_ACTIVATION": "ACTIVE",
    "SUSPENDED": "SUSPENDED",
    "PENDING_CLOSURE": "PENDING_CLOSURE",
    "CLOSED": "SUSPENDED",
}


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _random_chars(n: int, alphabet: str = string.ascii_uppercase + string.digits) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


# ---------------------------------------------------------------- the root user, as data


@dataclass
class FakeAccessKey:
    id: str = ""  # "" = a random AKIA... id
    active: bool = True
    created: datetime = field(default_factory=_now)
    last_used: Optional[datetime] = None
    last_used_service: Optional[str] = None
    last_used_region: Optional[str] = None

    def __post_init__(self) -> None:
        if not self.id:
            self.id = "AKIA" + _random_chars(16)


@dataclass
class FakeCertificate:
    id: str = ""  # "" = a random 32-character id
    active: bool = True
    uploaded: datetime = field(default_factory=_now)

    def __post_init__(self) -> None:
        if not self.id:
            self.id = _random_chars(32)


@dataclass
class FakeMfaDevice:
    kind: str = "virtual"  # "virtual" | "fido" | "hardware"
    serial: str = ""  # "" = generated for the account the device is attached to
    enabled: datetime = field(default_factory=_now)

    def __post_init__(self) -> None:
        if self.kind not in ("virtual", "fido", "hardware"):
            raise ValueError(f"MFA kind must be virtual, fido or hardware, not {self.kind!r}")


@dataclass
class FakeRoot:
    password: bool = False
    password_last_used: Optional[datetime] = None
    access_keys: list[FakeAccessKey] = field(default_factory=list)
    certificates: list[FakeCertificate] = field(default_factory=list)
    mfa_devices: list[FakeMfaDevice] = field(default_factory=list)
    created: Optional[datetime] = None  # user_creation_time; None = when the account was added

    @classmethod
    def without_credentials(cls) -> "FakeRoot":
        """A root with no password, key, certificate or MFA (centralized root access)."""
        return cls()

    @classmethod
    def with_password(cls, *mfa_kinds: str, last_used: Optional[datetime] = None) -> "FakeRoot":
        """A root with a console password and one MFA device of each kind given."""
        return cls(
            password=True,
            password_last_used=last_used,
            mfa_devices=[FakeMfaDevice(kind) for kind in mfa_kinds],
        )

    @property
    def mfa_active(self) -> bool:
        return bool(self.mfa_devices)


@dataclass(frozen=True)
class FakeCall:
    """One request the fake received (answered by it or by moto)."""

    service: str  # signing name: "iam", "sts", "cloudtrail", "organizations", ...
    action: str
    account_id: str  # the calling account (for a root session: the target member)
    region: str
    time: float  # Unix seconds, when the request arrived (before any injected latency)
    root_session: bool = False
    # The request parameters as sent, as strings: the query/form parameters of IAM and STS
    # ("TaskPolicyArn.arn", "DurationSeconds": "900"), the JSON body's top-level keys for
    # Organizations and CloudTrail (non-strings as compact JSON: "MaxResults": "50"). Never the
    # Authorization header nor a presigned request's signature or credentials. Read-only.
    params: Mapping[str, str] = field(default_factory=lambda: _EMPTY_PARAMS, hash=False)
    # The account the call acts on: RoleArn's account for AssumeRole, TargetPrincipal's for
    # AssumeRoot; None for every other action.
    target_account: Optional[str] = None


# ---------------------------------------------------------------- internal state


class _AwsError(Exception):
    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


@dataclass
class _Failure:
    code: Optional[str]
    message: Optional[str]
    status: int
    remaining: Optional[int]


@dataclass
class _Report:
    content: Optional[bytes] = None
    generated: Optional[datetime] = None
    expired: bool = False
    in_progress: bool = False
    pending: int = 0  # INPROGRESS answers left before the running generation completes
    delay: int = 0
    override: Optional[bytes] = None


@dataclass
class _Event:
    event_id: str
    name: str
    time: datetime
    source: str
    username: str
    read_only: str
    record: str  # the CloudTrailEvent JSON string, verbatim
    seq: int


@dataclass
class _Account:
    id: str
    name: str
    email: str
    root: FakeRoot
    added: datetime
    report: _Report = field(default_factory=_Report)
    events: dict[str, list[_Event]] = field(default_factory=dict)  # region -> events


@dataclass
class _RootSession:
    account_id: str
    task_policy: str
    expiration: datetime


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
            str(key): value if isinstance(value, str) else json.dumps(
                value, sort_keys=True, separators=(",", ":"), default=str
            )
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


def _parse_time(value: Any) -> datetime:
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, timezone.utc)
    text = str(value)
    try:
        return datetime.fromtimestamp(float(text), timezone.utc)
    except ValueError:
        pass
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return wire.utc(parsed)


# ---------------------------------------------------------------- the fake


class FakeAws:
    """moto's server plus the root-user calls moto lacks; see the module docstring."""

    MANAGEMENT_ACCOUNT_ID = MANAGEMENT_ACCOUNT_ID
    _running: Optional["FakeAws"] = None
    _running_lock = threading.Lock()

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self.host = host
        self.port = port
        self.endpoint_url = ""
        self.report_max_age: float = 4 * 3600  # seconds GenerateCredentialReport reuses a report
        # seconds after which GetCredentialReport answers ReportExpired (None = never)
        self.report_expiry: Optional[float] = 4 * 3600
        self._lock = threading.RLock()
        self._accounts: dict[str, _Account] = {}
        self._features: set[str] = set()
        self._failures: dict[tuple[str, str], _Failure] = {}
        self._latency: dict[tuple[Optional[str], Optional[str]], float] = {}  # (action, account)
        self._sessions: dict[str, _RootSession] = {}
        self._calls: list[FakeCall] = []
        self._event_seq = 0
        self._looping_tokens: set[str] = set()  # accounts whose LookupEvents repeats its NextToken
        self._role_lifetime: Optional[float] = None  # seconds AssumeRole credentials last (None = moto's)
        self._role_expiry: dict[str, datetime] = {}  # access key id of short-lived credentials -> expiry
        self._server: Any = None
        self._thread: Optional[threading.Thread] = None

    # ------------------------------------------------------------ lifecycle

    def start(self) -> str:
        """Reset moto, serve on ``host:port`` (0 = a free port) and return the endpoint URL."""
        from werkzeug.serving import make_server

        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )

        with FakeAws._running_lock:
            if FakeAws._running is not None:
                raise RuntimeError(
                    "another FakeAws is running in this process; moto's state is process-wide, "
                    "stop it first"
                )
            FakeAws._running = self
        try:
            _reset_moto()

            class QuietHandler(MotoRequestHandler):
                def log_request(self, *args: Any, **kwargs: Any) -> None:
                    pass

            moto_app = DomainDispatcherApplication(create_backend_app)
            self._server = make_server(
                self.host, self.port, _Middleware(self, moto_app), threaded=True,
                request_handler=QuietHandler,
            )
        except BaseException:
            with FakeAws._running_lock:
                FakeAws._running = None
            raise
        host, port = self._server.server_address[:2]
        self.endpoint_url = f"http://{host}:{port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="fake-aws", daemon=True
        )
        self._thread.start()
        return self.endpoint_url

    def stop(self) -> None:
        """Stop serving, forget moto's state and let another FakeAws start."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        with FakeAws._running_lock:
            if FakeAws._running is self:
                _reset_moto()
                FakeAws._running = None

    def __enter__(self) -> "FakeAws":
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def env(self) -> dict[str, str]:
        """Environment for a subprocess whose default boto3 credential chain should reach us."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "AWS_STS_REGIONAL_ENDPOINTS": "regional",
            "AWS_EC2_METADATA_DISABLED": "true",
            # keep the user's ~/.aws files (profiles, endpoints, credential_process) out of it
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        }

    # ------------------------------------------------------------ organization

    def create_organization(self) -> None:
        """An organization (all features) whose management account is 123456789012."""
        backend = _org_backend()
        with self._lock:
            backend.create_organization(region="us-east-1", FeatureSet="ALL")
            master = backend.get_account_by_id(MANAGEMENT_ACCOUNT_ID)
            master.name = "management"
            master.email = "management@example.com"
            assert backend.org is not None
            backend.org.master_account_email = master.email
            self._accounts[MANAGEMENT_ACCOUNT_ID] = _Account(
                MANAGEMENT_ACCOUNT_ID, master.name, master.email, FakeRoot(), _now()
            )

    def create_ou(self, path: str) -> str:
        """The id of OU ``path`` ("Workloads/Prod") under Root, creating missing levels."""
        backend = _org_backend()
        with self._lock:
            parent = self._root_id()
            for name in [part for part in path.split("/") if part]:
                existing = [
                    ou for ou in backend.ou
                    if getattr(ou, "parent_id", None) == parent and ou.name == name
                ]
                if existing:
                    parent = existing[0].id
                else:
                    parent = backend.create_organizational_unit(Name=name, ParentId=parent)[
                        "OrganizationalUnit"
                    ]["Id"]
            return parent

    def create_account(
        self,
        account_id: str,
        name: str,
        email: Optional[str] = None,
        ou: str = "",
        root: Optional[FakeRoot] = None,
        state: str = "ACTIVE",
    ) -> None:
        """A member account with exactly this id, in OU path ``ou`` ("" = Root)."""
        if len(account_id) != 12 or not account_id.isdigit():
            raise ValueError(f"account id must be 12 digits, not {account_id!r}")
        if state not in _STATUS_FOR_STATE:
            raise ValueError(f"unknown account state {state!r}")
        import moto.organizations.utils as org_utils

        backend = _org_backend()
        email = email or f"{name}@example.com"
        with self._lock:
            if any(account.id == account_id for account in backend.accounts):
                raise ValueError(f"account {account_id} already exists")
            # moto draws member ids at random; make it draw ours. Its FakeAccount also creates
            # OrganizationAccountAccessRole in the new account's IAM.
            with mock.patch.object(org_utils, "make_random_account_id", lambda: account_id):
                backend.create_account(AccountName=name, Email=email)
            account = backend.get_account_by_id(account_id)
            account.state = state
            account.status = _STATUS_FOR_STATE[state]
            if ou:
                backend.move_account(
                    AccountId=account_id,
                    SourceParentId=account.parent_id,
                    DestinationParentId=self.create_ou(ou),
                )
            self._accounts[account_id] = _Account(
                account_id, name, email, root if root is not None else FakeRoot(), _now()
            )
            self._normalize(self._accounts[account_id])

    def remove_account(self, account_id: str) -> None:
        """The account leaves the organization (its root state stays)."""
        with self._lock:
            _org_backend().remove_account_from_organization(AccountId=account_id)

    def move_account(self, account_id: str, ou: str) -> None:
        """Move a member account to OU path ``ou`` ("" = Root)."""
        backend = _org_backend()
        destination = self.create_ou(ou) if ou else self._root_id()
        with self._lock:
            account = backend.get_account_by_id(account_id)
            backend.move_account(AccountId=account_id, SourceParentId=account.parent_id,
                                 DestinationParentId=destination)

    # ------------------------------------------------------------ service control policies

    def set_scps_enabled(self, enabled: bool) -> None:
        """Switch the SERVICE_CONTROL_POLICY type on or off at the root (moto starts with it off)."""
        backend = _org_backend()
        with self._lock:
            root_id = self._root_id()
            enabled_now = any(t["Type"] == "SERVICE_CONTROL_POLICY" for t in backend._get_root_by_id(root_id).policy_types)
            if enabled and not enabled_now:
                backend.enable_policy_type(RootId=root_id, PolicyType="SERVICE_CONTROL_POLICY")
            elif not enabled and enabled_now:
                backend.disable_policy_type(RootId=root_id, PolicyType="SERVICE_CONTROL_POLICY")

    def create_scp(self, name: str, content: str | dict[str, Any], targets: Iterable[str] = ()) -> str:
        """A service control policy attached to ``targets`` (root id, OU ids, account ids); its id."""
        backend = _org_backend()
        text = content if isinstance(content, str) else json.dumps(content)
        with self._lock:
            policy_id = backend.create_policy(Name=name, Description=name, Content=text,
                                              Type="SERVICE_CONTROL_POLICY")["Policy"]["PolicySummary"]["Id"]
        for target in targets:
            self.attach_scp(policy_id, target)
        return policy_id

    def attach_scp(self, policy_id: str, target_id: str) -> None:
        with self._lock:
            _org_backend().attach_policy(PolicyId=policy_id, TargetId=target_id)

    def detach_scp(self, policy_id: str, target_id: str) -> None:
        with self._lock:
            _org_backend().detach_policy(PolicyId=policy_id, TargetId=target_id)

    @property
    def root_id(self) -> str:
        """The id of the organization root (r-...)."""
        with self._lock:
            return self._root_id()

    def root(self, account_id: str) -> FakeRoot:
        with self._lock:
            return self._account(account_id).root

    def set_root(self, account_id: str, root: FakeRoot) -> None:
        with self._lock:
            account = self._account(account_id)
            account.root = root
            self._normalize(account)

    def set_organization_features(self, root_credentials_management: bool, root_sessions: bool) -> None:
        with self._lock:
            self._features = set()
            if root_credentials_management:
                self._features.add(FEATURE_ROOT_CREDENTIALS_MANAGEMENT)
            if root_sessions:
                self._features.add(FEATURE_ROOT_SESSIONS)

    # ------------------------------------------------------------ CloudTrail

    def add_console_login(
        self,
        account_id: str,
        *,
        time: datetime,
        success: bool = True,
        mfa_used: bool = True,
        source_ip: str = "203.0.113.10",
        user_type: str = "Root",
        user_name: Optional[str] = None,
        region: str = "us-east-1",
        event_id: Optional[str] = None,
        assumed_root: bool = False,
    ) -> str:
        """Record a ``ConsoleLogin`` event in the account's CloudTrail; returns its EventId.

        ``assumed_root``: a sign-in through an ``sts:AssumeRoot`` session, recorded (IAM User
        Guide, "Track privileged tasks in AWS CloudTrail") with the session's temporary ``ASIA``
        key and a ``sessionContext`` marked ``assumedRoot``, where a password sign-in has an
        empty ``accessKeyId``.
        """
        event_id = event_id or str(uuid.uuid4())
        record = wire.console_login_record(
            account_id=account_id, event_id=event_id, time=time, success=success,
            mfa_used=mfa_used, source_ip=source_ip, user_type=user_type, user_name=user_name,
            region=region,
        )
        if assumed_root:
            record["userIdentity"]["accessKeyId"] = "ASIA" + _random_chars(16)
            record["userIdentity"]["sessionContext"] = {
                "attributes": {"creationDate": wire.cloudtrail_timestamp(time), "mfaAuthenticated": "false"},
                "assumedRoot": "true",
            }
        self._add_event(
            account_id, region, event_id, "ConsoleLogin", time, json.dumps(record),
            wire.lookup_username(user_type, user_name),
        )
        return event_id

    def add_raw_cloudtrail_event(
        self,
        account_id: str,
        *,
        time: datetime,
        cloudtrail_event: str,
        event_name: str = "ConsoleLogin",
        region: str = "us-east-1",
        event_id: Optional[str] = None,
        username: str = "root",
    ) -> str:
        """An event whose ``CloudTrailEvent`` is ``cloudtrail_event`` verbatim (may be malformed);
        ``username`` is the item's ``Username`` (what ``LookupAttributes`` Username matches)."""
        event_id = event_id or str(uuid.uuid4())
        self._add_event(account_id, region, event_id, event_name, time, cloudtrail_event, username)
        return event_id

    def _add_event(
        self, account_id: str, region: str, event_id: str, name: str, time: datetime,
        record: str, username: str,
    ) -> None:
        with self._lock:
            self._event_seq += 1
            event = _Event(
                event_id=event_id, name=name, time=wire.utc(time).replace(microsecond=0),
                source="signin.amazonaws.com", username=username, read_only="false",
                record=record, seq=self._event_seq,
            )
            self._account(account_id).events.setdefault(region, []).append(event)

    def loop_lookup_tokens(self, account_id: str, looping: bool = True) -> None:
        """LookupEvents of ``account_id`` answers every follow-up page with the NextToken it was
        given, so a client that does not notice pages forever."""
        with self._lock:
            (self._looping_tokens.add if looping else self._looping_tokens.discard)(account_id)

    # ------------------------------------------------------------ faults and reports

    def set_assume_role_lifetime(self, seconds: Optional[float]) -> None:
        """AssumeRole credentials issued from now on expire ``seconds`` after issue (None = the
        DurationSeconds asked for, as moto answers), and a request signed with them after that
        answers ``ExpiredToken`` as AWS does; moto neither shortens nor checks them."""
        with self._lock:
            self._role_lifetime = None if seconds is None else float(seconds)


    def fail(
        self,
        account_id: str,
        action: str,
        code: Optional[str] = None,
        message: Optional[str] = None,
        status: int = 403,
        times: Optional[int] = None,
    ) -> None:
        """Answer ``action`` for ``account_id`` with an error (next ``times`` calls; None = always).

        The account is the role's account for AssumeRole, TargetPrincipal for AssumeRoot and the
        calling account otherwise. ``code`` None = the service's access-denied code
        (``AccessDenied`` for IAM/STS, ``AccessDeniedException`` for JSON services).
        """
        with self._lock:
            self._failures[(account_id, action)] = _Failure(code, message, status, times)

    def clear_failures(self, account_id: Optional[str] = None) -> None:
        """Forget injected errors (of one account when ``account_id`` is given)."""
        with self._lock:
            if account_id is None:
                self._failures.clear()
            else:
                for key in [key for key in self._failures if key[0] == account_id]:
                    del self._failures[key]

    def set_latency(
        self, seconds: float, action: Optional[str] = None, account_id: Optional[str] = None
    ) -> None:
        """Every matching request waits ``seconds`` before it is answered (until ``clear_latency``).

        ``action`` None = any action; ``account_id`` None = any account, which is matched as in
        ``fail``: the role's account for AssumeRole, TargetPrincipal for AssumeRoot, the calling
        account otherwise. When several settings match, the most specific one applies: action and
        account, then account, then action, then neither; so ``set_latency(0, account_id=x)``
        exempts ``x`` from a latency set for every account. The wait holds no lock: the server
        answers each request in its own thread, and concurrent requests wait side by side. The
        request is recorded in ``calls`` on arrival, before it waits; injected errors come after.
        """
        seconds = float(seconds)
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"latency must be a finite number of seconds >= 0, not {seconds!r}")
        with self._lock:
            self._latency[(action, account_id)] = seconds

    def clear_latency(self) -> None:
        """Forget every latency setting: requests are answered at once again."""
        with self._lock:
            self._latency.clear()

    def set_report_override(self, account_id: str, content: Optional[bytes]) -> None:
        """GetCredentialReport returns ``content`` verbatim (None = back to the real report)."""
        with self._lock:
            self._account(account_id).report.override = content

    def set_report_generation_delay(self, account_id: str, polls: int) -> None:
        """A generation answers ``polls`` times STARTED/INPROGRESS before COMPLETE.

        The generating call answers STARTED; with ``polls`` >= 1 the report is not ready until
        the ``polls``-th following GenerateCredentialReport (GetCredentialReport raises
        ReportInProgress meanwhile). 0 = ready at once, as moto does.
        """
        with self._lock:
            self._account(account_id).report.delay = max(0, polls)

    def expire_report(self, account_id: str) -> None:
        """The next GenerateCredentialReport makes a new report even if the cached one is young."""
        with self._lock:
            self._account(account_id).report.expired = True

    # ------------------------------------------------------------ calls

    @property
    def calls(self) -> list[FakeCall]:
        """A copy of every call received so far, oldest first."""
        with self._lock:
            return list(self._calls)

    def calls_to(self, action: str, account_id: Optional[str] = None) -> list[FakeCall]:
        """The calls of ``action`` (made by ``account_id``, the calling account, when given)."""
        return [
            call for call in self.calls
            if call.action == action and (account_id is None or call.account_id == account_id)
        ]

    def root_session_keys(self, account_id: str) -> list[str]:
        """Access key ids of the AssumeRoot sessions issued for ``account_id``, oldest first."""
        with self._lock:
            return [key for key, session in self._sessions.items() if session.account_id == account_id]

    def clear_calls(self) -> None:
        with self._lock:
            self._calls.clear()

    # ------------------------------------------------------------ internals: state

    def _account(self, account_id: str) -> _Account:
        try:
            return self._accounts[account_id]
        except KeyError:
            raise KeyError(f"unknown account {account_id}; create_account first") from None

    def _root_id(self) -> str:
        backend = _org_backend()
        if backend.org is None:
            raise RuntimeError("create_organization first")
        return backend.org.root_id

    def _org_member_ids(self) -> set[str]:
        backend = _org_backend()
        return {account.id for account in backend.accounts} if backend.org else set()

    def _normalize(self, account: _Account) -> None:
        """Give serials to MFA devices that have none, for this account."""
        used: set[str] = set()
        for device in account.root.mfa_devices:
            if not device.serial:
                if device.kind == "virtual":
                    base = f"arn:aws:iam::{account.id}:mfa/root-account-mfa-device"
                    serial, n = base, 1
                    while serial in used:
                        n += 1
                        serial = f"{base}-{n}"
                    device.serial = serial
                elif device.kind == "fido":
                    device.serial = (
                        f"arn:aws:iam::{account.id}:u2f/root-account-mfa-device/"
                        + _random_chars(26, string.ascii_uppercase + "234567")
                    )
                else:
                    device.serial = "GAHT" + "".join(random.choice(string.digits) for _ in range(8))
            used.add(device.serial)

    def _root(self, account_id: str) -> tuple[_Account, FakeRoot]:
        """The account and its root (serials filled in); unknown accounts get an empty root."""
        account = self._accounts.get(account_id)
        if account is None:
            account = _Account(account_id, account_id, "", FakeRoot(), _now())
            self._accounts[account_id] = account
        self._normalize(account)
        return account, account.root

    def _root_created(self, account: _Account) -> datetime:
        return account.root.created or account.added

    # ------------------------------------------------------------ internals: dispatch

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
            request.service, request.action, account_id, request.region, _time.time(),
            session is not None, request.recorded_params(), target,
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
        except Exception as exc:  # a bug here must still reach the client as an AWS error
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
            text = re.sub(r"<Expiration>[^<]*</Expiration>",
                          f"<Expiration>{expiry.strftime('%Y-%m-%dT%H:%M:%S.%fZ')}</Expiration>", text)
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

    # ------------------------------------------------------------ IAM (normal credentials)

    def _summary_map(self, account_id: str) -> XmlMap:
        from moto.iam.models import iam_backends

        summary = dict(iam_backends[account_id]["aws"].get_account_summary().summary_map)
        with self._lock:
            _, root = self._root(account_id)
            summary["AccountMFAEnabled"] = 1 if root.mfa_devices else 0
            # 0/1 flags, as the IAM API Reference documents them, not counts.
            summary["AccountAccessKeysPresent"] = 1 if root.access_keys else 0
            summary["AccountSigningCertificatesPresent"] = 1 if root.certificates else 0
            summary["AccountPasswordPresent"] = 1 if root.password else 0
        return XmlMap(summary)

    def _get_account_summary(self, request: _Request, account_id: str) -> wire.Response:
        return wire.query_response("iam", "GetAccountSummary", {"SummaryMap": self._summary_map(account_id)})

    def _generate_credential_report(self, request: _Request, account_id: str) -> wire.Response:
        with self._lock:
            account, _ = self._root(account_id)
            report = account.report
            now = _now()
            if report.in_progress:
                if report.pending > 0:
                    report.pending -= 1
                    return self._report_state("INPROGRESS")
                self._finish_report(account, now)
                return self._report_state("COMPLETE")
            if (
                report.content is not None
                and report.generated is not None
                and not report.expired
                and (now - report.generated).total_seconds() < self.report_max_age
            ):
                return self._report_state("COMPLETE")
            report.expired = False
            if report.delay > 0:
                report.in_progress = True
                report.pending = report.delay - 1
            else:
                self._finish_report(account, now)
            return self._report_state("STARTED")

    @staticmethod
    def _report_state(state: str) -> wire.Response:
        result = {"State": state}
        if state == "STARTED":
            result["Description"] = "No report exists. Starting a new report generation task"
        return wire.query_response("iam", "GenerateCredentialReport", result)

    def _finish_report(self, account: _Account, now: datetime) -> None:
        from moto.iam.models import iam_backends

        report = account.report
        report.in_progress = False
        report.pending = 0
        report.generated = now.replace(microsecond=0)
        lines = [REPORT_COLUMNS + "\n", self._root_row(account)]
        backend = iam_backends[account.id]["aws"]
        for user in list(backend.users.values()):
            lines.append(user.to_csv())
        report.content = "".join(lines).encode("utf-8")

    def _root_row(self, account: _Account) -> str:
        root = account.root
        ts = wire.report_timestamp
        values = [
            "<root_account>",
            f"arn:aws:iam::{account.id}:root",
            ts(self._root_created(account)),
            "not_supported",
            ts(root.password_last_used) if root.password_last_used else "no_information",
            "not_supported",
            "not_supported",
            "true" if root.mfa_devices else "false",
        ]
        for index in range(2):
            key = root.access_keys[index] if index < len(root.access_keys) else None
            if key is None:
                values += ["false", "N/A", "N/A", "N/A", "N/A"]
            else:
                used = key.last_used is not None
                values += [
                    "true" if key.active else "false",
                    ts(key.created),
                    ts(key.last_used) if used else "N/A",
                    (key.last_used_region or "N/A") if used else "N/A",
                    (key.last_used_service or "N/A") if used else "N/A",
                ]
        for index in range(2):
            cert = root.certificates[index] if index < len(root.certificates) else None
            if cert is None:
                values += ["false", "N/A"]
            else:
                values += ["true" if cert.active else "false", ts(cert.uploaded)]
        return wire.csv_line(values)

    def _get_credential_report(self, request: _Request, account_id: str) -> wire.Response:
        with self._lock:
            account, _ = self._root(account_id)
            report = account.report
            if report.in_progress:
                raise _AwsError("ReportInProgress", "Report generation in progress", 404)
            if report.content is None or report.generated is None:
                raise _AwsError("ReportNotPresent", "Credential report not present", 410)
            age = (_now() - report.generated).total_seconds()
            if self.report_expiry is not None and age > self.report_expiry:
                raise _AwsError(
                    "ReportExpired",
                    "The credential report has expired. Use GenerateCredentialReport to make a new one",
                    410,
                )
            content = report.override if report.override is not None else report.content
            generated = report.generated
        return wire.query_response(
            "iam", "GetCredentialReport",
            {"Content": content, "ReportFormat": "text/csv", "GeneratedTime": generated},
        )

    def _list_virtual_mfa_devices(self, request: _Request, account_id: str) -> wire.Response:
        from moto.iam.models import iam_backends

        status = request.params.get("AssignmentStatus") or "Any"
        if status not in ("Assigned", "Unassigned", "Any"):
            raise _AwsError(
                "ValidationError",
                f"1 validation error detected: Value '{status}' at 'assignmentStatus' failed to "
                "satisfy constraint: Member must satisfy enum value set: [Any, Assigned, Unassigned]",
            )
        devices: list[dict[str, Any]] = []
        with self._lock:
            account, root = self._root(account_id)
            for device in root.mfa_devices:
                if device.kind == "virtual" and status != "Unassigned":
                    devices.append({
                        "SerialNumber": device.serial,
                        "User": self._root_user(account),
                        "EnableDate": device.enabled,
                    })
        backend = iam_backends[account_id]["aws"]
        for device in list(backend.virtual_mfa_devices.values()):
            assigned = device.enable_date is not None
            if (status == "Assigned" and not assigned) or (status == "Unassigned" and assigned):
                continue
            item: dict[str, Any] = {"SerialNumber": device.serial_number}
            if device.user is not None:
                user = device.user
                item["User"] = {
                    "Path": user.path, "UserName": user.name, "UserId": user.id,
                    "Arn": user.arn, "CreateDate": user.create_date,
                }
            if device.enable_date is not None:
                item["EnableDate"] = device.enable_date
            devices.append(item)
        start = self._marker(request)
        max_items = int(request.params.get("MaxItems") or 100)
        page = devices[start:start + max_items]
        result: dict[str, Any] = {"VirtualMFADevices": page, "IsTruncated": start + max_items < len(devices)}
        if result["IsTruncated"]:
            result["Marker"] = str(start + max_items)
        return wire.query_response("iam", "ListVirtualMFADevices", result)

    @staticmethod
    def _marker(request: _Request) -> int:
        marker = request.params.get("Marker")
        if not marker:
            return 0
        if not str(marker).isdigit():
            raise _AwsError("ValidationError", "Invalid Marker.")
        return int(marker)

    def _root_user(self, account: _Account) -> dict[str, Any]:
        """The IAM ``User`` shape for root; ``Path`` and ``UserName`` are required by the model."""
        user: dict[str, Any] = {
            "Path": "/",
            "UserName": account.name,
            "UserId": account.id,
            "Arn": f"arn:aws:iam::{account.id}:root",
            "CreateDate": self._root_created(account),
        }
        if account.root.password_last_used is not None:
            user["PasswordLastUsed"] = account.root.password_last_used
        return user

    def _list_organizations_features(self, request: _Request, account_id: str) -> wire.Response:
        backend = _org_backend()
        with self._lock:
            if backend.org is None:
                raise _AwsError(
                    "OrganizationNotFoundException",
                    "The request was rejected because no organization is associated with your account.",
                )
            if account_id != backend.org.master_account_id:
                raise _AwsError(
                    "AccountNotManagementOrDelegatedAdministratorException",
                    "The request was rejected because the account making the request is not the "
                    "management account or delegated administrator account for centralized root access.",
                )
            features = sorted(self._features)
            org_id = backend.org.id
        return wire.query_response(
            "iam", "ListOrganizationsFeatures", {"OrganizationId": org_id, "EnabledFeatures": features}
        )

    # ------------------------------------------------------------ STS

    def _assume_root(self, request: _Request, account_id: str) -> wire.Response:
        backend = _org_backend()
        params = request.params
        target = str(params.get("TargetPrincipal", ""))
        policy = str(params.get("TaskPolicyArn.arn", ""))
        try:
            duration = int(params.get("DurationSeconds") or 900)
        except ValueError:
            raise _AwsError("ValidationError", "DurationSeconds must be an integer") from None
        if duration > 900 or duration < 0:
            raise _AwsError(
                "ValidationError",
                f"1 validation error detected: Value '{duration}' at 'durationSeconds' failed to "
                "satisfy constraint: Member must have value less than or equal to 900",
            )
        if not target or not policy:
            raise _AwsError("ValidationError", "TargetPrincipal and TaskPolicyArn are required")
        if policy not in ROOT_TASK_POLICIES:
            raise _AwsError(
                "ValidationError",
                f"The TaskPolicyArn {policy} is not a valid root task policy. Use a policy ARN "
                f"that starts with {ROOT_TASK_POLICY_PREFIX}",
            )
        denied = (
            f"User: arn:aws:iam::{account_id}:root is not authorized to perform: sts:AssumeRoot "
            f"on resource: arn:aws:iam::{target}:root"
        )
        with self._lock:
            if backend.org is None or account_id != backend.org.master_account_id:
                raise _AwsError("AccessDenied", denied, 403)
            if not self._features:
                raise _AwsError(
                    "AccessDenied",
                    denied + " because centralized root access is not enabled for the organization",
                    403,
                )
            if target == backend.org.master_account_id or target not in self._org_member_ids():
                raise _AwsError("AccessDenied", denied, 403)
            key = "ASIA" + _random_chars(16)
            expiration = (_now() + timedelta(seconds=duration)).replace(microsecond=0)
            self._sessions[key] = _RootSession(target, policy, expiration)
            self._root(target)
        credentials = {
            "AccessKeyId": key,
            "SecretAccessKey": _random_chars(40, string.ascii_letters + string.digits + "/+"),
            "SessionToken": base64.b64encode(secrets.token_bytes(96)).decode("ascii"),
            "Expiration": expiration,
        }
        return wire.query_response("sts", "AssumeRoot", {"Credentials": credentials})

    # ------------------------------------------------------------ AssumeRoot sessions

    def _root_session_handler(self, request: _Request, session: _RootSession) -> Callable:
        if request.service == "sts" and request.action == "GetCallerIdentity":
            return FakeAws._root_caller_identity
        allowed = ROOT_TASK_POLICIES.get(session.task_policy, frozenset())
        if request.service == "iam" and request.action in allowed:
            if request.params.get("UserName"):
                return _denier(session, request, "the request names a user; call it without UserName")
            return self._ROOT_SESSION_IAM[request.action]
        return _denier(session, request, "no session policy allows the action")

    def _root_caller_identity(self, request: _Request, account_id: str) -> wire.Response:
        return wire.query_response(
            "sts", "GetCallerIdentity",
            {"UserId": account_id, "Account": account_id, "Arn": f"arn:aws:iam::{account_id}:root"},
        )

    def _rs_get_login_profile(self, request: _Request, account_id: str) -> wire.Response:
        with self._lock:
            account, root = self._root(account_id)
            if not root.password:
                raise _AwsError(
                    "NoSuchEntity", f"Login Profile for User {account.name} cannot be found.", 404
                )
            profile = {
                "UserName": account.name,
                "CreateDate": self._root_created(account),
                "PasswordResetRequired": False,
            }
        return wire.query_response("iam", "GetLoginProfile", {"LoginProfile": profile})

    def _rs_list_access_keys(self, request: _Request, account_id: str) -> wire.Response:
        with self._lock:
            _, root = self._root(account_id)
            keys = [
                {"AccessKeyId": key.id, "Status": "Active" if key.active else "Inactive",
                 "CreateDate": key.created}
                for key in root.access_keys
            ]
        return wire.query_response("iam", "ListAccessKeys", {"AccessKeyMetadata": keys, "IsTruncated": False})

    def _rs_list_mfa_devices(self, request: _Request, account_id: str) -> wire.Response:
        with self._lock:
            account, root = self._root(account_id)
            devices = [
                {"UserName": account.name, "SerialNumber": device.serial, "EnableDate": device.enabled}
                for device in root.mfa_devices
            ]
        return wire.query_response("iam", "ListMFADevices", {"MFADevices": devices, "IsTruncated": False})

    def _rs_list_signing_certificates(self, request: _Request, account_id: str) -> wire.Response:
        with self._lock:
            account, root = self._root(account_id)
            certificates = [
                {
                    "UserName": account.name,
                    "CertificateId": cert.id,
                    "CertificateBody": _certificate_body(cert.id),
                    "Status": "Active" if cert.active else "Inactive",
                    "UploadDate": cert.uploaded,
                }
                for cert in root.certificates
            ]
        return wire.query_response(
            "iam", "ListSigningCertificates", {"Certificates": certificates, "IsTruncated": False}
        )

    def _rs_get_account_summary(self, request: _Request, account_id: str) -> wire.Response:
        return self._get_account_summary(request, account_id)

    def _rs_get_access_key_last_used(self, request: _Request, account_id: str) -> wire.Response:
        key_id = str(request.params.get("AccessKeyId", ""))
        with self._lock:
            _, root = self._root(account_id)
            key = next((k for k in root.access_keys if k.id == key_id), None)
            if key is None:
                raise _AwsError("NoSuchEntity", f"The Access Key with id {key_id} cannot be found", 404)
            if key.last_used is None:
                last_used: dict[str, Any] = {"ServiceName": "N/A", "Region": "N/A"}
            else:
                last_used = {
                    "LastUsedDate": key.last_used,
                    "ServiceName": key.last_used_service or "N/A",
                    "Region": key.last_used_region or "N/A",
                }
        return wire.query_response("iam", "GetAccessKeyLastUsed", {"AccessKeyLastUsed": last_used})

    def _rs_get_user(self, request: _Request, account_id: str) -> wire.Response:
        with self._lock:
            account, _ = self._root(account_id)
            user = self._root_user(account)
        return wire.query_response("iam", "GetUser", {"User": user})

    # ------------------------------------------------------------ CloudTrail

    def _lookup_events(self, request: _Request, account_id: str) -> wire.Response:
        params = request.params
        attributes = params.get("LookupAttributes") or []
        if not isinstance(attributes, list) or len(attributes) > 1:
            raise _AwsError(
                "InvalidLookupAttributesException", "You can only specify one lookup attribute."
            )
        attribute = None
        if attributes:
            key = attributes[0].get("AttributeKey")
            value = attributes[0].get("AttributeValue")
            if key not in _LOOKUP_KEYS or value is None:
                raise _AwsError("InvalidLookupAttributesException", f"Invalid lookup attribute {key}")
            attribute = (key, str(value))
        try:
            start = _parse_time(params["StartTime"]) if params.get("StartTime") is not None else None
            end = _parse_time(params["EndTime"]) if params.get("EndTime") is not None else None
        except (ValueError, OverflowError):
            raise _AwsError("InvalidTimeRangeException", "Invalid StartTime or EndTime") from None
        if start and end and start > end:
            raise _AwsError(
                "InvalidTimeRangeException", "Start time must be before or equal to end time."
            )
        max_results = params.get("MaxResults", 50)
        if not isinstance(max_results, int) or not 1 <= max_results <= 50:
            raise _AwsError(
                "InvalidMaxResultsException", "MaxResults must be an integer between 1 and 50."
            )
        category = params.get("EventCategory")
        fingerprint = hashlib.sha256(
            json.dumps([attribute, str(start), str(end), category], sort_keys=True).encode()
        ).hexdigest()[:16]
        offset = 0
        if params.get("NextToken"):
            try:
                token = json.loads(base64.urlsafe_b64decode(str(params["NextToken"]).encode()))
                offset = int(token["o"])
                if token["f"] != fingerprint or offset < 0:
                    raise ValueError
            except (ValueError, KeyError, TypeError):
                raise _AwsError(
                    "InvalidNextTokenException", "Invalid NextToken: it does not match the request."
                ) from None
        with self._lock:
            account = self._accounts.get(account_id)
            events = list(account.events.get(request.region, [])) if account else []
        if category == "insight":
            events = []
        matched = [
            event for event in events
            if (start is None or event.time >= start)
            and (end is None or event.time <= end)
            and (attribute is None or _event_matches(event, *attribute))
        ]
        matched.sort(key=lambda event: (event.time, event.seq), reverse=True)
        page = matched[offset:offset + max_results]
        result: dict[str, Any] = {
            "Events": [
                {
                    "EventId": event.event_id,
                    "EventName": event.name,
                    "ReadOnly": event.read_only,
                    "EventTime": event.time,
                    "EventSource": event.source,
                    "Username": event.username,
                    "Resources": [],
                    "CloudTrailEvent": event.record,
                }
                for event in page
            ]
        }
        if offset + max_results < len(matched):
            token = {"o": offset + max_results, "f": fingerprint}
            result["NextToken"] = base64.urlsafe_b64encode(json.dumps(token).encode()).decode()
        with self._lock:
            if account_id in self._looping_tokens and params.get("NextToken"):
                result["NextToken"] = params["NextToken"]
        return wire.json_response(result)

    # ------------------------------------------------------------ CloudTrail: organization trails

    def _org_trails(self, region: str) -> list[Any]:
        """The management account's organization trails that record ``region`` (moto's objects)."""
        from moto.cloudtrail.models import cloudtrail_backends

        return [trail for backend in cloudtrail_backends[MANAGEMENT_ACCOUNT_ID].values()
                for trail in backend.trails.values()
                if trail.is_org_trail and (trail.is_multi_region or trail.region_name == region)]

    def _member_org_trail(self, request: _Request, account_id: str, name: Any) -> Optional[Any]:
        """The organization trail a member names by ARN, or None (then moto answers)."""
        if account_id == MANAGEMENT_ACCOUNT_ID or account_id not in self._org_member_ids():
            return None
        return next((trail for trail in self._org_trails(request.region) if trail.arn == name), None)

    def _describe_trails(self, request: _Request, account_id: str) -> Optional[wire.Response]:
        """moto's trails plus, in members, the organization's trails as shadow trails (moto keeps
        trails per account only)."""
        from moto.cloudtrail.models import cloudtrail_backends

        if account_id == MANAGEMENT_ACCOUNT_ID or account_id not in self._org_member_ids():
            return None
        shadows = request.params.get("includeShadowTrails", True) is not False
        trails = list(cloudtrail_backends[account_id][request.region].describe_trails(shadows))
        if shadows:
            trails += self._org_trails(request.region)
        return wire.json_response({"trailList": [trail.description(include_region=True) for trail in trails]})

    def _get_trail_status(self, request: _Request, account_id: str) -> Optional[wire.Response]:
        trail = self._member_org_trail(request, account_id, request.params.get("Name"))
        return None if trail is None else wire.json_response(trail.status.description())

    def _get_event_selectors(self, request: _Request, account_id: str) -> Optional[wire.Response]:
        trail = self._member_org_trail(request, account_id, request.params.get("TrailName"))
        if trail is None:
            return None
        classic, advanced = trail.get_event_selectors()
        return wire.json_response({"TrailARN": trail.arn, "EventSelectors": classic, "AdvancedEventSelectors": advanced})

    _HANDLERS: dict[tuple[str, str], Callable] = {
        ("iam", "GetAccountSummary"): _get_account_summary,
        ("iam", "GenerateCredentialReport"): _generate_credential_report,
        ("iam", "GetCredentialReport"): _get_credential_report,
        ("iam", "ListVirtualMFADevices"): _list_virtual_mfa_devices,
        ("iam", "ListOrganizationsFeatures"): _list_organizations_features,
        ("sts", "AssumeRoot"): _assume_root,
        ("cloudtrail", "LookupEvents"): _lookup_events,
        ("cloudtrail", "DescribeTrails"): _describe_trails,
        ("cloudtrail", "GetTrailStatus"): _get_trail_status,
        ("cloudtrail", "GetEventSelectors"): _get_event_selectors,
    }
    _ROOT_SESSION_IAM: dict[str, Callable] = {
        "GetLoginProfile": _rs_get_login_profile,
        "ListAccessKeys": _rs_list_access_keys,
        "ListMFADevices": _rs_list_mfa_devices,
        "ListSigningCertificates": _rs_list_signing_certificates,
        "GetAccountSummary": _rs_get_account_summary,
        "GetAccessKeyLastUsed": _rs_get_access_key_last_used,
        "GetUser": _rs_get_user,
    }


# ---------------------------------------------------------------- helpers


class _Middleware:
    def __init__(self, fake: FakeAws, moto_app: Any):
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


def _denier(session: _RootSession, request: _Request, why: str) -> Callable:
    def deny(fake: FakeAws, req: _Request, account_id: str) -> wire.Response:
        raise _AwsError(
            "AccessDenied",
            f"User: arn:aws:iam::{session.account_id}:root is not authorized to perform: "
            f"{request.service}:{request.action} on resource: arn:aws:iam::{session.account_id}:root "
            f"because {why}",
            403,
        )

    return deny


def _event_matches(event: _Event, key: str, value: str) -> bool:
    if key == "EventId":
        return event.event_id == value
    if key == "EventName":
        return event.name == value
    if key == "ReadOnly":
        return event.read_only == value.lower()
    if key == "Username":
        return event.username == value
    if key == "EventSource":
        return event.source == value
    return False  # AccessKeyId, ResourceType, ResourceName: sign-in events carry none


def _certificate_body(cert_id: str) -> str:
    filler = base64.b64encode(hashlib.sha512(cert_id.encode()).digest() * 6).decode()
    lines = [filler[i:i + 64] for i in range(0, len(filler), 64)]
    return "-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n"


def _org_backend() -> Any:
    from moto.organizations.models import organizations_backends

    return organizations_backends[MANAGEMENT_ACCOUNT_ID]["aws"]


def _reset_moto() -> None:
    from moto.core.base_backend import BackendDict
    from moto.organizations.models import organizations_backends

    BackendDict.reset()
    organizations_backends.master_accounts.clear()


_REASONS = {
    200: "OK", 400: "Bad Request", 403: "Forbidden", 404: "Not Found", 409: "Conflict",
    410: "Gone", 429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable",
}
