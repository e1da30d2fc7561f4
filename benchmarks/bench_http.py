"""The HTTP layer under hostile load: memory across varied Accept headers, basic-auth cost with
and without the verdict cache, and /metrics latency while idle connections are held open.

Runs the exporter's real server (exporter/http/server.py) on 127.0.0.1 with a synthetic snapshot
and prints medians; never asserts.

    .venv/bin/python benchmarks/bench_http.py [--accounts 1000] [--scrapes 1000] [--idle 300]
"""

from __future__ import annotations

import argparse
import gc
import http.client
import socket
import threading
import time

import bcrypt
from _synthetic import INTERVALS, build_snapshot, machine_note, median, rss_kib

from exporter.http.auth import CredentialCheck
from exporter.web import ExporterApp, serve


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(port: int, headers: dict) -> float:
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", "/metrics", headers=headers)
    response = connection.getresponse()
    response.read()
    connection.close()
    assert response.status == 200, response.status
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--scrapes", type=int, default=1000)
    parser.add_argument("--idle", type=int, default=300)
    args = parser.parse_args()
    print(machine_note())
    snapshot = build_snapshot(args.accounts)
    port = free_port()
    server, thread = serve(ExporterApp(lambda: snapshot, INTERVALS, lambda: True), f"127.0.0.1:{port}")
    try:
        get(port, {"Accept-Encoding": "gzip"})
        gc.collect()
        before = rss_kib()
        for i in range(args.scrapes):
            accept = (
                f"application/openmetrics-text;version=1.0.0;q=0.{i % 9 + 1};x={i}"
                if i % 2
                else f"text/plain;version=0.0.4;q=0.{i % 9 + 1};x={i}"
            )
            get(port, {"Accept": accept, "Accept-Encoding": "gzip" if i % 3 else "identity"})
        gc.collect()
        after = rss_kib()
        print(
            f"{args.scrapes} scrapes with distinct Accept headers, {args.accounts} accounts: "
            f"VmRSS {before} KiB -> {after} KiB (+{(after or 0) - (before or 0)} KiB)"
        )

        quiet = [get(port, {"Accept-Encoding": "gzip"}) for _ in range(21)]
        idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(args.idle)]
        time.sleep(0.5)
        loaded = [get(port, {"Accept-Encoding": "gzip"}) for _ in range(21)]
        print(
            f"GET /metrics (cached, gzip): median {median(quiet):.1f} ms alone, "
            f"{median(loaded):.1f} ms with {args.idle} idle connections held; "
            f"threads in process: {threading.active_count()}"
        )
        for sock in idle:
            sock.close()
    finally:
        server.shutdown()
        server.server_close()
        thread.join()

    hashed = bcrypt.hashpw(b"pw", bcrypt.gensalt(rounds=10))
    check = CredentialCheck({"prometheus": hashed})
    uncached = []
    for i in range(7):
        started = time.perf_counter()
        check("prometheus", f"wrong-{i}".encode())
        uncached.append((time.perf_counter() - started) * 1000)
    check("prometheus", b"pw")
    cached = []
    for _ in range(1001):
        started = time.perf_counter()
        check("prometheus", b"pw")
        cached.append((time.perf_counter() - started) * 1000)
    print(
        f"basic auth (bcrypt cost 10): median {median(uncached):.1f} ms uncached, {median(cached) * 1000:.1f} µs cached"
    )


if __name__ == "__main__":
    main()
