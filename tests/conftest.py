"""Fixtures shared by the integration and API suites: every storage test runs on SQLite and on
PostgreSQL, each test on its own database cloned from a migrated template."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from hypothesis import settings as hypothesis_settings
from xdist.remote import Producer

from emsync.core.settings import Settings
from tests.pg_clones import ClonePool
from tests.scheduling import DurationRecorder, LongestFirst, make_scheduler

# The app (emsync.bootstrap) and the migrations are imported by the fixtures that use them: this
# module is loaded by every pytest process, and a unit test's run paid ~5 s of CPU importing
# the whole app before its first test.

PG_ADMIN_DSN = os.environ.get("EMSYNC_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
TEST_SECRET = "test-secret-key-that-is-long-enough-0123456789"
TEST_MASTER_KEYS = json.dumps({"1": base64.b64encode(b"k" * 32).decode()})

# No timing in pass/fail tests: Hypothesis's default 200 ms deadline per example failed a
# property test at 328 ms on a loaded machine. Correctness is what these tests check.
hypothesis_settings.register_profile("emsync", deadline=None)
hypothesis_settings.load_profile("emsync")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--record-durations",
        action="store_true",
        help="write each file's measured seconds to tests/durations.json (tests/scheduling.py)",
    )


def pytest_configure(config: pytest.Config) -> None:
    # On the controller only: it sees every worker's reports.
    if config.getoption("record_durations") and not hasattr(config, "workerinput"):
        config.pluginmanager.register(DurationRecorder(), "emsync-durations")


@pytest.hookimpl(tryfirst=True, optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Producer) -> LongestFirst | None:
    """Longest files first under `--dist loadfile` (tests/scheduling.py: the suite's tail)."""
    return make_scheduler(config, log)


def _pg_dsn(database: str) -> str:
    base, _, _ = PG_ADMIN_DSN.rpartition("/")
    return f"{base}/{database}"


def _sqlalchemy_url(dsn: str) -> str:
    return dsn.replace("postgresql://", "postgresql+asyncpg://", 1)


async def _pg_admin(*statements: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


def _require_service(name: str, error: BaseException) -> None:
    message = f"{name} is not reachable: {error!r}"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from emsync.core import migrate

    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    migrate.upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    from emsync.core import migrate

    name = f"emsync_tpl_{os.getpid()}"
    try:
        asyncio.run(_pg_admin(f"DROP DATABASE IF EXISTS {name}", f"CREATE DATABASE {name}"))
    except (OSError, asyncpg.PostgresError) as exc:
        _require_service("PostgreSQL", exc)
    migrate.upgrade(_sqlalchemy_url(_pg_dsn(name)))
    yield name
    asyncio.run(_pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


@pytest.fixture(scope="session")
def pg_clones(pg_template: str) -> Iterator[ClonePool]:
    """Fresh clones of the template, made ahead in the background (tests/pg_clones.py)."""
    pool = ClonePool(PG_ADMIN_DSN, pg_template, prefix=f"emsync_t_{os.getpid()}")
    yield pool
    pool.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database for one test, on each backend."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        target = tmp_path / "emsync.db"
        shutil.copyfile(template, target)
        yield f"sqlite+aiosqlite:///{target}"
        return
    clones: ClonePool = request.getfixturevalue("pg_clones")
    name = clones.take()
    yield _sqlalchemy_url(_pg_dsn(name))
    clones.give_back(name)


def make_settings(database_url: str, data_dir: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "env": "test",
        "data_dir": data_dir,
        "log_json": True,
        "log_level": "WARNING",
        "database": {"url": database_url},
        "auth": {
            "secret_key": TEST_SECRET,
            "login_attempts_per_account": 5,
            # Cheap hashing keeps hundreds of test logins fast; production keeps the defaults.
            "password_time_cost": 1,
            "password_memory_kib": 1024,
        },
        "security": {"master_keys": TEST_MASTER_KEYS},
        # Tests drive the event relay's rounds themselves (its records would otherwise land
        # at any moment of a test that counts rows).
        "events": {"handler_backoff_seconds": 0, "relay_poll_seconds": 3600},
        # Tests drive the notification worker's rounds themselves.
        "notifications": {"poll_seconds": 3600, "wake_on_page": False},
    }
    values.update(overrides)
    return Settings.model_validate(values)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path)


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    # Startup waits up to 60 s, not asgi-lifespan's 5: on two busy workers the intake engine's
    # launch on PostgreSQL (DBOS's system schema) took longer, the start was cancelled half way,
    # and the process-wide engine it left behind then ran no later app's sessions.
    from emsync.bootstrap import create_app

    application = create_app(settings)
    async with LifespanManager(application, startup_timeout=60, shutdown_timeout=60):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c
