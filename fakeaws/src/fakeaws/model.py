"""The fake's data: the root user as tests describe it, the calls it records, and its internal state."""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass, field
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Mapping, Optional

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
_EMPTY_PARAMS: Mapping[str, str] = MappingProxyType({})


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
