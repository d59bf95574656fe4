"""/metrics counts every request once, whichever of the server's processes answered it."""

from __future__ import annotations

import re
from collections.abc import Iterator

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
        found = re.search(rf'^flashsale_purchases_total\{{outcome="{name}"\}} (\S+)$', text, re.M)
        return float(found.group(1)) if found else 0.0

    assert outcome(after, "accepted") - outcome(before, "accepted") == 1
    assert outcome(after, "sold_out") - outcome(before, "sold_out") == 1


def test_body_cap_413s_are_counted_under_their_route(world: World, client: httpx.Client) -> None:
    """The body cap answers before routing; its 413s still count, under the route they were meant for."""
    before = _count(client.get("/metrics").text, "purchase", "413")
    big = b"{" + b" " * (17 * 1024) + b"}"
    declared = client.post("/api/v1/sales/1/purchase", content=big, headers=world.headers("big"))
    assert declared.status_code == 413, declared.text

    def streamed() -> Iterator[bytes]:  # no Content-Length: cut off as it grows past the cap
        yield big

    assert client.post("/api/v1/sales/1/purchase", content=streamed()).status_code == 413
    assert _count(client.get("/metrics").text, "purchase", "413") - before == 2


def test_every_process_reports_its_pools_and_requests_in_flight(world: World, client: httpx.Client) -> None:
    text = client.get("/metrics").text
    for pool in ("redis", "mysql"):
        found = re.search(rf'^flashsale_pool_max_connections\{{pool="{pool}"\}} (\S+)$', text, re.M)
        assert found and float(found.group(1)) > 0, f"no pool size for {pool}"
        assert re.search(rf'^flashsale_pool_connections\{{pool="{pool}",state="idle"\}} ', text, re.M), pool
    # The scrape itself is in flight while the page is made.
    found = re.search(r"^flashsale_http_requests_in_flight (\S+)$", text, re.M)
    assert found and float(found.group(1)) >= 1


def test_storefront_assets_count_under_one_bounded_route(world: World, client: httpx.Client) -> None:
    """Every file under /static (a missing one too) counts as route `static`, not `unmatched`: the label set
    does not grow with the paths asked for."""
    before = client.get("/metrics").text
    assert client.get("/static/app.js").status_code == 200
    assert client.get("/static/style.css").status_code == 200
    assert client.get("/static/no-such-file.js").status_code == 404
    assert client.get("/no/such/route").status_code == 404
    after = client.get("/metrics").text
    assert _count(after, "static", "200") - _count(before, "static", "200") == 2
    assert _count(after, "static", "404") - _count(before, "static", "404") == 1
    assert _count(after, "unmatched", "404") - _count(before, "unmatched", "404") == 1
    routes = set(re.findall(r'^flashsale_http_requests_total\{[^}]*route="([^"]*)"', after, re.M))
    assert not any("/" in route or "." in route for route in routes), routes
