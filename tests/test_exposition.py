"""The incremental renderer (exporter/exposition.py) serves exactly what prometheus_client's own
encoders make of RootCollector, in text and OpenMetrics, plain and gzipped, on varied snapshots
and after accounts change, join and leave. The expected bytes come from prometheus_client's
``generate_latest`` over the collector, never from the renderer."""

from __future__ import annotations

import gzip
import time
import threading
import zlib
from dataclasses import replace
from types import MappingProxyType

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

from exporter.collector import RootCollector
from exporter.exposition import IncrementalExposition
from exporter.http.negotiation import CANONICAL_ACCEPT, OPENMETRICS, TEXT
from exporter.snapshot import with_result
from exporter.state import Account, AccountState, DelayHistogram, RootEvents, RootPolicies, Snapshot, TrailCoverage
from tests.test_collector import INTERVALS, T0, ok
from tests.test_collector import snapshot as collector_snapshot
from tests.test_web import call

FORMATS = (TEXT, OPENMETRICS)


def expected(snapshot: Snapshot, fmt: str) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(RootCollector(lambda: snapshot, INTERVALS))
    encoder, _ = choose_encoder(CANONICAL_ACCEPT[fmt])
    return encoder(registry)


def hostile(index: int) -> Account:
    """Names as untrusted as AWS may send them: quotes, backslashes, newlines, non-ASCII."""
    names = ['a "quoted" name', "back\\slash", "new\nline", "ünïcødé-账户", "trailing\\", "{braces},=x"]
    return Account(
        id=f"{900000000000 + index:012d}",
        name=names[index % len(names)],
        email=f"root+{index}@exämple.com",
        ou_path=f'Root/OU "{index % 3}"',
        management=False,
    )


def varied() -> Snapshot:
    """test_collector's accounts, 300 more (several blocks) with hostile names and every kind of
    per-account value, discovery, features and a root event stream naming some of them."""
    base = collector_snapshot()
    states = dict(base.accounts)
    for index in range(300):
        account = hostile(index)
        sources = {}
        if index % 2:
            sources["trail_status"] = ok(TrailCoverage(enabled=index % 4 == 1, trail=None, reason=""))
        if index % 3:
            sources["root_policies"] = ok(
                RootPolicies(
                    scps_enabled=index % 5 != 0,
                    denies_all=index % 7 == 0,
                    denied_actions=float("inf") if index % 7 == 0 else index,
                )
            )
        states[account.id] = AccountState(
            replace(account, root_email_allowed=[None, True, False][index % 3]), MappingProxyType(sources)
        )
    some = sorted(states)[::17]
    events = RootEvents(
        counts=MappingProxyType(
            {(a, "ConsoleLogin", "root_credentials"): i + 1 for i, a in enumerate(some)}
            | {("999999999999", "Other", "root_credentials"): 4}
        ),  # not collected
        last_activity=MappingProxyType({(a, "assumed_root"): T0 - i for i, a in enumerate(some)}),
        malformed=MappingProxyType({some[1]: 2}),
        malformed_messages=3,
        foreign=5,
        last_message=T0,
        last_heartbeat=T0 - 10,
        started=T0 - 3600,
        delay=DelayHistogram(bounds=(1.0, 60.0, 300.0), buckets=(1, 4, 9), count=10, total=812.5),
    )
    return replace(base, accounts=MappingProxyType(states), root_events=events)


SNAPSHOTS = {
    "empty": Snapshot(),
    "collector test": collector_snapshot(),
    "varied": varied(),
    "stream started, nothing yet": replace(collector_snapshot(), root_events=RootEvents(started=T0)),
    "discovery failed, no home": replace(
        collector_snapshot(), home_account_id=None, discovery=replace(ok(None), success=False, last_success=None)
    ),
}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", SNAPSHOTS)
def test_same_bytes_as_prometheus_client_plain_and_gzipped(name, fmt):
    snapshot = SNAPSHOTS[name]
    want = expected(snapshot, fmt)
    renderer = IncrementalExposition(INTERVALS)
    assert renderer.render(snapshot, fmt, False) == want
    assert gzip.decompress(renderer.render(snapshot, fmt, True)) == want
    assert want.count(b"# EOF") == (fmt == OPENMETRICS)


def members(body: bytes) -> int:
    """How many gzip members ``body`` holds (each decompressed on its own)."""
    count = 0
    while body:
        decompressor = zlib.decompressobj(wbits=31)
        decompressor.decompress(body)
        assert decompressor.eof, "a truncated gzip member"
        body = decompressor.unused_data
        count += 1
    return count


def test_gzip_is_a_stream_of_members_that_any_gzip_reader_joins():
    snapshot = SNAPSHOTS["varied"]
    body = IncrementalExposition(INTERVALS).render(snapshot, TEXT, True)
    assert members(body) > 10  # blocks of accounts, compressed apart
    assert gzip.decompress(body) == expected(snapshot, TEXT)


