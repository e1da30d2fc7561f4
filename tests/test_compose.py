"""The one-command stack (docker-compose.yml, Dockerfile, Grafana provisioning), checked without Docker.

Each check is something that would break `docker compose up` or leave a panel empty: a mounted
file that does not exist, a port that differs between the image, the compose file and the
exporter, a Prometheus config that does not load its rules, a data source the dashboard cannot
find, a dashboard folder Grafana does not read.
"""

from __future__ import annotations

import fnmatch
import re
import shlex
import shutil
import subprocess
from pathlib import Path, PurePosixPath

import pytest
import yaml

from tests.test_dashboard import load_dashboard, promtool

REPO = Path(__file__).resolve().parents[1]
COMPOSE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
EXPORTER_PORT = 10042


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def dockerfile() -> list[tuple[str, str]]:
    return parse_dockerfile()


def parse_dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    instructions = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


def stages(dockerfile) -> dict[str, list[tuple[str, str]]]:
    """Stage name -> the instructions that build it, those of the stage it starts FROM included."""
    result: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] = []
    for keyword, rest in dockerfile:
        if keyword == "FROM":
            words = rest.split()
            base = words[0]
            current = list(result.get(base, [])) + [(keyword, rest)]
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else base
            result[name] = current
        else:
            current.append((keyword, rest))
    return result


def final_stage(dockerfile) -> str:
    """The stage `docker build` builds without --target: the last one."""
    return list(stages(dockerfile))[-1]


def mounts(service: dict) -> dict[str, Path]:
    """Container path → host path of the service's bind mounts (short syntax, relative to the compose file)."""
    result = {}
    for volume in service.get("volumes", []):
        host, container, *_ = volume.split(":")
        if host.startswith((".", "/")):
            result[container] = (COMPOSE.parent / host).resolve()
    return result


def flag(command: list[str], name: str) -> str:
    for argument in command:
        if argument.startswith(f"{name}="):
            return argument.split("=", 1)[1]
    raise AssertionError(f"{name} not set in {command}")


def prometheus_config_path(compose: dict) -> Path:
    service = compose["services"]["prometheus"]
    return mounts(service)[flag(service["command"], "--config.file")]


def instructions(dockerfile, keyword: str) -> list[str]:
    return [rest for kw, rest in dockerfile if kw == keyword]


def exec_form(arguments: str) -> list[str]:
    return yaml.safe_load(arguments) if arguments.startswith("[") else shlex.split(arguments)


# ---------------------------------------------------------------- compose


def test_every_mounted_host_path_exists(compose):
    for name, service in compose["services"].items():
        for container, host in mounts(service).items():
            assert host.exists(), f"service {name} mounts {host.relative_to(REPO)} at {container}, which is missing"


def test_images_are_pinned(compose):
    for name, service in compose["services"].items():
        if "build" in service:
            continue
        image = service["image"]
        tag = image.rpartition(":")[2] if ":" in image else ""
        assert re.fullmatch(r"v?\d+\.\d+\.\d+", tag), f"service {name} image {image} is not pinned to a version"


def test_exporter_port_is_the_same_everywhere(compose, dockerfile):
    exporter = compose["services"]["exporter"]
    assert exporter["build"]["context"] == "."
    assert exporter["build"]["target"] in stages(dockerfile)
    assert f"{EXPORTER_PORT}:{EXPORTER_PORT}" in [str(p) for p in exporter["ports"]]
    assert instructions(dockerfile, "EXPOSE") == [str(EXPORTER_PORT)]
    (healthcheck,) = instructions(dockerfile, "HEALTHCHECK")
    assert f"127.0.0.1:{EXPORTER_PORT}/-/healthy" in healthcheck
    cli = REPO / "exporter" / "cli.py"
    assert cli.exists(), "exporter/cli.py is missing"
    assert re.search(rf"""["']:{EXPORTER_PORT}["']""", cli.read_text()), (
        f"the exporter's default listen address is not :{EXPORTER_PORT}"
    )


