"""The audit: every invariant of the contract for one sale, read-only, each a line with pass or fail.

Read from Redis (the cache and the hand-off), RabbitMQ (what is still queued or dead-lettered) and the
database (the truth)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from app.domain.models import PipelineState
from app.infrastructure import sql_catalogue as sql
from app.infrastructure.db import Database
from app.infrastructure.sale_cache import PLACEHOLDER, SaleCache

TIMEOUT_SLACK_SECONDS = 2


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def replies_written(replies: set[int], written: set[int], epoch: int) -> Check:
    """Every 202 a client recorded (`flashsale audit --accepted`) has its order row. A 202 without a row is
    lost; that is allowed only once the cache lost its data and was loaded again (epoch past the first load):
    the orders still in the lost hand-off existed nowhere else. The rows cannot tell how many of the 202s were
    given before the loss, so this client's record is how the audit counts them."""
    lost = len(replies - written)
    reloaded = epoch > 1
    return Check(
        "accepted_replies_written",
        lost == 0 or reloaded,
        f"{len(replies)} 202(s) recorded by the client, {len(replies & written)} written, {lost} lost"
        + (f" (the cache was reloaded {epoch - 1} time(s): lost with its data)" if lost and reloaded else ""),
    )


async def audit_sale(
    db: Database, cache: SaleCache, sale_id: int, pipeline: PipelineState, replies: set[int] | None = None
) -> list[Check]:
    """`replies`: the order ids of the 202s a client received, when it kept them (see `replies_written`)."""
    keys = cache.names.sale(sale_id)
    redis = cache.redis
    async with db.transaction() as cur:
        sale = await sql.sale_by_id(cur, sale_id)
        if sale is None:
            return [Check("sale_exists", False, f"no sale {sale_id} in the database")]
        taken = await sql.units_taken(cur, sale_id)
        holdings = dict(await sql.holdings(cur, sale_id))
        await cur.execute("SELECT id FROM orders WHERE sale_id = %s", (sale_id,))
        written = {int(r[0]) for r in await cur.fetchall()}
        await cur.execute(
            "SELECT COUNT(*) FROM orders o JOIN fake_charges c ON c.idempotency_key = CAST(o.id AS CHAR) "
            "WHERE o.sale_id = %s AND o.status = 'cancelled' AND c.status = 'succeeded'",
            (sale_id,),
        )
        (charged_and_cancelled,) = await cur.fetchone()
        await cur.execute(
            "SELECT COUNT(*) FROM orders o LEFT JOIN fake_charges c ON c.idempotency_key = CAST(o.id AS CHAR) "
            "WHERE o.sale_id = %s AND o.status = 'paid' AND c.idempotency_key IS NULL",
            (sale_id,),
        )
        (paid_uncharged,) = await cur.fetchone()
        await cur.execute(
            "SELECT COUNT(*) FROM orders WHERE sale_id = %s AND status = 'created' "
            "AND expires_at < NOW(3) - INTERVAL %s SECOND",
            (sale_id, TIMEOUT_SLACK_SECONDS),
        )
        (overdue,) = await cur.fetchone()
        await cur.execute(
            "SELECT COUNT(*), COALESCE(SUM(created_at < NOW(3) - INTERVAL %s SECOND), 0) FROM stock_returns "
            "WHERE sale_id = %s AND applied_at IS NULL",
            (TIMEOUT_SLACK_SECONDS, sale_id),
        )
        returning, unreturned = (int(v) for v in await cur.fetchone())

    meta = await redis.hgetall(keys.meta)
    loaded = bool(meta)
    accepted = {int(k) for k in await redis.hkeys(keys.res) if k != PLACEHOLDER}
    # Nothing of the sale on its way between the stores: orders to the database, stock returns to the cache.
    # Until then the cache and the database may differ for a moment, and the other checks may fail for it.
    drained = pipeline.drained and returning == 0
    checks = [
        Check(
            "pipeline_drained",
            drained,
            f"{pipeline.handoff} in the hand-off, {pipeline.unwritten} handed to the broker and not written "
            f"(dead letters included), {returning} stock return(s) not applied; "
            f"{pipeline.queued} message(s) in the order queue (all sales"
            + (")" if pipeline.exact else ", ready messages only: management API unreachable)"),
        ),
        Check(
            "no_dead_letters",
            pipeline.dead_letters == 0,
            f"{pipeline.dead_letters} message(s) in the dead-letter queue (all sales)",
        ),
        Check(
            "database_stock_row",
            sale.stock_left == sale.stock - taken,
            f"row stock_left {sale.stock_left}, stock {sale.stock} - {taken} units in orders not cancelled",
        ),
    ]
    if loaded:
        cached_left = int(meta["stock_left"])
        checks.append(
            Check(
                "stock_conserved",
                sale.stock == cached_left + taken,
                f"stock {sale.stock} vs cache stock_left {cached_left} + {taken} units in orders not cancelled",
            )
        )
        cached_users = {str(u): int(q) for u, q in (await redis.hgetall(keys.users)).items() if u != PLACEHOLDER}
        cached_users = {u: q for u, q in cached_users.items() if q > 0}
        differ = sorted(u for u in set(cached_users) | set(holdings) if cached_users.get(u, 0) != holdings.get(u, 0))
        checks.append(
            Check(
                "allowances_match",
                not differ,
                f"{len(differ)} user(s) whose cached allowance differs from orders",
            )
        )
    else:
        checks.append(
            Check("stock_conserved", sale.stock == sale.stock_left + taken, "cache not loaded: database only")
        )
    over = sorted(u for u, q in holdings.items() if q > sale.per_user_limit)
    checks.append(Check("per_user_limit", not over, f"{len(over)} user(s) over the limit of {sale.per_user_limit}"))
    lost = sorted(accepted - written)
    checks.append(
        Check(
            "accepted_orders_written",
            not lost,
            f"{len(accepted)} reservation(s) of this cache epoch not yet dropped by the order writer, "
            f"{len(lost)} of them without an order row"
            + ("" if drained or not lost else " (pipeline not drained yet)"),
        )
    )
    checks.append(
        Check(
            "charged_xor_cancelled",
            charged_and_cancelled == 0 and paid_uncharged == 0,
            f"{charged_and_cancelled} cancelled but charged, {paid_uncharged} paid but never charged",
        )
    )
    checks.append(
        Check(
            "timeouts_processed",
            overdue == 0 and unreturned == 0,
            f"{overdue} unpaid past expires_at + {TIMEOUT_SLACK_SECONDS}s, {unreturned} stock returns not applied",
        )
    )
    if replies is not None:
        checks.append(replies_written(replies, written, sale.cache_epoch))
    return checks


async def audit_loaded_sales(
    db: Database, cache: SaleCache, state_of: Callable[[int], Awaitable[PipelineState]]
) -> dict[int, list[Check]]:
    """Audit every sale whose cache is loaded, and export each invariant as `flashsale_invariant_ok` (a sale no
    longer loaded drops out of the metric)."""
    from app.infrastructure.metrics import SAMPLED

    results: dict[int, list[Check]] = {}
    for sale_id in await cache.known_sales():
        if not await cache.is_loaded(sale_id):
            continue
        results[sale_id] = await audit_sale(db, cache, sale_id, await state_of(sale_id))
    SAMPLED.set_invariants({(sale_id, c.name): c.ok for sale_id, checks in results.items() for c in checks})
    return results
