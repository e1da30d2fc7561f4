"""The landing page: every root user at a glance, with views for what needs attention.

Rendered on the server from the current snapshot (no JavaScript), so it works in any browser
and behind any proxy. Views are plain links: ``/?view=no-mfa``, ``access-keys``, ``console``.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable, Optional

from exporter import __version__
from exporter.root_facts import CredentialFacts, RootFacts, root_facts
from exporter.sources import console_logins, credential_report
from exporter.state import AccountState, Snapshot


@dataclass(frozen=True)
class View:
    key: str
    title: str
    keep: Callable[[RootFacts], bool]


VIEWS = (
    View("all", "All root users", lambda facts: True),
    View("no-mfa", "Without MFA", lambda facts: facts.without_mfa),
    View("access-keys", "With access keys", lambda facts: facts.has_active_key),
    View("console", "Signed in via console", lambda facts: facts.last_console_login is not None),
)
_VIEW_BY_KEY = {view.key: view for view in VIEWS}

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#1f2328}
h1{font-size:1.5rem;margin:0 0 .25rem} p.meta{color:#59636e;margin:.25rem 0 1rem}
nav a{margin-right:1rem;text-decoration:none;padding:.25rem .5rem;border-radius:6px;color:#0969da}
nav a.current{background:#0969da;color:#fff}
table{border-collapse:collapse;margin-top:1rem;font-size:.9rem}
th,td{border-bottom:1px solid #d1d9e0;padding:.3rem .45rem;text-align:left;white-space:nowrap}
td[data-field=last_console_login],td[data-field=collection]{white-space:normal;min-width:11rem}
th{background:#f6f8fa} td.bad{color:#b42318;font-weight:600} td.good{color:#1a7f37}
td.warn{color:#9a6700} td.none{color:#59636e} small{color:#59636e} div.scroll{overflow-x:auto}
"""


def _yes_no(value: Optional[bool], bad_when: Optional[bool]) -> tuple[str, str]:
    """(text, css class) for a fact; ``bad_when`` is the value that needs attention."""
    if value is None:
        return "unknown", "none"
    text = "yes" if value else "no"
    if bad_when is None:
        return text, ""
    return text, "bad" if value == bad_when else "good"


def _date(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _slot(slot: CredentialFacts) -> tuple[str, str]:
    return _yes_no(slot.active, bad_when=True)


def _cells(state: AccountState, facts: RootFacts) -> list[tuple[str, str, str]]:
    """(field, text, css class) for one table row."""
    no_credentials = facts.credentials_present is False
    if no_credentials:
        credentials = ("none (compliant)", "good")
        mfa = hardware = ("not needed", "good")
    else:
        credentials = _yes_no(facts.credentials_present, bad_when=None)
        mfa = _yes_no(facts.mfa_active, bad_when=False)
        hardware = _yes_no(facts.mfa_hardware, bad_when=False)
        if facts.mfa_active is False:
            hardware = ("—", "none")  # "MFA: no" already says it
        elif facts.mfa_active and facts.mfa_hardware is False:
            hardware = ("no (virtual only)", "warn")
    password = _yes_no(facts.password_enabled, bad_when=None)
    failing = sorted(name for name, status in state.sources.items() if not status.success)
    collection = ("failing: " + ", ".join(failing), "bad") if failing else ("ok", "good")
    event = facts.last_console_login_event
    if facts.last_console_login is not None:
        login = _date(facts.last_console_login)
    elif {console_logins.NAME, credential_report.NAME} & set(failing):
        login = "unknown (source failing)"
    else:
        login = "none seen"
    if event is not None and event.time == facts.last_console_login:
        login += f" from {event.source_ip} (MFA {'used' if event.mfa_used else 'not used'})"
    return [
        ("credentials", *credentials),
        ("mfa", *mfa),
        ("mfa_hardware", *hardware),
        ("password", *password),
        ("key_1", *_slot(facts.access_keys[0])),
        ("key_2", *_slot(facts.access_keys[1])),
        ("cert_1", *_slot(facts.certificates[0])),
        ("cert_2", *_slot(facts.certificates[1])),
        ("last_console_login", login, "warn" if facts.last_console_login else "none"),
        ("collection", *collection),
    ]


_HEADERS = ("Account", "OU", "Root credentials", "MFA", "Hardware MFA", "Password", "Key 1", "Key 2",
            "Certificate 1", "Certificate 2", "Last console sign-in", "Collection")


def render(snapshot: Snapshot, view_key: str = "all", ready: bool = True) -> str:
    view = _VIEW_BY_KEY.get(view_key, VIEWS[0])
    rows = []
    for state in snapshot.accounts.values():
        facts = root_facts(state)
        if view.keep(facts):
            rows.append((state, facts))
    if view.key == "console":
        rows.sort(key=lambda row: row[1].last_console_login, reverse=True)
    else:
        rows.sort(key=lambda row: (row[0].account.name.lower(), row[0].account.id))

    nav = " ".join(
        f'<a href="/?view={v.key}" class="{"current" if v is view else ""}" data-view="{v.key}">{html.escape(v.title)}</a>'
        for v in VIEWS)
    body = []
    for state, facts in rows:
        account = state.account
        cells = "".join(f'<td data-field="{field}" class="{css}">{html.escape(text)}</td>'
                        for field, text, css in _cells(state, facts))
        body.append(
            f'<tr data-account-id="{html.escape(account.id)}">'
            f'<td data-field="account">{html.escape(account.name)} <small>{html.escape(account.id)}</small></td>'
            f'<td data-field="ou">{html.escape(account.ou_path)}</td>{cells}</tr>')
    headers = "".join(f"<th>{h}</th>" for h in _HEADERS)
    status = "" if ready else '<p class="meta"><strong>First collection still running</strong>: some values are not in yet.</p>'
    empty = f'<tr><td colspan="{len(_HEADERS)}">No root users in this view.</td></tr>' if not rows else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>aws-root-exporter</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{_STYLE}</style></head>
<body><h1>aws-root-exporter</h1>
<p class="meta">Root users of {len(snapshot.accounts)} AWS accounts · version {html.escape(__version__)} ·
<a href="/metrics">Metrics</a> · <a href="/-/healthy">Health</a> · <a href="/-/ready">Readiness</a></p>
{status}<nav>{nav}</nav>
<h2 id="view-title">{html.escape(view.title)} <small>({len(rows)})</small></h2>
<div class="scroll"><table id="root-users"><thead><tr>{headers}</tr></thead><tbody>{''.join(body)}{empty}</tbody></table></div>
</body></html>
"""
