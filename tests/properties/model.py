"""The state machine's model of one sale: what the test has been told (202s, paid, cancelled) and what it may
not know yet (a payment deadline passing, a timeout's stock return on its way). Pure: no I/O.

The only clients are the test's own steps, so every order is known; what runs on its own is the order writer
(pending -> created), the timeout worker (created -> cancelled, then the stock return) and the sweep. The model
therefore keeps bounds: stock left and each user's allowance lie between what they are if no return it cannot
be sure of has reached the cache and what they are if every possible one has."""

from __future__ import annotations

from dataclasses import dataclass, field

# Slack on deadlines: the API, Redis and MariaDB read the same clock, a request takes some milliseconds.
EPSILON = 0.05
# An order's status may move on to one of these (the contract's transitions), never back.
NEXT = {
    "pending": {"pending", "created", "paying", "paid", "cancelled"},
    "created": {"created", "paying", "paid", "cancelled"},
    "paying": {"paying", "paid"},
    "paid": {"paid"},
    "cancelled": {"cancelled"},
}


@dataclass
class ModelOrder:
    id: str
    user: str
    quantity: int
    key: str | None
    body: dict
    sent_at: float  # the purchase was sent (local epoch seconds); the deadline is at least this + window
    received_at: float  # its 202 came back; the deadline is at most this + window
    window: int
    status: str = "pending"
    reason: str | None = None
    expires_at: float | None = None  # exact, once seen
    paid_at: str | None = None
    cancelled_by_us: bool = False  # a cancel request of ours answered 200 with reason `user`
    returned: bool = False  # its units are back in the cache for sure

    @property
    def earliest_deadline(self) -> float:
        return self.expires_at if self.expires_at is not None else self.sent_at + self.window

    @property
    def latest_deadline(self) -> float:
        return self.expires_at if self.expires_at is not None else self.received_at + self.window

    def open_at(self, moment: float) -> bool:
        """Still payable and cancellable by its owner at `moment` for sure."""
        return moment < self.earliest_deadline - EPSILON

    def closed_at(self, moment: float) -> bool:
        """Past its deadline for sure at `moment`."""
        return moment > self.latest_deadline + EPSILON

    def maybe_cancelled(self, moment: float) -> bool:
        """It may be cancelled (and its units may be back) by `moment`, whatever the test knows."""
        if self.status == "cancelled":
            return True
        return self.status != "paid" and self.paid_at is None and not self.open_at(moment)

    def observe(self, status: str, reason: str | None, where: str) -> None:
        """A status read from the system: it must follow the contract's transitions from what was seen."""
        assert status in NEXT[self.status], f"order {self.id}: {self.status} -> {status} ({where})"
        if self.paid_at is not None:
            assert status == "paid", f"order {self.id} was paid, now {status} ({where})"
        if self.cancelled_by_us:
            assert (status, reason) == ("cancelled", "user"), f"order {self.id} cancelled by us, now {status}"
        if status == "cancelled":
            assert reason in ("user", "timeout"), f"order {self.id}: cancel_reason {reason!r} ({where})"
            if self.status == "cancelled":
                assert reason == self.reason, f"order {self.id}: reason {self.reason} -> {reason} ({where})"
            if reason == "user":
                assert self.cancelled_by_us, f"order {self.id} cancelled by `user`, but the user never did ({where})"
        else:
            assert reason is None, f"order {self.id} is {status} with cancel_reason {reason!r} ({where})"
        self.status, self.reason = status, reason


@dataclass(frozen=True)
class Bounds:
    lo: int
    hi: int


@dataclass
class SaleModel:
    sale_id: str
    stock: int
    limit: int
    window: int
    paused: bool = False
    orders: dict[str, ModelOrder] = field(default_factory=dict)
    keys: dict[tuple[str, str], str] = field(default_factory=dict)  # (user, key) -> order id
    sold_out_flag_until: float = 0.0  # an API process may answer sold_out from its flag until then

    def taken(self, orders: list[ModelOrder], moment: float) -> Bounds:
        """Units of these orders not back in the cache: fewest if every possible return has landed."""
        sure = sum(o.quantity for o in orders if not o.returned)
        maybe = sum(o.quantity for o in orders if not o.returned and o.maybe_cancelled(moment))
        return Bounds(sure - maybe, sure)

    def left(self, moment: float) -> Bounds:
        taken = self.taken(list(self.orders.values()), moment)
        return Bounds(self.stock - taken.hi, self.stock - taken.lo)

    def held(self, user: str, moment: float) -> Bounds:
        return self.taken([o for o in self.orders.values() if o.user == user], moment)

    def purchase_outcomes(self, user: str, quantity: int, key: str | None, moment: float) -> set[str]:
        """Every answer the contract allows a purchase sent now (its reply came at `moment`): the checks in the
        contract's order, over the whole range the model is unsure of."""
        if key is not None and (user, key) in self.keys:
            known = self.orders[self.keys[(user, key)]]
            return {"replay"} if known.quantity == quantity else {"idempotency_key_reused"}
        flag = key is None and moment < self.sold_out_flag_until  # the in-process flag answers first
        if self.paused:
            return {"paused", "sold_out"} if flag else {"paused"}
        left, held = self.left(moment), self.held(user, moment)
        allowed = {"sold_out"} if flag or left.lo <= 0 else set()
        if left.hi > 0:
            if held.hi + quantity > self.limit:
                allowed.add("limit_exceeded")
            if held.lo + quantity <= self.limit:
                if left.lo < quantity:
                    allowed.add("insufficient_stock")
                if left.hi >= quantity:
                    allowed.add("accepted")
        return allowed

    def stock_change_outcomes(self, new_stock: int, moment: float) -> set[str]:
        """`stock_below_sold` when the new stock is below the units sold or reserved, else accepted."""
        left = self.left(moment)
        sold = Bounds(self.stock - left.hi, self.stock - left.lo)
        allowed = set()
        if new_stock >= sold.lo:
            allowed.add("ok")
        if new_stock < sold.hi:
            allowed.add("stock_below_sold")
        return allowed

    def open_orders(self) -> list[ModelOrder]:
        """Neither paid nor known to be cancelled."""
        return [o for o in self.orders.values() if o.paid_at is None and o.status != "cancelled"]
