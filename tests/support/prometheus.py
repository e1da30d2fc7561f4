"""Run Debian's real Prometheus on a free loopback port for end-to-end tests."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import urllib.parse
from pathlib import Path
from typing import Optional

from tests.support.net import free_port, http_get, stop_process, wait_for

PROMETHEUS = "/usr/bin/prometheus"
MISSING = "{binary} is not installed: `make test` installs Debian's {package} package"


def require_binary(path: str, package: str) -> str:
    """The path of a Debian-packaged binary, or a failure that says how to get it."""
    if Path(path).exists():
        return path
    found = shutil.which(Path(path).name)
    if found is None:
        raise RuntimeError(MISSING.format(binary=path, package=package))
    return found


class ManagedProcess:
    """A server subprocess in its own temporary directory, logging to a file there."""

    def __init__(self, name: str, workdir: Optional[Path]):
        self.name = name
        self._own_dir = workdir is None
        self.workdir = Path(tempfile.mkdtemp(prefix=f"{name}-")) if workdir is None else Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.workdir / f"{name}.log"
        self.process: Optional[subprocess.Popen] = None
        self.port = free_port()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def _start(self, command: list[str], ready_path: str, timeout: float) -> None:
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=self.workdir
            )

        def ready() -> bool:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{self.log()}")
            return http_get(self.url + ready_path, timeout=2)[0] == 200

        try:
            wait_for(ready, timeout, f"{self.name} {ready_path}")
        except TimeoutError as error:
            self.stop()
            raise TimeoutError(f"{error}\n--- {self.name} log ---\n{self.log()}") from None
        except BaseException:
            self.stop()
            raise

    def get_json(self, path: str, params: Optional[dict[str, str]] = None) -> dict:
        """GET a JSON API path; raise with the server's error text and log on failure."""
        url = self.url + path + ("?" + urllib.parse.urlencode(params) if params else "")
        status, body = http_get(url)
        try:
            payload = json.loads(body) if body else {}
        except ValueError:
            payload = None
        if status != 200 or payload is None:
            raise RuntimeError(
                f"{self.name} GET {url} answered {status}: {body}\n--- {self.name} log ---\n{self.log()}"
            )
        return payload

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
        if self._own_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()


class PrometheusServer(ManagedProcess):
    """``prometheus`` with the given configuration and rule files, ready to answer queries.

    ``config_yaml`` is written as ``prometheus.yml`` and each ``rule_files`` entry (file name →
    content) next to it, so relative ``rule_files`` paths in the configuration resolve.
    """

    def __init__(
        self,
        config_yaml: str,
        rule_files: Optional[dict[str, str]] = None,
        workdir: Optional[Path] = None,
        ready_timeout: float = 60.0,
    ):
        super().__init__("prometheus", workdir)
        binary = require_binary(PROMETHEUS, "prometheus")
        self.config_path = self.workdir / "prometheus.yml"
        self.config_path.write_text(config_yaml)
        for name, content in (rule_files or {}).items():
            (self.workdir / name).write_text(content)
        self._start(
            [
                binary,
                f"--config.file={self.config_path}",
                f"--storage.tsdb.path={self.workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--web.enable-lifecycle",
                "--log.level=info",
            ],
            "/-/ready",
            ready_timeout,
        )

    def query(self, expr: str) -> list[dict]:
        """Evaluate ``expr`` now; the result as a list of ``{"metric": {...}, "value": [t, "v"]}``.

        A scalar or string result comes back as one element with empty ``metric``, so callers can
        treat every answer alike. Raises with Prometheus' error text when the query fails.
        """
        payload = self.get_json("/api/v1/query", {"query": expr})
        if payload.get("status") != "success":
            raise RuntimeError(f"query {expr!r} failed: {payload.get('errorType')}: {payload.get('error')}")
        data = payload["data"]
        if data["resultType"] in ("scalar", "string"):
            return [{"metric": {}, "value": data["result"]}]
        return data["result"]

    def value(self, expr: str) -> Optional[float]:
        """The single value of ``expr``, or None when the result is empty."""
        result = self.query(expr)
        if not result:
            return None
        if len(result) > 1:
            raise RuntimeError(f"query {expr!r} returned {len(result)} series, expected one: {result}")
        return float(result[0]["value"][1])

    def alerts(self) -> list[dict]:
        """Alerts Prometheus holds now (pending and firing), as /api/v1/alerts lists them."""
        return self.get_json("/api/v1/alerts")["data"]["alerts"]

    def rules(self) -> list[dict]:
        """Rule groups with their health and last error, as /api/v1/rules lists them."""
        return self.get_json("/api/v1/rules")["data"]["groups"]
