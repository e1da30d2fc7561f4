"""Fixtures shared by every test module."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.exporter import RunningExporter, start_exporter


DEMO_CONFIG = Path(__file__).resolve().parent / "fixtures" / "demo-config.yaml"


@pytest.fixture(scope="session")
def demo_exporter() -> RunningExporter:
    """``aws-root-exporter --demo`` on a free loopback port, ready (every source ran once), with
    the root e-mail policy of ``DEMO_CONFIG``."""
    running = start_exporter(["--demo", "--config.file", str(DEMO_CONFIG), "--log.level", "info"])
    yield running
    running.stop()
