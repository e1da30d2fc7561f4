"""The state every service of the fake shares: accounts, their root users, features, sessions, calls."""

from __future__ import annotations

import random
import string
import threading
from datetime import datetime
from typing import Any, Optional

from fakeaws.model import (
    FakeCall,
    FakeRoot,
    _Account,
    _Failure,
    _now,
    _random_chars,
    _RootSession,
)


class FakeBase:
    """The shared state; each service mixin (``iam``, ``organizations``, ...) answers from it."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self.host = host
        self.port = port
        self.endpoint_url = ""
        self.report_max_age: float = 4 * 3600  # seconds GenerateCredentialReport reuses a report
        # seconds after which GetCredentialReport answers ReportExpired (None = never)
        self.report_expiry: Optional[float] = 4 * 3600
        self._lock = threading.RLock()
        self._accounts: dict[str, _Account] = {}
        self._features: set[str] = set()
        self._failures: dict[tuple[str, str], _Failure] = {}
        self._latency: dict[tuple[Optional[str], Optional[str]], float] = {}  # (action, account)
        self._sessions: dict[str, _RootSession] = {}
        self._calls: list[FakeCall] = []
        self._event_seq = 0
        self._looping_tokens: set[str] = set()  # accounts whose LookupEvents repeats its NextToken
        self._role_lifetime: Optional[float] = None  # seconds AssumeRole credentials last (None = moto's)
        self._role_expiry: dict[str, datetime] = {}  # access key id of short-lived credentials -> expiry
        self._server: Any = None
        self._thread: Optional[threading.Thread] = None

    # ------------------------------------------------------------ internals: state

    def _account(self, account_id: str) -> _Account:
        try:
            return self._accounts[account_id]
        except KeyError:
            raise KeyError(f"unknown account {account_id}; create_account first") from None

    def _normalize(self, account: _Account) -> None:
        """Give serials to MFA devices that have none, for this account."""
        used: set[str] = set()
        for device in account.root.mfa_devices:
            if not device.serial:
                if device.kind == "virtual":
                    base = f"arn:aws:iam::{account.id}:mfa/root-account-mfa-device"
                    serial, n = base, 1
                    while serial in used:
                        n += 1
                        serial = f"{base}-{n}"
                    device.serial = serial
                elif device.kind == "fido":
                    device.serial = f"arn:aws:iam::{account.id}:u2f/root-account-mfa-device/" + _random_chars(
                        26, string.ascii_uppercase + "234567"
                    )
                else:
                    device.serial = "GAHT" + "".join(random.choice(string.digits) for _ in range(8))
            used.add(device.serial)

    def _root(self, account_id: str) -> tuple[_Account, FakeRoot]:
        """The account and its root (serials filled in); unknown accounts get an empty root."""
        account = self._accounts.get(account_id)
        if account is None:
            account = _Account(account_id, account_id, "", FakeRoot(), _now())
            self._accounts[account_id] = account
        self._normalize(account)
        return account, account.root

    def _root_created(self, account: _Account) -> datetime:
        return account.root.created or account.added
