"""The shipped alerting rules, Prometheus and Alertmanager configuration, and their runbooks.

promtool and amtool (Debian's prometheus and prometheus-alertmanager packages, installed by
`make test`) validate the files and run the unit tests in tests/alerts/; the rest checks what a
person receiving an alert relies on: a severity, a summary, a description naming the account, a
runbook link that leads somewhere, and a README that lists the alert.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
ALERTS = REPO / "prometheus" / "alerts.yml"
PROMETHEUS_CONFIG = REPO / "prometheus" / "prometheus.yml"
ALERTMANAGER_CONFIG = REPO / "alertmanager" / "alertmanager.yml"
RUNBOOKS = REPO / "docs" / "runbooks.md"
README = REPO / "README.md"
UNIT_TESTS = sorted((REPO / "tests" / "alerts").glob("*.test.yml"))
RUNBOOK_BASE = "https://github.com/aws-root-exporter/aws-root-exporter/blob/main/docs/runbooks.md#"
SEVERITIES = {"critical", "warning", "info"}
ORGANIZATION_WIDE = {"AWSRootEventStreamSilent"}  # about the exporter's event path, not one account


def tool(name: str, package: str) -> str:
    path = Path("/usr/bin") / name
    if path.exists():
        return str(path)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: `make test` installs Debian's {package} package")
    return found


def run(command: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)


def load_rules() -> list[dict]:
    return [rule for group in yaml.safe_load(ALERTS.read_text())["groups"] for rule in group["rules"]]


ALERT_RULES = [rule for rule in load_rules() if "alert" in rule]
ALERT_NAMES = [rule["alert"] for rule in ALERT_RULES]


def parse_duration(text: str) -> int:
    """Seconds of a Prometheus duration such as ``1h30m`` or ``15m``."""
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
    parts = re.findall(r"(\d+)(ms|s|m|h|d|w|y)", str(text))
    assert parts and "".join(n + u for n, u in parts) == str(text), f"not a duration: {text!r}"
    return int(sum(int(n) * units[u] for n, u in parts))


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading: lower case, punctuation dropped, spaces to -."""
    slug = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return slug.replace(" ", "-")


def runbook_anchors() -> list[str]:
    headings = re.findall(r"^#{1,6}\s+(.+?)\s*#*\s*$", RUNBOOKS.read_text(), flags=re.MULTILINE)
    return [github_anchor(heading) for heading in headings]


def unit_test_cases() -> list[dict]:
    cases = []
    for path in UNIT_TESTS:
        for group in yaml.safe_load(path.read_text())["tests"]:
            for case in group.get("alert_rule_test", []):
                cases.append({**case, "file": path.name, "group": group["name"]})
    return cases


# ------------------------------------------------------------------------ promtool and amtool


def test_promtool_check_rules():
    result = run([tool("promtool", "prometheus"), "check", "rules", str(ALERTS)])
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_tests_pass():
    assert UNIT_TESTS, "no promtool unit tests in tests/alerts/*.test.yml"
    result = run([tool("promtool", "prometheus"), "test", "rules", *map(str, UNIT_TESTS)])
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_check_prometheus_config(tmp_path):
    # A copy next to a copy of the rules: the check resolves rule_files relative to the config.
    shutil.copy(PROMETHEUS_CONFIG, tmp_path / "prometheus.yml")
    shutil.copy(ALERTS, tmp_path / "alerts.yml")
    result = run([tool("promtool", "prometheus"), "check", "config", str(tmp_path / "prometheus.yml")])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 rule files found" in result.stdout, "prometheus.yml must load alerts.yml:\n" + result.stdout


def test_prometheus_config_scrapes_the_exporter():
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert "aws-root-exporter" in jobs, 'the rules select on job="aws-root-exporter"'
    targets = [t for static in jobs["aws-root-exporter"]["static_configs"] for t in static["targets"]]
    assert targets == ["localhost:10042"]
    am_targets = [t for am in config["alerting"]["alertmanagers"] for s in am["static_configs"] for t in s["targets"]]
    assert am_targets == ["localhost:9093"]


