"""The event path's heartbeat alert in real Prometheus: the real exporter long-polls a queue of the
fake AWS; when the newest heartbeat on it is older than 15 minutes, AWSRootEventStreamSilent fires,
and a fresh heartbeat resolves it."""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone

import boto3
import pytest
import yaml

from exporter.sources.root_events import HEARTBEAT_DETAIL_TYPE, HEARTBEAT_SOURCE
from tests.e2e.conftest import ALERTS, PROMETHEUS_CONFIG, JOB, shortened_alert_rules
from tests.integration.conftest import running_fake
from tests.support.exporter import start_exporter
from tests.support.net import wait_for
from tests.support.prometheus import PrometheusServer

pytestmark = pytest.mark.e2e
ALERT = "AWSRootEventStreamSilent"


def heartbeat(sent: float) -> str:
    """A heartbeat as EventBridge puts it on the queue (what the templates' schedule sends)."""
    return json.dumps(
        {
            "version": "0",
            "id": f"hb-{sent}",
            "detail-type": HEARTBEAT_DETAIL_TYPE,
            "source": HEARTBEAT_SOURCE,
            "account": "123456789012",
            "time": datetime.fromtimestamp(sent, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": "us-east-1",
            "resources": [],
            "detail": {},
        }
    )


def prometheus_config(exporter_port: int) -> str:
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    config["global"].update(scrape_interval="1s", scrape_timeout="1s", evaluation_interval="1s")
    config["scrape_configs"] = [
        {
            "job_name": JOB,
            "scrape_interval": "1s",
            "scrape_timeout": "1s",
            "static_configs": [{"targets": [f"127.0.0.1:{exporter_port}"]}],
        }
    ]
    config.pop("alerting", None)
    return yaml.safe_dump(config, sort_keys=False)


def state_of(prometheus, name: str) -> str:
    states = [alert["state"] for alert in prometheus.alerts() if alert["labels"]["alertname"] == name]
    return states[0] if states else "inactive"


def test_heartbeat_silence_fires_and_a_fresh_heartbeat_resolves(tmp_path):
    assert ALERTS.exists()
    with running_fake() as fake:
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(QueueName="root-events")["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody=heartbeat(time.time() - 20 * 60))  # the newest is 20 min old
        config = tmp_path / "config.yaml"
        config.write_text(
            yaml.safe_dump({"accounts": {"root_audit": "off"}, "collection": {"root_events": {"queue_url": url}}})
        )
        exporter = start_exporter(["--config.file", str(config)], env=fake.env())
        prometheus = None
        try:
            prometheus = PrometheusServer(
                prometheus_config(exporter.port), rule_files={"alerts.yml": shortened_alert_rules()}
            )
            started = time.time()
            wait_for(lambda: state_of(prometheus, ALERT) == "firing", 60, f"{ALERT} to fire", interval=0.5)
            print(f"\n{ALERT} firing {time.time() - started:.1f} s after Prometheus started")
            firing = [a for a in prometheus.alerts() if a["labels"]["alertname"] == ALERT][0]
            assert firing["labels"]["severity"] == "critical"
            assert firing["labels"]["instance"] in firing["annotations"]["description"]

            sqs.send_message(QueueUrl=url, MessageBody=heartbeat(time.time()))
            wait_for(lambda: state_of(prometheus, ALERT) == "inactive", 60, f"{ALERT} to resolve", interval=0.5)
            assert (
                sum(
                    int(v)
                    for v in sqs.get_queue_attributes(
                        QueueUrl=url,
                        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
                    )["Attributes"].values()
                )
                == 0
            )
        finally:
            if prometheus is not None:
                prometheus.stop()
            exporter.stop()
