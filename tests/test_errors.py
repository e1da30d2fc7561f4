"""AWS failures become short descriptions naming the error code and operation, never a secret."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from exporter.aws.errors import MAX_MESSAGE, SourceError, describe_error, error_code, redact

KEY_ID = "AKIAIOSFODNN7EXAMPLE"
TEMP_KEY_ID = "ASIAQWERTYUIOPASDFGH"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
TOKEN = "FwoGZXIvYXdzEJr//////////wEaDHVsdGltYXRlLXRva2Vu+ABCdef123=="


def client_error(code: str, message: str, operation: str) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": 403}}, operation
    )


@pytest.mark.parametrize(
    "text",
    [
        f"aws_access_key_id={KEY_ID}",
        f"Credential={KEY_ID}/20261127/us-east-1/iam/aws4_request",
        f"'AccessKeyId': '{TEMP_KEY_ID}'",
    ],
)
def test_redact_removes_access_key_ids(text):
    clean = redact(text)
    assert KEY_ID not in clean and TEMP_KEY_ID not in clean


@pytest.mark.parametrize(
    "text",
    [
        f"aws_secret_access_key = {SECRET}",
        f'{{"SecretAccessKey": "{SECRET}", "Expiration": "2026-11-27T11:00:00Z"}}',
        f"{{'SecretAccessKey': '{SECRET}'}}",
    ],
)
def test_redact_removes_secret_keys(text):
    assert SECRET not in redact(text)


@pytest.mark.parametrize(
    "text",
    [
        f"SessionToken={TOKEN}",
        f"aws_session_token: {TOKEN}",
        f"https://iam.amazonaws.com/?Action=GetAccountSummary&X-Amz-Security-Token={TOKEN}&X-Amz-Date=20261127T100000Z",
        "X-Amz-Signature=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    ],
)
def test_redact_removes_session_tokens_and_signatures(text):
    clean = redact(text)
    assert TOKEN not in clean
    assert "0123456789abcdef0123456789abcdef" not in clean


def test_redact_keeps_ordinary_text():
    text = "User: arn:aws:sts::111111111111:assumed-role/exporter/s is not authorized to perform: iam:GetAccountSummary"
    assert redact(text) == text


def test_describe_client_error_names_code_and_operation():
    error = client_error(
        "AccessDenied", "User: arn:aws:sts::111111111111:assumed-role/exporter/s is not authorized", "AssumeRole"
    )
    text = describe_error(error)
    assert "AccessDenied" in text
    assert "AssumeRole" in text
    assert "is not authorized" in text
    assert error_code(error) == "AccessDenied"


def test_describe_client_error_without_secrets():
    message = (
        f"The security token included in the request is invalid. SessionToken={TOKEN} "
        f"aws_secret_access_key={SECRET} Credential={KEY_ID}/20261127/us-east-1/sts/aws4_request"
    )
    text = describe_error(client_error("InvalidClientTokenId", message, "GetCallerIdentity"))
    assert "InvalidClientTokenId" in text and "GetCallerIdentity" in text
    assert TOKEN not in text
    assert SECRET not in text
    assert KEY_ID not in text


def test_long_message_is_shortened_without_leaking_part_of_a_key_id():
    # The key id straddles the point where a long message is cut.
    for padding in range(200, 300):
        message = "x" * padding + f" Credential={KEY_ID}/20261127/us-east-1/iam/aws4_request"
        text = describe_error(client_error("SignatureDoesNotMatch", message, "GetAccountSummary"))
        assert "AKIAIOSFODNN" not in text, padding
        assert len(text) <= MAX_MESSAGE


def test_describe_source_error_and_other_errors():
    assert (
        describe_error(SourceError("ReportTimeout", "credential report not ready after 120s"))
        == "ReportTimeout: credential report not ready after 120s"
    )
    assert error_code(SourceError("ReportTimeout", "x")) == "ReportTimeout"
    connection = EndpointConnectionError(endpoint_url="https://iam.amazonaws.com/")
    assert "EndpointConnectionError" in describe_error(connection)
    assert error_code(connection) == "EndpointConnectionError"


def test_describe_error_is_one_line():
    text = describe_error(client_error("ServiceFailure", "first line\nsecond line", "GenerateCredentialReport"))
    assert "\n" not in text


def test_remedy_of_rejected_credentials_points_to_the_chain_and_the_readme():
    from exporter.aws.errors import remedy

    advice = remedy(
        client_error(
            "InvalidClientTokenId", "The security token included in the request is invalid.", "GetCallerIdentity"
        )
    )
    assert "credential chain" in advice and 'README section "Troubleshooting credentials"' in advice


def test_remedy_has_nothing_to_add_to_an_ordinary_failure():
    from exporter.aws.errors import remedy

    assert remedy(client_error("Throttling", "Rate exceeded", "GetAccountSummary")) == ""
    assert remedy(SourceError("ReportTimeout", "not generated within 2m")) == ""


def test_metric_code_keeps_aws_codes_and_normalises_anything_else():
    from exporter.aws.errors import OTHER_CODE, SourceError, metric_code

    def client_error(code):
        return ClientError({"Error": {"Code": code, "Message": "m"}}, "GetAccountSummary")

    assert metric_code(client_error("Throttling")) == "Throttling"
    assert metric_code(client_error("AccessDenied")) == "AccessDenied"
    assert metric_code(SourceError("DeadlineExceeded", "late")) == "DeadlineExceeded"
    assert metric_code(TimeoutError()) == "TimeoutError"
    for hostile in ("a b", "x" * 200, "\ud800", "", "<script>", "Throttling\n"):
        assert metric_code(client_error(hostile)) in (OTHER_CODE, "ClientError"), hostile
