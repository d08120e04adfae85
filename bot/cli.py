"""`whybot` command line. Command groups register themselves through the `whybot.commands` entry-point
group (pyproject.toml), so the runtime never imports the offline tooling's commands by name and a new
group is one line there."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import entry_points

ENTRY_POINT_GROUP = "whybot.commands"
# Help lists groups in this order; unknown groups (plugins) follow alphabetically.
ORDER = ("core", "manifest", "import", "digest", "search", "stats", "synth", "eval", "train")

Registrar = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]


def registrars() -> list[Registrar]:
    found = sorted(entry_points(group=ENTRY_POINT_GROUP),
                   key=lambda ep: (ORDER.index(ep.name) if ep.name in ORDER else len(ORDER), ep.name))
    return [ep.load() for ep in found]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="whybot", description="An explainable assistant for Slack and Teams.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for register in registrars():
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
