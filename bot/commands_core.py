"""Core CLI commands: serve, demo, explain, db upgrade."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging

from aiohttp import web

from bot.app import create_app
from bot.demo import DEMO_TENANT, seed_demo
from bot.models import Platform, Rationale
from bot.render import full_text
from bot.services import build_services
from bot.settings import Settings
from storage import Database, DatabaseNotUpgraded, Storage

log = logging.getLogger("whybot")


async def _serve(settings: Settings, *, demo: bool) -> None:
    services = await build_services(settings)
    if demo:
        seeded = await seed_demo(services.ingest, services.storage, clock=services.clock)
        log.info("demo workspace %s", "seeded" if seeded else "already present")
    app = create_app(services)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port)
    await site.start()
    # Everything built so far (modules, models, indexes) lives as long as the process. Without this,
    # each full garbage collection walks those ~150k+ objects again and stops the event loop for
    # 100-200 ms, which under load is the ack latency Slack sees (p99); frozen, they are skipped.
    gc.collect()
    gc.freeze()
    print(f"whybot is listening on http://{settings.host}:{settings.port}/  (playground at /, Ctrl+C stops)",
          flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def cmd_serve(args: argparse.Namespace) -> int:
    settings = _settings(args)
    try:
        asyncio.run(_serve(settings, demo=args.command == "demo"))
    except DatabaseNotUpgraded as exc:
        log.error("%s", exc)
        return 2
    return 0


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
    p = sub.add_parser("explain", help="print a decision's full rationale")
    p.add_argument("decision_id")
    p.add_argument("--database-url")
    p.set_defaults(handler=cmd_explain)
    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    up = db_sub.add_parser("upgrade", help="apply migrations up to the latest schema")
    up.add_argument("--database-url")
    up.set_defaults(handler=cmd_db_upgrade)
