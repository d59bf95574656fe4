"""`flashsale dlq replay` sends each dead letter back where it belongs, by what it carries."""

from __future__ import annotations

import json

from app.cli.commands import replay_target
from app.infrastructure.keys import Names

NAMES = Names("tu")
ORDER = {"o": "11", "s": "2", "u": "ann", "q": 1, "a": 500, "c": 1, "x": 2, "e": "1", "k": ""}


def test_timeouts_go_back_to_the_timeout_queue() -> None:
    assert replay_target(json.dumps({"o": "5", "x": 9}).encode(), NAMES) == NAMES.timeouts_queue
    assert replay_target(json.dumps([{"o": "5", "x": 9}, {"o": "6", "x": 9}]).encode(), NAMES) == NAMES.timeouts_queue


def test_orders_and_anything_else_go_back_to_the_order_queue() -> None:
    assert replay_target(json.dumps(ORDER).encode(), NAMES) == NAMES.orders_queue
    assert replay_target(json.dumps([ORDER, ORDER]).encode(), NAMES) == NAMES.orders_queue
    assert replay_target(b"not json", NAMES) == NAMES.orders_queue
    assert replay_target(b"[]", NAMES) == NAMES.orders_queue
