"""Command line: flags in the style of Prometheus exporters, and the process's life cycle."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time
from typing import Any, Callable, Optional, Sequence


from exporter import __version__
from exporter.aws.sessions import AwsAccess
from exporter.collector import exposition
from exporter.aws.arns import partition, role_arn_for
from exporter.config import Config, ConfigError, default_config, format_duration, load_config, with_shard
from exporter.findings import assess_all, discovery_problem, severity_counts
from exporter.http.webconfig import WebConfig, WebConfigError, load_web_config
from exporter.logs import setup_logging
from exporter.scheduler import Collection, Scheduler
from exporter.snapshot import SnapshotStore, ready
from exporter.sources import REGISTRY, root_events
from exporter.sources.base import AccountSource, Context
from exporter.sources.registry import Registry
from exporter.web import ExporterApp, Warmer, parse_listen_address, serve

DEFAULT_CONFIG_FILE = "config.yaml"
DEFAULT_LISTEN_ADDRESS = ":10042"
USAGE_ERROR = 2
# AWS settings of the user's shell that would override or break the demo's fake credentials.
DEMO_CLEARED_ENV = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
)
log = logging.getLogger("exporter")


def build_parser(registry: Registry = REGISTRY) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aws-root-exporter",
        description="Prometheus exporter for the root user of every account in an AWS organization.",
    )
    parser.add_argument(
        "--config.file",
        dest="config_file",
        metavar="PATH",
        default=None,
        help=f"YAML configuration file (default: {DEFAULT_CONFIG_FILE}; built-in defaults "
        "when that default file does not exist, and with --demo)",
    )
    parser.add_argument(
        "--web.listen-address",
        dest="listen_address",
        default=DEFAULT_LISTEN_ADDRESS,
        metavar="[HOST]:PORT",
        help=f"address to serve on (default: {DEFAULT_LISTEN_ADDRESS})",
    )
    parser.add_argument(
        "--web.config.file",
        dest="web_config_file",
        metavar="PATH",
        default=None,
        help="exporter-toolkit web config: TLS, basic auth, response headers (default: none)",
    )
    parser.add_argument(
        "--web.enable-lifecycle",
        dest="enable_lifecycle",
        action="store_true",
        help="serve POST /-/reload, which reloads the configuration as SIGHUP does (default: off)",
    )
    parser.add_argument(
        "--log.level",
        dest="log_level",
        default="info",
        choices=["debug", "info", "warn", "error"],
        help="log level (default: info)",
    )
    parser.add_argument(
        "--log.format",
        dest="log_format",
        default="logfmt",
        choices=["logfmt", "json"],
        help="log format (default: logfmt)",
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        help="collect a built-in fake AWS organization (needs the fake AWS: make demo, or pip install ./fakeaws)",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--once",
        action="store_true",
        help="collect every source once, print the metrics to stdout, log the findings, and exit "
        "(0 if every account and source succeeded, 1 otherwise)",
    )
    mode.add_argument(
        "--verify-config",
        action="store_true",
        help="validate the configuration, print what would be collected and exit (0, or 2 on errors)",
    )
    parser.add_argument(
        "--verify-config.aws",
        dest="verify_config_aws",
        action="store_true",
        help="--verify-config, and also check the AWS credentials and permissions "
        "(GetCallerIdentity, one ListAccounts page, one member AssumeRole); exit 1 if one fails",
    )
    for source in registry.account_sources:
        spec = source.spec
        parser.add_argument(
            f"--collector.{spec.name}",
            dest=f"collector_{spec.name}",
            action=argparse.BooleanOptionalAction,
            default=spec.default_on,
            help=f"{spec.description} (default: {'on' if spec.default_on else 'off'})",
        )
    parser.add_argument(
        "--shard.index",
        dest="shard_index",
        type=int,
        metavar="N",
        default=None,
        help="collect only the accounts of shard N (0 to --shard.count - 1; "
        "default: collection.shard.index of the configuration, else 0)",
    )
    parser.add_argument(
        "--shard.count",
        dest="shard_count",
        type=int,
        metavar="N",
        default=None,
        help="the number of shards (replicas) the accounts are spread over "
        "(default: collection.shard.count of the configuration, else 1)",
    )
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
        config = with_shard(
            load(args.config_file, demo=args.demo, registry=registry), args.shard_index, args.shard_count
        )
        parse_listen_address(args.listen_address)
        web_config = load_web_config(args.web_config_file) if args.web_config_file else None
    except (ConfigError, ValueError) as error:  # WebConfigError is a ValueError
        print(f"aws-root-exporter: {error}", file=sys.stderr)
        return USAGE_ERROR
    if args.verify_config or args.verify_config_aws:  # --verify-config.aws implies --verify-config
        enabled = {source.name for source in enabled_sources(args, registry)}
        print(describe(config, registry, frozenset(s.name for s in registry.account_sources) - enabled))
        if web_config is not None:
            print(web_config.describe())
        if args.verify_config_aws:
            from exporter.verify_aws import verify_aws

            return verify_aws(config)
        return 0
    setup_logging(args.log_level, args.log_format)

    fake = None
    if args.demo:
        fake = _start_demo()
        if fake is None:
            return USAGE_ERROR
        from fakeaws.demo import with_demo_stream

        config = with_demo_stream(config, fake)
    try:
        return _run(args, config, registry, web_config)
    finally:
        if fake is not None:
            fake.stop()


DEMO_INSTALL_HINT = (
    "--demo needs the fake AWS organization, which cannot be imported here ({error}). "
    "From a clone of the repository run `make demo`, or install the fake into this "
    "environment with `pip install ./fakeaws` and run `aws-root-exporter --demo` again"
)


def _start_demo():
    # The user's own AWS settings must not steer the demo's calls away from the fake (nor break
    # the boto3 calls that set up the demo's trail and event stream).
    for name in DEMO_CLEARED_ENV:
        os.environ.pop(name, None)
    try:
        from fakeaws.demo import start_demo_fake

        fake = start_demo_fake()  # moto is imported here, when the fake server starts
    except ImportError as error:
        print(f"aws-root-exporter: {DEMO_INSTALL_HINT.format(error=error)}", file=sys.stderr)
        return None
    os.environ.update(fake.env())
    log.info("demo: fake AWS organization running", extra={"endpoint": fake.endpoint_url})
    return fake


def _log_findings(snapshot, intervals) -> None:
    """The findings of ``exporter/findings.py``, one log line each (worst account first), so that
    stdout stays a clean exposition and ``--log.format json`` stays one object per line."""
    problem = discovery_problem(snapshot)
    if problem:
        log.error(problem)
    assessments = assess_all(snapshot, time.time(), intervals)
    for item in assessments:
        account = item.state.account
        for hit in item.hits:
            finding = hit.finding
            fields = {
                "severity": finding.severity,
                "finding": finding.id,
                "account_id": account.id,
                "account_name": account.name,
                "detail": hit.detail,
                "alert": finding.alert,
            }
            fields.update(
                {
                    k: v
                    for k, v in (
                        ("cis_control", finding.cis_control),
                        ("securityhub_control", finding.securityhub_control),
                    )
                    if v
                }
            )
            (log.info if finding.severity == "info" else log.warning)(finding.title, extra=fields)
    log.info("findings", extra={"accounts": len(assessments), **severity_counts(assessments)})


def _run(
    args: argparse.Namespace, config: Config, registry: Registry = REGISTRY, web_config: Optional[WebConfig] = None
) -> int:
    store = SnapshotStore()
    if args.once:
        collection = _collection(args, config, store, registry)
        ok = collection.run_once()
        intervals = _intervals(collection, config)
        sys.stdout.write(exposition(store.current, intervals)[0].decode())
        _log_findings(store.current, intervals)
        return 0 if ok else 1

    lifecycle = _Lifecycle(args, config, store, web_config, registry)
    try:
        server, server_thread = serve(lifecycle.service.app, args.listen_address, web_config)
    except OSError as error:
        log.error("cannot listen", extra={"address": args.listen_address, "error": str(error)})
        return 1
    lifecycle.server = server
    lifecycle.service.start()
    log.info(
        "aws-root-exporter started",
        extra={
            "address": args.listen_address,
            "version": __version__,
            "config": config.source,
            "tls": web_config is not None and web_config.tls is not None,
        },
    )

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    reloads = threading.Event()
    signal.signal(signal.SIGHUP, lambda *_: reloads.set())
    while not stop.is_set():
        if reloads.wait(0.5):
            reloads.clear()
            lifecycle.reload()
    log.info("shutting down")
    _exit_soon(0)
    lifecycle.service.stop()
    server.shutdown()
    server_thread.join()  # serve_forever has returned: the join is immediate
    server.server_close()
    return 0


def _collection(
    args: argparse.Namespace, config: Config, store: SnapshotStore, registry: Registry = REGISTRY
) -> Collection:
    return Collection(Context(access=AwsAccess(config), config=config), store, enabled_sources(args, registry))


def _intervals(collection: Collection, config: Config) -> dict[str, float]:
    return {name: config.collection.intervals[name] for name in collection.source_names}


class _Service:
    """What one configuration runs: the collection, its schedule and the web app. A reload
    replaces it whole and keeps the snapshot store, so the data collected so far stays."""

    def __init__(
        self,
        args: argparse.Namespace,
        config: Config,
        store: SnapshotStore,
        reload: Optional[Callable[[], tuple[bool, str]]] = None,
        registry: Registry = REGISTRY,
    ):
        self.config = config
        self._collection = _collection(args, config, store, registry)
        intervals = _intervals(self._collection, config)
        expected = set(self._collection.source_names)
        self.app = ExporterApp(lambda: store.current, intervals, lambda: ready(store.current, expected), reload)
        self._scheduler = Scheduler(self._collection, intervals)
        self._stream: Optional[root_events.EventStream] = None
        self._warmer = Warmer(self.app)

    def start(self) -> None:
        self._scheduler.start()
        self._warmer.start()
        # None unless collection.root_events.queue_url is set.
        self._stream = root_events.start_stream(self._collection.context, self._collection.store)

    def stop(self) -> None:
        """Runs in progress are abandoned; a late result of one lands only for an account still
        in the snapshot. The stream stops after its long poll; a batch received then is left to
        SQS's redelivery, so nothing applied is lost and nothing is applied twice."""
        self._scheduler.stop()
        self._warmer.stop()
        if self._stream is not None:
            self._stream.stop()


