"""Discovery helpers: account state, management account, include/exclude, OU paths."""

from __future__ import annotations

import pytest

from exporter.sources.discovery import OuPaths, account_state, management_account_id, selected
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


class FakeOrganizations:
    """An organization: Root → Workloads → Prod → {a, b}; Root → Sandbox → c; Root → d."""

    PARENTS = {
        "555500000001": ("ou-ab12-prod0001", "ORGANIZATIONAL_UNIT"),
        "555500000002": ("ou-ab12-prod0001", "ORGANIZATIONAL_UNIT"),
        "555500000003": ("ou-ab12-sandbox1", "ORGANIZATIONAL_UNIT"),
        "555500000004": (ROOT_ID, "ROOT"),
        "ou-ab12-prod0001": ("ou-ab12-workload", "ORGANIZATIONAL_UNIT"),
        "ou-ab12-workload": (ROOT_ID, "ROOT"),
        "ou-ab12-sandbox1": (ROOT_ID, "ROOT"),
    }
    NAMES = {"ou-ab12-prod0001": "Prod", "ou-ab12-workload": "Workloads", "ou-ab12-sandbox1": "Sandbox"}

    def __init__(self):
        self.list_parents_calls: list[str] = []
        self.describe_calls: list[str] = []

    def list_parents(self, ChildId):
        self.list_parents_calls.append(ChildId)
        parent_id, parent_type = self.PARENTS[ChildId]
        return {"Parents": [{"Id": parent_id, "Type": parent_type}]}

    def describe_organizational_unit(self, OrganizationalUnitId):
        self.describe_calls.append(OrganizationalUnitId)
        ou_id = OrganizationalUnitId
        return {"OrganizationalUnit": {"Id": ou_id, "Arn": f"arn:aws:organizations::{MANAGEMENT}:ou/{ORG}/{ou_id}",
                                       "Name": self.NAMES[ou_id]}}


def test_ou_path_and_ids_from_the_root_down():
    paths = OuPaths(FakeOrganizations())
    assert paths.resolve("555500000001") == (
        "Root/Workloads/Prod", (ROOT_ID, "ou-ab12-workload", "ou-ab12-prod0001"))
    assert paths.resolve("555500000003") == ("Root/Sandbox", (ROOT_ID, "ou-ab12-sandbox1"))
    assert paths.resolve("555500000004") == ("Root", (ROOT_ID,))


def test_each_ou_is_described_and_asked_for_its_parent_once():
    org = FakeOrganizations()
    paths = OuPaths(org)
    for account_id in ("555500000001", "555500000002", "555500000003", "555500000004"):
        paths.resolve(account_id)
    assert sorted(org.describe_calls) == ["ou-ab12-prod0001", "ou-ab12-sandbox1", "ou-ab12-workload"]
    ou_lookups = [child for child in org.list_parents_calls if child.startswith("ou-")]
    assert sorted(ou_lookups) == ["ou-ab12-prod0001", "ou-ab12-sandbox1", "ou-ab12-workload"]
    assert len(org.list_parents_calls) == 4 + 3  # every account once, every OU once


def test_resolved_ou_ids_drive_selection():
    paths = OuPaths(FakeOrganizations())
    path, ou_ids = paths.resolve("555500000002")
    account = Account(id="555500000002", name="b", ou_path=path, ou_ids=ou_ids)
    assert selected(account, ["ou-ab12-workload"], [])
    assert not selected(account, [], ["ou-ab12-prod0001"])
