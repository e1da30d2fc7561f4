"""A fake AWS organization: moto's server, extended with what moto lacks for root-user state.

``FakeAws`` runs moto's WSGI application in a thread on a loopback port, behind a middleware that
answers the calls moto does not know or gets wrong for the root user, and hands every other call
to moto unchanged:

* ``iam:GetAccountSummary`` with the root user's MFA, keys, certificates and password;
* the credential report with a ``<root_account>`` row, a real ``GeneratedTime``, four-hour reuse,
  ``ReportInProgress`` and ``ReportExpired``;
* ``iam:ListVirtualMFADevices`` including root's virtual devices;
* ``sts:AssumeRoot`` and the calls made with its credentials (the root-task policies);
* ``iam:ListOrganizationsFeatures``;
* ``cloudtrail:LookupEvents`` over console sign-in events;
* the organization's trails in members' ``DescribeTrails``, ``GetTrailStatus``, ``GetEventSelectors``;
* injected errors (``fail``) and latency (``set_latency``) for any action;
* short-lived AssumeRole credentials, refused once expired (``set_assume_role_lifetime``).

Every request is recorded as a ``FakeCall`` (``calls``) with the parameters it was sent with.

The root user of every account is a mutable ``FakeRoot``; the fake answers from it on each call.
moto keeps its state in module-level dictionaries, so one process runs one ``FakeAws`` at a time:
``start`` resets moto and refuses to run while another instance is running.
"""

from __future__ import annotations

import math
import threading
from typing import Any, Callable, Optional

from fakeaws.cloudtrail import CloudTrailService
from fakeaws.dispatch import Dispatch, _Middleware
from fakeaws.iam import IamService
from fakeaws.model import MANAGEMENT_ACCOUNT_ID, FakeCall, FakeRoot, _Failure
from fakeaws.organizations import OrganizationsService
from fakeaws.root_sessions import RootSessions


