"""Shared fixtures: a fresh database per test on SQLite and, where reachable, PostgreSQL.

PostgreSQL: `WHYBOT_TEST_POSTGRES_URL` (default the local server, postgresql+asyncpg://postgres@127.0.0.1:5432/test).
Each test gets its own database cloned from a migrated template, so tests never see each other's rows.
Without a server the PostgreSQL variants skip and say why; with `WHYBOT_REQUIRE_POSTGRES=1` (set by .ci/run)
an unreachable server is an error instead, so CI can't go green by skipping.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import asyncpg
import pytest
from aiohttp import web
from sqlalchemy.engine import make_url

from bot.services import Services, build_services
from bot.settings import Settings
from storage import Database, Storage

DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
PG_URL = os.environ.get("WHYBOT_TEST_POSTGRES_URL", DEFAULT_PG)
REQUIRE_PG = os.environ.get("WHYBOT_REQUIRE_POSTGRES") == "1"
TEMPLATE = f"whybot_tmpl_{os.getpid()}"


def _dsn(url: str, database: str | None = None) -> str:
    parsed = make_url(url).set(drivername="postgresql")
    if database:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(_dsn(PG_URL), timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _make_template() -> None:
    await _admin(f'DROP DATABASE IF EXISTS "{TEMPLATE}"')
    await _admin(f'CREATE DATABASE "{TEMPLATE}"')
    db = Database(str(make_url(PG_URL).set(database=TEMPLATE)))
    try:
        await db.upgrade()
    finally:
        await db.dispose()


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    """A migrated template database, made once per test session."""
    try:
        asyncio.run(_make_template())
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        message = f"PostgreSQL at {make_url(PG_URL).render_as_string()} is unreachable ({exc!r}); " \
                  "set WHYBOT_TEST_POSTGRES_URL to run the PostgreSQL variants"
        if REQUIRE_PG:
            pytest.fail(message)
        pytest.skip(message)
    yield TEMPLATE
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{TEMPLATE}"'))


@pytest.fixture
def postgres_url(request: pytest.FixtureRequest) -> Iterator[str]:
    template = request.getfixturevalue("postgres_template")
    name = f"whybot_t_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    yield str(make_url(PG_URL).set(database=name).render_as_string(hide_password=False))
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'whybot.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    """Run the test once per supported database."""
    return str(request.getfixturevalue(f"{request.param}_url"))


@pytest.fixture
async def storage(db_url: str) -> AsyncIterator[Storage]:
    store = await Storage.open(db_url, auto_upgrade=True)
    yield store
    await store.close()


@pytest.fixture
async def sqlite_storage(sqlite_url: str) -> AsyncIterator[Storage]:
    store = await Storage.open(sqlite_url, auto_upgrade=True)
    yield store
    await store.close()


def make_settings(database_url: str, **overrides: object) -> Settings:
    """Settings that ignore the developer's environment and .env file. Turns are answered by a worker on
    the test's own loop (WHYBOT_WORKER_MODE=inline); tests about worker processes start real ones."""
    values: dict[str, object] = {"WHYBOT_DATABASE_URL": database_url, "WHYBOT_WORKER_MODE": "inline",
                                 # a loaded 2-core CI box can stall SQLite for a while; tests of the
                                 # timeout itself set it back
                                 "WHYBOT_INBOX_WRITE_TIMEOUT": 10.0,
                                 # tests ask one person's questions in bursts; rate-limit tests set limits
                                 "WHYBOT_RATE_LIMIT_PER_MINUTE": 0, "WHYBOT_RATE_LIMIT_PER_HOUR": 0, **overrides}
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
async def services(sqlite_storage: Storage, sqlite_url: str) -> AsyncIterator[Services]:
    """The whole core on SQLite with the embedded backends (no network, no credentials)."""
    svc = await build_services(make_settings(sqlite_url), storage=sqlite_storage)
    yield svc
    await svc.retriever.close()  # background embedding of the built-in vectors


@pytest.fixture
async def demo(services: Services) -> Services:
    """The core with the demo workspace seeded (the same data `whybot demo` shows)."""
    from bot.demo import seed_demo

    assert await seed_demo(services.ingest, services.storage, clock=services.clock)
    return services


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[web.Application], Awaitable[str]]]:
    """Start aiohttp apps on a free loopback port; yields a starter that returns the base URL."""
    runners: list[web.AppRunner] = []

    async def start(app: web.Application) -> str:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return f"http://127.0.0.1:{port}"

    yield start
    for runner in reversed(runners):
        await runner.cleanup()


async def settled(services: Services, within: float = 30.0) -> None:
    """Wait until the workers have finished every queued turn (work happens after the acknowledgement)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        stats = await services.storage.inbox.stats(services.clock())
        if stats.pending == 0 and stats.running == 0:
            return
        assert loop.time() < deadline, f"{stats.pending} pending and {stats.running} running turns after {within}s"
        await asyncio.sleep(0.05)
