"""`whybot manifest slack|teams`: print the Slack app manifest, or print / zip the Teams app package."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

from bot.manifests import ManifestError, slack_manifest, teams_manifest, teams_zip


def cmd_slack(args: argparse.Namespace) -> int:
    try:
        manifest = slack_manifest(args.url, socket_mode=args.socket_mode, name=args.name,
                                  assistant_view=args.assistant_view)
    except ManifestError as exc:
        return _fail(exc)
    if args.json:
        print(json.dumps(manifest, indent=2, ensure_ascii=False))
    else:
        print(yaml.safe_dump(manifest, sort_keys=False, allow_unicode=True), end="")
    return 0


def cmd_teams(args: argparse.Namespace) -> int:
    try:
        manifest = teams_manifest(args.app_id, url=args.url, name=args.name)
    except ManifestError as exc:
        return _fail(exc)
    if args.zip is None:
        print(json.dumps(manifest, indent=2, ensure_ascii=False))
        return 0
    out: Path = args.zip
    try:
        out.write_bytes(teams_zip(manifest))
    except OSError as exc:
        return _fail(f"cannot write {out}: {exc.strerror or exc}")
    print(f"wrote {out} (Teams app {manifest['id']}, manifest {manifest['manifestVersion']}); "
          "upload it in Teams: Apps > Manage your apps > Upload an app")
    return 0


def _fail(error: object) -> int:
    print(f"whybot manifest: error: {error}", file=sys.stderr)
    return 2


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    manifest = sub.add_parser("manifest", help="print the Slack app manifest or build the Teams app package")
    kinds = manifest.add_subparsers(dest="manifest_kind", required=True, metavar="PLATFORM")

    slack = kinds.add_parser("slack", help="print the Slack app manifest (paste it when creating the app)")
    slack.add_argument("--url", help="public https base URL whybot is served at, e.g. https://whybot.example.com")
    slack.add_argument("--socket-mode", action="store_true",
                       help="enable Socket Mode and drop the request URLs (--url then only sets the OAuth redirect)")
    slack.add_argument("--name", help="app and bot display name (default whybot)")
    slack.add_argument("--assistant-view", action="store_true",
                       help="the older side-panel assistant view instead of the agent view (for apps not yet moved)")
    slack.add_argument("--json", action="store_true", help="print JSON instead of YAML")
    slack.set_defaults(handler=cmd_slack)

    teams = kinds.add_parser("teams", help="print the Teams manifest or write the sideloadable app package")
    teams.add_argument("--app-id", required=True, help="the bot's Microsoft app id (MICROSOFT_APP_ID), a GUID")
    teams.add_argument("--zip", type=Path, metavar="OUT.zip", help="write the app package here instead of printing")
    teams.add_argument("--url", help="public https base URL, added to validDomains")
    teams.add_argument("--name", help="app name shown in Teams (default whybot)")
    teams.set_defaults(handler=cmd_teams)
