"""The landing page: the console a security engineer opens first.

Summary counts at the top, then every root user ordered by its worst finding, each finding
spelled out with its controls, and the reason a source fails. Every finding is defined once in
``findings.py``; this page only lists them, so it says what the alerts say. Rendered on the
server from the current snapshot, no JavaScript: every view is a URL.

Query parameters (combine freely): ``view`` = ``all`` (default), ``attention``, ``console`` or a
finding's view key (``no-mfa``, ``access-keys``, ``signed-in-24h``, ...; an unknown view is a
404); ``ou`` = an OU path, which selects the accounts in it and below; ``q`` = part of an
account's name, id or e-mail (case-insensitive). ``/api/roots.json`` takes the same parameters.
"""

from __future__ import annotations

import html
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable, Mapping, Optional
from urllib.parse import parse_qs, urlencode

from exporter import __version__
from exporter.findings import FINDINGS, Assessment, Finding, ago, assess_all, discovery_problem, failing_sources
from exporter.root_facts import CredentialFacts
from exporter.sources import console_logins, credential_report, root_policies

TROUBLESHOOTING_URL = (
    "https://github.com/aws-root-exporter/aws-root-exporter/blob/main/README.md#troubleshooting-credentials"
)
RECENT_SECONDS = 24 * 3600
_NEVER = datetime.min.replace(tzinfo=timezone.utc)


class UnknownView(ValueError):
    """A ``view`` the page does not have: answered with 404."""


@dataclass(frozen=True)
class View:
    key: str
    title: str
    keep: Callable[[Assessment], bool]
    finding: Optional[Finding] = None


def _finding_view(finding: Finding) -> View:
    return View(finding.view, finding.title, lambda item: item.has(finding.id), finding)


VIEWS: tuple[View, ...] = (
    View("all", "All root users", lambda item: True),
    View("attention", "Needs attention", lambda item: bool(item.hits)),
    View("console", "Signed in via console (newest first)", lambda item: item.facts.last_console_login is not None),
) + tuple(_finding_view(finding) for finding in FINDINGS)
VIEW_BY_KEY: Mapping[str, View] = {view.key: view for view in VIEWS}

# The summary at the top: (label, view key). "Accounts" counts every account.
SUMMARY = (
    ("Roots without MFA", "no-mfa"),
    ("With access keys", "access-keys"),
    ("Signed in within 24h", "signed-in-24h"),
    ("Failed sign-ins", "failed-sign-ins"),
    ("Root used in 1h", "root-activity"),
    ("No root-deny SCP", "not-restricted-by-scp"),
    ("Failing collection", "collection-failing"),
)


@dataclass(frozen=True)
class Query:
    view: View = VIEWS[0]
    ou: str = ""
    q: str = ""

    @classmethod
    def parse(cls, query_string: str) -> "Query":
        params = parse_qs(query_string or "")
        key = params.get("view", ["all"])[0] or "all"
        if key not in VIEW_BY_KEY:
            raise UnknownView(key)
        return cls(VIEW_BY_KEY[key], params.get("ou", [""])[0].strip().strip("/"), params.get("q", [""])[0].strip())

    def url(self, **changes: str) -> str:
        values = {"view": self.view.key, "ou": self.ou, "q": self.q, **changes}
        kept = {k: v for k, v in values.items() if v and not (k == "view" and v == "all")}
        return "/?" + urlencode(kept) if kept else "/"

    def matches(self, item: Assessment) -> bool:
        account = item.state.account
        if self.ou and not (account.ou_path == self.ou or account.ou_path.startswith(self.ou + "/")):
            return False
        if self.q:
            needle = self.q.lower()
            if not any(needle in text.lower() for text in (account.name, account.id, account.email)):
                return False
        return True


@dataclass(frozen=True)
class Page:
    """What both the page and ``/api/roots.json`` show: the filtered rows and the summary."""

    query: Query
    rows: list[Assessment]
    scope: list[Assessment]  # every account the OU and search filters keep, any view
    total: int
    problem: Optional[str]  # discovery failing
    now: float


def select(snapshot, query: Query, intervals: Mapping[str, float], now: Optional[float] = None) -> Page:
    now = time.time() if now is None else now
    every = assess_all(snapshot, now, intervals)
    scope = [item for item in every if query.matches(item)]
    rows = [item for item in scope if query.view.keep(item)]
    if query.view.key == "console":
        # the console view keeps rows with a sign-in only; the fallback is for the type checker
        rows.sort(key=lambda item: item.facts.last_console_login or _NEVER, reverse=True)
    return Page(query, rows, scope, len(every), discovery_problem(snapshot), now)


