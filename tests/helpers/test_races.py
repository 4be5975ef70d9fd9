"""Assignments of one household's helper at once, raced on PostgreSQL.

Several admins name a new helper for the same household at the same moment, through a uvicorn
with several worker processes: first assignments of a household without one, and replacements
of a household's current helper. A replacement ends the current assignment by a compare-and-set
and the partial unique index holds one current row per role, so the calls that win took turns,
every other call is a 409 problem that wrote nothing, nothing is a 5xx, and each household ends
with one helper.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from app.core.errors import PROBLEM_MEDIA_TYPE
from app.core.settings import Settings
from tests.factories import DONGKOU_VILLAGE, admin_headers, make_household, phone_number
from tests.live import live_server

pytestmark = pytest.mark.postgresql_only

HOUSEHOLDS = 4  # half with a helper before the race, half without
CALLS = 4  # assignments of each household at once
ADMINS = 2
WORKERS = int(os.environ.get("AIXIN_RACE_WORKERS", "3"))


def problems_of(household: int, responses: list[httpx.Response]) -> list[str]:
    """What is wrong with the answers to one household's assignments (nothing, if all is well)."""
    problems = []
    if not any(response.status_code == 200 for response in responses):
        problems.append(f"household {household}: no call won")
    for lost in responses:
        if lost.status_code == 200:
            continue
        code = lost.json().get("code") if lost.status_code == 409 else None
        if code != "concurrent_update" or not lost.headers["content-type"].startswith(
            PROBLEM_MEDIA_TYPE
        ):
            problems.append(f"household {household}: {lost.status_code} {lost.text[:200]}")
    return problems


async def test_assignments_of_a_household_at_once_leave_one_current_helper(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings, tmp_path: Path
) -> None:
    if settings.is_sqlite:
        pytest.skip("races need concurrent writers: PostgreSQL only")
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=0)
    with live_server(settings, tmp_path / "server.log", workers=WORKERS) as url:
        async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as http:
            await race(app, http)


async def race(app: FastAPI, http: httpx.AsyncClient) -> None:
    """Assign each household's helper several times at once; check the answers and the end."""
    admins = [await admin_headers(app, http, "village", DONGKOU_VILLAGE) for _ in range(ADMINS)]
    households = [
        int(str((await make_household(http, admins[0], key_household=True))["id"]))
        for _ in range(HOUSEHOLDS)
    ]
    for household in households[: HOUSEHOLDS // 2]:
        body = {"role": "helper", "name": "钱互助", "phone": phone_number()}
        first = await http.post(f"/api/v1/households/{household}/helpers", json=body,
                                headers=admins[0])  # fmt: skip
        assert first.status_code == 200, first.text
    calls = [(household, n) for household in households for n in range(CALLS)]
    responses = await asyncio.gather(
        *(
            http.post(
                f"/api/v1/households/{household}/helpers",
                json={"role": "helper", "name": "孙互助", "phone": phone_number()},
                headers=admins[n % ADMINS],
            )
            for household, n in calls
        )
    )
    problems: list[str] = []
    winners: dict[int, set[int]] = {}
    for household in households:
        mine = [r for (h, _), r in zip(calls, responses, strict=True) if h == household]
        problems += problems_of(household, mine)
        winners[household] = {r.json()["helper"]["helper"]["id"] for r in mine
                               if r.status_code == 200}  # fmt: skip
    assert problems == []
    listed = await http.get("/api/v1/helpers", params={"limit": 100}, headers=admins[0])
    served = {item["id"]: item["households"] for item in listed.json()["items"]}
    # The losers wrote nothing: the people listed are those before the race and the winners'.
    assert len(served) == HOUSEHOLDS // 2 + sum(len(ids) for ids in winners.values())
    assert sum(served.values()) == HOUSEHOLDS  # one current helper per household
    for household in households:
        read = await http.get(f"/api/v1/households/{household}/helpers", headers=admins[0])
        assert read.json()["helper"]["helper"]["id"] in winners[household]
