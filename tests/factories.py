"""Small factories: accounts and signed-in clients, made through the real code paths."""

from __future__ import annotations

import itertools
from typing import Any

from fastapi import FastAPI
from httpx import AsyncClient, Response

from app.accounts import service as accounts_service
from app.accounts.models import User
from app.accounts.schemas import AdminCreate
from app.core.errors import PROBLEM_MEDIA_TYPE

PASSWORD = "correct horse battery"
_serial = itertools.count(1)


def unique(prefix: str) -> str:
    return f"{prefix}{next(_serial)}"


async def register_donor(
    client: AsyncClient, *, username: str | None = None, kind: str = "individual"
) -> dict[str, object]:
    """A donor registered through the API; returns the response body."""
    response = await client.post(
        "/api/v1/auth/register",
        json={
            "username": username or unique("donor"),
            "password": PASSWORD,
            "display_name": "爱心人士",
            "kind": kind,
        },
    )
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


def mobile_number() -> str:
    """A mainland mobile number, unique per call."""
    return f"138{next(_serial):08d}"


async def send_code(app: FastAPI, client: AsyncClient, phone: str) -> str:
    """Ask for a code for ``phone``; the code, as the development provider wrote it."""
    response = await client.post("/api/v1/auth/sms/send", json={"phone": phone})
    assert response.status_code == 202, response.text
    code: str | None = app.state.sms.last_code(phone)
    assert code is not None
    return code


async def register_by_phone(
    app: FastAPI, client: AsyncClient, phone: str | None = None
) -> dict[str, object]:
    """A donor registered with a mobile number and the code texted to it; the response body."""
    phone = phone or mobile_number()
    code = await send_code(app, client, phone)
    body = {
        "phone": phone, "code": code, "password": PASSWORD, "display_name": "手机用户",
        "kind": "individual",
    }  # fmt: skip
    response = await client.post("/api/v1/auth/sms/register", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, object] = response.json()
    return created


async def make_admin(app: FastAPI, role: str, scope: str, *, username: str | None = None) -> User:
    """An admin created as ``aixin create-admin`` does (no creator)."""
    data = AdminCreate(
        username=username or unique(f"{role}-admin"),
        password=PASSWORD,
        role=role,  # type: ignore[arg-type]
        scope=scope,
    )
    async with app.state.database.sessionmaker.begin() as session:
        return await accounts_service.create_admin(session, app.state.passwords, None, data)


async def sign_in(client: AsyncClient, username: str, password: str = PASSWORD) -> dict[str, str]:
    """Authorization headers for ``username``."""
    response = await client.post(
        "/api/v1/auth/token", data={"username": username, "password": password}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def donor_headers(client: AsyncClient) -> dict[str, str]:
    donor = await register_donor(client)
    return await sign_in(client, str(donor["username"]))


async def admin_headers(app: FastAPI, client: AsyncClient, role: str, scope: str) -> dict[str, str]:
    admin = await make_admin(app, role, scope)
    return await sign_in(client, admin.username)


# -- households and needs ----------------------------------------------------------------------

DONGKOU_VILLAGE = "430525101201"
OTHER_VILLAGE = "430525101202"


def id_number(serial: int | None = None) -> str:
    """A valid resident ID number (GB 11643 check digit), unique per call."""
    import datetime as dt

    from app.core.idcard import check_digit

    n = serial if serial is not None else next(_serial)
    born = dt.date(1950, 1, 1) + dt.timedelta(days=n // 1000)
    first17 = f"430525{born:%Y%m%d}{n % 1000:03d}"
    return first17 + check_digit(first17)


def phone_number() -> str:
    return f"139{next(_serial):08d}"


async def make_household(
    client: AsyncClient,
    headers: dict[str, str],
    village_code: str = DONGKOU_VILLAGE,
    **overrides: object,
) -> dict[str, object]:
    """A household registered through the API."""
    body: dict[str, object] = {
        "village_code": village_code,
        "head_name": "刘德华",
        "id_number": id_number(),
        "phone": phone_number(),
        "size": 4,
        "support_category": "poor",
        "key_household": False,
        **overrides,
    }
    response = await client.post("/api/v1/households", json=body, headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, object] = response.json()
    return created


async def post_need(
    client: AsyncClient, headers: dict[str, str], household_id: object, **overrides: object
) -> dict[str, object]:
    """A need posted through the API (published at once unless origin is household)."""
    import datetime as dt

    body: dict[str, object] = {
        "household_id": household_id,
        "category": "goods",
        "title": "冬季棉被两床",
        "description": "家中老人怕冷，需要两床厚棉被",
        "value_fen": 30_000,
        "urgency": 2,
        "deadline": (dt.date.today() + dt.timedelta(days=30)).isoformat(),
        **overrides,
    }
    response = await client.post("/api/v1/needs", json=body, headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, object] = response.json()
    return created


def assert_problem(response: Response, status: int, code: str) -> dict[str, Any]:
    """The problem-details body of an error response, checked for its status and code."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    body: dict[str, Any] = response.json()
    assert (body["status"], body["code"]) == (status, code)
    return body


# -- photos ------------------------------------------------------------------------------------


def image_bytes(fmt: str = "PNG", size: tuple[int, int] = (40, 30), **save: Any) -> bytes:
    """A small picture in ``fmt``, made with Pillow (``save``: options such as ``exif``)."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 60, 40)).save(buffer, format=fmt, **save)
    return buffer.getvalue()


def png_bytes() -> bytes:
    return image_bytes("PNG")