class FakeAws(Dispatch, IamService, OrganizationsService, RootSessions, CloudTrailService):
    """moto's server plus the root-user calls moto lacks; see the module docstring."""

    MANAGEMENT_ACCOUNT_ID = MANAGEMENT_ACCOUNT_ID
    _running: Optional["FakeAws"] = None
    _running_lock = threading.Lock()

    # ------------------------------------------------------------ lifecycle

    def start(self) -> str:
        """Reset moto, serve on ``host:port`` (0 = a free port) and return the endpoint URL."""
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        with FakeAws._running_lock:
            if FakeAws._running is not None:
                raise RuntimeError(
                    "another FakeAws is running in this process; moto's state is process-wide, stop it first"
                )
            FakeAws._running = self
        try:
            _reset_moto()

            class QuietHandler(MotoRequestHandler):
                def log_request(self, *args: Any, **kwargs: Any) -> None:
                    pass

            moto_app = DomainDispatcherApplication(create_backend_app)
            self._server = make_server(
                self.host,
                self.port,
                _Middleware(self, moto_app),
                threaded=True,
                request_handler=QuietHandler,
            )
        except BaseException:
            with FakeAws._running_lock:
                FakeAws._running = None
            raise
        host, port = self._server.server_address[:2]
        self.endpoint_url = f"http://{host}:{port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-aws", daemon=True)
        self._thread.start()
        return self.endpoint_url

    def stop(self) -> None:
        """Stop serving, forget moto's state and let another FakeAws start."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        with FakeAws._running_lock:
            if FakeAws._running is self:
                _reset_moto()
                FakeAws._running = None

    def __enter__(self) -> "FakeAws":
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def env(self) -> dict[str, str]:
        """Environment for a subprocess whose default boto3 credential chain should reach us."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "AWS_STS_REGIONAL_ENDPOINTS": "regional",
            "AWS_EC2_METADATA_DISABLED": "true",
            # keep the user's ~/.aws files (profiles, endpoints, credential_process) out of it
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        }

    def root(self, account_id: str) -> FakeRoot:
        with self._lock:
            return self._account(account_id).root

    def set_root(self, account_id: str, root: FakeRoot) -> None:
        with self._lock:
            account = self._account(account_id)
            account.root = root
            self._normalize(account)

    # ------------------------------------------------------------ faults and reports

    def set_assume_role_lifetime(self, seconds: Optional[float]) -> None:
        """AssumeRole credentials issued from now on expire ``seconds`` after issue (None = the
        DurationSeconds asked for, as moto answers), and a request signed with them after that
        answers ``ExpiredToken`` as AWS does; moto neither shortens nor checks them."""
        with self._lock:
            self._role_lifetime = None if seconds is None else float(seconds)

    def fail(
        self,
        account_id: str,
        action: str,
        code: Optional[str] = None,
        message: Optional[str] = None,
        status: int = 403,
        times: Optional[int] = None,
    ) -> None:
        """Answer ``action`` for ``account_id`` with an error (next ``times`` calls; None = always).

        The account is the role's account for AssumeRole, TargetPrincipal for AssumeRoot and the
        calling account otherwise. ``code`` None = the service's access-denied code
        (``AccessDenied`` for IAM/STS, ``AccessDeniedException`` for JSON services).
        """
        with self._lock:
            self._failures[(account_id, action)] = _Failure(code, message, status, times)

    def clear_failures(self, account_id: Optional[str] = None) -> None:
        """Forget injected errors (of one account when ``account_id`` is given)."""
        with self._lock:
            if account_id is None:
                self._failures.clear()
            else:
                for key in [key for key in self._failures if key[0] == account_id]:
                    del self._failures[key]

    def set_latency(self, seconds: float, action: Optional[str] = None, account_id: Optional[str] = None) -> None:
        """Every matching request waits ``seconds`` before it is answered (until ``clear_latency``).

        ``action`` None = any action; ``account_id`` None = any account, which is matched as in
        ``fail``: the role's account for AssumeRole, TargetPrincipal for AssumeRoot, the calling
        account otherwise. When several settings match, the most specific one applies: action and
        account, then account, then action, then neither; so ``set_latency(0, account_id=x)``
        exempts ``x`` from a latency set for every account. The wait holds no lock: the server
        answers each request in its own thread, and concurrent requests wait side by side. The
        request is recorded in ``calls`` on arrival, before it waits; injected errors come after.
        """
        seconds = float(seconds)
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"latency must be a finite number of seconds >= 0, not {seconds!r}")
        with self._lock:
            self._latency[(action, account_id)] = seconds

    def clear_latency(self) -> None:
        """Forget every latency setting: requests are answered at once again."""
        with self._lock:
            self._latency.clear()

    # ------------------------------------------------------------ calls

    @property
    def calls(self) -> list[FakeCall]:
        """A copy of every call received so far, oldest first."""
        with self._lock:
            return list(self._calls)

    def calls_to(self, action: str, account_id: Optional[str] = None) -> list[FakeCall]:
        """The calls of ``action`` (made by ``account_id``, the calling account, when given)."""
        return [
            call
            for call in self.calls
            if call.action == action and (account_id is None or call.account_id == account_id)
        ]

    def root_session_keys(self, account_id: str) -> list[str]:
        """Access key ids of the AssumeRoot sessions issued for ``account_id``, oldest first."""
        with self._lock:
            return [key for key, session in self._sessions.items() if session.account_id == account_id]

    def clear_calls(self) -> None:
        with self._lock:
            self._calls.clear()

    _HANDLERS: dict[tuple[str, str], Callable] = {
        ("iam", "GetAccountSummary"): IamService._get_account_summary,
        ("iam", "GenerateCredentialReport"): IamService._generate_credential_report,
        ("iam", "GetCredentialReport"): IamService._get_credential_report,
        ("iam", "ListVirtualMFADevices"): IamService._list_virtual_mfa_devices,
        ("iam", "ListOrganizationsFeatures"): OrganizationsService._list_organizations_features,
        ("sts", "AssumeRoot"): RootSessions._assume_root,
        ("cloudtrail", "LookupEvents"): CloudTrailService._lookup_events,
        ("cloudtrail", "DescribeTrails"): CloudTrailService._describe_trails,
        ("cloudtrail", "GetTrailStatus"): CloudTrailService._get_trail_status,
        ("cloudtrail", "GetEventSelectors"): CloudTrailService._get_event_selectors,
    }


def _reset_moto() -> None:
    from moto.core.base_backend import BackendDict
    from moto.organizations.models import organizations_backends

    BackendDict.reset()
    organizations_backends.master_accounts.clear()
