"""`whybot synth` (write a labelled synthetic Slack export) and `whybot train router`."""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime
from pathlib import Path

from bot.synth.export import write_export
from bot.synth.generate import DEFAULT_NOW, SIZES, generate

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


def cmd_train_router(args: argparse.Namespace) -> int:
    from bot.classifier import accuracy, fit, train_router
    from bot.synth.utterances import training_utterances

    started = time.perf_counter()
    model = train_router(args.seed, args.n, args.threshold)
    held_out = training_utterances(args.eval_seed, 3000)
    print(f"trained {model.version} in {time.perf_counter() - started:.1f}s on {args.n} utterances (seed {args.seed})")
    print(f"held-out accuracy, seed {args.eval_seed}: {accuracy(model, held_out):.3f}")
    if args.folds:
        scores = []
        for k in range(args.folds):
            train = training_utterances(args.seed, args.n, (k, args.folds, False))
            test = training_utterances(args.eval_seed, 1000, (k, args.folds, True))
            fold = fit([t for t, _ in train], [s for _, s in train], version="fold")
            scores.append(accuracy(fold, test))
        print(f"held-out accuracy on unseen sentence frames ({args.folds}-fold): {sum(scores) / len(scores):.3f} "
              f"({', '.join(f'{s:.2f}' for s in scores)})")
    size = model.save(args.out)
    print(f"wrote {args.out} ({size / 1024:.0f} KiB)")
    return 0


def _iso(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _group(sub: SubParsers, name: str, help_text: str) -> SubParsers:
    """The sub-command group `name`, reused if another module registered it first (e.g. `train`)."""
    parser = sub.choices.get(name) or sub.add_parser(name, help=help_text)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return parser.add_subparsers(dest=f"{name}_command", required=True)


ROUTER_WEIGHTS = Path(__file__).resolve().parents[1] / "backends" / "weights" / "router.json"


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

    train = _group(sub, "train", "fit models")
    t = train.add_parser("router", help="fit the router intent classifier on synthetic utterances")
    t.add_argument("--seed", type=int, default=0, help="seed of the training utterances")
    t.add_argument("--n", type=int, default=8000, help="how many training utterances")
    t.add_argument("--eval-seed", type=int, default=1, help="seed of the held-out utterances")
    t.add_argument("--threshold", type=float, default=0.5, help="probability below which the router is unsure")
    t.add_argument("--folds", type=int, default=5, help="also report accuracy on unseen sentence frames (0: skip)")
    t.add_argument("--out", type=Path, default=ROUTER_WEIGHTS, help="where to write the model")
    t.set_defaults(handler=cmd_train_router)
