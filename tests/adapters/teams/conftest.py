"""The Teams adapter on the real aiohttp server, talking to a loopback Bot Framework connector."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp.test_utils import TestClient, TestServer

from adapters.teams import create_adapter
from bot.app import create_app
from bot.services import Services, build_services
from storage import NewMessage, Storage, tenant_key
from tests.conftest import make_settings
from tests.peers.bot_framework import TEAM_CHANNEL, TENANT, FakeConnector

TEAMS_TENANT = tenant_key("teams", TENANT)

HISTORY = [
    ("29:bob", "The release freeze starts Friday at 17:00 UTC; only hotfixes after that."),
    ("29:carol", "Billing service is owned by the payments team, ask Dana for access."),
    ("29:bob", "Lunch order is pizza again."),
]


@pytest.fixture
async def connector() -> AsyncIterator[FakeConnector]:
    peer = await FakeConnector().start()
    yield peer
    await peer.close()


async def seed(services: Services) -> None:
    """A team channel with a little history to answer from."""
    tenant_id = await services.ingest.tenant("teams", TENANT)
    await services.storage.workspace.upsert_channel(tenant_id, TEAM_CHANNEL, name="General")
    start = datetime.now(UTC) - timedelta(hours=3)
    for n, (user, text) in enumerate(HISTORY):
        await services.ingest.message(tenant_id, NewMessage(TEAM_CHANNEL, f"hist-{n}", text,
                                                            start + timedelta(minutes=n), user))


async def serve(services: Services) -> TestClient:
    client = TestClient(TestServer(create_app(services, factories={"teams": create_adapter}), host="127.0.0.1"))
    await client.start_server()
    return client


@pytest.fixture
async def teams(services: Services) -> AsyncIterator[TestClient]:
    """The server in emulator mode (no app id): replies go to the activity's serviceUrl."""
    await seed(services)
    client = await serve(services)
    yield client
    await client.close()


@pytest.fixture
async def secured(sqlite_storage: Storage, sqlite_url: str) -> AsyncIterator[TestClient]:
    """The server with an Azure Bot registration configured: every request needs a valid token."""
    settings = make_settings(sqlite_url, MICROSOFT_APP_ID="00000000-0000-0000-0000-00000000b07",
                             MICROSOFT_APP_PASSWORD="not-a-real-secret")
    services = await build_services(settings, storage=sqlite_storage)
    client = await serve(services)
    yield client
    await client.close()
