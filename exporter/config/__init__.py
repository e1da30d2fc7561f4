"""YAML configuration → typed, immutable ``Config``, one module per concern (like YACE's pkg/config):

* ``schema``: the frozen dataclasses with their defaults, ``ConfigError``, the limits;
* ``yaml_loader``: reading the file, with YAML 1.1's pitfalls (``off``, ``1:30``, octal-looking
  ids) and keys written twice caught in the user's own words;
* ``parse``: every key checked and every problem reported at once, with file name and key path;
* ``validation`` and ``messages``: the converters and how values are named in errors;
* ``durations``: ``30s``, ``5m``, ``1h30m``.

ARN helpers are in ``exporter.aws.arns``; the ``--verify-config`` text is the CLI's.
"""

from exporter.aws.arns import partition, role_arn_for
from exporter.config.durations import format_duration, parse_duration
from exporter.config.parse import load_config, parse_config, shard_problem, with_shard
from exporter.config.schema import (
    DISCOVERY_MODES,
    MAX_SHARDS,
    MAX_STALE_AFTER,
    ROOT_AUDIT_MODES,
    STALE_FACTOR,
    AccountsConfig,
    AwsConfig,
    CollectionConfig,
    Config,
    ConfigError,
    RootEventsConfig,
    StaticAccount,
    default_config,
    default_deadlines,
    default_stale_after,
)

__all__ = [
    "DISCOVERY_MODES",
    "MAX_SHARDS",
    "MAX_STALE_AFTER",
    "ROOT_AUDIT_MODES",
    "STALE_FACTOR",
    "AccountsConfig",
    "AwsConfig",
    "CollectionConfig",
    "Config",
    "ConfigError",
    "RootEventsConfig",
    "StaticAccount",
    "default_config",
    "default_deadlines",
    "default_stale_after",
    "format_duration",
    "load_config",
    "parse_config",
    "parse_duration",
    "partition",
    "role_arn_for",
    "shard_problem",
    "with_shard",
]
