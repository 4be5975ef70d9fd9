"""The village admins' part: a household's need, verified and posted through the service."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import utcnow
from app.needs import posting as needs_posting
from app.needs.schemas import NeedCreate
from app.simulation.profiles import CATEGORY_SHARE, CATEGORY_VALUE
from app.simulation.state import CST, County, NeedState


async def post(county: County, session: AsyncSession) -> None:
    """A need of a household drawn from the arrivals' stream (refused while one is open)."""
    draw = county.arrivals
    household, village, key = draw.choice(county.households)
    category = draw.choices(list(CATEGORY_SHARE), list(CATEGORY_SHARE.values()))[0]
    factor, level, days = draw.lognormvariate(0, 0.5), draw.random(), draw.randint(45, 120)
    county.counters.posts += 1
    now = utcnow()
    previous = county.needs.get(county.open_needs.get((household, category), 0))
    if (
        previous is not None
        and previous.status != "fulfilled"
        and previous.deadline >= now.astimezone(CST).date()
    ):
        county.counters.posts_refused += 1  # one open need per category and household
        return
    cap = county.settings.need_value_caps_fen.get(category, 10**7)
    value = min(cap, max(100, round(CATEGORY_VALUE[category] * factor)))
    urgency = (1 if level < 0.5 else 2 if level < 0.85 else 3) + (1 if key else 0)
    need = await needs_posting.create_need(
        session,
        county.admins[village[:9]],
        NeedCreate(
            household_id=household,
            category=category,
            title=f"{category}需求",
            description="村级帮扶干部核实后发布",
            value_fen=value,
            urgency=min(urgency, 3),
            deadline=(now.astimezone(CST) + dt.timedelta(days=days)).date(),
        ),
        county.settings,
    )
    state = NeedState(
        id=need.id, village=village, township=village[:9], category=category,
        urgency=need.urgency, posted=now, deadline=need.deadline,
        remote=village in county.remote,
    )  # fmt: skip
    county.needs[need.id] = state
    county.open_needs[(household, category)] = need.id
    county.by_region.setdefault(state.township, []).append(need.id)
    county.by_region.setdefault(county.profile.county, []).append(need.id)
    county.household_of[need.id] = household