def count(page: Page, view_key: str) -> int:
    view = VIEW_BY_KEY[view_key]
    return sum(1 for item in page.scope if view.keep(item))


def ou_paths(snapshot) -> list[str]:
    """Every OU path of the snapshot's accounts, with the OUs above them."""
    paths = set()
    for state in snapshot.accounts.values():
        parts = [part for part in state.account.ou_path.split("/") if part]
        for depth in range(1, len(parts) + 1):
            paths.add("/".join(parts[:depth]))
    return sorted(paths)


# ------------------------------------------------------------------------------------- HTML

_STYLE = """
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:1rem 1.25rem;color:#1f2328;font-size:15px}
h1{font-size:1.4rem;margin:0} p.meta{color:#59636e;margin:.2rem 0 .8rem} a{color:#0969da}
.banner{border:2px solid #b42318;background:#fef3f2;padding:.6rem .9rem;border-radius:8px;margin:.6rem 0}
.banner h2{margin:0 0 .3rem;font-size:1.05rem;color:#b42318} .banner p{margin:.25rem 0}
.notice{border:1px solid #d4a72c;background:#fff8c5;padding:.4rem .8rem;border-radius:8px}
.summary{display:flex;flex-wrap:wrap;gap:.5rem;margin:.6rem 0}
.summary a{display:block;min-width:7rem;padding:.3rem .6rem;border:1px solid #d1d9e0;border-radius:8px;
 text-decoration:none;color:#1f2328;background:#f6f8fa;font-size:.85rem}
.summary a b{display:block;font-size:1.4rem;line-height:1.2} .summary a.bad b{color:#b42318}
.summary a.current{outline:2px solid #0969da}
form{display:flex;flex-wrap:wrap;gap:.5rem;align-items:center;margin:.5rem 0}
input,select,button{font:inherit;padding:.2rem .4rem}
nav{display:flex;flex-wrap:wrap;gap:.2rem .3rem;margin:.4rem 0}
nav a{text-decoration:none;padding:.05rem .35rem;border-radius:6px;border:1px solid #d1d9e0;font-size:.78rem}
nav a.current{background:#0969da;color:#fff;border-color:#0969da}
h2#view-title{font-size:1.1rem;margin:.6rem 0 .3rem}
table{border-collapse:collapse;width:100%;table-layout:fixed;font-size:.88rem}
th,td{border-bottom:1px solid #d1d9e0;padding:.35rem .4rem;text-align:left;vertical-align:top;overflow-wrap:anywhere}
th{background:#f6f8fa} col.account{width:17%} col.findings{width:42%} col.credentials{width:15%}
col.sign-in{width:12%} col.collection{width:14%}
ul.findings{list-style:none;margin:0;padding:0} ul.findings li{margin:0 0 .15rem;line-height:1.3}
.sev{display:inline-block;font-size:.72rem;font-weight:700;text-transform:uppercase;border-radius:4px;padding:0 .3rem;margin-right:.3rem}
.sev-critical{background:#b42318;color:#fff} .sev-warning{background:#9a6700;color:#fff} .sev-info{background:#59636e;color:#fff}
.controls{color:#59636e;font-size:.75rem} .detail{color:#424a53;font-size:.82rem}
.fact{display:inline-block;margin:0 .5rem .15rem 0;max-width:100%}
.bad{color:#b42318;font-weight:600} .good{color:#1a7f37} .warn{color:#9a6700} .none{color:#59636e}
.recent{background:#ffebe9;color:#b42318;font-weight:600;border-radius:4px;padding:0 .2rem}
.sev-stale{background:#d1d9e0;color:#424a53} li[data-stale] strong{color:#59636e;font-weight:600}
.stale-note{background:#fff8c5;border-radius:4px;padding:0 .2rem;color:#7d4e00}
small{color:#59636e} .ok{color:#1a7f37}
"""


def _e(text: object) -> str:
    return html.escape(str(text))


