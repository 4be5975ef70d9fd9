"""Every operation of the OpenAPI document, fuzzed as each role on each engine.

The document is the committed openapi/openapi.json, which tests/test_openapi.py proves is the
one the service serves. Each case goes over TCP to the live server (tests/fuzz/conftest.py) and
its response is checked by schemathesis: no 5xx, a status, content type, headers and body the
document declares for it, invalid data refused, and credentials enforced (``ignored_auth``
removes or spoils a working token and expects 401). Anonymous calls to an operation that
declares security must get 401.

Two passes keep the suite quick: the coverage phase (boundary values, wrong types, missing
fields, unexpected methods: a few dozen cases per operation) runs once per operation, as the
role that performs it (a donor, or the county admin); the fuzzing phase (random cases, positive
and negative) runs as every role, ``AIXIN_FUZZ_EXAMPLES`` per operation.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
import schemathesis
from schemathesis import Case
from schemathesis.core.parameters import ParameterLocation

from app.core.migrations import PROJECT_ROOT
from tests.fuzz.conftest import FUZZ_EXAMPLES, ROLES, World, actor_of, engine_of
from tests.fuzz.summary import cases_run

DOCUMENT = json.loads((PROJECT_ROOT / "openapi" / "openapi.json").read_text(encoding="utf-8"))
# What counts as refusing invalid data: schemathesis' own list, plus a failed precondition (a
# bad If-Match is judged before the body's meaning) and a body over the size limit.
REJECTIONS = [400, 401, 403, 404, 405, 406, 409, 412, 413, 415, 422, 428, 429, "5XX"]


def load(*phases: str) -> Any:
    """The document as schemathesis sees it, running only ``phases``."""
    config = schemathesis.Config.from_dict(
        {
            "seed": 1,
            "generation": {"mode": "all", "max-examples": FUZZ_EXAMPLES},
            "phases": {
                name: {"enabled": name in phases}
                for name in ("examples", "coverage", "fuzzing", "stateful")
            },
            "checks": {
                # Valid data may still be refused: a record that is not there, a scope, a state.
                "positive_data_acceptance": {"enabled": False},
                "negative_data_rejection": {"expected-statuses": REJECTIONS},
            },
        }
    )
    return schemathesis.openapi.from_dict(DOCUMENT, config=config)


thorough = load("examples", "coverage")
broad = load("fuzzing")


@pytest.fixture(scope="module", params=ROLES)
def role(request: pytest.FixtureRequest) -> str:
    """Who calls: anonymous, a donor, or an admin of each level."""
    return str(request.param)


@thorough.parametrize()
def test_boundary_cases_keep_the_contract(
    case: Case, world: World, http: requests.Session, database_url: str
) -> None:
    # The county admin is refused nothing in Dongkou.
    actor = actor_of(case.operation.label, admin="county")
    call_and_validate(case, actor, world, http, database_url)


@broad.parametrize()
def test_random_cases_keep_the_contract_for_every_role(
    case: Case, role: str, world: World, http: requests.Session, database_url: str
) -> None:
    response = call_and_validate(case, role, world, http, database_url)
    if role == "anonymous" and reaches_protected_operation(case):
        assert response.status_code == 401 or unreadable_body(response), response.text


def call_and_validate(
    case: Case, role: str, world: World, http: requests.Session, database_url: str
) -> schemathesis.Response:
    """Send ``case`` as ``role`` to the live server and run every check on the response."""
    cases_run[(engine_of(database_url), role)] += 1
    return case.call_and_validate(
        base_url=world.base_url, headers=world.headers_for(role), session=http
    )


def reaches_protected_operation(case: Case) -> bool:
    """Whether ``case`` calls an operation that declares security, by its method, on its route."""
    operation = case.operation
    if not operation.definition.raw.get("security"):
        return False
    if case.method.upper() != operation.method.upper():
        return False
    # A path parameter that is not valid may leave the route altogether (404, no route).
    return case.meta is None or not case.meta.is_negative_at(ParameterLocation.PATH)


def unreadable_body(response: schemathesis.Response) -> bool:
    """A request refused before anyone is asked who sent it: a body too large or not parseable,
    or an Idempotency-Key that is not one.

    The size limit and the idempotency keys are middleware, and FastAPI parses the body before
    it resolves the route's dependencies (the bearer token among them); no such answer reveals
    anything.
    """
    if response.status_code in (400, 413):
        return True
    refused_early = ("malformed_json", "invalid_idempotency_key")
    return response.status_code == 422 and response.json().get("code") in refused_early
