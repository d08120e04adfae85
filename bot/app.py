"""The one aiohttp server: adapters mount their routes on it; health and metrics live here."""

from __future__ import annotations

import asyncio
import logging
from importlib.metadata import entry_points

from aiohttp import web

from bot import maintenance
from bot.adapter import Adapter, AdapterFactory
from bot.scheduler import DigestScheduler
from bot.services import Services

log = logging.getLogger(__name__)

SERVICES: web.AppKey[Services] = web.AppKey("services", Services)
ADAPTERS: web.AppKey[list[Adapter]] = web.AppKey("adapters", list)
SCHEDULER: web.AppKey[asyncio.Task[None]] = web.AppKey("scheduler", asyncio.Task)
ENTRY_POINT_GROUP = "whybot.adapters"


def discover_adapters() -> dict[str, AdapterFactory]:
    """Adapter factories registered by installed packages, by name, in a stable order."""
    found = {ep.name: ep.load() for ep in entry_points(group=ENTRY_POINT_GROUP)}
    order = ["playground", "slack", "teams"]
    return dict(sorted(found.items(), key=lambda kv: (order.index(kv[0]) if kv[0] in order else 99, kv[0])))


async def healthz(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    try:
        await services.storage.db.current_revision()
    except Exception as exc:  # report, don't crash: load balancers poll this
        log.warning("health check failed: %s", exc)
        return web.json_response({"status": "error", "database": "unreachable"}, status=503)
    names = [a.name for a in request.app[ADAPTERS]]
    return web.json_response({"status": "ok", "adapters": names, "generator": services.generator.name,
                              "database": services.storage.db.dialect})


async def metrics(request: web.Request) -> web.Response:
    body = request.app[SERVICES].metrics.render()
    return web.Response(body=body, headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"})


async def warm_indexes(services: Services) -> None:
    """Index every known tenant after start-up, so the first question is as fast as the rest."""
    for tenant_id in await services.storage.workspace.list_tenants():
        try:
            await services.retriever.warm(tenant_id)
        except Exception:  # a broken tenant must not stop the others; its first search will retry
            log.exception("could not index tenant %s", tenant_id)


def create_app(services: Services, factories: dict[str, AdapterFactory] | None = None) -> web.Application:
    """Build the server with every configured adapter mounted; adapters start with the server."""
    app = web.Application(client_max_size=2 * 1024 * 1024)
    app[SERVICES] = services
    adapters: list[Adapter] = []
    for name, factory in (factories if factories is not None else discover_adapters()).items():
        adapter = factory(services)
        if adapter is None:
            log.info("adapter %s is not configured; skipping", name)
            continue
        adapter.mount(app)
        if adapter.delivery is not None:
            services.deliveries[adapter.delivery.platform] = adapter.delivery
        adapters.append(adapter)
    app[ADAPTERS] = adapters
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)

    background: list[asyncio.Task[None]] = []

    async def start(app: web.Application) -> None:
        for adapter in adapters:
            await adapter.start()
        background.append(asyncio.create_task(warm_indexes(services), name="warm-indexes"))
        background.append(asyncio.create_task(maintenance.run_forever(services), name="housekeeping"))
        if services.settings.scheduler_enabled:  # after adapters, so their deliveries are ready
            app[SCHEDULER] = asyncio.create_task(DigestScheduler(services).run_forever(), name="digest-scheduler")
            background.append(app[SCHEDULER])

    async def stop(_: web.Application) -> None:
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        for adapter in reversed(adapters):
            await adapter.stop()
        await services.close()

    app.on_startup.append(start)
    app.on_cleanup.append(stop)
    return app
