from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.peers.fake_openai import FakeOpenAI
from tests.peers.slack import FakeSlack
from tests.processes.harness import ANSWER, Cluster, populate


async def _cluster(tmp_path: Path, url: str) -> AsyncIterator[Cluster]:
    slack = FakeSlack()
    populate(slack)
    await slack.start()
    openai = FakeOpenAI(ANSWER)
    await openai.start()
    cluster = Cluster(tmp_path, url, slack, openai)
    try:
        yield cluster
    finally:
        await cluster.close()
        await openai.stop()
        await slack.close()


@pytest.fixture
async def cluster(tmp_path: Path, sqlite_url: str) -> AsyncIterator[Cluster]:
    async for c in _cluster(tmp_path, sqlite_url):
        yield c


@pytest.fixture
async def pg_cluster(tmp_path: Path, postgres_url: str) -> AsyncIterator[Cluster]:
    async for c in _cluster(tmp_path, postgres_url):
        yield c
