"""A scan of every body the ``client`` fixture receives, over the whole run.

The fixture (tests/conftest.py) sends every exchange through :func:`scanner`. A request that
registers or edits a household (through the API or a console form) adds its head's name to the
names to look for, and one that gives a household a new helper or liaison that person's name;
every response (JSON, or the console's HTML) is searched, as it arrives, for
an 18-character ID number, an 11-digit mobile number and every head name registered so far (a
name can only leak after it was registered). Sent to a donor or to a caller without a valid
token, any of them is a leak; sent to an admin, it must have its row in
the household access log under the response's request id. At the end of the run a finding fails
it: this module is a pytest plugin, and :func:`pytest_sessionfinish` sets the exit status.
"""

from __future__ import annotations

import html
import json
import os
import re
from dataclasses import astuple, dataclass, field
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs

import jwt
import pytest
from httpx import Request, Response
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.households.models import HouseholdAccess
from tests import workers

ID_NUMBER = re.compile(r"(?<!\d)\d{17}[\dXx](?![\dA-Za-z])")
MOBILE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
# Request ids and payment order numbers are random hex and may hold long runs of digits by chance
# ("AXD…14700933779…" once read as a mobile number).
REQUEST_ID = re.compile(r'"(?:request_id|out_trade_no)":\s*"[0-9A-Za-z._:-]*"')
HOUSEHOLDS_PATH = re.compile(r"^/api/v1/households(/\d+)?$")
CONSOLE_HOUSEHOLDS_PATH = re.compile(r"^/console/households/(new|\d+)$")
# The console's session cookie: a signed token naming the role, as a bearer token does.
CONSOLE_COOKIE = "aixin_console"
# A household's helper or liaison (a person, whose name and phone are as personal as the head's).
HELPERS_PATH = re.compile(r"^/api/v1/households/\d+/helpers$")
ADMIN_ROLES = {"platform", "county", "township", "village"}


@dataclass(frozen=True)
class Finding:
    test: str
    caller: str
    request: str
    status: int
    what: str


@dataclass
class Scan:
    """What the run has seen so far."""

    head_names: set[str] = field(default_factory=set)
    bodies: dict[str, int] = field(default_factory=lambda: {"donor": 0, "anonymous": 0, "admin": 0})
    findings: list[Finding] = field(default_factory=list)


SCAN = Scan()


def caller_of(request: Request, secret: str) -> str:
    """``donor``, ``admin`` or ``anonymous``: who sent ``request``, by its verified token.

    A token that does not verify under ``secret`` counts as anonymous, so that a forged
    admin token cannot hide what its sender received.
    """
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        cookie = SimpleCookie(request.headers.get("cookie", "")).get(CONSOLE_COOKIE)
        token = cookie.value if cookie else ""
    if not token:
        return "anonymous"
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            options={"verify_exp": False, "verify_aud": False, "verify_iss": False},
        )
    except jwt.PyJWTError:
        return "anonymous"
    role = claims.get("role")
    return "admin" if role in ADMIN_ROLES else "donor" if role == "donor" else "anonymous"


def personal_data_in(text: str, head_names: set[str]) -> list[str]:
    """What in ``text`` looks like a household's personal data (empty when nothing does)."""
    text = REQUEST_ID.sub("", text)
    found = [f"ID number {match}" for match in ID_NUMBER.findall(text)]
    found += [f"mobile number {match}" for match in MOBILE.findall(text)]
    found += [f"head name {name}" for name in sorted(head_names) if name in text]
    return found


def _head_name_of(request: Request) -> str | None:
    """The name of a household's head, or of its helper or liaison, that a request registers."""
    path = request.url.path
    if request.method == "POST" and CONSOLE_HOUSEHOLDS_PATH.match(path):
        form = parse_qs((request.content or b"").decode("utf-8", "replace"))
        sent = form.get("head_name", [""])[0].strip()
        return sent if len(sent) >= 2 else None
    key = "head_name" if HOUSEHOLDS_PATH.match(path) else "name" if HELPERS_PATH.match(path) else ""
    if request.method not in {"POST", "PATCH"} or not key:
        return None
    try:
        body: Any = json.loads(request.content or b"null")
    except ValueError:
        return None
    name = body.get(key) if isinstance(body, dict) else None
    return name.strip() if isinstance(name, str) and len(name.strip()) >= 2 else None


