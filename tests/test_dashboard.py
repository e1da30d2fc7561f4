"""The Grafana dashboard `grafana/dashboards/aws-root-users.json`, checked without a Grafana server.

Structure (ids, grid, data source, variables, links) is read from the JSON; the PromQL of every
panel is parsed and, for the queries that decide what a user reads as "root without MFA",
evaluated by `promtool test rules` on hand-made series.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Iterator

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
DASHBOARD_PATH = REPO / "grafana" / "dashboards" / "aws-root-users.json"
ARCHITECTURE = REPO / "docs" / "architecture.md"
RUNBOOKS = REPO / "docs" / "runbooks.md"
ALERTS = REPO / "prometheus" / "alerts.yml"

GRID_COLUMNS = 24
DATASOURCE_REF = {"type": "prometheus", "uid": "${datasource}"}

# Grafana's own variables that may appear in queries, with the values the tests give them.
BUILTIN_VALUES = {
    "__range": "1h",
    "__range_s": "3600",
    "__range_ms": "3600000",
    "__rate_interval": "1m",
    "__interval": "1m",
    "__interval_ms": "60000",
}

# Metrics the dashboard may use besides the exporter's own: Prometheus' scrape health.
PROMETHEUS_METRICS = {"up"}

_VARIABLE_REF = re.compile(r"\$(?:\{(\w+)(?::[^}]*)?\}|(\w+))|\[\[(\w+)(?::[^\]]*)?\]\]")


# ---------------------------------------------------------------- helpers (also used by tests/e2e)


def load_dashboard() -> dict:
    return json.loads(DASHBOARD_PATH.read_text())


def all_panels(dashboard: dict) -> Iterator[dict]:
    """Every panel: top-level ones, rows, and the panels a collapsed row keeps inside it."""
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])


def query_panels(dashboard: dict) -> list[dict]:
    return [panel for panel in all_panels(dashboard) if panel["type"] != "row"]


def variables(dashboard: dict) -> list[dict]:
    return dashboard["templating"]["list"]


def variable_query(variable: dict) -> str:
    """The PromQL or label_values() text of a query variable (string or editor-object form)."""
    query = variable.get("query")
    if isinstance(query, dict):
        query = query.get("query")
    return query or variable.get("definition") or ""


def variable_refs(text: str) -> set[str]:
    """Names of the variables ``$x``, ``${x}``, ``${x:fmt}`` and ``[[x]]`` that ``text`` refers to."""
    return {next(group for group in match.groups() if group) for match in _VARIABLE_REF.finditer(text)}


def substitute(text: str, values: dict[str, str]) -> str:
    """Replace every variable reference as Grafana would; unknown variables are an error."""

    def replace(match: re.Match) -> str:
        name = next(group for group in match.groups() if group)
        merged = {**BUILTIN_VALUES, **values}
        if name not in merged:
            raise KeyError(f"no value for variable ${name} in: {text}")
        return merged[name]

    return _VARIABLE_REF.sub(replace, text)


def parse_label_values(query: str) -> tuple[str, str]:
    """``label_values(selector, label)`` → (selector, label); the form Grafana evaluates via the label API."""
    match = re.fullmatch(r"\s*label_values\((.+),\s*(\w+)\s*\)\s*", query)
    assert match, f"not a label_values(selector, label) query: {query}"
    return match.group(1).strip(), match.group(2)


def contract_metrics() -> set[str]:
    """Metric names of the table in docs/architecture.md (rows beginning with a backquoted name)."""
    text = ARCHITECTURE.read_text()
    names = set(re.findall(r"^\| `([a-z_:][a-z0-9_:]*)` \|", text, re.MULTILINE))
    assert names, "no metric table found in docs/architecture.md"
    for histogram in re.findall(r"^\| `([a-z_:][a-z0-9_:]*)` \| histogram \|", text, re.MULTILINE):
        names |= {histogram + suffix for suffix in ("_bucket", "_sum", "_count")}  # what queries name
    return names


_PROMQL_WORDS = {
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "and",
    "or",
    "unless",
    "bool",
    "offset",
    "inf",
    "nan",
}


def metric_names(expr: str) -> set[str]:
    """Metric names in a PromQL expression: identifiers that are not functions, keywords or labels."""
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for match in re.finditer(r"(?<![\w:.])[A-Za-z_:][\w:]*", text):
        if text[match.end() :].lstrip().startswith("("):
            continue  # function or aggregation
        if match.group(0).lower() not in _PROMQL_WORDS:
            names.add(match.group(0))
    return names


def github_anchors(markdown: str) -> set[str]:
    """Anchors GitHub gives the headings of a Markdown file (plus explicit ``<a id|name=...>``)."""
    anchors: set[str] = set()
    seen: dict[str, int] = {}
    in_fence = False
    for line in markdown.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            in_fence = not in_fence
            continue
        anchors.update(re.findall(r"<a\s+(?:id|name)=\"([^\"]+)\"", line))
        heading = re.match(r"^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$", line)
        if in_fence or not heading:
            continue
        text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading.group(1))  # links keep their text
        slug = re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def constant(dashboard: dict, name: str) -> str:
    for variable in variables(dashboard):
        if variable["name"] == name and variable["type"] == "constant":
            return variable["query"]
    raise AssertionError(f"no constant variable {name!r}")


def panel_by_title(dashboard: dict, title: str) -> dict:
    matches = [panel for panel in all_panels(dashboard) if panel.get("title") == title]
    assert len(matches) == 1, f"expected one panel titled {title!r}, found {len(matches)}"
    return matches[0]


def organize(panel: dict) -> dict:
    for transformation in panel.get("transformations", []):
        if transformation["id"] == "organize":
            return transformation["options"]
    raise AssertionError(f"panel {panel['title']!r} has no organize transformation")


def override_properties(panel: dict, column: str) -> dict:
    properties: dict = {}
    for override in panel["fieldConfig"]["overrides"]:
        if override["matcher"] == {"id": "byName", "options": column}:
            properties.update({prop["id"]: prop["value"] for prop in override["properties"]})
    return properties


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.fail("promtool is not installed: run `make test`, which installs Debian's prometheus")
    return found


# ---------------------------------------------------------------- identity and grid


@pytest.fixture(scope="module")
def dashboard() -> dict:
    return load_dashboard()


def test_dashboard_identity(dashboard):
    assert dashboard["uid"] == "aws-root-users"
    assert dashboard["title"] == "AWS root users"
    # Grafana 10.0 writes schema 38; a lower one is migrated on load, a much newer one may not open.
    assert 36 <= dashboard["schemaVersion"] <= 39


def test_panel_ids_are_unique(dashboard):
    ids = [panel["id"] for panel in all_panels(dashboard)]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    assert not duplicates, f"panel ids used more than once: {duplicates}"


def test_every_panel_fits_in_24_columns(dashboard):
    for panel in all_panels(dashboard):
        pos = panel["gridPos"]
        assert pos["w"] > 0 and pos["h"] > 0, panel["title"]
        assert pos["x"] >= 0 and pos["y"] >= 0, panel["title"]
        assert pos["x"] + pos["w"] <= GRID_COLUMNS, f"{panel['title']!r} ends at column {pos['x'] + pos['w']}"


def _overlaps(a: dict, b: dict) -> bool:
    return (
        a["x"] < b["x"] + b["w"] and b["x"] < a["x"] + a["w"] and a["y"] < b["y"] + b["h"] and b["y"] < a["y"] + a["h"]
    )


def test_panels_do_not_overlap(dashboard):
    # Top-level panels share the grid; a collapsed row's panels share it only with each other.
    groups = [dashboard["panels"]] + [
        row["panels"] for row in dashboard["panels"] if row["type"] == "row" and row.get("collapsed")
    ]
    for group in groups:
        for i, a in enumerate(group):
            for b in group[i + 1 :]:
                assert not _overlaps(a["gridPos"], b["gridPos"]), f"{a['title']!r} overlaps {b['title']!r}"


def test_expanded_rows_keep_their_panels_at_top_level(dashboard):
    # Grafana only shows an expanded row's panels when they follow it in the top-level list.
    for row in dashboard["panels"]:
        if row["type"] == "row" and not row.get("collapsed"):
            assert row.get("panels", []) == [], f"expanded row {row['title']!r} hides panels inside it"


# ---------------------------------------------------------------- data source and variables


def test_every_panel_and_query_uses_the_datasource_variable(dashboard):
    for panel in query_panels(dashboard):
        assert panel.get("datasource") == DATASOURCE_REF, panel["title"]
        for target in panel["targets"]:
            assert target.get("datasource", DATASOURCE_REF) == DATASOURCE_REF, f"{panel['title']} {target['refId']}"


def test_datasource_variable_selects_prometheus(dashboard):
    (variable,) = [v for v in variables(dashboard) if v["name"] == "datasource"]
    assert variable["type"] == "datasource"
    assert variable["query"] == "prometheus"
    for v in variables(dashboard):
        if v["type"] == "query":
            assert v["datasource"] == DATASOURCE_REF, v["name"]


def test_every_target_has_an_expression(dashboard):
    for panel in query_panels(dashboard):
        assert panel.get("targets"), f"panel {panel['title']!r} has no query"
        ref_ids = [target["refId"] for target in panel["targets"]]
        assert len(set(ref_ids)) == len(ref_ids), f"{panel['title']}: refIds repeat"
        for target in panel["targets"]:
            assert target.get("expr", "").strip(), f"{panel['title']} {target['refId']} has an empty expr"


def test_every_variable_is_used_and_every_reference_is_defined(dashboard):
    defined = {v["name"] for v in variables(dashboard)}
    # Where variables can be used: panels (data source, queries, links) and other variables' queries.
    texts = {f"panel {p['title']}": json.dumps(p) for p in dashboard["panels"]}
    texts.update({f"variable {v['name']}": variable_query(v) for v in variables(dashboard)})
    texts["dashboard links"] = json.dumps(dashboard.get("links", []))
    used = set()
    for where, text in texts.items():
        refs = variable_refs(text)
        unknown = refs - defined - set(BUILTIN_VALUES)
        assert not unknown, f"{where} refers to undefined variables {sorted(unknown)}"
        used |= refs
    assert defined <= used, f"variables nothing uses: {sorted(defined - used)}"


def test_filter_variables_follow_job_and_instance(dashboard):
    by_name = {v["name"]: v for v in variables(dashboard)}
    assert variable_query(by_name["job"]) == "label_values(root_exporter_build_info, job)"
    assert "$job" in variable_query(by_name["instance"])
    for name, label in (("account", "account_name"), ("ou", "ou_path")):
        query = variable_query(by_name[name])
        assert query.startswith("label_values(root_account_info{") and query.endswith(f", {label})"), query
        assert {"job", "instance"} <= variable_refs(query)
        # Multi-select with "All" meaning every value, including values added after the page loaded.
        assert by_name[name]["multi"] and by_name[name]["includeAll"] and by_name[name]["allValue"] == ".*"


def test_per_account_queries_honour_every_filter(dashboard):
    """A query on per-account metrics that ignored $account or $ou would show accounts the user filtered out."""
    per_account = contract_metrics() - {
        "root_exporter_collection_duration_seconds",
        "root_exporter_collection_interval_seconds",
        "root_exporter_build_info",
        "root_organization_feature_enabled",
        # the event stream is organization-wide: no account labels
        "root_events_started_timestamp",
        "root_events_last_message_timestamp",
        "root_events_last_heartbeat_timestamp",
        "root_events_malformed_messages_total",
        "root_events_foreign_events_total",
        "root_events_errors_total",
        "root_event_delivery_delay_seconds",
        "root_event_delivery_delay_seconds_bucket",
    }
    for panel in query_panels(dashboard):
        for target in panel["targets"]:
            expr = target["expr"]
            refs = variable_refs(expr)
            assert {"job", "instance"} <= refs, f"{panel['title']} {target['refId']} ignores $job/$instance"
            if metric_names(expr) & per_account:
                assert {"account", "ou"} <= refs, f"{panel['title']} {target['refId']} ignores $account/$ou"


# ---------------------------------------------------------------- queries


def _all_targets(dashboard: dict) -> list[tuple[str, str, str]]:
    return [
        (panel["title"], target["refId"], target["expr"])
        for panel in query_panels(dashboard)
        for target in panel["targets"]
    ]


def test_queries_use_only_metrics_of_the_contract(dashboard):
    allowed = contract_metrics() | PROMETHEUS_METRICS
    seen = set()
    for title, ref_id, expr in _all_targets(dashboard):
        names = metric_names(substitute(expr, {"job": "j", "instance": ".*", "account": ".*", "ou": ".*"}))
        assert names, f"{title} {ref_id}: no metric found in {expr}"
        assert names <= allowed, f"{title} {ref_id} uses metrics outside docs/architecture.md: {names - allowed}"
        seen |= names
    for v in variables(dashboard):
        if v["type"] == "query":
            selector, _ = parse_label_values(variable_query(v))
            assert metric_names(selector) <= allowed, v["name"]
    # The extraction is not vacuous: it finds the metrics the summary is built on.
    assert {"root_account_info", "root_mfa_active", "root_credentials_present", "up"} <= seen


def _check_rules(tmp_path: Path, exprs: dict[str, str]) -> subprocess.CompletedProcess:
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [{"record": f"dashboard:query_{i}", "expr": expr} for i, expr in enumerate(exprs.values())],
            }
        ]
    }
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump(rules, sort_keys=False))
    return subprocess.run([promtool(), "check", "rules", str(path)], capture_output=True, text=True, timeout=60)


def test_every_query_parses(dashboard, tmp_path):
    values = {"job": "aws-root-exporter", "instance": ".*", "account": ".*", "ou": ".*"}
    exprs = {f"{title} {ref_id}": substitute(expr, values) for title, ref_id, expr in _all_targets(dashboard)}
    result = _check_rules(tmp_path, exprs)
    if result.returncode != 0:
        # Find the culprit(s) one by one for a readable failure.
        bad = [name for name, expr in exprs.items() if _check_rules(tmp_path, {name: expr}).returncode != 0]
        pytest.fail(f"queries promtool cannot parse: {bad}\n{result.stdout}{result.stderr}")


# ---------------------------------------------------------------- what the tables show


ALL_ROOT_USERS_COLUMNS = [
    "Account",
    "Account ID",
    "Email",
    "OU",
    "Credentials",
    "MFA",
    "Hardware MFA",
    "Password",
    "Key 1",
    "Key 2",
    "Certificate 1",
    "Certificate 2",
    "Last console sign-in",
    "Last key use",
]
YES_NO_COLUMNS = {  # column → colour of "yes", colour of "no"
    "Credentials": ("text", "green"),
    "MFA": ("green", "red"),
    "Hardware MFA": ("green", "orange"),
    "Password": ("orange", "green"),
    "Key 1": ("red", "green"),
    "Key 2": ("red", "green"),
    "Certificate 1": ("red", "green"),
    "Certificate 2": ("red", "green"),
}


def test_table_panels_show_no_raw_value_columns(dashboard):
    """Every query's value column is either renamed to a header or hidden: no "Value #C" headers."""
    for panel in query_panels(dashboard):
        if panel["type"] != "table":
            continue
        options = organize(panel)
        single = len(panel["targets"]) == 1
        for target in panel["targets"]:
            value = "Value" if single else f"Value #{target['refId']}"
            assert value in options["renameByName"] or options["excludeByName"].get(value), (
                f"{panel['title']}: column {value!r} is shown as is"
            )
        assert options["excludeByName"].get("Time"), f"{panel['title']} shows the query time"
        renamed_values = [name for name in options["renameByName"] if name.startswith("Value")]
        known = {"Value" if single else f"Value #{t['refId']}" for t in panel["targets"]}
        assert set(renamed_values) <= known, f"{panel['title']} renames columns no query produces"


