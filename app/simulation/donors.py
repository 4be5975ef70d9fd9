"""The donors' part: browsing and claiming needs, pool offers, and what follows a pairing.

Whether a pairing ends in a delivery, a release or silence is drawn from the profile's hidden
`Truth`; each outcome is scheduled as an action of its own.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import utcnow
from app.core.errors import AppError
from app.inbox.models import Notification
from app.needs import lifecycle as needs_lifecycle
from app.offers import service as offers_service
from app.offers.schemas import OfferCreate
from app.simulation.state import CST, Action, County, Donor, NeedState

# How much an individual donor is drawn to a need of each category when browsing.
APPEAL = {
    "goods": 1.0,
    "schooling": 1.0,
    "health": 0.7,
    "employment": 0.5,
    "service": 0.6,
    "skills": 0.5,
    # Large needs (a house repaired, seedlings or livestock): few individuals take them on.
    "housing": 0.3,
    "industry": 0.5,
}
PAGE = 20


def browse(county: County, donor: Donor, today: dt.date) -> NeedState | None:
    """The need a donor picks from one page of a listing it opens (None: nothing fits)."""
    profile, rng = county.profile, county.rng
    region = profile.county
    if (donor.reach == "township" and donor.home and rng.random() < profile.home_share) or (
        donor.reach == "township" and donor.home and donor.kind.pools
    ):
        region = donor.home
    ids = county.by_region.get(region, [])
    # Needs before `first` are closed for good (fulfilled, or past their deadline).
    first = county.first_open.get(region, 0)
    while first < len(ids) and _closed(county.needs[ids[first]], today):
        first += 1
    county.first_open[region] = first
    order = rng.choices(("newest", "urgent", "oldest"), (50, 25, 25))[0]
    scan = reversed(range(first, len(ids))) if order != "oldest" else iter(range(first, len(ids)))
    page: list[NeedState] = []
    looked = 0
    for position in scan:
        looked += 1
        if looked > 2000:
            break
        need = county.needs[ids[position]]
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
        * (profile.remote_browse_weight if n.remote else 1.0)
        * (1.0 + 0.3 * (n.urgency - 1))
        for n in page
    ]
    return rng.choices(page, weights)[0]


def _closed(need: NeedState, today: dt.date) -> bool:
    return need.status == "fulfilled" or need.deadline < today


def claim_action(county: County, donor: Donor) -> Action:
    """The donor opens a listing and claims the need it picks, if any."""

    async def claim(session: AsyncSession) -> None:
        now = utcnow()
        need = browse(county, donor, now.astimezone(CST).date())
        if need is None:
            return
        county.counters.claims += 1
        try:  # the day's savepoint around this action undoes a refused claim
            _, pairing = await needs_lifecycle.claim(session, donor.user, need.id, county.settings)
        except AppError:
            county.counters.claims_refused += 1
            raise
        donor.given += 1
        need.status = "claimed"
        follow(county, donor, need, now, source="claim", pairing_id=pairing.id)

    return claim


def distance(donor: Donor, need: NeedState) -> int:
    """0: the donor's own township; 1: elsewhere in the county; 2: from outside it."""
    if donor.home and donor.home == need.township:
        return 0
    return 1 if donor.home else 2


def follow(
    county: County,
    donor: Donor,
    need: NeedState,
    now: dt.datetime,
    *,
    source: str,
    pairing_id: int,
) -> None:
    """Draw the hidden outcome of a pairing that now holds the need, and schedule it.

    Where reminders are sent, a donor who would let the claim lapse in silence heeds the
    reminder with the truth's ``reminder_effect`` (drawn whatever its value, so that a policy
    with the effect at zero sees the same draws): it reads the reminder half a day before the
    lapse and, if one was sent, delivers then.
    """
    rng = county.rng
    weeks = (now - need.posted).total_seconds() / (7 * 86400)
    p = county.profile.truth.success(need.category, distance(donor, need), donor.reliability, weeks)
    if rng.random() < p:
        delivered = now + dt.timedelta(days=rng.uniform(2, 12))
        county.schedule(delivered, _deliver_action(county, donor, need))
        return
    if rng.random() < 0.5:
        county.schedule(
            now + dt.timedelta(days=rng.uniform(3, 10)), _release_action(county, donor, need)
        )
    else:  # never heard of again: the claim lapses when its hold ends
        county.counters.silent_failures += 1
        hold = dt.timedelta(days=county.settings.claim_hold_days)
        county.schedule(now + hold + dt.timedelta(days=1), _republished(need))
        if county.reminders and rng.random() < county.reminder_effect:
            county.schedule(
                now + hold - dt.timedelta(hours=12),
                _reminded_action(county, donor, need, pairing_id),
            )


def _reminded_action(county: County, donor: Donor, need: NeedState, pairing_id: int) -> Action:
    """The donor reads its inbox: if the claim's reminder is there, it delivers now."""

    async def reminded(session: AsyncSession) -> None:
        seen = await session.scalar(
            select(Notification.id).where(
                Notification.pairing_id == pairing_id,
                Notification.user_id == donor.user.id,
                Notification.type == "reminder.claim_lapsing",
                Notification.visible_at <= utcnow(),
            )
        )
        if seen is None:
            return
        await _deliver_action(county, donor, need)(session)
        county.counters.reminders_heeded += 1

    return reminded


def _deliver_action(county: County, donor: Donor, need: NeedState) -> Action:
    async def deliver(session: AsyncSession) -> None:
        await needs_lifecycle.deliver(session, donor.user, need.id, None)
        county.counters.deliveries += 1
        need.status = "delivered"
        confirm_at = utcnow() + dt.timedelta(days=county.rng.uniform(0.5, 4))
        county.schedule(confirm_at, _confirm_action(county, need))

    return deliver


def _confirm_action(county: County, need: NeedState) -> Action:
    async def confirm(session: AsyncSession) -> None:
        await needs_lifecycle.confirm(
            session, county.admins[need.township], need.id, "感谢您的爱心"
        )
        county.counters.confirmations += 1
        need.status = "fulfilled"

    return confirm


def _release_action(county: County, donor: Donor, need: NeedState) -> Action:
    async def release(session: AsyncSession) -> None:
        await needs_lifecycle.release(session, donor.user, need.id, "无法按时完成")
        county.counters.releases += 1
        need.status = "published"

    return release


def _republished(need: NeedState) -> Action:
    async def republished(session: AsyncSession) -> None:
        if need.status == "claimed":
            need.status = "published"

    return republished


async def offer(county: County, session: AsyncSession, donor: Donor, units: int) -> None:
    """A pool donor's month of units, offered to the matching pool."""
    region = {"township": donor.home, "county": county.profile.county, "anywhere": ""}[donor.reach]
    await offers_service.create_offer(
        session,
        donor.user,
        OfferCreate(
            category=county.rng.choice(donor.categories),
            title="爱心捐赠",
            description="进入爱心基金库，由平台统一对接",
            capacity=units,
            region_preference=region,
        ),
    )
    county.counters.offers += 1
    donor.given += units