def _without_display_names(value: Any) -> Any:
    # A donor's display name is the donor's own public name (the roll of honour shows it), and
    # may by chance be a head's name too: it is no household's data.
    if isinstance(value, dict):
        return {
            key: "" if key == "display_name" else _without_display_names(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_without_display_names(item) for item in value]
    return value


def _text_of(response: Response) -> str:
    # JSON is scanned as re-rendered without escapes, so that "\\u5218" cannot hide a name;
    # HTML with its character references resolved, so that "&#21016;" cannot either.
    if response.headers.get("content-type", "").startswith("text/html"):
        return html.unescape(response.text)
    try:
        return json.dumps(_without_display_names(response.json()), ensure_ascii=False)
    except ValueError:
        return response.text


async def _logged(engine: AsyncEngine, request_id: str) -> bool:
    """Whether the access log holds a row written under ``request_id``."""
    async with engine.connect() as connection:
        rows = await connection.scalar(
            select(func.count())
            .select_from(HouseholdAccess)
            .where(HouseholdAccess.request_id == request_id)
        )
    return bool(rows)


def scanner(secret: str, engine: AsyncEngine, scan: Scan = SCAN) -> dict[str, list[Any]]:
    """httpx event hooks that feed ``scan`` with the exchanges of one client.

    Donor and anonymous bodies must carry no personal data; an admin's body that carries some
    must have its row in the access log, written under the response's request id.
    """

    async def on_response(response: Response) -> None:
        request = response.request
        name = _head_name_of(request)
        if name is not None:
            scan.head_names.add(name)
        caller = caller_of(request, secret)
        await response.aread()
        scan.bodies[caller] += 1
        found = personal_data_in(_text_of(response), scan.head_names)
        if caller == "admin":
            logged = not found or await _logged(engine, response.headers["x-request-id"])
            found = [] if logged else [f"{found[0]} without an access-log row"]
        test = os.environ.get("PYTEST_CURRENT_TEST", "?").rsplit(" ", 1)[0]
        where = f"{request.method} {request.url.path}"
        for what in found:
            scan.findings.append(Finding(test, caller, where, response.status_code, what))

    return {"response": [on_response]}


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # A worker of a parallel run hands its scan to the controller, which fails the run.
    if workers.hand_over(session.config, "body_scan", _scan_state()):
        return
    if SCAN.findings and exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _scan_state() -> dict[str, Any]:
    return {
        "head_names": sorted(SCAN.head_names),
        "bodies": SCAN.bodies,
        "findings": [astuple(finding) for finding in SCAN.findings],
    }


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    state = workers.received(node, "body_scan")
    if state is None:
        return
    SCAN.head_names.update(state["head_names"])
    for caller, count in state["bodies"].items():
        SCAN.bodies[caller] += count
    SCAN.findings.extend(Finding(*finding) for finding in state["findings"])


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not sum(SCAN.bodies.values()):
        return
    terminalreporter.section("personal data in responses")
    terminalreporter.write_line(
        f"{SCAN.bodies['donor']} donor, {SCAN.bodies['anonymous']} anonymous and "
        f"{SCAN.bodies['admin']} admin bodies scanned for ID numbers, mobile numbers and "
        f"{len(SCAN.head_names)} head names: {len(SCAN.findings)} findings"
    )
    for finding in SCAN.findings[:50]:
        terminalreporter.write_line(
            f"LEAK {finding.what} to {finding.caller} in {finding.request} "
            f"({finding.status}) during {finding.test}",
            red=True,
        )
