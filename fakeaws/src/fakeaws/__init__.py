"""A fake AWS organization for aws-root-exporter's ``--demo`` and tests; not part of the exporter.

``FakeAws`` (``fake_aws``) is moto's server plus the root-user calls moto lacks, one module per
service: ``dispatch`` (request parsing, recording, injected faults, routing to moto), ``iam``,
``root_sessions`` (``sts:AssumeRoot``), ``cloudtrail`` (``LookupEvents``, the organization trail
as members see it), ``organizations`` (accounts, OUs, service control policies); ``wire`` holds
the wire formats and ``demo`` the demo organization (accounts, SCPs, trail, root event stream).
"""

from fakeaws.fake_aws import FakeAws
from fakeaws.model import (
    MANAGEMENT_ACCOUNT_ID,
    FakeAccessKey,
    FakeCall,
    FakeCertificate,
    FakeMfaDevice,
    FakeRoot,
)

__all__ = [
    "MANAGEMENT_ACCOUNT_ID",
    "FakeAccessKey",
    "FakeAws",
    "FakeCall",
    "FakeCertificate",
    "FakeMfaDevice",
    "FakeRoot",
]
