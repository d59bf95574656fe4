"""The composition root: builds every client and use case from the settings, and closes them again.

Entry points (the API, the workers, the CLI, the operator) call `open_container` (and `open_messaging`,
`build_workers`) and use what they hold; nothing else constructs clients."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aio_pika.abc import AbstractChannel, AbstractRobustConnection
from redis.asyncio import Redis

from app.application.accounts import Accounts
from app.application.catalogue import Catalogue
from app.application.drain import DrainCheck
from app.application.order_writer import OrderWriter
from app.application.orders import Orders
from app.application.preheat import Preheater
from app.application.purchase import Limits, RedisPurchase
from app.application.purchase_db import DbPurchase
from app.application.sale_orders import SaleOrders
from app.application.stock_return import StockReturns
from app.config import Settings
from app.domain.models import Backlog, PipelineState
from app.infrastructure import amqp
from app.infrastructure.amqp import Publisher
from app.infrastructure.db import Database
from app.infrastructure.fake_payments import FakePaymentProvider
from app.infrastructure.idgen import IdGenerator, NodeLease
from app.infrastructure.in_flight import InFlight
from app.infrastructure.keys import Names
from app.infrastructure.lua import Scripts
from app.infrastructure.passwords import PasswordWork
from app.infrastructure.pipeline import pipeline_state
from app.infrastructure.pool_metrics import pools_sampled
from app.infrastructure.queue_depth import QueueDepth
from app.infrastructure.rate_limit import RateLimiter
from app.infrastructure.redis_client import check_redis, make_redis
from app.infrastructure.sale_cache import SaleCache
from app.infrastructure.sold_out import SoldOutFlags, SoldOutListener, StockHearer
from app.infrastructure.sql_store import SqlStore
from app.infrastructure.timeouts import TimeoutScheduler
from app.infrastructure.tokens import TokenService
from app.workers.orders import OrderConsumer
from app.workers.relay import Relay
from app.workers.timeouts import TimeoutWorker

Worker = OrderConsumer | TimeoutWorker | Relay

if TYPE_CHECKING:
    from kubernetes_asyncio.client import ApiClient

    from flashsale_operator.scaling import Scaler


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


async def state_of(c: Container, sale_id: int, channel: AbstractChannel | None = None) -> PipelineState:
    """What of the sale is still on its way to the database (hand-off, in flight, order queue, dead letters)."""
    return await pipeline_state(c.cache, c.depth, c.names, sale_id, channel, in_flight=c.in_flight)


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
        store = SqlStore(db)  # the use cases' transactions (their ports), on the same pool
        returns = StockReturns(store, cache)
        payments = FakePaymentProvider(db)
        depth = QueueDepth(settings.rabbitmq_api_url, settings.amqp_vhost)  # the vhost the AMQP URL names
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
            preheater=Preheater(store, cache, catalogue, drained),
            rates=RateLimiter(redis, names),
            flags=flags,
            returns=returns,
            orders=Orders(store, cache, payments, returns),
            payments=payments,
            depth=depth,
            in_flight=in_flight,
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
        async with pools_sampled(redis, db):
            yield container
    finally:
        if listener is not None:
            await listener.stop()
        if lease is not None:
            await lease.stop()
        await db.close()
        await redis.aclose()


@dataclass
class OperatorParts:
    """What the operator uses beyond the container: the Kubernetes API client and the consumer scaler."""

    container: Container
    sale_orders: SaleOrders
    kube: ApiClient
    scaler: Scaler


@contextlib.asynccontextmanager
async def open_operator(
    settings: Settings, *, consumer_deployment: str, scale_cooldown_seconds: float, on_stock: StockHearer
) -> AsyncIterator[OperatorParts]:
    """The container, one Kubernetes API client and the scaler built on it, and `on_stock` hearing the stock
    channel (sold out, restocked); closed in reverse order."""
    # Only the operator needs these; the API and the workers never import them.
    from app.infrastructure.kube import open_kube_api
    from flashsale_operator.scaling import Scaler

    async with open_container(settings) as c:
        kube = await open_kube_api()
        listener = SoldOutListener(c.redis, c.names.stock_channel, on_stock)
        listener.start()
        try:
            scaler = Scaler(
                kube,
                queue_depth=c.depth,
                orders_queue=c.names.orders_queue,
                handoff_backlog=c.cache.handoff_length,
                deployment=consumer_deployment,
                cooldown_seconds=scale_cooldown_seconds,
            )
            yield OperatorParts(c, SaleOrders(c.db, drain_check(c.cache, c.in_flight, c.names)), kube, scaler)
        finally:
            await listener.stop()
            await kube.close()


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


async def build_workers(c: Container, m: Messaging, kind: str) -> list[Worker]:
    """The workers of one `flashsale worker KIND` process, each on a channel of its own where it consumes."""
    settings = c.settings
    workers: list[Worker] = []
    if kind in ("relay", "all") and settings.stock_strategy == "redis":
        workers.append(Relay(c.redis, m.publisher, c.names, settings.relay_batch_size, c.cache, in_flight=c.in_flight))
    if kind in ("orders", "all"):
        channel = await m.connection.channel(publisher_confirms=True, on_return_raises=True)
        writer = OrderWriter(c.db)
        workers.append(
            OrderConsumer(
                channel,
                writer,
                m.scheduler,
                m.publisher,
                c.names,
                c.cache,
                batch_size=settings.order_batch_size,
                prefetch=settings.order_prefetch,
                max_attempts=settings.order_max_attempts,
            )
        )
    if kind in ("timeouts", "all"):
        channel = await m.connection.channel(publisher_confirms=True, on_return_raises=True)
        sweep = settings.timeout_sweep_seconds
        workers.append(
            TimeoutWorker(
                channel, c.db, c.returns, c.orders, m.scheduler, c.names, catalogue=c.catalogue, sweep_seconds=sweep
            )
        )
    return workers


async def check_stores(settings: Settings) -> None:
    """Fail fast, with one line naming the service, when Redis or the database is not there."""
    redis = make_redis(settings.redis_url, 2)
    try:
        await check_redis(redis)
    finally:
        await redis.aclose()
    db = Database(settings.mysql_url, 1)
    await db.open()
    await db.close()
