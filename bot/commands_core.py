"""Core CLI commands: serve, demo, explain, db upgrade."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import signal
import sys
from collections.abc import Coroutine
from typing import Any

from aiohttp import web

from bot.app import build_adapters, create_app, warm_indexes, worker_config
from bot.demo import DEMO_TENANT, seed_demo
from bot.metrics import reset_multiprocess_dir
from bot.models import Platform, Rationale
from bot.pipeline import TurnPipeline
from bot.render import full_text
from bot.services import build_services
from bot.settings import Settings
from bot.supervisor import WorkerSupervisor
from bot.worker import Worker
from storage import Database, DatabaseNotUpgraded, DatabaseUnavailable, Storage

log = logging.getLogger("whybot")


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)


async def _serve(settings: Settings, *, demo: bool, database_arg: str | None) -> None:
    stop = asyncio.Event()
    _stop_on_signals(stop)
    processes = settings.worker_mode == "process" and settings.workers > 0
    if settings.metrics_dir:
        reset_multiprocess_dir(settings.metrics_dir)
    elif processes:
        log.info("/metrics counts this process only; set PROMETHEUS_MULTIPROC_DIR to an empty directory to add "
                 "the worker processes' replies and errors")
    services = await build_services(settings)
    if demo:
        seeded = await seed_demo(services.ingest, services.storage, clock=services.clock)
        log.info("demo workspace %s", "seeded" if seeded else "already present")
    app = create_app(services)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=settings.shutdown_grace_s)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port)
    await site.start()
    supervisor: WorkerSupervisor | None = None
    if processes:
        supervisor = WorkerSupervisor(settings.workers, grace_s=settings.shutdown_grace_s,
                                      args=["--database-url", database_arg] if database_arg else [])
        await supervisor.start()
    # Everything built so far (modules, models) lives as long as the process. Without this, each full
    # garbage collection walks those objects again and stops the event loop that acks.
    gc.collect()
    gc.freeze()
    answering = ("nobody here: run `whybot worker`" if not settings.workers else
                 "this process" if settings.worker_mode == "inline" else f"{settings.workers} worker process(es)")
    print(f"whybot is listening on http://{settings.host}:{settings.port}/  (playground at /, answers from "
          f"{answering}; Ctrl+C stops)", flush=True)
    try:
        await stop.wait()
        print(f"whybot is stopping: no new requests; answers in flight get {settings.shutdown_grace_s:.0f}s, "
              "the rest wait in the inbox for the next start", flush=True)
    finally:
        await runner.cleanup()  # stops listening, then the in-process worker and the scheduler
        if supervisor is not None:
            await supervisor.stop()


async def _work(settings: Settings) -> None:
    """`whybot worker`: answer turns from the inbox, no HTTP (scale-out, and the processes serve starts)."""
    if settings.worker_nice:
        os.nice(settings.worker_nice)  # acknowledging, in the server process, goes first on a shared host
    stop = asyncio.Event()
    _stop_on_signals(stop)
    services = await build_services(settings)
    try:
        build_adapters(services)
        warm = asyncio.create_task(warm_indexes(services))
        worker = Worker(services, TurnPipeline(services, services.surfaces), config=worker_config(services))
        await worker.run(stop)
        warm.cancel()
    finally:
        await services.close()


def _run(coro: Coroutine[Any, Any, None]) -> int:
    """Run a long-lived command; a database that cannot be reached is one clear line, not a traceback."""
    try:
        asyncio.run(coro)
    except DatabaseNotUpgraded as exc:
        log.error("%s", exc)
        return 2
    except DatabaseUnavailable as exc:
        print(f"whybot: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    settings = _settings(args)
    return _run(_serve(settings, demo=args.command == "demo", database_arg=getattr(args, "database_url", None)))


def cmd_worker(args: argparse.Namespace) -> int:
    settings = _settings(args)
    return _run(_work(settings))


def _settings(args: argparse.Namespace) -> Settings:
    settings = Settings()
    overrides = {k: v for k, v in {"host": getattr(args, "host", None), "port": getattr(args, "port", None),
                                   "database_url": getattr(args, "database_url", None)}.items() if v}
    return settings.model_copy(update=overrides)


async def _explain(settings: Settings, decision_id: str) -> int:
    storage = await Storage.open(settings.database_url)
    try:
        record = await storage.decisions.get(decision_id)
    finally:
        await storage.close()
    if record is None:
        print(f"no decision {decision_id}")
        return 1
    print(f"tenant {record.tenant_id}  channel {record.channel_external_id}  asked by {record.user_external_id}"
          f"{'  (private)' if record.private else ''}")
    print(full_text(Rationale.model_validate(record.rationale)))
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    return asyncio.run(_explain(_settings(args), args.decision_id))


async def _upgrade(url: str) -> None:
    db = Database(url)
    try:
        await db.upgrade()
        print(f"database at revision {await db.current_revision()}")
    finally:
        await db.dispose()


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    asyncio.run(_upgrade(_settings(args).database_url))
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    for name, help_text in (("serve", "run the server (Slack, Teams, playground)"),
                            ("demo", f"seed the demo workspace ({Platform.PLAYGROUND.value}:{DEMO_TENANT}) "
                                     "and serve the playground")):
        p = sub.add_parser(name, help=help_text)
        p.add_argument("--host", help="override WHYBOT_HOST")
        p.add_argument("--port", type=int, help="override WHYBOT_PORT")
        p.add_argument("--database-url", help="override WHYBOT_DATABASE_URL")
        p.set_defaults(handler=cmd_serve)
    p = sub.add_parser("worker", help="answer queued turns (no HTTP): scale-out, or alongside `serve`")
    p.add_argument("--database-url", help="override WHYBOT_DATABASE_URL")
    p.set_defaults(handler=cmd_worker)
    p = sub.add_parser("explain", help="print a decision's full rationale")
    p.add_argument("decision_id")
    p.add_argument("--database-url")
    p.set_defaults(handler=cmd_explain)
    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    up = db_sub.add_parser("upgrade", help="apply migrations up to the latest schema")
    up.add_argument("--database-url")
    up.set_defaults(handler=cmd_db_upgrade)
