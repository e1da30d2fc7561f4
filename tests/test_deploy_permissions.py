"""The permission contract, proven by IAM evaluation on the fake AWS.

The shipped templates are deployed as README says (the exporter role with CloudFormation in the
management account, the member role as a service-managed StackSet over the organization root),
moto's IAM enforcement is turned on, and the real exporter (``--once``, in this process) runs with
the exporter role's credentials over a small organization:

* with the shipped permissions every source succeeds for every account;
* every AWS operation the exporter calls (recorded per principal by a botocore hook) is allowed
  by that principal's shipped policy, resource and conditions included;
* removing any one action of the shipped policies makes a source fail visibly (a
  ``root_exporter_collection_success`` series 0 or a series gone, and an AccessDenied log line
  naming the operation): no spare permission.

A new source is covered by adding its actions to deploy/aws (templates and policies/*.json); its
calls then appear in the recorded-call check, and each of its actions in the leave-one-out set.
What moto cannot evaluate is named in tests/support/iam_enforcement.py and checked here by the
recorded-call comparison (``test_every_call_is_allowed_by_the_shipped_policy_of_its_principal``).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Optional
from unittest import mock

import boto3
import botocore.exceptions
import botocore.session
import pytest

from prometheus_client import CollectorRegistry, generate_latest

from exporter import cli
from exporter.aws.sessions import AwsAccess
from exporter.collector import RootCollector
from exporter.snapshot import SnapshotStore
from exporter.sources import root_events
from exporter.sources.base import Context
from exporter.sources.root_events import HEARTBEAT_DETAIL_TYPE, HEARTBEAT_SOURCE
from exporter.state import Snapshot
from fakeaws import MANAGEMENT_ACCOUNT_ID, FakeAccessKey, FakeRoot
from fakeaws.demo import DEMO_SCPS, build_detection
from tests.deploy_policies import (
    EXPORTER_POLICY,
    EXPORTER_TEMPLATE,
    MEMBER_POLICY,
    MEMBER_TEMPLATE,
    all_actions,
    load_policy,
)
from tests.support.exposition import Exposition, parse
from tests.support.iam_enforcement import (
    EnforcingFakeAws,
    evaluate,
    iam_enforced,
    json_policies_in_moto,
    resource_and_conditions,
    trust_allows,
)

EXPORTER_ROLE = "AwsRootExporter"
MEMBER_ROLE = "AwsRootExporterRead"
QUEUE_NAME = "aws-root-exporter-root-events"
EXTERNAL_ID = "contract-external-id"
MEMBERS = {  # id -> (name, OU, root)
    "320000000001": ("web", "Workloads", FakeRoot.with_password("virtual")),
    "320000000002": ("batch", "", FakeRoot(password=True, access_keys=[FakeAccessKey()])),
}
# The AWS managed task policy's read actions (IAM User Guide, "IAMAuditRootUserCredentials").
AUDIT_TASK_ACTIONS = {
    "iam:GetAccountSummary",
    "iam:GetAccessKeyLastUsed",
    "iam:GetLoginProfile",
    "iam:GetUser",
    "iam:ListAccessKeys",
    "iam:ListMFADevices",
    "iam:ListSigningCertificates",
}
# Needs no permission: "No permissions are required to perform this operation" (STS API reference).
NO_PERMISSION_NEEDED = {"sts:GetCallerIdentity"}
# Needed by --verify-config.aws, not by a source: proven by test_verify_config_aws_needs_what_it_checks.
VERIFY_ONLY = {"organizations:ListAccounts"}
# The root event stream's actions (a thread, which --once does not run): proven by one poll of the
# consumer the service starts (test_the_root_event_stream_needs_what_it_calls).
STREAM_OPERATIONS = {"sqs:ReceiveMessage": "ReceiveMessage", "sqs:DeleteMessage": "DeleteMessageBatch"}
CONFIG = f"""\
accounts:
  role_name: {MEMBER_ROLE}
  external_id: {EXTERNAL_ID}
  root_audit: auto
collection:
  credential_report_timeout: 30s
