"""Redelivery and dead letters: the order writers are idempotent on the order id, refuse a different payload
under a known id, never let an unreadable or failing message block the queue, and `flashsale dlq` shows and
replays what was dead-lettered.

The relay runs only where a test starts it, so a test can take an order's real record from the reservation
and publish it to the order queue itself."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator

import httpx
import pytest

from tests.pipeline.harness import (
    Db,
    Running,
    audit,
    buy,
    handoff_length,
    publish,
    purge,
    ready_messages,
    reservation_record,
    running_world,
    wait_status,
    wait_until,
)
from tests.support import make_sale


@pytest.fixture(scope="module")
def pipe() -> Iterator[Running]:
    """This module's world: the API, the order writers and the timeout worker; no relay."""
    with running_world(workers=("orders", "timeouts")) as run:
        yield run


def dead_letters(pipe: Running) -> int:
    return ready_messages(pipe.world, pipe.names.orders_dlq)


def wait_dead_letters(pipe: Running, count: int, timeout: float = 20) -> None:
    wait_until(lambda: dead_letters(pipe) == count, timeout, f"{count} message(s) in the dead-letter queue")


def written(db: Db, order_id: str) -> tuple[str, str | None, str, int] | None:
    row = db.rows("SELECT status, cancel_reason, user_id, quantity FROM orders WHERE id = %s", int(order_id))
    return (row[0][0], row[0][1], row[0][2], int(row[0][3])) if row else None


def dead_letter_reasons(pipe: Running) -> list[str]:
    """Why each message in the dead-letter queue is there, as `flashsale dlq list` shows it (which leaves them)."""
    listed = pipe.world.cli("dlq", "list")
    return sorted(json.loads(line)["reason"] for line in listed.stdout.splitlines() if line.strip())


def drain_and_audit(pipe: Running, sale_id: str, dead: list[str]) -> None:
    """Let the relay empty the sale's hand-off; the dead-letter queue must hold exactly the dead letters this
    test made on purpose (`dead`: their reasons), which are then cleared; audit."""
    with pipe.running("relay"):
        wait_until(lambda: handoff_length(pipe.world, sale_id) == 0, 20, "the hand-off to drain")
        assert dead_letter_reasons(pipe) == sorted(dead)
        purge(pipe.world, pipe.names.orders_dlq)
        audit(pipe.world, sale_id)


def test_the_same_order_delivered_twice_is_written_once(pipe: Running, http: httpx.Client) -> None:
    world = pipe.world
    sale = make_sale(http, world, stock=5)
    order_id = buy(http, world, sale["id"], "ivy")
    record = reservation_record(world, sale["id"], order_id)

    # With the writer stopped, both copies wait in the queue and arrive in one batch.
    pipe.stop("orders")
    publish(world, pipe.names.orders_queue, [record, record], message_id=order_id)
    pipe.start("orders")
    wait_status(http, world, "ivy", order_id, "created")
    # Once more after it was written, then a marker order behind it: when the marker is written, the
    # duplicate ahead of it in the queue has been handled.
    marker = buy(http, world, sale["id"], "jack")
    publish(world, pipe.names.orders_queue, [record], message_id=order_id)
    publish(world, pipe.names.orders_queue, [reservation_record(world, sale["id"], marker)], message_id=marker)
    wait_status(http, world, "jack", marker, "created")

    with Db(world) as db:
        assert db.count_orders(sale["id"]) == 2
        assert written(db, order_id) == ("created", None, "ivy", 1)
        assert db.sale_row(sale["id"])[1] == 3, "the stock row was taken from more than once"
    assert dead_letters(pipe) == 0
    # The relay now delivers both orders a further time, from the hand-off.
    drain_and_audit(pipe, sale["id"], dead=[])
    with Db(world) as db:
        assert db.count_orders(sale["id"]) == 2
        assert db.sale_row(sale["id"])[1] == 3


def test_a_known_id_with_another_payload_is_dead_lettered(pipe: Running, http: httpx.Client) -> None:
    world = pipe.world
    sale = make_sale(http, world, stock=5, per_user_limit=3)
    order_id = buy(http, world, sale["id"], "kate")
    record = reservation_record(world, sale["id"], order_id)
    publish(world, pipe.names.orders_queue, [record], message_id=order_id)
    wait_status(http, world, "kate", order_id, "created")
    assert dead_letters(pipe) == 0

    forged = json.loads(record)
    forged["q"], forged["a"] = 3, forged["a"] * 3
    other_user = dict(json.loads(record), u="mallory")
    bodies = [json.dumps(forged).encode(), json.dumps(other_user).encode()]
    publish(world, pipe.names.orders_queue, bodies, message_id=order_id)
    wait_dead_letters(pipe, 2)

    with Db(world) as db:
        assert written(db, order_id) == ("created", None, "kate", 1)
        assert db.count_orders(sale["id"]) == 1
        assert db.sale_row(sale["id"])[1] == 4

    # The same in one batch (the writer is stopped while both wait in the queue): the first one wins.
    second = buy(http, world, sale["id"], "kate")
    record = reservation_record(world, sale["id"], second)
    forged = dict(json.loads(record), q=2, a=json.loads(record)["a"] * 2)
    pipe.stop("orders")
    publish(world, pipe.names.orders_queue, [record, json.dumps(forged).encode()], message_id=second)
    pipe.start("orders")
    wait_status(http, world, "kate", second, "created")
    wait_dead_letters(pipe, 3)
    with Db(world) as db:
        assert written(db, second) == ("created", None, "kate", 1)
        assert db.count_orders(sale["id"]) == 2
        assert db.sale_row(sale["id"])[1] == 3
    drain_and_audit(pipe, sale["id"], dead=["conflict"] * 3)


