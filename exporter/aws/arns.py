"""ARN helpers: partitions and the role ARNs the exporter assumes."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from exporter.config import Config

# arn:<partition>:iam::<account id>:role/<path/name>; groups: partition, account id, role name
ROLE_ARN = re.compile(
    r"arn:(aws|aws-cn|aws-us-gov):iam::([0-9]{12}):role/((?:[\w+=,.@-]+/)*[\w+=,.@-]{1,64})",
    re.ASCII,
)


def partition(region: str) -> str:
    """The ARN partition of ``region``: aws, aws-cn or aws-us-gov."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def role_arn_for(config: Config, account_id: str) -> str:
    """The role the exporter assumes in ``account_id``: the static ``role_arn`` or one built from ``role_name``."""
    for account in config.accounts.static:
        if account.id == account_id and account.role_arn:
            return account.role_arn
    return f"arn:{partition(config.aws.region)}:iam::{account_id}:role/{config.accounts.role_name}"
