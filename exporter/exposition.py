"""Incremental exposition: ``/metrics`` bytes built from pieces cached per account state.

An ``AccountState`` is immutable and replaced whole when a source reports, so the sample lines it
gives are rendered once per state object and reused by every scrape until that account changes.
The exposition formats group a family's samples under one HELP/TYPE header, so each account's
lines are kept per family, and a scrape joins, family by family: header, every account's lines
(in account id order), then the lines organization-wide state adds (discovery on the home
account, the root event stream). The families without account labels are small and rendered per
snapshot.

Accounts are grouped in blocks (a block ends after an account whose id hashes to a boundary, so
an account joining or leaving changes one block only). A block's joined lines per family are
cached with its gzip member: RFC 1952 allows a gzip stream of several members, which Prometheus
(Go's gzip reader) and every other gzip reader decompress as one. After one account changed,
a scrape re-renders that account, rejoins and recompresses its block, and concatenates the rest.

The bytes are exactly what prometheus_client's encoders make of ``RootCollector`` (the tests
compare them): sample lines are the same in both formats (no timestamps or exemplars here), the
headers differ (counter names, HELP escaping) and OpenMetrics ends with ``# EOF``.
"""

from __future__ import annotations

import functools
import threading
import zlib
from typing import Mapping, Optional

from prometheus_client.metrics_core import Metric
from prometheus_client.utils import floatToGoString

from exporter.collector import RootCollector, _Families
from exporter.http.negotiation import OPENMETRICS, TEXT
from exporter.state import AccountState, Snapshot

BLOCK_ACCOUNTS = 64  # mean accounts per block (block ends where crc32(id) % 64 == 0)
GZIP_LEVEL = 6


@functools.lru_cache(maxsize=16384)  # an account's id and name recur in each of its ~30 samples
def _escape_value(value: str) -> str:
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def sample_lines(metric: Metric) -> bytes:
    """A family's sample lines, as both formats write them (label names sorted)."""
    lines = []
    for sample in metric.samples:
        if sample.timestamp is not None or sample.exemplar is not None:
            raise ValueError(f"{sample.name}: timestamps and exemplars are not rendered here")
        if sample.labels:
            labels = ",".join(f'{name}="{_escape_value(value)}"' for name, value in sorted(sample.labels.items()))
            lines.append(f"{sample.name}{{{labels}}} {floatToGoString(sample.value)}\n")
        else:
            lines.append(f"{sample.name} {floatToGoString(sample.value)}\n")
    return "".join(lines).encode("utf-8")


def header(metric: Metric, fmt: str) -> bytes:
    """The HELP and TYPE lines of ``metric`` in ``fmt`` (TEXT munges counters to ``_total``)."""
    if metric.type not in ("gauge", "counter", "histogram") or metric.unit:
        raise ValueError(f"{metric.name}: type {metric.type!r} is not rendered here")
    if fmt == OPENMETRICS:
        name, help_text = metric.name, _escape_value(metric.documentation)
    else:
        name = metric.name + "_total" if metric.type == "counter" else metric.name
        help_text = metric.documentation.replace("\\", r"\\").replace("\n", r"\n")
    return f"# HELP {name} {help_text}\n# TYPE {name} {metric.type}\n".encode("utf-8")


def family(metric: Metric, fmt: str) -> bytes:
    return header(metric, fmt) + sample_lines(metric)


def _gzip_member(data: bytes) -> bytes:
    compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)  # wbits 31: a gzip member, mtime 0
    return compressor.compress(data) + compressor.flush()


def _ends_block(account_id: str) -> bool:
    return zlib.crc32(account_id.encode("utf-8")) % BLOCK_ACCOUNTS == 0


class _Rendered:
    """One account state's sample lines, one ``bytes`` per per-account family."""

    __slots__ = ("state", "lines", "ends_block")

    def __init__(self, state: AccountState):
        families = _Families()
        families.add_state(state)  # root_facts(state) runs here: once per state, not per scrape
        self.state = state
        self.lines = tuple(sample_lines(metric) for metric in families.all())
        self.ends_block = _ends_block(state.account.id)


