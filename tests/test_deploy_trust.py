"""exporter-role.yaml deployed through the fake's CloudFormation for each Platform: the role's
trust policy lets exactly that platform's identity assume it."""

from __future__ import annotations

import os
from typing import Iterator

import boto3
import pytest

from fakeaws import MANAGEMENT_ACCOUNT_ID, FakeAws
from tests.deploy_policies import EXPORTER_TEMPLATE

ISSUER = "oidc.eks.eu-west-1.amazonaws.com/id/0123456789ABCDEF"
PLATFORMS = {
    "eks-pod-identity": (
        {},
        {"Service": "pods.eks.amazonaws.com"},
        ["sts:AssumeRole", "sts:TagSession"],
        {"StringEquals": {"aws:SourceAccount": MANAGEMENT_ACCOUNT_ID}},
    ),
    "eks-irsa": (
        {
            "EksOidcProviderArn": f"arn:aws:iam::{MANAGEMENT_ACCOUNT_ID}:oidc-provider/{ISSUER}",
            "EksOidcIssuer": ISSUER,
            "EksServiceAccount": "observability:root-exporter",
        },
        {"Federated": f"arn:aws:iam::{MANAGEMENT_ACCOUNT_ID}:oidc-provider/{ISSUER}"},
        "sts:AssumeRoleWithWebIdentity",
        {
            "StringEquals": {
                f"{ISSUER}:aud": "sts.amazonaws.com",
                f"{ISSUER}:sub": "system:serviceaccount:observability:root-exporter",
            }
        },
    ),
    "ecs": (
        {},
        {"Service": "ecs-tasks.amazonaws.com"},
        "sts:AssumeRole",
        {"StringEquals": {"aws:SourceAccount": MANAGEMENT_ACCOUNT_ID}},
    ),
    "iam-principal": (
        {"TrustedPrincipalArn": f"arn:aws:iam::{MANAGEMENT_ACCOUNT_ID}:role/ops-host"},
        {"AWS": f"arn:aws:iam::{MANAGEMENT_ACCOUNT_ID}:role/ops-host"},
        "sts:AssumeRole",
        None,
    ),
}


@pytest.fixture(scope="module")
def cloudformation() -> Iterator[tuple]:
    saved = dict(os.environ)
    with FakeAws() as fake:
        os.environ.update(fake.env())
        try:
            yield boto3.client("cloudformation"), boto3.client("iam")
        finally:
            os.environ.clear()
            os.environ.update(saved)


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_each_platform_trusts_its_own_identity_only(cloudformation, platform):
    cfn, iam = cloudformation
    parameters, principal, action, condition = PLATFORMS[platform]
    name = f"exporter-{platform}"
    cfn.create_stack(
        StackName=name,
        TemplateBody=EXPORTER_TEMPLATE.read_text(),
        Capabilities=["CAPABILITY_NAMED_IAM"],
        Parameters=[
            {"ParameterKey": k, "ParameterValue": v}
            for k, v in {"Platform": platform, "RoleName": name, **parameters}.items()
        ],
    )
    assert cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    (statement,) = iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == principal
    assert statement["Action"] == action
    assert statement.get("Condition") == condition
