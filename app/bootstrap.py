"""The composition root: builds every client and use case from the settings, and closes them again.

Entry points (the API, the workers, the CLI) call `open_container` and use what it holds; nothing else
constructs clients."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aio_pika.abc import AbstractChannel, AbstractRobustConnection
from redis.asyncio import Redis

from app.application.accounts import Accounts
from app.application.catalogue import Catalogue
from app.application.orders import Orders
from app.application.preheat import DrainCheck, Preheater
from app.application.purchase import Limits, RedisPurchase
from app.application.purchase_db import DbPurchase
from app.application.stock_return import StockReturns
from app.config import Settings
from app.infrastructure import amqp
from app.infrastructure.amqp import Publisher
from app.infrastructure.db import Database
from app.infrastructure.fake_payments import FakePaymentProvider
from app.infrastructure.idgen import IdGenerator, NodeLease
from app.infrastructure.keys import Names
from app.infrastructure.lua import Scripts
from app.infrastructure.passwords import PasswordWork
from app.infrastructure.pipeline import pipeline_state
from app.infrastructure.queue_depth import STATS_INTERVAL_SECONDS, QueueDepth
from app.infrastructure.rate_limit import RateLimiter
from app.infrastructure.redis_client import check_redis, make_redis
from app.infrastructure.sale_cache import SaleCache
from app.infrastructure.sold_out import SoldOutFlags, SoldOutListener
from app.infrastructure.timeouts import TimeoutScheduler
from app.infrastructure.tokens import TokenService


@dataclass
class Container:
    settings: Settings
    names: Names
    db: Database
    redis: Redis
    scripts: Scripts
    cache: SaleCache
    tokens: TokenService
    accounts: Accounts
    catalogue: Catalogue
    preheater: Preheater
    rates: RateLimiter
    flags: SoldOutFlags
    returns: StockReturns
    orders: Orders
    payments: FakePaymentProvider
    lease: NodeLease | None = None
    purchase: RedisPurchase | DbPurchase | None = None


@dataclass
class Messaging:
    connection: AbstractRobustConnection
    channel: AbstractChannel
    publisher: Publisher
    scheduler: TimeoutScheduler
    names: Names


def drain_check(cache: SaleCache, settings: Settings, names: Names) -> DrainCheck:
    """Nothing accepted for the sale is on its way: its hand-off is empty and so is the order queue
    (counted with unacknowledged messages through the management API; unknown counts as not drained).

    The management API refreshes its counts every few seconds, so one zero may be stale: the check holds only
    if a second reading, a stats interval later, is zero too."""
    depth = QueueDepth(settings.rabbitmq_api_url)

    async def empty_now(sale_id: int) -> bool:
        state = await pipeline_state(cache, depth, names, sale_id, None)
        return state.handoff == 0 and state.queued == 0

    async def drained(sale_id: int) -> bool:
        if not await empty_now(sale_id):
            return False
        await asyncio.sleep(STATS_INTERVAL_SECONDS)
        return await empty_now(sale_id)

    return drained


@contextlib.asynccontextmanager
async def open_container(settings: Settings, *, mint_ids: bool = False) -> AsyncIterator[Container]:
    """Connect to Redis and the database (failing with a one-line error naming the service) and wire the
    use cases. With `mint_ids`, also lease an order-id node and wire the purchase strategy."""
    names = Names(settings.namespace)
    redis = make_redis(settings.redis_url, settings.redis_pool_size)
    db = Database(settings.mysql_url, settings.mysql_pool_size)
    listener: SoldOutListener | None = None
    lease: NodeLease | None = None
    try:
        await check_redis(redis)
        await db.open()
        scripts = Scripts.register(redis)
        cache = SaleCache(redis, scripts, names)
        tokens = TokenService(settings.jwt_secret, settings.token_ttl_seconds)
        use_cache = settings.stock_strategy == "redis"
        catalogue = Catalogue(db, cache, use_cache=use_cache)
        flags = SoldOutFlags(settings.sold_out_flag_seconds)
        returns = StockReturns(db, cache)
        payments = FakePaymentProvider(db)
        container = Container(
            settings=settings,
            names=names,
            db=db,
            redis=redis,
            scripts=scripts,
            cache=cache,
            tokens=tokens,
            accounts=Accounts(db, tokens, PasswordWork(settings.password_hash_concurrency)),
            catalogue=catalogue,
            preheater=Preheater(db, cache, catalogue, drain_check(cache, settings, names)),
            rates=RateLimiter(redis, names),
            flags=flags,
            returns=returns,
            orders=Orders(db, cache, payments, returns),
            payments=payments,
        )
        if mint_ids:
            lease = NodeLease(redis, scripts, names, settings.node_lease_seconds)
            await lease.acquire()
            lease.start()
            ids = IdGenerator(lease)
            limits = Limits(
                settings.rate_limit_user,
                settings.rate_limit_address,
                settings.handoff_backlog_max,
                settings.orders_per_user_max,
            )
            container.lease = lease
            if use_cache:
                container.purchase = RedisPurchase(db, cache, ids, flags, limits)
                listener = SoldOutListener(redis, names.stock_channel, flags)
                listener.start()
            else:
                container.purchase = DbPurchase(db, ids, container.rates, limits)
        yield container
    finally:
        if listener is not None:
            await listener.stop()
        if lease is not None:
            await lease.stop()
        await db.close()
        await redis.aclose()


@contextlib.asynccontextmanager
async def open_messaging(settings: Settings) -> AsyncIterator[Messaging]:
    """Connect to RabbitMQ, declare the topology, and hand out a confirming publisher."""
    names = Names(settings.namespace)
    connection = await amqp.connect(settings.amqp_url)
    try:
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        await amqp.declare_topology(channel, names, settings.order_max_attempts)
        publisher = Publisher(channel)
        yield Messaging(connection, channel, publisher, TimeoutScheduler(publisher, names), names)
    finally:
        await connection.close()
