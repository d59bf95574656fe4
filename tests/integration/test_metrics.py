"""/metrics counts every request once, whichever of the server's processes answered it."""

from __future__ import annotations

import re

import httpx

from tests.support import World


def _count(text: str, route: str, code: str) -> float:
    total = 0.0
    pattern = re.compile(r"^flashsale_http_requests_total\{(?P<labels>[^}]*)\} (?P<value>\S+)$", re.M)
    for match in pattern.finditer(text):
        labels = dict(part.split("=", 1) for part in match["labels"].split(","))
        if labels.get("route") == f'"{route}"' and labels.get("code") == f'"{code}"':
            total += float(match["value"])
    return total


def test_metrics_are_merged_across_worker_processes(world: World) -> None:
    base = world.start_api(workers=2)
    requests = 200
    with httpx.Client(base_url=base, timeout=10) as client:
        before = _count(client.get("/metrics").text, "healthz", "200")
        # New connections each time, so both processes answer some of them.
        for _ in range(requests):
            assert httpx.get(f"{base}/healthz", timeout=10).status_code == 200
        text = client.get("/metrics").text
    assert _count(text, "healthz", "200") - before == requests
    assert "flashsale_http_request_duration_seconds_bucket" in text


def test_purchase_outcomes_are_counted(world: World, client: httpx.Client) -> None:
    from tests.support import make_sale

    sale = make_sale(client, world, stock=1)
    before = client.get("/metrics").text
    assert client.post(f"/api/v1/sales/{sale['id']}/purchase", headers=world.headers("m1")).status_code == 202
    assert client.post(f"/api/v1/sales/{sale['id']}/purchase", headers=world.headers("m2")).status_code == 409
    after = client.get("/metrics").text

    def outcome(text: str, name: str) -> float:
        found = re.search(rf'^flashsale_reservations_total\{{outcome="{name}"\}} (\S+)$', text, re.M)
        return float(found.group(1)) if found else 0.0

    assert outcome(after, "accepted") - outcome(before, "accepted") == 1
    assert outcome(after, "sold_out") - outcome(before, "sold_out") == 1
