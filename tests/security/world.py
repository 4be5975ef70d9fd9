"""One world for the access tests: records in village A and outside it, a caller of each role.

Village A (430525101201 江口村) lies in township 430525101 (江口镇) of county 430525 (洞口县).
Outside it: village B of the same township, village C of another township (430525102201 山阳村,
毓兰镇), and village D of another county (430524, 隆回县). The bundled data has villages for 430525
only, so D is loaded as one extra region row for the length of the test.

Every record is made through the API, as a caller of the right role would make it.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from fastapi import FastAPI
from httpx import AsyncClient, Response
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.models import metadata
from tests.factories import (
    PASSWORD,
    id_number,
    make_admin,
    phone_number,
    post_need,
    register_donor,
    sign_in,
    unique,
)
from tests.funds.simulator import Simulator

VILLAGE_A, VILLAGE_B = "430525101201", "430525101202"
VILLAGE_C, VILLAGE_D = "430525102201", "430524101201"
TOWNSHIP_A, OTHER_TOWNSHIP = "430525101", "430525102"
COUNTY_A, OTHER_COUNTY = "430525", "430524"
VILLAGE_D_ROW = {
    "code": VILLAGE_D,
    "name": "隆回县测试村",
    "level": "village",
    "parent_code": VILLAGE_D[:9],
}

Role = Literal[
    "anonymous",
    "donor",
    "other_donor",
    "village_in",
    "village_out",
    "township_in",
    "township_out",
    "county_in",
    "county_out",
    "platform",
]
ROLES: tuple[Role, ...] = get_args(Role)
DONORS: tuple[Role, ...] = ("donor", "other_donor")
# The admin roles: (role, scope). "in" covers village A, "out" does not.
ADMINS: dict[Role, tuple[str, str]] = {
    "village_in": ("village", VILLAGE_A),
    "village_out": ("village", VILLAGE_B),
    "township_in": ("township", TOWNSHIP_A),
    "township_out": ("township", OTHER_TOWNSHIP),
    "county_in": ("county", COUNTY_A),
    "county_out": ("county", OTHER_COUNTY),
    "platform": ("platform", ""),
}
# Who registers the households of each village (an admin whose scope covers it).
KEEPER: dict[str, Role] = {
    VILLAGE_A: "village_in",
    VILLAGE_B: "village_out",
    VILLAGE_C: "township_out",
    VILLAGE_D: "county_out",
}
HEAD_NAMES = {VILLAGE_A: "刘德华", VILLAGE_B: "王建国", VILLAGE_C: "李秀英", VILLAGE_D: "张桂兰"}
Headers = dict[str, str]
_categories = itertools.cycle(
    ["goods", "schooling", "employment", "service", "skills", "housing", "industry"]
)


def ok(response: Response, *statuses: int) -> dict[str, Any]:
    """The body of a response that had to succeed (the world is built, not tested)."""
    assert response.status_code in (statuses or (200, 201)), response.text
    body: dict[str, Any] = response.json()
    return body


@dataclass
class World:
    """The callers and the records they act on, with the region code of each record."""

    app: FastAPI
    client: AsyncClient
    engine: AsyncEngine
    payments: Simulator  # WeChat Pay, whose merchant the app is
    headers: dict[Role, Headers] = field(default_factory=dict)
    ids: dict[Role, int] = field(default_factory=dict)
    usernames: dict[Role, str] = field(default_factory=dict)
    # Personal data of the households, by village: names, ID numbers, phone numbers.
    personal: dict[str, set[str]] = field(default_factory=dict)
    households: dict[int, str] = field(default_factory=dict)
    published: dict[int, str] = field(default_factory=dict)
    pairings: dict[int, tuple[str, Role]] = field(default_factory=dict)
    offers: dict[int, tuple[str, Role]] = field(default_factory=dict)
    runs: dict[int, str] = field(default_factory=dict)
    admins: dict[int, str] = field(default_factory=dict)
    records: dict[str, int] = field(default_factory=dict)
    # The category of every need made from now on (see of_category); None: the categories in turn.
    category: str | None = None

    def scope(self, role: Role) -> str | None:
        """The admin's scope code; None for donors and anonymous callers."""
        return ADMINS[role][1] if role in ADMINS else None

    # -- making records ---------------------------------------------------------------------

    async def household(self, village: str = VILLAGE_A) -> int:
        """A household registered by the admin who keeps ``village``."""
        number, phone, name = id_number(), phone_number(), HEAD_NAMES[village]
        body = {
            "village_code": village, "head_name": name, "id_number": number, "phone": phone,
            "size": 3, "support_category": "poor", "key_household": False,
        }  # fmt: skip
        headers = self.headers[KEEPER[village]]
        created = ok(await self.client.post("/api/v1/households", json=body, headers=headers))
        self.personal.setdefault(village, set()).update({name, number, phone})
        self.households[created["id"]] = village
        return int(created["id"])

    async def need(
        self, state: str = "published", village: str = VILLAGE_A, category: str | None = None
    ) -> dict[str, Any]:
        """A need of a new household in ``village``, brought to ``state`` (claims by donor)."""
        household = await self.household(village)
        keeper = self.headers[KEEPER[village]]
        origin = "household" if state == "pending_review" else "admin"
        category = category or self.category or next(_categories)
        need = await post_need(self.client, keeper, household, category=category, origin=origin)
        assert need["category"] == category, need
        steps = {"claimed": ["claim"], "delivered": ["claim", "deliver"]}.get(state, [])
        for step in steps:
            url = f"/api/v1/needs/{need['id']}/{step}"
            need = ok(await self.client.post(url, headers=self.headers["donor"]))["need"]
        assert need["status"] == state, need
        return need

    async def of_category(self, category: str) -> None:
        """Make every need from now on of ``category``: the claimed need that reads act on, a
        published need in each village of the county, and each need a call brings along."""
        self.category = category
        claimed = await self.need("published", VILLAGE_A)
        self.pairings[await self.claim(claimed["id"], "donor")] = (VILLAGE_A, "donor")
        self.records["claimed_need"] = claimed["id"]
        self.records.pop("delivery_photo", None)
        for village in (VILLAGE_A, VILLAGE_B, VILLAGE_C):
            need = await self.need("published", village)
            self.published[need["id"]] = village

    async def claim(self, need_id: int, donor: Role) -> int:
        """Claim a need as ``donor``; the new pairing's id."""
        url = f"/api/v1/needs/{need_id}/claim"
        pairing = ok(await self.client.post(url, headers=self.headers[donor]))["pairing"]
        return int(pairing["id"])

    async def offer(self, donor: Role, preference: str, category: str = "health") -> int:
        """An open offer of ``donor`` preferring ``preference``."""
        body = {
            "category": category, "title": "义诊", "description": "乡村义诊一次",
            "capacity": 100, "region_preference": preference,
        }  # fmt: skip
        offer = ok(await self.client.post("/api/v1/offers", json=body, headers=self.headers[donor]))
        self.offers[offer["id"]] = (preference, donor)
        return int(offer["id"])

    async def run(self, admin: Role, scope: str, **fields: object) -> dict[str, Any]:
        """A matching run of the health needs of ``scope``, started by ``admin``."""
        body = {"scope": scope, "categories": ["health"], **fields}
        run = ok(
            await self.client.post("/api/v1/matching/runs", json=body, headers=self.headers[admin])
        )
        self.runs[run["id"]] = scope
        return run

    async def proposal(
        self, admin: Role = "township_in", village: str = VILLAGE_A
    ) -> dict[str, Any]:
        """A fresh proposal: a new health need in ``village`` matched to an open health offer."""
        need = await self.need("published", village, category="health")
        scope = village[:9]
        run = await self.run(admin, scope)
        url = f"/api/v1/matching/runs/{run['id']}/pairings"
        items = ok(await self.client.get(url, headers=self.headers[admin]))["items"]
        [pairing] = [item for item in items if item["need_id"] == need["id"]]
        donor: Role = "donor" if pairing["donor_id"] == self.ids["donor"] else "other_donor"
        self.pairings[pairing["id"]] = (village, donor)
        return dict(pairing)

    async def refresh_token(self) -> str:
        """A refresh token of the donor, not used yet."""
        response = await self.client.post(
            "/api/v1/auth/token", data={"username": self.usernames["donor"], "password": PASSWORD}
        )
        return str(ok(response)["refresh_token"])


