"""The reads that check the caller's account in their own statement refuse as every request does.

``GET /me``, a page of needs and one need read the account, whether its session was signed out,
and what they answer in one statement (:func:`app.accounts.deps.account_and_rows`). Whatever the
rows, a disabled account, an ended session or a token whose role changed gets the same 401 as
anywhere else, before the 403 of a status a donor may not browse; and an empty page or a need
out of sight is still an answer of its own (200 with no items, 404), not a refusal.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from httpx import AsyncClient

from app.core.vocabulary import CATEGORIES
from tests.factories import (
    DONGKOU_VILLAGE,
    OTHER_VILLAGE,
    admin_headers,
    assert_problem,
    donor_headers,
    make_admin,
    make_household,
    post_need,
    sign_in,
)

NEEDS = "/api/v1/needs"
SORTS = ("newest", "urgent", "deadline")
# Each sort's order, by the fields of the items (ISO times and days sort as they read).
ORDERS: dict[str, tuple[Callable[[dict[str, Any]], tuple[Any, ...]], bool]] = {
    "newest": (lambda item: (item["created_at"], item["id"]), True),
    "urgent": (lambda item: (item["urgency"], item["created_at"], item["id"]), True),
    "deadline": (lambda item: (item["deadline"], item["id"]), False),
}
Headers = dict[str, str]


async def _need(client: AsyncClient, admin: Headers, village: str = DONGKOU_VILLAGE) -> int:
    household = await make_household(client, admin, village_code=village)
    need_id = (await post_need(client, admin, household["id"]))["id"]
    assert isinstance(need_id, int)
    return need_id


def _reads(need_id: int) -> list[tuple[str, dict[str, Any]]]:
    """Each read of the kind, with the parameters that make it answer from its own rows."""
    return [
        ("/api/v1/me", {}),
        (NEEDS, {"limit": 1}),
        (NEEDS, {"limit": 1, "sort": "urgent"}),
        (NEEDS, {"limit": 1, "sort": "deadline"}),
        (f"{NEEDS}/{need_id}", {}),
    ]


async def test_a_disabled_account_gets_401_from_every_such_read(
    app: FastAPI, client: AsyncClient
) -> None:
    county = await admin_headers(app, client, "county", "430525")
    need_id = await _need(client, county)
    officer = await make_admin(app, "village", DONGKOU_VILLAGE)
    headers = await sign_in(client, officer.username)
    for path, params in _reads(need_id):
        assert (await client.get(path, params=params, headers=headers)).status_code == 200, path

    disabled = await client.post(f"/api/v1/admins/{officer.id}/disable", headers=county)
    assert disabled.status_code == 200, disabled.text

    for path, params in _reads(need_id):
        response = await client.get(path, params=params, headers=headers)
        body = assert_problem(response, 401, "account_disabled")
        assert "items" not in body, path
        assert "id" not in body, path
    # Not the 403 of a status only admins browse: the account is refused first.
    claimed = await client.get(NEEDS, params={"status": "claimed"}, headers=headers)
    assert_problem(claimed, 401, "account_disabled")


async def test_a_signed_out_session_gets_401_from_every_such_read(
    app: FastAPI, client: AsyncClient
) -> None:
    county = await admin_headers(app, client, "county", "430525")
    need_id = await _need(client, county)
    donor = await donor_headers(client)
    for path, params in _reads(need_id):
        assert (await client.get(path, params=params, headers=donor)).status_code == 200, path

    assert (await client.post("/api/v1/auth/logout", headers=donor)).status_code == 204

    for path, params in _reads(need_id):
        response = await client.get(path, params=params, headers=donor)
        assert_problem(response, 401, "session_ended")
    claimed = await client.get(NEEDS, params={"status": "claimed"}, headers=donor)
    assert_problem(claimed, 401, "session_ended")


async def test_a_token_without_an_account_behind_it_gets_401(
    app: FastAPI, client: AsyncClient
) -> None:
    donor = await donor_headers(client)
    token = donor["Authorization"].removeprefix("Bearer ")
    claims = app.state.tokens.read_access(token)
    stranger = app.state.tokens.issue_access(
        claims.user_id + 10_000,
        claims.role,
        claims.scope,
        family=claims.family,
        generation=claims.generation,
        now=claims.expires_at - app.state.tokens.access_lifetime,
    )
    headers = {"Authorization": f"Bearer {stranger}"}
    for path, params in _reads(1):
        assert_problem(
            await client.get(path, params=params, headers=headers), 401, "account_disabled"
        )


async def test_an_empty_page_and_a_need_out_of_sight_are_answers_not_refusals(
    app: FastAPI, client: AsyncClient
) -> None:
    county = await admin_headers(app, client, "county", "430525")
    elsewhere = await _need(client, county, OTHER_VILLAGE)
    officer = await admin_headers(app, client, "village", DONGKOU_VILLAGE)
    donor = await donor_headers(client)

    for sort in SORTS:
        page = await client.get(NEEDS, params={"sort": sort, "category": "health"}, headers=officer)
        assert page.status_code == 200, page.text
        assert page.json() == {"items": [], "next_cursor": None}
        nothing = await client.get(
            NEEDS, params={"sort": sort, "region": "430525102"}, headers=donor
        )
        assert nothing.status_code == 200, nothing.text
        assert nothing.json()["items"] == []

    assert_problem(await client.get(f"{NEEDS}/{elsewhere}", headers=officer), 404, "need_not_found")
    seen = await client.get(f"{NEEDS}/{elsewhere}", headers=donor)
    assert seen.status_code == 200, seen.text
    assert seen.json()["id"] == elsewhere


async def test_pages_keep_their_order_and_their_cursors_in_every_sort(
    app: FastAPI, client: AsyncClient
) -> None:
    county = await admin_headers(app, client, "county", "430525")
    household = await make_household(client, county, village_code=DONGKOU_VILLAGE)
    for index, category in enumerate(CATEGORIES[:7]):  # one open need a category
        await post_need(
            client,
            county,
            household["id"],
            category=category,
            urgency=1 + index % 3,
            deadline=f"2027-0{1 + index % 4}-1{index}",
        )
    donor = await donor_headers(client)
    for sort in SORTS:
        whole = await client.get(NEEDS, params={"sort": sort, "limit": 100}, headers=donor)
        assert whole.status_code == 200, whole.text
        items = whole.json()["items"]
        key, descending = ORDERS[sort]
        assert items == sorted(items, key=key, reverse=descending)
        expected = [item["id"] for item in items]
        assert len(expected) == 7

        seen: list[int] = []
        params: dict[str, Any] = {"sort": sort, "limit": 2}
        while True:
            page = await client.get(NEEDS, params=params, headers=donor)
            assert page.status_code == 200, page.text
            seen += [item["id"] for item in page.json()["items"]]
            if page.json()["next_cursor"] is None:
                break
            params["cursor"] = page.json()["next_cursor"]
        assert seen == expected
