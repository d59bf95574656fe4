"""Message bodies of the pipeline: order records (one or many), timeouts (one or many), grouped by bucket."""

from __future__ import annotations

import json

import pytest

from app.domain.models import Reservation
from app.infrastructure.amqp import bucket_for
from app.infrastructure.keys import Names
from app.infrastructure.records import parse_orders, reservation_from_dict, reservation_to_dict
from app.infrastructure.timeouts import TIMEOUTS_PER_MESSAGE, DueTimeout, TimeoutScheduler, parse_timeouts

RECORD = {"o": "11", "s": "2", "u": "ann", "q": 1, "a": 500, "c": 1_000, "x": 61_000, "e": "3", "k": ""}


def test_a_record_round_trips() -> None:
    r = reservation_from_dict(RECORD)
    assert r == Reservation(11, 2, "ann", 1, 500, 1_000, 61_000, 3, None)
    assert reservation_to_dict(r) == RECORD


def test_an_order_message_holds_one_record_or_many() -> None:
    assert [r.order_id for r in parse_orders(json.dumps(RECORD).encode())] == [11]
    many = [RECORD, dict(RECORD, o="12", k="key-1")]
    parsed = parse_orders(json.dumps(many).encode())
    assert [(r.order_id, r.idempotency_key) for r in parsed] == [(11, None), (12, "key-1")]


@pytest.mark.parametrize("body", [b"[]", b"[1, 2]", b'"text"', b"42", b"not json", b'{"o": "1"}', b'[{"o": "1"}]'])
def test_malformed_order_messages_are_refused(body: bytes) -> None:
    with pytest.raises((ValueError, KeyError, TypeError)):
        parse_orders(body)


def test_a_timeout_message_holds_one_or_many() -> None:
    assert parse_timeouts(b'{"o": "5", "x": 9}') == [DueTimeout(5, 9)]
    assert parse_timeouts(b'[{"o": "5", "x": 9}, {"o": "6", "x": 10}]') == [DueTimeout(5, 9), DueTimeout(6, 10)]
    for bad in (b"[]", b"[3]", b'{"o": "5"}'):
        with pytest.raises((ValueError, KeyError, TypeError)):
            parse_timeouts(bad)


class _NoPublisher:
    async def publish_all(self, routed: object) -> None:  # pragma: no cover - routed() is what is tested
        raise AssertionError("not used")


def test_timeouts_are_grouped_by_bucket_and_chunked() -> None:
    names = Names("tu")
    scheduler = TimeoutScheduler(_NoPublisher(), names)  # type: ignore[arg-type]
    now = 1_000_000
    soon = [DueTimeout(i, now + 900) for i in range(3)]
    later = [DueTimeout(100 + i, now + 900_000) for i in range(TIMEOUTS_PER_MESSAGE + 1)]
    routed = scheduler.routed(soon + later, now)
    by_queue: dict[str, list[list[dict[str, object]]]] = {}
    for queue, msg in routed:
        by_queue.setdefault(queue, []).append(json.loads(msg.body))
    assert set(by_queue) == {names.delay_queue(bucket_for(900)), names.delay_queue(bucket_for(900_000))}
    assert [len(m) for m in by_queue[names.delay_queue(bucket_for(900))]] == [3]
    assert sorted(len(m) for m in by_queue[names.delay_queue(bucket_for(900_000))]) == [1, TIMEOUTS_PER_MESSAGE]
    carried = [item["o"] for messages in by_queue.values() for m in messages for item in m]
    assert sorted(int(o) for o in carried) == sorted(t.order_id for t in soon + later)  # type: ignore[call-overload]
