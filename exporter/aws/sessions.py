"""AWS sessions and clients for every account the exporter reads.

The account whose credentials the exporter runs with (``sts:GetCallerIdentity``) is read
directly. Every other account is read through ``sts:AssumeRole`` with credentials that botocore
refreshes before they expire, so one cached client per (account, service, region) serves every
run. Members under centralized root access can also be read through short ``sts:AssumeRoot``
sessions (see ``root_session``). Credentials come from the standard AWS chain; endpoints from
the standard environment (``AWS_ENDPOINT_URL``…).
"""

from __future__ import annotations

import threading
from typing import Any, Optional

import boto3
import botocore.session
from botocore.config import Config as BotoConfig
from botocore.credentials import DeferredRefreshableCredentials

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
        self._sessions: dict[str, boto3.Session] = {}
        self._clients: dict[tuple[str, str, str], Any] = {}
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
        """A client acting in ``account``: directly for the home account, else via AssumeRole."""
        region = region or self._config.aws.region
        if account.id == self.home_account_id and not account.role_arn:
            return self._base_client(service, region)
        return self._cached((account.id, service, region), self._assumed_session(account))

    def retain(self, account_ids: set[str]) -> None:
        """Drop the cached clients and sessions of every account not in ``account_ids`` (accounts
        that left the organization or the selection); the exporter's own account is kept."""
        with self._lock:
            for key in [key for key in self._clients if key[0] and key[0] not in account_ids]:
                del self._clients[key]
            for account_id in [account_id for account_id in self._sessions if account_id not in account_ids]:
                del self._sessions[account_id]

    def cached_account_ids(self) -> set[str]:
        """Accounts with a cached client or session (the exporter's own account is not listed)."""
        with self._lock:
            return {key[0] for key in self._clients if key[0]} | set(self._sessions)

    def _cached(self, key: tuple[str, str, str], session: boto3.Session) -> Any:
        with self._lock:  # boto3 sessions are not thread-safe; clients are
            client = self._clients.get(key)
            if client is None:
                client = session.client(key[1], region_name=key[2], config=self._client_config)
                self._clients[key] = client
            return client

    def _assumed_session(self, account: Account) -> boto3.Session:
        with self._lock:
            session = self._sessions.get(account.id)
            if session is not None:
                return session
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
            credentials = sts.assume_role(**params)["Credentials"]
            return _credential_metadata(credentials)

        core = botocore.session.Session()
        # Share the base session's loader: each botocore session would otherwise parse and hold
        # its own copy of the service models (about 12 MiB and 110 ms of CPU per account).
        core.register_component("data_loader", self._base._session.get_component("data_loader"))
        core._credentials = DeferredRefreshableCredentials(refresh_using=refresh, method="sts-assume-role")
        session = boto3.Session(botocore_session=core, region_name=self._config.aws.region)
        with self._lock:
            return self._sessions.setdefault(account.id, session)

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
                service, region_name=region, config=self._client_config,
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
