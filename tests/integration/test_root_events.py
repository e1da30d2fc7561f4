"""The root event stream against the fake AWS: real boto3 over HTTP, moto's EventBridge delivering
PutEvents to an SQS queue by rule pattern, the exporter's consumer long-polling that queue."""

from __future__ import annotations

import json
import time
import uuid
from datetime import datetime, timezone
from typing import Iterator

import boto3
import pytest

from exporter.collector import exposition
from exporter.root_activity import ASSUMED_ROOT, ROOT_CREDENTIALS, with_stream_started
from exporter.sources.root_events import CENTRAL_RULE_PATTERN, HEARTBEAT_DETAIL_TYPE, HEARTBEAT_SOURCE, EventStream
from exporter.web import ExporterApp, serve
from tests.integration.conftest import MGMT, Harness, new_account, only
from tests.support.exposition import parse
from tests.support.net import free_port, http_get

BUS = "root-events"
PATTERN = CENTRAL_RULE_PATTERN
VISIBILITY = 2  # seconds: short, so redelivery is quick to test


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def record(account: str, name: str = "ConsoleLogin", kind: str = "Root", key: str = "", **extra) -> dict:
    identity = {"type": kind, "principalId": account, "arn": f"arn:aws:iam::{account}:root", "accountId": account}
    if key:
        identity["accessKeyId"] = key
        identity["sessionContext"] = {"attributes": {"mfaAuthenticated": "false", "creationDate": iso(time.time())}}
    out = {
        "eventVersion": "1.09",
        "userIdentity": identity,
        "eventTime": iso(time.time()),
        "eventSource": "signin.amazonaws.com" if name == "ConsoleLogin" else "iam.amazonaws.com",
        "eventName": name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": "198.51.100.7",
        "eventID": str(uuid.uuid4()),
        "eventType": "AwsConsoleSignIn" if name == "ConsoleLogin" else "AwsApiCall",
        "recipientAccountId": account,
    }
    if name == "ConsoleLogin":
        out["responseElements"] = {"ConsoleLogin": "Success"}
    out.update(extra)
    return out


class Stream:
    """The central bus, its rule and the queue, as the shipped template lays them out."""

    def __init__(self) -> None:
        self.sqs = boto3.client("sqs", region_name="us-east-1")
        self.events = boto3.client("events", region_name="us-east-1")
        name = f"root-events-{uuid.uuid4().hex[:8]}"
        self.url = self.sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": str(VISIBILITY)})["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.bus = f"{BUS}-{name[-8:]}"
        self.events.create_event_bus(Name=self.bus)
        self.events.put_rule(Name="to-queue", EventBusName=self.bus, EventPattern=json.dumps(PATTERN))
        self.events.put_targets(Rule="to-queue", EventBusName=self.bus, Targets=[{"Id": "queue", "Arn": arn}])

    def put(self, detail: dict, detail_type: str = "AWS API Call via CloudTrail") -> float:
        source = "aws.signin" if detail_type == "AWS Console Sign In via CloudTrail" else "aws.iam"
        sent = time.time()
        answer = self.events.put_events(
            Entries=[
                {"Source": source, "DetailType": detail_type, "Detail": json.dumps(detail), "EventBusName": self.bus}
            ]
        )
        assert answer["FailedEntryCount"] == 0
        return sent

    def send_raw(self, body: str) -> None:
        self.sqs.send_message(QueueUrl=self.url, MessageBody=body)

    def left(self) -> int:
        """Messages still in the queue, visible or in flight."""
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        )
        return sum(int(value) for value in attributes["Attributes"].values())

    def consumer(self, harness: Harness, wait_seconds: int = 20) -> EventStream:
        if harness.snapshot.root_events.started is None:
            harness.store.update(with_stream_started, time.time())  # as start_stream does
        return EventStream(self.sqs, self.url, harness.store, time.time, wait_seconds=wait_seconds)