class _Block:
    """Consecutive accounts' lines joined per family, and their gzip members (made on first use)."""

    __slots__ = ("states", "lines", "members")

    def __init__(self, accounts: list[_Rendered]):
        self.states = tuple(account.state for account in accounts)
        self.lines = tuple(b"".join(parts) for parts in zip(*(account.lines for account in accounts)))
        self.members: Optional[tuple[bytes, ...]] = None

    def same_states(self, accounts: list[_Rendered]) -> bool:
        return len(accounts) == len(self.states) and all(
            account.state is state for account, state in zip(accounts, self.states)
        )

    def gzipped(self) -> tuple[bytes, ...]:
        if self.members is None:
            self.members = tuple(_gzip_member(lines) if lines else b"" for lines in self.lines)
        return self.members


_TEMPLATE = _Families().all()
HEADERS = {fmt: tuple(header(metric, fmt) for metric in _TEMPLATE) for fmt in (TEXT, OPENMETRICS)}


class IncrementalExposition:
    """Renders snapshots, reusing what the previous render built for unchanged account states.

    The caches are rebuilt on every render from the previous ones, keeping only the pieces of
    the snapshot just rendered, so an account state's pieces die with it (memory stays bounded by
    the current snapshot). One render at a time (a lock); concurrent scrapes of one snapshot
    share the body through ``web.ExpositionCache``.
    """

    def __init__(self, intervals: Mapping[str, float]):
        self._organization = RootCollector(lambda: Snapshot(), intervals)
        self._lock = threading.Lock()
        self._accounts: dict[str, _Rendered] = {}
        self._blocks: dict[str, _Block] = {}  # keyed by the id of the block's first account

    def render(self, snapshot: Snapshot, fmt: str, gzipped: bool) -> bytes:
        with self._lock:
            blocks = self._update(snapshot)
        tails = _Families()
        tails.add_snapshot(snapshot)
        organization = [family(metric, fmt) for metric in self._organization.organization_wide(snapshot)]
        if fmt == OPENMETRICS:
            organization.append(b"# EOF\n")
        if not gzipped:
            parts = []
            for index, (head, metric) in enumerate(zip(HEADERS[fmt], tails.all())):
                parts.append(head)
                parts.extend(block.lines[index] for block in blocks)
                parts.append(sample_lines(metric))
            return b"".join(parts + organization)
        members, pending = [], []
        for index, (head, metric) in enumerate(zip(HEADERS[fmt], tails.all())):
            pending.append(head)
            for block in blocks:
                member = block.gzipped()[index]
                if member:
                    if pending:
                        members.append(_gzip_member(b"".join(pending)))
                        pending = []
                    members.append(member)
            pending.append(sample_lines(metric))
        members.append(_gzip_member(b"".join(pending + organization)))
        return b"".join(members)

    def _update(self, snapshot: Snapshot) -> list[_Block]:
        """The blocks of ``snapshot``'s accounts, in account id order; refreshes the caches."""
        accounts: dict[str, _Rendered] = {}
        blocks: dict[str, _Block] = {}
        ordered: list[_Block] = []
        run: list[_Rendered] = []

        def close() -> None:
            first = run[0].state.account.id
            block = self._blocks.get(first)
            if block is None or not block.same_states(run):
                block = _Block(run)
            blocks[first] = block
            ordered.append(block)
            run.clear()

        for account_id in sorted(snapshot.accounts):
            state = snapshot.accounts[account_id]
            rendered = self._accounts.get(account_id)
            if rendered is None or rendered.state is not state:
                rendered = _Rendered(state)
            accounts[account_id] = rendered
            run.append(rendered)
            if rendered.ends_block:
                close()
        if run:
            close()
        self._accounts, self._blocks = accounts, blocks
        return ordered
