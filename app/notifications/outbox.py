"""The outbox: each recorded change someone should hear of becomes notifications, in the
transaction of the change (:func:`app.events.service.follow`), each fanned out to the webhook
endpoints that listen for its type.

:data:`RULES` says which events tell whom: (entity, action, state left) → (type, recipients).
Recipients are the pairing's donor, the admins of the need's village, or nobody but the app's
backend. Whoever acted is not told of their own act. A notification holds ids, the recipient's
user id, the need's title, category and village code, and nothing of the household.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import bindparam, insert, select
from sqlalchemy.engine import Connection

from app.accounts.models import User
from app.core.db import utcnow
from app.core.upsert import insert_or_nothing
from app.inbox import service as inbox
from app.inbox.models import Notification
from app.needs.models import Need
from app.notifications.models import WebhookDelivery, WebhookEndpoint
from app.pairings.models import Pairing

Recipients = Literal["donor", "village", "backend", "thanked"]


@dataclass(frozen=True, slots=True)
class Rule:
    type: str
    to: Recipients


# (entity, action, the state it left or None for any) → what is told, to whom.
RULES: dict[tuple[str, str, str | None], tuple[Rule, ...]] = {
    ("need", "post", None): (Rule("need.published", "backend"),),  # when posted published
    ("need", "approve", None): (Rule("need.published", "backend"),),
    ("need", "claim", None): (Rule("need.claimed", "village"),),
    ("need", "release", None): (Rule("need.released", "village"),),
    ("need", "deliver", None): (Rule("need.delivered", "village"),),
    ("need", "settle", None): (Rule("need.fulfilled", "backend"),),  # what its money bought
    ("pairing", "confirm", None): (
        Rule("need.fulfilled", "donor"), Rule("thanks.received", "thanked"),
    ),
    ("pairing", "dispute", None): (Rule("need.disputed", "donor"),),
    ("pairing", "lapse", "active"): (Rule("need.lapsed", "donor"), Rule("need.lapsed", "village")),
    ("pairing", "lapse", "proposed"): (Rule("pairing.lapsed", "donor"),),
    ("pairing", "propose", None): (Rule("pairing.proposed", "donor"),),
    ("pairing", "accept", None): (Rule("pairing.accepted", "village"),),
    ("pairing", "decline", None): (Rule("pairing.declined", "village"),),
}  # fmt: skip


def rules_for(row: Mapping[str, Any]) -> tuple[Rule, ...]:
    entity, action, before = row["entity"], row["action"], row.get("from_status")
    if (entity, action) == ("need", "post") and row.get("to_status") != "published":
        return ()
    return RULES.get((entity, action, before)) or RULES.get((entity, action, None)) or ()


@dataclass(frozen=True, slots=True)
class Message:
    """One notification to write: a type, its recipient (None: the backend only) and data."""

    type: str
    user_id: int | None
    need_id: int | None
    pairing_id: int | None
    data: dict[str, Any] = field(default_factory=dict)
    key: str | None = None
    at: dt.datetime | None = None  # when it was told (None: when it is written)


def need_data(need: Any) -> dict[str, Any]:
    """What a notification says of a need: its id, title, category and village code."""
    return {
        "need_id": need.id,
        "title": need.title,
        "category": need.category,
        "village_code": need.village_code,
    }


# The follower runs in the flush of every change it tells of: its statements are built once,
# their values bound at execution (building one costs more than running it).
_NEEDS = select(Need.id, Need.title, Need.category, Need.village_code).where(
    Need.id.in_(bindparam("ids", expanding=True))
)
_PAIRINGS = select(
    Pairing.id, Pairing.donor_id, Pairing.thanks.is_not(None).label("thanked")
).where(Pairing.id.in_(bindparam("ids", expanding=True)))
_VILLAGE_ADMINS = select(User.id, User.scope_code).where(
    User.role == "village",
    User.scope_code.in_(bindparam("codes", expanding=True)),
    User.is_active.is_(True),
)
# Most events tell one village: its statement needs no list spelled out at each execution.
_ONE_VILLAGE_ADMINS = select(User.id, User.scope_code).where(
    User.role == "village", User.scope_code == bindparam("code"), User.is_active.is_(True)
)
_ENDPOINTS = select(WebhookEndpoint.id, WebhookEndpoint.events).where(
    WebhookEndpoint.disabled_at.is_(None), WebhookEndpoint.deleted_at.is_(None)
)
# Notifications that an endpoint listens for need their ids for its deliveries: one goes in as
# one INSERT … RETURNING, several as one statement of many rows that hands back their ids in the
# rows' order. The others (most: few endpoints listen for every type) go in as one statement.
_INSERT_ONE = insert(Notification).returning(Notification.id)
_INSERT_MANY = insert(Notification).returning(Notification.id, sort_by_parameter_order=True)
_INSERT_PLAIN = insert(Notification)


def village_admins(connection: Connection, villages: Iterable[str]) -> dict[str, list[int]]:
    """The active admins of each village (village role, that village's code)."""
    codes = sorted(set(villages))
    found: dict[str, list[int]] = {code: [] for code in codes}
    if not codes:
        return found
    if len(codes) == 1:
        rows = connection.execute(_ONE_VILLAGE_ADMINS, {"code": codes[0]}).all()
    else:
        rows = connection.execute(_VILLAGE_ADMINS, {"codes": codes}).all()
    for user_id, code in rows:
        found[str(code)].append(user_id)
    return found


def from_events(connection: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """The follower of :mod:`app.events.service`: write what ``rows`` tell, to whom."""
    told = [(row, rules) for row in rows if (rules := rules_for(row))]
    if not told:
        return
    need_ids = {row["need_id"] for row, _ in told if row.get("need_id")}
    pairing_ids = {row["entity_id"] for row, _ in told if row["entity"] == "pairing"}
    # The needs the recorders held come with their events; only the others are read.
    needs: dict[Any, Any] = {
        row["need_id"]: row["need"] for row, _ in told if row.get("need") is not None
    }
    if unread := need_ids - needs.keys():
        needs.update((n.id, n) for n in connection.execute(_NEEDS, {"ids": sorted(unread)}))
    # So are the pairings: their donor, and whether the donor was thanked.
    pairings: dict[Any, Any] = {
        row["entity_id"]: p for row, _ in told if (p := row.get("pairing")) is not None
    }
    if unread_pairings := pairing_ids - pairings.keys():
        pairings.update(
            (p.id, p) for p in connection.execute(_PAIRINGS, {"ids": sorted(unread_pairings)}).all()
        )
    # Only the villages of the events that tell their admins are asked for them.
    villages = {
        needs[row["need_id"]].village_code
        for row, rules in told
        if row.get("need_id") in needs and any(rule.to == "village" for rule in rules)
    }
    admins = village_admins(connection, villages)
    messages: list[Message] = []
    for row, rules in told:
        need = needs.get(row.get("need_id"))
        if need is None:
            continue
        pairing = pairings.get(row["entity_id"]) if row["entity"] == "pairing" else None
        for rule in rules:
            if rule.to == "backend":
                recipients: list[int | None] = [None]
            elif rule.to == "village":
                recipients = list(admins.get(need.village_code, []))
            elif pairing is None or (rule.to == "thanked" and not pairing.thanked):
                recipients = []
            else:
                recipients = [pairing.donor_id]
            for user_id in recipients:
                if user_id is not None and user_id == row.get("actor_id"):
                    continue
                messages.append(
                    Message(
                        rule.type, user_id, need.id, pairing.id if pairing else None,
                        {**need_data(need), "pairing_id": pairing.id if pairing else None,
                         "recipient_id": user_id},
                        at=row.get("at"),
                    )
                )  # fmt: skip
    emit(connection, messages)


def emit(
    connection: Connection, messages: Sequence[Message], now: dt.datetime | None = None
) -> int:
    """Write ``messages`` as the recipients prefer (off: not at all; digest: held for it;
    reminders: after the quiet hours), each with a delivery to every endpoint of its type.

    Each is written as of its ``at`` (the time of the change it tells of), else ``now``. A
    message with a ``key`` already written is skipped (a reminder is sent once). Returns how
    many notifications were written.
    """
    if not messages:
        return 0
    now = now or utcnow()
    plans = inbox.plans(connection, (m.user_id for m in messages if m.user_id is not None))
    written: list[tuple[int, str, dt.datetime | None, dt.datetime]] = []
    plain: list[dict[str, Any]] = []
    for message in messages:
        plan = plans.get(message.user_id) if message.user_id is not None else None
        if plan is not None and plan.mode(message.type) == "off":
            continue
        at = message.at or now
        visible = plan.visible_at(message.type, at) if plan is not None else at
        row = {
            "type": message.type, "user_id": message.user_id, "need_id": message.need_id,
            "pairing_id": message.pairing_id, "data": message.data, "key": message.key,
            "visible_at": visible, "created_at": at,
        }  # fmt: skip
        if message.key is None:
            plain.append(row)
            continue
        new_id = connection.execute(
            insert_or_nothing(connection.dialect.name, Notification, ["key"])
            .values(**row)
            .returning(Notification.id)
        ).scalar_one_or_none()
        if new_id is not None:
            written.append((new_id, message.type, visible, at))
    endpoints = _endpoints(connection) if any(n[2] is not None for n in written) else None
    shown = {row["type"] for row in plain if row["visible_at"] is not None}
    if shown and endpoints is None:
        endpoints = _endpoints(connection)
    if not any(kind in endpoint.events for endpoint in endpoints or () for kind in shown):
        # No endpoint listens for any of them: their ids are not needed for deliveries, so
        # they go in as one statement of many rows that hands nothing back.
        if plain:
            connection.execute(_INSERT_PLAIN, plain)
        fan_out(connection, written, endpoints)
        return len(written) + len(plain)
    ids: list[int] = []
    if len(plain) == 1:
        ids = [connection.execute(_INSERT_ONE, plain[0]).scalar_one()]
    elif plain:
        ids = list(connection.execute(_INSERT_MANY, plain).scalars())
    written += [
        (i, row["type"], row["visible_at"], row["created_at"])
        for i, row in zip(ids, plain, strict=True)
    ]
    fan_out(connection, written, endpoints)
    return len(written)


def _endpoints(connection: Connection) -> Sequence[Any]:
    return connection.execute(_ENDPOINTS).all()


def fan_out(
    connection: Connection,
    notifications: Sequence[tuple[int, str, dt.datetime | None, dt.datetime]],
    endpoints: Sequence[Any] | None = None,
) -> int:
    """A pending delivery of each shown notification to every live endpoint of its type, made
    when the notification was (the last of each tuple: id, type, shown from, made);
    ``endpoints``: the live endpoints, if just read."""
    shown = [n for n in notifications if n[2] is not None]
    if not shown:
        return 0
    if endpoints is None:
        endpoints = _endpoints(connection)
    rows = [
        {
            "endpoint_id": endpoint.id, "notification_id": notification_id, "status": "pending",
            "attempts": 0, "next_attempt_at": visible, "created_at": made,
        }
        for notification_id, kind, visible, made in shown
        for endpoint in endpoints
        if kind in endpoint.events
    ]  # fmt: skip
    if rows:
        connection.execute(insert(WebhookDelivery), rows)
    return len(rows)
