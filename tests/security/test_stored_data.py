"""What the database holds: no plaintext ID number, phone or name; argon2id at OWASP's cost.

The dump is the real one: ``pg_dump`` of this run's PostgreSQL database, and on SQLite the
database file's own SQL dump (``sqlite3``'s iterdump). Bytes are looked for as text and as the
hex that binary columns are dumped in.
"""

from __future__ import annotations

import glob
import shutil
import sqlite3
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import argon2
import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.engine import make_url

from app.accounts.models import User
from app.core.settings import OWASP_ARGON2_MEMORY_KIB, Settings
from app.main import create_app
from tests.conftest import TEST_SECRET, settings_for, unavailable
from tests.factories import (
    DONGKOU_VILLAGE,
    PASSWORD,
    admin_headers,
    donor_headers,
    id_number,
    phone_number,
    post_need,
    register_donor,
)

HEAD_NAME = "诸葛秋菊"


def pg_dump_binary() -> str:
    """The pg_dump on PATH, or PostgreSQL's own; skipped (failed under CI) when there is none."""
    found = shutil.which("pg_dump") or next(
        iter(sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_dump"), reverse=True)), None
    )
    if found is None:
        unavailable("pg_dump is not installed", "pg_dump")
    return found


def dump(settings: Settings) -> str:
    """The whole database as SQL text."""
    url = make_url(settings.database_url)
    if settings.is_sqlite:
        with sqlite3.connect(str(url.database)) as connection:
            return "\n".join(connection.iterdump())
    libpq = url.set(drivername="postgresql").render_as_string(hide_password=False)
    result = subprocess.run(
        [pg_dump_binary(), "--no-owner", f"--dbname={libpq}"],
        capture_output=True,
        check=True,
        timeout=120,
    )
    return result.stdout.decode()


def forms_of(value: str) -> list[str]:
    """``value`` as text and as the hex of its UTF-8 bytes (how binary columns are dumped)."""
    return [value, value.encode().hex()]


async def test_a_dump_of_the_database_holds_no_plaintext_personal_data(
    app: FastAPI, client: AsyncClient, settings: Settings
) -> None:
    admin = await admin_headers(app, client, "village", DONGKOU_VILLAGE)
    secret_id, first_phone, second_phone = id_number(), phone_number(), phone_number()
    body = {
        "village_code": DONGKOU_VILLAGE,
        "head_name": HEAD_NAME,
        "id_number": secret_id,
        "phone": first_phone,
        "size": 5,
        "support_category": "dibao",
    }
    # Sent with an Idempotency-Key, so that the stored response is in the dump too.
    created = await client.post(
        "/api/v1/households", json=body, headers=admin | {"Idempotency-Key": "dump-1"}
    )
    assert created.status_code == 201, created.text
    url = f"/api/v1/households/{created.json()['id']}"
    read = await client.get(url, headers=admin)
    assert read.json()["id_number"] == secret_id
    headers = admin | {"If-Match": read.headers["etag"]}
    updated = await client.patch(url, json={"phone": second_phone}, headers=headers)
    assert updated.status_code == 200, updated.text
    need = await post_need(client, admin, created.json()["id"])
    donor = await donor_headers(client)
    claimed = await client.post(f"/api/v1/needs/{need['id']}/claim", headers=donor)
    assert claimed.status_code == 201, claimed.text

    text = dump(settings)
    # The dump is of this database, its rows included: the household's masked name is there.
    assert "household_access_log" in text
    assert "诸***" in text
    for secret in (secret_id, first_phone, second_phone, HEAD_NAME):
        for form in forms_of(secret):
            assert form not in text, f"{secret} is in the dump"


# -- password hashes ---------------------------------------------------------------------------


@pytest.fixture
async def production_hashing(
    settings: Settings, tmp_path: Path, client: AsyncClient
) -> AsyncIterator[tuple[FastAPI, AsyncClient]]:
    """An app that hashes passwords with the production defaults, and a client over it."""
    defaults = {
        name: Settings.model_fields[name].default
        for name in ("argon2_time_cost", "argon2_memory_kib", "argon2_parallelism")
    }
    app = create_app(settings_for(settings.database_url, tmp_path, **defaults))
    try:
        async with AsyncClient(
            transport=ASGITransport(app=app), base_url="http://aixin.test"
        ) as http:
            yield app, http
    finally:
        await app.state.database.dispose()


async def stored_hash(app: FastAPI, username: str) -> argon2.Parameters:
    async with app.state.database.sessionmaker() as session:
        value = await session.scalar(select(User.password_hash).where(User.username == username))
    assert isinstance(value, str)
    assert value.startswith("$argon2id$")
    return argon2.extract_parameters(value)


def assert_owasp(parameters: argon2.Parameters) -> None:
    assert parameters.type is argon2.Type.ID
    assert parameters.memory_cost >= OWASP_ARGON2_MEMORY_KIB  # 19 MiB
    assert parameters.time_cost >= 2
    assert parameters.parallelism >= 1


async def test_a_stored_password_hash_is_argon2id_at_owasps_cost_or_more(
    production_hashing: tuple[FastAPI, AsyncClient],
) -> None:
    app, http = production_hashing
    donor = await register_donor(http)
    assert_owasp(await stored_hash(app, str(donor["username"])))


async def test_a_cheaper_hash_is_raised_to_the_current_cost_at_sign_in(
    app: FastAPI, client: AsyncClient, production_hashing: tuple[FastAPI, AsyncClient]
) -> None:
    """The suite's cheap hashes stand for an older setting: signing in re-hashes them."""
    username = str((await register_donor(client))["username"])
    assert (await stored_hash(app, username)).memory_cost < OWASP_ARGON2_MEMORY_KIB
    response = await production_hashing[1].post(
        "/api/v1/auth/token", data={"username": username, "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    assert_owasp(await stored_hash(app, username))


@pytest.mark.parametrize(
    "weaker",
    [{"argon2_memory_kib": 19 * 1024 - 1}, {"argon2_time_cost": 1}],
    ids=["less-memory", "one-pass"],
)
def test_production_refuses_a_cost_below_owasps(weaker: dict[str, int], tmp_path: Path) -> None:
    keys = {name: TEST_SECRET + name for name in ("secret_key", "data_key", "index_key")}
    values = {"env": "production", "data_dir": tmp_path, **keys}
    assert Settings(_env_file=None, **values)  # type: ignore[call-arg,arg-type]
    with pytest.raises(ValidationError, match="argon2"):
        Settings(_env_file=None, **values, **weaker)  # type: ignore[call-arg,arg-type]
