"""deploy/aws: the CloudFormation templates and the plain policy documents say the same, and the
linters users and reviewers run (cfn-lint, checkov, hadolint) pass on them and on the Dockerfile."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy_policies import (
    POLICIES,
    DEPLOY,
    all_actions,
    EXPORTER_POLICY,
    EXPORTER_TEMPLATE,
    MEMBER_POLICY,
    MEMBER_TEMPLATE,
    MEMBER_TRUST_POLICY,
    REPO,
    granted,
    load_policy,
    load_template,
    statements,
    template_identity_policy,
    template_role,
)

BIN = Path(sys.executable).parent
CHECKOV = REPO / ".venv" / "checkov" / "bin" / "checkov"  # own venv: checkov pins an old boto3 (Makefile)
TEMPLATES = sorted(DEPLOY.glob("*.yaml"))


def tool(name: str, path: Path | None = None) -> str:
    found = path if path and path.exists() else (BIN / name if (BIN / name).exists() else shutil.which(name))
    assert found, f"{name} is not installed: run `make test` (it installs the test tools)"
    return str(found)


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: p.name)
def test_cfn_lint_passes(template):
    result = subprocess.run(
        [tool("cfn-lint"), "--format", "parseable", str(template)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_checkov_passes_on_templates_and_dockerfile(tmp_path):
    """Suppressions, if any, live in the templates' Metadata (checkov.skip) with a reason."""
    result = subprocess.run(
        [
            tool("checkov", CHECKOV),
            "--skip-download",
            "--quiet",
            "--compact",
            "-o",
            "json",
            "-d",
            str(DEPLOY),
            "--framework",
            "cloudformation",
            "dockerfile",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    reports = json.loads(result.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    failed = [(c["check_id"], c["file_path"], c["resource"]) for r in reports for c in r["results"]["failed_checks"]]
    assert result.returncode == 0 and not failed, failed or result.stderr[-2000:]
    dockerfile = subprocess.run(
        [
            tool("checkov", CHECKOV),
            "--skip-download",
            "--quiet",
            "--compact",
            "-f",
            str(REPO / "Dockerfile"),
            "--framework",
            "dockerfile",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert dockerfile.returncode == 0, dockerfile.stdout[-3000:]
    passed = sum(r["summary"]["passed"] for r in reports)
    assert passed >= 10, f"checkov checked almost nothing ({passed} checks): {result.stdout[-1000:]}"


def test_hadolint_passes():
    result = subprocess.run([tool("hadolint"), str(REPO / "Dockerfile")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    "template, document",
    [(EXPORTER_TEMPLATE, EXPORTER_POLICY), (MEMBER_TEMPLATE, MEMBER_POLICY)],
    ids=["exporter", "member"],
)
def test_policy_documents_grant_what_the_templates_grant(template, document):
    assert granted(template_identity_policy(template)) == granted(load_policy(document))


@pytest.mark.parametrize(
    "template, document",
    [(EXPORTER_TEMPLATE, EXPORTER_POLICY), (MEMBER_TEMPLATE, MEMBER_POLICY)],
    ids=["exporter", "member"],
)
def test_conditions_are_the_same_in_templates_and_documents(template, document):
    def conditions(doc):
        return {
            s.get("Sid"): sorted((op, key) for op, keys in s.get("Condition", {}).items() for key in keys)
            for s in statements(doc)
        }

    assert conditions(template_identity_policy(template)) == conditions(load_policy(document))


def test_member_trust_document_matches_the_template():
    template = template_role(MEMBER_TEMPLATE)["AssumeRolePolicyDocument"]
    assert granted(template) == granted(load_policy(MEMBER_TRUST_POLICY))
    (trust,) = statements(template)
    (document,) = statements(load_policy(MEMBER_TRUST_POLICY))
    assert trust["Principal"] == {"AWS": {"Ref": "ExporterRoleArn"}}, "only the exporter's role may assume it"
    assert set(document["Principal"]) == {"AWS"} and ":role/" in document["Principal"]["AWS"]
    assert document["Condition"] == {
        "StringEquals": {"sts:ExternalId": document["Condition"]["StringEquals"]["sts:ExternalId"]}
    }


def test_assume_role_is_limited_to_the_member_role_and_assume_root_to_the_audit_task():
    for document in (template_identity_policy(EXPORTER_TEMPLATE), load_policy(EXPORTER_POLICY)):
        by_sid = {s["Sid"]: s for s in statements(document)}
        assume_role = json.dumps(by_sid["ReadMembers"]["Resource"])
        assert "AwsRootExporterRead" in assume_role or "${MemberRoleName}" in assume_role
        root = by_sid["AuditMemberRoots"]
        task = json.dumps(root["Condition"]["StringEquals"]["sts:TaskPolicyArn"])
        assert task.rstrip('"}').endswith("policy/root-task/IAMAuditRootUserCredentials"), task
        assert ":root" in json.dumps(root["Resource"])


def test_member_role_name_matches_the_readme_and_exporter_template():
    member = load_template(MEMBER_TEMPLATE)["Parameters"]["RoleName"]["Default"]
    exporter = load_template(EXPORTER_TEMPLATE)["Parameters"]["MemberRoleName"]["Default"]
    assert member == exporter == "AwsRootExporterRead"
    readme = (REPO / "README.md").read_text()
    assert re.search(rf"role_name: {member}\b", readme), "README's config example must name the shipped role"
    assert "arn:aws:iam::*:role/OrganizationAccountAccessRole" not in readme


def test_organizations_delegation_policy_allows_every_organizations_read_of_the_exporter():
    """A delegated administrator reads Organizations through this resource policy (README step 1)."""
    delegation = load_policy(POLICIES / "organizations-delegation-policy.json")
    exporter = {a for a in all_actions(load_policy(EXPORTER_POLICY)) if a.startswith("organizations:")}
    assert all_actions(delegation) == exporter
    (statement,) = statements(delegation)
    assert statement["Principal"] == {"AWS": "arn:aws:iam::111122223333:root"}


def test_readme_deploy_commands_name_real_template_parameters():
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("## Deploy to AWS") : readme.index("## Configuration reference")]
    parameters = set(load_template(EXPORTER_TEMPLATE)["Parameters"]) | set(load_template(MEMBER_TEMPLATE)["Parameters"])
    named = set(re.findall(r"ParameterKey=(\w+)", section))
    for overrides in re.findall(r"--parameter-overrides\s+([^\n`]+)", section):
        named |= set(re.findall(r"(\w+)=", overrides))
    for inline in re.findall(r"`(Platform=[^`]+)`", section):  # e.g. `Platform=iam-principal TrustedPrincipalArn=<...>`
        named |= set(re.findall(r"(\w+)=", inline))
    assert named and named <= parameters, named - parameters
    platforms = load_template(EXPORTER_TEMPLATE)["Parameters"]["Platform"]["AllowedValues"]
    for platform in platforms:
        assert f"`{platform}`" in section, f"README does not explain Platform={platform}"
    for command in (
        "create-stack-set",
        "--permission-model SERVICE_MANAGED",
        "--auto-deployment Enabled=true",
        "create-stack-instances",
        "register-delegated-administrator",
        "enable-organizations-root-credentials-management",
        "enable-organizations-root-sessions",
        "--verify-config.aws",
    ):
        assert command in section, command
