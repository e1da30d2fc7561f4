"""Command line: flags in the style of Prometheus exporters, and the process's life cycle."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from typing import Optional, Sequence


from exporter import __version__
from exporter.aws.sessions import AwsAccess
from exporter.collector import exposition
from exporter.aws.arns import partition, role_arn_for
from exporter.config import Config, ConfigError, default_config, format_duration, load_config
from exporter.logs import setup_logging
from exporter.scheduler import Collection, Scheduler
from exporter.snapshot import SnapshotStore
from exporter.sources import REGISTRY
from exporter.sources.base import AccountSource, Context
from exporter.sources.registry import Registry
from exporter.web import ExporterApp, parse_listen_address, serve

DEFAULT_CONFIG_FILE = "config.yaml"
DEFAULT_LISTEN_ADDRESS = ":10042"
USAGE_ERROR = 2
# AWS settings of the user's shell that would override or break the demo's fake credentials.
DEMO_CLEARED_ENV = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
                    "AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME", "AWS_WEB_IDENTITY_TOKEN_FILE",
                    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                    "AWS_CONTAINER_AUTHORIZATION_TOKEN")
log = logging.getLogger("exporter")


def build_parser(registry: Registry = REGISTRY) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aws-root-exporter",
        description="Prometheus exporter for the root user of every account in an AWS organization.")
    parser.add_argument("--config.file", dest="config_file", metavar="PATH", default=None,
                        help=f"YAML configuration file (default: {DEFAULT_CONFIG_FILE}; built-in defaults "
                             "when that default file does not exist, and with --demo)")
    parser.add_argument("--web.listen-address", dest="listen_address", default=DEFAULT_LISTEN_ADDRESS,
                        metavar="[HOST]:PORT", help=f"address to serve on (default: {DEFAULT_LISTEN_ADDRESS})")
    parser.add_argument("--log.level", dest="log_level", default="info",
                        choices=["debug", "info", "warn", "error"], help="log level (default: info)")
    parser.add_argument("--log.format", dest="log_format", default="logfmt", choices=["logfmt", "json"],
                        help="log format (default: logfmt)")
    parser.add_argument("--demo", action="store_true",
                        help="collect a built-in fake AWS organization (needs the 'demo' extra)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--once", action="store_true",
                      help="collect every source once, print the metrics to stdout and exit "
                           "(0 if every account and source succeeded, 1 otherwise)")
    mode.add_argument("--verify-config", action="store_true",
                      help="validate the configuration, print what would be collected and exit (0, or 2 on errors)")
    for source in registry.account_sources:
        spec = source.spec
        parser.add_argument(f"--collector.{spec.name}", dest=f"collector_{spec.name}",
                            action=argparse.BooleanOptionalAction, default=spec.default_on,
                            help=f"{spec.description} (default: {'on' if spec.default_on else 'off'})")
    parser.add_argument("--version", action="version", version=f"aws-root-exporter {__version__}")
    return parser


def enabled_sources(args: argparse.Namespace, registry: Registry = REGISTRY) -> list[AccountSource]:
    """The per-account sources switched on (``--collector.<name>``, or on by default)."""
    return [source for source in registry.account_sources if getattr(args, f"collector_{source.name}")]


def load(path: Optional[str], demo: bool = False, registry: Registry = REGISTRY) -> Config:
    """The configuration: an explicit path must exist; the default path is optional. The demo
    ignores the default file (tailored to a real organization, it would not fit the fake one)."""
    if path is None:
        if demo or not os.path.exists(DEFAULT_CONFIG_FILE):
            return default_config(registry)
        path = DEFAULT_CONFIG_FILE
    return load_config(path, registry)


def main(argv: Optional[Sequence[str]] = None, registry: Registry = REGISTRY) -> int:
    """The command; ``registry`` is the set of sources (a test adds its own)."""
    args = build_parser(registry).parse_args(argv)
    try:
        config = load(args.config_file, demo=args.demo, registry=registry)
        parse_listen_address(args.listen_address)
    except (ConfigError, ValueError) as error:
        print(f"aws-root-exporter: {error}", file=sys.stderr)
        return USAGE_ERROR
    if args.verify_config:
        enabled = {source.name for source in enabled_sources(args, registry)}
        print(describe(config, registry, frozenset(s.name for s in registry.account_sources) - enabled))
        return 0
    setup_logging(args.log_level, args.log_format)

    fake = None
    if args.demo:
        fake = _start_demo()
        if fake is None:
            return USAGE_ERROR
    try:
        return _run(args, config, registry)
    finally:
        if fake is not None:
            fake.stop()


def _start_demo():
    try:
        from fakeaws.demo import start_demo_fake
    except ImportError as error:
        print(f"aws-root-exporter: --demo needs the fake AWS package ({error}): "
              "pip install ./fakeaws (from a source checkout)", file=sys.stderr)
        return None
    fake = start_demo_fake()
    # The user's own AWS settings must not steer the demo's calls away from the fake.
    for name in DEMO_CLEARED_ENV:
        os.environ.pop(name, None)
    os.environ.update(fake.env())
    log.info("demo: fake AWS organization running", extra={"endpoint": fake.endpoint_url})
    return fake


def _run(args: argparse.Namespace, config: Config, registry: Registry) -> int:
    store = SnapshotStore()
    context = Context(access=AwsAccess(config), config=config)
    collection = Collection(context, store, enabled_sources(args, registry))
    intervals = {name: config.collection.intervals[name] for name in collection.source_names}
    if args.once:
        ok = collection.run_once()
        sys.stdout.write(exposition(store.current, intervals)[0].decode())
        return 0 if ok else 1

    expected = set(collection.source_names)
    app = ExporterApp(lambda: store.current, intervals, lambda: expected <= store.current.completed_sources)
    try:
        server, server_thread = serve(app, args.listen_address)
    except OSError as error:
        log.error("cannot listen", extra={"address": args.listen_address, "error": str(error)})
        return 1
    scheduler = Scheduler(collection, intervals)
    scheduler.start()
    log.info("aws-root-exporter started", extra={"address": args.listen_address, "version": __version__,
                                                 "config": config.source})

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()
    log.info("shutting down")
    scheduler.stop()
    server.shutdown()
    server_thread.join()  # serve_forever has returned: the join is immediate
    server.server_close()
    return 0


# ---------------------------------------------------------------- --verify-config


def describe(config: Config, registry: Registry = REGISTRY, disabled: frozenset[str] = frozenset()) -> str:
    """What the exporter would collect with ``config``, for ``--verify-config``; hides the external id.

    Sources come from ``registry``; those in ``disabled`` (switched off by flags) are marked off.
    """
    aws, accounts, collection = config.aws, config.accounts, config.collection
    lines = [
        f"config: {config.source}",
        f"aws region: {aws.region} (partition {partition(aws.region)}), up to {aws.max_attempts} attempts per call",
    ]
    if accounts.discovery == "organizations":
        lines += [
            "discovery: organizations (the accounts that Organizations ListAccounts returns)",
            f"  include: {', '.join(accounts.include) or 'every account'}",
            f"  exclude: {', '.join(accounts.exclude) or 'none'}",
        ]
    else:
        count = len(accounts.static)
        lines.append(f"discovery: static ({count} account{'' if count == 1 else 's'})")
        lines += [f"  {a.id} {a.name}: {role_arn_for(config, a.id)}" for a in accounts.static]
    lines += [
        f"role: {role_arn_for(config, '<account id>')}",
        f"  session name: {accounts.session_name}",
        f"  external id: {'set' if accounts.external_id else 'not set'}",
        f"root audit: {_ROOT_AUDIT_TEXT[accounts.root_audit]}",
        f"concurrency: {collection.concurrency} accounts at once per source",
        f"cloudtrail regions: {', '.join(collection.cloudtrail_regions)}",
        f"console login lookback: {format_duration(collection.console_login_lookback)} on the first look-up",
        f"credential report timeout: {format_duration(collection.credential_report_timeout)}",
        "sources:",
    ]
    width = max(len(spec.name) for spec in registry.specs)
    for spec in registry.specs:
        if spec.name in disabled:
            when = "off (--no-collector." + spec.name + ")"
        elif spec.interval is None:
            when = "with discovery"
        else:
            when = f"every {format_duration(collection.intervals[spec.name])}"
        lines.append(f"  {spec.name:<{width}}  {when}")
    return "\n".join(lines)


_ROOT_AUDIT_TEXT = {
    "auto": "auto (sts:AssumeRoot when the organization has RootCredentialsManagement enabled)",
    "on": "on (sts:AssumeRoot in every member account)",
    "off": "off (no sts:AssumeRoot)",
}
