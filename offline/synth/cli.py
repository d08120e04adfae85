"""`whybot synth` (write a labelled synthetic Slack export) and `whybot train router`."""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime
from pathlib import Path

from offline.synth.export import write_export
from offline.synth.generate import DEFAULT_NOW, SIZES, generate

SubParsers = argparse._SubParsersAction


def cmd_synth(args: argparse.Namespace) -> int:
    out: Path = args.out
    if out.exists() and any(out.iterdir()) and not args.force:
        print(f"{out} is not empty; pass --force to write into it anyway")
        return 2
    started = time.perf_counter()
    ws = generate(args.seed, args.size, now=args.now)
    generated = time.perf_counter()
    counts = write_export(ws, out)
    done = time.perf_counter()
    print(f"wrote {args.size} workspace (seed {args.seed}) to {out}: " + ", ".join(f"{v} {k}" for k, v in
                                                                                   counts.items()))
    print(f"generated in {generated - started:.2f}s, written in {done - generated:.2f}s; labels in "
          f"{out / 'labels.json'}")
    return 0


def _iso(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def register(sub: SubParsers) -> None:
    p = sub.add_parser("synth", help="write a labelled synthetic workspace as a Slack export folder")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--size", choices=list(SIZES), default="small",
                   help="small ~1.5k, medium ~20k, large ~200k messages")
    p.add_argument("--out", type=Path, required=True, help="export folder to create")
    p.add_argument("--now", type=_iso, default=DEFAULT_NOW,
                   help=f"the workspace's clock (ISO 8601, default {DEFAULT_NOW.isoformat()}); "
                        "the densest day ends here")
    p.add_argument("--force", action="store_true", help="write into a non-empty folder")
    p.set_defaults(handler=cmd_synth)