def test_all_root_users_table_has_every_column_readable(dashboard):
    panel = panel_by_title(dashboard, "All root users")
    assert [t["id"] for t in panel["transformations"]][:2] == ["merge", "organize"]
    assert all(t.get("format") == "table" and t.get("instant") for t in panel["targets"])
    options = organize(panel)
    shown = [
        name
        for name, _ in sorted(options["indexByName"].items(), key=lambda item: item[1])
        if not options["excludeByName"].get(name)
    ]
    headers = [options["renameByName"].get(name, name) for name in shown]
    assert [h for h in headers if h in ALL_ROOT_USERS_COLUMNS] == ALL_ROOT_USERS_COLUMNS

    for column, (yes_colour, no_colour) in YES_NO_COLUMNS.items():
        properties = override_properties(panel, column)
        (mapping,) = properties["mappings"]
        assert mapping["options"]["1"]["text"] == "yes" and mapping["options"]["0"]["text"] == "no", column
        assert mapping["options"]["1"]["color"] == yes_colour, column
        assert mapping["options"]["0"]["color"] == no_colour, column
        assert properties["custom.cellOptions"]["type"].startswith("color-"), f"{column} is not coloured"
    for column in ("MFA", "Hardware MFA"):
        two = override_properties(panel, column)["mappings"][0]["options"]["2"]
        assert two["text"] == "no credentials" and two["color"] not in {"red", "orange"}, column
    for column in ("Last console sign-in", "Last key use"):
        assert override_properties(panel, column)["unit"].startswith("dateTime"), column


