"""The ledger's invariants, read from its rows: each a check a test (or a state machine) runs."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.funds.models import FundAccount, FundEntry, FundTransaction


async def check_ledger(engine: AsyncEngine) -> dict[str, int]:
    """Every transaction balances, every balance is the sum of its entries (its version their
    count), no protected account is below zero; the balances by account key."""
    async with engine.connect() as connection:
        unbalanced = (
            await connection.execute(
                select(FundEntry.transaction_id)
                .group_by(FundEntry.transaction_id)
                .having(func.sum(FundEntry.amount_fen) != 0)
            )
        ).all()
        assert unbalanced == [], unbalanced
        empty = (
            await connection.execute(
                select(FundTransaction.id).where(
                    ~select(FundEntry.id)
                    .where(FundEntry.transaction_id == FundTransaction.id)
                    .exists()
                )
            )
        ).all()
        assert empty == [], empty
        sums = dict(
            (
                await connection.execute(
                    select(FundEntry.account_id, func.sum(FundEntry.amount_fen)).group_by(
                        FundEntry.account_id
                    )
                )
            ).all()
        )
        counts = dict(
            (
                await connection.execute(
                    select(FundEntry.account_id, func.count()).group_by(FundEntry.account_id)
                )
            ).all()
        )
        balances = {}
        for account in (await connection.execute(select(FundAccount))).all():
            assert account.balance_fen == int(sums.get(account.id, 0)), account.key
            assert account.version == int(counts.get(account.id, 0)), account.key
            if account.protected:
                assert account.balance_fen >= 0, account.key
            balances[account.key] = account.balance_fen
        return balances
