"""README's install instructions, run as written on a fresh clone: a new virtual environment,
``pip install .``, ``aws-root-exporter --version``. The clone is of this repository's committed
HEAD (a fresh machine has no uncommitted changes), in place of the GitHub URL the README names.
Also the real missing-fake path: that install has no moto, so ``--demo`` must say how to get it."""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CLONE_URL = "https://github.com/aws-root-exporter/aws-root-exporter.git"


def readme_install_lines() -> list[str]:
    """The shell lines of README's install block, up to and including the --version line."""
    text = (REPO / "README.md").read_text()
    block = re.search(r"<!-- install:[^>]*-->\s*```sh\n(.*?)```", text, re.DOTALL)
    assert block, "README has no marked install block"
    lines = [line for line in block.group(1).splitlines() if line.strip()]
    version = next(i for i, line in enumerate(lines) if line.endswith("--version"))
    return lines[: version + 1]


@pytest.mark.e2e
def test_readme_install_works_in_a_fresh_clone(tmp_path: Path):
    lines = readme_install_lines()
    assert lines[0] == f"git clone {CLONE_URL}", lines
    assert not any("pip install aws-root-exporter" in line for line in lines)
    script = "\n".join(["set -eu", f"git clone -q {REPO} aws-root-exporter", *lines[1:]])
    result = subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=400)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (
        result.stdout.strip().splitlines()[-1] == f"aws-root-exporter {importlib.metadata.version('aws-root-exporter')}"
    )

    installed = tmp_path / "aws-root-exporter" / ".venv" / "bin" / "aws-root-exporter"
    demo = subprocess.run([str(installed), "--demo"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert demo.returncode == 2, demo.stdout + demo.stderr
    assert "make demo" in demo.stderr and "pip install ./fakeaws" in demo.stderr
    assert "Traceback" not in demo.stderr
