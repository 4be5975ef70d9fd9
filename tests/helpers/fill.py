"""Rows in the tables of help acts' photos, made through the API (the migration tests)."""

from __future__ import annotations

import datetime as dt

from httpx import AsyncClient

from tests.factories import make_household, png_bytes

TODAY = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()


async def fill(client: AsyncClient, village: dict[str, str]) -> None:
    """A help act to a key household of the village, with a photo."""
    household = await make_household(client, village, key_household=True)
    path = f"/api/v1/households/{household['id']}/help-acts"
    act = {"acted_on": TODAY.isoformat(), "kind": "care", "note": "帮忙打扫"}
    recorded = await client.post(path, json=act, headers=village)
    assert recorded.status_code == 201, recorded.text
    photo = {"file": ("home.png", png_bytes(), "image/png")}
    added = await client.post(
        f"{path}/{recorded.json()['id']}/photos", files=photo, headers=village
    )
    assert added.status_code == 201, added.text