def changes(snapshot: Snapshot):
    """A collection run and a discovery: results per account, accounts joining and leaving."""
    ids = sorted(snapshot.accounts)
    for step, account_id in enumerate(ids[::23]):
        snapshot = with_result(
            snapshot,
            account_id,
            "trail_status",
            T0 + step,
            TrailCoverage(enabled=bool(step % 2), trail=None, reason=""),
        )
        yield snapshot
    snapshot = with_result(snapshot, ids[5], "account_summary", T0 + 99, error="AccessDenied: nope")
    yield snapshot
    accounts = dict(snapshot.accounts)
    for account_id in ids[40:45] + ids[200:201]:
        del accounts[account_id]
    joined = Account(id=ids[100] + "0", name='joined "late"')  # sorts inside an existing block
    accounts[joined.id] = AccountState(joined)
    yield replace(snapshot, accounts=MappingProxyType(accounts))
    yield replace(snapshot, accounts=MappingProxyType({}))


@pytest.mark.parametrize("fmt", FORMATS)
def test_after_accounts_change_join_and_leave_the_output_follows(fmt):
    renderer = IncrementalExposition(INTERVALS)
    renderer.render(SNAPSHOTS["varied"], fmt, True)
    for snapshot in changes(SNAPSHOTS["varied"]):
        want = expected(snapshot, fmt)
        assert gzip.decompress(renderer.render(snapshot, fmt, True)) == want
        assert renderer.render(snapshot, fmt, False) == want


def test_served_body_is_prometheus_clients_and_follows_swaps():
    from exporter.web import ExporterApp

    current = {"snapshot": SNAPSHOTS["varied"]}
    app = ExporterApp(lambda: current["snapshot"], INTERVALS, lambda: True)
    for snapshot in [SNAPSHOTS["varied"], *changes(SNAPSHOTS["varied"])][:4]:
        current["snapshot"] = snapshot
        status, headers, body = call(app, "/metrics", accept_encoding="gzip")
        assert headers["Content-Encoding"] == "gzip" and int(headers["Content-Length"]) == len(body)
        assert gzip.decompress(body) == expected(snapshot, TEXT)
        headers, body = call(app, "/metrics", accept=CANONICAL_ACCEPT[OPENMETRICS])[1:]
        assert headers["Content-Type"] == choose_encoder(CANONICAL_ACCEPT[OPENMETRICS])[1]
        assert body == expected(snapshot, OPENMETRICS)


def test_concurrent_scrapes_during_swaps_each_get_a_whole_snapshot():
    snapshots = [SNAPSHOTS["varied"], *changes(SNAPSHOTS["varied"])][:6]
    wants = {id(s): {(fmt, gz): expected(s, fmt) for fmt in FORMATS for gz in (False, True)} for s in snapshots}
    renderer = IncrementalExposition(INTERVALS)
    failures = []

    def scrape(offset: int) -> None:
        for step in range(12):
            snapshot = snapshots[(step + offset) % len(snapshots)]
            fmt, gz = FORMATS[step % 2], bool((step + offset) % 3)
            body = renderer.render(snapshot, fmt, gz)
            if (gzip.decompress(body) if gz else body) != wants[id(snapshot)][(fmt, False)]:
                failures.append((offset, step))

    threads = [threading.Thread(target=scrape, args=(offset,)) for offset in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_pieces_die_with_their_account_states():
    renderer = IncrementalExposition(INTERVALS)
    snapshot = SNAPSHOTS["varied"]
    renderer.render(snapshot, TEXT, True)
    smaller = replace(snapshot, accounts=MappingProxyType(dict(list(snapshot.accounts.items())[:10])))
    renderer.render(smaller, TEXT, True)
    held = {id(rendered.state) for rendered in renderer._accounts.values()}
    held |= {id(state) for block in renderer._blocks.values() for state in block.states}
    assert held == {id(state) for state in smaller.accounts.values()}


def test_warm_encodes_ahead_only_what_was_scraped():
    from exporter.web import ExpositionCache

    cache = ExpositionCache(INTERVALS)
    first, second = SNAPSHOTS["collector test"], SNAPSHOTS["varied"]
    cache.warm(first)  # nothing scraped yet: nothing to prepare
    assert cache._bodies == {}
    cache.get(first, "", True)
    cache.warm(second)
    assert set(cache._bodies) == {(TEXT, True)}
    body, _ = cache._bodies[(TEXT, True)]
    served, _ = cache.get(second, "", True)
    assert served is body and gzip.decompress(served) == expected(second, TEXT)


def test_the_warmer_prepares_the_body_of_a_swapped_snapshot_before_the_next_scrape():
    """What the running exporter starts with its service: after a swap, the next scrape finds the
    body encoded already, the same bytes prometheus_client would produce."""
    from exporter.web import ExporterApp, Warmer

    current = [SNAPSHOTS["collector test"]]
    app = ExporterApp(lambda: current[0], INTERVALS, lambda: True)
    warmer = Warmer(app, every=0.05)
    warmer.start()
    try:
        environ = {"PATH_INFO": "/metrics", "REQUEST_METHOD": "GET", "HTTP_ACCEPT_ENCODING": "gzip"}
        b"".join(app(environ, lambda status, headers: None))  # a scrape names the format to warm
        current[0] = SNAPSHOTS["varied"]
        deadline = time.monotonic() + 5
        while not (app._cache._snapshot is current[0] and (TEXT, True) in app._cache._bodies):
            assert time.monotonic() < deadline, "the warmer did not encode the new snapshot"
            time.sleep(0.02)
        body, _ = app._cache._bodies[(TEXT, True)]
        assert gzip.decompress(body) == expected(current[0], TEXT)
    finally:
        warmer.stop()
