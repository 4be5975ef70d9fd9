"""Mass assignment: a field the body's schema does not name is refused, and changes nothing.

For every operation that takes a JSON body (:data:`BODIES` has one for each, checked against the
OpenAPI document), a valid body plus one forbidden field at a time (a status, a village of another
scope, a role, a claimer, a version, an id…) gets 422 problem details naming the field, and the
database is left as it was; then the valid body alone succeeds, so the refusal was the field's.
Operations that take no body do not read one: a body sent to them changes nothing it names.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.core.errors import PROBLEM_MEDIA_TYPE
from app.main import create_app
from tests.conftest import settings_for
from tests.factories import PASSWORD, assert_problem, make_admin
from tests.security import calls, fund_calls, programme_calls
from tests.security.calls import Call, Target
from tests.security.programme_calls import (
    ACT,
    SESSION,
    TUTOR,
    TUTORING,
    enrol,
    helper,
    on_pairing,
    on_programme,
)
from tests.security.world import (
    COUNTY_A,
    OTHER_COUNTY,
    TOWNSHIP_A,
    VILLAGE_A,
    VILLAGE_D,
    Role,
    World,
    database_state,
)


async def logout_by_refresh_token(world: World) -> Call:
    body = {"refresh_token": await world.refresh_token()}
    return Call("POST", "/api/v1/auth/logout", json=body)


@dataclass(frozen=True)
class Body:
    """Who sends a valid body to the operation, and the status it gets."""

    role: Role
    target: Target
    status: int = 200


BODIES: dict[str, Body] = {
    "POST /api/v1/auth/register": Body("anonymous", calls.sign_up, 201),
    "POST /api/v1/auth/refresh": Body("anonymous", calls.refresh),
    "PATCH /api/v1/me": Body(
        "donor", calls.fixed("PATCH", "/api/v1/me", json={"honour_roll": True})
    ),
    "POST /api/v1/auth/sms/send": Body("anonymous", calls.send_sms, 202),
    "POST /api/v1/auth/sms/register": Body("anonymous", calls.sign_up_by_phone, 201),
    "POST /api/v1/auth/logout": Body("anonymous", logout_by_refresh_token, 204),
    "POST /api/v1/me/password": Body("donor", calls.change_password),
    "POST /api/v1/admins": Body("county_in", calls.new_admin, 201),
    "POST /api/v1/households": Body("village_in", calls.new_household, 201),
    "PATCH /api/v1/households/{household_id}": Body(
        "village_in",
        calls.on_record("PATCH", "/api/v1/households/{}", "household", json={"size": 6}),
    ),
    "POST /api/v1/needs": Body("village_in", calls.new_need, 201),
    "PATCH /api/v1/needs/{need_id}": Body("village_in", calls.edit_need),
    "POST /api/v1/offers": Body(
        "donor", calls.fixed("POST", "/api/v1/offers", json=calls.OFFER), 201
    ),
    "POST /api/v1/pairings/{pairing_id}/decline": Body(
        "donor", calls.answer("decline", {"reason": "本月名额已满"})
    ),
    "POST /api/v1/webhooks": Body(
        "platform", calls.fixed("POST", "/api/v1/webhooks", json=calls.WEBHOOK), 201
    ),
    "POST /api/v1/me/notifications/read": Body(
        "donor", calls.fixed("POST", "/api/v1/me/notifications/read", json={"up_to_id": 1})
    ),
    "POST /api/v1/fundings": Body("village_in", fund_calls.new_funding, 201),
    "POST /api/v1/fundings/{funding_id}/purchase": Body("village_in", fund_calls.purchase),
    "POST /api/v1/offline-donations": Body("county_in", fund_calls.income, 201),
    "POST /api/v1/donations": Body("donor", fund_calls.new_donation, 201),
    "POST /api/v1/donations/{donation_id}/reverse": Body("county_in", fund_calls.reverse),
    "POST /api/v1/allocations": Body("county_in", fund_calls.new_allocation, 201),
    "POST /api/v1/allocations/{allocation_id}/approve": Body(
        "county_in", fund_calls.decide("approve")
    ),
    "POST /api/v1/allocations/{allocation_id}/reject": Body(
        "county_in", fund_calls.decide("reject")
    ),
    "POST /api/v1/households/{household_id}/helpers": Body(
        "village_in",
        calls.on_record("POST", "/api/v1/households/{}/helpers", "household", json=helper()),
    ),
    "POST /api/v1/households/{household_id}/help-acts": Body(
        "village_in",
        calls.on_record("POST", "/api/v1/households/{}/help-acts", "household", json=ACT),
        201,
    ),
    "POST /api/v1/programmes": Body(
        "county_in", calls.fixed("POST", "/api/v1/programmes", json=TUTORING), 201
    ),
    "POST /api/v1/programmes/{programme_id}/students": Body("village_in", enrol, 201),
    "POST /api/v1/programmes/{programme_id}/volunteers": Body(
        "donor", on_programme("POST", "/volunteers", json=TUTOR), 201
    ),
    "POST /api/v1/programme-pairings/{pairing_id}/sessions": Body(
        "donor", on_pairing("POST", "/sessions", json=SESSION), 201
    ),
    "POST /api/v1/programme-pairings/{pairing_id}/payments/{payment_id}/receive": Body(
        "county_in", programme_calls.receive_payment
    ),
    "POST /api/v1/programme-pairings/{pairing_id}/payments/{payment_id}/disburse": Body(
        "county_in", programme_calls.disburse_payment
    ),
    "POST /api/v1/programme-pairings/{pairing_id}/payments/{payment_id}/refund": Body(
        "county_in", programme_calls.refund_payment
    ),
    "POST /api/v1/matching/runs": Body(
        "township_in",
        calls.fixed("POST", "/api/v1/matching/runs", json={"scope": TOWNSHIP_A, "dry_run": True}),
        201,
    ),
}

# The steps of a need that take a body: who takes each, from which state, with which body.
STEPS: dict[str, tuple[Role, str, dict[str, str]]] = {
    "review": ("township_in", "pending_review", {"decision": "approve"}),
    "release": ("donor", "claimed", {"reason": "时间冲突"}),
    "deliver": ("donor", "claimed", {"note": "已送到村委会"}),
    "confirm": ("village_in", "delivered", {"thanks": "谢谢您"}),
    "dispute": ("village_in", "delivered", {"reason": "未收到"}),
    "cancel": ("village_in", "published", {"reason": "不再需要"}),
}
BODIES.update(
    {
        f"POST /api/v1/needs/{{need_id}}/{action}": Body(role, calls.on_need(state, action, body))
        for action, (role, state, body) in STEPS.items()
    }
)


def forbidden_fields(world: World) -> dict[str, Any]:
    """Fields a caller might slip into a body to set what only the service sets."""
    other_donor, other_admin = world.ids["other_donor"], world.ids["county_out"]
    return {
        "id": 1, "status": "fulfilled", "state": "fulfilled", "version": 99,
        "village_code": VILLAGE_D, "county_code": OTHER_COUNTY, "region_code": VILLAGE_D,
        "scope": "", "scope_code": "", "role": "platform", "is_admin": True, "is_active": True,
        "claimed_by": other_donor, "claimed_by_id": other_donor, "donor_id": other_donor,
        "user_id": other_donor, "created_by_id": other_admin, "household_id": 1,
        "offer_id": 1, "run_id": 1, "published_at": "2020-01-01T00:00:00Z",
        "fulfilled_at": "2020-01-01T00:00:00Z", "capacity_used": 0, "predicted_success": 1.0,
        "origin": "household", "honour_roll": True, "kind": "enterprise",
        "password_hash": "x", "head_name_masked": "刘**",
    }  # fmt: skip


def _openapi(tmp_path: Path) -> dict[str, Any]:
    settings = settings_for(f"sqlite+aiosqlite:///{tmp_path / 'schema.db'}", tmp_path)
    document: dict[str, Any] = create_app(settings).openapi()
    return document


def _properties(schema: dict[str, Any], document: dict[str, Any]) -> set[str]:
    """The field names a JSON schema admits, through $ref, anyOf, oneOf and allOf."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        return _properties(document["components"]["schemas"][name], document)
    names = set(schema.get("properties", {}))
    for key in ("anyOf", "oneOf", "allOf"):
        for part in schema.get(key, []):
            names |= _properties(part, document)
    return names


