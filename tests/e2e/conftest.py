"""Real Prometheus and Alertmanager around the real ``aws-root-exporter --demo``.

The shipped configuration files are the starting point; only what a test needs changes, in
copies: addresses (free loopback ports), 1-second scrape and evaluation intervals, ``for:``
durations of a few seconds, Alertmanager's grouping delays, and the webhook URLs, which lead to a
``WebhookReceiver`` in the test. The shipped files are never modified.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest
import yaml

from tests.support.alertmanager import AlertmanagerServer, WebhookReceiver
from tests.support.exporter import RunningExporter
from tests.support.net import wait_for
from tests.support.prometheus import PrometheusServer

REPO = Path(__file__).resolve().parents[2]
ALERTS = REPO / "prometheus" / "alerts.yml"
PROMETHEUS_CONFIG = REPO / "prometheus" / "prometheus.yml"
ALERTMANAGER_CONFIG = REPO / "alertmanager" / "alertmanager.yml"
JOB = "aws-root-exporter"

# Every `for:` in the test copy of alerts.yml. Not zero, so alerts still go pending → firing, and
# longer than the first scrape takes, so AWSRootExporterTargetMissing cannot fire at start-up.
TEST_FOR = "3s"


def shortened_alert_rules() -> str:
    """alerts.yml with every ``for:`` shortened to ``TEST_FOR``."""
    rules = yaml.safe_load(ALERTS.read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            if "for" in rule:
                rule["for"] = TEST_FOR
    return yaml.safe_dump(rules, sort_keys=False)


def prometheus_test_config(exporter_port: int, alertmanager_port: int) -> str:
    """prometheus.yml scraping the exporter and evaluating rules every second."""
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    config["global"].update(scrape_interval="1s", scrape_timeout="1s", evaluation_interval="1s")
    jobs = [job for job in config["scrape_configs"] if job["job_name"] == JOB]
    assert len(jobs) == 1, f"prometheus/prometheus.yml must have exactly one scrape job {JOB!r}"
    job = jobs[0]
    job.update(scrape_interval="1s", scrape_timeout="1s", static_configs=[{"targets": [f"127.0.0.1:{exporter_port}"]}])
    config["alerting"]["alertmanagers"] = [{"static_configs": [{"targets": [f"127.0.0.1:{alertmanager_port}"]}]}]
    assert config["rule_files"] == ["alerts.yml"], "the test writes its copy of the rules as alerts.yml"
    return yaml.safe_dump(config, sort_keys=False)


def alertmanager_test_config(webhook: WebhookReceiver) -> str:
    """alertmanager.yml with 1-second grouping delays and every webhook sent to ``webhook``.

    Each receiver's notifications go to ``<webhook>/<receiver name>``, so the test sees which
    receiver the shipped routing chose.
    """
    config = yaml.safe_load(ALERTMANAGER_CONFIG.read_text())

    def shorten(route: dict) -> None:
        for key in ("group_wait", "group_interval"):
            if key in route:
                route[key] = "1s"
        for child in route.get("routes", []):
            shorten(child)

    config["route"].update(group_wait="1s", group_interval="1s")
    shorten(config["route"])
    for receiver in config["receivers"]:
        hooks = receiver.get("webhook_configs")
        assert hooks and set(receiver) == {"name", "webhook_configs"}, (
            f"receiver {receiver['name']!r}: the end-to-end test can only redirect webhook receivers"
        )
        for hook in hooks:
            hook["url"] = f"{webhook.url}/{receiver['name']}"
    return yaml.safe_dump(config, sort_keys=False)


@dataclass
class PrometheusDemo:
    """Prometheus scraping the demo exporter, with alerts.yml and an Alertmanager behind it."""

    exporter: RunningExporter
    prometheus: PrometheusServer
    alertmanager: AlertmanagerServer
    webhook: WebhookReceiver

    @property
    def url(self) -> str:
        return self.prometheus.url

    def query(self, expr: str) -> list[dict]:
        return self.prometheus.query(expr)

    def alerts(self) -> list[dict]:
        return self.prometheus.alerts()

    def logs(self) -> str:
        """Every component's log, for failure messages."""
        return "\n".join(
            f"--- {name} log ---\n{text}"
            for name, text in (
                ("aws-root-exporter", self.exporter.log()),
                ("prometheus", self.prometheus.log()),
                ("alertmanager", self.alertmanager.log()),
            )
        )


@pytest.fixture(scope="session")
def prometheus_demo(demo_exporter: RunningExporter) -> Iterator[PrometheusDemo]:
    """Real Prometheus scraping ``aws-root-exporter --demo`` every second, with test copies of
    the shipped alerts.yml, prometheus.yml and alertmanager.yml; ready once a scrape succeeded."""
    webhook = WebhookReceiver()
    alertmanager = prometheus = None
    try:
        alertmanager = AlertmanagerServer(alertmanager_test_config(webhook))
        prometheus = PrometheusServer(
            prometheus_test_config(demo_exporter.port, alertmanager.port),
            rule_files={"alerts.yml": shortened_alert_rules()},
        )
        demo = PrometheusDemo(demo_exporter, prometheus, alertmanager, webhook)
        try:
            wait_for(
                lambda: prometheus.query(f'up{{job="{JOB}"}} == 1'),
                30,
                "Prometheus to scrape aws-root-exporter successfully",
            )
        except TimeoutError as error:
            raise TimeoutError(f"{error}\n{demo.logs()}") from None
        yield demo
    finally:
        for server in (prometheus, alertmanager, webhook):
            if server is not None:
                server.stop()
