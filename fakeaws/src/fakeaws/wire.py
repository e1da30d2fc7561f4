"""Wire formats for the answers the fake AWS gives itself (see ``fake_aws.py``).

Two protocols matter here, both as botocore's service models describe them:

* AWS query (IAM, STS): XML ``<{Action}Response xmlns=...><{Action}Result>...`` with lists as
  ``<member>`` elements, maps as ``<entry><key/><value/></entry>``, blobs base64-encoded and
  errors as ``<ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/>``.
* AWS JSON 1.1 (CloudTrail, Organizations): a JSON body, timestamps as epoch seconds, errors as
  ``{"__type": code, "message": ...}``.

It also builds the ``CloudTrailEvent`` JSON of a console sign-in, shaped like the records
CloudTrail writes for ``signin.amazonaws.com`` ``ConsoleLogin`` events.
"""

from __future__ import annotations

import base64
import json
import uuid
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping, Optional
from xml.sax.saxutils import escape

IAM_NAMESPACE = "https://iam.amazonaws.com/doc/2010-05-08/"
STS_NAMESPACE = "https://sts.amazonaws.com/doc/2011-06-15/"
QUERY_NAMESPACES = {"iam": IAM_NAMESPACE, "sts": STS_NAMESPACE}

JSON_CONTENT_TYPE = "application/x-amz-json-1.1"
XML_CONTENT_TYPE = "text/xml"

Response = tuple[int, list[tuple[str, str]], bytes]


class XmlMap(dict):
    """A value serialized as a query-protocol map (``entry``/``key``/``value``), not a structure."""


def utc(dt: datetime) -> datetime:
    """``dt`` in UTC; naive datetimes are taken as UTC."""
    if dt.tzinfo is None:
        return dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc)


def xml_timestamp(dt: datetime) -> str:
    """ISO 8601 in UTC with a ``Z``, as IAM and STS write ``dateType`` values."""
    return utc(dt).strftime("%Y-%m-%dT%H:%M:%SZ")


def report_timestamp(dt: datetime) -> str:
    """Credential report timestamps: ISO 8601, seconds, explicit ``+00:00`` offset."""
    return utc(dt).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def cloudtrail_timestamp(dt: datetime) -> str:
    return utc(dt).strftime("%Y-%m-%dT%H:%M:%SZ")


def request_id() -> str:
    return str(uuid.uuid4())


# ---------------------------------------------------------------- AWS query (XML)


def _xml_value(name: str, value: Any, out: list[str]) -> None:
    if value is None:
        return
    if isinstance(value, XmlMap):
        out.append(f"<{name}>")
        for key, item in value.items():
            out.append("<entry>")
            _xml_value("key", key, out)
            _xml_value("value", item, out)
            out.append("</entry>")
        out.append(f"</{name}>")
    elif isinstance(value, Mapping):
        out.append(f"<{name}>")
        for key, item in value.items():
            _xml_value(key, item, out)
        out.append(f"</{name}>")
    elif isinstance(value, (list, tuple)):
        out.append(f"<{name}>")
        for item in value:
            _xml_value("member", item, out)
        out.append(f"</{name}>")
    elif isinstance(value, bool):
        out.append(f"<{name}>{'true' if value else 'false'}</{name}>")
    elif isinstance(value, datetime):
        out.append(f"<{name}>{xml_timestamp(value)}</{name}>")
    elif isinstance(value, bytes):
        out.append(f"<{name}>{base64.b64encode(value).decode('ascii')}</{name}>")
    else:
        out.append(f"<{name}>{escape(str(value))}</{name}>")


def query_response(service: str, action: str, result: Optional[Mapping[str, Any]]) -> Response:
    """A successful AWS query response for ``action`` carrying ``result`` (None: no result)."""
    namespace = QUERY_NAMESPACES[service]
    out = [f'<{action}Response xmlns="{namespace}">']
    if result is not None:
        _xml_value(f"{action}Result", dict(result), out)
    rid = request_id()
    out.append(f"<ResponseMetadata><RequestId>{rid}</RequestId></ResponseMetadata>")
    out.append(f"</{action}Response>")
    body = "".join(out).encode("utf-8")
    return 200, [("Content-Type", XML_CONTENT_TYPE), ("x-amzn-RequestId", rid)], body


