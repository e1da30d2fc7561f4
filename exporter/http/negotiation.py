"""Content negotiation for ``/metrics``, reduced to a handful of canonical answers.

The result is used as a cache key, so it must never carry text the client sent: a format is one
of ``TEXT`` or ``OPENMETRICS`` whatever version string came with it, and compression is a bool.
"""

from __future__ import annotations

from prometheus_client.exposition import choose_encoder

TEXT = "text"
OPENMETRICS = "openmetrics"
# The Accept header each canonical format is rendered with, whatever the client wrote.
CANONICAL_ACCEPT = {TEXT: "", OPENMETRICS: "application/openmetrics-text; version=1.0.0"}


def negotiated_format(accept: str) -> str:
    """``OPENMETRICS`` when prometheus_client would answer ``accept`` with OpenMetrics, else ``TEXT``."""
    return OPENMETRICS if choose_encoder(accept)[1].startswith("application/openmetrics-text") else TEXT


def gzip_accepted(accept_encoding: str) -> bool:
    """Whether ``Accept-Encoding`` allows gzip, q-values included (RFC 9110 §12.5.3).

    prometheus_client's own ``gzip_accepted`` ignores q-values, so ``gzip;q=0`` (an explicit
    refusal) would still get gzip. An explicit ``gzip`` entry wins over ``*``.
    """
    explicit = wildcard = None
    for entry in (accept_encoding or "").split(","):
        coding, _, params = entry.partition(";")
        coding = coding.strip().lower()
        if coding not in ("gzip", "x-gzip", "*"):
            continue
        quality = _quality(params)
        if coding == "*":
            wildcard = quality
        else:
            explicit = quality if explicit is None else max(explicit, quality)
    chosen = explicit if explicit is not None else wildcard
    return chosen is not None and chosen > 0


def _quality(params: str) -> float:
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "q":
            try:
                quality = float(value.strip())
            except ValueError:
                return 0.0  # unreadable: treat as a refusal rather than guess
            return quality if 0.0 <= quality <= 1.0 else 0.0
    return 1.0
