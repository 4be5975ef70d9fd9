"""户帮户亲帮亲 in the simulation: a helper and a liaison for every key household, and help acts.

Dongkou named 1,274 key households, appointed 345 liaisons and counted 44,503 help acts in a
year. The simulated county keeps those ratios for its own key households: one helper each (a
new person of the household's village), one liaison per 1,274/345 ≈ 3.7 key households of a
township (shared in turn), and about 44,503/1,274 ≈ 35 acts per key household a year. People are
registered and assigned through the helpers service by the township's admin; each month's acts
are written at the month's start, dated on days of the month, by the household's helper or
liaison. A stream of random numbers of its own leaves every other draw of the simulation as it
was.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass, field

from sqlalchemy import insert

from app.core.db import clock_at, utcnow
from app.helpers import service as helpers_service
from app.helpers.models import HelpAct
from app.helpers.schemas import HelperAssign
from app.simulation.state import County

KEY_HOUSEHOLDS = 1_274
LIAISONS = 345
ACTS_PER_YEAR = 44_503
KINDS = ("visit", "care", "production", "schooling", "health", "other")
KIND_WEIGHTS = (40, 25, 15, 8, 8, 4)
NOTES = {
    "visit": "上门走访，了解近况", "care": "帮助打扫卫生、照料老人", "production": "帮忙农活",
    "schooling": "辅导孩子作业", "health": "陪同就医、送药", "other": "其他帮扶",
}  # fmt: skip
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "建军志华秀兰国庆春燕海波丽萍德福玉梅"


@dataclass
class Helping:
    """Each key household's village, helper and liaison; the acts written so far."""

    villages: dict[int, str] = field(default_factory=dict)
    people: dict[int, tuple[int, int]] = field(default_factory=dict)
    acts: int = 0


def _stream(county: County) -> random.Random:
    return random.Random(county.seed * 104729 + 15)


def _person(rng: random.Random) -> tuple[str, str]:
    name = rng.choice(SURNAMES) + "".join(rng.sample(GIVEN, 2))
    return name, f"1{rng.choice('3578')}{rng.randrange(10**9):09d}"


async def assign(county: County) -> Helping:
    """Give every key household a helper and a liaison, through the helpers service."""
    rng = _stream(county)
    key = [(household, village) for household, village, is_key in county.households if is_key]
    by_township: dict[str, list[tuple[int, str]]] = {}
    for household, village in key:
        by_township.setdefault(village[:9], []).append((household, village))
    helping = Helping(villages=dict(key))
    with clock_at(county.at(-1)):
        await _assign_all(county, rng, by_township, helping)
    return helping


async def _assign_all(
    county: County,
    rng: random.Random,
    by_township: dict[str, list[tuple[int, str]]],
    helping: Helping,
) -> None:
    """Each township's admin assigns its key households in two lots (`assign_many`): first
    every new person, in the order they would be registered one by one (a household's helper,
    then its liaison if it is one of the township's first), then the liaisons shared in turn."""
    async with county.database.write_sessionmaker.begin() as session:
        for township, households in sorted(by_township.items()):
            admin = county.admins[township]
            wanted = math.ceil(len(households) * LIAISONS / KEY_HOUSEHOLDS)
            new: list[tuple[int, HelperAssign]] = []
            for index, (household, _) in enumerate(households):
                name, phone = _person(rng)
                new.append((household, HelperAssign(role="helper", name=name, phone=phone)))
                if index < wanted:
                    name, phone = _person(rng)
                    liaison = HelperAssign(
                        role="liaison", name=name, phone=phone, region_code=township
                    )
                    new.append((household, liaison))
            ids = iter(await helpers_service.assign_many(session, county.vault, admin, new))
            liaisons: list[int] = []
            for index, (household, _) in enumerate(households):
                helper = next(ids)
                if index < wanted:
                    liaisons.append(next(ids))
                helping.people[household] = (helper, liaisons[index % wanted])
            shared = [
                (household, HelperAssign(role="liaison", helper_id=liaisons[index % wanted]))
                for index, (household, _) in enumerate(households)
                if index >= wanted
            ]
            await helpers_service.assign_many(session, county.vault, admin, shared)


async def month_of_acts(county: County, helping: Helping, first: dt.date) -> None:
    """The help acts of the month beginning ``first`` for every key household."""
    rng = random.Random(county.seed * 104729 + first.toordinal())
    days = ((first + dt.timedelta(days=32)).replace(day=1) - first).days
    mean = ACTS_PER_YEAR / KEY_HOUSEHOLDS * days / 365
    rows = []
    now = utcnow()
    for household, (helper, liaison) in sorted(helping.people.items()):
        village = helping.villages[household]
        admin = county.admins[village[:9]]
        for _ in range(_poisson(rng, mean)):
            kind = rng.choices(KINDS, KIND_WEIGHTS)[0]
            rows.append(
                {
                    "household_id": household, "helper_id": rng.choice((helper, helper, liaison)),
                    "village_code": village, "county_code": village[:6],
                    "acted_on": first + dt.timedelta(days=rng.randrange(days)), "kind": kind,
                    "note": NOTES[kind], "recorded_by_id": admin.id, "created_at": now,
                }
            )  # fmt: skip
    if rows:
        async with county.database.write_sessionmaker.begin() as session:
            await session.execute(insert(HelpAct), rows)
    helping.acts += len(rows)


def _poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw (Knuth's method: the means here are small)."""
    limit, k, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        k += 1
        product *= rng.random()
    return k
