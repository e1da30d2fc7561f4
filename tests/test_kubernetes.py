"""deploy/kubernetes: the kustomize base renders (real kubectl), its objects are valid for the
Kubernetes schemas (kubernetes-validate), its flags, ports and shards agree with the exporter,
and its PrometheusRule carries exactly the rules of prometheus/alerts.yml."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from exporter.cli import DEFAULT_LISTEN_ADDRESS, build_parser
from exporter.config import parse_config
from exporter.web import parse_listen_address
from tests.test_cli import run

REPO = Path(__file__).resolve().parent.parent
BASE = REPO / "deploy" / "kubernetes"
KUBERNETES_VERSION = "1.30.0"  # pod-index label since 1.28; a version EKS still supports
CUSTOM_KINDS = {"ServiceMonitor", "PrometheusRule"}  # prometheus-operator's, not in the schemas


@pytest.fixture(scope="module")
def rendered() -> dict[str, dict]:
    result = subprocess.run(["kubectl", "kustomize", str(BASE)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    objects = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    by_kind = {obj["kind"]: obj for obj in objects}
    assert len(by_kind) == len(objects)
    return by_kind


def test_renders_the_objects_of_a_sharded_exporter(rendered):
    assert set(rendered) == {
        "Namespace",
        "ServiceAccount",
        "ConfigMap",
        "Service",
        "StatefulSet",
        "ServiceMonitor",
        "PrometheusRule",
    }


def test_every_object_is_valid_for_the_kubernetes_schemas(rendered):
    for kind, obj in rendered.items():
        if kind in CUSTOM_KINDS:
            continue
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def test_a_broken_object_is_refused_by_the_validator(rendered):
    """The validator is not a pass-through: the StatefulSet with a port as a string fails."""
    broken = yaml.safe_load(yaml.safe_dump(rendered["StatefulSet"]))
    broken["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "ten thousand"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def container(rendered) -> dict:
    return rendered["StatefulSet"]["spec"]["template"]["spec"]["containers"][0]


def pod_args(rendered, ordinal: int) -> list[str]:
    """The container's args as Kubernetes expands them in the pod of ``ordinal``."""
    env = {item["name"]: item for item in container(rendered)["env"]}
    assert env["SHARD_INDEX"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.labels['apps.kubernetes.io/pod-index']"
    return [arg.replace("$(SHARD_INDEX)", str(ordinal)) for arg in container(rendered)["args"]]


def test_each_pod_ordinal_is_its_shard_and_the_count_is_the_replicas(rendered):
    replicas = rendered["StatefulSet"]["spec"]["replicas"]
    for ordinal in range(replicas):
        args = build_parser().parse_args(pod_args(rendered, ordinal))
        assert (args.shard_index, args.shard_count) == (ordinal, replicas)


def test_ports_agree_with_the_exporter(rendered):
    args = build_parser().parse_args(pod_args(rendered, 0))
    port = parse_listen_address(args.listen_address)[1]
    assert port == parse_listen_address(DEFAULT_LISTEN_ADDRESS)[1] == 10042
    ports = container(rendered)["ports"]
    assert [(p["name"], p["containerPort"]) for p in ports] == [("http", port)]
    service_ports = rendered["Service"]["spec"]["ports"]
    assert [(p["name"], p["port"], p["targetPort"]) for p in service_ports] == [("http", port, "http")]
    assert [e["port"] for e in rendered["ServiceMonitor"]["spec"]["endpoints"]] == ["http"]
    probes = container(rendered)
    assert probes["readinessProbe"]["httpGet"]["path"] == "/-/ready"
    assert probes["livenessProbe"]["httpGet"]["path"] == "/-/healthy"
    # The Service and the ServiceMonitor select the pods; its name is the job the alerts expect.
    pod_labels = rendered["StatefulSet"]["spec"]["template"]["metadata"]["labels"]
    assert rendered["Service"]["spec"]["selector"].items() <= pod_labels.items()
    assert (
        rendered["ServiceMonitor"]["spec"]["selector"]["matchLabels"].items()
        <= rendered["Service"]["metadata"]["labels"].items()
    )
    assert rendered["Service"]["metadata"]["name"] == "aws-root-exporter"
    assert 'job="aws-root-exporter"' in (REPO / "prometheus" / "alerts.yml").read_text()


def test_each_pod_verifies_its_configuration_and_flags(rendered, tmp_path):
    """The pod's flags with the ConfigMap's file, as the exporter itself checks them."""
    config_text = rendered["ConfigMap"]["data"]["config.yaml"]
    parse_config(yaml.safe_load(config_text), "configmap")
    (tmp_path / "config.yaml").write_text(config_text)
    replicas = rendered["StatefulSet"]["spec"]["replicas"]
    for ordinal in range(replicas):
        args = [
            arg.replace("/etc/aws-root-exporter/config.yaml", str(tmp_path / "config.yaml"))
            for arg in pod_args(rendered, ordinal)
        ]
        result = run([*args, "--verify-config"])
        assert result.returncode == 0, result.stderr
        assert f"shard: {ordinal} of {replicas}" in result.stdout


def test_the_prometheusrule_carries_exactly_the_rules_of_alerts_yml(rendered):
    alerts = yaml.safe_load((REPO / "prometheus" / "alerts.yml").read_text())
    rule = rendered["PrometheusRule"]
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert rule["spec"]["groups"] == alerts["groups"]
    assert sum(len(group["rules"]) for group in rule["spec"]["groups"]) >= 10


def test_the_prometheusrule_file_is_up_to_date():
    result = subprocess.run(
        [sys.executable, str(BASE / "make_prometheusrule.py"), "--check"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
