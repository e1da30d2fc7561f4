"""The shipped IAM permissions, read from deploy/aws: the CloudFormation templates and the plain
policy documents. Shared by the template tests and the permission-contract test."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import yaml

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy" / "aws"
EXPORTER_TEMPLATE = DEPLOY / "exporter-role.yaml"
MEMBER_TEMPLATE = DEPLOY / "member-role.yaml"
POLICIES = DEPLOY / "policies"
EXPORTER_POLICY = POLICIES / "exporter-policy.json"
MEMBER_POLICY = POLICIES / "member-policy.json"
MEMBER_TRUST_POLICY = POLICIES / "member-trust-policy.json"


class _CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short forms: ``!Ref x`` -> ``{"Ref": x}``, ``!Sub s`` -> ``{"Fn::Sub": s}``."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_CfnLoader.add_multi_constructor("!", _intrinsic)


def load_template(path: Path) -> dict[str, Any]:
    return yaml.load(path.read_text(), Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass


def load_policy(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def _branches(value: Any) -> Iterator[Any]:
    """Every value ``value`` can take: both branches of ``Fn::If``, never ``AWS::NoValue``."""
    if isinstance(value, dict) and set(value) == {"Fn::If"}:
        _, when_true, when_false = value["Fn::If"]
        yield from _branches(when_true)
        yield from _branches(when_false)
    elif value == {"Ref": "AWS::NoValue"}:
        return
    else:
        yield value


def statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The statements of a policy document (template or JSON), every conditional one included."""
    raw = document["Statement"]
    raw = raw if isinstance(raw, list) else [raw]
    return [branch for item in raw for branch in _branches(item)]


def actions(statement: dict[str, Any]) -> set[str]:
    action = statement["Action"]
    return {action} if isinstance(action, str) else set(action)


def template_role(path: Path) -> dict[str, Any]:
    (role,) = [r["Properties"] for r in load_template(path)["Resources"].values() if r["Type"] == "AWS::IAM::Role"]
    return role


def template_identity_policy(path: Path) -> dict[str, Any]:
    """The role's inline policies as one document (every conditional statement included)."""
    role = template_role(path)
    return {
        "Version": "2012-10-17",
        "Statement": [s for policy in role["Policies"] for s in statements(policy["PolicyDocument"])],
    }


def granted(document: dict[str, Any]) -> dict[str, set[str]]:
    """Sid -> actions of the Allow statements."""
    return {s.get("Sid", ""): actions(s) for s in statements(document) if s["Effect"] == "Allow"}


def all_actions(document: dict[str, Any]) -> set[str]:
    return {a for acts in granted(document).values() for a in acts}
