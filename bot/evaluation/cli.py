"""`whybot eval [--workspace DIR]`: score a labelled workspace and fail below the checked-in thresholds."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import platform
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bot.backends.llm.openai_compat import OpenAIGenerator
from bot.evaluation import report as rep
from bot.evaluation.runner import EvalOptions, evaluate
from bot.settings import Settings
from bot.synth.export import write_export
from bot.synth.generate import SIZES, generate

log = logging.getLogger("whybot")

DEFAULT_SEED = 7  # the CI workspace; the router and digest models are trained on other seeds
DEFAULT_OUT = Path("artifacts") / "eval"


def _machine() -> str:
    return f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"


async def _run(args: argparse.Namespace, scratch: Path) -> int:
    workspace: Path | None = args.workspace
    if workspace is None:
        workspace = scratch / f"synth-{args.size}-{args.seed}"
        write_export(generate(args.seed, args.size), workspace)
    settings = Settings().model_copy(update={"database_url": f"sqlite+aiosqlite:///{scratch / 'eval.db'}"})
    use_llm = settings.llm_configured if args.llm is None else args.llm
    if use_llm and not settings.llm_configured:
        log.error("--llm needs OPENAI_API_KEY or OPENAI_BASE_URL")
        return 2
    options = EvalOptions(digest_days=args.digest_days, llm_limit=args.llm_limit,
                          llm=OpenAIGenerator.from_settings(settings) if use_llm else None)
    started = time.perf_counter()
    report = await evaluate(workspace, settings, options)
    report["run"] = {"at": datetime.now(UTC).isoformat(timespec="seconds"), "machine": _machine(),
                     "seconds": round(time.perf_counter() - started, 1),
                     "command": "whybot eval" + (f" --workspace {args.workspace}" if args.workspace else
                                                 f" --seed {args.seed} --size {args.size}"),
                     "llm": settings.llm_model if use_llm else None}
    checks = [] if args.no_check else rep.check(report["metrics"], rep.load_thresholds(args.thresholds))
    print(rep.table(report, checks))
    json_path, md_path = rep.write(report, checks, args.out)
    failed = [c for c in checks if not c.ok]
    print(f"\nwrote {json_path} and {md_path} in {report['run']['seconds']} s")
    if failed:
        print(f"{len(failed)} metric(s) below thresholds ({args.thresholds}):")
        print("\n".join(c.line() for c in failed))
        return 1
    if checks:
        print(f"all {len(checks)} thresholds met ({args.thresholds})")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    if args.workspace is not None and not (args.workspace / "labels.json").is_file():
        log.error("%s has no labels.json: evaluate a folder written by `whybot synth`", args.workspace)
        return 2
    with tempfile.TemporaryDirectory(prefix="whybot-eval-") as scratch:
        return asyncio.run(_run(args, Path(scratch)))


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("eval", help="measure routing, answers, privacy, digest ranking and latency on a "
                                    "labelled synthetic workspace")
    p.add_argument("--workspace", type=Path,
                   help="a folder written by `whybot synth` (with labels.json); default: generate one")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help="seed of the generated workspace")
    p.add_argument("--size", choices=list(SIZES), default="small", help="size of the generated workspace")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for eval.json and eval.md")
    p.add_argument("--thresholds", type=Path, default=rep.DEFAULT_THRESHOLDS, help="TOML file of [min] and [max]")
    p.add_argument("--no-check", action="store_true", help="report only; never fail on thresholds")
    p.add_argument("--digest-days", type=int, default=7, help="days of 24 h digest windows to score")
    llm = p.add_mutually_exclusive_group()
    llm.add_argument("--llm", dest="llm", action="store_true", default=None,
                     help="also score ask with the LLM (default: when OPENAI_API_KEY/OPENAI_BASE_URL is set)")
    llm.add_argument("--no-llm", dest="llm", action="store_false", help="skip the LLM column")
    p.add_argument("--llm-limit", type=int, help="score the LLM on the first N questions of each kind only")
    p.set_defaults(handler=cmd_eval)
