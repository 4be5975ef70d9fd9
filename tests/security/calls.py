"""The requests of the security tests: what each operation is sent, on the world's records."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from httpx import Response

from app.main import create_app
from tests.conftest import settings_for
from tests.factories import (
    PASSWORD,
    id_number,
    make_admin,
    mobile_number,
    phone_number,
    png_bytes,
    send_code,
    unique,
)
from tests.security.world import COUNTY_A, VILLAGE_A, Role, World, current_quarter


@dataclass(frozen=True)
class Call:
    """One request, without the caller's token."""

    method: str
    url: str
    json: Any = None
    content: bytes | None = None
    data: dict[str, str] | None = None
    params: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    files: dict[str, Any] | None = None
    # "fresh": the caller acts in a session of its own, so that ending it ends no other cell's;
    # "renewed": the answer is the caller's new token pair, used from then on.
    session: Literal["shared", "fresh", "renewed"] = "shared"


Target = Callable[[World], Awaitable[Call]]


# -- the requests ------------------------------------------------------------------------------


def fixed(method: str, url: str, **fields: Any) -> Target:
    """The same request whatever the world holds."""

    async def target(world: World) -> Call:
        return Call(method, url, **fields)

    return target


def on_record(method: str, url: str, key: str, **fields: Any) -> Target:
    """A request on one of the world's records (``url`` has one ``{}`` for its id)."""

    async def target(world: World) -> Call:
        return Call(method, url.format(world.records[key]), **fields)

    return target


def on_need(state: str, action: str, body: Any = None) -> Target:
    """A step of a new need of village A in ``state`` (claims and deliveries by the donor)."""

    async def target(world: World) -> Call:
        need = await world.need(state)
        return Call("POST", f"/api/v1/needs/{need['id']}/{action}", json=body)

    return target


async def sign_up(world: World) -> Call:
    body = {
        "username": unique("new-donor"), "password": PASSWORD, "display_name": "新人",
        "kind": "individual",
    }  # fmt: skip
    return Call("POST", "/api/v1/auth/register", json=body)


async def sign_in(world: World) -> Call:
    form = {"username": world.usernames["donor"], "password": PASSWORD}
    return Call("POST", "/api/v1/auth/token", data=form)


async def refresh(world: World) -> Call:
    return Call("POST", "/api/v1/auth/refresh", json={"refresh_token": await world.refresh_token()})


async def new_admin(world: World) -> Call:
    body = {"username": unique("new-village"), "password": PASSWORD}
    return Call("POST", "/api/v1/admins", json={**body, "role": "village", "scope": VILLAGE_A})


async def new_household(world: World) -> Call:
    number, phone = id_number(), phone_number()
    world.personal[VILLAGE_A].update({number, phone})
    body = {
        "village_code": VILLAGE_A, "head_name": "刘德华", "id_number": number, "phone": phone,
        "size": 2, "support_category": "dibao",
    }  # fmt: skip
    return Call("POST", "/api/v1/households", json=body)


async def new_need(world: World) -> Call:
    body = {
        "household_id": await world.household(VILLAGE_A), "category": world.category or "goods",
        "title": "大米",
        "description": "大米两袋", "value_fen": 20_000, "deadline": "2099-01-01",
    }  # fmt: skip
    return Call("POST", "/api/v1/needs", json=body)


async def edit_need(world: World) -> Call:
    need = await world.need("published")
    headers = {"If-Match": f'"{need["version"]}"'}
    return Call("PATCH", f"/api/v1/needs/{need['id']}", json={"urgency": 3}, headers=headers)


async def withdraw(world: World) -> Call:
    return Call("POST", f"/api/v1/offers/{await world.offer('donor', VILLAGE_A)}/withdraw")


def answer(action: str, body: Any = None) -> Target:
    """An answer to a new proposal made to the donor."""

    async def target(world: World) -> Call:
        proposal = await world.proposal("township_in", VILLAGE_A)
        return Call("POST", f"/api/v1/pairings/{proposal['id']}/{action}", json=body)

    return target


async def rankings(world: World) -> Call:
    params = {"scope": COUNTY_A, "quarter": current_quarter()}
    return Call("GET", "/api/v1/stats/rankings", params=params)


def photo_file() -> dict[str, Any]:
    return {"file": ("photo.png", png_bytes(), "image/png")}


def add_photo(album: str, key: str | None = None) -> Target:
    """A photo for the album (``photos`` or ``delivery/photos``) of the world's record ``key``,
    or of a new need claimed by the donor."""

    async def target(world: World) -> Call:
        need_id = world.records[key] if key else (await world.need("claimed"))["id"]
        return Call("POST", f"/api/v1/needs/{need_id}/{album}", files=photo_file())

    return target


async def delivery_photo_of(world: World, need_id: int) -> int:
    """A photo the donor adds to the delivery of a need it holds."""
    url = f"/api/v1/needs/{need_id}/delivery/photos"
    response = await world.client.post(url, files=photo_file(), headers=world.headers["donor"])
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def on_delivery_photo(method: str, suffix: str = "") -> Target:
    """A request on the donor's photo of the delivery of the world's claimed need."""

    async def target(world: World) -> Call:
        if "delivery_photo" not in world.records:
            photo_id = await delivery_photo_of(world, world.records["claimed_need"])
            world.records["delivery_photo"] = photo_id
        return Call(method, f"/api/v1/photos/{world.records['delivery_photo']}{suffix}")

    return target


