"""Fixtures shared by every test module."""

from __future__ import annotations

import pytest

from tests.support.exporter import RunningExporter, start_exporter


@pytest.fixture(scope="session")
def demo_exporter() -> RunningExporter:
    """``aws-root-exporter --demo`` on a free loopback port, ready (every source ran once)."""
    running = start_exporter(["--demo", "--log.level", "info"])
    yield running
    running.stop()
