"""/metrics latency while a collection runs: scrapes through the WSGI app during snapshot swaps.

A synthetic organization (_synthetic.py, every source filled) is served by exporter/web.py's
ExporterApp. A writer thread swaps in a new snapshot every ``--swap-ms`` with one account's
result changed (``snapshot.with_result``, as a source job does), account after account, like a
collection run; meanwhile ``--scrapes`` GET /metrics with gzip and as many without, a pause of
``--pause-ms`` between them, so nearly every scrape meets a new snapshot. Each run starts with a
fresh app (its first scrape renders every account: reported apart, as "first scrape"). Prints
p50/p99 per run and the median over ``--runs``, wall-clock and the scraping thread's own CPU
time (on a shared machine the wall-clock tail is mostly other processes); never asserts a timing.

    .venv/bin/python benchmarks/bench_scrape_live.py [--accounts 5000] [--runs 3] [--scrapes 200]

Target (issue 10): /metrics p99 at 5,000 accounts while a collection runs, with and without
gzip: < 50 ms.
"""

from __future__ import annotations

import argparse
import gc
import gzip as gziplib
import statistics
import threading
import time

from _rows import row
from _synthetic import INTERVALS, SOURCES, T0, build_snapshot, machine_note, rss_kib, source_values

from exporter.snapshot import SnapshotStore, with_result
from exporter.web import ExporterApp

TARGET_MS = 50.0


def scrape(app: ExporterApp, gzip: bool) -> bytes:
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/metrics",
        "QUERY_STRING": "",
        "HTTP_ACCEPT_ENCODING": "gzip" if gzip else "",
    }
    return b"".join(app(environ, lambda status, headers: None))


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


