"""Discovery helpers: account state, management account, include/exclude (the OU walk is tested
against the fake AWS in tests/integration/test_discovery.py)."""

from __future__ import annotations

import pytest

from exporter.sources.discovery import account_state, management_account_id, selected
from exporter.state import Account

ORG = "o-a1b2c3d4e5"
ROOT_ID = "r-ab12"
MANAGEMENT = "111111111111"


def test_state_is_read_before_status():
    raw = {"Id": "222222222222", "Status": "ACTIVE", "State": "SUSPENDED"}
    assert account_state(raw) == "SUSPENDED"


def test_status_is_the_fall_back():
    assert account_state({"Id": "222222222222", "Status": "PENDING_CLOSURE"}) == "PENDING_CLOSURE"
    assert account_state({"Id": "222222222222", "State": "CLOSED"}) == "CLOSED"


def test_neither_state_nor_status():
    assert account_state({"Id": "222222222222"}) not in ("ACTIVE", "")


def test_management_account_id_from_account_arn():
    arn = f"arn:aws:organizations::{MANAGEMENT}:account/{ORG}/222222222222"
    assert management_account_id(arn) == MANAGEMENT
    own = f"arn:aws:organizations::{MANAGEMENT}:account/{ORG}/{MANAGEMENT}"
    assert management_account_id(own) == MANAGEMENT


@pytest.mark.parametrize("arn", ["", "not-an-arn", "arn:aws:organizations:::account/o-x/1"])
def test_management_account_id_of_nonsense(arn):
    assert management_account_id(arn) is None


PROD = Account(id="333333333333", name="prod", ou_ids=(ROOT_ID, "ou-ab12-workload", "ou-ab12-prod0001"))
SANDBOX = Account(id="444444444444", name="sandbox", ou_ids=(ROOT_ID, "ou-ab12-sandbox1"))


def test_no_include_no_exclude_selects_everything():
    assert selected(PROD, [], []) and selected(SANDBOX, [], [])


def test_include_by_account_id():
    assert selected(PROD, ["333333333333"], [])
    assert not selected(SANDBOX, ["333333333333"], [])


def test_include_by_parent_ou_covers_nested_ous():
    assert selected(PROD, ["ou-ab12-workload"], [])  # prod sits in an OU below workload
    assert not selected(SANDBOX, ["ou-ab12-workload"], [])


def test_exclude_by_account_id_and_by_ou():
    assert not selected(PROD, [], ["333333333333"])
    assert not selected(PROD, [], ["ou-ab12-workload"])
    assert selected(SANDBOX, [], ["ou-ab12-workload"])


def test_exclude_beats_include():
    assert not selected(PROD, ["ou-ab12-workload"], ["ou-ab12-prod0001"])


def test_include_by_root_id_selects_every_account():
    assert selected(PROD, [ROOT_ID], []) and selected(SANDBOX, [ROOT_ID], [])
