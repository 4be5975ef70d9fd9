"""A simulated county: households, needs, donors and time, driven through the service layer.

Every change goes through the functions the API calls (registering households and donors,
posting needs and offers, claims, deliveries, confirmations, releases, matching runs and the
answers to proposals, the periodic lapsing and the success model's refresh), each in its own
savepoint, with the service's rules: a refused action (a 409 through the API) is counted and
the simulation goes on. The simulated clock (`app.core.db.clock_at`) gives every row its
simulated time. What donors do is decided by the hidden `Truth` of the profile, which the
service never sees.

One simulated day: the actions scheduled for the day in time order (one transaction, one
savepoint each), then the lapsing task at the end of the day. On the first day of a month the
pool donors post their offers and, under the ``claims+matching`` policy, the county admin starts
a matching run; the success model is re-learned.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import heapq
import itertools
import math
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts import service as accounts_service
from app.accounts.models import User
from app.accounts.schemas import AdminCreate, Register
from app.core.crypto import Vault
from app.core.db import Database, clock_at, utcnow
from app.core.errors import AppError
from app.core.idcard import check_digit
from app.core.security import Passwords
from app.core.settings import Settings
from app.households import service as households_service
from app.households.schemas import HouseholdCreate
from app.jobs import run_expiry
from app.matchmaking import learning, proposals
from app.matchmaking import service as matching_service
from app.matchmaking.schemas import RunCreate
from app.needs import lifecycle as needs_lifecycle
from app.needs import posting as needs_posting
from app.needs.schemas import NeedCreate
from app.offers import service as offers_service
from app.offers.schemas import OfferCreate
from app.pairings.models import Pairing
from app.regions.models import Region
from app.simulation.profiles import CATEGORY_SHARE, CATEGORY_VALUE, DonorKind, Profile

POLICIES = ("claims", "claims+matching")
CST = dt.timezone(dt.timedelta(hours=8))
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
)
GIVEN = "建国志强秀英桂兰明华春梅海燕国平丽娟德胜玉兰红霞小军永福金花家明"
# How much an individual donor is drawn to a need of each category when browsing.
APPEAL = {
    "goods": 1.0,
    "schooling": 1.0,
    "health": 0.7,
    "employment": 0.5,
    "service": 0.6,
    "skills": 0.5,
}
PAGE = 20
Action = Callable[[AsyncSession], Awaitable[None]]


@dataclass(slots=True)
class Donor:
    user: User
    kind: DonorKind
    home: str  # township code; "" for a donor from outside the county
    reach: str  # "township", "county" or "anywhere"
    reliability: float  # hidden: log-odds added to every delivery it attempts
    units: int  # needs it takes on in the year
    categories: tuple[str, ...]
    given: int = 0


@dataclass(slots=True)
class NeedState:
    id: int
    village: str
    township: str
    category: str
    urgency: int
    posted: dt.datetime
    deadline: dt.date
    remote: bool
    status: str = "published"  # as far as the simulation knows


@dataclass(slots=True)
class Counters:
    posts: int = 0
    posts_refused: int = 0
    claims: int = 0
    claims_refused: int = 0
    offers: int = 0
    runs: int = 0
    proposals: int = 0
    accepted: int = 0
    declined: int = 0
    unanswered: int = 0
    deliveries: int = 0
    confirmations: int = 0
    releases: int = 0
    silent_failures: int = 0
    refused: dict[str, int] = field(default_factory=dict)


class World:
    """One simulated county under one policy (see the module notes)."""

    def __init__(
        self,
        database: Database,
        settings: Settings,
        profile: Profile,
        *,
        policy: str,
        seed: int,
        start: dt.date,
        months: int,
    ) -> None:
        if policy not in POLICIES:
            raise ValueError(f"policy must be one of {POLICIES}, got {policy!r}")
        self.database = database
        self.settings = settings
        self.profile = profile
        self.policy = policy
        self.seed = seed
        self.months = months
        self.rng = random.Random(seed)
        # Needs arrive from their own stream, so that both policies see the same needs.
        self.arrivals = random.Random(seed * 7919 + 1)
        self.start = dt.datetime.combine(start, dt.time(), CST).astimezone(dt.UTC)
        self.vault = Vault(settings)
        self.counters = Counters()
        self.queue: list[tuple[dt.datetime, int, Action]] = []
        self.sequence = itertools.count()
        self.needs: dict[int, NeedState] = {}
        self.by_region: dict[str, list[int]] = {}  # need ids in posting order
        self.first_open: dict[str, int] = {}
        self.open_needs: dict[tuple[int, str], int] = {}  # (household, category) -> need
        self.household_of: dict[int, int] = {}  # need -> household
        self.households: list[tuple[int, str, bool]] = []  # id, village, key household
        self.donors: list[Donor] = []
        self.admins: dict[str, User] = {}  # township code -> its admin; county code too
        self.villages: list[str] = []
        self.remote: set[str] = set()

    # -- time -----------------------------------------------------------------------------------

    def at(self, day: int, hours: float = 0.0) -> dt.datetime:
        return self.start + dt.timedelta(days=day, hours=hours)

    def schedule(self, moment: dt.datetime, action: Action) -> None:
        heapq.heappush(self.queue, (moment, next(self.sequence), action))

    def posting_days(self) -> int:
        end = self.start.astimezone(CST).date()
        for _ in range(self.months):
            end = (end.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
        return (end - self.start.astimezone(CST).date()).days

    # -- set-up ---------------------------------------------------------------------------------

    async def setup(self) -> None:
        """Admins, households and donors, registered through the service."""
        profile = self.profile
        async with self.database.sessionmaker() as session:
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
            self.villages = list(
                (
                    await session.scalars(
                        select(Region.code)
                        .where(Region.parent_code.in_(townships), Region.level == "village")
                        .order_by(Region.code)
                    )
                ).all()
            )
        if not self.villages:
            raise RuntimeError(f"no villages of county {profile.county} are loaded")
        self.remote = set(
            self.rng.sample(self.villages, round(len(self.villages) * profile.remote_share))
        )
        passwords = _SharedHash(self.settings)
        password = "simulated-account"
        with clock_at(self.at(-30)):
            async with self.database.write_sessionmaker.begin() as session:
                self.admins[profile.county] = await accounts_service.create_admin(
                    session, passwords, None,
                    AdminCreate(username=f"sim-{profile.county}", password=password,
                                role="county", scope=profile.county),
                )  # fmt: skip
                for township in townships:
                    self.admins[township] = await accounts_service.create_admin(
                        session, passwords, None,
                        AdminCreate(username=f"sim-{township}", password=password,
                                    role="township", scope=township),
                    )  # fmt: skip
            for first in range(0, profile.households, 2000):
                async with self.database.write_sessionmaker.begin() as session:
                    for serial in range(first, min(first + 2000, profile.households)):
                        await self._register_household(session, serial)
            async with self.database.write_sessionmaker.begin() as session:
                number = 0
                for kind in profile.kinds:
                    for _ in range(kind.count):
                        number += 1
                        await self._register_donor(session, passwords, password, kind, number)
                        self.donors[-1].home = (
                            ""
                            if self.donors[-1].reach == "anywhere"
                            else self.rng.choice(townships)
                        )

    async def _register_household(self, session: AsyncSession, serial: int) -> None:
        village = self.rng.choice(self.villages)
        born = dt.date(1940, 1, 1) + dt.timedelta(days=self.rng.randrange(0, 60 * 365))
        # The serial's thousands go into the place code's last digits to keep numbers unique.
        first17 = f"{self.profile.county[:4]}{serial // 1000:02d}{born:%Y%m%d}{serial % 1000:03d}"
        key = self.rng.random() < 0.12
        data = HouseholdCreate(
            village_code=village,
            head_name=self.rng.choice(SURNAMES) + "".join(self.rng.sample(GIVEN, 2)),
            id_number=first17 + check_digit(first17),
            phone=f"1{self.rng.choice('3578')}{self.rng.randrange(10**9):09d}",
            size=self.rng.choice((1, 2, 2, 3, 3, 4, 4, 5, 6)),
            support_category=self.rng.choices(
                ("poor", "dibao", "tekun", "edge", "other"), (60, 20, 8, 10, 2)
            )[0],
            key_household=key,
        )
        household = await households_service.create_household(
            session, self.vault, self.admins[village[:9]], data
        )
        self.households.append((household.id, village, key))

    async def _register_donor(
        self,
        session: AsyncSession,
        passwords: Passwords,
        password: str,
        kind: DonorKind,
        number: int,
    ) -> None:
        user = await accounts_service.register_donor(
            session, passwords,
            Register(username=f"sim-donor-{number}", password=password,
                     display_name=f"爱心{kind.name}{number}", kind=kind.name),
        )  # fmt: skip
        low, high = kind.yearly_units
        categories = tuple(
            self.rng.sample(list(CATEGORY_SHARE), 2 if kind.pools else len(CATEGORY_SHARE))
        )
        self.donors.append(
            Donor(
                user=user,
                kind=kind,
                home="",
                reach=self.rng.choice(kind.reach),
                reliability=self.rng.gauss(0.0, self.profile.truth.donor_spread),
                units=self.rng.randint(low, high),
                categories=categories,
            )
        )

    # -- the year -------------------------------------------------------------------------------

    async def run(self) -> Counters:
        posting = self.posting_days()
        days = posting + self.profile.settle_days
        individuals = [d for d in self.donors if not d.kind.pools]
        pool = [d for d in self.donors if d.kind.pools]
        claims_per_day = sum(d.units for d in individuals) / 365.0  # units are yearly
        needs_per_day = self.profile.needs_per_year / 365.0
        for day in range(days):
            local = self.at(day).astimezone(CST).date()
            if local.day == 1:
                await self._month_start(day, pool)
            if day < posting:
                for _ in range(_poisson(self.arrivals, needs_per_day)):
                    self.schedule(self.at(day, self.arrivals.uniform(8, 18)), self._post)
            if day < posting + self.profile.settle_days // 2:
                for _ in range(_poisson(self.rng, claims_per_day)):
                    donor = self.rng.choice(individuals)
                    if donor.given < donor.units:
                        self.schedule(
                            self.at(day, self.rng.uniform(7, 23)), self._claim_action(donor)
                        )
            await self._run_day(day)
            with clock_at(self.at(day + 1) - dt.timedelta(seconds=1)):
                await run_expiry(self.database, self.at(day + 1) - dt.timedelta(seconds=1))
        return self.counters

    async def _run_day(self, day: int) -> None:
        end = self.at(day + 1)
        async with self.database.write_sessionmaker.begin() as session:
            while self.queue and self.queue[0][0] < end:
                moment, _, action = heapq.heappop(self.queue)
                with clock_at(moment):
                    try:
                        async with session.begin_nested():
                            await action(session)
                    except AppError as refused:
                        code = refused.code
                        self.counters.refused[code] = self.counters.refused.get(code, 0) + 1

    async def _month_start(self, day: int, pool: list[Donor]) -> None:
        moment = self.at(day, 1.0)
        with clock_at(moment):
            async with self.database.write_sessionmaker.begin() as session:
                await learning.refresh(session)
            if day >= self.posting_days():
                return
            for donor in pool:
                share = _monthly(donor.units, self.rng)
                if share <= 0:
                    continue
                if self.policy == "claims":
                    # Without a matched pool, the same donors claim needs themselves.
                    for _ in range(share):
                        self.schedule(
                            self.at(day, self.rng.uniform(8, 20) + 24 * self.rng.randrange(28)),
                            self._claim_action(donor),
                        )
                    continue
                async with self.database.write_sessionmaker.begin() as session:
                    await self._offer(session, donor, share)
            if self.policy == "claims+matching":
                await self._matching_run(day)

    # -- actions --------------------------------------------------------------------------------

    async def _post(self, session: AsyncSession) -> None:
        draw = self.arrivals
        household, village, key = draw.choice(self.households)
        category = draw.choices(list(CATEGORY_SHARE), list(CATEGORY_SHARE.values()))[0]
        factor, level, days = draw.lognormvariate(0, 0.5), draw.random(), draw.randint(45, 120)
        self.counters.posts += 1
        now = utcnow()
        previous = self.needs.get(self.open_needs.get((household, category), 0))
        if (
            previous is not None
            and previous.status != "fulfilled"
            and previous.deadline >= now.astimezone(CST).date()
        ):
            self.counters.posts_refused += 1  # one open need per category and household
            return
        cap = self.settings.need_value_caps_fen.get(category, 10**7)
        value = min(cap, max(100, round(CATEGORY_VALUE[category] * factor)))
        urgency = (1 if level < 0.5 else 2 if level < 0.85 else 3) + (1 if key else 0)
        need = await needs_posting.create_need(
            session,
            self.admins[village[:9]],
            NeedCreate(
                household_id=household,
                category=category,
                title=f"{category}需求",
                description="村级帮扶干部核实后发布",
                value_fen=value,
                urgency=min(urgency, 3),
                deadline=(now.astimezone(CST) + dt.timedelta(days=days)).date(),
            ),
            self.settings,
        )
        state = NeedState(
            id=need.id, village=village, township=village[:9], category=category,
            urgency=need.urgency, posted=now, deadline=need.deadline,
            remote=village in self.remote,
        )  # fmt: skip
        self.needs[need.id] = state
        self.open_needs[(household, category)] = need.id
        self.by_region.setdefault(state.township, []).append(need.id)
        self.by_region.setdefault(self.profile.county, []).append(need.id)
        self.household_of[need.id] = household

    def _browse(self, donor: Donor, today: dt.date) -> NeedState | None:
        """The need a donor picks from one page of a listing it opens (None: nothing fits)."""
        region = self.profile.county
        if (
            donor.reach == "township" and donor.home and self.rng.random() < self.profile.home_share
        ) or (donor.reach == "township" and donor.home and donor.kind.pools):
            region = donor.home
        ids = self.by_region.get(region, [])
        # Needs before `first` are closed for good (fulfilled, or past their deadline).
        first = self.first_open.get(region, 0)
        while first < len(ids) and self._closed(self.needs[ids[first]], today):
            first += 1
        self.first_open[region] = first
        order = self.rng.choices(("newest", "urgent", "oldest"), (50, 25, 25))[0]
        scan = (
            reversed(range(first, len(ids))) if order != "oldest" else iter(range(first, len(ids)))
        )
        page: list[NeedState] = []
        looked = 0
        for position in scan:
            looked += 1
            if looked > 2000:
                break
            need = self.needs[ids[position]]
            if need.status != "published" or need.deadline < today:
                continue
            if donor.kind.pools and need.category not in donor.categories:
                continue
            if order == "urgent" and need.urgency < 3:
                continue
            page.append(need)
            if len(page) == PAGE:
                break
        if not page:
            return None
        weights = [
            APPEAL[n.category]
            * (self.profile.remote_browse_weight if n.remote else 1.0)
            * (1.0 + 0.3 * (n.urgency - 1))
            for n in page
        ]
        return self.rng.choices(page, weights)[0]

    @staticmethod
    def _closed(need: NeedState, today: dt.date) -> bool:
        return need.status == "fulfilled" or need.deadline < today

    def _claim_action(self, donor: Donor) -> Action:
        async def claim(session: AsyncSession) -> None:
            now = utcnow()
            need = self._browse(donor, now.astimezone(CST).date())
            if need is None:
                return
            self.counters.claims += 1
            try:
                async with session.begin_nested():
                    await needs_lifecycle.claim(session, donor.user, need.id, self.settings)
            except AppError:
                self.counters.claims_refused += 1
                raise
            donor.given += 1
            need.status = "claimed"
            self._follow(donor, need, now, source="claim")

        return claim

    def _distance(self, donor: Donor, need: NeedState) -> int:
        if donor.home and donor.home == need.township:
            return 0
        return 1 if donor.home else 2

    def _follow(self, donor: Donor, need: NeedState, now: dt.datetime, *, source: str) -> None:
        """Draw the hidden outcome of a pairing that now holds the need, and schedule it."""
        weeks = (now - need.posted).total_seconds() / (7 * 86400)
        p = self.profile.truth.success(
            need.category, self._distance(donor, need), donor.reliability, weeks
        )
        if self.rng.random() < p:
            delivered = now + dt.timedelta(days=self.rng.uniform(2, 12))
            self.schedule(delivered, self._deliver_action(donor, need))
            return
        if self.rng.random() < 0.5:
            self.schedule(
                now + dt.timedelta(days=self.rng.uniform(3, 10)), self._release_action(donor, need)
            )
        else:  # never heard of again: the claim lapses when its hold ends
            self.counters.silent_failures += 1
            back = now + dt.timedelta(days=self.settings.claim_hold_days + 1)
            self.schedule(back, self._republished(need))

    def _deliver_action(self, donor: Donor, need: NeedState) -> Action:
        async def deliver(session: AsyncSession) -> None:
            await needs_lifecycle.deliver(session, donor.user, need.id, None)
            self.counters.deliveries += 1
            need.status = "delivered"
            confirm_at = utcnow() + dt.timedelta(days=self.rng.uniform(0.5, 4))
            self.schedule(confirm_at, self._confirm_action(need))

        return deliver

    def _confirm_action(self, need: NeedState) -> Action:
        async def confirm(session: AsyncSession) -> None:
            await needs_lifecycle.confirm(
                session, self.admins[need.township], need.id, "感谢您的爱心"
            )
            self.counters.confirmations += 1
            need.status = "fulfilled"

        return confirm

    def _release_action(self, donor: Donor, need: NeedState) -> Action:
        async def release(session: AsyncSession) -> None:
            await needs_lifecycle.release(session, donor.user, need.id, "无法按时完成")
            self.counters.releases += 1
            need.status = "published"

        return release

    def _republished(self, need: NeedState) -> Action:
        async def republished(session: AsyncSession) -> None:
            if need.status == "claimed":
                need.status = "published"

        return republished

    async def _offer(self, session: AsyncSession, donor: Donor, units: int) -> None:
        region = {"township": donor.home, "county": self.profile.county, "anywhere": ""}[
            donor.reach
        ]
        await offers_service.create_offer(
            session,
            donor.user,
            OfferCreate(
                category=self.rng.choice(donor.categories),
                title="爱心捐赠",
                description="进入爱心基金库，由平台统一对接",
                capacity=units,
                region_preference=region,
            ),
        )
        self.counters.offers += 1
        donor.given += units

    async def _matching_run(self, day: int) -> None:
        async with self.database.write_sessionmaker.begin() as session:
            run, _ = await matching_service.start_run(
                session, self.admins[self.profile.county],
                RunCreate(scope=self.profile.county), self.settings,
            )  # fmt: skip
            run_id = run.id
        self.counters.runs += 1
        async with self.database.sessionmaker() as session:
            rows = (
                await session.execute(
                    select(Pairing.id, Pairing.need_id, Pairing.donor_id).where(
                        Pairing.run_id == run_id
                    )
                )
            ).all()
        donors = {d.user.id: d for d in self.donors}
        for pairing_id, need_id, donor_id in rows:
            self.counters.proposals += 1
            donor, need = donors[donor_id], self.needs[need_id]
            accept = self.profile.truth.accept[self._distance(donor, need)]
            answer_at = self.at(day, 2.0) + dt.timedelta(hours=self.rng.uniform(1, 60))
            draw = self.rng.random()
            if draw < accept:
                self.schedule(answer_at, self._accept_action(donor, need, pairing_id))
            elif draw < accept + (1 - accept) / 2:
                self.schedule(answer_at, self._decline_action(donor, pairing_id))
            else:
                self.counters.unanswered += 1

    def _accept_action(self, donor: Donor, need: NeedState, pairing_id: int) -> Action:
        async def accept(session: AsyncSession) -> None:
            await proposals.accept(session, donor.user, pairing_id, self.settings)
            self.counters.accepted += 1
            need.status = "claimed"
            self._follow(donor, need, utcnow(), source="match")

        return accept

    def _decline_action(self, donor: Donor, pairing_id: int) -> Action:
        async def decline(session: AsyncSession) -> None:
            await proposals.decline(session, donor.user, pairing_id, "本月无法安排")
            self.counters.declined += 1

        return decline


class _SharedHash(Passwords):
    """Simulated accounts never sign in: one real argon2id hash, computed once, serves all."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self._shared: str | None = None

    async def hash(self, password: str) -> str:
        if self._shared is None:
            self._shared = await super().hash(password)
        return self._shared


def _monthly(yearly: int, rng: random.Random) -> int:
    """A month's share of yearly units: a twelfth, the remainder drawn."""
    whole, part = divmod(yearly, 12)
    return whole + (1 if rng.random() < part / 12 else 0)


def _poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw (Knuth's method for small means, a rounded normal for large ones)."""
    if mean > 30:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        k += 1
        product *= rng.random()
    return k


def counters_dict(counters: Counters) -> dict[str, Any]:
    return dataclasses.asdict(counters)
