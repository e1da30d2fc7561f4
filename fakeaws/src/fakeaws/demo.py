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

``start_demo_fake`` adds an organization trail (so every reachable account shows detection on)
and the root event stream: data-lake's root recovers its password and signs in, prod-payments'
root removes its MFA and creates an access key, a central AssumeRoot task deletes log-archive's
root password, and a heartbeat arrives every minute.

Service control policies (``DEMO_SCPS``): a deny-root SCP (exempting ``sts:AssumeRoot``
sessions) on the Security and Workloads/Prod OUs covers their members; Workloads/Dev only has a
partial one (root may not create access keys), and Infrastructure none.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable, Mapping, Optional

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
            password_last_used=(now - self.password_last_used_ago if self.password_last_used_ago else None),
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
                FakeCertificate(active=cert.active, uploaded=now - cert.uploaded_ago) for cert in self.certificates
            ],
            mfa_devices=[FakeMfaDevice(kind, enabled=created + timedelta(days=1)) for kind in self.mfa],
            created=created,
        )


DEMO_ACCOUNTS: tuple[DemoAccount, ...] = (
    DemoAccount(
        MANAGEMENT_ACCOUNT_ID,
        "management",
        password=True,
        password_last_used_ago=timedelta(days=40),
        mfa=("hardware",),
    ),
    DemoAccount("111111111111", "security-tooling", "Security", password=True, mfa=("fido",)),
    DemoAccount("222222222222", "log-archive", "Security"),
    DemoAccount(
        "333333333333",
        "prod-payments",
        "Workloads/Prod",
        password=True,
        access_keys=(DemoKey(rotated_ago=timedelta(days=400), last_used_ago=timedelta(hours=2)),),
    ),
    DemoAccount("444444444444", "prod-web", "Workloads/Prod", password=True, mfa=("virtual",)),
    DemoAccount(
        "555555555555",
        "dev-sandbox",
        "Workloads/Dev",
        password=True,
        mfa=("hardware",),
        certificates=(DemoCertificate(),),
    ),
    DemoAccount(
        "666666666666",
        "data-lake",
        "Workloads/Prod",
        password=True,
        password_last_used_ago=timedelta(minutes=30),
        mfa=("virtual", "fido"),
        console_logins=(
            DemoLogin(timedelta(minutes=30), success=True, mfa_used=True, source_ip="203.0.113.10"),
            DemoLogin(timedelta(minutes=35), success=False, mfa_used=False, source_ip="198.51.100.7"),
            DemoLogin(timedelta(minutes=20), source_ip="203.0.113.25", user_name="data-engineer"),
        ),
    ),
    DemoAccount("777777777777", "shared-services", "Infrastructure"),
    DemoAccount(
        "888888888888",
        "legacy-billing",
        "Workloads/Prod",
        password=True,
        mfa=("virtual",),
        access_keys=(
            DemoKey(active=False, rotated_ago=timedelta(days=700), last_used_ago=timedelta(days=500)),
            DemoKey(active=True, rotated_ago=timedelta(days=120)),
        ),
    ),
    DemoAccount(
        "999999999999",
        "staging",
        "Workloads/Dev",
        password=True,
        mfa=("hardware",),
        assume_role_denied=True,
    ),
    DemoAccount("101010101010", "old-project", "Sandbox", state="SUSPENDED"),
)

DEMO_FEATURES = {"root_credentials_management": True, "root_sessions": True}


def _deny_root(action: object, **statement: object) -> dict:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Action": action,
                "Resource": "*",
                "Condition": {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:root"}, **statement},
            }
        ],
    }


@dataclass(frozen=True)
class DemoScp:
    """A service control policy attached to OU paths ("Workloads/Prod") or account ids."""

    name: str
    document: Mapping
    targets: tuple[str, ...]


DEMO_SCPS: tuple[DemoScp, ...] = (
    DemoScp("DenyRootUser", _deny_root("*", Null={"aws:AssumedRoot": "true"}), ("Security", "Workloads/Prod")),
    DemoScp("DenyRootAccessKeys", _deny_root("iam:CreateAccessKey"), ("Workloads/Dev",)),
)