"""


@dataclass
class Recorder:
    """Every AWS operation the exporter calls, per principal, seen by a botocore hook."""

    principal_of_key: dict[str, str] = field(default_factory=dict)  # access key id -> principal
    calls: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)  # (principal, action, params)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def hook(self, client: Any) -> None:
        service = client.meta.service_model.signing_name

        def before(params: dict[str, Any], model: Any, **_: Any) -> None:
            credentials = client._request_signer._credentials
            key = credentials.get_frozen_credentials().access_key if credentials else ""
            # flattened as the query protocol sends them: what IAM reads condition values from
            flat = {k: str(v) for k, v in params.items() if isinstance(v, (str, int))}
            if isinstance(params.get("TaskPolicyArn"), dict):
                flat["TaskPolicyArn.arn"] = params["TaskPolicyArn"]["arn"]
            with self.lock:
                self.calls.append(
                    (self.principal_of_key.get(key, f"unknown key {key[:4]}…"), f"{service}:{model.name}", flat)
                )

        def after(http_response: Any, parsed: dict[str, Any], model: Any, **_: Any) -> None:
            credentials = parsed.get("Credentials") or {}
            if credentials.get("AccessKeyId"):
                principal = "member" if model.name == "AssumeRole" else "root-session"
                with self.lock:
                    self.principal_of_key[credentials["AccessKeyId"]] = principal

        client.meta.events.register("before-parameter-build", before)
        client.meta.events.register("after-call.sts", after)

    def by_principal(self) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for principal, action, _ in self.calls:
            out.setdefault(principal, set()).add(action)
        return out


@contextmanager
def recording(recorder: Recorder) -> Iterator[None]:
    original = botocore.session.Session.create_client

    def create_client(self: Any, *args: Any, **kwargs: Any) -> Any:
        client = original(self, *args, **kwargs)
        recorder.hook(client)
        return client

    botocore.session.Session.create_client = create_client  # type: ignore[method-assign]
    try:
        yield
    finally:
        botocore.session.Session.create_client = original  # type: ignore[method-assign]


@dataclass
class Organization:
    fake: EnforcingFakeAws
    env: dict[str, str]
    config: Path
    member_accounts: list[str]
    queue_url: str

    def credentials(self) -> Any:
        """The exporter role's credentials and the fake's endpoint in the environment, for the
        duration (what was there before comes back)."""
        return mock.patch.dict(os.environ, self.env)

    @contextmanager
    def without(self, principal: str, action: str) -> Iterator[None]:
        """``action`` removed from the principal's deployed role(s) for the duration."""
        from moto.iam.models import iam_backends

        role = EXPORTER_ROLE if principal == "exporter" else MEMBER_ROLE
        accounts = [MANAGEMENT_ACCOUNT_ID] if principal == "exporter" else self.member_accounts
        saved = {}
        for account in accounts:
            moto_role = iam_backends[account]["aws"].get_role(role)
            ((name, document),) = moto_role.policies.items()
            saved[account] = (name, document)
            policy = json.loads(document)
            for statement in policy["Statement"]:
                acts = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                statement["Action"] = [a for a in acts if a != action] or ["none:Nothing"]
            moto_role.policies[name] = json.dumps(policy)
        try:
            yield
        finally:
            for account, (name, document) in saved.items():
                iam_backends[account]["aws"].get_role(role).policies[name] = document


def _deploy(fake: EnforcingFakeAws, queue_arn: str) -> str:
    """The README's deployment: exporter role stack, member role StackSet over the root OU."""
    cfn = boto3.client("cloudformation")
    cfn.create_stack(
        StackName="aws-root-exporter",
        TemplateBody=EXPORTER_TEMPLATE.read_text(),
        Capabilities=["CAPABILITY_NAMED_IAM"],
        Parameters=[
            {"ParameterKey": "Platform", "ParameterValue": "iam-principal"},
            {"ParameterKey": "TrustedPrincipalArn", "ParameterValue": f"arn:aws:iam::{MANAGEMENT_ACCOUNT_ID}:root"},
            {"ParameterKey": "RootEventsQueueArn", "ParameterValue": queue_arn},
        ],
    )
    (output,) = cfn.describe_stacks(StackName="aws-root-exporter")["Stacks"][0]["Outputs"]
    exporter_arn = output["OutputValue"]
    cfn.create_stack_set(
        StackSetName="aws-root-exporter-member-role",
        TemplateBody=MEMBER_TEMPLATE.read_text(),
        PermissionModel="SERVICE_MANAGED",
        Capabilities=["CAPABILITY_NAMED_IAM"],
        AutoDeployment={"Enabled": True, "RetainStacksOnAccountRemoval": False},
        Parameters=[
            {"ParameterKey": "ExporterRoleArn", "ParameterValue": exporter_arn},
            {"ParameterKey": "ExternalId", "ParameterValue": EXTERNAL_ID},
        ],
    )
    root = boto3.client("organizations").list_roots()["Roots"][0]["Id"]
    cfn.create_stack_instances(
        StackSetName="aws-root-exporter-member-role",
        DeploymentTargets={"OrganizationalUnitIds": [root]},
        Regions=["us-east-1"],
    )
    json_policies_in_moto()
    return exporter_arn


