"""Run the real ``aws-root-exporter`` command as a subprocess, as a user would."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from tests.support.net import free_port, http_get, stop_process, wait_for


def exporter_command() -> list[str]:
    """The installed console script, next to the running interpreter (the project's venv)."""
    script = Path(sys.executable).with_name("aws-root-exporter")
    if not script.exists():
        found = shutil.which("aws-root-exporter")
        if found is None:
            raise RuntimeError("aws-root-exporter is not installed in this environment: run `make test`")
        script = Path(found)
    return [str(script)]


@dataclass
class RunningExporter:
    process: subprocess.Popen
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> int:
        return stop_process(self.process)


def plain_http_ok(running: RunningExporter, path: str) -> bool:
    return http_get(running.url + path, timeout=2)[0] == 200


def start_exporter(
    args: list[str],
    env: Optional[dict[str, str]] = None,
    ready_timeout: float = 90.0,
    wait_ready: bool = True,
    probe: Callable[[RunningExporter, str], bool] = plain_http_ok,
) -> RunningExporter:
    """Start ``aws-root-exporter ARGS --web.listen-address 127.0.0.1:<free port>``.

    Waits until ``/-/ready`` answers 200 (every source ran once) unless ``wait_ready`` is False,
    in which case it waits for ``/-/healthy`` only. ``probe`` asks (plain HTTP by default; one
    over TLS, with credentials, behind a web config).
    """
    port = free_port()
    log_file = tempfile.NamedTemporaryFile(prefix="exporter-", suffix=".log", delete=False)
    full_env = dict(os.environ)
    full_env.update(env or {})
    process = subprocess.Popen(
        exporter_command() + list(args) + ["--web.listen-address", f"127.0.0.1:{port}"],
        stdout=log_file,
        stderr=subprocess.STDOUT,
        env=full_env,
        stdin=subprocess.DEVNULL,
    )
    running = RunningExporter(process, port, Path(log_file.name))
    path = "/-/ready" if wait_ready else "/-/healthy"

    def answered() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"aws-root-exporter exited with {process.returncode}:\n{running.log()}")
        return probe(running, path)

    try:
        wait_for(answered, ready_timeout, f"aws-root-exporter {path}")
    except BaseException:
        running.stop()
        raise
    return running
