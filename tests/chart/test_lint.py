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
        # The order writers the operator scales run in the release's namespace only (helm's "default" here).
        ("operator.watchNamespace=other", "operator.watchNamespace"),
        ("operator.watchNamespace=other,operator.clusterWide=true", "operator.watchNamespace"),
        ("operator.watchNamespace=Not_A_Namespace", "watchNamespace"),
    ],
)
def test_bad_values_refused(helm: Helm, setting: str, named: str) -> None:
    done = helm.run("template", "flashsale", str(CHART), "--set", setting, check=False)
    assert done.returncode != 0, f"{setting} was accepted"
    assert named in done.stderr, done.stderr


@pytest.mark.parametrize("watch", ["", "shop"])
def test_the_release_namespace_may_be_watched(helm: Helm, watch: str) -> None:
    objects = helm.template(sets=[f"operator.watchNamespace={watch}"])
    (operator,) = [o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "flashsale-operator"]
    assert operator["spec"]["template"]["spec"]["containers"][0]["args"] == ["operator", "--namespace", "shop"]
