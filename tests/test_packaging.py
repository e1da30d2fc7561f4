"""The exporter's distribution holds the runtime only: the fake AWS (moto, werkzeug) stays out."""

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FAKE_ONLY = {"moto", "werkzeug", "fakeaws"}


def _module_level_imports(path: Path) -> set[str]:
    """Top-level package names a module imports when it is loaded (not inside functions)."""
    names: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_no_exporter_module_loads_the_fake_or_moto():
    offenders = {
        str(path.relative_to(ROOT)): sorted(_module_level_imports(path) & FAKE_ONLY)
        for path in (ROOT / "exporter").rglob("*.py")
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_the_exporter_distribution_ships_only_the_exporter_package_and_no_moto():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["tool"]["setuptools"]["packages"]["find"]["include"] == ["exporter*"]
    runtime = project["project"]["dependencies"] + [
        dep
        for deps in project["project"]["optional-dependencies"].values()
        for dep in deps
        if deps is not project["project"]["optional-dependencies"].get("test")
    ]
    assert not [dep for dep in runtime if dep.lower().startswith(("moto", "werkzeug"))]
    assert not (ROOT / "exporter" / "demo").exists()


def test_the_fake_is_its_own_distribution_that_brings_moto():
    fake = tomllib.loads((ROOT / "fakeaws" / "pyproject.toml").read_text())
    assert fake["project"]["name"] == "aws-root-exporter-fakeaws"
    assert any(dep.startswith("moto[server]") for dep in fake["project"]["dependencies"])
