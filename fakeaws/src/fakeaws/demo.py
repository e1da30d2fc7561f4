"""The demo organization: eleven accounts, each showing one root-user situation.

The scenario is data (``DEMO_ACCOUNTS``); ``build_organization`` turns it into a ``FakeAws``
state. Every time is given as an age relative to ``now``.

| account | OU | root |
|---|---|---|
| 123456789012 management | Root | password (used 40 days ago), hardware MFA |
| 111111111111 security-tooling | Security | password, FIDO key |
| 222222222222 log-archive | Security | no credentials (centralized root access) |
| 333333333333 prod-payments | Workloads/Prod | password, no MFA, active key used 2 h ago |
| 444444444444 prod-web | Workloads/Prod | password, virtual MFA |
| 555555555555 dev-sandbox | Workloads/Dev | password, hardware MFA, active signing certificate |
| 666666666666 data-lake | Workloads/Prod | password, virtual + FIDO MFA, recent console sign-ins |
| 777777777777 shared-services | Infrastructure | no credentials |
| 888888888888 legacy-billing | Workloads/Prod | password, virtual MFA, inactive key 1, unused key 2 |
| 999999999999 staging | Workloads/Dev | password, hardware MFA; AssumeRole denied |
| 101010101010 old-project | Sandbox | suspended |
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Iterable, Mapping, Optional

from fakeaws.fake_aws import FakeAws
from fakeaws.model import (
    MANAGEMENT_ACCOUNT_ID,
    FakeAccessKey,
    FakeCertificate,
    FakeMfaDevice,
    FakeRoot,
)

ROOT_AGE = timedelta(days=3 * 365)  # how old every demo account (and its root user) is


@dataclass(frozen=True)
class DemoKey:
    """A root access key."""

    active: bool = True
    rotated_ago: timedelta = timedelta(days=90)
    last_used_ago: Optional[timedelta] = None  # None = never used
    service: str = "s3"
    region: str = "us-east-1"


@dataclass(frozen=True)
class DemoCertificate:
    """A root X.509 signing certificate."""

    active: bool = True
    uploaded_ago: timedelta = timedelta(days=200)


@dataclass(frozen=True)
class DemoLogin:
    """A ``ConsoleLogin`` CloudTrail event (root unless ``user_name`` is given)."""

    ago: timedelta
    success: bool = True
    mfa_used: bool = True
    source_ip: str = "203.0.113.10"
    user_name: Optional[str] = None  # an IAM user's sign-in: the exporter must ignore it


@dataclass(frozen=True)
class DemoAccount:
    id: str
    name: str
    ou: str = ""  # OU path below Root; "" = Root
    password: bool = False
    password_last_used_ago: Optional[timedelta] = None
    mfa: tuple[str, ...] = ()  # MFA device kinds: "virtual", "fido", "hardware"
    access_keys: tuple[DemoKey, ...] = ()
    certificates: tuple[DemoCertificate, ...] = ()
    state: str = "ACTIVE"
    assume_role_denied: bool = False
    assume_root_denied: bool = False
    console_logins: tuple[DemoLogin, ...] = ()

    @property
    def email(self) -> str:
        return f"{self.name}@example.com"

    def fake_root(self, now: datetime) -> FakeRoot:
        created = now - ROOT_AGE
        return FakeRoot(
            password=self.password,
            password_last_used=(
                now - self.password_last_used_ago if self.password_last_used_ago else None
            ),
            access_keys=[
                FakeAccessKey(
                    active=key.active,
                    created=now - key.rotated_ago,
                    last_used=now - key.last_used_ago if key.last_used_ago else None,
                    last_used_service=key.service if key.last_used_ago else None,
                    last_used_region=key.region if key.last_used_ago else None,
                )
                for key in self.access_keys
            ],
            certificates=[
                FakeCertificate(active=cert.active, uploaded=now - cert.uploaded_ago)
                for cert in self.certificates
            ],
            mfa_devices=[
                FakeMfaDevice(kind, enabled=created + timedelta(days=1)) for kind in self.mfa
            ],
            created=created,
        )


DEMO_ACCOUNTS: tuple[DemoAccount, ...] = (
    DemoAccount(
        MANAGEMENT_ACCOUNT_ID, "management",
        password=True, password_last_used_ago=timedelta(days=40), mfa=("hardware",),
    ),
    DemoAccount("111111111111", "security-tooling", "Security", password=True, mfa=("fido",)),
    DemoAccount("222222222222", "log-archive", "Security"),
    DemoAccount(
        "333333333333", "prod-payments", "Workloads/Prod",
        password=True,
        access_keys=(
            DemoKey(rotated_ago=timedelta(days=400), last_used_ago=timedelta(hours=2)),
        ),
    ),
    DemoAccount("444444444444", "prod-web", "Workloads/Prod", password=True, mfa=("virtual",)),
    DemoAccount(
        "555555555555", "dev-sandbox", "Workloads/Dev",
        password=True, mfa=("hardware",), certificates=(DemoCertificate(),),
    ),
    DemoAccount(
        "666666666666", "data-lake", "Workloads/Prod",
        password=True, password_last_used_ago=timedelta(minutes=30), mfa=("virtual", "fido"),
        console_logins=(
            DemoLogin(timedelta(minutes=30), success=True, mfa_used=True, source_ip="203.0.113.10"),
            DemoLogin(timedelta(minutes=35), success=False, mfa_used=False, source_ip="198.51.100.7"),
            DemoLogin(timedelta(minutes=20), source_ip="203.0.113.25", user_name="data-engineer"),
        ),
    ),
    DemoAccount("777777777777", "shared-services", "Infrastructure"),
    DemoAccount(
        "888888888888", "legacy-billing", "Workloads/Prod",
        password=True, mfa=("virtual",),
        access_keys=(
            DemoKey(active=False, rotated_ago=timedelta(days=700), last_used_ago=timedelta(days=500)),
            DemoKey(active=True, rotated_ago=timedelta(days=120)),
        ),
    ),
    DemoAccount(
        "999999999999", "staging", "Workloads/Dev",
        password=True, mfa=("hardware",), assume_role_denied=True,
    ),
    DemoAccount("101010101010", "old-project", "Sandbox", state="SUSPENDED"),
)

DEMO_FEATURES = {"root_credentials_management": True, "root_sessions": True}


def build_organization(fake: FakeAws, now: datetime, accounts: Iterable[DemoAccount] = DEMO_ACCOUNTS,
                       features: Mapping[str, bool] = DEMO_FEATURES) -> None:
    """Create an organization of ``accounts`` (the demo's by default) in a started, empty
    ``fake``; every age in the scenario is relative to ``now``."""
    if now.tzinfo is None:
        now = now.replace(tzinfo=timezone.utc)
    fake.create_organization()
    fake.set_organization_features(**features)
    for account in accounts:
        if account.id == MANAGEMENT_ACCOUNT_ID:
            fake.set_root(account.id, account.fake_root(now))
        else:
            fake.create_account(
                account.id, account.name, email=account.email, ou=account.ou,
                root=account.fake_root(now), state=account.state,
            )
        if account.assume_role_denied:
            fake.fail(
                account.id, "AssumeRole", "AccessDenied",
                f"User: arn:aws:iam::{MANAGEMENT_ACCOUNT_ID}:root is not authorized to perform: "
                f"sts:AssumeRole on resource: arn:aws:iam::{account.id}:role/OrganizationAccountAccessRole",
            )
        if account.assume_root_denied:
            fake.fail(account.id, "AssumeRoot", "AccessDenied")
        for login in account.console_logins:
            fake.add_console_login(
                account.id, time=now - login.ago, success=login.success,
                mfa_used=login.mfa_used, source_ip=login.source_ip,
                user_type="IAMUser" if login.user_name else "Root", user_name=login.user_name,
            )


def start_demo_fake(
    now: Optional[datetime] = None, *, host: str = "127.0.0.1", port: int = 0
) -> FakeAws:
    """Start a ``FakeAws`` (default: a free loopback port) with the demo organization in it."""
    fake = FakeAws(host, port)
    fake.start()
    try:
        build_organization(fake, now or datetime.now(timezone.utc))
    except BaseException:
        fake.stop()
        raise
    return fake