def test_signed_in_table_lists_newest_first_with_ip_and_mfa(dashboard):
    panel = panel_by_title(dashboard, "Signed in via console")
    headers = set(organize(panel)["renameByName"].values())
    assert {"Account", "Last sign-in", "Source IP", "MFA used"} <= headers
    assert panel["options"]["sortBy"] == [{"displayName": "Last sign-in", "desc": True}]
    assert override_properties(panel, "Last sign-in")["unit"].startswith("dateTime")


def test_panels_link_to_existing_runbook_sections(dashboard):
    base = constant(dashboard, "runbooks")
    assert base.endswith("/docs/runbooks.md")
    # The dashboard and the alerts send people to the same runbooks.
    alert_urls = re.findall(r"runbook_url:\s*\"?([^\"\s#]+)#", ALERTS.read_text())
    assert alert_urls and set(alert_urls) == {base}, f"alerts use {set(alert_urls)}, the dashboard {base}"
    anchors = github_anchors(RUNBOOKS.read_text())
    links = [(panel["title"], link["url"]) for panel in query_panels(dashboard) for link in panel.get("links", [])]
    assert len(links) >= 8, "panels should lead to their runbooks"
    for title, url in links:
        assert url.startswith("${runbooks}"), f"{title}: link {url} does not use the runbooks variable"
        anchor = url.partition("#")[2]
        assert not anchor or anchor in anchors, f"{title}: docs/runbooks.md has no section #{anchor}"


