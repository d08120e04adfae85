"""A database outage right after Teams accepted a reply. The connector has no history to ask, so the
record of the post is the only thing between a retry and a second copy: it is retried until it sticks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.engine import make_url

from bot.services import Services, build_services
from storage import Storage
from tests.adapters.teams.conftest import seed, serve
from tests.adapters.teams.test_adapter import post
from tests.conftest import make_settings, settled
from tests.peers.bot_framework import Call, FakeConnector
from tests.peers.tcp_proxy import TcpProxy

pytestmark = pytest.mark.postgres


@pytest.fixture
async def proxy(postgres_url: str) -> AsyncIterator[TcpProxy]:
    peer = await TcpProxy(make_url(postgres_url).port or 5432).start()
    yield peer
    await peer.cut()


async def test_a_reply_sent_during_an_outage_is_recorded_after_it_and_never_sent_twice(
        postgres_url: str, proxy: TcpProxy, connector: FakeConnector) -> None:
    url = make_url(postgres_url).set(port=proxy.port).render_as_string(hide_password=False)
    storage = await Storage.open(url, auto_upgrade=True)
    services: Services = await build_services(make_settings(url, WHYBOT_TURN_LEASE="20"), storage=storage)
    await seed(services)
    client = await serve(services)
    outage: list[asyncio.Task[None]] = []

    async def cut_after_accepting(call: Call) -> None:
        if not outage:
            await proxy.cut()

            async def restore_later() -> None:
                await asyncio.sleep(3.0)
                await proxy.restore()

            outage.append(asyncio.create_task(restore_later()))

    connector.before_created = cut_after_accepting
    try:
        status, _ = await post(client, connector.channel_mention("when does the release freeze start?"))
        assert status == 201
        (answer,) = await connector.wait_for(1)
        assert answer.card is not None
        await outage[0]
        await settled(services, within=30.0)
        await asyncio.sleep(1.0)
        assert len([c for c in connector.calls if c.method == "POST"]) == 1
        stats = await services.storage.inbox.stats(services.clock())
        assert stats.pending == 0, stats
    finally:
        await client.close()
        await storage.close()
