"""The requests of the access tests on a help act's photos.

The world's donor is the helper of a household of village A and records the act through its
account, so it may see the act's photos; the other donor may not.
"""

from __future__ import annotations

from tests.factories import phone_number
from tests.security.calls import Call, Target, photo_file
from tests.security.programme_calls import ACT
from tests.security.world import VILLAGE_A, World, ok


async def new_act(world: World) -> str:
    """A help act the donor records as the helper of a new household of village A: the URL of
    its photos."""
    household = await world.household(VILLAGE_A)
    base = f"/api/v1/households/{household}"
    person = {"role": "helper", "name": "周帮扶", "phone": phone_number(),
              "donor_id": world.ids["donor"]}  # fmt: skip
    ok(await world.client.post(f"{base}/helpers", json=person,
                               headers=world.headers["village_in"]))  # fmt: skip
    act = ok(await world.client.post(f"{base}/help-acts", json=ACT, headers=world.headers["donor"]))
    return f"{base}/help-acts/{act['id']}/photos"


async def new_photo(world: World) -> str:
    """A photo the donor adds to a new help act of its own: the photo's URL."""
    response = await world.client.post(
        await new_act(world), files=photo_file(), headers=world.headers["donor"]
    )
    return str(ok(response)["url"])


async def add_act_photo(world: World) -> Call:
    return Call("POST", await new_act(world), files=photo_file())


async def act_photos(world: World) -> Call:
    return Call("GET", await new_act(world))


def on_act_photo(method: str, suffix: str = "") -> Target:
    """A request on a new photo of a new help act of the donor's."""

    async def target(world: World) -> Call:
        return Call(method, f"{await new_photo(world)}{suffix}")

    return target