def test_amtool_check_alertmanager_config():
    result = run([tool("amtool", "prometheus-alertmanager"), "check-config", str(ALERTMANAGER_CONFIG)])
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("severity, receiver", [("critical", "pager"), ("warning", "tickets"), ("info", "tickets")])
def test_alertmanager_routes_by_severity(severity, receiver):
    result = run(
        [
            tool("amtool", "prometheus-alertmanager"),
            "config",
            "routes",
            "test",
            f"--config.file={ALERTMANAGER_CONFIG}",
            "alertname=AWSRootAccessKeyActive",
            "account_id=333333333333",
            f"severity={severity}",
        ]
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.split() == [receiver]


def test_alertmanager_groups_by_alert_and_account():
    route = yaml.safe_load(ALERTMANAGER_CONFIG.read_text())["route"]
    assert route["group_by"] == ["alertname", "account_id"]


# ---------------------------------------------------------------------- what each alert carries


def test_rule_file_has_the_alerts_the_issue_asks_for():
    assert len(ALERT_NAMES) == len(set(ALERT_NAMES)), "alert names must be unique"
    assert len(ALERT_NAMES) >= 13, ALERT_NAMES


@pytest.mark.parametrize("rule", ALERT_RULES, ids=ALERT_NAMES)
def test_alert_has_severity_and_annotations(rule):
    assert rule.get("labels", {}).get("severity") in SEVERITIES
    notes = rule.get("annotations", {})
    for key in ("summary", "description", "runbook_url"):
        assert notes.get(key, "").strip(), f"{rule['alert']} lacks annotation {key}"
    if "account_id" not in rule["expr"] and "up{" in rule["expr"]:
        return  # target health: no account to name
    if rule["alert"] in ORGANIZATION_WIDE:
        assert "$labels.instance" in notes["description"], f"{rule['alert']}: description must name the exporter"
        return
    for label in ("account_name", "account_id"):
        assert f"$labels.{label}" in notes["description"], f"{rule['alert']}: description must name {label}"


@pytest.mark.parametrize("rule", ALERT_RULES, ids=ALERT_NAMES)
def test_runbook_url_leads_to_a_section(rule):
    url = rule["annotations"]["runbook_url"]
    assert url.startswith(RUNBOOK_BASE), url
    anchor = url[len(RUNBOOK_BASE) :]
    assert anchor == rule["alert"].lower(), "anchors are the alert name in lower case"
    assert anchor in runbook_anchors(), f"docs/runbooks.md has no section #{anchor}"


def test_runbook_sections_are_unique():
    anchors = runbook_anchors()
    duplicates = {a for a in anchors if anchors.count(a) > 1}
    assert not duplicates, f"GitHub would suffix duplicate anchors: {duplicates}"


def test_rule_file_documents_its_thresholds():
    header = ALERTS.read_text().split("groups:")[0]
    for words in ("recent window", "stale factor", "report max age", "for: durations"):
        assert words in header, f"alerts.yml's header must document the {words}"


# --------------------------------------------------------------------- promtool test coverage


@pytest.mark.parametrize("rule", ALERT_RULES, ids=ALERT_NAMES)
def test_alert_is_covered_by_promtool_tests(rule):
    """A firing case, a case where it stays quiet, and, with a ``for:``, a test group where it is
    quiet less than ``for:`` before it fires (the condition alone is not enough)."""
    cases = [case for case in unit_test_cases() if case["alertname"] == rule["alert"]]
    firing = [case for case in cases if case.get("exp_alerts")]
    quiet = [case for case in cases if not case.get("exp_alerts")]
    assert firing, f"no promtool test where {rule['alert']} fires"
    assert quiet, f"no promtool test where {rule['alert']} stays quiet"
    for case in firing:
        for expected in case["exp_alerts"]:
            assert expected.get("exp_labels", {}).get("severity") == rule["labels"]["severity"]
            assert set(expected.get("exp_annotations", {})) == {"summary", "description", "runbook_url"}, (
                f"{case['file']} / {case['group']}: check every annotation"
            )
    if "for" in rule:
        hold = parse_duration(rule["for"])
        assert any(
            q["file"] == f["file"]
            and q["group"] == f["group"]
            and 0 < parse_duration(f["eval_time"]) - parse_duration(q["eval_time"]) < hold
            for q in quiet
            for f in firing
        ), f"no promtool test shows {rule['alert']} quiet during its for: {rule['for']} before firing"


# ---------------------------------------------------------------------------------- README


def test_readme_lists_every_alert():
    """README's "Alerts" section names every alert with its severity. (Checked once README.md
    exists; until then there is nothing to check.)"""
    if not README.exists():
        return
    text = README.read_text()
    section = re.search(r"^(#{1,6})\s+Alerts\b.*?$(.*?)(?=^\1\s|\Z)", text, flags=re.MULTILINE | re.DOTALL)
    assert section, 'README.md has no "Alerts" section listing the alerts of prometheus/alerts.yml'
    lines = section.group(2).splitlines()
    for rule in ALERT_RULES:
        rows = [line for line in lines if re.search(rf"\b{rule['alert']}\b", line)]
        assert rows, f"README's Alerts section does not list {rule['alert']}"
        assert any(rule["labels"]["severity"] in row for row in rows), (
            f"README's Alerts section does not give {rule['alert']}'s severity {rule['labels']['severity']}"
        )
