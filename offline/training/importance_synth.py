"""Labelled digest windows from synthetic Slack-export workspaces (`offline.synth`), for training and
judging the importance model on exactly what the digest sees.

Each workspace is generated from a seed, written as an export, imported through the real importer
into a scratch SQLite database, and cut into the digest's own 24 h windows per channel (the day
ending at the workspace clock, and the days before). Every thread in a window carries its labelled
importance (0 noise .. 3 must-read); "important" means 2 or more.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from bot.backends.importance import group_threads
from bot.backends.retrieval.bm25 import BM25Retriever
from bot.importers.slack_export import SlackExportImporter
from bot.ingest import Ingestor
from offline.evaluation.labels import Labels
from offline.synth.export import write_export
from offline.synth.generate import generate
from offline.training.importance_data import LabelledThread
from storage import Storage

IMPORTANT = 2
WINDOW_HOURS = 24.0


async def export_windows(path: Path, database_url: str, *, days: int) -> list[list[LabelledThread]]:
    """The labelled 24 h channel windows of one written workspace (empty windows left out)."""
    labels = Labels.load(path)
    storage = await Storage.open(database_url, auto_upgrade=True)
    try:
        report = await SlackExportImporter(Ingestor(storage, BM25Retriever(storage))).run(path)
        channels = sorted(c.external_id for c in await storage.workspace.channels(report.tenant_id))
        windows: list[list[LabelledThread]] = []
        for day in range(days):
            end = labels.now - timedelta(days=day)
            start = end - timedelta(hours=WINDOW_HOURS)
            for channel in channels:
                messages = await storage.messages.window(report.tenant_id, [channel], start, end)
                window = []
                for view in group_threads(messages):
                    label = labels.thread_by_id.get(f"{channel}:{view.root_external_id}")
                    grade = label.importance if label else 0  # e.g. replies under a deleted root
                    window.append(LabelledThread(view, grade >= IMPORTANT, label.kind if label else "unlabelled",
                                                 end, WINDOW_HOURS, grade))
                if window:
                    windows.append(window)
        return windows
    finally:
        await storage.close()


def synth_windows(seeds: Sequence[int], size: str = "small", days: int = 14) -> list[list[LabelledThread]]:
    """Generate, import and window one workspace per seed."""
    windows: list[list[LabelledThread]] = []
    with tempfile.TemporaryDirectory(prefix="whybot-digest-") as scratch:
        for seed in seeds:
            folder = Path(scratch) / f"synth-{size}-{seed}"
            write_export(generate(seed, size), folder)
            url = f"sqlite+aiosqlite:///{Path(scratch) / f'{seed}.db'}"
            windows += asyncio.run(export_windows(folder, url, days=days))
    return windows
