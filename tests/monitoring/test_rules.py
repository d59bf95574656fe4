"""The generated rules under promtool: they load, and the alert unit tests pass (tests/monitoring/
flashsale.rules.test.yaml: every alert fires on what should fire it and not on a near miss)."""

from __future__ import annotations

from monitoring.generate import RULES
from monitoring.rules import ALERTS, RECORDS
from tests.monitoring.promtool import promtool
from tests.support import ROOT

HERE = ROOT / "tests" / "monitoring"


def test_rules_load() -> None:
    done = promtool("check", "rules", str(ROOT / RULES))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(RECORDS) + len(ALERTS)} rules found" in done.stdout


def test_alert_unit_tests_pass() -> None:
    done = promtool("test", "rules", "flashsale.rules.test.yaml", cwd=HERE)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_every_alert_is_unit_tested() -> None:
    tested = (HERE / "flashsale.rules.test.yaml").read_text()
    untested = [a.alert for a in ALERTS if f"alertname: {a.alert}\n" not in tested]
    assert not untested


def test_every_alert_has_a_severity_a_summary_a_description_and_a_runbook() -> None:
    readme = (ROOT / "README.md").read_text()
    for alert in ALERTS:
        assert alert.severity in ("critical", "warning"), alert.alert
        assert alert.summary and alert.description, alert.alert
        assert f"\n#### {alert.alert}\n" in readme, f"no runbook section for {alert.alert} in the README"
