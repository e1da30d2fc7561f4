"""Does a set of service control policies deny actions to the root user's own credentials?

A root user holds no IAM policies; in a member account what restricts it are the SCPs attached
to the organization root, to every OU above the account and to the account itself. A ``Deny``
in any of them applies. This module reads the SCP documents and answers, conservatively, which
actions are surely denied to ``arn:<partition>:iam::<account>:root`` acting with its own
credentials (password, access key): a statement counts only when every part of it certainly
applies to such a request. Whatever cannot be decided (an unknown condition key or operator, a
``Resource`` other than ``*``, a ``Principal`` element) counts as "may not apply", so the
answer "every action is denied" is never given when it might be false.

An exemption for ``sts:AssumeRoot`` sessions (``Null: {"aws:AssumedRoot": "true"}``, as in
AWS's "Prevent root credentials management in member accounts" example,
https://github.com/aws-samples/service-control-policy-examples, Privileged-access-controls)
still denies the root user's own credentials, so it still counts as a full deny.

``Allow`` statements (``FullAWSAccess``, allow-lists) restrict every principal alike and are not
a root deny: they are ignored here.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterable, Optional

ALL = "*"


class PolicyUnreadable(ValueError):
    """The policy document is not the JSON policy grammar AWS accepts."""


@dataclass(frozen=True)
class RootDeny:
    """What one policy (or several together) surely denies to the root user's own credentials.

    ``actions``: the action patterns denied outright (lower case; ``"*"`` = every action).
    ``all_except``: set when a ``NotAction`` deny applies: every action is denied except those
    matched by all of these pattern sets (one set per ``NotAction`` statement).
    """

    actions: frozenset[str] = frozenset()
    all_except: tuple[frozenset[str], ...] = ()

    @property
    def denies_all(self) -> bool:
        if ALL in self.actions:
            return True
        if not self.all_except:
            return False
        # An action escapes only if every NotAction statement exempts it; it is still denied when
        # an explicit pattern covers it. Checking one statement's exemptions suffices.
        return any(all(_covered(pattern, self.actions) for pattern in exempt) for exempt in self.all_except)

    @property
    def denies_some(self) -> bool:
        return bool(self.actions or self.all_except)

    @property
    def denied_actions(self) -> float:
        """How many action patterns are denied: ``inf`` for "all but a few" (``NotAction``)
        or all, else the number of distinct patterns (``ec2:*`` counts as one)."""
        if self.denies_all or self.all_except:
            return float("inf")
        return float(len(self.actions))

    def __or__(self, other: "RootDeny") -> "RootDeny":
        return RootDeny(self.actions | other.actions, self.all_except + other.all_except)


def _covered(pattern: str, patterns: Iterable[str]) -> bool:
    """Whether ``patterns`` surely match every action ``pattern`` matches (sufficient check)."""
    for candidate in patterns:
        if candidate == ALL or candidate == pattern:
            return True
        stem = candidate[:-1]
        if candidate.endswith("*") and "*" not in stem and "?" not in stem and pattern.startswith(stem):
            return True
    return False


def parse_document(content: str) -> list[dict[str, Any]]:
    """The statements of an SCP document (``DescribePolicy`` ``Content``, a JSON string)."""
    try:
        document = json.loads(content)
    except (TypeError, ValueError) as error:
        raise PolicyUnreadable(f"policy content is not JSON: {error}") from None
    if not isinstance(document, dict):
        raise PolicyUnreadable("policy content is not a JSON object")
    statements = document.get("Statement")
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list) or not all(isinstance(s, dict) for s in statements):
        raise PolicyUnreadable("policy Statement is neither an object nor a list of objects")
    return statements


def root_deny(content: str, root_arn: str) -> RootDeny:
    """What the SCP document ``content`` surely denies to the root user ``root_arn``
    (``arn:aws:iam::111122223333:root``) using its own credentials."""
    result = RootDeny()
    for statement in parse_document(content):
        result = result | _statement_deny(statement, root_arn)
    return result


def _strings(value: Any) -> Optional[list[str]]:
    """A policy value that may be one string or a list of strings; None when it is neither."""
    if isinstance(value, bool):  # JSON true/false, as in {"Null": {"aws:AssumedRoot": true}}
        return [str(value).lower()]
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(item, (str, bool)) for item in value):
        return [str(item).lower() if isinstance(item, bool) else item for item in value]
    return None


def _statement_deny(statement: dict[str, Any], root_arn: str) -> RootDeny:
    if statement.get("Effect") != "Deny":
        return RootDeny()
    if "Principal" in statement or "NotPrincipal" in statement or "NotResource" in statement:
        return RootDeny()  # not part of the SCP grammar we can decide on: may not apply
    resources = _strings(statement.get("Resource", ALL))
    if resources is None or ALL not in resources:
        return RootDeny()  # denied on some resources only: not "the action" as a whole
    if _conditions_hold(statement.get("Condition", {}), root_arn) is not True:
        return RootDeny()
    if "Action" in statement:
        actions = _strings(statement["Action"])
        if actions is None:
            return RootDeny()
        patterns = frozenset(ALL if a.strip() in (ALL, "*:*") else a.strip().lower() for a in actions)
        return RootDeny(actions=patterns)
    if "NotAction" in statement:
        exempt = _strings(statement["NotAction"])
        if exempt is None:
            return RootDeny()
        if any(a.strip() in (ALL, "*:*") for a in exempt):
            return RootDeny()  # exempts everything: denies nothing
        return RootDeny(all_except=(frozenset(a.strip().lower() for a in exempt),))
    return RootDeny()


# ---------------------------------------------------------------- conditions

# The request context of a root user acting with its own credentials, as far as we know it:
# aws:PrincipalArn is the root ARN, aws:PrincipalType is "Account", aws:PrincipalAccount the
# account id; aws:AssumedRoot is absent (it is set only in sts:AssumeRoot sessions). Any other
# key is unknown.
_PRINCIPAL_ARN = "aws:principalarn"
_ASSUMED_ROOT = "aws:assumedroot"
_ARN_OPS = {"arnlike", "arnequals"}
_STRING_OPS = {"stringlike": True, "stringequals": False}  # value: wildcards allowed
_NEGATED = {
    "arnnotlike": "arnlike",
    "arnnotequals": "arnequals",
    "stringnotlike": "stringlike",
    "stringnotequals": "stringequals",
}


def _conditions_hold(condition: Any, root_arn: str) -> Optional[bool]:
    """True when every condition surely holds for the root user's own request, False when one
    surely fails, None when that cannot be told. Conditions in a block are ANDed."""
    if not isinstance(condition, dict):
        return None
    verdict: Optional[bool] = True
    for operator, entries in condition.items():
        if not isinstance(operator, str) or not isinstance(entries, dict):
            return None
        for key, values in entries.items():
            result = _condition(operator, str(key).lower(), _strings(values), root_arn)
            if result is False:
                return False
            if result is None:
                verdict = None
    return verdict


def _condition(operator: str, key: str, values: Optional[list[str]], root_arn: str) -> Optional[bool]:
    if values is None:
        return None
    op = operator.lower()
    if_exists = op.endswith("ifexists")
    if if_exists:
        op = op[: -len("ifexists")]
    if key == _ASSUMED_ROOT:  # absent for the root user's own credentials
        if op == "null":
            return all(v.lower() == "true" for v in values) if values else None
        # A missing key fails a condition unless the operator is negated or ...IfExists.
        return if_exists or op in _NEGATED
    known = _root_context(root_arn).get(key)
    if known is None:
        return None
    if op == "null":
        return all(v.lower() == "false" for v in values) if values else None
    negated = op in _NEGATED
    base = _NEGATED.get(op, op)
    if base in _ARN_OPS and key == _PRINCIPAL_ARN:
        matched = any(_arn_matches(value, known) for value in values)
    elif base in _STRING_OPS:
        matched = any(_string_matches(value, known, _STRING_OPS[base]) for value in values)
    else:
        return None
    return not matched if negated else matched


def _root_context(root_arn: str) -> dict[str, str]:
    """The condition keys whose value is known for the root user's own request."""
    parts = root_arn.split(":")
    account = parts[4] if len(parts) > 4 else ""
    return {_PRINCIPAL_ARN: root_arn, "aws:principaltype": "Account", "aws:principalaccount": account}


@lru_cache(maxsize=1024)
def _glob(pattern: str) -> re.Pattern:
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern), re.DOTALL)


def _string_matches(pattern: str, value: str, wildcards: bool) -> bool:
    if not wildcards:
        return pattern == value
    return _glob(pattern).fullmatch(value) is not None


def _arn_matches(pattern: str, arn: str) -> bool:
    """``ArnLike``/``ArnEquals``: each of the six colon-separated parts is matched on its own,
    with ``*`` and ``?`` wildcards."""
    wanted, have = pattern.split(":", 5), arn.split(":", 5)
    if len(wanted) != 6 or len(have) != 6:
        return False
    return all(_glob(w).fullmatch(h) is not None for w, h in zip(wanted, have))
