"""Discovery through Organizations (OU paths, include/exclude, states, joins and leaves) and the
static account list."""

from __future__ import annotations

import boto3

from fakeaws import FakeAccessKey, FakeRoot
from tests.integration.conftest import MGMT, Harness, new_account, only


def org_root_id(fake) -> str:
    organizations = boto3.client("organizations", endpoint_url=fake.endpoint_url, region_name="us-east-1")
    return organizations.list_roots()["Roots"][0]["Id"]


def test_accounts_carry_ou_path_ou_ids_and_management_flag(fake):
    prod = new_account(fake, ou="Workloads/Prod", name="prod-web")
    top = new_account(fake, name="top-level")
    workloads_id, prod_id = fake.create_ou("Workloads"), fake.create_ou("Workloads/Prod")
    harness = Harness()

    assert harness.run("discovery")

    accounts = harness.snapshot.accounts
    root_id = org_root_id(fake)
    assert accounts[prod].account.ou_path == "Root/Workloads/Prod"
    assert accounts[prod].account.ou_ids == (root_id, workloads_id, prod_id)
    assert accounts[prod].account.name == "prod-web"
    assert accounts[prod].account.email == "prod-web@example.com"
    assert accounts[top].account.ou_path == "Root"
    assert accounts[top].account.ou_ids == (root_id,)
    assert accounts[MGMT].account.management is True
    assert accounts[prod].account.management is False
    assert harness.snapshot.home_account_id == MGMT
    assert harness.snapshot.discovery.success is True


def test_include_by_account_id(fake):
    wanted = new_account(fake)
    other = new_account(fake)
    harness = Harness(accounts=only(wanted))

    harness.run("discovery")

    assert set(harness.snapshot.accounts) == {wanted}
    assert other not in harness.snapshot.accounts


def test_include_by_ou_selects_accounts_in_nested_ous(fake):
    nested = new_account(fake, ou="IncludeTest/Apps/Prod")
    direct = new_account(fake, ou="IncludeTest")
    outside = new_account(fake, ou="ElsewhereTest")
    harness = Harness(accounts={"include": [fake.create_ou("IncludeTest")]})

    harness.run("discovery")

    assert set(harness.snapshot.accounts) == {nested, direct}
    assert outside not in harness.snapshot.accounts
    assert harness.snapshot.accounts[nested].account.ou_path == "Root/IncludeTest/Apps/Prod"


def test_exclude_by_ou_id_and_by_account_id(fake):
    kept = new_account(fake, ou="ExcludeTest/Dev")
    in_excluded_ou = new_account(fake, ou="ExcludeTest/Prod/Payments")
    excluded_by_id = new_account(fake, ou="ExcludeTest/Dev")
    harness = Harness(
        accounts={
            "include": [fake.create_ou("ExcludeTest")],
            "exclude": [fake.create_ou("ExcludeTest/Prod"), excluded_by_id],
        }
    )

    harness.run("discovery")

    assert set(harness.snapshot.accounts) == {kept}
    assert in_excluded_ou not in harness.snapshot.accounts


def test_accounts_that_are_not_active_are_skipped(fake):
    active = new_account(fake, ou="StateTest")
    suspended = new_account(fake, ou="StateTest", state="SUSPENDED")
    closing = new_account(fake, ou="StateTest", state="PENDING_CLOSURE")
    closed = new_account(fake, ou="StateTest", state="CLOSED")
    harness = Harness(accounts={"include": [fake.create_ou("StateTest")]})

    assert harness.run("discovery")

    assert set(harness.snapshot.accounts) == {active}
    for skipped in (suspended, closing, closed):
        assert skipped not in harness.snapshot.accounts
    assert harness.snapshot.accounts[active].account.state == "ACTIVE"


def test_account_leaving_disappears_with_its_state_and_new_one_appears(fake):
    leaving = new_account(fake, ou="ChurnTest", root=FakeRoot(access_keys=[FakeAccessKey()]))
    staying = new_account(fake, ou="ChurnTest")
    harness = Harness(accounts={"include": [fake.create_ou("ChurnTest")]})
    harness.run("discovery", "account_summary")
    assert harness.value(leaving, "account_summary").access_keys_present == 1

    fake.remove_account(leaving)
    joining = new_account(fake, ou="ChurnTest")
    harness.run("discovery")

    assert set(harness.snapshot.accounts) == {staying, joining}
    # The account that stayed keeps what its sources found; the new one has none yet.
    assert harness.status(staying, "account_summary").success is True
    assert harness.state(joining).sources == {}

    harness.run("account_summary")
    assert leaving not in harness.snapshot.accounts
    assert harness.status(joining, "account_summary").success is True


def test_static_discovery_lists_the_configured_accounts(fake):
    first = new_account(fake, root=FakeRoot(access_keys=[FakeAccessKey(), FakeAccessKey()]))
    second = new_account(fake)
    unlisted = new_account(fake)
    harness = Harness(
        accounts={"discovery": "static", "static": [{"id": second, "name": "second"}, {"id": first, "name": "first"}]}
    )

    assert harness.run("discovery", "account_summary")

    assert list(harness.snapshot.accounts) == [first, second]  # sorted by id
    assert harness.state(first).account.name == "first"
    assert unlisted not in harness.snapshot.accounts
    assert harness.value(first, "account_summary").access_keys_present == 1  # a 0/1 flag
    assert harness.value(second, "account_summary").access_keys_present == 0


def organizations_calls(fake) -> list[str]:
    return [call.action for call in fake.calls if call.service == "organizations"]


def test_discovery_walks_the_ou_tree_and_its_calls_grow_with_ous_not_accounts(fake):
    first = new_account(fake, ou="WalkTest/Deep/Deeper")
    harness = Harness(accounts={"include": [fake.create_ou("WalkTest")]})
    fake.clear_calls()
    assert harness.run("discovery")
    before = organizations_calls(fake)
    assert set(before) == {"ListRoots", "ListOrganizationalUnitsForParent", "ListAccountsForParent"}
    assert harness.snapshot.accounts[first].account.ou_path == "Root/WalkTest/Deep/Deeper"

    # 30 more accounts in an OU that exists already: at most two more pages (20 accounts a page).
    added = [new_account(fake, ou="WalkTest/Deep") for _ in range(30)]
    fake.clear_calls()
    assert harness.run("discovery")
    after = organizations_calls(fake)
    assert len(after) <= len(before) + 2
    assert set(added) | {first} == set(harness.snapshot.accounts)
    assert all(harness.snapshot.accounts[a].account.ou_path == "Root/WalkTest/Deep" for a in added)
