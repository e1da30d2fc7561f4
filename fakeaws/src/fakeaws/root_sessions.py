"""STS root sessions: ``sts:AssumeRoot`` and the calls made with its credentials, limited by the
root-task policy the session was issued for."""

from __future__ import annotations

import base64
import hashlib
import secrets
import string
from datetime import timedelta
from typing import Any, Callable

from fakeaws import wire
from fakeaws.base import FakeBase
from fakeaws.dispatch import _Request
from fakeaws.model import (
    ROOT_TASK_POLICIES,
    ROOT_TASK_POLICY_PREFIX,
    _AwsError,
    _now,
    _random_chars,
    _RootSession,
)
from fakeaws.organizations import _org_backend


class RootSessions(FakeBase):
    # ------------------------------------------------------------ STS

    def _assume_root(self, request: _Request, account_id: str) -> wire.Response:
        backend = _org_backend()
        params = request.params
        target = str(params.get("TargetPrincipal", ""))
        policy = str(params.get("TaskPolicyArn.arn", ""))
        try:
            duration = int(params.get("DurationSeconds") or 900)
        except ValueError:
            raise _AwsError("ValidationError", "DurationSeconds must be an integer") from None
        if duration > 900 or duration < 0:
            raise _AwsError(
                "ValidationError",
                f"1 validation error detected: Value '{duration}' at 'durationSeconds' failed to "
                "satisfy constraint: Member must have value less than or equal to 900",
            )
        if not target or not policy:
            raise _AwsError("ValidationError", "TargetPrincipal and TaskPolicyArn are required")
        if policy not in ROOT_TASK_POLICIES:
            raise _AwsError(
                "ValidationError",
                f"The TaskPolicyArn {policy} is not a valid root task policy. Use a policy ARN "
                f"that starts with {ROOT_TASK_POLICY_PREFIX}",
            )
        denied = (
            f"User: arn:aws:iam::{account_id}:root is not authorized to perform: sts:AssumeRoot "
            f"on resource: arn:aws:iam::{target}:root"
        )
        with self._lock:
            if backend.org is None or account_id != backend.org.master_account_id:
                raise _AwsError("AccessDenied", denied, 403)
            if not self._features:
                raise _AwsError(
                    "AccessDenied",
                    denied + " because centralized root access is not enabled for the organization",
                    403,
                )
            if target == backend.org.master_account_id or target not in self._org_member_ids():
                raise _AwsError("AccessDenied", denied, 403)
            key = "ASIA" + _random_chars(16)
            expiration = (_now() + timedelta(seconds=duration)).replace(microsecond=0)
            self._sessions[key] = _RootSession(target, policy, expiration)
            self._root(target)
        credentials = {
            "AccessKeyId": key,
            "SecretAccessKey": _random_chars(40, string.ascii_letters + string.digits + "/+"),
            "SessionToken": base64.b64encode(secrets.token_bytes(96)).decode("ascii"),
            "Expiration": expiration,
        }
        return wire.query_response("sts", "AssumeRoot", {"Credentials": credentials})

    # ------------------------------------------------------------ AssumeRoot sessions

    def _root_session_handler(self, request: _Request, session: _RootSession) -> Callable:
        if request.service == "sts" and request.action == "GetCallerIdentity":
            return RootSessions._root_caller_identity
        allowed = ROOT_TASK_POLICIES.get(session.task_policy, frozenset())
        if request.service == "iam" and request.action in allowed:
            if request.params.get("UserName"):
                return _denier(session, request, "the request names a user; call it without UserName")
            return self._ROOT_SESSION_IAM[request.action]
        return _denier(session, request, "no session policy allows the action")

    def _root_caller_identity(self, request: _Request, account_id: str) -> wire.Response:
        return wire.query_response(
            "sts",
            "GetCallerIdentity",
            {"UserId": account_id, "Account": account_id, "Arn": f"arn:aws:iam::{account_id}:root"},
        )

    def _rs_get_login_profile(self, request: _Request, account_id: str) -> wire.Response:
        with self._lock:
            account, root = self._root(account_id)
            if not root.password:
                raise _AwsError("NoSuchEntity", f"Login Profile for User {account.name} cannot be found.", 404)
            profile = {
                "UserName": account.name,
                "CreateDate": self._root_created(account),
                "PasswordResetRequired": False,
            }
        return wire.query_response("iam", "GetLoginProfile", {"LoginProfile": profile})

    def _rs_list_access_keys(self, request: _Request, account_id: str) -> wire.Response:
        with self._lock:
            _, root = self._root(account_id)
            keys = [
                {"AccessKeyId": key.id, "Status": "Active" if key.active else "Inactive", "CreateDate": key.created}
                for key in root.access_keys
            ]
        return wire.query_response("iam", "ListAccessKeys", {"AccessKeyMetadata": keys, "IsTruncated": False})

    def _rs_list_mfa_devices(self, request: _Request, account_id: str) -> wire.Response:
        with self._lock:
            account, root = self._root(account_id)
            devices = [
                {"UserName": account.name, "SerialNumber": device.serial, "EnableDate": device.enabled}
                for device in root.mfa_devices
            ]
        return wire.query_response("iam", "ListMFADevices", {"MFADevices": devices, "IsTruncated": False})

    def _rs_list_signing_certificates(self, request: _Request, account_id: str) -> wire.Response:
        with self._lock:
            account, root = self._root(account_id)
            certificates = [
                {
                    "UserName": account.name,
                    "CertificateId": cert.id,
                    "CertificateBody": _certificate_body(cert.id),
                    "Status": "Active" if cert.active else "Inactive",
                    "UploadDate": cert.uploaded,
                }
                for cert in root.certificates
            ]
        return wire.query_response(
            "iam", "ListSigningCertificates", {"Certificates": certificates, "IsTruncated": False}
        )

    def _rs_get_account_summary(self, request: _Request, account_id: str) -> wire.Response:
        return self._get_account_summary(request, account_id)

    def _rs_get_access_key_last_used(self, request: _Request, account_id: str) -> wire.Response:
        key_id = str(request.params.get("AccessKeyId", ""))
        with self._lock:
            _, root = self._root(account_id)
            key = next((k for k in root.access_keys if k.id == key_id), None)
            if key is None:
                raise _AwsError("NoSuchEntity", f"The Access Key with id {key_id} cannot be found", 404)
            if key.last_used is None:
                last_used: dict[str, Any] = {"ServiceName": "N/A", "Region": "N/A"}
            else:
                last_used = {
                    "LastUsedDate": key.last_used,
                    "ServiceName": key.last_used_service or "N/A",
                    "Region": key.last_used_region or "N/A",
                }
        return wire.query_response("iam", "GetAccessKeyLastUsed", {"AccessKeyLastUsed": last_used})

    def _rs_get_user(self, request: _Request, account_id: str) -> wire.Response:
        with self._lock:
            account, _ = self._root(account_id)
            user = self._root_user(account)
        return wire.query_response("iam", "GetUser", {"User": user})

    _ROOT_SESSION_IAM: dict[str, Callable] = {
        "GetLoginProfile": _rs_get_login_profile,
        "ListAccessKeys": _rs_list_access_keys,
        "ListMFADevices": _rs_list_mfa_devices,
        "ListSigningCertificates": _rs_list_signing_certificates,
        "GetAccountSummary": _rs_get_account_summary,
        "GetAccessKeyLastUsed": _rs_get_access_key_last_used,
        "GetUser": _rs_get_user,
    }


def _denier(session: _RootSession, request: _Request, why: str) -> Callable:
    def deny(fake: FakeBase, req: _Request, account_id: str) -> wire.Response:
        raise _AwsError(
            "AccessDenied",
            f"User: arn:aws:iam::{session.account_id}:root is not authorized to perform: "
            f"{request.service}:{request.action} on resource: arn:aws:iam::{session.account_id}:root "
            f"because {why}",
            403,
        )

    return deny


def _certificate_body(cert_id: str) -> str:
    filler = base64.b64encode(hashlib.sha512(cert_id.encode()).digest() * 6).decode()
    lines = [filler[i : i + 64] for i in range(0, len(filler), 64)]
    return "-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n"