def body_fields(document: dict[str, Any]) -> dict[str, set[str] | None]:
    """Each POST and PATCH operation: the fields of its JSON body, None when it takes none."""
    operations: dict[str, set[str] | None] = {}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method not in ("post", "patch"):
                continue
            content = operation.get("requestBody", {}).get("content", {})
            schema = content.get("application/json", {}).get("schema")
            is_form = bool(content) and schema is None
            if not is_form:
                fields = None if schema is None else _properties(schema, document)
                operations[f"{method.upper()} {path}"] = fields
    return operations


def refusal_problems(response: Any, field_name: str) -> list[str]:
    """What is wrong with the answer to a body carrying ``field_name`` (nothing, if refused)."""
    if response.status_code != 422:
        return [f"{response.status_code} {response.text[:200]}"]
    if response.headers.get("content-type") != PROBLEM_MEDIA_TYPE:
        return ["422 without problem details"]
    body = response.json()
    named = {"loc": ["body", field_name], "type": "extra_forbidden"}
    errors = [{"loc": e.get("loc"), "type": e.get("type")} for e in body.get("errors") or []]
    if body.get("code") != "validation_failed" or named not in errors:
        return [f"422 that does not name the field: {body}"]
    return []


async def mass_assignment_problems(world: World, operation: str, fields: set[str]) -> list[str]:
    """Send the operation's valid body with each forbidden field, then alone."""
    spec = BODIES[operation]
    call = await spec.target(world)
    extras = {k: v for k, v in forbidden_fields(world).items() if k not in fields}
    assert extras, operation
    problems: list[str] = []
    before = await database_state(world.engine)
    for name, value in extras.items():
        tainted = dataclasses.replace(call, json={**call.json, name: value})
        response = await calls.send(world, spec.role, tainted)
        problems += [f"{operation} + {name}: {p}" for p in refusal_problems(response, name)]
        after = await database_state(world.engine)
        if changed := sorted(k for k in before if before[k] != after[k]):
            problems.append(f"{operation} + {name}: changed {', '.join(changed)}")
        before = after
    response = await calls.send(world, spec.role, call)
    if response.status_code != spec.status:
        problems.append(f"{operation}: the valid body got {response.status_code} {response.text}")
    return problems


