"""Usernames in one canonical form: NFKC, case folding and ASCII lookalikes folded.

What two people would read as one name is one account: registering its second spelling is 409,
and signing in with any spelling finds it. Chinese names are accepted as they are.
"""

from __future__ import annotations

import pytest
from httpx import AsyncClient

from app.accounts import usernames
from tests.factories import PASSWORD, assert_problem, sign_in, unique

REGISTER = "/api/v1/auth/register"


def body(username: str) -> dict[str, str]:
    return {
        "username": username,
        "password": PASSWORD,
        "display_name": "爱心人士",
        "kind": "individual",
    }


@pytest.mark.parametrize(
    ("spelling", "name"),
    [
        ("ａｄｍｉｎ", "admin"),  # full-width
        ("ADMIN", "admin"),
        ("аdmin", "admin"),  # Cyrillic а
        ("ΑDMIN", "admin"),  # Greek capital alpha
        ("ℓihua", "lihua"),  # script small l
        ("𝐥𝐢𝐡𝐮𝐚", "lihua"),  # mathematical bold
        ("张小三", "张小三"),
        ("Straße", "strasse"),
    ],
)
def test_spellings_of_one_name_have_one_canonical_form(spelling: str, name: str) -> None:
    assert usernames.canonical(spelling) == name
    assert usernames.canonical(name) == name


def test_every_name_the_earlier_rule_allowed_is_its_own_canonical_form() -> None:
    """So the stored usernames need no rewriting."""
    for name in ("lihua", "li.hua-2026_x", "0abc", "a1b2c3"):
        assert usernames.canonical(name) == name


async def test_a_chinese_username_is_accepted(client: AsyncClient) -> None:
    name = unique("张小三")
    response = await client.post(REGISTER, json=body(name))
    assert response.status_code == 201, response.text
    assert response.json()["username"] == name
    assert (await client.get("/api/v1/me", headers=await sign_in(client, name))).status_code == 200


async def test_the_full_width_spelling_of_a_taken_name_is_taken(client: AsyncClient) -> None:
    name = unique("admin")
    assert (await client.post(REGISTER, json=body(name))).status_code == 201
    wide = "".join(chr(ord(c) + 0xFEE0) for c in name)  # ASCII → full-width forms
    assert_problem(await client.post(REGISTER, json=body(wide)), 409, "username_taken")


async def test_a_lookalike_spelling_of_a_taken_name_is_taken(client: AsyncClient) -> None:
    name = unique("paypal")
    assert (await client.post(REGISTER, json=body(name))).status_code == 201
    cyrillic = name.replace("a", "а").replace("p", "р")
    assert_problem(await client.post(REGISTER, json=body(cyrillic)), 409, "username_taken")


async def test_the_name_is_stored_canonical(client: AsyncClient) -> None:
    response = await client.post(REGISTER, json=body("ＬｉＨｕａ" + unique("x")))
    assert response.status_code == 201, response.text
    assert response.json()["username"].startswith("lihuax")


async def test_sign_in_folds_the_name_as_registration_did(client: AsyncClient) -> None:
    name = unique("wanghua")
    assert (await client.post(REGISTER, json=body(name))).status_code == 201
    wide = "".join(chr(ord(c) + 0xFEE0) for c in name.upper())
    assert (await client.get("/api/v1/me", headers=await sign_in(client, wide))).status_code == 200