async def build(
    app: FastAPI, client: AsyncClient, engine: AsyncEngine, payments: Simulator
) -> World:
    """Callers of every role, and records in and out of village A, through the API."""
    world = World(app, client, engine, payments, headers={"anonymous": {}})
    for role, (admin_role, scope) in ADMINS.items():
        admin = await make_admin(app, admin_role, scope)
        world.headers[role] = await sign_in(client, admin.username)
        world.ids[role], world.usernames[role] = admin.id, admin.username
        world.admins[admin.id] = scope
    for role in DONORS:
        donor = await register_donor(client, username=unique(role.replace("_", "-")))
        world.usernames[role], world.ids[role] = str(donor["username"]), int(str(donor["id"]))
        world.headers[role] = await sign_in(client, world.usernames[role])

    claimed = await world.need("published", VILLAGE_A, category="goods")
    world.pairings[await world.claim(claimed["id"], "donor")] = (VILLAGE_A, "donor")
    world.records["claimed_need"] = claimed["id"]
    for village in (VILLAGE_A, VILLAGE_B, VILLAGE_C):
        need = await world.need("published", village, category="schooling")
        world.published[need["id"]] = village
    for village in (VILLAGE_B, VILLAGE_C):
        need = await world.need("published", village, category="goods")
        world.pairings[await world.claim(need["id"], "other_donor")] = (village, "other_donor")

    world.records["offer"] = await world.offer("donor", VILLAGE_A)
    await world.offer("other_donor", COUNTY_A, category="goods")
    await world.offer("other_donor", OTHER_COUNTY)
    matchers: tuple[tuple[Role, str], ...] = (("county_out", VILLAGE_D), ("township_in", VILLAGE_A))
    for matcher, village in matchers:
        proposal = await world.proposal(matcher, village)
        world.published[proposal["need_id"]] = village  # a proposal keeps its need published
    world.records["proposal"] = proposal["id"]  # the donor's, in village A
    world.records["run"] = min(run for run, scope in world.runs.items() if scope == TOWNSHIP_A)
    world.records["household"] = min(h for h, v in world.households.items() if v == VILLAGE_A)
    world.records["admin"] = world.ids["village_in"]
    return world


def current_quarter() -> str:
    """This quarter in CST, as the rankings take it (e.g. 2026Q4)."""
    today = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=8)).date()
    return f"{today.year}Q{(today.month - 1) // 3 + 1}"


async def database_state(engine: AsyncEngine) -> dict[str, int]:
    """Rows per table, versions per versioned table, consents: what any write changes.

    Every state change of a need, offer or pairing also appends an event, so a refused request
    that wrote anything at all moves at least one of these figures.
    """
    figures: dict[str, Any] = {}
    for table in metadata.sorted_tables:
        figures[table.name] = select(func.count()).select_from(table).scalar_subquery()
        if "version" in table.c:
            total = func.coalesce(func.sum(table.c.version), 0)
            figures[f"{table.name}.version"] = select(total).scalar_subquery()
    users = metadata.tables["users"]
    consents = select(func.count()).select_from(users).where(users.c.honour_roll.is_(True))
    figures["users.honour_roll"] = consents.scalar_subquery()
    async with engine.connect() as connection:
        row = (await connection.execute(select(*figures.values()))).one()
    return {name: int(value) for name, value in zip(figures, row, strict=True)}