def build_organization(
    fake: FakeAws,
    now: datetime,
    accounts: Iterable[DemoAccount] = DEMO_ACCOUNTS,
    features: Mapping[str, bool] = DEMO_FEATURES,
    scps: Iterable[DemoScp] = DEMO_SCPS,
) -> None:
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
                account.id,
                account.name,
                email=account.email,
                ou=account.ou,
                root=account.fake_root(now),
                state=account.state,
            )
        if account.assume_role_denied:
            fake.fail(
                account.id,
                "AssumeRole",
                "AccessDenied",
                f"User: arn:aws:iam::{MANAGEMENT_ACCOUNT_ID}:root is not authorized to perform: "
                f"sts:AssumeRole on resource: arn:aws:iam::{account.id}:role/OrganizationAccountAccessRole",
            )
        if account.assume_root_denied:
            fake.fail(account.id, "AssumeRoot", "AccessDenied")
        for login in account.console_logins:
            fake.add_console_login(
                account.id,
                time=now - login.ago,
                success=login.success,
                mfa_used=login.mfa_used,
                source_ip=login.source_ip,
                user_type="IAMUser" if login.user_name else "Root",
                user_name=login.user_name,
            )
    fake.set_scps_enabled(True)
    for policy in scps:
        targets = [t if t.isdigit() else fake.create_ou(t) for t in policy.targets]
        fake.create_scp(policy.name, dict(policy.document), targets)


def start_demo_fake(now: Optional[datetime] = None, *, host: str = "127.0.0.1", port: int = 0) -> FakeAws:
    """Start a ``FakeAws`` (default: a free loopback port) with the demo organization in it."""
    fake = FakeAws(host, port)
    fake.start()
    try:
        now = now or datetime.now(timezone.utc)
        build_organization(fake, now)
        build_detection(fake)
        build_stream(fake, now)
    except BaseException:
        fake.stop()
        raise
    return fake


# ---------------------------------------------------------------- detection and the event stream (--demo)

DEMO_QUEUE = "aws-root-exporter-demo"
DEMO_BUS = "root-events"
HEARTBEAT_EVERY = 60.0  # seconds; the shipped templates' schedule puts one every 5 minutes


