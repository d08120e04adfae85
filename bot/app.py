"""The one aiohttp server: adapters mount their routes on it; health and metrics live here.

The server's job is to acknowledge: adapters commit each turn to the inbox and answer the platform.
Answering happens in workers: separate processes under `whybot serve` (bot/supervisor.py), or, with
`in_process_workers`, tasks on this loop (WHYBOT_WORKER_MODE=inline, and the tests).
"""

from __future__ import annotations

import asyncio
import logging
import statistics
from datetime import timedelta
from importlib.metadata import entry_points

from aiohttp import web

from bot import maintenance
from bot.adapter import Adapter, AdapterFactory
from bot.pipeline import TurnPipeline
from bot.scheduler import DigestScheduler
from bot.services import Services
from bot.worker import Worker, WorkerConfig

log = logging.getLogger(__name__)

SERVICES: web.AppKey[Services] = web.AppKey("services", Services)
ADAPTERS: web.AppKey[list[Adapter]] = web.AppKey("adapters", list)
STOP: web.AppKey[asyncio.Event] = web.AppKey("stop", asyncio.Event)
ENTRY_POINT_GROUP = "whybot.adapters"
TIMINGS_WINDOW = timedelta(minutes=5)


def discover_adapters() -> dict[str, AdapterFactory]:
    """Adapter factories registered by installed packages, by name, in a stable order."""
    found = {ep.name: ep.load() for ep in entry_points(group=ENTRY_POINT_GROUP)}
    order = ["playground", "slack", "teams"]
    return dict(sorted(found.items(), key=lambda kv: (order.index(kv[0]) if kv[0] in order else 99, kv[0])))


def build_adapters(services: Services, factories: dict[str, AdapterFactory] | None = None) -> list[Adapter]:
    """Every configured adapter, with its surface registered for the pipeline and the scheduler."""
    adapters: list[Adapter] = []
    for name, factory in (factories if factories is not None else discover_adapters()).items():
        adapter = factory(services)
        if adapter is None:
            log.info("adapter %s is not configured; skipping", name)
            continue
        services.surfaces[adapter.surface.platform] = adapter.surface
        adapters.append(adapter)
    return adapters


async def healthz(request: web.Request) -> web.Response:
    """200 only while the database accepts writes: acknowledging without a durable inbox would lose work."""
    services = request.app[SERVICES]
    try:
        await services.storage.db.accepts_writes()
    except Exception as exc:  # report, don't crash: load balancers poll this
        log.warning("health check failed: %s", exc)
        return web.json_response({"status": "error", "database": "not accepting writes"}, status=503)
    names = [a.name for a in request.app[ADAPTERS]]
    return web.json_response({"status": "ok", "adapters": names, "generator": services.generator.name,
                              "database": services.storage.db.dialect})


async def metrics(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    m = services.metrics
    try:
        now = services.clock()
        stats = await services.storage.inbox.stats(now)
        timings = await services.storage.inbox.recent_timings(now - TIMINGS_WINDOW)
    except Exception as exc:  # the counters are still worth serving without the queue's numbers
        log.warning("queue metrics unavailable: %s", exc)
    else:
        m.queue_depth.labels("pending").set(stats.pending)
        m.queue_depth.labels("running").set(stats.running)
        m.queue_oldest.set(stats.oldest_age_s)
        for phase, values in (("wait", [w for w, _ in timings]), ("run", [r for _, r in timings])):
            for q, value in _quantiles(values).items():
                m.turn_seconds.labels(phase, q).set(value)
    return web.Response(body=m.render(), headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"})


def _quantiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"0.5": 0.0, "0.99": 0.0}
    if len(values) == 1:
        return {"0.5": values[0], "0.99": values[0]}
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {"0.5": cuts[49], "0.99": cuts[98]}


async def warm_indexes(services: Services) -> None:
    """Index every known tenant after start-up, so the first question is as fast as the rest."""
    for tenant_id in await services.storage.workspace.list_tenants():
        try:
            await services.retriever.warm(tenant_id)
        except Exception:  # a broken tenant must not stop the others; its first search will retry
            log.exception("could not index tenant %s", tenant_id)


def worker_config(services: Services) -> WorkerConfig:
    s = services.settings
    return WorkerConfig(concurrency=s.worker_concurrency, grace_s=s.shutdown_grace_s,
                        lease=timedelta(seconds=s.turn_lease_s))


def create_app(services: Services, factories: dict[str, AdapterFactory] | None = None, *,
               in_process_workers: bool | None = None) -> web.Application:
    """Build the server with every configured adapter mounted; adapters start with the server."""
    app = web.Application(client_max_size=2 * 1024 * 1024)
    app[SERVICES] = services
    adapters = build_adapters(services, factories)
    for adapter in adapters:
        adapter.mount(app)
    app[ADAPTERS] = adapters
    app[STOP] = asyncio.Event()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    settings = services.settings
    answer_here = (settings.worker_mode == "inline" and settings.workers > 0) if in_process_workers is None \
        else in_process_workers

    cancellable: list[asyncio.Task[None]] = []  # stopped by cancelling
    stoppable: list[asyncio.Task[None]] = []  # watch STOP, finish their turn, then return

    async def start(app: web.Application) -> None:
        stop = app[STOP]
        for adapter in adapters:
            await adapter.start()
        cancellable.append(asyncio.create_task(maintenance.run_forever(services), name="housekeeping"))
        if services.settings.scheduler_enabled:
            stoppable.append(asyncio.create_task(DigestScheduler(services).run_forever_queueing(stop),
                                                 name="digest-scheduler"))
        if answer_here:
            cancellable.append(asyncio.create_task(warm_indexes(services), name="warm-indexes"))
            worker = Worker(services, TurnPipeline(services, services.surfaces), config=worker_config(services),
                            wake=services.inbox.wake)
            stoppable.append(asyncio.create_task(worker.run(stop), name="worker"))

    async def stop(app: web.Application) -> None:
        app[STOP].set()  # workers finish or hand back their turns within the grace period
        for task in cancellable:
            task.cancel()
        if stoppable:
            _, late = await asyncio.wait(stoppable, timeout=services.settings.shutdown_grace_s + 2)
            for task in late:
                task.cancel()
        await asyncio.gather(*cancellable, *stoppable, return_exceptions=True)
        for adapter in reversed(adapters):
            await adapter.stop()
        await services.close()

    app.on_startup.append(start)
    app.on_cleanup.append(stop)
    return app