def test_every_operation_with_a_json_body_has_a_valid_body(tmp_path: Path) -> None:
    with_body = {op for op, fields in body_fields(_openapi(tmp_path)).items() if fields is not None}
    assert with_body, "no operation with a JSON body was found"
    assert set(BODIES) == with_body


async def test_a_body_with_a_field_outside_its_schema_is_refused_and_writes_nothing(
    world: World, tmp_path: Path
) -> None:
    operations = body_fields(_openapi(tmp_path))
    problems: list[str] = []
    for operation in BODIES:
        fields = operations[operation]
        assert fields is not None, operation
        problems += await mass_assignment_problems(world, operation, fields)
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems)


async def test_extra_sign_in_fields_grant_nothing(world: World) -> None:
    # RFC 6749 §3.2: the token endpoint MUST ignore parameters it does not recognise, so extra
    # form fields are not refused; they must not reach the token or the account.
    form = {"username": world.usernames["donor"], "password": PASSWORD, "grant_type": "password"}
    extras = {"role": "platform", "scope": "", "scope_code": "", "user_id": "1", "is_active": "1"}
    response = await world.client.post("/api/v1/auth/token", data={**form, **extras})
    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    me = await world.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert (me.json()["id"], me.json()["role"], me.json()["scope"]) == (
        world.ids["donor"],
        "donor",
        None,
    )
    admins = await world.client.get("/api/v1/admins", headers={"Authorization": f"Bearer {token}"})
    assert admins.status_code == 403


async def post(
    world: World, url: str, body: dict[str, Any], role: Role = "donor"
) -> dict[str, Any]:
    """The POST of ``body`` to ``url`` by ``role``, which must succeed."""
    response = await calls.send(world, role, Call("POST", url, json=body))
    assert response.status_code in (200, 201), response.text
    answer_body: dict[str, Any] = response.json()
    return answer_body


