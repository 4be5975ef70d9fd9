"""Hostile input, one value at a time, into every field of every operation of the document.

The operations are read from the test app's own OpenAPI document, so a new endpoint is covered
as soon as it is routed. For each one a valid request is built from its schema (with the records
of a small world: households, needs in several states, an offer, a matching run and its
proposals) and sent as the role that may perform it; then every request-body field (nested ones
too), every path and query parameter and every declared header gets hostile values in turn:
control characters, digits that are not ASCII, a lone surrogate, a megabyte of text, numbers past
64 and 32 bits, booleans and strings where integers belong, zoneless and out-of-range dates,
empty strings and null; path and query parameters also in percent-encoded form (``%00``). The
values are chosen by the field's schema type, not crossed with every type, so a run stays short;
nothing is random, so every run sends the same requests.

Every answer must be below 500, and every 4xx a problem document with a ``code``. The failure
lists each request that broke the rule: operation, location, field, value, status and body.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import struct
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import httpx
from fastapi import FastAPI
from httpx import AsyncClient, Response

from app.core.errors import PROBLEM_MEDIA_TYPE
from app.needs import states as need_states
from tests.factories import (
    DONGKOU_VILLAGE,
    PASSWORD,
    id_number,
    make_admin,
    make_household,
    phone_number,
    post_need,
    register_donor,
    sign_in,
    unique,
)
from tests.fuzz.conftest import ADMIN_SCOPES, DONGKOU, _build_world, engine_of
from tests.fuzz.summary import cases_run

Headers = dict[str, str]
Json = Any

MULTIPART_BOUNDARY = "hostile-input-boundary"


def _png() -> bytes:
    """A valid 1x1 PNG, written out by hand."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


PNG = _png()
ADMIN_ROLES = tuple(ADMIN_SCOPES)  # village, township, county, platform: narrowest first
BODY_EXCERPT = 160
MEGABYTE = "a" * 1_000_000  # under the 1 MiB body limit, so it reaches validation
MISSING = object()  # a field left out of the request

# -- hostile values, by the schema type they are aimed at ---------------------------------------

# A URL may not be that long (clients and servers refuse one past 64 kB): its own long value.
LONG_URL_TEXT = "a" * 16_000
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def text_values(serial: int) -> list[tuple[str, Json]]:
    """Hostile text for the ``serial``-th text field: no two fields get the same words.

    A head's name is looked for in every later response (tests/security/body_scan.py); were
    it the title sent to another field, its echo would read as a leak.
    """
    number = str(430525 + serial)
    return [
        ("NUL", f"a\u0000b{serial}"),
        ("C0 controls", f"a\u0001\u0008\u000b\u001b[2J\u001fb{serial}"),
        ("full-width digits", number.translate(FULL_WIDTH)),
        ("Arabic-Indic digits", number.translate(ARABIC_INDIC)),
        ("superscript digit", "²"),
        ("lone surrogate", f"a\ud800b{serial}"),
        ("a megabyte of text", MEGABYTE),
        ("empty string", ""),
        ("null", None),
    ]


