"""Migrations are the only source of the schema, and they agree with the models."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient, Response
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core import migrations
from app.core.db import make_engine
from app.core.models import metadata
from app.core.settings import Settings
from app.jobs import refresh_model, run_scheduled
from app.main import create_app
from app.notifications.delivery import deliver_due
from app.regions import loader
from tests.conftest import create_postgres_database, drop_postgres_database, settings_for
from tests.factories import (
    DONGKOU_VILLAGE,
    PASSWORD,
    admin_headers,
    make_admin,
    make_household,
    png_bytes,
    post_need,
    register_by_phone,
    register_donor,
    sign_in,
)
from tests.funds.fill import fill as fill_funds
from tests.helpers.fill import fill as fill_help_acts
from tests.programmes.fill import fill as fill_programmes


def _schema_diff(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


def _table_names(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def test_models_and_migrations_describe_the_same_schema(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        assert await connection.run_sync(_schema_diff) == []


@pytest.fixture(params=["sqlite", "postgresql"])
async def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> object:
    """A database of its own, so that going down to base disturbs no other test."""
    if request.param == "sqlite":
        yield settings_for(f"sqlite+aiosqlite:///{tmp_path / 'm.db'}", tmp_path)
        return
    url = await create_postgres_database()
    yield settings_for(url, tmp_path)
    await drop_postgres_database(url)


async def test_upgrade_downgrade_upgrade_round_trip(empty_database: Settings) -> None:
    engine = make_engine(empty_database)
    try:
        await migrations.upgrade(engine)
        assert await migrations.current_revisions(engine) == migrations.head_revisions()
        async with engine.connect() as connection:
            tables = await connection.run_sync(_table_names)
        assert {table.name for table in metadata.sorted_tables} <= tables

        await migrations.downgrade(engine, "base")
        assert await migrations.current_revisions(engine) == set()
        async with engine.connect() as connection:
            assert await connection.run_sync(_table_names) <= {"alembic_version"}

        await migrations.upgrade(engine)
        async with engine.connect() as connection:
            assert await connection.run_sync(_schema_diff) == []
    finally:
        await engine.dispose()


def test_migration_files_follow_the_naming_rule() -> None:
    names = [p.name for p in (migrations.migrations_dir() / "versions").glob("*.py")]
    assert names
    for name in names:
        stamp, _, slug = name.removesuffix(".py").partition("_")
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}-\d{4}", stamp), name
        assert re.fullmatch(r"[a-z0-9_]+", slug), name


# -- one line of history -----------------------------------------------------------------------


def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(migrations.alembic_config())


def _history() -> list[str]:
    """The revisions from head to base."""
    return [script.revision for script in _script().walk_revisions()]


def test_the_migrations_form_one_line_with_a_single_head() -> None:
    script = _script()
    assert len(script.get_heads()) == 1, script.get_heads()
    assert len(script.get_bases()) == 1, script.get_bases()
    revisions = list(script.walk_revisions())
    assert all(not isinstance(r.down_revision, tuple | list) for r in revisions), "a merge"
    assert all(len(r.nextrev) <= 1 for r in revisions), "a branch point"
    files = list((migrations.migrations_dir() / "versions").glob("*.py"))
    assert len(revisions) == len(files), "a file whose revision is not in the line"


async def test_alembic_check_finds_nothing_to_generate(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        await connection.run_sync(lambda c: command.check(migrations.alembic_config(c)))


# -- round trips with data ---------------------------------------------------------------------


@dataclass(frozen=True)
class Loss:
    """What the downgrade of one migration removes from a database that holds data."""

    tables: frozenset[str] = frozenset()
    columns: Mapping[str, frozenset[str]] = field(default_factory=dict)
    # Columns kept whose values the downgrade may rewrite (a state the revision below lacks).
    rewritten: Mapping[str, frozenset[str]] = field(default_factory=dict)
    # Tables the downgrade may delete rows from, leaving every other row as it was.
    pruned: frozenset[str] = frozenset()


# Per migration, what going below it costs; everything else must come through unchanged, both
# ways. Derived data (success_segments) is dropped and rebuilt by `aixin model refresh`; a dropped
# column comes back re-derived (active_at, from the events), reset (honour_roll: consent is asked
# again rather than assumed) or empty (run_id, score: the runs themselves are gone).
DOWNGRADE_REMOVES: dict[str, Loss] = {
    # Below 0015 a payment is not refunded: its refund's columns go, and a refunded payment is
    # cancelled (its receipt and the reversal that refunded it stay in the ledger).
    "0015": Loss(
        frozenset(),
        {
            "sponsorship_payments": frozenset(
                {"refunded_on", "refund_voucher_no", "refunded_by_id", "refunded_at"}
            )
        },
        rewritten={"sponsorship_payments": frozenset({"status"})},
    ),
    # Below 0014 a help act has no photos: their rows go (the stored images are left as they are).
    "0014": Loss(frozenset({"help_act_photos"})),
    # Below 0013 a webhook's secret is not encrypted: the encrypted secrets go (no migration holds
    # the data key to open them), and the endpoints registered since are left without a secret.
    "0013": Loss(frozenset(), {"webhook_endpoints": frozenset({"secret_encrypted"})}),
    # Below 0012 a sponsorship payment has no status: what was received and paid out goes, and
    # so do the ledger's sponsorship accounts and postings (no other account shares them).
    "0012": Loss(
        pruned=frozenset({"fund_accounts", "fund_transactions", "fund_entries"}),
        columns={
            "sponsorship_payments": frozenset(
                {
                    "status",
                    "received_on",
                    "receipt_voucher_no",
                    "received_by_id",
                    "received_at",
                    "disbursed_on",
                    "disbursement_voucher_no",
                    "disbursed_by_id",
                    "disbursed_at",
                }
            )
        },
    ),
    # Below 0011 a household has one row per role: the ended assignments are deleted too.
    "0011": Loss(frozenset(), {"helper_assignments": frozenset({"ended_at"})}),
    "0010": Loss(frozenset(), {"needs": frozenset({"funding_source"})}),
    "0009": Loss(
        frozenset(
            {
                "helpers",
                "helper_assignments",
                "help_acts",
                "programmes",
                "programme_students",
                "programme_volunteers",
                "programme_pairings",
                "sponsorship_payments",
                "tutoring_sessions",
            }
        )
    ),
    "0008": Loss(
        frozenset(
            {
                "fund_accounts",
                "fund_transactions",
                "fund_entries",
                "donations",
                "receipt_counters",
                "payment_notifications",
                "need_fundings",
                "allocations",
                "allocation_items",
            }
        )
    ),
    "0007": Loss(
        frozenset(
            {
                "notifications",
                "notification_settings",
                "webhook_endpoints",
                "webhook_deliveries",
                "webhook_attempts",
                "job_runs",
            }
        )
    ),
    "0006": Loss(
        frozenset({"account_events", "sms_codes"}),
        {"users": frozenset({"phone_encrypted", "phone_index", "token_generation"})},
    ),
    "0005": Loss(frozenset({"photos"})),
    "0004": Loss(
        frozenset({"success_segments"}),
        {"pairings": frozenset({"active_at"}), "users": frozenset({"honour_roll"})},
    ),
    "0003": Loss(frozenset({"matching_runs"}), {"pairings": frozenset({"run_id", "score"})}),
    "0002": Loss(
        frozenset(
            {
                "idempotency_keys",
                "events",
                "households",
                "household_access_log",
                "offers",
                "needs",
                "pairings",
            }
        )
    ),
    "0001": Loss(frozenset({"regions", "users", "refresh_tokens"})),
}
# The lowest revision at which the service's records exist: round trips with data turn there.
RECORDS_FROM = "0002"
REGION_PREFIXES = ("43", "4305", "430525", "430525101")

Table = tuple[list[str], list[dict[str, Any]]]  # columns, rows in primary-key order


def test_every_migration_declares_what_its_downgrade_removes() -> None:
    assert set(DOWNGRADE_REMOVES) == set(_history())


def _read_all(connection: Connection) -> dict[str, Table]:
    meta = sa.MetaData()
    meta.reflect(connection)
    tables: dict[str, Table] = {}
    for name, table in meta.tables.items():
        if name == "alembic_version":
            continue
        rows = connection.execute(sa.select(table).order_by(*table.primary_key.columns))
        tables[name] = ([c.name for c in table.columns], [dict(r._mapping) for r in rows])
    return tables


async def read_all(engine: AsyncEngine) -> dict[str, Table]:
    """Every table with its columns and rows, as the database holds them now."""
    async with engine.connect() as connection:
        return await connection.run_sync(_read_all)


def _project(rows: list[dict[str, Any]], columns: list[str]) -> list[dict[str, Any]]:
    return [{name: row[name] for name in columns} for row in rows]


def compare(wider: dict[str, Table], narrower: dict[str, Table], loss: Loss) -> list[str]:
    """What differs between the schema above a migration and below it, beyond ``loss``."""
    problems = []
    if set(narrower) != set(wider) - loss.tables:
        problems.append(f"tables {sorted(set(wider) ^ set(narrower))} besides {set(loss.tables)}")
    for name in set(narrower) & set(wider):
        (columns, rows), (wide_columns, wide_rows) = narrower[name], wider[name]
        lost = loss.columns.get(name, frozenset())
        if set(columns) != set(wide_columns) - lost:
            expected = sorted(set(wide_columns) - lost)
            problems.append(f"{name}: columns {sorted(columns)}, expected {expected}")
            continue
        kept = [c for c in columns if c not in loss.rewritten.get(name, ())]
        narrow, wide = _project(rows, kept), _project(wide_rows, kept)
        if name in loss.pruned and all(row in wide for row in narrow):
            continue
        if narrow != wide:
            problems.append(f"{name}: the rows changed")
    return problems


async def step_to(engine: AsyncEngine, revision: str | None, down: bool) -> None:
    if down:
        await migrations.downgrade(engine, revision or "base")
    else:
        await migrations.upgrade(engine, revision or "head")


def _ok(response: Response) -> dict[str, Any]:
    assert response.status_code in (200, 201), response.text
    body: dict[str, Any] = response.json()
    return body


@dataclass(frozen=True)
class Callers:
    county: dict[str, str]
    village: dict[str, str]
    donor: dict[str, str]
    other: dict[str, str]
    donor_name: str
    donor_id: int


async def _accounts(app: FastAPI, client: AsyncClient) -> Callers:
    """Admins, and two donors: one who consents to the roll of honour, one who refreshed."""
    donor, other = await register_donor(client), await register_donor(client)
    callers = Callers(
        county=await admin_headers(app, client, "county", "430525"),
        village=await admin_headers(app, client, "village", DONGKOU_VILLAGE),
        donor=await sign_in(client, str(donor["username"])),
        other=await sign_in(client, str(other["username"])),
        donor_name=str(donor["username"]),
        donor_id=int(str(donor["id"])),
    )
    _ok(await client.patch("/api/v1/me", json={"honour_roll": True}, headers=callers.donor))
    form = {"username": str(other["username"]), "password": PASSWORD}
    tokens = _ok(await client.post("/api/v1/auth/token", data=form))
    _ok(await client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}))
    await register_by_phone(app, client)
    leaver = await make_admin(app, "village", DONGKOU_VILLAGE)
    _ok(await client.post(f"/api/v1/admins/{leaver.id}/disable", headers=callers.county))
    return callers


async def _needs(client: AsyncClient, callers: Callers) -> int:
    """A fulfilled need, a claimed one, one waiting for review; a logged read. A household."""
    household = await make_household(client, callers.village)
    _ok(await client.get(f"/api/v1/households/{household['id']}", headers=callers.village))
    fulfilled = await post_need(client, callers.village, household["id"], category="goods")
    steps = (("claim", callers.donor), ("deliver", callers.donor), ("confirm", callers.village))
    for step, actor in steps:
        _ok(await client.post(f"/api/v1/needs/{fulfilled['id']}/{step}", headers=actor))
    photo = {"file": ("photo.png", png_bytes(), "image/png")}
    for album in ("photos", "delivery/photos"):
        url = f"/api/v1/needs/{fulfilled['id']}/{album}"
        _ok(await client.post(url, files=photo, headers=callers.village))
    claimed = await post_need(client, callers.village, household["id"], category="schooling")
    _ok(await client.post(f"/api/v1/needs/{claimed['id']}/claim", headers=callers.other))
    await post_need(client, callers.village, household["id"], category="health", origin="household")
    return int(str(household["id"]))


async def _matching(client: AsyncClient, callers: Callers) -> None:
    """Two runs and a dry run: one proposal accepted, one left open; an idempotent offer."""
    household = await make_household(client, callers.village)
    for category, donor, key in (("health", callers.donor, "h"), ("service", callers.other, "s")):
        await post_need(client, callers.village, household["id"], category=category)
        offer = {"category": category, "title": "义诊", "description": "一次", "capacity": 2}
        headers = {**donor, "Idempotency-Key": f"offer-{key}"}
        _ok(await client.post("/api/v1/offers", json=offer, headers=headers))
        run = {"scope": "430525", "categories": [category]}
        _ok(await client.post("/api/v1/matching/runs", json=run, headers=callers.county))
    params = {"status": "proposed"}
    [proposal] = _ok(await client.get("/api/v1/pairings", params=params, headers=callers.donor))[
        "items"
    ]
    _ok(await client.post(f"/api/v1/pairings/{proposal['id']}/accept", headers=callers.donor))
    dry = {"scope": "430525", "dry_run": True}
    _ok(await client.post("/api/v1/matching/runs", json=dry, headers=callers.county))


async def _telling(app: FastAPI, client: AsyncClient, callers: Callers) -> None:
    """A webhook to a loopback port where nobody listens (its first attempt fails), a donor's
    notification preferences, and the scheduled jobs' runs."""
    platform = await admin_headers(app, client, "platform", "")
    hook = {"url": "http://127.0.0.1:9/hook", "events": ["need.claimed", "need.fulfilled"]}
    _ok(await client.post("/api/v1/webhooks", json=hook, headers=platform))
    prefs = {"notifications": {"modes": {"need.lapsed": "digest"}}}
    _ok(await client.patch("/api/v1/me", json=prefs, headers=callers.donor))


