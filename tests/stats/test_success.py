"""Success rates by publish cohort, against figures worked out by hand.

The cohorts (UTC timestamps; CST is UTC+8). Villages A 430525101201 and A2 430525101202 lie in
township 101 (江口镇), B 430525102201 in township 102 (毓兰镇). Donors D1 and D4 are
individuals, D2 an organisation, D3 an enterprise.

need village category  published (CST month)     status     days  its pairings
N1   A       goods     01-05 02:00 (Jan)         fulfilled  10    P1 claim D1 confirmed
N2   A2      schooling 01-10 00:00 (Jan)         fulfilled  4     P2 match D4 declined (never
                                                                  held), P3 match D2 confirmed
N3   A       goods     01-20 00:00 (Jan)         published        P4 claim D1 released (held
                                                                  01-21), P10 match D3 expired
                                                                  (held 01-25), P9 match D2
                                                                  proposed
N4   B       goods     01-25 00:00 (Jan)         fulfilled  2     P5 claim D3 confirmed
N5   A       health    03-31 20:00 (Apr!)        claimed          P7 match D4 expired (never
                                                                  held), P6 match D4 active
N6   B       goods     03-10 00:00 (Mar)         expired
N7   B       goods     03-15 00:00 (Mar)         fulfilled  1.5   P8 match D3 confirmed
N11  A2      service   2025-12-31 16:00 (Jan 1)  cancelled
left out of from=2026-01-01, to=2026-05-01:
N8   A       goods     2025-12-31 15:00 (Dec)    fulfilled
N9   B       goods     04-30 16:00 (May 1)       published
N10  A       goods     never published           pending_review
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import AsyncClient

from app.stats.periods import CST
from tests.factories import admin_headers
from tests.stats.rows import Headers, get_json, rows, utc

A, A2, B = "430525101201", "430525101202", "430525102201"
T101, T102 = "430525101", "430525102"
RANGE = "from=2026-01-01&to=2026-05-01"
MONTHS = ["2026-01", "2026-02", "2026-03", "2026-04"]
ZERO = {
    "published": 0, "matched": 0, "fulfilled": 0, "success_rate": None, "proposals": 0,
    "accepted": 0, "acceptance_rate": None, "pairings_ended": 0, "pairings_confirmed": 0,
    "fulfilment_rate": None, "median_days_to_fulfil": None,
}  # fmt: skip


def figures(
    published: int, matched: int, fulfilled: int, proposals: int, accepted: int,
    ended: int, confirmed: int, median: float | None,
) -> dict[str, Any]:  # fmt: skip
    def rate(numerator: int, denominator: int) -> float | None:
        return numerator / denominator if denominator else None

    return {
        "published": published, "matched": matched, "fulfilled": fulfilled,
        "success_rate": rate(fulfilled, published), "proposals": proposals,
        "accepted": accepted, "acceptance_rate": rate(accepted, proposals),
        "pairings_ended": ended, "pairings_confirmed": confirmed,
        "fulfilment_rate": rate(confirmed, ended), "median_days_to_fulfil": median,
    }  # fmt: skip


def group(body: dict[str, Any], key: str) -> dict[str, Any]:
    found: dict[str, Any] = next(g for g in body["groups"] if g["key"] == key)
    return found


def by_period(body: dict[str, Any], key: str) -> dict[str, dict[str, Any]]:
    periods = group(body, key)["periods"]
    return {p.pop("period"): p for p in periods}


def published_fulfilled(body: dict[str, Any], key: str) -> dict[str, tuple[int, int]]:
    return {
        period: (figures_["published"], figures_["fulfilled"])
        for period, figures_ in by_period(body, key).items()
    }


@pytest.fixture
async def county(app: FastAPI, client: AsyncClient) -> Headers:
    return await admin_headers(app, client, "county", "430525")


@pytest.fixture
async def cohorts(app: FastAPI, client: AsyncClient) -> None:
    async with rows(app) as r:
        d1, d2 = await r.donor(), await r.donor(kind="organization")
        d3, d4 = await r.donor(kind="enterprise"), await r.donor()

        n1 = await r.need(A, utc(2026, 1, 5, 2), status="fulfilled", fulfilled=utc(2026, 1, 15, 2))
        await r.pairing(
            n1, d1, village=A, status="confirmed", created=utc(2026, 1, 6),
            active=utc(2026, 1, 6), ended=utc(2026, 1, 15, 2),
        )  # fmt: skip
        n2 = await r.need(
            A2, utc(2026, 1, 10), category="schooling", status="fulfilled",
            fulfilled=utc(2026, 1, 14),
        )  # fmt: skip
        await r.pairing(
            n2, d4, village=A2, source="match", status="declined", created=utc(2026, 1, 10, 1),
            ended=utc(2026, 1, 11),
        )  # fmt: skip
        await r.pairing(
            n2, d2, village=A2, source="match", status="confirmed", created=utc(2026, 1, 11),
            active=utc(2026, 1, 12), ended=utc(2026, 1, 14),
        )  # fmt: skip
        n3 = await r.need(A, utc(2026, 1, 20))
        await r.pairing(
            n3, d1, village=A, status="released", created=utc(2026, 1, 21),
            active=utc(2026, 1, 21), ended=utc(2026, 1, 23),
        )  # fmt: skip
        await r.pairing(
            n3, d3, village=A, source="match", status="expired", created=utc(2026, 1, 24),
            active=utc(2026, 1, 25), ended=utc(2026, 2, 8),
        )  # fmt: skip
        await r.pairing(
            n3, d2, village=A, source="match", status="proposed", created=utc(2026, 2, 10)
        )
        n4 = await r.need(B, utc(2026, 1, 25), status="fulfilled", fulfilled=utc(2026, 1, 27))
        await r.pairing(
            n4, d3, village=B, status="confirmed", created=utc(2026, 1, 25, 6),
            active=utc(2026, 1, 25, 6), ended=utc(2026, 1, 27),
        )  # fmt: skip
        n5 = await r.need(A, utc(2026, 3, 31, 20), category="health", status="claimed")
        await r.pairing(
            n5, d4, village=A, source="match", status="expired", created=utc(2026, 4, 1),
            ended=utc(2026, 4, 4),
        )  # fmt: skip
        await r.pairing(
            n5, d4, village=A, source="match", status="active", created=utc(2026, 4, 4),
            active=utc(2026, 4, 5),
        )  # fmt: skip
        await r.need(B, utc(2026, 3, 10), status="expired")
        n7 = await r.need(B, utc(2026, 3, 15), status="fulfilled", fulfilled=utc(2026, 3, 16, 12))
        await r.pairing(
            n7, d3, village=B, source="match", status="confirmed", created=utc(2026, 3, 15, 8),
            active=utc(2026, 3, 15, 8), ended=utc(2026, 3, 16, 12),
        )  # fmt: skip
        await r.need(A2, utc(2025, 12, 31, 16), category="service", status="cancelled")
        await r.need(A, utc(2025, 12, 31, 15), status="fulfilled", fulfilled=utc(2026, 1, 3))
        await r.need(B, utc(2026, 4, 30, 16))
        await r.need(A, None, status="pending_review")


@pytest.mark.usefixtures("cohorts")
async def test_townships_by_month_match_the_hand_count(
    client: AsyncClient, county: Headers
) -> None:
    body = await get_json(client, f"/api/v1/stats/success?scope=430525&{RANGE}", county)
    assert (body["scope"], body["group_by"], body["period"]) == ("430525", "township", "month")
    assert (body["from"], body["to"]) == ("2026-01-01", "2026-05-01")
    assert by_period(body, T101) == {
        "2026-01": figures(4, 3, 2, proposals=3, accepted=2, ended=4, confirmed=2, median=7.0),
        "2026-02": ZERO,
        "2026-03": ZERO,
        "2026-04": figures(1, 1, 0, proposals=2, accepted=1, ended=0, confirmed=0, median=None),
    }
    assert by_period(body, T102) == {
        "2026-01": figures(1, 1, 1, proposals=0, accepted=0, ended=1, confirmed=1, median=2.0),
        "2026-02": ZERO,
        "2026-03": figures(2, 1, 1, proposals=1, accepted=1, ended=1, confirmed=1, median=1.5),
        "2026-04": ZERO,
    }


@pytest.mark.usefixtures("cohorts")
async def test_totals_cover_the_whole_range(client: AsyncClient, county: Headers) -> None:
    body = await get_json(client, f"/api/v1/stats/success?{RANGE}", county)
    assert group(body, T101)["totals"] == figures(
        5, 4, 2, proposals=5, accepted=3, ended=4, confirmed=2, median=7.0
    )
    assert group(body, T102)["totals"] == figures(
        3, 2, 2, proposals=1, accepted=1, ended=2, confirmed=2, median=1.75
    )


@pytest.mark.usefixtures("cohorts")
async def test_every_township_and_month_is_listed_even_when_empty(
    client: AsyncClient, county: Headers
) -> None:
    body = await get_json(client, f"/api/v1/stats/success?{RANGE}", county)
    townships = (await client.get("/api/v1/regions?parent=430525")).json()["items"]
    names = {t["code"]: t["name"] for t in townships}
    assert [g["key"] for g in body["groups"]] == sorted(names)
    assert group(body, T101)["name"] == names[T101] == "江口镇"
    for entry in body["groups"]:
        assert [p["period"] for p in entry["periods"]] == MONTHS
        if entry["key"] not in (T101, T102):
            assert entry["totals"] == ZERO
            assert all(p == {"period": p["period"], **ZERO} for p in entry["periods"])


@pytest.mark.usefixtures("cohorts")
async def test_categories_by_month_with_odd_and_even_medians(
    client: AsyncClient, county: Headers
) -> None:
    body = await get_json(client, f"/api/v1/stats/success?group_by=category&{RANGE}", county)
    assert [g["key"] for g in body["groups"]] == [
        "goods", "schooling", "health", "employment", "service", "skills", "housing", "industry",
    ]  # fmt: skip
    goods = by_period(body, "goods")
    assert (goods["2026-01"]["published"], goods["2026-01"]["fulfilled"]) == (3, 2)
    assert goods["2026-01"]["median_days_to_fulfil"] == 6.0  # (10 + 2) / 2
    assert goods["2026-03"]["median_days_to_fulfil"] == 1.5
    totals = group(body, "goods")["totals"]
    assert (totals["published"], totals["fulfilled"], totals["success_rate"]) == (5, 3, 0.6)
    assert totals["median_days_to_fulfil"] == 2.0  # the middle of 1.5, 2, 10
    assert published_fulfilled(body, "schooling")["2026-01"] == (1, 1)
    assert published_fulfilled(body, "health") == {
        "2026-01": (0, 0), "2026-02": (0, 0), "2026-03": (0, 0), "2026-04": (1, 0),
    }  # fmt: skip
    assert group(body, "service")["totals"]["success_rate"] == 0.0
    assert group(body, "skills")["totals"] == ZERO


@pytest.mark.usefixtures("cohorts")
async def test_a_need_published_at_20h_utc_on_31_march_counts_in_april(
    client: AsyncClient, county: Headers
) -> None:
    body = await get_json(client, f"/api/v1/stats/success?group_by=category&{RANGE}", county)
    health = by_period(body, "health")
    assert health["2026-03"]["published"] == 0
    assert health["2026-04"]["published"] == 1
    service = by_period(body, "service")  # published 2025-12-31 16:00 UTC: 1 January in CST
    assert service["2026-01"]["published"] == 1


@pytest.mark.usefixtures("cohorts")
async def test_source_is_that_of_the_pairing_that_last_held_the_need(
    client: AsyncClient, county: Headers
) -> None:
    body = await get_json(client, f"/api/v1/stats/success?group_by=source&{RANGE}", county)
    assert [g["key"] for g in body["groups"]] == ["claim", "match", "none"]
    # N3 was claimed (P4), then held through a proposal (P10): it counts as matched by a run.
    assert published_fulfilled(body, "claim")["2026-01"] == (2, 2)
    assert published_fulfilled(body, "match") == {
        "2026-01": (2, 1), "2026-02": (0, 0), "2026-03": (1, 1), "2026-04": (1, 0),
    }  # fmt: skip
    none = group(body, "none")["totals"]
    assert (none["published"], none["matched"], none["success_rate"]) == (2, 0, 0.0)


@pytest.mark.usefixtures("cohorts")
async def test_donor_kind_is_that_of_the_last_holder(client: AsyncClient, county: Headers) -> None:
    body = await get_json(client, f"/api/v1/stats/success?group_by=donor_kind&{RANGE}", county)
    assert [g["key"] for g in body["groups"]] == [
        "individual", "enterprise", "organization", "none",
    ]  # fmt: skip
    totals = {
        g["key"]: (g["totals"]["published"], g["totals"]["fulfilled"]) for g in body["groups"]
    }
    assert totals == {
        "individual": (2, 1),
        "enterprise": (3, 2),
        "organization": (1, 1),
        "none": (2, 0),
    }


@pytest.mark.usefixtures("cohorts")
async def test_quarters_bucket_in_cst(client: AsyncClient, county: Headers) -> None:
    body = await get_json(
        client, "/api/v1/stats/success?period=quarter&from=2026-01-01&to=2026-07-01", county
    )
    assert published_fulfilled(body, T101) == {"2026Q1": (4, 2), "2026Q2": (1, 0)}
    # N9, published 2026-04-30 16:00 UTC, is 1 May in CST: inside this range, in Q2.
    assert published_fulfilled(body, T102) == {"2026Q1": (3, 2), "2026Q2": (1, 0)}


@pytest.mark.usefixtures("cohorts")
async def test_villages_of_a_township_admin_only(app: FastAPI, client: AsyncClient) -> None:
    township = await admin_headers(app, client, "township", T101)
    body = await get_json(client, f"/api/v1/stats/success?group_by=village&{RANGE}", township)
    assert body["scope"] == T101
    villages = (await client.get(f"/api/v1/regions?parent={T101}")).json()["items"]
    assert [g["key"] for g in body["groups"]] == sorted(v["code"] for v in villages)
    assert published_fulfilled(body, A) == {
        "2026-01": (2, 1), "2026-02": (0, 0), "2026-03": (0, 0), "2026-04": (1, 0),
    }  # fmt: skip
    assert published_fulfilled(body, A2)["2026-01"] == (2, 1)
    assert sum(g["totals"]["published"] for g in body["groups"]) == 5  # nothing of township 102


@pytest.mark.usefixtures("cohorts")
async def test_a_village_scope_has_one_group(client: AsyncClient, county: Headers) -> None:
    url = f"/api/v1/stats/success?scope={A2}&group_by=township&{RANGE}"
    body = await get_json(client, url, county)
    assert [(g["key"], g["name"]) for g in body["groups"]] == [(T101, "江口镇")]
    assert group(body, T101)["totals"]["published"] == 2  # N2 and N11 only
    body = await get_json(client, url.replace("township", "village"), county)
    assert [g["key"] for g in body["groups"]] == [A2]


async def test_the_default_range_is_the_last_twelve_months(
    client: AsyncClient, county: Headers
) -> None:
    body = await get_json(client, "/api/v1/stats/success", county)
    today = dt.datetime.now(CST).date()
    periods = [p["period"] for p in body["groups"][0]["periods"]]
    assert len(periods) == 12
    assert periods[-1] == f"{today:%Y-%m}"
    assert body["to"] == (today.replace(day=1) + dt.timedelta(days=32)).replace(day=1).isoformat()
    assert body["definitions"]["success_rate"].startswith("对接成功率")
    quarters = await get_json(client, "/api/v1/stats/success?period=quarter", county)
    assert len(quarters["groups"][0]["periods"]) == 4
