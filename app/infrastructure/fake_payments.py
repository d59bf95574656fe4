"""The in-process fake payment provider (the one part that cannot run here for real).

It keeps a ledger table keyed by the idempotency key (the order id), so a repeated charge never charges
twice, and a crash between the charge and the order's update is resolved by asking it again."""

from __future__ import annotations

from app.infrastructure.db import Database


class FakePaymentProvider:
    def __init__(self, db: Database, *, decline: bool = False) -> None:
        self._db = db
        self.decline = decline  # tests flip this to see a declined charge (nothing is recorded)

    async def charge(self, idempotency_key: str, amount_cents: int) -> bool:
        if self.decline:
            return False
        async with self._db.transaction() as cur:
            await cur.execute(
                "INSERT IGNORE INTO fake_charges (idempotency_key, amount_cents, status) VALUES (%s, %s, 'succeeded')",
                (idempotency_key, amount_cents),
            )
            await cur.execute("SELECT status FROM fake_charges WHERE idempotency_key = %s", (idempotency_key,))
            (status,) = await cur.fetchone()
        return bool(status == "succeeded")  # a refunded key stays refunded

    async def refund(self, idempotency_key: str) -> None:
        async with self._db.transaction() as cur:
            await cur.execute(
                "UPDATE fake_charges SET status = 'refunded' WHERE idempotency_key = %s AND status = 'succeeded'",
                (idempotency_key,),
            )

    async def charged(self, idempotency_key: str) -> bool | None:
        async with self._db.transaction() as cur:
            await cur.execute("SELECT status FROM fake_charges WHERE idempotency_key = %s", (idempotency_key,))
            row = await cur.fetchone()
        return None if row is None else row[0] == "succeeded"
