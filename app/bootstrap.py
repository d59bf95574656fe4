"""The composition root: builds every client and use case from the settings, and closes them again.

Entry points (the API, the workers, the CLI) call `open_container` and use what it holds; nothing else
constructs clients."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aio_pika.abc import AbstractChannel, AbstractRobustConnection
from redis.asyncio import Redis

from app.application.accounts import Accounts
from app.application.catalogue import Catalogue
from app.application.drain import DrainCheck
from app.application.orders import Orders
from app.application.preheat import Preheater
from app.application.purchase import Limits, RedisPurchase
from app.application.purchase_db import DbPurchase
from app.application.stock_return import StockReturns
from app.config import Settings
from app.domain.models import Backlog
from app.infrastructure import amqp
from app.infrastructure.amqp import Publisher
from app.infrastructure.db import Database
from app.infrastructure.fake_payments import FakePaymentProvider
from app.infrastructure.idgen import IdGenerator, NodeLease
from app.infrastructure.in_flight import InFlight
from app.infrastructure.keys import Names
from app.infrastructure.lua import Scripts
from app.infrastructure.queue_depth import QueueDepth
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
    depth: QueueDepth
    in_flight: InFlight
    lease: NodeLease | None = None
    purchase: RedisPurchase | DbPurchase | None = None


@dataclass
class Messaging:
    connection: AbstractRobustConnection
    channel: AbstractChannel
    publisher: Publisher
    scheduler: TimeoutScheduler
    names: Names


def queue_depth(settings: Settings) -> QueueDepth:
    """Queue depths from the management API, asked about the vhost the AMQP URL names."""
    return QueueDepth(settings.rabbitmq_api_url, settings.amqp_vhost)


def drain_check(cache: SaleCache, in_flight: InFlight, names: Names) -> DrainCheck:
    """What of the sale is not written yet: its hand-off, then its orders in flight (dead letters included).
    Both are the sale's own and exact at once, so neither another sale's traffic nor queue statistics matter."""

    async def backlog(sale_id: int) -> Backlog:
        # The hand-off first: an entry leaves it only once its order is recorded in flight.
        handoff = int(await cache.redis.xlen(names.sale(sale_id).handoff))
        return Backlog(handoff, await in_flight.count(sale_id))

    return backlog


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
        in_flight = InFlight(db)
        drained = drain_check(cache, in_flight, names)
        catalogue = Catalogue(db, cache, use_cache=use_cache, drained=drained)
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
            accounts=Accounts(db, tokens),
            catalogue=catalogue,
            preheater=Preheater(db, cache, catalogue, drained),
            rates=RateLimiter(redis, names),
            flags=flags,
            returns=returns,
            orders=Orders(db, cache, payments, returns),
            payments=payments,
            depth=queue_depth(settings),
            in_flight=in_flight,
        )
        if mint_ids:
            lease = NodeLease(redis, scripts, names, settings.node_lease_seconds)
            await lease.acquire()
            lease.start()
            ids = IdGenerator(lease)
            limits = Limits(settings.rate_limit_user, settings.rate_limit_address, settings.handoff_backlog_max)
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
