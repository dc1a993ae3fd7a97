"""The operator's files in docs/: Prometheus rules and the Grafana dashboard parse, name only metrics that
exist, agree with the in-process alert thresholds, and the operations guide documents every metric."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.config import AlertSettings
from bot.metrics import REGISTRY

DOCS = Path(__file__).resolve().parents[2] / "docs"
METRIC = re.compile(r"\bkindred_[a-z_]+")
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}


def exposed_names() -> set[str]:
    """Every series name /metrics can expose, from the registry's families and their types."""
    names = set()
    for family in REGISTRY.collect():
        names |= {family.name + suffix for suffix in SUFFIXES[family.type]}
    return names


def family_names() -> set[str]:
    return {family.name for family in REGISTRY.collect()}


@pytest.fixture(scope="module")
def rules() -> dict[str, dict[str, Any]]:
    data = yaml.safe_load((DOCS / "prometheus-alerts.yml").read_text(encoding="utf-8"))
    found = [rule for group in data["groups"] for rule in group["rules"]]
    by_name = {rule["alert"]: rule for rule in found}
    assert len(by_name) == len(found), "two rules share a name"
    return by_name


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    data = json.loads((DOCS / "grafana-dashboard.json").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_every_rule_is_complete(rules: dict[str, dict[str, Any]]) -> None:
    for name, rule in rules.items():
        assert rule["expr"].strip(), name
        assert re.fullmatch(r"\d+[smh]", rule["for"]), name
        assert rule["labels"]["severity"] in {"info", "warning", "critical"}, name
        assert rule["annotations"]["summary"], name


def test_every_rule_names_only_metrics_kindred_exposes(rules: dict[str, dict[str, Any]]) -> None:
    exposed = exposed_names()
    for name, rule in rules.items():
        used = set(METRIC.findall(rule["expr"]))
        assert used, f"{name} watches no Kindred metric"
        assert used <= exposed, f"{name} names {used - exposed}, which Kindred does not expose"


def test_the_issues_five_alerts_are_there(rules: dict[str, dict[str, Any]]) -> None:
    assert {
        "KindredCacheHitRateLow",
        "KindredReplyLatencyHigh",
        "KindredSqlPoolSaturated",
        "KindredErrorRateHigh",
        "KindredQueueLagGrowing",
    } <= set(rules)


def _threshold(expr: str, op: str) -> float:
    found = re.findall(
        rf"\)\s*{re.escape(op)}\s*([0-9.]+)|kindred_[a-z_]+\s*{re.escape(op)}\s*([0-9.]+)", expr
    )
    values = [float(a or b) for a, b in found]
    assert values, f"no {op} threshold in {expr!r}"
    return values[0]


def test_rule_thresholds_match_the_in_process_alerts(rules: dict[str, dict[str, Any]]) -> None:
    s = AlertSettings()
    assert _threshold(rules["KindredCacheHitRateLow"]["expr"], "<") == s.cache_hit_ratio_min
    assert _threshold(rules["KindredReplyLatencyHigh"]["expr"], ">") == s.reply_overhead_max_s
    assert _threshold(rules["KindredSqlPoolSaturated"]["expr"], ">") == s.sql_pool_usage_max
    assert _threshold(rules["KindredErrorRateHigh"]["expr"], ">") == s.error_rate_max
    assert f"kindred_queue_lag_seconds > {s.queue_lag_min_s:g}" in rules["KindredQueueLagGrowing"]["expr"]
    for name in ("KindredCacheHitRateLow", "KindredErrorRateHigh"):
        assert f">= {s.min_samples}" in rules[name]["expr"], name


def test_dashboard_panels_have_unique_ids_and_do_not_overlap(dashboard: dict[str, Any]) -> None:
    panels = dashboard["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    cells: set[tuple[int, int]] = set()
    for panel in panels:
        g = panel["gridPos"]
        assert g["x"] + g["w"] <= 24, panel["title"]
        area = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
        assert not area & cells, f"{panel['title']} overlaps another panel"
        cells |= area


def test_dashboard_queries_name_only_exposed_metrics(dashboard: dict[str, Any]) -> None:
    exposed = exposed_names()
    for panel in dashboard["panels"]:
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            used = set(METRIC.findall(target["expr"]))
            assert used and used <= exposed, f"{panel['title']}: {used - exposed}"


def test_dashboard_shows_every_metric(dashboard: dict[str, Any]) -> None:
    shown = " ".join(t["expr"] for p in dashboard["panels"] for t in p["targets"])
    missing = {name for name in family_names() if name not in shown}
    assert missing == set()


def test_operations_guide_documents_every_metric() -> None:
    guide = (DOCS / "operations.md").read_text(encoding="utf-8")
    missing = {name for name in family_names() if name not in guide}
    assert missing == set()


def test_the_invite_permission_integer_is_the_sum_of_the_listed_permissions() -> None:
    import discord

    guide = (DOCS / "self-hosting.md").read_text(encoding="utf-8")
    listed = discord.Permissions(
        view_channel=True,
        send_messages=True,
        embed_links=True,
        attach_files=True,
        read_message_history=True,
        send_messages_in_threads=True,
    )
    rows = re.findall(r"^\| [A-Z][^|]+\| (\d+) \| (\d+) \|", guide, re.MULTILINE)
    assert len(rows) == 6
    assert all(int(value) == 1 << int(bit) for bit, value in rows)
    assert sum(int(value) for _, value in rows) == listed.value
    assert f"permissions={listed.value}" in guide
    assert not listed.administrator and not listed.mention_everyone and not listed.manage_messages
