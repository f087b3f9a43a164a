"""The alerts and the dashboard, checked with the real promtool.

- manifests/monitoring/prometheusrule.yaml's spec passes `promtool check rules`
  (with its linter) and the unit tests in rules_test.yaml
  (`promtool test rules`): each alert fires on the series a real failure
  produces, with the labels and text the on-call engineer reads;
- every alert has a runbook section in docs/alerts.md and a unit test;
- the dashboard is valid Grafana JSON whose queries name only metrics the
  controller exports (the e2e test tests/e2e/test_metrics.py compares both
  against a running controller's /metrics).
"""

import json
import os
import re
import shutil
import subprocess

import pytest
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("GDB_SOURCE_DIR", os.path.normpath(os.path.join(HERE, "..", "..")))
MONITORING = os.path.join(SOURCE_DIR, "manifests", "monitoring")
RULES = os.path.join(MONITORING, "prometheusrule.yaml")
DASHBOARD = os.path.join(MONITORING, "dashboard.json")
ALERTS_DOC = os.path.join(SOURCE_DIR, "docs", "alerts.md")


@pytest.fixture(scope="session")
def promtool():
    out = subprocess.run(
        [os.path.join(SOURCE_DIR, "hack", "build-promtool")],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    return os.path.join(out.stdout.strip().splitlines()[-1], "promtool")


def rule_spec():
    with open(RULES) as f:
        obj = yaml.safe_load(f)
    assert obj["kind"] == "PrometheusRule"
    return obj["spec"]


def alerts():
    return [r for g in rule_spec()["groups"] for r in g["rules"] if "alert" in r]


@pytest.fixture
def rules_dir(tmp_path):
    with open(tmp_path / "rules.yaml", "w") as f:
        yaml.safe_dump(rule_spec(), f, sort_keys=False)
    shutil.copy(os.path.join(HERE, "rules_test.yaml"), tmp_path / "rules_test.yaml")
    return tmp_path


def run(argv, cwd=None):
    p = subprocess.run(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return p.returncode, p.stdout


def test_rules_pass_promtool_check_and_lint(promtool, rules_dir):
    rc, out = run(
        [promtool, "check", "rules", "--lint=all", "--lint-fatal", "rules.yaml"], rules_dir
    )
    assert rc == 0, out
    assert f"SUCCESS: {len(alerts())} rules found" in out, out


def test_rules_unit_tests_pass(promtool, rules_dir):
    rc, out = run([promtool, "test", "rules", "rules_test.yaml"], rules_dir)
    assert rc == 0, out
    assert "SUCCESS" in out, out


def test_every_alert_has_a_test_a_runbook_and_a_severity():
    with open(os.path.join(HERE, "rules_test.yaml")) as f:
        tests = yaml.safe_load(f)["tests"]
    tested = {t["alertname"] for case in tests for t in case.get("alert_rule_test", [])}
    fired = {
        t["alertname"]
        for case in tests
        for t in case.get("alert_rule_test", [])
        if t.get("exp_alerts")
    }
    with open(ALERTS_DOC) as f:
        doc = f.read()
    for a in alerts():
        name = a["alert"]
        assert name in fired, f"{name}: no promtool test shows it firing"
        assert name in tested
        assert re.search(rf"^## {name}$", doc, re.M), (
            f"{name}: no runbook section in docs/alerts.md"
        )
        assert a["annotations"]["runbook_url"] == f"docs/alerts.md#{name.lower()}"
        assert a["labels"]["severity"] in ("critical", "warning")
        assert a["annotations"]["summary"] and a["annotations"]["description"]


def metric_names(expr):
    """The metric names a PromQL expression selects (histogram series folded)."""
    names = set(
        re.findall(
            r"\b((?:globaldb|process|controller_runtime|leader_election|workqueue|rest_client)_[a-z_]+)",
            expr,
        )
    )
    return {re.sub(r"_(bucket|sum|count)$", "", n) for n in names}


def dashboard_exprs():
    with open(DASHBOARD) as f:
        d = json.load(f)
    exprs = [t["expr"] for p in d["panels"] for t in p["targets"]]
    exprs += [v["query"] for v in d["templating"]["list"] if v.get("type") == "query"]
    return d, exprs


def test_dashboard_is_grafana_json_with_one_database_selected():
    d, exprs = dashboard_exprs()
    assert d["uid"] and d["title"] and d["schemaVersion"] >= 36
    names = [v["name"] for v in d["templating"]["list"]]
    assert {"datasource", "namespace", "name"} <= set(names)
    ids = [p["id"] for p in d["panels"]]
    assert len(ids) == len(set(ids))
    for p in d["panels"]:
        assert p["title"] and p["targets"], p
        g = p["gridPos"]
        assert 0 <= g["x"] and g["x"] + g["w"] <= 24, p["title"]
    per_object = [e for e in exprs if 'namespace="$namespace", name="$name"' in e]
    assert len(per_object) >= 8, "the dashboard is about one GlobalDatabase"


def exported_names():
    """Metric families the controller registers (from the C sources)."""
    names = set()
    for root, _, files in os.walk(os.path.join(SOURCE_DIR, "pkg")):
        for f in files:
            if f.endswith(".c"):
                with open(os.path.join(root, f)) as fh:
                    names |= set(
                        re.findall(
                            r'base_metric_(?:counter|gauge|histogram)\(\s*"([a-z_]+)"', fh.read()
                        )
                    )
    with open(os.path.join(SOURCE_DIR, "cmd", "globaldb-controller", "build_info.c")) as fh:
        names |= set(re.findall(r'base_metric_gauge\(\s*"([a-z_]+)"', fh.read()))
    return names


def test_rules_and_dashboard_name_only_exported_metrics():
    used = set()
    for a in alerts():
        used |= metric_names(a["expr"])
    _, exprs = dashboard_exprs()
    for e in exprs:
        used |= metric_names(e)
    missing = used - exported_names()
    assert not missing, f"queried but never exported: {sorted(missing)}"
