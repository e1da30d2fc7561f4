"""The root event stream's CloudFormation templates are shaped like the exporter expects (the rule
patterns the tests deliver through, the heartbeat the stream recognises). cfn-lint and checkov
run over every template in tests/test_deploy_templates.py."""

from __future__ import annotations

import json
from pathlib import Path

from cfnlint.decode import decode

from exporter.sources.root_events import CENTRAL_RULE_PATTERN, HEARTBEAT_DETAIL_TYPE, HEARTBEAT_SOURCE

REPO = Path(__file__).resolve().parents[1]
TEMPLATES = sorted((REPO / "deploy" / "aws").glob("*.yaml"))
ROOT_EVENTS = REPO / "deploy" / "aws" / "root-events.yaml"
MEMBER = REPO / "deploy" / "aws" / "root-events-member.yaml"
# What members forward: the central rule without the heartbeat (which starts on the central bus).
FORWARDED = {"$or": [part for part in CENTRAL_RULE_PATTERN["$or"] if "source" not in part]}


def load(path: Path) -> dict:
    template, problems = decode(str(path))
    assert not problems, problems
    return json.loads(json.dumps(template))


def resources(template: dict, kind: str) -> dict:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}


def test_templates_exist():
    assert ROOT_EVENTS in TEMPLATES and MEMBER in TEMPLATES


def test_central_rule_sends_what_the_exporter_reads_to_the_queue():
    template = load(ROOT_EVENTS)
    rule = template["Resources"]["QueueRule"]["Properties"]
    assert rule["EventPattern"] == CENTRAL_RULE_PATTERN
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["Queue", "Arn"]}
    assert target["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}


def test_members_and_the_central_account_forward_root_activity_and_assume_root():
    member = load(MEMBER)["Resources"]["ForwardRule"]["Properties"]
    local = load(ROOT_EVENTS)["Resources"]["LocalForwardRule"]["Properties"]
    for rule in (member, local):
        assert rule["EventPattern"] == FORWARDED
        assert rule["EventBusName"] == "default"
        # read-only root calls (the audit's List/Get calls, a root's own reads) reach only such rules
        assert rule["State"] == "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"
    assert member["Targets"][0]["RoleArn"] == {"Fn::GetAtt": ["ForwardRole", "Arn"]}


def test_the_bus_admits_the_organization_only():
    policy = load(ROOT_EVENTS)["Resources"]["EventBusPolicy"]["Properties"]["Statement"]
    assert policy["Action"] == "events:PutEvents"
    assert policy["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": {"Ref": "OrganizationId"}}}


def test_the_queue_has_a_dead_letter_queue_and_admits_the_rule_only():
    template = load(ROOT_EVENTS)
    queue = template["Resources"]["Queue"]["Properties"]
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}
    (statement,) = template["Resources"]["QueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": ["QueueRule", "Arn"]}}}


def test_the_heartbeat_is_the_one_the_exporter_recognises_every_5_minutes():
    template = load(ROOT_EVENTS)
    schedule = template["Resources"]["Heartbeat"]["Properties"]
    assert schedule["Target"]["EventBridgeParameters"] == {
        "Source": HEARTBEAT_SOURCE,
        "DetailType": HEARTBEAT_DETAIL_TYPE,
    }
    assert schedule["Target"]["Arn"] == {"Fn::GetAtt": ["EventBus", "Arn"]}
    assert template["Parameters"]["HeartbeatRate"]["Default"] == "rate(5 minutes)"
