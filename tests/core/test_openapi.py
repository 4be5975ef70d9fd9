"""The OpenAPI document says what the service answers: problem schemas, body problems, links."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import AsyncClient

from app.core.errors import PROBLEM_MEDIA_TYPE
from app.core.problems import CATALOGUE
from tests.factories import admin_headers, assert_problem

OPERATIONS = ("get", "put", "post", "delete", "patch")
# The verbs an operationId may start with: what a client does, never how it is routed.
VERBS = {
    "accept", "add", "approve", "assign", "cancel", "change", "check", "claim", "close", "confirm",
    "create", "decline", "delete", "deliver", "disable", "disburse", "dispute", "edit", "enable",
    "enrol", "export", "find", "list", "logout", "mark", "move", "open", "post", "propose",
    "purchase",
    "read", "receive", "record", "refresh", "register", "reject", "release", "remove", "retry",
    "refund", "reverse", "review", "run", "send", "sign", "start", "update", "withdraw",
}  # fmt: skip
SNAKE_CASE = re.compile(r"^[a-z]+(_[a-z0-9]+)*$")
NEVER_REPLAYED = {"/api/v1/auth/token", "/api/v1/auth/refresh"}


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in OPERATIONS
    ]


def test_every_problem_response_is_problem_json_with_its_schema(app: FastAPI) -> None:
    for method, path, operation in operations(app.openapi()):
        for status, response in operation["responses"].items():
            if status.startswith(("4", "5")):
                schema = {"$ref": "#/components/schemas/Problem"}
                assert response["content"] == {PROBLEM_MEDIA_TYPE: {"schema": schema}}, (
                    f"{method} {path} {status}"
                )


def test_every_operation_that_takes_a_body_declares_400_and_413(app: FastAPI) -> None:
    taking = [(m, p, op) for m, p, op in operations(app.openapi()) if "requestBody" in op]
    assert taking
    for method, path, operation in taking:
        assert {"400", "413"} <= set(operation["responses"]), f"{method} {path}"


def test_every_link_names_an_operation_of_the_document(app: FastAPI) -> None:
    document = app.openapi()
    targets = {f"#/paths/{path.replace('/', '~1')}/{m}" for m, path, _ in operations(document)}
    named = [
        link["operationRef"]
        for _, _, operation in operations(document)
        for response in operation["responses"].values()
        for link in response.get("links", {}).values()
    ]
    assert len(named) >= 20
    assert set(named) <= targets


def test_the_links_lead_from_a_household_to_a_confirmed_need(app: FastAPI) -> None:
    document = app.openapi()

    def link_targets(path: str, method: str, status: str) -> set[str]:
        response = document["paths"][f"/api/v1{path}"][method]["responses"][status]
        return {link["operationRef"].rsplit("~1", 1)[-1] for link in response["links"].values()}

    assert "needs/post" in link_targets("/households", "post", "201")
    assert "claim/post" in link_targets("/needs", "post", "201")
    assert "deliver/post" in link_targets("/needs/{need_id}/claim", "post", "201")
    assert "confirm/post" in link_targets("/needs/{need_id}/deliver", "post", "200")


async def test_a_body_that_is_not_utf8_is_a_400_problem(app: FastAPI, client: AsyncClient) -> None:
    headers = await admin_headers(app, client, "village", "430525101201")
    response = await client.post(
        "/api/v1/needs",
        content=b'{"title": "\xff\xfe"}',
        headers={**headers, "Content-Type": "application/json"},
    )
    assert_problem(response, 400, "bad_request")


@pytest.mark.parametrize(
    ("method", "path", "statuses"),
    [
        ("patch", "/api/v1/needs/{need_id}", {"412", "428"}),
        ("patch", "/api/v1/households/{household_id}", {"412"}),
        ("get", "/readyz", {"503"}),
    ],
)
def test_preconditions_and_readiness_are_declared(
    app: FastAPI, method: str, path: str, statuses: set[str]
) -> None:
    assert statuses <= set(app.openapi()["paths"][path][method]["responses"])


# -- a contract a client generator can use ----------------------------------------------------


def test_operation_ids_are_unique_snake_case_verbs(app: FastAPI) -> None:
    ids = [operation["operationId"] for _, _, operation in operations(app.openapi())]
    assert len(ids) == len(set(ids))
    for operation_id in ids:
        assert SNAKE_CASE.match(operation_id), operation_id
        assert operation_id.split("_")[0] in VERBS, operation_id
    assert {"claim_need", "list_needs", "read_me", "sign_in", "list_admins"} <= set(ids)


def idempotency_headers(operation: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        parameter
        for parameter in operation.get("parameters", [])
        if parameter["in"] == "header" and parameter["name"] == "Idempotency-Key"
    ]


def test_every_post_that_honours_idempotency_declares_the_key(app: FastAPI) -> None:
    posts = [(p, op) for m, p, op in operations(app.openapi()) if m == "post"]
    assert len(posts) > 20
    for path, operation in posts:
        declared = idempotency_headers(operation)
        if path in NEVER_REPLAYED:
            assert declared == [], path
            continue
        assert len(declared) == 1, path
        [header] = declared
        assert header["required"] is False
        assert header["schema"]["maxLength"] == 255
        for words in ("UUID", "24 hours", "422", "first response"):
            assert words in header["description"], words
        assert {"409", "422"} <= set(operation["responses"]), path
        success = next(r for s, r in operation["responses"].items() if s.startswith("2"))
        assert "Idempotent-Replayed" in success["headers"], path


def test_no_other_method_declares_the_key(app: FastAPI) -> None:
    for method, path, operation in operations(app.openapi()):
        if method != "post":
            assert idempotency_headers(operation) == [], f"{method} {path}"


def test_the_problem_schema_publishes_the_catalogue(app: FastAPI) -> None:
    problem = app.openapi()["components"]["schemas"]["Problem"]
    published = {row["code"]: row for row in problem["x-problem-codes"]}
    assert set(published) == set(CATALOGUE)
    for code, row in published.items():
        assert (row["status"], row["en"], row["zh"]) == (
            CATALOGUE[code].status, CATALOGUE[code].en, CATALOGUE[code].zh,
        )  # fmt: skip


def statuses(app: FastAPI, method: str, path: str) -> set[str]:
    responses = app.openapi()["paths"][path][method]["responses"]
    return {status for status in responses if status.startswith(("4", "5"))}


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("get", "/healthz", set()),
        ("get", "/readyz", {"503"}),
        ("get", "/api/v1/regions", {"404", "422", "503"}),
        ("get", "/api/v1/regions/{code}", {"404", "422", "503"}),
        ("get", "/api/v1/me", {"401", "503"}),
        ("patch", "/api/v1/me", {"400", "401", "403", "413", "422", "503"}),
        ("get", "/api/v1/admins", {"401", "403", "422", "503"}),
        ("get", "/api/v1/needs/{need_id}", {"401", "404", "422", "503"}),
        ("get", "/api/v1/pairings", {"401", "422", "503"}),
        (
            "post",
            "/api/v1/needs/{need_id}/claim",
            {"401", "403", "404", "409", "422", "429", "503"},
        ),
        ("post", "/api/v1/auth/register", {"400", "409", "413", "422", "503"}),
    ],
)
def test_each_operation_lists_only_the_problems_it_can_give(
    app: FastAPI, method: str, path: str, expected: set[str]
) -> None:
    assert statuses(app, method, path) == expected


def test_only_operations_that_take_a_token_or_check_credentials_list_401(app: FastAPI) -> None:
    document = app.openapi()
    for method, path, operation in operations(document):
        takes_token = "security" in operation
        checks_credentials = path in NEVER_REPLAYED
        lists_401 = "401" in operation["responses"]
        assert lists_401 == (takes_token or checks_credentials), f"{method} {path}"


def test_reading_a_need_answers_one_of_two_shapes_told_apart_by_view(app: FastAPI) -> None:
    document = app.openapi()
    response = document["paths"]["/api/v1/needs/{need_id}"]["get"]["responses"]["200"]
    schema = response["content"]["application/json"]["schema"]
    assert schema["discriminator"] == {
        "propertyName": "view",
        "mapping": {
            "admin": "#/components/schemas/NeedRead",
            "public": "#/components/schemas/NeedPublicRead",
        },
    }
    schemas = document["components"]["schemas"]
    for name, view in (("NeedRead", "admin"), ("NeedPublicRead", "public")):
        assert schemas[name]["properties"]["view"]["const"] == view
        assert "view" in schemas[name]["required"]
    assert "household_id" not in schemas["NeedPublicRead"]["properties"]


def test_a_pairing_carries_its_needs_summary_without_household_data(app: FastAPI) -> None:
    schemas = app.openapi()["components"]["schemas"]
    summary = schemas["PairingNeed"]["properties"]
    assert set(summary) == {
        "title", "category", "village_name", "value_fen", "urgency", "deadline",
    }  # fmt: skip
    assert "need" in schemas["PairingRead"]["required"]
    assert "predicted_success" in schemas["PairingRead"]["required"]


def test_the_admin_list_pages_by_cursor(app: FastAPI) -> None:
    operation = app.openapi()["paths"]["/api/v1/admins"]["get"]
    assert {p["name"] for p in operation["parameters"]} == {"limit", "cursor"}
    page = app.openapi()["components"]["schemas"]["AdminList"]
    assert set(page["properties"]) == {"items", "next_cursor"}