# ---------------------------------------------------------------- the queries' meaning, on known series

# Accounts of the promtool scenario: (credentials_present or None for absent, mfa_active, password_enabled).
_SCENARIO = {
    "111111111111": ("compliant", 1, 1, 1),
    "222222222222": ("creds-no-mfa", 1, 0, 1),
    "333333333333": ("no-credentials", 0, 0, 0),
    "444444444444": ("unknown-with-password", None, 0, 1),
    "555555555555": ("unknown-nothing", None, 0, 0),
}


def _scenario_series() -> list[dict]:
    series = []
    for account_id, (name, present, mfa, password) in _SCENARIO.items():
        labels = f'job="aws-root-exporter", instance="e:10042", account_id="{account_id}", account_name="{name}"'
        info = f'root_account_info{{{labels}, email="{name}@example.com", ou_path="Root/{name}", state="ACTIVE", management="false"}}'
        series.append({"series": info, "values": "1x10"})
        if present is not None:
            series.append({"series": f"root_credentials_present{{{labels}}}", "values": f"{present}x10"})
        series.append({"series": f"root_mfa_active{{{labels}}}", "values": f"{mfa}x10"})
        series.append({"series": f"root_mfa_hardware{{{labels}}}", "values": f"{mfa}x10"})
        series.append({"series": f"root_password_enabled{{{labels}}}", "values": f"{password}x10"})
        for key in ("1", "2"):
            series.append({"series": f'root_access_key_active{{{labels}, key="{key}"}}', "values": "0x10"})
    return series