class Collection(threading.Thread):
    """Swaps in one changed account every ``interval`` seconds until stopped."""

    def __init__(self, store: SnapshotStore, interval: float):
        super().__init__(daemon=True)
        self.store, self.interval, self.swaps = store, interval, 0
        self.stopped = threading.Event()
        self.ids = sorted(store.current.accounts)

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            index = self.swaps % len(self.ids)
            source = SOURCES[self.swaps % len(SOURCES)]
            value = source_values(index, round_no=1 + self.swaps // len(self.ids))[source]
            self.store.update(with_result, self.ids[index], source, T0 + 300 + self.swaps, value)
            self.swaps += 1


class GcPauses:
    """Full (generation 2) collections while measuring: they stop every thread, scrapes included."""

    def __init__(self) -> None:
        self.pauses: list[float] = []
        self._started = 0.0

    def __call__(self, phase: str, info: dict) -> None:
        if info["generation"] == 2:
            if phase == "start":
                self._started = time.perf_counter()
            else:
                self.pauses.append(time.perf_counter() - self._started)


def warmer(app: ExporterApp, interval: float, stopped: threading.Event) -> threading.Thread:
    """What a periodic job would do once wired (``ExporterApp.warm``): encode ahead of scrapes."""

    def run() -> None:
        while not stopped.wait(interval):
            app.warm()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def one_run(accounts: int, scrapes: int, swap_ms: float, pause_ms: float, warm_ms: float = 0.0) -> dict:
    store = SnapshotStore(build_snapshot(accounts))
    app = ExporterApp(lambda: store.current, INTERVALS, lambda: True)
    started = time.perf_counter()
    first_gzip = len(scrape(app, gzip=True))
    first = time.perf_counter() - started
    plain_bytes = len(scrape(app, gzip=False))
    whole_gzip = len(gziplib.compress(scrape(app, gzip=False), 6))
    collection = Collection(store, swap_ms / 1e3)
    pauses = GcPauses()
    gc.callbacks.append(pauses)
    collection.start()
    warming = warmer(app, warm_ms / 1e3, collection.stopped) if warm_ms else None
    times: dict[bool, list[float]] = {True: [], False: []}
    cpu: dict[bool, list[float]] = {True: [], False: []}  # the scraping thread's own CPU time
    seen = {True: set(), False: set()}
    try:
        for step in range(2 * scrapes):
            gzip = step % 2 == 0
            time.sleep(pause_ms / 1e3)
            seen[gzip].add(id(store.current))
            started, thread_cpu = time.perf_counter(), time.thread_time()
            scrape(app, gzip)
            times[gzip].append(time.perf_counter() - started)
            cpu[gzip].append(time.thread_time() - thread_cpu)
    finally:
        collection.stopped.set()
        collection.join()
        if warming is not None:
            warming.join()
        gc.callbacks.remove(pauses)
    return {
        "gc": pauses.pauses,
        "cpu": cpu,
        "first": first,
        "times": times,
        "swaps": collection.swaps,
        "snapshots": seen,
        "bytes": plain_bytes,
        "gzip_bytes": first_gzip,
        "whole_gzip": whole_gzip,
        "rss": rss_kib(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=3, help="runs, each with a fresh app (default 3)")
    parser.add_argument("--scrapes", type=int, default=200, help="scrapes per variant per run (default 200)")
    parser.add_argument("--swap-ms", type=float, default=5.0, help="one account result swapped in every (default 5)")
    parser.add_argument("--pause-ms", type=float, default=20.0, help="pause between scrapes (default 20)")
    parser.add_argument(
        "--warm-ms",
        type=float,
        default=0.0,
        help="call ExporterApp.warm() every this many ms from a thread, as a periodic job would (default 0: off)",
    )
    args = parser.parse_args()

    print(
        f"bench_scrape_live: {machine_note()}; {args.accounts} accounts, {args.runs} runs x {args.scrapes} "
        f"scrapes per variant, one account swapped in every {args.swap_ms:g} ms, {args.pause_ms:g} ms between scrapes"
        + (f", warm every {args.warm_ms:g} ms" if args.warm_ms else "")
    )
    runs = []
    for number in range(1, args.runs + 1):
        result = one_run(args.accounts, args.scrapes, args.swap_ms, args.pause_ms, args.warm_ms)
        runs.append(result)
        cells = []
        for gzip in (True, False):
            t = result["times"][gzip]
            cells.append(
                f"{'gzip' if gzip else 'plain'} p50 {percentile(t, 0.5) * 1e3:6.1f} ms, "
                f"p99 {percentile(t, 0.99) * 1e3:6.1f} ms (thread CPU p99 "
                f"{percentile(result['cpu'][gzip], 0.99) * 1e3:.1f} ms; {len(result['snapshots'][gzip])} snapshots)"
            )
        print(
            f"  run {number}: first scrape {result['first'] * 1e3:,.0f} ms; {'; '.join(cells)}; "
            f"{result['swaps']} swaps; {len(result['gc'])} full GCs (max {max(result['gc'], default=0) * 1e3:.0f} ms); RSS {result['rss'] / 1024:,.0f} MiB"
        )
    last = runs[-1]
    print(
        f"  body {last['bytes']:,} bytes; gzip {last['gzip_bytes']:,} bytes as members "
        f"({last['gzip_bytes'] / last['whole_gzip'] - 1:+.0%} against one gzip member of the whole body)"
    )

    def med(get) -> float:
        return statistics.median(get(run) for run in runs) * 1e3

    n = args.accounts
    setting = f"{args.pause_ms:g} ms between scrapes" + (f", warm every {args.warm_ms:g} ms" if args.warm_ms else "")
    print("\n| figure | value | target |\n|---|---|---|")
    for gzip in (True, False):
        label = "with gzip" if gzip else "without gzip"
        p99 = med(lambda run, gzip=gzip: percentile(run["times"][gzip], 0.99))
        print(
            f"| /metrics p99, {n:,} accounts, collection running, {label}, {setting} | {p99:.1f} ms "
            f"| < {TARGET_MS:.0f} ms ({'holds' if p99 < TARGET_MS else 'MISSED'}) |"
        )
        row(
            f"/metrics p99 at {n:,} accounts while a collection runs, {label}",
            f"{p99:.1f} ms",
            f"< {TARGET_MS:.0f} ms",
            p99 < TARGET_MS,
            f"median of {args.runs} runs of {args.scrapes} scrapes; {setting}",
        )
        print(
            f"| /metrics p99 scraping thread CPU, {n:,} accounts, {label}, {setting} | "
            f"{med(lambda run, gzip=gzip: percentile(run['cpu'][gzip], 0.99)):.1f} ms | - |"
        )
        print(
            f"| /metrics p50, {n:,} accounts, collection running, {label}, {setting} | "
            f"{med(lambda run, gzip=gzip: percentile(run['times'][gzip], 0.5)):.1f} ms | - |"
        )
    print(f"| /metrics first scrape after start, {n:,} accounts, gzip | {med(lambda run: run['first']):,.0f} ms | - |")


if __name__ == "__main__":
    main()
