"""IAM with normal credentials: the account summary, the credential report with its root row,
virtual MFA devices including root's."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

from fakeaws import wire
from fakeaws.base import FakeBase
from fakeaws.dispatch import _Request
from fakeaws.model import REPORT_COLUMNS, _Account, _AwsError, _now
from fakeaws.wire import XmlMap


class IamService(FakeBase):
    def set_report_override(self, account_id: str, content: Optional[bytes]) -> None:
        """GetCredentialReport returns ``content`` verbatim (None = back to the real report)."""
        with self._lock:
            self._account(account_id).report.override = content

    def set_report_generation_delay(self, account_id: str, polls: int) -> None:
        """A generation answers ``polls`` times STARTED/INPROGRESS before COMPLETE.

        The generating call answers STARTED; with ``polls`` >= 1 the report is not ready until
        the ``polls``-th following GenerateCredentialReport (GetCredentialReport raises
        ReportInProgress meanwhile). 0 = ready at once, as moto does.
        """
        with self._lock:
            self._account(account_id).report.delay = max(0, polls)

    def expire_report(self, account_id: str) -> None:
        """The next GenerateCredentialReport makes a new report even if the cached one is young."""
        with self._lock:
            self._account(account_id).report.expired = True

    def _summary_map(self, account_id: str) -> XmlMap:
        from moto.iam.models import iam_backends

        summary = dict(iam_backends[account_id]["aws"].get_account_summary().summary_map)
        with self._lock:
            _, root = self._root(account_id)
            summary["AccountMFAEnabled"] = 1 if root.mfa_devices else 0
            # 0/1 flags, as the IAM API Reference documents them, not counts.
            summary["AccountAccessKeysPresent"] = 1 if root.access_keys else 0
            summary["AccountSigningCertificatesPresent"] = 1 if root.certificates else 0
            summary["AccountPasswordPresent"] = 1 if root.password else 0
        return XmlMap(summary)

    def _get_account_summary(self, request: _Request, account_id: str) -> wire.Response:
        return wire.query_response("iam", "GetAccountSummary", {"SummaryMap": self._summary_map(account_id)})

    def _generate_credential_report(self, request: _Request, account_id: str) -> wire.Response:
        with self._lock:
            account, _ = self._root(account_id)
            report = account.report
            now = _now()
            if report.in_progress:
                if report.pending > 0:
                    report.pending -= 1
                    return self._report_state("INPROGRESS")
                self._finish_report(account, now)
                return self._report_state("COMPLETE")
            if (
                report.content is not None
                and report.generated is not None
                and not report.expired
                and (now - report.generated).total_seconds() < self.report_max_age
            ):
                return self._report_state("COMPLETE")
            report.expired = False
            if report.delay > 0:
                report.in_progress = True
                report.pending = report.delay - 1
            else:
                self._finish_report(account, now)
            return self._report_state("STARTED")

    @staticmethod
    def _report_state(state: str) -> wire.Response:
        result = {"State": state}
        if state == "STARTED":
            result["Description"] = "No report exists. Starting a new report generation task"
        return wire.query_response("iam", "GenerateCredentialReport", result)

    def _finish_report(self, account: _Account, now: datetime) -> None:
        from moto.iam.models import iam_backends

        report = account.report
        report.in_progress = False
        report.pending = 0
        report.generated = now.replace(microsecond=0)
        lines = [REPORT_COLUMNS + "\n", self._root_row(account)]
        backend = iam_backends[account.id]["aws"]
        for user in list(backend.users.values()):
            lines.append(user.to_csv())
        report.content = "".join(lines).encode("utf-8")

    def _root_row(self, account: _Account) -> str:
        root = account.root
        ts = wire.report_timestamp
        values = [
            "<root_account>",
            f"arn:aws:iam::{account.id}:root",
            ts(self._root_created(account)),
            "not_supported",
            ts(root.password_last_used) if root.password_last_used else "no_information",
            "not_supported",
            "not_supported",
            "true" if root.mfa_devices else "false",
        ]
        for index in range(2):
            key = root.access_keys[index] if index < len(root.access_keys) else None
            if key is None:
                values += ["false", "N/A", "N/A", "N/A", "N/A"]
            else:
                used = key.last_used is not None
                values += [
                    "true" if key.active else "false",
                    ts(key.created),
                    ts(key.last_used) if used else "N/A",
                    (key.last_used_region or "N/A") if used else "N/A",
                    (key.last_used_service or "N/A") if used else "N/A",
                ]
        for index in range(2):
            cert = root.certificates[index] if index < len(root.certificates) else None
            if cert is None:
                values += ["false", "N/A"]
            else:
                values += ["true" if cert.active else "false", ts(cert.uploaded)]
        return wire.csv_line(values)

    def _get_credential_report(self, request: _Request, account_id: str) -> wire.Response:
        with self._lock:
            account, _ = self._root(account_id)
            report = account.report
            if report.in_progress:
                raise _AwsError("ReportInProgress", "Report generation in progress", 404)
            if report.content is None or report.generated is None:
                raise _AwsError("ReportNotPresent", "Credential report not present", 410)
            age = (_now() - report.generated).total_seconds()
            if self.report_expiry is not None and age > self.report_expiry:
                raise _AwsError(
                    "ReportExpired",
                    "The credential report has expired. Use GenerateCredentialReport to make a new one",
                    410,
                )
            content = report.override if report.override is not None else report.content
            generated = report.generated
        return wire.query_response(
            "iam",
            "GetCredentialReport",
            {"Content": content, "ReportFormat": "text/csv", "GeneratedTime": generated},
        )

    def _list_virtual_mfa_devices(self, request: _Request, account_id: str) -> wire.Response:
        from moto.iam.models import iam_backends

        status = request.params.get("AssignmentStatus") or "Any"
        if status not in ("Assigned", "Unassigned", "Any"):
            raise _AwsError(
                "ValidationError",
                f"1 validation error detected: Value '{status}' at 'assignmentStatus' failed to "
                "satisfy constraint: Member must satisfy enum value set: [Any, Assigned, Unassigned]",
            )
        devices: list[dict[str, Any]] = []
        with self._lock:
            account, root = self._root(account_id)
            for device in root.mfa_devices:
                if device.kind == "virtual" and status != "Unassigned":
                    devices.append(
                        {
                            "SerialNumber": device.serial,
                            "User": self._root_user(account),
                            "EnableDate": device.enabled,
                        }
                    )
        backend = iam_backends[account_id]["aws"]
        for device in list(backend.virtual_mfa_devices.values()):
            assigned = device.enable_date is not None
            if (status == "Assigned" and not assigned) or (status == "Unassigned" and assigned):
                continue
            item: dict[str, Any] = {"SerialNumber": device.serial_number}
            if device.user is not None:
                user = device.user
                item["User"] = {
                    "Path": user.path,
                    "UserName": user.name,
                    "UserId": user.id,
                    "Arn": user.arn,
                    "CreateDate": user.create_date,
                }
            if device.enable_date is not None:
                item["EnableDate"] = device.enable_date
            devices.append(item)
        start = self._marker(request)
        max_items = int(request.params.get("MaxItems") or 100)
        page = devices[start : start + max_items]
        result: dict[str, Any] = {"VirtualMFADevices": page, "IsTruncated": start + max_items < len(devices)}
        if result["IsTruncated"]:
            result["Marker"] = str(start + max_items)
        return wire.query_response("iam", "ListVirtualMFADevices", result)

    @staticmethod
    def _marker(request: _Request) -> int:
        marker = request.params.get("Marker")
        if not marker:
            return 0
        if not str(marker).isdigit():
            raise _AwsError("ValidationError", "Invalid Marker.")
        return int(marker)

    def _root_user(self, account: _Account) -> dict[str, Any]:
        """The IAM ``User`` shape for root; ``Path`` and ``UserName`` are required by the model."""
        user: dict[str, Any] = {
            "Path": "/",
            "UserName": account.name,
            "UserId": account.id,
            "Arn": f"arn:aws:iam::{account.id}:root",
            "CreateDate": self._root_created(account),
        }
        if account.root.password_last_used is not None:
            user["PasswordLastUsed"] = account.root.password_last_used
        return user