def _expr(dashboard: dict, title: str, ref_id: str) -> str:
    panel = panel_by_title(dashboard, title)
    (target,) = [t for t in panel["targets"] if t["refId"] == ref_id]
    return substitute(target["expr"], {"job": "aws-root-exporter", "instance": ".*", "account": ".*", "ou": ".*"})


def _promtool_test(tmp_path: Path, cases: list[dict]) -> None:
    path = tmp_path / "dashboard-test.yml"
    path.write_text(
        yaml.safe_dump(
            {
                "rule_files": [],
                "evaluation_interval": "1m",
                "tests": [{"interval": "1m", "input_series": _scenario_series(), "promql_expr_test": cases}],
            },
            sort_keys=False,
        )
    )
    result = subprocess.run([promtool(), "test", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_roots_without_credentials_are_never_shown_without_mfa(dashboard, tmp_path):
    """Without MFA = credentials and no MFA; where the exporter cannot tell, a password is evidence."""
    without = [
        account_id
        for account_id, (_, present, mfa, password) in _SCENARIO.items()
        if mfa == 0 and (present == 1 or (present is None and password == 1))
    ]
    assert without == ["222222222222", "444444444444"]
    mfa_column = {"111111111111": 1, "222222222222": 0, "333333333333": 2, "444444444444": 0, "555555555555": 2}
    _promtool_test(
        tmp_path,
        [
            {
                "expr": _expr(dashboard, "Roots without MFA", "A"),
                "eval_time": "5m",
                "exp_samples": [{"labels": "{}", "value": len(without)}],
            },
            {
                "expr": _expr(dashboard, "Without MFA", "A"),
                "eval_time": "5m",
                "exp_samples": [
                    {
                        "labels": f'{{account_id="{a}", account_name="{_SCENARIO[a][0]}", '
                        f'email="{_SCENARIO[a][0]}@example.com", ou_path="Root/{_SCENARIO[a][0]}"}}',
                        "value": 0,
                    }
                    for a in without
                ],
            },
            {
                "expr": _expr(dashboard, "All root users", "C"),
                "eval_time": "5m",
                "exp_samples": [
                    {"labels": f'{{account_id="{a}", account_name="{_SCENARIO[a][0]}"}}', "value": v}
                    for a, v in mfa_column.items()
                ],
            },
            {
                "expr": _expr(dashboard, "Accounts monitored", "A"),
                "eval_time": "5m",
                "exp_samples": [{"labels": "{}", "value": len(_SCENARIO)}],
            },
            {
                "expr": _expr(dashboard, "Roots with active access keys", "A"),
                "eval_time": "5m",
                "exp_samples": [{"labels": "{}", "value": 0}],
            },
        ],
    )


def test_ou_filter_narrows_the_table(dashboard, tmp_path):
    panel = panel_by_title(dashboard, "All root users")
    values = {"job": "aws-root-exporter", "instance": ".*", "account": ".*", "ou": "Root/creds-no-mfa"}
    cases = [
        {
            "expr": substitute(target["expr"], values),
            "eval_time": "5m",
            "exp_samples": [{"labels": _table_labels(target["refId"]), "value": value}],
        }
        for target, value in zip(panel["targets"][:4], (1, 1, 0, 0))
    ]
    _promtool_test(tmp_path, cases)


def _table_labels(ref_id: str) -> str:
    base = 'account_id="222222222222", account_name="creds-no-mfa"'
    if ref_id == "A":
        return f'{{{base}, email="creds-no-mfa@example.com", ou_path="Root/creds-no-mfa", management="false"}}'
    return f"{{{base}}}"
