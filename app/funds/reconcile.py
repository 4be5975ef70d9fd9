"""Reconciliation (对账): the provider's settled payments of a day against the ledger's income.

The provider's trade bill lists the day's successful payments (China Standard Time); the ledger
has an income transaction per settled online donation. Every payment the ledger lacks, every
income the bill lacks, and every amount that differs is a mismatch.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.funds.common import CST
from app.funds.models import Donation, FundEntry, FundTransaction
from app.funds.wechatpay import WechatPay


@dataclass(frozen=True, slots=True)
class Mismatch:
    out_trade_no: str
    provider_fen: int | None  # None: the provider settled no such payment that day
    ledger_fen: int | None  # None: the ledger booked no income for it that day

    def __str__(self) -> str:
        if self.ledger_fen is None:
            return f"{self.out_trade_no}: 微信支付已结算 {self.provider_fen} 分，账本无收入"
        if self.provider_fen is None:
            return f"{self.out_trade_no}: 账本收入 {self.ledger_fen} 分，微信支付无结算"
        return f"{self.out_trade_no}: 微信支付 {self.provider_fen} 分，账本 {self.ledger_fen} 分"


async def ledger_income(session: AsyncSession, day: dt.date, channel: str) -> dict[str, int]:
    """The channel's income booked on ``day`` (Beijing time), by order number, net of reversals
    booked that day."""
    start = dt.datetime.combine(day, dt.time(), tzinfo=CST)
    end = start + dt.timedelta(days=1)
    rows = await session.execute(
        select(Donation.out_trade_no, FundEntry.amount_fen)
        .join(FundTransaction, FundTransaction.donation_id == Donation.id)
        .join(FundEntry, FundEntry.transaction_id == FundTransaction.id)
        .where(
            Donation.channel == channel,
            FundTransaction.kind.in_(("income", "reversal")),
            FundTransaction.created_at >= start,
            FundTransaction.created_at < end,
            FundEntry.amount_fen < 0,
        )
    )
    booked: dict[str, int] = {}
    for out_trade_no, amount in rows.all():
        # The leg that leaves the clearing account is minus the income.
        booked[str(out_trade_no)] = booked.get(str(out_trade_no), 0) - int(amount)
    return {no: amount for no, amount in booked.items() if amount}


async def reconcile(session: AsyncSession, provider: WechatPay, day: dt.date) -> list[Mismatch]:
    settled = {
        row.out_trade_no: row.amount_fen
        for row in await provider.trade_bill(day)
        if row.state == "SUCCESS"
    }
    booked = await ledger_income(session, day, provider.channel)
    return [
        Mismatch(no, settled.get(no), booked.get(no))
        for no in sorted(settled.keys() | booked.keys())
        if settled.get(no) != booked.get(no)
    ]
