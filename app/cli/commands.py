"""The coroutines behind the CLI's one-shot commands."""

from __future__ import annotations

import json

import click

from app.application.audit import audit_sale as run_audit
from app.bootstrap import open_container, open_messaging, state_of
from app.config import Settings
from app.infrastructure.keys import Names


async def create_user(settings: Settings, name: str, password: str, admin: bool) -> str:
    from app.api.bodies import check
    from app.api.shapes import Credentials

    check({"username": name, "password": password}, Credentials)
    async with open_container(settings) as c:
        return await c.accounts.register(name, password, admin=admin)


async def preheat_sale(settings: Settings, sale_id: int) -> str:
    async with open_container(settings) as c:
        view, loaded = await c.preheater.preheat(sale_id)
    return (
        f"sale {sale_id}: {'loaded' if loaded else 'unchanged'}; stock_left {view.stock_left}, "
        f"status {view.status.value}"
    )


async def audit_sale(settings: Settings, sale_id: int, replies: set[int] | None = None) -> bool:
    async with open_container(settings) as c, open_messaging(settings) as m:
        state = await state_of(c, sale_id, m.channel)
        checks = await run_audit(c.db, c.cache, sale_id, state, replies)
    for check in checks:
        click.echo(f"{'PASS' if check.ok else 'FAIL'}  {check.name:<26} {check.detail}")
    ok = all(check.ok for check in checks)
    click.echo(f"audit of sale {sale_id}: {'every invariant holds' if ok else 'FAILED'}")
    return ok


async def list_dead_letters(settings: Settings, limit: int) -> None:
    async with open_messaging(settings) as m:
        queue = await m.channel.get_queue(m.names.orders_dlq)
        held = []
        for _ in range(limit):
            msg = await queue.get(fail=False, no_ack=False)
            if msg is None:
                break
            held.append(msg)
            death = (msg.headers or {}).get("x-death") or [{}]
            first = death[0] if isinstance(death, list) and death else {}
            click.echo(
                json.dumps(
                    {
                        "message_id": msg.message_id,
                        "from": msg.headers.get("x-first-death-queue") if msg.headers else None,
                        "reason": (first.get("reason") if isinstance(first, dict) else None)
                        or (msg.headers or {}).get("x-flashsale-reason"),
                        "body": msg.body.decode(errors="replace")[:500],
                    }
                )
            )
        for msg in held:
            await msg.nack(requeue=True)
        click.echo(f"{len(held)} dead-lettered message(s)", err=True)


def replay_target(body: bytes, names: Names) -> str:
    """Where a dead letter goes back to, by what it carries: payment timeouts ({"o", "x"} only) to the
    timeout queue, everything else to the order queue (the orders and the timeouts share one DLQ)."""
    try:
        data = json.loads(body)
    except ValueError:
        return names.orders_queue
    items = data if isinstance(data, list) else [data]
    if items and all(isinstance(i, dict) and set(i) == {"o", "x"} for i in items):
        return names.timeouts_queue
    return names.orders_queue


async def replay_dead_letters(settings: Settings, limit: int) -> int:
    from app.infrastructure.amqp import message

    async with open_messaging(settings) as m:
        names = m.names
        queue = await m.channel.get_queue(names.orders_dlq)
        replayed = 0
        for _ in range(limit):
            msg = await queue.get(fail=False, no_ack=False)
            if msg is None:
                break
            origin = replay_target(msg.body, names)
            await m.publisher.publish(origin, message(msg.body, msg.message_id or ""))
            await msg.ack()
            replayed += 1
    return replayed