@pytest.fixture
def stream(fake) -> Stream:
    return Stream()


@pytest.fixture
def collected(fake) -> Iterator[tuple[Harness, str]]:
    member = new_account(fake)
    harness = Harness(accounts=only(MGMT, member))
    assert harness.run("discovery")
    yield harness, member


def activity(harness: Harness, account: str) -> dict:
    return {
        (a, name, session): count
        for (a, name, session), count in harness.snapshot.root_events.counts.items()
        if a == account
    }


def test_a_root_sign_in_reaches_metrics_within_one_long_poll(stream, collected):
    harness, member = collected
    consumer = stream.consumer(harness).start()  # long-polling (20 s) before the event exists
    server, _ = serve(ExporterApp(lambda: harness.store.current, {}, lambda: True), f"127.0.0.1:{free_port()}")
    url = f"http://127.0.0.1:{server.server_address[1]}/metrics"
    try:
        time.sleep(0.5)
        sent = stream.put(record(member), "AWS Console Sign In via CloudTrail")
        seen = None
        while time.time() - sent < 20:  # one long poll
            metrics = parse(http_get(url, timeout=5)[1])
            if (
                metrics.value(
                    "root_activity_events_total",
                    account_id=member,
                    account_name=harness.state(member).account.name,
                    event_name="ConsoleLogin",
                    session=ROOT_CREDENTIALS,
                )
                == 1.0
            ):
                seen = time.time()
                break
            time.sleep(0.05)
    finally:
        consumer.stop()
        server.shutdown()
        server.server_close()
    assert seen is not None, "the sign-in did not reach /metrics within one long poll"
    print(f"\nroot sign-in: PutEvents -> /metrics in {seen - sent:.3f} s")
    assert (
        metrics.value(
            "root_last_activity_timestamp",
            account_id=member,
            account_name=harness.state(member).account.name,
            session=ROOT_CREDENTIALS,
        )
        is not None
    )
    assert metrics.value("root_event_delivery_delay_seconds_count") >= 1
    assert stream.left() == 0  # applied, then deleted


def test_iam_user_events_are_ignored(stream, collected):
    harness, member = collected
    stream.put(record(member, kind="IAMUser"), "AWS Console Sign In via CloudTrail")  # the rule drops it
    stream.send_raw(
        json.dumps(
            {
                "version": "0",
                "id": "x",
                "detail-type": "AWS API Call via CloudTrail",
                "source": "aws.iam",
                "account": member,
                "time": iso(time.time()),
                "region": "us-east-1",
                "resources": [],
                "detail": record(member, "CreateAccessKey", kind="IAMUser"),
            }
        )
    )
    consumer = stream.consumer(harness, wait_seconds=1)
    assert consumer.poll_once() == 1  # only the one sent around the rule
    assert activity(harness, member) == {}
    assert harness.snapshot.root_events.malformed_messages == 0 and not harness.snapshot.root_events.malformed
    assert stream.left() == 0


def test_an_assume_root_sessions_events_are_labelled_assumed_root(stream, collected):
    harness, member = collected
    key = "ASIA" + uuid.uuid4().hex[:16].upper()
    issued = record(
        MGMT,
        "AssumeRoot",
        kind="AssumedRole",
        eventSource="sts.amazonaws.com",
        requestParameters={
            "targetPrincipal": member,
            "durationSeconds": 900,
            "taskPolicyArn": {"arn": "arn:aws:iam::aws:policy/root-task/IAMDeleteRootUserCredentials"},
        },
        responseElements={"credentials": {"accessKeyId": key, "expiration": "soon"}},
    )
    stream.put(issued)
    stream.put(record(member, "DeleteLoginProfile", key=key))
    stream.put(record(member, "CreateAccessKey", key="ASIA" + uuid.uuid4().hex[:16].upper()))  # a console session
    consumer = stream.consumer(harness, wait_seconds=1)
    while consumer.poll_once():
        pass
    assert activity(harness, member) == {
        (member, "DeleteLoginProfile", ASSUMED_ROOT): 1,
        (member, "CreateAccessKey", ROOT_CREDENTIALS): 1,
    }
    assert stream.left() == 0


