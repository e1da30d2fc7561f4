"""The root event stream: EventBridge events of root activity, long-polled from an SQS queue.

Every member account forwards its root CloudTrail records to a central event bus, whose rule
puts them, the ``AssumeRoot`` calls and a scheduled heartbeat on one SQS queue (see
``deploy/aws/root-events.yaml``). This source is not an interval source: one thread long-polls the
queue (``ReceiveMessage``, 20 s, batches of 10), applies a batch to the snapshot in one swap and
only then deletes it. A crash between receive and apply loses nothing (the visibility timeout
gives the messages back); a message delivered twice counts once (by CloudTrail event id).
A message that cannot be read is counted and deleted, never redelivered forever; an event of an
account outside the collected set is counted and deleted.

It starts after the first discovery, so that the collected set is known before any event is
judged foreign. Configured by ``collection.root_events.queue_url``; off when unset.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from dataclasses import dataclass, replace
from typing import Any, Callable, Optional, Sequence, Union

from exporter.aws.errors import describe_error, metric_code
from exporter.root_activity import (
    AssumeRootIssued,
    MalformedRecord,
    RootEventsBuilder,
    account_id,
    assume_root_issued,
    classify,
    clean_text,
    parse_time,
    with_stream_error,
    with_stream_started,
)
from exporter.snapshot import SnapshotStore
from exporter.sources.base import Context
from exporter.sources.registry import EXPORTER, AwsCall, SourceSpec
from exporter.state import Account, Snapshot

NAME = "root_events"
SPEC = SourceSpec(
    NAME,
    "root activity from the EventBridge stream: SQS long poll (20 s, 10 at a time) of "
    "collection.root_events.queue_url, each batch applied before it is deleted",
    calls=(
        AwsCall("sqs:ReceiveMessage", EXPORTER),
        AwsCall("sqs:DeleteMessageBatch", EXPORTER, permission="sqs:DeleteMessage"),
    ),
    interval=None,
    runs="a thread, while collection.root_events.queue_url is set",
)
CLOUDTRAIL_DETAIL_TYPES = frozenset({"AWS API Call via CloudTrail", "AWS Console Sign In via CloudTrail"})
HEARTBEAT_SOURCE = "aws-root-exporter"  # what the shipped templates' schedule puts on the bus
HEARTBEAT_DETAIL_TYPE = "aws-root-exporter heartbeat"
# The central bus rule of deploy/aws/root-events.yaml: root activity (both detail types), the
# AssumeRoot calls (recorded with the caller's identity) and the heartbeat.
CENTRAL_RULE_PATTERN = {
    "$or": [
        {"detail-type": sorted(CLOUDTRAIL_DETAIL_TYPES), "detail": {"userIdentity": {"type": ["Root"]}}},
        {
            "detail-type": ["AWS API Call via CloudTrail"],
            "detail": {"eventSource": ["sts.amazonaws.com"], "eventName": ["AssumeRoot"]},
        },
        {"source": [HEARTBEAT_SOURCE], "detail-type": [HEARTBEAT_DETAIL_TYPE]},
    ]
}
WAIT_SECONDS = 20  # the longest long poll SQS allows
BATCH_SIZE = 10  # the most ReceiveMessage returns at once
ERROR_BACKOFF = 5.0  # seconds between attempts while the queue cannot be read
READY_CHECK = 0.5  # seconds between looks for the first discovery
MAX_BODY = 256 * 1024  # SQS's own message size limit
_QUEUE_REGION = re.compile(r"https://sqs\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/")
log = logging.getLogger(__name__)


# ---------------------------------------------------------------- parsed messages


@dataclass(frozen=True)
class Record:
    """A CloudTrail record delivered by EventBridge."""

    detail: dict
    account_id: Optional[str]  # recipientAccountId, else the event's account; None if neither reads
    event_time: float  # Unix seconds of the EventBridge event


@dataclass(frozen=True)
class Heartbeat:
    event_time: float


@dataclass(frozen=True)
class Malformed:
    reason: str
    account_id: Optional[str] = None  # when the message still names a readable account


Message = Union[Record, Heartbeat, Malformed]


def _readable_account(value: Any) -> Optional[str]:
    try:
        return account_id(value, "account")
    except MalformedRecord:
        return None


def parse_message(body: Any) -> Message:
    """One SQS message body: an EventBridge event carrying a CloudTrail record, or a heartbeat."""
    if not isinstance(body, str) or len(body) > MAX_BODY:
        return Malformed("the body is not text of at most 256 KiB")
    try:
        event = json.loads(body)
    except ValueError as error:
        return Malformed(f"the body is not JSON: {clean_text(str(error))[:80]}")
    if not isinstance(event, dict):
        return Malformed("the body is not a JSON object")
    try:
        when = parse_time(event.get("time"), "time")
    except MalformedRecord as error:
        return Malformed(str(error), _readable_account(event.get("account")))
    source, detail_type = event.get("source"), event.get("detail-type")
    if source == HEARTBEAT_SOURCE and detail_type == HEARTBEAT_DETAIL_TYPE:
        return Heartbeat(when)
    detail = event.get("detail")
    account = None
    if isinstance(detail, dict):
        account = _readable_account(detail.get("recipientAccountId")) or _readable_account(event.get("account"))
    else:
        account = _readable_account(event.get("account"))
    if detail_type not in CLOUDTRAIL_DETAIL_TYPES:
        shown = clean_text(detail_type)[:60] if isinstance(detail_type, str) else type(detail_type).__name__
        return Malformed(f"detail-type {shown!r} is neither a CloudTrail event nor the heartbeat", account)
    if not isinstance(detail, dict):
        return Malformed("detail is not an object", account)
    return Record(detail, account, when)


# ---------------------------------------------------------------- applying a batch (pure)


def with_messages(snapshot: Snapshot, messages: Sequence[Message], now: float) -> Snapshot:
    """The snapshot after one batch of messages, applied at ``now``.

    ``AssumeRoot`` calls are taken first, so a session's key is known to the records of the same
    batch whatever their order.
    """
    events = RootEventsBuilder(snapshot.root_events)
    accounts = snapshot.accounts
    issued: dict[int, Optional[AssumeRootIssued]] = {}
    unreadable: dict[int, str] = {}

    def malformed(account: Optional[str]) -> None:
        if account is not None and account in accounts:
            events.malformed[account] = events.malformed.get(account, 0) + 1
        else:
            events.malformed_messages += 1

    for index, message in enumerate(messages):
        if isinstance(message, Record):
            try:
                issued[index] = assume_root_issued(message.detail)
            except MalformedRecord as error:
                issued[index] = None
                unreadable[index] = f"AssumeRoot record: {error}"
            found = issued[index]
            if found is not None and (found.target_account in accounts or message.account_id in accounts):
                events.issued(found)
    for index, message in enumerate(messages):
        if isinstance(message, Malformed):
            malformed(message.account_id)
            log.warning(
                "skipping malformed event message",
                extra={"source": NAME, "account_id": message.account_id or "", "error": message.reason},
            )
            continue
        events.delivered(message.event_time, now)
        if isinstance(message, Heartbeat):
            events.last_heartbeat = max(events.last_heartbeat or 0.0, message.event_time)
            continue
        if issued.get(index) is not None:
            continue  # an AssumeRoot call: made by a role, not by root
        if index in unreadable:
            malformed(message.account_id)
            log.warning(
                "skipping malformed CloudTrail record",
                extra={"source": NAME, "account_id": message.account_id or "", "error": unreadable[index]},
            )
            continue
        if message.account_id is None or message.account_id not in accounts:
            events.foreign += 1
            continue
        try:
            activity = classify(message.detail, events.keys)
        except MalformedRecord as error:
            malformed(message.account_id)
            log.warning(
                "skipping malformed CloudTrail record",
                extra={"source": NAME, "account_id": message.account_id, "error": str(error)},
            )
            continue
        if activity is not None:
            events.activity(replace(activity, account_id=message.account_id), now)
    if messages:
        events.last_message = now
    return replace(snapshot, root_events=events.build(now))


# ---------------------------------------------------------------- the consumer


class EventStream:
    """Long-polls one queue on its own thread until ``stop``."""

    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        store: SnapshotStore,
        clock: Callable[[], float],
        ready: Callable[[], bool] = lambda: True,
        wait_seconds: int = WAIT_SECONDS,
    ):
        self._sqs = sqs
        self.queue_url = queue_url
        self._store = store
        self._clock = clock
        self._ready = ready
        self._wait_seconds = wait_seconds
        self._stopping = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def start(self) -> "EventStream":
        self._thread = threading.Thread(target=self._run, name=NAME, daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 0.0) -> None:
        """Stop after the long poll under way (a batch received then is left to redelivery)."""
        self._stopping.set()
        if self._thread is not None and timeout > 0:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stopping.is_set() and not self._ready():
            self._stopping.wait(READY_CHECK)
        while not self._stopping.is_set():
            if self.poll() is None:
                self._stopping.wait(ERROR_BACKOFF)

    def poll(self) -> Optional[int]:
        """``poll_once``, a failure logged and counted in ``root_events_errors_total``
        (by operation and error code) instead of raised; None when it failed."""
        try:
            return self.poll_once()
        except Exception as error:  # noqa: BLE001 - the thread must outlive any one failure
            operation = getattr(error, "operation_name", "") or "other"
            code = metric_code(error)
            log.warning(
                "event stream failed",
                extra={"source": NAME, "operation": operation, "error_code": code, "error": describe_error(error)},
            )
            self._store.update(with_stream_error, operation, code)
            return None

    def receive(self) -> list[dict]:
        response = self._sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=BATCH_SIZE, WaitTimeSeconds=self._wait_seconds
        )
        return list(response.get("Messages") or [])

    def poll_once(self) -> int:
        """Receive one batch, apply it, then delete it; the number of messages handled."""
        received = self.receive()
        if not received or self._stopping.is_set():
            return 0  # a batch received while stopping comes back after the visibility timeout
        messages = [parse_message(item.get("Body")) for item in received]
        self._store.update(with_messages, messages, self._clock())
        self._delete(received)
        return len(received)

    def _delete(self, received: list[dict]) -> None:
        entries = [
            {"Id": str(index), "ReceiptHandle": item["ReceiptHandle"]}
            for index, item in enumerate(received)
            if item.get("ReceiptHandle")
        ]
        if not entries:
            return
        failed = self._sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=entries).get("Failed") or []
        if failed:  # redelivered later; counted once by event id
            log.warning(
                "could not delete event messages",
                extra={"source": NAME, "failed": len(failed), "error_code": str(failed[0].get("Code", ""))},
            )


def queue_region(queue_url: str, default: str) -> str:
    match = _QUEUE_REGION.match(queue_url)
    return match.group(1) if match else default


def start_stream(context: Context, store: SnapshotStore) -> Optional[EventStream]:
    """Start the consumer when ``collection.root_events.queue_url`` is set; None when it is not."""
    stream = build_stream(context, store)
    if stream is None:
        return None
    log.info("root event stream started", extra={"source": NAME, "queue_url": stream.queue_url})
    return stream.start()


def build_stream(context: Context, store: SnapshotStore) -> Optional[EventStream]:
    """The consumer of ``collection.root_events.queue_url``, not yet started (None when unset),
    recorded in the snapshot as started: ``start`` runs it on its thread, ``poll`` once here."""
    queue_url = context.config.collection.root_events.queue_url
    if not queue_url:
        return None

    def ready() -> bool:
        from exporter.sources import discovery  # lazy: the sources package imports this module

        return discovery.NAME in store.current.completed_sources

    access = context.access
    region = queue_region(queue_url, context.config.aws.region)

    def client() -> Any:
        return access.client(Account(id=access.home_account_id, name=""), "sqs", region)

    store.update(with_stream_started, context.clock())
    return _LazyStream(client, queue_url, store, context.clock, ready)


class _LazyStream(EventStream):
    """Makes its SQS client on the consumer thread, after the first discovery (which knows the
    home account), so a slow or failing STS call never holds up start-up."""

    def __init__(self, make_client: Callable[[], Any], *args: Any, **kwargs: Any):
        super().__init__(None, *args, **kwargs)
        self._make_client = make_client

    def receive(self) -> list[dict]:
        if self._sqs is None:
            self._sqs = self._make_client()
        return super().receive()
