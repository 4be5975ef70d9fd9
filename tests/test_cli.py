"""The ``aixin`` console script, run as a real subprocess against a fresh database of each engine.

Each engine's database is migrated, loaded and given a first admin once for the module (those
runs are the subjects of the first tests); the other tests run one command each. Failures must
exit non-zero with a one-line message and no traceback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.accounts.models import User
from app.core.db import make_engine
from app.core.migrations import head_revisions
from app.regions.models import Region
from tests.conftest import (
    ENGINES,
    TEST_SECRET,
    create_postgres_database,
    drop_postgres_database,
    settings_for,
)

AIXIN = Path(sys.executable).parent / "aixin"
PASSWORD = "correct horse battery"
BUNDLED_TOTAL = 45067
FIRST_ADMIN = "county-admin"
# Three real villages of 酿溪镇 (430522100), 新邵县, a county the project ships no village of.
VILLAGES_CSV = """\
code,name,streetCode,provinceCode,cityCode,areaCode
430522100001,"酿溪社区",430522100,43,4305,430522
430522100002,"大塘社区",430522100,43,4305,430522
430522100003,"新涟社区",430522100,43,4305,430522
"""


@dataclass
class Target:
    """A database for the command line, and where its commands run."""

    url: str
    workdir: Path

    def env(self) -> dict[str, str]:
        """The caller's environment without its AIXIN_* settings, plus this test's."""
        env = {key: value for key, value in os.environ.items() if not key.startswith("AIXIN_")}
        env.update(
            AIXIN_ENV="test",
            AIXIN_DATABASE_URL=self.url,
            AIXIN_DATA_DIR=str(self.workdir),
            AIXIN_SECRET_KEY=TEST_SECRET,
            AIXIN_DATA_KEY=TEST_SECRET + "-data",
            AIXIN_INDEX_KEY=TEST_SECRET + "-index",
            AIXIN_ARGON2_TIME_COST="1",
            AIXIN_ARGON2_MEMORY_KIB="1024",
            AIXIN_ARGON2_PARALLELISM="1",
            AIXIN_LOG_LEVEL="WARNING",
        )
        return env

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """``aixin *args``, run in the work dir (so no developer's .env is read)."""
        return subprocess.run(
            [str(AIXIN), *args],
            env=self.env(),
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def engine(self) -> AsyncEngine:
        return make_engine(settings_for(self.url, self.workdir))


@dataclass
class Prepared:
    """A database set up through the command line, with what each step printed."""

    target: Target
    migrate: subprocess.CompletedProcess[str]
    load: subprocess.CompletedProcess[str]
    create_admin: subprocess.CompletedProcess[str]


def assert_refused(result: subprocess.CompletedProcess[str], message: str) -> None:
    """A failed command: non-zero exit, ``message`` on stderr, no traceback."""
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


@pytest.fixture(scope="module", params=ENGINES)
async def fresh_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """A new, empty database of each engine, dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('cli-sqlite') / 'aixin.db'}"
        return
    url = await create_postgres_database()
    yield url
    await drop_postgres_database(url)


@pytest.fixture(scope="module")
def prepared(fresh_url: str, tmp_path_factory: pytest.TempPathFactory) -> Prepared:
    """The fresh database migrated, loaded and given a county admin by ``aixin``."""
    target = Target(fresh_url, tmp_path_factory.mktemp("cli"))
    migrate = target.run("migrate")
    load = target.run("regions", "load")
    create_admin = target.run(
        "create-admin", FIRST_ADMIN, "--role", "county", "--scope", "430525", "--password", PASSWORD
    )
    return Prepared(target, migrate, load, create_admin)


@pytest.fixture
def offline(tmp_path: Path) -> Target:
    """A target whose database is never opened (the command fails before)."""
    return Target(f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}", tmp_path)


# -- setting a database up -----------------------------------------------------------------------


def test_migrate_prints_the_head_revision(prepared: Prepared) -> None:
    result = prepared.migrate
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"database at revision {', '.join(sorted(head_revisions()))}\n"


async def test_regions_load_writes_every_bundled_region(prepared: Prepared) -> None:
    result = prepared.load
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"loaded {BUNDLED_TOTAL} bundled regions\n"
    engine = prepared.target.engine()
    try:
        async with engine.connect() as connection:
            count = await connection.scalar(select(func.count()).select_from(Region))
    finally:
        await engine.dispose()
    assert count == BUNDLED_TOTAL


async def test_create_admin_creates_a_county_admin(prepared: Prepared) -> None:
    result = prepared.create_admin
    assert result.returncode == 0, result.stderr
    assert f"created county admin {FIRST_ADMIN!r}" in result.stdout
    assert "for scope 430525" in result.stdout
    engine = prepared.target.engine()
    try:
        async with engine.connect() as connection:
            row = (
                await connection.execute(
                    select(User.role, User.scope_code, User.display_name, User.created_by_id).where(
                        User.username == FIRST_ADMIN
                    )
                )
            ).one()
    finally:
        await engine.dispose()
    assert tuple(row) == ("county", "430525", "洞口县", None)


# -- create-admin refusals -----------------------------------------------------------------------


def test_create_admin_refuses_a_taken_username(prepared: Prepared) -> None:
    result = prepared.target.run(
        "create-admin", FIRST_ADMIN, "--role", "county", "--scope", "430525", "--password", PASSWORD
    )
    assert result.returncode == 1
    assert_refused(result, f"aixin: The username {FIRST_ADMIN!r} is taken")


def test_create_admin_refuses_a_scope_that_is_no_region(prepared: Prepared) -> None:
    result = prepared.target.run(
        "create-admin",
        "nowhere-admin",
        "--role",
        "county",
        "--scope",
        "439999",
        "--password",
        PASSWORD,
    )
    assert result.returncode == 1
    assert_refused(result, "aixin: No region has the code 439999")


def test_create_admin_refuses_an_unknown_role(offline: Target) -> None:
    result = offline.run(
        "create-admin", "emperor", "--role", "emperor", "--scope", "430525", "--password", PASSWORD
    )
    assert_refused(result, "aixin: role: Input should be 'platform', 'county'")


def test_create_admin_refuses_a_scope_of_another_level(offline: Target) -> None:
    result = offline.run(
        "create-admin",
        "wrong-level",
        "--role",
        "county",
        "--scope",
        "430525101",
        "--password",
        PASSWORD,
    )
    assert_refused(result, "aixin: A county admin's scope has 6 digits")


# -- further region files ------------------------------------------------------------------------


async def test_regions_load_adds_the_rows_of_a_further_file(prepared: Prepared) -> None:
    path = prepared.target.workdir / "villages-430522.csv"
    path.write_text(VILLAGES_CSV, encoding="utf-8")
    result = prepared.target.run("regions", "load", "--no-bundled", "--villages", str(path))
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"loaded 3 regions from {path}\n"
    engine = prepared.target.engine()
    try:
        async with engine.connect() as connection:
            names = await connection.scalars(
                select(Region.name).where(Region.parent_code == "430522100").order_by(Region.code)
            )
            assert names.all() == ["酿溪社区", "大塘社区", "新涟社区"]
    finally:
        await engine.dispose()


async def test_regions_load_refuses_a_file_whose_parents_are_missing(prepared: Prepared) -> None:
    path = prepared.target.workdir / "orphans.csv"
    path.write_text("code,name\n430522100006,资滨社区\n999999999001,无主村\n", encoding="utf-8")
    result = prepared.target.run("regions", "load", "--no-bundled", "--villages", str(path))
    assert result.returncode == 2
    assert_refused(result, "aixin: a region's parent is missing")
    engine = prepared.target.engine()
    try:
        async with engine.connect() as connection:
            written = await connection.scalars(
                select(Region.code).where(Region.code.in_(["430522100006", "999999999001"]))
            )
            assert written.all() == []
    finally:
        await engine.dispose()


# -- openapi -------------------------------------------------------------------------------------


def test_openapi_writes_the_document_as_json(offline: Target) -> None:
    output = offline.workdir / "docs" / "o.json"
    result = offline.run("openapi", "--output", str(output))
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"wrote {output}\n"
    document = json.loads(output.read_text(encoding="utf-8"))
    assert document["info"]["title"] == "Aixin 爱心对接"
    assert {"/readyz", "/api/v1/regions/{code}", "/api/v1/auth/token"} <= set(document["paths"])


def test_model_refresh_relearns_the_success_model(prepared: Prepared) -> None:
    result = prepared.target.run("model", "refresh")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "success model refreshed: 0 segments with outcomes\n"
