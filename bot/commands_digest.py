"""Digest CLI: `whybot digest run [--once]` (the scheduler without the server, for cron or a Kubernetes
CronJob) and `whybot train digest [--with-feedback]` (fit the ranking weights)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import statistics
from collections.abc import Callable, Sequence
from pathlib import Path

from bot.app import discover_adapters
from bot.backends.importance import DEFAULT_WEIGHTS, ImportanceScorer
from bot.backends.importance_data import LabelledThread, labelled_windows
from bot.backends.importance_synth import synth_windows
from bot.backends.importance_train import (
    by_model,
    by_recency,
    mean_ndcg_at,
    precision_at,
    refit_channels,
    seed_span,
    train_synthetic,
    train_workspaces,
)
from bot.scheduler import DigestScheduler, RunOutcome
from bot.services import Services, build_services
from bot.settings import Settings
from bot.synth.generate import SIZES
from storage import DatabaseNotUpgraded, Storage

log = logging.getLogger("whybot")

# Workspace seeds of the shipped digest model; `whybot eval` scores seed 7, which is in neither.
TRAIN_SEEDS = "11-18"
HELD_OUT_SEEDS = "101-104"


def _settings(args: argparse.Namespace) -> Settings:
    settings = Settings()
    return settings.model_copy(update={"database_url": args.database_url}) if args.database_url else settings


def attach_deliveries(services: Services) -> list[str]:
    """Register every configured adapter's Delivery without serving or starting it (no Socket Mode,
    no routes): a scheduler process only posts."""
    names = []
    for name, factory in discover_adapters().items():
        adapter = factory(services)
        if adapter is not None and adapter.delivery is not None:
            services.deliveries[adapter.delivery.platform] = adapter.delivery
            names.append(name)
    return names


def _print(outcomes: list[RunOutcome]) -> None:
    for o in outcomes:
        print(f"run {o.run_id} subscription {o.subscription_id} slot {o.scheduled_for:%Y-%m-%d %H:%M} UTC: "
              f"{o.status}{' (late)' if o.late else ''}: {o.note}")


async def _run(settings: Settings, once: bool) -> int:
    services = await build_services(settings)
    try:
        names = attach_deliveries(services)
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


async def _refit(settings: Settings, weights: Path, prior: float, min_votes: int) -> int:
    storage = await Storage.open(settings.database_url)
    try:
        fits = await refit_channels(storage, ImportanceScorer.load(weights), prior=prior, min_votes=min_votes)
    finally:
        await storage.close()
    for fit in fits:
        print(f"{fit.tenant_id} {fit.channel_external_id}: {'saved' if fit.saved else 'skipped'}: {fit.note}")
    if not fits:
        print("no helpful / not helpful votes on digest items yet")
    return 0


def _seeds(value: str) -> list[int]:
    """"11-18" or "3,5,9" (or both: "1-4,9")."""
    seeds: list[int] = []
    for part in value.split(","):
        first, _, last = part.strip().partition("-")
        seeds += range(int(first), int(last or first) + 1)
    if not seeds:
        raise argparse.ArgumentTypeError("no seeds")
    return seeds


def cmd_train_digest(args: argparse.Namespace) -> int:
    if args.with_feedback:
        return asyncio.run(_refit(_settings(args), args.weights, args.prior, args.min_votes))
    if args.source == "builtin":
        scorer = train_synthetic(seed=args.seed, windows=args.windows)
        held_out = labelled_windows(args.seed + 1000, 30)
        print(f"trained on {args.windows} windows of the built-in generator (seed {args.seed}); "
              f"held out: {len(held_out)} windows (seed {args.seed + 1000})")
    else:
        if set(args.seeds) & set(args.held_out):
            log.error("training and held-out seeds overlap: %s", sorted(set(args.seeds) & set(args.held_out)))
            return 2
        scorer, windows = train_workspaces(args.seeds, args.size, args.days, args.c)
        held_out = synth_windows(args.held_out, args.size, args.days)
        print(f"trained on {windows} windows of synthetic workspaces (size {args.size}, seeds "
              f"{seed_span(args.seeds)}); held out: {len(held_out)} windows (seeds {seed_span(args.held_out)})")
    baseline = ImportanceScorer.load(args.weights)
    orders: list[tuple[str, Callable[[Sequence[LabelledThread]], list[LabelledThread]]]] = [
        ("trained", lambda w: by_model(w, scorer)), ("current", lambda w: by_model(w, baseline)),
        ("recency", by_recency)]
    for name, ranked in orders:
        print(f"held-out nDCG@5       {name:>8}: {mean_ndcg_at(held_out, ranked):.3f}")
    for name, ranked in orders:
        p5 = statistics.mean(precision_at(ranked(w), 5) for w in held_out)
        print(f"held-out precision@5 {name:>8}: {p5:.3f}")
    scorer.save(args.out)
    print(f"wrote {scorer.version} to {args.out}: {scorer.trained_on}")
    print(f"(current = {baseline.version} from {args.weights})")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    digest = sub.add_parser("digest", help="scheduled digests")
    digest_sub = digest.add_subparsers(dest="digest_command", required=True)
    run = digest_sub.add_parser("run", help="run the digest scheduler (also runs inside `whybot serve`)")
    run.add_argument("--once", action="store_true", help="run what is due now and exit (for cron / CronJob)")
    run.add_argument("--database-url", help="override WHYBOT_DATABASE_URL")
    run.set_defaults(handler=cmd_digest_run)

    train = sub.add_parser("train", help="fit ranking models")
    train_sub = train.add_subparsers(dest="train_command", required=True)
    t = train_sub.add_parser("digest", help="fit the digest importance weights (logistic regression)")
    t.add_argument("--with-feedback", action="store_true",
                   help="refit per-channel weights from helpful / not helpful votes, blended with the global model")
    t.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS, help="the global weights to compare or blend with")
    t.add_argument("--out", type=Path, default=DEFAULT_WEIGHTS, help="where to write the fitted global weights")
    t.add_argument("--source", choices=["synth", "builtin"], default="synth",
                   help="synth: synthetic Slack-export workspaces (bot/synth) imported and windowed as the digest "
                        "reads them; builtin: the quick in-memory generator")
    t.add_argument("--seeds", type=_seeds, default=_seeds(TRAIN_SEEDS), help=f"training workspace seeds "
                                                                             f"(default {TRAIN_SEEDS})")
    t.add_argument("--held-out", type=_seeds, default=_seeds(HELD_OUT_SEEDS),
                   help=f"held-out workspace seeds (default {HELD_OUT_SEEDS})")
    t.add_argument("--size", choices=list(SIZES), default="small", help="size of the synthetic workspaces")
    t.add_argument("--days", type=int, default=14, help="days of 24 h channel windows per workspace")
    t.add_argument("--c", type=float, default=1.0, help="inverse regularization strength of the regression")
    t.add_argument("--seed", type=int, default=1, help="builtin source: seed of the labelled training windows")
    t.add_argument("--windows", type=int, default=40, help="builtin source: how many labelled windows")
    t.add_argument("--prior", type=float, default=20.0, help="how many votes the global model counts as")
    t.add_argument("--min-votes", type=int, default=4, help="votes a channel needs before it gets its own weights")
    t.add_argument("--database-url", help="override WHYBOT_DATABASE_URL")
    t.set_defaults(handler=cmd_train_digest)
