"""Every Redis key and RabbitMQ name in one place. A sale's keys share one hash tag, so its scripts are
Cluster-safe; the namespace prefix lets tests (and several deployments) share one server."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SaleKeys:
    tag: str
    meta: str
    users: str  # user -> units held in orders not cancelled
    idem: str
    res: str  # order id -> reservation record, until the order is in the database
    handoff: str
    rate: str
    placed: str  # user -> orders placed in the sale (capped)
    returned: str
    fenced: str  # order ids settled as not reserved after a lost reply (lua/settle.lua); no reservation takes one

    def pending(self, user: str) -> str:
        """Set of the user's order ids not yet in the database: one small key per user, O(1) to update."""
        return f"{self.tag}:pending:{user}"

    def reserve(self, user: str) -> list[str]:
        return [
            self.meta, self.users, self.idem, self.res, self.handoff, self.rate, self.placed, self.pending(user),
            self.fenced,
        ]  # fmt: skip

    def expiring(self) -> list[str]:
        """Everything but the hand-off stream, which must never expire with orders in it (the per-user pending
        sets get the same expiry from the reservation script)."""
        return [self.meta, self.users, self.idem, self.res, self.rate, self.placed, self.returned, self.fenced]


@dataclass(frozen=True)
class Names:
    namespace: str

    def sale(self, sale_id: int) -> SaleKeys:
        tag = f"{self.namespace}:{{sale:{sale_id}}}"
        return SaleKeys(
            tag=tag,
            meta=f"{tag}:meta",
            users=f"{tag}:users",
            idem=f"{tag}:idem",
            res=f"{tag}:res",
            handoff=f"{tag}:handoff",
            rate=f"{tag}:rate",
            placed=f"{tag}:placed",
            returned=f"{tag}:returned",
            fenced=f"{tag}:fenced",
        )

    @property
    def handoff_sales(self) -> str:
        """Set of sale ids whose hand-off stream the relay must watch."""
        return f"{self.namespace}:handoff-sales"

    @property
    def stock_channel(self) -> str:
        """Pub/sub channel: 'sale_id:stock_left' whenever a sale's cached stock changes in a way that matters."""
        return f"{self.namespace}:stock"

    def node_lease(self, node: int) -> str:
        return f"{self.namespace}:node:{node}"

    def login_rate(self, kind: str, who: str, second: int) -> str:
        return f"{self.namespace}:rl:{kind}:{who}:{second}"

    # RabbitMQ
    @property
    def orders_queue(self) -> str:
        return f"{self.namespace}.orders"

    @property
    def orders_dlq(self) -> str:
        return f"{self.namespace}.orders.dlq"

    @property
    def timeouts_queue(self) -> str:
        return f"{self.namespace}.timeouts"

    def delay_queue(self, ms: int) -> str:
        return f"{self.namespace}.delay.{ms}ms"
