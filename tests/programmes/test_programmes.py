"""One-to-one programmes: enrolment in scope, exact pairing, a pairing's terms and sessions."""

from __future__ import annotations

import datetime as dt

from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy import select

from app.programmes.models import SponsorshipPayment
from tests.factories import (
    DONGKOU_VILLAGE,
    OTHER_VILLAGE,
    admin_headers,
    assert_problem,
    donor_headers,
    make_household,
)
from tests.programmes.conftest import SPONSORSHIP, TODAY, TUTOR, TUTORING, create, enrol, run
from tests.programmes.conftest import volunteer as sign_up


async def test_a_tutoring_programme_pairs_exactly_and_counts_its_sessions(
    app: FastAPI, client: AsyncClient
) -> None:
    county = await admin_headers(app, client, "county", "430525")
    village = await admin_headers(app, client, "village", DONGKOU_VILLAGE)
    programme = await create(client, county, TUTORING)
    # Two students want maths on Saturday morning; one wants chemistry, which nobody teaches.
    math_student = await enrol(client, village, programme, subjects=["math"], slots=["sat_morning"])
    second = await enrol(client, village, programme, subjects=["math", "english"],
                         slots=["sat_morning", "sun_evening"])  # fmt: skip
    await enrol(client, village, programme, subjects=["chemistry"], slots=["sat_morning"])
    tutor = await donor_headers(client)
    await sign_up(client, tutor, programme, TUTOR)
    result = await run(client, county, programme)
    # One place, two feasible students: the one sharing more subjects and slots wins it.
    assert (result["students_waiting"], result["capacity"], result["paired"]) == (3, 1, 1)
    (pairing,) = result["pairings"]
    assert pairing["student_id"] == second["id"] != math_student["id"]
    assert pairing["score"] == 4
    path = f"/api/v1/programme-pairings/{pairing['id']}"
    lesson = {"held_on": TODAY.isoformat(), "minutes": 45, "note": "讲解一次函数"}
    assert (await client.post(f"{path}/sessions", json=lesson, headers=tutor)).status_code == 201
    early = {**lesson, "held_on": (TODAY - dt.timedelta(days=30)).isoformat()}
    assert_problem(await client.post(f"{path}/sessions", json=early, headers=tutor), 422,
                   "session_outside_term")  # fmt: skip
    read = (await client.get(path, headers=tutor)).json()
    assert (read["sessions_held"], read["sessions_planned"], read["success"]) == (1, 16, 1 / 16)
    # The tutor does not renew; the admin does, and a stale state is refused with the allowed.
    assert_problem(await client.post(f"{path}/renew", headers=tutor), 403, "admin_only")
    renewed = (await client.post(f"{path}/renew", headers=county)).json()
    assert (renewed["renewals"], renewed["sessions_planned"]) == (1, 32)
    assert renewed["ends_on"] > pairing["ends_on"]
    assert (await client.post(f"{path}/complete", headers=village)).status_code == 200
    refused = assert_problem(await client.post(f"{path}/pause", headers=county), 409,
                             "invalid_transition")  # fmt: skip
    assert refused["allowed"] == []


async def test_a_village_admin_enrols_only_households_of_its_village(
    app: FastAPI, client: AsyncClient
) -> None:
    county = await admin_headers(app, client, "county", "430525")
    village = await admin_headers(app, client, "village", DONGKOU_VILLAGE)
    other = await admin_headers(app, client, "village", OTHER_VILLAGE)
    programme = await create(client, county, SPONSORSHIP)
    household = await make_household(client, other, OTHER_VILLAGE)
    response = await client.post(
        f"/api/v1/programmes/{programme['id']}/students",
        json={"household_id": household["id"], "grade": 3},
        headers=village,
    )
    assert_problem(response, 404, "household_not_found")
    assert_problem(await client.post("/api/v1/programmes", json=SPONSORSHIP, headers=village),
                   403, "not_allowed")  # fmt: skip


async def test_sponsors_serve_their_region_and_their_terms_are_scheduled(
    app: FastAPI, client: AsyncClient
) -> None:
    county = await admin_headers(app, client, "county", "430525")
    village = await admin_headers(app, client, "village", DONGKOU_VILLAGE)
    programme = await create(client, county, SPONSORSHIP)
    students = [await enrol(client, village, programme) for _ in range(3)]
    # 250,000 fen pays two terms of 100,000: two students, though it would take five.
    sponsor = await donor_headers(client)
    body = {"amount_fen": 250_000, "region": DONGKOU_VILLAGE[:9], "max_students": 5}
    await sign_up(client, sponsor, programme, body)
    elsewhere = await donor_headers(client)
    await sign_up(client, elsewhere, programme, {"amount_fen": 100_000, "region": "430525102"})
    repeated = await client.post(
        f"/api/v1/programmes/{programme['id']}/volunteers", json=body, headers=sponsor
    )
    assert_problem(repeated, 409, "already_signed_up")
    result = await run(client, county, programme)
    assert result["paired"] == 2
    assert {p["student_id"] for p in result["pairings"]} < {s["id"] for s in students}
    again = await run(client, county, programme)
    assert again["paired"] == 0
    async with app.state.database.sessionmaker() as session:
        payments = (await session.scalars(select(SponsorshipPayment))).all()
    assert sorted((p.term, p.amount_fen) for p in payments) == [(1, 100_000), (1, 100_000)]
    too_little = {"amount_fen": 50_000}
    assert_problem(
        await client.post(f"/api/v1/programmes/{programme['id']}/volunteers", json=too_little,
                          headers=await donor_headers(client)),
        422, "programme_terms",
    )  # fmt: skip
