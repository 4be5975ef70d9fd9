"""The double-entry ledger: accounts, balanced transactions of immutable entries, reversals.

Every posting is one transaction whose legs sum to zero, in integer fen, written once by its
business key (a unique column: a replay, or a concurrent copy, finds the first and writes
nothing). Each leg changes its account's balance and version in one conditional ``UPDATE …
RETURNING``: the row lock the update takes makes concurrent postings to one account queue, and
its condition refuses a leg that would take a protected account below zero (or a capped one
above its ceiling), so no interleaving can overdraw it. The entry records the balance and the
version it left (``(account, version)`` is unique). Accounts are updated in the order of their
ids, so two postings never wait on each other's rows. A mistake is undone by a reversal, a new
transaction of the opposite legs; nothing is updated or deleted.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import Conflict
from app.core.upsert import insert_or_nothing
from app.funds.models import PROTECTED_KINDS, FundAccount, FundEntry, FundTransaction


@dataclass(frozen=True, slots=True)
class Leg:
    """An amount on an account: positive adds to its balance, negative takes from it."""

    account: FundAccount
    amount_fen: int


@dataclass(frozen=True, slots=True)
class Posted:
    transaction: FundTransaction
    created: bool  # False: the business key was posted before, and nothing was written now


# -- accounts ----------------------------------------------------------------------------------


async def account(
    session: AsyncSession,
    key: str,
    kind: str,
    *,
    county_code: str | None = None,
    need_id: int | None = None,
    donor_id: int | None = None,
    channel: str | None = None,
    ceiling_fen: int | None = None,
    expires_at: dt.datetime | None = None,
) -> FundAccount:
    """The account ``key``, opened at zero the first time it is named."""
    found = await session.scalar(select(FundAccount).where(FundAccount.key == key))
    if found is not None:
        return found
    dialect = session.get_bind().dialect.name
    await session.execute(
        insert_or_nothing(dialect, FundAccount, ["key"]).values(
            key=key, kind=kind, county_code=county_code, need_id=need_id, donor_id=donor_id,
            channel=channel, protected=kind in PROTECTED_KINDS, ceiling_fen=ceiling_fen,
            expires_at=expires_at, balance_fen=0, version=0,
        )
    )  # fmt: skip
    created = await session.scalar(select(FundAccount).where(FundAccount.key == key))
    assert created is not None
    return created


async def pool(session: AsyncSession, county_code: str) -> FundAccount:
    """A county's unrestricted pool."""
    return await account(session, f"pool:{county_code}", "pool", county_code=county_code)


async def clearing(session: AsyncSession, channel: str) -> FundAccount:
    """What a payment channel brought in (its balance is minus the income)."""
    return await account(session, f"clearing:{channel}", "clearing", channel=channel)


async def offline(session: AsyncSession, county_code: str) -> FundAccount:
    """What a county's office received (its balance is minus the income)."""
    return await account(session, f"offline:{county_code}", "offline", county_code=county_code)


async def disbursed(session: AsyncSession, county_code: str) -> FundAccount:
    """What a county spent on needs."""
    return await account(session, f"disbursed:{county_code}", "disbursed", county_code=county_code)


async def balance(session: AsyncSession, account_id: int) -> int:
    """The balance of an account as committed now (not a copy held in the session)."""
    value = await session.scalar(
        select(FundAccount.balance_fen).where(FundAccount.id == account_id)
    )
    return int(value or 0)


