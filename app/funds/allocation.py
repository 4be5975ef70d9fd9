"""Allocating a county's pool to its open needs: an exact knapsack, proposed, then approved.

The value of serving a need is its estimated value weighted by its priority (urgency, a key
household, days waiting); the allocation maximises the total within the pool's balance
(`matching.knapsack`, in a worker thread). Approval moves the money to every chosen need's
restricted account in one transaction; a need that was meanwhile funded, claimed or closed, or a
pool that no longer holds the total, refuses the whole approval (409).
"""

from __future__ import annotations

import asyncio
import time

import numpy as np
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import User
from app.core.db import utcnow
from app.core.errors import Conflict, Forbidden, NotFound
from app.core.scope import Scope
from app.funds import ledger
from app.funds.common import county, move
from app.funds.crowdfunding import need_account, start_allocated
from app.funds.models import Allocation, AllocationItem, NeedFunding
from app.funds.schemas import AllocationCreate, AllocationWeights
from app.funds.states import ALLOCATION
from app.households.models import Household
from app.needs.models import Need
from matching import knapsack

COUNTY_ROLES = ("county", "platform")


def priority(
    urgency: int, key_household: bool, waiting_days: float, weights: AllocationWeights
) -> float:
    """How much one fen served of this need is worth: at least 1."""
    return (
        1.0
        + weights.urgency * (urgency - 1)
        + weights.key_household * key_household
        + weights.waiting * min(waiting_days, 365.0) / 30.0
    )


def _county_admin(admin: User, scope: Scope, code: str) -> None:
    if not scope.covers(code):
        raise NotFound(f"No county {code}", code="county_not_found")
    if admin.role not in COUNTY_ROLES:
        raise Forbidden("Only the county office allocates its pool", code="county_only")


async def propose(
    session: AsyncSession, admin: User, scope: Scope, body: AllocationCreate
) -> Allocation:
    """Solve the county's knapsack and record the proposal; no money moves yet."""
    region = await county(session, body.county)
    _county_admin(admin, scope, region.code)
    pool = await ledger.pool(session, region.code)
    funded = select(NeedFunding.need_id)
    rows = (
        await session.execute(
            select(
                Need.id, Need.value_fen, Need.urgency, Need.published_at, Household.key_household
            )
            .join(Household, Household.id == Need.household_id)
            .where(
                Need.county_code == region.code,
                Need.status == "published",
                Need.value_fen > 0,
                Need.id.not_in(funded),
            )
            .order_by(Need.id)
        )
    ).all()
    now = utcnow()
    ids = [row[0] for row in rows]
    amounts = np.array([row[1] for row in rows], dtype=np.int64)
    priorities = np.array(
        [
            priority(
                row[2],
                bool(row[4]),
                ((now - (row[3] or now)).total_seconds()) / 86400,
                body.weights,
            )
            for row in rows
        ]
    )
    started = time.perf_counter()
    result = await asyncio.to_thread(knapsack, amounts * priorities, amounts, pool.balance_fen)
    allocation = Allocation(
        county_code=region.code, status="proposed", pool_fen=pool.balance_fen,
        total_fen=result.weight, objective=result.value, candidates=len(ids),
        weights=body.weights.model_dump(), solver_seconds=time.perf_counter() - started,
        proposed_by_id=admin.id,
    )  # fmt: skip
    session.add(allocation)
    await session.flush()
    session.add_all(
        AllocationItem(
            allocation_id=allocation.id,
            need_id=ids[i],
            amount_fen=int(amounts[i]),
            priority=float(priorities[i]),
        )
        for i in result.chosen.tolist()
    )
    await session.flush()
    return allocation


async def get_allocation(session: AsyncSession, scope: Scope, allocation_id: int) -> Allocation:
    allocation = await session.scalar(
        select(Allocation).where(
            Allocation.id == allocation_id, scope.where(Allocation.county_code)
        )
    )
    if allocation is None:
        raise NotFound(f"No allocation {allocation_id}", code="allocation_not_found")
    return allocation


async def items(session: AsyncSession, allocation_id: int) -> list[AllocationItem]:
    return list(
        await session.scalars(
            select(AllocationItem)
            .where(AllocationItem.allocation_id == allocation_id)
            .order_by(AllocationItem.need_id)
        )
    )


async def approve(
    session: AsyncSession, admin: User, scope: Scope, allocation_id: int, reason: str | None
) -> Allocation:
    """Approve and execute: the pool's money to each chosen need, in one ledger transaction."""
    allocation = await get_allocation(session, scope, allocation_id)
    _county_admin(admin, scope, allocation.county_code)
    now = utcnow()
    await move(
        session,
        allocation,
        ALLOCATION,
        "approve",
        lost="allocation_changed",
        decided_by_id=admin.id,
        decided_at=now,
        reason=reason,
    )
    chosen = await items(session, allocation.id)
    needs = {
        need.id: need
        for need in await session.scalars(
            select(Need).where(Need.id.in_([item.need_id for item in chosen])).with_for_update()
        )
    }
    legs = []
    for item in chosen:
        need = needs.get(item.need_id)
        if need is None or need.status != "published" or need.value_fen != item.amount_fen:
            raise Conflict(
                f"Need {item.need_id} changed since the proposal; propose again",
                code="allocation_stale",
            )
        await start_allocated(session, admin, need, allocation.id)
        legs.append(ledger.Leg(await need_account(session, need, need.value_fen), item.amount_fen))
    if legs:
        pool = await ledger.pool(session, allocation.county_code)
        legs.append(ledger.Leg(pool, -allocation.total_fen))
        await ledger.post(
            session, f"allocation:{allocation.id}", "allocation", legs,
            county_code=allocation.county_code, allocation_id=allocation.id,
        )  # fmt: skip
    await move(
        session, allocation, ALLOCATION, "execute", lost="allocation_changed", executed_at=utcnow()
    )
    return allocation


async def reject(
    session: AsyncSession, admin: User, scope: Scope, allocation_id: int, reason: str | None
) -> Allocation:
    allocation = await get_allocation(session, scope, allocation_id)
    _county_admin(admin, scope, allocation.county_code)
    await move(
        session, allocation, ALLOCATION, "reject", lost="allocation_changed",
        decided_by_id=admin.id, decided_at=utcnow(), reason=reason,
    )  # fmt: skip
    return allocation
