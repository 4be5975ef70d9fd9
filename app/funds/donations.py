"""Donations: online through WeChat Pay (an order, then the provider's notification), recorded at
the county office, or given from credits; receipts; reversals.

A settled donation's money goes to the county's pool or to the crowdfunded need it names. A
need takes no more than its target: whatever a payment brings beyond it (others filled the need
while the donor paid) becomes the donor's credits, so a need is funded at exactly 100%.
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
from collections.abc import Mapping
from typing import ClassVar

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import User
from app.core.db import utcnow
from app.core.errors import AppError, Conflict, Forbidden, NotFound
from app.core.scope import Scope
from app.core.settings import Settings
from app.funds import ledger
from app.funds.common import CST, county, move, next_receipt_no
from app.funds.crowdfunding import credits_account, reached_target
from app.funds.models import (
    Donation,
    FundAccount,
    FundTransaction,
    NeedFunding,
    PaymentNotification,
)
from app.funds.schemas import DonationCreate, OfflineDonationCreate
from app.funds.states import DONATION
from app.funds.wechatpay import Notification, Rejected, WechatPay

log = structlog.get_logger("aixin.funds")

FAILED_TRADE_STATES = ("CLOSED", "PAYERROR", "REVOKED")


class NotificationRefused(AppError):
    """A notification refused; its log row stays (the request's writes are kept)."""

    status, code, title = 400, "payment_notification_forged", "Notification refused"
    keeps_writes = True
    STATUSES: ClassVar[dict[str, int]] = {
        "payment_order_unknown": 404,
        "payment_amount_mismatch": 422,
    }

    def __init__(self, detail: str, *, code: str) -> None:
        super().__init__(detail, code=code)
        self.status = self.STATUSES.get(code, 400)


# -- creating ----------------------------------------------------------------------------------


async def donate(
    session: AsyncSession,
    donor: User,
    body: DonationCreate,
    settings: Settings,
    provider: WechatPay | None,
) -> Donation:
    """A donation to a pool or a crowdfunded need: an order to pay, or credits given at once."""
    funding = None
    if body.target.need_id is not None:
        funding = await _open_funding(session, body.target.need_id)
        raised = await ledger.balance(session, funding.account_id)
        if body.amount_fen > funding.target_fen - raised:
            raise Conflict(
                "The amount is more than the need still lacks",
                code="funding_exceeded", remaining_fen=funding.target_fen - raised,
            )  # fmt: skip
        county_code = funding.county_code
    else:
        assert body.target.pool is not None
        county_code = (await county(session, body.target.pool)).code
    donation = Donation(
        donor_id=donor.id, county_code=county_code, need_id=body.target.need_id,
        channel=body.channel, amount_fen=body.amount_fen, status="pending",
    )  # fmt: skip
    if body.channel == "credits":
        session.add(donation)
        await session.flush()
        await _give_credits(session, donation, donor, settings.credits_days)
        return donation
    if provider is None:
        raise Conflict(
            "Online donations are not open here (no payment channel is configured)",
            code="payment_channel_unavailable",
        )
    donation.out_trade_no = f"AXD{secrets.token_hex(10).upper()}"
    expires = utcnow() + dt.timedelta(minutes=settings.payment_order_minutes)
    what = (
        f"爱心捐赠（需求 {body.target.need_id}）"
        if funding
        else f"爱心捐赠（{county_code} 基金库）"
    )
    donation.code_url = await provider.create_native_order(
        donation.out_trade_no, what, body.amount_fen, expires
    )
    session.add(donation)
    await session.flush()
    return donation


async def _open_funding(session: AsyncSession, need_id: int) -> NeedFunding:
    funding = await session.scalar(select(NeedFunding).where(NeedFunding.need_id == need_id))
    if funding is None:
        raise NotFound("The need is not being crowdfunded", code="funding_not_found")
    if funding.status != "open":
        raise Conflict("The need's crowdfunding is not open", code="funding_not_open")
    return funding


async def _give_credits(
    session: AsyncSession, donation: Donation, donor: User, credits_days: int
) -> None:
    """Settle a donation from the donor's credits, those lapsing first spent first."""
    now = utcnow()
    held = (
        await session.scalars(
            select(FundAccount)
            .where(
                FundAccount.kind == "credits",
                FundAccount.donor_id == donor.id,
                FundAccount.expires_at > now,
                FundAccount.balance_fen > 0,
            )
            .order_by(FundAccount.expires_at, FundAccount.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).all()
    legs, left = [], donation.amount_fen
    for account in held:
        take = min(left, account.balance_fen)
        if take:
            legs.append(ledger.Leg(account, -take))
            left -= take
    if left:
        raise Conflict("You do not hold enough credits", code="insufficient_credits")
    await _settle(
        session, donation, legs, kind="credit_gift", key=f"credits:{donation.id}",
        credits_days=credits_days,
    )  # fmt: skip
    await move(session, donation, DONATION, "pay", lost="donation_changed", paid_at=now)


async def _settle(
    session: AsyncSession,
    donation: Donation,
    sources: list[ledger.Leg],
    *,
    kind: str,
    key: str,
    credits_days: int,
) -> None:
    """Post the money of ``donation`` from ``sources`` to its pool or need (and any excess to
    the donor's credits); a need that reaches its target is funded."""
    amount = donation.amount_fen
    legs = list(sources)
    funding = None
    to_need = 0
    if donation.need_id is None:
        legs.append(ledger.Leg(await ledger.pool(session, donation.county_code), amount))
    else:
        # The funding's row lock orders this against its deadline and against other payments.
        funding = await session.scalar(
            select(NeedFunding)
            .where(NeedFunding.need_id == donation.need_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        assert funding is not None
        if funding.status == "open":
            account = await ledger.lock(session, funding.account_id)
            to_need = min(amount, funding.target_fen - account.balance_fen)
            legs.append(ledger.Leg(account, to_need))
        if amount - to_need:
            assert donation.donor_id is not None
            spare = await credits_account(session, donation.donor_id, funding, credits_days)
            legs.append(ledger.Leg(spare, amount - to_need))
    await ledger.post(
        session, key, kind, legs, county_code=donation.county_code, channel=donation.channel,
        donation_id=donation.id, funding_id=funding.id if funding else None,
    )  # fmt: skip
    donation.to_need_fen = to_need
    if funding is not None and to_need:
        await reached_target(session, funding)


async def _receipt(session: AsyncSession, donation: Donation, when: dt.datetime) -> dict[str, int]:
    year = when.astimezone(CST).year
    return {
        "receipt_year": year,
        "receipt_no": await next_receipt_no(session, donation.county_code, year),
    }


# -- the provider's notifications --------------------------------------------------------------


async def _log(
    session: AsyncSession, outcome: str, detail: str, notification: Notification | None
) -> None:
    log.warning(
        "payment_notification", outcome=outcome, detail=detail,
        out_trade_no=notification.out_trade_no if notification else None,
    ) if outcome != "accepted" else log.info(
        "payment_notification", outcome=outcome,
        out_trade_no=notification.out_trade_no if notification else None,
    )  # fmt: skip
    session.add(
        PaymentNotification(
            channel="wechat_pay", outcome=outcome, detail=detail[:300],
            notification_id=notification.id[:64] if notification else None,
            out_trade_no=notification.out_trade_no[:32] if notification else None,
        )
    )  # fmt: skip
    await session.flush()


async def notified(
    session: AsyncSession,
    provider: WechatPay | None,
    headers: Mapping[str, str],
    body: bytes,
    credits_days: int,
) -> str:
    """Take a payment notification; its outcome. A forged, stale, unreadable or wrong one is
    refused (4xx, so the provider sends it again, and logged); a duplicate or a late one (the
    order already settled, failed or closed) is acknowledged and changes nothing."""
    if provider is None:
        raise Conflict(
            "Online donations are not open here (no payment channel is configured)",
            code="payment_channel_unavailable",
        )
    try:
        notification = provider.read_notification(headers, body, now=time.time())
    except Rejected as refused:
        await _log(session, refused.outcome, refused.detail, None)
        raise _refusal(refused) from None
    donation = await session.scalar(
        select(Donation).where(Donation.out_trade_no == notification.out_trade_no)
    )
    if donation is None or donation.channel != provider.channel:
        await _log(session, "unknown_order", "no such order", notification)
        raise NotificationRefused(
            "The notification names an order we never made", code="payment_order_unknown"
        )
    if notification.trade_state == "SUCCESS" and not _amount_agrees(
        provider, donation, notification
    ):
        await _log(
            session,
            "wrong_amount",
            f"paid {notification.total_fen} {notification.currency}",
            notification,
        )
        raise NotificationRefused(
            "The amount paid is not the donation's amount", code="payment_amount_mismatch"
        )
    return await _apply(session, donation, notification, credits_days)


def _refusal(refused: Rejected) -> NotificationRefused:
    detail = f"Notification refused: {refused.detail}"
    if refused.outcome == "stale":
        return NotificationRefused(detail, code="payment_notification_stale")
    if refused.outcome == "undecryptable":
        return NotificationRefused(detail, code="payment_notification_undecryptable")
    return NotificationRefused(detail, code="payment_notification_forged")


def _amount_agrees(provider: WechatPay, donation: Donation, notification: Notification) -> bool:
    return (
        notification.total_fen == donation.amount_fen
        and notification.currency == "CNY"
        and notification.mchid == provider.config.mchid
        and notification.transaction_id is not None
    )


async def _apply(
    session: AsyncSession, donation: Donation, notification: Notification, credits_days: int
) -> str:
    if notification.trade_state == "SUCCESS":
        action = "pay"
    elif notification.trade_state in FAILED_TRADE_STATES:
        action = "fail"
    else:
        await _log(session, "failed_trade", f"trade state {notification.trade_state}", notification)
        return "failed_trade"
    try:
        async with session.begin_nested():
            if donation.status != "pending":
                raise Conflict("settled already", code="donation_changed")
            if action == "pay":
                await _pay(session, donation, notification, credits_days)
            else:
                await move(
                    session,
                    donation,
                    DONATION,
                    "fail",
                    lost="donation_changed",
                    closed_reason=notification.trade_state,
                )
    except Conflict:
        # Another copy of the notification (or the donor's close) moved it first.
        await session.refresh(donation)
        same = (
            donation.status == "paid"
            and donation.provider_transaction_id == notification.transaction_id
        )
        outcome = (
            "duplicate" if same or (action == "fail" and donation.status == "failed") else "late"
        )
        await _log(session, outcome, f"the donation is {donation.status}", notification)
        return outcome
    await _log(session, "accepted" if action == "pay" else "failed_trade", action, notification)
    return "accepted" if action == "pay" else "failed_trade"


async def _pay(
    session: AsyncSession, donation: Donation, notification: Notification, credits_days: int
) -> None:
    now = utcnow()
    await move(session, donation, DONATION, "pay", lost="donation_changed", paid_at=now,
        provider_transaction_id=notification.transaction_id,
    )  # fmt: skip
    # Numbered only once the donation is ours to settle: a losing copy takes no number.
    for name, value in (await _receipt(session, donation, now)).items():
        setattr(donation, name, value)
    clearing = await ledger.clearing(session, "wechat_pay")
    await _settle(
        session, donation, [ledger.Leg(clearing, -donation.amount_fen)],
        kind="income", key=f"wechat_pay:{notification.transaction_id}", credits_days=credits_days,
    )  # fmt: skip
    await session.flush()


# -- the donor's and the office's steps --------------------------------------------------------


async def get_own(session: AsyncSession, user: User, donation_id: int) -> Donation:
    """A donation its donor may see (admins: one in their scope); else 404."""
    donation = await session.get(Donation, donation_id)
    visible = donation is not None and (
        donation.donor_id == user.id
        or (user.is_admin and Scope(user.scope_code or "").covers(donation.county_code))
    )
    if not visible:
        raise NotFound(f"No donation {donation_id}", code="donation_not_found")
    assert donation is not None
    return donation


async def close(
    session: AsyncSession, donor: User, donation_id: int, provider: WechatPay | None
) -> Donation:
    """The donor gives up an unpaid order; the provider's order is closed too."""
    donation = await get_own(session, donor, donation_id)
    DONATION.check(donation.status, "close")
    if donation.donor_id != donor.id:
        raise Forbidden("Only the donor closes an order", code="not_owner")
    await move(
        session,
        donation,
        DONATION,
        "close",
        lost="donation_changed",
        closed_reason="closed by the donor",
    )
    if provider is not None and donation.out_trade_no:
        await provider.close_order(donation.out_trade_no)
    return donation


async def record_offline(
    session: AsyncSession, admin: User, scope: Scope, body: OfflineDonationCreate
) -> Donation:
    """Money received at the county office, into the pool, once per voucher number."""
    region = await county(session, body.county)
    if not scope.covers(region.code):
        raise NotFound(f"No county {body.county}", code="county_not_found")
    if admin.role not in ("county", "platform"):
        raise Forbidden("Only the county office records offline donations", code="county_only")
    key = f"offline:{region.code}:{body.voucher_no}"
    earlier = await session.scalar(
        select(Donation).where(
            Donation.county_code == region.code, Donation.channel == "offline",
            Donation.voucher_no == body.voucher_no,
        )
    )  # fmt: skip
    if earlier is not None:
        if earlier.amount_fen != body.amount_fen:
            raise Conflict("This voucher was recorded with another amount", code="voucher_recorded")
        return earlier
    now = utcnow()
    donation = Donation(
        county_code=region.code, channel="offline", amount_fen=body.amount_fen, status="pending",
        voucher_no=body.voucher_no, donor_name=body.donor_name, received_on=body.received_on,
        recorded_by_id=admin.id,
    )  # fmt: skip
    session.add(donation)
    await session.flush()
    source = await ledger.offline(session, region.code)
    await _settle(
        session, donation, [ledger.Leg(source, -body.amount_fen)], kind="income", key=key,
        credits_days=0,  # an offline donation goes to the pool: no credits
    )  # fmt: skip
    await move(
        session,
        donation,
        DONATION,
        "pay",
        lost="donation_changed",
        paid_at=now,
        **(await _receipt(session, donation, now)),
    )
    return donation


async def reverse(
    session: AsyncSession, admin: User, scope: Scope, donation_id: int, reason: str
) -> Donation:
    """Undo a settled donation by a reversing transaction (the money must still be there)."""
    donation = await session.get(Donation, donation_id)
    if donation is None or not scope.covers(donation.county_code):
        raise NotFound(f"No donation {donation_id}", code="donation_not_found")
    DONATION.check(donation.status, "reverse")
    if admin.role not in ("county", "platform"):
        raise Forbidden("Only the county office reverses a donation", code="county_only")
    await move(
        session, donation, DONATION, "reverse", lost="donation_changed", closed_reason=reason
    )
    original = await session.scalars(
        select(FundTransaction).where(
            FundTransaction.donation_id == donation.id, FundTransaction.kind != "reversal"
        )
    )
    for transaction in original.all():
        await ledger.reverse(session, transaction, memo=reason[:200])
    return donation