INTEGER: list[tuple[str, Json]] = [
    ("true", True),
    ("numeric string", "1"),
    ("full-width digit string", "１"),
    ("superscript digit string", "²"),
    ("2^63", 2**63),
    ("2^63-1", 2**63 - 1),
    ("2^31", 2**31),
    ("-1", -1),
    ("-2^63-1", -(2**63) - 1),
    ("float", 1.5),
    ("1e300", 1e300),
    ("empty string", ""),
    ("null", None),
]
BOOLEAN: list[tuple[str, Json]] = [
    ("0", 0),
    ("1", 1),
    ("string true", "true"),
    ("string yes", "yes"),
    ("NUL", "a\u0000b"),
    ("empty string", ""),
    ("null", None),
]
DATE: list[tuple[str, Json]] = [
    ("zoneless datetime", "2027-01-01T00:00:00"),
    ("0001-01-01", "0001-01-01"),
    ("9999-12-31", "9999-12-31"),
    ("9999-12-31T23:59:59-12:00", "9999-12-31T23:59:59-12:00"),
    ("10000-01-01", "10000-01-01"),
    ("full-width date", "２０２７-０１-０１"),
    ("NUL", "2027-01-01\u0000"),
    ("Unix time", 1_800_000_000),
    ("empty string", ""),
    ("null", None),
]
DATETIME: list[tuple[str, Json]] = [
    ("zoneless datetime", "2027-01-01T00:00:00"),
    ("0001-01-01T00:00:00Z", "0001-01-01T00:00:00Z"),
    ("0001-01-01T00:00:00+14:00", "0001-01-01T00:00:00+14:00"),
    ("9999-12-31T23:59:59-12:00", "9999-12-31T23:59:59-12:00"),
    ("10000-01-01T00:00:00Z", "10000-01-01T00:00:00Z"),
    ("a date alone", "2027-01-01"),
    ("full-width datetime", "２０２７-０１-０１T００:００:００Z"),
    ("NUL", "2027-01-01T00:00:00Z\u0000"),
    ("Unix time", 1_800_000_000),
    ("empty string", ""),
    ("null", None),
]
CONTAINER: list[tuple[str, Json]] = [
    ("string", "x"),
    ("number", 1),
    ("empty object", {}),
    ("empty list", []),
    ("null", None),
]
# A file field: what an upload may hold instead of one small image.
FILE: list[tuple[str, Json]] = [
    ("empty file", b""),
    ("text file", "爱心对接".encode()),
    ("NUL bytes", b"\x00" * 64),
    ("truncated PNG", PNG[:24]),
    ("a megabyte of zeros", b"\x00" * 1_000_000),
    ("text instead of a file", "x"),
    ("null", None),
]
# Percent-encoded forms, sent as they are in a path segment or a query string.
PERCENT: list[tuple[str, str]] = [
    ("%00", "%00"),
    ("1%00", "1%00"),
    ("%ED%A0%80 (surrogate)", "%ED%A0%80"),
    ("%FF (not UTF-8)", "%FF"),
]
# If-Match: a version, quoted or bare, that is not one.
IF_MATCH: list[tuple[str, bytes]] = [
    ("superscript", '"²"'.encode()),
    ("bare superscript", "²".encode()),
    ("Arabic-Indic digit", '"٤"'.encode()),
    ("full-width digit", '"１"'.encode()),
    ("20 digits", b'"99999999999999999999"'),
    ("2^63", b'"9223372036854775808"'),
    ("2^31", b'"2147483648"'),
    ("negative", b'"-1"'),
    ("float", b'"1.5"'),
    ("NUL", b'"1\x00"'),
    ("C0 control", b'"\x01"'),
    ("empty quotes", b'""'),
    ("empty", b""),
    ("weak, empty", b'W/""'),
    ("100 kB", b'"' + b"9" * 100_000 + b'"'),
]

# Codes of the world, tried in order against a pattern that names none by example.
PATTERN_CANDIDATES = (DONGKOU_VILLAGE, "430525101", DONGKOU, "4305", "43", "", "password", "lihua")

# Endpoints under a need that are no action of its table, and the state of the need they take:
# the review takes the reviewer's decision (its valid request approves); a delivery's photos
# come with the delivery.
NEED_STATE_FOR_ENDPOINT = {"review": "pending_review", "delivery": "delivered"}
NEED_CATEGORY = "goods"


# -- the document -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    spec: dict[str, Any]

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"

    def parameters(self, where: str) -> list[dict[str, Any]]:
        return [p for p in self.spec.get("parameters", []) if p["in"] == where]

    @property
    def secured(self) -> bool:
        return bool(self.spec.get("security"))

    @property
    def body(self) -> tuple[str, dict[str, Any]] | None:
        """The media type and schema of the request body, if the operation takes one."""
        content = self.spec.get("requestBody", {}).get("content", {})
        for media_type, entry in content.items():
            return media_type, entry.get("schema", {})
        return None


def operations(document: dict[str, Any]) -> list[Operation]:
    found = []
    for path, item in document["paths"].items():
        for method, spec in item.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                found.append(Operation(method.upper(), path, spec))
    return found