class _Lifecycle:
    """The running service and the one way to reload it, for SIGHUP and ``POST /-/reload``
    (``--web.enable-lifecycle``) alike: one reload at a time."""

    def __init__(
        self,
        args: argparse.Namespace,
        config: Config,
        store: SnapshotStore,
        web_config: Optional[WebConfig] = None,
        registry: Registry = REGISTRY,
    ):
        self._args = args
        self._registry = registry
        self._store = store
        self._lock = threading.Lock()
        self._web_config = web_config
        self.server: Any = None  # set once it listens; a reload swaps its app and web config
        self.service = self._service(config)

    def _service(self, config: Config) -> _Service:
        return _Service(
            self._args, config, self._store, self.reload if self._args.enable_lifecycle else None, self._registry
        )

    def reload(self) -> tuple[bool, str]:
        """Read the configuration file again and apply it when it changed: (True, what happened),
        or (False, its errors, one per line) with the running configuration kept."""
        with self._lock:
            web_config, web_errors = _reloaded_web_config(self._args, self._web_config)
            if not web_errors:
                self._web_config = web_config
                self.server.use_web_config(web_config)
            new, errors = _reloaded(self._args, self.service.config, self._registry)
            if errors or web_errors:
                return False, "\n".join(errors + web_errors)
            if new is None:
                return True, "configuration unchanged"
            self.service.stop()
            self.service = self._service(new)
            self.server.use_app(self.service.app)  # behind the same TLS, auth and limits
            self.service.start()
            log.info("configuration reloaded", extra={"config": new.source})
            return True, "configuration reloaded"


