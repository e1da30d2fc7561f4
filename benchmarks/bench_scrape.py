"""How long one /metrics scrape and one landing page take for N accounts.

Builds a synthetic Snapshot (every source filled, see _synthetic.py), registers RootCollector in
a fresh CollectorRegistry and times ``generate_latest`` (what /metrics serves), split into
``collect()`` (the exporter's own work, of which ``root_facts``) and the text serialization
(prometheus_client). Also times ``landing.render`` for every view. Prints medians over
``--repeats``; never asserts a timing.

    .venv/bin/python benchmarks/bench_scrape.py [--sizes 100,1000,5000] [--repeats 7]

Target: a 1000-account scrape renders in < 250 ms (median) and render time grows ~linearly
(the 5000/1000 ratio is printed; ~5 is linear).
"""

from __future__ import annotations

import argparse

from _synthetic import INTERVALS, Timing, build_snapshot, machine_note, median, sizes, spread, timed
from dataclasses import replace

from prometheus_client import CollectorRegistry, generate_latest

from exporter import landing
from exporter.collector import RootCollector
from exporter.landing import VIEWS
from exporter.root_facts import root_facts
from exporter.web import ExporterApp

TARGET_MS = 250.0
TARGET_ACCOUNTS = 1000


def wsgi_scrape(app, gzip: bool) -> int:
    """One GET /metrics through the exporter's own WSGI app (exporter/web.py)."""
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/metrics",
        "QUERY_STRING": "",
        "HTTP_ACCEPT_ENCODING": "gzip" if gzip else "",
    }
    return sum(len(chunk) for chunk in app(environ, lambda status, headers: None))


def measure(accounts: int, repeats: int, seen: int) -> dict:
    snapshot = build_snapshot(accounts, seen=seen)
    registry = CollectorRegistry()
    collector = RootCollector(lambda: snapshot, INTERVALS)
    registry.register(collector)
    app = ExporterApp(lambda: snapshot, INTERVALS, lambda: True)
    # A fresh (equal) snapshot object per call defeats the per-snapshot cache: the first scrape
    # after a swap. The same object again is what every later scrape until the next swap costs.
    fresh = {"snapshot": snapshot}
    cold_app = ExporterApp(lambda: fresh["snapshot"], INTERVALS, lambda: True)

    def cold_scrape() -> int:
        fresh["snapshot"] = replace(snapshot)
        return wsgi_scrape(cold_app, gzip=True)

    body = generate_latest(registry)
    return {
        "accounts": accounts,
        "bytes": len(body),
        "gzip_bytes": wsgi_scrape(app, gzip=True),
        "samples": sum(1 for line in body.split(b"\n") if line and not line.startswith(b"#")),
        "scrape": timed(lambda: generate_latest(registry), repeats),
        "wsgi_gzip": timed(cold_scrape, repeats),
        "wsgi_gzip_cached": timed(lambda: wsgi_scrape(app, gzip=True), repeats),
        "collect": timed(lambda: list(collector.collect()), repeats),
        "facts": timed(lambda: [root_facts(state) for state in snapshot.accounts.values()], repeats),
        "pages": {view.key: timed(lambda key=view.key: landing.render(snapshot, key), repeats) for view in VIEWS},
        "page_bytes": len(landing.render(snapshot, "all").encode()),
    }


def line(label: str, timing: Timing, accounts: int, scrape: Timing = None) -> str:
    wall, cpu = median(timing.wall), median(timing.cpu)
    text = (
        f"  {label:<34} wall {wall * 1e3:8.1f} ms ({spread(timing.wall)})  cpu {cpu * 1e3:8.1f} ms"
        f"  = {wall / accounts * 1e6:6.1f} us/account wall, {cpu / accounts * 1e6:6.1f} cpu"
    )
    if scrape is not None:
        text += f"  [{cpu / median(scrape.cpu):4.0%} of scrape cpu]"
    return text


def report(result: dict) -> None:
    n = result["accounts"]
    print(
        f"\n== {n} accounts: exposition {result['bytes']:,} bytes ({result['bytes'] / n:,.0f} B/account), "
        f"{result['gzip_bytes']:,} gzipped, {result['samples']:,} samples"
    )
    scrape = result["scrape"]
    print(line("scrape: generate_latest", scrape, n))
    print(line("  collect() (exporter)", result["collect"], n, scrape))
    print(line("    of which root_facts", result["facts"], n, scrape))
    print(
        f"  {'  text serialization (by diff.)':<34} cpu {(median(scrape.cpu) - median(result['collect'].cpu)) * 1e3:8.1f} ms"
        "  (prometheus_client)"
    )
    print(line("GET /metrics, gzip, after a swap", result["wsgi_gzip"], n))
    print(line("GET /metrics, gzip, same snapshot", result["wsgi_gzip_cached"], n))
    for key, timing in result["pages"].items():
        print(line(f"landing.render(view={key})", timing, n))
    print(f"  landing page (all): {result['page_bytes']:,} bytes")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=sizes, default=[100, 1000, 5000], help="account counts (default 100,1000,5000)")
    parser.add_argument("--repeats", type=int, default=7, help="timed repeats per measurement (default 7)")
    parser.add_argument(
        "--seen", type=int, default=5, help="root console-login event ids remembered per account (default 5)"
    )
    args = parser.parse_args()

    print(f"bench_scrape: {machine_note()}; {args.repeats} repeats; medians (wall-clock and process CPU)")
    results = {}
    for accounts in args.sizes:
        results[accounts] = measure(accounts, args.repeats, args.seen)
        report(results[accounts])

    print("\n== summary")
    if TARGET_ACCOUNTS in results:
        timing = results[TARGET_ACCOUNTS]["scrape"]
        wall, cpu = median(timing.wall) * 1e3, median(timing.cpu) * 1e3
        print(
            f"  target: scrape of {TARGET_ACCOUNTS} accounts < {TARGET_MS:.0f} ms median: wall {wall:.1f} ms "
            f"-> {'holds' if wall < TARGET_MS else 'MISSED'}; cpu {cpu:.1f} ms -> {'holds' if cpu < TARGET_MS else 'MISSED'}"
        )
        timing = results[TARGET_ACCOUNTS]["wsgi_gzip"]
        print(
            f"          GET /metrics with gzip (what Prometheus sends): wall {median(timing.wall) * 1e3:.1f} ms, "
            f"cpu {median(timing.cpu) * 1e3:.1f} ms"
        )
    ordered = sorted(results)
    for small, large in zip(ordered, ordered[1:]):
        factor = large / small
        for label, get in (
            ("scrape", lambda r: r["scrape"]),
            ("collect", lambda r: r["collect"]),
            ("landing", lambda r: r["pages"]["all"]),
        ):
            wall = median(get(results[large]).wall) / median(get(results[small]).wall)
            cpu = median(get(results[large]).cpu) / median(get(results[small]).cpu)
            print(
                f"  {label:<8} {large}/{small} accounts: time ratio wall {wall:5.2f}, cpu {cpu:5.2f} (linear = {factor:.2f})"
            )


if __name__ == "__main__":
    main()
