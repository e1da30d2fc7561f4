"""Virtual or hardware root MFA, told apart by the device assigned to root's ARN."""

from __future__ import annotations

import boto3

from fakeaws import FakeMfaDevice, FakeRoot
from tests.integration.conftest import Harness, new_account, only


def member_iam(fake, account_id):
    """An IAM client inside ``account_id`` for setting up IAM users (not the exporter's)."""
    sts = boto3.client("sts", endpoint_url=fake.endpoint_url, region_name="us-east-1")
    credentials = sts.assume_role(
        RoleArn=f"arn:aws:iam::{account_id}:role/OrganizationAccountAccessRole", RoleSessionName="test-setup"
    )["Credentials"]
    return boto3.client(
        "iam",
        endpoint_url=fake.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )


def test_virtual_hardware_and_no_mfa(fake):
    virtual = new_account(fake, root=FakeRoot.with_password("virtual"))
    hardware = new_account(fake, root=FakeRoot.with_password("hardware"))
    none = new_account(fake, root=FakeRoot.with_password())
    harness = Harness(accounts=only(virtual, hardware, none))

    assert harness.run("discovery", "account_summary", "mfa_devices")

    assert harness.value(virtual, "mfa_devices").root_has_virtual is True
    assert harness.facts(virtual).mfa_hardware is False
    assert harness.value(hardware, "mfa_devices").root_has_virtual is False
    assert harness.facts(hardware).mfa_hardware is True
    assert harness.facts(none).mfa_active is False
    assert harness.facts(none).mfa_hardware is False
    assert harness.facts(none).without_mfa is True


def test_iam_user_named_like_root_device_does_not_make_root_mfa_virtual(fake):
    member = new_account(fake, root=FakeRoot(password=True, mfa_devices=[FakeMfaDevice("hardware")]))
    iam = member_iam(fake, member)
    iam.create_user(UserName="root-account-mfa-device")
    serial = iam.create_virtual_mfa_device(VirtualMFADeviceName="root-account-mfa-device")["VirtualMFADevice"][
        "SerialNumber"
    ]
    iam.enable_mfa_device(
        UserName="root-account-mfa-device",
        SerialNumber=serial,
        AuthenticationCode1="123456",
        AuthenticationCode2="654321",
    )
    assigned = iam.list_virtual_mfa_devices(AssignmentStatus="Assigned")["VirtualMFADevices"]
    assert [device["SerialNumber"] for device in assigned] == [f"arn:aws:iam::{member}:mfa/root-account-mfa-device"]
    harness = Harness(accounts=only(member))

    assert harness.run("discovery", "account_summary", "mfa_devices")

    assert harness.value(member, "mfa_devices").root_has_virtual is False
    assert harness.facts(member).mfa_hardware is True


def test_root_with_virtual_device_among_many_assigned_user_devices(fake):
    member = new_account(fake, root=FakeRoot(password=True, mfa_devices=[FakeMfaDevice("virtual")]))
    iam = member_iam(fake, member)
    for index in range(3):
        name = f"user-{index}"
        iam.create_user(UserName=name)
        serial = iam.create_virtual_mfa_device(VirtualMFADeviceName=name)["VirtualMFADevice"]["SerialNumber"]
        iam.enable_mfa_device(
            UserName=name, SerialNumber=serial, AuthenticationCode1="123456", AuthenticationCode2="654321"
        )
    harness = Harness(accounts=only(member))

    assert harness.run("discovery", "account_summary", "mfa_devices")

    assert harness.value(member, "mfa_devices").root_has_virtual is True
    assert harness.facts(member).mfa_hardware is False


def test_no_listing_where_the_live_summary_says_root_has_no_mfa(fake):
    without = new_account(fake, root=FakeRoot.with_password())
    virtual = new_account(fake, root=FakeRoot.with_password("virtual"))
    harness = Harness(accounts=only(without, virtual))
    assert harness.run("discovery", "account_summary")
    fake.clear_calls()

    assert harness.run("mfa_devices")

    assert fake.calls_to("ListVirtualMFADevices", without) == []
    assert len(fake.calls_to("ListVirtualMFADevices", virtual)) == 1
    assert harness.facts(without).mfa_active is False and harness.facts(without).mfa_hardware is False
    assert harness.facts(virtual).mfa_hardware is False

    # Root turns MFA on: the next summary sees it, and the listing runs again for that account.
    fake.set_root(without, FakeRoot.with_password("virtual"))
    assert harness.run("account_summary", "mfa_devices")
    assert len(fake.calls_to("ListVirtualMFADevices", without)) == 1
    assert harness.facts(without).mfa_hardware is False
