"""What the simulation knows of its county: the donors, the needs, the counters and the clock.

The simulation's own record, beside the database: what donors do is decided by the hidden
`Truth` of the profile, which the service never sees, and each need's status is as far as the
simulation knows it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import heapq
import itertools
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import User
from app.core.crypto import Vault
from app.core.db import Database
from app.core.settings import Settings
from app.simulation.profiles import DonorKind, Profile

# Who matches the pool, and how often; reminders go with the daily worker. The last policy is
# the daily one with donors who take no notice of reminders (the truth's reminder effect at
# zero), so that the gain of daily matching alone shows.
POLICIES = ("claims", "claims+matching", "claims+daily", "claims+daily+no-effect")
MATCHING = {
    "claims": None,
    "claims+matching": "monthly",
    "claims+daily": "daily",
    "claims+daily+no-effect": "daily",
}
CST = dt.timezone(dt.timedelta(hours=8))
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
    reminders_heeded: int = 0  # silent claims delivered after their reminder
    refused: dict[str, int] = field(default_factory=dict)


def counters_dict(counters: Counters) -> dict[str, Any]:
    return dataclasses.asdict(counters)


class County:
    """A simulated county's state under one policy, and its clock and queue of actions."""

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
        self.matching = MATCHING[policy]  # None (claims only), "monthly" or "daily"
        self.reminders = self.matching == "daily"
        self.reminder_effect = profile.truth.reminder_effect if policy == "claims+daily" else 0.0
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

    def at(self, day: int, hours: float = 0.0) -> dt.datetime:
        return self.start + dt.timedelta(days=day, hours=hours)

    def schedule(self, moment: dt.datetime, action: Action) -> None:
        heapq.heappush(self.queue, (moment, next(self.sequence), action))

    def posting_days(self) -> int:
        end = self.start.astimezone(CST).date()
        for _ in range(self.months):
            end = (end.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
        return (end - self.start.astimezone(CST).date()).days