def _reloaded(
    args: argparse.Namespace, running: Config, registry: Registry = REGISTRY
) -> tuple[Optional[Config], list[str]]:
    """The configuration file read again: (the new one, []), (None, []) when nothing changed, or
    (None, its errors, each logged) to keep the running one."""
    try:
        new = with_shard(load(args.config_file, demo=args.demo, registry=registry), args.shard_index, args.shard_count)
    except ValueError as error:  # the flags still apply; only the file can have changed
        log.error("reload refused", extra={"config": running.source, "error": str(error)})
        return None, [str(error)]
    except ConfigError as error:
        log.error(
            "reload refused: the configuration file has errors; keeping the running configuration",
            extra={"config": running.source, "errors": len(error.errors)},
        )
        for line in error.errors:
            log.error("configuration error", extra={"error": line})
        return None, list(error.errors)
    if new == running:
        log.info("reload: configuration unchanged", extra={"config": new.source})
        return None, []
    return new, []


def _reloaded_web_config(
    args: argparse.Namespace, running: Optional[WebConfig]
) -> tuple[Optional[WebConfig], list[str]]:
    """The web config file read again (TLS, basic auth, headers): (it, []), or (the running one,
    its errors, each logged; nothing secret is in them) when there is no file or it has errors."""
    if not args.web_config_file:
        return running, []
    try:
        return load_web_config(args.web_config_file), []
    except WebConfigError as error:
        log.error(
            "web config reload refused: the file has errors; keeping the running web config",
            extra={"web_config": args.web_config_file},
        )
        lines = str(error).splitlines()
        for line in lines:
            log.error("web config error", extra={"error": line})
        return running, lines


