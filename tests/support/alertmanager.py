"""Run Debian's real Alertmanager and a webhook receiver for end-to-end tests."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Optional

from tests.support.net import free_port
from tests.support.prometheus import ManagedProcess, require_binary

ALERTMANAGER = "/usr/bin/prometheus-alertmanager"


class AlertmanagerServer(ManagedProcess):
    """``prometheus-alertmanager`` with ``config_yaml``, clustering off, ready to take alerts."""

    def __init__(self, config_yaml: str, workdir: Optional[Path] = None, ready_timeout: float = 60.0):
        super().__init__("alertmanager", workdir)
        binary = require_binary(ALERTMANAGER, "prometheus-alertmanager")
        self.config_path = self.workdir / "alertmanager.yml"
        self.config_path.write_text(config_yaml)
        self._start(
            [
                binary,
                f"--config.file={self.config_path}",
                f"--storage.path={self.workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--cluster.listen-address=",
                "--log.level=info",
            ],
            "/-/ready",
            ready_timeout,
        )

    def alerts(self) -> list[dict]:
        """Alerts Alertmanager holds now (API v2)."""
        payload = self.get_json("/api/v2/alerts")
        return payload if isinstance(payload, list) else []


class WebhookReceiver:
    """An HTTP server on 127.0.0.1 that records every JSON notification POSTed to it.

    Point Alertmanager's ``webhook_configs`` at ``url`` (any path below it); ``notifications``
    holds ``(path, payload)`` pairs in arrival order.
    """

    def __init__(self) -> None:
        self.port = free_port()
        self._lock = threading.Lock()
        self._notifications: list[tuple[str, dict]] = []
        self._errors: list[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                try:
                    payload = json.loads(body)
                except ValueError:
                    with receiver._lock:
                        receiver._errors.append(f"{self.path}: not JSON: {body[:200]!r}")
                    self.send_response(400)
                else:
                    with receiver._lock:
                        receiver._notifications.append((self.path, payload))
                    self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:  # keep test output quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="webhook-receiver", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def notifications(self) -> list[tuple[str, dict]]:
        with self._lock:
            return list(self._notifications)

    @property
    def errors(self) -> list[str]:
        with self._lock:
            return list(self._errors)

    def alerts(self, status: Optional[str] = None) -> list[dict]:
        """Every alert of every notification, each with the notification's ``receiver`` and
        ``path`` added; only those with ``status`` ("firing" or "resolved") when given."""
        flat = []
        for path, payload in self.notifications:
            for alert in payload.get("alerts", []):
                if status is None or alert.get("status") == status:
                    flat.append({**alert, "receiver": payload.get("receiver"), "path": path})
        return flat

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()
