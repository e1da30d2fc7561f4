"""/metrics over TLS: the stdlib ``ssl`` path against the pyOpenSSL path of the unverified
client-certificate types.

For each ``client_auth_type`` the exporter's real server (exporter/http/server.py) serves a
synthetic snapshot on 127.0.0.1 behind a web config with a test CA's server certificate; a client
with a client certificate opens a new connection per request, as Prometheus does with the
exporter's one-request-per-connection server. Prints medians of: a full TLS handshake with a
``/-/healthy`` request, and ``/metrics`` with and without gzip. Never asserts.

    .venv/bin/python benchmarks/bench_tls.py [--accounts 1000] [--requests 30]
"""

from __future__ import annotations

import argparse
import http.client
import ssl
import tempfile
import time
from pathlib import Path

from _synthetic import INTERVALS, build_snapshot, machine_note, median

from exporter.http.webconfig import load_web_config
from exporter.web import ExporterApp, serve
from tests.support.certs import Authority
from tests.support.net import free_port

AUTH_TYPES = ("NoClientCert", "RequireAndVerifyClientCert", "RequireAnyClientCert")


def request_ms(port: int, context: ssl.SSLContext, path: str, headers: dict) -> tuple[float, int]:
    started = time.perf_counter()
    connection = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=30)
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()
    assert response.status == 200, response.status
    return (time.perf_counter() - started) * 1000, len(body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=30)
    args = parser.parse_args()
    print(f"TLS: {args.accounts} accounts, {args.requests} requests per figure; {machine_note()}")
    snapshot = build_snapshot(args.accounts)
    directory = Path(tempfile.mkdtemp(prefix="bench-tls-"))
    ca = Authority(directory)
    server_pair, client_pair = ca.issue("server", "exporter"), ca.issue("client", "prometheus", server=False)
    context = ssl.create_default_context(cafile=str(ca.cert))
    context.load_cert_chain(str(client_pair.cert), str(client_pair.key))
    print(f"{'client_auth_type':<28} {'handshake+healthy ms':>21} {'/metrics gzip ms':>17} {'/metrics plain ms':>18}")
    for auth in AUTH_TYPES:
        config = directory / f"{auth}.yml"
        config.write_text(
            f"tls_server_config:\n  cert_file: {server_pair.cert.name}\n  key_file: {server_pair.key.name}\n"
            f"  client_auth_type: {auth}\n  client_ca_file: {ca.cert.name}\n"
        )
        port = free_port()
        server, thread = serve(
            ExporterApp(lambda: snapshot, INTERVALS, lambda: True), f"127.0.0.1:{port}", load_web_config(str(config))
        )
        try:
            # warm: the exposition cache, the context
            sizes = {
                "gzip": request_ms(port, context, "/metrics", {"Accept-Encoding": "gzip"})[1],
                "plain": request_ms(port, context, "/metrics", {})[1],
            }
            figures = []
            for path, headers in (("/-/healthy", {}), ("/metrics", {"Accept-Encoding": "gzip"}), ("/metrics", {})):
                figures.append(median([request_ms(port, context, path, headers)[0] for _ in range(args.requests)]))
            print(f"{auth:<28} {figures[0]:>21.2f} {figures[1]:>17.2f} {figures[2]:>18.2f}")
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)
    print(f"/metrics body: {sizes['gzip'] / 1e6:.2f} MB gzip, {sizes['plain'] / 1e6:.2f} MB plain")


if __name__ == "__main__":
    main()
