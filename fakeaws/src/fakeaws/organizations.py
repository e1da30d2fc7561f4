"""Organizations (moto's backend, with exact account ids, OU paths and account states) and
``iam:ListOrganizationsFeatures``, the organization-wide centralized root access features."""

from __future__ import annotations

import json
from typing import Any, Iterable, Optional
from unittest import mock

from fakeaws import wire
from fakeaws.base import FakeBase
from fakeaws.dispatch import _Request
from fakeaws.model import (
    FEATURE_ROOT_CREDENTIALS_MANAGEMENT,
    FEATURE_ROOT_SESSIONS,
    MANAGEMENT_ACCOUNT_ID,
    FakeRoot,
    _Account,
    _AwsError,
    _now,
)

_STATUS_FOR_STATE = {
    "ACTIVE": "ACTIVE",
    "PENDING_ACTIVATION": "ACTIVE",
    "SUSPENDED": "SUSPENDED",
    "PENDING_CLOSURE": "PENDING_CLOSURE",
    "CLOSED": "SUSPENDED",
}


class OrganizationsService(FakeBase):
    def create_organization(self) -> None:
        """An organization (all features) whose management account is 123456789012."""
        backend = _org_backend()
        with self._lock:
            backend.create_organization(region="us-east-1", FeatureSet="ALL")
            master = backend.get_account_by_id(MANAGEMENT_ACCOUNT_ID)
            master.name = "management"
            master.email = "management@example.com"
            assert backend.org is not None
            backend.org.master_account_email = master.email
            self._accounts[MANAGEMENT_ACCOUNT_ID] = _Account(
                MANAGEMENT_ACCOUNT_ID, master.name, master.email, FakeRoot(), _now()
            )

    def create_ou(self, path: str) -> str:
        """The id of OU ``path`` ("Workloads/Prod") under Root, creating missing levels."""
        backend = _org_backend()
        with self._lock:
            parent = self._root_id()
            for name in [part for part in path.split("/") if part]:
                existing = [ou for ou in backend.ou if getattr(ou, "parent_id", None) == parent and ou.name == name]
                if existing:
                    parent = existing[0].id
                else:
                    parent = backend.create_organizational_unit(Name=name, ParentId=parent)["OrganizationalUnit"]["Id"]
            return parent

    def create_account(
        self,
        account_id: str,
        name: str,
        email: Optional[str] = None,
        ou: str = "",
        root: Optional[FakeRoot] = None,
        state: str = "ACTIVE",
    ) -> None:
        """A member account with exactly this id, in OU path ``ou`` ("" = Root)."""
        if len(account_id) != 12 or not account_id.isdigit():
            raise ValueError(f"account id must be 12 digits, not {account_id!r}")
        if state not in _STATUS_FOR_STATE:
            raise ValueError(f"unknown account state {state!r}")
        import moto.organizations.utils as org_utils

        backend = _org_backend()
        email = email or f"{name}@example.com"
        with self._lock:
            if any(account.id == account_id for account in backend.accounts):
                raise ValueError(f"account {account_id} already exists")
            # moto draws member ids at random; make it draw ours. Its FakeAccount also creates
            # OrganizationAccountAccessRole in the new account's IAM.
            with mock.patch.object(org_utils, "make_random_account_id", lambda: account_id):
                backend.create_account(AccountName=name, Email=email)
            account = backend.get_account_by_id(account_id)
            account.state = state
            account.status = _STATUS_FOR_STATE[state]
            if ou:
                backend.move_account(
                    AccountId=account_id,
                    SourceParentId=account.parent_id,
                    DestinationParentId=self.create_ou(ou),
                )
            self._accounts[account_id] = _Account(
                account_id, name, email, root if root is not None else FakeRoot(), _now()
            )
            self._normalize(self._accounts[account_id])

    def remove_account(self, account_id: str) -> None:
        """The account leaves the organization (its root state stays)."""
        with self._lock:
            _org_backend().remove_account_from_organization(AccountId=account_id)

    def move_account(self, account_id: str, ou: str) -> None:
        """Move a member account to OU path ``ou`` ("" = Root)."""
        backend = _org_backend()
        destination = self.create_ou(ou) if ou else self._root_id()
        with self._lock:
            account = backend.get_account_by_id(account_id)
            backend.move_account(
                AccountId=account_id, SourceParentId=account.parent_id, DestinationParentId=destination
            )

    # ------------------------------------------------------------ service control policies

    def set_scps_enabled(self, enabled: bool) -> None:
        """Switch the SERVICE_CONTROL_POLICY type on or off at the root (moto starts with it off)."""
        backend = _org_backend()
        with self._lock:
            root_id = self._root_id()
            enabled_now = any(
                t["Type"] == "SERVICE_CONTROL_POLICY" for t in backend._get_root_by_id(root_id).policy_types
            )
            if enabled and not enabled_now:
                backend.enable_policy_type(RootId=root_id, PolicyType="SERVICE_CONTROL_POLICY")
            elif not enabled and enabled_now:
                backend.disable_policy_type(RootId=root_id, PolicyType="SERVICE_CONTROL_POLICY")

    def create_scp(self, name: str, content: str | dict[str, Any], targets: Iterable[str] = ()) -> str:
        """A service control policy attached to ``targets`` (root id, OU ids, account ids); its id."""
        backend = _org_backend()
        text = content if isinstance(content, str) else json.dumps(content)
        with self._lock:
            policy_id = backend.create_policy(Name=name, Description=name, Content=text, Type="SERVICE_CONTROL_POLICY")[
                "Policy"
            ]["PolicySummary"]["Id"]
        for target in targets:
            self.attach_scp(policy_id, target)
        return policy_id

    def attach_scp(self, policy_id: str, target_id: str) -> None:
        with self._lock:
            _org_backend().attach_policy(PolicyId=policy_id, TargetId=target_id)

    def detach_scp(self, policy_id: str, target_id: str) -> None:
        with self._lock:
            _org_backend().detach_policy(PolicyId=policy_id, TargetId=target_id)

    @property
    def root_id(self) -> str:
        """The id of the organization root (r-...)."""
        with self._lock:
            return self._root_id()

    def set_organization_features(self, root_credentials_management: bool, root_sessions: bool) -> None:
        with self._lock:
            self._features = set()
            if root_credentials_management:
                self._features.add(FEATURE_ROOT_CREDENTIALS_MANAGEMENT)
            if root_sessions:
                self._features.add(FEATURE_ROOT_SESSIONS)

    def _root_id(self) -> str:
        backend = _org_backend()
        if backend.org is None:
            raise RuntimeError("create_organization first")
        return backend.org.root_id

    def _org_member_ids(self) -> set[str]:
        backend = _org_backend()
        return {account.id for account in backend.accounts} if backend.org else set()

    def _list_organizations_features(self, request: _Request, account_id: str) -> wire.Response:
        backend = _org_backend()
        with self._lock:
            if backend.org is None:
                raise _AwsError(
                    "OrganizationNotFoundException",
                    "The request was rejected because no organization is associated with your account.",
                )
            if account_id != backend.org.master_account_id:
                raise _AwsError(
                    "AccountNotManagementOrDelegatedAdministratorException",
                    "The request was rejected because the account making the request is not the "
                    "management account or delegated administrator account for centralized root access.",
                )
            features = sorted(self._features)
            org_id = backend.org.id
        return wire.query_response(
            "iam", "ListOrganizationsFeatures", {"OrganizationId": org_id, "EnabledFeatures": features}
        )


def _org_backend() -> Any:
    from moto.organizations.models import organizations_backends

    return organizations_backends[MANAGEMENT_ACCOUNT_ID]["aws"]
