"""The OpenAPI document: what FastAPI derives, made to say what the service really answers.

FastAPI files a response model under ``application/json`` whatever content the response
declares, so every problem response would promise JSON with a schema and problem+json without
one. :func:`install_openapi` files the ``Problem`` schema under ``application/problem+json``
instead, and declares the two problems any operation that takes a body can give before a route
runs: 400 (the body cannot be parsed) and 413 (it is over the size limit). Routes declare their
links (the next step of a record's life) with :func:`links`.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI

from app.core.errors import PROBLEM_MEDIA_TYPE, Problem

API_PREFIX = "/api/v1"
PROBLEM_SCHEMA = {"$ref": f"#/components/schemas/{Problem.__name__}"}
BODY_PROBLEMS = {
    400: "The body cannot be parsed (not UTF-8 text, or a broken form)",
    413: "The body is over the size limit",
}
_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """Route ``responses`` declaring problem-details answers with ``statuses``."""
    return {
        status: {
            "model": Problem,
            "content": {PROBLEM_MEDIA_TYPE: {}},
            "description": HTTPStatus(status).phrase,
        }
        for status in statuses
    }


def link(method: str, path: str, description: str, **values: Any) -> dict[str, Any]:
    """An OpenAPI link to the operation at ``method`` ``path`` (under the API prefix).

    ``values`` are the link's ``parameters`` (by name) and, under ``request_body``, its body;
    each a runtime expression such as ``$response.body#/id``.
    """
    body = values.pop("request_body", None)
    pointer = (API_PREFIX + path).replace("~", "~0").replace("/", "~1")
    definition: dict[str, Any] = {
        "operationRef": f"#/paths/{pointer}/{method.lower()}",
        "description": description,
    }
    if values:
        definition["parameters"] = values
    if body is not None:
        definition["requestBody"] = body
    return definition


def links(status: int, **named: dict[str, Any]) -> dict[int | str, dict[str, Any]]:
    """Route ``responses`` declaring the links of its ``status`` response."""
    return {status: {"links": named}}


def install_openapi(app: FastAPI) -> None:
    """Make ``app.openapi()`` (and ``/openapi.json``) serve the finished document."""
    derive = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            # FastAPI caches what it derives in app.openapi_schema; it is finished in place once.
            finish(derive())
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]


def finish(document: dict[str, Any]) -> dict[str, Any]:
    """File problem schemas under problem+json and declare 400 and 413 where a body is taken."""
    for operations in document.get("paths", {}).values():
        for method, operation in operations.items():
            if method not in _METHODS:
                continue
            responses = operation.setdefault("responses", {})
            if "requestBody" in operation:
                for status, description in BODY_PROBLEMS.items():
                    responses.setdefault(str(status), {"description": description})
                    responses[str(status)]["content"] = {PROBLEM_MEDIA_TYPE: {}}
            for response in responses.values():
                content = response.get("content", {})
                if PROBLEM_MEDIA_TYPE in content:
                    response["content"] = {PROBLEM_MEDIA_TYPE: {"schema": PROBLEM_SCHEMA}}
    return document