def test_the_exporters_own_audit_is_not_counted(fake, stream):
    fake.set_organization_features(True, False)
    try:
        member = new_account(fake)
        harness = Harness(accounts=only(MGMT, member))
        assert harness.run("discovery", "root_audit")
    finally:
        fake.set_organization_features(False, False)
    own_key = fake.root_session_keys(member)[-1]
    for name in ("GetLoginProfile", "ListAccessKeys", "ListMFADevices", "ListSigningCertificates"):
        stream.put(record(member, name, key=own_key))  # what the audit leaves in the member's CloudTrail
    stream.put(record(member, "ListAccessKeys", key="ASIA" + uuid.uuid4().hex[:16].upper()))  # someone else
    consumer = stream.consumer(harness, wait_seconds=1)
    while consumer.poll_once():
        pass
    assert activity(harness, member) == {(member, "other", ROOT_CREDENTIALS): 1}
    assert stream.left() == 0


def test_malformed_and_foreign_messages_are_deleted_and_counted(stream, collected):
    harness, member = collected
    name = harness.state(member).account.name
    stream.send_raw("not json at all")
    stream.send_raw(
        json.dumps(
            {
                "detail-type": "AWS API Call via CloudTrail",
                "time": iso(time.time()),
                "detail": {**record(member), "eventTime": 12},
            }
        )
    )  # names the member
    stream.put(record("999999999999", "CreateAccessKey"))  # an account this exporter does not collect
    consumer = stream.consumer(harness, wait_seconds=1)
    while consumer.poll_once():
        pass
    events = harness.snapshot.root_events
    assert (events.malformed_messages, dict(events.malformed), events.foreign) == (1, {member: 1}, 1)
    assert stream.left() == 0  # deleted, not redelivered forever
    metrics = parse(exposition(harness.snapshot, {})[0].decode())
    assert (
        metrics.value(
            "root_exporter_malformed_events_total", account_id=member, account_name=name, source="root_events"
        )
        == 1.0
    )
    assert metrics.value("root_events_malformed_messages_total") == 1.0
    assert metrics.value("root_events_foreign_events_total") == 1.0


def test_a_crash_between_receive_and_apply_loses_nothing(stream, collected):
    harness, member = collected
    stream.put(record(member, "CreateAccessKey"))
    crashed = stream.consumer(harness, wait_seconds=1)
    assert len(crashed.receive()) == 1  # received, then the process dies before applying
    assert activity(harness, member) == {}

    class FailingStore:
        current = property(lambda self: harness.store.current)

        def update(self, *args, **kwargs):
            raise RuntimeError("killed while applying")

    failing = EventStream(stream.sqs, stream.url, FailingStore(), time.time, wait_seconds=VISIBILITY + 2)
    with pytest.raises(RuntimeError):
        failing.poll_once()  # redelivered after the visibility timeout, then the apply fails
    assert stream.left() == 1  # not deleted

    later = stream.consumer(harness, wait_seconds=VISIBILITY + 2)
    assert later.poll_once() == 1
    assert activity(harness, member) == {(member, "CreateAccessKey", ROOT_CREDENTIALS): 1}
    assert stream.left() == 0


def test_the_heartbeat_is_recorded(stream, collected):
    harness, _ = collected
    sent = time.time()
    stream.events.put_events(
        Entries=[
            {
                "Source": HEARTBEAT_SOURCE,
                "DetailType": HEARTBEAT_DETAIL_TYPE,
                "Detail": "{}",
                "EventBusName": stream.bus,
            }
        ]
    )
    consumer = stream.consumer(harness, wait_seconds=1)
    assert consumer.poll_once() == 1
    assert abs(harness.snapshot.root_events.last_heartbeat - sent) < 5
