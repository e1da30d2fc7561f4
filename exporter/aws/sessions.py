"""AWS sessions and clients for every account the exporter reads.

The account whose credentials the exporter runs with (``sts:GetCallerIdentity``) is read
directly. Every other account is read through ``sts:AssumeRole`` with credentials that botocore
refreshes before they expire (one light credentials object per account).

Memory is bounded by the number of services, not of accounts: every member account is read
through ONE client per (service, region), whose credentials are an ``AccountCredentials``
resolving, at each request, to the credentials of the account the calling thread acts for
(``acting_for``, a ``contextvars.ContextVar``; botocore's signer asks its credentials for
``get_frozen_credentials()`` on every request). A request made outside ``acting_for`` raises
``NoAccountSelected`` instead of signing with some other account's keys.

botocore's standard retry mode keeps a retry quota (a token bucket) per client; with one client
for every account, one throttled account would drain it and leave every other account without
retries. The shared clients therefore retry without that quota (``_without_retry_quota``):
``aws.max_attempts`` and the per-account deadlines bound the retries instead.

Members under centralized root access can also be read through short ``sts:AssumeRoot``
sessions (see ``root_session_client``). Credentials come from the standard AWS chain; endpoints
from the standard environment (``AWS_ENDPOINT_URL``…).
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Iterator, Optional

import boto3
import botocore.session
from botocore.config import Config as BotoConfig
from botocore.credentials import Credentials, DeferredRefreshableCredentials, ReadOnlyCredentials
from botocore.retries import standard as standard_retries

from exporter import __version__
from exporter.aws.arns import partition, role_arn_for
from exporter.config import Config
from exporter.root_activity import OWN_AUDIT_SESSIONS
from exporter.state import Account

ROOT_AUDIT_TASK_POLICY = "arn:aws:iam::aws:policy/root-task/IAMAuditRootUserCredentials"
ASSUME_ROLE_SECONDS = 3600
ASSUME_ROOT_SECONDS = 900  # the most AssumeRoot allows
CONNECT_TIMEOUT = 5.0  # seconds, per attempt
READ_TIMEOUT = 30.0  # seconds, per attempt


class NoAccountSelected(RuntimeError):
    """A request through a shared member client outside ``AwsAccess.acting_for``."""


# (account id, its credentials; None for the home account) the current thread acts for; None
# outside acting_for.
_acting_for: ContextVar[Optional[tuple[str, Optional[Credentials]]]] = ContextVar("aws_account", default=None)


def acting_account_id() -> Optional[str]:
    """The account the current thread acts for (``AwsAccess.acting_for``), or None."""
    acting = _acting_for.get()
    return acting[0] if acting else None


class AccountCredentials(Credentials):
    """The credentials of the account the current context acts for, looked up per request."""

    def __init__(self) -> None:  # no keys of its own
        self.method = "acting-for-account"

    @staticmethod
    def _current() -> Credentials:
        acting = _acting_for.get()
        if acting is None or acting[1] is None:
            raise NoAccountSelected("a member account's client was used outside AwsAccess.acting_for")
        return acting[1]

    def get_frozen_credentials(self) -> ReadOnlyCredentials:
        return self._current().get_frozen_credentials()

    @property
    def access_key(self) -> str:
        return self._current().access_key

    @property
    def secret_key(self) -> str:
        return self._current().secret_key

    @property
    def token(self) -> Optional[str]:
        return self._current().token

    @property
    def account_id(self) -> Optional[str]:
        acting = _acting_for.get()
        return acting[0] if acting else None


class _NoRetryQuota:
    """A retry quota that never runs out (see the module docstring)."""

    def acquire_retry_quota(self, context: Any) -> bool:
        return True

    def release_retry_quota(self, context: Any, http_response: Any, **kwargs: Any) -> None:
        return None


def _without_retry_quota(client: Any, max_attempts: int) -> Any:
    """Replace botocore's standard-mode retry handler of ``client`` by the same policy without
    the per-client retry quota."""
    service = client.meta.service_model.service_id.hyphenize()
    unique_id = f"retry-config-{service}"
    client.meta.events.unregister(f"needs-retry.{service}", unique_id=unique_id)
    adapter = standard_retries.RetryEventAdapter()
    detector = standard_retries.ThrottlingErrorDetector(adapter)
    handler = standard_retries.RetryHandler(
        retry_policy=standard_retries.RetryPolicy(
            retry_checker=standard_retries.StandardRetryConditions(max_attempts=max_attempts),
            retry_backoff=standard_retries.ExponentialBackoff(service_name=service, throttling_detector=detector),
        ),
        retry_event_adapter=adapter,
        retry_quota=_NoRetryQuota(),
        service_name=service,
    )
    client.meta.events.register(f"needs-retry.{service}", handler.needs_retry, unique_id=unique_id)
    return client


class AwsAccess:
    """Hands out boto3 clients per account; thread-safe."""

    def __init__(self, config: Config, base_session: Optional[boto3.Session] = None):
        self._config = config
        self._given_base = base_session
        self._client_config = BotoConfig(
            # total_max_attempts counts the first try; botocore's max_attempts would count retries only.
            retries={"mode": "standard", "total_max_attempts": config.aws.max_attempts},
            # A hung call is cut by these first; the per-account deadline bounds the whole fetch.
            connect_timeout=min(CONNECT_TIMEOUT, min(config.collection.deadlines.values(), default=CONNECT_TIMEOUT)),
            read_timeout=min(READ_TIMEOUT, min(config.collection.deadlines.values(), default=READ_TIMEOUT)),
            max_pool_connections=max(10, config.collection.concurrency + 2),
            user_agent_extra=f"aws-root-exporter/{__version__}",
        )
        self._lock = threading.Lock()
        self._credentials: dict[str, Credentials] = {}  # member account id -> its AssumeRole credentials
        self._clients: dict[tuple[str, str, str], Any] = {}  # ("" home | "*" members, service, region)
        self._members: Optional[boto3.Session] = None  # signs with AccountCredentials
        self._home_account_id: Optional[str] = None

    @property
    def _base(self) -> boto3.Session:
        """The session of the standard credential chain, made on first use: a broken chain (an
        AWS_PROFILE that names no profile) then fails the first discovery, which is logged with
        advice and retried, instead of the start."""
        if self._given_base is None:
            session = boto3.Session(region_name=self._config.aws.region)
            with self._lock:
                if self._given_base is None:
                    self._given_base = session
        return self._given_base

    # ------------------------------------------------------------------ identity

    @property
    def home_account_id(self) -> str:
        """The account whose credentials the exporter runs with (``sts:GetCallerIdentity``, once)."""
        if self._home_account_id is None:
            self._home_account_id = self._base_client("sts").get_caller_identity()["Account"]
        return self._home_account_id

    def role_arn(self, account: Account) -> str:
        return account.role_arn or role_arn_for(self._config, account.id)

    # ------------------------------------------------------------------ clients

    def _base_client(self, service: str, region: Optional[str] = None) -> Any:
        return self._cached(("", service, region or self._config.aws.region), self._base)

    def client(self, account: Account, service: str, region: Optional[str] = None) -> Any:
        """A client acting in ``account``: directly for the home account, else via AssumeRole.

        A member's client is shared by every member account; call it inside
        ``acting_for(account)`` (the collection does for every fetch), else ``NoAccountSelected``.
        """
        region = region or self._config.aws.region
        if self._is_home(account):
            return self._base_client(service, region)
        acting = _acting_for.get()
        if acting is None or acting[0] != account.id:
            raise NoAccountSelected(f"client for account {account.id} asked for outside acting_for({account.id})")
        return self._cached(("*", service, region), self._member_session())

    def _is_home(self, account: Account) -> bool:
        return account.id == self.home_account_id and not account.role_arn

    @contextmanager
    def acting_for(self, account: Account) -> Iterator[None]:
        """Within this block (in this thread), member clients sign with ``account``'s credentials."""
        credentials = None if self._is_home(account) else self._assumed_credentials(account)
        token = _acting_for.set((account.id, credentials))
        try:
            yield
        finally:
            _acting_for.reset(token)

    def retain(self, account_ids: set[str]) -> None:
        """Drop the credentials of every account not in ``account_ids`` (accounts that left the
        organization or the selection); the exporter's own account is kept."""
        with self._lock:
            for account_id in [account_id for account_id in self._credentials if account_id not in account_ids]:
                del self._credentials[account_id]

    def cached_account_ids(self) -> set[str]:
        """Accounts with cached credentials (the exporter's own account is not listed)."""
        with self._lock:
            return set(self._credentials)

    def _cached(self, key: tuple[str, str, str], session: boto3.Session) -> Any:
        with self._lock:  # boto3 sessions are not thread-safe; clients are
            client = self._clients.get(key)
            if client is None:
                client = session.client(key[1], region_name=key[2], config=self._client_config)
                if key[0] == "*":
                    _without_retry_quota(client, self._config.aws.max_attempts)
                self._clients[key] = client
            return client

    def _member_session(self) -> boto3.Session:
        """The session of the shared member clients: the base session's models, AccountCredentials."""
        if self._members is None:
            base = self._base
            core = botocore.session.Session()
            # Share the base session's loader: the service models are parsed and held once.
            core.register_component("data_loader", base._session.get_component("data_loader"))
            core._credentials = AccountCredentials()
            session = boto3.Session(botocore_session=core, region_name=self._config.aws.region)
            with self._lock:
                if self._members is None:
                    self._members = session
        return self._members

    def _assumed_credentials(self, account: Account) -> Credentials:
        with self._lock:
            credentials = self._credentials.get(account.id)
            if credentials is not None:
                return credentials
        role_arn = self.role_arn(account)
        sts = self._base_client("sts")

        def refresh() -> dict[str, str]:
            params: dict[str, Any] = {
                "RoleArn": role_arn,
                "RoleSessionName": self._config.accounts.session_name,
                "DurationSeconds": ASSUME_ROLE_SECONDS,
            }
            if self._config.accounts.external_id:
                params["ExternalId"] = self._config.accounts.external_id
            response = sts.assume_role(**params)["Credentials"]
            return _credential_metadata(response)

        # Refreshed by botocore before they expire, on the first request after that point.
        credentials = DeferredRefreshableCredentials(refresh_using=refresh, method="sts-assume-role")
        with self._lock:
            return self._credentials.setdefault(account.id, credentials)

    def root_session_client(self, account_id: str, service: str = "iam") -> Any:
        """A client in a fresh ``sts:AssumeRoot`` session on ``account_id``'s root user.

        The session lasts at most 15 minutes and allows only the audit task policy's read calls,
        so it is made per run rather than cached.
        """
        region = self._config.aws.region
        credentials = self._base_client("sts", region).assume_root(
            TargetPrincipal=account_id,
            TaskPolicyArn={"arn": ROOT_AUDIT_TASK_POLICY.replace("arn:aws:", f"arn:{partition(region)}:", 1)},
            DurationSeconds=ASSUME_ROOT_SECONDS,
        )["Credentials"]
        # The records this session leaves in the member are the exporter's own audit, not root activity.
        OWN_AUDIT_SESSIONS.record(credentials["AccessKeyId"], credentials["Expiration"].timestamp())
        with self._lock:  # a client from the shared session costs ~3 ms, a new session ~100 ms
            return self._base.client(
                service,
                region_name=region,
                config=self._client_config,
                aws_access_key_id=credentials["AccessKeyId"],
                aws_secret_access_key=credentials["SecretAccessKey"],
                aws_session_token=credentials["SessionToken"],
            )


def _credential_metadata(credentials: dict[str, Any]) -> dict[str, str]:
    return {
        "access_key": credentials["AccessKeyId"],
        "secret_key": credentials["SecretAccessKey"],
        "token": credentials["SessionToken"],
        "expiry_time": credentials["Expiration"].isoformat(),
    }