@pytest.fixture(scope="module")
def organization(tmp_path_factory) -> Iterator[Organization]:
    fake = EnforcingFakeAws()
    fake.start()
    saved_env = dict(os.environ)
    try:
        os.environ.update(fake.env())
        fake.create_organization()
        fake.set_organization_features(root_credentials_management=True, root_sessions=True)
        fake.set_root(MANAGEMENT_ACCOUNT_ID, FakeRoot.with_password("hardware"))
        for account_id, (name, ou, root) in MEMBERS.items():
            fake.create_account(account_id, name, ou=ou, root=root)
        build_detection(fake)  # an organization trail: trail_status then makes every call it can
        fake.set_scps_enabled(True)  # and a deny-root SCP, so root_policies reads one
        fake.create_scp(DEMO_SCPS[0].name, dict(DEMO_SCPS[0].document), [fake.create_ou("Workloads")])
        queue = boto3.client("sqs").create_queue(QueueName=QUEUE_NAME)["QueueUrl"]
        queue_arn = boto3.client("sqs").get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        exporter_arn = _deploy(fake, queue_arn)
        credentials = boto3.client("sts").assume_role(RoleArn=exporter_arn, RoleSessionName="contract")["Credentials"]
        env = {
            **fake.env(),
            "AWS_ACCESS_KEY_ID": credentials["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": credentials["SecretAccessKey"],
            "AWS_SESSION_TOKEN": credentials["SessionToken"],
        }
        config = tmp_path_factory.mktemp("contract") / "config.yaml"
        config.write_text(CONFIG)
        with iam_enforced():
            yield Organization(fake, env, config, sorted(MEMBERS), queue)
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        fake.stop()


@dataclass
class Run:
    code: int
    metrics: Exposition
    logs: list[dict[str, Any]]
    recorder: Recorder

    def failing(self) -> set[tuple[str, str]]:
        return {
            (dict(labels).get("account_id", ""), dict(labels)["source"])
            for labels, value in self.metrics.series("root_exporter_collection_success").items()
            if value == 0
        }

    def series(self) -> set[tuple[str, Any]]:
        return {(name, labels) for name, by_labels in self.metrics.samples.items() for labels in by_labels}


def run_once(organization: Organization) -> Run:
    recorder = Recorder(principal_of_key={organization.env["AWS_ACCESS_KEY_ID"]: "exporter"})
    out, err = io.StringIO(), io.StringIO()
    with (
        organization.credentials(),
        recording(recorder),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        code = cli.main(["--once", "--config.file", str(organization.config), "--log.format", "json"])
    logs = [json.loads(line) for line in err.getvalue().splitlines() if line.startswith("{")]
    return Run(code, parse(out.getvalue()), logs, recorder)


@pytest.fixture(scope="module")
def baseline(organization) -> Run:
    """One run with the shipped permissions."""
    return run_once(organization)


def test_every_source_succeeds_with_the_shipped_permissions(baseline):
    run = baseline
    successes = run.metrics.series("root_exporter_collection_success")
    assert run.failing() == set(), [entry for entry in run.logs if entry.get("error_code")]
    accounts = {dict(labels).get("account_id") for labels in successes}
    assert accounts >= {MANAGEMENT_ACCOUNT_ID, *MEMBERS}
    sources = {dict(labels)["source"] for labels in successes}
    assert {
        "discovery",
        "account_summary",
        "credential_report",
        "mfa_devices",
        "console_logins",
        "root_audit",
    } <= sources
    assert run.code == 0
    assert run.metrics.series("root_organization_feature_enabled"), "ListOrganizationsFeatures was not allowed"


def test_every_call_is_allowed_by_the_shipped_policy_of_its_principal(baseline):
    """The recorded-call comparison: each call against its principal's shipped document, with the
    resource and condition values of the real call (the AssumeRoot task policy, the member role
    ARN). It covers what moto does not evaluate: conditions other than StringEquals, trust."""
    run = baseline
    shipped = {
        "exporter": [
            json.dumps(load_policy(EXPORTER_POLICY))
            .replace("111122223333", "*")
            .replace("arn:aws:sqs:us-east-1:*:", "arn:aws:sqs:*:*:")
        ],
        "member": [json.dumps(load_policy(MEMBER_POLICY))],
    }
    denied = []
    for principal, action, params in run.recorder.calls:
        if action in NO_PERMISSION_NEEDED:
            continue
        if principal == "root-session":
            if action not in AUDIT_TASK_ACTIONS:
                denied.append((principal, action, "not in IAMAuditRootUserCredentials"))
            continue
        assert principal in shipped, f"{action} called with credentials of no known principal: {principal}"
        service, operation = action.split(":")
        resource, conditions = resource_and_conditions(service, operation, params)
        if not evaluate(shipped[principal], action, resource, conditions):
            denied.append((principal, action, resource))
        if action == "sts:AssumeRole":
            assert params.get("ExternalId") == EXTERNAL_ID, "the member trust policy requires the ExternalId"
            assert params["RoleArn"].endswith(f":role/{MEMBER_ROLE}")
    assert not denied, denied
    called = run.recorder.by_principal()
    assert {"exporter", "member", "root-session"} <= set(called), called


def _leave_one_out_cases() -> list[Any]:
    cases = []
    for principal, path in (("exporter", EXPORTER_POLICY), ("member", MEMBER_POLICY)):
        for action in sorted(all_actions(load_policy(path)) - VERIFY_ONLY - set(STREAM_OPERATIONS)):
            cases.append(pytest.param(principal, action, id=f"{principal}-{action}"))
    return cases


@pytest.mark.parametrize("principal, action", _leave_one_out_cases())
def test_removing_one_action_makes_a_source_fail_visibly(organization, baseline, principal, action):
    with organization.without(principal, action):
        run = run_once(organization)
    operation = action.split(":")[1]
    denials = [
        entry
        for entry in run.logs
        if str(entry.get("error_code", "")).startswith("AccessDenied") and operation in str(entry.get("error", ""))
    ]
    assert denials, f"no AccessDenied log line names {operation}: a spare permission in the shipped policy?"
    lost = {name for name, _ in baseline.series() - run.series()}
    assert run.failing() or lost, f"without {action} no source failed and no series went missing"


@pytest.mark.parametrize(
    "call, params",
    [
        (
            "assume_root",
            {
                "TargetPrincipal": "320000000001",
                "DurationSeconds": 900,
                "TaskPolicyArn": {"arn": "arn:aws:iam::aws:policy/root-task/IAMDeleteRootUserCredentials"},
            },
        ),
        (
            "assume_role",
            {"RoleArn": "arn:aws:iam::320000000001:role/OrganizationAccountAccessRole", "RoleSessionName": "contract"},
        ),
        (
            "assume_role",
            {
                "RoleArn": f"arn:aws:iam::320000000001:role/{MEMBER_ROLE}",
                "RoleSessionName": "contract",
                "ExternalId": "wrong",
            },
        ),
        ("assume_role", {"RoleArn": f"arn:aws:iam::320000000001:role/{MEMBER_ROLE}", "RoleSessionName": "contract"}),
    ],
    ids=[
        "AssumeRoot-with-another-task-policy",
        "AssumeRole-into-another-role",
        "member-role-with-a-wrong-ExternalId",
        "member-role-without-ExternalId",
    ],
)
def test_the_exporter_role_can_do_no_more(organization, call, params):
    """The conditions, resources and trust of the shipped templates, evaluated: a root session that
    could delete credentials, a member role with more rights, or the member role without the
    ExternalId its trust policy asks for, are refused."""
    sts = exporter_sts(organization)
    with pytest.raises(botocore.exceptions.ClientError) as denied:
        getattr(sts, call)(**params)
    assert denied.value.response["Error"]["Code"] == "AccessDenied"


def exporter_sts(organization: Organization) -> Any:
    return boto3.client(
        "sts",
        aws_access_key_id=organization.env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=organization.env["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=organization.env["AWS_SESSION_TOKEN"],
        endpoint_url=organization.env["AWS_ENDPOINT_URL"],
        region_name="us-east-1",
    )


def test_only_the_exporter_role_is_trusted_by_the_member_role(organization):
    """The control for the refusals above: the exporter's role with the ExternalId gets in, and
    the deployed trust policy names that role and no other principal of its account."""
    from moto.iam.models import iam_backends

    role = f"arn:aws:iam::320000000001:role/{MEMBER_ROLE}"
    exporter_sts(organization).assume_role(RoleArn=role, RoleSessionName="contract", ExternalId=EXTERNAL_ID)
    trust = json.loads(iam_backends["320000000001"]["aws"].get_role(MEMBER_ROLE).assume_role_policy_document)
    exporter = f"arn:aws:iam::{MANAGEMENT_ACCOUNT_ID}:role/{EXPORTER_ROLE}"
    assert trust_allows(trust, exporter, MANAGEMENT_ACCOUNT_ID, {"ExternalId": EXTERNAL_ID})
    assert not trust_allows(
        trust,
        f"arn:aws:iam::{MANAGEMENT_ACCOUNT_ID}:role/SomeAdmin",
        MANAGEMENT_ACCOUNT_ID,
        {"ExternalId": EXTERNAL_ID},
    )


def test_verify_config_aws_needs_what_it_checks(organization, capsys):
    """organizations:ListAccounts is in the exporter's policy for --verify-config.aws's one page:
    with it the check passes, without it the check fails naming the permission."""

    def verify() -> tuple[int, str]:
        with organization.credentials():
            code = cli.main(["--verify-config.aws", "--config.file", str(organization.config)])
        return code, capsys.readouterr().out

    code, text = verify()
    assert code == 0, text
    for action in VERIFY_ONLY:
        with organization.without("exporter", action):
            code, text = verify()
        assert code == 1 and f"missing permission {action}" in text, text


@dataclass
class StreamPoll:
    handled: Optional[int]  # messages handled; None when the poll failed
    snapshot: Snapshot
    logs: list[dict[str, Any]]
    left: int  # messages still on the queue (visible or in flight)


def poll_stream(organization: Organization, caplog: Any) -> StreamPoll:
    """One heartbeat on the queue, then one poll of the consumer the service builds from
    ``collection.root_events.queue_url``, with the exporter role's credentials."""
    from moto.sqs.models import sqs_backends

    backend = sqs_backends[MANAGEMENT_ACCOUNT_ID]["us-east-1"]
    queue = backend.get_queue(QUEUE_NAME)
    queue.messages.clear()  # what a case before this one left in flight
    heartbeat = {"source": HEARTBEAT_SOURCE, "detail-type": HEARTBEAT_DETAIL_TYPE, "time": "2026-12-02T10:00:00Z"}
    backend.send_message(QUEUE_NAME, json.dumps(heartbeat))
    path = organization.config.with_name("stream.yaml")
    path.write_text(CONFIG + f"  root_events:\n    queue_url: {organization.queue_url}\n")
    with organization.credentials():
        config = cli.load(str(path))
        store = SnapshotStore()
        stream = root_events.build_stream(Context(access=AwsAccess(config), config=config), store)
        assert stream is not None, "collection.root_events.queue_url set, yet no stream"
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger=root_events.__name__):
            handled = stream.poll()
    logs = [{"message": r.getMessage(), **r.__dict__} for r in caplog.records]
    return StreamPoll(handled, store.current, logs, len(queue.messages))


def test_the_root_event_stream_works_with_the_shipped_permissions(organization, caplog):
    poll = poll_stream(organization, caplog)
    assert poll.handled == 1, poll.logs
    assert poll.snapshot.root_events.last_heartbeat is not None
    assert poll.snapshot.root_events.errors == {}
    assert poll.left == 0, "the applied message was not deleted"


@pytest.mark.parametrize("action", sorted(STREAM_OPERATIONS))
def test_the_root_event_stream_needs_what_it_calls(organization, caplog, action):
    """Leave-one-out for the stream: without either SQS action the failure shows as
    root_events_errors_total{operation, error_code} (an AccessDenied code) and a log line naming it."""
    operation = STREAM_OPERATIONS[action]
    with organization.without("exporter", action):
        poll = poll_stream(organization, caplog)
    assert poll.handled is None
    ((failed, code),) = poll.snapshot.root_events.errors  # AccessDenied or AccessDeniedException
    assert failed == operation and code.startswith("AccessDenied"), poll.snapshot.root_events.errors
    assert [entry for entry in poll.logs if entry.get("operation") == operation], poll.logs
    registry = CollectorRegistry(auto_describe=False)
    registry.register(RootCollector(lambda: poll.snapshot, {}))
    metrics = parse(generate_latest(registry).decode())  # what /metrics shows
    assert list(metrics.series("root_events_errors_total", operation=operation, error_code=code).values()) == [1.0]
