"""爱心榜: the donors who chose to be listed, by confirmed pairings in a region (public praise)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import User
from app.core.scope import Scope
from app.pairings.models import Pairing
from app.regions import service as regions_service
from app.stats import sql
from app.stats.schemas import HonourEntry, HonourRoll

HONOUR_DEFINITION = (
    "爱心榜: donors who chose to be listed (PATCH /api/v1/me {honour_roll: true}), by confirmed "
    "pairings in the scope; then display name, then donor id. Donors who did not opt in are "
    "never listed."
)


async def roll(session: AsyncSession, scope: str, limit: int) -> HonourRoll:
    """爱心榜: the opted-in donors by confirmed pairings in the scope (public praise)."""
    if scope:
        await regions_service.get_region(session, scope)
    confirmed = (
        select(Pairing.donor_id, func.count().label("fulfilled"))
        .where(Pairing.status == "confirmed", Scope(scope).where(Pairing.village_code))
        .group_by(Pairing.donor_id)
        .subquery("confirmed")
    )
    rank = func.row_number().over(
        order_by=(
            confirmed.c.fulfilled.desc(),
            sql.code_point_order(User.display_name),
            User.id,
        )
    )
    rows = await session.execute(
        select(
            rank.label("rank"),
            User.id,
            User.display_name,
            User.donor_kind,
            confirmed.c.fulfilled,
        )
        .join(confirmed, confirmed.c.donor_id == User.id)
        .where(User.role == "donor", User.honour_roll.is_(True), User.is_active.is_(True))
        .order_by("rank")
        .limit(limit)
    )
    return HonourRoll(
        scope=scope,
        definition=HONOUR_DEFINITION,
        items=[
            HonourEntry(
                rank=row.rank,
                donor_id=row.id,
                display_name=row.display_name,
                kind=row.donor_kind,
                fulfilled=row.fulfilled,
            )
            for row in rows
        ],
    )
