"""The county at the start: its admins, households and donors, registered through the service."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from app.accounts import service as accounts_service
from app.accounts.schemas import AdminCreate, Register
from app.core.db import clock_at
from app.core.idcard import check_digit
from app.core.security import Passwords
from app.core.settings import Settings
from app.households import service as households_service
from app.households.schemas import HouseholdCreate
from app.regions.models import Region
from app.simulation.profiles import CATEGORY_SHARE, DonorKind
from app.simulation.state import County, Donor

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
)
GIVEN = "建国志强秀英桂兰明华春梅海燕国平丽娟德胜玉兰红霞小军永福金花家明"


async def setup(county: County) -> None:
    """Admins, households and donors, registered through the service."""
    profile = county.profile
    async with county.database.sessionmaker() as session:
        townships = list(
            (
                await session.scalars(
                    select(Region.code)
                    .where(Region.parent_code == profile.county, Region.level == "township")
                    .order_by(Region.code)
                )
            ).all()
        )
        if profile.townships is not None:
            townships = townships[: profile.townships]
        county.villages = list(
            (
                await session.scalars(
                    select(Region.code)
                    .where(Region.parent_code.in_(townships), Region.level == "village")
                    .order_by(Region.code)
                )
            ).all()
        )
    if not county.villages:
        raise RuntimeError(f"no villages of county {profile.county} are loaded")
    county.remote = set(
        county.rng.sample(county.villages, round(len(county.villages) * profile.remote_share))
    )
    passwords = _SharedHash(county.settings)
    password = "simulated-account"
    with clock_at(county.at(-30)):
        async with county.database.write_sessionmaker.begin() as session:
            county.admins[profile.county] = await accounts_service.create_admin(
                session, passwords, None,
                AdminCreate(username=f"sim-{profile.county}", password=password,
                            role="county", scope=profile.county),
            )  # fmt: skip
            for township in townships:
                county.admins[township] = await accounts_service.create_admin(
                    session, passwords, None,
                    AdminCreate(username=f"sim-{township}", password=password,
                                role="township", scope=township),
                )  # fmt: skip
        for first in range(0, profile.households, 2000):
            drawn = [
                _household(county, serial)
                for serial in range(first, min(first + 2000, profile.households))
            ]
            async with county.database.write_sessionmaker.begin() as session:
                ids = await households_service.register_many(
                    session, county.vault, [(county.admins[d.village_code[:9]], d) for d in drawn]
                )
            county.households.extend(
                (household, d.village_code, d.key_household)
                for household, d in zip(ids, drawn, strict=True)
            )
        kinds = [
            (kind, _donor(county, kind, townships))
            for kind in profile.kinds
            for _ in range(kind.count)
        ]
        for first in range(0, len(kinds), 2000):
            batch = kinds[first : first + 2000]
            async with county.database.write_sessionmaker.begin() as session:
                users = await accounts_service.register_donors(
                    session, passwords,
                    [_registration(kind, first + number, password)
                     for number, (kind, _) in enumerate(batch, start=1)],
                )  # fmt: skip
            county.donors.extend(
                Donor(user=user, kind=kind, **drawing)
                for user, (kind, drawing) in zip(users, batch, strict=True)
            )


def _household(county: County, serial: int) -> HouseholdCreate:
    """The registration of a household, drawn."""
    rng = county.rng
    village = rng.choice(county.villages)
    born = dt.date(1940, 1, 1) + dt.timedelta(days=rng.randrange(0, 60 * 365))
    # The serial's thousands go into the place code's last digits to keep numbers unique.
    first17 = f"{county.profile.county[:4]}{serial // 1000:02d}{born:%Y%m%d}{serial % 1000:03d}"
    key = rng.random() < 0.12
    return HouseholdCreate(
        village_code=village,
        head_name=rng.choice(SURNAMES) + "".join(rng.sample(GIVEN, 2)),
        id_number=first17 + check_digit(first17),
        phone=f"1{rng.choice('3578')}{rng.randrange(10**9):09d}",
        size=rng.choice((1, 2, 2, 3, 3, 4, 4, 5, 6)),
        support_category=rng.choices(
            ("poor", "dibao", "tekun", "edge", "other"), (60, 20, 8, 10, 2)
        )[0],
        key_household=key,
    )


def _registration(kind: DonorKind, number: int, password: str) -> Register:
    return Register(
        username=f"sim-donor-{number}", password=password,
        display_name=f"爱心{kind.name}{number}", kind=kind.name,
    )  # fmt: skip


def _donor(county: County, kind: DonorKind, townships: list[str]) -> dict[str, Any]:
    """What is drawn of a donor of ``kind`` (all but its account, registered in bulk)."""
    rng = county.rng
    low, high = kind.yearly_units
    categories = tuple(rng.sample(list(CATEGORY_SHARE), 2 if kind.pools else len(CATEGORY_SHARE)))
    reach = rng.choice(kind.reach)
    reliability = rng.gauss(0.0, county.profile.truth.donor_spread)
    units = rng.randint(low, high)
    home = "" if reach == "anywhere" else rng.choice(townships)
    return {
        "home": home, "reach": reach, "reliability": reliability, "units": units,
        "categories": categories,
    }  # fmt: skip


class _SharedHash(Passwords):
    """Simulated accounts never sign in: one real argon2id hash, computed once, serves all."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self._shared: str | None = None

    async def hash(self, password: str) -> str:
        if self._shared is None:
            self._shared = await super().hash(password)
        return self._shared