async def lock(session: AsyncSession, account_id: int) -> FundAccount:
    """The account, read afresh under its row lock (PostgreSQL; SQLite writes one at a time)."""
    found = await session.scalar(
        select(FundAccount)
        .where(FundAccount.id == account_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert found is not None
    return found


# -- postings ----------------------------------------------------------------------------------


def _netted(legs: Iterable[Leg]) -> dict[int, int]:
    amounts: dict[int, int] = defaultdict(int)
    for leg in legs:
        if not isinstance(leg.amount_fen, int) or isinstance(leg.amount_fen, bool):
            raise TypeError("amounts are integer fen")
        amounts[leg.account.id] += leg.amount_fen
    if sum(amounts.values()) != 0:
        raise ValueError(f"the legs do not balance: {dict(amounts)}")
    return {account_id: amount for account_id, amount in amounts.items() if amount}


async def _by_key(session: AsyncSession, business_key: str) -> FundTransaction | None:
    found: FundTransaction | None = await session.scalar(
        select(FundTransaction).where(FundTransaction.business_key == business_key)
    )
    return found


async def post(
    session: AsyncSession,
    business_key: str,
    kind: str,
    legs: Iterable[Leg],
    *,
    county_code: str | None,
    channel: str | None = None,
    donation_id: int | None = None,
    funding_id: int | None = None,
    allocation_id: int | None = None,
    reverses_id: int | None = None,
    memo: str | None = None,
) -> Posted:
    """Post a balanced transaction once per ``business_key``; 409 ``insufficient_funds`` if a
    protected account would go below zero (then nothing is written)."""
    amounts = _netted(legs)
    if not amounts:
        raise ValueError("a transaction moves some money")
    first = await _by_key(session, business_key)
    if first is not None:
        return Posted(first, created=False)
    transaction = FundTransaction(
        business_key=business_key, kind=kind, county_code=county_code, channel=channel,
        donation_id=donation_id, funding_id=funding_id, allocation_id=allocation_id,
        reverses_id=reverses_id, memo=memo,
    )  # fmt: skip
    # One savepoint for the whole posting: a refused leg leaves no transaction behind, even for
    # a caller that goes on after the 409 (a job's batch).
    async with session.begin_nested():
        try:
            async with session.begin_nested():
                session.add(transaction)
                await session.flush()
        except IntegrityError:
            # A concurrent copy posted the same key first, or the reversal exists: it stands.
            first = await _by_key(session, business_key)
            if first is None:
                raise Conflict(
                    "This transaction was already reversed", code="already_reversed"
                ) from None
            return Posted(first, created=False)
        for account_id in sorted(amounts):
            await _apply(session, transaction, account_id, amounts[account_id])
    return Posted(transaction, created=True)


async def _apply(
    session: AsyncSession, transaction: FundTransaction, account_id: int, amount: int
) -> None:
    account = FundAccount.__table__.c
    changed = (
        await session.execute(
            update(FundAccount)
            .where(
                FundAccount.id == account_id,
                or_(account.protected.is_(False), account.balance_fen + amount >= 0),
                or_(
                    account.ceiling_fen.is_(None),
                    account.balance_fen + amount <= account.ceiling_fen,
                ),
            )
            .values(balance_fen=account.balance_fen + amount, version=account.version + 1)
            .returning(account.balance_fen, account.version)
            .execution_options(synchronize_session=False)
        )
    ).first()
    if changed is None:
        raise Conflict("The account does not hold enough money for this", code="insufficient_funds")
    session.add(
        FundEntry(
            transaction_id=transaction.id, account_id=account_id, amount_fen=amount,
            balance_after_fen=changed[0], account_version=changed[1],
        )
    )  # fmt: skip
    await session.flush()


async def reverse(
    session: AsyncSession, original: FundTransaction, *, memo: str | None = None
) -> Posted:
    """Undo ``original`` by a new transaction of its legs negated (once: a second is a replay)."""
    entries = (
        await session.scalars(
            select(FundEntry).where(FundEntry.transaction_id == original.id).order_by(FundEntry.id)
        )
    ).all()
    accounts = {
        a.id: a
        for a in await session.scalars(
            select(FundAccount).where(FundAccount.id.in_([e.account_id for e in entries]))
        )
    }
    legs = [Leg(accounts[e.account_id], -e.amount_fen) for e in entries]
    return await post(
        session, f"reversal:{original.id}", "reversal", legs, county_code=original.county_code,
        channel=original.channel, donation_id=original.donation_id,
        funding_id=original.funding_id, allocation_id=original.allocation_id,
        reverses_id=original.id, memo=memo,
    )  # fmt: skip