async def fill(settings: Settings) -> Callers:
    """Migrate to head and put rows in every table through the service."""
    app = create_app(settings)
    try:
        await migrations.upgrade(app.state.database.engine)
        rows = [
            row
            for row in loader.bundled_rows()
            if row["code"] in REGION_PREFIXES or row["code"].startswith(REGION_PREFIXES[-1])
        ]
        async with app.state.database.engine.begin() as connection:
            await loader.upsert_regions(connection, rows)
        transport = ASGITransport(app=app)
        async with AsyncClient(transport=transport, base_url="http://aixin.test") as client:
            callers = await _accounts(app, client)
            await _telling(app, client, callers)
            await _needs(client, callers)
            await _matching(client, callers)
            await fill_funds(app, client, callers.county, callers.village)
            await fill_help_acts(client, callers.village)
            await fill_programmes(
                client, callers.county, callers.village, callers.donor, callers.other
            )
        await refresh_model(app.state.database)
        await deliver_due(app.state.database, settings)
        await run_scheduled(app.state.database, settings)
    finally:
        await app.state.database.dispose()
    return callers


async def filled(settings: Settings) -> tuple[dict[str, Table], Callers]:
    """A database at head with rows in every table, and what it holds."""
    callers = await fill(settings)
    engine = make_engine(settings)
    try:
        tables = await read_all(engine)
    finally:
        await engine.dispose()
    empty = sorted(name for name, (_, rows) in tables.items() if not rows)
    assert not empty, f"the fill leaves tables empty: {empty}"
    assert set(tables) == {table.name for table in metadata.sorted_tables} - {"alembic_version"}
    return tables, callers


