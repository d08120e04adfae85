"""`whybot import slack-export PATH` and `whybot import docs PATH`."""

from __future__ import annotations

import argparse
import asyncio
import logging
from pathlib import Path

from bot.backends.retrieval.bm25 import BM25Retriever
from bot.importers.archive import DEFAULT_MAX_FILE_MB, DEFAULT_MAX_TOTAL_MB, MB, ExportError, ReadLimits
from bot.importers.docs import import_docs
from bot.importers.progress import progress_bar
from bot.importers.slack_export import PLATFORM, SlackExportImporter
from bot.ingest import Ingestor
from bot.settings import Settings
from storage import DatabaseNotUpgraded, Storage, tenant_key

log = logging.getLogger("whybot")


def _settings(args: argparse.Namespace) -> Settings:
    settings = Settings()
    return settings.model_copy(update={"database_url": args.database_url}) if args.database_url else settings


async def _slack_export(args: argparse.Namespace) -> int:
    storage = await Storage.open(_settings(args).database_url)
    try:
        limits = ReadLimits(max_file_bytes=args.max_file_mb * MB, max_total_bytes=args.max_total_mb * MB)
        importer = SlackExportImporter(Ingestor(storage, BM25Retriever(storage)), progress=progress_bar("messages"),
                                       limits=limits)
        report = await importer.run(Path(args.path), workspace_id=args.workspace_id, domain=args.domain,
                                    name=args.name)
    finally:
        await storage.close()
    print("\n".join(report.lines()))
    return 0


async def _docs(args: argparse.Namespace) -> int:
    storage = await Storage.open(_settings(args).database_url)
    try:
        ingest = Ingestor(storage, BM25Retriever(storage))
        tenant_id = await ingest.tenant(args.platform, args.workspace_id)
        report = await import_docs(ingest, tenant_id, Path(args.path), url_prefix=args.url_prefix,
                                   channel=args.channel, progress=progress_bar("documents"))
    finally:
        await storage.close()
    print("\n".join(report.lines()))
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    path = Path(args.path)
    if not path.exists():
        log.error("%s does not exist", path)
        return 2
    try:
        return asyncio.run(_slack_export(args) if args.import_command == "slack-export" else _docs(args))
    except (ExportError, DatabaseNotUpgraded) as exc:
        log.error("%s", exc)
        return 2


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    imp = sub.add_parser("import", help="load existing history: a Slack export or a folder of documents")
    imp_sub = imp.add_subparsers(dest="import_command", required=True, metavar="SOURCE")
    slack = imp_sub.add_parser("slack-export", help="a Slack workspace export (zip or unpacked folder)")
    slack.add_argument("path", help="the export zip or folder")
    slack.add_argument("--workspace-id", help="Slack team id T…; default: the team_id in users.json")
    slack.add_argument("--domain", help="workspace domain (acme or acme.slack.com), to build permalinks")
    slack.add_argument("--name", help="workspace name to store; default: the domain or file name")
    slack.add_argument("--max-file-mb", type=int, default=DEFAULT_MAX_FILE_MB,
                       help="refuse an export file that unpacks to more than this (default %(default)s)")
    slack.add_argument("--max-total-mb", type=int, default=DEFAULT_MAX_TOTAL_MB,
                       help="refuse an export that unpacks to more than this in all (default %(default)s)")
    slack.add_argument("--database-url", help="override WHYBOT_DATABASE_URL")
    slack.set_defaults(handler=cmd_import)
    docs = imp_sub.add_parser("docs", help="a folder of Markdown/text documents")
    docs.add_argument("path", help="folder (or one file) of .md, .markdown, .txt, .rst files")
    docs.add_argument("--workspace-id", required=True, help="the workspace (Slack team id, Teams tenant id, …)")
    docs.add_argument("--platform", default=PLATFORM, choices=["slack", "teams", "playground"],
                      help=f"platform of the workspace (default {PLATFORM}); the tenant is "
                           f"{tenant_key('PLATFORM', 'WORKSPACE_ID')}")
    docs.add_argument("--channel", help="tie the documents to this channel id (visible only where it is)")
    docs.add_argument("--url-prefix", help="link documents as URL_PREFIX/relative/path")
    docs.add_argument("--database-url", help="override WHYBOT_DATABASE_URL")
    docs.set_defaults(handler=cmd_import)