def _date(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _fact(field: str, label: str, text: str, css: str) -> str:
    return f'<span class="fact {css}" data-field="{field}">{_e(label)}: {_e(text)}</span>'


def _yes_no(value: Optional[bool]) -> str:
    return "unknown" if value is None else ("yes" if value else "no")


def _slot(item: Assessment, field: str, label: str, slot: CredentialFacts, finding_id: str) -> str:
    if slot.active is None:
        return _fact(field, label, "unknown", "none")
    if slot.active:
        return _fact(field, label, "active", "bad" if item.has(finding_id) else "")
    if slot.last_rotated is not None:
        return _fact(field, label, "inactive", "warn")
    return _fact(field, label, "none", "good")


def _credentials(item: Assessment) -> str:
    facts = item.facts
    if facts.credentials_present is False:
        return _fact("credentials", "Root credentials", "none (compliant)", "good") + _fact(
            "mfa", "MFA", "not needed", "good"
        )
    parts = [
        _fact(
            "credentials",
            "Root credentials",
            _yes_no(facts.credentials_present),
            "none" if facts.credentials_present is None else "",
        )
    ]
    if item.has("root_without_mfa"):
        parts.append(_fact("mfa", "MFA", "no", "bad"))
    elif facts.mfa_active is None:
        parts.append(_fact("mfa", "MFA", "unknown", "none"))
    elif facts.mfa_active is False:
        parts.append(_fact("mfa", "MFA", "no", "none"))  # no credentials known that need it
    elif facts.mfa_hardware is False:
        parts.append(_fact("mfa", "MFA", "virtual only", "warn" if item.has("mfa_virtual_only") else ""))
    elif facts.mfa_hardware is True:
        parts.append(_fact("mfa", "MFA", "hardware/FIDO", "good"))
    else:
        parts.append(_fact("mfa", "MFA", "yes (kind unknown)", "good"))
    password_css = (
        "bad"
        if item.has("password_with_centralized_root_access")
        else ("none" if facts.password_enabled is None else "")
    )
    parts.append(_fact("password", "Password", _yes_no(facts.password_enabled), password_css))
    for number, slot in enumerate(facts.access_keys, 1):
        parts.append(_slot(item, f"key_{number}", f"Key {number}", slot, "access_key_active"))
    for number, slot in enumerate(facts.certificates, 1):
        parts.append(_slot(item, f"cert_{number}", f"Cert {number}", slot, "signing_certificate_active"))
    return "".join(parts)


def _sign_in(item: Assessment, now: float) -> str:
    facts = item.facts
    if facts.last_console_login is None:
        sources = {console_logins.NAME, credential_report.NAME}
        statuses = [status for name, status in item.state.sources.items() if name in sources]
        if any(status.stale_since is not None for status in statuses):
            return '<span class="none">unknown (data stale)</span>'
        failing = any(not status.success for status in statuses)
        return (
            '<span class="none">unknown (source failing)</span>' if failing else '<span class="none">none seen</span>'
        )
    age = now - facts.last_console_login.timestamp()
    css = "recent" if age < RECENT_SECONDS else ""
    text = f'<span class="{css}" data-age-seconds="{int(age)}">{_e(ago(age))}</span><br><small>{_e(_date(facts.last_console_login))}</small>'
    event = facts.last_console_login_event
    if event is not None and event.time == facts.last_console_login:
        text += f"<br><small>from {_e(event.source_ip)}, MFA {'used' if event.mfa_used else 'not used'}</small>"
    return text


def _stale_sources(item: Assessment) -> list[str]:
    return [name for name, status in sorted(item.state.sources.items()) if status.stale_since is not None]


def _collection(item: Assessment) -> str:
    failing = failing_sources(sorted(item.state.sources.items()))
    stale = "".join(
        f'<div class="stale-note" data-stale="{_e(name)}">stale since '
        f"{_e(_date(datetime.fromtimestamp(status.stale_since, timezone.utc)))}: {_e(name)} last succeeded "
        f"{_e(_date(datetime.fromtimestamp(status.last_success, timezone.utc)))}; its values are not shown as current</div>"
        for name, status in sorted(item.state.sources.items())
        if status.stale_since is not None and status.last_success is not None
    )
    if not failing:
        return stale or '<span class="ok">ok</span>'
    return stale + "".join(
        f'<div class="bad" data-sources="{_e(names)}">failing: {_e(names)}</div>'
        f'<div class="source-error">{_e(error)}</div>'
        for names, error in failing
    )


def _findings(item: Assessment) -> str:
    if not item.hits and not item.stale_hits:
        return '<span class="ok">No findings</span>'
    entries = []
    for hit in item.hits + item.stale_hits:
        finding = hit.finding
        last_known = hit in item.stale_hits
        controls = f' <span class="controls">{_e(finding.controls)}</span>' if finding.controls else ""
        badge = (
            '<span class="sev sev-stale">last known</span>'
            if last_known
            else f'<span class="sev sev-{finding.severity}">{finding.severity}</span>'
        )
        marker = ' data-stale="true"' if last_known else ""
        entries.append(
            f'<li data-finding="{_e(finding.id)}" data-severity="{finding.severity}"{marker}>{badge}'
            f'<strong>{_e(finding.title)}</strong>{controls} <span class="detail">— {_e(hit.detail)}</span></li>'
        )
    return f'<ul class="findings">{"".join(entries)}</ul>'


_TARGET_KINDS = {"ROOT": "organization root", "ORGANIZATIONAL_UNIT": "OU", "ACCOUNT": "account"}


def attachment_text(policy_name: str, policy_id: str, target_name: str, target_type: str) -> str:
    """``DenyRootUser (OU Prod)``: a policy and where it is attached."""
    kind = _TARGET_KINDS.get(target_type, target_type.lower() or "target")
    where = kind if target_type == "ROOT" else f"{kind} {target_name or '?'}"
    return f"{policy_name or policy_id} ({where})"


def _restricted_by(item: Assessment) -> str:
    """Which SCPs restrict the member's root and where they are attached; "" where SCPs do not
    apply (management account, SCPs off) or the source has not run."""
    value = item.state.value(root_policies.NAME)
    if value is None or not value.scps_enabled:
        return ""
    places = root_policies.describe(item.state)
    label = (
        "Root restricted by" if value.denies_all else ("Root partly restricted by" if places else "Root restricted by")
    )
    text = ", ".join(attachment_text(*place) for place in places) or "no SCP"
    css = "bad" if item.has("not_restricted_by_scp") else ("good" if value.denies_all else "warn")
    return f'<br><small class="{css}" data-field="restricted_by">{_e(label)}: {_e(text)}</small>'


def _row(item: Assessment, now: float) -> str:
    account = item.state.account
    management = " <small>(management)</small>" if account.management else ""
    stale = _stale_sources(item)
    stale_attribute = f' data-stale="{_e(", ".join(stale))}"' if stale else ""
    return (
        f'<tr data-account-id="{_e(account.id)}" data-worst="{item.worst or "none"}"{stale_attribute}>'
        f'<td data-field="account"><strong>{_e(account.name)}</strong>{management}<br><small>{_e(account.id)}</small>'
        f'<br><small data-field="ou">{_e(account.ou_path)}</small>{_restricted_by(item)}</td>'
        f'<td data-field="findings">{_findings(item)}</td>'
        f'<td data-field="root">{_credentials(item)}</td>'
        f'<td data-field="last_console_login">{_sign_in(item, now)}</td>'
        f'<td data-field="collection">{_collection(item)}</td></tr>'
    )


def _banner(problem: Optional[str]) -> str:
    if problem is None:
        return ""
    return (
        '<section class="banner" id="discovery-banner" role="alert"><h2>The exporter cannot see your organization</h2>'
        f'<p data-field="discovery-error">{_e(problem)}</p>'
        "<p>What to do: the exporter uses the standard AWS credential chain (environment variables, "
        "<code>AWS_PROFILE</code> and the shared config files, SSO, instance or task role). Check that "
        "<code>aws sts get-caller-identity</code> succeeds with the same environment, renew an expired SSO session "
        "(<code>aws sso login</code>), and that the principal may call <code>organizations:ListRoots</code>, <code>ListOrganizationalUnitsForParent</code> and <code>ListAccountsForParent</code>. "
        f'See <a href="{TROUBLESHOOTING_URL}">Troubleshooting credentials</a> in the README.</p>'
        "<p>Until discovery succeeds, accounts below are the last ones seen, or none.</p></section>"
    )


def _summary(page: Page) -> str:
    query = page.query
    tiles = [
        f'<a href="{_e(query.url(view="all"))}" data-summary="accounts" class="{"current" if query.view.key == "all" else ""}">'
        f"<b>{len(page.scope)}</b>Accounts</a>"
    ]
    for label, key in SUMMARY:
        n = count(page, key)
        classes = " ".join(c for c in ("bad" if n else "", "current" if query.view.key == key else "") if c)
        tiles.append(
            f'<a href="{_e(query.url(view=key))}" data-summary="{key}" class="{classes}"><b>{n}</b>{_e(label)}</a>'
        )
    return f'<div class="summary" id="summary">{"".join(tiles)}</div>'


def _filters(page: Page, snapshot) -> str:
    query = page.query
    options = ['<option value="">All OUs</option>'] + [
        f'<option value="{_e(path)}"{" selected" if path == query.ou else ""}>{_e(path)}</option>'
        for path in ou_paths(snapshot)
    ]
    view = f'<input type="hidden" name="view" value="{_e(query.view.key)}">' if query.view.key != "all" else ""
    return (
        f'<form method="get" action="/" id="filters">{view}'
        f'<label>OU <select name="ou">{"".join(options)}</select></label>'
        f'<label>Account <input type="search" name="q" value="{_e(query.q)}" placeholder="name, id or e-mail"></label>'
        '<button type="submit">Filter</button>'
        + (f' <a href="{_e(query.url(ou="", q=""))}">Clear filters</a>' if query.ou or query.q else "")
        + "</form>"
    )


def _nav(page: Page) -> str:
    query = page.query
    links = []
    for view in VIEWS:
        current = " current" if view is query.view else ""
        n = len(page.scope) if view.key == "all" else count(page, view.key)
        links.append(
            f'<a href="{_e(query.url(view=view.key))}" class="view{current}" data-view="{view.key}">'
            f"{_e(view.title)} ({n})</a>"
        )
    return f'<nav aria-label="views">{"".join(links)}</nav>'


def render(
    snapshot,
    query: Query = Query(),
    ready: bool = True,
    intervals: Mapping[str, float] = {},
    now: Optional[float] = None,
) -> str:
    page = select(snapshot, query, intervals, now)
    status = (
        ""
        if ready
        else ('<p class="notice"><strong>First collection still running</strong>: some values are not in yet.</p>')
    )
    body = "".join(_row(item, page.now) for item in page.rows)
    if not page.rows:
        body = '<tr><td colspan="5">No root users in this view.</td></tr>'
    filtered = f" · OU {_e(query.ou)}" if query.ou else ""
    filtered += f" · matching “{_e(query.q)}”" if query.q else ""
    described = (
        f'<p class="meta">{_e(query.view.finding.description)} <span class="controls">{_e(query.view.finding.controls)}</span> · alert <code>{_e(query.view.finding.alert)}</code></p>'
        if query.view.finding
        else ""
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>aws-root-exporter</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{_STYLE}</style></head>
<body><h1>aws-root-exporter</h1>
<p class="meta">Root users of {page.total} AWS accounts · version {_e(__version__)} ·
<a href="/metrics">Metrics</a> · <a href="/api/roots.json{_e(query.url()[1:])}">JSON</a> · <a href="/-/healthy">Health</a> · <a href="/-/ready">Readiness</a></p>
{_banner(page.problem)}{status}{_summary(page)}{_filters(page, snapshot)}{_nav(page)}
<h2 id="view-title">{_e(query.view.title)}{filtered} <small>({len(page.rows)})</small></h2>{described}
<table id="root-users"><colgroup><col class="account"><col class="findings"><col class="credentials"><col class="sign-in"><col class="collection"></colgroup>
<thead><tr><th>Account</th><th>Findings</th><th>Root credentials</th><th>Last console sign-in</th><th>Collection</th></tr></thead>
<tbody>{body}</tbody></table>
</body></html>
"""


def respond_with(
    renderer: Callable[..., str],
    content_type: str,
    query_string: str,
    snapshot,
    ready: bool,
    intervals: Mapping[str, float],
    now: Optional[float] = None,
) -> tuple[str, str, str]:
    """(HTTP status, body, content type): ``renderer``'s answer to the query, or a 404 for an
    unknown view. Shared by ``/`` and ``/api/roots.json``."""
    try:
        query = Query.parse(query_string)
    except UnknownView as error:
        return (
            "404 Not Found",
            f"Unknown view {str(error)!r}. Views: {', '.join(VIEW_BY_KEY)}.\n",
            "text/plain; charset=utf-8",
        )
    return "200 OK", renderer(snapshot, query, ready, intervals, now), content_type


def respond(
    query_string: str, snapshot, ready: bool, intervals: Mapping[str, float], now: Optional[float] = None
) -> tuple[str, str, str]:
    """(HTTP status, body, content type) for ``/``."""
    return respond_with(render, "text/html; charset=utf-8", query_string, snapshot, ready, intervals, now)