def _client(fake: FakeAws, service: str) -> Any:
    import boto3

    return boto3.client(
        service,
        endpoint_url=fake.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def build_detection(fake: FakeAws) -> str:
    """An organization trail (multi-region, management events, logging) in the management account,
    which every member sees as a shadow trail; returns its ARN."""
    s3, cloudtrail = _client(fake, "s3"), _client(fake, "cloudtrail")
    s3.create_bucket(Bucket="demo-organization-trail")
    arn = cloudtrail.create_trail(
        Name="organization", S3BucketName="demo-organization-trail", IsMultiRegionTrail=True, IsOrganizationTrail=True
    )["TrailARN"]
    cloudtrail.put_event_selectors(
        TrailName=arn, EventSelectors=[{"ReadWriteType": "All", "IncludeManagementEvents": True}]
    )
    cloudtrail.start_logging(Name=arn)
    return arn


def _root_record(account_id: str, name: str, now: datetime, key: str = "", source: str = "iam.amazonaws.com") -> dict:
    identity: dict[str, Any] = {
        "type": "Root",
        "principalId": account_id,
        "arn": f"arn:aws:iam::{account_id}:root",
        "accountId": account_id,
    }
    if key:
        identity["accessKeyId"] = key
    record = {
        "eventVersion": "1.09",
        "userIdentity": identity,
        "eventTime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": source,
        "eventName": name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.10",
        "eventID": str(uuid.uuid4()),
        "eventType": "AwsApiCall",
        "recipientAccountId": account_id,
    }
    if name == "ConsoleLogin":
        record.update(
            eventType="AwsConsoleSignIn",
            responseElements={"ConsoleLogin": "Success"},
            additionalEventData={"MFAUsed": "Yes"},
        )
    return record


def demo_stream_events(now: datetime) -> list[tuple[str, dict]]:
    """(detail-type, CloudTrail record) of the demo's stream: data-lake's root recovers its
    password and signs in; prod-payments' root removes its MFA and creates an access key; a
    central AssumeRoot task deletes log-archive's root password (assumed_root)."""
    api, sign_in = "AWS API Call via CloudTrail", "AWS Console Sign In via CloudTrail"
    task_key = "ASIA" + uuid.uuid4().hex[:16].upper()
    assume_root = _root_record(MANAGEMENT_ACCOUNT_ID, "AssumeRoot", now, source="sts.amazonaws.com")
    assume_root["userIdentity"] = {
        "type": "AssumedRole",
        "accountId": MANAGEMENT_ACCOUNT_ID,
        "arn": f"arn:aws:sts::{MANAGEMENT_ACCOUNT_ID}:assumed-role/Admin/alice",
        "sessionContext": {"assumedRoot": "true"},
    }
    assume_root["requestParameters"] = {
        "targetPrincipal": "222222222222",
        "taskPolicyArn": {"arn": "arn:aws:iam::aws:policy/root-task/IAMDeleteRootUserCredentials"},
    }
    assume_root["responseElements"] = {"credentials": {"accessKeyId": task_key}}
    console = "ASIA" + uuid.uuid4().hex[:16].upper()
    return [
        (sign_in, _root_record("666666666666", "PasswordRecoveryRequested", now, source="signin.amazonaws.com")),
        (sign_in, _root_record("666666666666", "ConsoleLogin", now, source="signin.amazonaws.com")),
        (api, _root_record("333333333333", "DeactivateMFADevice", now, key=console)),
        (api, _root_record("333333333333", "CreateAccessKey", now, key=console)),
        (api, assume_root),
        (api, _root_record("222222222222", "DeleteLoginProfile", now, key=task_key)),
    ]


def build_stream(fake: FakeAws, now: datetime, heartbeat_every: float = HEARTBEAT_EVERY) -> str:
    """The central bus, its rule and queue, the demo's root events on it and a heartbeat thread
    (until the fake stops); returns the queue URL."""
    import json
    import threading

    from exporter.sources.root_events import CENTRAL_RULE_PATTERN, HEARTBEAT_DETAIL_TYPE, HEARTBEAT_SOURCE

    sqs, events = _client(fake, "sqs"), _client(fake, "events")
    url = sqs.create_queue(QueueName=DEMO_QUEUE)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.create_event_bus(Name=DEMO_BUS)
    events.put_rule(Name="root-events-to-queue", EventBusName=DEMO_BUS, EventPattern=json.dumps(CENTRAL_RULE_PATTERN))
    events.put_targets(Rule="root-events-to-queue", EventBusName=DEMO_BUS, Targets=[{"Id": "queue", "Arn": arn}])
    heartbeat = {
        "Source": HEARTBEAT_SOURCE,
        "DetailType": HEARTBEAT_DETAIL_TYPE,
        "Detail": "{}",
        "EventBusName": DEMO_BUS,
    }
    events.put_events(
        Entries=[heartbeat]
        + [
            {
                "Source": "aws.signin" if kind.endswith("Sign In via CloudTrail") else "aws.iam",
                "DetailType": kind,
                "Detail": json.dumps(record),
                "EventBusName": DEMO_BUS,
            }
            for kind, record in demo_stream_events(now)
        ]
    )

    def beat() -> None:
        while True:
            time.sleep(heartbeat_every)
            try:
                events.put_events(Entries=[heartbeat])
            except Exception:  # noqa: BLE001 - the fake stopped: so does the heartbeat
                return

    threading.Thread(target=beat, name="demo-heartbeat", daemon=True).start()
    return url


def with_demo_stream(config: Any, fake: FakeAws) -> Any:
    """``config`` reading the demo's event stream queue."""
    from dataclasses import replace

    url = _client(fake, "sqs").get_queue_url(QueueName=DEMO_QUEUE)["QueueUrl"]
    return replace(
        config, collection=replace(config.collection, root_events=replace(config.collection.root_events, queue_url=url))
    )
