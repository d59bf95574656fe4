"""The bench's profile: py-spy's collapsed stacks summed into inclusive layer shares and leaf self time, and
rendered in the report (or why it was not taken)."""

from __future__ import annotations

from app.bench.profile import summarize
from app.bench.report import render_markdown

LOOP = "run (asyncio/base_events.py:600);_run_once (asyncio/base_events.py:1900)"
RAW = [
    # 6 samples inside redis-py, called from the purchase use case, under Starlette
    f"{LOOP};app (starlette/routing.py:70);purchase (app/application/purchase.py:90);"
    "execute_command (redis/asyncio/client.py:600);read_response (redis/_parsers/hiredis.py:200) 6",
    # 3 in the metrics, called from the API layer
    f"{LOOP};__call__ (app/api/middleware.py:70);inc (prometheus_client/values.py:40) 3",
    # 1 in the event loop itself
    f"{LOOP} 1",
    "not a line of py-spy's",
    "",
]


def _share(profile: object, layer: str) -> float:
    return dict(profile.layers)[layer]  # type: ignore[attr-defined]


def test_a_sample_counts_toward_every_layer_on_its_stack() -> None:
    profile = summarize(RAW)
    assert profile.samples == 10
    assert _share(profile, "redis-py (client, connection, parser)") == 0.6
    assert _share(profile, "the purchase use case (app/application)") == 0.6
    assert _share(profile, "Starlette (routing, requests, responses)") == 0.6
    assert _share(profile, "metrics (prometheus-client)") == 0.3
    assert _share(profile, "the API layer (app/api)") == 0.3
    assert _share(profile, "asyncio event loop") == 1.0
    assert _share(profile, "token verification (app + PyJWT)") == 0.0


def test_self_time_is_the_leaf_frames_share_largest_first() -> None:
    profile = summarize(RAW)
    assert profile.functions == [
        ("read_response (redis/_parsers/hiredis.py)", 0.6),
        ("inc (prometheus_client/values.py)", 0.3),
        ("_run_once (asyncio/base_events.py)", 0.1),
    ]


def test_no_samples_is_an_empty_profile() -> None:
    assert summarize(["garbage", ""]).samples == 0


def test_the_report_shows_the_profile_or_why_it_is_missing() -> None:
    taken = {"taken": True, "generator": "py-spy", "rps_while_sampled": 1234.0, **summarize(RAW).to_json()}
    text = render_markdown({"profile": taken})
    assert "## Profile of the API under the in-stock load" in text
    assert "| redis-py (client, connection, parser) | 60% |" in text
    assert "| `inc (prometheus_client/values.py)` | 30.0% |" in text
    missing = render_markdown({"profile": {"taken": False, "why": "py-spy is not installed"}})
    assert "Not taken: py-spy is not installed." in missing
