"""``iam:ListOrganizationsFeatures``: is centralized root access enabled for the organization?

Only the management account or a delegated administrator may ask; elsewhere the answer is
unknown (the metric is left out) and one log line says why.
"""

from __future__ import annotations

import logging
from typing import Optional

from botocore.exceptions import ClientError

from exporter.aws.errors import describe_error, error_code
from exporter.aws.sessions import AwsAccess
from exporter.sources.registry import EXPORTER, AwsCall, SourceSpec
from exporter.state import Account, OrganizationFeatures

NAME = "org_features"
SPEC = SourceSpec(
    NAME,
    "whether the organization has centralized root access (RootCredentialsManagement, RootSessions); "
    "fetched with each discovery",
    calls=(AwsCall("iam:ListOrganizationsFeatures", EXPORTER),),
    interval=None,
    runs="with discovery",
)
log = logging.getLogger(__name__)
# The answers that mean "not allowed here", as opposed to a passing failure.
NOT_ALLOWED = {
    "AccessDenied",
    "AccessDeniedException",
    "AccountNotManagementOrDelegatedAdministratorException",
    "OrganizationNotFoundException",
    "OrganizationNotInAllFeaturesModeException",
    "ServiceAccessNotEnabledException",
}


def parse_features(enabled: list[str]) -> OrganizationFeatures:
    return OrganizationFeatures(
        root_credentials_management="RootCredentialsManagement" in enabled, root_sessions="RootSessions" in enabled
    )


def fetch(
    access: AwsAccess, previous: Optional[OrganizationFeatures]
) -> tuple[Optional[OrganizationFeatures], Optional[str]]:
    """The features and None; on a failure the features to keep and the failure's description:
    None where the call is not allowed, ``previous`` on a passing failure."""
    home = Account(id=access.home_account_id, name="")
    try:
        response = access.client(home, "iam").list_organizations_features()
    except Exception as error:  # noqa: BLE001 - reported as this source's failure; never fails discovery
        code = error_code(error)
        if isinstance(error, ClientError) and code in NOT_ALLOWED:
            log.warning(
                "centralized root access features unknown: the exporter's account may not call "
                "iam:ListOrganizationsFeatures (it must be the management account or a delegated "
                "administrator with the permission)",
                extra={"source": NAME, "account_id": home.id, "error_code": code, "error": describe_error(error)},
            )
            return None, describe_error(error)
        log.warning(
            "iam:ListOrganizationsFeatures failed; keeping the last answer",
            extra={"source": NAME, "account_id": home.id, "error_code": code, "error": describe_error(error)},
        )
        return previous, describe_error(error)
    return parse_features(response.get("EnabledFeatures", [])), None