EXIT_GRACE = 2.0  # seconds that a clean shutdown may take before the process exits anyway


def _exit_soon(code: int) -> None:
    """Exit with ``code`` at the latest ``EXIT_GRACE`` seconds from now: calls still in flight
    (a hung account, a slow credential report) are abandoned, not waited for. Without this the
    interpreter's exit joins the scheduler's worker threads, which can take minutes."""

    def hard_exit() -> None:
        time.sleep(EXIT_GRACE)
        for handler in logging.getLogger().handlers:
            handler.flush()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)

    threading.Thread(target=hard_exit, name="exit", daemon=True).start()


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
            "discovery: organizations (every active account, walked from the root OU by OU with their paths)",
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
        f"root e-mail policy: {' | '.join(accounts.root_email_allowed) or 'none'}",
        f"concurrency: {collection.concurrency} accounts at once per source",
        f"shard: {collection.shard_index} of {collection.shard_count} (shards 0 to {collection.shard_count - 1})"
        if collection.shard_count > 1
        else "shard: none (this replica collects every account)",
        f"cloudtrail regions: {', '.join(collection.cloudtrail_regions)}",
        f"console login lookback: {format_duration(collection.console_login_lookback)} on the first look-up",
        f"credential report timeout: {format_duration(collection.credential_report_timeout)}",
        f"root event stream: {collection.root_events.queue_url or 'off (collection.root_events.queue_url unset)'}",
        "sources:",
    ]
    width = max(len(spec.name) for spec in registry.specs)
    for spec in registry.specs:
        if spec.name in disabled:
            when = "off (--no-collector." + spec.name + ")"
        elif spec.interval is None:
            when = str(spec.runs)
        else:
            when = f"every {format_duration(collection.intervals[spec.name])}"
        lines.append(f"  {spec.name:<{width}}  {when}")
    lines.append("deadline per account (a hung account is recorded as failed and the run goes on):")
    lines += [
        f"  {name:<{width}}  {format_duration(collection.deadline(name))}" for name in registry.account_source_names
    ]
    lines.append("stale after (values older than this are left out of /metrics and marked stale on the page):")
    lines += [f"  {name:<{width}}  {format_duration(collection.stale_after[name])}" for name in registry.interval_names]
    return "\n".join(lines)


_ROOT_AUDIT_TEXT = {
    "auto": "auto (sts:AssumeRoot when the organization has RootCredentialsManagement enabled)",
    "on": "on (sts:AssumeRoot in every member account)",
    "off": "off (no sts:AssumeRoot)",
}
