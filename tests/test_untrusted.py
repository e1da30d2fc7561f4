"""``clean``: AWS text that encodes to UTF-8 and stays a bounded size."""

from __future__ import annotations

from botocore.exceptions import ClientError

from exporter.aws.errors import describe_error
from exporter.aws.untrusted import MAX_LENGTH, clean


def test_lone_surrogates_become_replacement_characters():
    assert clean("a\ud800b\udfffc") == "a\ufffdb\ufffdc"
    clean("x\udc80").encode("utf-8")  # would raise UnicodeEncodeError before


def test_valid_text_is_kept_as_is():
    for text in ("", "prod-web", "Émilie's account", "😀", "ou\u2028name"):
        assert clean(text) == text


def test_long_text_is_cut():
    text = clean("a" * (MAX_LENGTH * 4))
    assert len(text) == MAX_LENGTH and text.endswith("…")


def test_non_strings_become_text():
    assert clean(123) == "123"


def test_an_aws_error_message_with_a_surrogate_is_described_in_encodable_text():
    error = ClientError({"Error": {"Code": "AccessDeniedException", "Message": "denied \ud800 here"}}, "LookupEvents")
    assert describe_error(error) == "AccessDeniedException (LookupEvents): denied \ufffd here"
