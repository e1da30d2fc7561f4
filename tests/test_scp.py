"""The SCP evaluator: what a policy surely denies to a member account's root user.

Fixtures in tests/fixtures/scp are written after AWS's published examples:
- deny-root-all.json, deny-root-except-bucket-policy.json, deny-root-except-assumed-root.json:
  https://github.com/aws-samples/service-control-policy-examples (Privileged-access-controls:
  "Deny the root user from performing actions except S3 bucket policy changes", "Prevent root
  credentials management in member accounts in AWS Organizations", which exempts sts:AssumeRoot
  sessions with a Null condition on aws:AssumedRoot)
- deny-root-stringlike-list.json, deny-root-access-keys.json: the AWS Control Tower controls
  "Disallow Actions as a Root User" and "Disallow Creation of Access Keys for the Root User",
  https://docs.aws.amazon.com/controltower/latest/controlreference/strongly-recommended-preventive-controls.html
- allow-list.json, full-aws-access.json: the allow-list strategy and the default FullAWSAccess
  policy, https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps_strategies.html
- deny-root-from-outside-network.json: a deny whose extra condition (aws:SourceIp) may not hold.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from exporter.scp import PolicyUnreadable, RootDeny, root_deny

FIXTURES = Path(__file__).parent / "fixtures" / "scp"
ROOT = "arn:aws:iam::111122223333:root"


def fixture(name: str) -> str:
    return (FIXTURES / f"{name}.json").read_text()


def deny(statement: dict, root: str = ROOT) -> RootDeny:
    return root_deny(json.dumps({"Version": "2012-10-17", "Statement": [statement]}), root)


def deny_all(condition: dict, **extra) -> RootDeny:
    return deny({"Effect": "Deny", "Action": "*", "Resource": "*", "Condition": condition, **extra})


@pytest.mark.parametrize("name", ["deny-root-all", "deny-root-stringlike-list", "deny-root-except-assumed-root"])
def test_published_deny_root_policies_deny_every_action(name):
    result = root_deny(fixture(name), ROOT)
    assert result.denies_all
    assert math.isinf(result.denied_actions)


def test_not_action_deny_is_partial():
    result = root_deny(fixture("deny-root-except-bucket-policy"), ROOT)
    assert result.denies_some and not result.denies_all
    assert math.isinf(result.denied_actions)  # every action but three


def test_specific_action_deny_is_partial_and_counted():
    result = root_deny(fixture("deny-root-access-keys"), ROOT)
    assert not result.denies_all
    assert result.denied_actions == 1
    assert result.actions == {"iam:createaccesskey"}


def test_an_extra_condition_that_may_not_hold_makes_the_deny_not_count():
    result = root_deny(fixture("deny-root-from-outside-network"), ROOT)
    assert not result.denies_some


@pytest.mark.parametrize("name", ["allow-list", "full-aws-access"])
def test_allow_policies_are_not_a_root_deny(name):
    assert not root_deny(fixture(name), ROOT).denies_some


def test_unconditional_deny_applies_to_root_too():
    result = root_deny(fixture("deny-leave-organization"), ROOT)
    assert result.actions == {"organizations:leaveorganization"} and not result.denies_all


def test_own_root_arn_exactly():
    assert deny_all({"ArnEquals": {"aws:PrincipalArn": ROOT}}).denies_all
    assert deny_all({"StringEquals": {"aws:PrincipalArn": ROOT}}).denies_all
    # another account's root: the deny does not apply here
    assert not deny_all({"ArnEquals": {"aws:PrincipalArn": "arn:aws:iam::999999999999:root"}}).denies_some
    # StringEquals has no wildcards
    assert not deny_all({"StringEquals": {"aws:PrincipalArn": "arn:aws:iam::*:root"}}).denies_some


def test_list_of_values_matches_any():
    values = ["arn:aws:iam::*:role/Admin", "arn:aws:iam::111122223333:root"]
    assert deny_all({"ArnLike": {"aws:PrincipalArn": values}}).denies_all


def test_wildcards():
    assert deny_all({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::1111222233??:root"}}).denies_all
    assert deny_all({"StringLike": {"aws:PrincipalArn": "arn:aws:iam::*"}}).denies_all
    assert not deny_all({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/*"}}).denies_some
    # ArnLike matches part by part: a pattern with too few parts matches nothing
    assert not deny_all({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*"}}).denies_some


def test_partition_of_the_root_arn_counts():
    gov = "arn:aws-us-gov:iam::111122223333:root"
    assert not deny(
        {
            "Effect": "Deny",
            "Action": "*",
            "Resource": "*",
            "Condition": {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:root"}},
        },
        gov,
    ).denies_some
    assert deny(
        {
            "Effect": "Deny",
            "Action": "*",
            "Resource": "*",
            "Condition": {"ArnLike": {"aws:PrincipalArn": "arn:*:iam::*:root"}},
        },
        gov,
    ).denies_all


def test_exemptions_of_other_principals_keep_the_root_deny():
    result = deny_all(
        {
            "ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:root"},
            "ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/BreakGlass"},
        }
    )
    assert result.denies_all


def test_negated_condition_that_exempts_root_voids_the_deny():
    assert not deny_all({"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::*:root"}}).denies_some


def test_assumed_root_conditions():
    # only sessions of sts:AssumeRoot are denied: the root's own credentials are not
    assert not deny_all(
        {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:root"}, "Null": {"aws:AssumedRoot": "false"}}
    ).denies_some
    assert deny_all(
        {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:root"}, "BoolIfExists": {"aws:AssumedRoot": "false"}}
    ).denies_all
    assert not deny_all(
        {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:root"}, "Bool": {"aws:AssumedRoot": "true"}}
    ).denies_some


def test_unknown_operator_or_key_is_not_counted():
    assert not deny_all({"ForAnyValue:StringLike": {"aws:PrincipalArn": "arn:aws:iam::*:root"}}).denies_some
    assert not deny_all({"StringEquals": {"aws:PrincipalTag/team": "x"}}).denies_some


def test_resource_principal_and_not_resource_make_it_undecidable():
    base = {"Effect": "Deny", "Action": "*", "Condition": {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:root"}}}
    assert not deny({**base, "Resource": "arn:aws:s3:::bucket/*"}).denies_some
    assert not deny({**base, "NotResource": "arn:aws:s3:::bucket/*"}).denies_some
    assert not deny({**base, "Resource": "*", "Principal": "*"}).denies_some


def test_not_action_exemptions_covered_by_another_deny_make_it_total():
    bucket = root_deny(fixture("deny-root-except-bucket-policy"), ROOT)
    s3 = deny({"Effect": "Deny", "Action": "s3:*", "Resource": "*"})
    assert not bucket.denies_all
    assert (bucket | s3).denies_all
    narrower = deny({"Effect": "Deny", "Action": "s3:GetBucketPolicy", "Resource": "*"})
    assert not (bucket | narrower).denies_all


def test_not_action_of_everything_denies_nothing():
    assert not deny({"Effect": "Deny", "NotAction": "*", "Resource": "*"}).denies_some


def test_several_statements_combine():
    document = json.dumps(
        {
            "Statement": [
                {"Effect": "Allow", "Action": "*", "Resource": "*"},
                {
                    "Effect": "Deny",
                    "Action": ["iam:CreateAccessKey", "iam:CreateLoginProfile"],
                    "Resource": "*",
                    "Condition": {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:root"}},
                },
                {"Effect": "Deny", "Action": "IAM:CreateAccessKey", "Resource": "*"},
            ]
        }
    )
    result = root_deny(document, ROOT)
    assert result.denied_actions == 2  # case-insensitive and distinct


def test_single_statement_object_is_accepted():
    document = json.dumps({"Statement": {"Effect": "Deny", "Action": "*", "Resource": "*"}})
    assert root_deny(document, ROOT).denies_all


@pytest.mark.parametrize("content", ["", "not json", "[]", '{"Statement": 3}', '{"Statement": ["x"]}'])
def test_malformed_documents_are_a_clear_error(content):
    with pytest.raises(PolicyUnreadable):
        root_deny(content, ROOT)


@pytest.mark.parametrize(
    "statement",
    [
        {"Effect": "Deny", "Action": 5, "Resource": "*"},
        {"Effect": "Deny", "Action": "*", "Resource": "*", "Condition": "x"},
        {"Effect": "Deny", "Action": "*", "Resource": "*", "Condition": {"ArnLike": {"aws:PrincipalArn": 7}}},
        {"Effect": "Deny", "Resource": "*"},
    ],
)
def test_odd_statements_deny_nothing_rather_than_fail(statement):
    assert not deny(statement).denies_some


def test_json_booleans_in_conditions_read_as_their_text():
    assert deny_all(
        {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:root"}, "Null": {"aws:AssumedRoot": True}}
    ).denies_all
    assert not deny_all(
        {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:root"}, "Null": {"aws:AssumedRoot": False}}
    ).denies_some


def test_empty_action_list_denies_nothing():
    assert not deny({"Effect": "Deny", "Action": [], "Resource": "*"}).denies_some


def test_principal_type_and_account_of_the_root_user():
    assert deny_all({"StringEquals": {"aws:PrincipalType": "Account"}}).denies_all
    assert not deny_all({"StringEquals": {"aws:PrincipalType": "AssumedRole"}}).denies_some
    assert deny_all(
        {"StringEquals": {"aws:PrincipalAccount": "111122223333", "aws:PrincipalType": "Account"}}
    ).denies_all
    assert not deny_all({"StringEquals": {"aws:PrincipalAccount": "999999999999"}}).denies_some
    assert not deny_all({"ArnLike": {"aws:PrincipalType": "Account"}}).denies_some  # not an ARN key: undecided
