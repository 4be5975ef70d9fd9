"""Fuzzing from the OpenAPI document: a live server per engine, a caller per role, a small world.

The server is the real one (uvicorn on loopback, tests/live.py) on the engine's migrated test
database, so schemathesis speaks to it over TCP as any client would. Each test signs in one
account per role and seeds a household with needs in several states, so that generated ids and
links reach records that exist; the ``client`` fixture empties the tables afterwards.

``AIXIN_FUZZ_EXAMPLES`` sets how many random examples each operation gets per role (default 4);
raise it to fuzz harder on demand, e.g. ``AIXIN_FUZZ_EXAMPLES=500 pytest tests/fuzz``.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import pytest
import requests
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.settings import Settings
from tests.conftest import empty_tables
from tests.factories import (
    DONGKOU_VILLAGE,
    PASSWORD,
    make_admin,
    make_household,
    post_need,
    register_donor,
    sign_in,
)
from tests.live import live_server

Headers = dict[str, str]

FUZZ_EXAMPLES = int(os.environ.get("AIXIN_FUZZ_EXAMPLES", "4"))
DONGKOU = "430525"
DONGKOU_TOWNSHIP = "430525101"
ADMIN_SCOPES = {
    "village": DONGKOU_VILLAGE,
    "township": DONGKOU_TOWNSHIP,
    "county": DONGKOU,
    "platform": "",
}
ROLES = ("anonymous", "donor", *ADMIN_SCOPES)
STATE_CATEGORIES = {
    "published": "goods",
    "claimed": "schooling",
    "delivered": "health",
    "fulfilled": "employment",
    "pending_review": "service",
}

# Walks claim far more often than a person would: rate limits and the open-claim cap would turn
# most of them into 429 and 409 (both documented, and tested in their own modules).
GENEROUS_LIMITS = {"AIXIN_CLAIMS_PER_DONOR": "10000", "AIXIN_MAX_OPEN_CLAIMS": "1000"}

# What a donor does; an admin does the rest.
DONOR_OPERATIONS = frozenset(
    {
        "PATCH /api/v1/me",
        "POST /api/v1/needs/{need_id}/claim",
        "POST /api/v1/needs/{need_id}/release",
        "POST /api/v1/needs/{need_id}/deliver",
        "POST /api/v1/offers",
        "GET /api/v1/offers",
        "GET /api/v1/offers/{offer_id}",
        "POST /api/v1/offers/{offer_id}/withdraw",
        "POST /api/v1/pairings/{pairing_id}/accept",
        "POST /api/v1/pairings/{pairing_id}/decline",
    }
)

# Operations a village admin may not perform, and who does.
WIDER_ADMINS = {
    "POST /api/v1/matching/runs": "county",
    "POST /api/v1/admins": "county",
    "POST /api/v1/needs/{need_id}/review": "township",
}

# Access tokens live 15 minutes at most; a long run signs in again well before that.
TOKEN_REFRESH_SECONDS = 600


@pytest.fixture(scope="package")
def fuzz_server(
    settings: Settings, engine: object, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A real uvicorn serving the engine's migrated test database; its base URL."""
    log_path = tmp_path_factory.mktemp("fuzz") / "server.log"
    with live_server(settings, log_path, env=GENEROUS_LIMITS) as base_url:
        yield base_url


@pytest.fixture(scope="package")
def http() -> Iterator[requests.Session]:
    """One keep-alive HTTP session for every generated request."""
    with requests.Session() as session:
        yield session


@dataclass
class World:
    """The live server, a signed-in account per role, and the records found on arrival."""

    base_url: str
    usernames: dict[str, str]
    household_id: int
    need_ids: dict[str, int]
    _signed_in: dict[str, tuple[float, Headers]] = field(default_factory=dict)

    def headers_for(self, role: str) -> Headers:
        """Authorization for ``role``; signed in again before the access token runs out."""
        if role == "anonymous":
            return {}
        signed = self._signed_in.get(role)
        if signed is None or time.monotonic() - signed[0] > TOKEN_REFRESH_SECONDS:
            response = requests.post(
                f"{self.base_url}/api/v1/auth/token",
                data={"username": self.usernames[role], "password": PASSWORD},
                timeout=30,
            )
            response.raise_for_status()
            token = response.json()["access_token"]
            signed = (time.monotonic(), {"Authorization": f"Bearer {token}"})
            self._signed_in[role] = signed
        return dict(signed[1])


@pytest.fixture(scope="module")
async def world(app: FastAPI, engine: AsyncEngine, fuzz_server: str) -> AsyncIterator[World]:
    """One account per role (admins inside Dongkou) and a household with needs in each state.

    Module-scoped: the fuzzer's own writes pile up on it, which is the point; the tables are
    emptied when the module is done.
    """
    transport = ASGITransport(app=app)
    async with AsyncClient(transport=transport, base_url="http://aixin.test") as client:
        yield await _build_world(app, client, fuzz_server)
    await empty_tables(engine)


async def _build_world(app: FastAPI, client: AsyncClient, base_url: str) -> World:
    donor = await register_donor(client)
    usernames = {"donor": str(donor["username"])}
    for role, scope in ADMIN_SCOPES.items():
        usernames[role] = (await make_admin(app, role, scope)).username
    village = await sign_in(client, usernames["village"])
    donor_auth = await sign_in(client, usernames["donor"])
    household = await make_household(client, village)
    needs: dict[str, int] = {}
    # A household has one open need per category, so each state gets its own category.
    for state, category in STATE_CATEGORIES.items():
        origin = "household" if state == "pending_review" else "admin"
        need = await post_need(client, village, household["id"], category=category, origin=origin)
        needs[state] = int(str(need["id"]))
    for state, steps in {
        "claimed": [("claim", donor_auth)],
        "delivered": [("claim", donor_auth), ("deliver", donor_auth)],
        "fulfilled": [("claim", donor_auth), ("deliver", donor_auth), ("confirm", village)],
    }.items():
        for action, caller in steps:
            response = await client.post(f"/api/v1/needs/{needs[state]}/{action}", headers=caller)
            assert response.status_code in (200, 201), response.text
    return World(
        base_url=base_url,
        usernames=usernames,
        household_id=int(str(household["id"])),
        need_ids=needs,
    )


def actor_of(label: str, *, admin: str) -> str:
    """The role that performs the operation ``label``: the donor, ``admin``, or a wider admin."""
    if label in DONOR_OPERATIONS:
        return "donor"
    return WIDER_ADMINS.get(label, admin) if admin == "village" else admin


def engine_of(database_url: str) -> str:
    return "postgresql" if database_url.startswith("postgresql") else "sqlite"
