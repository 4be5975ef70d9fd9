"""The OpenAPI document: what FastAPI derives, made to say what the service really answers.

:func:`install_openapi` finishes the derived document so that a client generator can use it:

- every operation's ``operationId`` is its route function's name, a snake_case verb
  (:func:`operation_id`);
- each operation lists the problems it can give, derived from what it takes: a bearer token
  401, an admin or donor dependency 403 (:func:`answers`), a path parameter 404, parameters or a
  body 422, a body 400 and 413, the database 503, and an idempotent POST 409 and 422; besides
  those a route declares its own (a 409 of a state change) with :func:`problems`;
- every POST that honours ``Idempotency-Key`` declares the header;
- problem responses are filed under ``application/problem+json`` (FastAPI files a response model
  under ``application/json`` whatever its content), and the ``Problem`` schema carries the
  catalogue of codes (``x-problem-codes``, :mod:`app.core.problems`).

Routes declare their links (the next step of a record's life) with :func:`links`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from http import HTTPStatus
from typing import Any, TypeVar

from fastapi import FastAPI, routing
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security.base import SecurityBase

from app.core import idempotency
from app.core.db import get_direct, get_session
from app.core.errors import PROBLEM_MEDIA_TYPE, Problem
from app.core.problems import catalogue_document

API_PREFIX = "/api/v1"
PROBLEM_SCHEMA = {"$ref": f"#/components/schemas/{Problem.__name__}"}
BODY_PROBLEMS = {
    400: "The body cannot be parsed (not UTF-8 text, or a broken form)",
    413: "The body is over the size limit",
}
_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
IDEMPOTENCY_KEY = {
    "name": idempotency.HEADER,
    "in": "header",
    "required": False,
    "description": "A fresh random key (a UUID) per logical request, kept 24 hours: a retry "
    "with the same key and body gets the first response again (with `Idempotent-Replayed: "
    "true`) and writes nothing twice; the same key with another body gets 422 "
    "`idempotency_key_reused`; a retry while the first is still running gets 409 "
    "`idempotency_in_progress` with Retry-After. A failed request (4xx, 5xx) keeps no key.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[\\x20-\\x7e]+$"},
    "example": "6f1c0d2e-8a4b-4c1e-9d3f-2b7a5e9c0f11",
}
REPLAYED_HEADER = {
    "description": "`true` when this is the stored response of an earlier request with the "
    "same Idempotency-Key",
    "schema": {"type": "string", "enum": ["true"]},
}
F = TypeVar("F", bound=Callable[..., Any])
# Dependencies of core that answer problems of their own (the domains mark theirs with answers).
_CORE_DEPENDENCIES: dict[Callable[..., Any], tuple[int, ...]] = {
    get_session: (503,),
    get_direct: (503,),
}


def operation_id(route: APIRoute) -> str:
    """The operationId of ``route``: its function's name, a snake_case verb (``claim_need``)."""
    return route.name


def answers(*statuses: int) -> Callable[[F], F]:
    """Mark a dependency as one that may answer problems of ``statuses`` (403 for a role)."""

    def mark(dependency: F) -> F:
        dependency.__dict__["problem_statuses"] = statuses
        return dependency

    return mark


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
            finish(derive(), _operations(app))
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]


def _operations(app: FastAPI) -> list[Any]:
    """The app's API routes, each as it is served (with its prefix and the router's defaults).

    FastAPI from 0.165 includes routers lazily: ``app.routes`` holds the included routers, and
    ``iter_route_contexts`` yields each route in its context; before, the routes themselves.
    """
    contexts = getattr(routing, "iter_route_contexts", None)
    if contexts is None:
        return [route for route in app.routes if isinstance(route, APIRoute)]
    return [
        context for context in contexts(app.routes) if isinstance(context.original_route, APIRoute)
    ]


def finish(document: dict[str, Any], routes: list[Any]) -> dict[str, Any]:
    """Declare each operation's problems and headers, and publish the problem catalogue."""
    paths = document.get("paths", {})
    for route in routes:
        for method in route.methods:
            operation = paths.get(route.path_format, {}).get(method.lower())
            if operation is not None:
                _finish_operation(operation, route, method)
    problem = document.get("components", {}).get("schemas", {}).get(Problem.__name__)
    if problem is not None:
        problem["x-problem-codes"] = catalogue_document()
    schemas = document.get("components", {}).get("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return document


def _finish_operation(operation: dict[str, Any], route: Any, method: str) -> None:
    responses = operation.setdefault("responses", {})
    for status in sorted(_derived_statuses(route, method, "requestBody" in operation)):
        responses[str(status)] = {
            **responses.get(str(status), {}),
            "description": BODY_PROBLEMS.get(status) or HTTPStatus(status).phrase,
            "content": {PROBLEM_MEDIA_TYPE: {}},
        }
    for response in responses.values():
        if PROBLEM_MEDIA_TYPE in response.get("content", {}):
            response["content"] = {PROBLEM_MEDIA_TYPE: {"schema": PROBLEM_SCHEMA}}
    if idempotency.honours_key(method, route.path_format):
        operation.setdefault("parameters", []).append(IDEMPOTENCY_KEY)
        for status, response in responses.items():
            if status.startswith("2"):
                response.setdefault("headers", {})[idempotency.REPLAYED_HEADER] = REPLAYED_HEADER
    operation["responses"] = dict(sorted(responses.items()))


def _derived_statuses(route: Any, method: str, takes_body: bool) -> set[int]:
    """The problem statuses an operation can give by what it takes (its dependencies)."""
    dependants = list(_dependants(route.dependant))
    statuses = {
        status for dependant in dependants for status in _dependency_statuses(dependant.call)
    }
    if any(isinstance(dependant.call, SecurityBase) for dependant in dependants):
        statuses.add(401)
    if any(dependant.path_params for dependant in dependants):
        statuses.update((404, 422))
    if any(
        dependant.query_params or dependant.header_params or dependant.cookie_params
        for dependant in dependants
    ):
        statuses.add(422)
    if takes_body:
        statuses.update((*BODY_PROBLEMS, 422))
    if idempotency.honours_key(method, route.path_format):
        statuses.update((409, 422, 503))
    return statuses


def _dependency_statuses(call: Callable[..., Any] | None) -> tuple[int, ...]:
    if call is None:
        return ()
    marked: tuple[int, ...] = getattr(call, "problem_statuses", ())
    return marked + _CORE_DEPENDENCIES.get(call, ())


def _dependants(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for dependency in dependant.dependencies:
        yield from _dependants(dependency)
