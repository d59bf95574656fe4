"""The order writer's row (built as text for speed) says what the order model's row says, column by column."""

from __future__ import annotations

from app.application.order_writer import _row
from app.domain.models import OrderStatus, Reservation
from app.domain.timefmt import from_ms
from app.infrastructure.sql_orders import NewOrder


def test_the_writers_row_is_the_models_row_in_insert_order() -> None:
    r = Reservation(11, 2, "ann", 3, 1_500, 1_764_748_800_123, 1_764_749_700_000, 7, "key-1")
    model = NewOrder(
        id=r.order_id,
        sale_id=r.sale_id,
        user_id=r.user_id,
        quantity=r.quantity,
        amount_cents=r.amount_cents,
        status=OrderStatus.CREATED.value,
        idempotency_key=r.idempotency_key,
        cache_epoch=r.epoch,
        created_at=from_ms(r.created_ms),
        expires_at=from_ms(r.expires_ms),
    ).row()
    row = _row(r)
    assert row[:8] == model[:8]
    # The times: the model's naive UTC datetimes, as the DATETIME(3) text the writer sends.
    assert row[8:] == tuple(t.strftime("%Y-%m-%d %H:%M:%S.") + f"{t.microsecond // 1000:03d}" for t in model[8:])
    assert row[8:] == ("2025-12-03 08:00:00.123", "2025-12-03 08:15:00.000")