def test_poison_and_failing_messages_are_dead_lettered_and_good_ones_flow(pipe: Running, http: httpx.Client) -> None:
    world = pipe.world
    sale = make_sale(http, world, stock=10)  # stock for all: the far record must fail on its time, not its stock
    poison = [b"not json", b"\xff\xfe\x00", b'{"o": "12"}', b"[]", b'{"o":"x","s":"1"}']
    # Readable, but it can never be written (no such sale): queued again until its attempts run out and
    # the writer dead-letters it.
    failing = json.loads(reservation_record(world, sale["id"], buy(http, world, sale["id"], "liam")))
    failing["o"], failing["s"] = str(8_999_999_000_000_000_000 + secrets.randbelow(10**9)), "999999999"
    # A record whose time overflows when read (Infinity) is unreadable; one whose creation time is past the
    # year 9999 reads, but can never become a row. Before, either one raised out of the writer: it crashed,
    # the broker gave the batch to the next writer, which crashed on it too, for ever.
    template = json.loads(reservation_record(world, sale["id"], buy(http, world, sale["id"], "mia")))
    overflow = {**template, "o": str(int(template["o"]) + 1), "c": float("inf")}
    poison.append(json.dumps(overflow).encode())
    far = {**template, "o": str(8_998_999_000_000_000_000 + secrets.randbelow(10**9)), "c": 10**17}
    publish(world, pipe.names.orders_queue, [*poison, json.dumps(failing).encode(), json.dumps(far).encode()])

    # Good orders behind them are written (the relay runs from here on).
    with pipe.running("relay"):
        good = [buy(http, world, sale["id"], f"good{i}") for i in range(3)]
        for i, order_id in enumerate(good):
            wait_status(http, world, f"good{i}", order_id, "created")
        wait_dead_letters(pipe, len(poison) + 2, timeout=30)
        with Db(world) as db:
            for never in (failing, far):
                assert db.value("SELECT COUNT(*) FROM orders WHERE id = %s", int(never["o"])) == 0
            assert db.count_orders(sale["id"]) == 5  # mia's and liam's own orders (relayed), and the three good
    assert pipe.workers["orders"].poll() is None, "the order writer died on a message"
    # The unreadable messages rejected at once, the failing orders after their last attempt.
    drain_and_audit(pipe, sale["id"], dead=["rejected"] * len(poison) + ["failed"] * 2)


def test_dlq_list_and_replay(pipe: Running, http: httpx.Client) -> None:
    world = pipe.world
    purge(world, pipe.names.orders_dlq)
    sale = make_sale(http, world, stock=5)
    publish(world, pipe.names.orders_queue, [b"not json"], message_id="poison-1")
    wait_dead_letters(pipe, 1)
    # An accepted order that was dead-lettered earlier (say, for a reason since fixed).
    order_id = buy(http, world, sale["id"], "mia")
    publish(world, pipe.names.orders_dlq, [reservation_record(world, sale["id"], order_id)], message_id=order_id)
    wait_dead_letters(pipe, 2)

    listed = world.cli("dlq", "list")
    lines = [json.loads(line) for line in listed.stdout.splitlines() if line.strip()]
    assert len(lines) == 2, listed.stdout
    by_id = {line["message_id"]: line for line in lines}
    assert by_id["poison-1"]["body"] == "not json"
    assert by_id["poison-1"]["from"] == pipe.names.orders_queue
    assert json.loads(by_id[order_id]["body"])["o"] == order_id
    assert "2 dead-lettered message(s)" in listed.stderr
    wait_dead_letters(pipe, 2)  # listing leaves them where they are

    pipe.stop("orders")
    try:
        replayed = world.cli("dlq", "replay")
        assert "replayed 2 message(s)" in replayed.stdout, replayed.stdout + replayed.stderr
        assert dead_letters(pipe) == 0
        assert ready_messages(world, pipe.names.orders_queue) == 2
    finally:
        pipe.start("orders")
    # The order is written; the poison goes back to the dead letters.
    wait_status(http, world, "mia", order_id, "created")
    wait_dead_letters(pipe, 1)
    with Db(world) as db:
        assert db.count_orders(sale["id"]) == 1
    drain_and_audit(pipe, sale["id"], dead=["rejected"])  # the poison, again
    with Db(world) as db:
        assert db.count_orders(sale["id"]) == 1
        assert db.sale_row(sale["id"])[1] == 4