def query_error(service: str, code: str, message: str, status: int) -> Response:
    namespace = QUERY_NAMESPACES.get(service, IAM_NAMESPACE)
    kind = "Receiver" if status >= 500 else "Sender"
    rid = request_id()
    body = (
        f'<ErrorResponse xmlns="{namespace}"><Error><Type>{kind}</Type>'
        f"<Code>{escape(code)}</Code><Message>{escape(message)}</Message></Error>"
        f"<RequestId>{rid}</RequestId></ErrorResponse>"
    ).encode("utf-8")
    return status, [("Content-Type", XML_CONTENT_TYPE), ("x-amzn-RequestId", rid)], body


# ---------------------------------------------------------------- AWS JSON 1.1


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return utc(value).timestamp()
    raise TypeError(f"cannot serialize {type(value).__name__}")


def json_response(payload: Mapping[str, Any]) -> Response:
    body = json.dumps(payload, default=_json_default).encode("utf-8")
    return 200, [("Content-Type", JSON_CONTENT_TYPE), ("x-amzn-RequestId", request_id())], body


def json_error(code: str, message: str, status: int) -> Response:
    body = json.dumps({"__type": code, "message": message}).encode("utf-8")
    headers = [
        ("Content-Type", JSON_CONTENT_TYPE),
        ("x-amzn-RequestId", request_id()),
        ("x-amzn-ErrorType", code),
    ]
    return status, headers, body


# ---------------------------------------------------------------- CloudTrail sign-in records

_BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"


def console_login_record(
    *,
    account_id: str,
    event_id: str,
    time: datetime,
    success: bool,
    mfa_used: bool,
    source_ip: str,
    user_type: str,
    user_name: Optional[str],
    region: str,
) -> dict[str, Any]:
    """The JSON record CloudTrail keeps for one ``ConsoleLogin`` by root or an IAM user."""
    if user_type == "Root":
        identity: dict[str, Any] = {
            "type": "Root",
            "principalId": account_id,
            "arn": f"arn:aws:iam::{account_id}:root",
            "accountId": account_id,
            "accessKeyId": "",
        }
    else:
        name = user_name or "alice"
        identity = {
            "type": user_type,
            "principalId": "AIDA" + uuid.uuid5(uuid.NAMESPACE_URL, account_id + name).hex[:17].upper(),
            "arn": f"arn:aws:iam::{account_id}:user/{name}",
            "accountId": account_id,
            "userName": name,
        }
    record: dict[str, Any] = {
        "eventVersion": "1.09",
        "userIdentity": identity,
        "eventTime": cloudtrail_timestamp(time),
        "eventSource": "signin.amazonaws.com",
        "eventName": "ConsoleLogin",
        "awsRegion": region,
        "sourceIPAddress": source_ip,
        "userAgent": _BROWSER,
        "requestParameters": None,
        "responseElements": {"ConsoleLogin": "Success" if success else "Failure"},
        "additionalEventData": {
            "LoginTo": "https://console.aws.amazon.com/console/home?state=hashArgs%23&isauthcode=true",
            "MobileVersion": "No",
            "MFAUsed": "Yes" if mfa_used else "No",
        },
        "eventID": event_id,
        "readOnly": False,
        "eventType": "AwsConsoleSignIn",
        "managementEvent": True,
        "recipientAccountId": account_id,
        "eventCategory": "Management",
        "tlsDetails": {
            "tlsVersion": "TLSv1.3",
            "cipherSuite": "TLS_AES_128_GCM_SHA256",
            "clientProvidedHostHeader": "signin.aws.amazon.com",
        },
    }
    if not success:
        record["errorMessage"] = "Failed authentication"
    return record


def lookup_username(user_type: str, user_name: Optional[str]) -> str:
    """The ``Username`` LookupEvents shows next to a sign-in event."""
    if user_type == "Root":
        return "root"
    return user_name or "alice"


def csv_line(values: Iterable[str]) -> str:
    return ",".join(values) + "\n"