def test_exporter_runs_the_demo_with_the_image_config(compose, dockerfile):
    command = compose["services"]["exporter"]["command"]
    assert "--demo" in command
    demo = stages(dockerfile)[compose["services"]["exporter"]["build"]["target"]]
    cmd = instructions(demo, "CMD")[-1]
    image_config = flag(exec_form(cmd), "--config.file")
    assert flag(command, "--config.file") == image_config
    copied = [exec_form(args) for args in instructions(dockerfile, "COPY")]
    assert any(args[-1] == image_config for args in copied), "the Dockerfile does not copy a config.yaml there"


def test_prometheus_scrapes_the_exporter_and_alerts_alertmanager(compose):
    config = yaml.safe_load(prometheus_config_path(compose).read_text())
    targets = {
        target
        for job in config["scrape_configs"]
        for static in job.get("static_configs", [])
        for target in static["targets"]
    }
    assert f"exporter:{EXPORTER_PORT}" in targets
    alertmanagers = {
        target
        for am in config["alerting"]["alertmanagers"]
        for static in am["static_configs"]
        for target in static["targets"]
    }
    assert alertmanagers == {"alertmanager:9093"}
    assert "9093:9093" in compose["services"]["alertmanager"]["ports"]


def test_compose_scrape_job_matches_the_shipped_config_and_alerts(compose):
    """Alerts on `up{job=...}` and the dashboard's job list must see the same job name in compose."""
    compose_config = yaml.safe_load(prometheus_config_path(compose).read_text())
    shipped = yaml.safe_load((REPO / "prometheus" / "prometheus.yml").read_text())

    def exporter_job(config: dict) -> dict:
        (job,) = [
            job
            for job in config["scrape_configs"]
            if any(str(t).endswith(f":{EXPORTER_PORT}") for s in job.get("static_configs", []) for t in s["targets"])
        ]
        return job

    assert exporter_job(compose_config)["job_name"] == exporter_job(shipped)["job_name"]
    alert_jobs = set(re.findall(r'\bjob="([^"]+)"', (REPO / "prometheus" / "alerts.yml").read_text()))
    assert alert_jobs <= {exporter_job(compose_config)["job_name"]}, f"alerts refer to jobs {alert_jobs}"


def test_prometheus_loads_the_mounted_alert_rules(compose):
    service = compose["services"]["prometheus"]
    container_config = PurePosixPath(flag(service["command"], "--config.file"))
    config = yaml.safe_load(prometheus_config_path(compose).read_text())
    loaded = {str(container_config.parent / rule) for rule in config["rule_files"]}
    mounted = mounts(service)
    assert loaded, "no rule_files"
    for path in loaded:
        assert path in mounted, f"rule file {path} is not mounted into the container"
    assert REPO / "prometheus" / "alerts.yml" in {mounted[path] for path in loaded}


