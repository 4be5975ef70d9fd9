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
a matching run; the success model is re-learned. Under the ``claims+daily`` policies the
worker's jobs run as `aixin worker` runs them: a matching run over the county every night
(`app.jobs.match_county`) and the reminders at the end of each day (`app.jobs.send_reminders`).
Individual donors' claims are spread over the year, each donor's units one to an equal stretch
of it, so that supply keeps a steady rate.

The set-up is in `seeding`, the village admins' postings in `villages`, the donors' claims and
what follows them in `donors`, the matching runs and the answers to proposals in `runs`.
"""

from __future__ import annotations

import datetime as dt
import heapq
import math
import random
from functools import partial

from app.core.db import clock_at
from app.core.errors import AppError
from app.jobs import MATCHING_HOUR, run_expiry, send_reminders
from app.matchmaking import learning
from app.simulation import donors, helpers, runs, seeding, villages
from app.simulation.state import CST, Counters, County, Donor


class World(County):
    """One simulated county under one policy (see the module notes)."""

    async def setup(self) -> None:
        """Admins, households and donors, registered through the service."""
        await seeding.setup(self)
        self.helping = await helpers.assign(self)

    async def run(self) -> Counters:
        posting = self.posting_days()
        days = posting + self.profile.settle_days
        pool = [d for d in self.donors if d.kind.pools]
        self._spread_claims(posting + self.profile.settle_days // 2)
        needs_per_day = self.profile.needs_per_year / 365.0
        for day in range(days):
            local = self.at(day).astimezone(CST).date()
            if local.day == 1:
                await self._month_start(day, pool)
            if self.matching == "daily" and day < posting:
                with clock_at(self.at(day, MATCHING_HOUR)):
                    await runs.daily_run(self, day)
            if day < posting:
                for _ in range(_poisson(self.arrivals, needs_per_day)):
                    self.schedule(
                        self.at(day, self.arrivals.uniform(8, 18)), partial(villages.post, self)
                    )
            await self._run_day(day)
            end = self.at(day + 1) - dt.timedelta(seconds=1)
            with clock_at(end):
                if self.reminders:
                    await send_reminders(self.database, end)
                await run_expiry(self.database, end)
        return self.counters

    def _spread_claims(self, window: int) -> None:
        """Each individual's yearly units spread over the days donors claim (``window``, a
        year at least): one claim in each of its units' equal stretches, at a random moment of
        it, so that the county's claims keep a steady rate instead of fading as budgets run
        out. A shorter run keeps the stretches that fall in its window."""
        year = max(window, 365)
        for donor in self.donors:
            if donor.kind.pools:
                continue
            stretch = year / donor.units
            for unit in range(donor.units):
                day = int((unit + self.rng.random()) * stretch)
                hour = self.rng.uniform(7, 23)
                if day < window:
                    self.schedule(self.at(day, hour), donors.claim_action(self, donor))

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
            await helpers.month_of_acts(self, self.helping, self.at(day).astimezone(CST).date())
            for donor in pool:
                share = _monthly(donor.units, self.rng)
                if share <= 0:
                    continue
                if self.matching is None:
                    # Without a matched pool, the same donors claim needs themselves.
                    for _ in range(share):
                        self.schedule(
                            self.at(day, self.rng.uniform(8, 20) + 24 * self.rng.randrange(28)),
                            donors.claim_action(self, donor),
                        )
                    continue
                async with self.database.write_sessionmaker.begin() as session:
                    await donors.offer(self, session, donor, share)
            if self.matching == "monthly":
                await runs.matching_run(self, day)


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
