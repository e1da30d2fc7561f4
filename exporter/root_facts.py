"""One account's root-user facts, merged from every source that speaks of them.

Where two sources tell the same fact, the fresher wins: the account summary and the
``AssumeRoot`` audit are live, the credential report can be four hours old. So a key the live
sources say is gone is not reported active, even while the report still lists it. ``None``
means no source can tell, and the metric is left out rather than guessed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Mapping, Optional

from exporter.sources import account_summary, console_logins, credential_report, mfa_devices, root_audit
from exporter.state import (
    AccountState,
    AccountSummary,
    ConsoleLoginEvent,
    ConsoleLogins,
    CredentialReport,
    RootAudit,
    VirtualMfa,
)

MFA_KINDS = ("virtual", "fido", "hardware")


@dataclass(frozen=True)
class CredentialFacts:
    """One access key or signing certificate slot (1 or 2)."""

    active: Optional[bool]
    last_used: Optional[datetime] = None
    last_rotated: Optional[datetime] = None


@dataclass(frozen=True)
class RootFacts:
    mfa_active: Optional[bool]
    mfa_hardware: Optional[bool]
    mfa_devices: Optional[Mapping[str, int]]  # kind -> count; root_audit only
    password_enabled: Optional[bool]
    access_keys: tuple[CredentialFacts, CredentialFacts]
    certificates: tuple[CredentialFacts, CredentialFacts]
    credentials_present: Optional[bool]
    access_keys_present: Optional[bool]  # live sources only: at least one key, active or not
    signing_certificates_present: Optional[bool]
    last_console_login: Optional[datetime]
    last_console_login_event: Optional[ConsoleLoginEvent]
    report_generated: Optional[datetime]

    @property
    def without_mfa(self) -> bool:
        """Root has credentials but no MFA. A root with no credentials at all needs none."""
        return self.mfa_active is False and self.credentials_present is not False

    @property
    def has_active_key(self) -> bool:
        return any(key.active for key in self.access_keys)


def _latest(*values: Optional[datetime]) -> Optional[datetime]:
    present = [value for value in values if value is not None]
    return max(present) if present else None


def _slots(
    live_active: Optional[tuple[bool, ...]], live_present: Optional[bool], reported: Optional[tuple]
) -> tuple[CredentialFacts, CredentialFacts]:
    """Two key or certificate slots from the report, corrected by a live source.

    ``live_active`` (root audit, one status per credential, oldest first) is the truth. Else
    ``live_present`` (account summary, a 0/1 flag: none at all, or at least one) checks the
    report. Only "none" tells of a deletion: every slot is then inactive and the report's dates
    are dropped. "At least one" leaves the report's slots standing; when the report shows no
    credential at all, one was created since and fills slot 1 as active (AWS creates them
    active), and whether a second exists is unknown.
    """

    def from_report(index: int) -> CredentialFacts:
        assert reported is not None  # called only when the report has the slot
        slot = reported[index]
        return CredentialFacts(slot.active, getattr(slot, "last_used", None), slot.last_rotated)

    exists = [bool(slot.active or slot.last_rotated) for slot in reported] if reported else None
    slots: list[CredentialFacts] = []
    if live_active is not None:
        for index in range(2):
            present = index < len(live_active)
            active = present and live_active[index]
            if present and exists is not None and exists[index]:
                dated = from_report(index)
                slots.append(CredentialFacts(active, dated.last_used, dated.last_rotated))
            else:
                slots.append(CredentialFacts(active))
    elif live_present is None:
        slots = [from_report(i) if reported else CredentialFacts(None) for i in range(2)]
    elif not live_present:
        slots = [CredentialFacts(False), CredentialFacts(False)]
    elif exists is None:
        slots = [CredentialFacts(None), CredentialFacts(None)]
    elif any(exists):
        slots = [from_report(i) for i in range(2)]
    else:
        slots = [CredentialFacts(True), CredentialFacts(None)]
    return slots[0], slots[1]


def root_facts(state: AccountState, include_stale: bool = False) -> RootFacts:
    """The merged facts of the current values; a stale source (past ``collection.stale_after``)
    speaks only with ``include_stale``, for the page's "last known" findings."""
    value = state.value if include_stale else state.current
    summary: Optional[AccountSummary] = value(account_summary.NAME)
    report: Optional[CredentialReport] = value(credential_report.NAME)
    virtual: Optional[VirtualMfa] = value(mfa_devices.NAME)
    audit: Optional[RootAudit] = value(root_audit.NAME)
    logins: Optional[ConsoleLogins] = value(console_logins.NAME)

    # The live sources: the root audit when it is the fresher of the two, else the summary.
    live_audit = (
        audit
        if audit is not None and (summary is None or _fresher(state, root_audit.NAME, account_summary.NAME))
        else None
    )

    if live_audit is not None:
        mfa_active: Optional[bool] = bool(live_audit.mfa_devices)
        password: Optional[bool] = live_audit.password
    elif summary is not None:
        mfa_active = summary.mfa_enabled
        password = summary.password_present
    else:
        mfa_active = password = None
    if mfa_active is None and report is not None:
        mfa_active = report.mfa_active
    if password is None and report is not None:
        password = report.password_enabled

    devices: Optional[dict[str, int]] = None
    if audit is not None:
        devices = {kind: sum(1 for d in audit.mfa_devices if d.kind == kind) for kind in MFA_KINDS}
    # Only the root audit knows device kinds; a FIDO or hardware device there settles it, however
    # fresh the summary. Without one, a virtual device assigned to root means "virtual only".
    if mfa_active is False:
        hardware: Optional[bool] = False
    elif devices is not None and devices["fido"] + devices["hardware"] > 0:
        hardware = True
    elif mfa_active and virtual is not None:
        hardware = not virtual.root_has_virtual
    elif devices is not None:
        hardware = False
    else:
        hardware = None

    live_keys = live_audit.access_keys_active if live_audit is not None else None
    live_certs = live_audit.signing_certificates_active if live_audit is not None else None
    keys = _slots(
        live_keys, bool(summary.access_keys_present) if summary else None, report.access_keys if report else None
    )
    certificates = _slots(
        live_certs,
        bool(summary.signing_certificates_present) if summary else None,
        report.certificates if report else None,
    )

    if live_audit is not None:
        keys_present: Optional[bool] = bool(live_audit.access_keys_active)
        certificates_present: Optional[bool] = bool(live_audit.signing_certificates_active)
    elif summary is not None:
        keys_present = bool(summary.access_keys_present)
        certificates_present = bool(summary.signing_certificates_present)
    else:
        keys_present = certificates_present = None

    if live_audit is not None:
        present: Optional[bool] = bool(
            live_audit.password
            or live_audit.access_keys_active
            or live_audit.signing_certificates_active
            or live_audit.mfa_devices
        )
    elif summary is not None:
        evidence = (
            summary.mfa_enabled or summary.access_keys_present or summary.signing_certificates_present or bool(password)
        )
        present = True if evidence else (False if password is False else None)
    else:
        present = None

    newest = logins.newest_success if logins else None
    return RootFacts(
        mfa_active=mfa_active,
        mfa_hardware=hardware,
        mfa_devices=devices,
        password_enabled=password,
        access_keys=keys,
        certificates=certificates,
        credentials_present=present,
        access_keys_present=keys_present,
        signing_certificates_present=certificates_present,
        last_console_login=_latest(report.password_last_used if report else None, newest.time if newest else None),
        last_console_login_event=newest,
        report_generated=report.generated if report else None,
    )


def _fresher(state: AccountState, first: str, second: str) -> bool:
    """Whether ``first``'s last good value is at least as recent as ``second``'s."""
    a, b = state.sources.get(first), state.sources.get(second)
    return (a.last_success or 0) >= (b.last_success or 0) if a and b else a is not None