class Schemas:
    """Reads schemas of one document: references followed, ``anyOf`` with null unwrapped."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.components = document.get("components", {}).get("schemas", {})

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            schema = {**self.components[schema["$ref"].rsplit("/", 1)[-1]], **_without_ref(schema)}
        return schema

    def concrete(self, schema: dict[str, Any]) -> dict[str, Any]:
        """The schema a value must match, ``X | None`` read as ``X`` (the first such ``X``)."""
        schema = self.resolve(schema)
        variants = schema.get("anyOf") or schema.get("oneOf")
        if variants:
            chosen = next(
                (self.resolve(v) for v in variants if self.resolve(v).get("type") != "null"),
                {"type": "null"},
            )
            outer = {k: v for k, v in schema.items() if k not in {"anyOf", "oneOf"}}
            return {**outer, **self.concrete(chosen)}
        return schema

    def kind(self, schema: dict[str, Any]) -> str:
        schema = self.concrete(schema)
        kind = schema.get("type", "object" if "properties" in schema else "string")
        if kind == "string" and schema.get("format") in {"date", "date-time", "binary"}:
            return str(schema["format"])
        if kind == "string" and "contentMediaType" in schema:
            return "binary"
        return str(kind)


def _without_ref(schema: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in schema.items() if key != "$ref"}


def hostile_values(
    schemas: Schemas, schema: dict[str, Any], baseline: Json, serial: int
) -> list[tuple[str, Json]]:
    """The hostile values aimed at the ``serial``-th field, of ``schema``, valid as ``baseline``."""
    kind = schemas.kind(schema)
    if kind in {"integer", "number"}:
        return INTEGER
    if kind == "boolean":
        return BOOLEAN
    if kind == "date":
        return DATE
    if kind == "date-time":
        return DATETIME
    if kind in {"object", "array"}:
        return CONTAINER
    if kind == "binary":
        return FILE
    values = text_values(serial)
    if isinstance(baseline, str) and re.search(r"[0-9]", baseline):
        values += [
            ("its digits full-width", baseline.translate(FULL_WIDTH)),
            ("its digits Arabic-Indic", baseline.translate(ARABIC_INDIC)),
            ("its digits superscript", baseline.translate(SUPERSCRIPT)),
            ("its digits zeros", re.sub(r"[0-9]", "0", baseline)),
            ("its digits nines", re.sub(r"[0-9]", "9", baseline)),
        ]
    return values


def need_state_for(operation: Operation) -> str:
    """The state of a need the operation may act on: by the need's table for an action."""
    endpoint = operation.path.partition("{need_id}")[2].strip("/").partition("/")[0]
    if endpoint in NEED_STATE_FOR_ENDPOINT:
        return NEED_STATE_FOR_ENDPOINT[endpoint]
    sources = [
        source
        for (source, action), move in need_states.TABLE.moves.items()
        if action == endpoint and move.by != "system"
    ]
    return sources[0] if sources else "published"


# -- valid values, from the schema and the world ------------------------------------------------


def valid_value(schemas: Schemas, schema: dict[str, Any], name: str, fresh: dict[str, Any]) -> Json:
    """A value of ``schema`` the service accepts for the field ``name``."""
    if name in fresh:
        return fresh[name]
    schema = schemas.concrete(schema)
    kind = schemas.kind(schema)
    if "default" in schema and schema["default"] is not None:
        return schema["default"]
    if "enum" in schema:
        return schema["enum"][0]
    if kind == "object":
        # Every field, the optional ones too: a partial update must change something.
        properties = schema.get("properties", {})
        return {key: valid_value(schemas, sub, key, fresh) for key, sub in properties.items()}
    if kind == "array":
        return [valid_value(schemas, schema.get("items", {}), name, fresh)] * schema.get(
            "minItems", 1
        )
    if kind in {"integer", "number"}:
        return max(1, int(schema.get("minimum", 1)))
    if kind == "boolean":
        return False
    if kind == "binary":
        return PNG
    if kind == "date":
        return (dt.date.today() + dt.timedelta(days=30)).isoformat()
    if kind == "date-time":
        return (dt.datetime.now(dt.UTC) + dt.timedelta(days=30)).isoformat()
    return valid_text(schema)


