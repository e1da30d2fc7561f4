"""The benchmarks that no target table runs still run: at the smallest sizes, each exits 0 and
prints its figures. (bench_soak.py once stopped at its first line when the fake gained a
property, and nothing noticed.) Figures are not checked here: benchmarks print, never assert."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def run(script: str, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *args], capture_output=True, text=True, timeout=240
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.mark.timeout(300)
def test_soak_runs_its_cycles_and_prints_a_row_each():
    out = run("bench_soak.py", "--cycles", "2", "--accounts", "8", "--churn", "1")
    rows = [line.split() for line in out.splitlines() if line.split()[:1] in (["1"], ["2"])]
    assert [row[0] for row in rows] == ["1", "2"], out
    assert all(row[-1] == "8" for row in rows), out  # cached clients follow the 8 accounts


def test_tls_prints_a_row_per_client_auth_type():
    out = run("bench_tls.py", "--accounts", "20", "--requests", "2")
    for auth in ("NoClientCert", "RequireAndVerifyClientCert", "RequireAnyClientCert"):
        assert any(line.startswith(auth + " ") for line in out.splitlines()), out
