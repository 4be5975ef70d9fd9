"""The OpenAPI document says what the service answers: problem schemas, body problems, links."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from httpx import AsyncClient

from app.core.errors import PROBLEM_MEDIA_TYPE
from tests.factories import admin_headers, assert_problem

OPERATIONS = ("get", "put", "post", "delete", "patch")


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