def valid_text(schema: dict[str, Any]) -> str:
    pattern = schema.get("pattern")
    matching = [c for c in PATTERN_CANDIDATES if pattern and re.fullmatch(pattern, c)]
    if matching:
        return matching[0]
    examples = schema.get("examples") or []
    if examples:
        return str(examples[0])
    text = "爱心对接"
    return (text * (1 + int(schema.get("minLength", 1)) // len(text)))[
        : int(schema.get("maxLength", 1000))
    ]


# -- the world ----------------------------------------------------------------------------------


@dataclass
class Target:
    """The records a request acts on (its path parameters) and who holds them, if a donor."""

    path: dict[str, str]
    holder: Headers | None = None


@dataclass
class World:
    app: FastAPI
    client: AsyncClient
    callers: dict[str, Headers]
    usernames: dict[str, str]
    household_id: int
    need_ids: dict[str, int]
    offer_id: int = 0
    run_id: int = 0
    admin_id: int = 0
    # Path parameters by name, for a request that changes nothing (a GET).
    fixed: dict[str, str] = field(default_factory=dict)

    async def need(self, state: str) -> Target:
        """A need of its own household, brought to ``state``; a claim is a new donor's."""
        village = self.callers["village"]
        household = await make_household(self.client, village)
        origin = "household" if state == "pending_review" else "admin"
        need = await post_need(
            self.client, village, household["id"], category=NEED_CATEGORY, origin=origin
        )
        holder = None
        if state in {"claimed", "delivered"}:
            holder = await sign_in(
                self.client, str((await register_donor(self.client))["username"])
            )
            await self._step(f"/api/v1/needs/{need['id']}/claim", holder)
            if state == "delivered":
                await self._step(f"/api/v1/needs/{need['id']}/deliver", holder)
        return Target({"need_id": str(need["id"])}, holder)

    async def offer(self) -> int:
        response = await self.client.post(
            "/api/v1/offers",
            json={
                "category": NEED_CATEGORY,
                "title": "棉被",
                "description": "两床厚棉被",
                "capacity": 1,
            },
            headers=self.callers["donor"],
        )
        assert response.status_code == 201, response.text
        return int(response.json()["id"])

    async def run(self) -> int:
        response = await self.client.post(
            "/api/v1/matching/runs", json={"scope": DONGKOU}, headers=self.callers["county"]
        )
        assert response.status_code in (200, 201, 202), response.text
        return int(response.json()["id"])

    async def pairing(self) -> int:
        """A proposal to the donor: a published need, an offer for it, a matching run."""
        await self.need("published")
        await self.offer()
        await self.run()
        response = await self.client.get(
            "/api/v1/pairings?status=proposed&limit=1", headers=self.callers["donor"]
        )
        items = response.json().get("items", []) if response.status_code == 200 else []
        return int(items[0]["id"]) if items else 1

    async def target(self, operation: Operation, schemas: Schemas) -> Target:
        """The records ``operation`` acts on: shared for a read, its own for a change."""
        target = Target({})
        for parameter in operation.parameters("path"):
            name = parameter["name"]
            if name in {"offer_id", "pairing_id"}:
                target.holder = self.callers["donor"]  # the world's donor makes the offers
            if operation.method == "GET" and name in self.fixed:
                target.path[name] = self.fixed[name]
            elif name == "need_id":
                made = await self.need(need_state_for(operation))
                target.path[name], target.holder = made.path[name], made.holder
            elif name == "offer_id":
                target.path[name] = str(await self.offer())
            elif name == "pairing_id":
                target.path[name] = str(await self.pairing())
            elif name == "admin_id":
                target.path[name] = str((await make_admin(self.app, "village", DONGKOU_VILLAGE)).id)
            elif name in self.fixed:
                target.path[name] = self.fixed[name]
            else:
                target.path[name] = str(valid_value(schemas, parameter.get("schema", {}), name, {}))
        return target

    async def caller(self, role: str) -> Headers:
        """A new account of ``role`` (admins in Dongkou), signed in."""
        if role == "donor":
            return await sign_in(self.client, str((await register_donor(self.client))["username"]))
        admin = await make_admin(self.app, role, ADMIN_SCOPES[role])
        return await sign_in(self.client, admin.username)

    async def _step(self, path: str, headers: Headers) -> None:
        response = await self.client.post(path, headers=headers)
        assert response.status_code in (200, 201), response.text


async def build_world(app: FastAPI, client: AsyncClient) -> World:
    seeded = await _build_world(app, client, "")
    callers = {role: await sign_in(client, name) for role, name in seeded.usernames.items()}
    world = World(
        app=app,
        client=client,
        callers=callers,
        usernames=seeded.usernames,
        household_id=seeded.household_id,
        need_ids=seeded.need_ids,
    )
    world.offer_id = await world.offer()
    world.run_id = await world.run()
    admins = await client.get("/api/v1/admins", headers=callers["platform"])
    world.admin_id = int(admins.json()["items"][0]["id"])
    world.fixed = {
        "need_id": str(world.need_ids["published"]),
        "household_id": str(world.household_id),
        "offer_id": str(world.offer_id),
        "run_id": str(world.run_id),
        "admin_id": str(world.admin_id),
        "code": DONGKOU,
        "pairing_id": str(await world.pairing()),
    }
    return world


async def fresh_values(world: World, schemas: Schemas, operation: Operation) -> dict[str, Any]:
    """Valid values the schema cannot tell: unique ones made anew, and the world's own.

    A POST that names a household gets a household of its own, where nothing is open yet.
    """
    values: dict[str, Any] = {
        "username": unique("hostile"),
        "password": PASSWORD,
        "id_number": id_number(),
        "phone": phone_number(),
        "village_code": DONGKOU_VILLAGE,
        "role": "village",
        "household_id": world.household_id,
    }
    if operation.label == "POST /api/v1/auth/token":
        values["username"] = world.usernames["donor"]
    body = operation.body
    names = {path[-1] for path, _, _ in body_fields(schemas, body[1], {}, values)} if body else ()
    if operation.method == "POST" and "household_id" in names:
        household = await make_household(world.client, world.callers["village"])
        values["household_id"] = household["id"]
    return values


# -- requests -----------------------------------------------------------------------------------


@dataclass
class Request:
    """One request: a valid baseline, then at most one hostile value put into it."""

    method: str
    template: str
    path: dict[str, str]  # percent-encoded segments by parameter
    query: dict[str, str]  # percent-encoded values by parameter
    headers: dict[str, Any]
    media_type: str | None = None
    body: Json = MISSING
    caller: str = "anonymous"

    def url(self) -> str:
        url = self.template
        for name, segment in self.path.items():
            url = url.replace("{" + name + "}", segment)
        if self.query:
            url += "?" + "&".join(f"{name}={value}" for name, value in self.query.items())
        return url

    def content(self) -> bytes | None:
        if self.media_type is None or self.body is MISSING:
            return None
        if self.media_type == "multipart/form-data":
            return multipart(self.body)
        if self.media_type == "application/x-www-form-urlencoded":
            if not isinstance(self.body, dict):
                return b"" if self.body is None else url_text(self.body).encode()
            pairs = [
                (key, form_text(value)) for key, value in self.body.items() if value is not None
            ]
            return urlencode(pairs, encoding="utf-8", errors="surrogatepass").encode()
        # ensure_ascii writes a lone surrogate as the escape \ud800, as a client's JSON may.
        return json.dumps(self.body, ensure_ascii=True).encode()


@dataclass(frozen=True)
class Place:
    """Where a hostile value goes: a body field, a path or query parameter, a header."""

    location: str
    name: str
    values: list[tuple[str, Json]]
    put: Callable[[Request, Json], None]


@dataclass(frozen=True)
class Failure:
    operation: str
    location: str
    field: str
    value: str
    status: int
    body: str

    def __str__(self) -> str:
        return (
            f"{self.operation} | {self.location} {self.field} = {self.value} | "
            f"{self.status} | {self.body}"
        )


def url_text(value: Json) -> str:
    """``value`` percent-encoded for a path segment or a query string, surrogates and all."""
    if isinstance(value, bool):
        value = "true" if value else "false"
    return quote("" if value is None else str(value), safe="", errors="surrogatepass")


def in_url(values: list[tuple[str, Json]]) -> list[tuple[str, str]]:
    """``values`` as URL text, percent-encoded forms as they are; each text once."""
    encoded: dict[str, str] = {}
    for label, value in values:
        text = value if (label, value) in PERCENT else url_text(value)
        encoded.setdefault(text, label)
    return [(label, text) for text, label in encoded.items()]


def multipart(body: Json) -> bytes:
    """``body`` as multipart/form-data: bytes as a file, anything else as text."""
    if not isinstance(body, dict):
        return b"" if body is None else form_text(body).encode("utf-8", "surrogatepass")
    parts = []
    for name, value in body.items():
        if value is None:
            continue
        if isinstance(value, bytes):
            disposition = f'form-data; name="{name}"; filename="photo.png"'
            head = f"Content-Disposition: {disposition}\r\nContent-Type: image/png\r\n\r\n"
            data = value
        else:
            head = f'Content-Disposition: form-data; name="{name}"\r\n\r\n'
            data = form_text(value).encode("utf-8", "surrogatepass")
        parts.append(f"--{MULTIPART_BOUNDARY}\r\n{head}".encode() + data + b"\r\n")
    return b"".join(parts) + f"--{MULTIPART_BOUNDARY}--\r\n".encode()


def form_text(value: Json) -> str:
    return "true" if value is True else "false" if value is False else str(value)


def set_at(document: Json, path: tuple[str, ...], value: Json) -> Json:
    """A copy of ``document`` with the field at ``path`` set to ``value``."""
    if not path:
        return value
    copy = dict(document) if isinstance(document, dict) else {}
    copy[path[0]] = set_at(copy.get(path[0], {}), path[1:], value)
    return copy


def body_fields(
    schemas: Schemas,
    schema: dict[str, Any],
    baseline: Json,
    fresh: dict[str, Any],
    prefix: tuple[str, ...] = (),
) -> Iterator[tuple[tuple[str, ...], dict[str, Any], Json]]:
    """Every field of a body schema, nested ones and list items too: path, schema, valid value.

    A list's items are at the path ending in ``[]``.
    """
    schema = schemas.concrete(schema)
    for name, sub in schema.get("properties", {}).items():
        path = (*prefix, name)
        current = baseline.get(name, MISSING) if isinstance(baseline, dict) else MISSING
        value = current if current is not MISSING else valid_value(schemas, sub, name, fresh)
        yield path, sub, value
        if schemas.kind(sub) == "object":
            yield from body_fields(schemas, sub, value, fresh, path)
        if schemas.kind(sub) == "array":
            items = schemas.concrete(sub).get("items", {})
            yield (*path, "[]"), items, valid_value(schemas, items, name, fresh)


def problem_code(response: Response) -> str | None:
    """The ``code`` of a problem document, or None when ``response`` is not one."""
    if response.headers.get("content-type", "").split(";")[0] != PROBLEM_MEDIA_TYPE:
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    code = body.get("code") if isinstance(body, dict) else None
    return code if isinstance(code, str) and code else None


@dataclass
class Runner:
    """Sends the hostile requests of every operation and keeps what broke the contract."""

    world: World
    schemas: Schemas
    failures: list[Failure] = field(default_factory=list)
    sent: Counter[str] = field(default_factory=Counter)
    serial: int = -1
    # The callers of the hostile requests, apart from the world's own accounts, so that signing
    # out or a new password ends nothing the world needs; made anew when they stop working.
    callers: dict[str, Headers] = field(default_factory=dict)
    headers_done: set[str] = field(default_factory=set)

    async def run(self, operation: Operation) -> None:
        fresh = await fresh_values(self.world, self.schemas, operation)
        body_spec = operation.body
        state = OperationState(operation, await self.world.target(operation, self.schemas))
        if body_spec is not None:
            state.body = valid_value(self.schemas, body_spec[1], "", fresh)
        state.role = await self.choose_role(state)
        for place in self.places(state, fresh):
            for label, value in place.values:
                request = await self.baseline(state)
                place.put(request, value)
                status, excerpt = await self.send(request)
                self.sent[operation.label] += 1
                self.check(operation, place.location, place.name, label, status, excerpt)
                if 200 <= status < 300:
                    await self.changed(state)

    async def changed(self, state: OperationState) -> None:
        """After a success: a new version to match; for a POST, records and values of its own."""
        state.etag = None
        if state.operation.method == "POST":
            state.target = await self.world.target(state.operation, self.schemas)
            if state.operation.body is not None:
                fresh = await fresh_values(self.world, self.schemas, state.operation)
                state.body = valid_value(self.schemas, state.operation.body[1], "", fresh)

    async def choose_role(self, state: OperationState) -> str:
        """The first caller whose valid request succeeds (else the first not refused outright).

        The holder of the records comes first, then a donor, then admins from the village up.
        """
        if not state.operation.secured:
            return "anonymous"
        roles = ["donor", *ADMIN_ROLES]
        if state.target.holder is not None:
            roles.insert(0, "holder")
        allowed = []
        for role in roles:
            state.role = role
            status, excerpt = await self.send(await self.baseline(state))
            self.check(state.operation, "valid request", "-", f"as {role}", status, excerpt)
            if 200 <= status < 300:
                await self.changed(state)
                return role
            if status not in (401, 403, 404):
                allowed.append(role)
        return allowed[0] if allowed else "county"

    async def baseline(self, state: OperationState) -> Request:
        """The valid request of the operation, as the chosen caller, on its records."""
        operation = state.operation
        headers: dict[str, Any] = {}
        if state.role == "holder" and state.target.holder is not None:
            headers.update(state.target.holder)
        elif state.role != "anonymous":
            if state.role not in self.callers:
                self.callers[state.role] = await self.world.caller(state.role)
            headers.update(self.callers[state.role])
        path = {name: url_text(value) for name, value in state.target.path.items()}
        query = {
            p["name"]: url_text(valid_value(self.schemas, p.get("schema", {}), p["name"], {}))
            for p in operation.parameters("query")
            if p.get("required")
        }
        request = Request(operation.method, operation.path, path, query, headers)
        request.caller = state.role
        if any(p["name"].lower() == "if-match" for p in operation.parameters("header")):
            if state.etag is None:
                read = await self.world.client.get(request.url(), headers=headers)
                state.etag = read.headers.get("etag", "")
            if state.etag:
                headers["If-Match"] = state.etag
        if operation.body is not None:
            request.media_type = operation.body[0]
            request.body = state.body
            headers["Content-Type"] = operation.body[0]
            if operation.body[0] == "multipart/form-data":
                headers["Content-Type"] += f"; boundary={MULTIPART_BOUNDARY}"
        return request

    async def send(self, request: Request) -> tuple[int, str]:
        """Its status and an excerpt of its body.

        A 429 is sent again once, the limits reset; a 401 once, by a new account of the role (an
        operation before may have signed the account out or changed its password).
        """
        retried: set[int] = set()
        while True:
            self.sent["requests"] += 1
            try:
                response = await self.world.client.request(
                    request.method,
                    request.url(),
                    headers=request.headers,
                    content=request.content(),
                )
            except httpx.InvalidURL:
                raise
            except Exception as exc:  # the app raised rather than answered
                return 500, f"{type(exc).__name__}: {exc}"
            status = response.status_code
            if status in retried or status not in (401, 429):
                break
            retried.add(status)
            if status == 429:
                await self.world.app.state.rate_limits.reset()
            elif request.caller in self.callers:
                self.callers[request.caller] = await self.world.caller(request.caller)
                request.headers.update(self.callers[request.caller])
            else:
                break
        code = problem_code(response)
        if code is not None:
            detail = str(response.json().get("detail", ""))
            return response.status_code, f"{code}: {detail}"[:BODY_EXCERPT]
        content_type = response.headers.get("content-type", "")
        text = " ".join(response.text[:BODY_EXCERPT].split())
        return response.status_code, f"(not a problem, {content_type or 'no content type'}) {text}"

    def check(
        self, operation: Operation, location: str, name: str, label: str, status: int, excerpt: str
    ) -> None:
        broken = status >= 500 or (400 <= status < 500 and excerpt.startswith("(not a problem"))
        if broken:
            self.failures.append(Failure(operation.label, location, name, label, status, excerpt))

    def values_for(
        self, schema: dict[str, Any], baseline: Json, *, url: bool = True
    ) -> list[tuple[str, Json]]:
        """The hostile values of the next field; in a URL, 16 kB stand for the megabyte."""
        self.serial += 1
        values = hostile_values(self.schemas, schema, baseline, self.serial)
        if url:
            values = [
                ("16 kB of text", LONG_URL_TEXT) if value is MEGABYTE else (label, value)
                for label, value in values
            ]
        return values

    def places(self, state: OperationState, fresh: dict[str, Any]) -> Iterator[Place]:
        operation = state.operation
        for parameter in operation.parameters("path"):
            yield self.path_place(parameter, state.target.path.get(parameter["name"]))
        for parameter in operation.parameters("query"):
            yield self.query_place(parameter)
        for parameter in operation.parameters("header"):
            # If-Match names a version of the operation's own record; other headers (an
            # Idempotency-Key) are read by middleware shared by every route: once is enough.
            name = parameter["name"].lower()
            if name == "if-match" or name not in self.headers_done:
                self.headers_done.add(name)
                yield self.header_place(parameter)
        if operation.body is not None:
            yield from self.body_places(operation.body[1], state.body, fresh)

    def path_place(self, parameter: dict[str, Any], baseline: str | None) -> Place:
        name = parameter["name"]

        def put(request: Request, value: Json) -> None:
            request.path[name] = value

        values = self.values_for(parameter.get("schema", {}), baseline)
        return Place("path", name, in_url([*values, *PERCENT]), put)

    def query_place(self, parameter: dict[str, Any]) -> Place:
        name = parameter["name"]

        def put(request: Request, value: Json) -> None:
            request.query[name] = value

        schema = parameter.get("schema", {})
        if self.schemas.kind(schema) == "array":
            schema = self.schemas.concrete(schema).get("items", {})
        baseline = valid_value(self.schemas, schema, name, {})
        values = [(label, v) for label, v in self.values_for(schema, baseline) if v is not None]
        return Place("query", name, in_url([*values, ("the word null", "null"), *PERCENT]), put)

    def header_place(self, parameter: dict[str, Any]) -> Place:
        name = parameter["name"]

        def put(request: Request, value: Json) -> None:
            request.headers = {
                k: v for k, v in request.headers.items() if k.lower() != name.lower()
            }
            request.headers[name] = value

        if name.lower() == "if-match":
            return Place("header", name, list(IF_MATCH), put)
        values = [
            (label, str(value).encode("utf-8", "surrogatepass"))
            for label, value in self.values_for({"type": "string"}, None)
            if value is not None
        ]
        return Place("header", name, values, put)

    def body_places(
        self, schema: dict[str, Any], body: Json, fresh: dict[str, Any]
    ) -> Iterator[Place]:
        def put_whole(request: Request, value: Json) -> None:
            request.body = value

        yield Place("body", "(the whole body)", list(CONTAINER), put_whole)
        for path, sub, value in body_fields(self.schemas, schema, body, fresh):
            if path[-1] == "[]":
                field_path, wrap = path[:-1], True
            else:
                field_path, wrap = path, False

            def put(
                request: Request, value: Json, path: tuple[str, ...] = field_path, wrap: bool = wrap
            ) -> None:
                request.body = set_at(request.body, path, [value] if wrap else value)

            yield Place("body", ".".join(path), self.values_for(sub, value, url=False), put)


@dataclass
class OperationState:
    """What the requests of one operation share: its records, caller, body and version."""

    operation: Operation
    target: Target
    role: str = "anonymous"
    body: Json = MISSING
    etag: str | None = None


async def test_hostile_values_get_a_problem_never_a_5xx(
    app: FastAPI, client: AsyncClient, database_url: str
) -> None:
    started = time.monotonic()
    document = app.openapi()
    world = await build_world(app, client)
    runner = Runner(world, Schemas(document))
    for operation in operations(document):
        await runner.run(operation)
    engine = engine_of(database_url)
    cases_run[(engine, "hostile input")] += runner.sent["requests"]
    hostile = sum(count for key, count in runner.sent.items() if key != "requests")
    elapsed = time.monotonic() - started
    assert not runner.failures, (
        f"{len(runner.failures)} of {hostile} hostile requests on {engine} ({elapsed:.0f} s) broke "
        "the contract (operation | location field = value | status | body):\n"
        + "\n".join(str(failure) for failure in runner.failures)
    )