def test_promtool_accepts_the_compose_config(compose, tmp_path):
    """Lay the files out as the container sees them, then `promtool check config` (rules included)."""
    service = compose["services"]["prometheus"]
    container_config = flag(service["command"], "--config.file")
    for container, host in mounts(service).items():
        target = tmp_path / container.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(host, target)
    result = subprocess.run(
        [promtool(), "check", "config", str(tmp_path / container_config.lstrip("/"))],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr and "rule" in (result.stdout + result.stderr).lower()


# ---------------------------------------------------------------- Grafana


def test_datasource_is_the_one_the_dashboard_expects(compose):
    grafana = compose["services"]["grafana"]
    folder = mounts(grafana)["/etc/grafana/provisioning/datasources"]
    (datasource,) = [
        ds for path in sorted(folder.glob("*.y*ml")) for ds in yaml.safe_load(path.read_text())["datasources"]
    ]
    (variable,) = [v for v in load_dashboard()["templating"]["list"] if v["name"] == "datasource"]
    assert datasource["type"] == variable["query"] == "prometheus"
    assert datasource["uid"] == variable["current"]["value"]
    assert datasource["name"] == variable["current"]["text"]
    assert datasource["url"] == "http://prometheus:9090" and "prometheus" in compose["services"]


def test_dashboard_provider_reads_the_mounted_dashboards(compose):
    grafana = compose["services"]["grafana"]
    mounted = mounts(grafana)
    folder = mounted["/etc/grafana/provisioning/dashboards"]
    providers = [p for path in sorted(folder.glob("*.y*ml")) for p in yaml.safe_load(path.read_text())["providers"]]
    dashboards_mount = {container for container, host in mounted.items() if host == REPO / "grafana" / "dashboards"}
    assert [p["options"]["path"] for p in providers if p["type"] == "file"] == list(dashboards_mount)
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    (container_dir,) = dashboards_mount
    assert (REPO / "grafana" / "dashboards" / PurePosixPath(home).relative_to(container_dir)).is_file()


# ---------------------------------------------------------------- Dockerfile


def test_image_runs_as_a_non_root_user(dockerfile):
    users = instructions(dockerfile, "USER")
    assert users, "no USER instruction: the exporter would run as root"
    assert users[-1].split(":")[0] not in {"root", "0"}


def test_image_runs_the_exporter_command(dockerfile):
    (entrypoint,) = instructions(dockerfile, "ENTRYPOINT")
    pyproject = (REPO / "pyproject.toml").read_text()
    assert exec_form(entrypoint) == ["aws-root-exporter"]
    assert re.search(r'^aws-root-exporter = "exporter\.cli:main"$', pyproject, re.MULTILINE)


def test_production_image_has_no_demo_and_the_demo_target_adds_the_fake(compose, dockerfile):
    production = stages(dockerfile)[final_stage(dockerfile)]
    runs = " ".join(instructions(production, "RUN"))
    assert "pip install" in runs and "[" not in runs, f"the production image installs extras: {runs}"
    assert "fakeaws" not in " ".join(rest for _, rest in production)
    assert "--demo" not in " ".join(instructions(production, "CMD"))
    demo = stages(dockerfile)[compose["services"]["exporter"]["build"]["target"]]
    assert any("pip install" in run and "fakeaws" in run for run in instructions(demo, "RUN")), (
        "the demo target must install the fake AWS package (fakeaws/) for --demo"
    )
    assert instructions(demo, "USER")[-1].split(":")[0] not in {"root", "0"}


def _ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents decides."""
    parts = PurePosixPath(path).parts
    candidates = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    ignored = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        pattern = pattern.lstrip("!").strip("/")
        if any(
            fnmatch.fnmatchcase(c, pattern) or fnmatch.fnmatchcase(c, pattern.replace("**/", "")) for c in candidates
        ):
            ignored = not negated
    return ignored


def test_every_copied_file_exists_and_reaches_the_build(dockerfile):
    patterns = [
        line.strip() for line in DOCKERIGNORE.read_text().splitlines() if line.strip() and not line.startswith("#")
    ]
    sources = [
        source
        for args in instructions(dockerfile, "COPY")
        if not args.startswith("--from")
        for source in exec_form(args)[:-1]
        if not source.startswith("--")
    ]
    assert sources
    for source in sources:
        assert (REPO / source).exists(), f"COPY {source}: no such file in the repository"
        assert not _ignored(source, patterns), f"COPY {source}: excluded by .dockerignore"
    for heavy in (".venv", ".git", "tests", "exporter/__pycache__"):
        assert _ignored(heavy, patterns), f"{heavy} would be sent to the Docker daemon"


def test_the_demo_target_copies_the_fake_package(dockerfile):
    patterns = [
        line.strip() for line in DOCKERIGNORE.read_text().splitlines() if line.strip() and not line.startswith("#")
    ]
    assert (REPO / "fakeaws" / "pyproject.toml").is_file(), "fakeaws/ (the fake AWS package) does not exist yet"
    assert not _ignored("fakeaws/pyproject.toml", patterns)


def test_base_image_is_pinned_by_patch_release_and_digest(dockerfile):
    names = set(stages(dockerfile))
    bases = [rest.split()[0] for kw, rest in dockerfile if kw == "FROM" and rest.split()[0] not in names]
    assert bases
    for base in bases:
        assert re.fullmatch(r"python:\d+\.\d+\.\d+-slim-\w+@sha256:[0-9a-f]{64}", base), base
    assert len(set(bases)) == 1, "builder and runtime must use the same base"
