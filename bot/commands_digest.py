"""Digest CLI: `whybot digest run [--once]`, the scheduler without the server, for cron or a Kubernetes
CronJob. (Fitting the ranking weights is offline tooling: `whybot train digest`, offline/training/cli.py.)"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal

from bot.app import discover_adapters
from bot.scheduler import DigestScheduler, RunOutcome
from bot.services import Services, build_services
from bot.settings import Settings
from storage import DatabaseNotUpgraded

log = logging.getLogger("whybot")

def _settings(args: argparse.Namespace) -> Settings:
    settings = Settings()
    return settings.model_copy(update={"database_url": args.database_url}) if args.database_url else settings


def attach_surfaces(services: Services) -> list[str]:
    """Register every configured adapter's surface without serving or starting it (no Socket Mode,
    no routes): a scheduler process only posts."""
    names = []
    for name, factory in discover_adapters().items():
        adapter = factory(services)
        if adapter is not None:
            services.surfaces[adapter.surface.platform] = adapter.surface
            names.append(name)
    return names


def _print(outcomes: list[RunOutcome]) -> None:
    for o in outcomes:
        print(f"run {o.run_id} subscription {o.subscription_id} slot {o.scheduled_for:%Y-%m-%d %H:%M} UTC: "
              f"{o.status}{' (late)' if o.late else ''}: {o.note}")


async def _run(settings: Settings, once: bool) -> int:
    services = await build_services(settings)
    try:
        names = attach_surfaces(services)
        log.info("digest scheduler delivering through: %s", ", ".join(names) or "nothing configured")
        scheduler = DigestScheduler(services)
        if once:
            outcomes = await scheduler.tick()
            _print(outcomes)
            if not outcomes:
                print("no digest was due")
            return 1 if any(o.status == "failed" for o in outcomes) else 0
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await scheduler.run_forever(stop)
        return 0
    finally:
        await services.close()


def cmd_digest_run(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_run(_settings(args), args.once))
    except DatabaseNotUpgraded as exc:
        log.error("%s", exc)
        return 2


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    digest = sub.add_parser("digest", help="scheduled digests")
    digest_sub = digest.add_subparsers(dest="digest_command", required=True)
    run = digest_sub.add_parser("run", help="run the digest scheduler (also runs inside `whybot serve`)")
    run.add_argument("--once", action="store_true", help="run what is due now and exit (for cron / CronJob)")
    run.add_argument("--database-url", help="override WHYBOT_DATABASE_URL")
    run.set_defaults(handler=cmd_digest_run)