async def remove_photo(world: World) -> Call:
    photo_id = await delivery_photo_of(world, (await world.need("claimed"))["id"])
    return Call("DELETE", f"/api/v1/photos/{photo_id}")


async def send_sms(world: World) -> Call:
    return Call("POST", "/api/v1/auth/sms/send", json={"phone": mobile_number()})


async def sign_up_by_phone(world: World) -> Call:
    phone = mobile_number()
    code = await send_code(world.app, world.client, phone)
    body = {
        "phone": phone, "code": code, "password": PASSWORD, "display_name": "新人",
        "kind": "individual",
    }  # fmt: skip
    return Call("POST", "/api/v1/auth/sms/register", json=body)


async def logout(world: World) -> Call:
    return Call("POST", "/api/v1/auth/logout", session="fresh")


async def change_password(world: World) -> Call:
    body = {"current_password": PASSWORD, "new_password": PASSWORD}
    return Call("POST", "/api/v1/me/password", json=body, session="renewed")


def on_village_admin(action: str, *, disabled: bool = False) -> Target:
    """``disable`` or ``enable`` a new village admin of village A (disabled first if asked)."""

    async def target(world: World) -> Call:
        admin = await make_admin(world.app, "village", VILLAGE_A)
        if disabled:
            url = f"/api/v1/admins/{admin.id}/disable"
            response = await world.client.post(url, headers=world.headers["platform"])
            assert response.status_code == 200, response.text
        return Call("POST", f"/api/v1/admins/{admin.id}/{action}")

    return target


OFFER = {"category": "goods", "title": "书包", "description": "新书包十个", "capacity": 10}
PAGE = {"limit": 100}


async def send(world: World, role: Role, call: Call) -> Response:
    headers = {**world.headers[role], **call.headers}
    if call.session == "fresh" and role != "anonymous":
        headers.update(await sign_in_again(world, role))
    response = await world.client.request(
        call.method,
        call.url,
        json=call.json,
        content=call.content,
        data=call.data,
        params=call.params,
        files=call.files,
        headers=headers,
    )
    if call.session == "renewed" and response.status_code == 200:
        world.headers[role] = {"Authorization": f"Bearer {response.json()['access_token']}"}
    return response


async def sign_in_again(world: World, role: Role) -> dict[str, str]:
    """A bearer token of a new session of ``role``'s account."""
    form = {"username": world.usernames[role], "password": PASSWORD}
    response = await world.client.post("/api/v1/auth/token", data=form)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def all_operations(tmp_path: Path) -> set[str]:
    """Every operation of the app, from its OpenAPI document."""
    settings = settings_for(f"sqlite+aiosqlite:///{tmp_path / 'routes.db'}", tmp_path)
    paths: dict[str, dict[str, Any]] = create_app(settings).openapi()["paths"]
    return {f"{method.upper()} {path}" for path, item in paths.items() for method in item}


# -- webhooks ----------------------------------------------------------------------------------

WEBHOOK = {"url": "http://127.0.0.1:9/hook", "events": ["need.claimed"]}


async def webhook_of(world: World) -> int:
    """An endpoint a platform admin registered, kept as the world's record ``webhook``."""
    if "webhook" not in world.records:
        url = "/api/v1/webhooks"
        response = await world.client.post(url, json=WEBHOOK, headers=world.headers["platform"])
        assert response.status_code == 201, response.text
        world.records["webhook"] = int(response.json()["id"])
    return world.records["webhook"]


def on_webhook(method: str, suffix: str = "") -> Target:
    """A request on the world's webhook endpoint (a new one for each call that deletes it)."""

    async def target(world: World) -> Call:
        if method != "DELETE":
            return Call(method, f"/api/v1/webhooks/{await webhook_of(world)}{suffix}")
        kept = world.records.pop("webhook", None)
        fresh = await webhook_of(world)
        world.records.pop("webhook")
        if kept is not None:
            world.records["webhook"] = kept
        return Call(method, f"/api/v1/webhooks/{fresh}{suffix}")

    return target


async def retry_delivery(world: World) -> Call:
    """The hand retry of a pending delivery to the world's endpoint (409: not a dead letter)."""
    from sqlalchemy import select

    from app.notifications.models import WebhookDelivery
    from app.notifications.outbox import Message, emit

    webhook_id = await webhook_of(world)
    async with world.engine.begin() as connection:
        message = Message("need.claimed", None, None, None, {"need_id": None})
        await connection.run_sync(lambda sync: emit(sync, [message]))
        delivery_id = await connection.scalar(
            select(WebhookDelivery.id)
            .where(WebhookDelivery.endpoint_id == webhook_id)
            .order_by(WebhookDelivery.id.desc())
        )
    return Call("POST", f"/api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/retry")
