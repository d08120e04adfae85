"""`whybot` command line. Each command group lives in its own module with a `register(subparsers)`;
this file only lists them, so adding a command is one line here."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from bot.commands_core import register as register_core
from bot.commands_digest import register as register_digest
from bot.commands_import import register as register_import
from bot.evaluation.cli import register as register_eval
from bot.manifest_cli import register as register_manifest
from bot.synth.cli import register as register_synth

Registrar = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]

# digest before synth: both add a `train` subcommand group, and synth's registrar reuses the existing one.
REGISTRARS: list[Registrar] = [register_core, register_manifest, register_import, register_digest, register_synth,
                             register_eval]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="whybot", description="An explainable assistant for Slack and Teams.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for register in REGISTRARS:
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
