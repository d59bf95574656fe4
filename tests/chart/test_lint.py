"""`helm lint --strict` passes with each values file, and the chart refuses values that would break the
contract (its schema, or a template's own check) with a message naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chart.conftest import CHART, DEFAULT_VALUES, DEV_VALUES, PRODUCTION_VALUES, Helm


@pytest.mark.parametrize("values", [DEFAULT_VALUES, PRODUCTION_VALUES, DEV_VALUES], ids=lambda p: p.name)
def test_lint_strict(helm: Helm, values: Path) -> None:
    done = helm.run("lint", "--strict", str(CHART), "-f", str(values))
    assert "0 chart(s) failed" in done.stdout


@pytest.mark.parametrize(
    ("setting", "named"),
    [
        ("securityContext.readOnlyRootFilesystem=false", "readOnlyRootFilesystem"),
        ("securityContext.allowPrivilegeEscalation=true", "allowPrivilegeEscalation"),
        ("podSecurityContext.runAsUser=0", "runAsUser"),
        ("config.stockStrategy=fast", "stockStrategy"),
        ("config.namespace=no spaces", "namespace"),
        ("redisPersistence.appendonly=no", "appendonly"),
        ("redisPersistence.appendfsync=no", "appendfsync"),
        ("workers.terminationGracePeriodSeconds=20", "terminationGracePeriodSeconds"),
        ("api.preStopSleepSeconds=15", "api.terminationGracePeriodSeconds"),
        ("extraConfig.FLASHSALE_JWT_SECRET=", "FLASHSALE_JWT_SECRET"),
        ("extraConfig.PATH=/bin", "PATH"),
        ("stores.mysqlUrl=postgres://db/x", "mysqlUrl"),
        ("autoscaling.enabled=true,autoscaling.keda.enabled=true,autoscaling.keda.serverAddress=", "serverAddress"),
    ],
)
def test_bad_values_refused(helm: Helm, setting: str, named: str) -> None:
    done = helm.run("template", "flashsale", str(CHART), "--set", setting, check=False)
    assert done.returncode != 0, f"{setting} was accepted"
    assert named in done.stderr, done.stderr
