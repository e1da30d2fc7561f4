"""Snapshot changes: stale-not-dropped on failure, accounts coming and going, atomic updates."""

from __future__ import annotations

import sys
import threading

from exporter.snapshot import (
    SnapshotStore,
    next_status,
    with_accounts,
    with_discovery,
    with_result,
    with_run_finished,
    without_source,
)
from exporter.state import Account, AccountSummary, Snapshot

PROD = Account(id="111111111111", name="prod")
DEV = Account(id="222222222222", name="dev")
GONE = Account(id="333333333333", name="gone")
SUMMARY = AccountSummary(mfa_enabled=True, access_keys_present=0, signing_certificates_present=0, password_present=True)


def test_success_replaces_value():
    first = next_status(None, 100.0, value="old")
    second = next_status(first, 200.0, value="new")
    assert (second.value, second.success, second.last_success, second.last_attempt) == ("new", True, 200.0, 200.0)
    assert second.error is None


def test_failure_keeps_last_good_value_and_last_success():
    good = next_status(None, 100.0, value=SUMMARY)
    failed = next_status(good, 200.0, error="Throttling (GetAccountSummary): Rate exceeded")
    assert failed.value == SUMMARY
    assert failed.success is False
    assert failed.last_success == 100.0
    assert failed.last_attempt == 200.0
    assert failed.error == "Throttling (GetAccountSummary): Rate exceeded"
    again = next_status(failed, 300.0, error="Throttling (GetAccountSummary): Rate exceeded")
    assert (again.value, again.last_success, again.last_attempt) == (SUMMARY, 100.0, 300.0)


def test_failure_without_any_success_has_no_value():
    failed = next_status(None, 200.0, error="AccessDenied (AssumeRole): not authorized")
    assert failed.value is None and failed.last_success is None and failed.success is False


def test_with_accounts_drops_leavers_keeps_sources_of_stayers_adds_newcomers():
    snapshot = with_accounts(Snapshot(), [PROD, GONE], "111111111111")
    snapshot = with_result(snapshot, PROD.id, "account_summary", 100.0, value=SUMMARY)
    snapshot = with_result(snapshot, GONE.id, "account_summary", 100.0, value=SUMMARY)

    renamed = Account(id=PROD.id, name="production")
    after = with_accounts(snapshot, [renamed, DEV], "111111111111")

    assert set(after.accounts) == {PROD.id, DEV.id}
    assert after.accounts[PROD.id].account.name == "production"
    assert after.accounts[PROD.id].value("account_summary") == SUMMARY
    assert after.accounts[PROD.id].sources["account_summary"].last_success == 100.0
    assert dict(after.accounts[DEV.id].sources) == {}
    assert after.home_account_id == "111111111111"
    assert set(snapshot.accounts) == {PROD.id, GONE.id}  # the old snapshot is untouched


def test_with_result_ignores_an_account_that_left():
    snapshot = with_accounts(Snapshot(), [PROD], PROD.id)
    after = with_result(snapshot, GONE.id, "account_summary", 100.0, value=SUMMARY)
    assert set(after.accounts) == {PROD.id}
    assert after == snapshot


def test_with_result_keeps_other_sources_and_does_not_mutate():
    snapshot = with_accounts(Snapshot(), [PROD], PROD.id)
    one = with_result(snapshot, PROD.id, "account_summary", 100.0, value=SUMMARY)
    two = with_result(one, PROD.id, "credential_report", 110.0, error="ReportTimeout: not ready after 120s")
    assert set(two.accounts[PROD.id].sources) == {"account_summary", "credential_report"}
    assert two.accounts[PROD.id].sources["credential_report"].success is False
    assert set(one.accounts[PROD.id].sources) == {"account_summary"}
    assert dict(snapshot.accounts[PROD.id].sources) == {}


def test_discovery_failure_keeps_last_success():
    snapshot = with_discovery(Snapshot(), 100.0, home_account_id=PROD.id)
    snapshot = with_discovery(snapshot, 200.0, error="TooManyRequestsException (ListAccounts): slow down")
    assert snapshot.discovery.success is False
    assert snapshot.discovery.last_success == 100.0
    assert snapshot.home_account_id == PROD.id


def test_run_finished_records_duration_and_completion():
    snapshot = with_run_finished(Snapshot(), "account_summary", 2.5)
    snapshot = with_run_finished(snapshot, "credential_report", 40.0)
    assert dict(snapshot.run_durations) == {"account_summary": 2.5, "credential_report": 40.0}
    assert snapshot.completed_sources == {"account_summary", "credential_report"}


def test_store_update_swaps_whole_snapshots():
    store = SnapshotStore()
    before = store.current
    returned = store.update(with_accounts, [PROD], PROD.id)
    assert store.current is returned
    assert set(store.current.accounts) == {PROD.id}
    assert before.accounts == {}


def test_store_update_loses_nothing_under_threads():
    accounts = [Account(id=f"{n:012d}", name=f"a{n}") for n in range(1, 9)]
    store = SnapshotStore()
    store.update(with_accounts, accounts, accounts[0].id)
    start = threading.Barrier(len(accounts))

    def worker(account: Account) -> None:
        start.wait()
        for n in range(200):
            # Each update reads the account's counter and writes it back plus one.
            store.update(
                lambda snap: with_result(
                    snap, account.id, "counter", float(n), value=(snap.accounts[account.id].value("counter") or 0) + 1
                )
            )

    threads = [threading.Thread(target=worker, args=(account,)) for account in accounts]
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible, so a race would show
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(switch)

    assert {a.id: store.current.accounts[a.id].value("counter") for a in accounts} == {a.id: 200 for a in accounts}


