"""Editing a need in the console, on both engines: the form carries every field the API edits,
a save at a stale version is refused, and another village's admin finds no such need."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from fastapi import FastAPI
from httpx import AsyncClient, Response

from tests.console.conftest import Browsers
from tests.console.pages import signed_in, submit
from tests.factories import (
    DONGKOU_VILLAGE,
    OTHER_VILLAGE,
    make_admin,
    make_household,
    post_need,
    sign_in,
)

VERSION = re.compile(r'name="version" value="(\d+)"')
EDIT = {
    "title": "过冬棉被三床", "description": "家中三位老人怕冷", "value_yuan": "450.50",
    "urgency": "3", "deadline": "2099-06-30",
}  # fmt: skip


@dataclass
class Posted:
    """A need a village admin posted through the API, and the admin's console browser."""

    client: AsyncClient
    api: dict[str, str]
    need_id: object
    office: AsyncClient

    @property
    def path(self) -> str:
        return f"/console/needs/{self.need_id}"

    async def read(self) -> dict[str, object]:
        """The need as the API returns it to the admin."""
        answer = await self.client.get(f"/api/v1/needs/{self.need_id}", headers=self.api)
        read: dict[str, object] = answer.json()
        return read

    async def edit(self, version: str, **overrides: str) -> Response:
        """Post the need's edit form at ``version``."""
        form = {"version": version, **EDIT, **overrides}
        return await submit(self.office, self.path, f"{self.path}/edit", form)


@pytest.fixture
async def posted(app: FastAPI, browsers: Browsers, client: AsyncClient) -> Posted:
    admin = await make_admin(app, "village", DONGKOU_VILLAGE)
    api = await sign_in(client, admin.username)
    household = await make_household(client, api)
    need = await post_need(client, api, household["id"], urgency=1)
    return Posted(client, api, need["id"], await signed_in(browsers, admin.username))


def version_of(page: Response) -> str:
    found = VERSION.search(page.text)
    assert found is not None
    return found.group(1)


async def test_a_village_admin_edits_a_published_need(posted: Posted) -> None:
    form = await posted.office.get(posted.path)
    assert re.search(r'<label for="urgency">紧急程度</label>\s*<select id="urgency"', form.text)
    assert '<option value="1" selected>一般</option>' in form.text

    saved = await posted.edit(version_of(form))

    assert saved.status_code == 303
    assert saved.headers["location"] == f"{posted.path}?notice=saved"
    read = await posted.read()
    assert read["title"] == "过冬棉被三床"
    assert read["description"] == "家中三位老人怕冷"
    assert read["value_fen"] == 45_050
    assert read["urgency"] == 3
    assert read["deadline"] == "2099-06-30"
    shown = (await posted.office.get(posted.path)).text
    assert '<option value="3" selected>紧急</option>' in shown


async def test_an_edit_at_a_stale_version_is_refused_and_changes_nothing(posted: Posted) -> None:
    version = version_of(await posted.office.get(posted.path))
    await posted.edit(version)

    stale = await posted.edit(version, title="晚到的修改")

    assert stale.status_code == 412
    assert "记录已被修改" in stale.text
    assert (await posted.read())["title"] == "过冬棉被三床"


async def test_another_villages_admin_cannot_edit_the_need(
    app: FastAPI, browsers: Browsers, posted: Posted
) -> None:
    neighbour = await make_admin(app, "village", OTHER_VILLAGE)
    theirs = await signed_in(browsers, neighbour.username)

    refused = await submit(
        theirs, "/console/needs/new", f"{posted.path}/edit", {"version": "1", **EDIT}
    )

    assert refused.status_code == 404
    assert (await theirs.get(posted.path)).status_code == 404
    assert (await posted.read())["title"] == "冬季棉被两床"
