"""``ListVirtualMFADevices`` → whether root's MFA is a virtual device."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

from exporter.sources import mfa_devices
from exporter.sources.base import Context
from exporter.sources.mfa_devices import root_has_virtual
from exporter.state import Account, VirtualMfa

FIXTURES = Path(__file__).parent / "fixtures"


def page(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def test_root_device_is_found_by_user_arn():
    assert root_has_virtual(page("virtual-mfa-page-2.json")["VirtualMFADevices"]) is True


def test_iam_user_named_root_account_mfa_device_is_not_root():
    # Neither the user called root-account-mfa-device nor an IAM user called "root" is root.
    assert root_has_virtual(page("virtual-mfa-no-root.json")["VirtualMFADevices"]) is False
    assert root_has_virtual(page("virtual-mfa-page-1.json")["VirtualMFADevices"]) is False


def test_no_devices_and_unassigned_devices():
    assert root_has_virtual([]) is False
    assert root_has_virtual([{"SerialNumber": "arn:aws:iam::111122223333:mfa/spare"}]) is False


class FakePaginator:
    def __init__(self, pages):
        self.pages = pages
        self.kwargs = None

    def paginate(self, **kwargs):
        self.kwargs = kwargs
        return iter(self.pages)


class FakeIam:
    def __init__(self, pages):
        self.paginator = FakePaginator(pages)

    def get_paginator(self, name):
        assert name == "list_virtual_mfa_devices"
        return self.paginator


class FakeAccess:
    def __init__(self, iam):
        self.iam = iam
        self.asked = []

    def client(self, account, service):
        self.asked.append((account.id, service))
        return self.iam


def fetch(pages) -> tuple[VirtualMfa, FakeIam]:
    iam = FakeIam(pages)
    context = Context(access=FakeAccess(iam), config=SimpleNamespace())
    return mfa_devices.fetch(context, Account(id="111122223333", name="prod")), iam


def test_fetch_reads_every_page_of_assigned_devices():
    result, iam = fetch([page("virtual-mfa-page-1.json"), page("virtual-mfa-page-2.json")])
    assert result == VirtualMfa(root_has_virtual=True)  # root's device is on the second page
    assert iam.paginator.kwargs == {"AssignmentStatus": "Assigned"}


def test_fetch_with_only_the_impostor():
    result, _ = fetch([page("virtual-mfa-no-root.json")])
    assert result == VirtualMfa(root_has_virtual=False)


def test_fetch_with_an_empty_page():
    result, _ = fetch([{"VirtualMFADevices": [], "IsTruncated": False}])
    assert result == VirtualMfa(root_has_virtual=False)
