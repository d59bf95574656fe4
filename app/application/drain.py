"""The drain check: what of a sale is not in the database yet. A sale whose cache was lost may be reloaded, or
have its stock changed, only once nothing of it is on its way, so the database's count of what is sold is whole."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from app.domain.errors import NotReady
from app.domain.models import Backlog

# The sale's hand-off, and its orders in flight (queued, held by a writer, dead-lettered).
DrainCheck = Callable[[int], Awaitable[Backlog]]


async def always_drained(_sale_id: int) -> Backlog:
    """For a use case built without a pipeline (the `db` strategy has none)."""
    return Backlog(0, 0)


def not_drained(backlog: Backlog, then: str) -> NotReady:
    """503 `not_ready`, saying how many orders wait and where, and what to do `then`."""
    waiting = backlog.handoff + backlog.unwritten
    return NotReady(
        f"the sale's cache was lost and {waiting} of its accepted orders are not written yet ({backlog.handoff} in "
        f"the hand-off, {backlog.unwritten} handed to the broker: in the order queue, held by an order writer, or "
        f"dead-lettered, see `flashsale dlq list` and `flashsale dlq replay`); {then} once they are written"
    )
