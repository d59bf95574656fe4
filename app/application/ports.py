"""The ports the use cases need from outside that are not plain storage: the payment provider."""

from __future__ import annotations

from typing import Protocol


class PaymentProvider(Protocol):
    async def charge(self, idempotency_key: str, amount_cents: int) -> bool:
        """Charge once per key; a repeated key returns the first outcome and charges nothing more."""
        ...

    async def refund(self, idempotency_key: str) -> None:
        """Give back a charge made with this key (nothing happens when there is none)."""
        ...

    async def charged(self, idempotency_key: str) -> bool | None:
        """Whether a charge with this key succeeded (None: the provider never saw the key)."""
        ...