def _down_revision(revision: str) -> str:
    down = _script().get_revision(revision).down_revision
    assert not isinstance(down, tuple | list)
    return down or "base"


async def test_going_below_each_migration_with_data_drops_only_what_it_declares(
    empty_database: Settings,
) -> None:
    above, _ = await filled(empty_database)
    engine = make_engine(empty_database)
    try:
        for revision in _history():
            await migrations.downgrade(engine, _down_revision(revision))
            below = await read_all(engine)
            assert compare(above, below, DOWNGRADE_REMOVES[revision]) == [], revision
            above = below
        assert above == {}
        await migrations.upgrade(engine)
        async with engine.connect() as connection:
            assert await connection.run_sync(_schema_diff) == []
    finally:
        await engine.dispose()


def _active_at_problems(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """A claim held its need from its creation; an accepted proposal from its "active" event,
    which is written in the same request as the value it replaces."""
    if before["source"] == "claim":
        return [] if after["active_at"] == after["created_at"] else ["claim not active at creation"]
    if before["active_at"] is None or after["active_at"] is None:
        return [] if before["active_at"] == after["active_at"] else ["active_at appeared or went"]
    gap = abs(after["active_at"] - before["active_at"])
    return [] if gap < dt.timedelta(seconds=1) else [f"active_at moved by {gap}"]


def _restored_problems(original: dict[str, Table], now: dict[str, Table]) -> list[str]:
    """What the round trip through RECORDS_FROM changed beyond what DOWNGRADE_REMOVES says."""
    losses = [DOWNGRADE_REMOVES[r] for r in _history()[: _history().index(RECORDS_FROM)]]
    dropped = {name for loss in losses for name in loss.tables}
    lost = {
        t: set().union(*(loss.columns.get(t, ()) for loss in losses))
        | set().union(*(loss.rewritten.get(t, ()) for loss in losses))
        for t in now
    }
    problems = [f"{name} is not empty" for name in dropped if now[name][1]]
    for name, (columns, rows) in now.items():
        kept = [c for c in columns if c not in lost[name]]
        if set(columns) != set(original[name][0]):
            problems.append(f"{name}: columns {columns}")
        elif name not in dropped and _project(rows, kept) != _project(original[name][1], kept):
            problems.append(f"{name} changed")
    if any(user["honour_roll"] for user in now["users"][1]):
        problems.append("a consent survived the downgrade")
    for before, after in zip(original["pairings"][1], now["pairings"][1], strict=True):
        if after["run_id"] is not None or after["score"] is not None:
            problems.append(f"pairing {after['id']} kept its run")
        problems += [f"pairing {after['id']}: {p}" for p in _active_at_problems(before, after)]
    return problems


async def test_a_round_trip_with_data_keeps_every_record(empty_database: Settings) -> None:
    original, callers = await filled(empty_database)
    steps = _history()[: _history().index(RECORDS_FROM)]  # head first, down to RECORDS_FROM
    engine = make_engine(empty_database)
    try:
        above = original
        for revision in steps:
            await migrations.downgrade(engine, _down_revision(revision))
            below = await read_all(engine)
            assert compare(above, below, DOWNGRADE_REMOVES[revision]) == [], revision
            above = below
        for revision in reversed(steps):
            await migrations.upgrade(engine, revision)
            upper = await read_all(engine)
            assert compare(upper, above, DOWNGRADE_REMOVES[revision]) == [], revision
            assert not any(upper[name][1] for name in DOWNGRADE_REMOVES[revision].tables)
            above = upper
        assert _restored_problems(original, above) == []
        async with engine.connect() as connection:
            assert await connection.run_sync(_schema_diff) == []
    finally:
        await engine.dispose()
    await _service_works_on(empty_database, original, callers)


async def _service_works_on(
    settings: Settings, original: dict[str, Table], callers: Callers
) -> None:
    """The service reads the records that came through, and rebuilds what was derived."""
    app = create_app(settings)
    try:
        assert await refresh_model(app.state.database) > 0
        segments = (await read_all(app.state.database.engine))["success_segments"][1]
        fields = ["category", "band", "successes", "failures", "rate"]
        assert _project(segments, fields) == _project(original["success_segments"][1], fields)
        transport = ASGITransport(app=app)
        async with AsyncClient(transport=transport, base_url="http://aixin.test") as client:
            headers = await sign_in(client, callers.donor_name)
            listed = _ok(await client.get("/api/v1/pairings", headers=headers))["items"]
        held = [p["id"] for p in original["pairings"][1] if p["donor_id"] == callers.donor_id]
        assert sorted(p["id"] for p in listed) == sorted(held) != []
    finally:
        await app.state.database.dispose()