def test_without_source_forgets_only_that_source_of_that_account():
    snapshot = with_accounts(Snapshot(), [PROD, DEV], PROD.id)
    for account_id in (PROD.id, DEV.id):
        for source in ("account_summary", "root_audit"):
            snapshot = with_result(snapshot, account_id, source, 100.0, value=source)
    after = without_source(snapshot, DEV.id, "root_audit")
    assert set(after.accounts[DEV.id].sources) == {"account_summary"}
    assert set(after.accounts[PROD.id].sources) == {"account_summary", "root_audit"}
    assert without_source(after, GONE.id, "root_audit") is after  # unknown account: unchanged


def test_ready_only_after_a_successful_discovery_and_every_source_run_since():
    from exporter.snapshot import ready

    sources = {"discovery", "account_summary"}
    blind = with_run_finished(
        with_run_finished(with_discovery(Snapshot(), 100.0, error="NoCredentialsError: x"), "discovery", 0.1),
        "account_summary",
        0.0,
    )
    assert ready(blind, sources) is False  # every source "finished", but nothing was seen
    seen = with_discovery(blind, 200.0)
    assert ready(seen, sources) is True
    assert ready(with_discovery(seen, 300.0, error="ExpiredToken: x"), sources) is True  # once is enough
    assert ready(with_discovery(Snapshot(), 100.0), sources) is False  # sources still to run


def test_failures_are_counted_by_source_and_code_and_the_counts_survive_success_and_rediscovery():
    snapshot = with_accounts(Snapshot(), [PROD], PROD.id)
    for code in ("Throttling", "Throttling", "AccessDenied"):
        snapshot = with_result(snapshot, PROD.id, "account_summary", 100.0, error=f"{code}: x", code=code)
    snapshot = with_result(snapshot, PROD.id, "account_summary", 200.0, value=SUMMARY)
    snapshot = with_result(snapshot, PROD.id, "mfa_devices", 200.0, error="Throttling: x", code="Throttling")
    snapshot = with_accounts(snapshot, [PROD, DEV], PROD.id)
    assert dict(snapshot.accounts[PROD.id].errors) == {
        ("account_summary", "Throttling"): 2,
        ("account_summary", "AccessDenied"): 1,
        ("mfa_devices", "Throttling"): 1,
    }
    assert dict(snapshot.accounts[DEV.id].errors) == {}


def test_error_codes_per_source_are_capped_so_series_stay_bounded():
    from exporter.snapshot import MAX_ERROR_CODES, OTHER_CODE

    snapshot = with_accounts(Snapshot(), [PROD], PROD.id)
    for number in range(MAX_ERROR_CODES + 5):
        snapshot = with_result(snapshot, PROD.id, "console_logins", 1.0, error="x", code=f"Code{number}")
    snapshot = with_result(snapshot, PROD.id, "console_logins", 1.0, error="x", code="Code0")
    errors = snapshot.accounts[PROD.id].errors
    assert len(errors) == MAX_ERROR_CODES + 1
    assert errors[("console_logins", OTHER_CODE)] == 5
    assert errors[("console_logins", "Code0")] == 2


def test_values_older_than_stale_after_are_marked_stale_until_the_next_success():
    from exporter.snapshot import with_staleness

    limits = {"account_summary": 900.0, "discovery": 3000.0}
    snapshot = with_discovery(with_accounts(Snapshot(), [PROD], PROD.id), 100.0)
    snapshot = with_result(snapshot, PROD.id, "account_summary", 100.0, value=SUMMARY)

    young = with_staleness(snapshot, 1000.0, limits)  # exactly 900 s old: not yet stale
    assert young.accounts[PROD.id].sources["account_summary"].stale_since is None
    assert dict(young.stale_after) == limits
    stale = with_staleness(young, 1000.5, limits)
    status = stale.accounts[PROD.id].sources["account_summary"]
    assert status.stale_since == 1000.0 and status.value == SUMMARY  # kept, only marked
    assert stale.accounts[PROD.id].current("account_summary") is None
    assert stale.accounts[PROD.id].value("account_summary") == SUMMARY
    # Nothing changed: the very same snapshot, so an encoded exposition of it stays valid.
    assert with_staleness(stale, 1001.0, limits) is stale

    failed_again = with_result(stale, PROD.id, "account_summary", 1100.0, error="Throttling: x", code="Throttling")
    assert failed_again.accounts[PROD.id].sources["account_summary"].stale_since == 1000.0
    recovered = with_result(failed_again, PROD.id, "account_summary", 1200.0, value=SUMMARY)
    assert recovered.accounts[PROD.id].sources["account_summary"].stale_since is None
    assert recovered.accounts[PROD.id].current("account_summary") == SUMMARY

    assert with_staleness(recovered, 3200.0, limits).discovery.stale_since == 3100.0
    # A longer stale_after (a reload) makes stale data current again.
    assert with_staleness(stale, 1001.0, {"account_summary": 3600.0}).accounts[PROD.id].current("account_summary")