async def test_a_body_sent_to_an_operation_without_one_changes_nothing_it_names(
    world: World, tmp_path: Path
) -> None:
    document = body_fields(_openapi(tmp_path))
    bodiless = {op for op, fields in document.items() if fields is None}
    assert bodiless == {
        "POST /api/v1/admins/{admin_id}/disable",
        "POST /api/v1/admins/{admin_id}/enable",
        "POST /api/v1/needs/{need_id}/claim",
        "POST /api/v1/offers/{offer_id}/withdraw",
        "POST /api/v1/pairings/{pairing_id}/accept",
        "POST /api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/retry",
        # test_a_body_sent_to_a_step_of_a_donation_funding_or_programme_changes_nothing
        "POST /api/v1/donations/{donation_id}/close",
        "POST /api/v1/fundings/{funding_id}/confirm",
        "POST /api/v1/payments/notify/wechat_pay",
        "POST /api/v1/programmes/{programme_id}/matching",
        "POST /api/v1/programme-pairings/{pairing_id}/{action}",
    }
    extras = forbidden_fields(world)
    need = await world.need("published")
    claimed = await post(world, f"/api/v1/needs/{need['id']}/claim", extras)
    assert (claimed["need"]["status"], claimed["need"]["version"]) == ("claimed", 2)
    assert claimed["pairing"]["donor_id"] == world.ids["donor"]

    offer = await post(world, f"/api/v1/offers/{await world.offer('donor', '')}/withdraw", extras)
    assert (offer["status"], offer["version"], offer["capacity_used"]) == ("withdrawn", 2, 0)
    assert offer["donor_id"] == world.ids["donor"]

    proposal = await world.proposal("township_in")
    accepted = await post(world, f"/api/v1/pairings/{proposal['id']}/accept", extras)
    assert accepted["pairing"]["donor_id"] == world.ids["donor"]
    assert (accepted["need"]["status"], accepted["pairing"]["status"]) == ("claimed", "active")

    retry = dataclasses.replace(await calls.retry_delivery(world), json=extras)
    before = await database_state(world.engine)
    assert (await calls.send(world, "platform", retry)).status_code == 409  # pending, not dead
    assert await database_state(world.engine) == before

    admin = await make_admin(world.app, "village", VILLAGE_A)
    for action, active in (("disable", False), ("enable", True)):
        call = Call("POST", f"/api/v1/admins/{admin.id}/{action}", json=extras)
        response = await calls.send(world, "county_in", call)
        assert response.status_code == 200, response.text
        changed = response.json()
        assert (changed["role"], changed["scope"], changed["is_active"]) == (
            "village",
            VILLAGE_A,
            active,
        )


async def test_a_body_sent_to_a_step_of_a_donation_funding_or_programme_changes_nothing(
    world: World,
) -> None:
    extras = forbidden_fields(world)
    order = await fund_calls.order(world)
    closed = await post(world, f"/api/v1/donations/{order['id']}/close", extras)
    assert (closed["status"], closed["amount_fen"], closed["county_code"], closed["need_id"]) == (
        "closed", order["amount_fen"], COUNTY_A, None,
    )  # fmt: skip

    confirm = await fund_calls.confirm(world)
    completed = await post(world, confirm.url, extras, "village_in")
    assert (completed["status"], completed["village_code"], completed["target_fen"]) == (
        "completed", VILLAGE_A, fund_calls.FUNDABLE_FEN,
    )  # fmt: skip

    run = await programme_calls.matched(world, extras)
    [pairing] = run["pairings"]
    assert (pairing["donor_id"], pairing["village_code"], pairing["status"]) == (
        world.ids["donor"], VILLAGE_A, "active",
    )  # fmt: skip
    url = f"/api/v1/programme-pairings/{pairing['id']}/renew"
    renewed = await post(world, url, extras, "county_in")
    assert (renewed["donor_id"], renewed["student_id"], renewed["status"], renewed["renewals"]) == (
        world.ids["donor"], pairing["student_id"], "active", 1,
    )  # fmt: skip

    # Unsigned, the body is refused whatever it names; only the refusal's log is written.
    before = await database_state(world.engine)
    notified = await calls.send(world, "platform", Call("POST", fund_calls.NOTIFY, json=extras))
    assert_problem(notified, 400, "payment_notification_forged")
    after = await database_state(world.engine)
    assert {name for name in before if before[name] != after[name]} == {"payment_notifications"}
